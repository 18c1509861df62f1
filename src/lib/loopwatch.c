#include "lib/loopwatch.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "lib/log.h"

static unsigned threshold_ms = 100;
/* Atomic so that a reader on another thread (metrics, the shutdown line) sees a whole value. */
static _Atomic uint64_t slow_turns;

uint64_t loopwatch_begin(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

uint64_t loopwatch_end(uint64_t begin, const char *service, const char *what, size_t what_len,
		       unsigned long conn)
{
	uint64_t us = loopwatch_begin() - begin;
	if (us < (uint64_t)threshold_ms * 1000u)
		return us;
	atomic_fetch_add(&slow_turns, 1);
	char name[96], quoted[200];
	int n = snprintf(name, sizeof name, "%s %.*s", service, (int)(what_len < 64 ? what_len : 64),
			 what);
	log_quote(quoted, sizeof quoted, name, n < 0 ? 0 : (size_t)n < sizeof name ? (size_t)n
										 : sizeof name - 1);
	log_warn("event=slow-turn ms=%llu what=%s conn=%lu", (unsigned long long)(us / 1000), quoted,
		 conn);
	return us;
}

size_t loopwatch_verb_len(const char *line, size_t len)
{
	size_t n = 0;
	while (n < len && n < 16 && line[n] != ' ' && line[n] != '\r' && line[n] != '\n')
		n++;
	return n;
}

uint64_t loopwatch_slow_turns(void)
{
	return atomic_load(&slow_turns);
}

void loopwatch_set_threshold_ms(unsigned ms)
{
	threshold_ms = ms;
}
