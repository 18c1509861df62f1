#include <stdlib.h>

#include "outbound/reply.h"
#include "test.h"

/* Feeds NUL-separated lines; returns the status of the last one. */
static enum smtp_reply_status feed_all(struct smtp_reply_reader *r, const char *const *lines,
				       struct smtp_reply *out, const char **why)
{
	enum smtp_reply_status st = SMTP_REPLY_MORE;
	for (size_t i = 0; lines[i]; i++) {
		st = smtp_reply_feed(r, lines[i], strlen(lines[i]), out, why);
		if (st != SMTP_REPLY_MORE)
			break;
	}
	return st;
}

TEST(reply_single_and_multi_line)
{
	struct smtp_reply_reader r;
	smtp_reply_reader_init(&r);
	struct smtp_reply out;
	const char *why = NULL;
	const char *one[] = { "250 2.1.0 Ok", NULL };
	CHECK(feed_all(&r, one, &out, &why) == SMTP_REPLY_DONE);
	CHECK_EQ_INT(out.code, 250);
	CHECK_EQ_STR(out.flat, "250 2.1.0 Ok");
	CHECK_EQ_STR(out.lines, "2.1.0 Ok");
	smtp_reply_free(&out);

	const char *ehlo[] = { "250-mx.remote.test hello", "250-PIPELINING", "250 SIZE 1000", NULL };
	CHECK(feed_all(&r, ehlo, &out, &why) == SMTP_REPLY_DONE);
	CHECK_EQ_INT(out.code, 250);
	CHECK_EQ_STR(out.flat, "250 mx.remote.test hello PIPELINING SIZE 1000");
	CHECK_EQ_STR(out.lines, "mx.remote.test hello\nPIPELINING\nSIZE 1000");
	smtp_reply_free(&out);

	/* A code alone is a whole reply (RFC 5321 4.2: the text is optional). */
	const char *bare[] = { "354", NULL };
	CHECK(feed_all(&r, bare, &out, &why) == SMTP_REPLY_DONE);
	CHECK_EQ_INT(out.code, 354);
	CHECK_EQ_STR(out.flat, "354");
	smtp_reply_free(&out);
	smtp_reply_reader_reset(&r);
}

TEST(reply_malformed_codes_are_refused)
{
	const char *bad[] = { "250X ok", "25 ok", "2500 ok", "abc ok", "150 ok", "650 ok",
			      "260 ok", "", "250\tok", " 250 ok", NULL };
	for (size_t i = 0; bad[i]; i++) {
		struct smtp_reply_reader r;
		smtp_reply_reader_init(&r);
		struct smtp_reply out;
		const char *why = NULL;
		enum smtp_reply_status st = smtp_reply_feed(&r, bad[i], strlen(bad[i]), &out, &why);
		if (st != SMTP_REPLY_BAD)
			printf("  accepted \"%s\"\n", bad[i]);
		CHECK(st == SMTP_REPLY_BAD);
		CHECK(why && strstr(why, "malformed"));
		smtp_reply_reader_reset(&r);
	}
}

TEST(reply_continuation_must_keep_its_code)
{
	struct smtp_reply_reader r;
	smtp_reply_reader_init(&r);
	struct smtp_reply out;
	const char *why = NULL;
	const char *mixed[] = { "250-first", "550 second", NULL };
	CHECK(feed_all(&r, mixed, &out, &why) == SMTP_REPLY_BAD);
	CHECK(why && strstr(why, "different codes"));
	/* The reader starts afresh after a bad reply. */
	const char *next[] = { "221 bye", NULL };
	CHECK(feed_all(&r, next, &out, &why) == SMTP_REPLY_DONE);
	CHECK_EQ_INT(out.code, 221);
	CHECK_EQ_STR(out.flat, "221 bye");
	smtp_reply_free(&out);
	smtp_reply_reader_reset(&r);
}

TEST(reply_endless_and_control_bytes)
{
	struct smtp_reply_reader r;
	smtp_reply_reader_init(&r);
	struct smtp_reply out;
	const char *why = NULL;
	enum smtp_reply_status st = SMTP_REPLY_MORE;
	size_t i = 0;
	for (; i < 5000 && st == SMTP_REPLY_MORE; i++)
		st = smtp_reply_feed(&r, "250-x", 5, &out, &why);
	CHECK(st == SMTP_REPLY_BAD);
	CHECK_EQ_INT(i, SMTP_REPLY_MAX_LINES + 1);
	CHECK(why && strstr(why, "endless"));

	/* Long lines: a bounded number of bytes is kept, the count limit still holds. */
	char big[4000];
	memset(big, 'a', sizeof big);
	memcpy(big, "250-", 4);
	st = SMTP_REPLY_MORE;
	for (i = 0; i < 200 && st == SMTP_REPLY_MORE; i++)
		st = smtp_reply_feed(&r, big, sizeof big, &out, &why);
	CHECK(st == SMTP_REPLY_BAD);
	CHECK(i < 40); /* 64 KiB over lines of 1,000 kept bytes each */

	/* NUL, CR, ESC in the text are not handed on to logs and DSNs. */
	const char ctl[] = "550 no\0such\r\x1b[31muser";
	CHECK(smtp_reply_feed(&r, ctl, sizeof ctl - 1, &out, &why) == SMTP_REPLY_DONE);
	CHECK_EQ_STR(out.flat, "550 no?such??[31muser");
	smtp_reply_free(&out);
	smtp_reply_reader_reset(&r);
}
