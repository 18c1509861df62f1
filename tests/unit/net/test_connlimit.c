/* Connection counts per address and in total, the slots kept for port 25, and the bytes
 * connections hold before login (net/connlimit.c). */
#include "net/connlimit.h"
#include "test.h"

TEST(connlimit_counts_each_address_and_frees_its_slot)
{
	struct conn_limits l = { 0 };
	CHECK_EQ_INT(conn_limits_add(&l, "192.0.2.1", false), 1);
	CHECK_EQ_INT(conn_limits_add(&l, "192.0.2.1", true), 2);
	CHECK_EQ_INT(conn_limits_add(&l, "192.0.2.2", false), 1);
	CHECK_EQ_INT(l.total, 3);
	CHECK_EQ_INT(l.mx, 1);
	CHECK_EQ_INT(l.nips, 2);
	conn_limits_remove(&l, "192.0.2.1", true);
	CHECK_EQ_INT(l.total, 2);
	CHECK_EQ_INT(l.mx, 0);
	CHECK_EQ_INT(l.nips, 2);
	/* The last connection of an address gives its slot back; the others keep counting. */
	conn_limits_remove(&l, "192.0.2.1", false);
	CHECK_EQ_INT(l.nips, 1);
	CHECK_EQ_INT(conn_limits_add(&l, "192.0.2.2", false), 2);
	CHECK_EQ_INT(conn_limits_add(&l, "192.0.2.1", false), 1);
	CHECK_EQ_INT(l.total, 3);
	conn_limits_free(&l);
	CHECK(l.ips == NULL);
	CHECK_EQ_INT(l.total, 0);
	CHECK_EQ_INT(l.nips, 0);
}

TEST(connlimit_keeps_slots_for_port_25)
{
	/* max 10, 3 kept for port 25: other services get 7, port 25 all 10. */
	struct conn_limits l = { 0 };
	for (int i = 0; i < 7; i++) {
		conn_limits_add(&l, "198.51.100.1", false);
		CHECK(!conn_limits_over(&l, false, 10, 3));
	}
	conn_limits_add(&l, "198.51.100.1", false);
	CHECK(conn_limits_over(&l, false, 10, 3));
	conn_limits_remove(&l, "198.51.100.1", false);
	for (int i = 0; i < 3; i++) {
		conn_limits_add(&l, "203.0.113.5", true);
		CHECK(!conn_limits_over(&l, true, 10, 3));
	}
	/* Port 25 connections do not count against the other services' share... */
	CHECK(!conn_limits_over(&l, false, 10, 3));
	/* ...but nobody passes max. */
	conn_limits_add(&l, "203.0.113.5", true);
	CHECK(conn_limits_over(&l, true, 10, 3));
	CHECK(conn_limits_over(&l, false, 10, 3));
	conn_limits_free(&l);

	/* At most half of max is kept: reserved 8 of 10 still leaves other services 5. */
	for (int i = 0; i < 5; i++) {
		conn_limits_add(&l, "198.51.100.1", false);
		CHECK(!conn_limits_over(&l, false, 10, 8));
	}
	conn_limits_add(&l, "198.51.100.1", false);
	CHECK(conn_limits_over(&l, false, 10, 8));
	conn_limits_free(&l);
}

TEST(connlimit_bytes_held_before_login_add_up_per_address)
{
	struct conn_limits l = { 0 };
	conn_limits_add(&l, "192.0.2.1", false);
	conn_limits_add(&l, "192.0.2.1", false);
	conn_limits_add(&l, "192.0.2.2", false);
	conn_limits_add(&l, "192.0.2.3", false);
	CHECK_EQ_INT(conn_limits_hold(&l, "192.0.2.1", 0, 100), 100);
	CHECK_EQ_INT(conn_limits_hold(&l, "192.0.2.1", 0, 50), 150);
	CHECK_EQ_INT(conn_limits_hold(&l, "192.0.2.1", 100, 20), 70);
	CHECK_EQ_INT(conn_limits_hold(&l, "192.0.2.2", 0, 7), 7);
	CHECK_EQ_INT(conn_limits_hold(&l, "192.0.2.3", 0, 9), 9);
	CHECK_EQ_INT(conn_limits_held(&l, "192.0.2.1"), 70);
	CHECK_EQ_INT(conn_limits_held(&l, "192.0.2.9"), 0);
	CHECK_EQ_INT(conn_limits_hold(&l, "192.0.2.9", 0, 10), 0);
	/* The first address leaves; the last slot moves into its place with what it holds. */
	conn_limits_remove(&l, "192.0.2.1", false);
	conn_limits_remove(&l, "192.0.2.1", false);
	CHECK_EQ_INT(l.nips, 2);
	CHECK_EQ_INT(conn_limits_held(&l, "192.0.2.1"), 0);
	CHECK_EQ_INT(conn_limits_held(&l, "192.0.2.2"), 7);
	CHECK_EQ_INT(conn_limits_held(&l, "192.0.2.3"), 9);
	CHECK_EQ_INT(conn_limits_add(&l, "192.0.2.3", false), 2);
	/* A returning address starts with nothing held. */
	CHECK_EQ_INT(conn_limits_add(&l, "192.0.2.1", false), 1);
	CHECK_EQ_INT(conn_limits_held(&l, "192.0.2.1"), 0);
	conn_limits_free(&l);
}

TEST(connlimit_loopback_addresses)
{
	CHECK(net_ip_is_loopback("127.0.0.1"));
	CHECK(net_ip_is_loopback("127.255.3.4"));
	CHECK(net_ip_is_loopback("::1"));
	CHECK(!net_ip_is_loopback("128.0.0.1"));
	CHECK(!net_ip_is_loopback("10.127.0.1"));
	CHECK(!net_ip_is_loopback("1127.0.0.1"));
	CHECK(!net_ip_is_loopback("::2"));
	CHECK(!net_ip_is_loopback("::10"));
}
