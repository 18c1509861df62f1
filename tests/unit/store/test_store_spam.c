#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "test.h"
#include "tmpdir.h"

static struct store *fresh(char dir[TEST_TMPDIR_SIZE])
{
	if (!test_tmpdir_make(dir))
		return NULL;
	struct buf err = BUF_INIT;
	struct store *s = store_open_sqlite(dir, true, &err);
	if (!s)
		test_tmpdir_remove(dir);
	buf_free(&err);
	return s;
}

static void gone(struct store *s, const char *dir)
{
	s->ops->close(s);
	test_tmpdir_remove(dir);
}

static struct spam_settings settings(struct store *s, int64_t id, const char *env,
				     const char *from)
{
	struct spam_settings out;
	CHECK_EQ_INT(s->ops->spam_settings(s, id, env, from, &out), STORE_OK);
	return out;
}

static void count_row(void *ctx, const char *const *cols, size_t n)
{
	char *out = ctx;
	if (n == 3)
		snprintf(out + strlen(out), 64, "%s=%s/%s;", cols[0], cols[1], cols[2]);
}

TEST(store_spam_settings_precedence)
{
	char dir[TEST_TMPDIR_SIZE];
	struct store *s = fresh(dir);
	CHECK(s != NULL);
	if (!s)
		return;
	struct buf err = BUF_INIT;
	CHECK(s->ops->domain_add(s, "ex.test", &err));
	CHECK(s->ops->account_add(s, "a@ex.test", "x", NULL, 0, &err));
	CHECK(s->ops->account_add(s, "b@ex.test", "x", NULL, 0, &err));
	struct account a, b;
	CHECK(s->ops->account_get(s, "a@ex.test", &a));
	CHECK(s->ops->account_get(s, "b@ex.test", &b));
	CHECK_EQ_INT(a.spam, -1);
	CHECK(a.spam_threshold < 0);

	struct spam_settings st = settings(s, a.id, "x@y.example", "");
	CHECK_EQ_INT(st.scan, -1);
	CHECK(st.threshold < 0);
	CHECK_EQ_INT(st.list, SPAM_LIST_NONE);

	/* the domain's settings, then the account's over them */
	CHECK(s->ops->domain_set(s, "EX.test", "spam", "off", &err));
	CHECK(s->ops->domain_set(s, "ex.test", "spam-threshold", "7.5", &err));
	CHECK(s->ops->account_set(s, "a@ex.test", "spam", "on", &err));
	st = settings(s, a.id, "", "");
	CHECK_EQ_INT(st.scan, 1);
	CHECK(st.threshold == 7.5);
	st = settings(s, b.id, "", "");
	CHECK_EQ_INT(st.scan, 0);
	CHECK(s->ops->account_set(s, "b@ex.test", "spam-threshold", "2", &err));
	st = settings(s, b.id, "", "");
	CHECK(st.threshold == 2);
	CHECK(!s->ops->domain_set(s, "nowhere.test", "spam", "off", &err));

	/* lists: the domain blocks @y.example, the account allows one address of it */
	CHECK(s->ops->spam_list_set(s, "ex.test", "@Y.example", SPAM_LIST_BLOCK, &err));
	CHECK_EQ_INT(settings(s, a.id, "x@y.example", "").list, SPAM_LIST_BLOCK);
	CHECK_EQ_INT(settings(s, a.id, "", "Friend <x@y.example>").list, SPAM_LIST_NONE);
	CHECK_EQ_INT(settings(s, a.id, "", "x@Y.EXAMPLE").list, SPAM_LIST_BLOCK);
	CHECK(s->ops->spam_list_set(s, "a@ex.test", "ok@y.example", SPAM_LIST_ALLOW, &err));
	CHECK_EQ_INT(settings(s, a.id, "ok@y.example", "").list, SPAM_LIST_ALLOW);
	CHECK_EQ_INT(settings(s, b.id, "ok@y.example", "").list, SPAM_LIST_BLOCK);
	/* envelope allowed, From blocked at the same rank: blocked */
	CHECK(s->ops->spam_list_set(s, "a@ex.test", "bad@z.example", SPAM_LIST_BLOCK, &err));
	CHECK_EQ_INT(settings(s, a.id, "ok@y.example", "bad@z.example").list, SPAM_LIST_BLOCK);
	/* moved from one list to the other, then off both */
	CHECK(s->ops->spam_list_set(s, "a@ex.test", "bad@z.example", SPAM_LIST_ALLOW, &err));
	CHECK_EQ_INT(settings(s, a.id, "", "bad@z.example").list, SPAM_LIST_ALLOW);
	CHECK(s->ops->spam_list_set(s, "a@ex.test", "bad@z.example", SPAM_LIST_NONE, &err));
	CHECK(!s->ops->spam_list_set(s, "a@ex.test", "bad@z.example", SPAM_LIST_NONE, &err));
	CHECK_EQ_INT(settings(s, a.id, "", "bad@z.example").list, SPAM_LIST_NONE);

	/* an account's entries go with it, a domain's with the domain */
	CHECK(s->ops->account_del(s, "a@ex.test", &err));
	CHECK(s->ops->account_add(s, "a@ex.test", "x", NULL, 0, &err));
	account_free(&a);
	CHECK(s->ops->account_get(s, "a@ex.test", &a));
	CHECK_EQ_INT(settings(s, a.id, "ok@y.example", "").list, SPAM_LIST_BLOCK);

	/* counts per day */
	CHECK(s->ops->spam_count(s, 100, "junk", &err));
	CHECK(s->ops->spam_count(s, 100, "junk", &err));
	CHECK(s->ops->spam_count(s, 101, "junk", &err));
	CHECK(s->ops->spam_count(s, 90, "junk", &err));
	CHECK(s->ops->spam_count(s, 101, "clean", &err));
	char out[256] = "";
	s->ops->spam_counts(s, 95, 101, count_row, out);
	CHECK_EQ_STR(out, "clean=1/1;junk=3/1;");
	account_free(&a);
	account_free(&b);
	buf_free(&err);
	gone(s, dir);
}
