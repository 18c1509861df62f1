/* libFuzzer target: the From-address reader that picks the DKIM signing domain must never
 * crash nor read past its input, and what it returns is a lower-case domain. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dkim_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1); /* exact size: ASan catches a read past it */
	memcpy(copy, data, size);
	char out[256];
	if (dkim_from_domain(copy, size, out, sizeof out)) {
		size_t n = strlen(out);
		if (n == 0 || n >= sizeof out)
			abort();
		for (size_t i = 0; i < n; i++)
			if (isupper((unsigned char)out[i]))
				abort();
	}
	free(copy);
	return 0;
}
