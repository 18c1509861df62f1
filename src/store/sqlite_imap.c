/* SQLite backend, IMAP part: mailboxes (create, rename with children, delete, subscribe),
 * per-message flags and keywords with MODSEQ, expunge with a VANISHED log, copy/move and
 * append. Every change bumps the mailbox's HIGHESTMODSEQ and stamps the messages it touched,
 * which is how every session on every device learns what changed. */
#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#include "lib/clock.h"
#include "store/sqlite_internal.h"

static const char mailbox_columns[] =
	"SELECT b.id, b.name, coalesce(b.special_use, ''), b.subscribed, b.uidvalidity, b.uidnext,"
	" b.highestmodseq,"
	" CASE WHEN ?9 THEN (SELECT count(*) FROM messages m WHERE m.mailbox_id = b.id) ELSE -1 END,"
	" CASE WHEN ?9 THEN (SELECT count(*) FROM messages m WHERE m.mailbox_id = b.id"
	"  AND (m.flags & 1) = 0) ELSE -1 END,"
	" CASE WHEN ?9 THEN (SELECT count(*) FROM messages m WHERE m.mailbox_id = b.id"
	"  AND (m.flags & 8) != 0) ELSE -1 END,"
	" CASE WHEN ?9 THEN (SELECT coalesce(sum(m.size), 0) FROM messages m"
	"  WHERE m.mailbox_id = b.id) ELSE -1 END"
	" FROM mailboxes b WHERE b.account_id = ?1";

static void mailbox_from_row(sqlite3_stmt *st, struct mailbox_info *m)
{
	memset(m, 0, sizeof *m);
	m->id = sqlite3_column_int64(st, 0);
	snprintf(m->name, sizeof m->name, "%s", (const char *)sqlite3_column_text(st, 1));
	snprintf(m->special_use, sizeof m->special_use, "%s",
		 (const char *)sqlite3_column_text(st, 2));
	m->subscribed = sqlite3_column_int(st, 3) != 0;
	m->uidvalidity = sqlite3_column_int64(st, 4);
	m->uidnext = sqlite3_column_int64(st, 5);
	m->highestmodseq = sqlite3_column_int64(st, 6);
	m->messages = sqlite3_column_int64(st, 7);
	m->unseen = sqlite3_column_int64(st, 8);
	m->deleted = sqlite3_column_int64(st, 9);
	m->size = sqlite3_column_int64(st, 10);
}

static sqlite3_stmt *mailbox_query(struct sqlite_store *s, const char *tail, int64_t account_id,
				   bool with_counts)
{
	struct buf sql = BUF_INIT;
	buf_printf(&sql, "%s%s", mailbox_columns, tail);
	sqlite3_stmt *st = prepare(s, sql.data);
	buf_free(&sql);
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int(st, 9, with_counts);
	return st;
}

enum store_rc sqlite_mailbox_list(struct store *base, int64_t account_id, bool with_counts,
				  store_mailbox_fn fn, void *ctx)
{
	struct sqlite_store *s = S(base);
	if (sqlite_fault(s, "mailbox_list"))
		return STORE_ERROR;
	/* INBOX first, then by name: clients show folders in this order. */
	sqlite3_stmt *st = mailbox_query(s, " ORDER BY b.name != 'INBOX', b.name", account_id,
					 with_counts);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct mailbox_info m;
		mailbox_from_row(st, &m);
		if (!fn(ctx, &m))
			break;
	}
	enum store_rc r = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK
								: read_failed(s, "mailbox_list");
	finish(s, st);
	return r;
}

static bool is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

enum store_rc sqlite_mailbox_get(struct store *base, int64_t account_id, const char *name,
				 bool with_counts, struct mailbox_info *out)
{
	struct sqlite_store *s = S(base);
	if (sqlite_fault(s, "mailbox_get"))
		return STORE_ERROR;
	sqlite3_stmt *st = mailbox_query(s, " AND b.name = ?2", account_id, with_counts);
	bind_text(st, 2, is_inbox(name) ? "INBOX" : name);
	int rc = sqlite3_step(st);
	enum store_rc r = STORE_NOT_FOUND;
	if (rc == SQLITE_ROW) {
		mailbox_from_row(st, out);
		r = STORE_OK;
	} else if (rc != SQLITE_DONE) {
		r = read_failed(s, "mailbox_get");
	}
	finish(s, st);
	return r;
}

/* Inserts one mailbox row; false when it exists. */
static bool insert_mailbox(struct sqlite_store *s, int64_t account_id, const char *name,
			   const char *special_use, struct buf *err)
{
	sqlite3_stmt *st = prepare(s, "INSERT INTO mailboxes(account_id, name, uidvalidity, uidnext,"
				      " highestmodseq, special_use) VALUES(?, ?, ?, 1, 1, ?)");
	sqlite3_bind_int64(st, 1, account_id);
	bind_text(st, 2, name);
	/* A new mailbox with a name used before must not reuse old UIDs: take the clock,
	 * bumped past any UIDVALIDITY this account ever had. */
	sqlite3_bind_int64(st, 3, clock_now());
	bind_text(st, 4, special_use && special_use[0] ? special_use : NULL);
	return change(s, st, NULL, err);
}

bool sqlite_mailbox_create(struct store *base, int64_t account_id, const char *name,
			      const char *special_use, struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (is_inbox(name)) {
		buf_printf(err, "[ALREADYEXISTS] INBOX always exists.");
		return false;
	}
	if (!tx_begin(s, err))
		return false;
	/* Create missing parents too (RFC 9051 6.3.4: "foo/bar" makes "foo" if needed). */
	struct buf part = BUF_INIT;
	bool ok = true;
	for (const char *p = strchr(name, '/'); p && ok; p = strchr(p + 1, '/')) {
		buf_reset(&part);
		buf_append(&part, name, (size_t)(p - name));
		struct buf ignore = BUF_INIT;
		insert_mailbox(s, account_id, part.data, NULL, &ignore);
		buf_free(&ignore);
	}
	buf_free(&part);
	struct buf why = BUF_INIT;
	if (!insert_mailbox(s, account_id, name, special_use, &why)) {
		buf_printf(err, "%s", strstr(why.data ? why.data : "", "exists")
					      ? "[ALREADYEXISTS] A mailbox with that name already exists."
					      : why.data);
		ok = false;
	}
	buf_free(&why);
	if (!ok) {
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}

bool sqlite_mailbox_delete(struct store *base, int64_t account_id, const char *name,
			      struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (is_inbox(name)) {
		buf_printf(err, "[CANNOT] INBOX cannot be deleted.");
		return false;
	}
	struct mailbox_info m;
	if (sqlite_mailbox_get(base, account_id, name, false, &m) != STORE_OK) {
		buf_printf(err, "[NONEXISTENT] There is no mailbox with that name.");
		return false;
	}
	sqlite3_stmt *kids = prepare(s, "SELECT 1 FROM mailboxes WHERE account_id = ?1"
					" AND substr(name, 1, length(?2) + 1) = ?2 || '/'");
	sqlite3_bind_int64(kids, 1, account_id);
	bind_text(kids, 2, m.name);
	bool has_kids = sqlite3_step(kids) == SQLITE_ROW;
	finish(s, kids);
	if (has_kids) {
		/* RFC 9051 6.3.4 lets a server refuse; keeping the children reachable is simpler
		 * for people than a parent that is there and not there. */
		buf_printf(err, "[HASCHILDREN] This mailbox has subfolders; delete or move them first.");
		return false;
	}
	if (!tx_begin(s, err) || !sqlite_doomed_reset(s, err))
		return false;
	sqlite3_stmt *st = prepare(s, "INSERT INTO temp.doomed SELECT id FROM messages"
				      " WHERE mailbox_id = ?");
	sqlite3_bind_int64(st, 1, m.id);
	bool ok = change(s, st, NULL, err) && sqlite_expunge_doomed(s, err);
	if (ok) {
		st = prepare(s, "DELETE FROM expunged WHERE mailbox_id = ?1;");
		sqlite3_bind_int64(st, 1, m.id);
		ok = change(s, st, NULL, err);
	}
	if (ok) {
		st = prepare(s, "DELETE FROM mailboxes WHERE id = ?");
		sqlite3_bind_int64(st, 1, m.id);
		ok = change(s, st, NULL, err);
	}
	if (!ok) {
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}

bool sqlite_mailbox_rename(struct store *base, int64_t account_id, const char *from,
			      const char *to, struct buf *err)
{
	struct sqlite_store *s = S(base);
	struct mailbox_info src, dst;
	if (sqlite_mailbox_get(base, account_id, from, false, &src) != STORE_OK) {
		buf_printf(err, "[NONEXISTENT] There is no mailbox with that name.");
		return false;
	}
	if (is_inbox(to) || sqlite_mailbox_get(base, account_id, to, false, &dst) == STORE_OK) {
		buf_printf(err, "[ALREADYEXISTS] A mailbox with the new name already exists.");
		return false;
	}
	if (!tx_begin(s, err))
		return false;
	bool ok;
	if (is_inbox(from)) {
		/* RFC 9051 6.3.6: renaming INBOX moves its messages to a new mailbox. */
		ok = insert_mailbox(s, account_id, to, NULL, err);
		struct mailbox_info fresh;
		ok = ok && sqlite_mailbox_get(base, account_id, to, false, &fresh) == STORE_OK;
		if (ok) {
			/* Sessions on INBOX see the messages leave (VANISHED/EXPUNGE). */
			sqlite3_stmt *st = prepare(
				s, "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?1;");
			sqlite3_bind_int64(st, 1, src.id);
			ok = change(s, st, NULL, err);
			st = prepare(s, "INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq)"
					" SELECT ?1, uid, ?2 FROM messages WHERE mailbox_id = ?1");
			sqlite3_bind_int64(st, 1, src.id);
			sqlite3_bind_int64(st, 2, src.highestmodseq + 1);
			ok = ok && change(s, st, NULL, err);
		}
		if (ok) {
			sqlite3_stmt *st = prepare(
				s, "UPDATE messages SET mailbox_id = ?1 WHERE mailbox_id = ?2;");
			sqlite3_bind_int64(st, 1, fresh.id);
			sqlite3_bind_int64(st, 2, src.id);
			ok = change(s, st, NULL, err);
		}
		if (ok) {
			/* The moved messages keep their UIDs; the new box continues after them, and
			 * INBOX forgets them (UIDNEXT unchanged, so no UID is reused). */
			sqlite3_stmt *st = prepare(s, "UPDATE mailboxes SET uidnext = ?1, highestmodseq = ?2"
						      " WHERE id = ?3");
			sqlite3_bind_int64(st, 1, src.uidnext);
			sqlite3_bind_int64(st, 2, src.highestmodseq + 1);
			sqlite3_bind_int64(st, 3, fresh.id);
			ok = change(s, st, NULL, err);
		}
	} else {
		sqlite3_stmt *st = prepare(s, "UPDATE mailboxes SET name = ?3 || substr(name, length(?2) + 1)"
					      " WHERE account_id = ?1 AND (name = ?2 OR substr(name, 1,"
					      " length(?2) + 1) = ?2 || '/')");
		sqlite3_bind_int64(st, 1, account_id);
		bind_text(st, 2, src.name);
		bind_text(st, 3, to);
		ok = change(s, st, NULL, err);
		/* Parents of the new name come into being, as with CREATE. */
		for (const char *p = strchr(to, '/'); p && ok; p = strchr(p + 1, '/')) {
			char *parent = xstrndup(to, (size_t)(p - to));
			struct buf ignore = BUF_INIT;
			insert_mailbox(s, account_id, parent, NULL, &ignore);
			buf_free(&ignore);
			free(parent);
		}
	}
	if (!ok) {
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}

bool sqlite_mailbox_subscribe(struct store *base, int64_t account_id, const char *name,
				 bool on, struct buf *err)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "UPDATE mailboxes SET subscribed = ? WHERE account_id = ?"
				      " AND name = ?");
	sqlite3_bind_int(st, 1, on);
	sqlite3_bind_int64(st, 2, account_id);
	bind_text(st, 3, is_inbox(name) ? "INBOX" : name);
	return change(s, st, "[NONEXISTENT] There is no mailbox with that name.", err);
}

enum store_rc sqlite_mailbox_scan(struct store *base, int64_t mailbox_id, int64_t uid_min,
				  int64_t uid_max, int64_t since_modseq, store_meta_fn fn, void *ctx)
{
	struct sqlite_store *s = S(base);
	if (sqlite_fault(s, "mailbox_scan"))
		return STORE_ERROR;
	sqlite3_stmt *st = prepare(s, "SELECT id, uid, modseq, internaldate, size, flags, keywords"
				      " FROM messages WHERE mailbox_id = ?1 AND (?2 = 0 OR modseq > ?2)"
				      " AND uid BETWEEN ?3 AND ?4 ORDER BY uid");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, since_modseq);
	sqlite3_bind_int64(st, 3, uid_min);
	sqlite3_bind_int64(st, 4, uid_max);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct message_meta m = {
			.id = sqlite3_column_int64(st, 0),
			.uid = sqlite3_column_int64(st, 1),
			.modseq = sqlite3_column_int64(st, 2),
			.internaldate = sqlite3_column_int64(st, 3),
			.size = sqlite3_column_int64(st, 4),
			.flags = (unsigned)sqlite3_column_int(st, 5),
			.keywords = (const char *)sqlite3_column_text(st, 6),
		};
		if (!fn(ctx, &m))
			break;
	}
	enum store_rc r = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK
								: read_failed(s, "mailbox_scan");
	finish(s, st);
	return r;
}

enum store_rc sqlite_mailbox_vanished(struct store *base, int64_t mailbox_id, int64_t since_modseq,
				      store_uid_fn fn, void *ctx)
{
	struct sqlite_store *s = S(base);
	if (sqlite_fault(s, "mailbox_vanished"))
		return STORE_ERROR;
	sqlite3_stmt *st = prepare(s, "SELECT uid, modseq FROM expunged WHERE mailbox_id = ?"
				      " AND modseq > ? ORDER BY uid");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, since_modseq);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (!fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1)))
			break;
	enum store_rc r = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK
								: read_failed(s, "mailbox_vanished");
	finish(s, st);
	return r;
}

/* Keywords are a space-separated set; these keep them sorted-free but unique. */
static bool keyword_has(const char *set, const char *kw, size_t kwlen)
{
	for (const char *p = set; *p;) {
		size_t len = strcspn(p, " ");
		if (len == kwlen && strncasecmp(p, kw, len) == 0)
			return true;
		p += len;
		while (*p == ' ')
			p++;
	}
	return false;
}

static void keywords_apply(const char *current, enum store_flag_op op, const char *change_set,
			   struct buf *out)
{
	buf_reset(out);
	if (op != STORE_FLAGS_SET)
		for (const char *p = current; *p;) {
			size_t len = strcspn(p, " ");
			if (len && !(op == STORE_FLAGS_REMOVE && keyword_has(change_set, p, len))) {
				if (out->len)
					buf_append_char(out, ' ');
				buf_append(out, p, len);
			}
			p += len;
			while (*p == ' ')
				p++;
		}
	if (op != STORE_FLAGS_REMOVE)
		for (const char *p = change_set; *p;) {
			size_t len = strcspn(p, " ");
			if (len && !keyword_has(out->data ? out->data : "", p, len)) {
				if (out->len)
					buf_append_char(out, ' ');
				buf_append(out, p, len);
			}
			p += len;
			while (*p == ' ')
				p++;
		}
	buf_reserve(out, 0);
}

bool sqlite_messages_set_flags(struct store *base, int64_t mailbox_id, const int64_t *uids,
				  size_t n, enum store_flag_op op, unsigned flags,
				  const char *keywords, int64_t unchangedsince, int64_t **failed,
				  size_t *nfailed, struct buf *err)
{
	struct sqlite_store *s = S(base);
	*failed = NULL;
	*nfailed = 0;
	if (!tx_begin(s, err))
		return false;
	sqlite3_stmt *sel = prepare(s, "SELECT flags, keywords, modseq FROM messages"
				       " WHERE mailbox_id = ? AND uid = ?");
	sqlite3_stmt *upd = prepare(s, "UPDATE messages SET flags = ?, keywords = ?, modseq = ?"
				       " WHERE mailbox_id = ? AND uid = ?");
	sqlite3_stmt *hms = prepare(s, "SELECT highestmodseq FROM mailboxes WHERE id = ?");
	sqlite3_bind_int64(hms, 1, mailbox_id);
	int64_t modseq = sqlite3_step(hms) == SQLITE_ROW ? sqlite3_column_int64(hms, 0) : 0;
	finish(s, hms);
	bool changed_any = false, ok = true;
	struct buf kw = BUF_INIT;
	for (size_t i = 0; i < n && ok; i++) {
		sqlite3_reset(sel);
		sqlite3_bind_int64(sel, 1, mailbox_id);
		sqlite3_bind_int64(sel, 2, uids[i]);
		if (sqlite3_step(sel) != SQLITE_ROW)
			continue; /* expunged meanwhile */
		unsigned old = (unsigned)sqlite3_column_int(sel, 0);
		const char *oldkw = (const char *)sqlite3_column_text(sel, 1);
		int64_t msg_modseq = sqlite3_column_int64(sel, 2);
		if (unchangedsince >= 0 && msg_modseq > unchangedsince) {
			*failed = xrealloc(*failed, (*nfailed + 1) * sizeof **failed);
			(*failed)[(*nfailed)++] = uids[i];
			continue;
		}
		unsigned now = op == STORE_FLAGS_SET ? flags
			     : op == STORE_FLAGS_ADD ? (old | flags) : (old & ~flags);
		keywords_apply(oldkw ? oldkw : "", op, keywords ? keywords : "", &kw);
		if (now == old && strcmp(kw.data, oldkw ? oldkw : "") == 0)
			continue;
		if (!changed_any) {
			modseq++; /* one new MODSEQ for the whole STORE */
			changed_any = true;
		}
		sqlite3_reset(upd);
		sqlite3_bind_int(upd, 1, (int)now);
		bind_text(upd, 2, kw.data);
		sqlite3_bind_int64(upd, 3, modseq);
		sqlite3_bind_int64(upd, 4, mailbox_id);
		sqlite3_bind_int64(upd, 5, uids[i]);
		ok = sqlite3_step(upd) == SQLITE_DONE;
	}
	buf_free(&kw);
	finish(s, sel);
	finish(s, upd);
	if (ok && changed_any) {
		sqlite3_stmt *st = prepare(s, "UPDATE mailboxes SET highestmodseq = ? WHERE id = ?");
		sqlite3_bind_int64(st, 1, modseq);
		sqlite3_bind_int64(st, 2, mailbox_id);
		ok = change(s, st, NULL, err);
	}
	if (!ok) {
		if (!err->len)
			buf_printf(err, "database error: %s", sqlite3_errmsg(s->db));
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}

bool sqlite_messages_expunge(struct store *base, int64_t mailbox_id, const int64_t *uids,
				size_t n, struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (!tx_begin(s, err) || !sqlite_doomed_reset(s, err))
		return false;
	bool ok = true;
	/* Two statements, not "(?2 = 0 OR uid = ?2)": with the OR, SQLite scans the mailbox
	 * for every UID (a UID EXPUNGE of 10,000: 40 s on the writer). */
	sqlite3_stmt *st = prepare(s, uids
		? "INSERT OR IGNORE INTO temp.doomed SELECT id FROM messages"
		  " WHERE mailbox_id = ?1 AND uid = ?2 AND (flags & 8) != 0"
		: "INSERT OR IGNORE INTO temp.doomed SELECT id FROM messages"
		  " WHERE mailbox_id = ?1 AND (flags & 8) != 0");
	for (size_t i = 0; ok && (uids ? i < n : i < 1); i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, mailbox_id);
		if (uids)
			sqlite3_bind_int64(st, 2, uids[i]);
		ok = sqlite3_step(st) == SQLITE_DONE;
	}
	finish(s, st);
	ok = ok && sqlite_expunge_doomed(s, err);
	if (!ok) {
		if (!err->len)
			buf_printf(err, "database error: %s", sqlite3_errmsg(s->db));
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}

/* Room for `bytes` more in the account owning mailbox_id? */
static bool quota_allows(struct sqlite_store *s, int64_t mailbox_id, int64_t bytes,
			 struct buf *err)
{
	sqlite3_stmt *st = prepare(s, "SELECT a.quota, a.used FROM accounts a JOIN mailboxes b"
				      " ON b.account_id = a.id WHERE b.id = ?");
	sqlite3_bind_int64(st, 1, mailbox_id);
	bool ok = false;
	if (sqlite3_step(st) == SQLITE_ROW) {
		int64_t quota = sqlite3_column_int64(st, 0), used = sqlite3_column_int64(st, 1);
		ok = quota <= 0 || used + bytes <= quota;
		if (!ok)
			buf_printf(err, "[OVERQUOTA] The mailbox is full (%lld of %lld bytes used); "
				   "delete some mail first.", (long long)used, (long long)quota);
	} else {
		buf_printf(err, "[NONEXISTENT] The mailbox no longer exists.");
	}
	finish(s, st);
	return ok;
}

/* Adds one message row to mailbox_id (UID, MODSEQ, usage); the blob is already counted. */
static bool add_message_row(struct sqlite_store *s, int64_t mailbox_id, int64_t blob_id,
			    int64_t size, unsigned flags, const char *keywords, int64_t internaldate,
			    int64_t *uid)
{
	sqlite3_stmt *st = prepare(s, "UPDATE mailboxes SET uidnext = uidnext + 1,"
				      " highestmodseq = highestmodseq + 1 WHERE id = ?"
				      " RETURNING uidnext - 1, highestmodseq, account_id");
	sqlite3_bind_int64(st, 1, mailbox_id);
	bool ok = sqlite3_step(st) == SQLITE_ROW;
	int64_t modseq = 0, account_id = 0;
	if (ok) {
		*uid = sqlite3_column_int64(st, 0);
		modseq = sqlite3_column_int64(st, 1);
		account_id = sqlite3_column_int64(st, 2);
	}
	finish(s, st);
	if (!ok)
		return false;
	st = prepare(s, "INSERT INTO messages(mailbox_id, uid, modseq, flags, keywords, internaldate,"
			" size, blob_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, *uid);
	sqlite3_bind_int64(st, 3, modseq);
	sqlite3_bind_int(st, 4, (int)flags);
	bind_text(st, 5, keywords ? keywords : "");
	sqlite3_bind_int64(st, 6, internaldate);
	sqlite3_bind_int64(st, 7, size);
	sqlite3_bind_int64(st, 8, blob_id);
	ok = sqlite3_step(st) == SQLITE_DONE;
	finish(s, st);
	if (!ok)
		return false;
	st = prepare(s, "UPDATE accounts SET used = used + ? WHERE id = ?");
	sqlite3_bind_int64(st, 1, size);
	sqlite3_bind_int64(st, 2, account_id);
	ok = sqlite3_step(st) == SQLITE_DONE;
	finish(s, st);
	return ok;
}

bool sqlite_message_append(struct store *base, int64_t mailbox_id, const char *data,
			      size_t len, const struct buf *structure, unsigned flags,
			      const char *keywords, int64_t internaldate, int64_t *uid, struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (!tx_begin(s, err))
		return false;
	bool ok = quota_allows(s, mailbox_id, (int64_t)len, err);
	if (ok) {
		sqlite3_stmt *st = prepare(s, "INSERT INTO blobs(refs, size, data, structure)"
					      " VALUES(1, ?, ?, ?)");
		sqlite3_bind_int64(st, 1, (int64_t)len);
		sqlite3_bind_blob64(st, 2, data, len, SQLITE_STATIC);
		if (structure && structure->len)
			sqlite3_bind_blob64(st, 3, structure->data, structure->len, SQLITE_STATIC);
		ok = sqlite3_step(st) == SQLITE_DONE;
		finish(s, st);
	}
	ok = ok && add_message_row(s, mailbox_id, sqlite3_last_insert_rowid(s->db), (int64_t)len,
				   flags, keywords, internaldate, uid);
	if (!ok) {
		if (!err->len)
			buf_printf(err, "database error: %s", sqlite3_errmsg(s->db));
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}

bool sqlite_messages_copy(struct store *base, int64_t from_mailbox, const int64_t *uids,
			     size_t n, int64_t to_mailbox, bool move, int64_t *new_uids,
			     struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (!tx_begin(s, err) || !sqlite_doomed_reset(s, err))
		return false;
	/* Quota counts the copies (a move within one account changes nothing). */
	bool ok = true;
	if (!move) {
		int64_t total = 0;
		sqlite3_stmt *sz = prepare(s, "SELECT size FROM messages WHERE mailbox_id = ? AND uid = ?");
		for (size_t i = 0; i < n; i++) {
			sqlite3_reset(sz);
			sqlite3_bind_int64(sz, 1, from_mailbox);
			sqlite3_bind_int64(sz, 2, uids[i]);
			if (sqlite3_step(sz) == SQLITE_ROW)
				total += sqlite3_column_int64(sz, 0);
		}
		finish(s, sz);
		ok = quota_allows(s, to_mailbox, total, err);
	}
	sqlite3_stmt *sel = prepare(s, "SELECT id, blob_id, size, flags, keywords, internaldate"
				       " FROM messages WHERE mailbox_id = ? AND uid = ?");
	sqlite3_stmt *ref = prepare(s, "UPDATE blobs SET refs = refs + 1 WHERE id = ?");
	sqlite3_stmt *doom = prepare(s, "INSERT OR IGNORE INTO temp.doomed VALUES(?)");
	for (size_t i = 0; ok && i < n; i++) {
		new_uids[i] = 0;
		sqlite3_reset(sel);
		sqlite3_bind_int64(sel, 1, from_mailbox);
		sqlite3_bind_int64(sel, 2, uids[i]);
		if (sqlite3_step(sel) != SQLITE_ROW)
			continue;
		int64_t id = sqlite3_column_int64(sel, 0), blob = sqlite3_column_int64(sel, 1);
		int64_t size = sqlite3_column_int64(sel, 2), date = sqlite3_column_int64(sel, 5);
		unsigned flags = (unsigned)sqlite3_column_int(sel, 3);
		char *kw = xstrdup((const char *)sqlite3_column_text(sel, 4));
		sqlite3_reset(ref);
		sqlite3_bind_int64(ref, 1, blob);
		ok = sqlite3_step(ref) == SQLITE_DONE &&
		     add_message_row(s, to_mailbox, blob, size, flags, kw, date, &new_uids[i]);
		free(kw);
		if (ok && move) {
			sqlite3_reset(doom);
			sqlite3_bind_int64(doom, 1, id);
			ok = sqlite3_step(doom) == SQLITE_DONE;
		}
	}
	finish(s, sel);
	finish(s, ref);
	finish(s, doom);
	ok = ok && (!move || sqlite_expunge_doomed(s, err));
	if (!ok) {
		if (!err->len)
			buf_printf(err, "database error: %s", sqlite3_errmsg(s->db));
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}


enum store_rc sqlite_message_structure(struct store *base, int64_t message_id, struct buf *out)
{
	struct sqlite_store *s = S(base);
	if (sqlite_fault(s, "message_structure"))
		return STORE_ERROR;
	sqlite3_stmt *st = prepare(s, "SELECT b.structure FROM messages m JOIN blobs b"
				      " ON m.blob_id = b.id WHERE m.id = ?");
	sqlite3_bind_int64(st, 1, message_id);
	int rc = sqlite3_step(st);
	enum store_rc r = STORE_NOT_FOUND;
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_BLOB) {
		buf_append(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
		r = STORE_OK;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = read_failed(s, "message_structure");
	}
	finish(s, st);
	return r;
}
