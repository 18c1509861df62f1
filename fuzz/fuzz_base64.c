/* libFuzzer target: lib/base64. Invariants: what the strict decoder accepts the lenient one
 * accepts with the same bytes, and re-encoding those bytes gives an input of the same length
 * that decodes to them again; the lenient decoder never writes more than three bytes per four
 * input characters; and everything encoded, on one line, into a
 * char array or wrapped, decodes back to the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/buf.h"

#define INVARIANT(c)                                                            \
	do {                                                                        \
		if (!(c)) {                                                             \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #c, __LINE__); \
			abort();                                                            \
		}                                                                       \
	} while (0)

static bool same(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	unsigned char *raw = malloc(size + 1);
	size_t n = 0;
	struct buf len_b = BUF_INIT, enc = BUF_INIT, again = BUF_INIT;

	bool strict_ok = base64_decode(in, size, raw, size, &n);
	bool lenient_ok = base64_decode_lenient(in, size, &len_b);
	/* A quantum of k characters (2 to 4) carries k - 1 bytes. */
	INVARIANT(len_b.len / 3 * 4 + (len_b.len % 3 ? len_b.len % 3 + 1 : 0) <= size);
	if (strict_ok) {
		INVARIANT(lenient_ok && same(raw, n, len_b.data, len_b.len));
		base64_encode(&enc, raw, n);
		INVARIANT(enc.len == size);
		unsigned char *raw2 = malloc(size + 1);
		size_t m = 0;
		INVARIANT(base64_decode(enc.data, enc.len, raw2, size, &m));
		INVARIANT(same(raw2, m, raw, n));
		free(raw2);
	}

	/* The input as data. */
	buf_reset(&enc);
	base64_encode(&enc, data, size);
	INVARIANT(enc.len == base64_encoded_len(size));
	INVARIANT(base64_decode(enc.data, enc.len, raw, size, &n) && same(raw, n, data, size));
	char *s = malloc(enc.len + 1);
	INVARIANT(base64_encode_str(s, enc.len + 1, data, size) && strcmp(s, enc.data) == 0);
	if (enc.len)
		INVARIANT(!base64_encode_str(s, enc.len, data, size) && s[0] == '\0');
	buf_reset(&again);
	INVARIANT(base64_decode_lenient(enc.data, enc.len, &again) &&
		  same(again.data, again.len, data, size));
	buf_reset(&enc);
	base64_encode_lines(&enc, data, size);
	buf_reset(&again);
	INVARIANT(base64_decode_lenient(enc.data, enc.len, &again) &&
		  same(again.data, again.len, data, size));

	free(s);
	free(raw);
	buf_free(&len_b);
	buf_free(&enc);
	buf_free(&again);
	return 0;
}
