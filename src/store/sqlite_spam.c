/* Spam settings in the SQLite store: scanning and the Junk threshold per account and per
 * domain (columns of accounts and domains), the senders each allows or blocks (spam_senders),
 * and the outcomes of scans counted per UTC day (spam_counts). */
#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#include "store/sqlite_internal.h"

static const char *domain_of(const char *address)
{
	const char *at = address ? strrchr(address, '@') : NULL;
	return at ? at + 1 : "";
}

/* "@domain" of an address, lower case, for the list lookup ("" without a domain). */
static void at_domain(const char *address, char *out, size_t len)
{
	const char *d = domain_of(address);
	if (!*d) {
		out[0] = '\0';
		return;
	}
	snprintf(out, len, "@%s", d);
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

/* On a list, the account's own entries beat its domain's, and an address beats its @domain;
 * at the same rank a block beats an allow (a sender cannot allow itself past a block by
 * putting an allowed address in the other of envelope and From). */
static int list_rank(const char *scope, const char *account, const char *sender)
{
	return (strcasecmp(scope, account) == 0 ? 2 : 0) + (sender[0] != '@');
}

enum store_rc sqlite_spam_settings(struct store *base, int64_t account_id, const char *env_sender,
				   const char *header_from, struct spam_settings *out)
{
	struct sqlite_store *s = S(base);
	out->scan = -1;
	out->threshold = -1;
	out->list = SPAM_LIST_NONE;
	sqlite3_stmt *st = prepare(s, "SELECT a.address, a.spam, a.spam_threshold FROM accounts a"
				      " WHERE a.id = ?");
	sqlite3_bind_int64(st, 1, account_id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		finish(s, st);
		return rc == SQLITE_DONE ? STORE_NOT_FOUND : read_failed(s, "spam_settings");
	}
	char *account = xstrdup((const char *)sqlite3_column_text(st, 0));
	if (sqlite3_column_type(st, 1) != SQLITE_NULL)
		out->scan = sqlite3_column_int(st, 1);
	if (sqlite3_column_type(st, 2) != SQLITE_NULL)
		out->threshold = sqlite3_column_double(st, 2);
	finish(s, st);
	const char *domain = domain_of(account);
	enum store_rc result = STORE_OK;
	if (out->scan < 0 || out->threshold < 0) {
		st = prepare(s, "SELECT spam, spam_threshold FROM domains WHERE name = lower(?)");
		bind_text(st, 1, domain);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			if (out->scan < 0 && sqlite3_column_type(st, 0) != SQLITE_NULL)
				out->scan = sqlite3_column_int(st, 0);
			if (out->threshold < 0 && sqlite3_column_type(st, 1) != SQLITE_NULL)
				out->threshold = sqlite3_column_double(st, 1);
		} else if (rc != SQLITE_DONE) {
			result = read_failed(s, "spam_settings");
		}
		finish(s, st);
	}
	char env_dom[300], from_dom[300];
	at_domain(env_sender, env_dom, sizeof env_dom);
	at_domain(header_from, from_dom, sizeof from_dom);
	st = prepare(s, "SELECT scope, sender, list FROM spam_senders WHERE scope IN (lower(?1),"
			" lower(?2)) AND sender IN (lower(?3), ?4, lower(?5), ?6)");
	bind_text(st, 1, account);
	bind_text(st, 2, domain);
	bind_text(st, 3, env_sender && *env_sender ? env_sender : "\x01");
	bind_text(st, 4, env_dom[0] ? env_dom : "\x01");
	bind_text(st, 5, header_from && *header_from ? header_from : "\x01");
	bind_text(st, 6, from_dom[0] ? from_dom : "\x01");
	int best = -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *scope = (const char *)sqlite3_column_text(st, 0);
		const char *sender = (const char *)sqlite3_column_text(st, 1);
		const char *list = (const char *)sqlite3_column_text(st, 2);
		enum spam_list l = strcmp(list, "block") == 0 ? SPAM_LIST_BLOCK : SPAM_LIST_ALLOW;
		int rank = list_rank(scope, account, sender);
		if (rank > best || (rank == best && l == SPAM_LIST_BLOCK)) {
			best = rank;
			out->list = l;
		}
	}
	if (rc != SQLITE_DONE)
		result = read_failed(s, "spam_settings");
	finish(s, st);
	free(account);
	return result;
}

bool sqlite_domain_set(struct store *base, const char *domain, const char *key, const char *value,
		       struct buf *err)
{
	struct sqlite_store *s = S(base);
	const char *sql;
	if (strcmp(key, "spam") == 0)
		sql = "UPDATE domains SET spam = (? = 'on') WHERE name = lower(?)";
	else if (strcmp(key, "spam-threshold") == 0)
		sql = "UPDATE domains SET spam_threshold = CAST(? AS REAL) WHERE name = lower(?)";
	else {
		buf_printf(err, "unknown domain setting %s", key);
		return false;
	}
	sqlite3_stmt *st = prepare(s, sql);
	bind_text(st, 1, value);
	bind_text(st, 2, domain);
	return change(s, st, "no such domain", err);
}

bool sqlite_spam_list_set(struct store *base, const char *scope, const char *sender,
			  enum spam_list list, struct buf *err)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st;
	if (list == SPAM_LIST_NONE) {
		st = prepare(s, "DELETE FROM spam_senders WHERE scope = lower(?) AND sender = lower(?)");
		bind_text(st, 1, scope);
		bind_text(st, 2, sender);
		return change(s, st, "it is on neither list", err);
	}
	st = prepare(s, "INSERT INTO spam_senders(scope, sender, list) VALUES(lower(?), lower(?), ?)"
			" ON CONFLICT(scope, sender) DO UPDATE SET list = excluded.list");
	bind_text(st, 1, scope);
	bind_text(st, 2, sender);
	bind_text(st, 3, list == SPAM_LIST_BLOCK ? "block" : "allow");
	return change(s, st, NULL, err);
}

void sqlite_spam_list_rows(struct store *base, const char *scope, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "SELECT scope, sender, list FROM spam_senders"
				      " WHERE ?1 IS NULL OR scope = lower(?1) ORDER BY scope, list, sender");
	bind_text(st, 1, scope);
	rows(s, st, fn, ctx);
}

void sqlite_spam_overrides(struct store *base, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = S(base);
	rows(s, prepare(s, "SELECT 'domain', name, CASE spam WHEN 1 THEN 'on' WHEN 0 THEN 'off'"
			   " ELSE '' END, coalesce(spam_threshold, '') FROM domains"
			   " WHERE spam IS NOT NULL OR spam_threshold IS NOT NULL"
			   " UNION ALL SELECT 'account', address, CASE spam WHEN 1 THEN 'on'"
			   " WHEN 0 THEN 'off' ELSE '' END, coalesce(spam_threshold, '') FROM accounts"
			   " WHERE spam IS NOT NULL OR spam_threshold IS NOT NULL ORDER BY 1 DESC, 2"),
	     fn, ctx);
}

bool sqlite_spam_count(struct store *base, int64_t day, const char *outcome, struct buf *err)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "INSERT INTO spam_counts(day, outcome, count) VALUES(?, ?, 1)"
				      " ON CONFLICT(day, outcome) DO UPDATE SET count = count + 1");
	sqlite3_bind_int64(st, 1, day);
	bind_text(st, 2, outcome);
	return change(s, st, NULL, err);
}

void sqlite_spam_counts(struct store *base, int64_t since_day, int64_t today, store_row_fn fn,
			void *ctx)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s, "SELECT outcome, sum(count), sum(CASE WHEN day = ?2 THEN count"
				      " ELSE 0 END) FROM spam_counts WHERE day >= ?1 GROUP BY outcome"
				      " ORDER BY outcome");
	sqlite3_bind_int64(st, 1, since_day);
	sqlite3_bind_int64(st, 2, today);
	rows(s, st, fn, ctx);
}
