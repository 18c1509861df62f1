/* Runs an SPF check (spf.h) on the event loop with the shared asynchronous resolver: each
 * query the evaluator asks goes to libunbound (which caches answers by their TTL), each
 * answer comes back through the loop, nothing blocks. */
#ifndef YUBIN_SPF_DNS_H
#define YUBIN_SPF_DNS_H

#include "mailauth/spf.h"
#include "net/dns.h"

/* RFC 7208 4.6.4 asks for at least 20 seconds before a check may give up. */
#define SPF_RUN_DEFAULT_TIMEOUT_MS 20000

struct spf_run;

/* Called once when the check has its result; the check is still the caller's to free. */
typedef void (*spf_run_fn)(void *ctx, struct spf_check *c);

/* Drives c until it has a result or timeout_ms have passed (then the query in flight, and
 * any later one, counts as a DNS error: temperror unless the RFC says to go on without it).
 * The handle is valid until fn is called; NULL when fn was called before this returned.
 * spf_run_cancel() before fn drops the run (and its query in flight) without calling fn. */
struct spf_run *spf_run_start(struct event_base *base, struct dns_resolver *r, struct spf_check *c,
			      int timeout_ms, spf_run_fn fn, void *ctx);
void spf_run_cancel(struct spf_run *run);

#endif
