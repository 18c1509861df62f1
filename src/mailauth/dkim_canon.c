/* DKIM canonicalization (RFC 6376 3.4), the body hash with l=, and the choice of the header
 * fields h= names. Pure code over the raw message; a bare LF is read as CRLF. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "lib/alloc.h"
#include "mailauth/dkim_internal.h"
#include "mime/mime.h"

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

void dkim_canon_header(enum dkim_canon c, const char *field, size_t len, struct buf *out)
{
	if (c == DKIM_CANON_SIMPLE) {
		/* As is, with every line end written CRLF. */
		buf_reserve(out, len + 2);
		for (size_t i = 0; i < len; i++) {
			if (field[i] == '\n' && (i == 0 || field[i - 1] != '\r'))
				buf_append_char(out, '\r');
			buf_append_char(out, field[i]);
		}
		if (len == 0 || field[len - 1] != '\n')
			buf_append(out, "\r\n", 2);
		return;
	}
	const char *colon = memchr(field, ':', len);
	size_t name_len = colon ? (size_t)(colon - field) : len;
	while (name_len && is_wsp(field[name_len - 1]))
		name_len--;
	buf_reserve(out, len + 3);
	for (size_t i = 0; i < name_len; i++) {
		char ch = field[i];
		buf_append_char(out, ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch);
	}
	buf_append_char(out, ':');
	if (colon) {
		/* Unfold, turn each run of WSP into one SP, drop WSP at both ends of the value. */
		bool pending_sp = false, started = false;
		for (size_t i = (size_t)(colon - field) + 1; i < len; i++) {
			char ch = field[i];
			if (ch == '\r' || ch == '\n')
				continue;
			if (is_wsp(ch)) {
				pending_sp = started;
				continue;
			}
			if (pending_sp)
				buf_append_char(out, ' ');
			pending_sp = false;
			started = true;
			buf_append_char(out, ch);
		}
	}
	buf_append(out, "\r\n", 2);
}

/* The canonical body is mostly the message itself: a line without runs of blanks, tabs or
 * blanks at its end, ending in CRLF, is its own canonical form. So the output is kept as a run
 * of the source, handed to emit() whole when something else must follow it, and only what
 * differs (one SP for a run of blanks, CRLF for a bare LF, held-back empty lines) is copied,
 * into a small buffer. A plain text body of any size is a few emit() calls and no copy. */
struct canon_out {
	dkim_emit_fn emit;
	void *ctx;
	uint64_t total;
	const char *run; /* source bytes not yet emitted */
	size_t run_len;
	char lit[512]; /* or: bytes that are not in the source */
	size_t lit_len;
};

static void out_flush(struct canon_out *o)
{
	if (o->run_len)
		o->emit(o->ctx, o->run, o->run_len);
	else if (o->lit_len)
		o->emit(o->ctx, o->lit, o->lit_len);
	o->run_len = 0;
	o->lit_len = 0;
}

/* n bytes of the source at p are output. */
static void out_src(struct canon_out *o, const char *p, size_t n)
{
	if (n == 0)
		return;
	o->total += n;
	if (o->run_len && o->run + o->run_len == p) {
		o->run_len += n;
		return;
	}
	out_flush(o);
	o->run = p;
	o->run_len = n;
}

/* n (at most sizeof lit) bytes that are not in the source are output. */
static void out_lit(struct canon_out *o, const char *s, size_t n)
{
	o->total += n;
	if (o->run_len || o->lit_len + n > sizeof o->lit)
		out_flush(o);
	memcpy(o->lit + o->lit_len, s, n);
	o->lit_len += n;
}

/* Line end: the source's own CRLF when it directly follows what was output of the line. */
static void out_crlf(struct canon_out *o, const char *at, const char *limit)
{
	if (limit - at >= 2 && at[0] == '\r' && at[1] == '\n')
		out_src(o, at, 2);
	else
		out_lit(o, "\r\n", 2);
}

/* Bytes equal to c, as the top bit of each byte of the result (exact: no false hits). */
static inline uint64_t bytes_eq(uint64_t x, unsigned char c)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
	uint64_t t = x ^ (0x0101010101010101ULL * c);
	return ~(((t & low7) + low7) | t | low7);
}

/* The first position from i where relaxed canonicalization changes the line s[0..n): a TAB,
 * or a SP followed by a SP (a SP before a TAB is found at the TAB). n when there is none.
 * Eight bytes at a time: plain text has a blank every few bytes, and a byte loop branching on
 * each one was most of the time of verifying a large message. */
static size_t odd_blank(const char *s, size_t i, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; i + 8 <= n; i += 8) {
		uint64_t x;
		memcpy(&x, s + i, 8);
		uint64_t sp = bytes_eq(x, ' ');
		uint64_t hit = bytes_eq(x, '\t') | (sp & (sp >> 8));
		if (hit)
			return i + (size_t)(__builtin_ctzll(hit) >> 3);
		if ((sp >> 63) && i + 8 < n && s[i + 8] == ' ')
			return i + 7;
	}
#endif
	for (; i < n; i++)
		if (s[i] == '\t' || (s[i] == ' ' && i + 1 < n && s[i + 1] == ' '))
			return i;
	return n;
}

uint64_t dkim_canon_body(enum dkim_canon c, const char *body, size_t len, dkim_emit_fn emit,
			 void *ctx)
{
	struct canon_out o = { .emit = emit, .ctx = ctx };
	const char *limit = body + len;
	uint64_t empty_lines = 0;
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(body + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - body) : len;
		size_t next = nl ? end + 1 : len;
		if (nl && end > pos && body[end - 1] == '\r')
			end--;
		const char *s = body + pos;
		size_t n = end - pos;
		if (c == DKIM_CANON_RELAXED)
			while (n && is_wsp(s[n - 1])) /* WSP at the end of the line goes */
				n--;
		if (n == 0) {
			/* Empty lines count only when something follows them. */
			empty_lines++;
			pos = next;
			continue;
		}
		for (; empty_lines; empty_lines--)
			out_lit(&o, "\r\n", 2);
		if (c == DKIM_CANON_SIMPLE) {
			out_src(&o, s, n);
		} else {
			/* A run of WSP becomes one SP; a single SP is already that. */
			size_t from = 0, i = 0;
			while ((i = odd_blank(s, i, n)) < n) {
				size_t w = i;
				while (w > from && s[w - 1] == ' ')
					w--;
				while (i < n && is_wsp(s[i]))
					i++;
				out_src(&o, s + from, w - from);
				out_lit(&o, " ", 1);
				from = i;
			}
			out_src(&o, s + from, n - from);
		}
		out_crlf(&o, s + n, limit);
		pos = next;
	}
	if (o.total == 0 && c == DKIM_CANON_SIMPLE)
		/* 3.4.3: an empty body is one CRLF in simple (relaxed keeps it empty, errata 3133). */
		out_lit(&o, "\r\n", 2);
	out_flush(&o);
	return o.total;
}

struct hash_sink {
	EVP_MD_CTX *md;
	uint64_t left; /* bytes still hashed (l=) */
};

static void hash_emit(void *ctx, const void *data, size_t len)
{
	struct hash_sink *h = ctx;
	size_t n = len < h->left ? len : (size_t)h->left;
	if (n) {
		EVP_DigestUpdate(h->md, data, n);
		h->left -= n;
	}
}

unsigned dkim_body_hash(enum dkim_canon c, const EVP_MD *md, const char *body, size_t len,
			uint64_t limit, unsigned char *md_out, uint64_t *canon_len)
{
	struct hash_sink h = { EVP_MD_CTX_new(), limit };
	if (!h.md)
		abort();
	EVP_DigestInit_ex(h.md, md, NULL);
	*canon_len = dkim_canon_body(c, body, len, hash_emit, &h);
	unsigned out_len = 0;
	EVP_DigestFinal_ex(h.md, md_out, &out_len);
	EVP_MD_CTX_free(h.md);
	return out_len;
}

bool dkim_fields_collect(const char *msg, size_t len, struct dkim_field **fields, size_t *n)
{
	size_t hdr_len = mime_header_block_size(msg, len);
	struct mime_header_iter it;
	mime_header_iter_init(&it, msg, hdr_len, DKIM_MAX_FIELDS + 1);
	struct mime_field f;
	size_t cap = 0, count = 0;
	struct dkim_field *out = NULL;
	bool all = true;
	while (mime_header_next(&it, &f)) {
		if (count == DKIM_MAX_FIELDS) {
			all = false;
			break;
		}
		if (count == cap) {
			cap = cap ? cap * 2 : 32;
			out = xrealloc(out, cap * sizeof *out);
		}
		out[count++] = (struct dkim_field){
			.name = f.name,
			.name_len = f.name_len,
			.offset = f.offset,
			.size = f.size,
			.value_offset = (size_t)(f.value - msg),
			.value_len = f.value_len,
		};
	}
	*fields = out;
	*n = count;
	return all;
}

void dkim_header_data(const char *msg, const struct dkim_field *fields, size_t n, bool *used,
		      char *const *h, size_t h_count, enum dkim_canon c, struct buf *out)
{
	for (size_t k = 0; k < h_count; k++) {
		size_t hl = strlen(h[k]);
		for (size_t j = n; j-- > 0;) {
			if (used[j] || fields[j].name_len != hl ||
			    strncasecmp(fields[j].name, h[k], hl) != 0)
				continue;
			used[j] = true;
			dkim_canon_header(c, msg + fields[j].offset, fields[j].size, out);
			break;
		}
	}
}
