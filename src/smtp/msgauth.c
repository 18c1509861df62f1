/* One incoming message's SPF, DKIM and DMARC check (msgauth.h).
 *
 * Every lookup starts at once: the SPF check of MAIL FROM and of HELO (each a chain of
 * queries driven by spf_dns.c), one TXT query per DKIM key the signatures name. Each
 * finished part lowers `pending`; at zero (or when the budget runs out: whatever has not
 * answered counts as a temporary failure) the DKIM signatures are verified, on the loop for
 * a small message and on the worker thread for a large one, and the verdict is made.
 * Callbacks never finish the check themselves: they wake `kick`, so the verdict is always
 * made on a loop turn of its own, outside any resolver or SPF callback. */
#include "smtp/msgauth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "mailauth/dkim.h"
#include "mailauth/spf.h"
#include "mailauth/spf_dns.h"
#include "mime/mime.h"

#define RR_TXT 16

struct key_query {
	struct msgauth *m;
	size_t index;
	struct dns_query *q; /* in flight, or NULL */
	bool answered;
};

struct spf_part {
	struct msgauth *m;
	struct spf_check *check;
	struct spf_run *run; /* in flight, or NULL */
	bool done;
};

struct msgauth {
	struct store_job job; /* first: the worker's job is this struct */
	struct event_base *base;
	struct dns_resolver *dns;
	struct committer *worker;
	msgauth_fn fn;
	void *ctx;
	struct msgauth_params p;
	char *ip, *helo, *mailfrom, *authserv_id;
	const char *msg;
	size_t len;
	struct spf_part spf_from, spf_helo;
	struct dkim_verifier *dkim;
	struct key_query *keys;
	size_t nkeys;
	int pending;
	struct event *deadline, *kick;
	bool expired;
	bool verifying; /* DKIM running (on the worker, when in_worker) */
	bool in_worker;
	bool cancelled; /* while in_worker: the job's completion frees everything */
	char *more_note;
};

static void part_done(struct msgauth *m)
{
	if (--m->pending == 0)
		event_active(m->kick, EV_TIMEOUT, 0);
}

/* ---- SPF ---------------------------------------------------------------------------------- */

static void spf_done(void *ctx, struct spf_check *c)
{
	(void)c;
	struct spf_part *part = ctx;
	part->run = NULL;
	part->done = true;
	part_done(part->m);
}

static void spf_begin(struct msgauth *m, struct spf_part *part, struct spf_check *c)
{
	part->m = m;
	part->check = c;
	if (!c) {
		part->done = true;
		return;
	}
	m->pending++;
	part->run = spf_run_start(m->base, m->dns, c, m->p.timeout_ms, spf_done, part);
}

/* A HELO name worth an SPF check: a domain name (not an address literal). */
static bool helo_is_name(const char *helo)
{
	return helo[0] && helo[0] != '[' && strchr(helo, '.') != NULL;
}

/* ---- DKIM keys ------------------------------------------------------------------------------ */

static void key_answer(void *ctx, enum dns_status st, const struct dns_rdata *rr, size_t n,
		       const char *why)
{
	(void)why;
	struct key_query *k = ctx;
	struct msgauth *m = k->m;
	k->q = NULL;
	k->answered = true;
	if (st == DNS_TEMPFAIL) {
		dkim_verifier_set_key(m->dkim, k->index, DKIM_DNS_TEMPFAIL, NULL, 0);
	} else if (st != DNS_OK || n == 0) {
		dkim_verifier_set_key(m->dkim, k->index, DKIM_DNS_NONE, NULL, 0);
	} else {
		/* Several TXT records at a selector: the first that looks like a key record
		 * (RFC 6376 3.6.2.2 leaves the choice to the verifier). */
		struct buf txt = BUF_INIT;
		for (size_t i = 0; i < n; i++) {
			buf_reset(&txt);
			if (dns_txt_join(&rr[i], &txt) && txt.len >= 7 &&
			    strncmp(txt.data, "v=DKIM1", 7) == 0)
				break;
			if (i + 1 == n) { /* none announces itself: the first one */
				buf_reset(&txt);
				dns_txt_join(&rr[0], &txt);
			}
		}
		dkim_verifier_set_key(m->dkim, k->index, DKIM_DNS_FOUND, txt.data ? txt.data : "",
				      txt.len);
		buf_free(&txt);
	}
	part_done(m);
}

/* ---- the verdict ---------------------------------------------------------------------------- */

/* The message's From domain, lower case ("" when there is none or several). */
static void from_domain(const struct msgauth *m, char *out, size_t outlen)
{
	out[0] = '\0';
	size_t hdr = mime_header_block_size(m->msg, m->len);
	struct mime_field f;
	if (!mime_header_find(m->msg, hdr, "From", &f))
		return;
	const char *at = memchr(f.value, '@', f.value_len);
	if (!at)
		return;
	size_t i = 0;
	for (const char *p = at + 1; p < f.value + f.value_len && i + 1 < outlen; p++) {
		if (*p == '>' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == ',' ||
		    *p == ';' || *p == ')' || *p == '(')
			break;
		out[i++] = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
	}
	out[i] = '\0';
}

/* A value safe inside a header field: printable ASCII (UTF-8 kept), no CR, LF, ';' or '"'. */
static void put_safe(struct buf *out, const char *s, size_t max)
{
	for (size_t i = 0; s && s[i] && i < max; i++) {
		unsigned char ch = (unsigned char)s[i];
		buf_append_char(out, ch < 0x20 || ch == 0x7f || ch == ';' || ch == '"' || ch == '\\'
				? '_' : (char)ch);
	}
}

static void add_resinfo(struct buf *h, size_t *line, const char *text, size_t len)
{
	/* Fold before a result that would pass 78 columns. */
	if (*line + len + 2 > 78) {
		buf_append_str(h, ";\r\n\t");
		*line = 8;
	} else {
		buf_append_str(h, "; ");
		*line += 2;
	}
	buf_append(h, text, len);
	*line += len;
}

static void spf_resinfo(struct buf *h, size_t *line, const struct spf_part *part,
			const char *prop, const char *value)
{
	if (!part->check)
		return;
	struct buf r = BUF_INIT;
	buf_printf(&r, "spf=%s", spf_result_name(spf_check_result(part->check)));
	const char *why = spf_check_reason(part->check);
	const char *mech = spf_check_mechanism(part->check);
	if (why || mech) {
		buf_append_str(&r, " (");
		if (why)
			put_safe(&r, why, 120);
		else {
			buf_append_str(&r, "matched ");
			put_safe(&r, mech, 120);
		}
		buf_append_str(&r, ")");
	}
	buf_printf(&r, " %s=", prop);
	put_safe(&r, value, 300);
	add_resinfo(h, line, r.data, r.len);
	buf_free(&r);
}

static void make_header(struct msgauth *m, struct msgauth_verdict *v)
{
	struct buf *h = &v->header;
	buf_append_str(h, "Authentication-Results: ");
	put_safe(h, m->authserv_id, 255);
	size_t line = h->len;
	if (m->mailfrom[0])
		spf_resinfo(h, &line, &m->spf_from, "smtp.mailfrom", m->mailfrom);
	spf_resinfo(h, &line, &m->spf_helo, "smtp.helo", m->helo);
	size_t n = dkim_verifier_count(m->dkim);
	if (n == 0)
		add_resinfo(h, &line, "dkim=none", 9);
	/* The signatures checked, one result each; the rest (a message may carry hundreds) in
	 * one line, so the field stays short whatever was sent. */
	size_t more = dkim_verifier_unlisted(m->dkim);
	if (n > DKIM_MAX_SIGNATURES) {
		more += n - DKIM_MAX_SIGNATURES;
		n = DKIM_MAX_SIGNATURES;
	}
	if (more) {
		struct buf r = BUF_INIT;
		buf_printf(&r, "dkim=neutral (%zu more signatures not checked)", more);
		/* added after the listed ones, below */
		m->more_note = buf_steal(&r, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		const struct dkim_outcome *o = dkim_verifier_result(m->dkim, i);
		struct buf r = BUF_INIT;
		buf_printf(&r, "dkim=%s", o->result == DKIM_NOT_CHECKED ? "neutral"
					  : dkim_result_name(o->result));
		if (o->reason[0] || o->testing) {
			buf_append_str(&r, " (");
			put_safe(&r, o->reason[0] ? o->reason : "", 160);
			if (o->testing)
				buf_append_str(&r, o->reason[0] ? ", key in testing mode" : "key in testing mode");
			buf_append_str(&r, ")");
		}
		if (o->domain[0]) {
			buf_append_str(&r, " header.d=");
			put_safe(&r, o->domain, 255);
		}
		if (o->selector[0]) {
			buf_append_str(&r, " header.s=");
			put_safe(&r, o->selector, 127);
		}
		if (o->alg && o->alg[0])
			buf_printf(&r, " header.a=%s", o->alg);
		add_resinfo(h, &line, r.data, r.len);
		buf_free(&r);
	}
	if (m->more_note) {
		add_resinfo(h, &line, m->more_note, strlen(m->more_note));
		free(m->more_note);
		m->more_note = NULL;
	}
	if (v->dmarc[0]) {
		struct buf r = BUF_INIT;
		buf_printf(&r, "dmarc=%s", v->dmarc);
		if (v->from_domain[0]) {
			buf_append_str(&r, " header.from=");
			put_safe(&r, v->from_domain, 255);
		}
		add_resinfo(h, &line, r.data, r.len);
		buf_free(&r);
	}
	buf_append_str(h, "\r\n");
}

/* True when an Authentication-Results value names authserv_id (RFC 8601 2.2: optional CFWS,
 * then the authserv-id, then an optional version, then ';'). */
static bool authres_names(const char *value, size_t len, const char *id)
{
	size_t i = 0;
	for (;;) {
		while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == '\r' ||
				   value[i] == '\n'))
			i++;
		if (i < len && value[i] == '(') { /* a comment, possibly nested */
			int depth = 0;
			for (; i < len; i++) {
				if (value[i] == '\\' && i + 1 < len)
					i++;
				else if (value[i] == '(')
					depth++;
				else if (value[i] == ')' && --depth == 0) {
					i++;
					break;
				}
			}
			continue;
		}
		break;
	}
	size_t start = i;
	while (i < len && value[i] != ';' && value[i] != ' ' && value[i] != '\t' &&
	       value[i] != '\r' && value[i] != '\n' && value[i] != '(')
		i++;
	size_t idlen = strlen(id);
	return i - start == idlen && strncasecmp(value + start, id, idlen) == 0;
}

/* Removes every Authentication-Results field claiming our authserv-id (RFC 8601 5): only we
 * may write those, so any that came with the message is forged. */
static size_t strip_forged(struct msgauth *m, struct spool_bytes *b)
{
	size_t hdr = mime_header_block_size(m->msg, m->len);
	struct mime_header_iter it;
	struct mime_field f;
	size_t cut_at[64], cut_len[64], n = 0;
	mime_header_iter_init(&it, m->msg, hdr, 0);
	while (n < 64 && mime_header_next(&it, &f)) {
		if (f.name_len != 22 || strncasecmp(f.name, "Authentication-Results", 22) != 0 ||
		    !authres_names(f.value, f.value_len, m->authserv_id))
			continue;
		size_t at = (size_t)(m->msg - b->data) + f.offset, end = at + f.size;
		cut_at[n] = at;
		cut_len[n++] = end - at;
	}
	for (size_t i = n; i-- > 0;)
		spool_bytes_remove(b, cut_at[i], cut_len[i]);
	return n;
}

static void msgauth_free(struct msgauth *m)
{
	spf_check_free(m->spf_from.check);
	spf_check_free(m->spf_helo.check);
	dkim_verifier_free(&m->dkim);
	free(m->keys);
	if (m->deadline)
		event_free(m->deadline);
	if (m->kick)
		event_free(m->kick);
	spool_bytes_free(&m->p.bytes);
	free(m->ip);
	free(m->helo);
	free(m->mailfrom);
	free(m->authserv_id);
	free(m);
}

static bool any_dkim(const struct msgauth *m, enum dkim_result r)
{
	for (size_t i = 0; i < dkim_verifier_count(m->dkim); i++) {
		const struct dkim_outcome *o = dkim_verifier_result(m->dkim, i);
		if (o->result == r && !o->testing)
			return true;
	}
	return false;
}

static void decide(struct msgauth *m)
{
	struct msgauth_verdict v;
	memset(&v, 0, sizeof v);
	enum spf_result spf = m->spf_from.check ? spf_check_result(m->spf_from.check)
			    : m->spf_helo.check ? spf_check_result(m->spf_helo.check) : SPF_NONE;
	snprintf(v.spf, sizeof v.spf, "%s", spf_result_name(spf));
	const char *dkim = "none";
	if (any_dkim(m, DKIM_PASS))
		dkim = "pass";
	else if (any_dkim(m, DKIM_TEMPERROR))
		dkim = "temperror";
	else if (dkim_verifier_count(m->dkim) > 0)
		dkim = dkim_result_name(dkim_verifier_result(m->dkim, 0)->result);
	snprintf(v.dkim, sizeof v.dkim, "%s", dkim);
	from_domain(m, v.from_domain, sizeof v.from_domain);
	snprintf(v.dmarc, sizeof v.dmarc, "none");

	v.action = MSGAUTH_DELIVER;
	bool temp = spf == SPF_TEMPERROR || strcmp(dkim, "temperror") == 0;
	if (spf == SPF_FAIL && m->p.spf_fail_junk) {
		v.action = MSGAUTH_JUNK;
		snprintf(v.sentence, sizeof v.sentence, "the sender's domain says in its SPF record "
			 "that %s may not send its mail", m->ip);
	} else if (temp && m->p.tempfail_on_dns) {
		v.action = MSGAUTH_TEMPFAIL;
		snprintf(v.sentence, sizeof v.sentence, "The sender's domain could not be checked "
			 "just now (its DNS did not answer in time); please try again later.");
	}
	make_header(m, &v);
	struct spool_bytes *b = m->p.bytes;
	m->p.bytes = NULL;
	size_t stripped = strip_forged(m, b);
	if (stripped)
		log_info("event=authres-removed count=%zu reason=\"claimed our name\"", stripped);
	v.bytes = b;
	m->fn(m->ctx, &v);
	buf_free(&v.header);
	msgauth_free(m);
}

/* ---- running the DKIM verification ---------------------------------------------------------- */

static void verify_job_run(struct store *s, struct store_job *job)
{
	(void)s;
	struct msgauth *m = (struct msgauth *)job;
	dkim_verifier_run(m->dkim, time(NULL));
}

static void verify_job_done(struct store_job *job)
{
	struct msgauth *m = (struct msgauth *)job;
	m->in_worker = false;
	if (m->cancelled) {
		msgauth_free(m);
		return;
	}
	decide(m);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct msgauth *m = arg;
	if (m->pending > 0 || m->verifying)
		return;
	m->verifying = true;
	if (m->deadline)
		evtimer_del(m->deadline);
	if (dkim_verifier_count(m->dkim) == 0 || m->len <= MSGAUTH_INLINE_BYTES || !m->worker) {
		dkim_verifier_run(m->dkim, time(NULL));
		decide(m);
		return;
	}
	m->in_worker = true;
	m->job.run = verify_job_run;
	m->job.done = verify_job_done;
	m->job.ctx = m;
	m->job.what = "DKIM verification done";
	committer_submit_job(m->worker, &m->job);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct msgauth *m = arg;
	m->expired = true;
	/* Keys not answered yet stay unanswered: the verifier counts them as temperror. */
	for (size_t i = 0; i < m->nkeys; i++)
		if (!m->keys[i].answered) {
			if (m->keys[i].q)
				dns_query_cancel(m->keys[i].q);
			m->keys[i].q = NULL;
			m->keys[i].answered = true;
			m->pending--;
		}
	/* The SPF runs have the same deadline and end by themselves with temperror. */
	if (m->pending == 0)
		event_active(m->kick, EV_TIMEOUT, 0);
}

struct msgauth *msgauth_start(struct event_base *base, struct dns_resolver *dns,
			      struct committer *worker, const struct msgauth_params *p,
			      msgauth_fn fn, void *ctx)
{
	struct msgauth *m = xcalloc(1, sizeof *m);
	m->base = base;
	m->dns = dns;
	m->worker = worker;
	m->fn = fn;
	m->ctx = ctx;
	m->p = *p;
	m->ip = xstrdup(p->ip);
	m->helo = xstrdup(p->helo ? p->helo : "");
	m->mailfrom = xstrdup(p->mailfrom ? p->mailfrom : "");
	m->authserv_id = xstrdup(p->authserv_id);
	m->msg = p->bytes->data + p->offset;
	m->len = p->bytes->len - p->offset;
	m->kick = event_new(base, -1, 0, on_kick, m);
	m->deadline = evtimer_new(base, on_deadline, m);
	struct timeval tv = { p->timeout_ms / 1000, (p->timeout_ms % 1000) * 1000 };
	evtimer_add(m->deadline, &tv);
	m->pending = 1; /* released at the end of this function */

	long long now = (long long)time(NULL);
	if (m->mailfrom[0])
		spf_begin(m, &m->spf_from, spf_check_start(m->ip, m->helo, m->mailfrom,
							   m->authserv_id, now));
	if (helo_is_name(m->helo) || !m->mailfrom[0])
		spf_begin(m, &m->spf_helo, spf_check_start_helo(m->ip, m->helo, m->authserv_id,
								 now));

	m->dkim = dkim_verifier_new(m->msg, m->len);
	m->nkeys = dkim_verifier_key_count(m->dkim);
	m->keys = m->nkeys ? xcalloc(m->nkeys, sizeof *m->keys) : NULL;
	for (size_t i = 0; i < m->nkeys; i++) {
		struct key_query *k = &m->keys[i];
		k->m = m;
		k->index = i;
		m->pending++;
		struct dns_query *q = dns_query(dns, dkim_verifier_key_name(m->dkim, i), RR_TXT,
						key_answer, k);
		if (!k->answered)
			k->q = q;
	}
	part_done(m);
	return m;
}

void msgauth_cancel(struct msgauth *m)
{
	if (!m)
		return;
	if (m->in_worker) {
		m->cancelled = true;
		return;
	}
	if (m->spf_from.run)
		spf_run_cancel(m->spf_from.run);
	if (m->spf_helo.run)
		spf_run_cancel(m->spf_helo.run);
	for (size_t i = 0; i < m->nkeys; i++)
		if (m->keys[i].q)
			dns_query_cancel(m->keys[i].q);
	msgauth_free(m);
}
