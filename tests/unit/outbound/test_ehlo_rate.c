#include <limits.h>

#include "outbound/ehlo.h"
#include "outbound/ratelimit.h"
#include "test.h"

TEST(ehlo_keywords_from_lines_not_from_the_greeting)
{
	struct ehlo_ext x;
	ehlo_parse("mx.example PIPELINING SIZE STARTTLS hello\nPIPELINING\nSIZE 10240000\n"
		   "8BITMIME\nsmtputf8\nAUTH=LOGIN\nENHANCEDSTATUSCODES", &x);
	CHECK(x.pipelining);
	CHECK(x.eightbitmime);
	CHECK(x.smtputf8); /* keywords are case-insensitive */
	CHECK(x.auth);     /* the old AUTH= form counts too */
	CHECK(!x.starttls); /* named only in the greeting line */
	CHECK_EQ_INT(x.size, 10240000);

	ehlo_parse("mx.example says hi", &x);
	CHECK(!x.pipelining && !x.starttls && !x.auth && x.size == 0);

	/* A keyword is a whole word: PIPELININGX is another extension. SIZE without a number
	 * means no announced limit. */
	ehlo_parse("mx\nPIPELININGX\nSIZE\nSTARTTLS", &x);
	CHECK(!x.pipelining);
	CHECK(x.starttls);
	CHECK_EQ_INT(x.size, 0);
	/* A number too large for us means "no practical limit": the largest we can hold. */
	ehlo_parse("mx\nSIZE 99999999999999999999999999999", &x);
	CHECK_EQ_INT(x.size, LLONG_MAX);
}

TEST(rate_burst_then_one_every_interval)
{
	struct rate_limits *r = rate_limits_new();
	/* 6 a minute: six at once, then one every 10 s. */
	for (int i = 0; i < 6; i++) {
		CHECK(rate_allows(r, "remote.test", 6, 100.0));
		rate_take(r, "remote.test", 6, 100.0);
	}
	CHECK(!rate_allows(r, "remote.test", 6, 100.0));
	CHECK(!rate_allows(r, "REMOTE.test", 6, 100.0)); /* domains compare without case */
	CHECK(rate_allows(r, "other.test", 6, 100.0));   /* each domain has its own bucket */
	/* Waiting messages get turns 10 s apart, in order. */
	double w1 = rate_wait(r, "remote.test", 6, 100.0);
	double w2 = rate_wait(r, "remote.test", 6, 100.0);
	CHECK(w1 > 9.99 && w1 < 10.01);
	CHECK(w2 > 19.99 && w2 < 20.01);
	CHECK(!rate_allows(r, "remote.test", 6, 109.0));
	CHECK(rate_allows(r, "remote.test", 6, 110.0));
	rate_take(r, "remote.test", 6, 110.0);
	/* A newcomer queues behind the booked turns (20 s), not before them. */
	double w3 = rate_wait(r, "remote.test", 6, 110.0);
	CHECK(w3 > 19.99 && w3 < 20.01);
	/* The bucket never holds more than a minute's worth. */
	CHECK(rate_allows(r, "remote.test", 6, 10000.0));
	for (int i = 0; i < 6; i++)
		rate_take(r, "remote.test", 6, 10000.0);
	CHECK(!rate_allows(r, "remote.test", 6, 10000.0));
	/* 0: no limit, nothing remembered. */
	for (int i = 0; i < 1000; i++)
		CHECK(rate_allows(r, "free.test", 0, 1.0));
	CHECK(rate_wait(r, "free.test", 0, 1.0) == 0);
	rate_limits_free(r);
}

TEST(rate_forgets_idle_domains_when_full)
{
	struct rate_limits *r = rate_limits_new();
	char name[64];
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof name, "d%d.test", i);
		rate_take(r, name, 60, (double)i); /* one token back per second: full again */
	}
	CHECK(rate_limits_count(r) <= 4096);
	rate_limits_free(r);
}
