/* Wall-clock time for everything that stores or compares dates. YUBIN_NOW (unix seconds)
 * moves the clock, so tests can look 31 days ahead without waiting. */
#ifndef YUBIN_CLOCK_H
#define YUBIN_CLOCK_H
#include <stdint.h>

int64_t clock_now(void);

#endif
