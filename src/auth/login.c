#include "auth/login.h"

#include <arpa/inet.h>
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

/* Failures older than this are forgotten. */
#define THROTTLE_WINDOW_SECONDS 900
#define THROTTLE_ENTRIES_MAX 10000
/* Attempts waiting for one address or one account beyond this are refused at once. */
#define THROTTLE_QUEUE_MAX 64
/* How often the revocation check runs, and how soon a busy session is asked again. */
#define WATCH_TICK_MS 1000
#define WATCH_RETRY_MS 100
/* Sessions re-checked per loop turn after a revocation. */
#define WATCH_SLICE 100

/* One client address ("ip:...") or one account ("account:..."). Its attempts are checked one
 * after another in arrival order (tickets), so parallel connections guess no faster than one:
 * each attempt starts after the one before it was answered, plus the delay the failures so far
 * earned, and no sooner than the failures-per-minute bucket allows. */
struct throttle_entry {
	char key[300];
	unsigned failures;       /* recent failures: the growing delay */
	int64_t last_failure;    /* unix seconds: forgotten after the window */
	int64_t last_failure_ms; /* monotonic: the delay runs from here */
	int64_t tat_ms;          /* token bucket of failures (GCRA theoretical arrival time) */
	uint64_t next_ticket, serving;
};

enum pending_kind { PENDING_PASSWORD, PENDING_SCRAM };

struct pending_login {
	struct store_job job;          /* first: the worker job; job.ctx is the session */
	struct login_service *ls;
	struct pending_login *next, *prev; /* ls->pending */
	enum pending_kind kind;
	struct event *timer;
	char *address, *password;      /* password: PENDING_PASSWORD only */
	char *hash;                    /* the account password's Argon2 hash (NULL: none) */
	struct scram_server *scram;    /* PENDING_SCRAM: the session's, borrowed */
	char *scram_final;             /* PENDING_SCRAM: the client-final message */
	char *scram_secret;
	char server_final[200];
	char ip[64];
	char protocol[16];
	bool tls;
	login_done_fn done;
	struct login_outcome out;
	bool found, account_password_on, unknown_user, throttled;
	int64_t account_device_id;
	char keys[2][300];
	size_t nkeys;
	uint64_t ticket[2];
	bool ticketed[2];              /* false: no place in that queue (its table was full) */
	int64_t arrival_ms;
	bool started;                  /* its turn came: a timer or the check is under way */
	bool resolved;                 /* tickets given back */
};

struct watch {
	void *ctx;
	login_end_fn end;
	int64_t account_id, device_id, generation;
	bool app_password, ending;
	unsigned char stamp[16];
};

struct login_service {
	struct event_base *base;
	struct store *store;
	struct committer *worker, *writer;
	long max_delay, per_minute;
	struct throttle_entry *entries;
	size_t nentries;
	struct pending_login *pending;
	char *dummy_hash;              /* Argon2 work for unknown users, so they take as long */
	unsigned char unknown_key[32]; /* SCRAM salts of unknown users */
	struct watch *watches;
	size_t nwatches, watch_cap;
	int64_t generation;
	struct event *tick, *retry, *sweep;
	size_t sweep_pos;
	bool sweeping;
};

struct audit_job {
	struct store_job job;
	struct audit_entry entry;
	char *account, *device, *protocol, *ip, *result;
	int64_t device_id;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The entry of key; NULL when there is none (and create is false) or the table is full of
 * entries still in use. */
static struct throttle_entry *throttle_find(struct login_service *ls, const char *key, bool create)
{
	int64_t now = clock_now();
	for (size_t i = 0; i < ls->nentries; i++) {
		struct throttle_entry *e = &ls->entries[i];
		if (strcmp(e->key, key) == 0)
			return e;
	}
	if (!create)
		return NULL;
	if (!ls->entries)
		ls->entries = xcalloc(THROTTLE_ENTRIES_MAX, sizeof *ls->entries);
	if (ls->nentries == THROTTLE_ENTRIES_MAX) {
		/* Full: forget idle entries, oldest failures first (an attacker controls the keys);
		 * one with attempts queued is never dropped. */
		size_t oldest = SIZE_MAX;
		for (size_t i = 0; i < ls->nentries; i++) {
			struct throttle_entry *e = &ls->entries[i];
			if (e->serving != e->next_ticket)
				continue;
			if (now - e->last_failure > THROTTLE_WINDOW_SECONDS) {
				*e = ls->entries[--ls->nentries];
				i--;
				continue;
			}
			if (oldest == SIZE_MAX || e->last_failure < ls->entries[oldest].last_failure)
				oldest = i;
		}
		if (ls->nentries == THROTTLE_ENTRIES_MAX) {
			if (oldest == SIZE_MAX)
				return NULL;
			ls->entries[oldest] = ls->entries[--ls->nentries];
		}
	}
	struct throttle_entry *e = &ls->entries[ls->nentries++];
	memset(e, 0, sizeof *e);
	snprintf(e->key, sizeof e->key, "%s", key);
	e->last_failure = now;
	return e;
}

/* 250 ms after the first failure, doubling, capped at max_delay. */
static int64_t throttle_grow_ms(struct login_service *ls, unsigned failures)
{
	if (failures == 0)
		return 0;
	unsigned shift = failures - 1 > 16 ? 16 : failures - 1;
	int64_t ms = 250L << shift;
	return ms > ls->max_delay * 1000 ? ls->max_delay * 1000 : ms;
}

static int64_t bucket_interval_ms(struct login_service *ls)
{
	return 60000 / (ls->per_minute > 0 ? ls->per_minute : 1);
}

/* The earliest time an attempt at the head of e's queue may be checked. */
static int64_t throttle_start_ms(struct login_service *ls, struct throttle_entry *e)
{
	if (clock_now() - e->last_failure > THROTTLE_WINDOW_SECONDS) {
		e->failures = 0;
		e->tat_ms = 0;
	}
	int64_t t = 0;
	if (e->failures)
		t = e->last_failure_ms + throttle_grow_ms(ls, e->failures);
	/* Bucket: per_minute failures at once, then one per interval. */
	int64_t bucket = e->tat_ms - (ls->per_minute - 1) * bucket_interval_ms(ls);
	return t > bucket ? t : bucket;
}

static void pending_unlink(struct login_service *ls, struct pending_login *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else if (ls->pending == p)
		ls->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->next = p->prev = NULL;
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
	free(p->hash);
	free(p->scram_final);
	free(p->scram_secret);
	free(p);
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
	if (p->throttled)
		return "throttled";
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
	case LOGIN_UNAVAILABLE:
		return "unavailable";
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

static void pending_try_start(struct pending_login *p);

/* Gives p's places in its queues back (counting its outcome when it was checked) and lets
 * the attempts behind it go on. */
static void throttle_resolve(struct login_service *ls, struct pending_login *p, bool checked)
{
	if (p->resolved)
		return;
	p->resolved = true;
	int64_t now = now_ms();
	for (size_t i = 0; i < p->nkeys; i++) {
		struct throttle_entry *e = throttle_find(ls, p->keys[i], false);
		if (!e || !p->ticketed[i])
			continue;
		if (checked && p->out.result == LOGIN_OK) {
			/* The address has proved itself. The account's count stays: an attacker
			 * elsewhere must not get a fresh start whenever the owner logs in. */
			if (strncmp(e->key, "ip:", 3) == 0) {
				e->failures = 0;
				e->tat_ms = 0;
			}
		} else if (checked) {
			e->failures++;
			e->last_failure = clock_now();
			e->last_failure_ms = now;
			e->tat_ms = (e->tat_ms > now ? e->tat_ms : now) + bucket_interval_ms(ls);
		}
		/* Only the head of a queue resolves (a cancelled attempt waits for its turn). */
		if (e->serving == p->ticket[i])
			e->serving++;
	}
	/* Wake the next in line: attempts sharing a queue with p whose turn may have come. */
	struct pending_login *next;
	for (struct pending_login *q = ls->pending; q; q = next) {
		next = q->next;
		if (q->started || q->resolved)
			continue;
		bool shares = false;
		for (size_t i = 0; i < p->nkeys && !shares; i++)
			for (size_t j = 0; j < q->nkeys && !shares; j++)
				shares = strcmp(p->keys[i], q->keys[j]) == 0;
		if (shares)
			pending_try_start(q);
	}
}

/* Loop thread: the outcome is known (or the attempt was refused). */
static void pending_finish(struct pending_login *p, bool checked)
{
	struct login_service *ls = p->ls;
	pending_unlink(ls, p);
	throttle_resolve(ls, p, checked);
	if (p->out.result == LOGIN_TEMPFAIL)
		p->throttled = true;
	log_info("event=login protocol=%s ip=%s account=%s device=%s tls=%s result=%s", p->protocol,
		 p->ip, log_str(p->address), log_qstr(p->out.device_label), p->tls ? "yes" : "no",
		 result_name(p));
	write_audit(ls, p);
	if (p->job.ctx) {
		if (p->server_final[0] && p->out.result == LOGIN_OK)
			p->out.server_final = p->server_final;
		p->done(p->job.ctx, &p->out);
	}
	pending_free(p);
}

/* Worker thread: the Argon2 check, the same work whether the account exists or not. */
static void login_job_run(struct store *s, struct store_job *job)
{
	(void)s;
	struct pending_login *p = (struct pending_login *)job;
	bool ok = password_verify(p->hash ? p->hash : p->ls->dummy_hash, p->password);
	if (!p->found) {
		p->out.result = LOGIN_BAD_PASSWORD;
		p->unknown_user = true;
	} else if (ok && p->hash) {
		p->out.result = p->account_password_on ? LOGIN_OK : LOGIN_ACCOUNT_PASSWORD_OFF;
		p->out.device_id = p->account_device_id;
		snprintf(p->out.device_label, sizeof p->out.device_label, "account password");
	} else {
		p->out.result = LOGIN_BAD_PASSWORD;
	}
}

static void login_job_done(struct store_job *job)
{
	pending_finish((struct pending_login *)job, true);
}

/* SCRAM: the proof is two HMACs against the stored keys, so it is checked right here. */
static void scram_check(struct pending_login *p)
{
	bool proof_ok = p->scram_final &&
			scram_server_keys(p->scram, p->scram_secret, NULL, NULL) &&
			scram_client_final(p->scram, p->scram_final, strlen(p->scram_final),
					   p->server_final, sizeof p->server_final);
	if (!p->found) {
		p->out.result = LOGIN_BAD_PASSWORD;
		p->unknown_user = true;
	} else if (proof_ok) {
		p->out.result = p->account_password_on ? LOGIN_OK : LOGIN_ACCOUNT_PASSWORD_OFF;
		p->out.device_id = p->account_device_id;
		snprintf(p->out.device_label, sizeof p->out.device_label, "account password");
	} else {
		p->out.result = LOGIN_BAD_PASSWORD;
	}
	pending_finish(p, true);
}

static void on_turn(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pending_login *p = arg;
	if (!p->job.ctx) {
		/* The session left while waiting: nothing was tried. */
		pending_unlink(p->ls, p);
		throttle_resolve(p->ls, p, false);
		pending_free(p);
		return;
	}
	if (p->out.result == LOGIN_OK || p->out.result == LOGIN_TEMPFAIL ||
	    p->out.result == LOGIN_UNAVAILABLE)
		pending_finish(p, false); /* decided without a check (app password, refused) */
	else if (p->kind == PENDING_SCRAM)
		scram_check(p);
	else
		committer_submit_job(p->ls->worker, &p->job);
}

static void pending_at(struct pending_login *p, int64_t when_ms)
{
	p->started = true;
	int64_t wait = when_ms - now_ms();
	if (wait < 0)
		wait = 0;
	p->timer = evtimer_new(p->ls->base, on_turn, p);
	struct timeval tv = { wait / 1000, (wait % 1000) * 1000 };
	evtimer_add(p->timer, &tv);
}

/* Starts p if it is at the head of each of its queues; refuses it when the wait would pass
 * auth-max-delay. */
static void pending_try_start(struct pending_login *p)
{
	struct login_service *ls = p->ls;
	int64_t start = now_ms();
	for (size_t i = 0; i < p->nkeys; i++) {
		struct throttle_entry *e = throttle_find(ls, p->keys[i], false);
		if (!e || !p->ticketed[i])
			continue;
		if (e->serving != p->ticket[i])
			return; /* someone before it is still being checked */
		int64_t t = throttle_start_ms(ls, e);
		if (t > start)
			start = t;
	}
	if (start - p->arrival_ms > ls->max_delay * 1000) {
		p->out.result = LOGIN_TEMPFAIL;
		start = now_ms();
	}
	pending_at(p, start);
}

static struct pending_login *pending_new(struct login_service *ls, enum pending_kind kind,
					 const char *address, const char *ip, const char *protocol,
					 bool tls, login_done_fn done, void *ctx)
{
	struct pending_login *p = xcalloc(1, sizeof *p);
	p->job.run = login_job_run;
	p->job.done = login_job_done;
	p->job.ctx = ctx;
	p->ls = ls;
	p->kind = kind;
	p->address = xstrdup(address);
	snprintf(p->ip, sizeof p->ip, "%s", ip);
	snprintf(p->protocol, sizeof p->protocol, "%s", protocol);
	p->tls = tls;
	p->done = done;
	p->out.result = LOGIN_BAD_PASSWORD;
	p->arrival_ms = now_ms();
	p->next = ls->pending;
	if (ls->pending)
		ls->pending->prev = p;
	ls->pending = p;
	return p;
}

static void stamp_of(const char *hash, unsigned char out[16])
{
	unsigned char d[32];
	unsigned int n = 32;
	EVP_Digest(hash ? hash : "", hash ? strlen(hash) : 0, d, &n, EVP_sha256(), NULL);
	memcpy(out, d, 16);
}

/* An IPv6 client usually has a whole /64 to pick addresses from: it counts as one address. */
static void throttle_ip_key(const char *ip, char *out, size_t len)
{
	struct in6_addr a;
	char text[INET6_ADDRSTRLEN];
	if (strchr(ip, ':') && inet_pton(AF_INET6, ip, &a) == 1 && !IN6_IS_ADDR_V4MAPPED(&a)) {
		memset(a.s6_addr + 8, 0, 8);
		if (inet_ntop(AF_INET6, &a, text, sizeof text)) {
			snprintf(out, len, "ip:%s/64", text);
			return;
		}
	}
	snprintf(out, len, "ip:%s", ip);
}

/* The one way into a check, for every mechanism: look the account up (after reading the
 * credentials generation, so a revocation that lands in between is caught by the watch),
 * then queue the attempt behind the earlier ones from this address and for this account. */
static void pending_begin(struct login_service *ls, struct pending_login *p, const char *secret)
{
	p->out.generation = ls->store->ops->credentials_generation(ls->store);
	struct login_lookup l;
	enum store_rc rc = ls->store->ops->login_lookup(ls->store, p->address, secret ? secret : "",
							p->ip, &l);
	if (rc == STORE_ERROR) {
		/* Not a wrong password and not a failure to count: the store could not say. */
		p->out.result = LOGIN_UNAVAILABLE;
		pending_at(p, now_ms());
		return;
	}
	p->found = rc == STORE_OK;
	bool known_address = false;
	if (p->found) {
		p->out.account_id = l.account_id;
		snprintf(p->out.pop3_delete, sizeof p->out.pop3_delete, "%s",
			 l.pop3_delete ? l.pop3_delete : "");
		p->account_password_on = l.account_password_on;
		p->account_device_id = l.account_device_id;
		p->hash = l.password_hash ? xstrdup(l.password_hash) : NULL;
		p->scram_secret = l.scram ? xstrdup(l.scram) : NULL;
		stamp_of(l.password_hash, p->out.stamp);
		known_address = l.known_address;
		if (p->kind == PENDING_PASSWORD && l.app_device_id) {
			/* An app password is an 80-bit random secret: it cannot be guessed, so the
			 * device it belongs to never waits behind anybody's failures. */
			p->out.result = LOGIN_OK;
			p->out.device_id = l.app_device_id;
			p->out.app_password = true;
			snprintf(p->out.device_label, sizeof p->out.device_label, "%s",
				 l.app_device_label ? l.app_device_label : "");
		}
		login_lookup_free(&l);
	}
	if (p->out.result == LOGIN_OK) {
		pending_at(p, now_ms());
		return;
	}
	throttle_ip_key(p->ip, p->keys[p->nkeys++], sizeof p->keys[0]);
	/* The owner's known addresses do not queue behind the account's failures, which
	 * attackers elsewhere can cause; their own address's queue still applies to them. */
	if (!known_address) {
		snprintf(p->keys[p->nkeys], sizeof p->keys[0], "account:%s", p->address);
		for (char *c = p->keys[p->nkeys]; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		p->nkeys++;
	}
	for (size_t i = 0; i < p->nkeys; i++) {
		struct throttle_entry *e = throttle_find(ls, p->keys[i], true);
		if (!e || e->next_ticket - e->serving >= THROTTLE_QUEUE_MAX) {
			/* Too many waiting already: refused at once, holding no place in line. */
			p->nkeys = 0;
			p->out.result = LOGIN_TEMPFAIL;
			break;
		}
	}
	for (size_t i = 0; i < p->nkeys; i++) {
		struct throttle_entry *e = throttle_find(ls, p->keys[i], true);
		if (e) {
			p->ticket[i] = e->next_ticket++;
			p->ticketed[i] = true;
		}
	}
	if (p->out.result == LOGIN_TEMPFAIL)
		pending_at(p, now_ms());
	else
		pending_try_start(p);
}

void login_start(struct login_service *ls, const char *address, const char *password,
		 const char *ip, const char *protocol, bool tls, login_done_fn done, void *ctx)
{
	struct pending_login *p = pending_new(ls, PENDING_PASSWORD, address, ip, protocol, tls,
					      done, ctx);
	p->password = xstrdup(password);
	char secret[65];
	login_app_secret_hash(password, secret);
	pending_begin(ls, p, secret);
}

const char *login_scram_first(struct login_service *ls, struct scram_server *sc)
{
	struct login_lookup l;
	char *secret = NULL;
	/* Not found or unreadable: the salt of an unknown user (an unreadable store fails the
	 * final step as "try later"). */
	if (ls->store->ops->login_lookup(ls->store, sc->user, "", NULL, &l) == STORE_OK) {
		secret = l.scram ? xstrdup(l.scram) : NULL;
		login_lookup_free(&l);
	}
	const char *first = scram_server_first(sc, secret, ls->unknown_key, sizeof ls->unknown_key);
	free(secret);
	return first;
}

void login_scram_final(struct login_service *ls, struct scram_server *sc, const char *msg,
		       size_t len, const char *ip, const char *protocol, bool tls,
		       login_done_fn done, void *ctx)
{
	struct pending_login *p = pending_new(ls, PENDING_SCRAM, sc->user, ip, protocol, tls, done,
					      ctx);
	p->scram = sc;
	p->scram_final = memchr(msg, 0, len) ? NULL : xstrndup(msg, len);
	pending_begin(ls, p, NULL);
}

void login_cancel(struct login_service *ls, void *ctx)
{
	for (struct pending_login *p = ls->pending; p; p = p->next)
		if (p->job.ctx == ctx) {
			p->job.ctx = NULL;
			p->scram = NULL;
		}
	committer_cancel(ls->worker, ctx);
	for (size_t i = 0; i < ls->nwatches; i++)
		if (ls->watches[i].ctx == ctx) {
			ls->watches[i] = ls->watches[--ls->nwatches];
			i--;
		}
}

/* ---- ending the sessions of passwords that went away ----------------------------------- */

void login_watch(struct login_service *ls, const struct login_outcome *o, login_end_fn end,
		 void *ctx)
{
	if (ls->nwatches == ls->watch_cap) {
		ls->watch_cap = ls->watch_cap ? 2 * ls->watch_cap : 64;
		ls->watches = xrealloc(ls->watches, ls->watch_cap * sizeof *ls->watches);
	}
	struct watch *w = &ls->watches[ls->nwatches++];
	*w = (struct watch){ .ctx = ctx, .end = end, .account_id = o->account_id,
			     .device_id = o->device_id, .generation = o->generation,
			     .app_password = o->app_password };
	memcpy(w->stamp, o->stamp, sizeof w->stamp);
}

static bool watch_still_valid(struct login_service *ls, const struct watch *w)
{
	struct login_lookup l;
	if (!ls->store->ops->device_check(ls->store, w->account_id, w->device_id, &l))
		return false; /* revoked, or the account is gone */
	bool ok = true;
	if (!l.app_device_id) {
		unsigned char stamp[16];
		stamp_of(l.password_hash, stamp);
		ok = l.account_password_on && memcmp(stamp, w->stamp, sizeof stamp) == 0;
	}
	login_lookup_free(&l);
	return ok;
}

static void watch_arm_retry(struct login_service *ls)
{
	struct timeval tv = { 0, WATCH_RETRY_MS * 1000 };
	evtimer_add(ls->retry, &tv);
}

/* Asks the sessions marked for ending to end; end() may free its session, which calls
 * login_cancel and so changes the table: walk a copy of the contexts. */
static void watch_end_marked(struct login_service *ls)
{
	size_t n = 0;
	void **ctxs = xcalloc(ls->nwatches + 1, sizeof *ctxs);
	for (size_t i = 0; i < ls->nwatches; i++)
		if (ls->watches[i].ending)
			ctxs[n++] = ls->watches[i].ctx;
	bool busy = false;
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < ls->nwatches; i++) {
			struct watch *w = &ls->watches[i];
			if (w->ctx != ctxs[k] || !w->ending)
				continue;
			login_end_fn end = w->end;
			void *ctx = w->ctx;
			/* Forget it first: the session may be freed by end(). */
			ls->watches[i] = ls->watches[--ls->nwatches];
			if (!end(ctx)) {
				login_watch(ls, &(struct login_outcome){ 0 }, end, ctx);
				ls->watches[ls->nwatches - 1].ending = true;
				busy = true;
			}
			break;
		}
	free(ctxs);
	if (busy)
		watch_arm_retry(ls);
}

static void on_watch_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	watch_end_marked(arg);
}

/* Checks the sessions not yet checked against generation ls->generation, a slice at a time
 * (one indexed query each): with thousands of sessions one loop turn must stay short. The
 * table may change between slices; a session skipped that way is taken at the next tick. */
static void watch_sweep(struct login_service *ls)
{
	bool any = false;
	size_t checked = 0;
	while (ls->sweep_pos < ls->nwatches && checked < WATCH_SLICE) {
		struct watch *w = &ls->watches[ls->sweep_pos++];
		if (w->ending || w->generation == ls->generation)
			continue;
		checked++;
		if (watch_still_valid(ls, w)) {
			w->generation = ls->generation;
		} else {
			log_info("event=credentials-revoked account_id=%lld device_id=%lld",
				 (long long)w->account_id, (long long)w->device_id);
			w->ending = true;
			any = true;
		}
	}
	ls->sweeping = ls->sweep_pos < ls->nwatches;
	if (ls->sweeping)
		event_active(ls->sweep, EV_TIMEOUT, 0);
	if (any)
		watch_end_marked(ls);
}

static void on_watch_sweep(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	watch_sweep(arg);
}

/* Every second: one indexed read. Only when it moved are the sessions' devices looked at. */
static void on_watch_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct login_service *ls = arg;
	int64_t g = ls->store->ops->credentials_generation(ls->store);
	if (g < 0)
		return;
	ls->generation = g;
	if (ls->sweeping)
		return; /* the sweep under way goes on with the new generation */
	for (size_t i = 0; i < ls->nwatches; i++)
		if (!ls->watches[i].ending && ls->watches[i].generation != g) {
			ls->sweep_pos = 0;
			watch_sweep(ls);
			break;
		}
}

/* ---- the service ----------------------------------------------------------------------- */

struct login_service *login_service_new(struct event_base *base, struct store *store,
					struct committer *worker, struct committer *writer)
{
	struct login_service *ls = xcalloc(1, sizeof *ls);
	ls->base = base;
	ls->store = store;
	ls->worker = worker;
	ls->writer = writer;
	ls->max_delay = 15;
	ls->per_minute = 10;
	/* A hash of a random password with the real parameters: unknown users cost the same. */
	char pw[24];
	password_generate(pw, sizeof pw);
	ls->dummy_hash = password_hash(pw);
	if (!ls->dummy_hash)
		abort();
	/* The key behind unknown users' SCRAM salts: random once, then kept in the store so the
	 * salts stay the same across restarts. */
	unsigned char rnd[32];
	char hex[65];
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		abort();
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	char *kept = store->ops->meta_get_or_add(store, "scram-unknown-key", hex);
	const char *use = kept && strlen(kept) == 64 ? kept : hex;
	for (size_t i = 0; i < sizeof ls->unknown_key; i++) {
		unsigned v = 0;
		sscanf(use + 2 * i, "%2x", &v);
		ls->unknown_key[i] = (unsigned char)v;
	}
	free(kept);
	ls->generation = store->ops->credentials_generation(store);
	ls->tick = event_new(base, -1, EV_PERSIST, on_watch_tick, ls);
	struct timeval tv = { WATCH_TICK_MS / 1000, (WATCH_TICK_MS % 1000) * 1000 };
	event_add(ls->tick, &tv);
	ls->retry = evtimer_new(base, on_watch_retry, ls);
	ls->sweep = event_new(base, -1, 0, on_watch_sweep, ls);
	return ls;
}

void login_set_limits(struct login_service *ls, long max_delay_seconds, long failures_per_minute)
{
	ls->max_delay = max_delay_seconds;
	ls->per_minute = failures_per_minute > 0 ? failures_per_minute : 1;
}

void login_service_free(struct login_service *ls)
{
	while (ls->pending) {
		struct pending_login *p = ls->pending;
		pending_unlink(ls, p);
		pending_free(p);
	}
	event_free(ls->tick);
	event_free(ls->retry);
	event_free(ls->sweep);
	free(ls->watches);
	free(ls->dummy_hash);
	free(ls->entries);
	free(ls);
}
