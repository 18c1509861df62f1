/* SASL mechanisms as pure functions (RFC 4616 PLAIN), shared by POP3, IMAP and SMTP AUTH. */
#ifndef YUBIN_SASL_H
#define YUBIN_SASL_H
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* Standard base64 (RFC 4648) decode; false on bad input or when out is too small.
 * *outlen is the decoded length. */
bool base64_decode(const char *in, size_t len, unsigned char *out, size_t outmax, size_t *outlen);

/* Appends the base64 form of data to out. */
void base64_encode(struct buf *out, const void *data, size_t len);

struct sasl_plain {
	char authzid[256];
	char authcid[256];
	char password[256];
};

/* Decodes "authzid NUL authcid NUL password" from base64. False with a sentence in *err. */
bool sasl_plain_decode(const char *b64, size_t len, struct sasl_plain *out, const char **err);

#endif
