#include "auth/sasl.h"

#include <openssl/evp.h>
#include <string.h>

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

bool base64_decode(const char *in, size_t len, unsigned char *out, size_t outmax, size_t *outlen)
{
	if (len % 4 != 0)
		return false;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + (size_t)k];
			if (c == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad)
				return false; /* data after padding */
			v[k] = b64_value(c);
			if (v[k] < 0)
				return false;
		}
		unsigned int triple = ((unsigned)v[0] << 18) | ((unsigned)v[1] << 12) |
				      ((unsigned)v[2] << 6) | (unsigned)v[3];
		size_t n = 3 - (size_t)pad;
		if (o + n > outmax)
			return false;
		out[o++] = (unsigned char)(triple >> 16);
		if (n > 1)
			out[o++] = (unsigned char)(triple >> 8);
		if (n > 2)
			out[o++] = (unsigned char)triple;
	}
	*outlen = o;
	return true;
}

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

void base64_encode(struct buf *out, const void *data, size_t len)
{
	size_t need = 4 * ((len + 2) / 3);
	buf_reserve(out, need);
	EVP_EncodeBlock((unsigned char *)out->data + out->len, data, (int)len);
	out->len += need;
	out->data[out->len] = '\0';
}
