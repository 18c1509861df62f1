/* DKIM canonicalization (RFC 6376 3.4), the body hash with l=, and the choice of the header
 * fields h= names. Pure code over the raw message; a bare LF is read as CRLF. */
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

/* Canonical output goes out in chunks of this size: one hash update per chunk, not per line. */
#define CANON_CHUNK 16384

struct canon_out {
	struct buf buf;
	dkim_emit_fn emit;
	void *ctx;
	uint64_t total;
};

static void out_put(struct canon_out *o, const char *s, size_t n)
{
	buf_append(&o->buf, s, n);
	o->total += n;
	if (o->buf.len >= CANON_CHUNK) {
		o->emit(o->ctx, o->buf.data, o->buf.len);
		buf_reset(&o->buf);
	}
}

uint64_t dkim_canon_body(enum dkim_canon c, const char *body, size_t len, dkim_emit_fn emit,
			 void *ctx)
{
	struct canon_out o = { BUF_INIT, emit, ctx, 0 };
	buf_reserve(&o.buf, CANON_CHUNK + 1024);
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
			out_put(&o, "\r\n", 2);
		if (c == DKIM_CANON_SIMPLE) {
			out_put(&o, s, n);
		} else {
			/* Runs of WSP become one SP: copy the spans between them. */
			size_t i = 0;
			while (i < n) {
				size_t start = i;
				while (i < n && !is_wsp(s[i]))
					i++;
				out_put(&o, s + start, i - start);
				if (i < n) {
					while (i < n && is_wsp(s[i]))
						i++;
					out_put(&o, " ", 1);
				}
			}
		}
		out_put(&o, "\r\n", 2);
		pos = next;
	}
	if (o.total == 0 && c == DKIM_CANON_SIMPLE)
		/* 3.4.3: an empty body is one CRLF in simple (relaxed keeps it empty, errata 3133). */
		out_put(&o, "\r\n", 2);
	if (o.buf.len)
		emit(ctx, o.buf.data, o.buf.len);
	buf_free(&o.buf);
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

void dkim_base64_encode(const unsigned char *data, size_t len, struct buf *out)
{
	size_t need = (len + 2) / 3 * 4;
	buf_reserve(out, need + 1);
	int n = EVP_EncodeBlock((unsigned char *)out->data + out->len, data, (int)len);
	out->len += (size_t)n;
	out->data[out->len] = '\0';
}
