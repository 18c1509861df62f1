/* The DMARC policy lookup on libunbound: each query the lookup names becomes one dns_query(),
 * each answer goes back to it; the same shape as spf_dns.c. */
#include "mailauth/dmarc_dns.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/buf.h"

#define RR_A 1
#define RR_MX 15
#define RR_TXT 16
#define RR_AAAA 28
#define MAX_TXT 16 /* TXT records read at one _dmarc name; more are not DMARC's */

struct dmarc_run {
	struct dns_resolver *r;
	struct dmarc_lookup *l;
	dmarc_run_fn fn;
	void *ctx;
	struct event *deadline;
	struct dns_query *query; /* in flight, or NULL */
	bool expired;
	bool in_flight; /* a dns_query() has not called back yet */
	bool stepping;  /* inside dns_query(): an answer given at once is taken by step() */
	bool starting;  /* inside dmarc_run_start() */
	bool finished;
};

static int rrtype_of(enum dmarc_qtype t)
{
	switch (t) {
	case DMARC_QTXT: return RR_TXT;
	case DMARC_QA: return RR_A;
	case DMARC_QAAAA: return RR_AAAA;
	case DMARC_QMX: return RR_MX;
	}
	return RR_TXT;
}

static void finish(struct dmarc_run *run)
{
	if (run->deadline) {
		event_free(run->deadline);
		run->deadline = NULL;
	}
	run->finished = true;
	run->fn(run->ctx, dmarc_lookup_policy(run->l));
	dmarc_lookup_free(run->l);
	run->l = NULL;
	if (!run->starting)
		free(run);
}

static void on_answer(void *arg, enum dns_status st, const struct dns_rdata *rr, size_t n,
		      const char *why);

/* Asks queries until one is in flight, or finishes the run. */
static void step(struct dmarc_run *run)
{
	struct dmarc_query q;
	while (dmarc_lookup_next(run->l, &q)) {
		if (run->expired) {
			dmarc_lookup_answer(run->l, DMARC_DNS_TEMPFAIL, NULL, NULL, 0);
			continue;
		}
		run->in_flight = true;
		run->stepping = true;
		struct dns_query *dq = dns_query(run->r, q.name, rrtype_of(q.type), on_answer, run);
		run->stepping = false;
		if (run->in_flight) {
			run->query = dq;
			return; /* the loop brings the answer */
		}
	}
	finish(run);
}

/* TXT rdata: character-strings, concatenated (RFC 7489 6.6.3 via RFC 7208 3.3). */
static bool txt_text(const struct dns_rdata *rr, struct buf *out)
{
	size_t i = 0;
	while (i < rr->len) {
		size_t l = rr->data[i++];
		if (i + l > rr->len)
			return false;
		buf_append(out, rr->data + i, l);
		i += l;
	}
	return true;
}

static void on_answer(void *arg, enum dns_status st, const struct dns_rdata *rr, size_t n,
		      const char *why)
{
	struct dmarc_run *run = arg;
	run->in_flight = false;
	run->query = NULL;
	enum dmarc_dns_status ds = st == DNS_OK                                ? DMARC_DNS_OK
				   : st == DNS_NONE && dns_why_nxdomain(why)       ? DMARC_DNS_NXDOMAIN
				   : st == DNS_NONE                                ? DMARC_DNS_OK
										   : DMARC_DNS_TEMPFAIL;
	struct buf texts[MAX_TXT];
	const char *txts[MAX_TXT] = { NULL };
	size_t lens[MAX_TXT] = { 0 }, k = 0;
	for (size_t i = 0; st == DNS_OK && i < n && k < MAX_TXT; i++) {
		texts[k] = (struct buf)BUF_INIT;
		if (!txt_text(&rr[i], &texts[k])) {
			buf_free(&texts[k]);
			continue;
		}
		txts[k] = texts[k].data ? texts[k].data : "";
		lens[k] = texts[k].len;
		k++;
	}
	dmarc_lookup_answer(run->l, ds, txts, lens, k);
	for (size_t i = 0; i < k; i++)
		buf_free(&texts[i]);
	if (!run->stepping)
		step(run);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct dmarc_run *run = arg;
	run->expired = true;
	if (run->query) {
		dns_query_cancel(run->query);
		run->query = NULL;
		run->in_flight = false;
		dmarc_lookup_answer(run->l, DMARC_DNS_TEMPFAIL, NULL, NULL, 0);
	}
	step(run);
}

struct dmarc_run *dmarc_run_start(struct event_base *base, struct dns_resolver *r,
				  const char *from_domain, int timeout_ms, dmarc_run_fn fn, void *ctx)
{
	struct dmarc_run *run = xcalloc(1, sizeof *run);
	run->r = r;
	run->l = dmarc_lookup_start(from_domain);
	run->fn = fn;
	run->ctx = ctx;
	run->deadline = evtimer_new(base, on_deadline, run);
	if (timeout_ms < 0)
		timeout_ms = 0;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	evtimer_add(run->deadline, &tv);
	run->starting = true;
	step(run);
	run->starting = false;
	if (run->finished) {
		free(run);
		return NULL;
	}
	return run;
}

void dmarc_run_cancel(struct dmarc_run *run)
{
	if (!run)
		return;
	if (run->deadline)
		event_free(run->deadline);
	if (run->query)
		dns_query_cancel(run->query);
	dmarc_lookup_free(run->l);
	free(run);
}
