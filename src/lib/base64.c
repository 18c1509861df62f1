/* Base64 encoders and decoders (RFC 4648 section 4); see base64.h for who uses which. */
#include "lib/base64.h"

#include "lib/alloc.h"

static const char base64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of c, or -1 for a character outside the alphabet ('=' included). */
static int base64_value(unsigned char c)
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

size_t base64_encoded_len(size_t len)
{
	return size_add(len / 3 * 4, len % 3 ? 4 : 0);
}

/* Writes the encoding of data (base64_encoded_len(len) characters) to out; no NUL. */
static void encode_block(char *out, const unsigned char *in, size_t len)
{
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8) |
				  in[i + 2];
		*out++ = base64_alphabet[(v >> 18) & 63];
		*out++ = base64_alphabet[(v >> 12) & 63];
		*out++ = base64_alphabet[(v >> 6) & 63];
		*out++ = base64_alphabet[v & 63];
	}
	if (i < len) {
		unsigned long v = (unsigned long)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned long)in[i + 1] << 8;
		*out++ = base64_alphabet[(v >> 18) & 63];
		*out++ = base64_alphabet[(v >> 12) & 63];
		*out++ = i + 1 < len ? base64_alphabet[(v >> 6) & 63] : '=';
		*out = '=';
	}
}

void base64_encode(struct buf *out, const void *data, size_t len)
{
	size_t need = base64_encoded_len(len);
	buf_reserve(out, need);
	encode_block(out->data + out->len, data, len);
	out->len += need;
	out->data[out->len] = '\0';
}

void base64_encode_lines(struct buf *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i += 57) {
		base64_encode(out, p + i, len - i < 57 ? len - i : 57);
		buf_append(out, "\r\n", 2);
	}
}

bool base64_encode_str(char *out, size_t outmax, const void *data, size_t len)
{
	size_t need = base64_encoded_len(len);
	if (outmax == 0)
		return false;
	if (need >= outmax) {
		out[0] = '\0';
		return false;
	}
	encode_block(out, data, len);
	out[need] = '\0';
	return true;
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
			v[k] = base64_value(c);
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

/* Appends the n - 1 bytes that a quantum of n (2..4) characters carries. */
static void lenient_flush(const unsigned char *q, int n, struct buf *out)
{
	char b[3];
	b[0] = (char)((q[0] << 2) | (q[1] >> 4));
	b[1] = (char)((q[1] << 4) | (q[2] >> 2));
	b[2] = (char)((q[2] << 6) | q[3]);
	buf_append(out, b, (size_t)(n - 1));
}

bool base64_decode_lenient(const char *in, size_t len, struct buf *out)
{
	unsigned char q[4] = { 0, 0, 0, 0 };
	int n = 0;
	bool ok = true, padding = false;
	buf_reserve(out, len / 4 * 3 + 3);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			/* "xx==" or "xxx=": the quantum ends here. */
			if (n < 2) {
				if (!padding)
					ok = false;
				continue;
			}
			for (int k = n; k < 4; k++)
				q[k] = 0;
			lenient_flush(q, n, out);
			n = 0;
			padding = true;
			continue;
		}
		int v = base64_value(c);
		if (v < 0) {
			ok = false;
			continue;
		}
		/* Data after padding starts a new quantum: concatenated encodings exist. */
		padding = false;
		q[n++] = (unsigned char)v;
		if (n == 4) {
			lenient_flush(q, 4, out);
			n = 0;
		}
	}
	if (n == 1)
		ok = false;
	else if (n > 1) {
		for (int k = n; k < 4; k++)
			q[k] = 0;
		lenient_flush(q, n, out);
	}
	return ok;
}
