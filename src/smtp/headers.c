/* Cutting header fields out of a finished message (headers.h). */
#include "smtp/headers.h"

#define MAX_CUTS 256

size_t header_remove_fields(struct spool_bytes *b, size_t offset, header_match_fn match,
			    void *arg)
{
	if (offset > b->len)
		return 0;
	const char *msg = b->data + offset;
	size_t len = b->len - offset;
	size_t hdr = mime_header_block_size(msg, len);
	struct mime_header_iter it;
	struct mime_field f;
	size_t cut_at[MAX_CUTS], cut_len[MAX_CUTS], n = 0;
	mime_header_iter_init(&it, msg, hdr, 0);
	while (n < MAX_CUTS && mime_header_next(&it, &f))
		if (match(&f, arg)) {
			cut_at[n] = offset + f.offset;
			cut_len[n++] = f.size;
		}
	/* Last first: removing a field moves nothing before it. */
	for (size_t i = n; i-- > 0;)
		spool_bytes_remove(b, cut_at[i], cut_len[i]);
	return n;
}
