/* SQLite backend, outbound queue: entries (one message to one domain) and their recipients.
 * An entry holds a reference on the message's blob, like a mailbox row does. */
#include <stdio.h>

#include "store/sqlite_internal.h"

static const char entry_columns[] =
	"SELECT id, created, sender, domain, blob_id, next_attempt, attempts, warned, smtputf8,"
	" is_bounce, last_reply FROM queue";

static void entry_from_row(struct sqlite_store *s, sqlite3_stmt *st, struct queue_entry *e)
{
	memset(e, 0, sizeof *e);
	e->id = sqlite3_column_int64(st, 0);
	e->created = sqlite3_column_int64(st, 1);
	e->sender = xstrdup((const char *)sqlite3_column_text(st, 2));
	e->domain = xstrdup((const char *)sqlite3_column_text(st, 3));
	e->blob_id = sqlite3_column_int64(st, 4);
	e->next_attempt = sqlite3_column_int64(st, 5);
	e->attempts = sqlite3_column_int64(st, 6);
	e->warned = sqlite3_column_int(st, 7) != 0;
	e->smtputf8 = sqlite3_column_int(st, 8) != 0;
	e->is_bounce = sqlite3_column_int(st, 9) != 0;
	const char *last = (const char *)sqlite3_column_text(st, 10);
	e->last_reply = last ? xstrdup(last) : NULL;
	sqlite3_stmt *r = prepare(s, "SELECT rcpt FROM queue_rcpt WHERE queue_id = ? ORDER BY rcpt");
	sqlite3_bind_int64(r, 1, e->id);
	while (sqlite3_step(r) == SQLITE_ROW) {
		e->rcpts = xrealloc(e->rcpts, (e->nrcpts + 1) * sizeof *e->rcpts);
		e->rcpts[e->nrcpts++] = xstrdup((const char *)sqlite3_column_text(r, 0));
	}
	finish(s, r);
}

void queue_entry_free(struct queue_entry *e)
{
	free(e->sender);
	free(e->domain);
	free(e->last_reply);
	for (size_t i = 0; i < e->nrcpts; i++)
		free(e->rcpts[i]);
	free(e->rcpts);
	memset(e, 0, sizeof *e);
}

static bool each_entry(struct sqlite_store *s, sqlite3_stmt *st,
		       bool (*fn)(void *ctx, const struct queue_entry *e), void *ctx)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct queue_entry e;
		entry_from_row(s, st, &e);
		bool more = fn(ctx, &e);
		queue_entry_free(&e);
		if (!more)
			break;
	}
	finish(s, st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

bool sqlite_queue_all(struct store *base, bool (*fn)(void *ctx, const struct queue_entry *e),
		      void *ctx)
{
	struct sqlite_store *s = S(base);
	struct buf sql = BUF_INIT;
	buf_printf(&sql, "%s ORDER BY id", entry_columns);
	sqlite3_stmt *st = prepare(s, sql.data);
	buf_free(&sql);
	return each_entry(s, st, fn, ctx);
}

bool sqlite_queue_get(struct store *base, int64_t id, struct queue_entry *out)
{
	struct sqlite_store *s = S(base);
	struct buf sql = BUF_INIT;
	buf_printf(&sql, "%s WHERE id = ?", entry_columns);
	sqlite3_stmt *st = prepare(s, sql.data);
	buf_free(&sql);
	sqlite3_bind_int64(st, 1, id);
	bool found = sqlite3_step(st) == SQLITE_ROW;
	if (found)
		entry_from_row(s, st, out);
	finish(s, st);
	return found;
}

bool sqlite_queue_message(struct store *base, int64_t id, struct buf *out)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "SELECT b.data FROM queue q JOIN blobs b ON q.blob_id = b.id"
				      " WHERE q.id = ?");
	sqlite3_bind_int64(st, 1, id);
	bool found = sqlite3_step(st) == SQLITE_ROW;
	if (found)
		buf_append(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
	finish(s, st);
	return found;
}

/* Removes an entry and its blob reference (inside a transaction). */
static bool entry_remove(struct sqlite_store *s, int64_t id, struct buf *err)
{
	sqlite3_stmt *st = prepare(s, "SELECT blob_id FROM queue WHERE id = ?");
	sqlite3_bind_int64(st, 1, id);
	int64_t blob = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	finish(s, st);
	if (!blob) {
		buf_printf(err, "no queue entry %lld", (long long)id);
		return false;
	}
	st = prepare(s, "DELETE FROM queue_rcpt WHERE queue_id = ?1");
	sqlite3_bind_int64(st, 1, id);
	bool ok = change(s, st, NULL, err);
	st = prepare(s, "DELETE FROM queue WHERE id = ?1");
	sqlite3_bind_int64(st, 1, id);
	ok = ok && change(s, st, NULL, err);
	st = prepare(s, "UPDATE blobs SET refs = refs - 1 WHERE id = ?1");
	sqlite3_bind_int64(st, 1, blob);
	ok = ok && change(s, st, NULL, err);
	st = prepare(s, "DELETE FROM blobs WHERE id = ?1 AND refs <= 0");
	sqlite3_bind_int64(st, 1, blob);
	return ok && change(s, st, NULL, err);
}

/* One entry's outcome, inside the caller's transaction. */
static bool update_entry(struct sqlite_store *s, int64_t id, const char *const *done, size_t ndone,
			 int64_t next_attempt, const char *last_reply, bool warned, struct buf *err)
{
	sqlite3_stmt *st = prepare(s, "DELETE FROM queue_rcpt WHERE queue_id = ? AND rcpt = ?");
	bool ok = true;
	for (size_t i = 0; ok && i < ndone; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		bind_text(st, 2, done[i]);
		ok = sqlite3_step(st) == SQLITE_DONE;
	}
	finish(s, st);
	st = prepare(s, "SELECT count(*) FROM queue_rcpt WHERE queue_id = ?");
	sqlite3_bind_int64(st, 1, id);
	int64_t left = ok && sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	finish(s, st);
	if (ok && left == 0) {
		ok = entry_remove(s, id, err);
	} else if (ok) {
		st = prepare(s, "UPDATE queue SET next_attempt = ?, last_reply = ?, warned = ?,"
				" attempts = attempts + 1 WHERE id = ?");
		sqlite3_bind_int64(st, 1, next_attempt);
		bind_text(st, 2, last_reply);
		sqlite3_bind_int(st, 3, warned);
		sqlite3_bind_int64(st, 4, id);
		ok = change(s, st, NULL, err);
	}
	if (!ok && !err->len)
		buf_printf(err, "database error: %s", sqlite3_errmsg(s->db));
	return ok;
}

bool sqlite_queue_update_many(struct store *base, const struct queue_update *u, size_t n,
			      struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (!tx_begin(s, err))
		return false;
	/* Each entry alone (a savepoint): one that cannot be updated (deleted meanwhile by
	 * `yubin queue delete`) must not undo the others, which would send those again. */
	bool all = true;
	for (size_t i = 0; i < n; i++) {
		struct buf why = BUF_INIT;
		exec(s, "SAVEPOINT entry", NULL);
		if (update_entry(s, u[i].id, u[i].done, u[i].ndone, u[i].next_attempt,
				 u[i].last_reply, u[i].warned, &why)) {
			exec(s, "RELEASE entry", NULL);
		} else {
			exec(s, "ROLLBACK TO entry", NULL);
			exec(s, "RELEASE entry", NULL);
			buf_printf(err, "%sentry %lld: %s", all ? "" : "; ", (long long)u[i].id,
				   why.data ? why.data : "");
			all = false;
		}
		buf_free(&why);
	}
	struct buf cerr = BUF_INIT;
	bool committed = tx_commit(s, &cerr);
	if (!committed) {
		buf_printf(err, "%s%s", err->len ? "; " : "", cerr.data ? cerr.data : "commit failed");
		tx_rollback(s);
	}
	buf_free(&cerr);
	return all && committed;
}

bool sqlite_queue_retry(struct store *base, int64_t id, int64_t now)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "UPDATE queue SET next_attempt = ?1 WHERE ?2 = 0 OR id = ?2");
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, id);
	struct buf err = BUF_INIT;
	bool ok = change(s, st, id ? "no such entry" : NULL, &err);
	buf_free(&err);
	return ok;
}

bool sqlite_queue_delete(struct store *base, int64_t id, struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (!tx_begin(s, err))
		return false;
	if (!entry_remove(s, id, err)) {
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}

bool sqlite_queue_due_domains(struct store *base, int64_t now, size_t max,
			      bool (*fn)(void *ctx, const char *domain), void *ctx)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "SELECT domain, min(next_attempt) AS due FROM queue"
				      " WHERE next_attempt <= ? GROUP BY domain ORDER BY due LIMIT ?");
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (!fn(ctx, (const char *)sqlite3_column_text(st, 0)))
			break;
	finish(s, st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

bool sqlite_queue_due_domain(struct store *base, int64_t now, const char *domain, size_t max,
			     bool (*fn)(void *ctx, const struct queue_entry *e), void *ctx)
{
	struct sqlite_store *s = S(base);
	struct buf sql = BUF_INIT;
	buf_printf(&sql, "%s WHERE domain = ? AND next_attempt <= ? ORDER BY next_attempt, id"
		   " LIMIT ?", entry_columns);
	sqlite3_stmt *st = prepare(s, sql.data);
	buf_free(&sql);
	bind_text(st, 1, domain);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, (int64_t)max);
	return each_entry(s, st, fn, ctx);
}

bool sqlite_queue_postpone(struct store *base, const int64_t *ids, const int64_t *when,
			   const char *const *notes, size_t n, struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (!tx_begin(s, err))
		return false;
	sqlite3_stmt *st = prepare(s, "UPDATE queue SET next_attempt = ?1,"
				      " last_reply = coalesce(?2, last_reply) WHERE id = ?3");
	bool ok = true;
	for (size_t i = 0; ok && i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, when[i]);
		bind_text(st, 2, notes[i]);
		sqlite3_bind_int64(st, 3, ids[i]);
		ok = sqlite3_step(st) == SQLITE_DONE; /* a deleted entry simply matches no row */
	}
	finish(s, st);
	if (!ok) {
		buf_printf(err, "database error: %s", sqlite3_errmsg(s->db));
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}
