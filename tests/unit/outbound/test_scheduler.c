#include <stdint.h>
#include <string.h>

#include "lib/config.h"
#include "outbound/schedule.h"
#include "test.h"

/* An entry nothing holds back: 3 of 16 deliveries under way, 1 of 4 to its domain. */
static struct schedule_facts free_to_go(void)
{
	return (struct schedule_facts){ .active = 3, .max_active = 16, .in_flight = false,
					 .rate_allows = true, .idle_link = false,
					 .domain_active = 1, .per_domain = 4 };
}

TEST(schedule_starts_an_entry_nothing_holds_back)
{
	struct schedule_facts f = free_to_go();
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_START);
	f.domain_active = 3; /* the last free slot of its domain */
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_START);
	f.active = 15;       /* the last free slot of all */
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_START);
}

TEST(schedule_stops_the_scan_when_every_delivery_slot_is_taken)
{
	struct schedule_facts f = free_to_go();
	f.active = 16;
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_STOP);
	/* Full is full: neither an entry in flight nor one over its rate changes that (the
	 * latter is not postponed: the next pass looks at it again). */
	f.in_flight = true;
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_STOP);
	f.in_flight = false;
	f.rate_allows = false;
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_STOP);
	f.active = 17; /* more than the most (never expected): still nothing starts */
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_STOP);
}

TEST(schedule_skips_an_entry_in_flight)
{
	/* Being delivered, or its outcome is not yet committed (the store still shows it due):
	 * starting it again would send it twice. The scan goes on with the next entry. */
	struct schedule_facts f = free_to_go();
	f.in_flight = true;
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_SKIP);
	/* Nor is it postponed when its domain is over the rate (its state is being written). */
	f.rate_allows = false;
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_SKIP);
}

TEST(schedule_postpones_an_entry_over_its_domains_rate)
{
	struct schedule_facts f = free_to_go();
	f.rate_allows = false;
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_POSTPONE);
	/* The rate comes before the per-domain slots: an entry over the rate gets its turn
	 * written even when the domain has no free slot, or a connection waits for it. */
	f.domain_active = 4;
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_POSTPONE);
	f.idle_link = true;
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_POSTPONE);
}

TEST(schedule_keeps_to_the_per_domain_limit_unless_a_connection_waits)
{
	struct schedule_facts f = free_to_go();
	f.domain_active = 4;
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_STOP);
	f.domain_active = 9;
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_STOP);
	/* A kept connection carries the next message without opening another. */
	f.idle_link = true;
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_START);
	/* One a time to a domain. */
	f = free_to_go();
	f.per_domain = 1;
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_STOP);
	f.domain_active = 0;
	CHECK_EQ_INT(schedule_verdict(&f), SCHEDULE_START);
}

TEST(schedule_retry_doubles_from_the_minimum_up_to_the_maximum)
{
	/* The defaults: 300 s, doubling, at most 4 h. */
	CHECK_EQ_INT(schedule_retry_wait(300, 14400, 0), 300);
	CHECK_EQ_INT(schedule_retry_wait(300, 14400, 1), 600);
	CHECK_EQ_INT(schedule_retry_wait(300, 14400, 2), 1200);
	CHECK_EQ_INT(schedule_retry_wait(300, 14400, 5), 9600);
	CHECK_EQ_INT(schedule_retry_wait(300, 14400, 6), 14400); /* 19200, cut to the maximum */
	CHECK_EQ_INT(schedule_retry_wait(300, 14400, 7), 14400);
	/* Many attempts never overflow: the doubling stops at the maximum. */
	CHECK_EQ_INT(schedule_retry_wait(300, 14400, INT64_MAX), 14400);
	CHECK_EQ_INT(schedule_retry_wait(1, 604800, 1000000), 604800);
	/* A minimum above the maximum: the maximum. */
	CHECK_EQ_INT(schedule_retry_wait(900, 600, 0), 600);
	CHECK_EQ_INT(schedule_retry_wait(600, 600, 3), 600);
}

TEST(schedule_gives_up_after_the_queue_lifetime)
{
	int64_t created = 1700000000, lifetime = 432000; /* 5 days */
	CHECK(!schedule_gives_up(created, created, lifetime));
	CHECK(!schedule_gives_up(created, created + lifetime - 1, lifetime));
	CHECK(schedule_gives_up(created, created + lifetime, lifetime));
	CHECK(schedule_gives_up(created, created + 10 * lifetime, lifetime));
	/* A clock that went back makes an entry young, not expired. */
	CHECK(!schedule_gives_up(created, created - 100, lifetime));
}

TEST(schedule_warns_of_delay_once_after_delay_warning)
{
	int64_t created = 1700000000;
	CHECK(!schedule_warns(created, created + 14399, 14400, false));
	CHECK(schedule_warns(created, created + 14400, 14400, false));
	CHECK(schedule_warns(created, created + 86400, 14400, false));
	CHECK(!schedule_warns(created, created + 86400, 14400, true)); /* once per entry */
	CHECK(!schedule_warns(created, created + 86400, 0, false));    /* 0: never */
}

TEST(schedule_waits_whole_seconds_rounded_up)
{
	CHECK_EQ_INT(schedule_wait_seconds(0.0), 0);
	CHECK_EQ_INT(schedule_wait_seconds(0.001), 1);
	CHECK_EQ_INT(schedule_wait_seconds(0.5), 1);
	CHECK_EQ_INT(schedule_wait_seconds(1.0), 1);
	CHECK_EQ_INT(schedule_wait_seconds(9.999), 10);
	CHECK_EQ_INT(schedule_wait_seconds(10.0), 10);
	CHECK_EQ_INT(schedule_wait_seconds(10.0001), 11);
	CHECK_EQ_INT(schedule_wait_seconds(86400.5), 86401);
}

TEST(schedule_sends_through_the_smarthost_for_the_domains_it_serves)
{
	char none[] = "", relay[] = "relay.example.test:587", all[] = "";
	char some[] = "Remote.test, other.test  third.test,,";
	struct config c;
	memset(&c, 0, sizeof c);
	c.smarthost = none;
	c.smarthost_domains = some;
	CHECK(!schedule_uses_smarthost(&c, "remote.test")); /* no smarthost, no relaying */
	c.smarthost = relay;
	c.smarthost_domains = all;
	CHECK(schedule_uses_smarthost(&c, "remote.test")); /* no list: every domain */
	CHECK(schedule_uses_smarthost(&c, "anything.example"));
	c.smarthost_domains = some;
	CHECK(schedule_uses_smarthost(&c, "remote.test"));  /* names compare without case */
	CHECK(schedule_uses_smarthost(&c, "OTHER.TEST"));
	CHECK(schedule_uses_smarthost(&c, "third.test"));   /* spaces separate names too */
	CHECK(!schedule_uses_smarthost(&c, "elsewhere.test"));
	/* Whole names only: neither a part of a listed name nor a longer one. */
	CHECK(!schedule_uses_smarthost(&c, "remote"));
	CHECK(!schedule_uses_smarthost(&c, "remote.tes"));
	CHECK(!schedule_uses_smarthost(&c, "sub.remote.test"));
	CHECK(!schedule_uses_smarthost(&c, "remote.test.evil"));
}
