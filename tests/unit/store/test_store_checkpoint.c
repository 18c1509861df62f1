/* WAL checkpoints leave the committing connections for the checkpoint thread
 * (store/sqlite_checkpoint.c). The WAL file's size shows who checkpointed: commits that
 * checkpoint themselves keep it near SQLite's 1,000 pages; no checkpoint at all lets it
 * grow with every commit; the thread, given a pause, lets it start over once it has copied
 * it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"
#include "tmpdir.h"

#define BIG (256 * 1024)

static struct store *new_store(char dir[TEST_TMPDIR_SIZE], struct account *a)
{
	if (!test_tmpdir_make(dir))
		return NULL;
	struct buf err = BUF_INIT;
	struct store *s = store_open_sqlite(dir, true, &err);
	if (s && (!s->ops->domain_add(s, "example.test", &err) ||
		  !s->ops->account_add(s, "a@example.test", "h", NULL, 0, &err) ||
		  !s->ops->account_get(s, "a@example.test", a))) {
		s->ops->close(s);
		s = NULL;
	}
	if (!s)
		test_tmpdir_remove(dir);
	buf_free(&err);
	return s;
}

static void drop_store(struct store *s, struct account *a, const char *dir)
{
	account_free(a);
	s->ops->close(s);
	test_tmpdir_remove(dir);
}

static bool deliver_big(struct store *s, int64_t account_id, char *data)
{
	struct store_delivery d = { .data = data, .len = BIG, .internaldate = 1,
				    .account_ids = &account_id, .naccounts = 1 };
	bool ok = false;
	struct buf err = BUF_INIT;
	bool committed = s->ops->deliver_batch(s, &d, 1, &ok, &err);
	buf_free(&err);
	return committed && ok;
}

static long long wal_size(const char *dir)
{
	char path[128];
	snprintf(path, sizeof path, "%s/store.db-wal", dir);
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Until the thread has nothing wanted or running (at most 10 s). */
static void wait_idle(void)
{
	for (int i = 0; i < 1000; i++) {
		struct store_checkpoint_stats st;
		store_checkpointer_stats(&st);
		if (!st.pending)
			return;
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
}

TEST(store_checkpoints_leave_the_commits)
{
	char *data = malloc(BIG);
	for (size_t i = 0; i < BIG; i++)
		data[i] = (i % 64 == 63) ? '\n' : (char)('a' + (i * 7 + i / 64) % 26);
	struct buf err = BUF_INIT;

	/* A threshold never reached: commits do not checkpoint, so 40 x 256 KiB (2,560 pages)
	 * stay in the WAL, where SQLite alone would have started over at 1,000 pages. */
	char dir[TEST_TMPDIR_SIZE];
	struct account a;
	struct store *s = new_store(dir, &a);
	CHECK(s != NULL);
	if (!s) {
		free(data);
		return;
	}
	s->ops->close(s);
	CHECK(store_checkpointer_start(dir, 1 << 30, 0, &err));
	s = store_open_sqlite(dir, false, &err);
	CHECK(s != NULL);
	for (int i = 0; i < 40 && s; i++)
		CHECK(deliver_big(s, a.id, data));
	CHECK(wal_size(dir) > 40LL * BIG);
	struct store_checkpoint_stats st;
	store_checkpointer_stats(&st);
	CHECK_EQ_INT(st.runs, 0);
	drop_store(s, &a, dir);
	store_checkpointer_stop();

	/* The thread at 64 pages: every commit (72 pages) wakes it; given the pause a client's
	 * next message would leave, it copies the WAL and the next commit starts it over. */
	s = new_store(dir, &a);
	CHECK(s != NULL);
	if (!s) {
		free(data);
		return;
	}
	s->ops->close(s);
	CHECK(store_checkpointer_start(dir, 64, 0, &err));
	s = store_open_sqlite(dir, false, &err);
	CHECK(s != NULL);
	for (int i = 0; i < 20 && s; i++) {
		CHECK(deliver_big(s, a.id, data));
		CHECK(deliver_big(s, a.id, data));
		wait_idle();
	}
	CHECK(wal_size(dir) < 4LL * BIG);
	store_checkpointer_stats(&st);
	CHECK(st.runs >= 19);
	CHECK_EQ_INT(st.failed, 0);
	CHECK_EQ_INT(st.forced, 0);
	/* Everything is there. */
	int64_t n = 0, boxes = 0;
	struct buf report = BUF_INIT;
	CHECK(s->ops->check(s, &report, &n, &boxes));
	CHECK_EQ_INT(n, 40);
	buf_free(&report);
	store_checkpointer_stop();
	/* Stopped: a second stop is harmless and commits checkpoint by themselves again. */
	store_checkpointer_stop();
	CHECK(deliver_big(s, a.id, data));
	drop_store(s, &a, dir);
	buf_free(&err);
	free(data);
}
