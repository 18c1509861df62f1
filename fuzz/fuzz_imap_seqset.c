/* libFuzzer target: sequence sets. The first byte is the range limit, the rest the set.
 * Invariants: ranges are normalised and within the limit, a failure leaves nothing behind,
 * and writing a parsed set back out and parsing it again gives the same ranges. */
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

static void format_set(const struct imap_seqset *set, struct buf *out)
{
	if (set->last_result) {
		buf_append_char(out, '$');
		return;
	}
	for (size_t i = 0; i < set->count; i++) {
		if (i)
			buf_append_char(out, ',');
		const struct imap_seq_range *r = &set->ranges[i];
		if (r->low == IMAP_SEQ_STAR)
			buf_append_char(out, '*');
		else
			buf_printf(out, "%u", r->low);
		if (r->high == r->low)
			continue;
		if (r->high == IMAP_SEQ_STAR)
			buf_append_str(out, ":*");
		else
			buf_printf(out, ":%u", r->high);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t max = data[0];
	/* an exact-size copy, so ASan sees any read past the end */
	size_t len = size - 1;
	char *s = malloc(len ? len : 1);
	memcpy(s, data + 1, len);
	struct imap_seqset set;
	const char *err = NULL;
	if (!imap_seqset_parse(s, len, max, &set, &err)) {
		INVARIANT(err && set.ranges == NULL && set.count == 0 && !set.last_result);
		free(s);
		return 0;
	}
	INVARIANT(set.count <= max);
	INVARIANT(set.last_result ? set.count == 0 : set.count > 0);
	for (size_t i = 0; i < set.count; i++) {
		INVARIANT(set.ranges[i].low >= 1 && set.ranges[i].low <= set.ranges[i].high);
		uint32_t lo, hi, star = (uint32_t)(len * 7);
		imap_seq_range_resolve(&set.ranges[i], star, &lo, &hi);
		INVARIANT(lo <= hi);
		INVARIANT(imap_seqset_contains(&set, lo, star));
		INVARIANT(imap_seqset_contains(&set, hi, star));
	}
	struct buf again = BUF_INIT;
	format_set(&set, &again);
	struct imap_seqset set2;
	INVARIANT(imap_seqset_parse(again.data, again.len, max, &set2, &err));
	INVARIANT(set2.count == set.count && set2.last_result == set.last_result);
	INVARIANT(set.count == 0 ||
		  memcmp(set.ranges, set2.ranges, set.count * sizeof *set.ranges) == 0);
	imap_seqset_free(&set2);
	buf_free(&again);
	imap_seqset_free(&set);
	free(s);
	return 0;
}
