/* Messages per minute to one destination domain (outbound-domain-rate): a token bucket per
 * domain that holds up to `per_minute` messages and refills at per_minute/60 a second, so a
 * burst of up to per_minute messages goes at once and the rest follow one every 60/per_minute
 * seconds. Pure: the caller passes the time (seconds on a monotonic clock), so the arithmetic
 * is tested without waiting. per_minute 0 means no limit. */
#ifndef YUBIN_RATELIMIT_H
#define YUBIN_RATELIMIT_H
#include <stdbool.h>
#include <stddef.h>

struct rate_limits;

struct rate_limits *rate_limits_new(void);
void rate_limits_free(struct rate_limits *r);
/* True when a message to domain may go now (nothing is counted). */
bool rate_allows(struct rate_limits *r, const char *domain, long per_minute, double now);
/* Counts one message to domain (call only after rate_allows said yes). */
void rate_take(struct rate_limits *r, const char *domain, long per_minute, double now);
/* For a message that may not go now: seconds until its turn, after the messages already
 * told to wait. Each call books one more turn, so waiting messages are spread out. */
double rate_wait(struct rate_limits *r, const char *domain, long per_minute, double now);
/* Domains remembered (bounded: full buckets are forgotten first). */
size_t rate_limits_count(const struct rate_limits *r);

#endif
