/* The loop-turn watchdog: slow work is counted, fast work is not. */
#include <time.h>

#include "lib/loopwatch.h"
#include "test.h"

TEST(loopwatch_counts_slow_turns_only)
{
	uint64_t before = loopwatch_slow_turns();
	loopwatch_set_threshold_ms(20);
	uint64_t t0 = loopwatch_begin();
	loopwatch_end(t0, "IMAP", "NOOP", 4, 1);
	CHECK_EQ_INT(loopwatch_slow_turns(), before);
	t0 = loopwatch_begin();
	struct timespec nap = { 0, 30 * 1000 * 1000 };
	nanosleep(&nap, NULL);
	/* Client text with a quote and a control byte: escaped in the log line. */
	uint64_t us = loopwatch_end(t0, "IMAP", "SEA\"RCH\x01", 8, 7);
	CHECK(us >= 30000);
	CHECK_EQ_INT(loopwatch_slow_turns(), before + 1);
	loopwatch_set_threshold_ms(100);
}

TEST(loopwatch_names_only_the_verb)
{
	CHECK_EQ_INT(loopwatch_verb_len("PASS secret", 11), 4);
	CHECK_EQ_INT(loopwatch_verb_len("QUIT", 4), 4);
	CHECK_EQ_INT(loopwatch_verb_len("", 0), 0);
	CHECK_EQ_INT(loopwatch_verb_len("AAAAAAAAAAAAAAAAAAAAAAAA x", 26), 16);
}
