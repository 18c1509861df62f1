/* The outbound scheduler's decisions (schedule.c), pure: the caller passes the facts and the
 * time, so the rules are tested without an event loop, a store or a clock. */
#ifndef YUBIN_SCHEDULE_H
#define YUBIN_SCHEDULE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"

/* What the scheduler does with one due entry of a scan. */
enum schedule_verdict {
	SCHEDULE_START,    /* deliver it now */
	SCHEDULE_SKIP,     /* leave it and look at the next entry */
	SCHEDULE_POSTPONE, /* over its domain's rate: move it to its turn, not an attempt */
	SCHEDULE_STOP,     /* nothing more can start in this scan */
};

/* What the scheduler knows about one due entry when it looks at it. */
struct schedule_facts {
	size_t active;        /* deliveries under way, all domains together */
	size_t max_active;    /* the most at once */
	bool in_flight;       /* being delivered, or its new state is still with the writer */
	bool rate_allows;     /* outbound-domain-rate lets one more message go to its domain now */
	bool idle_link;       /* an open connection to its domain waits for the next message */
	size_t domain_active; /* deliveries under way to its domain */
	size_t per_domain;    /* the most at once to one domain (outbound-per-domain) */
};

enum schedule_verdict schedule_verdict(const struct schedule_facts *f);

/* Seconds until the next try after an attempt that left recipients to try again, when the
 * entry had `attempts` before it: retry_min, doubling with each, at most retry_max. */
int64_t schedule_retry_wait(int64_t retry_min, int64_t retry_max, int64_t attempts);

/* An entry created at `created` has been queued for `lifetime` seconds: its recipients that
 * still fail temporarily are given up on (bounced). */
bool schedule_gives_up(int64_t created, int64_t now, int64_t lifetime);

/* The sender of an entry created at `created` gets a delay warning now: once per entry
 * (`warned` says it had one), after delay_warning seconds (0: never). */
bool schedule_warns(int64_t created, int64_t now, int64_t delay_warning, bool warned);

/* A wait in whole seconds, rounded up (next_attempt has a resolution of one second). */
int64_t schedule_wait_seconds(double wait);

/* Mail for domain goes through the configured smarthost: one is set, and smarthost-domains
 * is empty (every domain) or names domain (a list of names, commas or spaces between). */
bool schedule_uses_smarthost(const struct config *c, const char *domain);

#endif
