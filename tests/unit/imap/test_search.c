/* SEARCH programs and dates. */
#include <stdlib.h>

#include "imap/parse.h"
#include "test.h"
#include "util.h"

static const char *const type_names[] = {
	[IMAP_SEARCH_AND] = "AND", [IMAP_SEARCH_OR] = "OR", [IMAP_SEARCH_NOT] = "NOT",
	[IMAP_SEARCH_ALL] = "ALL", [IMAP_SEARCH_SEQSET] = "SEQ", [IMAP_SEARCH_UID] = "UID",
	[IMAP_SEARCH_ANSWERED] = "ANSWERED", [IMAP_SEARCH_DELETED] = "DELETED",
	[IMAP_SEARCH_DRAFT] = "DRAFT", [IMAP_SEARCH_FLAGGED] = "FLAGGED",
	[IMAP_SEARCH_SEEN] = "SEEN", [IMAP_SEARCH_UNANSWERED] = "UNANSWERED",
	[IMAP_SEARCH_UNDELETED] = "UNDELETED", [IMAP_SEARCH_UNDRAFT] = "UNDRAFT",
	[IMAP_SEARCH_UNFLAGGED] = "UNFLAGGED", [IMAP_SEARCH_UNSEEN] = "UNSEEN",
	[IMAP_SEARCH_NEW] = "NEW", [IMAP_SEARCH_OLD] = "OLD", [IMAP_SEARCH_RECENT] = "RECENT",
	[IMAP_SEARCH_KEYWORD] = "KEYWORD", [IMAP_SEARCH_UNKEYWORD] = "UNKEYWORD",
	[IMAP_SEARCH_BCC] = "BCC", [IMAP_SEARCH_CC] = "CC", [IMAP_SEARCH_FROM] = "FROM",
	[IMAP_SEARCH_TO] = "TO", [IMAP_SEARCH_SUBJECT] = "SUBJECT", [IMAP_SEARCH_BODY] = "BODY",
	[IMAP_SEARCH_TEXT] = "TEXT", [IMAP_SEARCH_HEADER] = "HEADER",
	[IMAP_SEARCH_BEFORE] = "BEFORE", [IMAP_SEARCH_ON] = "ON", [IMAP_SEARCH_SINCE] = "SINCE",
	[IMAP_SEARCH_SENTBEFORE] = "SENTBEFORE", [IMAP_SEARCH_SENTON] = "SENTON",
	[IMAP_SEARCH_SENTSINCE] = "SENTSINCE", [IMAP_SEARCH_LARGER] = "LARGER",
	[IMAP_SEARCH_SMALLER] = "SMALLER", [IMAP_SEARCH_MODSEQ] = "MODSEQ",
};

/* A key as an S-expression: (OR (FROM "x") (NOT (SEEN))) */
static void dump_key(struct buf *out, const struct imap_search_key *k)
{
	buf_printf(out, "(%s", type_names[k->type]);
	switch (k->type) {
	case IMAP_SEARCH_HEADER:
		buf_printf(out, " %.*s", (int)k->field_len, k->field);
		/* fall through */
	case IMAP_SEARCH_BCC: case IMAP_SEARCH_CC: case IMAP_SEARCH_FROM: case IMAP_SEARCH_TO:
	case IMAP_SEARCH_SUBJECT: case IMAP_SEARCH_BODY: case IMAP_SEARCH_TEXT:
	case IMAP_SEARCH_KEYWORD: case IMAP_SEARCH_UNKEYWORD:
		buf_printf(out, " \"%.*s\"", (int)k->len, k->str);
		break;
	case IMAP_SEARCH_BEFORE: case IMAP_SEARCH_ON: case IMAP_SEARCH_SINCE:
	case IMAP_SEARCH_SENTBEFORE: case IMAP_SEARCH_SENTON: case IMAP_SEARCH_SENTSINCE:
		buf_printf(out, " %04d-%02d-%02d", k->date.year, k->date.month, k->date.day);
		break;
	case IMAP_SEARCH_LARGER: case IMAP_SEARCH_SMALLER:
		buf_printf(out, " %llu", (unsigned long long)k->number);
		break;
	case IMAP_SEARCH_MODSEQ:
		if (k->modseq_entry)
			buf_printf(out, " %s/%d", k->modseq_entry, (int)k->modseq_type);
		buf_printf(out, " %llu", (unsigned long long)k->number);
		break;
	case IMAP_SEARCH_SEQSET: case IMAP_SEARCH_UID:
		if (k->seqset.last_result)
			buf_append_str(out, " $");
		for (size_t i = 0; i < k->seqset.count; i++)
			buf_printf(out, " %u:%u", k->seqset.ranges[i].low,
				   k->seqset.ranges[i].high);
		break;
	default:
		break;
	}
	for (size_t i = 0; i < k->nchildren; i++) {
		buf_append_char(out, ' ');
		dump_key(out, &k->children[i]);
	}
	buf_append_char(out, ')');
}

/* Parses "a SEARCH <rest>" and dumps the program, or "error: ..." */
static const char *search(const char *rest)
{
	static struct buf out;
	buf_reset(&out);
	struct buf line = BUF_INIT;
	buf_printf(&line, "a SEARCH %s\r\n", rest);
	struct imap_command *c = imap_test_parse(line.data);
	buf_free(&line);
	if (!c) {
		return "parse failed";
	}
	struct imap_search_limits lim = { .max_depth = 8, .max_ranges = 4 };
	struct imap_search s;
	const char *err = NULL;
	if (!imap_search_parse(c->args, c->count, &lim, &s, &err)) {
		CHECK(s.root.children == NULL && s.charset == NULL);
		buf_printf(&out, "error: %s", err);
		imap_command_free(&c);
		return out.data;
	}
	if (s.has_return)
		buf_printf(&out, "return=%u ", s.returns);
	if (s.charset)
		buf_printf(&out, "charset=%s ", s.charset);
	dump_key(&out, &s.root);
	imap_search_free(&s);
	imap_command_free(&c);
	return out.data;
}

TEST(imap_search_every_key)
{
	CHECK_EQ_STR(search("ALL"), "(AND (ALL))");
	CHECK_EQ_STR(search("answered deleted DRAFT FLAGGED SEEN"),
		     "(AND (ANSWERED) (DELETED) (DRAFT) (FLAGGED) (SEEN))");
	CHECK_EQ_STR(search("UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN NEW OLD RECENT"),
		     "(AND (UNANSWERED) (UNDELETED) (UNDRAFT) (UNFLAGGED) (UNSEEN) (NEW) (OLD) "
		     "(RECENT))");
	CHECK_EQ_STR(search("BCC a CC \"b c\" FROM {1}\r\nd TO e SUBJECT f BODY g TEXT \"\""),
		     "(AND (BCC \"a\") (CC \"b c\") (FROM \"d\") (TO \"e\") (SUBJECT \"f\") (BODY "
		     "\"g\") (TEXT \"\"))");
	CHECK_EQ_STR(search("HEADER Message-ID \"<x@y>\" HEADER X-Empty \"\""),
		     "(AND (HEADER Message-ID \"<x@y>\") (HEADER X-Empty \"\"))");
	CHECK_EQ_STR(search("KEYWORD $Forwarded UNKEYWORD Junk"),
		     "(AND (KEYWORD \"$Forwarded\") (UNKEYWORD \"Junk\"))");
	CHECK_EQ_STR(search("BEFORE 1-Feb-1994 ON \"29-Feb-2024\" SINCE 31-dec-1999"),
		     "(AND (BEFORE 1994-02-01) (ON 2024-02-29) (SINCE 1999-12-31))");
	CHECK_EQ_STR(search("SENTBEFORE 1-Jan-2000 SENTON 15-Jun-2010 SENTSINCE 02-Mar-2003"),
		     "(AND (SENTBEFORE 2000-01-01) (SENTON 2010-06-15) (SENTSINCE 2003-03-02))");
	CHECK_EQ_STR(search("LARGER 1000 SMALLER 9223372036854775807"),
		     "(AND (LARGER 1000) (SMALLER 9223372036854775807))");
	CHECK_EQ_STR(search("UID 1:*,5 1:3 * $ UID $"),
		     "(AND (UID 1:4294967295 5:5) (SEQ 1:3) (SEQ 4294967295:4294967295) (SEQ $) "
		     "(UID $))");
	CHECK_EQ_STR(search("NOT SEEN OR FROM a (TO b CC c)"),
		     "(AND (NOT (SEEN)) (OR (FROM \"a\") (AND (TO \"b\") (CC \"c\"))))");
	CHECK_EQ_STR(search("MODSEQ 620162338"), "(AND (MODSEQ 620162338))");
	CHECK_EQ_STR(search("MODSEQ \"/flags/\\\\draft\" all 620162338"),
		     "(AND (MODSEQ /flags/\\draft/0 620162338))");
	CHECK_EQ_STR(search("MODSEQ \"/flags/$Junk\" priv 0"), "(AND (MODSEQ /flags/$Junk/1 0))");
	CHECK_EQ_STR(search("MODSEQ \"/FLAGS/x\" SHARED 7"), "(AND (MODSEQ /FLAGS/x/2 7))");
}

TEST(imap_search_return_and_charset)
{
	CHECK_EQ_STR(search("RETURN (MIN MAX) CHARSET UTF-8 OR SUBJECT \"x\" FROM y UNDELETED "
	                    "SINCE 1-Feb-2024"),
		     "return=3 charset=UTF-8 (AND (OR (SUBJECT \"x\") (FROM \"y\")) (UNDELETED) "
		     "(SINCE 2024-02-01))");
	CHECK_EQ_STR(search("RETURN () ALL"), "return=4 (AND (ALL))");
	CHECK_EQ_STR(search("RETURN (COUNT SAVE all) ALL"), "return=28 (AND (ALL))");
	CHECK_EQ_STR(search("CHARSET \"ISO-8859-1\" TEXT {3}\r\n\xe4\xf6\xfc"),
		     "charset=ISO-8859-1 (AND (TEXT \"\xe4\xf6\xfc\"))");
}

TEST(imap_search_rejects_with_sentences)
{
	CHECK_EQ_STR(search(""), "error: Missing search key");
	CHECK_EQ_STR(search("CHARSET UTF-8"), "error: Missing search key");
	CHECK_EQ_STR(search("CHARSET"), "error: CHARSET needs a charset name");
	CHECK_EQ_STR(search("CHARSET \"\" ALL"), "error: CHARSET needs a charset name");
	CHECK_EQ_STR(search("RETURN"),
		     "error: RETURN needs a list of options, e.g. RETURN (MIN MAX)");
	CHECK_EQ_STR(search("RETURN MIN ALL"),
		     "error: RETURN needs a list of options, e.g. RETURN (MIN MAX)");
	CHECK_EQ_STR(search("RETURN (PARTIAL) ALL"),
		     "error: Unknown RETURN option (expected MIN, MAX, ALL, COUNT or SAVE)");
	CHECK_EQ_STR(search("CHARSET UTF-8 RETURN (MIN) ALL"), "error: Unknown search key");
	CHECK_EQ_STR(search("FOO"), "error: Unknown search key");
	CHECK_EQ_STR(search("\"ALL\""), "error: Expected a search key");
	CHECK_EQ_STR(search("NIL"), "error: Expected a search key");
	CHECK_EQ_STR(search("()"), "error: Empty parentheses in a search program");
	CHECK_EQ_STR(search("FROM"), "error: Search key needs a string argument");
	CHECK_EQ_STR(search("FROM (a)"), "error: Search key needs a string argument");
	CHECK_EQ_STR(search("HEADER \"\" x"), "error: HEADER needs a field name");
	CHECK_EQ_STR(search("HEADER x"), "error: Search key needs a string argument");
	CHECK_EQ_STR(search("SINCE 1-Foo-2024"),
		     "error: Invalid date in a search key (expected e.g. 1-Feb-1994)");
	CHECK_EQ_STR(search("ON 30-Feb-2024"),
		     "error: Invalid date in a search key (expected e.g. 1-Feb-1994)");
	CHECK_EQ_STR(search("LARGER x"), "error: Search key needs a number argument");
	CHECK_EQ_STR(search("LARGER \"5\""), "error: Search key needs a number argument");
	CHECK_EQ_STR(search("SMALLER 9223372036854775808"),
		     "error: Search key needs a number argument");
	CHECK_EQ_STR(search("KEYWORD \\Seen"),
		     "error: KEYWORD needs a keyword (an atom such as $Forwarded)");
	CHECK_EQ_STR(search("KEYWORD \"x\""),
		     "error: KEYWORD needs a keyword (an atom such as $Forwarded)");
	CHECK_EQ_STR(search("UID"), "error: UID needs a sequence set");
	CHECK_EQ_STR(search("UID (1)"), "error: UID needs a sequence set");
	CHECK_EQ_STR(search("UID 0"), "error: Sequence numbers and UIDs start at 1, not 0");
	CHECK_EQ_STR(search("1,2,3,4,5"), "error: Too many ranges in a sequence set");
	CHECK_EQ_STR(search("NOT"), "error: NOT needs a search key");
	CHECK_EQ_STR(search("OR SEEN"), "error: OR needs two search keys");
	CHECK_EQ_STR(search("MODSEQ"), "error: Search key needs a number argument");
	CHECK_EQ_STR(search("MODSEQ \"/flags/x\""),
		     "error: MODSEQ entry needs a type (priv, shared or all)");
	CHECK_EQ_STR(search("MODSEQ \"/flags/x\" mine 1"),
		     "error: MODSEQ entry type must be priv, shared or all");
	CHECK_EQ_STR(search("MODSEQ \"/other\" all 1"),
		     "error: MODSEQ entry name must be \"/flags/<flag>\"");
	/* depth: NOT, OR and groups each count */
	CHECK_EQ_STR(search("NOT NOT NOT NOT NOT NOT NOT SEEN"),
		     "(AND (NOT (NOT (NOT (NOT (NOT (NOT (NOT (SEEN)))))))))");
	CHECK_EQ_STR(search("NOT NOT NOT NOT NOT NOT NOT NOT SEEN"),
		     "error: Search keys nested too deep");
}

TEST(imap_search_depth_limit_with_groups)
{
	struct imap_command *c = imap_test_parse("a SEARCH ((((((((SEEN))))))))\r\n");
	CHECK(c != NULL);
	if (!c)
		return;
	struct imap_search_limits lim = { .max_depth = 8, .max_ranges = 4 };
	struct imap_search s;
	const char *err;
	CHECK(!imap_search_parse(c->args, c->count, &lim, &s, &err));
	CHECK_EQ_STR(err, "Search keys nested too deep");
	lim.max_depth = 9;
	CHECK(imap_search_parse(c->args, c->count, &lim, &s, &err));
	imap_search_free(&s);
	imap_command_free(&c);
}

TEST(imap_dates)
{
	struct imap_date d;
	CHECK(imap_date_parse("1-Feb-1994", 10, &d));
	CHECK(d.year == 1994 && d.month == 2 && d.day == 1);
	CHECK(imap_date_parse("01-feb-1994", 11, &d) && d.day == 1);
	CHECK(imap_date_parse("29-Feb-2000", 11, &d));
	CHECK(!imap_date_parse("29-Feb-1900", 11, &d));
	CHECK(!imap_date_parse("31-Apr-2024", 11, &d));
	CHECK(!imap_date_parse("0-Jan-2024", 10, &d));
	CHECK(!imap_date_parse("1-Jan-24", 8, &d));
	CHECK(!imap_date_parse("1 Jan 2024", 10, &d));
	CHECK(!imap_date_parse("1-Jan-202x", 10, &d));
	CHECK(!imap_date_parse("001-Jan-2024", 12, &d));
	CHECK_EQ_INT(imap_date_to_unix(&(struct imap_date){ 1970, 1, 1 }), 0);
	CHECK_EQ_INT(imap_date_to_unix(&(struct imap_date){ 2024, 2, 1 }), 1706745600);
	CHECK_EQ_INT(imap_date_to_unix(&(struct imap_date){ 1969, 12, 31 }), -86400);

	struct imap_datetime dt;
	CHECK(imap_datetime_parse("01-Feb-2024 10:00:00 +0100", 26, &dt));
	CHECK(dt.date.day == 1 && dt.hour == 10 && dt.zone_minutes == 60);
	CHECK_EQ_INT(imap_datetime_to_unix(&dt), 1706745600 + 9 * 3600);
	CHECK(imap_datetime_parse(" 1-Feb-2024 23:59:60 -0730", 26, &dt));
	CHECK(dt.sec == 60 && dt.zone_minutes == -450);
	CHECK(imap_datetime_parse("1-Feb-2024 00:00:00 +0000", 25, &dt));
	CHECK_EQ_INT(imap_datetime_to_unix(&dt), 1706745600);
	CHECK(!imap_datetime_parse("01-Feb-2024 24:00:00 +0000", 26, &dt));
	CHECK(!imap_datetime_parse("01-Feb-2024 10:60:00 +0000", 26, &dt));
	CHECK(!imap_datetime_parse("01-Feb-2024 10:00:00 +0060", 26, &dt));
	CHECK(!imap_datetime_parse("01-Feb-2024 10:00:00 0100", 25, &dt));
	CHECK(!imap_datetime_parse("01-Feb-2024 10:00 +0100", 23, &dt));
	CHECK(!imap_datetime_parse("01-Feb-2024T10:00:00 +0100", 26, &dt));
	CHECK(!imap_datetime_parse("30-Feb-2024 10:00:00 +0100", 26, &dt));
	CHECK(!imap_datetime_parse("  -Feb-2024 10:00:00 +0100", 26, &dt));
	CHECK(!imap_datetime_parse(" x-Feb-2024 10:00:00 +0100", 26, &dt));
	CHECK(!imap_datetime_parse("x-Feb-2024 10:00:00 +0100", 25, &dt));
	CHECK(!imap_datetime_parse("01-Feb-2024 10:00:0x +0100", 26, &dt));
}
