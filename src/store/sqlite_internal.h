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

#endif
