/* The streaming IMAP parser. Every input goes through run(), which feeds it whole and also in
 * 1, 2, 3, 7 and 64-byte pieces, and checks that every way gives the same events. */
#include <stdlib.h>

#include "imap/parse.h"
#include "test.h"
#include "util.h"

static const char *code_name(enum imap_parse_error_code c)
{
	if (c == IMAP_PARSE_ERR_SYNTAX)
		return "SYNTAX";
	return c == IMAP_PARSE_ERR_LIMIT ? "LIMIT" : "TOOBIG";
}

/* Plays a session: bytes arrive `chunk` at a time and the parser is fed whatever it has not
 * used yet. decisions: 'A' (accept) or 'R' (refuse) for each synchronizing literal in turn,
 * accept when they run out. Writes one line per event to log. */
static void run_chunked(const char *in, size_t len, size_t chunk,
			const struct imap_parser_limits *lim, const char *decisions,
			struct buf *log)
{
	struct imap_parser *p = imap_parser_new(lim);
	size_t pos = 0, arrived = 0, lits = 0;
	for (;;) {
		if (pos == arrived) {
			if (arrived == len)
				break;
			arrived = arrived + chunk < len ? arrived + chunk : len;
		}
		size_t used = (size_t)-1;
		enum imap_parse_status st = imap_parser_feed(p, in + pos, arrived - pos, &used);
		CHECK(used <= arrived - pos);
		if (st == IMAP_PARSE_NEED_MORE)
			CHECK(used == arrived - pos);
		pos += used;
		if (st == IMAP_PARSE_DONE) {
			const struct imap_command *c = imap_parser_command(p);
			buf_printf(log, "DONE %s %s", c->tag, c->name);
			if (c->count)
				buf_append_char(log, ' ');
			imap_test_dump_args(log, c->args, c->count);
			buf_append_char(log, '\n');
		} else if (st == IMAP_PARSE_LITERAL) {
			buf_printf(log, "LITERAL %s %s %llu%s\n", imap_parser_tag(p),
				   imap_parser_name(p),
				   (unsigned long long)imap_parser_literal_size(p),
				   imap_parser_literal_is8(p) ? " 8" : "");
			char d = decisions && lits < strlen(decisions) ? decisions[lits] : 'A';
			lits++;
			if (d == 'R')
				imap_parser_literal_refuse(p);
			else
				imap_parser_literal_accept(p);
		} else if (st == IMAP_PARSE_ERROR) {
			const struct imap_parse_error *e = imap_parser_error(p);
			buf_printf(log, "ERROR %s %s %s%s\n", code_name(e->code),
				   e->tag ? e->tag : "*", e->text, e->fatal ? " FATAL" : "");
			if (e->fatal)
				break;
		}
	}
	imap_parser_free(&p);
}

static struct imap_parser_limits small_limits(void)
{
	struct imap_parser_limits l = {
		.max_line = 200, .max_literal = 100, .max_literal_total = 150, .max_nonsync = 20,
		.max_depth = 3, .max_args = 20, .literal8 = true,
	};
	return l;
}

static struct buf run_log;

/* Not buf_cstr(): on a buffer never written to it returns unterminated memory. */
static const char *text_of(const struct buf *b)
{
	return b->len ? b->data : "";
}

static const char *run_n(const char *in, size_t len, const struct imap_parser_limits *lim,
			 const char *decisions)
{
	buf_reset(&run_log);
	run_chunked(in, len, len ? len : 1, lim, decisions, &run_log);
	const size_t chunks[] = { 1, 2, 3, 7, 64 };
	for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		struct buf other = BUF_INIT;
		run_chunked(in, len, chunks[i], lim, decisions, &other);
		if (strcmp(text_of(&other), text_of(&run_log)) != 0) {
			printf("  chunk %zu gives:\n%s  whole gives:\n%s", chunks[i],
			       text_of(&other), text_of(&run_log));
			test_failures_in_case++;
		}
		buf_free(&other);
	}
	return text_of(&run_log);
}

static const char *run(const char *in)
{
	struct imap_parser_limits l = small_limits();
	return run_n(in, strlen(in), &l, NULL);
}

static const char *run_lim(const char *in, const struct imap_parser_limits *l, const char *dec)
{
	return run_n(in, strlen(in), l, dec);
}

/* For string constants holding NUL bytes. */
static const char *run_bytes(const char *in, size_t len)
{
	struct imap_parser_limits l = small_limits();
	return run_n(in, len, &l, NULL);
}

#define RUN_BYTES(s) run_bytes(s, sizeof(s) - 1)

TEST(imap_parse_simple_commands)
{
	CHECK_EQ_STR(run("a NOOP\r\n"), "DONE a NOOP\n");
	CHECK_EQ_STR(run("a1 login alice secret\r\n"), "DONE a1 login alice secret\n");
	/* a bare LF ends a line too; trailing and repeated spaces are forgiven */
	CHECK_EQ_STR(run("b CAPABILITY\n"), "DONE b CAPABILITY\n");
	CHECK_EQ_STR(run("c SELECT  INBOX \r\n"), "DONE c SELECT INBOX\n");
	CHECK_EQ_STR(run("d  NOOP\r\n"), "DONE d NOOP\n");
	CHECK_EQ_STR(run("e LOGIN {1}\nx y\n"), "LITERAL e LOGIN 1\nDONE e LOGIN {1}x y\n");
	/* empty lines between commands are ignored */
	CHECK_EQ_STR(run("\r\n\na NOOP\r\n\r\nb NOOP\r\n"), "DONE a NOOP\nDONE b NOOP\n");
	/* tags: any ASTRING-CHAR but "+", so "]" and odd punctuation are fine */
	CHECK_EQ_STR(run("A]1.x! NOOP\r\n"), "DONE A]1.x! NOOP\n");
	/* nothing is reported until the line is complete */
	CHECK_EQ_STR(run("a NOOP"), "");
}

TEST(imap_parse_every_argument_kind)
{
	CHECK_EQ_STR(run("a X atom NIL nil \"quoted\" \"\" ()\r\n"),
		     "DONE a X atom NIL NIL \"quoted\" \"\" ()\n");
	CHECK_EQ_STR(run("a X \"esc \\\" and \\\\ here\"\r\n"),
		     "DONE a X \"esc \" and \\ here\"\n");
	CHECK_EQ_STR(run("a X \"caf\xc3\xa9 \xe2\x82\xac\"\r\n"),
		     "DONE a X \"caf\xc3\xa9 \xe2\x82\xac\"\n");
	CHECK_EQ_STR(run("a X (a (b (c)) \"d\") (e)\r\n"), "DONE a X (a (b (c)) \"d\") (e)\n");
	CHECK_EQ_STR(run("a X ( a  b )\r\n"), "DONE a X (a b)\n");
	CHECK_EQ_STR(run("a X {5}\r\nhello\r\n"), "LITERAL a X 5\nDONE a X {5}hello\n");
	CHECK_EQ_STR(run("a X {5+}\r\nhe\r\nl rest\r\n"), "DONE a X {5}he\r\nl rest\n");
	CHECK_EQ_STR(run("a X {0}\r\n {0+}\r\n\r\n"), "LITERAL a X 0\nDONE a X {0} {0}\n");
	CHECK_EQ_STR(RUN_BYTES("a X ~{3}\r\na\0b ~{2+}\r\n\0\0\r\n"),
		     "LITERAL a X 3 8\nDONE a X ~{3}a\\0b ~{2}\\0\\0\n");
	/* a literal inside a list, and a literal right before ")" */
	CHECK_EQ_STR(run("a X (x {2}\r\nyz)\r\n"), "LITERAL a X 2\nDONE a X (x {2}yz)\n");
	/* "~" not followed by "{" is an ordinary atom character */
	CHECK_EQ_STR(run("a X ~ ~a\r\n"), "DONE a X ~ ~a\n");
}

TEST(imap_parse_special_atoms)
{
	CHECK_EQ_STR(run("a FETCH 1 BODY[HEADER.FIELDS (A B)]<0.100>\r\n"),
		     "DONE a FETCH 1 BODY[HEADER.FIELDS (A B)]<0.100>\n");
	CHECK_EQ_STR(run("a FETCH 1 (BODY.PEEK[1.2.MIME] BINARY[1]<0.10> BINARY.SIZE[2])\r\n"),
		     "DONE a FETCH 1 (BODY.PEEK[1.2.MIME] BINARY[1]<0.10> BINARY.SIZE[2])\n");
	CHECK_EQ_STR(run("a FETCH 1 (body[header.fields (\"X-A)]\" b)] FLAGS)\r\n"),
		     "DONE a FETCH 1 (body[header.fields (\"X-A)]\" b)] FLAGS)\n");
	CHECK_EQ_STR(run("a STORE 1:*,5 +FLAGS.SILENT (\\Seen \\Answered $Fwd)\r\n"),
		     "DONE a STORE 1:*,5 +FLAGS.SILENT (\\Seen \\Answered $Fwd)\n");
	CHECK_EQ_STR(run("a LIST \"\" %/* \r\n"), "DONE a LIST \"\" %/*\n");
	CHECK_EQ_STR(run("a FLAGS (\\*)\r\n"), "DONE a FLAGS (\\*)\n");
	/* only BODY/BINARY items open brackets: other atoms keep "[" and "]" as characters */
	CHECK_EQ_STR(run("a CREATE a[b c]d\r\n"), "DONE a CREATE a[b c]d\n");
	CHECK_EQ_STR(run("a FETCH 1 BODY[]\r\n"), "DONE a FETCH 1 BODY[]\n");
}

TEST(imap_parse_pipelined_commands_consume_exactly)
{
	struct imap_parser_limits l = small_limits();
	struct imap_parser *p = imap_parser_new(&l);
	const char *in = "a NOOP\r\nb LOGOUT\r\nc AUTHENTICATE PLAIN\r\ndGVzdA==\r\n";
	size_t len = strlen(in), used;
	CHECK_EQ_INT(imap_parser_feed(p, in, len, &used), IMAP_PARSE_DONE);
	CHECK_EQ_INT(used, 8);
	CHECK_EQ_INT(imap_parser_feed(p, in + 8, len - 8, &used), IMAP_PARSE_DONE);
	CHECK_EQ_INT(used, 10);
	CHECK_EQ_INT(imap_parser_feed(p, in + 18, len - 18, &used), IMAP_PARSE_DONE);
	/* the SASL response after the command is left for the session's line reader */
	CHECK_EQ_INT(used, 22);
	CHECK_EQ_STR(imap_parser_command(p)->name, "AUTHENTICATE");
	imap_parser_free(&p);
	CHECK(p == NULL);
}

TEST(imap_parse_literal_refused_drops_the_command)
{
	struct imap_parser_limits l = small_limits();
	CHECK_EQ_STR(run_lim("a APPEND INBOX {5}\r\nb NOOP\r\n", &l, "R"),
		     "LITERAL a APPEND 5\nDONE b NOOP\n");
	CHECK_EQ_STR(run_lim("a X {1}\r\nx {2}\r\nb NOOP\r\n", &l, "AR"),
		     "LITERAL a X 1\nLITERAL a X 2\nDONE b NOOP\n");
}

TEST(imap_parse_take_command_outlives_feeds)
{
	struct imap_parser_limits l = small_limits();
	struct imap_parser *p = imap_parser_new(&l);
	size_t used;
	CHECK_EQ_INT(imap_parser_feed(p, "t1 SELECT \"Box\"\r\n", 17, &used), IMAP_PARSE_DONE);
	struct imap_command *c = imap_parser_take_command(p);
	CHECK(imap_parser_command(p) == NULL);
	CHECK_EQ_INT(imap_parser_feed(p, "t2 NOOP\r\n", 9, &used), IMAP_PARSE_DONE);
	CHECK_EQ_STR(c->tag, "t1");
	CHECK_EQ_STR(c->args[0].str, "Box");
	CHECK_EQ_STR(imap_parser_command(p)->tag, "t2");
	imap_command_free(&c);
	CHECK(c == NULL);
	/* a partial command is dropped by reset */
	CHECK_EQ_INT(imap_parser_feed(p, "t3 LOGIN {5}", 12, &used), IMAP_PARSE_NEED_MORE);
	CHECK_EQ_STR(imap_parser_tag(p), "t3");
	imap_parser_reset(p);
	CHECK(imap_parser_tag(p) == NULL);
	CHECK_EQ_INT(imap_parser_feed(p, "t4 NOOP\r\n", 9, &used), IMAP_PARSE_DONE);
	CHECK_EQ_STR(imap_parser_command(p)->tag, "t4");
	imap_parser_free(&p);
}

TEST(imap_parse_limit_line_length)
{
	struct imap_parser_limits l = small_limits();
	l.max_line = 20;
	/* 20 bytes exactly is fine, CRLF included */
	CHECK_EQ_STR(run_lim("a X 0123456789abcd\r\n", &l, NULL), "DONE a X 0123456789abcd\n");
	CHECK_EQ_STR(run_lim("a X 0123456789abcde\r\nb NOOP\r\n", &l, NULL),
		     "ERROR LIMIT a Command line longer than 20 bytes\nDONE b NOOP\n");
	/* the tag is not known yet when the tag itself is too long */
	CHECK_EQ_STR(run_lim("aaaaaaaaaaaaaaaaaaaaaaaaa NOOP\r\nb NOOP\r\n", &l, NULL),
		     "ERROR LIMIT * Command line longer than 20 bytes\nDONE b NOOP\n");
	/* literal data does not count, but everything else of the command does */
	CHECK_EQ_STR(run_lim("a X {30+}\r\n012345678901234567890123456789\r\n", &l, NULL),
		     "ERROR TOOBIG a Non-synchronizing literal larger than 20 bytes; send it as "
		     "{n}\n");
	l.max_nonsync = 100;
	CHECK_EQ_STR(run_lim("a X {30+}\r\n012345678901234567890123456789 y\r\n", &l, NULL),
		     "DONE a X {30}012345678901234567890123456789 y\n");
	CHECK_EQ_STR(run_lim("a X {3+}\r\nabc yyyyyyyy\r\nb NOOP\r\n", &l, NULL),
		     "ERROR LIMIT a Command line longer than 20 bytes\nDONE b NOOP\n");
	/* a quoted string counts too: no memory beyond the limit */
	CHECK_EQ_STR(run_lim("a X \"0123456789abcdefghijk\r\nb NOOP\r\n", &l, NULL),
		     "ERROR LIMIT a Command line longer than 20 bytes\nDONE b NOOP\n");
}

TEST(imap_parse_limit_literal_sizes)
{
	struct imap_parser_limits l = small_limits();
	/* {n} too large: refused before "+", the client sends nothing more of the command */
	CHECK_EQ_STR(run_lim("a APPEND X {101}\r\nb NOOP\r\n", &l, NULL),
		     "ERROR TOOBIG a Literal larger than 100 bytes\nDONE b NOOP\n");
	CHECK_EQ_STR(run_lim("a APPEND X {99999999999999999999999}\r\nb NOOP\r\n", &l, NULL),
		     "ERROR TOOBIG a Literal larger than 100 bytes\nDONE b NOOP\n");
	CHECK_EQ_STR(run_lim("a X {100}\r\n", &l, NULL), "LITERAL a X 100\n");
	/* the total of one command */
	CHECK_EQ_STR(run_lim("a X {80}\r\n" "01234567890123456789012345678901234567890123456789"
			     "012345678901234567890123456789 {71}\r\nb NOOP\r\n", &l, NULL),
		     "LITERAL a X 80\n"
		     "ERROR TOOBIG a Literals of this command exceed 150 bytes in total\n"
		     "DONE b NOOP\n");
	/* {n+} over the LITERAL- limit: its data comes anyway and is skipped, CRLFs and all */
	CHECK_EQ_STR(run_lim("a X {21+}\r\n\r\nb NOOP\r\n0123456789012 c\r\nd NOOP\r\n", &l, NULL),
		     "ERROR TOOBIG a Non-synchronizing literal larger than 20 bytes; send it as "
		     "{n}\n"
		     "DONE d NOOP\n");
	/* {n+} larger than any literal: not worth reading */
	CHECK_EQ_STR(run_lim("a X {101+}\r\nb NOOP\r\n", &l, NULL),
		     "ERROR TOOBIG a Non-synchronizing literal larger than 100 bytes; closing the "
		     "connection FATAL\n");
	/* the fatal state sticks */
	struct imap_parser *p = imap_parser_new(&l);
	size_t used;
	CHECK_EQ_INT(imap_parser_feed(p, "a X {101+}\r\n", 12, &used), IMAP_PARSE_ERROR);
	CHECK(imap_parser_error(p)->fatal);
	CHECK_EQ_INT(imap_parser_feed(p, "b NOOP\r\n", 8, &used), IMAP_PARSE_ERROR);
	CHECK_EQ_INT(used, 0);
	imap_parser_free(&p);
	/* no LITERAL+ / LITERAL- at all */
	l.max_nonsync = 0;
	CHECK_EQ_STR(run_lim("a X {2+}\r\nab\r\nb NOOP\r\n", &l, NULL),
		     "ERROR SYNTAX a Non-synchronizing literals are not supported\nDONE b NOOP\n");
	/* no BINARY */
	l.literal8 = false;
	CHECK_EQ_STR(run_lim("a X ~{2}\r\nb NOOP\r\n", &l, NULL),
		     "ERROR SYNTAX a Binary literals (~{n}) are not supported here\nDONE b NOOP\n");
}

/* max_command: line and literals of one command together (what a client may make us hold
 * before login), whatever mix of small literals it uses. */
TEST(imap_parse_limit_whole_command)
{
	struct imap_parser_limits l = small_limits();
	l.max_command = 60;
	/* three 15-byte {n+} literals fit one by one but not together */
	CHECK_EQ_STR(run_lim("a X {15+}\r\n012345678901234 {15+}\r\n012345678901234 {15+}\r\n"
			     "012345678901234\r\nb NOOP\r\n", &l, NULL),
		     "ERROR LIMIT a This command is larger than 60 bytes, its literals included\n"
		     "DONE b NOOP\n");
	/* synchronizing: refused before "+", the next command is read */
	CHECK_EQ_STR(run_lim("a X {40}\r\n0123456789012345678901234567890123456789 {15}\r\n"
			     "b NOOP\r\n", &l, NULL),
		     "LITERAL a X 40\n"
		     "ERROR LIMIT a This command is larger than 60 bytes, its literals included\n"
		     "DONE b NOOP\n");
	/* line bytes after a literal count too */
	CHECK_EQ_STR(run_lim("a X {40}\r\n0123456789012345678901234567890123456789 abcdefghijklmnop"
			     "qrstuvwxyz\r\nb NOOP\r\n", &l, NULL),
		     "LITERAL a X 40\n"
		     "ERROR LIMIT a This command is larger than 60 bytes, its literals included\n"
		     "DONE b NOOP\n");
	CHECK_EQ_STR(run_lim("a LOGIN {5}\r\nalice secret\r\n", &l, NULL),
		     "LITERAL a LOGIN 5\nDONE a LOGIN {5}alice secret\n");
	/* what a partial command holds */
	struct imap_parser *p = imap_parser_new(&l);
	size_t used;
	CHECK_EQ_INT(imap_parser_held(p), 0);
	CHECK_EQ_INT(imap_parser_feed(p, "a X {20}\r\n", 10, &used), IMAP_PARSE_LITERAL);
	CHECK_EQ_INT(imap_parser_held(p), 10);
	imap_parser_literal_accept(p);
	CHECK_EQ_INT(imap_parser_held(p), 30);
	CHECK_EQ_INT(imap_parser_feed(p, "0123456789", 10, &used), IMAP_PARSE_NEED_MORE);
	CHECK_EQ_INT(imap_parser_held(p), 30);
	imap_parser_free(&p);
}

TEST(imap_parse_limit_depth_and_arguments)
{
	struct imap_parser_limits l = small_limits();
	CHECK_EQ_STR(run_lim("a X (((x)))\r\n", &l, NULL), "DONE a X (((x)))\n");
	CHECK_EQ_STR(run_lim("a X ((((x))))\r\nb NOOP\r\n", &l, NULL),
		     "ERROR LIMIT a Parentheses nested deeper than 3 levels\nDONE b NOOP\n");
	l.max_args = 4;
	CHECK_EQ_STR(run_lim("a X 1 (2 3)\r\n", &l, NULL), "DONE a X 1 (2 3)\n");
	CHECK_EQ_STR(run_lim("a X 1 (2 3) 4\r\nb NOOP\r\n", &l, NULL),
		     "ERROR LIMIT a Too many arguments (the limit is 4)\nDONE b NOOP\n");
	CHECK_EQ_STR(run_lim("a X 1 2 3 {1}\r\nz\r\n", &l, NULL),
		     "LITERAL a X 1\nDONE a X 1 2 3 {1}z\n");
	CHECK_EQ_STR(run_lim("a X 1 2 3 4 {1}\r\nb NOOP\r\n", &l, NULL),
		     "ERROR LIMIT a Too many arguments (the limit is 4)\nDONE b NOOP\n");
	CHECK_EQ_STR(run_lim("a X 1 2 3 4 ()\r\nb NOOP\r\n", &l, NULL),
		     "ERROR LIMIT a Too many arguments (the limit is 4)\nDONE b NOOP\n");
	CHECK_EQ_STR(run_lim("a X 1 2 3 4 \"x\"\r\nb NOOP\r\n", &l, NULL),
		     "ERROR LIMIT a Too many arguments (the limit is 4)\nDONE b NOOP\n");
}

TEST(imap_parse_errors_and_resynchronisation)
{
	/* each broken line is reported once, and the next command parses */
	CHECK_EQ_STR(run("+ NOOP\r\nb NOOP\r\n"),
		     "ERROR SYNTAX * Unexpected '+' in a tag\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Missing command name after the tag\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a \r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Missing command name after the tag\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a NO(OP\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Unexpected '(' in a command name\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X ab(c)\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Unexpected '(' in an atom\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X \"a\"b\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Missing space between arguments\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X (a)(b)\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Missing space between arguments\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X \"abc\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Missing '\"' before the end of the line\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X \"a\\b\"\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Invalid escape in a quoted string (only \\\\ and \\\" are "
		     "allowed)\n"
		     "DONE b NOOP\n");
	CHECK_EQ_STR(run("a X (a\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Missing ')' at the end of the line\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X a)\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Unexpected ')' without '('\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X\rY\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a CR not followed by LF\nDONE b NOOP\n");
	CHECK_EQ_STR(run("\rb NOOP\r\nc NOOP\r\n"),
		     "ERROR SYNTAX * CR not followed by LF\nDONE c NOOP\n");
	CHECK_EQ_STR(run("a X \x01\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Unexpected byte 0x01 in an argument\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X ab\xc3\xa9\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Unexpected byte 0xc3 in an atom\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X \"\xff\"\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Quoted string is not valid UTF-8 (use a literal)\n"
		     "DONE b NOOP\n");
	CHECK_EQ_STR(RUN_BYTES("a X \"\0\"\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a NUL byte in a quoted string\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X {x}\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Invalid literal: expected {size} or {size+}\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X {}\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Invalid literal: expected {size} or {size+}\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X {1+x\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Invalid literal: expected '}' after '+'\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X {1} y\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a A literal's size must end the line\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X {1}\rx\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a CR not followed by LF\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X a{1}\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Unexpected '{' in an atom\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a FETCH 1 BODY[HEADER\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Missing ']' before the end of the line\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a FETCH 1 BODY[HEADER.FIELDS {4}\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Literals inside a section [...] are not supported\n"
		     "DONE b NOOP\n");
	CHECK_EQ_STR(run("a FETCH 1 BODY[[]\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Unexpected '[' inside a section [...]\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a FETCH 1 BODY[\"\\x\"]\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Invalid escape in a quoted string (only \\\\ and \\\" are "
		     "allowed)\n"
		     "DONE b NOOP\n");
	CHECK_EQ_STR(run("a(b NOOP\r\nb NOOP\r\n"),
		     "ERROR SYNTAX * Unexpected '(' in a tag\nDONE b NOOP\n");
	CHECK_EQ_STR(run("a X \"a\xc3\"\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Quoted string is not valid UTF-8 (use a literal)\n"
		     "DONE b NOOP\n");
	CHECK_EQ_STR(run("a FETCH 1 BODY[\t]\r\nb NOOP\r\n"),
		     "ERROR SYNTAX a Unexpected byte 0x09 in a section [...]\nDONE b NOOP\n");
}

TEST(imap_parse_resync_skips_literals_after_an_error)
{
	/* the error comes before a {n+}: its data (with a CRLF inside) is skipped, not parsed */
	CHECK_EQ_STR(run("a X (a)b {9+}\r\nc NOOP\r\n more\r\nd NOOP\r\n"),
		     "ERROR SYNTAX a Missing space between arguments\nDONE d NOOP\n");
	/* ~{n+} likewise */
	CHECK_EQ_STR(run("a X (a)b ~{2+}\r\n\r\n\r\nd NOOP\r\n"),
		     "ERROR SYNTAX a Missing space between arguments\nDONE d NOOP\n");
	/* a {n} after the error: the client waits for "+", which never comes, so the next line
	 * is a new command */
	CHECK_EQ_STR(run("a X (a)b {9}\r\nc NOOP\r\n"),
		     "ERROR SYNTAX a Missing space between arguments\nDONE c NOOP\n");
	/* "{n+}" in the middle of a skipped line is not a literal */
	CHECK_EQ_STR(run("a X (a)b {9+} x\r\nc NOOP\r\n"),
		     "ERROR SYNTAX a Missing space between arguments\nDONE c NOOP\n");
	/* a huge {n+} in a skipped line cannot be skipped */
	CHECK_EQ_STR(run("a X (a)b {999+}\r\nc NOOP\r\n"),
		     "ERROR SYNTAX a Missing space between arguments\n"
		     "ERROR TOOBIG a Non-synchronizing literal larger than 100 bytes; closing the "
		     "connection FATAL\n");
	/* NUL in a non-binary literal: the rest of the literal and of the line are skipped */
	CHECK_EQ_STR(RUN_BYTES("a X {6}\r\nab\0\r\nd more\r\nb NOOP\r\n"),
		     "LITERAL a X 6\n"
		     "ERROR SYNTAX a NUL byte in a literal (only ~{n} literals may hold NUL)\n"
		     "DONE b NOOP\n");
}

TEST(imap_parse_real_client_lines)
{
	struct imap_parser_limits l;
	imap_parser_limits_default(&l);
#define C(in, out) { in, sizeof(in) - 1, out }
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
		/* Thunderbird */
		C("a1 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc "
		  "Bcc Subject Date Message-ID Priority X-Priority References Newsgroups "
		  "In-Reply-To Content-Type Reply-To)])\r\n",
		  "DONE a1 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To "
		  "Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups "
		  "In-Reply-To Content-Type Reply-To)])\n"),
		C("3 UID STORE 4 +FLAGS.SILENT (\\Seen)\r\n",
		  "DONE 3 UID STORE 4 +FLAGS.SILENT (\\Seen)\n"),
		C("5 ENABLE CONDSTORE QRESYNC UTF8=ACCEPT\r\n",
		  "DONE 5 ENABLE CONDSTORE QRESYNC UTF8=ACCEPT\n"),
		C("6 select \"INBOX\" (CONDSTORE)\r\n", "DONE 6 select \"INBOX\" (CONDSTORE)\n"),
		/* iOS Mail */
		C("A003 ID (\"name\" \"iPhone Mail\" \"version\" \"19E258\")\r\n",
		  "DONE A003 ID (\"name\" \"iPhone Mail\" \"version\" \"19E258\")\n"),
		C("4.521 UID FETCH 1:10 (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID "
		  "X-APPLE-MAIL-TAG)] BODYSTRUCTURE)\r\n",
		  "DONE 4.521 UID FETCH 1:10 (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID "
		  "X-APPLE-MAIL-TAG)] BODYSTRUCTURE)\n"),
		/* Outlook */
		C("A5 LIST \"\" \"*\"\r\n", "DONE A5 LIST \"\" \"*\"\n"),
		C("A7 UID fetch 1:3 (UID FLAGS RFC822.SIZE BODY.PEEK[] INTERNALDATE)\r\n",
		  "DONE A7 UID fetch 1:3 (UID FLAGS RFC822.SIZE BODY.PEEK[] INTERNALDATE)\n"),
		/* mbsync */
		C("9 UID FETCH 1:1000000000 (UID FLAGS)\r\n",
		  "DONE 9 UID FETCH 1:1000000000 (UID FLAGS)\n"),
		C("10 APPEND \"Sent\" (\\Seen) {3+}\r\nabc\r\n",
		  "DONE 10 APPEND \"Sent\" (\\Seen) {3}abc\n"),
		/* offlineimap */
		C("LPAA4 UID FETCH 1:* (FLAGS UID)\r\n", "DONE LPAA4 UID FETCH 1:* (FLAGS UID)\n"),
		/* mutt */
		C("a0005 UID FETCH 1:5 (UID FLAGS INTERNALDATE RFC822.SIZE "
		  "BODY.PEEK[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES "
		  "CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST "
		  "LIST-SUBSCRIBE LIST-UNSUBSCRIBE X-LABEL X-ORIGINAL-TO)])\r\n",
		  "DONE a0005 UID FETCH 1:5 (UID FLAGS INTERNALDATE RFC822.SIZE "
		  "BODY.PEEK[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES "
		  "CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST "
		  "LIST-SUBSCRIBE LIST-UNSUBSCRIBE X-LABEL X-ORIGINAL-TO)])\n"),
		C("a APPEND INBOX (\\Seen) \"01-Feb-2024 10:00:00 +0000\" {5}\r\nhello\r\n",
		  "LITERAL a APPEND 5\n"
		  "DONE a APPEND INBOX (\\Seen) \"01-Feb-2024 10:00:00 +0000\" {5}hello\n"),
		C("x LIST \"\" \"*\" RETURN (SUBSCRIBED CHILDREN STATUS (MESSAGES UNSEEN))\r\n",
		  "DONE x LIST \"\" \"*\" RETURN (SUBSCRIBED CHILDREN STATUS (MESSAGES UNSEEN))\n"),
		C("s SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
		  "DONE s SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\n"),
		C("a UID SEARCH RETURN (MIN MAX) CHARSET UTF-8 OR SUBJECT \"x\" FROM y UNDELETED "
		  "SINCE 1-Feb-2024\r\n",
		  "DONE a UID SEARCH RETURN (MIN MAX) CHARSET UTF-8 OR SUBJECT \"x\" FROM y "
		  "UNDELETED SINCE 1-Feb-2024\n"),
		C("a LOGIN {5}\r\nalice {6}\r\nsecret\r\n", "LITERAL a LOGIN 5\nLITERAL a LOGIN 6\n"
		  "DONE a LOGIN {5}alice {6}secret\n"),
		C("b APPEND Drafts ~{4}\r\nab\0c\r\n",
		  "LITERAL b APPEND 4 8\nDONE b APPEND Drafts ~{4}ab\\0c\n"),
		/* IDLE's "DONE" is read by the session's line reader: to the parser it is a tag */
		C("c IDLE\r\nDONE\r\n",
		  "DONE c IDLE\nERROR SYNTAX DONE Missing command name after the tag\n"),
		C("d MOVE 1:3 \"Archive/2024\"\r\n", "DONE d MOVE 1:3 \"Archive/2024\"\n"),
		C("e UID EXPUNGE 3000:3002\r\n", "DONE e UID EXPUNGE 3000:3002\n"),
		C("f STATUS \"&AOQ-pfel\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)\r\n",
		  "DONE f STATUS \"&AOQ-pfel\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN "
		  "HIGHESTMODSEQ)\n"),
		C("g UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
		  "DONE g UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\n"),
	};
#undef C
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *got = run_n(cases[i].in, cases[i].len, &l, NULL);
		if (strcmp(got, cases[i].out) != 0) {
			printf("  case %zu: got %s", i, got);
			test_failures_in_case++;
		}
	}
}

TEST(imap_parse_tree_shape)
{
	struct imap_command *c = imap_test_parse("t X a (b \"c\" (d NIL)) {2+}\r\nxy\r\n");
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_EQ_INT(c->count, 3);
	CHECK_EQ_INT(c->args[0].type, IMAP_ARG_ATOM);
	CHECK_EQ_INT(c->args[1].type, IMAP_ARG_LIST);
	CHECK_EQ_INT(c->args[1].count, 3);
	CHECK_EQ_INT(c->args[1].list[1].type, IMAP_ARG_STRING);
	CHECK_EQ_INT(c->args[1].list[2].list[1].type, IMAP_ARG_NIL);
	CHECK_EQ_INT(c->args[2].type, IMAP_ARG_LITERAL);
	CHECK_EQ_INT(c->args[2].len, 2);
	CHECK_EQ_INT(c->literal_bytes, 2);
	const char *s;
	size_t len;
	CHECK(imap_arg_get_astring(&c->args[1].list[2].list[1], &s, &len) && strcmp(s, "NIL") == 0);
	CHECK(imap_arg_get_astring(&c->args[2], &s, &len) && len == 2);
	CHECK(imap_arg_get_string(&c->args[1].list[1], &s, &len) && strcmp(s, "c") == 0);
	CHECK(!imap_arg_get_string(&c->args[0], &s, &len));
	CHECK(!imap_arg_get_astring(&c->args[1], &s, &len));
	const struct imap_arg *list;
	size_t n;
	CHECK(imap_arg_get_list(&c->args[1], &list, &n) && n == 3);
	CHECK(!imap_arg_get_list(&c->args[0], &list, &n));
	CHECK(imap_arg_atom_equals(&c->args[0], "A"));
	CHECK(!imap_arg_atom_equals(&c->args[0], "ab"));
	imap_command_free(&c);

	c = imap_test_parse("t X ~{1}\r\nz\r\n");
	CHECK(c && c->args[0].literal8);
	CHECK(c && !imap_arg_get_astring(&c->args[0], &s, &len));
	imap_command_free(&c);
}

TEST(imap_parse_big_literal_among_small_arguments)
{
	/* a literal larger than the arena's chunks gets its own block; the small arguments
	 * around it keep working */
	struct buf in = BUF_INIT;
	const char *head = "a APPEND INBOX (\\Seen) {3000+}\r\n";
	buf_append_str(&in, head);
	for (int i = 0; i < 3000; i++)
		buf_append_char(&in, (char)('a' + i % 26));
	buf_append_str(&in, " tail (x y)\r\n");
	struct imap_command *c = imap_test_parse(in.data);
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ_INT(c->count, 5);
		CHECK_EQ_INT(c->args[2].len, 3000);
		CHECK(memcmp(c->args[2].str, in.data + strlen(head), 3000) == 0);
		CHECK_EQ_STR(c->args[3].str, "tail");
		CHECK_EQ_STR(c->args[4].list[1].str, "y");
		CHECK_EQ_STR(c->args[1].list[0].str, "\\Seen");
	}
	imap_command_free(&c);
	buf_free(&in);
	struct imap_parser *p = NULL;
	imap_parser_free(&p); /* freeing nothing is fine */
}

TEST(imap_parse_numbers_and_atoms)
{
	uint32_t n;
	uint64_t n64;
	CHECK(imap_parse_number("0", 1, &n) && n == 0);
	CHECK(imap_parse_number("4294967295", 10, &n) && n == 4294967295u);
	CHECK(!imap_parse_number("4294967296", 10, &n));
	CHECK(!imap_parse_number("", 0, &n));
	CHECK(!imap_parse_number("1a", 2, &n));
	CHECK(!imap_parse_number("-1", 2, &n));
	CHECK(!imap_parse_nz_number("0", 1, &n));
	CHECK(imap_parse_nz_number("7", 1, &n) && n == 7);
	CHECK(imap_parse_number64("9223372036854775807", 19, &n64));
	CHECK(n64 == 9223372036854775807ull);
	CHECK(!imap_parse_number64("9223372036854775808", 19, &n64));
	CHECK(imap_is_atom("$Forwarded", 10));
	CHECK(!imap_is_atom("\\Seen", 5));
	CHECK(!imap_is_atom("a]", 2));
	CHECK(!imap_is_atom("a*", 2));
	CHECK(!imap_is_atom("", 0));
}
