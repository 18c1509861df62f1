/* LIST patterns, matched by dynamic programming over the name instead of recursive
 * backtracking (which was exponential in the number of wildcards: issue 9). */
#include "imap/listmatch.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"

bool imap_list_match(const char *pat, const char *name, char sep)
{
	size_t n = strlen(name);
	/* Every literal character needs one of the name's: a pattern with more cannot match.
	 * This also bounds the work below to O(len(name)^2) for any pattern a client sends. */
	size_t literals = 0;
	for (const char *q = pat; *q; q++)
		literals += *q != '*' && *q != '%';
	if (literals > n)
		return false;
	/* cur[j]: the pattern read so far matches the first j bytes of the name. */
	bool *cur = xmalloc(2 * (n + 1) * sizeof *cur);
	bool *next = cur + n + 1;
	memset(cur, 0, (n + 1) * sizeof *cur);
	cur[0] = true;
	const char *p = pat;
	while (*p) {
		if (*p == '*' || *p == '%') {
			/* A run of wildcards is one wildcard: "*" if the run holds one, else "%". */
			bool star = false;
			for (; *p == '*' || *p == '%'; p++)
				star |= *p == '*';
			next[0] = cur[0];
			for (size_t j = 1; j <= n; j++)
				next[j] = cur[j] ||
					  (next[j - 1] && (star || name[j - 1] != sep));
		} else {
			bool any = false;
			next[0] = false;
			for (size_t j = 1; j <= n; j++)
				any |= next[j] = cur[j - 1] && name[j - 1] == *p;
			p++;
			if (!any) {
				cur[n] = false; /* nothing can match any more */
				break;
			}
		}
		bool *t = cur;
		cur = next;
		next = t;
	}
	bool match = cur[n];
	free(cur < next ? cur : next);
	return match;
}
