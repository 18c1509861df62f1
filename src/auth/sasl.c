#include "auth/sasl.h"

#include <string.h>

static bool copy_field(char *dst, size_t dstmax, const unsigned char *src, size_t len)
{
	if (len >= dstmax)
		return false;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

bool sasl_plain_decode(const char *b64, size_t len, struct sasl_plain *out, const char **err)
{
	unsigned char raw[800];
	size_t n;
	memset(out, 0, sizeof *out);
	if (!base64_decode(b64, len, raw, sizeof raw, &n)) {
		*err = "The PLAIN response is not valid base64.";
		return false;
	}
	const unsigned char *nul1 = memchr(raw, 0, n);
	const unsigned char *nul2 = nul1 ? memchr(nul1 + 1, 0, n - (size_t)(nul1 + 1 - raw)) : NULL;
	if (!nul2) {
		*err = "The PLAIN response must be authzid, NUL, user, NUL, password.";
		return false;
	}
	size_t zlen = (size_t)(nul1 - raw), clen = (size_t)(nul2 - nul1 - 1);
	size_t plen = n - (size_t)(nul2 + 1 - raw);
	if (memchr(nul2 + 1, 0, plen) || clen == 0 ||
	    !copy_field(out->authzid, sizeof out->authzid, raw, zlen) ||
	    !copy_field(out->authcid, sizeof out->authcid, nul1 + 1, clen) ||
	    !copy_field(out->password, sizeof out->password, nul2 + 1, plen)) {
		*err = "The PLAIN response has an empty or over-long user name or password.";
		return false;
	}
	memset(raw, 0, sizeof raw);
	return true;
}
