#include "lib/log.h"
#include "test.h"

static const char *q(const char *s, size_t len, size_t outlen)
{
	static char out[512];
	return log_quote(out, outlen, s, len);
}

TEST(log_quote_leaves_plain_values)
{
	CHECK(strcmp(log_str("alice@example.test"), "alice@example.test") == 0);
	CHECK(strcmp(log_str(""), "\"\"") == 0);
	CHECK(strcmp(log_str(NULL), "\"\"") == 0);
	CHECK(strcmp(log_qstr("Laptop"), "\"Laptop\"") == 0);
}

TEST(log_quote_escapes_what_could_forge_a_line)
{
	CHECK(strcmp(log_str("a\r\nevent=login result=ok"),
		     "\"a\\x0d\\x0aevent=login result=ok\"") == 0);
	CHECK(strcmp(log_str("x\" result=\"ok"), "\"x\\\" result=\\\"ok\"") == 0);
	CHECK(strcmp(log_str("back\\slash"), "\"back\\\\slash\"") == 0);
	CHECK(strcmp(log_str("\x1b[31m"), "\"\\x1b[31m\"") == 0);
	CHECK(strcmp(q("a\0b", 3, 64), "\"a\\x00b\"") == 0);
	CHECK(strcmp(log_str("\x7f"), "\"\\x7f\"") == 0);
}

TEST(log_quote_keeps_utf8_escapes_other_bytes)
{
	CHECK(strcmp(log_str("\xe5\xa4\xaa\xe9\x83\x8e"), "\"\xe5\xa4\xaa\xe9\x83\x8e\"") == 0);
	CHECK(strcmp(log_str("a\xff" "b"), "\"a\\xffb\"") == 0);
	CHECK(strcmp(log_str("\xc0\xaf"), "\"\\xc0\\xaf\"") == 0);      /* overlong '/' */
	CHECK(strcmp(log_str("\xed\xa0\x80"), "\"\\xed\\xa0\\x80\"") == 0); /* surrogate */
	CHECK(strcmp(log_str("\xe5\xa4"), "\"\\xe5\\xa4\"") == 0);      /* cut sequence */
}

TEST(log_quote_cuts_long_values_whole)
{
	char big[1000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	const char *v = log_str(big);
	size_t n = strlen(v);
	CHECK(n < 320);
	CHECK(n > 200);
	CHECK(strcmp(v + n - 3, "...") == 0);
	/* Never half an escape: a cut between \x and its digits would mislead a reader. */
	const char *r = q("\n\n\n\n\n\n\n\n", 8, 16);
	CHECK(strlen(r) < 16);
	CHECK(strstr(r, "...") != NULL);
	size_t rl = strlen(r);
	CHECK(rl >= 4 && strcmp(r + rl - 4, "...\"") == 0);
	CHECK(strcmp(q("abc", 3, 4), "") == 0);
}
