/* WAL checkpoints on a thread of their own (store.h: store_checkpointer_start).
 *
 * SQLite's default is to checkpoint inside the COMMIT that takes the WAL past 1,000 pages:
 * that COMMIT then copies the WAL into the database file and fsyncs it, so the committer
 * thread, and every client waiting for its 250, waits for megabytes of writes it does not
 * need. With the messages' bytes in the database that is every ~60 messages of 64 KiB, and
 * it halved inbound throughput for large messages (bench/README.md).
 *
 * Here every connection opened while the checkpointer runs gets a WAL hook that only wakes
 * this thread. Once the WAL has `pages` pages, every commit wakes it and it checkpoints
 * PASSIVE from its own connection: writers go on meanwhile, each pass copies only what the
 * commits since the last one added, and the first commit that finds the WAL all copied starts
 * it over. (Waiting for `pages` more pages between passes saves fsyncs of the database, but
 * then the WAL never started over by itself.) If writers never leave it a moment and the WAL
 * passes `hard_pages`, it checkpoints RESTART once, which makes writers wait until the WAL
 * starts over: 100-350 ms, measured, so only as a bound on the WAL's size. Durability is
 * unchanged: a commit is on disk once its WAL frames are fsync'd, before any checkpoint. */
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "store/sqlite_internal.h"
#include "store/store.h"

/* SQLite's own threshold for checkpoints, in pages of the WAL. */
#define SQLITE_WAL_PAGES 1000

struct checkpointer {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	sqlite3 *db;
	bool running, stopping, wanted, busy;
	int pages, hard_pages;
	struct store_checkpoint_stats stats;
};

/* One per process: the hooks of every connection reach it without a pointer of their own. */
static struct checkpointer ck = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	(void)arg;
	pthread_mutex_lock(&ck.lock);
	bool handed = ck.running;
	if (handed && pages >= ck.pages) {
		ck.wanted = true;
		pthread_cond_signal(&ck.cond);
	}
	pthread_mutex_unlock(&ck.lock);
	/* Stopped: what SQLite does by default. */
	if (!handed && pages >= SQLITE_WAL_PAGES)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

void sqlite_checkpoint_attach(sqlite3 *db)
{
	pthread_mutex_lock(&ck.lock);
	bool running = ck.running;
	pthread_mutex_unlock(&ck.lock);
	if (running)
		sqlite3_wal_hook(db, wal_hook, NULL);
}

static void *checkpointer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ck.lock);
	for (;;) {
		while (!ck.wanted && !ck.stopping)
			pthread_cond_wait(&ck.cond, &ck.lock);
		if (ck.stopping)
			break;
		ck.wanted = false;
		ck.busy = true;
		pthread_mutex_unlock(&ck.lock);

		int log = 0, copied = 0;
		int rc = sqlite3_wal_checkpoint_v2(ck.db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
						   &copied);
		bool forced = false;
		if (rc == SQLITE_OK && log >= ck.hard_pages) {
			/* Writers have not let the WAL start over: make them wait once. */
			rc = sqlite3_wal_checkpoint_v2(ck.db, NULL, SQLITE_CHECKPOINT_RESTART, &log,
						       &copied);
			forced = true;
			log_warn("event=wal-checkpoint-forced pages=%d result=%s", log,
				 rc == SQLITE_OK ? "restarted" : sqlite3_errstr(rc));
		}
		pthread_mutex_lock(&ck.lock);
		ck.busy = false;
		ck.stats.runs++;
		ck.stats.forced += forced;
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			ck.stats.failed++;
	}
	pthread_mutex_unlock(&ck.lock);
	return NULL;
}

bool store_checkpointer_start(const char *data_dir, int pages, int hard_pages, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/store.db", data_dir);
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path.data, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		buf_printf(err, "cannot open the store %s for checkpoints: %s", path.data,
			   sqlite3_errmsg(db));
		sqlite3_close(db);
		buf_free(&path);
		return false;
	}
	buf_free(&path);
	sqlite3_busy_timeout(db, 10000);
	/* Its own commits (none) must not checkpoint either; and a connection only knows the
	 * database is in WAL mode once it has read it. */
	sqlite3_wal_autocheckpoint(db, 0);
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
		buf_printf(err, "cannot read the store for checkpoints: %s", sqlite3_errmsg(db));
		sqlite3_close(db);
		return false;
	}
	pthread_mutex_lock(&ck.lock);
	if (ck.running) {
		pthread_mutex_unlock(&ck.lock);
		sqlite3_close(db);
		buf_printf(err, "a checkpointer is already running");
		return false;
	}
	ck.db = db;
	ck.pages = pages > 0 ? pages : SQLITE_WAL_PAGES;
	ck.hard_pages = hard_pages > ck.pages ? hard_pages
		      : ck.pages > INT_MAX / 16 ? INT_MAX : ck.pages * 16;
	ck.stopping = ck.wanted = false;
	ck.stats = (struct store_checkpoint_stats){ 0 };
	if (pthread_create(&ck.thread, NULL, checkpointer_main, NULL) != 0) {
		pthread_mutex_unlock(&ck.lock);
		sqlite3_close(db);
		buf_printf(err, "cannot start the checkpoint thread");
		return false;
	}
	ck.running = true;
	pthread_mutex_unlock(&ck.lock);
	return true;
}

void store_checkpointer_stats(struct store_checkpoint_stats *out)
{
	pthread_mutex_lock(&ck.lock);
	*out = ck.stats;
	out->pending = ck.wanted || ck.busy;
	pthread_mutex_unlock(&ck.lock);
}

void store_checkpointer_stop(void)
{
	pthread_mutex_lock(&ck.lock);
	if (!ck.running) {
		pthread_mutex_unlock(&ck.lock);
		return;
	}
	ck.stopping = true;
	ck.running = false; /* from now on hooks checkpoint where they are, as SQLite would */
	pthread_cond_signal(&ck.cond);
	pthread_mutex_unlock(&ck.lock);
	pthread_join(ck.thread, NULL);
	sqlite3_close(ck.db);
	ck.db = NULL;
}
