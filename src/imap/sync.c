/* The selected mailbox as the client knows it: sequence numbers and UIDs, message sets, and
 * the sync that tells the client what changed since (new messages, flag changes, expunges)
 * before a command's tagged reply, or at once in IDLE. */
#include <stdlib.h>
#include <string.h>

#include "imap/session.h"
#include "lib/alloc.h"

void imap_append_uid_set(struct buf *out, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		buf_printf(out, "%s%u", i ? "," : "", v[i]);
		if (j > i)
			buf_printf(out, ":%u", v[j]);
		i = j + 1;
	}
}

uint32_t imap_seq_of(const struct imap_session *s, uint32_t uid)
{
	return uidmap_seq(&s->uids, uid);
}

bool imap_resolve_set(struct imap_session *s, const char *set, size_t len, bool uid,
		      uint32_t **uids, size_t *n, const char **err)
{
	*uids = NULL;
	*n = 0;
	struct imap_seqset seq;
	if (!imap_seqset_parse(set, len, (size_t)s->srv->cfg->imap_max_ranges, &seq, err))
		return false;
	if (seq.last_result) {
		/* "$": the UIDs the last SEARCH ... RETURN (SAVE) kept that still exist. */
		*uids = xcalloc(s->nsaved ? s->nsaved : 1, sizeof **uids);
		for (size_t i = 0; i < s->nsaved; i++)
			if (imap_seq_of(s, s->saved[i]))
				(*uids)[(*n)++] = s->saved[i];
		imap_seqset_free(&seq);
		return true;
	}
	if (!uid) {
		/* Sequence numbers must exist (RFC 9051 6.4.4: a number beyond EXISTS is an error). */
		for (size_t r = 0; r < seq.count; r++) {
			uint32_t lo, hi;
			imap_seq_range_resolve(&seq.ranges[r], uidmap_count(&s->uids), &lo, &hi);
			if (uidmap_count(&s->uids) == 0 || hi > uidmap_count(&s->uids) || lo == 0) {
				*err = "Invalid message sequence number (see EXISTS).";
				imap_seqset_free(&seq);
				return false;
			}
		}
	}
	const struct uidmap *m = &s->uids;
	uint32_t star = uid ? uidmap_last(m) : uidmap_count(m);
	*uids = xcalloc(uidmap_count(m) ? uidmap_count(m) : 1, sizeof **uids);
	uint32_t number = 1;
	for (uint32_t u = uidmap_next(m, 0); u; u = uidmap_next(m, u), number++)
		if (imap_seqset_contains(&seq, uid ? u : number, star))
			(*uids)[(*n)++] = u;
	imap_seqset_free(&seq);
	return true;
}

static int uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* list is ascending: a search per message, not a scan (a STORE .SILENT of 100,000
 * messages would otherwise compare 10^10 times on the loop in the sync after it). */
static bool uid_in(const uint32_t *list, size_t n, uint32_t uid)
{
	return n && bsearch(&uid, list, n, sizeof *list, uid_cmp) != NULL;
}

struct sync_ctx {
	struct imap_session *s;
	struct buf out;
	uint32_t *gone;
	size_t ngone, cap;
	bool added;
};

static bool sync_vanished(void *ctx, int64_t uid, int64_t modseq)
{
	struct sync_ctx *x = ctx;
	if (imap_seq_of(x->s, (uint32_t)uid)) {
		if (x->ngone == x->cap) { /* doubling: 100,000 expunges are not 100,000 reallocs */
			x->cap = x->cap ? 2 * x->cap : 64;
			x->gone = xrealloc(x->gone, x->cap * sizeof *x->gone);
		}
		x->gone[x->ngone++] = (uint32_t)uid;
	}
	return true;
}

static bool sync_changed(void *ctx, const struct message_meta *m)
{
	struct sync_ctx *x = ctx;
	struct imap_session *s = x->s;
	uint32_t uid = (uint32_t)m->uid;
	if (uidmap_append(&s->uids, uid)) {
		x->added = true;
		return true;
	}
	uint32_t seq = imap_seq_of(s, uid);
	if (!seq || uid_in(s->silent, s->nsilent, uid))
		return true;
	buf_printf(&x->out, "* %u FETCH (FLAGS ", seq);
	imap_format_flags(m->flags, m->keywords, &x->out);
	buf_printf(&x->out, " UID %u", uid);
	if (s->condstore)
		buf_printf(&x->out, " MODSEQ (%lld)", (long long)m->modseq);
	buf_append_str(&x->out, ")\r\n");
	return true;
}

void imap_sync(struct imap_session *s, bool expunges_allowed)
{
	if (s->state != IMAP_SELECTED)
		return;
	struct mailbox_info now;
	struct store *st = s->srv->store;
	/* A read error changes nothing: no false "mailbox deleted", no watermark moved past
	 * what the client was told; the next command tries again. */
	enum store_rc rc = st->ops->mailbox_get(st, s->account_id, s->mbox.name, false, &now);
	if (rc == STORE_ERROR)
		return;
	if (rc == STORE_NOT_FOUND || now.id != s->mbox.id) {
		imap_printf(s, "* BYE The selected mailbox was deleted or renamed by another session.");
		imap_close_after_reply(s);
		return;
	}
	if (now.highestmodseq <= s->known_modseq) {
		free(s->silent);
		s->silent = NULL;
		s->nsilent = 0;
		return;
	}
	struct sync_ctx x = { .s = s };
	if (s->nsilent > 1) /* already ascending when it came from a message set */
		qsort(s->silent, s->nsilent, sizeof *s->silent, uid_cmp);
	/* Expunges are looked up always (so the watermark never passes one we have not told),
	 * and reported only where the RFC allows. */
	if (st->ops->mailbox_vanished(st, s->mbox.id, s->known_modseq, sync_vanished, &x) !=
	    STORE_OK) {
		free(x.gone);
		return;
	}
	if (expunges_allowed) {
		if (s->qresync && x.ngone) {
			/* RFC 7162 3.2.10: QRESYNC clients get UIDs, not sequence numbers. */
			buf_append_str(&x.out, "* VANISHED ");
			imap_append_uid_set(&x.out, x.gone, x.ngone);
			buf_append_str(&x.out, "\r\n");
		}
		/* Highest sequence numbers first, so each number is right when it is sent: one
		 * removed above a message does not change its number, so the numbers all come
		 * from the map as it is, and the UIDs leave it in one pass afterwards. */
		if (!s->qresync)
			for (size_t i = x.ngone; i-- > 0;)
				buf_printf(&x.out, "* %u EXPUNGE\r\n", imap_seq_of(s, x.gone[i]));
		uidmap_remove_uids(&s->uids, x.gone, x.ngone);
	}
	uint32_t before = uidmap_count(&s->uids);
	bool scanned = st->ops->mailbox_scan(st, s->mbox.id, 1, INT64_MAX, s->known_modseq,
					     sync_changed, &x) == STORE_OK;
	/* What a failed scan already put in the map is told (the map and the client agree);
	 * the rest comes with the next sync, as the watermark stays. */
	if (x.added || uidmap_count(&s->uids) != before)
		buf_printf(&x.out, "* %u EXISTS\r\n", uidmap_count(&s->uids));
	uidmap_compact(&s->uids);
	/* Expunges we may not report yet keep the watermark where it is, so they come later;
	 * flag changes may then be repeated, which clients accept. */
	if (scanned && (expunges_allowed || x.ngone == 0))
		s->known_modseq = now.highestmodseq;
	if (scanned) {
		s->mbox.uidnext = now.uidnext;
		s->mbox.highestmodseq = now.highestmodseq;
	}
	imap_write(s, x.out.data ? x.out.data : "", x.out.len);
	buf_free(&x.out);
	free(x.gone);
	free(s->silent);
	s->silent = NULL;
	s->nsilent = 0;
}

void imap_server_notify(struct imap_server *srv)
{
	for (struct imap_session *s = srv->sessions; s; s = s->next)
		if (s->wait == WAIT_IDLE)
			imap_sync(s, true);
}

void imap_unselect(struct imap_session *s)
{
	s->state = IMAP_AUTH;
	uidmap_clear(&s->uids);
	free(s->saved);
	s->saved = NULL;
	s->nsaved = 0;
	free(s->mbox.name);
	memset(&s->mbox, 0, sizeof s->mbox);
}

struct vanished_ctx {
	struct imap_seqset known;
	bool have_known;
	uint32_t *uids;
	size_t n, cap;
};

static bool collect_vanished(void *ctx, int64_t uid, int64_t modseq)
{
	struct vanished_ctx *v = ctx;
	if (v->have_known && !imap_seqset_contains(&v->known, (uint32_t)uid, UINT32_MAX - 1))
		return true;
	if (v->n == v->cap) { /* doubling, as in the sync */
		v->cap = v->cap ? 2 * v->cap : 64;
		v->uids = xrealloc(v->uids, v->cap * sizeof *v->uids);
	}
	v->uids[v->n++] = (uint32_t)uid;
	return true;
}

/* "* VANISHED (EARLIER) ..." for UIDs expunged after modseq (restricted to a known set). */
bool imap_report_vanished_earlier(struct imap_session *s, int64_t modseq, const char *known,
				  size_t known_len)
{
	struct vanished_ctx v = { 0 };
	const char *err;
	if (known && imap_seqset_parse(known, known_len, (size_t)s->srv->cfg->imap_max_ranges,
				       &v.known, &err))
		v.have_known = true;
	bool ok = s->srv->store->ops->mailbox_vanished(s->srv->store, s->mbox.id, modseq,
						       collect_vanished, &v) == STORE_OK;
	if (ok && v.n) {
		struct buf out = BUF_INIT;
		buf_append_str(&out, "* VANISHED (EARLIER) ");
		imap_append_uid_set(&out, v.uids, v.n);
		imap_printf(s, "%s", out.data);
		buf_free(&out);
	}
	if (v.have_known)
		imap_seqset_free(&v.known);
	free(v.uids);
	return ok;
}
