/* Message commands that change the store: STORE (and FETCH's implicit \Seen), COPY, MOVE,
 * EXPUNGE and APPEND. Each becomes a store job; its complete function here answers, with
 * COPYUID and APPENDUID (RFC 4315) and MODIFIED (RFC 7162). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/job.h"
#include "imap/learn.h"
#include "imap/session.h"
#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "mime/mime.h"

/* "1:3,7" from a sorted list of numbers. */
static void append_uid_set(struct buf *out, const int64_t *v, size_t n)
{
	size_t i = 0;
	bool first = true;
	while (i < n) {
		if (!v[i]) {
			i++;
			continue;
		}
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		buf_printf(out, "%s%lld", first ? "" : ",", (long long)v[i]);
		if (j > i)
			buf_printf(out, ":%lld", (long long)v[j]);
		first = false;
		i = j + 1;
	}
}

static void set_flags_run(struct store *st, struct imap_job *j)
{
	j->ok = st->ops->messages_set_flags(st, j->mailbox_id, j->uids, j->n, j->op, j->flags,
					    j->keywords, j->unchangedsince, &j->failed,
					    &j->nfailed, &j->err);
}

static void store_complete(struct imap_session *s, struct imap_job *j)
{
	imap_sync(s, false);
	if (j->nfailed) {
		struct buf set = BUF_INIT;
		append_uid_set(&set, j->failed, j->nfailed);
		buf_reserve(&set, 0);
		char code[400];
		snprintf(code, sizeof code, "MODIFIED %.380s", set.data);
		imap_tagged(s, s->tag, "OK", code, "Some messages changed since; not stored.");
		buf_free(&set);
	} else {
		imap_tagged(s, s->tag, "OK", NULL, "Flags stored.");
	}
	imap_learn(s, j->learn, j->mailbox_id, j->uids, j->n, j->failed, j->nfailed);
}

/* FETCH's \Seen: the answer is FETCH's. */
static void fetch_seen_complete(struct imap_session *s, struct imap_job *j)
{
	imap_sync(s, false);
	if (j->decode_failed)
		imap_tagged(s, s->tag, "NO", "UNKNOWN-CTE", "Some parts could not be decoded.");
	else
		imap_tagged(s, s->tag, "OK", NULL, "FETCH completed.");
}

void imap_mark_seen(struct imap_session *s, const char *tag, uint32_t *uids, size_t n,
		    bool decode_failed)
{
	struct imap_job *j = imap_job_new(s, set_flags_run, fetch_seen_complete);
	j->uids = xcalloc(n, sizeof *j->uids);
	for (size_t k = 0; k < n; k++)
		j->uids[k] = uids[k];
	j->n = n;
	j->op = STORE_FLAGS_ADD;
	j->flags = STORE_FLAG_SEEN;
	j->unchangedsince = -1;
	j->decode_failed = decode_failed;
	free(s->silent);
	s->silent = uids;
	s->nsilent = n;
	imap_remember_tag(s, tag);
	imap_job_submit(s, j);
}

void imap_cmd_store(struct imap_session *s, const struct imap_command *c, bool uid,
		    const struct imap_arg *args, size_t count)
{
	size_t i = 1;
	int64_t unchangedsince = -1;
	const struct imap_arg *mods;
	size_t nmods;
	if (count >= 2 && imap_arg_get_list(&args[1], &mods, &nmods)) {
		uint64_t v;
		if (nmods != 2 || !imap_arg_atom_equals(&mods[0], "UNCHANGEDSINCE") ||
		    !imap_parse_number64(mods[1].str, mods[1].len, &v)) {
			imap_tagged(s, c->tag, "BAD", NULL, "Syntax: STORE set (UNCHANGEDSINCE n) ...");
			return;
		}
		unchangedsince = (int64_t)v;
		s->condstore = true;
		i = 2;
	}
	if (count != i + 2 || args[0].type != IMAP_ARG_ATOM || args[i].type != IMAP_ARG_ATOM) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: STORE set +FLAGS (\\Seen)");
		return;
	}
	const char *item = args[i].str;
	enum store_flag_op op = item[0] == '+' ? STORE_FLAGS_ADD
			      : item[0] == '-' ? STORE_FLAGS_REMOVE : STORE_FLAGS_SET;
	const char *base = item + (op != STORE_FLAGS_SET);
	bool silent = strcasecmp(base, "FLAGS.SILENT") == 0;
	if (!silent && strcasecmp(base, "FLAGS") != 0) {
		imap_tagged(s, c->tag, "BAD", NULL, "STORE takes FLAGS, +FLAGS or -FLAGS (.SILENT).");
		return;
	}
	if (s->readonly) {
		imap_tagged(s, c->tag, "NO", "READ-ONLY", "The mailbox was opened with EXAMINE.");
		return;
	}
	unsigned flags;
	struct buf kw = BUF_INIT;
	if (!imap_parse_flag_list(&args[i + 1], &flags, &kw)) {
		imap_tagged(s, c->tag, "BAD", NULL, "Not a valid flag list.");
		buf_free(&kw);
		return;
	}
	uint32_t *uids;
	size_t n;
	const char *err;
	if (!imap_resolve_set(s, args[0].str, args[0].len, uid, &uids, &n, &err)) {
		imap_tagged(s, c->tag, "BAD", NULL, "%s", err);
		buf_free(&kw);
		return;
	}
	struct imap_job *j = imap_job_new(s, set_flags_run, store_complete);
	j->uids = xcalloc(n ? n : 1, sizeof *j->uids);
	for (size_t k = 0; k < n; k++)
		j->uids[k] = uids[k];
	j->n = n;
	j->op = op;
	j->flags = flags;
	j->keywords = buf_steal(&kw, NULL);
	j->unchangedsince = unchangedsince;
	j->learn = imap_learn_of_store(op, j->keywords);
	if (silent) {
		free(s->silent);
		s->silent = uids;
		s->nsilent = n;
	} else {
		free(uids);
	}
	imap_remember_tag(s, c->tag);
	imap_job_submit(s, j);
}

static void copy_run(struct store *st, struct imap_job *j)
{
	j->new_uids = xcalloc(j->n ? j->n : 1, sizeof *j->new_uids);
	j->ok = st->ops->messages_copy(st, j->mailbox_id, j->uids, j->n, j->to_mailbox, j->move,
				       j->new_uids, &j->err);
}

/* COPYUID: the source UIDs and the new ones (RFC 4315), for MOVE before the expunges. */
static void copy_complete(struct imap_session *s, struct imap_job *j)
{
	struct buf code = BUF_INIT;
	buf_printf(&code, "COPYUID %lld ", (long long)j->uidvalidity);
	struct buf from = BUF_INIT, to = BUF_INIT;
	bool any = false;
	/* Ranges where both sides go up by one together ("1:50000 7:50006"), so the two
	 * sets still pair off in order (RFC 4315) without a number per message. */
	for (size_t i = 0; i < j->n;) {
		if (!j->new_uids[i]) {
			i++;
			continue;
		}
		size_t e = i;
		while (e + 1 < j->n && j->new_uids[e + 1] &&
		       j->uids[e + 1] == j->uids[e] + 1 && j->new_uids[e + 1] == j->new_uids[e] + 1)
			e++;
		buf_printf(&from, "%s%lld", any ? "," : "", (long long)j->uids[i]);
		buf_printf(&to, "%s%lld", any ? "," : "", (long long)j->new_uids[i]);
		if (e > i) {
			buf_printf(&from, ":%lld", (long long)j->uids[e]);
			buf_printf(&to, ":%lld", (long long)j->new_uids[e]);
		}
		any = true;
		i = e + 1;
	}
	buf_printf(&code, "%s %s", from.data ? from.data : "", to.data ? to.data : "");
	if (j->move) {
		/* RFC 6851: COPYUID in an untagged OK before the expunges. */
		if (any)
			imap_printf(s, "* OK [%s] Moved.", code.data);
		imap_sync(s, true);
		imap_tagged(s, s->tag, "OK", NULL, "Moved.");
	} else {
		imap_sync(s, false);
		if (any)
			imap_tagged(s, s->tag, "OK", code.data, "Copied.");
		else
			imap_tagged(s, s->tag, "OK", NULL, "Nothing to copy.");
	}
	buf_free(&code);
	buf_free(&from);
	buf_free(&to);
	imap_learn(s, j->learn, j->to_mailbox, j->new_uids, j->n, NULL, 0);
}

/* The mailbox a COPY, MOVE or APPEND puts messages into; when it does not exist, the NO
 * with TRYCREATE is sent (RFC 9051 7.1) and false returned. */
static bool target_mailbox(struct imap_session *s, const char *tag, const char *name,
			   size_t len, struct mailbox_info *to)
{
	struct buf wire = BUF_INIT;
	enum store_rc rc = STORE_NOT_FOUND;
	bool ok = imap_name_from_wire(s, name, len, &wire) &&
		  (rc = s->srv->store->ops->mailbox_get(s->srv->store, s->account_id, wire.data,
							false, to)) == STORE_OK;
	if (!ok)
		imap_reply_mailbox_missing(s, tag, rc, "TRYCREATE");
	buf_free(&wire);
	return ok;
}

static void cmd_copy_move(struct imap_session *s, const struct imap_command *c, bool uid,
			  const struct imap_arg *args, size_t count, bool move)
{
	const char *name;
	size_t len;
	if (count != 2 || args[0].type != IMAP_ARG_ATOM ||
	    !imap_arg_get_astring(&args[1], &name, &len)) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: %s set mailbox", move ? "MOVE" : "COPY");
		return;
	}
	if (move && s->readonly) {
		imap_tagged(s, c->tag, "NO", "READ-ONLY", "The mailbox was opened with EXAMINE.");
		return;
	}
	struct mailbox_info to;
	if (!target_mailbox(s, c->tag, name, len, &to))
		return;
	uint32_t *uids;
	size_t n;
	const char *err;
	if (!imap_resolve_set(s, args[0].str, args[0].len, uid, &uids, &n, &err)) {
		imap_tagged(s, c->tag, "BAD", NULL, "%s", err);
		return;
	}
	struct imap_job *j = imap_job_new(s, copy_run, copy_complete);
	j->uids = xcalloc(n ? n : 1, sizeof *j->uids);
	for (size_t k = 0; k < n; k++)
		j->uids[k] = uids[k];
	free(uids);
	j->n = n;
	j->move = move;
	j->to_mailbox = to.id;
	j->uidvalidity = to.uidvalidity;
	j->learn = imap_learn_of_copy(s->mbox.junk, to.special_use);
	imap_remember_tag(s, c->tag);
	imap_job_submit(s, j);
}

void imap_cmd_copy(struct imap_session *s, const struct imap_command *c, bool uid,
		   const struct imap_arg *args, size_t count)
{
	cmd_copy_move(s, c, uid, args, count, false);
}

void imap_cmd_move(struct imap_session *s, const struct imap_command *c, bool uid,
		   const struct imap_arg *args, size_t count)
{
	cmd_copy_move(s, c, uid, args, count, true);
}

void imap_job_expunge(struct store *st, struct imap_job *j)
{
	j->ok = st->ops->messages_expunge(st, j->mailbox_id, j->uids, j->n, &j->err);
}

static void expunge_complete(struct imap_session *s, struct imap_job *j)
{
	imap_sync(s, true);
	imap_tagged(s, s->tag, "OK", NULL, "Expunged.");
}

void imap_cmd_expunge(struct imap_session *s, const struct imap_command *c, bool uid,
		      const struct imap_arg *args, size_t count)
{
	if (s->readonly) {
		imap_tagged(s, c->tag, "NO", "READ-ONLY", "The mailbox was opened with EXAMINE.");
		return;
	}
	struct imap_job *j = imap_job_new(s, imap_job_expunge, expunge_complete);
	if (uid) {
		uint32_t *uids;
		size_t n;
		const char *err;
		if (count != 1 || args[0].type != IMAP_ARG_ATOM ||
		    !imap_resolve_set(s, args[0].str, args[0].len, true, &uids, &n, &err)) {
			imap_tagged(s, c->tag, "BAD", NULL, "Syntax: UID EXPUNGE set");
			imap_job_free(j);
			return;
		}
		j->uids = xcalloc(n ? n : 1, sizeof *j->uids);
		for (size_t k = 0; k < n; k++)
			j->uids[k] = uids[k];
		j->n = n;
		free(uids);
		if (n == 0) {
			imap_sync(s, true);
			imap_tagged(s, c->tag, "OK", NULL, "Nothing to expunge.");
			imap_job_free(j);
			return;
		}
	}
	imap_remember_tag(s, c->tag);
	imap_job_submit(s, j);
}

static void append_run(struct store *st, struct imap_job *j)
{
	struct buf structure = BUF_INIT;
	struct mime_message *m = mime_message_parse(j->msg->data, j->msg->len, NULL);
	mime_message_serialize(m, &structure);
	mime_message_free(&m);
	j->ok = st->ops->message_append(st, j->to_mailbox, j->msg->data, j->msg->len, &structure,
					j->flags, j->keywords, j->internaldate, &j->uid, &j->err);
	buf_free(&structure);
}

static void append_complete(struct imap_session *s, struct imap_job *j)
{
	imap_sync(s, false);
	char code[64];
	snprintf(code, sizeof code, "APPENDUID %lld %lld", (long long)j->uidvalidity,
		 (long long)j->uid);
	imap_tagged(s, s->tag, "OK", code, "Appended.");
}

void imap_cmd_append(struct imap_session *s, const struct imap_command *c, bool uid,
		     const struct imap_arg *args, size_t count)
{
	const char *name;
	size_t len;
	if (c->count < 2 || !imap_arg_get_astring(&c->args[0], &name, &len) ||
	    c->args[c->count - 1].type != IMAP_ARG_LITERAL || c->args[0].outside) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: APPEND mailbox [(flags)] [date] {size}");
		return;
	}
	unsigned flags = 0;
	struct buf kw = BUF_INIT;
	int64_t date = clock_now();
	for (size_t i = 1; i + 1 < c->count; i++) {
		struct imap_datetime dt;
		if (c->args[i].type == IMAP_ARG_LIST) {
			if (!imap_parse_flag_list(&c->args[i], &flags, &kw)) {
				imap_tagged(s, c->tag, "BAD", NULL, "Not a valid flag list.");
				buf_free(&kw);
				return;
			}
		} else if (c->args[i].type == IMAP_ARG_STRING &&
			   imap_datetime_parse(c->args[i].str, c->args[i].len, &dt)) {
			date = imap_datetime_to_unix(&dt);
		} else {
			imap_tagged(s, c->tag, "BAD", NULL, "Syntax: APPEND mailbox [(flags)] [date] {size}");
			buf_free(&kw);
			return;
		}
	}
	struct mailbox_info to;
	if (!target_mailbox(s, c->tag, name, len, &to)) {
		buf_free(&kw);
		return;
	}
	const struct imap_arg *lit = &c->args[c->count - 1];
	struct spool_bytes *msg;
	if (lit->outside && s->append_nul) {
		imap_tagged(s, c->tag, "BAD", NULL, "NUL byte in a literal (only ~{n} literals may "
			    "hold NUL).");
		buf_free(&kw);
		return; /* the session resets the spool */
	}
	if (lit->outside) {
		/* Read into s->append, CRLF already fixed (append_read). */
		struct buf err = BUF_INIT;
		s->append_ready = false;
		msg = spool_finish(&s->append, &err);
		if (!msg) {
			log_error("event=spool-failed conn=%lu error=%s", s->id, log_qstr(err.data));
			imap_tagged(s, c->tag, "NO", "SERVERBUG", "The message could not be kept for "
				    "storing; try again.");
			buf_free(&err);
			buf_free(&kw);
			return;
		}
		buf_free(&err);
	} else {
		/* IMAP needs CRLF; a client that sends bare LF gets it fixed here. */
		struct buf data = BUF_INIT;
		mime_normalize_crlf(lit->str, lit->len, &data);
		size_t n;
		char *bytes = buf_steal(&data, &n);
		msg = spool_bytes_from_mem(bytes, n);
	}
	log_info("event=append conn=%lu size=%zu spilled=%s", s->id, msg->len,
		 msg->map ? "yes" : "no");
	struct imap_job *j = imap_job_new(s, append_run, append_complete);
	j->msg = msg;
	j->flags = flags;
	j->keywords = buf_steal(&kw, NULL);
	j->internaldate = date;
	j->to_mailbox = to.id;
	j->uidvalidity = to.uidvalidity;
	imap_remember_tag(s, c->tag);
	imap_job_submit(s, j);
}
