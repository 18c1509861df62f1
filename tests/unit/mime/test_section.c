/* FETCH BODY[section] on the message of RFC 9051 6.4.5 (the part numbering example). */
#include "mime/mime.h"
#include "mime_test.h"
#include "test.h"

static const char *example_message(void)
{
	static char *msg;
	if (!msg) {
		msg = strdup(crlf(
		    "From: top@example.com\nSubject: top\nContent-Type: MULTIPART/MIXED; "
		    "boundary=T\n\n"
		    "--T\nContent-Type: TEXT/PLAIN\n\nbody-1\n"
		    "--T\nContent-Type: APPLICATION/OCTET-STREAM\n\nbody-2\n"
		    "--T\nContent-Type: MESSAGE/RFC822\n\n"
		    "Subject: three\nContent-Type: MULTIPART/MIXED; boundary=U\n\n"
		    "--U\nContent-Type: TEXT/PLAIN\n\nbody-3.1\n"
		    "--U\nContent-Type: APPLICATION/OCTET-STREAM\n\nbody-3.2\n--U--\n"
		    "--T\nContent-Type: MULTIPART/MIXED; boundary=V\n\n"
		    "--V\nContent-Type: IMAGE/GIF\nX-Part: 4.1\n\nbody-4.1\n"
		    "--V\nContent-Type: MESSAGE/RFC822\n\n"
		    "Subject: four-two\nX-Other: 1\nContent-Type: MULTIPART/MIXED; boundary=W\n\n"
		    "--W\nContent-Type: TEXT/PLAIN\n\nbody-4.2.1\n"
		    "--W\nContent-Type: MULTIPART/ALTERNATIVE; boundary=X\n\n"
		    "--X\nContent-Type: TEXT/PLAIN\n\nbody-4.2.2.1\n"
		    "--X\nContent-Type: TEXT/RICHTEXT\n\nbody-4.2.2.2\n--X--\n"
		    "--W--\n--V--\n--T--\n"));
	}
	return msg;
}

/* Fetches a section and returns its bytes as a string ("<NONE>" / "<BAD>"). */
static const char *fetch(const char *msg, const char *section)
{
	static struct buf out;
	buf_reset(&out);
	struct mime_section sec;
	if (!mime_section_parse(section, strlen(section), &sec))
		return "<BAD>";
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	struct buf data = BUF_INIT;
	struct mime_fetch res = { .data = &data };
	switch (mime_section_fetch(m, msg, strlen(msg), &sec, &res)) {
	case MIME_FETCH_NONE:
		buf_append_str(&out, "<NONE>");
		break;
	case MIME_FETCH_RANGE:
		buf_append(&out, msg + res.offset, res.size);
		break;
	case MIME_FETCH_DATA:
		buf_append(&out, data.data, data.len);
		break;
	}
	buf_free(&data);
	mime_message_free(&m);
	return buf_cstr(&out);
}

TEST(mime_section_parse_syntax)
{
	struct mime_section s;
#define OK(t) CHECK(mime_section_parse(t, strlen(t), &s))
#define BAD(t) CHECK(!mime_section_parse(t, strlen(t), &s))
	OK("");
	CHECK_EQ_INT(s.depth, 0);
	CHECK_EQ_INT(s.kind, MIME_SECTION_ALL);
	OK("1.2.3");
	CHECK_EQ_INT(s.depth, 3);
	CHECK_EQ_INT(s.path[2], 3);
	OK("4.2.header.fields (From \"To\" X-Mailer)");
	CHECK_EQ_INT(s.kind, MIME_SECTION_FIELDS);
	CHECK_EQ_INT(s.nfields, 3);
	CHECK(s.fields[1].len == 2 && memcmp(s.fields[1].name, "To", 2) == 0);
	OK("HEADER.FIELDS.NOT (Received)");
	CHECK_EQ_INT(s.kind, MIME_SECTION_FIELDS_NOT);
	OK("1.MIME");
	OK("TEXT");
	OK("2.HEADER");
	BAD("MIME");
	BAD("0");
	BAD("1.");
	BAD("1..2");
	BAD(".1");
	BAD("1.FOO");
	BAD("HEADER.FIELDS");
	BAD("HEADER.FIELDS ()");
	BAD("HEADER.FIELDS (From");
	BAD("HEADER.FIELDS (From) x");
	BAD("HEADER.FIELDS  (From)");
	BAD("HEADER.FIELDS (\"a\\\"b\")");
	BAD("99999999999");
	BAD("1.2 ");
#undef OK
#undef BAD
}

TEST(mime_section_rfc9051_numbering)
{
	const char *msg = example_message();
	CHECK_EQ_STR(fetch(msg, "1"), "body-1");
	CHECK_EQ_STR(fetch(msg, "2"), "body-2");
	CHECK_EQ_STR(fetch(msg, "3.HEADER"),
		     "Subject: three\r\nContent-Type: MULTIPART/MIXED; boundary=U\r\n\r\n");
	CHECK(strncmp(fetch(msg, "3.TEXT"), "--U\r\nContent-Type: TEXT/PLAIN", 29) == 0);
	CHECK(strncmp(fetch(msg, "3"), "Subject: three\r\n", 16) == 0);
	CHECK_EQ_STR(fetch(msg, "3.1"), "body-3.1");
	CHECK_EQ_STR(fetch(msg, "3.2"), "body-3.2");
	CHECK_EQ_STR(fetch(msg, "4.1"), "body-4.1");
	CHECK_EQ_STR(fetch(msg, "4.1.MIME"), "Content-Type: IMAGE/GIF\r\nX-Part: 4.1\r\n\r\n");
	CHECK_EQ_STR(fetch(msg, "4.2.HEADER.FIELDS (subject X-OTHER)"),
		     "Subject: four-two\r\nX-Other: 1\r\n\r\n");
	CHECK_EQ_STR(fetch(msg, "4.2.HEADER.FIELDS.NOT (Subject Content-Type)"),
		     "X-Other: 1\r\n\r\n");
	CHECK_EQ_STR(fetch(msg, "4.2.1"), "body-4.2.1");
	CHECK_EQ_STR(fetch(msg, "4.2.2.1"), "body-4.2.2.1");
	CHECK_EQ_STR(fetch(msg, "4.2.2.2"), "body-4.2.2.2");
	CHECK_EQ_STR(fetch(msg, "4.2.2.2.MIME"), "Content-Type: TEXT/RICHTEXT\r\n\r\n");
	CHECK_EQ_STR(fetch(msg, "HEADER.FIELDS (Subject)"), "Subject: top\r\n\r\n");
	CHECK_EQ_STR(fetch(msg, "HEADER.FIELDS (Nope)"), "\r\n");
	CHECK_EQ_STR(fetch(msg, ""), msg);
	/* Missing parts, and HEADER/TEXT of parts that are not messages. */
	CHECK_EQ_STR(fetch(msg, "5"), "<NONE>");
	CHECK_EQ_STR(fetch(msg, "4.3"), "<NONE>");
	CHECK_EQ_STR(fetch(msg, "1.1"), "<NONE>");
	CHECK_EQ_STR(fetch(msg, "1.HEADER"), "<NONE>");
	CHECK_EQ_STR(fetch(msg, "4.1.TEXT"), "<NONE>");
	CHECK_EQ_STR(fetch(msg, "3.3"), "<NONE>");
}

TEST(mime_section_single_part_message)
{
	const char *msg = crlf("Subject: s\nFrom: f@x\n\nthe body\n");
	CHECK_EQ_STR(fetch(msg, "1"), "the body\r\n");
	CHECK_EQ_STR(fetch(msg, "TEXT"), "the body\r\n");
	CHECK_EQ_STR(fetch(msg, "HEADER"), "Subject: s\r\nFrom: f@x\r\n\r\n");
	CHECK_EQ_STR(fetch(msg, "1.MIME"), "Subject: s\r\nFrom: f@x\r\n\r\n");
	CHECK_EQ_STR(fetch(msg, "2"), "<NONE>");
	CHECK_EQ_STR(fetch(msg, "1.1"), "<NONE>");
	/* A message whose body is a message: 1 is that message, 1.1 its body. */
	const char *fwd = crlf("Content-Type: message/rfc822\n\nSubject: inner\n\ninner body\n");
	CHECK_EQ_STR(fetch(fwd, "1"), "Subject: inner\r\n\r\ninner body\r\n");
	CHECK_EQ_STR(fetch(fwd, "1.HEADER"), "Subject: inner\r\n\r\n");
	CHECK_EQ_STR(fetch(fwd, "1.1"), "inner body\r\n");
	CHECK_EQ_STR(fetch(fwd, "1.1.MIME"), "Subject: inner\r\n\r\n");
	/* Bare LF fields come out with CRLF in HEADER.FIELDS. */
	CHECK_EQ_STR(fetch("Subject: a\n b\nTo: t\n\nx", "HEADER.FIELDS (SUBJECT)"),
		     "Subject: a\r\n b\r\n\r\n");
	CHECK_EQ_STR(fetch("Subject: no end", "HEADER.FIELDS (SUBJECT)"),
		     "Subject: no end\r\n\r\n");
}

TEST(mime_section_part_for_binary)
{
	const char *msg = example_message();
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	struct mime_section s;
	CHECK(mime_section_parse("4.2.2.2", 7, &s));
	uint32_t p = mime_section_part(m, &s);
	CHECK(p != MIME_NONE);
	CHECK_EQ_STR(m->parts[p].subtype, "RICHTEXT");
	CHECK(mime_section_parse("9", 1, &s));
	CHECK(mime_section_part(m, &s) == MIME_NONE);
	mime_message_free(&m);
}
