/* Cutting header fields out of a finished message (Authentication-Results that claim our
 * name, X-Spam-* a sender wrote itself): the message stays one span, a spilled one moves only
 * its header. */
#ifndef YUBIN_SMTP_HEADERS_H
#define YUBIN_SMTP_HEADERS_H
#include <stdbool.h>
#include <stddef.h>

#include "lib/spool.h"
#include "mime/mime.h"

typedef bool (*header_match_fn)(const struct mime_field *f, void *arg);

/* Removes the fields of the header block that starts at `offset` of b for which match is
 * true (at most 256 per call; the header block is bounded by max-header-size). Returns how
 * many were removed. */
size_t header_remove_fields(struct spool_bytes *b, size_t offset, header_match_fn match,
			    void *arg);

#endif
