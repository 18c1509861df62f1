/* Shared between the DKIM verifier and signer: the header fields of a message and the
 * selection of the fields h= names (RFC 6376 5.4.2: from the bottom up, each used once). */
#ifndef YUBIN_MAILAUTH_DKIM_INTERNAL_H
#define YUBIN_MAILAUTH_DKIM_INTERNAL_H
#include "mailauth/dkim.h"

struct dkim_field {
	const char *name;
	size_t name_len;
	size_t offset, size;   /* the whole field in the message, final line end included */
	size_t value_offset;   /* of the value (after the colon) in the message */
	size_t value_len;      /* final line end excluded */
};

/* Collects the fields of msg's header. Returns false when there are more than
 * DKIM_MAX_FIELDS (the first DKIM_MAX_FIELDS are collected all the same). */
bool dkim_fields_collect(const char *msg, size_t len, struct dkim_field **fields, size_t *n);

/* Appends the canonical form of each field h[] names, chosen from the bottom up; a name with no
 * field left adds nothing. `used` is scratch of n bools; a field marked used beforehand (the
 * signature itself) is never chosen. */
void dkim_header_data(const char *msg, const struct dkim_field *fields, size_t n, bool *used,
		      char *const *h, size_t h_count, enum dkim_canon c, struct buf *out);

#endif
