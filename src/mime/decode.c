/* Content-Transfer-Encoding decoders (RFC 2045 6) and line-end normalisation. */
#include <string.h>

#include "lib/base64.h"
#include "mime/mime_internal.h"

enum mime_cte mime_cte_from_name(const char *s, size_t len)
{
	static const struct {
		const char *name;
		enum mime_cte cte;
	} names[] = {
		{ "7bit", MIME_CTE_7BIT }, { "8bit", MIME_CTE_8BIT }, { "binary", MIME_CTE_BINARY },
		{ "base64", MIME_CTE_BASE64 }, { "quoted-printable", MIME_CTE_QP },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (mime_ascii_ieq(s, len, names[i].name))
			return names[i].cte;
	}
	return MIME_CTE_UNKNOWN;
}

bool mime_decode_qp(const char *in, size_t len, struct buf *out)
{
	bool ok = true;
	size_t pos = 0;
	buf_reserve(out, len);
	while (pos < len) {
		const char *nl = memchr(in + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - in) : len; /* content end, before CR/LF */
		size_t next = nl ? end + 1 : len;
		const char *eol = nl ? "\n" : "";
		if (nl && end > pos && in[end - 1] == '\r') {
			end--;
			eol = "\r\n";
		}
		/* Transport may add trailing whitespace; it was never part of the data. */
		while (end > pos && (in[end - 1] == ' ' || in[end - 1] == '\t'))
			end--;
		bool soft = false;
		for (size_t i = pos; i < end; i++) {
			char c = in[i];
			if (c != '=') {
				buf_append_char(out, c);
				continue;
			}
			if (i + 1 == end) {
				soft = true;
				break;
			}
			int hi = i + 2 < end ? mime_hex_value((unsigned char)in[i + 1]) : -1;
			int lo = hi >= 0 ? mime_hex_value((unsigned char)in[i + 2]) : -1;
			if (hi >= 0 && lo >= 0) {
				buf_append_char(out, (char)(hi * 16 + lo));
				i += 2;
			} else {
				ok = false;
				buf_append_char(out, '=');
			}
		}
		if (!soft)
			buf_append_str(out, eol);
		pos = next;
	}
	return ok;
}

bool mime_decode_cte(enum mime_cte cte, const char *in, size_t len, struct buf *out)
{
	switch (cte) {
	case MIME_CTE_BASE64:
		return base64_decode_lenient(in, len, out);
	case MIME_CTE_QP:
		return mime_decode_qp(in, len, out);
	case MIME_CTE_7BIT:
	case MIME_CTE_8BIT:
	case MIME_CTE_BINARY:
		buf_append(out, in, len);
		return true;
	case MIME_CTE_UNKNOWN:
		break;
	}
	buf_append(out, in, len);
	return false;
}

void mime_normalize_crlf_stream(const char *in, size_t len, bool *cr, bool last, struct buf *out)
{
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		if (*cr) {
			*cr = false;
			buf_append(out, "\r\n", 2);
			if (in[i] == '\n') {
				run = i + 1;
				continue;
			}
		}
		if (in[i] == '\r' || in[i] == '\n') {
			buf_append(out, in + run, i - run);
			if (in[i] == '\r')
				*cr = true; /* CRLF or bare CR: decided by the next byte */
			else
				buf_append(out, "\r\n", 2);
			run = i + 1;
		}
	}
	if (len > run)
		buf_append(out, in + run, len - run);
	if (last && *cr) {
		*cr = false;
		buf_append(out, "\r\n", 2);
	}
}

void mime_normalize_crlf(const char *in, size_t len, struct buf *out)
{
	buf_reserve(out, len);
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) {
			buf_append(out, in + run, i - run);
			buf_append(out, "\r\n", 2);
			run = i + 1;
		} else if (in[i] == '\r' && (i + 1 == len || in[i + 1] != '\n')) {
			buf_append(out, in + run, i - run);
			buf_append(out, "\r\n", 2);
			run = i + 1;
		}
	}
	buf_append(out, in + run, len - run);
}
