/* SEARCH and UID SEARCH (RFC 9051 6.4.4) with ESEARCH RETURN options (RFC 4731) and SAVE
 * (RFC 5182). Text keys match decoded, case-folded text (mime_search_*), so a Japanese
 * subject in ISO-2022-JP is found by its UTF-8 words. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/session.h"
#include "lib/alloc.h"
#include "mime/mime.h"

struct search_ctx {
	struct imap_session *s;
	const struct imap_search *search;
	uint32_t *hits;     /* UIDs */
	size_t nhits;
	int64_t max_modseq; /* of the hits, for the MODSEQ response */
	bool read_failed;   /* a message could not be read: NO [SERVERBUG], no results */
};

/* A message with what the keys may ask of it, loaded on first use. */
struct candidate {
	const struct message_meta *m;
	uint32_t seq;
	struct buf raw;
	bool have_raw;
	struct mime_message *mime;
	struct buf text_body, text_all;
	bool have_body, have_all;
};

static bool load_raw(struct search_ctx *x, struct candidate *c)
{
	if (!c->have_raw) {
		struct store *st = x->s->srv->store;
		if (st->ops->message_read(st, c->m->id, &c->raw) == STORE_ERROR)
			x->read_failed = true;
		c->have_raw = true;
		c->mime = mime_message_parse(c->raw.data ? c->raw.data : "", c->raw.len, NULL);
	}
	return true;
}

static bool header_contains(struct search_ctx *x, struct candidate *c, const char *field,
			    size_t flen, const char *needle, size_t nlen)
{
	load_raw(x, c);
	const char *raw = c->raw.data ? c->raw.data : "";
	size_t hdr = mime_header_block_size(raw, c->raw.len);
	struct mime_header_iter it;
	struct mime_field f;
	mime_header_iter_init(&it, raw, hdr, 0);
	bool found = false;
	struct buf value = BUF_INIT;
	while (!found && mime_header_next(&it, &f)) {
		if (f.name_len != flen || strncasecmp(f.name, field, flen) != 0)
			continue;
		buf_reset(&value);
		mime_header_decode(f.value, f.value_len, &value);
		found = mime_search_contains(value.data ? value.data : "", value.len, needle, nlen);
	}
	buf_free(&value);
	return found;
}

/* Days since 1970 of a unix time (UTC), and of an IMAP date. */
static int64_t day_of(int64_t t)
{
	return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

/* The date of an RFC 5322 Date: header, disregarding time and zone; -1 when unreadable. */
static int64_t sent_day(struct search_ctx *x, struct candidate *c)
{
	load_raw(x, c);
	struct buf v = BUF_INIT;
	const char *raw = c->raw.data ? c->raw.data : "";
	int64_t day = -1;
	if (mime_header_get(raw, mime_header_block_size(raw, c->raw.len), "Date", &v)) {
		static const char *months[] = { "jan", "feb", "mar", "apr", "may", "jun",
						"jul", "aug", "sep", "oct", "nov", "dec" };
		const char *p = v.data;
		const char *comma = strchr(p, ',');
		if (comma)
			p = comma + 1;
		int d, y;
		char mon[4];
		if (sscanf(p, " %d %3s %d", &d, mon, &y) == 3) {
			for (int i = 0; i < 12; i++)
				if (strcasecmp(mon, months[i]) == 0) {
					struct imap_date date = { y < 100 ? y + (y < 50 ? 2000 : 1900) : y,
								  i + 1, d };
					day = day_of(imap_date_to_unix(&date));
				}
		}
	}
	buf_free(&v);
	return day;
}

static bool text_contains(struct search_ctx *x, struct candidate *c, bool all, const char *needle,
			  size_t nlen)
{
	load_raw(x, c);
	struct buf *t = all ? &c->text_all : &c->text_body;
	bool *have = all ? &c->have_all : &c->have_body;
	if (!*have) {
		mime_search_text(c->mime, c->raw.data ? c->raw.data : "", c->raw.len,
				 all ? MIME_SEARCH_HEADERS | MIME_SEARCH_BODY : MIME_SEARCH_BODY, t);
		*have = true;
	}
	return mime_search_contains(t->data ? t->data : "", t->len, needle, nlen);
}

static bool has_keyword(const char *set, const char *kw, size_t len)
{
	for (const char *p = set ? set : ""; *p;) {
		size_t l = strcspn(p, " ");
		if (l == len && strncasecmp(p, kw, len) == 0)
			return true;
		p += l + (p[l] == ' ');
	}
	return false;
}

static bool in_saved(const struct imap_session *s, uint32_t uid)
{
	for (size_t i = 0; i < s->nsaved; i++)
		if (s->saved[i] == uid)
			return true;
	return false;
}

static bool match(struct search_ctx *x, struct candidate *c, const struct imap_search_key *k)
{
	const struct message_meta *m = c->m;
	struct imap_session *s = x->s;
	switch (k->type) {
	case IMAP_SEARCH_AND:
		for (size_t i = 0; i < k->nchildren; i++)
			if (!match(x, c, &k->children[i]))
				return false;
		return true;
	case IMAP_SEARCH_OR:
		return match(x, c, &k->children[0]) || match(x, c, &k->children[1]);
	case IMAP_SEARCH_NOT:
		return !match(x, c, &k->children[0]);
	case IMAP_SEARCH_ALL:
		return true;
	case IMAP_SEARCH_SEQSET:
		if (k->seqset.last_result)
			return in_saved(s, (uint32_t)m->uid);
		return imap_seqset_contains(&k->seqset, c->seq, uidmap_count(&s->uids));
	case IMAP_SEARCH_UID:
		if (k->seqset.last_result)
			return in_saved(s, (uint32_t)m->uid);
		return imap_seqset_contains(&k->seqset, (uint32_t)m->uid,
					    uidmap_last(&s->uids));
	case IMAP_SEARCH_ANSWERED: return m->flags & STORE_FLAG_ANSWERED;
	case IMAP_SEARCH_DELETED: return m->flags & STORE_FLAG_DELETED;
	case IMAP_SEARCH_DRAFT: return m->flags & STORE_FLAG_DRAFT;
	case IMAP_SEARCH_FLAGGED: return m->flags & STORE_FLAG_FLAGGED;
	case IMAP_SEARCH_SEEN: return m->flags & STORE_FLAG_SEEN;
	case IMAP_SEARCH_UNANSWERED: return !(m->flags & STORE_FLAG_ANSWERED);
	case IMAP_SEARCH_UNDELETED: return !(m->flags & STORE_FLAG_DELETED);
	case IMAP_SEARCH_UNDRAFT: return !(m->flags & STORE_FLAG_DRAFT);
	case IMAP_SEARCH_UNFLAGGED: return !(m->flags & STORE_FLAG_FLAGGED);
	case IMAP_SEARCH_UNSEEN: return !(m->flags & STORE_FLAG_SEEN);
	/* No session ever sees a message as \Recent here (IMAP4rev2 dropped it). */
	case IMAP_SEARCH_NEW: case IMAP_SEARCH_RECENT: return false;
	case IMAP_SEARCH_OLD: return true;
	case IMAP_SEARCH_KEYWORD: return has_keyword(m->keywords, k->str, k->len);
	case IMAP_SEARCH_UNKEYWORD: return !has_keyword(m->keywords, k->str, k->len);
	case IMAP_SEARCH_BCC: return header_contains(x, c, "Bcc", 3, k->str, k->len);
	case IMAP_SEARCH_CC: return header_contains(x, c, "Cc", 2, k->str, k->len);
	case IMAP_SEARCH_FROM: return header_contains(x, c, "From", 4, k->str, k->len);
	case IMAP_SEARCH_TO: return header_contains(x, c, "To", 2, k->str, k->len);
	case IMAP_SEARCH_SUBJECT: return header_contains(x, c, "Subject", 7, k->str, k->len);
	case IMAP_SEARCH_HEADER:
		return header_contains(x, c, k->field, k->field_len, k->str, k->len);
	case IMAP_SEARCH_BODY: return text_contains(x, c, false, k->str, k->len);
	case IMAP_SEARCH_TEXT: return text_contains(x, c, true, k->str, k->len);
	case IMAP_SEARCH_BEFORE:
		return day_of(m->internaldate) < day_of(imap_date_to_unix(&k->date));
	case IMAP_SEARCH_ON:
		return day_of(m->internaldate) == day_of(imap_date_to_unix(&k->date));
	case IMAP_SEARCH_SINCE:
		return day_of(m->internaldate) >= day_of(imap_date_to_unix(&k->date));
	case IMAP_SEARCH_SENTBEFORE: {
		int64_t d = sent_day(x, c);
		return d >= 0 && d < day_of(imap_date_to_unix(&k->date));
	}
	case IMAP_SEARCH_SENTON: return sent_day(x, c) == day_of(imap_date_to_unix(&k->date));
	case IMAP_SEARCH_SENTSINCE: return sent_day(x, c) >= day_of(imap_date_to_unix(&k->date));
	case IMAP_SEARCH_LARGER: return (uint64_t)m->size > k->number;
	case IMAP_SEARCH_SMALLER: return (uint64_t)m->size < k->number;
	case IMAP_SEARCH_MODSEQ: return (uint64_t)m->modseq >= k->number;
	}
	return false;
}

bool imap_search_matches(struct imap_session *s, const struct imap_search *search,
			 const struct message_meta *m, bool *read_failed)
{
	struct search_ctx x = { .s = s, .search = search };
	struct candidate c = { .m = m, .seq = imap_seq_of(s, (uint32_t)m->uid) };
	bool hit = c.seq && match(&x, &c, &search->root);
	buf_free(&c.raw);
	buf_free(&c.text_body);
	buf_free(&c.text_all);
	mime_message_free(&c.mime);
	if (x.read_failed)
		*read_failed = true;
	return hit;
}

static bool search_one(void *ctx, const struct message_meta *m)
{
	struct search_ctx *x = ctx;
	/* A message that arrived after the client's last EXISTS has no number yet: skipped. */
	if (imap_search_matches(x->s, x->search, m, &x->read_failed)) {
		x->hits = xrealloc(x->hits, (x->nhits + 1) * sizeof *x->hits);
		x->hits[x->nhits++] = (uint32_t)m->uid;
		if (m->modseq > x->max_modseq)
			x->max_modseq = m->modseq;
	}
	return !x->read_failed;
}

static bool uses_modseq(const struct imap_search_key *k)
{
	if (k->type == IMAP_SEARCH_MODSEQ)
		return true;
	for (size_t i = 0; i < k->nchildren; i++)
		if (uses_modseq(&k->children[i]))
			return true;
	return false;
}

void imap_cmd_search(struct imap_session *s, const struct imap_command *c, bool uid,
		     const struct imap_arg *args, size_t count)
{
	struct imap_search search;
	struct imap_search_limits limits = {
		.max_depth = (size_t)s->srv->cfg->imap_max_nesting,
		.max_ranges = (size_t)s->srv->cfg->imap_max_ranges,
	};
	const char *err;
	if (!imap_search_parse(args, count, &limits, &search, &err)) {
		imap_tagged(s, c->tag, "BAD", NULL, "%s", err);
		return;
	}
	if (search.charset && strcasecmp(search.charset, "UTF-8") != 0 &&
	    strcasecmp(search.charset, "US-ASCII") != 0) {
		imap_tagged(s, c->tag, "NO", "BADCHARSET (UTF-8 US-ASCII)", "Search in UTF-8, please.");
		imap_search_free(&search);
		return;
	}
	imap_sync(s, false);
	struct search_ctx x = { .s = s, .search = &search };
	struct store *st = s->srv->store;
	if (st->ops->mailbox_scan(st, s->mbox.id, 1, INT64_MAX, 0, search_one, &x) != STORE_OK ||
	    x.read_failed) {
		/* A partial result would look like messages that do not match. */
		free(x.hits);
		imap_search_free(&search);
		imap_tagged(s, c->tag, "NO", "SERVERBUG",
			    "The mailbox cannot be searched just now; try again later.");
		return;
	}
	/* Results as UIDs or sequence numbers (both ascending). */
	uint32_t *nums = xcalloc(x.nhits ? x.nhits : 1, sizeof *nums);
	for (size_t i = 0; i < x.nhits; i++)
		nums[i] = uid ? x.hits[i] : imap_seq_of(s, x.hits[i]);
	bool modseq = uses_modseq(&search.root) && x.nhits;
	if (modseq)
		s->condstore = true;
	struct buf out = BUF_INIT;
	unsigned r = search.returns;
	if (search.has_return) {
		if (r & IMAP_SEARCH_RETURN_SAVE) {
			free(s->saved);
			s->saved = x.hits;
			s->nsaved = x.nhits;
			x.hits = NULL;
			r &= ~(unsigned)IMAP_SEARCH_RETURN_SAVE;
		}
		if (r || !(search.returns & IMAP_SEARCH_RETURN_SAVE)) {
			if (!r)
				r = IMAP_SEARCH_RETURN_ALL;
			buf_append_str(&out, "* ESEARCH (TAG ");
			mime_imap_append_string(&out, c->tag, strlen(c->tag), 0);
			buf_append_char(&out, ')');
			if (uid)
				buf_append_str(&out, " UID");
			if ((r & IMAP_SEARCH_RETURN_MIN) && x.nhits)
				buf_printf(&out, " MIN %u", nums[0]);
			if ((r & IMAP_SEARCH_RETURN_MAX) && x.nhits)
				buf_printf(&out, " MAX %u", nums[x.nhits - 1]);
			if (r & IMAP_SEARCH_RETURN_COUNT)
				buf_printf(&out, " COUNT %zu", x.nhits);
			if ((r & IMAP_SEARCH_RETURN_ALL) && x.nhits) {
				buf_append_str(&out, " ALL ");
				imap_append_uid_set(&out, nums, x.nhits);
			}
			if (modseq)
				buf_printf(&out, " MODSEQ %lld", (long long)x.max_modseq);
			imap_printf(s, "%s", out.data);
		}
	} else {
		buf_append_str(&out, "* SEARCH");
		for (size_t i = 0; i < x.nhits; i++)
			buf_printf(&out, " %u", nums[i]);
		if (modseq)
			buf_printf(&out, " (MODSEQ %lld)", (long long)x.max_modseq);
		imap_printf(s, "%s", out.data);
	}
	buf_free(&out);
	free(nums);
	free(x.hits);
	imap_search_free(&search);
	imap_tagged(s, c->tag, "OK", NULL, "SEARCH completed.");
}
