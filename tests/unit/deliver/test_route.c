/* Where a recipient goes (deliver/route.c): plus-addressing, aliases nested and forwarding
 * to other domains, catch-all, quota, and which envelope senders a logged-in account may use.
 * Each test builds its own store in a temporary directory. */
#include <stdlib.h>
#include <strings.h>

#include "deliver/route.h"
#include "store/store.h"
#include "test.h"
#include "tmpdir.h"

static struct store *fresh_store(char dir[TEST_TMPDIR_SIZE])
{
	if (!test_tmpdir_make(dir))
		return NULL;
	struct buf err = BUF_INIT;
	struct store *s = store_open_sqlite(dir, true, &err);
	if (!s) {
		printf("  cannot open a store in %s: %s\n", dir, err.data ? err.data : "");
		test_tmpdir_remove(dir);
	}
	buf_free(&err);
	return s;
}

static void remove_store(struct store *s, const char *dir)
{
	s->ops->close(s);
	test_tmpdir_remove(dir);
}

TEST(route_plus_alias_catchall_quota)
{
	char dir[TEST_TMPDIR_SIZE];
	struct store *s = fresh_store(dir);
	CHECK(s != NULL);
	if (!s)
		return;
	struct buf err = BUF_INIT;
	s->ops->domain_add(s, "example.test", &err);
	s->ops->domain_add(s, "other.test", &err);
	s->ops->account_add(s, "alice@example.test", "h", NULL, 0, &err);
	s->ops->account_add(s, "bob@example.test", "h", NULL, 100, &err);
	s->ops->alias_add(s, "team@example.test", "alice@example.test", &err);
	s->ops->alias_add(s, "team@example.test", "bob@example.test", &err);
	s->ops->alias_add(s, "loop@example.test", "loop@example.test", &err);
	struct route_targets t;
	CHECK_EQ_INT(route_recipient(s, "alice", "example.test", "example.test", 0, &t), ROUTE_LOCAL);
	CHECK_EQ_INT(t.n, 1);
	CHECK_EQ_INT(route_recipient(s, "Alice+shop", "example.test", "example.test", 0, &t),
		     ROUTE_LOCAL);
	CHECK_EQ_INT(route_recipient(s, "team", "example.test", "example.test", 0, &t), ROUTE_LOCAL);
	CHECK_EQ_INT(t.n, 2);
	CHECK_EQ_INT(route_recipient(s, "nobody", "example.test", "example.test", 0, &t),
		     ROUTE_UNKNOWN_USER);
	CHECK_EQ_INT(route_recipient(s, "loop", "example.test", "example.test", 0, &t),
		     ROUTE_UNKNOWN_USER);
	CHECK_EQ_INT(route_recipient(s, "alice", "foreign.test", "example.test", 0, &t),
		     ROUTE_NOT_LOCAL);
	CHECK_EQ_INT(route_recipient(s, "alice", "other.test", "example.test", 0, &t),
		     ROUTE_UNKNOWN_USER);
	CHECK(s->ops->domain_set_catchall(s, "other.test", "alice@example.test", &err));
	CHECK_EQ_INT(route_recipient(s, "anyone", "other.test", "example.test", 0, &t), ROUTE_LOCAL);
	/* bob's quota is 100 bytes: a direct 200-byte message is refused, the list still delivers. */
	CHECK_EQ_INT(route_recipient(s, "bob", "example.test", "example.test", 200, &t),
		     ROUTE_OVER_QUOTA);
	CHECK_EQ_INT(route_recipient(s, "team", "example.test", "example.test", 200, &t),
		     ROUTE_LOCAL);
	CHECK_EQ_INT(t.n, 2);
	buf_free(&err);
	remove_store(s, dir);
}

TEST(route_forwarding_alias_to_other_domains)
{
	char dir[TEST_TMPDIR_SIZE];
	struct store *s = fresh_store(dir);
	CHECK(s != NULL);
	if (!s)
		return;
	struct buf err = BUF_INIT;
	s->ops->domain_add(s, "example.test", &err);
	s->ops->account_add(s, "alice@example.test", "h", NULL, 10, &err);
	s->ops->alias_add(s, "info@example.test", "owner@gmail.example", &err);
	s->ops->alias_add(s, "info@example.test", "alice@example.test", &err);
	s->ops->alias_add(s, "info@example.test", "Owner@Gmail.example", &err);
	s->ops->alias_add(s, "sales@example.test", "info@example.test", &err);
	s->ops->alias_add(s, "sales@example.test", "boss@other.example", &err);
	s->ops->alias_add(s, "away@example.test", "me@other.example", &err);
	struct route_targets t;
	/* Mixed: one account, one forward (case-insensitively the same address twice). */
	CHECK_EQ_INT(route_recipient(s, "info", "example.test", "example.test", 0, &t), ROUTE_LOCAL);
	CHECK_EQ_INT(t.n, 1);
	CHECK_EQ_INT(t.nremote, 1);
	CHECK(t.nremote == 1 && strcasecmp(t.remote[0], "owner@gmail.example") == 0);
	route_targets_free(&t);
	/* Nested, plus-addressed; alice is full, but the forwards still take it. */
	CHECK_EQ_INT(route_recipient(s, "sales+x", "example.test", "example.test", 100, &t),
		     ROUTE_LOCAL);
	CHECK_EQ_INT(t.nremote, 2);
	route_targets_free(&t);
	/* Only forwards. */
	CHECK_EQ_INT(route_recipient(s, "away", "example.test", "example.test", 0, &t), ROUTE_LOCAL);
	CHECK_EQ_INT(t.n, 0);
	CHECK_EQ_INT(t.nremote, 1);
	route_targets_free(&t);
	/* Other domains stay closed: no alias, no relay. */
	CHECK_EQ_INT(route_recipient(s, "owner", "gmail.example", "example.test", 0, &t),
		     ROUTE_NOT_LOCAL);
	route_targets_free(&t);
	/* Queue entries: one per domain, each address once. */
	struct commit_remote *q = NULL;
	size_t nq = 0;
	route_queue_add(&q, &nq, "a@one.example");
	route_queue_add(&q, &nq, "b@two.example");
	route_queue_add(&q, &nq, "c@ONE.example");
	route_queue_add(&q, &nq, "A@one.example");
	CHECK_EQ_INT(nq, 2);
	CHECK_EQ_INT(nq ? q[0].nrcpts : 0, 2);
	for (size_t i = 0; i < nq; i++) {
		for (size_t k = 0; k < q[i].nrcpts; k++)
			free(q[i].rcpts[k]);
		free(q[i].rcpts);
		free(q[i].domain);
	}
	free(q);
	buf_free(&err);
	remove_store(s, dir);
}

/* A store with example.test, accounts alice (no quota) and bob (quota 100 bytes). */
static struct store *two_accounts(char dir[TEST_TMPDIR_SIZE], int64_t *alice, int64_t *bob)
{
	struct store *s = fresh_store(dir);
	if (!s)
		return NULL;
	struct buf err = BUF_INIT;
	struct account a, b;
	if (!s->ops->domain_add(s, "example.test", &err) ||
	    !s->ops->account_add(s, "alice@example.test", "h", NULL, 0, &err) ||
	    !s->ops->account_add(s, "bob@example.test", "h", NULL, 100, &err) ||
	    !s->ops->account_get(s, "alice@example.test", &a)) {
		printf("  cannot set up the store: %s\n", err.data ? err.data : "");
		buf_free(&err);
		remove_store(s, dir);
		return NULL;
	}
	*alice = a.id;
	account_free(&a);
	if (!s->ops->account_get(s, "bob@example.test", &b)) {
		buf_free(&err);
		remove_store(s, dir);
		return NULL;
	}
	*bob = b.id;
	account_free(&b);
	buf_free(&err);
	return s;
}

TEST(route_postmaster_without_domain_goes_to_the_default_domain)
{
	char dir[TEST_TMPDIR_SIZE];
	int64_t alice, bob;
	struct store *s = two_accounts(dir, &alice, &bob);
	CHECK(s != NULL);
	if (!s)
		return;
	struct buf err = BUF_INIT;
	struct route_targets t;
	CHECK_EQ_INT(route_recipient(s, "postmaster", "", "example.test", 0, &t),
		     ROUTE_UNKNOWN_USER);
	CHECK(s->ops->alias_add(s, "postmaster@example.test", "bob@example.test", &err));
	CHECK_EQ_INT(route_recipient(s, "postmaster", "", "example.test", 0, &t), ROUTE_LOCAL);
	CHECK_EQ_INT(t.n, 1);
	CHECK_EQ_INT(t.ids[0], bob);
	/* An unknown default domain routes nowhere. */
	CHECK_EQ_INT(route_recipient(s, "postmaster", "", "nowhere.test", 0, &t), ROUTE_NOT_LOCAL);
	route_targets_free(&t);
	buf_free(&err);
	remove_store(s, dir);
}

TEST(route_quota_counts_the_incoming_size_up_to_the_byte)
{
	char dir[TEST_TMPDIR_SIZE];
	int64_t alice, bob;
	struct store *s = two_accounts(dir, &alice, &bob);
	CHECK(s != NULL);
	if (!s)
		return;
	struct buf err = BUF_INIT;
	struct route_targets t;
	/* bob may hold 100 bytes: exactly 100 fits, 101 does not, also plus-addressed. */
	CHECK_EQ_INT(route_recipient(s, "bob", "example.test", "example.test", 100, &t),
		     ROUTE_LOCAL);
	CHECK_EQ_INT(route_recipient(s, "bob", "example.test", "example.test", 101, &t),
		     ROUTE_OVER_QUOTA);
	CHECK_EQ_INT(route_recipient(s, "bob+news", "example.test", "example.test", 101, &t),
		     ROUTE_OVER_QUOTA);
	/* A list whose every member is full is refused; one member with room takes it. */
	CHECK(s->ops->account_add(s, "carol@example.test", "h", NULL, 50, &err));
	CHECK(s->ops->alias_add(s, "full@example.test", "bob@example.test", &err));
	CHECK(s->ops->alias_add(s, "full@example.test", "carol@example.test", &err));
	CHECK_EQ_INT(route_recipient(s, "full", "example.test", "example.test", 101, &t),
		     ROUTE_OVER_QUOTA);
	CHECK_EQ_INT(route_recipient(s, "full", "example.test", "example.test", 60, &t),
		     ROUTE_LOCAL);
	CHECK_EQ_INT(t.n, 2);
	/* A forward outside takes it even when every local member is full. */
	CHECK(s->ops->alias_add(s, "full@example.test", "archive@other.example", &err));
	CHECK_EQ_INT(route_recipient(s, "full", "example.test", "example.test", 101, &t),
		     ROUTE_LOCAL);
	CHECK_EQ_INT(t.nremote, 1);
	route_targets_free(&t);
	buf_free(&err);
	remove_store(s, dir);
}

TEST(route_alias_chains_end_at_eight_levels)
{
	char dir[TEST_TMPDIR_SIZE];
	int64_t alice, bob;
	struct store *s = two_accounts(dir, &alice, &bob);
	CHECK(s != NULL);
	if (!s)
		return;
	struct buf err = BUF_INIT;
	/* l1 -> l2 -> ... -> l8 -> alice: l2 is seven aliases from alice, l1 eight. */
	char from[64], to[64];
	for (int i = 1; i <= 8; i++) {
		snprintf(from, sizeof from, "l%d@example.test", i);
		if (i < 8)
			snprintf(to, sizeof to, "l%d@example.test", i + 1);
		else
			snprintf(to, sizeof to, "alice@example.test");
		CHECK(s->ops->alias_add(s, from, to, &err));
	}
	struct route_targets t;
	CHECK_EQ_INT(route_recipient(s, "l2", "example.test", "example.test", 0, &t), ROUTE_LOCAL);
	CHECK(t.n == 1 && t.ids[0] == alice);
	CHECK_EQ_INT(route_recipient(s, "l1", "example.test", "example.test", 0, &t),
		     ROUTE_UNKNOWN_USER);
	/* An alias to nobody leads nowhere; beside a real member it is skipped. */
	CHECK(s->ops->alias_add(s, "ghosts@example.test", "ghost@example.test", &err));
	CHECK_EQ_INT(route_recipient(s, "ghosts", "example.test", "example.test", 0, &t),
		     ROUTE_UNKNOWN_USER);
	CHECK(s->ops->alias_add(s, "ghosts@example.test", "bob@example.test", &err));
	CHECK_EQ_INT(route_recipient(s, "ghosts", "example.test", "example.test", 0, &t),
		     ROUTE_LOCAL);
	CHECK(t.n == 1 && t.ids[0] == bob);
	route_targets_free(&t);
	buf_free(&err);
	remove_store(s, dir);
}

TEST(route_wide_lists_are_cut_not_overrun)
{
	char dir[TEST_TMPDIR_SIZE];
	int64_t alice, bob;
	struct store *s = two_accounts(dir, &alice, &bob);
	CHECK(s != NULL);
	if (!s)
		return;
	struct buf err = BUF_INIT;
	struct route_targets t;
	size_t max_ids = sizeof t.ids / sizeof t.ids[0];
	char addr[64];
	/* More members than fit, each once; alice twice through a nested list. One transaction
	 * for the setup, not one fsync per account. */
	CHECK(s->ops->batch_begin(s, &err));
	for (size_t i = 0; i < max_ids + 6; i++) {
		snprintf(addr, sizeof addr, "m%zu@example.test", i);
		CHECK(s->ops->account_add(s, addr, "h", NULL, 0, &err));
		CHECK(s->ops->alias_add(s, "all@example.test", addr, &err));
	}
	for (int i = 0; i < ROUTE_REMOTE_MAX + 4; i++) {
		snprintf(addr, sizeof addr, "f%d@far.example", i);
		CHECK(s->ops->alias_add(s, "out@example.test", addr, &err));
	}
	CHECK(s->ops->batch_end(s, &err));
	CHECK(s->ops->alias_add(s, "pair@example.test", "alice@example.test", &err));
	CHECK(s->ops->alias_add(s, "dup@example.test", "alice@example.test", &err));
	CHECK(s->ops->alias_add(s, "dup@example.test", "pair@example.test", &err));
	CHECK_EQ_INT(route_recipient(s, "dup", "example.test", "example.test", 0, &t), ROUTE_LOCAL);
	CHECK_EQ_INT(t.n, 1);
	CHECK_EQ_INT(route_recipient(s, "all", "example.test", "example.test", 0, &t), ROUTE_LOCAL);
	CHECK_EQ_INT(t.n, max_ids);
	/* The same for forwards to other domains. */
	CHECK_EQ_INT(route_recipient(s, "out", "example.test", "example.test", 0, &t), ROUTE_LOCAL);
	CHECK_EQ_INT(t.nremote, ROUTE_REMOTE_MAX);
	route_targets_free(&t);
	CHECK_EQ_INT(t.nremote, 0);
	buf_free(&err);
	remove_store(s, dir);
}

TEST(route_sender_own_address_plus_and_aliases_not_catchall)
{
	char dir[TEST_TMPDIR_SIZE];
	int64_t alice, bob;
	struct store *s = two_accounts(dir, &alice, &bob);
	CHECK(s != NULL);
	if (!s)
		return;
	struct buf err = BUF_INIT;
	CHECK(s->ops->domain_add(s, "other.test", &err));
	CHECK(s->ops->alias_add(s, "sales@example.test", "alice@example.test", &err));
	CHECK(s->ops->alias_add(s, "team@example.test", "alice@example.test", &err));
	CHECK(s->ops->alias_add(s, "team@example.test", "bob@example.test", &err));
	CHECK(s->ops->alias_add(s, "bobs@example.test", "bob@example.test", &err));
	CHECK(s->ops->domain_set_catchall(s, "other.test", "alice@example.test", &err));
	CHECK(route_sender_allowed(s, "alice", "example.test", alice));
	CHECK(route_sender_allowed(s, "Alice", "EXAMPLE.test", alice));
	CHECK(route_sender_allowed(s, "alice+lists", "example.test", alice));
	CHECK(route_sender_allowed(s, "sales", "example.test", alice));
	CHECK(route_sender_allowed(s, "team", "example.test", alice));
	CHECK(route_sender_allowed(s, "team", "example.test", bob));
	CHECK(!route_sender_allowed(s, "bob", "example.test", alice));
	CHECK(!route_sender_allowed(s, "bobs", "example.test", alice));
	CHECK(!route_sender_allowed(s, "sales", "example.test", bob));
	/* The catch-all delivers every unknown name at other.test to alice, but she may not
	 * send as them. */
	CHECK(!route_sender_allowed(s, "anyone", "other.test", alice));
	CHECK(!route_sender_allowed(s, "alice", "", alice));
	CHECK(!route_sender_allowed(s, "alice", "gmail.example", alice));
	CHECK(!route_sender_allowed(s, "nobody", "example.test", alice));
	buf_free(&err);
	remove_store(s, dir);
}
