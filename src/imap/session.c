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

/* Mailbox names: UTF-8 inside; modified UTF-7 on the wire for IMAP4rev1 clients. */
static bool name_from_wire(struct imap_session *s, const char *in, size_t len, struct buf *out)
{
	buf_reset(out);
	if (s->rev2 || s->utf8) {
		buf_append(out, in, len);
	} else {
		const char *err;
		if (!imap_utf7_decode(in, len, out, &err))
			return false;
	}
	buf_reserve(out, 0);
	/* "inbox" in any case is INBOX; trailing hierarchy separators are dropped. */
	while (out->len > 1 && out->data[out->len - 1] == '/')
		out->data[--out->len] = '\0';
	if (strcasecmp(out->data, "INBOX") == 0)
		memcpy(out->data, "INBOX", 5);
	return out->len > 0 && out->data[0] != '/' && !strstr(out->data, "//");
}

void imap_name_to_wire(bool utf8, const char *name, struct buf *out)
{
	struct buf enc = BUF_INIT;
	const char *err;
	if (utf8 || !imap_utf7_encode(name, strlen(name), &enc, &err)) {
		buf_reset(&enc);
		buf_append_str(&enc, name);
	}
	mime_imap_append_string(out, enc.data, enc.len, utf8 ? MIME_IMAP_UTF8 : 0);
	buf_free(&enc);
}

static void name_to_wire(struct imap_session *s, const char *name, struct buf *out)
{
	imap_name_to_wire(s->rev2 || s->utf8, name, out);
}

bool imap_name_from_wire(struct imap_session *s, const char *in, size_t len, struct buf *out)
{
	return name_from_wire(s, in, len, out);
}

/* The tagged NO when a mailbox lookup did not find it: not there (`code`), or the store
 * could not be read (which must never look like "no such mailbox"). */
static void reply_mailbox_missing(struct imap_session *s, const char *tag, enum store_rc rc,
				  const char *code)
{
	if (rc == STORE_ERROR)
		imap_tagged(s, tag, "NO", "SERVERBUG",
			    "The mailbox cannot be read just now; try again later.");
	else
		imap_tagged(s, tag, "NO", code, "There is no mailbox with that name.");
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

struct keyword_ctx {
	struct buf kw;
	struct uidmap *uids;
};

static bool collect_uid(void *ctx, const struct message_meta *m)
{
	struct keyword_ctx *k = ctx;
	uidmap_append(k->uids, (uint32_t)m->uid);
	for (const char *p = m->keywords; p && *p;) {
		size_t len = strcspn(p, " ");
		bool seen = false;
		for (const char *q = k->kw.data ? k->kw.data : ""; *q;) {
			size_t l2 = strcspn(q, " ");
			if (l2 == len && strncasecmp(p, q, len) == 0)
				seen = true;
			q += l2 + (q[l2] == ' ');
		}
		if (!seen && len) {
			if (k->kw.len)
				buf_append_char(&k->kw, ' ');
			buf_append(&k->kw, p, len);
		}
		p += len + (p[len] == ' ');
	}
	return true;
}

static bool report_changed(void *ctx, const struct message_meta *m)
{
	struct imap_session *s = ctx;
	uint32_t seq = imap_seq_of(s, (uint32_t)m->uid);
	if (!seq)
		return true;
	struct buf out = BUF_INIT;
	buf_printf(&out, "* %u FETCH (UID %lld FLAGS ", seq, (long long)m->uid);
	imap_format_flags(m->flags, m->keywords, &out);
	buf_printf(&out, " MODSEQ (%lld))", (long long)m->modseq);
	imap_printf(s, "%s", out.data);
	buf_free(&out);
	return true;
}

/* SELECT ... (QRESYNC (uidvalidity modseq [known-uids ...])): RFC 7162 3.2.5.
 * False when the store could not be read. */
static bool qresync_select(struct imap_session *s, const struct imap_arg *p, size_t n)
{
	uint64_t uidvalidity, modseq;
	if (n < 2 || !imap_parse_number64(p[0].str, p[0].len, &uidvalidity) ||
	    !imap_parse_number64(p[1].str, p[1].len, &modseq))
		return true;
	/* Another UIDVALIDITY: the client must resynchronise fully; nothing to add. */
	if ((int64_t)uidvalidity != s->mbox.uidvalidity)
		return true;
	const char *known = NULL;
	size_t known_len = 0;
	if (n >= 3 && p[2].type == IMAP_ARG_ATOM) {
		known = p[2].str;
		known_len = p[2].len;
	}
	return imap_report_vanished_earlier(s, (int64_t)modseq, known, known_len) &&
	       s->srv->store->ops->mailbox_scan(s->srv->store, s->mbox.id, 1, INT64_MAX,
						(int64_t)modseq, report_changed, s) == STORE_OK;
}

struct select_read {
	struct imap_read r;
	struct mailbox_info info;
	const struct imap_arg *qresync; /* into r.cmd */
	size_t nqresync;
	bool examine, scanned;
	struct uidmap uids;
	struct buf kw;
};

static void select_work(struct imap_read *r)
{
	struct select_read *sr = (struct select_read *)r;
	struct store *st = r->view.store;
	struct keyword_ctx k = { .uids = &sr->uids };
	uidmap_clear(&sr->uids); /* a cancelled earlier try never happens, but be exact */
	sr->scanned = st->ops->mailbox_scan(st, sr->info.id, 1, INT64_MAX, 0, collect_uid, &k) ==
		      STORE_OK;
	/* An idle phone keeps this map for hours: no doubling slack. */
	uidmap_compact(&sr->uids);
	sr->kw = k.kw;
}

static void select_release(struct imap_read *r)
{
	struct select_read *sr = (struct select_read *)r;
	uidmap_clear(&sr->uids);
	buf_free(&sr->kw);
}

static enum imap_read_next select_finish(struct imap_session *s, struct imap_read *r)
{
	struct select_read *sr = (struct select_read *)r;
	const char *tag = s->tag;
	if (!sr->scanned) {
		/* Not selected into a mailbox that looks empty: a failed SELECT leaves the
		 * session authenticated, as any failed SELECT does (RFC 9051 6.3.2). */
		imap_tagged(s, tag, "NO", "SERVERBUG",
			    "The mailbox cannot be opened just now; try again later.");
		return IMAP_READ_DONE;
	}
	s->mbox.id = sr->info.id;
	s->mbox.uidvalidity = sr->info.uidvalidity;
	s->mbox.uidnext = sr->info.uidnext;
	s->mbox.highestmodseq = sr->info.highestmodseq;
	s->mbox.name = xstrdup(sr->info.name);
	s->mbox.junk = strcmp(sr->info.special_use, "\\Junk") == 0;
	uidmap_clear(&s->uids);
	s->uids = sr->uids; /* the map moves to the session */
	memset(&sr->uids, 0, sizeof sr->uids);
	/* What changed after mailbox_get (the scan may already hold it) comes with the next
	 * sync, as flag changes clients accept. */
	s->known_modseq = s->mbox.highestmodseq;
	s->readonly = sr->examine;
	s->state = IMAP_SELECTED;
	const char *kw = sr->kw.data ? sr->kw.data : "";
	imap_printf(s, "* %u EXISTS", uidmap_count(&s->uids));
	if (!s->rev2)
		imap_printf(s, "* 0 RECENT");
	imap_printf(s, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft%s%s)", kw[0] ? " " : "",
		    kw);
	imap_printf(s, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft%s%s \\*)] "
		       "Flags permitted.", kw[0] ? " " : "", kw);
	imap_printf(s, "* OK [UIDVALIDITY %lld] UIDs valid.", (long long)s->mbox.uidvalidity);
	imap_printf(s, "* OK [UIDNEXT %lld] Predicted next UID.", (long long)s->mbox.uidnext);
	if (s->condstore)
		imap_printf(s, "* OK [HIGHESTMODSEQ %lld] Highest.", (long long)s->mbox.highestmodseq);
	if (sr->qresync && !qresync_select(s, sr->qresync, sr->nqresync)) {
		imap_unselect(s);
		imap_tagged(s, tag, "NO", "SERVERBUG",
			    "The mailbox cannot be opened just now; try again later.");
		return IMAP_READ_DONE;
	}
	imap_tagged(s, tag, "OK", sr->examine ? "READ-ONLY" : "READ-WRITE", "%s selected.",
		    sr->examine ? "Examined" : "Mailbox");
	return IMAP_READ_DONE;
}

static void select_start(struct imap_session *s, const struct imap_command *c, bool examine)
{
	const char *name;
	size_t len;
	if (c->count < 1 || !imap_arg_get_astring(&c->args[0], &name, &len)) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: SELECT mailbox");
		return;
	}
	const struct imap_arg *qresync = NULL;
	size_t nqresync = 0;
	if (c->count == 2) {
		const struct imap_arg *params;
		size_t n;
		if (!imap_arg_get_list(&c->args[1], &params, &n)) {
			imap_tagged(s, c->tag, "BAD", NULL, "Syntax: SELECT mailbox [(parameters)]");
			return;
		}
		for (size_t i = 0; i < n; i++) {
			if (imap_arg_atom_equals(&params[i], "CONDSTORE")) {
				s->condstore = true;
			} else if (imap_arg_atom_equals(&params[i], "QRESYNC") && i + 1 < n &&
				   imap_arg_get_list(&params[i + 1], &qresync, &nqresync)) {
				if (!s->qresync) {
					imap_tagged(s, c->tag, "BAD", NULL, "ENABLE QRESYNC first.");
					return;
				}
				i++;
			} else {
				imap_tagged(s, c->tag, "BAD", NULL, "Unknown SELECT parameter.");
				return;
			}
		}
	}
	bool was_selected = s->state == IMAP_SELECTED;
	if (was_selected)
		imap_unselect(s);
	struct buf wire = BUF_INIT;
	struct store *st = s->srv->store;
	struct select_read *sr = xcalloc(1, sizeof *sr);
	enum store_rc rc = STORE_NOT_FOUND;
	if (!name_from_wire(s, name, len, &wire) ||
	    (rc = st->ops->mailbox_get(st, s->account_id, wire.data, false, &sr->info)) != STORE_OK) {
		if (was_selected && s->rev2)
			imap_printf(s, "* OK [CLOSED] Previous mailbox closed.");
		if (rc == STORE_ERROR)
			imap_tagged(s, c->tag, "NO", "SERVERBUG",
				    "The mailbox cannot be opened just now; try again later.");
		else
			imap_tagged(s, c->tag, "NO", "NONEXISTENT", "There is no mailbox with that name.");
		buf_free(&wire);
		free(sr);
		return;
	}
	buf_free(&wire);
	if (was_selected)
		imap_printf(s, "* OK [CLOSED] Previous mailbox closed.");
	/* The UID map is built on a reader: a scan of every message (100,000: 60 ms, three
	 * times that under sanitizers) would hold the loop. */
	sr->examine = examine;
	sr->qresync = qresync;
	sr->nqresync = nqresync;
	sr->r.work = select_work;
	sr->r.finish = select_finish;
	sr->r.release = select_release;
	imap_read_submit(s, &sr->r, c->tag, false);
}

void imap_cmd_select(struct imap_session *s, const struct imap_command *c, bool uid,
		     const struct imap_arg *args, size_t count)
{
	select_start(s, c, false);
}

void imap_cmd_examine(struct imap_session *s, const struct imap_command *c, bool uid,
		      const struct imap_arg *args, size_t count)
{
	select_start(s, c, true);
}

void imap_status_items(long appendlimit, const struct mailbox_info *m,
		       const struct imap_arg *items, size_t n, struct buf *out)
{
	buf_append_char(out, '(');
	for (size_t i = 0; i < n; i++) {
		const char *sep = out->data[out->len - 1] == '(' ? "" : " ";
		if (imap_arg_atom_equals(&items[i], "MESSAGES"))
			buf_printf(out, "%sMESSAGES %lld", sep, (long long)m->messages);
		else if (imap_arg_atom_equals(&items[i], "UIDNEXT"))
			buf_printf(out, "%sUIDNEXT %lld", sep, (long long)m->uidnext);
		else if (imap_arg_atom_equals(&items[i], "UIDVALIDITY"))
			buf_printf(out, "%sUIDVALIDITY %lld", sep, (long long)m->uidvalidity);
		else if (imap_arg_atom_equals(&items[i], "UNSEEN"))
			buf_printf(out, "%sUNSEEN %lld", sep, (long long)m->unseen);
		else if (imap_arg_atom_equals(&items[i], "DELETED"))
			buf_printf(out, "%sDELETED %lld", sep, (long long)m->deleted);
		else if (imap_arg_atom_equals(&items[i], "SIZE"))
			buf_printf(out, "%sSIZE %lld", sep, (long long)m->size);
		else if (imap_arg_atom_equals(&items[i], "RECENT"))
			buf_printf(out, "%sRECENT 0", sep);
		else if (imap_arg_atom_equals(&items[i], "HIGHESTMODSEQ"))
			buf_printf(out, "%sHIGHESTMODSEQ %lld", sep, (long long)m->highestmodseq);
		else if (imap_arg_atom_equals(&items[i], "APPENDLIMIT"))
			buf_printf(out, "%sAPPENDLIMIT %ld", sep, appendlimit);
	}
	buf_append_char(out, ')');
}

bool imap_status_items_valid(const struct imap_arg *items, size_t n)
{
	static const char *known[] = { "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED",
				       "SIZE", "RECENT", "HIGHESTMODSEQ", "APPENDLIMIT" };
	for (size_t i = 0; i < n; i++) {
		bool ok = false;
		for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
			ok |= imap_arg_atom_equals(&items[i], known[k]);
		if (!ok)
			return false;
	}
	return n > 0;
}

void imap_cmd_status(struct imap_session *s, const struct imap_command *c, bool uid,
		     const struct imap_arg *args, size_t count)
{
	const char *name;
	size_t len;
	const struct imap_arg *items;
	size_t n;
	if (c->count != 2 || !imap_arg_get_astring(&c->args[0], &name, &len) ||
	    !imap_arg_get_list(&c->args[1], &items, &n) || !imap_status_items_valid(items, n)) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: STATUS mailbox (MESSAGES UIDNEXT ...)");
		return;
	}
	struct buf wire = BUF_INIT, line = BUF_INIT;
	struct mailbox_info m;
	enum store_rc rc = STORE_NOT_FOUND;
	if (!name_from_wire(s, name, len, &wire) ||
	    (rc = s->srv->store->ops->mailbox_get(s->srv->store, s->account_id, wire.data, true,
						  &m)) != STORE_OK) {
		if (rc == STORE_ERROR)
			imap_tagged(s, c->tag, "NO", "SERVERBUG",
				    "The mailbox cannot be read just now; try again later.");
		else
			imap_tagged(s, c->tag, "NO", "NONEXISTENT", "There is no mailbox with that name.");
	} else {
		buf_append_str(&line, "* STATUS ");
		name_to_wire(s, m.name, &line);
		buf_append_char(&line, ' ');
		imap_status_items(s->srv->cfg->max_message_size, &m, items, n, &line);
		imap_printf(s, "%s", line.data);
		imap_tagged(s, c->tag, "OK", NULL, "STATUS completed.");
	}
	buf_free(&wire);
	buf_free(&line);
}

/* CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE: one store job each. */
enum mailbox_change { MAILBOX_CREATE, MAILBOX_DELETE, MAILBOX_RENAME, MAILBOX_SUBSCRIBE };

static void create_run(struct store *st, struct imap_job *j)
{
	j->ok = st->ops->mailbox_create(st, j->account_id, j->name, j->name2, &j->err);
}

static void delete_run(struct store *st, struct imap_job *j)
{
	j->ok = st->ops->mailbox_delete(st, j->account_id, j->name, &j->err);
}

static void rename_run(struct store *st, struct imap_job *j)
{
	j->ok = st->ops->mailbox_rename(st, j->account_id, j->name, j->name2, &j->err);
}

static void subscribe_run(struct store *st, struct imap_job *j)
{
	j->ok = st->ops->mailbox_subscribe(st, j->account_id, j->name, j->on, &j->err);
}

static imap_job_run_fn *const mailbox_change_run[] = {
	[MAILBOX_CREATE] = create_run, [MAILBOX_DELETE] = delete_run,
	[MAILBOX_RENAME] = rename_run, [MAILBOX_SUBSCRIBE] = subscribe_run,
};

static void mailbox_change_complete(struct imap_session *s, struct imap_job *j)
{
	imap_sync(s, false);
	imap_tagged(s, s->tag, "OK", NULL, "Done.");
}

static void cmd_mailbox_change(struct imap_session *s, const struct imap_command *c,
			       enum mailbox_change kind, bool on)
{
	const char *name, *name2 = NULL;
	size_t len, len2 = 0;
	size_t want = kind == MAILBOX_RENAME ? 2 : 1;
	if (c->count < want || !imap_arg_get_astring(&c->args[0], &name, &len) ||
	    (kind == MAILBOX_RENAME && !imap_arg_get_astring(&c->args[1], &name2, &len2))) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: %s mailbox%s", c->name,
			    kind == MAILBOX_RENAME ? " new-name" : "");
		return;
	}
	struct buf a = BUF_INIT, b = BUF_INIT;
	if (!name_from_wire(s, name, len, &a) ||
	    (name2 && !name_from_wire(s, name2, len2, &b))) {
		imap_tagged(s, c->tag, "NO", "CANNOT", "That mailbox name is not valid.");
		buf_free(&a);
		buf_free(&b);
		return;
	}
	struct imap_job *j = imap_job_new(s, mailbox_change_run[kind], mailbox_change_complete);
	j->name = buf_steal(&a, NULL);
	j->name2 = name2 ? buf_steal(&b, NULL) : NULL;
	j->on = on;
	if (kind == MAILBOX_CREATE && c->count == 2) {
		/* CREATE-SPECIAL-USE: CREATE name (USE (\Sent)). */
		const struct imap_arg *opts, *uses;
		size_t nopts, nuses;
		if (imap_arg_get_list(&c->args[1], &opts, &nopts) && nopts == 2 &&
		    imap_arg_atom_equals(&opts[0], "USE") &&
		    imap_arg_get_list(&opts[1], &uses, &nuses) && nuses == 1) {
			static const char *roles[] = { "\\Drafts", "\\Sent", "\\Trash", "\\Junk",
						       "\\Archive", "\\All", "\\Flagged" };
			for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++)
				if (imap_arg_atom_equals(&uses[0], roles[r]))
					j->name2 = xstrdup(roles[r]);
		}
		if (!j->name2) {
			imap_tagged(s, c->tag, "NO", "USEATTR", "Unknown special-use attribute.");
			imap_job_free(j);
			buf_free(&b);
			return;
		}
	}
	buf_free(&b);
	imap_remember_tag(s, c->tag);
	imap_job_submit(s, j);
}

void imap_cmd_create(struct imap_session *s, const struct imap_command *c, bool uid,
		     const struct imap_arg *args, size_t count)
{
	cmd_mailbox_change(s, c, MAILBOX_CREATE, true);
}

void imap_cmd_delete(struct imap_session *s, const struct imap_command *c, bool uid,
		     const struct imap_arg *args, size_t count)
{
	cmd_mailbox_change(s, c, MAILBOX_DELETE, true);
}

void imap_cmd_rename(struct imap_session *s, const struct imap_command *c, bool uid,
		     const struct imap_arg *args, size_t count)
{
	cmd_mailbox_change(s, c, MAILBOX_RENAME, true);
}

void imap_cmd_subscribe(struct imap_session *s, const struct imap_command *c, bool uid,
			const struct imap_arg *args, size_t count)
{
	cmd_mailbox_change(s, c, MAILBOX_SUBSCRIBE, true);
}

void imap_cmd_unsubscribe(struct imap_session *s, const struct imap_command *c, bool uid,
			  const struct imap_arg *args, size_t count)
{
	cmd_mailbox_change(s, c, MAILBOX_SUBSCRIBE, false);
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
	if (!name_from_wire(s, name, len, &wire) ||
	    (rc = s->srv->store->ops->mailbox_get(s->srv->store, s->account_id, wire.data, false,
						  &to)) != STORE_OK) {
		reply_mailbox_missing(s, c->tag, rc, "TRYCREATE");
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

static void expunge_run(struct store *st, struct imap_job *j)
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
	struct imap_job *j = imap_job_new(s, expunge_run, expunge_complete);
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
	if (!name_from_wire(s, name, len, &wire) ||
	    (rc = s->srv->store->ops->mailbox_get(s->srv->store, s->account_id, wire.data, false,
						  &to)) != STORE_OK) {
		reply_mailbox_missing(s, c->tag, rc, "TRYCREATE");
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

static void cmd_quota(struct imap_session *s, const struct imap_command *c, bool root)
{
	struct store *st = s->srv->store;
	struct account a;
	if (!st->ops->account_get(st, s->user, &a)) {
		imap_tagged(s, c->tag, "NO", "UNAVAILABLE", "The account cannot be read now.");
		return;
	}
	if (!root) {
		const char *qr;
		size_t qlen;
		if (c->count != 1 || !imap_arg_get_astring(&c->args[0], &qr, &qlen) || qlen != 0) {
			imap_tagged(s, c->tag, "NO", "NONEXISTENT", "The only quota root is \"\".");
			account_free(&a);
			return;
		}
	}
	if (root && c->count >= 1) {
		struct buf line = BUF_INIT, wire = BUF_INIT;
		const char *name;
		size_t len;
		struct mailbox_info box;
		enum store_rc rc = STORE_NOT_FOUND;
		if (!imap_arg_get_astring(&c->args[0], &name, &len) ||
		    !name_from_wire(s, name, len, &wire) ||
		    (rc = st->ops->mailbox_get(st, s->account_id, wire.data, false, &box)) !=
			    STORE_OK) {
			reply_mailbox_missing(s, c->tag, rc, "NONEXISTENT");
			buf_free(&wire);
			account_free(&a);
			return;
		}
		buf_free(&wire);
		buf_append_str(&line, "* QUOTAROOT ");
		mime_imap_append_string(&line, name, len, MIME_IMAP_UTF8);
		buf_append_str(&line, " \"\"");
		imap_printf(s, "%s", line.data);
		buf_free(&line);
	}
	if (a.quota > 0)
		imap_printf(s, "* QUOTA \"\" (STORAGE %lld %lld)", (long long)((a.used + 1023) / 1024),
			    (long long)(a.quota / 1024));
	else
		imap_printf(s, "* QUOTA \"\" ()");
	account_free(&a);
	imap_tagged(s, c->tag, "OK", NULL, "Quota listed.");
}

void imap_cmd_getquotaroot(struct imap_session *s, const struct imap_command *c, bool uid,
			   const struct imap_arg *args, size_t count)
{
	cmd_quota(s, c, true);
}

void imap_cmd_getquota(struct imap_session *s, const struct imap_command *c, bool uid,
		       const struct imap_arg *args, size_t count)
{
	cmd_quota(s, c, false);
}

void imap_cmd_setquota(struct imap_session *s, const struct imap_command *c, bool uid,
		       const struct imap_arg *args, size_t count)
{
	imap_tagged(s, c->tag, "NO", "NOPERM", "Quotas are set by the administrator.");
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

void imap_cmd_namespace(struct imap_session *s, const struct imap_command *c, bool uid,
			const struct imap_arg *args, size_t count)
{
	imap_printf(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_tagged(s, c->tag, "OK", NULL, "NAMESPACE completed.");
}

/* CLOSE expunges silently: no EXPUNGE responses (RFC 9051 6.4.1). */
static void close_complete(struct imap_session *s, struct imap_job *j)
{
	imap_unselect(s);
	imap_tagged(s, s->tag, "OK", NULL, "Mailbox closed.");
}

void imap_cmd_close(struct imap_session *s, const struct imap_command *c, bool uid,
		    const struct imap_arg *args, size_t count)
{
	if (!s->readonly) {
		struct imap_job *j = imap_job_new(s, expunge_run, close_complete);
		imap_remember_tag(s, c->tag);
		imap_job_submit(s, j);
		return;
	}
	imap_unselect(s);
	imap_tagged(s, c->tag, "OK", NULL, "Mailbox closed.");
}

void imap_cmd_unselect(struct imap_session *s, const struct imap_command *c, bool uid,
		       const struct imap_arg *args, size_t count)
{
	imap_unselect(s);
	imap_tagged(s, c->tag, "OK", NULL, "Mailbox closed.");
}

void imap_cmd_check(struct imap_session *s, const struct imap_command *c, bool uid,
		    const struct imap_arg *args, size_t count)
{
	imap_sync(s, true);
	imap_tagged(s, c->tag, "OK", NULL, "CHECK completed.");
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
