/* Sequence sets. */
#include "imap/parse.h"
#include "test.h"

/* The ranges as "low:high,..." with "*" for the sentinel, or the error sentence. */
static const char *seqset(const char *s, size_t max)
{
	static char out[512];
	struct imap_seqset set;
	const char *err = NULL;
	if (!imap_seqset_parse(s, strlen(s), max, &set, &err)) {
		CHECK(set.ranges == NULL && set.count == 0);
		snprintf(out, sizeof out, "error: %s", err);
		return out;
	}
	if (set.last_result) {
		imap_seqset_free(&set);
		return "$";
	}
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < set.count; i++) {
		char lo[16], hi[16];
		snprintf(lo, sizeof lo, "%u", set.ranges[i].low);
		snprintf(hi, sizeof hi, "%u", set.ranges[i].high);
		n += (size_t)snprintf(out + n, sizeof out - n, "%s%s:%s", i ? "," : "",
				      set.ranges[i].low == IMAP_SEQ_STAR ? "*" : lo,
				      set.ranges[i].high == IMAP_SEQ_STAR ? "*" : hi);
	}
	imap_seqset_free(&set);
	return out;
}

TEST(imap_seqset_parses_and_normalises)
{
	CHECK_EQ_STR(seqset("1", 10), "1:1");
	CHECK_EQ_STR(seqset("1,3:5,7:*", 10), "1:1,3:5,7:*");
	CHECK_EQ_STR(seqset("5:3", 10), "3:5");
	CHECK_EQ_STR(seqset("*:5", 10), "5:*");
	CHECK_EQ_STR(seqset("*", 10), "*:*");
	CHECK_EQ_STR(seqset("*:*", 10), "*:*");
	CHECK_EQ_STR(seqset("$", 10), "$");
	CHECK_EQ_STR(seqset("41,43:211,214:541", 10), "41:41,43:211,214:541");
	CHECK_EQ_STR(seqset("1:4294967295", 10), "1:*");
	CHECK_EQ_STR(seqset("1,2,3", 3), "1:1,2:2,3:3");
}

TEST(imap_seqset_rejects_with_sentences)
{
	CHECK_EQ_STR(seqset("", 10), "error: Empty sequence set");
	CHECK_EQ_STR(seqset("0", 10), "error: Sequence numbers and UIDs start at 1, not 0");
	CHECK_EQ_STR(seqset("1:0", 10), "error: Sequence numbers and UIDs start at 1, not 0");
	CHECK_EQ_STR(seqset("1,", 10), "error: Empty number in a sequence set");
	CHECK_EQ_STR(seqset(",1", 10), "error: Empty number in a sequence set");
	CHECK_EQ_STR(seqset("1:", 10), "error: Empty number in a sequence set");
	CHECK_EQ_STR(seqset("1::2", 10),
		     "error: Invalid number in a sequence set (expected 1 to 4294967295 or '*')");
	CHECK_EQ_STR(seqset("4294967296", 10),
		     "error: Invalid number in a sequence set (expected 1 to 4294967295 or '*')");
	CHECK_EQ_STR(seqset("a", 10),
		     "error: Invalid number in a sequence set (expected 1 to 4294967295 or '*')");
	CHECK_EQ_STR(seqset("$,1", 10),
		     "error: Invalid number in a sequence set (expected 1 to 4294967295 or '*')");
	CHECK_EQ_STR(seqset("1,2,3,4", 3), "error: Too many ranges in a sequence set");
}

TEST(imap_seqset_resolves_star)
{
	struct imap_seqset set;
	const char *err;
	CHECK(imap_seqset_parse("2,*:8,10:12", 11, 10, &set, &err));
	uint32_t lo, hi;
	/* "*:8" with 5 messages is 5:8 */
	imap_seq_range_resolve(&set.ranges[1], 5, &lo, &hi);
	CHECK(lo == 5 && hi == 8);
	imap_seq_range_resolve(&set.ranges[1], 20, &lo, &hi);
	CHECK(lo == 8 && hi == 20);
	CHECK(imap_seqset_contains(&set, 2, 20));
	CHECK(!imap_seqset_contains(&set, 3, 20));
	CHECK(imap_seqset_contains(&set, 6, 5));
	CHECK(!imap_seqset_contains(&set, 6, 7));
	CHECK(imap_seqset_contains(&set, 11, 7));
	CHECK(!imap_seqset_contains(&set, 9, 7));
	imap_seqset_free(&set);
	CHECK(set.ranges == NULL && set.count == 0);
	CHECK(imap_seqset_parse("$", 1, 10, &set, &err));
	CHECK(!imap_seqset_contains(&set, 1, 1));
	imap_seqset_free(&set);
}
