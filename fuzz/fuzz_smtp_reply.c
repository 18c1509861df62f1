/* libFuzzer target: the outbound client's SMTP reply reader must never crash, must only
 * finish replies with a code of 200-599 whose every line carried that code, and must keep
 * what it holds bounded. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/linereader.h"
#include "outbound/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct line_reader lr;
	line_reader_init(&lr, 2048);
	struct smtp_reply_reader r;
	smtp_reply_reader_init(&r);
	const char *p = (const char *)data;
	size_t left = size;
	while (left > 0) {
		size_t consumed, len;
		enum line_status st = line_reader_next(&lr, p, left, &consumed, &len);
		if (st == LINE_OK) {
			size_t n = line_strip_eol(p, len);
			char *line = malloc(n ? n : 1);
			memcpy(line, p, n);
			struct smtp_reply out;
			const char *why = NULL;
			enum smtp_reply_status rs = smtp_reply_feed(&r, line, n, &out, &why);
			if (rs == SMTP_REPLY_DONE) {
				if (out.code < 200 || out.code > 599 || !out.flat || !out.lines ||
				    strlen(out.flat) > SMTP_REPLY_MAX_BYTES)
					abort();
				smtp_reply_free(&out);
			} else if (rs == SMTP_REPLY_BAD && !why) {
				abort();
			}
			if (r.flat.len + r.lines.len > SMTP_REPLY_MAX_BYTES)
				abort();
			free(line);
		}
		if (consumed == 0)
			break;
		p += consumed;
		left -= consumed;
	}
	smtp_reply_reader_reset(&r);
	return 0;
}
