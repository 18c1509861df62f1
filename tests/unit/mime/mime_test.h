/* Helpers for the MIME unit tests: messages are written with \n for readability and turned
 * into CRLF (as stored) by crlf(); results are returned as C strings owned by a static buffer
 * that the next call reuses. */
#ifndef YUBIN_TEST_MIME_H
#define YUBIN_TEST_MIME_H
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "mime/mime.h"

static inline char *crlf(const char *s)
{
	static struct buf b;
	buf_reset(&b);
	mime_normalize_crlf(s, strlen(s), &b);
	return b.data;
}

static inline const char *bodystructure_of(const char *msg, bool extended)
{
	static struct buf b;
	buf_reset(&b);
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	mime_imap_bodystructure(m, 0, extended, &b, 0);
	mime_message_free(&m);
	return buf_cstr(&b);
}

static inline const char *envelope_of(const char *msg)
{
	static struct buf b;
	buf_reset(&b);
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	mime_imap_envelope(m, 0, &b, 0);
	mime_message_free(&m);
	return buf_cstr(&b);
}

static inline const char *decoded_header(const char *value)
{
	static struct buf b;
	buf_reset(&b);
	mime_header_decode(value, strlen(value), &b);
	return buf_cstr(&b);
}

#endif
