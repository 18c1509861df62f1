#include "lib/cidr.h"
#include "test.h"

TEST(cidr_list_matches_networks_and_addresses)
{
	const char *l = "127.0.0.0/8, ::1 192.0.2.7,2001:db8::/32 10.1.0.0/15";
	CHECK(cidr_list_match(l, "127.0.0.1"));
	CHECK(cidr_list_match(l, "127.255.1.2"));
	CHECK(!cidr_list_match(l, "128.0.0.1"));
	CHECK(cidr_list_match(l, "::1"));
	CHECK(!cidr_list_match(l, "::2"));
	CHECK(cidr_list_match(l, "192.0.2.7"));
	CHECK(!cidr_list_match(l, "192.0.2.8"));
	CHECK(cidr_list_match(l, "2001:db8:ffff::1"));
	CHECK(!cidr_list_match(l, "2001:db9::1"));
	CHECK(cidr_list_match(l, "10.0.255.255"));  /* /15 covers 10.0 and 10.1 */
	CHECK(cidr_list_match(l, "10.1.0.1"));
	CHECK(!cidr_list_match(l, "10.2.0.1"));
	/* an IPv4 client seen on an IPv6 socket is its IPv4 address */
	CHECK(cidr_list_match(l, "::ffff:127.0.0.1"));
	CHECK(cidr_list_match("::ffff:192.0.2.0/120", "192.0.2.99"));
	CHECK(!cidr_list_match("", "127.0.0.1"));
	CHECK(!cidr_list_match(l, "not-an-ip"));
	CHECK(cidr_list_match("0.0.0.0/0", "203.0.113.1"));
	CHECK(!cidr_list_match("0.0.0.0/0", "2001:db8::1"));
}

TEST(cidr_list_rejects_bad_entries)
{
	struct buf err = BUF_INIT;
	CHECK(cidr_list_valid("", &err));
	CHECK(cidr_list_valid("127.0.0.0/8, ::1", &err));
	CHECK(!cidr_list_valid("127.0.0.0/33", &err));
	CHECK(err.len > 0);
	buf_free(&err);
	CHECK(!cidr_list_valid("10.0.0.0/", &err));
	buf_free(&err);
	CHECK(!cidr_list_valid("10.0.0.0/-1", &err));
	buf_free(&err);
	CHECK(!cidr_list_valid("example.com", &err));
	buf_free(&err);
	CHECK(!cidr_list_valid("2001:db8::/129", &err));
	buf_free(&err);
	/* a non-matching bad entry never matches anything */
	CHECK(!cidr_list_match("bogus/8", "127.0.0.1"));
}
