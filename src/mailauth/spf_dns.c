/* The SPF evaluator on libunbound. The evaluator asks; this file turns each question into
 * one dns_query() and each answer's rdata into what the evaluator reads. */
#include "mailauth/spf_dns.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/buf.h"

#define RR_A 1
#define RR_PTR 12
#define RR_MX 15
#define RR_TXT 16
#define RR_AAAA 28

struct spf_run {
	struct dns_resolver *r;
	struct spf_check *c;
	spf_run_fn fn;
	void *ctx;
	struct event *deadline;
	struct dns_query *query; /* in flight, or NULL */
	bool expired;
	bool in_flight; /* a dns_query() has not called back yet */
	bool stepping;  /* inside dns_query(): an answer given at once is taken by step() */
	bool starting;  /* inside spf_run_start() */
	bool finished;
};

static int rrtype_of(enum spf_qtype t)
{
	switch (t) {
	case SPF_QTXT: return RR_TXT;
	case SPF_QA: return RR_A;
	case SPF_QAAAA: return RR_AAAA;
	case SPF_QMX: return RR_MX;
	case SPF_QPTR: return RR_PTR;
	}
	return RR_TXT;
}

static void finish(struct spf_run *run)
{
	if (run->deadline) {
		event_free(run->deadline);
		run->deadline = NULL;
	}
	run->finished = true;
	run->fn(run->ctx, run->c);
	if (!run->starting)
		free(run);
}

static void answer_tempfail(struct spf_run *run)
{
	struct spf_answer a = { SPF_DNS_TEMPFAIL, NULL, 0 };
	spf_check_answer(run->c, &a);
}

static void on_answer(void *arg, enum dns_status st, const struct dns_rdata *rr, size_t n,
		      const char *why);

/* Asks queries until one is in flight, or finishes the run. */
static void step(struct spf_run *run)
{
	struct spf_query q;
	while (spf_check_next(run->c, &q)) {
		if (run->expired) {
			answer_tempfail(run);
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

static void on_answer(void *arg, enum dns_status st, const struct dns_rdata *rr, size_t n,
		      const char *why)
{
	struct spf_run *run = arg;
	run->in_flight = false;
	run->query = NULL;
	struct spf_query q;
	if (!spf_check_next(run->c, &q))
		return;
	struct spf_answer a = { st == DNS_TEMPFAIL ? SPF_DNS_TEMPFAIL : SPF_DNS_OK, NULL, 0 };
	struct spf_rr *rrs = n ? xcalloc(n, sizeof *rrs) : NULL;
	struct buf *texts = n ? xcalloc(n, sizeof *texts) : NULL;
	for (size_t i = 0; st == DNS_OK && i < n; i++) {
		char name[256];
		switch (q.type) {
		case SPF_QTXT:
			if (!dns_txt_join(&rr[i], &texts[i]))
				continue;
			break;
		case SPF_QA:
		case SPF_QAAAA:
			if (rr[i].len != (q.type == SPF_QA ? 4u : 16u))
				continue;
			buf_append(&texts[i], rr[i].data, rr[i].len);
			break;
		case SPF_QMX:
			if (rr[i].len < 3 ||
			    !dns_wire_name(rr[i].data + 2, rr[i].len - 2, name, sizeof name))
				continue;
			buf_append_str(&texts[i], name);
			break;
		case SPF_QPTR:
			if (!dns_wire_name(rr[i].data, rr[i].len, name, sizeof name))
				continue;
			buf_append_str(&texts[i], name);
			break;
		}
		rrs[a.nrrs].data = texts[i].data ? texts[i].data : "";
		rrs[a.nrrs].len = texts[i].len;
		a.nrrs++;
	}
	a.rrs = rrs;
	spf_check_answer(run->c, &a);
	for (size_t i = 0; i < n; i++)
		buf_free(&texts[i]);
	free(texts);
	free(rrs);
	if (!run->stepping)
		step(run);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct spf_run *run = arg;
	run->expired = true;
	if (run->query) {
		dns_query_cancel(run->query);
		run->query = NULL;
		run->in_flight = false;
	}
	answer_tempfail(run); /* the query that was in flight */
	step(run);
}

struct spf_run *spf_run_start(struct event_base *base, struct dns_resolver *r, struct spf_check *c,
			      int timeout_ms, spf_run_fn fn, void *ctx)
{
	struct spf_run *run = xcalloc(1, sizeof *run);
	run->r = r;
	run->c = c;
	run->fn = fn;
	run->ctx = ctx;
	run->deadline = evtimer_new(base, on_deadline, run);
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

void spf_run_cancel(struct spf_run *run)
{
	if (!run)
		return;
	if (run->deadline) {
		event_free(run->deadline);
		run->deadline = NULL;
	}
	if (run->query)
		dns_query_cancel(run->query);
	free(run);
}
