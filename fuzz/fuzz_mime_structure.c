/* libFuzzer target: the part tree of arbitrary bytes, rendered as ENVELOPE / BODY /
 * BODYSTRUCTURE, searched, and stored and read back. Checks the invariants the IMAP session relies
 * on: every range lies inside the message, a part's body follows its header, children lie inside
 * their parent's body, and the stored form renders exactly like the parsed tree. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_mime_check.h"
#include "mime/mime.h"

static void check_tree(const struct mime_message *m, size_t len)
{
	if (m->nparts == 0 || m->size != len)
		abort();
	for (uint32_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		if (p->header_offset > len || p->header_size > len - p->header_offset ||
		    p->body_offset != p->header_offset + p->header_size ||
		    p->body_size > len - p->body_offset || !p->type || !p->subtype)
			abort();
		if (p->parent != MIME_NONE) {
			const struct mime_part *q = &m->parts[p->parent];
			if (p->parent >= i || p->header_offset < q->body_offset ||
			    p->body_offset + p->body_size > q->body_offset + q->body_size)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	struct mime_limits lim;
	mime_limits_default(&lim);
	/* Small limits reach the "rest is opaque" paths with small inputs. */
	if (size && (data[0] & 1)) {
		lim.max_depth = 4;
		lim.max_parts = 8;
		lim.max_header_fields = 6;
		lim.max_field_size = 64;
	}
	struct mime_message *m = mime_message_parse(msg, size, &lim);
	check_tree(m, size);

	struct buf a = BUF_INIT, b = BUF_INIT, ser = BUF_INIT;
	for (uint32_t i = 0; i < m->nparts; i++) {
		buf_reset(&a);
		mime_imap_bodystructure(m, i, i & 1, &a, i & 2 ? MIME_IMAP_UTF8 : 0);
		check_imap(&a);
		buf_reset(&a);
		mime_imap_envelope(m, i, &a, 0);
		check_imap(&a);
	}
	buf_reset(&a);
	mime_imap_bodystructure(m, 0, true, &a, 0);
	mime_imap_bodystructure(m, 0, false, &a, 0);
	mime_imap_envelope(m, 0, &a, 0);

	mime_message_serialize(m, &ser);
	struct mime_message *r = mime_message_deserialize(ser.data, ser.len);
	if (!r)
		abort();
	mime_imap_bodystructure(r, 0, true, &b, 0);
	mime_imap_bodystructure(r, 0, false, &b, 0);
	mime_imap_envelope(r, 0, &b, 0);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();

	struct buf text = BUF_INIT;
	mime_search_text(m, msg, size, MIME_SEARCH_HEADERS | MIME_SEARCH_BODY, &text);
	struct buf clean = BUF_INIT;
	if (!mime_utf8_sanitize(text.data ? text.data : "", text.len, &clean))
		abort(); /* search text is always valid UTF-8 */

	mime_message_free(&r);
	mime_message_free(&m);
	buf_free(&a);
	buf_free(&b);
	buf_free(&ser);
	buf_free(&text);
	buf_free(&clean);
	return 0;
}
