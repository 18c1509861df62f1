/* LIST pattern matching. */
#include <stdlib.h>
#include <time.h>

#include "imap/listmatch.h"
#include "test.h"

TEST(imap_list_match_rfc_semantics)
{
	CHECK(imap_list_match("*", "INBOX", '/'));
	CHECK(imap_list_match("*", "a/b/c", '/'));
	CHECK(imap_list_match("*", "", '/'));
	CHECK(imap_list_match("%", "INBOX", '/'));
	CHECK(!imap_list_match("%", "a/b", '/'));
	CHECK(imap_list_match("a/%", "a/b", '/'));
	CHECK(!imap_list_match("a/%", "a/b/c", '/'));
	CHECK(imap_list_match("a/*", "a/b/c", '/'));
	CHECK(imap_list_match("a*c", "a/b/c", '/'));
	CHECK(!imap_list_match("a%c", "a/b/c", '/'));
	CHECK(imap_list_match("a%c", "abbc", '/'));
	CHECK(imap_list_match("INBOX", "INBOX", '/'));
	CHECK(!imap_list_match("INBOX", "INBOX/x", '/'));
	CHECK(!imap_list_match("INBOX", "INBO", '/'));
	CHECK(!imap_list_match("", "x", '/'));
	CHECK(imap_list_match("", "", '/'));
	CHECK(imap_list_match("%/%", "Work/2024", '/'));
	/* A run holding a "*" crosses the separator; a run of "%" alone does not. */
	CHECK(imap_list_match("%%*%x", "a/b/x", '/'));
	CHECK(!imap_list_match("%%%%x", "a/b/x", '/'));
	CHECK(imap_list_match("%%%%x", "abx", '/'));
	CHECK(imap_list_match("x%%%%", "x", '/'));
}

/* The old recursive matcher, kept here as the reference for short inputs. */
static bool reference_match(const char *pat, const char *name)
{
	if (!*pat)
		return !*name;
	if (*pat == '*' || *pat == '%') {
		for (const char *n = name;; n++) {
			if (reference_match(pat + 1, n))
				return true;
			if (!*n || (*pat == '%' && *n == '/'))
				return false;
		}
	}
	if (*pat != *name)
		return false;
	return reference_match(pat + 1, name + 1);
}

TEST(imap_list_match_agrees_with_backtracking)
{
	static const char pat_alpha[] = "ab/*%", name_alpha[] = "ab/";
	unsigned seed = 12345;
	int disagreements = 0;
	for (int round = 0; round < 20000; round++) {
		char pat[9], name[9];
		size_t pl = (seed = seed * 1103515245 + 12345) >> 16 & 7;
		size_t nl = (seed = seed * 1103515245 + 12345) >> 16 & 7;
		for (size_t i = 0; i < pl; i++)
			pat[i] = pat_alpha[((seed = seed * 1103515245 + 12345) >> 16) % 5];
		for (size_t i = 0; i < nl; i++)
			name[i] = name_alpha[((seed = seed * 1103515245 + 12345) >> 16) % 3];
		pat[pl] = name[nl] = '\0';
		if (imap_list_match(pat, name, '/') != reference_match(pat, name)) {
			if (disagreements++ < 5)
				printf("  disagree: pattern \"%s\" name \"%s\"\n", pat, name);
		}
	}
	CHECK_EQ_INT(disagreements, 0);
}

/* Issue 9: 1,000 wildcards and a name that does not match took forever (exponential). */
TEST(imap_list_match_many_wildcards_is_fast)
{
	char pat[1002], name[4001];
	memset(pat, '%', 1000);
	pat[1000] = 'x';
	pat[1001] = '\0';
	memset(name, 'a', 4000);
	name[4000] = '\0';
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(!imap_list_match(pat, name, '/'));
	name[3999] = 'x';
	CHECK(imap_list_match(pat, name, '/'));
	for (size_t i = 0; i < 1000; i += 2)
		pat[i] = '*';
	name[3999] = 'a';
	CHECK(!imap_list_match(pat, name, '/'));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (ms >= 100)
		printf("  1,000 wildcards took %.1f ms\n", ms);
	CHECK(ms < 100);
}

/* A 60 KB pattern of alternating wildcards and letters against names of 500 bytes (the store
 * allows 511): bounded by the name, not the pattern. */
TEST(imap_list_match_long_alternating_pattern_is_fast)
{
	static char pat[60001], name[501];
	for (size_t i = 0; i < 60000; i += 2) {
		pat[i] = '%';
		pat[i + 1] = 'a';
	}
	memset(name, 'a', 500);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int k = 0; k < 100; k++)
		CHECK(!imap_list_match(pat, name, '/'));
	pat[500] = '\0'; /* 250 letters */
	CHECK(imap_list_match(pat, name, '/'));
	name[499] = 'b';
	CHECK(!imap_list_match(pat, name, '/'));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (ms >= 100)
		printf("  long patterns took %.1f ms\n", ms);
	CHECK(ms < 100);
}
