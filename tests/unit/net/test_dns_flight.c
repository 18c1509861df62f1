/* Identical rdata queries in flight share one libunbound query (net/dns.c). The names are
 * under invalid. (RFC 6761), which libunbound answers itself with NXDOMAIN, through its
 * thread and pipe like any answer: no DNS server is needed to see who is called back and
 * how often libunbound was asked. */
#include <event2/event.h>
#include <string.h>

#include "net/dns.h"
#include "test.h"

struct seen {
	int calls;
	enum dns_status st;
};

static void on_answer(void *ctx, enum dns_status st, const struct dns_rdata *rr, size_t n,
		      const char *why)
{
	(void)rr;
	(void)n;
	(void)why;
	struct seen *s = ctx;
	s->calls++;
	s->st = st;
}

/* A waiter that cancels another waiter of the same flight from inside its callback. */
struct canceller {
	struct seen seen;
	struct dns_query **victim;
};

static void cancel_other(void *ctx, enum dns_status st, const struct dns_rdata *rr, size_t n,
			 const char *why)
{
	struct canceller *c = ctx;
	on_answer(&c->seen, st, rr, n, why);
	if (*c->victim) {
		dns_query_cancel(*c->victim);
		*c->victim = NULL;
	}
}

static bool all_called(const struct seen *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].calls == 0)
			return false;
	return true;
}

TEST(dns_identical_queries_share_one_flight)
{
	struct event_base *base = event_base_new();
	struct buf err = BUF_INIT;
	struct dns_resolver *r = dns_resolver_new(base, "127.0.0.1@9", &err);
	CHECK(r != NULL);
	if (!r) {
		event_base_free(base);
		buf_free(&err);
		return;
	}
	struct seen s[4] = { { 0 } };
	struct canceller c = { { 0 }, NULL };
	struct dns_query *q[6];
	q[0] = dns_query(r, "_dmarc.flight.invalid", 16, on_answer, &s[0]);
	q[1] = dns_query(r, "_DMARC.Flight.Invalid", 16, on_answer, &s[1]); /* any case */
	q[2] = dns_query(r, "_dmarc.flight.invalid", 16, on_answer, &s[2]);
	q[3] = dns_query(r, "_dmarc.flight.invalid", 1, on_answer, &s[3]); /* another type */
	/* a flight whose only waiter goes: libunbound's query is cancelled too */
	q[4] = dns_query(r, "gone.flight.invalid", 16, on_answer, NULL);
	dns_query_cancel(q[4]);
	/* the canceller is called first (the newest waiter) and cancels q[5] */
	q[5] = dns_query(r, "_dmarc.flight.invalid", 16, on_answer, NULL);
	c.victim = &q[5];
	struct dns_query *qc = dns_query(r, "_dmarc.flight.invalid", 16, cancel_other, &c);
	CHECK(q[0] && q[1] && q[2] && q[3] && qc);
	struct dns_stats st;
	dns_resolver_stats(r, &st);
	CHECK_EQ_INT(st.asked, 3);
	CHECK_EQ_INT(st.joined, 4);

	/* Until everyone has an answer (at most 30 s). */
	struct timeval tick = { 0, 50 * 1000 };
	for (int i = 0; i < 600 && !(all_called(s, 4) && c.seen.calls); i++) {
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	for (size_t i = 0; i < 4; i++) {
		CHECK_EQ_INT(s[i].calls, 1);
		CHECK(s[i].st == DNS_NONE);
	}
	CHECK_EQ_INT(c.seen.calls, 1);
	CHECK(q[5] == NULL); /* cancelled from the callback, never called (on_answer has NULL) */

	/* The answered flight is gone: the same query now asks again. */
	struct seen again = { 0 };
	struct dns_query *qa = dns_query(r, "_dmarc.flight.invalid", 16, on_answer, &again);
	CHECK(qa != NULL);
	dns_resolver_stats(r, &st);
	CHECK_EQ_INT(st.asked, 4);
	/* Freed with it in flight: never called, nothing leaks (the ASan run checks). */
	dns_resolver_free(r);
	CHECK_EQ_INT(again.calls, 0);
	event_base_free(base);
	buf_free(&err);
}
