#include "smtp/parse.h"
#include "test.h"

static bool parse(const char *line, struct smtp_command *c, struct smtp_error *e)
{
	return smtp_parse_command(line, strlen(line), c, e);
}

TEST(smtp_parse_verbs_case_insensitive)
{
	struct smtp_command c;
	struct smtp_error e;
	CHECK(parse("ehlo client.example", &c, &e));
	CHECK_EQ_INT(c.verb, SMTP_EHLO);
	CHECK(c.arg_len == 14 && memcmp(c.arg, "client.example", 14) == 0);
	CHECK(parse("QuIt", &c, &e));
	CHECK_EQ_INT(c.verb, SMTP_QUIT);
	CHECK(!parse("FOO bar", &c, &e));
	CHECK_EQ_INT(e.code, 500);
	CHECK_EQ_STR(e.status, "5.5.1");
	CHECK(!parse("EHLO", &c, &e));
	CHECK_EQ_INT(e.code, 501);
	CHECK(!parse("DATA x", &c, &e));
	CHECK(!smtp_parse_command("NOOP\0x", 6, &c, &e));
}

TEST(smtp_parse_mail_from_with_params)
{
	struct smtp_command c;
	struct smtp_error e;
	CHECK(parse("MAIL FROM:<Alice@Example.COM> SIZE=1000 BODY=8BITMIME", &c, &e));
	CHECK_EQ_INT(c.verb, SMTP_MAIL);
	CHECK_EQ_STR(c.addr.local, "Alice");
	CHECK_EQ_STR(c.addr.domain, "example.com");
	CHECK_EQ_STR(c.addr.text, "Alice@Example.COM");
	CHECK_EQ_INT(c.size, 1000);
	CHECK_EQ_INT(c.body, SMTP_BODY_8BITMIME);
	CHECK(parse("MAIL FROM:<>", &c, &e));
	CHECK(c.addr.null);
	CHECK(parse("mail from: <a@b.c>", &c, &e));
	CHECK_EQ_STR(c.addr.domain, "b.c");
	CHECK(!parse("MAIL FROM:<a@b.c> FOO=1", &c, &e));
	CHECK_EQ_INT(e.code, 555);
	CHECK(!parse("MAIL FROM:<a@b.c> SIZE=x", &c, &e));
	CHECK_EQ_INT(e.code, 501);
	CHECK(!parse("MAIL FROM:<a@@b.c>", &c, &e));
	CHECK_EQ_STR(e.status, "5.1.7");
	CHECK(!parse("MAIL TO:<a@b.c>", &c, &e));
	CHECK(!parse("MAIL FROM:<a@b.c", &c, &e));
	CHECK(!parse("MAIL FROM:<a..b@c.d>", &c, &e));
	CHECK(!parse("MAIL FROM:<a@-b.c>", &c, &e));
}

TEST(smtp_parse_rcpt_forms)
{
	struct smtp_command c;
	struct smtp_error e;
	CHECK(parse("RCPT TO:<postmaster>", &c, &e));
	CHECK_EQ_STR(c.addr.local, "postmaster");
	CHECK_EQ_STR(c.addr.domain, "");
	CHECK(!parse("RCPT TO:<alice>", &c, &e));
	CHECK(!parse("RCPT TO:<>", &c, &e));
	CHECK_EQ_STR(e.status, "5.1.3");
	/* Source route: accepted, and the route is ignored (RFC 5321 C). */
	CHECK(parse("RCPT TO:<@relay.example:user@foreign.test>", &c, &e));
	CHECK_EQ_STR(c.addr.local, "user");
	CHECK_EQ_STR(c.addr.domain, "foreign.test");
	/* Quoted local part: quotes removed, so "user@foreign"@here is a local name. */
	CHECK(parse("RCPT TO:<\"user@foreign.test\"@example.test>", &c, &e));
	CHECK_EQ_STR(c.addr.local, "user@foreign.test");
	CHECK_EQ_STR(c.addr.domain, "example.test");
	CHECK(parse("RCPT TO:<user%foreign.test@example.test>", &c, &e));
	CHECK_EQ_STR(c.addr.local, "user%foreign.test");
	CHECK(parse("RCPT TO:<foreign.test!user@example.test>", &c, &e));
	CHECK_EQ_STR(c.addr.domain, "example.test");
	CHECK(parse("RCPT TO:<a@[192.0.2.1]>", &c, &e));
	CHECK_EQ_STR(c.addr.domain, "[192.0.2.1]");
	CHECK(parse("RCPT TO:<a@b.c> NOTIFY=NEVER", &c, &e));
	CHECK(!parse("RCPT TO:<a@b.c> SIZE=10", &c, &e));
}

TEST(smtp_parse_utf8_addresses)
{
	struct smtp_command c;
	struct smtp_error e;
	CHECK(parse("MAIL FROM:<\xe7\x94\xb0\xe4\xb8\xad@example.jp> SMTPUTF8", &c, &e));
	CHECK(c.addr.utf8);
	CHECK(c.smtputf8);
	/* Broken UTF-8 (a lone continuation byte, an overlong form) is refused. */
	CHECK(!parse("MAIL FROM:<\x80x@example.jp> SMTPUTF8", &c, &e));
	CHECK(!parse("MAIL FROM:<\xc0\xafx@example.jp> SMTPUTF8", &c, &e));
	CHECK(!parse("MAIL FROM:<x\xe7\x94@example.jp> SMTPUTF8", &c, &e));
}

TEST(smtp_parse_bdat)
{
	struct smtp_command c;
	struct smtp_error e;
	CHECK(parse("BDAT 1000 LAST", &c, &e));
	CHECK_EQ_INT(c.chunk_size, 1000);
	CHECK(c.last);
	CHECK(parse("BDAT 0", &c, &e));
	CHECK(!c.last);
	CHECK(!parse("BDAT", &c, &e));
	CHECK(!parse("BDAT -1", &c, &e));
	CHECK(!parse("BDAT 99999999999999999999999", &c, &e));
	CHECK(!parse("BDAT 10 FIRST", &c, &e));
}

/* Feeds input to a data reader in pieces of `step` bytes. */
static enum smtp_data_status feed_all(const char *in, size_t len, size_t step, struct buf *out,
				      size_t *used, struct smtp_data_reader *r)
{
	smtp_data_reader_init(r, 1 << 20, 1000, 10000);
	size_t pos = 0;
	while (pos < len) {
		size_t n = len - pos < step ? len - pos : step, consumed;
		enum smtp_data_status st = smtp_data_feed(r, in + pos, n, &consumed, out);
		pos += consumed;
		if (st != SMTP_DATA_MORE) {
			*used = pos;
			return st;
		}
	}
	*used = pos;
	return SMTP_DATA_MORE;
}

TEST(smtp_data_unstuffs_and_ends_exactly)
{
	const char *in = "Subject: x\r\n\r\n..dot\r\n.x\r\nlast\r\n.\r\nMAIL FROM:<a@b.c>\r\n";
	for (size_t step = 1; step <= 7; step++) {
		struct buf out = BUF_INIT;
		struct smtp_data_reader r;
		size_t used;
		CHECK_EQ_INT(feed_all(in, strlen(in), step, &out, &used, &r), SMTP_DATA_END);
		CHECK_EQ_STR(out.data, "Subject: x\r\n\r\n.dot\r\nx\r\nlast\r\n");
		CHECK_EQ_INT(used, strlen(in) - strlen("MAIL FROM:<a@b.c>\r\n"));
		buf_free(&out);
	}
}

TEST(smtp_data_empty_message)
{
	struct buf out = BUF_INIT;
	struct smtp_data_reader r;
	size_t used;
	CHECK_EQ_INT(feed_all(".\r\n", 3, 1, &out, &used, &r), SMTP_DATA_END);
	CHECK_EQ_INT(out.len, 0);
	buf_free(&out);
}

TEST(smtp_data_smuggling_variants_stop_the_reader)
{
	/* Every non-CRLF line ending that could end DATA on some server must stop ours. */
	const char *variants[] = {
		"a\r\n\n.\nMAIL FROM:<x@y.z>\r\n", "a\n.\r\nMAIL FROM:<x@y.z>\r\n",
		"a\r\n.\nMAIL FROM:<x@y.z>\r\n",  "a\r.\rMAIL FROM:<x@y.z>\r\n",
		"a\r\n.\rMAIL FROM:<x@y.z>\r\n",  "a\r.\r\nMAIL FROM:<x@y.z>\r\n",
		"a\nb\r\n.\r\n",                  "a\rb\r\n.\r\n",
	};
	for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
		for (size_t step = 1; step <= 3; step++) {
			struct buf out = BUF_INIT;
			struct smtp_data_reader r;
			size_t used;
			enum smtp_data_status st =
				feed_all(variants[i], strlen(variants[i]), step, &out, &used, &r);
			if (st != SMTP_DATA_BARE_EOL)
				printf("  variant %zu step %zu: status %d\n", i, step, st);
			CHECK_EQ_INT(st, SMTP_DATA_BARE_EOL);
			buf_free(&out);
		}
	}
}

TEST(smtp_data_limits)
{
	struct smtp_data_reader r;
	struct buf out = BUF_INIT;
	size_t consumed;
	smtp_data_reader_init(&r, 20, 10, 15);
	const char *in = "H: 1234567890\r\n\r\nbody body body body\r\n.\r\n";
	CHECK_EQ_INT(smtp_data_feed(&r, in, strlen(in), &consumed, &out), SMTP_DATA_END);
	CHECK(r.too_big);
	CHECK(r.line_too_long);
	CHECK(r.header_too_big);
	CHECK(out.len <= 20);
	buf_free(&out);
}

TEST(smtp_data_raw_counts_bdat)
{
	struct smtp_data_reader r;
	struct buf out = BUF_INIT;
	smtp_data_reader_init(&r, 100, 1000, 1000);
	smtp_data_count_raw(&r, "A: b\r\n\r\n.\r\n", 11, &out);
	CHECK_EQ_INT(out.len, 11);
	CHECK(!r.in_header);
	smtp_data_count_raw(&r, "0123456789012345678901234567890123456789012345678901234567890123456789"
				"0123456789012345678901234567890123456789",
			    110, &out);
	CHECK(r.too_big);
	buf_free(&out);
}

TEST(smtp_bdat_bare_lf_stored_as_crlf)
{
	struct smtp_data_reader r;
	struct buf out = BUF_INIT;
	smtp_data_reader_init(&r, 1000, 1000, 1000);
	smtp_data_count_raw(&r, "A: b\n\nx\r", 8, &out);
	smtp_data_count_raw(&r, "\ny\n", 3, &out);
	CHECK_EQ_STR(out.data, "A: b\r\n\r\nx\r\ny\r\n");
	CHECK(!r.in_header);
	buf_free(&out);
}
