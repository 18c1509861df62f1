/* Text for SEARCH: decoded headers and text bodies as UTF-8, and a simple case folding that
 * also makes the Japanese full-width / half-width forms compare equal to their usual ones. */
#include <string.h>

#include "mime/mime_internal.h"

static void append_header_text(const char *hdr, size_t len, struct buf *out)
{
	struct mime_header_iter it;
	struct mime_field f;
	mime_header_iter_init(&it, hdr, len, MIME_DEFAULT_MAX_HEADER_FIELDS);
	while (mime_header_next(&it, &f)) {
		buf_append(out, f.name, f.name_len);
		buf_append(out, ": ", 2);
		size_t vl = f.value_len < MIME_DEFAULT_MAX_FIELD_SIZE ? f.value_len
								   : MIME_DEFAULT_MAX_FIELD_SIZE;
		mime_header_decode(f.value, vl, out);
		buf_append_char(out, '\n');
	}
}

static bool range_ok(size_t off, size_t size, size_t len)
{
	return off <= len && size <= len - off;
}

void mime_search_text(const struct mime_message *m, const char *msg, size_t len, unsigned what,
		      struct buf *out)
{
	for (uint32_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		if ((p->flags & MIME_PART_ENVELOPE) &&
		    ((i == 0 && (what & MIME_SEARCH_HEADERS)) ||
		     (i > 0 && (what & MIME_SEARCH_BODY))) &&
		    range_ok(p->header_offset, p->header_size, len))
			append_header_text(msg + p->header_offset, p->header_size, out);
		if (!(what & MIME_SEARCH_BODY) ||
		    (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)))
			continue;
		if (!range_ok(p->body_offset, p->body_size, len))
			continue;
		struct buf name = BUF_INIT;
		if (mime_part_param(p, true, "filename", &name) ||
		    mime_part_param(p, false, "name", &name)) {
			buf_append(out, name.data, name.len);
			buf_append_char(out, '\n');
		}
		buf_free(&name);
		if (!(p->flags & MIME_PART_TEXT))
			continue;
		struct buf raw = BUF_INIT;
		mime_decode_cte(p->cte, msg + p->body_offset, p->body_size, &raw);
		mime_charset_to_utf8(mime_part_charset(p), raw.data ? raw.data : "", raw.len, out);
		buf_append_char(out, '\n');
		buf_free(&raw);
	}
}

/* Half-width katakana U+FF61..U+FF9F to their usual (full-width) forms. */
static const unsigned short halfwidth_kana[] = {
	0x3002, 0x300c, 0x300d, 0x3001, 0x30fb, 0x30f2, 0x30a1, 0x30a3, 0x30a5, 0x30a7, 0x30a9,
	0x30e3, 0x30e5, 0x30e7, 0x30c3, 0x30fc, 0x30a2, 0x30a4, 0x30a6, 0x30a8, 0x30aa, 0x30ab,
	0x30ad, 0x30af, 0x30b1, 0x30b3, 0x30b5, 0x30b7, 0x30b9, 0x30bb, 0x30bd, 0x30bf, 0x30c1,
	0x30c4, 0x30c6, 0x30c8, 0x30ca, 0x30cb, 0x30cc, 0x30cd, 0x30ce, 0x30cf, 0x30d2, 0x30d5,
	0x30d8, 0x30db, 0x30de, 0x30df, 0x30e0, 0x30e1, 0x30e2, 0x30e4, 0x30e6, 0x30e8, 0x30e9,
	0x30ea, 0x30eb, 0x30ec, 0x30ed, 0x30ef, 0x30f3, 0x309b, 0x309c,
};

static unsigned fold_cp(unsigned c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 32 : c;
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 32;
	if (c >= 0x100 && c <= 0x17f) {
		if ((c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177))
			return c | 1;
		if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
			return (c & 1) ? c + 1 : c;
		if (c == 0x178)
			return 0xff;
		return c;
	}
	if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2)
		return c + 32;
	if (c == 0x3c2)
		return 0x3c3;
	if (c == 0x386)
		return 0x3ac;
	if (c >= 0x388 && c <= 0x38a)
		return c + 37;
	if (c == 0x38c)
		return 0x3cc;
	if (c == 0x38e || c == 0x38f)
		return c + 63;
	if (c >= 0x410 && c <= 0x42f)
		return c + 32;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	if (c >= 0xff01 && c <= 0xff5e)
		return fold_cp(c - 0xfee0);
	if (c == 0x301c) /* WAVE DASH: the same key as U+FF5E, which maps to '~' */
		return '~';
	if (c == 0x3000)
		return ' ';
	if (c >= 0xff61 && c <= 0xff9f)
		return halfwidth_kana[c - 0xff61];
	return c;
}

/* Katakana that take the voiced (dakuten) mark, and the ha-row that also takes handakuten. */
static bool takes_dakuten(unsigned c)
{
	return (c >= 0x30ab && c <= 0x30c2 && (c & 1)) || c == 0x30c4 || c == 0x30c6 ||
	       c == 0x30c8 || (c >= 0x30cf && c <= 0x30dd && (c - 0x30cf) % 3 == 0);
}

void mime_search_fold(const char *in, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	buf_reserve(out, len);
	unsigned pending = 0; /* a katakana that a following half-width voicing mark may change */
	size_t i = 0;
	while (i < len) {
		unsigned cp;
		size_t n = s[i] < 0x80 ? (cp = s[i], 1) : mime_utf8_get(s + i, len - i, &cp);
		if (n == 0) {
			cp = 0xfffd;
			n = 1;
		}
		bool half = cp >= 0xff61 && cp <= 0xff9f;
		unsigned f = fold_cp(cp);
		i += n;
		if (pending) {
			if (half && cp == 0xff9e && takes_dakuten(pending)) {
				mime_utf8_put(out, pending + 1);
				pending = 0;
				continue;
			}
			if (half && cp == 0xff9e && pending == 0x30a6) {
				mime_utf8_put(out, 0x30f4);
				pending = 0;
				continue;
			}
			if (half && cp == 0xff9f && pending >= 0x30cf && pending <= 0x30dd &&
			    (pending - 0x30cf) % 3 == 0) {
				mime_utf8_put(out, pending + 2);
				pending = 0;
				continue;
			}
			mime_utf8_put(out, pending);
			pending = 0;
		}
		if (half && f >= 0x30a1 && f <= 0x30fa) {
			pending = f;
			continue;
		}
		if (f < 0x80)
			buf_append_char(out, (char)f);
		else
			mime_utf8_put(out, f);
	}
	if (pending)
		mime_utf8_put(out, pending);
}

bool mime_search_contains(const char *haystack, size_t hay_len, const char *needle,
			  size_t needle_len)
{
	if (needle_len == 0)
		return true;
	struct buf h = BUF_INIT, n = BUF_INIT;
	mime_search_fold(haystack, hay_len, &h);
	mime_search_fold(needle, needle_len, &n);
	bool found = h.len >= n.len && memmem(h.data, h.len, n.data, n.len) != NULL;
	buf_free(&h);
	buf_free(&n);
	return found;
}
