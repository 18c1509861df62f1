/* Helpers shared by the IMAP parser tests: a one-shot parse of a command line, and a text form
 * of an argument tree that tests compare with strings. */
#ifndef YUBIN_TEST_IMAP_UTIL_H
#define YUBIN_TEST_IMAP_UTIL_H
#include <string.h>

#include "imap/parse.h"
#include "lib/buf.h"

/* ATOM as is, NIL as NIL, STRING as "text", LITERAL as {n}text or ~{n}text (NUL as \0),
 * LIST as (a b). */
static inline void imap_test_dump_arg(struct buf *out, const struct imap_arg *a)
{
	switch (a->type) {
	case IMAP_ARG_NIL:
		buf_append_str(out, "NIL");
		break;
	case IMAP_ARG_ATOM:
		buf_append(out, a->str, a->len);
		break;
	case IMAP_ARG_STRING:
		buf_printf(out, "\"%s\"", a->str);
		break;
	case IMAP_ARG_LITERAL:
		buf_printf(out, "%s{%zu}", a->literal8 ? "~" : "", a->len);
		for (size_t i = 0; i < a->len; i++) {
			if (a->str[i] == '\0')
				buf_append_str(out, "\\0");
			else
				buf_append_char(out, a->str[i]);
		}
		break;
	case IMAP_ARG_LIST:
		buf_append_char(out, '(');
		for (size_t i = 0; i < a->count; i++) {
			if (i)
				buf_append_char(out, ' ');
			imap_test_dump_arg(out, &a->list[i]);
		}
		buf_append_char(out, ')');
		break;
	}
}

static inline void imap_test_dump_args(struct buf *out, const struct imap_arg *args, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_append_char(out, ' ');
		imap_test_dump_arg(out, &args[i]);
	}
}

/* Parses one complete command (literals accepted) with default limits; NULL on error or if
 * the input holds no complete command. The caller frees with imap_command_free(). */
static inline struct imap_command *imap_test_parse(const char *line)
{
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	struct imap_parser *p = imap_parser_new(&lim);
	const char *s = line;
	size_t left = strlen(line);
	struct imap_command *cmd = NULL;
	for (;;) {
		size_t used;
		enum imap_parse_status st = imap_parser_feed(p, s, left, &used);
		s += used;
		left -= used;
		if (st == IMAP_PARSE_LITERAL) {
			imap_parser_literal_accept(p);
			continue;
		}
		if (st == IMAP_PARSE_DONE)
			cmd = imap_parser_take_command(p);
		break;
	}
	imap_parser_free(&p);
	return cmd;
}

#endif
