/* One incoming message's SPF, DKIM and DMARC check (msgauth.h).
 *
 * Every lookup starts at once: the SPF check of MAIL FROM and of HELO (each a chain of
 * queries driven by spf_dns.c), one TXT query per DKIM key the signatures name. A large
 * message's DKIM body hashes, which need no key, are computed on the worker thread meanwhile.
 * Each finished part lowers `pending`; at zero (or when the budget runs out: whatever has not
 * answered counts as a temporary failure) and once the hashes are done, the signatures are
 * verified on the loop (header hash and signature: tens of microseconds) and the verdict is
 * made.
 * Callbacks never finish the check themselves: they wake `kick`, so the verdict is always
 * made on a loop turn of its own, outside any resolver or SPF callback. */
#include "smtp/msgauth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/rand.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "mailauth/authres.h"
#include "mailauth/dkim.h"
#include "mailauth/dmarc.h"
#include "mailauth/dmarc_dns.h"
#include "mailauth/spf.h"
#include "mailauth/spf_dns.h"
#include "mime/mime.h"
#include "smtp/headers.h"

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
	bool verifying; /* the verdict is being made */
	bool in_worker; /* the body hashes are being computed on the worker */
	bool cancelled; /* while in_worker: the job's completion frees everything */
	enum dmarc_from_rc from_rc;
	const char *from_why;
	char from[DMARC_DOMAIN_MAX];
	struct dmarc_run *dmarc_run; /* in flight, or NULL */
	struct dmarc_policy_lookup policy;
	/* what the observation of the verdict points to */
	struct buf rua;
	char dkim_d[256], dkim_s[128];
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

/* ---- DMARC ------------------------------------------------------------------------------- */

static void dmarc_done(void *ctx, const struct dmarc_policy_lookup *res)
{
	struct msgauth *m = ctx;
	m->dmarc_run = NULL;
	m->policy = *res;
	part_done(m);
}

/* ---- the verdict ---------------------------------------------------------------------------- */

/* An Authentication-Results field claiming our authserv-id (RFC 8601 5): only we may write
 * those, so any that came with the message is forged. */
static bool forged_authres(const struct mime_field *f, void *arg)
{
	const char *id = arg;
	return f->name_len == 22 && strncasecmp(f->name, "Authentication-Results", 22) == 0 &&
	       authres_is_ours(f->value, f->value_len, id);
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
	buf_free(&m->rua);
	free(m->ip);
	free(m->helo);
	free(m->mailfrom);
	free(m->authserv_id);
	free(m);
}

static bool any_dkim(const struct msgauth *m, enum dkim_result r)
{
	for (size_t i = 0; i < dkim_verifier_count(m->dkim); i++)
		if (dkim_verifier_result(m->dkim, i)->result == r)
			return true;
	return false;
}

static const char *spf_why(const struct spf_check *c, struct buf *tmp)
{
	const char *why = spf_check_reason(c);
	if (why)
		return why;
	const char *mech = spf_check_mechanism(c);
	if (!mech)
		return NULL;
	buf_printf(tmp, "matched %s", mech);
	return tmp->data;
}

/* What to do with the message, from the three results and the settings. */
static enum msgauth_action choose(struct msgauth *m, enum spf_result spf,
				  const struct dmarc_outcome *d, char *sentence, size_t len)
{
	if (m->from_rc == DMARC_FROM_MULTIPLE) {
		/* RFC 5322 allows one From field; with two, a mail app shows one and DMARC could
		 * be made to check the other (RFC 7489 6.6.1). */
		snprintf(sentence, len, "The message has more than one From field, which is not "
			 "allowed (RFC 5322); it was not accepted.");
		return MSGAUTH_REJECT;
	}
	if (d->result == DMARC_RESULT_FAIL && d->disposition == DMARC_POLICY_REJECT) {
		snprintf(sentence, len, "%s", d->reason);
		return m->p.dmarc_reject ? MSGAUTH_REJECT : MSGAUTH_JUNK;
	}
	if (d->result == DMARC_RESULT_FAIL && d->disposition == DMARC_POLICY_QUARANTINE) {
		snprintf(sentence, len, "%s", d->reason);
		return MSGAUTH_JUNK;
	}
	if (d->result == DMARC_RESULT_PASS)
		return MSGAUTH_DELIVER;
	bool temp = d->result == DMARC_RESULT_TEMPERROR || spf == SPF_TEMPERROR ||
		    any_dkim(m, DKIM_TEMPERROR);
	if (temp && m->p.tempfail_on_dns) {
		snprintf(sentence, len, "The sender's domain could not be checked just now (its DNS "
			 "did not answer in time); please try again later.");
		return MSGAUTH_TEMPFAIL;
	}
	if (d->result == DMARC_RESULT_NONE && spf == SPF_FAIL && m->p.spf_fail_junk) {
		snprintf(sentence, len, "the sender's domain says in its SPF record that %s may not "
			 "send its mail", m->ip);
		return MSGAUTH_JUNK;
	}
	return MSGAUTH_DELIVER;
}

/* The verdict as a DMARC aggregate report row (RFC 7489 appendix C). */
static void observe(struct msgauth *m, struct msgauth_verdict *v, const struct dmarc_outcome *d,
		    enum spf_result spf, const char *spf_domain, const struct dkim_outcome *dkim,
		    size_t ndkim)
{
	const struct dmarc_record *r = &m->policy.record;
	for (size_t i = 0; i < r->nrua; i++) {
		buf_printf(&m->rua, "%s%s", i ? "," : "", r->rua[i].uri);
		if (r->rua[i].max_size)
			buf_printf(&m->rua, "!%llu", (unsigned long long)r->rua[i].max_size);
	}
	/* The signature reported: the aligned passing one, else the first. */
	const struct dkim_outcome *rep = ndkim ? &dkim[0] : NULL;
	for (size_t i = 0; d->dkim_aligned && i < ndkim; i++)
		if (dkim[i].result == DKIM_PASS && strcasecmp(dkim[i].domain, d->dkim_domain) == 0)
			rep = &dkim[i];
	if (rep) {
		snprintf(m->dkim_d, sizeof m->dkim_d, "%s", rep->domain);
		snprintf(m->dkim_s, sizeof m->dkim_s, "%s", rep->selector);
	}
	const char *at = strrchr(m->mailfrom, '@');
	bool failed = d->result == DMARC_RESULT_FAIL;
	v->observed = true;
	v->obs = (struct dmarc_observation){
		.time = (int64_t)time(NULL),
		.source_ip = m->ip,
		.header_from = m->from,
		.envelope_from = at ? at + 1 : "",
		.policy_domain = m->policy.policy_domain,
		.p = dmarc_policy_name(r->p),
		.sp = r->sp == DMARC_POLICY_UNSET ? NULL : dmarc_policy_name(r->sp),
		.adkim = r->adkim == DMARC_ALIGN_STRICT ? "s" : "r",
		.aspf = r->aspf == DMARC_ALIGN_STRICT ? "s" : "r",
		.pct = (int)r->pct,
		.rua = m->rua.data ? m->rua.data : "",
		/* what was done, whatever the policy asked (dmarc-reject = junk quarantines) */
		.disposition = v->action == MSGAUTH_REJECT && failed ? "reject"
			     : v->action == MSGAUTH_JUNK && failed ? "quarantine" : "none",
		.dkim_aligned = d->dkim_aligned ? "pass" : "fail",
		.spf_aligned = d->spf_aligned ? "pass" : "fail",
		.dkim_domain = rep ? m->dkim_d : NULL,
		.dkim_selector = rep ? m->dkim_s : NULL,
		.dkim_result = rep ? dkim_result_name(rep->result) : NULL,
		.spf_domain = spf_domain,
		.spf_scope = m->mailfrom[0] ? "mfrom" : "helo",
		.spf_result = spf_result_name(spf),
	};
}

static void decide(struct msgauth *m)
{
	struct msgauth_verdict v;
	memset(&v, 0, sizeof v);
	/* SPF: MAIL FROM's check, and HELO's; DMARC uses MAIL FROM's (HELO's for <>). */
	struct authres_spf spf[2];
	struct buf why[2] = { BUF_INIT, BUF_INIT };
	size_t nspf = 0;
	const struct spf_part *dmarc_spf = m->mailfrom[0] ? &m->spf_from : &m->spf_helo;
	for (int i = 0; i < 2; i++) {
		const struct spf_part *part = i == 0 ? &m->spf_from : &m->spf_helo;
		if (!part->check)
			continue;
		spf[nspf] = (struct authres_spf){
			.result = spf_check_result(part->check),
			.mailfrom = i == 0 ? m->mailfrom : NULL,
			.helo = m->helo,
			.reason = spf_why(part->check, &why[i]),
		};
		nspf++;
	}
	enum spf_result spf_result = dmarc_spf->check ? spf_check_result(dmarc_spf->check) : SPF_NONE;
	const char *spf_domain = m->mailfrom[0] ? strrchr(m->mailfrom, '@') : NULL;
	spf_domain = spf_domain ? spf_domain + 1 : m->helo;

	/* The outcomes in one array, as DMARC and the header read them. */
	size_t ndkim = dkim_verifier_count(m->dkim);
	struct dkim_outcome *dkim = ndkim ? xcalloc(ndkim, sizeof *dkim) : NULL;
	for (size_t i = 0; i < ndkim; i++)
		dkim[i] = *dkim_verifier_result(m->dkim, i);
	unsigned char r[2];
	RAND_bytes(r, sizeof r);
	struct dmarc_input in = {
		.from_domain = m->from_rc == DMARC_FROM_OK ? m->from : NULL,
		.policy = &m->policy,
		.spf = spf_result,
		.spf_domain = spf_domain,
		.dkim = dkim,
		.ndkim = ndkim,
		.random = (unsigned)((r[0] << 8 | r[1]) % 100),
	};
	struct dmarc_outcome d;
	dmarc_evaluate(&in, &d);
	if (m->from_rc != DMARC_FROM_OK && m->from_why)
		snprintf(d.reason, sizeof d.reason, "%s", m->from_why);

	v.action = choose(m, spf_result, &d, v.sentence, sizeof v.sentence);
	snprintf(v.spf, sizeof v.spf, "%s", spf_result_name(spf_result));
	snprintf(v.dkim, sizeof v.dkim, "%s", any_dkim(m, DKIM_PASS) ? "pass"
		 : any_dkim(m, DKIM_TEMPERROR) ? "temperror"
		 : ndkim ? dkim_result_name(dkim->result) : "none");
	snprintf(v.dmarc, sizeof v.dmarc, "%s", dmarc_result_name(d.result));
	snprintf(v.from_domain, sizeof v.from_domain, "%s", m->from);
	authres_format(&v.header, m->authserv_id, spf, nspf, dkim, ndkim,
		       dkim_verifier_unlisted(m->dkim), &d);
	if (m->policy.found == DMARC_FOUND_FROM || m->policy.found == DMARC_FOUND_ORG)
		observe(m, &v, &d, spf_result, spf_domain, dkim, ndkim);
	buf_free(&why[0]);
	buf_free(&why[1]);
	free(dkim);

	struct spool_bytes *b = m->p.bytes;
	m->p.bytes = NULL;
	size_t stripped = header_remove_fields(b, m->p.offset, forged_authres, m->authserv_id);
	if (stripped)
		log_info("event=authres-removed count=%zu reason=\"claimed our name\"", stripped);
	v.bytes = b;
	m->fn(m->ctx, &v);
	buf_free(&v.header);
	msgauth_free(m);
}

/* ---- running the DKIM verification ---------------------------------------------------------- */

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct msgauth *m = arg;
	if (m->pending > 0 || m->in_worker || m->verifying)
		return;
	m->verifying = true;
	if (m->deadline)
		evtimer_del(m->deadline);
	dkim_verifier_run(m->dkim, time(NULL));
	decide(m);
}

static void hash_job_run(struct store *s, struct store_job *job)
{
	(void)s;
	struct msgauth *m = (struct msgauth *)job;
	dkim_verifier_hash_bodies(m->dkim);
}

static void hash_job_done(struct store_job *job)
{
	struct msgauth *m = (struct msgauth *)job;
	m->in_worker = false;
	if (m->cancelled) {
		msgauth_free(m);
		return;
	}
	if (m->pending == 0)
		event_active(m->kick, EV_TIMEOUT, 0);
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
	/* The SPF and DMARC runs have the same deadline and end by themselves (temperror). */
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

	/* DMARC needs the From domain's policy (no From, or an unusable one: permerror). */
	m->from_rc = dmarc_from_domain(m->msg, m->len, m->from, sizeof m->from, &m->from_why);
	m->policy.found = DMARC_FOUND_NONE;
	if (m->from_rc == DMARC_FROM_OK) {
		m->pending++;
		m->dmarc_run = dmarc_run_start(base, dns, m->from, p->timeout_ms, dmarc_done, m);
	} else {
		m->from[0] = '\0';
	}

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
	/* Hashing a large body beside the lookups, not after them. */
	if (m->worker && m->len > MSGAUTH_INLINE_BYTES && dkim_verifier_count(m->dkim) > 0) {
		m->in_worker = true;
		m->job.run = hash_job_run;
		m->job.done = hash_job_done;
		m->job.ctx = m;
		m->job.what = "DKIM body hashes done";
		committer_submit_job(m->worker, &m->job);
	}
	part_done(m);
	return m;
}

void msgauth_cancel(struct msgauth *m)
{
	if (!m)
		return;
	if (m->spf_from.run)
		spf_run_cancel(m->spf_from.run);
	if (m->spf_helo.run)
		spf_run_cancel(m->spf_helo.run);
	if (m->dmarc_run)
		dmarc_run_cancel(m->dmarc_run);
	for (size_t i = 0; i < m->nkeys; i++)
		if (m->keys[i].q)
			dns_query_cancel(m->keys[i].q);
	if (m->in_worker) {
		/* The hashes read the message: the job's completion frees it all. */
		m->spf_from.run = m->spf_helo.run = NULL;
		m->dmarc_run = NULL;
		for (size_t i = 0; i < m->nkeys; i++)
			m->keys[i].q = NULL;
		evtimer_del(m->deadline);
		event_del(m->kick);
		m->cancelled = true;
		return;
	}
	msgauth_free(m);
}
