/* The scheduler, Postfix's qmgr in spirit: every second (and soon after new mail or a freed
 * connection) it looks at the domains with due entries, the one waiting longest first, and
 * starts deliveries within the limits: in total, per domain, and the domain's rate
 * (outbound-domain-rate), over which entries are moved to their turn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "outbound/agent_internal.h"
#include "outbound/ratelimit.h"
#include "outbound/schedule.h"

#define MAX_ACTIVE 16      /* deliveries at the same time, all domains together */
#define SCAN_DOMAINS 64    /* domains with due mail looked at per scheduler pass */
#define SCAN_ENTRIES 256   /* due entries of one domain looked at per pass */

/* ---- decisions (pure, schedule.h) ------------------------------------------------------ */

enum schedule_verdict schedule_verdict(const struct schedule_facts *f)
{
	if (f->active >= f->max_active)
		return SCHEDULE_STOP;
	/* Started again while its outcome is being written, it would go twice. */
	if (f->in_flight)
		return SCHEDULE_SKIP;
	if (!f->rate_allows)
		return SCHEDULE_POSTPONE;
	/* Few connections to one domain at a time: a burst of invoices to one customer must not
	 * look like an attack to their server. A kept connection carries the next message. */
	if (!f->idle_link && f->domain_active >= f->per_domain)
		return SCHEDULE_STOP;
	return SCHEDULE_START;
}

int64_t schedule_retry_wait(int64_t retry_min, int64_t retry_max, int64_t attempts)
{
	int64_t wait = retry_min;
	for (int64_t k = 0; k < attempts && wait < retry_max; k++)
		wait *= 2;
	return wait > retry_max ? retry_max : wait;
}

bool schedule_gives_up(int64_t created, int64_t now, int64_t lifetime)
{
	return now - created >= lifetime;
}

bool schedule_warns(int64_t created, int64_t now, int64_t delay_warning, bool warned)
{
	return !warned && delay_warning > 0 && now - created >= delay_warning;
}

int64_t schedule_wait_seconds(double wait)
{
	int64_t whole = (int64_t)wait;
	return (double)whole < wait ? whole + 1 : whole;
}

bool schedule_uses_smarthost(const struct config *c, const char *domain)
{
	if (!c->smarthost[0])
		return false;
	if (!c->smarthost_domains[0])
		return true;
	size_t n = strlen(domain);
	for (const char *p = c->smarthost_domains; *p;) {
		while (*p == ',' || *p == ' ')
			p++;
		size_t len = strcspn(p, ", ");
		if (len == n && strncasecmp(p, domain, n) == 0)
			return true;
		p += len;
	}
	return false;
}

/* ---- the passes, and what they hand to the writer -------------------------------------- */

void schedule_writing_add(struct outbound *ob, int64_t id)
{
	if (ob->nwriting == ob->writing_cap) {
		ob->writing_cap = ob->writing_cap ? 2 * ob->writing_cap : 64;
		ob->writing = xrealloc(ob->writing, ob->writing_cap * sizeof *ob->writing);
	}
	ob->writing[ob->nwriting++] = id;
}

void schedule_writing_remove(struct outbound *ob, int64_t id)
{
	for (size_t i = 0; i < ob->nwriting; i++)
		if (ob->writing[i] == id) {
			ob->writing[i] = ob->writing[--ob->nwriting];
			return;
		}
}

static bool is_writing(const struct outbound *ob, int64_t id)
{
	for (size_t i = 0; i < ob->nwriting; i++)
		if (ob->writing[i] == id)
			return true;
	return false;
}

/* Entries held back in one scheduler pass, written in one transaction: their next attempt
 * moves to their turn, without counting an attempt (they were not tried). */
struct postpone_job {
	struct store_job job;   /* job.ctx: the agent, NULL once it has stopped */
	int64_t *ids, *when;
	char **notes;
	size_t n, cap;
};

static void postpone_run(struct store *s, struct store_job *job)
{
	struct postpone_job *p = (struct postpone_job *)job;
	struct buf err = BUF_INIT;
	if (!s->ops->queue_postpone(s, p->ids, p->when, (const char *const *)p->notes, p->n, &err))
		log_error("event=queue-postpone-failed entries=%zu error=%s", p->n, log_qstr(err.data));
	buf_free(&err);
}

static void postpone_done(struct store_job *job)
{
	struct postpone_job *p = (struct postpone_job *)job;
	for (size_t i = 0; i < p->n; i++) {
		if (job->ctx)
			schedule_writing_remove(job->ctx, p->ids[i]);
		free(p->notes[i]);
	}
	free(p->ids);
	free(p->when);
	free(p->notes);
	free(p);
}

static double monotonic_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The domain has had its outbound-domain-rate for now: the entry waits for its turn. An entry
 * never tried says so in `yubin queue list`; one that failed before keeps its last reply. */
static void postpone(struct outbound *ob, const struct queue_entry *e, double wait)
{
	struct postpone_job *p = ob->postponing;
	if (!p) {
		p = ob->postponing = xcalloc(1, sizeof *p);
		p->job.run = postpone_run;
		p->job.done = postpone_done;
		p->job.ctx = ob;
	}
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 32;
		p->ids = xrealloc(p->ids, p->cap * sizeof *p->ids);
		p->when = xrealloc(p->when, p->cap * sizeof *p->when);
		p->notes = xrealloc(p->notes, p->cap * sizeof *p->notes);
	}
	long rate = cfg(ob)->outbound_domain_rate;
	struct buf note = BUF_INIT;
	if (e->attempts == 0)
		buf_printf(&note, "waiting for its turn (not a failure): the rate limit lets %ld "
			   "message%s a minute go to %s (outbound-domain-rate)", rate,
			   rate == 1 ? "" : "s", e->domain);
	p->ids[p->n] = e->id;
	p->when[p->n] = clock_now() + schedule_wait_seconds(wait);
	p->notes[p->n] = note.len ? buf_steal(&note, NULL) : NULL;
	p->n++;
	buf_free(&note);
	schedule_writing_add(ob, e->id);
	log_info("event=outbound-rate-wait queue=%lld domain=%s wait=%lld", (long long)e->id,
		 log_str(e->domain), (long long)schedule_wait_seconds(wait));
}

static void postpone_flush(struct outbound *ob)
{
	if (ob->postponing)
		committer_submit_job(ob->writer, &ob->postponing->job);
	ob->postponing = NULL;
}

void schedule_drop_postponed(struct outbound *ob)
{
	if (ob->postponing) {
		ob->postponing->job.ctx = NULL;
		postpone_done(&ob->postponing->job);
	}
}

static bool is_active(struct outbound *ob, int64_t id)
{
	for (struct attempt *a = ob->active; a; a = a->next)
		if (a->e.id == id)
			return true;
	return false;
}

static size_t active_for_domain(struct outbound *ob, const char *domain)
{
	size_t n = 0;
	for (struct attempt *a = ob->active; a; a = a->next)
		n += strcasecmp(a->e.domain, domain) == 0;
	return n;
}

/* One due entry of a scan over one domain. False stops the scan: nothing more can start. */
static bool start_entry(void *ctx, const struct queue_entry *e)
{
	struct outbound *ob = ctx;
	struct config *c = cfg(ob);
	double now = monotonic_seconds();
	bool smarthost = schedule_uses_smarthost(c, e->domain);
	struct link *kept = link_idle_for_domain(ob, e->domain, smarthost);
	struct schedule_facts f = {
		.active = ob->nactive,
		.max_active = MAX_ACTIVE,
		.in_flight = is_active(ob, e->id) || is_writing(ob, e->id),
		.rate_allows = rate_allows(ob->rates, e->domain, c->outbound_domain_rate, now),
		.idle_link = kept != NULL,
		.domain_active = active_for_domain(ob, e->domain),
		.per_domain = (size_t)c->outbound_per_domain,
	};
	switch (schedule_verdict(&f)) {
	case SCHEDULE_STOP:
		return false;
	case SCHEDULE_SKIP:
		return true;
	case SCHEDULE_POSTPONE:
		postpone(ob, e, rate_wait(ob->rates, e->domain, c->outbound_domain_rate, now));
		return true;
	case SCHEDULE_START:
		break;
	}
	struct attempt *a = attempt_new(ob, e);
	if (!a)
		return true;
	rate_take(ob->rates, e->domain, c->outbound_domain_rate, now);
	a->smarthost = smarthost;
	a->next = ob->active;
	ob->active = a;
	ob->nactive++;
	log_info("event=outbound-start queue=%lld domain=%s recipients=%zu attempt=%lld",
		 (long long)e->id, log_str(e->domain), e->nrcpts, (long long)e->attempts + 1);
	if (kept)
		attempt_use_link(a, kept);
	else
		attempt_resolve(a);
	return true;
}

struct domain_list {
	char **names;
	size_t n;
};

static bool collect_domain(void *ctx, const char *domain)
{
	struct domain_list *d = ctx;
	d->names = xrealloc(d->names, (d->n + 1) * sizeof *d->names);
	d->names[d->n++] = xstrdup(domain);
	return true;
}

static void serve_domains(struct outbound *ob, struct domain_list *d)
{
	int64_t now = clock_now();
	for (size_t i = 0; i < d->n; i++) {
		if (ob->nactive < MAX_ACTIVE)
			ob->store->ops->queue_due_domain(ob->store, now, d->names[i], SCAN_ENTRIES,
							 start_entry, ob);
		free(d->names[i]);
	}
	free(d->names);
}

/* Hands what this pass decided to the writer thread. */
static void flush_writes(struct outbound *ob)
{
	result_flush(ob);
	postpone_flush(ob);
}

/* Every second: the domains with due mail, the one waiting longest first. One domain's
 * backlog never hides another's. */
void schedule_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct outbound *ob = arg;
	if (ob->nactive < MAX_ACTIVE) {
		struct domain_list d = { 0 };
		ob->store->ops->queue_due_domains(ob->store, clock_now(), SCAN_DOMAINS,
						  collect_domain, &d);
		serve_domains(ob, &d);
	}
	flush_writes(ob);
}

/* A connection has become free: give it the next due message of its domain at once, instead
 * of at the next tick. */
void schedule_on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct outbound *ob = arg;
	struct domain_list d = { 0 };
	for (struct link *l = ob->idle; l; l = l->next) {
		bool seen = false;
		for (size_t i = 0; i < d.n && !seen; i++)
			seen = strcasecmp(d.names[i], l->domain) == 0;
		if (!seen)
			collect_domain(&d, l->domain);
	}
	serve_domains(ob, &d);
	flush_writes(ob);
}

void schedule_soon(struct outbound *ob)
{
	event_active(ob->kick, EV_TIMEOUT, 0);
}

void outbound_kick(struct outbound *ob)
{
	/* A burst of submissions wakes this many times a second; one pass serves them all. */
	struct timeval tv = { 0, 10000 };
	if (ob && !evtimer_pending(ob->soon, NULL))
		evtimer_add(ob->soon, &tv);
}
