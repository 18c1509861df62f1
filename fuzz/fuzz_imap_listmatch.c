/* libFuzzer target: LIST pattern matching. The input is "pattern\nname". Invariants: the
 * answer equals the recursive backtracking matcher's for short inputs (where it is cheap), a
 * pattern without wildcards matches exactly itself, and "*" + anything never matches less
 * than the same pattern without that "*" prefix. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/listmatch.h"

#define INVARIANT(c)                                                            \
	do {                                                                        \
		if (!(c)) {                                                             \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #c, __LINE__); \
			abort();                                                            \
		}                                                                       \
	} while (0)

static int reference(const char *pat, const char *name)
{
	if (!*pat)
		return !*name;
	if (*pat == '*' || *pat == '%') {
		for (const char *n = name;; n++) {
			if (reference(pat + 1, n))
				return 1;
			if (!*n || (*pat == '%' && *n == '/'))
				return 0;
		}
	}
	if (*pat != *name)
		return 0;
	return reference(pat + 1, name + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 2);
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t i = 0; i < size; i++)
		if (buf[i] == '\0')
			buf[i] = 'z';
	char *nl = strchr(buf, '\n');
	const char *pat = buf, *name = "";
	if (nl) {
		*nl = '\0';
		name = nl + 1;
	}
	int got = imap_list_match(pat, name, '/');
	size_t wild = 0;
	for (const char *p = pat; *p; p++)
		wild += *p == '*' || *p == '%';
	if (strlen(pat) <= 10 && strlen(name) <= 12)
		INVARIANT(got == reference(pat, name));
	if (wild == 0)
		INVARIANT(got == (strcmp(pat, name) == 0));
	if (got) {
		char *star = malloc(strlen(pat) + 2);
		star[0] = '*';
		strcpy(star + 1, pat);
		INVARIANT(imap_list_match(star, name, '/'));
		free(star);
	}
	free(buf);
	return 0;
}
