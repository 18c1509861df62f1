/* libFuzzer target: FETCH attributes and sections. The input is the text after
 * "a FETCH 1 ", parsed by the streaming parser, then by imap_fetch_atts_parse(). Invariants:
 * every section is well formed, and its canonical text parses back to the same section. */
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

static void check_section(const struct imap_section *s, bool binary)
{
	INVARIANT(s->nparts <= IMAP_SECTION_MAX_PARTS);
	for (size_t i = 0; i < s->nparts; i++)
		INVARIANT(s->parts[i] != 0);
	bool fields = s->spec == IMAP_SECTION_HEADER_FIELDS ||
		      s->spec == IMAP_SECTION_HEADER_FIELDS_NOT;
	INVARIANT(fields ? s->nfields > 0 : s->nfields == 0);
	INVARIANT(!binary || s->spec == IMAP_SECTION_WHOLE);
	INVARIANT(s->spec != IMAP_SECTION_MIME || s->nparts > 0);
	for (size_t i = 0; i < s->nfields; i++)
		INVARIANT(s->fields[i][0] && !strchr(s->fields[i], ':'));

	struct buf text = BUF_INIT, again = BUF_INIT;
	imap_section_format(s, &text);
	struct imap_section s2;
	const char *err = NULL;
	INVARIANT(imap_section_parse(text.data, text.len, binary, &s2, &err));
	imap_section_format(&s2, &again);
	INVARIANT(text.len == again.len && memcmp(text.data, again.data, text.len) == 0);
	INVARIANT(s2.nparts == s->nparts && s2.spec == s->spec && s2.nfields == s->nfields);
	for (size_t i = 0; i < s->nfields; i++)
		INVARIANT(strcmp(s->fields[i], s2.fields[i]) == 0);
	imap_section_free(&s2);
	buf_free(&text);
	buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8000)
		return 0;
	struct buf line = BUF_INIT;
	buf_append_str(&line, "a FETCH 1 ");
	buf_append(&line, data, size);
	buf_append_str(&line, "\r\n");
	struct imap_command *cmd = parse_command(line.data, line.len);
	buf_free(&line);
	if (!cmd)
		return 0;
	if (cmd->count >= 2) {
		struct imap_fetch_atts f;
		const char *err = NULL;
		if (imap_fetch_atts_parse(&cmd->args[1], cmd->count > 2 ? &cmd->args[2] : NULL, &f,
					  &err)) {
			INVARIANT(f.items != 0 || f.nbodies != 0);
			INVARIANT(!f.vanished || f.changedsince);
			for (size_t i = 0; i < f.nbodies; i++) {
				const struct imap_fetch_body *b = &f.bodies[i];
				INVARIANT(!b->partial || b->length >= 1);
				INVARIANT(b->kind != IMAP_FETCH_BINARY_SIZE || !b->partial);
				check_section(&b->section, b->kind != IMAP_FETCH_BODY_SECTION);
			}
			imap_fetch_atts_free(&f);
		} else {
			INVARIANT(err && f.nbodies == 0 && f.bodies == NULL);
		}
	}
	/* every atom also goes through the section parser directly, brackets or not */
	for (size_t i = 0; i < cmd->count; i++) {
		const struct imap_arg *a = &cmd->args[i];
		if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_STRING)
			continue;
		struct imap_section s;
		const char *err = NULL;
		for (int binary = 0; binary < 2; binary++) {
			if (imap_section_parse(a->str, a->len, binary, &s, &err)) {
				check_section(&s, binary);
				imap_section_free(&s);
			}
		}
	}
	imap_command_free(&cmd);
	return 0;
}
