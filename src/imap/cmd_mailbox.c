/* Mailbox commands: SELECT and EXAMINE, CLOSE, UNSELECT and CHECK, NAMESPACE, STATUS, the
 * changes CREATE, DELETE, RENAME, SUBSCRIBE and UNSUBSCRIBE (store jobs), and the quota. Also
 * mailbox names on the wire, which the message commands share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/job.h"
#include "imap/session.h"
#include "lib/alloc.h"
#include "mime/mime.h"

/* Mailbox names: UTF-8 inside; modified UTF-7 on the wire for IMAP4rev1 clients. */
bool imap_name_from_wire(struct imap_session *s, const char *in, size_t len, struct buf *out)
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

/* The tagged NO when a mailbox lookup did not find it: not there (`code`), or the store
 * could not be read (which must never look like "no such mailbox"). */
void imap_reply_mailbox_missing(struct imap_session *s, const char *tag, enum store_rc rc,
				const char *code)
{
	if (rc == STORE_ERROR)
		imap_tagged(s, tag, "NO", "SERVERBUG",
			    "The mailbox cannot be read just now; try again later.");
	else
		imap_tagged(s, tag, "NO", code, "There is no mailbox with that name.");
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
	if (!imap_name_from_wire(s, name, len, &wire) ||
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
		struct imap_job *j = imap_job_new(s, imap_job_expunge, close_complete);
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

void imap_cmd_namespace(struct imap_session *s, const struct imap_command *c, bool uid,
			const struct imap_arg *args, size_t count)
{
	imap_printf(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_tagged(s, c->tag, "OK", NULL, "NAMESPACE completed.");
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
	if (!imap_name_from_wire(s, name, len, &wire) ||
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
	if (!imap_name_from_wire(s, name, len, &a) ||
	    (name2 && !imap_name_from_wire(s, name2, len2, &b))) {
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
		    !imap_name_from_wire(s, name, len, &wire) ||
		    (rc = st->ops->mailbox_get(st, s->account_id, wire.data, false, &box)) !=
			    STORE_OK) {
			imap_reply_mailbox_missing(s, c->tag, rc, "NONEXISTENT");
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
