/* Shared by the files of the SQLite backend (sqlite.c: accounts, delivery, POP3;
 * sqlite_imap.c: mailboxes and IMAP state). Not for use outside src/store. */
#ifndef YUBIN_SQLITE_INTERNAL_H
#define YUBIN_SQLITE_INTERNAL_H
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "store/store.h"

struct sqlite_store {
	struct store base;
	sqlite3 *db;
};

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

static inline sqlite3_stmt *prepare(struct sqlite_store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_error("event=sql-prepare error=\"%s\"", sqlite3_errmsg(s->db));
		abort(); /* our own SQL is wrong: a bug */
	}
	return st;
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
	sqlite3_finalize(st);
	return ok;
}

static inline void rows(struct sqlite_store *s, sqlite3_stmt *st, store_row_fn fn, void *ctx)
{
	(void)s;
	int n = sqlite3_column_count(st);
	const char *cols[16];
	if (n > 16)
		n = 16;
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int i = 0; i < n; i++)
			cols[i] = (const char *)sqlite3_column_text(st, i);
		fn(ctx, cols, (size_t)n);
	}
	sqlite3_finalize(st);
}

/* temp.doomed holds message ids to remove for everybody (usage, blob references, MODSEQ
 * and the expunged log kept right). Both run inside the caller's transaction. */
bool sqlite_doomed_reset(struct sqlite_store *s, struct buf *err);
bool sqlite_expunge_doomed(struct sqlite_store *s, struct buf *err);

/* sqlite_imap.c */
bool sqlite_mailbox_list(struct store *s, int64_t account_id, bool with_counts,
			 store_mailbox_fn fn, void *ctx);
bool sqlite_mailbox_get(struct store *s, int64_t account_id, const char *name, bool with_counts,
			struct mailbox_info *out);
bool sqlite_mailbox_create(struct store *s, int64_t account_id, const char *name,
			   const char *special_use, struct buf *err);
bool sqlite_mailbox_delete(struct store *s, int64_t account_id, const char *name, struct buf *err);
bool sqlite_mailbox_rename(struct store *s, int64_t account_id, const char *from, const char *to,
			   struct buf *err);
bool sqlite_mailbox_subscribe(struct store *s, int64_t account_id, const char *name, bool on,
			      struct buf *err);
bool sqlite_mailbox_scan(struct store *s, int64_t mailbox_id, int64_t uid_min, int64_t uid_max,
			 int64_t since_modseq, store_meta_fn fn, void *ctx);
bool sqlite_message_structure(struct store *s, int64_t message_id, struct buf *out);
bool sqlite_mailbox_vanished(struct store *s, int64_t mailbox_id, int64_t since_modseq,
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
bool sqlite_queue_due(struct store *s, int64_t now, size_t max,
		      bool (*fn)(void *ctx, const struct queue_entry *e), void *ctx);
bool sqlite_queue_all(struct store *s, bool (*fn)(void *ctx, const struct queue_entry *e),
		      void *ctx);
bool sqlite_queue_get(struct store *s, int64_t id, struct queue_entry *out);
bool sqlite_queue_message(struct store *s, int64_t id, struct buf *out);
bool sqlite_queue_update(struct store *s, int64_t id, const char *const *done, size_t ndone,
			 int64_t next_attempt, const char *last_reply, bool warned, struct buf *err);
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

#endif
