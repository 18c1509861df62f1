#include "net/dns.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unbound.h>

#include "lib/alloc.h"
#include "lib/log.h"

#define RR_A 1
#define RR_MX 15
#define RR_AAAA 28
#define CLASS_IN 1

/* Every query in flight is listed, so a resolver freed with answers outstanding (shutdown)
 * frees them too: ub_ctx_delete drops pending callbacks without calling them. */
struct dns_query {
	struct dns_query *prev, *next;
	struct dns_resolver *r;
	void (*release)(struct dns_query *q); /* frees the whole query */
};

struct rdata_flight;
#define FLIGHT_BUCKETS 256

struct dns_resolver {
	struct ub_ctx *ctx;
	struct event *ev;
	struct dns_query *pending;
	struct rdata_flight *flights[FLIGHT_BUCKETS]; /* rdata queries in flight, by name */
	struct dns_stats stats;
};

static void query_track(struct dns_resolver *r, struct dns_query *q)
{
	q->r = r;
	q->prev = NULL;
	q->next = r->pending;
	if (r->pending)
		r->pending->prev = q;
	r->pending = q;
}

static void query_untrack(struct dns_query *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		q->r->pending = q->next;
	if (q->next)
		q->next->prev = q->prev;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;
	ub_process(r->ctx);
}

struct dns_resolver *dns_resolver_new(struct event_base *base, const char *forwarder,
				      struct buf *err)
{
	struct dns_resolver *r = xcalloc(1, sizeof *r);
	r->ctx = ub_ctx_create();
	if (!r->ctx) {
		buf_printf(err, "cannot start the DNS resolver");
		free(r);
		return NULL;
	}
	/* Local resolvers (127.0.0.53, a test server) are normal here, not a mistake. Answers
	 * are read through our event loop (ub_fd); libunbound works in a thread. */
	int rc = ub_ctx_set_option(r->ctx, "do-not-query-localhost:", "no");
	if (rc == 0)
		rc = ub_ctx_async(r->ctx, 1);
	if (rc == 0)
		rc = forwarder && forwarder[0] ? ub_ctx_set_fwd(r->ctx, forwarder)
					       : ub_ctx_resolvconf(r->ctx, NULL);
	/* libunbound answers the RFC 6761 names (test., invalid., ...) itself with NXDOMAIN;
	 * test. is what private test zones use, so let the configured server answer it. This
	 * also finalises the configuration, so it comes last. */
	if (rc == 0)
		ub_ctx_zone_remove(r->ctx, "test.");
	if (rc != 0) {
		buf_printf(err, "DNS resolver setup failed: %s", ub_strerror(rc));
		ub_ctx_delete(r->ctx);
		free(r);
		return NULL;
	}
	r->ev = event_new(base, ub_fd(r->ctx), EV_READ | EV_PERSIST, on_readable, r);
	event_add(r->ev, NULL);
	return r;
}

void dns_resolver_free(struct dns_resolver *r)
{
	if (!r)
		return;
	event_free(r->ev);
	ub_ctx_delete(r->ctx);
	/* Their callers are gone too (the agent frees its attempts first); only memory is left. */
	while (r->pending) {
		struct dns_query *q = r->pending;
		r->pending = q->next;
		q->release(q);
	}
	free(r);
}

/* A domain name in DNS wire format (uncompressed, as libunbound gives rdata) to text. */
static bool wire_name(const unsigned char *p, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;
	while (i < len) {
		size_t l = p[i++];
		if (l == 0) {
			out[o] = '\0';
			return true;
		}
		if (l > 63 || i + l > len || o + l + 2 > outlen)
			return false;
		if (o)
			out[o++] = '.';
		memcpy(out + o, p + i, l);
		o += l;
		i += l;
	}
	return false;
}

struct mx_query {
	struct dns_query link; /* first: the pending list frees queries through it */
	dns_mx_fn fn;
	void *ctx;
};

static void mx_query_release(struct dns_query *q)
{
	free(q);
}

static int compare_mx(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;
	return x->preference - y->preference;
}

static const char why_nxdomain[] = "the domain does not exist";

bool dns_why_nxdomain(const char *why)
{
	return why == why_nxdomain;
}

static enum dns_status status_of(int err, struct ub_result *res, const char **why)
{
	if (err) {
		*why = ub_strerror(err);
		return DNS_TEMPFAIL;
	}
	if (res->havedata)
		return DNS_OK;
	if (res->nxdomain || res->rcode == 0) {
		*why = res->nxdomain ? why_nxdomain : "no such record";
		return DNS_NONE;
	}
	*why = "the DNS server failed to answer (SERVFAIL)";
	return DNS_TEMPFAIL;
}

static void mx_answer(void *arg, int err, struct ub_result *res)
{
	struct mx_query *q = arg;
	const char *why = NULL;
	enum dns_status st = status_of(err, res, &why);
	struct dns_mx *mx = NULL;
	size_t n = 0;
	if (st == DNS_OK) {
		for (int i = 0; res->data[i]; i++) {
			const unsigned char *d = (const unsigned char *)res->data[i];
			if (res->len[i] < 3)
				continue;
			mx = xrealloc(mx, (n + 1) * sizeof *mx);
			mx[n].preference = (d[0] << 8) | d[1];
			if (!wire_name(d + 2, (size_t)res->len[i] - 2, mx[n].host, sizeof mx[n].host))
				continue;
			n++;
		}
		qsort(mx, n, sizeof *mx, compare_mx);
		if (n == 0)
			st = DNS_NONE;
	}
	query_untrack(&q->link);
	q->fn(q->ctx, st, mx, n, why);
	free(mx);
	if (res)
		ub_resolve_free(res);
	free(q);
}

void dns_lookup_mx(struct dns_resolver *r, const char *domain, dns_mx_fn fn, void *ctx)
{
	struct mx_query *q = xcalloc(1, sizeof *q);
	q->fn = fn;
	q->ctx = ctx;
	if (ub_resolve_async(r->ctx, domain, RR_MX, CLASS_IN, q, mx_answer, NULL) != 0) {
		fn(ctx, DNS_TEMPFAIL, NULL, 0, "the DNS resolver refused the query");
		free(q);
		return;
	}
	q->link.release = mx_query_release;
	query_track(r, &q->link);
}

struct addr_query {
	struct dns_query link; /* first: the pending list frees queries through it */
	char host[256];
	dns_addr_fn fn;
	void *ctx;
	char **addrs;
	size_t n;
	int pending;
	enum dns_status best;
	const char *why;
};

static void addr_query_release(struct dns_query *link)
{
	struct addr_query *q = (struct addr_query *)link;
	for (size_t i = 0; i < q->n; i++)
		free(q->addrs[i]);
	free(q->addrs);
	free(q);
}

static void addr_finish(struct addr_query *q)
{
	if (--q->pending > 0)
		return;
	query_untrack(&q->link);
	q->fn(q->ctx, q->n ? DNS_OK : q->best, q->addrs, q->n, q->why);
	addr_query_release(&q->link);
}

static void addr_answer(void *arg, int err, struct ub_result *res)
{
	struct addr_query *q = arg;
	const char *why = NULL;
	enum dns_status st = status_of(err, res, &why);
	if (st == DNS_OK) {
		for (int i = 0; res->data[i]; i++) {
			char text[64];
			int family = res->len[i] == 4 ? AF_INET : res->len[i] == 16 ? AF_INET6 : 0;
			if (!family || !inet_ntop(family, res->data[i], text, sizeof text))
				continue;
			q->addrs = xrealloc(q->addrs, (q->n + 1) * sizeof *q->addrs);
			q->addrs[q->n++] = xstrdup(text);
		}
	} else if (st == DNS_TEMPFAIL || q->best != DNS_TEMPFAIL) {
		q->best = st;
		q->why = why;
	}
	if (res)
		ub_resolve_free(res);
	addr_finish(q);
}

void dns_lookup_addrs(struct dns_resolver *r, const char *host, dns_addr_fn fn, void *ctx)
{
	struct addr_query *q = xcalloc(1, sizeof *q);
	q->link.release = addr_query_release;
	query_track(r, &q->link);
	snprintf(q->host, sizeof q->host, "%s", host);
	q->fn = fn;
	q->ctx = ctx;
	q->best = DNS_NONE;
	q->why = "no address";
	q->pending = 2;
	/* IPv4 first in the list: most small sites have it; IPv6 follows. */
	int types[2] = { RR_A, RR_AAAA };
	for (int i = 0; i < 2; i++)
		if (ub_resolve_async(r->ctx, host, types[i], CLASS_IN, q, addr_answer, NULL) != 0) {
			q->best = DNS_TEMPFAIL;
			q->why = "the DNS resolver refused the query";
			addr_finish(q);
		}
}

bool dns_wire_name(const unsigned char *p, size_t len, char *out, size_t outlen)
{
	return outlen > 0 && wire_name(p, len, out, outlen);
}

/* Identical rdata queries in flight at once (the same sender domain's SPF, DKIM key and
 * DMARC records for many messages arriving together) share one libunbound query: each query
 * costs a round trip through libunbound's thread and pipe, which was most of the resolver's
 * CPU per message in bench/smtp-inbound. A flight is keyed by type and lower-case name; its
 * waiters are the handles dns_query() returns. */
struct rdata_waiter {
	struct dns_query handle; /* what callers hold; not on the pending list */
	struct rdata_flight *flight;
	struct rdata_waiter *next;
	dns_rdata_fn fn;
	void *ctx;
	bool cancelled; /* while its flight answers: skipped, freed by the answer */
};

struct rdata_flight {
	struct dns_query link; /* first: the pending list frees flights through it */
	struct rdata_flight **bucket, *bucket_next;
	struct rdata_waiter *waiters;
	int id; /* libunbound's, for ub_cancel */
	int rrtype;
	bool answering;
	char name[];
};

static uint32_t flight_hash(const char *name, int rrtype)
{
	uint32_t h = 2166136261u ^ (uint32_t)rrtype;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ (uint32_t)(*p | 0x20)) * 16777619u;
	return h;
}

static void flight_unhash(struct rdata_flight *f)
{
	if (!f->bucket)
		return;
	for (struct rdata_flight **pp = f->bucket; *pp; pp = &(*pp)->bucket_next)
		if (*pp == f) {
			*pp = f->bucket_next;
			break;
		}
	f->bucket = NULL;
}

static void flight_release(struct dns_query *q)
{
	struct rdata_flight *f = (struct rdata_flight *)q;
	flight_unhash(f);
	while (f->waiters) {
		struct rdata_waiter *w = f->waiters;
		f->waiters = w->next;
		free(w);
	}
	free(f);
}

static void rdata_answer(void *arg, int err, struct ub_result *res)
{
	struct rdata_flight *f = arg;
	const char *why = NULL;
	enum dns_status st = status_of(err, res, &why);
	struct dns_rdata *rr = NULL;
	size_t n = 0;
	if (st == DNS_OK) {
		while (res->data[n])
			n++;
		rr = xcalloc(n ? n : 1, sizeof *rr);
		for (size_t i = 0; i < n; i++) {
			rr[i].data = (const unsigned char *)res->data[i];
			rr[i].len = res->len[i] > 0 ? (size_t)res->len[i] : 0;
		}
	}
	/* A query made from a callback below starts a flight of its own. */
	flight_unhash(f);
	query_untrack(&f->link);
	f->answering = true;
	for (struct rdata_waiter *w = f->waiters; w; w = w->next)
		if (!w->cancelled)
			w->fn(w->ctx, st, rr, n, why);
	free(rr);
	if (res)
		ub_resolve_free(res);
	flight_release(&f->link);
}

struct dns_query *dns_query(struct dns_resolver *r, const char *name, int rrtype, dns_rdata_fn fn,
			    void *ctx)
{
	uint32_t h = flight_hash(name, rrtype) % FLIGHT_BUCKETS;
	struct rdata_flight *f = r->flights[h];
	while (f && (f->rrtype != rrtype || strcasecmp(f->name, name) != 0))
		f = f->bucket_next;
	if (!f) {
		size_t len = strlen(name);
		f = xcalloc(1, sizeof *f + len + 1);
		memcpy(f->name, name, len + 1);
		f->rrtype = rrtype;
		f->link.release = flight_release;
		if (ub_resolve_async(r->ctx, name, rrtype, CLASS_IN, f, rdata_answer, &f->id) != 0) {
			free(f);
			fn(ctx, DNS_TEMPFAIL, NULL, 0, "the DNS resolver refused the query");
			return NULL;
		}
		query_track(r, &f->link);
		r->stats.asked++;
		f->bucket = &r->flights[h];
		f->bucket_next = r->flights[h];
		r->flights[h] = f;
	} else {
		r->stats.joined++;
	}
	struct rdata_waiter *w = xcalloc(1, sizeof *w);
	w->handle.r = r;
	w->flight = f;
	w->fn = fn;
	w->ctx = ctx;
	w->next = f->waiters;
	f->waiters = w;
	return &w->handle;
}

void dns_resolver_stats(const struct dns_resolver *r, struct dns_stats *out)
{
	*out = r->stats;
}

void dns_query_cancel(struct dns_query *handle)
{
	struct rdata_waiter *w = (struct rdata_waiter *)handle;
	struct rdata_flight *f = w->flight;
	if (f->answering) {
		w->cancelled = true;
		return;
	}
	for (struct rdata_waiter **pp = &f->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	free(w);
	if (f->waiters)
		return;
	/* libunbound drops an answer to a cancelled id, even one already on its pipe */
	ub_cancel(f->link.r->ctx, f->id);
	query_untrack(&f->link);
	flight_release(&f->link);
}

bool dns_txt_join(const struct dns_rdata *rr, struct buf *out)
{
	size_t i = 0;
	while (i < rr->len) {
		size_t l = rr->data[i++];
		if (i + l > rr->len)
			return false;
		buf_append(out, rr->data + i, l);
		i += l;
	}
	return true;
}
