/* Authentication-Results (RFC 8601): our field, written safely, and the authserv-id of
 * fields already in a message. */
#include "mailauth/authres.h"

#include <string.h>
#include <strings.h>

#include "lib/utf8.h"

#define LINE_MAX_COLS 78
#define MAX_VALUE 320   /* bytes of one value: an address is at most 254 */
#define MAX_COMMENT 200 /* bytes of one comment's text */

/* ---------------------------------------------------------------------------------------------
 * Cleaning: whatever came from outside becomes printable UTF-8 without line ends. */

static void clean(const char *s, size_t max, struct buf *out)
{
	if (!s)
		return;
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), start = out->len;
	for (size_t i = 0; i < len;) {
		size_t n = 1;
		unsigned char c = p[i];
		const char *put = (const char *)p + i;
		if (c == '\t' || c == '\n') {
			put = " "; /* a line end becomes a space: words stay apart */
		} else if (c < 0x20 || c == 0x7f) {
			i++;
			continue; /* CR and the other controls: dropped */
		} else if (c >= 0x80) {
			uint32_t cp;
			n = utf8_decode_one(p + i, len - i, &cp);
			if (n == 0) {
				n = 1;
				put = "?";
			}
		}
		size_t w = put == (const char *)p + i ? n : 1;
		if (out->len - start + w > max)
			break;
		buf_append(out, put, w);
		i += n;
	}
}

static bool is_tspecial(unsigned char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* RFC 2045 token. */
static bool is_token(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || is_tspecial(c))
			return false;
	}
	return true;
}

static bool is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* dot-atom-text of atext (or of letters, digits, '-' and '_' for a domain). */
static bool is_dot_atom(const char *s, size_t len, bool domain)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (s[i - 1] == '.')
				return false;
			continue;
		}
		bool ok = domain ? (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
					   (c >= '0' && c <= '9') || c == '-' || c == '_'
				 : is_atext(c);
		if (!ok)
			return false;
	}
	return true;
}

/* pvalue = value / [ [ local-part ] "@" ] domain-name (RFC 8601 2.2) */
static bool is_plain_pvalue(const char *s, size_t len)
{
	if (is_token(s, len))
		return true;
	const char *at = memrchr(s, '@', len);
	if (!at)
		return false;
	size_t ll = (size_t)(at - s);
	return (ll == 0 || is_dot_atom(s, ll, false)) && is_dot_atom(at + 1, len - ll - 1, true);
}

/* ---------------------------------------------------------------------------------------------
 * Writing, folded. */

struct writer {
	struct buf *out;
	size_t col;
	bool fresh; /* at the start of a line after the fold: no space before the next piece */
};

static void piece(struct writer *w, const char *s, size_t len)
{
	if (!w->fresh) {
		if (w->col + 1 + len > LINE_MAX_COLS) {
			buf_append_str(w->out, "\r\n\t");
			w->col = 1;
		} else {
			buf_append_char(w->out, ' ');
			w->col++;
		}
	}
	w->fresh = false;
	buf_append(w->out, s, len);
	w->col += len;
}

/* A new resinfo: ";" after what came before, then a new line. */
static void begin(struct writer *w)
{
	buf_append_str(w->out, ";\r\n\t");
	w->col = 1;
	w->fresh = true;
}

/* A value, plain when RFC 8601 allows it, else a quoted-string. */
static void append_value(struct buf *b, const char *s)
{
	struct buf v = BUF_INIT;
	clean(s, MAX_VALUE, &v);
	if (is_plain_pvalue(v.data ? v.data : "", v.len)) {
		buf_append(b, v.data, v.len);
	} else {
		buf_append_char(b, '"');
		for (size_t i = 0; i < v.len; i++) {
			if (v.data[i] == '"' || v.data[i] == '\\')
				buf_append_char(b, '\\');
			buf_append_char(b, v.data[i]);
		}
		buf_append_char(b, '"');
	}
	buf_free(&v);
}

/* "name=value" as one piece. */
static void prop(struct writer *w, const char *name, const char *value)
{
	if (!value || !value[0])
		return;
	struct buf b = BUF_INIT;
	buf_append_str(&b, name);
	buf_append_char(&b, '=');
	append_value(&b, value);
	piece(w, b.data, b.len);
	buf_free(&b);
}

/* "(text)", folded between its words when long. */
static void comment(struct writer *w, const char *text)
{
	struct buf c = BUF_INIT, word = BUF_INIT;
	clean(text, MAX_COMMENT, &c);
	bool first = true;
	size_t i = 0;
	while (i < c.len) {
		while (i < c.len && c.data[i] == ' ')
			i++;
		if (i == c.len)
			break;
		buf_reset(&word);
		if (first)
			buf_append_char(&word, '(');
		while (i < c.len && c.data[i] != ' ') {
			char ch = c.data[i++];
			if (ch == '(' || ch == ')' || ch == '\\')
				buf_append_char(&word, '\\');
			buf_append_char(&word, ch);
		}
		bool last = true;
		for (size_t j = i; j < c.len; j++)
			if (c.data[j] != ' ')
				last = false;
		if (last)
			buf_append_char(&word, ')');
		piece(w, word.data, word.len);
		first = false;
	}
	buf_free(&c);
	buf_free(&word);
}

static void method(struct writer *w, const char *name, const char *result)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s=%s", name, result);
	piece(w, b.data, b.len);
	buf_free(&b);
}

void authres_format(struct buf *out, const char *authserv_id, const struct authres_spf *spf,
		    size_t nspf, const struct dkim_outcome *dkim, size_t ndkim,
		    size_t dkim_unlisted, const struct dmarc_outcome *dmarc)
{
	struct buf id = BUF_INIT;
	append_value(&id, authserv_id && authserv_id[0] ? authserv_id : "localhost");
	size_t start = out->len;
	buf_append_str(out, "Authentication-Results: ");
	buf_append(out, id.data, id.len);
	buf_free(&id);
	struct writer w = { out, out->len - start, false };
	for (size_t i = 0; spf && i < nspf; i++) {
		begin(&w);
		method(&w, "spf", spf_result_name(spf[i].result));
		comment(&w, spf[i].reason);
		if (spf[i].mailfrom && spf[i].mailfrom[0])
			prop(&w, "smtp.mailfrom", spf[i].mailfrom);
		else
			prop(&w, "smtp.helo", spf[i].helo);
	}
	if (ndkim == 0) {
		begin(&w);
		method(&w, "dkim", "none");
		comment(&w, "the message is not signed");
	}
	/* The signatures checked, one entry each; the rest (a message may carry hundreds) in one
	 * entry, so the field stays short whatever was sent. */
	size_t more = dkim_unlisted;
	if (ndkim > DKIM_MAX_SIGNATURES) {
		more += ndkim - DKIM_MAX_SIGNATURES;
		ndkim = DKIM_MAX_SIGNATURES;
	}
	for (size_t i = 0; i < ndkim; i++) {
		const struct dkim_outcome *d = &dkim[i];
		begin(&w);
		if (d->result == DKIM_NOT_CHECKED) {
			method(&w, "dkim", "policy");
			comment(&w, d->reason[0] ? d->reason : "not checked: too many signatures");
		} else {
			method(&w, "dkim", dkim_result_name(d->result));
			comment(&w, d->reason);
		}
		prop(&w, "header.d", d->domain);
		prop(&w, "header.s", d->selector);
		prop(&w, "header.a", d->alg);
	}
	if (more) {
		struct buf c = BUF_INIT;
		buf_printf(&c, "%zu more signature%s not checked", more, more == 1 ? "" : "s");
		begin(&w);
		method(&w, "dkim", "policy");
		comment(&w, buf_cstr(&c));
		buf_free(&c);
	}
	if (dmarc) {
		begin(&w);
		method(&w, "dmarc", dmarc_result_name(dmarc->result));
		if (dmarc->result == DMARC_RESULT_PASS || dmarc->result == DMARC_RESULT_FAIL) {
			struct buf c = BUF_INIT;
			buf_printf(&c, "%s=%s dis=%s", dmarc->policy_tag[0] ? dmarc->policy_tag : "p",
				   dmarc_policy_name(dmarc->policy),
				   dmarc_policy_name(dmarc->disposition));
			comment(&w, buf_cstr(&c));
			buf_free(&c);
		} else {
			comment(&w, dmarc->reason);
		}
		prop(&w, "header.from", dmarc->from_domain);
	}
	buf_append_str(out, "\r\n");
}

/* ---------------------------------------------------------------------------------------------
 * Recognising ours. */

/* Skips whitespace, line ends and (nested) comments. False when a comment never ends. */
static bool skip_cfws(const char *s, size_t len, size_t *pos)
{
	size_t i = *pos;
	while (i < len) {
		char c = s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			i++;
			continue;
		}
		if (c != '(')
			break;
		size_t depth = 0;
		while (i < len) {
			c = s[i++];
			if (c == '\\' && i < len) {
				i++;
			} else if (c == '(') {
				depth++;
			} else if (c == ')' && --depth == 0) {
				break;
			}
		}
		if (depth)
			return false;
	}
	*pos = i;
	return true;
}

bool authres_is_ours(const char *value, size_t len, const char *authserv_id)
{
	if (!value || !authserv_id || !authserv_id[0])
		return false;
	size_t pos = 0, idlen = strlen(authserv_id);
	if (!skip_cfws(value, len, &pos) || pos >= len)
		return false;
	char got[256];
	size_t n = 0;
	if (value[pos] == '"') {
		pos++;
		while (pos < len && value[pos] != '"') {
			char c = value[pos++];
			if (c == '\\' && pos < len)
				c = value[pos++];
			else if (c == '\r' || c == '\n')
				continue; /* folding inside the quoted-string */
			if (n == sizeof got)
				return false;
			got[n++] = c;
		}
		if (pos >= len)
			return false; /* never closed */
	} else {
		/* a token; 8-bit bytes too (RFC 8601 allows UTF-8 under RFC 6532) */
		while (pos < len) {
			unsigned char c = (unsigned char)value[pos];
			if (c <= ' ' || c == 0x7f || is_tspecial(c))
				break;
			if (n == sizeof got)
				return false;
			got[n++] = (char)c;
			pos++;
		}
	}
	return n == idlen && strncasecmp(got, authserv_id, n) == 0;
}
