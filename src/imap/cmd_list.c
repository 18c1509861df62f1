/* LIST and LSUB (RFC 9051 6.3.9, LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819). The arguments
 * are checked on the event loop; reading the account's mailboxes and matching them against
 * the patterns (which grows with both) runs on a reader thread, which writes the whole
 * untagged answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/listmatch.h"
#include "imap/session.h"
#include "lib/alloc.h"

struct list_read {
	struct imap_read r;
	bool lsub, sel_subscribed, ret_subscribed, ret_children, ret_special, sel_special;
	const struct imap_arg *status; /* into r.cmd */
	size_t nstatus;
	const struct imap_arg *pats;   /* into r.cmd */
	size_t npats;
	struct buf refname;
	long appendlimit;
	struct mailbox_info *boxes;
	size_t n;
	const char **sorted;           /* the names in strcmp order, for \HasChildren */
	struct buf out;                /* the untagged responses, CRLF-terminated */
	bool failed;                   /* the store could not be read: NO [SERVERBUG] */
};

static bool collect_box(void *ctx, const struct mailbox_info *m)
{
	struct list_read *l = ctx;
	if (imap_read_cancelled(&l->r))
		return false;
	l->boxes = xrealloc(l->boxes, (l->n + 1) * sizeof *l->boxes);
	l->boxes[l->n++] = *m;
	return true;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether some mailbox starts with "name/": the first name not below "name/" in sorted order
 * is one if any is (O(log n) instead of a scan of every mailbox). */
static bool has_children(const struct list_read *l, const char *name)
{
	size_t len = strlen(name);
	char *prefix = xmalloc(len + 2);
	memcpy(prefix, name, len);
	memcpy(prefix + len, "/", 2);
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(l->sorted[mid], prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	bool found = lo < l->n && strncmp(l->sorted[lo], prefix, len + 1) == 0;
	free(prefix);
	return found;
}

static void list_work(struct imap_read *r)
{
	struct list_read *l = (struct list_read *)r;
	const struct imap_view *v = &r->view;
	bool utf8 = v->rev2 || v->utf8;
	if (v->store->ops->mailbox_list(v->store, v->account_id, l->status != NULL, collect_box,
					l) != STORE_OK) {
		l->failed = true;
		return;
	}
	l->sorted = xcalloc(l->n ? l->n : 1, sizeof *l->sorted);
	for (size_t b = 0; b < l->n; b++)
		l->sorted[b] = l->boxes[b].name;
	qsort(l->sorted, l->n, sizeof *l->sorted, compare_names);
	const char *verb = l->lsub ? "LSUB" : "LIST";
	struct buf pattern = BUF_INIT;
	for (size_t p = 0; p < l->npats; p++) {
		const char *pat;
		size_t plen;
		if (!imap_arg_get_astring(&l->pats[p], &pat, &plen))
			continue;
		if (plen == 0) {
			/* The hierarchy separator and root (RFC 9051 6.3.9). */
			buf_printf(&l->out, "* %s (\\Noselect) \"/\" \"\"\r\n", verb);
			continue;
		}
		buf_reset(&pattern);
		if (l->refname.len) {
			buf_append(&pattern, l->refname.data, l->refname.len);
			buf_append_char(&pattern, '/');
		}
		struct buf decoded = BUF_INIT;
		const char *err;
		if (utf8 || !imap_utf7_decode(pat, plen, &decoded, &err)) {
			buf_reset(&decoded);
			buf_append(&decoded, pat, plen);
		}
		buf_append(&pattern, decoded.data, decoded.len);
		buf_reserve(&pattern, 0);
		buf_free(&decoded);
		for (size_t b = 0; b < l->n && !imap_read_cancelled(r); b++) {
			const struct mailbox_info *m = &l->boxes[b];
			bool inbox = strcmp(m->name, "INBOX") == 0;
			bool match = imap_list_match(pattern.data, m->name, '/') ||
				     (inbox && strcasecmp(pattern.data, "inbox") == 0);
			if (!match || (l->sel_subscribed && !m->subscribed) ||
			    (l->sel_special && !m->special_use[0]))
				continue;
			struct buf *line = &l->out;
			buf_printf(line, "* %s (", verb);
			size_t mark = line->len;
			if (l->ret_children)
				buf_append_str(line, has_children(l, m->name) ? "\\HasChildren"
									 : "\\HasNoChildren");
			if (l->ret_special && m->special_use[0])
				buf_printf(line, "%s%s", line->len > mark ? " " : "", m->special_use);
			if (l->ret_subscribed && m->subscribed)
				buf_printf(line, "%s\\Subscribed", line->len > mark ? " " : "");
			buf_append_str(line, ") \"/\" ");
			imap_name_to_wire(utf8, m->name, line);
			buf_append_str(line, "\r\n");
			if (l->status) {
				buf_append_str(line, "* STATUS ");
				imap_name_to_wire(utf8, m->name, line);
				buf_append_char(line, ' ');
				imap_status_items(l->appendlimit, m, l->status, l->nstatus, line);
				buf_append_str(line, "\r\n");
			}
		}
	}
	buf_free(&pattern);
}

static enum imap_read_next list_finish(struct imap_session *s, struct imap_read *r)
{
	struct list_read *l = (struct list_read *)r;
	if (l->failed) {
		imap_tagged(s, s->tag, "NO", "SERVERBUG",
			    "The mailboxes cannot be listed just now; try again later.");
		return IMAP_READ_DONE;
	}
	if (l->out.len)
		imap_write(s, l->out.data, l->out.len);
	imap_tagged(s, s->tag, "OK", NULL, "%s completed.", l->lsub ? "LSUB" : "LIST");
	return IMAP_READ_DONE;
}

static void list_release(struct imap_read *r)
{
	struct list_read *l = (struct list_read *)r;
	buf_free(&l->refname);
	buf_free(&l->out);
	free(l->boxes);
	free(l->sorted);
}

static void list_start(struct imap_session *s, const struct imap_command *c, bool lsub)
{
	size_t i = 0;
	bool sel_subscribed = lsub, ret_subscribed = false, ret_children = true,
	     ret_special = true, sel_special = false;
	const struct imap_arg *status = NULL;
	size_t nstatus = 0;
	const struct imap_arg *opts;
	size_t nopts;
	if (!lsub && c->count > 0 && imap_arg_get_list(&c->args[0], &opts, &nopts)) {
		for (size_t k = 0; k < nopts; k++) {
			if (imap_arg_atom_equals(&opts[k], "SUBSCRIBED"))
				sel_subscribed = ret_subscribed = true;
			else if (imap_arg_atom_equals(&opts[k], "SPECIAL-USE"))
				sel_special = true;
			else if (!imap_arg_atom_equals(&opts[k], "RECURSIVEMATCH") &&
				 !imap_arg_atom_equals(&opts[k], "REMOTE")) {
				imap_tagged(s, c->tag, "BAD", NULL, "Unknown LIST selection option.");
				return;
			}
		}
		i = 1;
	}
	const char *ref;
	size_t rlen;
	if (c->count < i + 2 || !imap_arg_get_astring(&c->args[i], &ref, &rlen)) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: LIST reference mailbox-pattern");
		return;
	}
	/* One pattern or a list of them (LIST-EXTENDED). */
	const struct imap_arg *pats = &c->args[i + 1];
	size_t npats = 1;
	if (c->args[i + 1].type == IMAP_ARG_LIST)
		imap_arg_get_list(&c->args[i + 1], &pats, &npats);
	if (c->count > i + 2) {
		if (c->count != i + 4 || !imap_arg_atom_equals(&c->args[i + 2], "RETURN") ||
		    !imap_arg_get_list(&c->args[i + 3], &opts, &nopts)) {
			imap_tagged(s, c->tag, "BAD", NULL, "Syntax: LIST ... RETURN (options)");
			return;
		}
		for (size_t k = 0; k < nopts; k++) {
			if (imap_arg_atom_equals(&opts[k], "SUBSCRIBED"))
				ret_subscribed = true;
			else if (imap_arg_atom_equals(&opts[k], "STATUS") && k + 1 < nopts &&
				 imap_arg_get_list(&opts[k + 1], &status, &nstatus)) {
				if (!imap_status_items_valid(status, nstatus)) {
					imap_tagged(s, c->tag, "BAD", NULL, "Unknown STATUS item.");
					return;
				}
				k++;
			} else if (!imap_arg_atom_equals(&opts[k], "CHILDREN") &&
				   !imap_arg_atom_equals(&opts[k], "SPECIAL-USE")) {
				imap_tagged(s, c->tag, "BAD", NULL, "Unknown LIST return option.");
				return;
			}
		}
	}
	struct list_read *l = xcalloc(1, sizeof *l);
	l->lsub = lsub;
	l->sel_subscribed = sel_subscribed;
	l->ret_subscribed = ret_subscribed;
	l->ret_children = ret_children;
	l->ret_special = ret_special;
	l->sel_special = sel_special;
	l->status = status;
	l->nstatus = nstatus;
	l->pats = pats;
	l->npats = npats;
	l->appendlimit = s->srv->cfg->max_message_size;
	imap_name_from_wire(s, ref, rlen, &l->refname);
	if (!rlen)
		buf_reset(&l->refname);
	l->r.work = list_work;
	l->r.finish = list_finish;
	l->r.release = list_release;
	imap_read_submit(s, &l->r, c->tag, false);
}

void imap_cmd_list(struct imap_session *s, const struct imap_command *c, bool uid,
		   const struct imap_arg *args, size_t count)
{
	list_start(s, c, false);
}

void imap_cmd_lsub(struct imap_session *s, const struct imap_command *c, bool uid,
		   const struct imap_arg *args, size_t count)
{
	list_start(s, c, true);
}
