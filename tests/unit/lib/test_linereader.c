#include "lib/linereader.h"
#include "test.h"

TEST(linereader_splits_lines)
{
	struct line_reader lr;
	line_reader_init(&lr, 16);
	const char *in = "EHLO a\r\nNOOP\n";
	size_t consumed, len;
	CHECK_EQ_INT(line_reader_next(&lr, in, strlen(in), &consumed, &len), LINE_OK);
	CHECK_EQ_INT(len, 8);
	CHECK_EQ_INT(line_strip_eol(in, len), 6);
	in += consumed;
	CHECK_EQ_INT(line_reader_next(&lr, in, strlen(in), &consumed, &len), LINE_OK);
	CHECK_EQ_INT(line_strip_eol(in, len), 4);
}

TEST(linereader_needs_more_without_lf)
{
	struct line_reader lr;
	line_reader_init(&lr, 16);
	size_t consumed, len;
	CHECK_EQ_INT(line_reader_next(&lr, "NOOP\r", 5, &consumed, &len), LINE_NEED_MORE);
	CHECK_EQ_INT(consumed, 0);
}

TEST(linereader_too_long_reported_once_then_skipped)
{
	struct line_reader lr;
	line_reader_init(&lr, 8);
	size_t consumed, len;
	/* Fed byte by byte: exactly one TOO_LONG, then the next line is read normally. */
	const char *in = "AAAAAAAAAAAAAAAAAAAA\r\nNOOP\r\n";
	size_t n = strlen(in), pos = 0, too_long = 0, ok = 0;
	char pending[64];
	size_t plen = 0;
	while (pos < n) {
		pending[plen++] = in[pos++];
		enum line_status st = line_reader_next(&lr, pending, plen, &consumed, &len);
		if (st == LINE_TOO_LONG)
			too_long++;
		if (st == LINE_OK) {
			ok++;
			CHECK_EQ_INT(line_strip_eol(pending, len), 4);
			CHECK(memcmp(pending, "NOOP", 4) == 0);
		}
		memmove(pending, pending + consumed, plen - consumed);
		plen -= consumed;
	}
	CHECK_EQ_INT(too_long, 1);
	CHECK_EQ_INT(ok, 1);
	CHECK_EQ_INT(plen, 0);
}

TEST(linereader_line_of_exactly_max_is_ok)
{
	struct line_reader lr;
	line_reader_init(&lr, 6);
	size_t consumed, len;
	CHECK_EQ_INT(line_reader_next(&lr, "NOOP\r\n", 6, &consumed, &len), LINE_OK);
	CHECK_EQ_INT(line_reader_next(&lr, "NOOPX\r\n", 7, &consumed, &len), LINE_TOO_LONG);
}
