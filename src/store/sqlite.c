/* SQLite backend. Metadata and message bytes live in one database in WAL mode with
 * synchronous=FULL: a committed transaction is on stable storage, and one transaction
 * (one fsync of the WAL) can carry a whole batch of messages for many mailboxes.
 * All SQL of the project lives in this file. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "store/sqlite_internal.h"
#include "store/store.h"

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS domains("
	"  name TEXT PRIMARY KEY, catchall TEXT);"
	"CREATE TABLE IF NOT EXISTS accounts("
	"  id INTEGER PRIMARY KEY, address TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,"
	"  quota INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS aliases("
	"  alias TEXT NOT NULL, target TEXT NOT NULL, PRIMARY KEY(alias, target));"
	"CREATE TABLE IF NOT EXISTS mailboxes("
	"  id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES accounts(id),"
	"  name TEXT NOT NULL, uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL,"
	"  highestmodseq INTEGER NOT NULL, UNIQUE(account_id, name));"
	"CREATE TABLE IF NOT EXISTS blobs("
	"  id INTEGER PRIMARY KEY, refs INTEGER NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS messages("
	"  id INTEGER PRIMARY KEY, mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),"
	"  uid INTEGER NOT NULL, modseq INTEGER NOT NULL, flags INTEGER NOT NULL DEFAULT 0,"
	"  internaldate INTEGER NOT NULL, size INTEGER NOT NULL,"
	"  blob_id INTEGER NOT NULL REFERENCES blobs(id), UNIQUE(mailbox_id, uid));"
	"CREATE TABLE IF NOT EXISTS devices("
	"  id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES accounts(id),"
	"  label TEXT NOT NULL, secret_sha256 TEXT UNIQUE, created INTEGER NOT NULL,"
	"  last_used INTEGER, last_protocol TEXT, last_ip TEXT, UNIQUE(account_id, label));"
	"CREATE TABLE IF NOT EXISTS pop3_deleted("
	"  message_id INTEGER NOT NULL REFERENCES messages(id), device_id INTEGER NOT NULL,"
	"  deleted_at INTEGER NOT NULL, PRIMARY KEY(message_id, device_id));"
	"CREATE TABLE IF NOT EXISTS audit("
	"  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, account TEXT NOT NULL, device TEXT,"
	"  protocol TEXT NOT NULL, ip TEXT NOT NULL, tls INTEGER NOT NULL, result TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS audit_account ON audit(account, id);"
	"CREATE TABLE IF NOT EXISTS expunged("
	"  mailbox_id INTEGER NOT NULL, uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	"  PRIMARY KEY(mailbox_id, uid));"
	"CREATE INDEX IF NOT EXISTS messages_modseq ON messages(mailbox_id, modseq);"
	/* With foreign keys on, deleting a blob looks for the rows that still name it: without
	 * these, one scan of messages (and queue) per blob (expunging 10,000 messages: 9 s on
	 * the writer, 0.14 s with them). The sync after a change asks for the expunges after a
	 * MODSEQ, which the primary key (mailbox, UID) cannot find without a scan. */
	"CREATE INDEX IF NOT EXISTS messages_blob ON messages(blob_id);"
	"CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged(mailbox_id, modseq);"
	"CREATE TABLE IF NOT EXISTS queue("
	"  id INTEGER PRIMARY KEY, created INTEGER NOT NULL, sender TEXT NOT NULL,"
	"  domain TEXT NOT NULL, blob_id INTEGER NOT NULL REFERENCES blobs(id),"
	"  next_attempt INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	"  warned INTEGER NOT NULL DEFAULT 0, smtputf8 INTEGER NOT NULL DEFAULT 0,"
	"  is_bounce INTEGER NOT NULL DEFAULT 0, last_reply TEXT);"
	"CREATE INDEX IF NOT EXISTS queue_due ON queue(next_attempt);"
	"CREATE INDEX IF NOT EXISTS queue_domain_due ON queue(domain, next_attempt);"
	"CREATE INDEX IF NOT EXISTS queue_blob ON queue(blob_id);" /* see messages_blob */
	"CREATE TABLE IF NOT EXISTS queue_rcpt("
	"  queue_id INTEGER NOT NULL REFERENCES queue(id), rcpt TEXT NOT NULL,"
	"  PRIMARY KEY(queue_id, rcpt));"
	/* DMARC aggregate reports (sqlite_dmarc.c): one row per record of a report received;
	 * what our checks saw, per domain, day and outcome with a count, for the reports we
	 * send; and when each domain was last sent one. */
	"CREATE TABLE IF NOT EXISTS dmarc_received("
	"  id INTEGER PRIMARY KEY, received INTEGER NOT NULL, org TEXT NOT NULL,"
	"  report_id TEXT NOT NULL, domain TEXT NOT NULL, policy TEXT NOT NULL,"
	"  begin INTEGER NOT NULL, end INTEGER NOT NULL, source_ip TEXT NOT NULL,"
	"  count INTEGER NOT NULL, disposition TEXT NOT NULL, dkim TEXT NOT NULL, spf TEXT NOT NULL,"
	"  header_from TEXT NOT NULL, dkim_domain TEXT NOT NULL, dkim_result TEXT NOT NULL,"
	"  spf_domain TEXT NOT NULL, spf_result TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS dmarc_received_end ON dmarc_received(domain, end);"
	"CREATE INDEX IF NOT EXISTS dmarc_received_report ON dmarc_received(org, report_id);"
	"CREATE TABLE IF NOT EXISTS dmarc_observed("
	"  domain TEXT NOT NULL, day INTEGER NOT NULL, source_ip TEXT NOT NULL,"
	"  header_from TEXT NOT NULL, envelope_from TEXT NOT NULL, disposition TEXT NOT NULL,"
	"  dkim TEXT NOT NULL, spf TEXT NOT NULL, dkim_domain TEXT NOT NULL,"
	"  dkim_selector TEXT NOT NULL, dkim_result TEXT NOT NULL, spf_domain TEXT NOT NULL,"
	"  spf_scope TEXT NOT NULL, spf_result TEXT NOT NULL, p TEXT NOT NULL, sp TEXT NOT NULL,"
	"  adkim TEXT NOT NULL, aspf TEXT NOT NULL, pct INTEGER NOT NULL, rua TEXT NOT NULL,"
	"  count INTEGER NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,"
	"  PRIMARY KEY(domain, day, source_ip, header_from, envelope_from, disposition, dkim, spf,"
	"  dkim_domain, dkim_selector, dkim_result, spf_domain, spf_scope, spf_result));"
	"CREATE TABLE IF NOT EXISTS dmarc_sent(domain TEXT PRIMARY KEY, last INTEGER NOT NULL);"
	/* Spam (sqlite_spam.c): senders an account (scope: its address) or a domain (scope: the
	 * domain) allows or blocks, an address or @domain each; and the outcomes of the scans
	 * per UTC day, for yubin spam status. */
	"CREATE TABLE IF NOT EXISTS spam_senders("
	"  scope TEXT NOT NULL, sender TEXT NOT NULL, list TEXT NOT NULL,"
	"  PRIMARY KEY(scope, sender));"
	"CREATE TABLE IF NOT EXISTS spam_counts("
	"  day INTEGER NOT NULL, outcome TEXT NOT NULL, count INTEGER NOT NULL,"
	"  PRIMARY KEY(day, outcome));"
	"INSERT OR IGNORE INTO meta VALUES('schema', '1');"
	/* Bumped in the same transaction as anything that takes a password away (an app password
	 * revoked, the account password changed or turned off, an account deleted), by whichever
	 * process does it (the CLI too): the server reads this one row every second and ends the
	 * sessions that used a password that no longer works. */
	"INSERT OR IGNORE INTO meta VALUES('credentials', '0');"
	"CREATE TRIGGER IF NOT EXISTS credentials_device_gone AFTER DELETE ON devices BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'credentials'; END;"
	"CREATE TRIGGER IF NOT EXISTS credentials_account_gone AFTER DELETE ON accounts BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'credentials'; END;"
	"CREATE TRIGGER IF NOT EXISTS credentials_password AFTER UPDATE OF password_hash,"
	"  account_password_on ON accounts BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'credentials'; END;";

#define SCHEMA_VERSION "10"

/* Columns added after schema 1, for stores created before them. */
static const struct {
	const char *table, *column, *ddl;
} added_columns[] = {
	{ "accounts", "pop3_delete", "ALTER TABLE accounts ADD COLUMN pop3_delete TEXT" },
	{ "accounts", "keep_days", "ALTER TABLE accounts ADD COLUMN keep_days INTEGER" },
	{ "accounts", "account_password_on",
	  "ALTER TABLE accounts ADD COLUMN account_password_on INTEGER NOT NULL DEFAULT 1" },
	{ "mailboxes", "special_use", "ALTER TABLE mailboxes ADD COLUMN special_use TEXT" },
	{ "mailboxes", "subscribed",
	  "ALTER TABLE mailboxes ADD COLUMN subscribed INTEGER NOT NULL DEFAULT 1" },
	{ "messages", "keywords", "ALTER TABLE messages ADD COLUMN keywords TEXT NOT NULL DEFAULT ''" },
	{ "blobs", "structure", "ALTER TABLE blobs ADD COLUMN structure BLOB" },
	{ "accounts", "scram", "ALTER TABLE accounts ADD COLUMN scram TEXT" },
	{ "accounts", "save_sent", "ALTER TABLE accounts ADD COLUMN save_sent INTEGER" },
	{ "accounts", "spam", "ALTER TABLE accounts ADD COLUMN spam INTEGER" },
	{ "accounts", "spam_threshold", "ALTER TABLE accounts ADD COLUMN spam_threshold REAL" },
	{ "domains", "spam", "ALTER TABLE domains ADD COLUMN spam INTEGER" },
	{ "domains", "spam_threshold", "ALTER TABLE domains ADD COLUMN spam_threshold REAL" },
};

/* Folders every account has, with their RFC 6154 roles. */
static const char special_folders_sql[] =
	"INSERT OR IGNORE INTO mailboxes(account_id, name, uidvalidity, uidnext, highestmodseq,"
	" special_use) SELECT a.id, f.name, ?1, 1, 1, f.role FROM accounts a,"
	" (SELECT 'Drafts' AS name, '\\Drafts' AS role UNION ALL SELECT 'Sent', '\\Sent'"
	"  UNION ALL SELECT 'Trash', '\\Trash' UNION ALL SELECT 'Junk', '\\Junk'"
	"  UNION ALL SELECT 'Archive', '\\Archive') f WHERE ?2 = 0 OR a.id = ?2";

static void sq_close(struct store *base)
{
	struct sqlite_store *s = S(base);
	stmt_cache_clear(s);
	sqlite3_close(s->db);
	free(s->fault_file);
	free(s);
}

static bool sq_batch_begin(struct store *base, struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (!exec(s, "BEGIN IMMEDIATE", err))
		return false;
	s->in_batch = true;
	return true;
}

/* False when SQLite has rolled the whole batch back on its own (a full disk, an I/O error):
 * the operations run in it so far are lost. */
static bool sq_batch_intact(struct store *base)
{
	struct sqlite_store *s = S(base);
	return s->in_batch && !sqlite3_get_autocommit(s->db);
}

static bool sq_batch_end(struct store *base, struct buf *err)
{
	struct sqlite_store *s = S(base);
	bool intact = sq_batch_intact(base);
	s->in_batch = false;
	if (!intact) {
		buf_printf(err, "the database rolled the batch back");
		return false;
	}
	/* COMMIT with synchronous=FULL: the WAL is fsync'd before this returns. */
	if (!exec(s, "COMMIT", err)) {
		exec(s, "ROLLBACK", NULL);
		return false;
	}
	return true;
}

static bool sq_domain_add(struct store *base, const char *domain, struct buf *err)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "INSERT INTO domains(name) VALUES(lower(?))");
	bind_text(st, 1, domain);
	return change(s, st, NULL, err);
}

static bool sq_domain_del(struct store *base, const char *domain, struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (!tx_begin(s, err))
		return false;
	sqlite3_stmt *st = prepare(s, "DELETE FROM domains WHERE name = lower(?)");
	bind_text(st, 1, domain);
	if (!change(s, st, "no such domain", err)) {
		tx_rollback(s);
		return false;
	}
	st = prepare(s, "DELETE FROM spam_senders WHERE scope = lower(?)");
	bind_text(st, 1, domain);
	if (!change(s, st, NULL, err)) {
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}

static bool sq_domain_exists(struct store *base, const char *domain, char **catchall)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "SELECT catchall FROM domains WHERE name = lower(?)");
	bind_text(st, 1, domain);
	bool found = sqlite3_step(st) == SQLITE_ROW;
	if (catchall) {
		const char *c = found ? (const char *)sqlite3_column_text(st, 0) : NULL;
		*catchall = c ? xstrdup(c) : NULL;
	}
	finish(s, st);
	return found;
}

static bool sq_domain_set_catchall(struct store *base, const char *domain, const char *target,
				   struct buf *err)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "UPDATE domains SET catchall = lower(?) WHERE name = lower(?)");
	bind_text(st, 1, target);
	bind_text(st, 2, domain);
	return change(s, st, "no such domain", err);
}

static void sq_domain_list(struct store *base, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = S(base);
	rows(s, prepare(s, "SELECT name, coalesce(catchall, '') FROM domains ORDER BY name"), fn,
	     ctx);
}

static bool sq_account_add(struct store *base, const char *address, const char *hash,
			   const char *scram, int64_t quota, struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (!tx_begin(s, err))
		return false;
	sqlite3_stmt *st = prepare(s, "INSERT INTO accounts(address, password_hash, quota, created,"
				      " scram) VALUES(lower(?), ?, ?, ?, ?)");
	bind_text(st, 1, address);
	bind_text(st, 2, hash);
	sqlite3_bind_int64(st, 3, quota);
	sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
	bind_text(st, 5, scram);
	if (!change(s, st, NULL, err)) {
		tx_rollback(s);
		return false;
	}
	int64_t id = sqlite3_last_insert_rowid(s->db);
	st = prepare(s, "INSERT INTO mailboxes(account_id, name, uidvalidity, uidnext, highestmodseq)"
			" VALUES(?, 'INBOX', ?, 1, 1)");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
	if (!change(s, st, NULL, err)) {
		tx_rollback(s);
		return false;
	}
	st = prepare(s, special_folders_sql);
	sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
	sqlite3_bind_int64(st, 2, id);
	if (!change(s, st, NULL, err)) {
		tx_rollback(s);
		return false;
	}
	st = prepare(s, "INSERT INTO devices(account_id, label, created) VALUES(?, 'account password', ?)");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, clock_now());
	if (!change(s, st, NULL, err)) {
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}

static bool sq_account_del(struct store *base, const char *address, struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (!tx_begin(s, err))
		return false;
	const char *steps[] = {
		"UPDATE blobs SET refs = refs - (SELECT count(*) FROM messages m JOIN mailboxes b"
		" ON m.mailbox_id = b.id JOIN accounts a ON b.account_id = a.id"
		" WHERE m.blob_id = blobs.id AND a.address = lower(?1))"
		" WHERE id IN (SELECT m.blob_id FROM messages m JOIN mailboxes b ON m.mailbox_id = b.id"
		" JOIN accounts a ON b.account_id = a.id WHERE a.address = lower(?1))",
		"DELETE FROM pop3_deleted WHERE message_id IN (SELECT m.id FROM messages m JOIN mailboxes b"
		" ON m.mailbox_id = b.id JOIN accounts a ON b.account_id = a.id"
		" WHERE a.address = lower(?1))",
		"DELETE FROM messages WHERE mailbox_id IN (SELECT b.id FROM mailboxes b JOIN accounts a"
		" ON b.account_id = a.id WHERE a.address = lower(?1))",
		"DELETE FROM devices WHERE account_id IN (SELECT id FROM accounts"
		" WHERE address = lower(?1))",
		"DELETE FROM blobs WHERE refs <= 0",
		"DELETE FROM expunged WHERE mailbox_id IN (SELECT b.id FROM mailboxes b JOIN accounts a"
		" ON b.account_id = a.id WHERE a.address = lower(?1))",
		"DELETE FROM mailboxes WHERE account_id IN (SELECT id FROM accounts"
		" WHERE address = lower(?1))",
		"DELETE FROM spam_senders WHERE scope = lower(?1)",
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		sqlite3_stmt *st = prepare(s, steps[i]);
		if (sqlite3_bind_parameter_count(st) > 0)
			bind_text(st, 1, address);
		if (!change(s, st, NULL, err)) {
			tx_rollback(s);
			return false;
		}
	}
	sqlite3_stmt *st = prepare(s, "DELETE FROM accounts WHERE address = lower(?)");
	bind_text(st, 1, address);
	if (!change(s, st, "no such account", err)) {
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}

static bool sq_account_set_password(struct store *base, const char *address, const char *hash,
				    const char *scram, struct buf *err)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "UPDATE accounts SET password_hash = ?, scram = ?"
				      " WHERE address = lower(?)");
	bind_text(st, 1, hash);
	bind_text(st, 2, scram);
	bind_text(st, 3, address);
	return change(s, st, "no such account", err);
}

static bool sq_account_get(struct store *base, const char *address, struct account *a)
{
	struct sqlite_store *s = S(base);
	/* Called for every RCPT: no per-message work here (counting a big mailbox made routing
	 * linear in its size). The message count is a separate query for the operator. */
	sqlite3_stmt *st = prepare(s, "SELECT id, address, password_hash, quota, used, -1,"
				      " pop3_delete, coalesce(keep_days, -1), account_password_on, scram,"
				      " coalesce(save_sent, -1), coalesce(spam, -1), coalesce(spam_threshold, -1)"
				      " FROM accounts WHERE address = lower(?)");
	bind_text(st, 1, address);
	bool found = sqlite3_step(st) == SQLITE_ROW;
	if (found) {
		a->id = sqlite3_column_int64(st, 0);
		a->address = xstrdup((const char *)sqlite3_column_text(st, 1));
		a->password_hash = xstrdup((const char *)sqlite3_column_text(st, 2));
		a->quota = sqlite3_column_int64(st, 3);
		a->used = sqlite3_column_int64(st, 4);
		a->messages = sqlite3_column_int64(st, 5);
		const char *policy = (const char *)sqlite3_column_text(st, 6);
		a->pop3_delete = policy ? xstrdup(policy) : NULL;
		a->keep_days = sqlite3_column_int64(st, 7);
		a->account_password_on = sqlite3_column_int(st, 8) != 0;
		const char *scram = (const char *)sqlite3_column_text(st, 9);
		a->scram = scram ? xstrdup(scram) : NULL;
		a->save_sent = sqlite3_column_int(st, 10);
		a->spam = sqlite3_column_int(st, 11);
		a->spam_threshold = sqlite3_column_double(st, 12);
	}
	finish(s, st);
	return found;
}

static void sq_account_list(struct store *base, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = S(base);
	rows(s, prepare(s, "SELECT address, used, quota FROM accounts ORDER BY address"), fn, ctx);
}

static bool sq_alias_add(struct store *base, const char *alias, const char *target,
			 struct buf *err)
{
	struct sqlite_store *s = S(base);
	/* The target as given: the local part of an address in another domain may be
	 * case-sensitive there (RFC 5321 2.4); local targets are looked up case-insensitively. */
	sqlite3_stmt *st = prepare(s, "INSERT INTO aliases VALUES(lower(?), ?)");
	bind_text(st, 1, alias);
	bind_text(st, 2, target);
	return change(s, st, NULL, err);
}

static bool sq_alias_del(struct store *base, const char *alias, const char *target,
			 struct buf *err)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "DELETE FROM aliases WHERE alias = lower(?1)"
				      " AND (?2 IS NULL OR lower(target) = lower(?2))");
	bind_text(st, 1, alias);
	bind_text(st, 2, target);
	return change(s, st, "no such alias", err);
}

static size_t sq_alias_targets(struct store *base, const char *alias, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "SELECT target FROM aliases WHERE alias = lower(?) ORDER BY target");
	bind_text(st, 1, alias);
	size_t n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		fn(ctx, &t, 1);
		n++;
	}
	finish(s, st);
	return n;
}

static void sq_alias_list(struct store *base, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = S(base);
	rows(s, prepare(s, "SELECT alias, group_concat(target, ' ') FROM aliases GROUP BY alias"
			   " ORDER BY alias"), fn, ctx);
}

/* Inserts one message for one account into the mailbox mbox finds (by name or by special
 * use); false when the account or mailbox is gone. */
static bool deliver_one(struct sqlite_store *s, sqlite3_stmt *mbox, sqlite3_stmt *bump,
			sqlite3_stmt *ins, sqlite3_stmt *usage, int64_t account_id,
			const char *mailbox, unsigned flags, const char *keywords, int64_t blob_id,
			const struct store_delivery *d)
{
	sqlite3_reset(mbox);
	sqlite3_bind_int64(mbox, 1, account_id);
	bind_text(mbox, 2, mailbox);
	if (sqlite3_step(mbox) != SQLITE_ROW)
		return false;
	int64_t mailbox_id = sqlite3_column_int64(mbox, 0);
	int64_t uid = sqlite3_column_int64(mbox, 1);
	int64_t modseq = sqlite3_column_int64(mbox, 2) + 1;
	sqlite3_reset(mbox);

	sqlite3_reset(bump);
	sqlite3_bind_int64(bump, 1, uid + 1);
	sqlite3_bind_int64(bump, 2, modseq);
	sqlite3_bind_int64(bump, 3, mailbox_id);
	if (sqlite3_step(bump) != SQLITE_DONE)
		return false;

	sqlite3_reset(ins);
	sqlite3_bind_int64(ins, 1, mailbox_id);
	sqlite3_bind_int64(ins, 2, uid);
	sqlite3_bind_int64(ins, 3, modseq);
	sqlite3_bind_int64(ins, 4, d->internaldate);
	sqlite3_bind_int64(ins, 5, (int64_t)d->len);
	sqlite3_bind_int64(ins, 6, blob_id);
	sqlite3_bind_int(ins, 7, (int)flags);
	bind_text(ins, 8, keywords);
	if (sqlite3_step(ins) != SQLITE_DONE)
		return false;

	sqlite3_reset(usage);
	sqlite3_bind_int64(usage, 1, (int64_t)d->len);
	sqlite3_bind_int64(usage, 2, account_id);
	return sqlite3_step(usage) == SQLITE_DONE;
}

/* One queue entry with its recipients; inside the delivery transaction. */
static bool queue_insert(struct sqlite_store *s, const struct store_delivery *d,
			 const struct store_remote *r, int64_t blob_id)
{
	sqlite3_stmt *st = prepare(s, "INSERT INTO queue(created, sender, domain, blob_id, next_attempt,"
				      " smtputf8, is_bounce) VALUES(?1, ?2, lower(?3), ?4, ?1, ?5, ?6)");
	sqlite3_bind_int64(st, 1, clock_now());
	bind_text(st, 2, d->sender ? d->sender : "");
	bind_text(st, 3, r->domain);
	sqlite3_bind_int64(st, 4, blob_id);
	sqlite3_bind_int(st, 5, d->smtputf8);
	sqlite3_bind_int(st, 6, d->is_bounce);
	bool ok = sqlite3_step(st) == SQLITE_DONE;
	finish(s, st);
	int64_t id = sqlite3_last_insert_rowid(s->db);
	st = prepare(s, "INSERT OR IGNORE INTO queue_rcpt(queue_id, rcpt) VALUES(?, ?)");
	for (size_t i = 0; ok && i < r->nrcpts; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		bind_text(st, 2, r->rcpts[i]);
		ok = sqlite3_step(st) == SQLITE_DONE;
	}
	finish(s, st);
	return ok;
}

static bool sq_deliver_batch(struct store *base, const struct store_delivery *d, size_t n,
			     bool *ok, struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (!tx_begin(s, err))
		return false;
	sqlite3_stmt *blob = prepare(s, "INSERT INTO blobs(refs, size, data, structure)"
				       " VALUES(?, ?, ?, ?)");
	sqlite3_stmt *mbox = prepare(s, "SELECT id, uidnext, highestmodseq FROM mailboxes"
				       " WHERE account_id = ? AND name = ?");
	sqlite3_stmt *bump = prepare(s, "UPDATE mailboxes SET uidnext = ?, highestmodseq = ?"
				       " WHERE id = ?");
	/* The sender's copy goes to the mailbox with the \Sent role, whatever its name. */
	sqlite3_stmt *sent = prepare(s, "SELECT id, uidnext, highestmodseq FROM mailboxes"
				       " WHERE account_id = ? AND special_use = ? ORDER BY id LIMIT 1");
	sqlite3_stmt *ins = prepare(s, "INSERT INTO messages(mailbox_id, uid, modseq, internaldate,"
				      " size, blob_id, flags, keywords) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
	sqlite3_stmt *usage = prepare(s, "UPDATE accounts SET used = used + ? WHERE id = ?");
	sqlite3_stmt *refs = prepare(s, "UPDATE blobs SET refs = ? WHERE id = ?");
	sqlite3_stmt *unused = prepare(s, "DELETE FROM blobs WHERE id = ?");
	bool fine = true;
	for (size_t i = 0; i < n && fine; i++) {
		sqlite3_reset(blob);
		size_t wanted = d[i].naccounts + d[i].nremote + (d[i].sent_account_id != 0);
		sqlite3_bind_int64(blob, 1, (int64_t)wanted);
		sqlite3_bind_int64(blob, 2, (int64_t)d[i].len);
		sqlite3_bind_blob64(blob, 3, d[i].data, d[i].len, SQLITE_STATIC);
		if (d[i].structure)
			sqlite3_bind_blob64(blob, 4, d[i].structure, d[i].structure_len, SQLITE_STATIC);
		else
			sqlite3_bind_null(blob, 4);
		if (sqlite3_step(blob) != SQLITE_DONE) {
			fine = false;
			break;
		}
		int64_t blob_id = sqlite3_last_insert_rowid(s->db);
		size_t stored = 0;
		for (size_t k = 0; k < d[i].naccounts; k++) {
			bool junk = d[i].junk || (d[i].account_junk && d[i].account_junk[k]);
			/* Junk: the mailbox with the \Junk role, and the $Junk keyword so mail apps
			 * show the verdict; without such a mailbox, INBOX (never dropped). */
			if (junk && deliver_one(s, sent, bump, ins, usage, d[i].account_ids[k],
						     "\\Junk", 0, "$Junk", blob_id, &d[i])) {
				stored++;
				continue;
			}
			if (deliver_one(s, mbox, bump, ins, usage, d[i].account_ids[k],
					d[i].mailbox ? d[i].mailbox : "INBOX", 0,
					junk ? "$Junk" : "", blob_id, &d[i]))
				stored++;
		}
		for (size_t r = 0; r < d[i].nremote && fine; r++)
			fine = queue_insert(s, &d[i], &d[i].remote[r], blob_id);
		ok[i] = stored > 0 || d[i].nremote > 0;
		/* The Sent copy only with the message itself: a refused message is retried by the
		 * client, and must not leave a copy each time. Missing Sent mailbox: no copy. */
		size_t copies = stored + d[i].nremote;
		if (ok[i] && d[i].sent_account_id) {
			if (deliver_one(s, sent, bump, ins, usage, d[i].sent_account_id, "\\Sent",
					STORE_FLAG_SEEN, "", blob_id, &d[i]))
				copies++;
			else
				log_warn("event=sent-copy-skipped account_id=%lld reason=\"no mailbox "
					 "with the Sent role\"", (long long)d[i].sent_account_id);
		}
		if (copies != wanted) {
			sqlite3_reset(refs);
			sqlite3_bind_int64(refs, 1, (int64_t)copies);
			sqlite3_bind_int64(refs, 2, blob_id);
			sqlite3_step(refs);
		}
		if (copies == 0) {
			sqlite3_reset(unused);
			sqlite3_bind_int64(unused, 1, blob_id);
			sqlite3_step(unused);
		}
	}
	if (!fine)
		buf_printf(err, "database error: %s", sqlite3_errmsg(s->db));
	finish(s, blob);
	finish(s, mbox);
	finish(s, sent);
	finish(s, bump);
	finish(s, ins);
	finish(s, usage);
	finish(s, refs);
	finish(s, unused);
	if (!fine) {
		tx_rollback(s);
		return false;
	}
	/* COMMIT with synchronous=FULL: the WAL is fsync'd before this returns. */
	return tx_commit(s, err);
}

static bool sq_mailbox_messages(struct store *base, const char *address, const char *mailbox,
				store_message_fn fn, void *ctx, struct buf *err)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "SELECT b.id FROM mailboxes b JOIN accounts a"
				      " ON b.account_id = a.id WHERE a.address = lower(?) AND b.name = ?");
	bind_text(st, 1, address);
	bind_text(st, 2, mailbox);
	if (sqlite3_step(st) != SQLITE_ROW) {
		buf_printf(err, "no mailbox %s for %s", mailbox, address);
		finish(s, st);
		return false;
	}
	int64_t mailbox_id = sqlite3_column_int64(st, 0);
	finish(s, st);
	st = prepare(s, "SELECT m.uid, m.modseq, m.internaldate, m.flags, b.data FROM messages m"
			" JOIN blobs b ON m.blob_id = b.id WHERE m.mailbox_id = ? ORDER BY m.uid");
	sqlite3_bind_int64(st, 1, mailbox_id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct store_message m = {
			.uid = sqlite3_column_int64(st, 0),
			.modseq = sqlite3_column_int64(st, 1),
			.internaldate = sqlite3_column_int64(st, 2),
			.flags = (unsigned)sqlite3_column_int(st, 3),
			.data = sqlite3_column_blob(st, 4),
			.len = (size_t)sqlite3_column_bytes(st, 4),
		};
		if (!fn(ctx, &m))
			break;
	}
	finish(s, st);
	return true;
}


static bool sq_device_add(struct store *base, const char *address, const char *label,
			  const char *secret_sha256, struct buf *err)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "INSERT INTO devices(account_id, label, secret_sha256, created)"
				      " SELECT id, ?, ?, ? FROM accounts WHERE address = lower(?)");
	bind_text(st, 1, label);
	bind_text(st, 2, secret_sha256);
	sqlite3_bind_int64(st, 3, clock_now());
	bind_text(st, 4, address);
	return change(s, st, "no such account", err);
}

static bool sq_device_revoke(struct store *base, const char *address, const char *label,
			     struct buf *err)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "DELETE FROM devices WHERE label = ? AND secret_sha256 IS NOT NULL"
				      " AND account_id = (SELECT id FROM accounts WHERE address = lower(?))");
	bind_text(st, 1, label);
	bind_text(st, 2, address);
	return change(s, st, "no app password with that label", err);
}

static void sq_device_list(struct store *base, const char *address, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "SELECT d.label, d.created, d.last_used, d.last_protocol, d.last_ip,"
				      " d.secret_sha256 IS NOT NULL FROM devices d JOIN accounts a"
				      " ON d.account_id = a.id WHERE a.address = lower(?) ORDER BY d.id");
	bind_text(st, 1, address);
	rows(s, st, fn, ctx);
}

static enum store_rc sq_login_lookup(struct store *base, const char *address,
				     const char *secret_sha256, const char *ip,
				     struct login_lookup *out)
{
	struct sqlite_store *s = S(base);
	memset(out, 0, sizeof *out);
	if (sqlite_fault(s, "login_lookup"))
		return STORE_ERROR;
	sqlite3_stmt *st = prepare(s, "SELECT a.id, a.password_hash, a.account_password_on, a.pop3_delete,"
				      " (SELECT id FROM devices WHERE account_id = a.id AND secret_sha256 IS NULL),"
				      " (SELECT id FROM devices WHERE account_id = a.id AND secret_sha256 = ?2),"
				      " (SELECT label FROM devices WHERE account_id = a.id AND secret_sha256 = ?2),"
				      " EXISTS (SELECT 1 FROM devices WHERE account_id = a.id AND last_ip = ?3),"
				      " a.scram FROM accounts a WHERE a.address = lower(?1)");
	bind_text(st, 1, address);
	bind_text(st, 2, secret_sha256);
	bind_text(st, 3, ip);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->account_id = sqlite3_column_int64(st, 0);
		out->password_hash = xstrdup((const char *)sqlite3_column_text(st, 1));
		out->account_password_on = sqlite3_column_int(st, 2) != 0;
		const char *policy = (const char *)sqlite3_column_text(st, 3);
		out->pop3_delete = policy ? xstrdup(policy) : NULL;
		out->account_device_id = sqlite3_column_int64(st, 4);
		out->app_device_id = sqlite3_column_int64(st, 5);
		const char *label = (const char *)sqlite3_column_text(st, 6);
		out->app_device_label = label ? xstrdup(label) : NULL;
		out->known_address = sqlite3_column_int(st, 7) != 0;
		const char *scram = (const char *)sqlite3_column_text(st, 8);
		out->scram = scram ? xstrdup(scram) : NULL;
	}
	enum store_rc result = rc == SQLITE_ROW    ? STORE_OK
			       : rc == SQLITE_DONE ? STORE_NOT_FOUND
						   : read_failed(s, "login_lookup");
	finish(s, st);
	return result;
}

static int64_t sq_credentials_generation(struct store *base)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "SELECT value FROM meta WHERE key = 'credentials'");
	int64_t g = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	finish(s, st);
	return g;
}

static bool sq_device_check(struct store *base, int64_t account_id, int64_t device_id,
			    struct login_lookup *out)
{
	struct sqlite_store *s = S(base);
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st = prepare(s, "SELECT a.password_hash, a.account_password_on, d.secret_sha256 IS NOT NULL"
				      " FROM devices d JOIN accounts a ON a.id = d.account_id"
				      " WHERE d.id = ? AND a.id = ?");
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_int64(st, 2, account_id);
	bool found = sqlite3_step(st) == SQLITE_ROW;
	if (found) {
		out->account_id = account_id;
		out->password_hash = xstrdup((const char *)sqlite3_column_text(st, 0));
		out->account_password_on = sqlite3_column_int(st, 1) != 0;
		if (sqlite3_column_int(st, 2))
			out->app_device_id = device_id;
		else
			out->account_device_id = device_id;
	}
	finish(s, st);
	return found;
}

static char *sq_meta_get_or_add(struct store *base, const char *key, const char *value)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "INSERT OR IGNORE INTO meta VALUES(?, ?)");
	bind_text(st, 1, key);
	bind_text(st, 2, value);
	struct buf err = BUF_INIT;
	if (!change(s, st, NULL, &err))
		log_error("event=meta-write-failed key=%s error=\"%s\"", key, err.data);
	buf_free(&err);
	st = prepare(s, "SELECT value FROM meta WHERE key = ?");
	bind_text(st, 1, key);
	char *v = sqlite3_step(st) == SQLITE_ROW ? xstrdup((const char *)sqlite3_column_text(st, 0))
						   : NULL;
	finish(s, st);
	return v;
}

static void sq_device_touch(struct store *base, int64_t device_id, int64_t when,
			    const char *protocol, const char *ip)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "UPDATE devices SET last_used = ?, last_protocol = ?, last_ip = ?"
				      " WHERE id = ?");
	sqlite3_bind_int64(st, 1, when);
	bind_text(st, 2, protocol);
	bind_text(st, 3, ip);
	sqlite3_bind_int64(st, 4, device_id);
	struct buf err = BUF_INIT;
	if (!change(s, st, NULL, &err))
		log_error("event=device-touch-failed error=\"%s\"", err.data);
	buf_free(&err);
}

static void sq_audit_add(struct store *base, const struct audit_entry *e)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "INSERT INTO audit(time, account, device, protocol, ip, tls, result)"
				      " VALUES(?, lower(?), ?, ?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, e->time);
	bind_text(st, 2, e->account);
	bind_text(st, 3, e->device);
	bind_text(st, 4, e->protocol);
	bind_text(st, 5, e->ip);
	sqlite3_bind_int(st, 6, e->tls);
	bind_text(st, 7, e->result);
	struct buf err = BUF_INIT;
	if (!change(s, st, NULL, &err))
		log_error("event=audit-write-failed error=\"%s\"", err.data);
	buf_free(&err);
}

static void sq_audit_list(struct store *base, const char *address, int64_t limit, store_row_fn fn,
			  void *ctx)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "SELECT time, account, coalesce(device, ''), protocol, ip, tls, result"
				      " FROM (SELECT * FROM audit WHERE ?1 IS NULL OR account = lower(?1)"
				      " ORDER BY id DESC LIMIT ?2) ORDER BY id");
	bind_text(st, 1, address);
	sqlite3_bind_int64(st, 2, limit);
	rows(s, st, fn, ctx);
}

static bool sq_account_set(struct store *base, const char *address, const char *key,
			   const char *value, struct buf *err)
{
	struct sqlite_store *s = S(base);
	const char *sql;
	if (strcmp(key, "pop3-delete") == 0)
		sql = "UPDATE accounts SET pop3_delete = ? WHERE address = lower(?)";
	else if (strcmp(key, "keep-days") == 0)
		sql = "UPDATE accounts SET keep_days = CAST(? AS INTEGER) WHERE address = lower(?)";
	else if (strcmp(key, "account-password") == 0)
		sql = "UPDATE accounts SET account_password_on = (? = 'on') WHERE address = lower(?)";
	else if (strcmp(key, "save-sent") == 0)
		sql = "UPDATE accounts SET save_sent = (? = 'on') WHERE address = lower(?)";
	else if (strcmp(key, "spam") == 0)
		sql = "UPDATE accounts SET spam = (? = 'on') WHERE address = lower(?)";
	else if (strcmp(key, "spam-threshold") == 0)
		sql = "UPDATE accounts SET spam_threshold = CAST(? AS REAL) WHERE address = lower(?)";
	else {
		buf_printf(err, "unknown account setting %s", key);
		return false;
	}
	sqlite3_stmt *st = prepare(s, sql);
	bind_text(st, 1, value);
	bind_text(st, 2, address);
	return change(s, st, "no such account", err);
}

static int64_t sq_account_messages(struct store *base, int64_t account_id)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "SELECT count(*) FROM messages m JOIN mailboxes b"
				      " ON m.mailbox_id = b.id WHERE b.account_id = ?");
	sqlite3_bind_int64(st, 1, account_id);
	int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	finish(s, st);
	return n;
}

static void sq_deleted_kept(struct store *base, int64_t account_id, int64_t *count, int64_t *bytes)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "SELECT count(*), coalesce(sum(m.size), 0) FROM messages m"
				      " JOIN mailboxes b ON m.mailbox_id = b.id WHERE b.account_id = ?"
				      " AND EXISTS (SELECT 1 FROM pop3_deleted d WHERE d.message_id = m.id)");
	sqlite3_bind_int64(st, 1, account_id);
	*count = *bytes = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*count = sqlite3_column_int64(st, 0);
		*bytes = sqlite3_column_int64(st, 1);
	}
	finish(s, st);
}

static enum store_rc sq_pop3_maildrop(struct store *base, int64_t account_id, int64_t device_id,
				      struct maildrop_entry **out, size_t *n)
{
	struct sqlite_store *s = S(base);
	*out = NULL;
	*n = 0;
	if (sqlite_fault(s, "pop3_maildrop"))
		return STORE_ERROR;
	sqlite3_stmt *st = prepare(s, "SELECT m.id, b.uidvalidity, m.uid, m.size FROM messages m"
				      " JOIN mailboxes b ON m.mailbox_id = b.id"
				      " WHERE b.account_id = ? AND b.name = 'INBOX' AND NOT EXISTS"
				      " (SELECT 1 FROM pop3_deleted d WHERE d.message_id = m.id AND d.device_id = ?)"
				      " ORDER BY m.uid");
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int64(st, 2, device_id);
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			*out = xrealloc(*out, cap * sizeof **out);
		}
		struct maildrop_entry *e = &(*out)[(*n)++];
		e->message_id = sqlite3_column_int64(st, 0);
		e->uidvalidity = sqlite3_column_int64(st, 1);
		e->uid = sqlite3_column_int64(st, 2);
		e->size = sqlite3_column_int64(st, 3);
	}
	enum store_rc r = rc == SQLITE_DONE ? STORE_OK : read_failed(s, "pop3_maildrop");
	finish(s, st);
	if (r != STORE_OK) {
		free(*out); /* half a maildrop is no maildrop */
		*out = NULL;
		*n = 0;
	}
	return r;
}

static enum store_rc sq_message_read(struct store *base, int64_t message_id, struct buf *out)
{
	struct sqlite_store *s = S(base);
	if (sqlite_fault(s, "message_read"))
		return STORE_ERROR;
	sqlite3_stmt *st = prepare(s, "SELECT b.data FROM messages m JOIN blobs b ON m.blob_id = b.id"
				      " WHERE m.id = ?");
	sqlite3_bind_int64(st, 1, message_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		buf_append(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
	enum store_rc r = rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND
							    : read_failed(s, "message_read");
	finish(s, st);
	return r;
}

/* The test hook: a read fails while the file named by $YUBIN_FAULT_FILE exists and is empty
 * or names that read (one name per line, e.g. "mailbox_scan"). Checked on every read so a
 * test can switch it on and off under a running server; a client cannot reach it. */
bool sqlite_fault(struct sqlite_store *s, const char *what)
{
	if (!s->fault_file)
		return false;
	FILE *f = fopen(s->fault_file, "r");
	if (!f)
		return false;
	char line[128];
	bool fail = true, any = false;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		if (!any)
			fail = false;
		any = true;
		if (strcmp(line, what) == 0)
			fail = true;
	}
	fclose(f);
	if (fail)
		log_error("event=store-read-failed what=%s error=\"injected fault\"", what);
	return fail;
}

/* Messages every device of their account has deleted (account_id 0: every account). */
static const char fully_deleted_sql[] =
	"INSERT OR IGNORE INTO temp.doomed SELECT m.id FROM messages m"
	" JOIN mailboxes b ON m.mailbox_id = b.id JOIN accounts a ON b.account_id = a.id"
	" WHERE (?1 = 0 OR a.id = ?1)"
	" AND EXISTS (SELECT 1 FROM pop3_deleted d WHERE d.message_id = m.id)"
	" AND NOT EXISTS (SELECT 1 FROM devices v WHERE v.account_id = a.id"
	"  AND (v.secret_sha256 IS NOT NULL OR a.account_password_on)"
	"  AND NOT EXISTS (SELECT 1 FROM pop3_deleted d WHERE d.message_id = m.id AND d.device_id = v.id))";

/* Removes every message listed in temp.doomed for everybody, keeping usage, blob
 * references and MODSEQ right. Inside the caller's transaction. */
bool sqlite_expunge_doomed(struct sqlite_store *s, struct buf *err)
{
	return exec(s,
		    "UPDATE accounts SET used = used - (SELECT coalesce(sum(m.size), 0) FROM messages m"
		    " JOIN mailboxes b ON m.mailbox_id = b.id WHERE b.account_id = accounts.id"
		    " AND m.id IN temp.doomed) WHERE id IN (SELECT b.account_id FROM messages m"
		    " JOIN mailboxes b ON m.mailbox_id = b.id WHERE m.id IN temp.doomed);"
		    "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id IN"
		    " (SELECT mailbox_id FROM messages WHERE id IN temp.doomed);"
		    "INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) SELECT m.mailbox_id, m.uid,"
		    " b.highestmodseq FROM messages m JOIN mailboxes b ON m.mailbox_id = b.id"
		    " WHERE m.id IN temp.doomed;"
		    /* References counted per blob from the doomed rows first: messages has no
		     * index on blob_id, so a count per blob would scan it once per blob (a MOVE
		     * of 50,000 messages: minutes on the writer, which every delivery waits for). */
		    "CREATE TEMP TABLE IF NOT EXISTS doomed_blobs(id INTEGER PRIMARY KEY, n INTEGER);"
		    "DELETE FROM temp.doomed_blobs;"
		    "INSERT INTO temp.doomed_blobs SELECT m.blob_id, count(*) FROM temp.doomed d"
		    " JOIN messages m ON m.id = d.id GROUP BY m.blob_id;"
		    "UPDATE blobs SET refs = refs - (SELECT n FROM temp.doomed_blobs r WHERE r.id = blobs.id)"
		    " WHERE id IN (SELECT id FROM temp.doomed_blobs);"
		    "DELETE FROM pop3_deleted WHERE message_id IN temp.doomed;"
		    "DELETE FROM messages WHERE id IN temp.doomed;"
		    "DELETE FROM blobs WHERE id IN (SELECT id FROM temp.doomed_blobs) AND refs <= 0;",
		    err);
}

bool sqlite_doomed_reset(struct sqlite_store *s, struct buf *err)
{
	return exec(s, "CREATE TEMP TABLE IF NOT EXISTS doomed(id INTEGER PRIMARY KEY);"
		       "DELETE FROM temp.doomed;", err);
}

static bool sq_pop3_delete(struct store *base, int64_t account_id, int64_t device_id,
			   const int64_t *ids, size_t n, bool expunge, int64_t now, struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (!tx_begin(s, err))
		return false;
	bool ok = sqlite_doomed_reset(s, err);
	/* Only messages of this account's INBOX: a session can never touch another account. */
	sqlite3_stmt *st = prepare(s, expunge
		? "INSERT OR IGNORE INTO temp.doomed SELECT m.id FROM messages m JOIN mailboxes b"
		  " ON m.mailbox_id = b.id WHERE m.id = ?1 AND b.account_id = ?2"
		: "INSERT OR IGNORE INTO pop3_deleted(message_id, device_id, deleted_at)"
		  " SELECT m.id, ?3, ?4 FROM messages m JOIN mailboxes b ON m.mailbox_id = b.id"
		  " WHERE m.id = ?1 AND b.account_id = ?2");
	for (size_t i = 0; ok && i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, ids[i]);
		sqlite3_bind_int64(st, 2, account_id);
		if (!expunge) {
			sqlite3_bind_int64(st, 3, device_id);
			sqlite3_bind_int64(st, 4, now);
		}
		ok = sqlite3_step(st) == SQLITE_DONE;
	}
	finish(s, st);
	if (ok && !expunge) {
		st = prepare(s, fully_deleted_sql);
		sqlite3_bind_int64(st, 1, account_id);
		ok = sqlite3_step(st) == SQLITE_DONE;
		finish(s, st);
	}
	if (ok)
		ok = sqlite_expunge_doomed(s, err);
	if (!ok) {
		if (!err->len)
			buf_printf(err, "database error: %s", sqlite3_errmsg(s->db));
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}

static int64_t sq_expire(struct store *base, int64_t now, int64_t default_keep_days)
{
	struct sqlite_store *s = S(base);
	struct buf err = BUF_INIT;
	if (!tx_begin(s, &err)) {
		log_error("event=expire-failed error=\"%s\"", err.data);
		buf_free(&err);
		return -1;
	}
	bool ok = sqlite_doomed_reset(s, &err);
	sqlite3_stmt *st = prepare(s, fully_deleted_sql);
	sqlite3_bind_int64(st, 1, 0);
	ok = ok && sqlite3_step(st) == SQLITE_DONE;
	finish(s, st);
	st = prepare(s, "INSERT OR IGNORE INTO temp.doomed SELECT m.id FROM messages m"
			" JOIN mailboxes b ON m.mailbox_id = b.id JOIN accounts a ON b.account_id = a.id"
			" WHERE coalesce(a.keep_days, ?2) > 0 AND (SELECT min(deleted_at) FROM pop3_deleted d"
			" WHERE d.message_id = m.id) <= ?1 - coalesce(a.keep_days, ?2) * 86400");
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, default_keep_days);
	ok = ok && sqlite3_step(st) == SQLITE_DONE;
	finish(s, st);
	int64_t count = 0;
	st = prepare(s, "SELECT count(*) FROM temp.doomed");
	if (ok && sqlite3_step(st) == SQLITE_ROW)
		count = sqlite3_column_int64(st, 0);
	finish(s, st);
	ok = ok && sqlite_expunge_doomed(s, &err);
	if (!ok || !tx_commit(s, &err)) {
		log_error("event=expire-failed error=\"%s\"", err.len ? err.data : sqlite3_errmsg(s->db));
		tx_rollback(s);
		count = -1;
	}
	buf_free(&err);
	return count;
}

/* Each query returns rows describing a broken invariant. */
static const struct {
	const char *what;
	const char *sql;
} invariants[] = {
	{ "uid at or above its mailbox's uidnext",
	  "SELECT m.id FROM messages m JOIN mailboxes b ON m.mailbox_id = b.id WHERE m.uid >= b.uidnext" },
	{ "modseq above its mailbox's highestmodseq",
	  "SELECT m.id FROM messages m JOIN mailboxes b ON m.mailbox_id = b.id"
	  " WHERE m.modseq > b.highestmodseq" },
	{ "message whose blob is missing",
	  "SELECT m.id FROM messages m LEFT JOIN blobs b ON m.blob_id = b.id WHERE b.id IS NULL" },
	{ "message size differs from its blob",
	  "SELECT m.id FROM messages m JOIN blobs b ON m.blob_id = b.id"
	  " WHERE m.size != b.size OR b.size != length(b.data)" },
	{ "blob reference count wrong",
	  "SELECT b.id FROM blobs b WHERE b.refs != (SELECT count(*) FROM messages m WHERE m.blob_id = b.id)"
	  " + (SELECT count(*) FROM queue q WHERE q.blob_id = b.id)" },
	{ "queue entry without recipients",
	  "SELECT q.id FROM queue q WHERE NOT EXISTS (SELECT 1 FROM queue_rcpt r WHERE r.queue_id = q.id)" },
	{ "account usage differs from the sum of its messages",
	  "SELECT a.id FROM accounts a WHERE a.used != (SELECT coalesce(sum(m.size), 0) FROM messages m"
	  " JOIN mailboxes b ON m.mailbox_id = b.id WHERE b.account_id = a.id)" },
	{ "account without INBOX",
	  "SELECT a.id FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM mailboxes b"
	  " WHERE b.account_id = a.id AND b.name = 'INBOX')" },
	{ "deletion mark of a missing message",
	  "SELECT d.message_id FROM pop3_deleted d LEFT JOIN messages m ON d.message_id = m.id"
	  " WHERE m.id IS NULL" },
	{ "account without its account-password device",
	  "SELECT a.id FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM devices d"
	  " WHERE d.account_id = a.id AND d.secret_sha256 IS NULL)" },
	{ "mailbox of a missing account",
	  "SELECT b.id FROM mailboxes b LEFT JOIN accounts a ON b.account_id = a.id WHERE a.id IS NULL" },
};

static bool sq_check(struct store *base, struct buf *report, int64_t *nmessages,
		     int64_t *nmailboxes)
{
	struct sqlite_store *s = S(base);
	bool ok = true;
	sqlite3_stmt *st = prepare(s, "PRAGMA integrity_check");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);
		if (r && strcmp(r, "ok") != 0) {
			buf_printf(report, "database integrity: %s\n", r);
			ok = false;
		}
	}
	finish(s, st);
	for (size_t i = 0; i < sizeof invariants / sizeof invariants[0]; i++) {
		st = prepare(s, invariants[i].sql);
		int64_t count = 0;
		while (sqlite3_step(st) == SQLITE_ROW)
			count++;
		finish(s, st);
		if (count) {
			buf_printf(report, "%lld x %s\n", (long long)count, invariants[i].what);
			ok = false;
		}
	}
	st = prepare(s, "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM mailboxes)");
	if (sqlite3_step(st) == SQLITE_ROW) {
		*nmessages = sqlite3_column_int64(st, 0);
		*nmailboxes = sqlite3_column_int64(st, 1);
	}
	finish(s, st);
	return ok;
}

static const struct store_ops sqlite_ops = {
	.close = sq_close,
	.batch_begin = sq_batch_begin,
	.batch_intact = sq_batch_intact,
	.batch_end = sq_batch_end,
	.domain_add = sq_domain_add,
	.domain_del = sq_domain_del,
	.domain_exists = sq_domain_exists,
	.domain_set_catchall = sq_domain_set_catchall,
	.domain_list = sq_domain_list,
	.account_add = sq_account_add,
	.account_del = sq_account_del,
	.account_set_password = sq_account_set_password,
	.account_get = sq_account_get,
	.account_list = sq_account_list,
	.alias_add = sq_alias_add,
	.alias_del = sq_alias_del,
	.alias_targets = sq_alias_targets,
	.alias_list = sq_alias_list,
	.deliver_batch = sq_deliver_batch,
	.mailbox_messages = sq_mailbox_messages,
	.check = sq_check,
	.device_add = sq_device_add,
	.device_revoke = sq_device_revoke,
	.device_list = sq_device_list,
	.login_lookup = sq_login_lookup,
	.credentials_generation = sq_credentials_generation,
	.device_check = sq_device_check,
	.meta_get_or_add = sq_meta_get_or_add,
	.device_touch = sq_device_touch,
	.audit_add = sq_audit_add,
	.audit_list = sq_audit_list,
	.account_set = sq_account_set,
	.deleted_kept = sq_deleted_kept,
	.account_messages = sq_account_messages,
	.pop3_maildrop = sq_pop3_maildrop,
	.message_read = sq_message_read,
	.pop3_delete = sq_pop3_delete,
	.expire = sq_expire,
	.mailbox_list = sqlite_mailbox_list,
	.mailbox_get = sqlite_mailbox_get,
	.mailbox_create = sqlite_mailbox_create,
	.mailbox_delete = sqlite_mailbox_delete,
	.mailbox_rename = sqlite_mailbox_rename,
	.mailbox_subscribe = sqlite_mailbox_subscribe,
	.mailbox_scan = sqlite_mailbox_scan,
	.message_structure = sqlite_message_structure,
	.mailbox_vanished = sqlite_mailbox_vanished,
	.messages_set_flags = sqlite_messages_set_flags,
	.messages_expunge = sqlite_messages_expunge,
	.messages_copy = sqlite_messages_copy,
	.message_append = sqlite_message_append,
	.queue_all = sqlite_queue_all,
	.queue_get = sqlite_queue_get,
	.queue_message = sqlite_queue_message,
	.queue_retry = sqlite_queue_retry,
	.queue_delete = sqlite_queue_delete,
	.queue_due_domains = sqlite_queue_due_domains,
	.queue_due_domain = sqlite_queue_due_domain,
	.queue_postpone = sqlite_queue_postpone,
	.queue_update_many = sqlite_queue_update_many,
	.dmarc_report_add = sqlite_dmarc_report_add,
	.dmarc_summary = sqlite_dmarc_summary,
	.dmarc_observe = sqlite_dmarc_observe,
	.dmarc_pending = sqlite_dmarc_pending,
	.dmarc_reported = sqlite_dmarc_reported,
	.spam_settings = sqlite_spam_settings,
	.domain_set = sqlite_domain_set,
	.spam_list_set = sqlite_spam_list_set,
	.spam_list_rows = sqlite_spam_list_rows,
	.spam_overrides = sqlite_spam_overrides,
	.spam_count = sqlite_spam_count,
	.spam_counts = sqlite_spam_counts,
};

static bool column_exists(struct sqlite_store *s, const char *table, const char *column)
{
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT 1 FROM pragma_table_info('%s') WHERE name = ?", table);
	sqlite3_stmt *st = prepare(s, sql);
	bind_text(st, 1, column);
	bool found = sqlite3_step(st) == SQLITE_ROW;
	finish(s, st);
	return found;
}

/* Brings an older store up to this schema; a no-op when it is current. */
static bool migrate(struct sqlite_store *s, struct buf *err)
{
	sqlite3_stmt *st = prepare(s, "SELECT value FROM meta WHERE key = 'schema'");
	bool current = sqlite3_step(st) == SQLITE_ROW &&
		       strcmp((const char *)sqlite3_column_text(st, 0), SCHEMA_VERSION) == 0;
	finish(s, st);
	if (current)
		return true;
	if (!tx_begin(s, err))
		return false;
	for (size_t i = 0; i < sizeof added_columns / sizeof added_columns[0]; i++)
		if (!column_exists(s, added_columns[i].table, added_columns[i].column) &&
		    !exec(s, added_columns[i].ddl, err)) {
			tx_rollback(s);
			return false;
		}
	if (!exec(s, schema, err) ||
	    !exec(s, "INSERT INTO devices(account_id, label, created) SELECT id, 'account password',"
		     " created FROM accounts WHERE id NOT IN (SELECT account_id FROM devices"
		     " WHERE secret_sha256 IS NULL);"
		     "UPDATE meta SET value = '" SCHEMA_VERSION "' WHERE key = 'schema'", err)) {
		tx_rollback(s);
		return false;
	}
	st = prepare(s, special_folders_sql);
	sqlite3_bind_int64(st, 1, clock_now());
	sqlite3_bind_int64(st, 2, 0);
	if (!change(s, st, NULL, err)) {
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}

struct store *store_open_sqlite(const char *data_dir, bool create, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/store.db", data_dir);
	struct sqlite_store *s = xcalloc(1, sizeof *s);
	s->base.ops = &sqlite_ops;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path.data, &s->db, flags, NULL) != SQLITE_OK) {
		buf_printf(err, "cannot open the store %s: %s%s", path.data, sqlite3_errmsg(s->db),
			   create ? "" : " (run yubin init first?)");
		sqlite3_close(s->db);
		free(s);
		buf_free(&path);
		return NULL;
	}
	buf_free(&path);
	const char *fault = getenv("YUBIN_FAULT_FILE");
	if (fault && fault[0])
		s->fault_file = xstrdup(fault);
	sqlite3_busy_timeout(s->db, 10000);
	sqlite_checkpoint_attach(s->db);
	/* journal_size_limit: a WAL that grew under load is cut back when it starts over. */
	if (!exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
		     "PRAGMA journal_size_limit=67108864;", err) ||
	    (create && !exec(s, schema, err)) || !migrate(s, err)) {
		stmt_cache_clear(s);
		sqlite3_close(s->db);
		free(s->fault_file);
		free(s);
		return NULL;
	}
	return &s->base;
}

void account_free(struct account *a)
{
	free(a->address);
	free(a->password_hash);
	free(a->pop3_delete);
	free(a->scram);
	a->address = a->password_hash = a->pop3_delete = a->scram = NULL;
}

void login_lookup_free(struct login_lookup *l)
{
	free(l->password_hash);
	free(l->app_device_label);
	free(l->pop3_delete);
	free(l->scram);
	l->password_hash = l->app_device_label = l->pop3_delete = l->scram = NULL;
}
