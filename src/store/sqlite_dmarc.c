/* DMARC aggregate reports in the SQLite store: the records of reports other providers sent us
 * (dmarc_received), what our inbound checks saw for the reports we send (dmarc_observed, one
 * row per distinct outcome per day with a count, so a busy day is not a row per message), and
 * when each domain was last sent one (dmarc_sent). */
#include <stdio.h>

#include "mailauth/dmarc_report.h"
#include "store/sqlite_internal.h"

static const char *nz(const char *s)
{
	return s ? s : "";
}

bool sqlite_dmarc_report_add(struct store *base, const struct dmarc_report *r, int64_t received,
			     struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (!tx_begin(s, err))
		return false;
	sqlite3_stmt *st = prepare(s, "SELECT 1 FROM dmarc_received WHERE org = ? AND report_id = ?"
				      " LIMIT 1");
	bind_text(st, 1, nz(r->org_name));
	bind_text(st, 2, nz(r->report_id));
	bool dup = sqlite3_step(st) == SQLITE_ROW;
	finish(s, st);
	if (dup) {
		tx_rollback(s);
		buf_printf(err, "already stored (the same report came twice)");
		return false;
	}
	st = prepare(s, "INSERT INTO dmarc_received(received, org, report_id, domain, policy, begin,"
			" end, source_ip, count, disposition, dkim, spf, header_from, dkim_domain,"
			" dkim_result, spf_domain, spf_result)"
			" VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	bool ok = true;
	for (size_t i = 0; i < r->nrecords && ok; i++) {
		const struct dmarc_report_record *c = &r->records[i];
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, received);
		bind_text(st, 2, nz(r->org_name));
		bind_text(st, 3, nz(r->report_id));
		bind_text(st, 4, nz(r->domain));
		bind_text(st, 5, nz(r->p));
		sqlite3_bind_int64(st, 6, r->begin);
		sqlite3_bind_int64(st, 7, r->end);
		bind_text(st, 8, nz(c->source_ip));
		sqlite3_bind_int64(st, 9, c->count);
		bind_text(st, 10, nz(c->disposition));
		bind_text(st, 11, nz(c->dkim));
		bind_text(st, 12, nz(c->spf));
		bind_text(st, 13, nz(c->header_from));
		bind_text(st, 14, nz(c->dkim_domain));
		bind_text(st, 15, nz(c->dkim_result));
		bind_text(st, 16, nz(c->spf_domain));
		bind_text(st, 17, nz(c->spf_result));
		ok = sqlite3_step(st) == SQLITE_DONE;
	}
	if (!ok)
		buf_printf(err, "database error: %s", sqlite3_errmsg(s->db));
	finish(s, st);
	if (!ok) {
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}

void sqlite_dmarc_summary(struct store *base, const char *domain, int64_t since, store_row_fn fn,
			  void *ctx)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s,
		"SELECT domain, source_ip, SUM(count),"
		" SUM(CASE WHEN dkim = 'pass' THEN count ELSE 0 END),"
		" SUM(CASE WHEN spf = 'pass' THEN count ELSE 0 END),"
		" SUM(CASE WHEN dkim <> 'pass' AND spf <> 'pass' THEN count ELSE 0 END),"
		" SUM(CASE WHEN disposition = 'quarantine' THEN count ELSE 0 END),"
		" SUM(CASE WHEN disposition = 'reject' THEN count ELSE 0 END),"
		" GROUP_CONCAT(DISTINCT org), MIN(begin), MAX(end), GROUP_CONCAT(DISTINCT header_from),"
		" COUNT(DISTINCT org || ' ' || report_id)"
		" FROM dmarc_received WHERE end >= ?1 AND (?2 IS NULL OR domain = ?2)"
		" GROUP BY domain, source_ip ORDER BY domain, SUM(count) DESC, source_ip");
	sqlite3_bind_int64(st, 1, since);
	bind_text(st, 2, domain);
	rows(s, st, fn, ctx);
}

bool sqlite_dmarc_observe(struct store *base, const struct dmarc_observation *o, struct buf *err)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s,
		"INSERT INTO dmarc_observed(domain, day, source_ip, header_from, envelope_from,"
		" disposition, dkim, spf, dkim_domain, dkim_selector, dkim_result, spf_domain,"
		" spf_scope, spf_result, p, sp, adkim, aspf, pct, rua, count, first, last)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
		" ?18, ?19, ?20, 1, ?21, ?21)"
		" ON CONFLICT(domain, day, source_ip, header_from, envelope_from, disposition, dkim,"
		" spf, dkim_domain, dkim_selector, dkim_result, spf_domain, spf_scope, spf_result)"
		" DO UPDATE SET count = count + 1, last = MAX(last, excluded.last), p = excluded.p,"
		" sp = excluded.sp, adkim = excluded.adkim, aspf = excluded.aspf,"
		" pct = excluded.pct, rua = excluded.rua");
	const char *text[] = {
		o->policy_domain, NULL, o->source_ip, o->header_from, o->envelope_from,
		o->disposition ? o->disposition : "none", o->dkim_aligned ? o->dkim_aligned : "fail",
		o->spf_aligned ? o->spf_aligned : "fail", o->dkim_domain, o->dkim_selector,
		o->dkim_result ? o->dkim_result : "none", o->spf_domain,
		o->spf_scope ? o->spf_scope : "mfrom", o->spf_result ? o->spf_result : "none",
		o->p ? o->p : "none", o->sp ? o->sp : (o->p ? o->p : "none"),
		o->adkim ? o->adkim : "r", o->aspf ? o->aspf : "r", NULL, o->rua,
	};
	for (int i = 0; i < 20; i++)
		if (i != 1 && i != 18)
			bind_text(st, i + 1, nz(text[i]));
	sqlite3_bind_int64(st, 2, o->time / 86400);
	sqlite3_bind_int64(st, 19, o->pct);
	sqlite3_bind_int64(st, 21, o->time);
	return change(s, st, NULL, err);
}

static char *col(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return xstrdup(t ? t : "");
}

bool sqlite_dmarc_pending(struct store *base, int64_t cutoff_day, int64_t sent_before,
			  size_t max_domains, size_t max_records,
			  bool (*fn)(void *ctx, struct dmarc_report *r, const char *rua), void *ctx)
{
	struct sqlite_store *s = S(base);
	sqlite3_stmt *st = prepare(s,
		"SELECT domain FROM dmarc_observed o WHERE day < ?1 AND NOT EXISTS"
		" (SELECT 1 FROM dmarc_sent t WHERE t.domain = o.domain AND t.last >= ?2)"
		" GROUP BY domain ORDER BY MIN(first) LIMIT ?3");
	sqlite3_bind_int64(st, 1, cutoff_day);
	sqlite3_bind_int64(st, 2, sent_before);
	sqlite3_bind_int64(st, 3, (int64_t)max_domains);
	char **domains = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		domains = xrealloc(domains, (n + 1) * sizeof *domains);
		domains[n++] = col(st, 0);
	}
	finish(s, st);
	bool ok = rc == SQLITE_DONE, go_on = true;
	if (!ok)
		read_failed(s, "dmarc_pending");
	for (size_t i = 0; i < n && ok && go_on; i++) {
		struct dmarc_report r;
		memset(&r, 0, sizeof r);
		char *rua = NULL;
		st = prepare(s, "SELECT p, sp, adkim, aspf, pct, rua,"
				" (SELECT MIN(first) FROM dmarc_observed WHERE domain = ?1 AND day < ?2),"
				" (SELECT MAX(last) FROM dmarc_observed WHERE domain = ?1 AND day < ?2)"
				" FROM dmarc_observed WHERE domain = ?1 AND day < ?2"
				" ORDER BY last DESC LIMIT 1");
		bind_text(st, 1, domains[i]);
		sqlite3_bind_int64(st, 2, cutoff_day);
		if (sqlite3_step(st) == SQLITE_ROW) {
			r.p = col(st, 0);
			r.sp = col(st, 1);
			r.adkim = col(st, 2);
			r.aspf = col(st, 3);
			r.pct = sqlite3_column_int(st, 4);
			rua = col(st, 5);
			r.begin = sqlite3_column_int64(st, 6);
			r.end = sqlite3_column_int64(st, 7);
		}
		finish(s, st);
		r.domain = xstrdup(domains[i]);
		st = prepare(s, "SELECT source_ip, header_from, envelope_from, disposition, dkim, spf,"
				" dkim_domain, dkim_selector, dkim_result, spf_domain, spf_scope,"
				" spf_result, SUM(count) FROM dmarc_observed WHERE domain = ? AND day < ?"
				" GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12"
				" ORDER BY SUM(count) DESC LIMIT ?");
		bind_text(st, 1, domains[i]);
		sqlite3_bind_int64(st, 2, cutoff_day);
		sqlite3_bind_int64(st, 3, (int64_t)max_records);
		size_t cap = 0;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (r.nrecords == cap) {
				cap = cap ? cap * 2 : 8;
				r.records = xrealloc(r.records, cap * sizeof *r.records);
			}
			struct dmarc_report_record *c = &r.records[r.nrecords++];
			c->source_ip = col(st, 0);
			c->header_from = col(st, 1);
			c->envelope_from = col(st, 2);
			c->disposition = col(st, 3);
			c->dkim = col(st, 4);
			c->spf = col(st, 5);
			c->dkim_domain = col(st, 6);
			c->dkim_selector = col(st, 7);
			c->dkim_result = col(st, 8);
			c->spf_domain = col(st, 9);
			c->spf_scope = col(st, 10);
			c->spf_result = col(st, 11);
			c->count = sqlite3_column_int64(st, 12);
		}
		finish(s, st);
		if (rc != SQLITE_DONE)
			ok = read_failed(s, "dmarc_pending") == STORE_OK;
		else
			go_on = fn(ctx, &r, rua ? rua : "");
		free(rua);
		dmarc_report_free(&r);
	}
	for (size_t i = 0; i < n; i++)
		free(domains[i]);
	free(domains);
	return ok;
}

bool sqlite_dmarc_reported(struct store *base, const char *domain, int64_t cutoff_day,
			   int64_t now, struct buf *err)
{
	struct sqlite_store *s = S(base);
	if (!tx_begin(s, err))
		return false;
	sqlite3_stmt *st = prepare(s, "DELETE FROM dmarc_observed WHERE domain = ? AND day < ?");
	bind_text(st, 1, domain);
	sqlite3_bind_int64(st, 2, cutoff_day);
	bool ok = change(s, st, NULL, err);
	if (ok) {
		st = prepare(s, "INSERT INTO dmarc_sent(domain, last) VALUES(?, ?)"
				" ON CONFLICT(domain) DO UPDATE SET last = excluded.last");
		bind_text(st, 1, domain);
		sqlite3_bind_int64(st, 2, now);
		ok = change(s, st, NULL, err);
	}
	if (!ok) {
		tx_rollback(s);
		return false;
	}
	return tx_commit(s, err);
}
