/* FETCH and UID FETCH (RFC 9051 6.4.5, BINARY RFC 3516, CONDSTORE RFC 7162). Structure items
 * come from the MIME structure cached at delivery; body sections read the stored bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/session.h"
#include "lib/alloc.h"
#include "mime/mime.h"

struct fetch_ctx {
	struct imap_session *s;
	const struct imap_fetch_atts *f;
	bool uid_cmd;
	const uint32_t *uids;   /* wanted, ascending */
	size_t n;
	uint32_t *mark_seen;    /* messages a non-PEEK body fetch makes \Seen */
	size_t nmark;
	bool failed;
	bool store_error;       /* a read failed: the command answers NO [SERVERBUG] */
	struct buf out;
};

static bool wanted(const struct fetch_ctx *x, uint32_t uid)
{
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (x->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < x->n && x->uids[lo] == uid;
}

static void append_literal(struct buf *out, const char *data, size_t len, bool binary)
{
	bool nul = binary && memchr(data, '\0', len) != NULL;
	buf_printf(out, "%s{%zu}\r\n", nul ? "~" : "", len);
	buf_append(out, data, len);
}

/* Loads what the items need, once per message. */
struct message_data {
	struct buf raw;
	bool have_raw;
	struct mime_message *mime;
};

static bool need_raw(struct fetch_ctx *x, const struct message_meta *m, struct message_data *d)
{
	if (!d->have_raw) {
		struct store *st = x->s->srv->store;
		enum store_rc rc = st->ops->message_read(st, m->id, &d->raw);
		if (rc == STORE_ERROR)
			x->store_error = true;
		if (rc != STORE_OK)
			return false;
		d->have_raw = true;
	}
	return true;
}

static struct mime_message *need_mime(struct fetch_ctx *x, const struct message_meta *m,
				      struct message_data *d)
{
	if (d->mime)
		return d->mime;
	struct buf cached = BUF_INIT;
	struct store *st = x->s->srv->store;
	enum store_rc rc = st->ops->message_structure(st, m->id, &cached);
	if (rc == STORE_OK)
		d->mime = mime_message_deserialize(cached.data, cached.len);
	else if (rc == STORE_ERROR)
		x->store_error = true;
	buf_free(&cached);
	/* A structure for other bytes than these (it should never happen) is not trusted. */
	if (d->mime && d->mime->size != (size_t)m->size)
		mime_message_free(&d->mime);
	if (!d->mime && need_raw(x, m, d))
		d->mime = mime_message_parse(d->raw.data ? d->raw.data : "", d->raw.len, NULL);
	return d->mime;
}

static void body_item(struct fetch_ctx *x, const struct message_meta *m, struct message_data *d,
		      const struct imap_fetch_body *b, struct buf *out)
{
	struct buf label = BUF_INIT;
	imap_section_format(&b->section, &label);
	const char *kind = b->kind == IMAP_FETCH_BODY_SECTION ? "BODY"
			 : b->kind == IMAP_FETCH_BINARY ? "BINARY" : "BINARY.SIZE";
	buf_printf(out, " %s[%s]", kind, label.data ? label.data : "");
	struct mime_message *mm = need_mime(x, m, d);
	if (!mm || !need_raw(x, m, d)) {
		buf_append_str(out, " NIL");
		buf_free(&label);
		return;
	}
	struct mime_section sec;
	struct buf data = BUF_INIT;
	const char *bytes = "";
	size_t len = 0;
	bool binary = b->kind != IMAP_FETCH_BODY_SECTION;
	if (!mime_section_parse(label.data ? label.data : "", label.len, &sec)) {
		x->failed = true;
	} else if (binary && b->section.nparts == 0) {
		/* BINARY[] is the whole message: nothing above its parts to decode. */
		bytes = d->raw.data ? d->raw.data : "";
		len = d->raw.len;
	} else if (binary) {
		uint32_t part = mime_section_part(mm, &sec);
		if (part != MIME_NONE) {
			const struct mime_part *p = &mm->parts[part];
			/* A cached structure must describe these bytes; never read past them. */
			if (p->body_offset > d->raw.len || p->body_size > d->raw.len - p->body_offset) {
				x->failed = true;
			} else {
				if (!mime_decode_cte(p->cte, d->raw.data + p->body_offset, p->body_size,
						     &data))
					x->failed = true; /* UNKNOWN-CTE */
				bytes = data.data ? data.data : "";
				len = data.len;
			}
		}
	} else {
		struct mime_fetch res = { .data = &data };
		switch (mime_section_fetch(mm, d->raw.data, d->raw.len, &sec, &res)) {
		case MIME_FETCH_RANGE:
			bytes = d->raw.data + res.offset;
			len = res.size;
			break;
		case MIME_FETCH_DATA:
			bytes = data.data ? data.data : "";
			len = data.len;
			break;
		case MIME_FETCH_NONE:
			break;
		}
	}
	if (b->kind == IMAP_FETCH_BINARY_SIZE) {
		buf_printf(out, " %zu", len);
	} else {
		size_t start = 0, n = len;
		if (b->partial) {
			start = b->offset < len ? (size_t)b->offset : len;
			n = len - start < b->length ? len - start : (size_t)b->length;
			buf_printf(out, "<%llu>", (unsigned long long)b->offset);
		}
		buf_append_char(out, ' ');
		append_literal(out, bytes + start, n, binary);
	}
	buf_free(&data);
	buf_free(&label);
}

static bool fetch_one(void *ctx, const struct message_meta *m)
{
	struct fetch_ctx *x = ctx;
	struct imap_session *s = x->s;
	uint32_t uid = (uint32_t)m->uid;
	if (!wanted(x, uid))
		return true;
	const struct imap_fetch_atts *f = x->f;
	if (f->changedsince && (uint64_t)m->modseq <= f->changedsince_modseq)
		return true;
	uint32_t seq = imap_seq_of(s, uid);
	if (!seq)
		return true;
	struct message_data d = { .raw = BUF_INIT };
	struct buf *out = &x->out;
	size_t start = out->len;
	size_t nmark_before = x->nmark;
	buf_printf(out, "* %u FETCH (", seq);
	size_t mark = out->len;
#define SEP() (out->len > mark ? " " : "")
	unsigned flags = m->flags;
	bool sets_seen = false;
	if (f->items & (IMAP_FETCH_RFC822 | IMAP_FETCH_RFC822_TEXT))
		sets_seen = true;
	for (size_t i = 0; i < f->nbodies; i++)
		if (!f->bodies[i].peek && f->bodies[i].kind != IMAP_FETCH_BINARY_SIZE)
			sets_seen = true;
	if (sets_seen && !s->readonly && !(flags & STORE_FLAG_SEEN)) {
		flags |= STORE_FLAG_SEEN;
		x->mark_seen = xrealloc(x->mark_seen, (x->nmark + 1) * sizeof *x->mark_seen);
		x->mark_seen[x->nmark++] = uid;
	}
	if (x->uid_cmd || (f->items & IMAP_FETCH_UID))
		buf_printf(out, "%sUID %u", SEP(), uid);
	if ((f->items & IMAP_FETCH_FLAGS) || (sets_seen && flags != m->flags)) {
		buf_printf(out, "%sFLAGS ", SEP());
		imap_format_flags(flags, m->keywords, out);
	}
	if (f->items & IMAP_FETCH_INTERNALDATE) {
		char date[64];
		time_t t = (time_t)m->internaldate;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(date, sizeof date, "%d-%b-%Y %H:%M:%S +0000", &tm);
		buf_printf(out, "%sINTERNALDATE \"%s\"", SEP(), date);
	}
	if (f->items & IMAP_FETCH_RFC822_SIZE)
		buf_printf(out, "%sRFC822.SIZE %lld", SEP(), (long long)m->size);
	if ((f->items & IMAP_FETCH_MODSEQ) || s->condstore)
		buf_printf(out, "%sMODSEQ (%lld)", SEP(), (long long)m->modseq);
	unsigned utf8 = s->rev2 || s->utf8 ? MIME_IMAP_UTF8 : 0;
	if (f->items & IMAP_FETCH_ENVELOPE) {
		struct mime_message *mm = need_mime(x, m, &d);
		buf_printf(out, "%sENVELOPE ", SEP());
		if (mm)
			mime_imap_envelope(mm, 0, out, utf8);
		else
			buf_append_str(out, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	}
	for (int ext = 0; ext < 2; ext++) {
		if (!(f->items & (ext ? IMAP_FETCH_BODYSTRUCTURE : IMAP_FETCH_BODY)))
			continue;
		struct mime_message *mm = need_mime(x, m, &d);
		buf_printf(out, "%s%s ", SEP(), ext ? "BODYSTRUCTURE" : "BODY");
		if (mm)
			mime_imap_bodystructure(mm, 0, ext, out, utf8);
		else
			buf_append_str(out, "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0)");
	}
	if (f->items & (IMAP_FETCH_RFC822 | IMAP_FETCH_RFC822_HEADER | IMAP_FETCH_RFC822_TEXT)) {
		if (need_raw(x, m, &d)) {
			const char *raw = d.raw.data ? d.raw.data : "";
			size_t hdr = mime_header_block_size(raw, d.raw.len);
			if (f->items & IMAP_FETCH_RFC822_HEADER) {
				buf_printf(out, "%sRFC822.HEADER ", SEP());
				append_literal(out, raw, hdr, false);
			}
			if (f->items & IMAP_FETCH_RFC822_TEXT) {
				buf_printf(out, "%sRFC822.TEXT ", SEP());
				append_literal(out, raw + hdr, d.raw.len - hdr, false);
			}
			if (f->items & IMAP_FETCH_RFC822) {
				buf_printf(out, "%sRFC822 ", SEP());
				append_literal(out, raw, d.raw.len, false);
			}
		}
	}
	for (size_t i = 0; i < f->nbodies; i++) {
		size_t before = out->len;
		body_item(x, m, &d, &f->bodies[i], out);
		/* body_item starts with a space; drop it when it is the first item. */
		if (before == mark) {
			memmove(out->data + mark, out->data + mark + 1, out->len - mark - 1);
			out->data[--out->len] = '\0';
		}
	}
#undef SEP
	buf_append_str(out, ")\r\n");
	buf_free(&d.raw);
	mime_message_free(&d.mime);
	if (x->store_error) {
		/* No response with NIL or an empty body where the bytes could not be read. */
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		x->nmark = nmark_before;
		return false;
	}
	/* Flush in pieces so one FETCH of a big mailbox does not sit in memory twice. */
	if (out->len > 1 << 20) {
		imap_write(s, out->data, out->len);
		buf_reset(out);
	}
	return true;
}

void imap_cmd_fetch(struct imap_session *s, const struct imap_command *c, bool uid,
		    const struct imap_arg *args, size_t count)
{
	if (count < 2 || count > 3 || args[0].type != IMAP_ARG_ATOM) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: FETCH set (items)");
		return;
	}
	struct imap_fetch_atts f;
	const char *err;
	if (!imap_fetch_atts_parse(&args[1], count == 3 ? &args[2] : NULL, &f, &err)) {
		imap_tagged(s, c->tag, "BAD", NULL, "%s", err);
		return;
	}
	if (f.changedsince || (f.items & IMAP_FETCH_MODSEQ))
		s->condstore = true;
	uint32_t *uids;
	size_t n;
	if (!imap_resolve_set(s, args[0].str, args[0].len, uid, &uids, &n, &err)) {
		imap_tagged(s, c->tag, "BAD", NULL, "%s", err);
		imap_fetch_atts_free(&f);
		return;
	}
	/* Flag changes by others come first; expunges wait (not allowed during FETCH). */
	imap_sync(s, false);
	if (f.vanished) {
		if (!uid || !s->qresync) {
			imap_tagged(s, c->tag, "BAD", NULL, "VANISHED needs UID FETCH and ENABLE QRESYNC.");
			free(uids);
			imap_fetch_atts_free(&f);
			return;
		}
		if (!imap_report_vanished_earlier(s, (int64_t)f.changedsince_modseq, args[0].str,
						  args[0].len)) {
			free(uids);
			imap_fetch_atts_free(&f);
			imap_tagged(s, c->tag, "NO", "SERVERBUG",
				    "The mailbox cannot be read just now; try again later.");
			return;
		}
	}
	struct fetch_ctx x = { .s = s, .f = &f, .uid_cmd = uid, .uids = uids, .n = n };
	if (n > 0) {
		struct store *st = s->srv->store;
		if (st->ops->mailbox_scan(st, s->mbox.id, uids[0], uids[n - 1], 0, fetch_one, &x) !=
		    STORE_OK)
			x.store_error = true;
	}
	if (x.store_error) {
		/* The \Seen of the messages sent in earlier pieces is not stored either: the
		 * client is told the FETCH failed. */
		buf_free(&x.out);
		free(x.mark_seen);
		free(uids);
		imap_fetch_atts_free(&f);
		imap_tagged(s, c->tag, "NO", "SERVERBUG",
			    "The messages cannot be read just now; try again later.");
		return;
	}
	imap_write(s, x.out.data ? x.out.data : "", x.out.len);
	buf_free(&x.out);
	free(uids);
	imap_fetch_atts_free(&f);
	if (x.nmark) {
		/* The \Seen the responses announced is written before the tagged OK. */
		imap_mark_seen(s, c->tag, x.mark_seen, x.nmark, x.failed);
		return;
	}
	if (x.failed)
		imap_tagged(s, c->tag, "NO", "UNKNOWN-CTE", "Some parts could not be decoded.");
	else
		imap_tagged(s, c->tag, "OK", NULL, "FETCH completed.");
}
