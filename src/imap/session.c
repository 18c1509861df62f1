/* One IMAP session: input plumbing, states, and the commands that are not big enough for a
 * file of their own (cmd_fetch.c and cmd_search.c hold FETCH and SEARCH). Writes go to the
 * writer thread as store jobs; the session pauses its input until they are answered, then
 * reports what changed (imap_sync) before its tagged reply. */
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth/sasl.h"
#include "imap/commands.h"
#include "imap/job.h"
#include "imap/learn.h"
#include "imap/session.h"
#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/loopwatch.h"
#include "mime/mime.h"
#include "net/conn.h"
#include "net/deflate.h"
#include "net/listen.h"

/* RFC 9051 5.4: an autologout timer of at least 30 minutes. */
#define IMAP_IDLE_SECONDS 1800

static void session_process_input(struct imap_session *s);
static void set_timeouts(struct imap_session *s);
static bool prelogin_account(struct imap_session *s);
static void session_free(struct imap_session *s);
static void session_wake(struct imap_session *s);

/* ---- output ---------------------------------------------------------------------------- */

void imap_write(struct imap_session *s, const char *data, size_t len)
{
	session_wake(s);
	bufferevent_write(s->bev, data, len);
}

void imap_printf(struct imap_session *s, const char *fmt, ...)
{
	struct buf line = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	buf_append(&line, "\r\n", 2);
	imap_write(s, line.data, line.len);
	buf_free(&line);
}

void imap_close_after_reply(struct imap_session *s)
{
	session_wake(s);
	s->wait = WAIT_CLOSE;
	s->state = IMAP_LOGOUT;
	bufferevent_disable(s->bev, EV_READ);
	struct timeval linger = { 5, 0 };
	bufferevent_set_timeouts(s->bev, NULL, &linger);
}

void imap_tagged(struct imap_session *s, const char *tag, const char *status, const char *code,
		 const char *fmt, ...)
{
	struct buf line = BUF_INIT;
	buf_printf(&line, "%s %s ", tag, status);
	if (code)
		buf_printf(&line, "[%s] ", code);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	if (status[0] != 'O') {
		char q[128];
		log_info("event=reply conn=%lu service=imap reply=%s", s->id,
			 log_quote_mode(q, sizeof q, line.data, line.len < 80 ? line.len : 80, true));
	}
	buf_append(&line, "\r\n", 2);
	imap_write(s, line.data, line.len);
	buf_free(&line);
	if (status[0] == 'B' && ++s->errors >= (size_t)s->srv->cfg->max_errors) {
		imap_printf(s, "* BYE Too many errors in this session; closing the connection.");
		imap_close_after_reply(s);
	}
}

/* ---- helpers ---------------------------------------------------------------------------- */

void imap_remember_tag(struct imap_session *s, const char *tag)
{
	free(s->tag);
	s->tag = xstrdup(tag);
}

void imap_command_finished(struct imap_session *s)
{
	imap_command_free(&s->cmd);
	if (s->wait != WAIT_CLOSE) {
		s->wait = WAIT_NONE;
		bufferevent_enable(s->bev, EV_READ);
		session_process_input(s);
	}
}

/* ---- commands ----------------------------------------------------------------------- */

void imap_cmd_enable(struct imap_session *s, const struct imap_command *c, bool uid,
		     const struct imap_arg *args, size_t count)
{
	if (c->count == 0) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: ENABLE capability...");
		return;
	}
	struct buf enabled = BUF_INIT;
	for (size_t i = 0; i < c->count; i++) {
		if (imap_arg_atom_equals(&c->args[i], "CONDSTORE") && !s->condstore) {
			s->condstore = true;
			buf_append_str(&enabled, " CONDSTORE");
		} else if (imap_arg_atom_equals(&c->args[i], "QRESYNC") && !s->qresync) {
			s->qresync = s->condstore = true;
			buf_append_str(&enabled, " QRESYNC");
		} else if (imap_arg_atom_equals(&c->args[i], "IMAP4rev2") && !s->rev2) {
			s->rev2 = true;
			buf_append_str(&enabled, " IMAP4rev2");
		}
	}
	imap_printf(s, "* ENABLED%s", enabled.data ? enabled.data : "");
	buf_free(&enabled);
	imap_tagged(s, c->tag, "OK", NULL, "Enabled.");
}

void imap_cmd_id(struct imap_session *s, const struct imap_command *c, bool uid,
		 const struct imap_arg *args, size_t count)
{
	/* RFC 2971: ID (field value ...) or ID NIL. */
	if (c->count != 1 || (c->args[0].type != IMAP_ARG_LIST && c->args[0].type != IMAP_ARG_NIL)) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: ID (\"name\" \"value\" ...) or ID NIL");
		return;
	}
	imap_printf(s, "* ID (\"name\" \"yubin\" \"support-url\" \"https://example.invalid/yubin\")");
	imap_tagged(s, c->tag, "OK", NULL, "ID completed.");
}

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
	struct buf wire = BUF_INIT;
	struct mailbox_info to;
	enum store_rc rc = STORE_NOT_FOUND;
	if (!imap_name_from_wire(s, name, len, &wire) ||
	    (rc = s->srv->store->ops->mailbox_get(s->srv->store, s->account_id, wire.data, false,
						  &to)) != STORE_OK) {
		imap_reply_mailbox_missing(s, c->tag, rc, "TRYCREATE");
		buf_free(&wire);
		return;
	}
	buf_free(&wire);
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
	struct buf wire = BUF_INIT;
	struct mailbox_info to;
	enum store_rc rc = STORE_NOT_FOUND;
	if (!imap_name_from_wire(s, name, len, &wire) ||
	    (rc = s->srv->store->ops->mailbox_get(s->srv->store, s->account_id, wire.data, false,
						  &to)) != STORE_OK) {
		imap_reply_mailbox_missing(s, c->tag, rc, "TRYCREATE");
		buf_free(&wire);
		buf_free(&kw);
		return;
	}
	buf_free(&wire);
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

void imap_cmd_idle(struct imap_session *s, const struct imap_command *c, bool uid,
		   const struct imap_arg *args, size_t count)
{
	imap_remember_tag(s, c->tag);
	s->wait = WAIT_IDLE;
	imap_printf(s, "+ idling");
	imap_sync(s, true);
	/* IDLE can last hours: the parser and the parsed command (its tag is copied) are
	 * dropped; the next command after DONE gets a new parser. */
	imap_parser_free(&s->parser);
}

void imap_cmd_compress(struct imap_session *s, const struct imap_command *c, bool uid,
		       const struct imap_arg *args, size_t count)
{
	if (c->count != 1 || !imap_arg_atom_equals(&c->args[0], "DEFLATE")) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: COMPRESS DEFLATE");
		return;
	}
	if (s->compressed) {
		imap_tagged(s, c->tag, "NO", "COMPRESSIONACTIVE", "Compression is already on.");
		return;
	}
	imap_tagged(s, c->tag, "OK", NULL, "DEFLATE active.");
	/* The client sends nothing until it has this reply (RFC 4978), so switching after the
	 * reply is written loses no input. */
	s->compress_pending = true;
	bufferevent_disable(s->bev, EV_READ);
}

void imap_cmd_noop(struct imap_session *s, const struct imap_command *c, bool uid,
		   const struct imap_arg *args, size_t count)
{
	imap_sync(s, true);
	imap_tagged(s, c->tag, "OK", NULL, "NOOP completed.");
}

void imap_cmd_logout(struct imap_session *s, const struct imap_command *c, bool uid,
		     const struct imap_arg *args, size_t count)
{
	imap_printf(s, "* BYE Logging out.");
	imap_tagged(s, c->tag, "OK", NULL, "LOGOUT completed.");
	imap_close_after_reply(s);
}

/* ---- input --------------------------------------------------------------------------- */

/* IDLE's DONE and AUTHENTICATE responses are lines, not commands. */
static void read_line(struct imap_session *s, struct evbuffer *in)
{
	char *line;
	size_t len;
	enum conn_line st = conn_read_line(in, &s->lines, &line, &len);
	if (st != CONN_LINE_OK) {
		if (st == CONN_LINE_TOO_LONG && s->wait == WAIT_SASL) {
			s->wait = WAIT_NONE;
			imap_tagged(s, s->tag, "BAD", NULL, "Authentication response too long.");
			imap_command_free(&s->cmd);
		}
		return;
	}
	if (s->wait == WAIT_IDLE) {
		s->wait = WAIT_NONE;
		if (strcasecmp(line, "DONE") == 0) {
			imap_sync(s, true);
			imap_tagged(s, s->tag, "OK", NULL, "IDLE terminated.");
		} else {
			imap_tagged(s, s->tag, "BAD", NULL, "Expected DONE to end IDLE.");
		}
	} else {
		imap_sasl_response(s, line, len);
	}
	memset(line, 0, len);
	free(line);
}

static void handle_parse_error(struct imap_session *s)
{
	const struct imap_parse_error *e = imap_parser_error(s->parser);
	const char *code = e->code == IMAP_PARSE_ERR_LIMIT	? "LIMIT"
			   : e->code == IMAP_PARSE_ERR_TOOBIG ? "TOOBIG" : NULL;
	/* A synchronizing literal that is too big is refused with NO (RFC 7888 4); the client
	 * did not send it, so the session goes on. */
	bool refusal = e->code == IMAP_PARSE_ERR_TOOBIG && !e->fatal && e->tag &&
		       strncmp(e->text, "Non-synchronizing", 17) != 0; /* {n+}: BAD (RFC 7888) */
	imap_tagged(s, e->tag ? e->tag : "*", refusal ? "NO" : "BAD", code, "%s", e->text);
	if (e->fatal) {
		imap_printf(s, "* BYE The rest of this input cannot be read safely; closing.");
		imap_close_after_reply(s);
	}
}

static void handle_literal(struct imap_session *s)
{
	const char *name = imap_parser_name(s->parser);
	const char *tag = imap_parser_tag(s->parser);
	uint64_t size = imap_parser_literal_size(s->parser);
	bool append = name && strcasecmp(name, "APPEND") == 0;
	if (append && size > (uint64_t)s->srv->cfg->max_message_size) {
		imap_tagged(s, tag ? tag : "*", "NO", "TOOBIG", "The message is larger than the limit "
			    "of %ld bytes.", s->srv->cfg->max_message_size);
		imap_parser_literal_refuse(s->parser);
		return;
	}
	/* Before login the parser keeps each command under login-max-command; all connections
	 * from one address together stay under login-max-per-ip. */
	if (s->state == IMAP_NOT_AUTH &&
	    conn_limits_held(s->srv->limits, s->ip) + size > (uint64_t)s->srv->cfg->login_max_per_ip) {
		imap_tagged(s, tag ? tag : "*", "NO", "LIMIT", "Your address has too much unfinished "
			    "data on this server before login; log in first.");
		imap_parser_literal_refuse(s->parser);
		return;
	}
	/* After login, a message for APPEND longer than a mailbox name or a date goes to a
	 * spool (a file past spill-threshold) instead of the parser's memory. */
	if (append && s->state != IMAP_NOT_AUTH && size > 1024) {
		if (s->append_ready) {
			imap_tagged(s, tag ? tag : "*", "BAD", NULL, "One message per APPEND.");
			imap_parser_literal_refuse(s->parser);
			spool_reset(&s->append);
			s->append_ready = false;
			return;
		}
		if (spool_memory_total() > (size_t)s->srv->cfg->max_pending_memory) {
			log_warn("event=pending-memory-full conn=%lu service=imap held=%zu", s->id,
				 spool_memory_total());
			imap_tagged(s, tag ? tag : "*", "NO", "LIMIT", "The server is busy receiving "
				    "other mail; try again in a few minutes.");
			imap_parser_literal_refuse(s->parser);
			return;
		}
		imap_printf(s, "+ Ready for literal data");
		imap_parser_literal_outside(s->parser);
		spool_reset(&s->append);
		s->append.threshold = (size_t)s->srv->cfg->spill_threshold;
		s->append_left = size;
		s->append_cr = false;
		s->append_ready = true;
		s->append_lit8 = imap_parser_literal_is8(s->parser);
		s->append_nul = false;
		return;
	}
	imap_printf(s, "+ Ready for literal data");
	imap_parser_literal_accept(s->parser);
}

/* The bytes of an APPEND literal read outside the parser: into the spool, CRLF fixed. */
static void append_read(struct imap_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
		return;
	size_t n = v.iov_len < s->append_left ? v.iov_len : (size_t)s->append_left;
	s->append_left -= n;
	if (!s->append_lit8 && memchr(v.iov_base, '\0', n))
		s->append_nul = true; /* as the parser does for literals it reads */
	mime_normalize_crlf_stream(v.iov_base, n, &s->append_cr, s->append_left == 0,
				   spool_buf(&s->append));
	spool_settle(&s->append); /* a failure is reported by cmd_append */
	evbuffer_drain(in, n);
}

/* The parser exists while commands come; a session in IDLE drops it (see cmd_idle). */
static struct imap_parser *parser_of(struct imap_session *s)
{
	if (!s->parser) {
		struct imap_parser_limits lim;
		imap_parser_limits_default(&lim);
		lim.max_literal = (size_t)s->srv->cfg->max_message_size;
		lim.max_literal_total = lim.max_literal;
		lim.max_line = (size_t)s->srv->cfg->imap_max_line;
		lim.max_depth = (size_t)s->srv->cfg->imap_max_nesting;
		if (s->state == IMAP_NOT_AUTH) /* a new parser is made at login (login_done) */
			lim.max_command = (size_t)s->srv->cfg->login_max_command;
		s->parser = imap_parser_new(&lim);
	}
	return s->parser;
}

/* "FETCH" or "UID FETCH": the command's name for the loop-turn watchdog (never arguments). */
static void command_label(const struct imap_command *c, char *out, size_t outlen)
{
	if (strcasecmp(c->name, "UID") == 0 && c->count > 0 && c->args[0].type == IMAP_ARG_ATOM)
		snprintf(out, outlen, "UID %.*s", (int)(c->args[0].len < 20 ? c->args[0].len : 20),
			 c->args[0].str);
	else
		snprintf(out, outlen, "%.24s", c->name);
}

/* Counts what an unauthenticated session's parser holds against its address; false (after
 * BYE) when the address holds more than login-max-per-ip. */
static bool prelogin_account(struct imap_session *s)
{
	size_t now = s->state == IMAP_NOT_AUTH && s->parser ? imap_parser_held(s->parser) : 0;
	if (now == s->prelogin_held)
		return true;
	size_t all = conn_limits_hold(s->srv->limits, s->ip, s->prelogin_held, now);
	s->prelogin_held = now;
	if (s->state != IMAP_NOT_AUTH || all <= (size_t)s->srv->cfg->login_max_per_ip)
		return true;
	log_info("event=prelogin-limit conn=%lu service=imap ip=%s held=%zu", s->id, s->ip, all);
	imap_printf(s, "* BYE Your address has too much unfinished data on this server before "
		    "login; closing.");
	imap_close_after_reply(s);
	return false;
}

static void session_process_input(struct imap_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	while (evbuffer_get_length(in) > 0 && prelogin_account(s)) {
		if (s->starttls_pending || s->compress_pending || s->wait == WAIT_LOGIN ||
		    s->wait == WAIT_JOB ||
		    s->wait == WAIT_CLOSE)
			return;
		if (conn_output_full(s->bev)) {
			s->output_blocked = true;
			return;
		}
		if (s->append_left > 0) {
			append_read(s, in);
			continue;
		}
		if (s->wait == WAIT_IDLE || s->wait == WAIT_SASL) {
			size_t before = evbuffer_get_length(in);
			read_line(s, in);
			if (evbuffer_get_length(in) == before)
				return;
			continue;
		}
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		size_t used = 0;
		enum imap_parse_status st = imap_parser_feed(parser_of(s), v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		switch (st) {
		case IMAP_PARSE_NEED_MORE:
			break;
		case IMAP_PARSE_DONE: {
			const struct imap_command *c = imap_parser_command(s->parser);
			char what[48];
			command_label(c, what, sizeof what);
			uint64_t t0 = loopwatch_begin();
			imap_command_run(s, c);
			loopwatch_end(t0, "IMAP", what, strlen(what), s->id);
			if (s->append_ready) { /* not taken by cmd_append (e.g. a syntax error) */
				spool_reset(&s->append);
				s->append_ready = false;
			}
			if (s->parser)
				imap_parser_release(s->parser);
			break;
		}
		case IMAP_PARSE_LITERAL:
			handle_literal(s);
			break;
		case IMAP_PARSE_ERROR:
			if (s->append_ready) {
				spool_reset(&s->append);
				s->append_ready = false;
			}
			handle_parse_error(s);
			break;
		}
	}
	prelogin_account(s);
}

static void on_read(struct bufferevent *bev, void *ctx)
{
	session_process_input(ctx);
}

static void on_event(struct bufferevent *bev, short what, void *ctx);
static void on_write(struct bufferevent *bev, void *ctx);

/* Before login a silent client holds a connection for nothing: login-timeout. After, RFC 9051
 * 5.4's 30 minutes at least. */
static long idle_seconds(const struct imap_session *s)
{
	if (s->state == IMAP_NOT_AUTH)
		return s->srv->cfg->login_timeout;
	return s->srv->cfg->command_timeout > IMAP_IDLE_SECONDS ? s->srv->cfg->command_timeout
								 : IMAP_IDLE_SECONDS;
}

static void set_timeouts(struct imap_session *s)
{
	struct timeval tv = { idle_seconds(s), 0 };
	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

/* ---- sleeping between commands ----------------------------------------------------------
 * A phone in IDLE may say nothing for half an hour, and a server holds thousands of them. Once
 * a reply has gone out and nothing is buffered either way, a session waiting for its client
 * gives back its bufferevent (about 1 KB with its buffers) and keeps the socket, the TLS state
 * and one event (sleep_ev). The client speaking (a command, DONE, or closing), news to report
 * (imap_write) or the idle timeout wakes it with a new bufferevent around the same socket and
 * SSL. In IDLE it sleeps at once; between other commands after SLEEP_AFTER_MS of quiet (the
 * same event as a timer), so a client issuing command after command does not pay for a new
 * bufferevent each time, while the memory of one that has stopped is soon reused. */

#define SLEEP_AFTER_MS 50

static void on_sleep_event(evutil_socket_t fd, short what, void *ctx)
{
	struct imap_session *s = ctx;
	session_wake(s);
	if (what & EV_TIMEOUT)
		on_event(s->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, s);
	/* else the new bufferevent reads what the client sent */
}

static bool may_sleep(const struct imap_session *s)
{
	return (s->wait == WAIT_IDLE || s->wait == WAIT_NONE) && !s->asleep && s->bev &&
	       !s->starttls_pending && !s->compress_pending && !s->raw_bev && !s->close_timer;
}

static void session_sleep(struct imap_session *s)
{
	if (!may_sleep(s) || !conn_can_sleep(s->bev, s->tls))
		return;
	s->sleep_ssl = conn_sleep(s->bev, s->tls);
	s->bev = NULL;
	s->asleep = true;
	if (s->sleep_ev) { /* the quiet timer becomes the watch on the socket */
		event_del(s->sleep_ev);
		event_assign(s->sleep_ev, s->srv->base, s->fd, EV_READ, on_sleep_event, s);
	} else {
		s->sleep_ev = event_new(s->srv->base, s->fd, EV_READ, on_sleep_event, s);
	}
	struct timeval tv = { idle_seconds(s), 0 };
	event_add(s->sleep_ev, &tv);
}

static void on_quiet(evutil_socket_t fd, short what, void *ctx)
{
	session_sleep(ctx);
}

/* After a reply went out: sleep now (IDLE) or after a quiet spell. */
static void session_sleep_soon(struct imap_session *s)
{
	if (!may_sleep(s))
		return;
	if (s->wait == WAIT_IDLE) {
		session_sleep(s);
		return;
	}
	if (!s->sleep_ev)
		s->sleep_ev = evtimer_new(s->srv->base, on_quiet, s);
	struct timeval tv = { 0, SLEEP_AFTER_MS * 1000 };
	evtimer_add(s->sleep_ev, &tv);
}

static void session_wake(struct imap_session *s)
{
	if (!s->asleep)
		return;
	event_del(s->sleep_ev);
	event_assign(s->sleep_ev, s->srv->base, -1, 0, on_quiet, s); /* a timer again */
	s->asleep = false;
	s->bev = conn_wake(s->srv->base, s->fd, s->sleep_ssl);
	s->sleep_ssl = NULL;
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	set_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void session_start_tls(struct imap_session *s)
{
	s->starttls_pending = false;
	if (s->parser)
		imap_parser_reset(s->parser);
	s->bev = conn_starttls(s->srv->base, s->bev, s->fd, s->srv->tls);
	s->tls = true;
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	set_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void close_when_flushed(evutil_socket_t fd, short what, void *arg)
{
	on_write(NULL, arg);
}

static void on_write(struct bufferevent *bev, void *ctx)
{
	struct imap_session *s = ctx;
	/* libevent also calls this when a write event finds nothing to write (a new bufferevent
	 * right after waking); a reply queued since then is not out yet. */
	if (s->bev && evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
		return;
	if (s->wait == WAIT_CLOSE) {
		/* Under COMPRESS the last reply may still sit in the socket's buffer, and nothing
		 * calls us again when it drains: look again shortly. */
		if (s->raw_bev && evbuffer_get_length(bufferevent_get_output(s->raw_bev)) > 0) {
			struct timeval soon = { 0, 20000 };
			if (!s->close_timer)
				s->close_timer = evtimer_new(s->srv->base, close_when_flushed, s);
			evtimer_add(s->close_timer, &soon);
			return;
		}
		session_free(s);
		return;
	}
	if (s->starttls_pending) {
		session_start_tls(s);
		return;
	}
	if (s->compress_pending) {
		s->compress_pending = false;
		struct bufferevent *z = net_deflate_wrap(s->bev);
		if (!z) {
			imap_printf(s, "* BYE Compression could not start.");
			imap_close_after_reply(s);
			return;
		}
		s->raw_bev = s->bev;
		s->bev = z;
		s->compressed = true;
		bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
		bufferevent_enable(s->bev, EV_READ | EV_WRITE);
		return;
	}
	if (s->reading) {
		imap_read_output_drained(s);
		return;
	}
	if (s->output_blocked) {
		s->output_blocked = false;
		bufferevent_enable(s->bev, EV_READ);
		session_process_input(s);
	}
	session_sleep_soon(s);
}

static void on_event(struct bufferevent *bev, short what, void *ctx)
{
	struct imap_session *s = ctx;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & BEV_EVENT_TIMEOUT) && s->wait != WAIT_CLOSE) {
		if (s->state == IMAP_NOT_AUTH)
			imap_printf(s, "* BYE No login within %ld seconds; closing the connection.",
				    s->srv->cfg->login_timeout);
		else
			imap_printf(s, "* BYE Autologout: idle for too long.");
		imap_close_after_reply(s);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && s->tls) {
		unsigned long e = bufferevent_get_openssl_error(s->raw_bev ? s->raw_bev : bev);
		if (e) {
			char text[200];
			ERR_error_string_n(e, text, sizeof text);
			log_info("event=tls-error conn=%lu service=imap ip=%s error=%s", s->id, s->ip,
				 log_qstr(text));
		}
	}
	session_free(s);
}

static void session_free(struct imap_session *s)
{
	struct imap_server *srv = s->srv;
	login_cancel(srv->login, s);
	committer_cancel(srv->writer, s);
	imap_read_cancel(s);
	log_info("event=disconnect conn=%lu service=imap ip=%s errors=%zu", s->id, s->ip, s->errors);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	conn_limits_hold(srv->limits, s->ip, s->prelogin_held, 0);
	conn_limits_remove(srv->limits, s->ip, false);
	/* The COMPRESS filter frees the bufferevent under it. */
	conn_free(s->bev, s->raw_bev, s->tls);
	if (s->sleep_ev)
		event_free(s->sleep_ev);
	if (s->asleep)
		SSL_free(s->sleep_ssl);
	if (s->close_timer)
		event_free(s->close_timer);
	close(s->fd);
	imap_command_free(&s->cmd);
	imap_parser_free(&s->parser);
	spool_free(&s->append);
	uidmap_clear(&s->uids);
	free(s->saved);
	free(s->silent);
	free(s->user);
	free(s->tag);
	free(s->mbox.name);
	free(s);
}

void imap_session_logged_in(struct imap_session *s)
{
	if (s->bev)
		set_timeouts(s); /* from login-timeout to the idle timeout */
	/* The pre-login parser (login-max-command) holds nothing between commands; the
	 * next command gets one with the full limits. */
	imap_parser_free(&s->parser);
	prelogin_account(s);
}

void imap_server_accept(struct imap_server *srv, int fd, const struct sockaddr *peer,
			bool implicit_tls)
{
	struct imap_session *s = xcalloc(1, sizeof *s);
	s->srv = srv;
	s->fd = fd;
	s->id = ++srv->limits->last_id;
	net_addr_text(peer, s->ip, sizeof s->ip);
	line_reader_init(&s->lines, 8192);
	spool_init(&s->append, srv->spool_dir, (size_t)srv->cfg->spill_threshold);
	s->tls = implicit_tls && srv->tls;
	s->bev = conn_open(srv->base, fd, s->tls ? srv->tls : NULL);
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	set_timeouts(s);
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	size_t from_ip = conn_limits_add(srv->limits, s->ip, false);
	log_info("event=connect conn=%lu service=imap ip=%s tls=%s", s->id, s->ip,
		 s->tls ? "yes" : "no");
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	if (implicit_tls && !srv->tls) {
		imap_close_after_reply(s);
		return;
	}
	if (srv->draining ||
	    conn_limits_over(srv->limits, false, (size_t)srv->cfg->max_connections,
			     (size_t)srv->cfg->smtp_reserved_connections) ||
	    from_ip > (size_t)srv->cfg->max_connections_per_ip) {
		imap_printf(s, "* BYE [UNAVAILABLE] %s; try again later.",
			    srv->draining ? "Server shutting down" : "Too many connections");
		imap_close_after_reply(s);
		return;
	}
	struct buf caps = BUF_INIT;
	imap_capability_list(s, &caps);
	imap_printf(s, "* OK [CAPABILITY %s] %s yubin IMAP ready.", caps.data, srv->cfg->hostname);
	buf_free(&caps);
}

size_t imap_server_drain(struct imap_server *srv)
{
	srv->draining = true;
	struct imap_session *next;
	for (struct imap_session *s = srv->sessions; s; s = next) {
		next = s->next;
		/* A read is dropped at once (nothing is lost); a write is waited for. */
		if (s->reading) {
			imap_read_cancel(s);
			s->wait = WAIT_NONE;
		}
		if (s->wait != WAIT_CLOSE && s->wait != WAIT_JOB) {
			imap_printf(s, "* BYE Server shutting down.");
			imap_close_after_reply(s);
		}
	}
	size_t open = 0;
	for (struct imap_session *s = srv->sessions; s; s = s->next)
		open++;
	return open;
}

void imap_server_close_all(struct imap_server *srv)
{
	while (srv->sessions)
		session_free(srv->sessions);
}
