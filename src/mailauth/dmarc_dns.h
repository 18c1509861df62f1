/* Runs a DMARC policy lookup (dmarc.h) on the event loop with the shared asynchronous resolver
 * (net/dns.c, libunbound: answers cached by their TTL). Nothing blocks. */
#ifndef YUBIN_DMARC_DNS_H
#define YUBIN_DMARC_DNS_H

#include "mailauth/dmarc.h"
#include "net/dns.h"

struct dmarc_run;

/* Called once with the lookup's result (valid during the call only; copy what you keep). */
typedef void (*dmarc_run_fn)(void *ctx, const struct dmarc_policy_lookup *res);

/* Looks up the DMARC policy of from_domain (at most 5 queries: two TXT, then A, AAAA and MX
 * of the From domain when the record came from the organisational domain and has np=) for at
 * most timeout_ms (the caller's budget for the message). A query that fails or is still in
 * flight at the deadline is a temporary failure: found DMARC_FOUND_TEMPFAIL (or, for the
 * existence check, from_exists unknown), never a pass. Returns the handle, valid until fn is
 * called; NULL when fn was called before this returned. dmarc_run_cancel() before fn drops
 * the run and its query in flight without calling fn. */
struct dmarc_run *dmarc_run_start(struct event_base *base, struct dns_resolver *r,
				  const char *from_domain, int timeout_ms, dmarc_run_fn fn, void *ctx);
void dmarc_run_cancel(struct dmarc_run *run);

#endif
