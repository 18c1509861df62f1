#include "auth/login.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "store/store.h"

/* Failures older than this are forgotten. */
#define THROTTLE_WINDOW_SECONDS 900
#define THROTTLE_ENTRIES_MAX 10000

struct throttle_entry {
	char key[300];      /* "ip:..." or "account:..." */
	unsigned failures;
	int64_t last_failure;
};

struct pending_login;

struct login_service {
	struct event_base *base;
	struct committer *worker, *writer;
	long max_delay;
	struct throttle_entry *entries;
	size_t nentries;
	struct pending_login *waiting; /* delayed, not yet handed to the worker */
};

struct pending_login {
	struct store_job job;          /* first: the worker job */
	struct login_service *ls;
	struct pending_login *next;    /* in ls->waiting while delayed */
	struct event *timer;
	char *address, *password;
	char ip[64];
	char protocol[16];
	bool tls;
	login_done_fn done;
	void *owner;                   /* the session; NULL once cancelled */
	struct login_outcome out;
	bool unknown_user;
};

struct audit_job {
	struct store_job job;
	struct audit_entry entry;
	char *account, *device, *protocol, *ip, *result;
	int64_t device_id;
};

void login_app_secret_hash(const char *password, char out[65])
{
	char norm[256];
	size_t n = 0;
	for (const char *p = password; *p && n + 1 < sizeof norm; p++)
		if (*p != '-' && *p != ' ')
			norm[n++] = (char)tolower((unsigned char)*p);
	unsigned char digest[32];
	unsigned int len = 0;
	EVP_Digest(norm, n, digest, &len, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

void login_app_password_generate(char out[20])
{
	static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";
	unsigned char r[16];
	if (RAND_bytes(r, sizeof r) != 1)
		abort();
	size_t o = 0;
	for (size_t i = 0; i < 16; i++) {
		if (i && i % 4 == 0)
			out[o++] = '-';
		out[o++] = alphabet[r[i] % (sizeof alphabet - 1)];
	}
	out[o] = '\0';
}

static struct throttle_entry *throttle_find(struct login_service *ls, const char *key, bool create)
{
	int64_t now = clock_now();
	for (size_t i = 0; i < ls->nentries; i++) {
		struct throttle_entry *e = &ls->entries[i];
		if (now - e->last_failure > THROTTLE_WINDOW_SECONDS) {
			*e = ls->entries[--ls->nentries];
			i--;
			continue;
		}
		if (strcmp(e->key, key) == 0)
			return e;
	}
	if (!create)
		return NULL;
	if (ls->nentries == THROTTLE_ENTRIES_MAX) {
		/* Full: forget the oldest entry rather than grow (an attacker controls the keys). */
		size_t oldest = 0;
		for (size_t i = 1; i < ls->nentries; i++)
			if (ls->entries[i].last_failure < ls->entries[oldest].last_failure)
				oldest = i;
		ls->entries[oldest] = ls->entries[--ls->nentries];
	}
	if (!ls->entries)
		ls->entries = xcalloc(THROTTLE_ENTRIES_MAX, sizeof *ls->entries);
	struct throttle_entry *e = &ls->entries[ls->nentries++];
	memset(e, 0, sizeof *e);
	snprintf(e->key, sizeof e->key, "%s", key);
	e->last_failure = now;
	return e;
}

/* 250 ms after the first failure, doubling, capped at max_delay. */
static long throttle_delay_ms(struct login_service *ls, const char *key)
{
	struct throttle_entry *e = throttle_find(ls, key, false);
	if (!e || e->failures == 0)
		return 0;
	unsigned shift = e->failures - 1 > 16 ? 16 : e->failures - 1;
	long ms = 250L << shift;
	return ms > ls->max_delay * 1000 ? ls->max_delay * 1000 : ms;
}

static void throttle_keys(const struct pending_login *p, char *ipkey, char *acctkey, size_t len)
{
	snprintf(ipkey, len, "ip:%s", p->ip);
	snprintf(acctkey, len, "account:%s", p->address);
	for (char *c = acctkey; *c; c++)
		*c = (char)tolower((unsigned char)*c);
}

struct login_service *login_service_new(struct event_base *base, struct committer *worker,
					struct committer *writer)
{
	struct login_service *ls = xcalloc(1, sizeof *ls);
	ls->base = base;
	ls->worker = worker;
	ls->writer = writer;
	ls->max_delay = 15;
	return ls;
}

void login_set_max_delay(struct login_service *ls, long seconds)
{
	ls->max_delay = seconds;
}

static void pending_free(struct pending_login *p)
{
	if (p->timer)
		event_free(p->timer);
	if (p->password) {
		OPENSSL_cleanse(p->password, strlen(p->password));
		free(p->password);
	}
	free(p->address);
	free(p);
}

/* Worker thread: find the device the password belongs to. */
static void login_job_run(struct store *s, struct store_job *job)
{
	struct pending_login *p = (struct pending_login *)job;
	char secret[65];
	login_app_secret_hash(p->password, secret);
	struct login_lookup l;
	if (!s->ops->login_lookup(s, p->address, secret, &l)) {
		p->out.result = LOGIN_BAD_PASSWORD;
		p->unknown_user = true;
		return;
	}
	p->out.account_id = l.account_id;
	snprintf(p->out.pop3_delete, sizeof p->out.pop3_delete, "%s", l.pop3_delete ? l.pop3_delete : "");
	if (l.app_device_id) {
		p->out.result = LOGIN_OK;
		p->out.device_id = l.app_device_id;
		snprintf(p->out.device_label, sizeof p->out.device_label, "%s", l.app_device_label);
	} else if (password_verify(l.password_hash, p->password)) {
		p->out.result = l.account_password_on ? LOGIN_OK : LOGIN_ACCOUNT_PASSWORD_OFF;
		p->out.device_id = l.account_device_id;
		snprintf(p->out.device_label, sizeof p->out.device_label, "account password");
	} else {
		p->out.result = LOGIN_BAD_PASSWORD;
	}
	login_lookup_free(&l);
}

static void audit_job_run(struct store *s, struct store_job *job)
{
	struct audit_job *a = (struct audit_job *)job;
	s->ops->audit_add(s, &a->entry);
	if (a->device_id)
		s->ops->device_touch(s, a->device_id, a->entry.time, a->entry.protocol, a->entry.ip);
}

static void audit_job_done(struct store_job *job)
{
	struct audit_job *a = (struct audit_job *)job;
	free(a->account);
	free(a->device);
	free(a->protocol);
	free(a->ip);
	free(a->result);
	free(a);
}

static const char *result_name(const struct pending_login *p)
{
	if (p->unknown_user)
		return "unknown-user";
	switch (p->out.result) {
	case LOGIN_OK:
		return "ok";
	case LOGIN_BAD_PASSWORD:
		return "bad-password";
	case LOGIN_ACCOUNT_PASSWORD_OFF:
		return "disabled";
	case LOGIN_UNKNOWN_USER:
		return "unknown-user";
	case LOGIN_TEMPFAIL:
		return "tempfail";
	}
	return "unknown";
}

static void write_audit(struct login_service *ls, struct pending_login *p)
{
	struct audit_job *a = xcalloc(1, sizeof *a);
	a->job.run = audit_job_run;
	a->job.done = audit_job_done;
	a->job.group = true;
	a->account = xstrdup(p->address);
	a->device = p->out.device_label[0] ? xstrdup(p->out.device_label) : NULL;
	a->protocol = xstrdup(p->protocol);
	a->ip = xstrdup(p->ip);
	a->result = xstrdup(result_name(p));
	a->device_id = p->out.result == LOGIN_OK ? p->out.device_id : 0;
	a->entry = (struct audit_entry){
		.time = clock_now(), .account = a->account, .device = a->device,
		.protocol = a->protocol, .ip = a->ip, .tls = p->tls, .result = a->result,
	};
	committer_submit_job(ls->writer, &a->job);
}

/* A success clears the counters of the address and the account; a failure adds to both. */
static void throttle_count(struct login_service *ls, const struct pending_login *p,
			   const char *ipkey, const char *acctkey)
{
	int64_t now = clock_now();
	if (p->out.result == LOGIN_OK) {
		struct throttle_entry *e;
		if ((e = throttle_find(ls, ipkey, false)))
			e->failures = 0;
		if ((e = throttle_find(ls, acctkey, false)))
			e->failures = 0;
		return;
	}
	struct throttle_entry *e = throttle_find(ls, ipkey, true);
	e->failures++;
	e->last_failure = now;
	e = throttle_find(ls, acctkey, true);
	e->failures++;
	e->last_failure = now;
}

/* Loop thread: the worker answered. */
static void login_job_done(struct store_job *job)
{
	struct pending_login *p = (struct pending_login *)job;
	struct login_service *ls = p->ls;
	char ipkey[300], acctkey[300];
	throttle_keys(p, ipkey, acctkey, sizeof ipkey);
	throttle_count(ls, p, ipkey, acctkey);
	log_info("event=login protocol=%s ip=%s account=%s device=%s tls=%s result=%s", p->protocol,
		 p->ip, log_str(p->address), log_qstr(p->out.device_label), p->tls ? "yes" : "no",
		 result_name(p));
	write_audit(ls, p);
	if (p->job.ctx)
		p->done(p->job.ctx, &p->out);
	pending_free(p);
}

static void on_delay_over(evutil_socket_t fd, short what, void *arg)
{
	struct pending_login *p = arg;
	struct login_service *ls = p->ls;
	for (struct pending_login **pp = &ls->waiting; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (!p->job.ctx) {
		pending_free(p);
		return;
	}
	committer_submit_job(ls->worker, &p->job);
}

void login_start(struct login_service *ls, const char *address, const char *password,
		 const char *ip, const char *protocol, bool tls, login_done_fn done, void *ctx)
{
	struct pending_login *p = xcalloc(1, sizeof *p);
	p->job.run = login_job_run;
	p->job.done = login_job_done;
	p->job.ctx = ctx;
	p->ls = ls;
	p->address = xstrdup(address);
	p->password = xstrdup(password);
	snprintf(p->ip, sizeof p->ip, "%s", ip);
	snprintf(p->protocol, sizeof p->protocol, "%s", protocol);
	p->tls = tls;
	p->done = done;
	char ipkey[300], acctkey[300];
	throttle_keys(p, ipkey, acctkey, sizeof ipkey);
	long a = throttle_delay_ms(ls, ipkey), b = throttle_delay_ms(ls, acctkey);
	long delay = a > b ? a : b;
	if (delay == 0) {
		committer_submit_job(ls->worker, &p->job);
		return;
	}
	/* Wait before even checking: guessing gets slower with every failure, from this address
	 * and against this account; the real user is only slowed, never locked out. */
	p->timer = evtimer_new(ls->base, on_delay_over, p);
	struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };
	evtimer_add(p->timer, &tv);
	p->next = ls->waiting;
	ls->waiting = p;
}

void login_cancel(struct login_service *ls, void *ctx)
{
	for (struct pending_login *p = ls->waiting; p; p = p->next)
		if (p->job.ctx == ctx)
			p->job.ctx = NULL;
	committer_cancel(ls->worker, ctx);
}

void login_service_free(struct login_service *ls)
{
	while (ls->waiting) {
		struct pending_login *p = ls->waiting;
		ls->waiting = p->next;
		pending_free(p);
	}
	free(ls->entries);
	free(ls);
}

void login_report(struct login_service *ls, const char *address, const char *ip,
		  const char *protocol, bool tls, const struct login_outcome *o)
{
	struct pending_login p;
	memset(&p, 0, sizeof p);
	p.ls = ls;
	p.address = (char *)address;
	snprintf(p.ip, sizeof p.ip, "%s", ip);
	snprintf(p.protocol, sizeof p.protocol, "%s", protocol);
	p.tls = tls;
	p.out = *o;
	p.unknown_user = o->result == LOGIN_UNKNOWN_USER;
	char ipkey[300], acctkey[300];
	throttle_keys(&p, ipkey, acctkey, sizeof ipkey);
	throttle_count(ls, &p, ipkey, acctkey);
	log_info("event=login protocol=%s ip=%s account=%s device=%s tls=%s result=%s", protocol,
		 ip, log_str(address), log_qstr(o->device_label), tls ? "yes" : "no",
		 result_name(&p));
	write_audit(ls, &p);
}

long login_delay_ms(struct login_service *ls, const char *address, const char *ip)
{
	struct pending_login p;
	memset(&p, 0, sizeof p);
	p.address = (char *)address;
	snprintf(p.ip, sizeof p.ip, "%s", ip);
	char ipkey[300], acctkey[300];
	throttle_keys(&p, ipkey, acctkey, sizeof ipkey);
	long a = throttle_delay_ms(ls, ipkey), b = throttle_delay_ms(ls, acctkey);
	return a > b ? a : b;
}
