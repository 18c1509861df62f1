#include "outbound/reply.h"

#include <stdlib.h>

void smtp_reply_reader_init(struct smtp_reply_reader *r)
{
	*r = (struct smtp_reply_reader){ .flat = BUF_INIT, .lines = BUF_INIT };
}

void smtp_reply_reader_reset(struct smtp_reply_reader *r)
{
	buf_free(&r->flat);
	buf_free(&r->lines);
	smtp_reply_reader_init(r);
}

void smtp_reply_free(struct smtp_reply *reply)
{
	free(reply->flat);
	free(reply->lines);
	reply->flat = reply->lines = NULL;
}

/* The code of a reply line, or 0 when the line does not start with one followed by a space,
 * a hyphen or its end. */
static int line_code(const char *line, size_t len, char *sep)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' ||
	    line[2] < '0' || line[2] > '9')
		return 0;
	*sep = len > 3 ? line[3] : ' ';
	if (*sep != ' ' && *sep != '-')
		return 0;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

static void append_text(struct buf *out, const char *text, size_t len)
{
	if (len > SMTP_REPLY_LINE_KEEP)
		len = SMTP_REPLY_LINE_KEEP;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		buf_append_char(out, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
}

static enum smtp_reply_status bad(struct smtp_reply_reader *r, const char **why,
				  const char *reason)
{
	smtp_reply_reader_reset(r);
	*why = reason;
	return SMTP_REPLY_BAD;
}

enum smtp_reply_status smtp_reply_feed(struct smtp_reply_reader *r, const char *line, size_t len,
				       struct smtp_reply *out, const char **why)
{
	char sep;
	int code = line_code(line, len, &sep);
	if (!code)
		return bad(r, why, "the server sent a malformed reply");
	if (r->code && code != r->code)
		return bad(r, why, "the server sent a reply whose lines carry different codes");
	if (++r->nlines > SMTP_REPLY_MAX_LINES)
		return bad(r, why, "the server sent an endless reply");
	const char *text = len > 4 ? line + 4 : "";
	size_t tlen = len > 4 ? len - 4 : 0;
	if (!r->code) {
		r->code = code;
		buf_printf(&r->flat, "%d", code);
	} else {
		buf_append_char(&r->lines, '\n');
	}
	if (tlen) {
		buf_append_char(&r->flat, ' ');
		append_text(&r->flat, text, tlen);
		append_text(&r->lines, text, tlen);
	}
	if (r->flat.len + r->lines.len > SMTP_REPLY_MAX_BYTES)
		return bad(r, why, "the server sent an endless reply");
	if (sep == '-')
		return SMTP_REPLY_MORE;
	out->code = r->code;
	out->flat = buf_steal(&r->flat, NULL);
	out->lines = buf_steal(&r->lines, NULL);
	smtp_reply_reader_init(r);
	return SMTP_REPLY_DONE;
}
