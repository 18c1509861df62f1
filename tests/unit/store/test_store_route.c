#include <stdlib.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"
#include "tmpdir.h"

static struct store *fresh_store(char dir[TEST_TMPDIR_SIZE])
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

static void remove_store(struct store *s, const char *dir)
{
	s->ops->close(s);
	test_tmpdir_remove(dir);
}

struct collected {
	int count;
	char last[256];
	int64_t uids[8];
};

static bool collect(void *ctx, const struct store_message *m)
{
	struct collected *c = ctx;
	if (c->count < 8)
		c->uids[c->count] = m->uid;
	c->count++;
	snprintf(c->last, sizeof c->last, "%.*s", (int)m->len, (const char *)m->data);
	return true;
}

TEST(store_delivers_one_blob_to_many_and_checks)
{
	char dir[TEST_TMPDIR_SIZE];
	struct store *s = fresh_store(dir);
	CHECK(s != NULL);
	if (!s)
		return;
	struct buf err = BUF_INIT;
	CHECK(s->ops->domain_add(s, "example.test", &err));
	CHECK(s->ops->account_add(s, "a@example.test", "h", NULL, 0, &err));
	CHECK(s->ops->account_add(s, "b@example.test", "h", NULL, 0, &err));
	CHECK(!s->ops->account_add(s, "A@example.test", "h", NULL, 0, &err)); /* case-insensitive */
	struct account a, b;
	CHECK(s->ops->account_get(s, "a@example.test", &a));
	CHECK(s->ops->account_get(s, "B@EXAMPLE.TEST", &b));
	int64_t ids[2] = { a.id, b.id };
	struct store_delivery d[2] = {
		{ .data = "one", .len = 3, .internaldate = 1, .account_ids = ids, .naccounts = 2 },
		{ .data = "two!", .len = 4, .internaldate = 2, .account_ids = ids, .naccounts = 1 },
	};
	bool ok[2];
	CHECK(s->ops->deliver_batch(s, d, 2, ok, &err));
	CHECK(ok[0] && ok[1]);
	struct collected c = { 0 };
	CHECK(s->ops->mailbox_messages(s, "a@example.test", "INBOX", collect, &c, &err));
	CHECK_EQ_INT(c.count, 2);
	CHECK_EQ_INT(c.uids[0], 1);
	CHECK_EQ_INT(c.uids[1], 2);
	CHECK_EQ_STR(c.last, "two!");
	struct account a2;
	CHECK(s->ops->account_get(s, "a@example.test", &a2));
	CHECK_EQ_INT(a2.used, 7);
	CHECK_EQ_INT(s->ops->account_messages(s, a2.id), 2);
	struct buf report = BUF_INIT;
	int64_t nm = 0, nb = 0;
	CHECK(s->ops->check(s, &report, &nm, &nb));
	CHECK_EQ_INT(nm, 3);
	CHECK_EQ_INT(nb, 12); /* INBOX + 5 special-use folders per account */
	/* Deleting an account releases its share of the blob; the other copy survives. */
	CHECK(s->ops->account_del(s, "a@example.test", &err));
	CHECK(s->ops->check(s, &report, &nm, &nb));
	CHECK_EQ_INT(nm, 1);
	if (report.len)
		printf("%s", report.data);
	account_free(&a);
	account_free(&b);
	account_free(&a2);
	buf_free(&report);
	buf_free(&err);
	remove_store(s, dir);
}

static int64_t maildrop_count(struct store *s, int64_t account, int64_t device)
{
	struct maildrop_entry *e;
	size_t n = 0;
	if (s->ops->pop3_maildrop(s, account, device, &e, &n) != STORE_OK)
		return -1;
	free(e);
	return (int64_t)n;
}

TEST(store_pop3_per_device_deletion_and_expiry)
{
	char dir[TEST_TMPDIR_SIZE];
	struct store *s = fresh_store(dir);
	CHECK(s != NULL);
	if (!s)
		return;
	struct buf err = BUF_INIT;
	s->ops->domain_add(s, "example.test", &err);
	s->ops->account_add(s, "a@example.test", "h", NULL, 0, &err);
	CHECK(s->ops->device_add(s, "a@example.test", "phone", "secretphone", &err));
	CHECK(!s->ops->device_add(s, "a@example.test", "phone", "othersecret", &err));
	struct login_lookup l;
	CHECK(s->ops->login_lookup(s, "A@example.test", "secretphone", NULL, &l) == STORE_OK);
	int64_t account = l.account_id, pc = l.account_device_id, phone = l.app_device_id;
	CHECK(phone != 0 && pc != 0 && phone != pc);
	CHECK_EQ_STR(l.app_device_label, "phone");
	login_lookup_free(&l);
	int64_t ids[1] = { account };
	struct store_delivery d[3] = {
		{ .data = "m1", .len = 2, .internaldate = 1, .account_ids = ids, .naccounts = 1 },
		{ .data = "m2", .len = 2, .internaldate = 1, .account_ids = ids, .naccounts = 1 },
		{ .data = "m3", .len = 2, .internaldate = 1, .account_ids = ids, .naccounts = 1 },
	};
	bool ok[3];
	CHECK(s->ops->deliver_batch(s, d, 3, ok, &err));
	struct maildrop_entry *e;
	size_t n;
	CHECK(s->ops->pop3_maildrop(s, account, pc, &e, &n) == STORE_OK);
	CHECK_EQ_INT(n, 3);
	int64_t doomed[2] = { e[0].message_id, e[1].message_id };
	int64_t third = e[2].message_id;
	free(e);
	/* The PC deletes two: hidden from the PC only. */
	CHECK(s->ops->pop3_delete(s, account, pc, doomed, 2, false, 1000, &err));
	CHECK_EQ_INT(maildrop_count(s, account, pc), 1);
	CHECK_EQ_INT(maildrop_count(s, account, phone), 3);
	int64_t count, bytes;
	s->ops->deleted_kept(s, account, &count, &bytes);
	CHECK_EQ_INT(count, 2);
	/* The phone deletes one of them: every device has, so it is gone for good. */
	CHECK(s->ops->pop3_delete(s, account, phone, doomed, 1, false, 2000, &err));
	CHECK_EQ_INT(maildrop_count(s, account, phone), 2);
	s->ops->deleted_kept(s, account, &count, &bytes);
	CHECK_EQ_INT(count, 1);
	/* keep-days 30: not yet at day 29, gone after day 31 (counted from the first delete). */
	CHECK_EQ_INT(s->ops->expire(s, 1000 + 29 * 86400, 30), 0);
	CHECK_EQ_INT(s->ops->expire(s, 1000 + 31 * 86400, 30), 1);
	CHECK_EQ_INT(maildrop_count(s, account, phone), 1);
	/* The expunge policy removes for everybody at once; another account cannot be touched. */
	CHECK(s->ops->pop3_delete(s, 999, pc, &third, 1, true, 3000, &err));
	CHECK_EQ_INT(maildrop_count(s, account, phone), 1);
	CHECK(s->ops->pop3_delete(s, account, pc, &third, 1, true, 3000, &err));
	CHECK_EQ_INT(maildrop_count(s, account, phone), 0);
	struct buf report = BUF_INIT;
	int64_t nm, nb;
	CHECK(s->ops->check(s, &report, &nm, &nb));
	if (report.len)
		printf("%s", report.data);
	CHECK_EQ_INT(nm, 0);
	struct account a;
	CHECK(s->ops->account_get(s, "a@example.test", &a));
	CHECK_EQ_INT(a.used, 0);
	account_free(&a);
	buf_free(&report);
	buf_free(&err);
	remove_store(s, dir);
}

/* What ends sessions (issue 9): only changes that take a password away move the counter, and
 * device_check and login_lookup see the result. */
TEST(store_credentials_generation_moves_on_revocation_only)
{
	char dir[TEST_TMPDIR_SIZE];
	struct store *s = fresh_store(dir);
	CHECK(s != NULL);
	if (!s)
		return;
	struct buf err = BUF_INIT;
	s->ops->domain_add(s, "example.test", &err);
	s->ops->account_add(s, "a@example.test", "h1", NULL, 0, &err);
	CHECK(s->ops->device_add(s, "a@example.test", "phone", "secretphone", &err));
	struct login_lookup l;
	CHECK(s->ops->login_lookup(s, "a@example.test", "secretphone", "10.0.0.1", &l) == STORE_OK);
	int64_t account = l.account_id, pc = l.account_device_id, phone = l.app_device_id;
	CHECK(!l.known_address);
	login_lookup_free(&l);
	int64_t g0 = s->ops->credentials_generation(s);
	CHECK(g0 >= 0);
	/* Using a device, adding one, settings other than the password: no change. */
	s->ops->device_touch(s, phone, 5, "imap", "10.0.0.1");
	CHECK(s->ops->device_add(s, "a@example.test", "tablet", "secrettablet", &err));
	CHECK(s->ops->account_set(s, "a@example.test", "keep-days", "3", &err));
	CHECK_EQ_INT(s->ops->credentials_generation(s), g0);
	CHECK(s->ops->login_lookup(s, "a@example.test", "", "10.0.0.1", &l) == STORE_OK);
	CHECK(l.known_address);
	login_lookup_free(&l);
	/* Revoking an app password: the counter moves, the device is gone. */
	CHECK(s->ops->device_revoke(s, "a@example.test", "phone", &err));
	int64_t g1 = s->ops->credentials_generation(s);
	CHECK(g1 > g0);
	CHECK(!s->ops->device_check(s, account, phone, &l));
	CHECK(s->ops->device_check(s, account, pc, &l));
	CHECK_EQ_STR(l.password_hash, "h1");
	CHECK(l.account_password_on && l.account_device_id == pc && !l.app_device_id);
	login_lookup_free(&l);
	/* A new password, the account password turned off, the account deleted. */
	CHECK(s->ops->account_set_password(s, "a@example.test", "h2", NULL, &err));
	int64_t g2 = s->ops->credentials_generation(s);
	CHECK(g2 > g1);
	CHECK(s->ops->account_set(s, "a@example.test", "account-password", "off", &err));
	int64_t g3 = s->ops->credentials_generation(s);
	CHECK(g3 > g2);
	CHECK(s->ops->account_del(s, "a@example.test", &err));
	CHECK(s->ops->credentials_generation(s) > g3);
	CHECK(!s->ops->device_check(s, account, pc, &l));
	/* The meta value is kept once set. */
	char *v = s->ops->meta_get_or_add(s, "k", "first");
	char *w = s->ops->meta_get_or_add(s, "k", "second");
	CHECK_EQ_STR(v, "first");
	CHECK_EQ_STR(w, "first");
	free(v);
	free(w);
	buf_free(&err);
	remove_store(s, dir);
}
