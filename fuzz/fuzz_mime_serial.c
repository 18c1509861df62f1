/* libFuzzer target: the stored form of a part tree read from arbitrary bytes (a corrupt database
 * row). Whatever is accepted must render and resolve sections without reading outside the
 * message it claims to describe. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_mime_check.h"
#include "mime/mime.h"

static char message[4096];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_message *m = mime_message_deserialize((const char *)data, size);
	if (!m)
		return 0;
	size_t len = m->size < sizeof message ? m->size : sizeof message;
	struct buf out = BUF_INIT;
	for (uint32_t i = 0; i < m->nparts; i++) {
		buf_reset(&out);
		mime_imap_bodystructure(m, i, i & 1, &out, 0);
		check_imap(&out);
		buf_reset(&out);
		mime_imap_envelope(m, i, &out, 0);
		check_imap(&out);
	}
	static const char *const sections[] = {
		"", "1", "1.1", "2.HEADER", "1.MIME", "TEXT", "HEADER.FIELDS (Subject)",
		"1.2.HEADER.FIELDS.NOT (To)",
	};
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
		struct mime_section sec;
		if (!mime_section_parse(sections[i], strlen(sections[i]), &sec))
			abort();
		struct mime_fetch res = { .data = &out };
		if (mime_section_fetch(m, message, len, &sec, &res) == MIME_FETCH_RANGE &&
		    (res.offset > len || res.size > len - res.offset))
			abort();
	}
	mime_search_text(m, message, len, MIME_SEARCH_HEADERS | MIME_SEARCH_BODY, &out);
	struct buf again = BUF_INIT;
	mime_message_serialize(m, &again);
	buf_free(&again);
	buf_free(&out);
	mime_message_free(&m);
	return 0;
}
