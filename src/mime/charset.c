/* Charset conversion to UTF-8 through iconv, with the names mail really uses mapped to the
 * converters that decode what those mails really contain. */
#include <errno.h>
#include <iconv.h>
#include <string.h>

#include "lib/utf8.h"
#include "mime/mime_internal.h"

#define REPLACEMENT 0xfffd

void mime_utf8_put(struct buf *out, unsigned cp)
{
	utf8_append(out, cp);
}

size_t mime_utf8_get(const unsigned char *s, size_t len, unsigned *cp)
{
	unsigned char c = s[0];
	size_t n;
	unsigned v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[k] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

bool mime_utf8_sanitize(const char *in, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	bool clean = true;
	size_t i = 0, run = 0;
	buf_reserve(out, len);
	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		unsigned cp;
		size_t n = mime_utf8_get(s + i, len - i, &cp);
		if (n) {
			i += n;
			continue;
		}
		buf_append(out, in + run, i - run);
		mime_utf8_put(out, REPLACEMENT);
		clean = false;
		i++;
		run = i;
	}
	buf_append(out, in + run, len - run);
	return clean;
}

enum charset_kind { CS_UTF8, CS_ISO2022JP, CS_ICONV };

/* The names Japanese (and other) mail uses, mapped to the converter that decodes what such mail
 * really holds: Windows wrote most of it, so the Microsoft supersets. */
static const struct {
	const char *name;
	enum charset_kind kind;
	const char *iconv_name;
} aliases[] = {
	{ "utf-8", CS_UTF8, NULL },
	{ "utf8", CS_UTF8, NULL },
	{ "us-ascii", CS_UTF8, NULL }, /* 8-bit bytes under this label are nearly always UTF-8 */
	{ "ascii", CS_UTF8, NULL },
	{ "unknown-8bit", CS_UTF8, NULL },
	{ "x-unknown", CS_UTF8, NULL },
	{ "iso-2022-jp", CS_ISO2022JP, NULL },
	{ "csiso2022jp", CS_ISO2022JP, NULL },
	{ "iso2022jp", CS_ISO2022JP, NULL },
	{ "cp50220", CS_ISO2022JP, NULL },
	{ "cp50221", CS_ISO2022JP, NULL },
	{ "cp50222", CS_ISO2022JP, NULL },
	{ "shift_jis", CS_ICONV, "CP932" },
	{ "shift-jis", CS_ICONV, "CP932" },
	{ "sjis", CS_ICONV, "CP932" },
	{ "x-sjis", CS_ICONV, "CP932" },
	{ "ms_kanji", CS_ICONV, "CP932" },
	{ "csshiftjis", CS_ICONV, "CP932" },
	{ "windows-31j", CS_ICONV, "CP932" },
	{ "cp932", CS_ICONV, "CP932" },
	{ "ms932", CS_ICONV, "CP932" },
	{ "x-ms-cp932", CS_ICONV, "CP932" },
	{ "euc-jp", CS_ICONV, "EUC-JP-MS" },
	{ "eucjp", CS_ICONV, "EUC-JP-MS" },
	{ "x-euc-jp", CS_ICONV, "EUC-JP-MS" },
	{ "cseucpkdfmtjapanese", CS_ICONV, "EUC-JP-MS" },
	{ "ujis", CS_ICONV, "EUC-JP-MS" },
	{ "iso-8859-1", CS_ICONV, "WINDOWS-1252" }, /* as browsers do: 0x80-0x9f are cp1252 */
	{ "iso_8859-1", CS_ICONV, "WINDOWS-1252" },
	{ "latin1", CS_ICONV, "WINDOWS-1252" },
	{ "ks_c_5601-1987", CS_ICONV, "CP949" },
	{ "euc-kr", CS_ICONV, "CP949" },
	{ "gb2312", CS_ICONV, "GB18030" },
	{ "gbk", CS_ICONV, "GB18030" },
	{ "x-gbk", CS_ICONV, "GB18030" },
	{ "cp936", CS_ICONV, "GB18030" },
};

/* Resolves a charset name; false for names iconv must not see (odd characters could reach
 * glibc's "//" suffix parsing) or that are empty. */
static bool charset_lookup(const char *name, enum charset_kind *kind, char *iconv_name,
			   size_t cap)
{
	/* charset=" utf-8 " happens; the spaces are no part of the name. */
	while (*name == ' ' || *name == '\t')
		name++;
	size_t n = strlen(name);
	while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= cap)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':'))
			return false;
	}
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
		if (mime_ascii_ieq(name, n, aliases[i].name)) {
			*kind = aliases[i].kind;
			if (aliases[i].iconv_name)
				strcpy(iconv_name, aliases[i].iconv_name);
			return true;
		}
	}
	*kind = CS_ICONV;
	memcpy(iconv_name, name, n);
	iconv_name[n] = '\0';
	return true;
}

/* Runs iconv over in, appending UTF-8; an undecodable byte becomes U+FFFD (or stops the
 * conversion with false when strict). */
static bool iconv_append(iconv_t cd, const char *in, size_t len, struct buf *out, bool strict)
{
	bool clean = true;
	char *src = (char *)in;
	size_t left = len;
	while (left > 0) {
		buf_reserve(out, left * 3 + 16);
		char *dst = out->data + out->len;
		size_t room = out->cap - out->len - 1;
		size_t r = iconv(cd, &src, &left, &dst, &room);
		out->len = (size_t)(dst - out->data);
		out->data[out->len] = '\0';
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		if (strict)
			return false;
		clean = false;
		mime_utf8_put(out, REPLACEMENT);
		if (errno == EINVAL) /* truncated sequence at the end */
			break;
		src++;
		left--;
		iconv(cd, NULL, NULL, NULL, NULL); /* back to the initial shift state */
	}
	/* Flush a stateful decoder. */
	buf_reserve(out, 16);
	char *dst = out->data + out->len;
	size_t room = out->cap - out->len - 1;
	iconv(cd, NULL, NULL, &dst, &room);
	out->len = (size_t)(dst - out->data);
	out->data[out->len] = '\0';
	return clean;
}

/* ISO-2022-JP (RFC 1468) and its Windows variants (CP5022x: NEC row 13, IBM extensions,
 * half-width katakana by ESC ( I or SO/SI) rewritten as eucJP-ms, which iconv decodes with all
 * of those; glibc's own ISO-2022-JP rejects them. Unknown escapes or 8-bit bytes become 0xff,
 * which eucJP-ms rejects, so they surface as U+FFFD. */
static void iso2022jp_to_eucjp(const unsigned char *s, size_t len, struct buf *out)
{
	enum { ASCII, KANJI, KANA, SUPP } mode = ASCII;
	bool shift_out = false;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		if (c == 0x1b) {
			if (i + 2 < len && s[i + 1] == '(' &&
			    (s[i + 2] == 'B' || s[i + 2] == 'J' || s[i + 2] == 'H')) {
				mode = ASCII;
				i += 3;
			} else if (i + 2 < len && s[i + 1] == '(' && s[i + 2] == 'I') {
				mode = KANA;
				i += 3;
			} else if (i + 2 < len && s[i + 1] == '$' &&
				   (s[i + 2] == 'B' || s[i + 2] == '@')) {
				mode = KANJI;
				i += 3;
			} else if (i + 3 < len && s[i + 1] == '$' && s[i + 2] == '(' &&
				   (s[i + 3] == 'D')) {
				mode = SUPP;
				i += 4;
			} else if (i + 3 < len && s[i + 1] == '$' && s[i + 2] == '(' &&
				   (s[i + 3] == 'O' || s[i + 3] == 'Q' || s[i + 3] == 'B')) {
				/* JIS X 0213 plane 1: a superset of 0208, close enough. */
				mode = KANJI;
				i += 4;
			} else if (i + 2 < len && s[i + 1] == '&' && s[i + 2] == '@') {
				i += 3; /* JIS X 0208-1990 announcer; the ESC $ B follows */
			} else {
				buf_append_char(out, (char)0xff);
				i++;
			}
			continue;
		}
		if (c == 0x0e) {
			shift_out = true;
			i++;
			continue;
		}
		if (c == 0x0f) {
			shift_out = false;
			i++;
			continue;
		}
		if (c == '\n' || c == '\r') {
			/* Lines end in ASCII (RFC 1468): resetting recovers a missing ESC ( B. */
			mode = ASCII;
			shift_out = false;
			buf_append_char(out, (char)c);
			i++;
			continue;
		}
		if (c >= 0x80) {
			buf_append_char(out, (char)0xff);
			i++;
			continue;
		}
		if ((shift_out || mode == KANA) && c >= 0x21 && c <= 0x5f) {
			char b[2] = { (char)0x8e, (char)(c | 0x80) };
			buf_append(out, b, 2);
			i++;
			continue;
		}
		if ((mode == KANJI || mode == SUPP) && c >= 0x21 && c <= 0x7e && i + 1 < len &&
		    s[i + 1] >= 0x21 && s[i + 1] <= 0x7e) {
			if (mode == SUPP)
				buf_append_char(out, (char)0x8f);
			char b[2] = { (char)(c | 0x80), (char)(s[i + 1] | 0x80) };
			buf_append(out, b, 2);
			i += 2;
			continue;
		}
		buf_append_char(out, (char)c);
		i++;
	}
}

static bool convert(const char *charset, const char *in, size_t len, struct buf *out,
		    bool strict)
{
	enum charset_kind kind = CS_UTF8;
	char name[48];
	bool known = true;
	if (charset && !charset_lookup(charset, &kind, name, sizeof name)) {
		kind = CS_UTF8;
		known = false;
	}
	if (kind == CS_UTF8) {
		if (strict) {
			struct buf tmp = BUF_INIT;
			bool ok = mime_utf8_sanitize(in, len, &tmp);
			if (ok)
				buf_append(out, tmp.data, tmp.len);
			buf_free(&tmp);
			return ok && known;
		}
		return mime_utf8_sanitize(in, len, out) && known;
	}
	struct buf euc = BUF_INIT;
	if (kind == CS_ISO2022JP) {
		iso2022jp_to_eucjp((const unsigned char *)in, len, &euc);
		in = euc.data ? euc.data : "";
		len = euc.len;
		strcpy(name, "EUC-JP-MS");
	}
	iconv_t cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1) {
		bool ok = false;
		if (!strict)
			mime_utf8_sanitize(in, len, out);
		buf_free(&euc);
		return ok;
	}
	size_t mark = out->len;
	bool ok = iconv_append(cd, in, len, out, strict);
	if (!ok && strict) {
		out->len = mark;
		if (out->data)
			out->data[mark] = '\0';
	}
	iconv_close(cd);
	buf_free(&euc);
	return ok;
}

bool mime_charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out)
{
	return convert(charset, in, len, out, false);
}

bool mime_charset_try(const char *charset, const char *in, size_t len, struct buf *out)
{
	return convert(charset, in, len, out, true);
}
