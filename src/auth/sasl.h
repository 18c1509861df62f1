/* SASL mechanisms as pure functions (RFC 4616 PLAIN), shared by POP3, IMAP and SMTP AUTH. */
#ifndef YUBIN_SASL_H
#define YUBIN_SASL_H
#include <stdbool.h>
#include <stddef.h>

/* Every SASL exchange is base64: its callers get the codec with this header. */
#include "lib/base64.h"

struct sasl_plain {
	char authzid[256];
	char authcid[256];
	char password[256];
};

/* Decodes "authzid NUL authcid NUL password" from base64. False with a sentence in *err. */
bool sasl_plain_decode(const char *b64, size_t len, struct sasl_plain *out, const char **err);

#endif
