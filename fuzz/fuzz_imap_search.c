/* libFuzzer target: SEARCH programs and dates. The input is the text after "a SEARCH " (up to
 * a CRLF it may contain itself; literals are accepted), parsed by the streaming parser and
 * then by imap_search_parse(). Invariants: the key tree has the shape its types promise and
 * respects the depth limit; dates that parse are real calendar dates. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/parse.h"
#include "lib/buf.h"

#define INVARIANT(c)                                                            \
	do {                                                                        \
		if (!(c)) {                                                             \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #c, __LINE__); \
			abort();                                                            \
		}                                                                       \
	} while (0)

static struct imap_command *parse_command(const char *s, size_t len)
{
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	lim.max_line = 8192;
	lim.max_literal = 4096;
	struct imap_parser *p = imap_parser_new(&lim);
	struct imap_command *cmd = NULL;
	for (;;) {
		size_t used;
		enum imap_parse_status st = imap_parser_feed(p, s, len, &used);
		s += used;
		len -= used;
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

static void check_key(const struct imap_search_key *k, size_t depth, size_t max_depth)
{
	INVARIANT(depth < max_depth);
	switch (k->type) {
	case IMAP_SEARCH_AND:
		INVARIANT(k->nchildren >= 1);
		break;
	case IMAP_SEARCH_OR:
		INVARIANT(k->nchildren == 2);
		break;
	case IMAP_SEARCH_NOT:
		INVARIANT(k->nchildren == 1);
		break;
	case IMAP_SEARCH_SEQSET:
	case IMAP_SEARCH_UID:
		INVARIANT(k->seqset.last_result || k->seqset.count > 0);
		break;
	case IMAP_SEARCH_BEFORE: case IMAP_SEARCH_ON: case IMAP_SEARCH_SINCE:
	case IMAP_SEARCH_SENTBEFORE: case IMAP_SEARCH_SENTON: case IMAP_SEARCH_SENTSINCE:
		INVARIANT(k->date.month >= 1 && k->date.month <= 12 && k->date.day >= 1 &&
			  k->date.day <= 31);
		INVARIANT(imap_date_to_unix(&k->date) % 86400 == 0);
		break;
	case IMAP_SEARCH_HEADER:
		INVARIANT(k->field && k->field_len > 0 && k->str);
		break;
	case IMAP_SEARCH_KEYWORD: case IMAP_SEARCH_UNKEYWORD:
		INVARIANT(imap_is_atom(k->str, k->len));
		break;
	default:
		break;
	}
	if (k->type != IMAP_SEARCH_AND && k->type != IMAP_SEARCH_OR && k->type != IMAP_SEARCH_NOT)
		INVARIANT(k->nchildren == 0);
	/* as in search.c: the program's keys are at depth 0; NOT, OR and groups add one */
	for (size_t i = 0; i < k->nchildren; i++)
		check_key(&k->children[i], depth + 1, max_depth);
}

static void check_dates(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);
	memcpy(s, data, size);
	struct imap_date d;
	if (imap_date_parse(s, size, &d)) {
		INVARIANT(d.month >= 1 && d.month <= 12 && d.day >= 1 && d.day <= 31);
		INVARIANT(imap_date_to_unix(&d) % 86400 == 0);
	}
	struct imap_datetime dt;
	if (imap_datetime_parse(s, size, &dt)) {
		INVARIANT(dt.hour < 24 && dt.min < 60 && dt.sec <= 60);
		INVARIANT(dt.zone_minutes > -24 * 60 && dt.zone_minutes < 24 * 60);
		(void)imap_datetime_to_unix(&dt);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 8000)
		return 0;
	check_dates(data, size);
	struct buf line = BUF_INIT;
	buf_append_str(&line, "a SEARCH ");
	buf_append(&line, data + 1, size - 1);
	buf_append_str(&line, "\r\n");
	struct imap_command *cmd = parse_command(line.data, line.len);
	buf_free(&line);
	if (!cmd)
		return 0;
	struct imap_search_limits lim = {
		.max_depth = 1 + data[0] % 32,
		.max_ranges = 1 + data[0],
	};
	struct imap_search s;
	const char *err = NULL;
	if (imap_search_parse(cmd->args, cmd->count, &lim, &s, &err)) {
		INVARIANT(s.root.type == IMAP_SEARCH_AND && s.root.nchildren >= 1);
		for (size_t i = 0; i < s.root.nchildren; i++)
			check_key(&s.root.children[i], 0, lim.max_depth);
		imap_search_free(&s);
	} else {
		INVARIANT(err && s.root.children == NULL);
	}
	imap_command_free(&cmd);
	return 0;
}
