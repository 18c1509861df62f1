/* Modified UTF-7 mailbox names (RFC 3501 5.1.3). */
#include "imap/parse.h"
#include "test.h"

static const char *decode(const char *s)
{
	static struct buf out;
	buf_reset(&out);
	const char *err = NULL;
	if (!imap_utf7_decode(s, strlen(s), &out, &err)) {
		CHECK(out.len == 0);
		CHECK(!imap_utf7_is_valid(s, strlen(s)));
		return err;
	}
	CHECK(imap_utf7_is_valid(s, strlen(s)));
	return out.len ? out.data : "";
}

static const char *encode(const char *s)
{
	static struct buf out;
	buf_reset(&out);
	const char *err = NULL;
	if (!imap_utf7_encode(s, strlen(s), &out, &err)) {
		CHECK(out.len == 0);
		return err;
	}
	return out.len ? out.data : "";
}

TEST(imap_utf7_round_trips)
{
	static const struct {
		const char *utf8, *utf7;
	} cases[] = {
		{ "", "" },
		{ "INBOX", "INBOX" },
		{ "\xc3\xa4", "&AOQ-" },
		{ "Entw\xc3\xbcrfe", "Entw&APw-rfe" },
		{ "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "&ZeVnLIqe-" },
		{ "\xf0\x9f\x98\x80", "&2D3eAA-" },
		{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		  "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
		{ "a&b", "a&-b" },
		{ "&&", "&-&-" },
		{ "\xc3\xa4\xc3\xb6", "&AOQA9g-" },
		{ "\xc3\xa4&", "&AOQ-&-" },
		{ "Sent Items", "Sent Items" },
		{ "\xcf\xa0\xe3\x80\x80", "&A+AwAA-" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CHECK_EQ_STR(encode(cases[i].utf8), cases[i].utf7);
		CHECK_EQ_STR(decode(cases[i].utf7), cases[i].utf8);
	}
}

TEST(imap_utf7_rejects_bad_encodings)
{
	CHECK_EQ_STR(decode("&AOQ"), "Unterminated base64 run in modified UTF-7 (missing '-')");
	CHECK_EQ_STR(decode("&"), "Unterminated base64 run in modified UTF-7 (missing '-')");
	CHECK_EQ_STR(decode("&AOQ-&APw-"), "Two adjacent base64 runs in modified UTF-7 (\"-&\")");
	CHECK_EQ_STR(decode("&AGE-"),
		     "Printable ASCII must not be base64-encoded in modified UTF-7");
	CHECK_EQ_STR(decode("&ACY-"),
		     "Printable ASCII must not be base64-encoded in modified UTF-7");
	CHECK_EQ_STR(decode("&AOR-"), "Bad padding at the end of a modified UTF-7 base64 run");
	CHECK_EQ_STR(decode("&AOQA-"), "Bad padding at the end of a modified UTF-7 base64 run");
	CHECK_EQ_STR(decode("&AO-"), "Bad padding at the end of a modified UTF-7 base64 run");
	CHECK_EQ_STR(decode("&AOQ/-"), "Invalid character in a modified UTF-7 base64 run");
	CHECK_EQ_STR(decode("&AOQ=-"), "Invalid character in a modified UTF-7 base64 run");
	CHECK_EQ_STR(decode("&2D0-"), "Broken UTF-16 surrogate pair in modified UTF-7");
	CHECK_EQ_STR(decode("&2D3YPQ-"), "Broken UTF-16 surrogate pair in modified UTF-7");
	CHECK_EQ_STR(decode("&2D0AOQ-"), "Broken UTF-16 surrogate pair in modified UTF-7");
	CHECK_EQ_STR(decode("&3gA-"), "Broken UTF-16 surrogate pair in modified UTF-7");
	CHECK_EQ_STR(decode("&AAE-"), "Control character in a mailbox name");
	CHECK_EQ_STR(decode("a\tb"), "Control character in a mailbox name");
	CHECK_EQ_STR(decode("\xc3\xa4"), "8-bit byte in a modified UTF-7 mailbox name");

	CHECK_EQ_STR(encode("\xff"), "Mailbox name is not valid UTF-8");
	CHECK_EQ_STR(encode("\xc3"), "Mailbox name is not valid UTF-8");
	CHECK_EQ_STR(encode("\xc0\xa0"), "Mailbox name is not valid UTF-8");
	CHECK_EQ_STR(encode("\xed\xa0\x80"), "Mailbox name is not valid UTF-8");
	CHECK_EQ_STR(encode("a\nb"), "Control character in a mailbox name");
	CHECK_EQ_STR(encode("\x7f"), "Control character in a mailbox name");

	/* a failed call leaves what the buffer held before */
	struct buf out = BUF_INIT;
	buf_append_str(&out, "keep");
	const char *err;
	CHECK(!imap_utf7_decode("x&AOQ", 5, &out, &err));
	CHECK_EQ_STR(out.data, "keep");
	CHECK(!imap_utf7_encode("x\xff", 2, &out, &err));
	CHECK_EQ_STR(out.data, "keep");
	buf_free(&out);
}
