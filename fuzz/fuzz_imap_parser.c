/* libFuzzer target: the streaming IMAP parser. The first 8 bytes choose the limits, which
 * literals the "session" refuses, and how the input is cut into pieces; the rest is the
 * client's byte stream. Invariants: the parser never reads past what it was given (each
 * piece is a separate exact-size allocation), never uses more than it was given, every tree
 * respects every limit, and cutting the input differently never changes what comes out. */
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

struct config {
	struct imap_parser_limits lim;
	uint32_t refuse_bits; /* literal k is refused when bit k % 16 is set */
	uint32_t seed;
};

static void config_read(const uint8_t *d, struct config *c)
{
	memset(c, 0, sizeof *c);
	c->lim.max_line = 8 + (size_t)d[0] * 8;
	c->lim.max_literal = (size_t)d[1] * 4;
	c->lim.max_literal_total = d[2] & 1 ? 0 : (size_t)d[2] * 4;
	switch (d[3] % 4) {
	case 0: c->lim.max_nonsync = 0; break;
	case 1: c->lim.max_nonsync = 20; break;
	case 2: c->lim.max_nonsync = 4096; break;
	default: c->lim.max_nonsync = d[3] / 4; break;
	}
	c->lim.max_depth = d[4] % 8;
	c->lim.max_command = (size_t)(d[4] >> 3) * 16; /* 0: no limit of its own */
	c->lim.max_args = 1 + (size_t)d[5];
	c->lim.literal8 = d[6] & 1;
	c->refuse_bits = (uint32_t)(d[6] >> 1) | ((uint32_t)d[7] << 7);
	c->seed = 0x9e3779b9u ^ ((uint32_t)d[7] << 16) ^ d[0];
}

static uint32_t rng_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

struct walk {
	const struct imap_parser_limits *lim;
	size_t nodes, literal_sum;
	size_t wire_min; /* the fewest non-literal bytes that could have carried this tree */
};

static size_t digits_of(size_t n)
{
	size_t d = 1;
	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

static void check_arg(struct walk *w, const struct imap_arg *a, size_t depth, struct buf *log)
{
	w->nodes++;
	INVARIANT(w->nodes <= w->lim->max_args);
	switch (a->type) {
	case IMAP_ARG_LIST:
		INVARIANT(depth < w->lim->max_depth);
		INVARIANT(a->count == 0 || a->list != NULL);
		buf_append_char(log, '(');
		w->wire_min += 2 + (a->count ? a->count - 1 : 0);
		for (size_t i = 0; i < a->count; i++) {
			if (i)
				buf_append_char(log, ' ');
			check_arg(w, &a->list[i], depth + 1, log);
		}
		buf_append_char(log, ')');
		return;
	case IMAP_ARG_LITERAL:
		INVARIANT(a->len <= w->lim->max_literal);
		INVARIANT(a->literal8 ? w->lim->literal8 : memchr(a->str, '\0', a->len) == NULL);
		w->literal_sum += a->len;
		w->wire_min += (a->literal8 ? 1 : 0) + 2 + digits_of(a->len) + 1; /* ~{n} LF */
		buf_printf(log, "%s{%zu}", a->literal8 ? "~" : "", a->len);
		break;
	case IMAP_ARG_STRING:
		buf_append_char(log, '"');
		w->wire_min += 2;
		for (size_t i = 0; i < a->len; i++)
			w->wire_min += a->str[i] == '"' || a->str[i] == '\\';
		/* fall through */
	default:
		w->wire_min += a->len;
		INVARIANT(strlen(a->str) == a->len);
		INVARIANT(a->len < w->lim->max_line);
		if (a->type == IMAP_ARG_NIL)
			INVARIANT(a->len == 3);
		break;
	}
	INVARIANT(a->str[a->len] == '\0');
	buf_append(log, a->str, a->len);
}

static void check_command(const struct config *c, const struct imap_command *cmd, struct buf *log)
{
	INVARIANT(cmd->tag && cmd->tag[0] && !strchr(cmd->tag, '+'));
	INVARIANT(cmd->name && cmd->name[0]);
	/* tag SP name, a space before each argument, LF */
	size_t head = strlen(cmd->tag) + 1 + strlen(cmd->name) + cmd->count + 1;
	struct walk w = { &c->lim, 0, 0, head };
	buf_printf(log, "DONE %s %s ", cmd->tag, cmd->name);
	for (size_t i = 0; i < cmd->count; i++)
		check_arg(&w, &cmd->args[i], 0, log);
	INVARIANT(w.wire_min <= c->lim.max_line);
	INVARIANT(w.literal_sum == cmd->literal_bytes);
	INVARIANT(!c->lim.max_command || w.wire_min + w.literal_sum <= c->lim.max_command);
	INVARIANT(w.literal_sum <= (c->lim.max_literal_total ? c->lim.max_literal_total
							     : c->lim.max_literal));
	buf_append_char(log, '\n');
}

/* Runs the stream through one parser; chunked: pieces of random size, else everything that
 * is left each time. Returns the event log in out. */
static void run(const struct config *c, const uint8_t *in, size_t len, bool chunked,
		struct buf *out)
{
	struct imap_parser *p = imap_parser_new(&c->lim);
	uint32_t rng = c->seed | 1;
	size_t pos = 0, arrived = 0, literals = 0, rounds = 0;
	for (;;) {
		INVARIANT(++rounds < 4 * len + 16); /* every round makes progress */
		if (pos == arrived) {
			if (arrived == len)
				break;
			size_t piece = len - arrived;
			if (chunked) {
				uint32_t r = rng_next(&rng);
				size_t want = r % 4 == 0 ? 1 : (r >> 8) % 64 + 1;
				if (want < piece)
					piece = want;
			}
			arrived += piece;
		}
		/* an exact-size copy, so ASan sees any read past the end */
		size_t avail = arrived - pos;
		uint8_t *piece = malloc(avail);
		memcpy(piece, in + pos, avail);
		size_t used = (size_t)-1;
		enum imap_parse_status st = imap_parser_feed(p, piece, avail, &used);
		free(piece);
		INVARIANT(used <= avail);
		if (st == IMAP_PARSE_NEED_MORE)
			INVARIANT(used == avail);
		pos += used;
		if (st == IMAP_PARSE_DONE) {
			check_command(c, imap_parser_command(p), out);
			if (rng_next(&rng) % 2) {
				struct imap_command *cmd = imap_parser_take_command(p);
				imap_command_free(&cmd);
			}
		} else if (st == IMAP_PARSE_LITERAL) {
			uint64_t n = imap_parser_literal_size(p);
			INVARIANT(n <= c->lim.max_literal);
			INVARIANT(imap_parser_tag(p) && imap_parser_name(p));
			buf_printf(out, "LITERAL %llu %d %s %s\n", (unsigned long long)n,
				   imap_parser_literal_is8(p), imap_parser_tag(p),
				   imap_parser_name(p));
			if ((c->refuse_bits >> (literals++ % 16)) & 1)
				imap_parser_literal_refuse(p);
			else
				imap_parser_literal_accept(p);
		} else if (st == IMAP_PARSE_ERROR) {
			const struct imap_parse_error *e = imap_parser_error(p);
			INVARIANT(e->text && strlen(e->text) > 10);
			buf_printf(out, "ERROR %d %s %s %d\n", (int)e->code, e->tag ? e->tag : "*",
				   e->text, e->fatal);
			if (e->fatal)
				break;
		}
	}
	imap_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	struct config c;
	config_read(data, &c);
	struct buf whole = BUF_INIT, pieces = BUF_INIT;
	run(&c, data + 8, size - 8, false, &whole);
	run(&c, data + 8, size - 8, true, &pieces);
	INVARIANT(whole.len == pieces.len &&
		  (whole.len == 0 || memcmp(whole.data, pieces.data, whole.len) == 0));
	buf_free(&whole);
	buf_free(&pieces);
	return 0;
}
