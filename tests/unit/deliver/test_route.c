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
