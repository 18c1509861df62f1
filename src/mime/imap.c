/* ENVELOPE, BODY and BODYSTRUCTURE (RFC 9051 7.5.2, RFC 3501 7.4.2), shaped like Dovecot's
 * output: type names and parameters as written, "7bit" and ("charset" "us-ascii") defaults,
 * Content-Language as a list, a multipart without parts given one empty text/plain part so the
 * grammar (1*body) holds. */
#include <string.h>

#include "mime/mime_internal.h"

#define QUOTED_MAX 1000

#define EMPTY_ENVELOPE "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
#define EMPTY_BODY "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"

void mime_imap_append_string(struct buf *out, const char *s, size_t len, unsigned flags)
{
	if (!s)
		len = 0;
	bool literal = len > QUOTED_MAX, high = false;
	size_t nuls = 0;
	for (size_t i = 0; i < len && !literal; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n')
			literal = true;
		else if (c >= 0x80)
			high = true;
		else if (c == 0)
			nuls++;
	}
	if (!literal && high) {
		literal = true;
		if (flags & MIME_IMAP_UTF8) {
			struct buf tmp = BUF_INIT;
			literal = !mime_utf8_sanitize(s, len, &tmp);
			buf_free(&tmp);
		}
	}
	if (literal) {
		nuls = 0;
		for (size_t i = 0; i < len; i++)
			nuls += s[i] == '\0';
		buf_printf(out, "{%zu}\r\n", len - nuls);
		size_t run = 0;
		for (size_t i = 0; i < len; i++) {
			if (s[i] == '\0') {
				buf_append(out, s + run, i - run);
				run = i + 1;
			}
		}
		buf_append(out, s + run, len - run);
		return;
	}
	buf_reserve(out, len + 2);
	buf_append_char(out, '"');
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '\0')
			continue;
		if (c == '"' || c == '\\')
			buf_append_char(out, '\\');
		buf_append_char(out, c);
	}
	buf_append_char(out, '"');
}

void mime_imap_append_nstring(struct buf *out, const char *s, unsigned flags)
{
	if (!s)
		buf_append_str(out, "NIL");
	else
		mime_imap_append_string(out, s, strlen(s), flags);
}

/* Renders an address list into out; false (nothing appended) when it has no address. */
static bool address_list(const char *v, struct buf *out, unsigned flags)
{
	if (!v)
		return false;
	size_t mark = out->len;
	mime_imap_address_list(v, strlen(v), out, flags);
	if (out->len - mark == 3 && memcmp(out->data + mark, "NIL", 3) == 0) {
		out->len = mark;
		out->data[mark] = '\0';
		return false;
	}
	return true;
}

void mime_imap_envelope(const struct mime_message *m, uint32_t idx, struct buf *out,
			unsigned flags)
{
	if (idx >= m->nparts || !(m->parts[idx].flags & MIME_PART_ENVELOPE)) {
		buf_append_str(out, EMPTY_ENVELOPE);
		return;
	}
	const char *const *env = m->parts[idx].env;
	buf_append_char(out, '(');
	mime_imap_append_nstring(out, env[MIME_ENV_DATE], flags);
	buf_append_char(out, ' ');
	mime_imap_append_nstring(out, env[MIME_ENV_SUBJECT], flags);

	struct buf from = BUF_INIT;
	if (!address_list(env[MIME_ENV_FROM], &from, flags))
		buf_append_str(&from, "NIL");
	buf_append_char(out, ' ');
	buf_append(out, from.data, from.len);
	/* RFC 3501 7.4.2: Sender and Reply-To absent or empty: the From value. */
	for (int e = MIME_ENV_SENDER; e <= MIME_ENV_REPLY_TO; e++) {
		buf_append_char(out, ' ');
		if (!address_list(env[e], out, flags))
			buf_append(out, from.data, from.len);
	}
	buf_free(&from);
	for (int e = MIME_ENV_TO; e <= MIME_ENV_BCC; e++) {
		buf_append_char(out, ' ');
		if (!address_list(env[e], out, flags))
			buf_append_str(out, "NIL");
	}
	buf_append_char(out, ' ');
	mime_imap_append_nstring(out, env[MIME_ENV_IN_REPLY_TO], flags);
	buf_append_char(out, ' ');
	mime_imap_append_nstring(out, env[MIME_ENV_MESSAGE_ID], flags);
	buf_append_char(out, ')');
}

static void append_params(struct buf *out, const struct mime_param *ps, size_t n,
			  bool default_charset, unsigned flags)
{
	bool seen_charset = false;
	for (size_t i = 0; i < n; i++) {
		const char *nm = ps[i].name;
		if (mime_ascii_ieq(nm, strlen(nm), "charset"))
			seen_charset = true;
	}
	bool add_charset = default_charset && !seen_charset;
	if (n == 0 && !add_charset) {
		buf_append_str(out, "NIL");
		return;
	}
	buf_append_char(out, '(');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_append_char(out, ' ');
		mime_imap_append_nstring(out, ps[i].name, flags);
		buf_append_char(out, ' ');
		mime_imap_append_nstring(out, ps[i].value, flags);
	}
	if (add_charset)
		buf_append_str(out, n ? " \"charset\" \"us-ascii\"" : "\"charset\" \"us-ascii\"");
	buf_append_char(out, ')');
}

/* "en, fr (comment)" -> ("en" "fr"); NIL when there is no tag. */
static void append_language(struct buf *out, const char *lang, unsigned flags)
{
	if (!lang) {
		buf_append_str(out, "NIL");
		return;
	}
	struct mime_lexer lx = { lang, strlen(lang), 0 };
	size_t count = 0, mark = out->len;
	buf_append_char(out, '(');
	while (lx.pos < lx.len) {
		mime_lex_skip_cfws(&lx, NULL);
		size_t start = lx.pos;
		while (lx.pos < lx.len && lx.s[lx.pos] != ',' && lx.s[lx.pos] != '(' &&
		       !mime_is_wsp((unsigned char)lx.s[lx.pos]))
			lx.pos++;
		if (lx.pos > start) {
			if (count++)
				buf_append_char(out, ' ');
			mime_imap_append_string(out, lang + start, lx.pos - start, flags);
		}
		mime_lex_skip_cfws(&lx, NULL);
		if (lx.pos < lx.len && lx.s[lx.pos] == ',')
			lx.pos++;
		else if (lx.pos < lx.len && lx.pos == start)
			lx.pos++;
	}
	if (count == 0) {
		out->len = mark;
		buf_append_str(out, "NIL");
		return;
	}
	buf_append_char(out, ')');
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void append_ext_tail(struct buf *out, const struct mime_part *p, unsigned flags)
{
	buf_append_char(out, ' ');
	if (p->disposition) {
		buf_append_char(out, '(');
		mime_imap_append_nstring(out, p->disposition, flags);
		buf_append_char(out, ' ');
		append_params(out, p->disp_params, p->ndisp_params, false, flags);
		buf_append_char(out, ')');
	} else {
		buf_append_str(out, "NIL");
	}
	buf_append_char(out, ' ');
	append_language(out, p->language, flags);
	buf_append_char(out, ' ');
	mime_imap_append_nstring(out, p->location, flags);
}

static void append_empty_body(struct buf *out, bool extended)
{
	buf_append_str(out, EMPTY_BODY);
	buf_append_str(out, extended ? " NIL NIL NIL NIL)" : ")");
}

static void render_part(const struct mime_message *m, uint32_t idx, bool ext, struct buf *out,
			unsigned flags)
{
	const struct mime_part *p = &m->parts[idx];
	buf_append_char(out, '(');
	if (p->flags & MIME_PART_MULTIPART) {
		if (p->first_child == MIME_NONE)
			append_empty_body(out, ext);
		for (uint32_t c = p->first_child; c != MIME_NONE; c = m->parts[c].next_sibling)
			render_part(m, c, ext, out, flags);
		buf_append_char(out, ' ');
		mime_imap_append_nstring(out, p->subtype, flags);
		if (ext) {
			buf_append_char(out, ' ');
			append_params(out, p->params, p->nparams, false, flags);
			append_ext_tail(out, p, flags);
		}
		buf_append_char(out, ')');
		return;
	}
	mime_imap_append_nstring(out, p->type, flags);
	buf_append_char(out, ' ');
	mime_imap_append_nstring(out, p->subtype, flags);
	buf_append_char(out, ' ');
	append_params(out, p->params, p->nparams, (p->flags & MIME_PART_TEXT) != 0, flags);
	buf_append_char(out, ' ');
	mime_imap_append_nstring(out, p->id, flags);
	buf_append_char(out, ' ');
	mime_imap_append_nstring(out, p->description, flags);
	buf_append_char(out, ' ');
	if (p->encoding)
		mime_imap_append_nstring(out, p->encoding, flags);
	else
		buf_append_str(out, "\"7bit\"");
	buf_printf(out, " %zu", p->body_size);
	if (p->flags & MIME_PART_TEXT) {
		buf_printf(out, " %zu", p->body_lines);
	} else if (p->flags & MIME_PART_MESSAGE) {
		buf_append_char(out, ' ');
		if (p->first_child != MIME_NONE) {
			mime_imap_envelope(m, p->first_child, out, flags);
			buf_append_char(out, ' ');
			render_part(m, p->first_child, ext, out, flags);
		} else {
			buf_append_str(out, EMPTY_ENVELOPE " ");
			append_empty_body(out, ext);
		}
		buf_printf(out, " %zu", p->body_lines);
	}
	if (ext) {
		buf_append_char(out, ' ');
		mime_imap_append_nstring(out, p->md5, flags);
		append_ext_tail(out, p, flags);
	}
	buf_append_char(out, ')');
}

void mime_imap_bodystructure(const struct mime_message *m, uint32_t part, bool extended,
			     struct buf *out, unsigned flags)
{
	if (part >= m->nparts) {
		append_empty_body(out, extended);
		return;
	}
	render_part(m, part, extended, out, flags);
}
