/* The DMARC policy lookup on libunbound: net/dns_drive.c asks the questions the lookup names
 * within the deadline; this file hands each answer's TXT strings back to it. */
#include "mailauth/dmarc_dns.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "net/dns_drive.h"

#define RR_A 1
#define RR_MX 15
#define RR_TXT 16
#define RR_AAAA 28
#define MAX_TXT 16 /* TXT records read at one _dmarc name; more are not DMARC's */

struct dmarc_run {
	struct dmarc_lookup *l;
	dmarc_run_fn fn;
	void *ctx;
	struct dns_drive *drive;
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

static bool next(void *ev, const char **name, int *rrtype)
{
	struct dmarc_run *run = ev;
	struct dmarc_query q;
	if (!dmarc_lookup_next(run->l, &q))
		return false;
	*name = q.name;
	*rrtype = rrtype_of(q.type);
	return true;
}

static void answer(void *ev, enum dns_status st, const struct dns_rdata *rr, size_t n,
		   const char *why)
{
	struct dmarc_run *run = ev;
	enum dmarc_dns_status ds = st == DNS_OK                                ? DMARC_DNS_OK
				   : st == DNS_NONE && dns_why_nxdomain(why)       ? DMARC_DNS_NXDOMAIN
				   : st == DNS_NONE                                ? DMARC_DNS_OK
										   : DMARC_DNS_TEMPFAIL;
	struct buf texts[MAX_TXT];
	const char *txts[MAX_TXT] = { NULL };
	size_t lens[MAX_TXT] = { 0 }, k = 0;
	for (size_t i = 0; st == DNS_OK && i < n && k < MAX_TXT; i++) {
		texts[k] = (struct buf)BUF_INIT;
		if (!dns_txt_join(&rr[i], &texts[k])) {
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
}

static void done(void *ev)
{
	struct dmarc_run *run = ev;
	run->fn(run->ctx, dmarc_lookup_policy(run->l));
	dmarc_lookup_free(run->l);
	free(run);
}

static const struct dns_drive_ops dmarc_ops = { next, answer, done };

struct dmarc_run *dmarc_run_start(struct event_base *base, struct dns_resolver *r,
				  const char *from_domain, int timeout_ms, dmarc_run_fn fn, void *ctx)
{
	struct dmarc_run *run = xcalloc(1, sizeof *run);
	run->l = dmarc_lookup_start(from_domain);
	run->fn = fn;
	run->ctx = ctx;
	struct dns_drive *d = dns_drive_start(base, r, &dmarc_ops, run, timeout_ms);
	if (!d)
		return NULL; /* done() ran, and freed run */
	run->drive = d;
	return run;
}

void dmarc_run_cancel(struct dmarc_run *run)
{
	if (!run)
		return;
	dns_drive_cancel(run->drive);
	dmarc_lookup_free(run->l);
	free(run);
}
