/* Sequence sets (RFC 9051 sequence-set, RFC 5182 "$"). */
#include "imap/parse.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"

/* seq-number = nz-number / "*" */
static bool parse_seq_number(const char *s, size_t len, uint32_t *out, const char **err)
{
	if (len == 1 && s[0] == '*') {
		*out = IMAP_SEQ_STAR;
		return true;
	}
	if (len == 0) {
		*err = "Empty number in a sequence set";
		return false;
	}
	if (!imap_parse_number(s, len, out)) {
		*err = "Invalid number in a sequence set (expected 1 to 4294967295 or '*')";
		return false;
	}
	if (*out == 0) {
		*err = "Sequence numbers and UIDs start at 1, not 0";
		return false;
	}
	return true;
}

bool imap_seqset_parse(const char *s, size_t len, size_t max_ranges, struct imap_seqset *out,
		       const char **err)
{
	memset(out, 0, sizeof *out);
	if (len == 1 && s[0] == '$') {
		out->last_result = true;
		return true;
	}
	if (len == 0) {
		*err = "Empty sequence set";
		return false;
	}
	/* Count first, so a long set is refused before anything is allocated for it. */
	size_t n = 1;
	for (size_t i = 0; i < len; i++)
		if (s[i] == ',')
			n++;
	if (n > max_ranges) {
		*err = "Too many ranges in a sequence set";
		return false;
	}
	out->ranges = xcalloc(n, sizeof *out->ranges);
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != ',')
			continue;
		const char *item = s + start;
		size_t ilen = i - start;
		const char *colon = memchr(item, ':', ilen);
		uint32_t a, b;
		if (colon) {
			size_t alen = (size_t)(colon - item);
			if (!parse_seq_number(item, alen, &a, err) ||
			    !parse_seq_number(colon + 1, ilen - alen - 1, &b, err))
				goto fail;
		} else {
			if (!parse_seq_number(item, ilen, &a, err))
				goto fail;
			b = a;
		}
		struct imap_seq_range *r = &out->ranges[out->count++];
		r->low = a < b ? a : b;
		r->high = a < b ? b : a;
		start = i + 1;
	}
	return true;
fail:
	imap_seqset_free(out);
	return false;
}

void imap_seqset_free(struct imap_seqset *set)
{
	free(set->ranges);
	memset(set, 0, sizeof *set);
}

void imap_seq_range_resolve(const struct imap_seq_range *r, uint32_t star, uint32_t *lo,
			    uint32_t *hi)
{
	uint32_t a = r->low == IMAP_SEQ_STAR ? star : r->low;
	uint32_t b = r->high == IMAP_SEQ_STAR ? star : r->high;
	*lo = a < b ? a : b;
	*hi = a < b ? b : a;
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n, uint32_t star)
{
	for (size_t i = 0; i < set->count; i++) {
		uint32_t lo, hi;
		imap_seq_range_resolve(&set->ranges[i], star, &lo, &hi);
		if (n >= lo && n <= hi)
			return true;
	}
	return false;
}
