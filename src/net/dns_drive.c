/* One evaluator's questions on the resolver, within a deadline (dns_drive.h). */
#include "net/dns_drive.h"

#include <stdlib.h>

#include "lib/alloc.h"

struct dns_drive {
	struct dns_resolver *r;
	const struct dns_drive_ops *ops;
	void *ev;
	struct event *deadline;
	struct dns_query *query; /* in flight, or NULL */
	bool expired;
	bool in_flight; /* a dns_query() has not called back yet */
	bool stepping;  /* inside dns_query(): an answer given at once is taken by step() */
	bool starting;  /* inside dns_drive_start() */
	bool finished;
};

static void finish(struct dns_drive *d)
{
	if (d->deadline) {
		event_free(d->deadline);
		d->deadline = NULL;
	}
	d->finished = true;
	d->ops->done(d->ev);
	if (!d->starting)
		free(d);
}

static void step(struct dns_drive *d);

static void on_answer(void *arg, enum dns_status st, const struct dns_rdata *rr, size_t n,
		      const char *why)
{
	struct dns_drive *d = arg;
	d->in_flight = false;
	d->query = NULL;
	d->ops->answer(d->ev, st, rr, n, why);
	if (!d->stepping)
		step(d);
}

/* Asks questions until one is in flight, or finishes. */
static void step(struct dns_drive *d)
{
	const char *name;
	int rrtype;
	while (d->ops->next(d->ev, &name, &rrtype)) {
		if (d->expired) {
			d->ops->answer(d->ev, DNS_TEMPFAIL, NULL, 0, "no time left for DNS");
			continue;
		}
		d->in_flight = true;
		d->stepping = true;
		struct dns_query *q = dns_query(d->r, name, rrtype, on_answer, d);
		d->stepping = false;
		if (d->in_flight) {
			d->query = q;
			return; /* the loop brings the answer */
		}
	}
	finish(d);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct dns_drive *d = arg;
	d->expired = true;
	if (d->query) {
		dns_query_cancel(d->query);
		d->query = NULL;
		d->in_flight = false;
		d->ops->answer(d->ev, DNS_TEMPFAIL, NULL, 0, "no answer in time");
	}
	step(d);
}

struct dns_drive *dns_drive_start(struct event_base *base, struct dns_resolver *r,
				  const struct dns_drive_ops *ops, void *ev, int timeout_ms)
{
	struct dns_drive *d = xcalloc(1, sizeof *d);
	d->r = r;
	d->ops = ops;
	d->ev = ev;
	d->deadline = evtimer_new(base, on_deadline, d);
	if (timeout_ms < 0)
		timeout_ms = 0;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	evtimer_add(d->deadline, &tv);
	d->starting = true;
	step(d);
	d->starting = false;
	if (d->finished) {
		free(d);
		return NULL;
	}
	return d;
}

void dns_drive_cancel(struct dns_drive *d)
{
	if (!d)
		return;
	if (d->deadline)
		event_free(d->deadline);
	if (d->query)
		dns_query_cancel(d->query);
	free(d);
}
