#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"
#include "tmpdir.h"

/* A new store in a new directory with one account (quota 100 bytes); NULL, with the reason
 * printed and the directory removed, when any step of that fails. */
static struct store *imap_store(char dir[TEST_TMPDIR_SIZE], int64_t *account)
{
	if (!test_tmpdir_make(dir))
		return NULL;
	struct buf err = BUF_INIT;
	struct store *s = store_open_sqlite(dir, true, &err);
	struct account a;
	if (!s || !s->ops->domain_add(s, "example.test", &err) ||
	    !s->ops->account_add(s, "a@example.test", "h", NULL, 100, &err) ||
	    !s->ops->account_get(s, "a@example.test", &a)) {
		printf("  cannot set up a store in %s: %s\n", dir, err.data ? err.data : "");
		if (s)
			s->ops->close(s);
		test_tmpdir_remove(dir);
		buf_free(&err);
		return NULL;
	}
	*account = a.id;
	account_free(&a);
	buf_free(&err);
	return s;
}

static void imap_store_remove(struct store *s, const char *dir)
{
	s->ops->close(s);
	test_tmpdir_remove(dir);
}

struct names {
	char list[1024];
};

static bool collect_name(void *ctx, const struct mailbox_info *m)
{
	struct names *n = ctx;
	strcat(n->list, m->name);
	if (m->special_use[0]) {
		strcat(n->list, "=");
		strcat(n->list, m->special_use);
	}
	strcat(n->list, " ");
	return true;
}

static bool collect_meta(void *ctx, const struct message_meta *m)
{
	char *out = ctx;
	char one[64];
	snprintf(one, sizeof one, "%lld:%u:%s ", (long long)m->uid, m->flags, m->keywords);
	strcat(out, one);
	return true;
}

TEST(store_imap_mailboxes)
{
	char dir[TEST_TMPDIR_SIZE];
	int64_t account;
	struct store *s = imap_store(dir, &account);
	CHECK(s != NULL);
	if (!s)
		return;
	struct buf err = BUF_INIT;
	struct names n = { "" };
	s->ops->mailbox_list(s, account, false, collect_name, &n);
	CHECK_EQ_STR(n.list, "INBOX Archive=\\Archive Drafts=\\Drafts Junk=\\Junk Sent=\\Sent "
			     "Trash=\\Trash ");
	CHECK(s->ops->mailbox_create(s, account, "Work/Clients/ACME", NULL, &err));
	CHECK(!s->ops->mailbox_create(s, account, "Work", NULL, &err));
	CHECK(strstr(err.data, "ALREADYEXISTS") != NULL);
	CHECK(s->ops->mailbox_rename(s, account, "Work", "Jobs", &err));
	memset(&n, 0, sizeof n);
	s->ops->mailbox_list(s, account, false, collect_name, &n);
	CHECK(strstr(n.list, "Jobs/Clients/ACME ") != NULL);
	CHECK(strstr(n.list, "Work") == NULL);
	CHECK(!s->ops->mailbox_delete(s, account, "inbox", &err));
	CHECK(s->ops->mailbox_delete(s, account, "Jobs/Clients/ACME", &err));
	buf_free(&err);
	imap_store_remove(s, dir);
}

TEST(store_imap_flags_expunge_copy_quota)
{
	char dir[TEST_TMPDIR_SIZE];
	int64_t account;
	struct store *s = imap_store(dir, &account);
	CHECK(s != NULL);
	if (!s)
		return;
	struct buf err = BUF_INIT;
	struct mailbox_info inbox, trash;
	CHECK(s->ops->mailbox_get(s, account, "inbox", false, &inbox) == STORE_OK);
	CHECK(s->ops->mailbox_get(s, account, "Trash", false, &trash) == STORE_OK);
	int64_t uid1, uid2;
	CHECK(s->ops->message_append(s, inbox.id, "0123456789", 10, NULL, STORE_FLAG_SEEN, "$Work", 5,
				     &uid1, &err));
	CHECK(s->ops->message_append(s, inbox.id, "abcdefghij", 10, NULL, 0, "", 6, &uid2, &err));
	CHECK(uid1 == 1 && uid2 == 2);
	/* Quota 100 bytes: 90 more do not fit. */
	char big[91];
	memset(big, 'x', 90);
	int64_t uid3;
	CHECK(!s->ops->message_append(s, inbox.id, big, 90, NULL, 0, "", 7, &uid3, &err));
	CHECK(strstr(err.data, "OVERQUOTA") != NULL);
	buf_reset(&err);
	struct mailbox_info before;
	s->ops->mailbox_get(s, account, "INBOX", true, &before);
	CHECK_EQ_INT(before.messages, 2);
	CHECK_EQ_INT(before.unseen, 1);
	int64_t uids[2] = { uid1, uid2 }, *failed;
	size_t nfailed;
	CHECK(s->ops->messages_set_flags(s, inbox.id, uids, 2, STORE_FLAGS_ADD, STORE_FLAG_DELETED,
					 "$Junk", -1, &failed, &nfailed, &err));
	char out[256] = "";
	s->ops->mailbox_scan(s, inbox.id, 1, INT64_MAX, before.highestmodseq, collect_meta, out);
	CHECK_EQ_STR(out, "1:9:$Work $Junk 2:8:$Junk ");
	/* CONDSTORE: UNCHANGEDSINCE below the current MODSEQ fails that message. */
	CHECK(s->ops->messages_set_flags(s, inbox.id, uids, 1, STORE_FLAGS_REMOVE, 0, "$Work",
					 before.highestmodseq, &failed, &nfailed, &err));
	CHECK_EQ_INT(nfailed, 1);
	free(failed);
	int64_t copied[2];
	CHECK(s->ops->messages_copy(s, inbox.id, uids, 2, trash.id, true, copied, &err));
	CHECK(copied[0] == 1 && copied[1] == 2);
	struct mailbox_info after;
	s->ops->mailbox_get(s, account, "INBOX", true, &after);
	CHECK_EQ_INT(after.messages, 0);
	CHECK(after.highestmodseq > before.highestmodseq);
	CHECK(s->ops->messages_expunge(s, trash.id, NULL, 0, &err));
	s->ops->mailbox_get(s, account, "Trash", true, &trash);
	CHECK_EQ_INT(trash.messages, 0);
	struct account a;
	s->ops->account_get(s, "a@example.test", &a);
	CHECK_EQ_INT(a.used, 0);
	account_free(&a);
	struct buf report = BUF_INIT;
	int64_t nm, nb;
	CHECK(s->ops->check(s, &report, &nm, &nb));
	if (report.len)
		printf("%s", report.data);
	buf_free(&report);
	buf_free(&err);
	imap_store_remove(s, dir);
}

static bool stop_at_first(void *ctx, const struct message_meta *m)
{
	(*(int *)ctx)++;
	return false;
}

/* Reads say which of three things happened: a callback that stops is no error, a missing
 * mailbox is STORE_NOT_FOUND, and a failing read (the test hook) is STORE_ERROR. */
TEST(store_reads_tell_not_found_from_error)
{
	char dir[TEST_TMPDIR_SIZE];
	int64_t account;
	struct store *s = imap_store(dir, &account);
	CHECK(s != NULL);
	if (!s)
		return;
	struct buf err = BUF_INIT;
	struct mailbox_info inbox, none;
	CHECK_EQ_INT(s->ops->mailbox_get(s, account, "INBOX", false, &inbox), STORE_OK);
	CHECK_EQ_INT(s->ops->mailbox_get(s, account, "nope", false, &none), STORE_NOT_FOUND);
	int64_t uid;
	CHECK(s->ops->message_append(s, inbox.id, "a\r\n", 3, NULL, 0, "", 1, &uid, &err));
	CHECK(s->ops->message_append(s, inbox.id, "b\r\n", 3, NULL, 0, "", 1, &uid, &err));
	int calls = 0;
	CHECK_EQ_INT(s->ops->mailbox_scan(s, inbox.id, 1, INT64_MAX, 0, stop_at_first, &calls),
		     STORE_OK);
	CHECK_EQ_INT(calls, 1);
	struct buf out = BUF_INIT;
	CHECK_EQ_INT(s->ops->message_read(s, 999999, &out), STORE_NOT_FOUND);
	s->ops->close(s);

	char flag[96];
	snprintf(flag, sizeof flag, "%s/fault", dir);
	setenv("YUBIN_FAULT_FILE", flag, 1);
	s = store_open_sqlite(dir, false, &err);
	unsetenv("YUBIN_FAULT_FILE");
	CHECK(s != NULL);
	if (!s) {
		test_tmpdir_remove(dir);
		buf_free(&out);
		buf_free(&err);
		return;
	}
	CHECK_EQ_INT(s->ops->mailbox_get(s, account, "INBOX", false, &inbox), STORE_OK);
	FILE *f = fopen(flag, "w");
	fputs("mailbox_scan\n", f);
	fclose(f);
	CHECK_EQ_INT(s->ops->mailbox_get(s, account, "INBOX", false, &inbox), STORE_OK);
	calls = 0;
	CHECK_EQ_INT(s->ops->mailbox_scan(s, inbox.id, 1, INT64_MAX, 0, stop_at_first, &calls),
		     STORE_ERROR);
	CHECK_EQ_INT(calls, 0);
	f = fopen(flag, "w"); /* empty: every read fails */
	fclose(f);
	CHECK_EQ_INT(s->ops->mailbox_get(s, account, "INBOX", false, &inbox), STORE_ERROR);
	unlink(flag);
	CHECK_EQ_INT(s->ops->mailbox_scan(s, inbox.id, 1, INT64_MAX, 0, stop_at_first, &calls),
		     STORE_OK);
	buf_free(&out);
	buf_free(&err);
	imap_store_remove(s, dir);
}
