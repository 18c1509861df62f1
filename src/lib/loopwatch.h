/* The loop-turn watchdog. Every piece of work the event loop runs for a client (a command, a
 * store job's completion) is timed; one that held the loop longer than the threshold (100 ms)
 * is logged as event=slow-turn naming what it was, and counted. Loop thread only. */
#ifndef YUBIN_LOOPWATCH_H
#define YUBIN_LOOPWATCH_H
#include <stddef.h>
#include <stdint.h>

/* A start time to hand to loopwatch_end. */
uint64_t loopwatch_begin(void);
/* Ends the piece of work started at `begin`: "<service> <what>" (what is client text, escaped
 * here) for connection `conn` (0: none). Returns how long it took, in microseconds. */
uint64_t loopwatch_end(uint64_t begin, const char *service, const char *what, size_t what_len,
		       unsigned long conn);
/* The length of a command line's first word (its verb), at most 16 bytes: what a slow-turn line
 * names, so arguments (a password) never reach the log. */
size_t loopwatch_verb_len(const char *line, size_t len);
/* Slow turns so far. */
uint64_t loopwatch_slow_turns(void);
/* The threshold in milliseconds (100 unless changed; tests lower it). */
void loopwatch_set_threshold_ms(unsigned ms);

#endif
