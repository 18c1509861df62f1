/* Header fields: iteration, unfolding, lookup, RFC 2047 encoded-words, and the structured
 * Content-Type / Content-Disposition values with RFC 2231 parameters. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/base64.h"
#include "mime/mime_internal.h"

#define MAX_RAW_PARAMS 128
#define MAX_CONTINUATION 999

bool mime_ascii_ieq(const char *s, size_t len, const char *word)
{
	size_t i = 0;
	for (; i < len; i++) {
		unsigned char a = (unsigned char)s[i], b = (unsigned char)word[i];
		if (b == 0)
			return false;
		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a + 32);
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char)(b + 32);
		if (a != b)
			return false;
	}
	return word[i] == '\0';
}

int mime_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool mime_is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

bool mime_is_token_char(int c)
{
	if (c >= 0x80)
		return true;
	if (c <= ' ' || c == 0x7f)
		return false;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* ---- header block and fields ---- */

/* End of the line starting at pos: the index after its LF, or len. */
static size_t line_end(const char *s, size_t len, size_t pos)
{
	const char *nl = memchr(s + pos, '\n', len - pos);
	return nl ? (size_t)(nl - s) + 1 : len;
}

static bool is_empty_line(const char *s, size_t len, size_t pos)
{
	return s[pos] == '\n' || (s[pos] == '\r' && pos + 1 < len && s[pos + 1] == '\n');
}

size_t mime_header_block_size(const char *msg, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		if (is_empty_line(msg, len, pos))
			return line_end(msg, len, pos);
		pos = line_end(msg, len, pos);
	}
	return len;
}

void mime_header_iter_init(struct mime_header_iter *it, const char *hdr, size_t len,
			   unsigned max_fields)
{
	it->data = hdr;
	it->len = len;
	it->pos = 0;
	it->count = 0;
	it->max_fields = max_fields;
}

bool mime_header_next(struct mime_header_iter *it, struct mime_field *f)
{
	const char *s = it->data;
	size_t len = it->len;
	while (it->pos < len) {
		size_t start = it->pos;
		if (is_empty_line(s, len, start)) {
			it->pos = len;
			return false;
		}
		if (it->max_fields && it->count >= it->max_fields) {
			it->pos = len;
			return false;
		}
		size_t first_end = line_end(s, len, start);
		size_t end = first_end;
		while (end < len && mime_is_wsp((unsigned char)s[end]))
			end = line_end(s, len, end);
		it->pos = end;
		if (mime_is_wsp((unsigned char)s[start]))
			continue; /* a continuation with no field before it */
		const char *colon = memchr(s + start, ':', first_end - start);
		if (!colon)
			continue;
		size_t name_len = (size_t)(colon - (s + start));
		while (name_len && mime_is_wsp((unsigned char)s[start + name_len - 1]))
			name_len--;
		bool ok = name_len > 0;
		for (size_t i = 0; ok && i < name_len; i++) {
			unsigned char c = (unsigned char)s[start + i];
			if (c <= ' ' || c >= 0x7f)
				ok = false;
		}
		if (!ok)
			continue; /* e.g. an mbox "From " line */
		size_t vend = end;
		if (vend > start && s[vend - 1] == '\n')
			vend--;
		if (vend > start && s[vend - 1] == '\r')
			vend--;
		size_t vstart = (size_t)(colon - s) + 1;
		if (vend < vstart)
			vend = vstart;
		it->count++;
		f->name = s + start;
		f->name_len = name_len;
		f->value = s + vstart;
		f->value_len = vend - vstart;
		f->offset = start;
		f->size = end - start;
		return true;
	}
	return false;
}

bool mime_header_find(const char *hdr, size_t len, const char *name, struct mime_field *f)
{
	struct mime_header_iter it;
	mime_header_iter_init(&it, hdr, len, 0);
	while (mime_header_next(&it, f)) {
		if (mime_ascii_ieq(f->name, f->name_len, name))
			return true;
	}
	return false;
}

void mime_header_unfold(const char *value, size_t len, struct buf *out)
{
	size_t i = 0;
	while (i < len && (mime_is_wsp((unsigned char)value[i]) || value[i] == '\r' ||
			   value[i] == '\n'))
		i++;
	size_t mark = out->len, keep = out->len;
	buf_reserve(out, len - i);
	for (; i < len; i++) {
		char c = value[i];
		if (c == '\n' || c == '\0')
			continue;
		if (c == '\r' && (i + 1 == len || value[i + 1] == '\n'))
			continue;
		out->data[out->len++] = c;
		if (!mime_is_wsp((unsigned char)c))
			keep = out->len;
	}
	if (keep < mark)
		keep = mark;
	out->len = keep;
	out->data[out->len] = '\0';
}

bool mime_header_get(const char *hdr, size_t len, const char *name, struct buf *out)
{
	struct mime_field f;
	if (!mime_header_find(hdr, len, name, &f))
		return false;
	mime_header_unfold(f.value, f.value_len, out);
	return true;
}

/* ---- RFC 2047 ---- */

struct encoded_word {
	const char *charset;
	size_t charset_len;
	char enc;
	const char *text;
	size_t text_len;
};

/* Recognises =?charset?B|Q?text?= at s[at]; *end is the index after it. The text may not hold
 * whitespace or '?', so a failed attempt scans at most to the third '?' (linear overall). */
static bool parse_encoded_word(const char *s, size_t len, size_t at, struct encoded_word *w,
			       size_t *end)
{
	size_t i = at + 2;
	size_t cs = i;
	while (i < len && s[i] != '?' && mime_is_token_char((unsigned char)s[i]) && i - cs < 64)
		i++;
	if (i >= len || s[i] != '?' || i == cs)
		return false;
	w->charset = s + cs;
	w->charset_len = i - cs;
	/* RFC 2231 section 5: charset*language */
	const char *star = memchr(w->charset, '*', w->charset_len);
	if (star)
		w->charset_len = (size_t)(star - w->charset);
	if (w->charset_len == 0)
		return false;
	i++;
	if (i + 1 >= len || s[i + 1] != '?')
		return false;
	char e = s[i];
	if (e == 'b' || e == 'B')
		w->enc = 'B';
	else if (e == 'q' || e == 'Q')
		w->enc = 'Q';
	else
		return false;
	i += 2;
	size_t ts = i;
	while (i < len && s[i] != '?') {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7f)
			return false;
		i++;
	}
	if (i + 1 >= len || s[i + 1] != '=')
		return false;
	w->text = s + ts;
	w->text_len = i - ts;
	*end = i + 2;
	return true;
}

static void decode_word_text(const struct encoded_word *w, struct buf *out)
{
	if (w->enc == 'B') {
		base64_decode_lenient(w->text, w->text_len, out);
		return;
	}
	for (size_t i = 0; i < w->text_len; i++) {
		char c = w->text[i];
		if (c == '_') {
			buf_append_char(out, ' ');
		} else if (c == '=' && i + 2 < w->text_len &&
			   mime_hex_value((unsigned char)w->text[i + 1]) >= 0 &&
			   mime_hex_value((unsigned char)w->text[i + 2]) >= 0) {
			buf_append_char(out,
					(char)(mime_hex_value((unsigned char)w->text[i + 1]) * 16 +
					       mime_hex_value((unsigned char)w->text[i + 2])));
			i += 2;
		} else {
			buf_append_char(out, c);
		}
	}
}

/* Raw (not encoded) header text: UTF-8 as is; ISO-2022-JP escapes decoded (old Japanese mailers
 * sent them unencoded); other 8-bit text tried as CP932, then as Windows-1252. */
static void append_raw_text(const char *s, size_t len, struct buf *out)
{
	bool high = false, esc = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80)
			high = true;
		else if (c == 0x1b)
			esc = true;
	}
	if (esc && !high) {
		mime_charset_to_utf8("iso-2022-jp", s, len, out);
		return;
	}
	if (!high) {
		size_t mark = out->len;
		buf_append(out, s, len);
		/* NULs would cut C strings short later on. */
		size_t o = mark;
		for (size_t i = mark; i < out->len; i++) {
			if (out->data[i])
				out->data[o++] = out->data[i];
		}
		out->len = o;
		out->data[o] = '\0';
		return;
	}
	if (mime_charset_try("utf-8", s, len, out) || mime_charset_try("cp932", s, len, out) ||
	    mime_charset_try("windows-1252", s, len, out))
		return;
	mime_utf8_sanitize(s, len, out);
}

static bool all_wsp(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!mime_is_wsp((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* Adjacent encoded-words in one charset are joined before conversion: mailers split multibyte
 * characters (and ISO-2022-JP escape runs) across words, though RFC 2047 forbids it. */
struct pending {
	char charset[65];
	struct buf bytes;
	bool active;
};

static void pending_flush(struct pending *p, struct buf *out)
{
	if (!p->active)
		return;
	mime_charset_to_utf8(p->charset, p->bytes.data ? p->bytes.data : "", p->bytes.len, out);
	buf_reset(&p->bytes);
	p->active = false;
}

void mime_header_decode(const char *value, size_t len, struct buf *out)
{
	struct buf text = BUF_INIT;
	mime_header_unfold(value, len, &text);
	const char *s = text.data ? text.data : "";
	size_t n = text.len;
	struct pending p = { .active = false };
	p.bytes = (struct buf)BUF_INIT;
	size_t i = 0, lit = 0;
	bool prev_word = false;
	while (i + 1 < n) {
		const char *q = memmem(s + i, n - i, "=?", 2);
		if (!q)
			break;
		size_t at = (size_t)(q - s), end;
		struct encoded_word w;
		if (!parse_encoded_word(s, n, at, &w, &end)) {
			i = at + 1;
			continue;
		}
		if (!(prev_word && all_wsp(s + lit, at - lit))) {
			pending_flush(&p, out);
			append_raw_text(s + lit, at - lit, out);
		}
		if (p.active && !mime_ascii_ieq(w.charset, w.charset_len, p.charset))
			pending_flush(&p, out);
		if (!p.active) {
			memcpy(p.charset, w.charset, w.charset_len);
			p.charset[w.charset_len] = '\0';
			p.active = true;
		}
		decode_word_text(&w, &p.bytes);
		prev_word = true;
		i = lit = end;
	}
	pending_flush(&p, out);
	append_raw_text(s + lit, n - lit, out);
	buf_free(&p.bytes);
	buf_free(&text);
}

/* ---- structured values ---- */

void mime_lex_skip_cfws(struct mime_lexer *lx, struct buf *comment)
{
	while (lx->pos < lx->len) {
		char c = lx->s[lx->pos];
		if (mime_is_wsp((unsigned char)c) || c == '\r' || c == '\n') {
			lx->pos++;
			continue;
		}
		if (c != '(')
			return;
		if (comment)
			buf_reset(comment);
		int depth = 0;
		while (lx->pos < lx->len) {
			c = lx->s[lx->pos++];
			if (c == '\\' && lx->pos < lx->len) {
				if (comment)
					buf_append_char(comment, lx->s[lx->pos]);
				lx->pos++;
				continue;
			}
			if (c == '(') {
				if (depth++ == 0)
					continue;
			} else if (c == ')') {
				if (--depth == 0)
					break;
			}
			if (comment && c != '\r' && c != '\n')
				buf_append_char(comment, c);
		}
	}
}

void mime_lex_quoted(struct mime_lexer *lx, struct buf *out)
{
	lx->pos++; /* the opening quote */
	while (lx->pos < lx->len) {
		char c = lx->s[lx->pos++];
		if (c == '"')
			return;
		if (c == '\\' && lx->pos < lx->len)
			c = lx->s[lx->pos++];
		else if (c == '\r' || c == '\n')
			continue;
		if (c)
			buf_append_char(out, c);
	}
}

static size_t lex_token(struct mime_lexer *lx)
{
	size_t start = lx->pos;
	while (lx->pos < lx->len && mime_is_token_char((unsigned char)lx->s[lx->pos]))
		lx->pos++;
	return lx->pos - start;
}

/* A lenient unquoted parameter value: real mail has boundary=----=_Part_1 unquoted. */
static size_t lex_param_value(struct mime_lexer *lx)
{
	size_t start = lx->pos;
	while (lx->pos < lx->len) {
		unsigned char c = (unsigned char)lx->s[lx->pos];
		if (c <= ' ' || c == ';' || c == '"' || c == '(' || c == 0x7f)
			break;
		lx->pos++;
	}
	return lx->pos - start;
}

static void skip_to_semicolon(struct mime_lexer *lx)
{
	while (lx->pos < lx->len && lx->s[lx->pos] != ';') {
		if (lx->s[lx->pos] == '"') {
			struct buf junk = BUF_INIT;
			mime_lex_quoted(lx, &junk);
			buf_free(&junk);
		} else {
			lx->pos++;
		}
	}
}

struct raw_param {
	const char *name;
	size_t name_len; /* the base name, before any '*' */
	char *value;
	int section;     /* -1: a plain parameter; "name*" alone counts as section 0 */
	bool extended;   /* value is charset'lang'%XX (or %XX for sections after 0) */
};

/* Splits "name", "name*", "name*3", "name*3*" (RFC 2231 3 and 4). */
static void classify_param(struct raw_param *p, const char *attr, size_t len)
{
	p->name = attr;
	p->name_len = len;
	p->section = -1;
	p->extended = false;
	const char *star = memchr(attr, '*', len);
	if (!star)
		return;
	size_t base = (size_t)(star - attr), i = base + 1;
	if (base == 0)
		return;
	if (i == len) {
		p->name_len = base;
		p->section = 0;
		p->extended = true;
		return;
	}
	int section = 0;
	size_t digits = 0;
	while (i < len && attr[i] >= '0' && attr[i] <= '9' && digits < 4) {
		section = section * 10 + (attr[i] - '0');
		i++;
		digits++;
	}
	if (digits == 0 || section > MAX_CONTINUATION)
		return;
	bool ext = false;
	if (i < len && attr[i] == '*') {
		ext = true;
		i++;
	}
	if (i != len)
		return;
	p->name_len = base;
	p->section = section;
	p->extended = ext;
}

static int raw_param_cmp(const struct raw_param *a, const struct raw_param *b)
{
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
	int c = strncasecmp(a->name, b->name, n);
	if (c)
		return c;
	if (a->name_len != b->name_len)
		return a->name_len < b->name_len ? -1 : 1;
	return a->section - b->section;
}

static const char *param_name(struct arena *a, const struct raw_param *p, const char *suffix)
{
	size_t sl = strlen(suffix);
	char *nm = arena_zalloc(a, p->name_len + sl + 1);
	memcpy(nm, p->name, p->name_len);
	memcpy(nm + p->name_len, suffix, sl + 1);
	return nm;
}

/* RFC 2231 sections of one name, sorted: joined when they run 0, 1, 2... (RFC 2231 3), as RFC
 * 2231 asks IMAP servers to; kept apart as "name*N[*]" otherwise, as Dovecot does. When some
 * section is extended the joined value stays in charset'lang'%XX form, plain sections having
 * their '%' escaped. */
static size_t merge_sections(struct arena *a, const struct raw_param *g, size_t n,
			     struct mime_param *out)
{
	bool consecutive = true, any_ext = false;
	for (size_t i = 0; i < n; i++) {
		if (g[i].section != (int)i)
			consecutive = false;
		if (g[i].extended)
			any_ext = true;
	}
	if (!consecutive) {
		for (size_t i = 0; i < n; i++) {
			char suffix[8];
			snprintf(suffix, sizeof suffix, g[i].extended ? "*%d*" : "*%d",
				 g[i].section);
			out[i].name = param_name(a, &g[i], suffix);
			out[i].value = g[i].value;
		}
		return n;
	}
	struct buf v = BUF_INIT;
	if (any_ext && !g[0].extended)
		buf_append_str(&v, "''");
	for (size_t i = 0; i < n; i++) {
		if (any_ext && !g[i].extended) {
			for (const char *c = g[i].value; *c; c++) {
				if (*c == '%')
					buf_append_str(&v, "%25");
				else
					buf_append_char(&v, *c);
			}
		} else {
			buf_append_str(&v, g[i].value);
		}
	}
	out[0].name = param_name(a, &g[0], any_ext ? "*" : "");
	out[0].value = arena_strndup(a, v.data ? v.data : "", v.len);
	buf_free(&v);
	return 1;
}

bool mime_parse_content_field(struct arena *a, const char *v, size_t len, bool want_subtype,
			      const char **type, const char **subtype,
			      const struct mime_param **params, size_t *nparams,
			      size_t max_params)
{
	struct mime_lexer lx = { v, len, 0 };
	*params = NULL;
	*nparams = 0;
	mime_lex_skip_cfws(&lx, NULL);
	size_t ts = lx.pos, tl = lex_token(&lx);
	if (tl == 0)
		return false;
	*type = arena_strndup(a, v + ts, tl);
	if (want_subtype) {
		mime_lex_skip_cfws(&lx, NULL);
		if (lx.pos >= len || v[lx.pos] != '/')
			return false;
		lx.pos++;
		mime_lex_skip_cfws(&lx, NULL);
		size_t ss = lx.pos, sl = lex_token(&lx);
		if (sl == 0)
			return false;
		*subtype = arena_strndup(a, v + ss, sl);
	}

	struct raw_param raw[MAX_RAW_PARAMS];
	size_t n = 0;
	struct buf val = BUF_INIT;
	if (max_params > MAX_RAW_PARAMS)
		max_params = MAX_RAW_PARAMS;
	while (lx.pos < len && n < max_params) {
		mime_lex_skip_cfws(&lx, NULL);
		if (lx.pos >= len)
			break;
		if (v[lx.pos] != ';') {
			skip_to_semicolon(&lx);
			continue;
		}
		lx.pos++;
		mime_lex_skip_cfws(&lx, NULL);
		size_t as = lx.pos, al = lex_token(&lx);
		if (al == 0)
			continue;
		mime_lex_skip_cfws(&lx, NULL);
		if (lx.pos >= len || v[lx.pos] != '=')
			continue;
		lx.pos++;
		mime_lex_skip_cfws(&lx, NULL);
		buf_reset(&val);
		if (lx.pos < len && v[lx.pos] == '"') {
			mime_lex_quoted(&lx, &val);
		} else {
			size_t vs = lx.pos, vl = lex_param_value(&lx);
			buf_append(&val, v + vs, vl);
		}
		struct raw_param *p = &raw[n++];
		classify_param(p, v + as, al);
		p->value = arena_strndup(a, val.data ? val.data : "", val.len);
		/* Keep the attribute as written for the plain case. */
		if (p->section < 0)
			p->name_len = al;
	}
	buf_free(&val);

	/* Plain parameters first, in order; then the RFC 2231 ones grouped by name, sorted (the
	 * order Dovecot gives, so BODYSTRUCTURE strings compare equal). */
	struct mime_param *out = arena_zalloc(a, (n ? n : 1) * sizeof *out);
	size_t k = 0, nc = 0;
	struct raw_param cont[MAX_RAW_PARAMS];
	for (size_t i = 0; i < n; i++) {
		if (raw[i].section < 0) {
			out[k].name = arena_strndup(a, raw[i].name, raw[i].name_len);
			out[k++].value = raw[i].value;
			continue;
		}
		size_t j = nc++;
		while (j > 0 && raw_param_cmp(&cont[j - 1], &raw[i]) > 0) {
			cont[j] = cont[j - 1];
			j--;
		}
		cont[j] = raw[i];
	}
	for (size_t i = 0; i < nc;) {
		size_t j = i + 1;
		while (j < nc && cont[j].name_len == cont[i].name_len &&
		       strncasecmp(cont[j].name, cont[i].name, cont[i].name_len) == 0)
			j++;
		k += merge_sections(a, cont + i, j - i, out + k);
		i = j;
	}
	*params = out;
	*nparams = k;
	return true;
}

void mime_rfc2231_decode(const char *v, size_t len, struct buf *out)
{
	const char *q1 = memchr(v, '\'', len);
	const char *q2 = q1 ? memchr(q1 + 1, '\'', len - (size_t)(q1 + 1 - v)) : NULL;
	char charset[65] = "";
	const char *data = v;
	if (q1 && q2) {
		size_t cl = (size_t)(q1 - v);
		if (cl < sizeof charset) {
			memcpy(charset, v, cl);
			charset[cl] = '\0';
		}
		data = q2 + 1;
	}
	size_t dlen = len - (size_t)(data - v);
	struct buf bytes = BUF_INIT;
	for (size_t i = 0; i < dlen; i++) {
		if (data[i] == '%' && i + 2 < dlen &&
		    mime_hex_value((unsigned char)data[i + 1]) >= 0 &&
		    mime_hex_value((unsigned char)data[i + 2]) >= 0) {
			buf_append_char(&bytes,
					(char)(mime_hex_value((unsigned char)data[i + 1]) * 16 +
					       mime_hex_value((unsigned char)data[i + 2])));
			i += 2;
		} else {
			buf_append_char(&bytes, data[i]);
		}
	}
	mime_charset_to_utf8(charset[0] ? charset : NULL, bytes.data ? bytes.data : "", bytes.len,
			     out);
	buf_free(&bytes);
}
