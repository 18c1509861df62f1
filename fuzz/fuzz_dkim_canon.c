/* libFuzzer target: DKIM body canonicalization (RFC 6376 3.4.3, 3.4.4) hands the hash runs of
 * the input and small copies; whatever the input, the output it emits must add up to the length
 * it returns, every line must end in CRLF, no empty line may end the body, and the relaxed form
 * may hold no TAB, no two blanks in a row and no blank before a line end. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dkim.h"

struct out {
	char *data;
	size_t len, cap;
};

static void collect(void *ctx, const void *p, size_t n)
{
	struct out *o = ctx;
	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2 + 64;
		o->data = realloc(o->data, o->cap);
		if (!o->data)
			abort();
	}
	memcpy(o->data + o->len, p, n);
	o->len += n;
}

static void check(enum dkim_canon c, const char *in, size_t size)
{
	struct out o = { 0 };
	uint64_t total = dkim_canon_body(c, in, size, collect, &o);
	if (total != o.len)
		abort();
	for (size_t i = 0; i < o.len; i++) {
		if (o.data[i] == '\n' && (i == 0 || o.data[i - 1] != '\r'))
			abort();
		if (c == DKIM_CANON_RELAXED &&
		    (o.data[i] == '\t' ||
		     (o.data[i] == ' ' && i + 1 < o.len &&
		      (o.data[i + 1] == ' ' || (o.data[i + 1] == '\r' && i + 2 < o.len &&
						 o.data[i + 2] == '\n')))))
			abort();
	}
	if (o.len && (o.len < 2 || memcmp(o.data + o.len - 2, "\r\n", 2) != 0))
		abort();
	if (o.len >= 4 && memcmp(o.data + o.len - 4, "\r\n\r\n", 4) == 0)
		abort();
	if (c == DKIM_CANON_SIMPLE && o.len == 0)
		abort(); /* an empty body is one CRLF in simple */
	free(o.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(DKIM_CANON_SIMPLE, (const char *)data, size);
	check(DKIM_CANON_RELAXED, (const char *)data, size);
	return 0;
}
