/* libFuzzer target: modified UTF-7 mailbox names. Invariants: decode and encode are exact
 * inverses on everything they accept (so each name has one spelling), failures leave the
 * output buffer as it was, and is_valid agrees with decode. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/parse.h"
#include "lib/buf.h"

#define INVARIANT(c)                                                            \
	do {                                                                        \
		if (!(c)) {                                                             \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #c, __LINE__); \
			abort();                                                            \
		}                                                                       \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);
	memcpy(s, data, size);
	const char *err = NULL;

	struct buf utf8 = BUF_INIT, back = BUF_INIT;
	bool ok = imap_utf7_decode(s, size, &utf8, &err);
	INVARIANT(ok == imap_utf7_is_valid(s, size));
	if (ok) {
		INVARIANT(imap_utf7_encode(utf8.data ? utf8.data : "", utf8.len, &back, &err));
		INVARIANT(back.len == size && (size == 0 || memcmp(back.data, s, size) == 0));
	} else {
		INVARIANT(err && utf8.len == 0);
	}
	buf_free(&utf8);
	buf_free(&back);

	struct buf utf7 = BUF_INIT;
	buf_append_str(&utf7, "x");
	if (imap_utf7_encode(s, size, &utf7, &err)) {
		struct buf dec = BUF_INIT;
		INVARIANT(imap_utf7_decode(utf7.data + 1, utf7.len - 1, &dec, &err));
		INVARIANT(dec.len == size && (size == 0 || memcmp(dec.data, s, size) == 0));
		buf_free(&dec);
	} else {
		INVARIANT(err && utf7.len == 1 && utf7.data[1] == '\0');
	}
	buf_free(&utf7);
	free(s);
	return 0;
}
