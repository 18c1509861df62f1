#include "pop3/parse.h"
#include "test.h"

static bool parse(const char *line, struct pop3_command *c, const char **err)
{
	return pop3_parse_command(line, strlen(line), c, err);
}

TEST(pop3_parse_commands_and_arguments)
{
	struct pop3_command c;
	const char *err;
	CHECK(parse("user alice@example.test", &c, &err));
	CHECK_EQ_INT(c.verb, POP3_USER);
	CHECK(c.arg_len == 18 && memcmp(c.arg, "alice@example.test", 18) == 0);
	CHECK(parse("PASS with spaces inside", &c, &err));
	CHECK(c.arg_len == 18);
	CHECK(parse("RETR 12", &c, &err));
	CHECK(c.has_msg && c.msg == 12);
	CHECK(parse("TOP 3 0", &c, &err));
	CHECK(c.msg == 3 && c.lines == 0);
	CHECK(parse("LIST", &c, &err));
	CHECK(!c.has_msg);
	CHECK(parse("UIDL 2", &c, &err));
	CHECK(c.has_msg && c.msg == 2);
	CHECK(parse("AUTH PLAIN AGFsaWNlAHNlY3JldA==", &c, &err));
	CHECK_EQ_INT(c.verb, POP3_AUTH);
	CHECK(parse("AUTH", &c, &err));
	CHECK(c.arg_len == 0);
}

TEST(pop3_parse_rejects_bad_input_with_sentences)
{
	struct pop3_command c;
	const char *err = NULL;
	const char *bad[] = { "RETR", "RETR x", "RETR 0", "RETR -1", "RETR 1 2", "TOP 1", "TOP 1 x",
			      "STAT 1", "QUIT now", "USER", "FROB", "RETR  1", "LIST 1 ",
			      "RETR 1234567890" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err = NULL;
		bool ok = parse(bad[i], &c, &err);
		if (ok)
			printf("  accepted: %s\n", bad[i]);
		CHECK(!ok);
		CHECK(err != NULL && strlen(err) > 10);
	}
	char longline[300];
	memset(longline, 'x', sizeof longline);
	memcpy(longline, "NOOP ", 5);
	CHECK(!pop3_parse_command(longline, sizeof longline, &c, &err));
	CHECK(strstr(err, "255") != NULL);
	CHECK(!pop3_parse_command("NOOP\0", 5, &c, &err));
}

TEST(pop3_format_stuffs_dots_and_fixes_line_ends)
{
	struct buf out = BUF_INIT;
	const char *msg = "A: 1\r\nB: 2\r\n\r\n.line\r\nbare\nlast";
	pop3_format_message(msg, strlen(msg), -1, &out);
	CHECK_EQ_STR(out.data, "A: 1\r\nB: 2\r\n\r\n..line\r\nbare\r\nlast\r\n.\r\n");
	buf_reset(&out);
	pop3_format_message(msg, strlen(msg), 0, &out);
	CHECK_EQ_STR(out.data, "A: 1\r\nB: 2\r\n\r\n.\r\n");
	buf_reset(&out);
	pop3_format_message(msg, strlen(msg), 1, &out);
	CHECK_EQ_STR(out.data, "A: 1\r\nB: 2\r\n\r\n..line\r\n.\r\n");
	buf_reset(&out);
	pop3_format_message("", 0, -1, &out);
	CHECK_EQ_STR(out.data, ".\r\n");
	buf_free(&out);
}
