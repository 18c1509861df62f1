/* Our DMARC aggregate reports: build on the worker, check destinations on the loop, queue on
 * the writer (see dmarc_send.h). */
#include "outbound/dmarc_send.h"

#include <ctype.h>
#include <inttypes.h>
#include <libpsl.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "mailauth/dmarc_report.h"
#include "store/store.h"

struct dest {
	struct dmarc_rua rua;
	bool check;      /* another organization: needs its _report._dmarc record */
	bool ok;         /* will be sent to */
	const char *why; /* not sent: why (a constant) */
	struct outgoing *o;
	struct dns_query *q;
};

struct outgoing {
	char *domain, *report_id;
	int64_t begin, end;
	size_t nrecords;
	struct buf gz;
	struct dest dests[DMARC_SEND_MAX_RUA];
	size_t ndests;
	struct run *run;
	bool queued;
};

struct run {
	struct dmarc_send_params p;
	int64_t cutoff_day;
	struct outgoing *out;
	size_t n, cap;
	size_t pending;  /* DNS answers awaited (+1 while they are being asked) */
	size_t queued, dropped;
};

struct run_job {
	struct store_job job;
	struct run *run;
};

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static psl_ctx_t *psl_ctx;

static void psl_load(void)
{
	psl_ctx = psl_latest(NULL);
}

/* The organizational domain (RFC 7489 3.2) of name, lower case, into out. */
static void org_domain(const char *name, char *out, size_t len)
{
	char low[256];
	size_t i = 0;
	for (; name[i] && i + 1 < sizeof low; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[i] = 0;
	pthread_once(&psl_once, psl_load);
	const psl_ctx_t *psl = psl_ctx ? psl_ctx : psl_builtin();
	const char *reg = psl ? psl_registrable_domain(psl, low) : NULL;
	snprintf(out, len, "%s", reg ? reg : low);
}

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->out[i].domain);
		free(r->out[i].report_id);
		buf_free(&r->out[i].gz);
	}
	free(r->out);
	free((char *)r->p.hostname);
	free((char *)r->p.from);
	free(r);
}

/* ---- 1. the worker: build ---------------------------------------------------------------- */

static bool collect(void *ctx, struct dmarc_report *rep, const char *rua)
{
	struct run *r = ctx;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->out = xrealloc(r->out, r->cap * sizeof *r->out);
	}
	struct outgoing *o = &r->out[r->n++];
	memset(o, 0, sizeof *o);
	o->run = r;
	o->domain = xstrdup(rep->domain);
	o->begin = rep->begin;
	o->end = rep->end;
	o->nrecords = rep->nrecords;
	struct buf id = BUF_INIT;
	buf_printf(&id, "%s.%" PRId64 ".%" PRId64 "@%s", rep->domain, rep->begin, rep->end,
		   r->p.hostname);
	o->report_id = buf_steal(&id, NULL);
	rep->org_name = xstrdup(r->p.hostname);
	rep->email = xstrdup(r->p.from);
	rep->report_id = xstrdup(o->report_id);
	struct buf xml = BUF_INIT;
	dmarc_report_xml(rep, &xml);
	if (!dmarc_report_gzip(xml.data, xml.len, &o->gz))
		buf_reset(&o->gz);
	buf_free(&xml);
	struct dmarc_rua list[DMARC_SEND_MAX_RUA];
	o->ndests = dmarc_rua_parse(rua, list, DMARC_SEND_MAX_RUA);
	char policy_org[256], dest_org[256];
	org_domain(o->domain, policy_org, sizeof policy_org);
	/* the message is the gzip in base64 plus about 2 KB of headers and text */
	uint64_t size = (uint64_t)o->gz.len * 4 / 3 + o->gz.len / 57 * 2 + 2048;
	for (size_t i = 0; i < o->ndests; i++) {
		struct dest *d = &o->dests[i];
		d->rua = list[i];
		d->o = o;
		org_domain(strrchr(d->rua.address, '@') + 1, dest_org, sizeof dest_org);
		d->check = strcmp(dest_org, policy_org) != 0;
		d->ok = o->gz.len > 0;
		if (!d->ok)
			d->why = "the report could not be compressed";
		if (d->ok && d->rua.max_size && size > d->rua.max_size) {
			d->ok = false;
			d->why = "the report is larger than the address's !size limit";
		}
	}
	return true;
}

static void build_run(struct store *s, struct store_job *job)
{
	struct run *r = ((struct run_job *)job)->run;
	int64_t today = r->p.now / 86400;
	r->cutoff_day = r->p.include_today ? today + 1 : today;
	/* one report per domain per UTC day */
	s->ops->dmarc_pending(s, r->cutoff_day, today * 86400, DMARC_SEND_MAX_DOMAINS,
			      DMARC_SEND_MAX_RECORDS, collect, r);
}

/* ---- 2. the loop: external destinations ---------------------------------------------------- */

static void queue_all(struct run *r);

static void dest_answer(void *ctx, enum dns_status st, const struct dns_rdata *rr, size_t n,
			const char *why)
{
	(void)why;
	struct dest *d = ctx;
	d->q = NULL;
	bool found = false;
	for (size_t i = 0; st == DNS_OK && i < n && !found; i++) {
		/* TXT rdata: length-prefixed strings, joined (RFC 7489 7.1) */
		char txt[512];
		size_t k = 0;
		for (size_t p = 0; p < rr[i].len;) {
			size_t l = rr[i].data[p++];
			for (size_t j = 0; j < l && p < rr[i].len; j++, p++)
				if (k + 1 < sizeof txt)
					txt[k++] = (char)rr[i].data[p];
		}
		txt[k] = 0;
		found = strncmp(txt, "v=DMARC1", 8) == 0 &&
			(txt[8] == 0 || txt[8] == ';' || txt[8] == ' ' || txt[8] == '\t');
	}
	if (!found) {
		d->ok = false;
		d->why = st == DNS_TEMPFAIL ? "its _report._dmarc record could not be looked up"
					    : "its domain did not agree to take reports for this "
					      "domain (no _report._dmarc record, RFC 7489 7.1)";
	}
	struct run *r = d->o->run;
	if (--r->pending == 0)
		queue_all(r);
}

static void build_done(struct store_job *job)
{
	struct run *r = ((struct run_job *)job)->run;
	free(job);
	r->pending = 1;
	for (size_t i = 0; i < r->n; i++)
		for (size_t k = 0; k < r->out[i].ndests; k++) {
			struct dest *d = &r->out[i].dests[k];
			if (!d->ok || !d->check)
				continue;
			if (!r->p.dns) {
				d->ok = false;
				d->why = "another organization's address needs a DNS check, and no "
					 "resolver is at hand";
				continue;
			}
			struct buf name = BUF_INIT;
			buf_printf(&name, "%s._report._dmarc.%s", r->out[i].domain,
				   strrchr(d->rua.address, '@') + 1);
			r->pending++;
			d->q = dns_query(r->p.dns, name.data, 16 /* TXT */, dest_answer, d);
			buf_free(&name);
		}
	if (--r->pending == 0)
		queue_all(r);
}

/* ---- 3. the writer: queue ------------------------------------------------------------------ */

void dmarc_send_message(const char *from, const char *to, const char *hostname,
			const char *domain, const char *report_id, int64_t begin, int64_t end,
			const char *gz, size_t gz_len, int64_t now, struct buf *out)
{
	unsigned char rnd[12];
	RAND_bytes(rnd, sizeof rnd);
	char hex[25];
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	char date[64], b[40], e[40];
	time_t t = (time_t)now, tb = (time_t)begin, te = (time_t)end;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	gmtime_r(&tb, &tm);
	strftime(b, sizeof b, "%Y-%m-%d %H:%M UTC", &tm);
	gmtime_r(&te, &tm);
	strftime(e, sizeof e, "%Y-%m-%d %H:%M UTC", &tm);
	buf_printf(out, "From: %s\r\nTo: %s\r\nSubject: Report Domain: %s Submitter: %s "
			"Report-ID: <%s>\r\nDate: %s\r\nMessage-ID: <dmarc.%s@%s>\r\n"
			"MIME-Version: 1.0\r\n"
			"Content-Type: multipart/mixed; boundary=\"dmarc-%s\"\r\n\r\n"
			"--dmarc-%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
			"This is a DMARC aggregate report (RFC 7489) for %s from %s,\r\n"
			"covering %s to %s.\r\n\r\n",
		   from, to, domain, hostname, report_id, date, hex, hostname, hex, hex, domain,
		   hostname, b, e);
	buf_printf(out, "--dmarc-%s\r\nContent-Type: application/gzip; "
			"name=\"%s!%s!%" PRId64 "!%" PRId64 ".xml.gz\"\r\n"
			"Content-Disposition: attachment; filename=\"%s!%s!%" PRId64 "!%" PRId64
			".xml.gz\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
		   hex, hostname, domain, begin, end, hostname, domain, begin, end);
	base64_encode_lines(out, gz, gz_len);
	buf_printf(out, "--dmarc-%s--\r\n", hex);
}

static void queue_one(struct store *s, struct run *r, struct outgoing *o)
{
	struct buf to = BUF_INIT, err = BUF_INIT, msg = BUF_INIT;
	struct store_remote remote[DMARC_SEND_MAX_RUA];
	const char *rcpts[DMARC_SEND_MAX_RUA][DMARC_SEND_MAX_RUA];
	size_t nremote = 0;
	for (size_t k = 0; k < o->ndests; k++) {
		struct dest *d = &o->dests[k];
		if (!d->ok)
			continue;
		const char *dom = strrchr(d->rua.address, '@') + 1;
		size_t i = 0;
		while (i < nremote && strcasecmp(remote[i].domain, dom) != 0)
			i++;
		if (i == nremote)
			remote[nremote++] = (struct store_remote){ .domain = dom, .rcpts = rcpts[i] };
		bool dup = false;
		for (size_t j = 0; j < remote[i].nrcpts; j++)
			dup |= strcasecmp(rcpts[i][j], d->rua.address) == 0;
		if (dup)
			continue;
		rcpts[i][remote[i].nrcpts++] = d->rua.address;
		buf_printf(&to, "%s%s", to.len ? ", " : "", d->rua.address);
	}
	bool ok = s->ops->batch_begin(s, &err);
	if (ok && nremote) {
		dmarc_send_message(r->p.from, to.data, r->p.hostname, o->domain, o->report_id,
				   o->begin, o->end, o->gz.data, o->gz.len, r->p.now, &msg);
		struct store_delivery d = {
			.data = msg.data, .len = msg.len, .internaldate = r->p.now,
			.remote = remote, .nremote = nremote, .sender = r->p.from,
		};
		bool stored = false;
		ok = s->ops->deliver_batch(s, &d, 1, &stored, &err) && stored;
		o->queued = ok;
	}
	if (ok)
		ok = s->ops->dmarc_reported(s, o->domain, r->cutoff_day, r->p.now, &err);
	if (!s->ops->batch_end(s, &err) || !ok) {
		o->queued = false;
		log_error("event=dmarc-report-failed domain=%s error=%s", log_str(o->domain),
			  log_qstr(err.data ? err.data : "store error"));
	}
	buf_free(&to);
	buf_free(&err);
	buf_free(&msg);
}

static void queue_run(struct store *s, struct store_job *job)
{
	struct run *r = ((struct run_job *)job)->run;
	for (size_t i = 0; i < r->n; i++)
		queue_one(s, r, &r->out[i]);
}

static void queue_done(struct store_job *job)
{
	struct run *r = ((struct run_job *)job)->run;
	free(job);
	for (size_t i = 0; i < r->n; i++) {
		struct outgoing *o = &r->out[i];
		for (size_t k = 0; k < o->ndests; k++)
			if (!o->dests[k].ok)
				log_warn("event=dmarc-report-destination-skipped domain=%s to=%s "
					 "reason=\"%s\"", log_str(o->domain),
					 log_str(o->dests[k].rua.address), o->dests[k].why);
		if (o->queued) {
			r->queued++;
			log_info("event=dmarc-report-queued domain=%s records=%zu gzip_bytes=%zu "
				 "report_id=%s", log_str(o->domain), o->nrecords, o->gz.len,
				 log_str(o->report_id));
		} else {
			r->dropped++;
			log_warn("event=dmarc-report-dropped domain=%s reason=\"no address of its "
				 "rua= could take it\"", log_str(o->domain));
		}
	}
	if (r->p.done)
		r->p.done(r->p.ctx, r->queued, r->dropped);
	run_free(r);
}

static void queue_all(struct run *r)
{
	struct run_job *j = xcalloc(1, sizeof *j);
	j->run = r;
	j->job.run = queue_run;
	j->job.done = queue_done;
	j->job.ctx = r;
	j->job.what = "DMARC reports queued";
	committer_submit_job(r->p.writer, &j->job);
}

void dmarc_send_run(const struct dmarc_send_params *p)
{
	struct run *r = xcalloc(1, sizeof *r);
	r->p = *p;
	r->p.hostname = xstrdup(p->hostname);
	r->p.from = xstrdup(p->from);
	struct run_job *j = xcalloc(1, sizeof *j);
	j->run = r;
	j->job.run = build_run;
	j->job.done = build_done;
	j->job.ctx = r;
	j->job.what = "DMARC reports built";
	committer_submit_job(p->worker, &j->job);
}
