/* The SPF evaluator on libunbound. The evaluator asks; net/dns_drive.c turns each question
 * into one dns_query() within the deadline; this file turns each answer's rdata into what the
 * evaluator reads. */
#include "mailauth/spf_dns.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "net/dns_drive.h"

#define RR_A 1
#define RR_PTR 12
#define RR_MX 15
#define RR_TXT 16
#define RR_AAAA 28

struct spf_run {
	struct spf_check *c;
	spf_run_fn fn;
	void *ctx;
	struct dns_drive *drive;
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

static bool next(void *ev, const char **name, int *rrtype)
{
	struct spf_run *run = ev;
	struct spf_query q;
	if (!spf_check_next(run->c, &q))
		return false;
	*name = q.name;
	*rrtype = rrtype_of(q.type);
	return true;
}

static void answer(void *ev, enum dns_status st, const struct dns_rdata *rr, size_t n,
		   const char *why)
{
	(void)why;
	struct spf_run *run = ev;
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
}

static void done(void *ev)
{
	struct spf_run *run = ev;
	run->fn(run->ctx, run->c);
	free(run);
}

static const struct dns_drive_ops spf_ops = { next, answer, done };

struct spf_run *spf_run_start(struct event_base *base, struct dns_resolver *r, struct spf_check *c,
			      int timeout_ms, spf_run_fn fn, void *ctx)
{
	struct spf_run *run = xcalloc(1, sizeof *run);
	run->c = c;
	run->fn = fn;
	run->ctx = ctx;
	struct dns_drive *d = dns_drive_start(base, r, &spf_ops, run, timeout_ms);
	if (!d)
		return NULL; /* done() ran, and freed run */
	run->drive = d;
	return run;
}

void spf_run_cancel(struct spf_run *run)
{
	if (!run)
		return;
	dns_drive_cancel(run->drive);
	free(run);
}
