/* libFuzzer target: FETCH BODY[section]. The first line of the input is the section text (as
 * between the brackets), the rest the message. Every answer must lie inside the message, and
 * HEADER.FIELDS output must end with the empty line. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nl = memchr(in, '\n', size);
	size_t slen = nl ? (size_t)(nl - in) : size;
	const char *msg = nl ? nl + 1 : in + size;
	size_t len = size - (size_t)(msg - in);

	struct mime_section sec;
	if (!mime_section_parse(in, slen, &sec))
		return 0;
	struct mime_message *m = mime_message_parse(msg, len, NULL);
	struct buf out = BUF_INIT;
	struct mime_fetch res = { .data = &out };
	enum mime_fetch_kind k = mime_section_fetch(m, msg, len, &sec, &res);
	if (k == MIME_FETCH_RANGE && (res.offset > len || res.size > len - res.offset))
		abort();
	if (k == MIME_FETCH_DATA && (out.len < 2 || memcmp(out.data + out.len - 2, "\r\n", 2) != 0))
		abort();
	uint32_t p = mime_section_part(m, &sec);
	if (p != MIME_NONE && p >= m->nparts)
		abort();
	if (p != MIME_NONE) {
		struct buf dec = BUF_INIT;
		const struct mime_part *mp = &m->parts[p];
		mime_decode_cte(mp->cte, msg + mp->body_offset, mp->body_size, &dec);
		buf_free(&dec);
	}
	buf_free(&out);
	mime_message_free(&m);
	return 0;
}
