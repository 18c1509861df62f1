/* FETCH attributes, modifiers and sections. */
#include <stdlib.h>

#include "imap/parse.h"
#include "test.h"
#include "util.h"

static const char *const item_names[] = {
	"FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE", "RFC822", "RFC822.HEADER", "RFC822.TEXT",
	"ENVELOPE", "BODY", "BODYSTRUCTURE", "MODSEQ",
};

/* Parses "a FETCH 1 <rest>" and describes the result: item names, then each body item in
 * canonical form, then modifiers; or "error: ..." */
static const char *fetch(const char *rest)
{
	static struct buf out;
	buf_reset(&out);
	struct buf line = BUF_INIT;
	buf_printf(&line, "a FETCH 1 %s\r\n", rest);
	struct imap_command *c = imap_test_parse(line.data);
	buf_free(&line);
	if (!c || c->count < 2) {
		imap_command_free(&c);
		return "parse failed";
	}
	struct imap_fetch_atts f;
	const char *err = NULL;
	if (!imap_fetch_atts_parse(&c->args[1], c->count > 2 ? &c->args[2] : NULL, &f, &err)) {
		CHECK(f.bodies == NULL && f.items == 0);
		buf_printf(&out, "error: %s", err);
		imap_command_free(&c);
		return out.data;
	}
	const char *sep = "";
	for (size_t i = 0; i < sizeof item_names / sizeof item_names[0]; i++) {
		if (f.items & (1u << i)) {
			buf_printf(&out, "%s%s", sep, item_names[i]);
			sep = " ";
		}
	}
	for (size_t i = 0; i < f.nbodies; i++) {
		const struct imap_fetch_body *b = &f.bodies[i];
		const char *name = b->kind == IMAP_FETCH_BODY_SECTION ? "BODY"
				   : b->kind == IMAP_FETCH_BINARY    ? "BINARY"
								     : "BINARY.SIZE";
		buf_printf(&out, "%s%s%s[", sep, name, b->peek && b->kind != IMAP_FETCH_BINARY_SIZE
							       ? ".PEEK" : "");
		imap_section_format(&b->section, &out);
		buf_append_char(&out, ']');
		if (b->partial)
			buf_printf(&out, "<%llu.%llu>", (unsigned long long)b->offset,
				   (unsigned long long)b->length);
		sep = " ";
	}
	if (f.changedsince)
		buf_printf(&out, " changedsince=%llu", (unsigned long long)f.changedsince_modseq);
	if (f.vanished)
		buf_append_str(&out, " vanished");
	imap_fetch_atts_free(&f);
	imap_command_free(&c);
	return out.len ? out.data : "";
}

TEST(imap_fetch_simple_items_and_macros)
{
	CHECK_EQ_STR(fetch("FLAGS"), "FLAGS");
	CHECK_EQ_STR(fetch("(UID RFC822.SIZE FLAGS INTERNALDATE ENVELOPE)"),
		     "FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE");
	CHECK_EQ_STR(fetch("(rfc822 rfc822.header rfc822.text body bodystructure modseq)"),
		     "RFC822 RFC822.HEADER RFC822.TEXT BODY BODYSTRUCTURE MODSEQ");
	CHECK_EQ_STR(fetch("ALL"), "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE");
	CHECK_EQ_STR(fetch("fast"), "FLAGS INTERNALDATE RFC822.SIZE");
	CHECK_EQ_STR(fetch("FULL"), "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY");
}

TEST(imap_fetch_body_sections)
{
	CHECK_EQ_STR(fetch("BODY[]"), "BODY[]");
	CHECK_EQ_STR(fetch("BODY.PEEK[]<0.2048>"), "BODY.PEEK[]<0.2048>");
	CHECK_EQ_STR(fetch("BODY[HEADER.FIELDS (A B)]<0.100>"), "BODY[HEADER.FIELDS (A B)]<0.100>");
	CHECK_EQ_STR(fetch("BODY.PEEK[1.2.MIME]"), "BODY.PEEK[1.2.MIME]");
	CHECK_EQ_STR(fetch("BODY[1.2.3]"), "BODY[1.2.3]");
	CHECK_EQ_STR(fetch("body.peek[header]"), "BODY.PEEK[HEADER]");
	CHECK_EQ_STR(fetch("BODY[text]"), "BODY[TEXT]");
	CHECK_EQ_STR(fetch("BODY[2.HEADER]"), "BODY[2.HEADER]");
	CHECK_EQ_STR(fetch("BODY[3.TEXT]"), "BODY[3.TEXT]");
	CHECK_EQ_STR(fetch("BODY[HEADER.FIELDS.NOT ( Received  \"X-Odd\\\"Name\" )]"),
		     "BODY[HEADER.FIELDS.NOT (Received \"X-Odd\\\"Name\")]");
	CHECK_EQ_STR(fetch("BODY.PEEK[4.1.HEADER.FIELDS (\"Subject\")]"),
		     "BODY.PEEK[4.1.HEADER.FIELDS (Subject)]");
	CHECK_EQ_STR(fetch("BINARY[1]<0.10>"), "BINARY[1]<0.10>");
	CHECK_EQ_STR(fetch("BINARY.PEEK[]"), "BINARY.PEEK[]");
	CHECK_EQ_STR(fetch("BINARY.SIZE[1.2]"), "BINARY.SIZE[1.2]");
	CHECK_EQ_STR(fetch("(UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc "
	                   "Subject Date Message-ID Priority X-Priority References Newsgroups "
	                   "In-Reply-To Content-Type Reply-To)])"),
		     "FLAGS UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date "
		     "Message-ID Priority X-Priority References Newsgroups In-Reply-To "
		     "Content-Type Reply-To)]");
	/* many body items (the array grows) */
	CHECK_EQ_STR(fetch("(BODY[1] BODY[2] BODY[3] BODY[4] BODY[5] BINARY[6])"),
		     "BODY[1] BODY[2] BODY[3] BODY[4] BODY[5] BINARY[6]");
}

TEST(imap_fetch_modifiers)
{
	CHECK_EQ_STR(fetch("(FLAGS) (CHANGEDSINCE 12345)"), "FLAGS MODSEQ changedsince=12345");
	CHECK_EQ_STR(fetch("(FLAGS) (CHANGEDSINCE 12345 VANISHED)"),
		     "FLAGS MODSEQ changedsince=12345 vanished");
	CHECK_EQ_STR(fetch("FLAGS (VANISHED CHANGEDSINCE 1)"),
		     "FLAGS MODSEQ changedsince=1 vanished");
	CHECK_EQ_STR(fetch("FLAGS (VANISHED)"), "error: VANISHED needs CHANGEDSINCE");
	CHECK_EQ_STR(fetch("FLAGS (CHANGEDSINCE)"),
		     "error: CHANGEDSINCE needs a mod-sequence number");
	CHECK_EQ_STR(fetch("FLAGS (CHANGEDSINCE x)"),
		     "error: CHANGEDSINCE needs a mod-sequence number");
	CHECK_EQ_STR(fetch("FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)"),
		     "error: CHANGEDSINCE given twice");
	CHECK_EQ_STR(fetch("FLAGS (CHANGEDSINCE 1 VANISHED VANISHED)"),
		     "error: VANISHED given twice");
	CHECK_EQ_STR(fetch("FLAGS (FOO)"),
		     "error: Unknown FETCH modifier (expected CHANGEDSINCE or VANISHED)");
	CHECK_EQ_STR(fetch("FLAGS ()"), "error: FETCH modifiers must be a non-empty list");
	CHECK_EQ_STR(fetch("FLAGS CHANGEDSINCE"),
		     "error: FETCH modifiers must be a non-empty list");
}

TEST(imap_fetch_rejects_with_sentences)
{
	CHECK_EQ_STR(fetch("FOO"), "error: Unknown FETCH attribute");
	CHECK_EQ_STR(fetch("()"), "error: Empty list of FETCH attributes");
	CHECK_EQ_STR(fetch("(FLAGS ALL)"),
		     "error: FETCH macros (ALL, FAST, FULL) cannot be inside a list");
	CHECK_EQ_STR(fetch("\"FLAGS\""),
		     "error: FETCH attributes are atoms (e.g. FLAGS or BODY.PEEK[HEADER])");
	CHECK_EQ_STR(fetch("(FLAGS (UID))"),
		     "error: FETCH attributes are atoms (e.g. FLAGS or BODY.PEEK[HEADER])");
	CHECK_EQ_STR(fetch("BODY.PEEK"), "error: Unknown FETCH attribute");
	CHECK_EQ_STR(fetch("FOO[]"), "error: Unknown FETCH attribute");
	CHECK_EQ_STR(fetch("BODY[0]"), "error: Invalid part number in a section");
	CHECK_EQ_STR(fetch("BODY[1.]"), "error: Invalid section: nothing after '.'");
	CHECK_EQ_STR(fetch("BODY[1x]"), "error: Invalid section: expected '.' after a part number");
	CHECK_EQ_STR(fetch("BODY[MIME]"), "error: MIME needs a part number (e.g. 1.MIME)");
	CHECK_EQ_STR(fetch("BODY[FOO]"),
		     "error: Unknown section (expected HEADER, HEADER.FIELDS, TEXT or MIME)");
	CHECK_EQ_STR(fetch("BODY[HEADER.FIELDS]"),
		     "error: HEADER.FIELDS needs a list of field names");
	CHECK_EQ_STR(fetch("BODY[HEADER.FIELDS ()]"), "error: Empty list of header field names");
	CHECK_EQ_STR(fetch("BODY[HEADER.FIELDS (A:B)]"), "error: Invalid header field name");
	CHECK_EQ_STR(fetch("BODY[HEADER.FIELDS (\"\")]"), "error: Invalid header field name");
	CHECK_EQ_STR(fetch("BODY[HEADER.FIELDS (A\"B\")]"),
		     "error: Missing space between header field names");
	CHECK_EQ_STR(fetch("BODY[HEADER.FIELDS (A B]"),
		     "error: Missing ')' after the header field names");
	CHECK_EQ_STR(fetch("BODY[HEADER.FIELDS (A) x]"),
		     "error: Unexpected text after the section");
	CHECK_EQ_STR(fetch("BODY[TEXT x]"), "error: Unexpected text after the section");
	CHECK_EQ_STR(fetch("BINARY[HEADER]"), "error: BINARY sections take part numbers only");
	CHECK_EQ_STR(fetch("BINARY.SIZE[1]<0.5>"), "error: BINARY.SIZE takes no partial range");
	CHECK_EQ_STR(fetch("BODY[]<0>"), "error: Invalid partial range (expected <offset.length>)");
	CHECK_EQ_STR(fetch("BODY[]<0.0>"),
		     "error: Invalid partial range (expected <offset.length>, length at least 1)");
	CHECK_EQ_STR(fetch("BODY[]<a.1>"),
		     "error: Invalid partial range (expected <offset.length>, length at least 1)");
	CHECK_EQ_STR(fetch("BODY[]x"), "error: Invalid partial range (expected <offset.length>)");
	char deep[200] = "BODY[";
	for (int i = 0; i < 33; i++)
		strcat(deep, "1.");
	strcat(deep, "1]");
	CHECK_EQ_STR(fetch(deep), "error: Section part numbers nested too deep");
}

TEST(imap_section_parse_direct)
{
	struct imap_section s;
	const char *err;
	/* the section helper does not need the brackets to come from the parser */
	CHECK(imap_section_parse("1.2.HEADER.FIELDS (a \"b c\")", 27, false, &s, &err) == false);
	CHECK_EQ_STR(err, "Invalid header field name");
	CHECK(imap_section_parse("1.2.HEADER.FIELDS (a \"b\\\\c\")", 28, false, &s, &err));
	CHECK_EQ_INT(s.nparts, 2);
	CHECK_EQ_INT(s.spec, IMAP_SECTION_HEADER_FIELDS);
	CHECK_EQ_INT(s.nfields, 2);
	CHECK_EQ_STR(s.fields[1], "b\\c");
	struct buf out = BUF_INIT;
	imap_section_format(&s, &out);
	CHECK_EQ_STR(out.data, "1.2.HEADER.FIELDS (a \"b\\\\c\")");
	buf_free(&out);
	imap_section_free(&s);
	CHECK(s.fields == NULL && s.nfields == 0);
	CHECK(!imap_section_parse("HEADER.FIELDS (\"abc)", 20, false, &s, &err));
	CHECK_EQ_STR(err, "Missing '\"' in a header field name");
	/* an atom that did not come through the streaming parser may lack its "]" */
	struct imap_arg atom = { .type = IMAP_ARG_ATOM, .str = "BODY[1", .len = 6 };
	struct imap_fetch_atts f;
	CHECK(!imap_fetch_atts_parse(&atom, NULL, &f, &err));
	CHECK_EQ_STR(err, "Missing ']' after a section");
	atom.str = "BODY[\"]\"";
	atom.len = 8;
	CHECK(!imap_fetch_atts_parse(&atom, NULL, &f, &err));
	CHECK_EQ_STR(err, "Missing ']' after a section");
	CHECK(imap_section_parse("", 0, true, &s, &err));
	CHECK_EQ_INT(s.nparts, 0);
	CHECK_EQ_INT(s.spec, IMAP_SECTION_WHOLE);
	imap_section_free(&s);
}
