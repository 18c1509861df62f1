/* Shared by the files of the SQLite backend (sqlite.c: accounts, delivery, POP3;
 * sqlite_imap.c: mailboxes and IMAP state). Not for use outside src/store. */
#ifndef YUBIN_SQLITE_INTERNAL_H
#define YUBIN_SQLITE_INTERNAL_H
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "store/store.h"

/* Prepared statements kept for reuse, keyed by their SQL text: preparing costs more CPU than
 * running most of our statements. A statement in use is "busy"; a second user of the same SQL
 * at the same time (a nested call) gets a fresh one that is finalized after use. */
#define STMT_CACHE_SIZE 96

struct stmt_slot {
	char *sql;
	uint32_t hash;
	bool busy;
	sqlite3_stmt *st;
};

struct sqlite_store {
	struct store base;
	sqlite3 *db;
	/* Inside store_batch_begin/end, each operation's transaction is a SAVEPOINT in the
	 * batch's transaction, so one COMMIT (one fsync) makes many operations durable. */
	bool in_batch;
	/* Test hook (docs/architecture.md): from $YUBIN_FAULT_FILE at open, NULL otherwise. */
	char *fault_file;
	struct stmt_slot stmts[STMT_CACHE_SIZE];
};

/* Hands the connection's checkpoints to the checkpoint thread, when it runs. */
void sqlite_checkpoint_attach(sqlite3 *db);

static inline struct sqlite_store *S(struct store *s)
{
	return (struct sqlite_store *)s;
}

static inline bool exec(struct sqlite_store *s, const char *sql, struct buf *err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		if (err)
			buf_printf(err, "database error: %s", msg ? msg : "unknown");
		sqlite3_free(msg);
		return false;
	}
	return true;
}

static inline uint32_t sql_hash(const char *sql)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

static inline sqlite3_stmt *prepare_fresh(struct sqlite_store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_error("event=sql-prepare error=\"%s\"", sqlite3_errmsg(s->db));
		abort(); /* our own SQL is wrong: a bug */
	}
	return st;
}

/* A ready statement for sql; give it back with finish(). */
static inline sqlite3_stmt *prepare(struct sqlite_store *s, const char *sql)
{
	uint32_t h = sql_hash(sql);
	struct stmt_slot *free_slot = NULL;
	for (size_t i = 0; i < STMT_CACHE_SIZE; i++) {
		struct stmt_slot *slot = &s->stmts[i];
		if (!slot->sql) {
			if (!free_slot)
				free_slot = slot;
		} else if (slot->hash == h && strcmp(slot->sql, sql) == 0) {
			if (slot->busy)
				return prepare_fresh(s, sql);
			slot->busy = true;
			return slot->st;
		}
	}
	sqlite3_stmt *st = prepare_fresh(s, sql);
	if (free_slot) {
		free_slot->sql = xstrdup(sql);
		free_slot->hash = h;
		free_slot->st = st;
		free_slot->busy = true;
	}
	return st;
}

/* Ends the use of a statement from prepare(): reset for the next user (which also ends its
 * read of the database) or, when it is not a cached one, finalized. */
static inline void finish(struct sqlite_store *s, sqlite3_stmt *st)
{
	for (size_t i = 0; i < STMT_CACHE_SIZE; i++)
		if (s->stmts[i].st == st && s->stmts[i].busy) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			s->stmts[i].busy = false;
			return;
		}
	sqlite3_finalize(st);
}

static inline void stmt_cache_clear(struct sqlite_store *s)
{
	for (size_t i = 0; i < STMT_CACHE_SIZE; i++) {
		sqlite3_finalize(s->stmts[i].st);
		free(s->stmts[i].sql);
		memset(&s->stmts[i], 0, sizeof s->stmts[i]);
	}
}

/* One operation's transaction: BEGIN IMMEDIATE ... COMMIT on its own, a SAVEPOINT inside a
 * batch (rolled back alone when the operation fails). */
static inline bool tx_begin(struct sqlite_store *s, struct buf *err)
{
	return exec(s, s->in_batch ? "SAVEPOINT op" : "BEGIN IMMEDIATE", err);
}

static inline bool tx_commit(struct sqlite_store *s, struct buf *err)
{
	return exec(s, s->in_batch ? "RELEASE op" : "COMMIT", err);
}

static inline void tx_rollback(struct sqlite_store *s)
{
	if (s->in_batch)
		exec(s, "ROLLBACK TO op; RELEASE op", NULL);
	else
		exec(s, "ROLLBACK", NULL);
}

static inline void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* Runs a one-statement change; false + err when it failed or changed nothing. */
static inline bool change(struct sqlite_store *s, sqlite3_stmt *st, const char *nothing_msg,
		   struct buf *err)
{
	int rc = sqlite3_step(st);
	bool ok = rc == SQLITE_DONE;
	if (!ok) {
		if (rc == SQLITE_CONSTRAINT)
			buf_printf(err, "it already exists");
		else
			buf_printf(err, "database error: %s", sqlite3_errmsg(s->db));
	} else if (nothing_msg && sqlite3_changes(s->db) == 0) {
		buf_printf(err, "%s", nothing_msg);
		ok = false;
	}
	finish(s, st);
	return ok;
}

static inline void rows(struct sqlite_store *s, sqlite3_stmt *st, store_row_fn fn, void *ctx)
{
	int n = sqlite3_column_count(st);
	const char *cols[16];
	if (n > 16)
		n = 16;
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int i = 0; i < n; i++)
			cols[i] = (const char *)sqlite3_column_text(st, i);
		fn(ctx, cols, (size_t)n);
	}
	finish(s, st);
}

/* A read that did not end in SQLITE_ROW/SQLITE_DONE: logged here, once, with SQLite's
 * message, so callers only turn it into a failure reply. */
static inline enum store_rc read_failed(struct sqlite_store *s, const char *what)
{
	char msg[256];
	const char *e = sqlite3_errmsg(s->db);
	log_error("event=store-read-failed what=%s error=%s", what,
		  log_quote(msg, sizeof msg, e, strlen(e)));
	return STORE_ERROR;
}

/* The fault-injection test hook: true (and logged like a real failure) when the read `what`
 * is to fail now. Inert unless YUBIN_FAULT_FILE was set when the store was opened. */
bool sqlite_fault(struct sqlite_store *s, const char *what);

/* Statements come from prepare() and go back with finish(): finalizing a cached one would
 * leave the cache pointing at freed memory. */
#define sqlite3_finalize(st) use_finish_not_sqlite3_finalize(st)

/* temp.doomed holds message ids to remove for everybody (usage, blob references, MODSEQ
 * and the expunged log kept right). Both run inside the caller's transaction. */
bool sqlite_doomed_reset(struct sqlite_store *s, struct buf *err);
bool sqlite_expunge_doomed(struct sqlite_store *s, struct buf *err);

/* sqlite_imap.c */
enum store_rc sqlite_mailbox_list(struct store *s, int64_t account_id, bool with_counts,
				  store_mailbox_fn fn, void *ctx);
enum store_rc sqlite_mailbox_get(struct store *s, int64_t account_id, const char *name, bool with_counts,
			struct mailbox_info *out);
bool sqlite_mailbox_create(struct store *s, int64_t account_id, const char *name,
			   const char *special_use, struct buf *err);
bool sqlite_mailbox_delete(struct store *s, int64_t account_id, const char *name, struct buf *err);
bool sqlite_mailbox_rename(struct store *s, int64_t account_id, const char *from, const char *to,
			   struct buf *err);
bool sqlite_mailbox_subscribe(struct store *s, int64_t account_id, const char *name, bool on,
			      struct buf *err);
enum store_rc sqlite_mailbox_scan(struct store *s, int64_t mailbox_id, int64_t uid_min,
				  int64_t uid_max, int64_t since_modseq, store_meta_fn fn,
				  void *ctx);
enum store_rc sqlite_message_structure(struct store *s, int64_t message_id, struct buf *out);
enum store_rc sqlite_mailbox_vanished(struct store *s, int64_t mailbox_id, int64_t since_modseq,
			     store_uid_fn fn, void *ctx);
bool sqlite_messages_set_flags(struct store *s, int64_t mailbox_id, const int64_t *uids, size_t n,
			       enum store_flag_op op, unsigned flags, const char *keywords,
			       int64_t unchangedsince, int64_t **failed, size_t *nfailed,
			       struct buf *err);
bool sqlite_messages_expunge(struct store *s, int64_t mailbox_id, const int64_t *uids, size_t n,
			     struct buf *err);
bool sqlite_messages_copy(struct store *s, int64_t from_mailbox, const int64_t *uids, size_t n,
			  int64_t to_mailbox, bool move, int64_t *new_uids, struct buf *err);
bool sqlite_message_append(struct store *s, int64_t mailbox_id, const char *data, size_t len,
			   const struct buf *structure, unsigned flags, const char *keywords,
			   int64_t internaldate, int64_t *uid, struct buf *err);

/* sqlite_queue.c */
bool sqlite_queue_all(struct store *s, bool (*fn)(void *ctx, const struct queue_entry *e),
		      void *ctx);
bool sqlite_queue_get(struct store *s, int64_t id, struct queue_entry *out);
bool sqlite_queue_message(struct store *s, int64_t id, struct buf *out);
bool sqlite_queue_retry(struct store *s, int64_t id, int64_t now);
bool sqlite_queue_delete(struct store *s, int64_t id, struct buf *err);
bool sqlite_queue_due_domains(struct store *s, int64_t now, size_t max,
			      bool (*fn)(void *ctx, const char *domain), void *ctx);
bool sqlite_queue_due_domain(struct store *s, int64_t now, const char *domain, size_t max,
			     bool (*fn)(void *ctx, const struct queue_entry *e), void *ctx);
bool sqlite_queue_postpone(struct store *s, const int64_t *ids, const int64_t *when,
			   const char *const *notes, size_t n, struct buf *err);
bool sqlite_queue_update_many(struct store *s, const struct queue_update *u, size_t n,
			      struct buf *err);

/* sqlite_dmarc.c */
bool sqlite_dmarc_report_add(struct store *s, const struct dmarc_report *r, int64_t received,
			     struct buf *err);
void sqlite_dmarc_summary(struct store *s, const char *domain, int64_t since, store_row_fn fn,
			  void *ctx);
bool sqlite_dmarc_observe(struct store *s, const struct dmarc_observation *o, struct buf *err);
/* sqlite_spam.c */
enum store_rc sqlite_spam_settings(struct store *s, int64_t account_id, const char *env_sender,
				   const char *header_from, struct spam_settings *out);
bool sqlite_domain_set(struct store *s, const char *domain, const char *key, const char *value,
		       struct buf *err);
bool sqlite_spam_list_set(struct store *s, const char *scope, const char *sender,
			  enum spam_list list, struct buf *err);
void sqlite_spam_list_rows(struct store *s, const char *scope, store_row_fn fn, void *ctx);
void sqlite_spam_overrides(struct store *s, store_row_fn fn, void *ctx);
bool sqlite_spam_count(struct store *s, int64_t day, const char *outcome, struct buf *err);
void sqlite_spam_counts(struct store *s, int64_t since_day, int64_t today, store_row_fn fn,
			void *ctx);
bool sqlite_dmarc_pending(struct store *s, int64_t cutoff_day, int64_t sent_before,
			  size_t max_domains, size_t max_records,
			  bool (*fn)(void *ctx, struct dmarc_report *r, const char *rua), void *ctx);
bool sqlite_dmarc_reported(struct store *s, const char *domain, int64_t cutoff_day,
			   int64_t now, struct buf *err);

#endif
