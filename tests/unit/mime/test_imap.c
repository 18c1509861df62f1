/* ENVELOPE / BODY / BODYSTRUCTURE strings against RFC 3501 7.4.2 and Dovecot's published test
 * vectors (lib-imap/test-imap-bodystructure.c, test-imap-envelope.c; Dovecot counts LF as CRLF,
 * so its sizes are those of our CRLF-stored copies). */
#include "mime/mime.h"
#include "mime_test.h"
#include "test.h"

static char *repeat_lines(struct buf *b, size_t n, size_t width, char fill)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < width; k++)
			buf_append_char(b, fill);
		buf_append_str(b, "\r\n");
	}
	return b->data;
}

TEST(mime_imap_rfc3501_example_envelope_and_body)
{
	struct buf msg = BUF_INIT;
	buf_append_str(&msg, crlf("Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\n"
				  "From: Terry Gray <gray@cac.washington.edu>\n"
				  "Subject: IMAP4rev1 WG mtg summary and minutes\n"
				  "To: imap@cac.washington.edu\n"
				  "cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\n"
				  "Message-Id: <B27397-0100000@cac.washington.edu>\n"
				  "MIME-Version: 1.0\n"
				  "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n"
				  "Content-Transfer-Encoding: 7BIT\n\n"));
	/* 92 lines, 3028 octets. */
	repeat_lines(&msg, 91, 31, 'x');
	repeat_lines(&msg, 1, 23, 'y');
	CHECK_EQ_STR(
	    envelope_of(msg.data),
	    "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and "
	    "minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry "
	    "Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" "
	    "\"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL "
	    "\"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" "
	    "\"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\")");
	CHECK_EQ_STR(bodystructure_of(msg.data, false),
		     "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)");
	buf_free(&msg);
}

TEST(mime_imap_rfc3501_example_multipart_body)
{
	struct buf msg = BUF_INIT;
	buf_append_str(&msg, crlf("From: a@b\nMIME-Version: 1.0\n"
				  "Content-Type: MULTIPART/MIXED; BOUNDARY=\"b1\"\n\n"
				  "--b1\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\n"
				  "Content-Transfer-Encoding: 7BIT\n\n"));
	repeat_lines(&msg, 22, 48, 'a');
	repeat_lines(&msg, 1, 50, 'a');
	buf_append_str(&msg, crlf("\n--b1\n"
				  "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff\n"
				  "Content-ID: <960723163407.20117h@cac.washington.edu>\n"
				  "Content-Description: Compiler diff\n"
				  "Content-Transfer-Encoding: BASE64\n\n"));
	repeat_lines(&msg, 72, 60, 'A');
	repeat_lines(&msg, 1, 88, 'A');
	buf_append_str(&msg, crlf("\n--b1--\n"));
	CHECK_EQ_STR(bodystructure_of(msg.data, false),
		     "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)"
		     "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
		     "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" "
		     "4554 73) \"MIXED\")");
	buf_free(&msg);
}

TEST(mime_imap_dovecot_simple_parts)
{
	const char *m1 =
	    crlf("From: user@domain.org\nDate: Sat, 24 Mar 2017 23:00:00 +0200\n"
		 "Mime-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\nbody\n");
	CHECK_EQ_STR(bodystructure_of(m1, true), "(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
						 "NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL)");
	CHECK_EQ_STR(bodystructure_of(m1, false),
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)");
	const char *m2 = crlf("From: user@domain.org\nDate: Sat, 24 Mar 2017 23:00:00 +0200\n"
			      "Mime-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
			      "Content-Transfer-Encoding: 8bit\n\nbody\n\n");
	CHECK_EQ_STR(bodystructure_of(m2, true), "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL "
						 "NIL \"8bit\" 8 2 NIL NIL NIL NIL)");
	/* A boundary folded inside its quotes. */
	const char *m3 =
	    crlf("From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\n"
		 "Mime-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"foo\n"
		 " bar\"\n\n--foo bar\nContent-Type: text/x-myown; charset=us-ascii\n\n"
		 "hello\n\n--foo bar--\n\n");
	CHECK_EQ_STR(
	    bodystructure_of(m3, true),
	    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1 NIL NIL "
	    "NIL NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL)");
	CHECK_EQ_STR(bodystructure_of(m3, false),
		     "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1) "
		     "\"mixed\")");
	/* A multipart with no parts at all still gets one (empty) part. */
	const char *m4 = crlf("Content-Type: multipart/mixed; boundary=\"foo\"\n\n");
	CHECK_EQ_STR(
	    bodystructure_of(m4, true),
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL "
	    "NIL) \"mixed\" (\"boundary\" \"foo\") NIL NIL NIL)");
	CHECK_EQ_STR(
	    bodystructure_of(m4, false),
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")");
}

TEST(mime_imap_dovecot_forwarded_message)
{
	const char *m =
	    crlf("From: user@domain.org\nDate: Sat, 24 Mar 2017 23:00:00 +0200\n"
		 "Mime-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"foo bar\"\n\n"
		 "--foo bar\nContent-Type: text/plain; charset=us-ascii\n"
		 "Content-ID: <A.frop.example.com>\nContent-Description: Container message\n\n"
		 "See attached...\n\n"
		 "--foo bar\nContent-Type: message/rfc822\nContent-ID: <B.frop.example.com>\n"
		 "Content-Description: Forwarded\n\n"
		 "From: user@domain.org\nDate: Sat, 24 Mar 2017 23:00:00 +0200\n"
		 "Mime-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n"
		 "body\n\n--foo bar--\n");
	CHECK_EQ_STR(
	    bodystructure_of(m, true),
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<A.frop.example.com>\" "
	    "\"Container message\" \"7bit\" 17 1 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL "
	    "\"<B.frop.example.com>\" \"Forwarded\" \"7bit\" 133 (\"Sat, 24 Mar 2017 "
	    "23:00:00 +0200\" NIL ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" "
	    "\"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL NIL NIL) "
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL "
	    "NIL) 6 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL)");
	CHECK_EQ_STR(bodystructure_of(m, false),
		     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<A.frop.example.com>\" "
		     "\"Container message\" \"7bit\" 17 1)(\"message\" \"rfc822\" NIL "
		     "\"<B.frop.example.com>\" \"Forwarded\" \"7bit\" 133 (\"Sat, 24 Mar 2017 "
		     "23:00:00 +0200\" NIL ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" "
		     "\"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL NIL NIL) "
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1) 6) "
		     "\"mixed\")");
}

TEST(mime_imap_dovecot_everything_message)
{
	const char *m = crlf(
		"From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"foo\n bar\"\n\nRoot MIME prologue\n\n"
		"--foo bar\n"
		"Content-Type: text/x-myown; charset=us-ascii; foo=\"quoted\\\"string\"\n"
		"Content-ID: <foo@example.com>\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
		"Content-Disposition: inline; foo=bar\nContent-Description: hellodescription\n"
		"Content-Language: en, fi, se\nContent-Location: http://example.com/test.txt\n\n"
		"hello\n\n"
		"--foo bar\nContent-Type: message/rfc822\n\n"
		"From: sub@domain.org\nTo: sub-to1@domain.org, sub-to2@domain.org\n"
		"Date: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n"
		"Content-Type: multipart/alternative; boundary=\"sub1\"\n\nSub MIME prologue\n"
		"--sub1\nContent-Type: text/html\nContent-Transfer-Encoding: 8bit\n\n"
		"<p>Hello world</p>\n\n"
		"--sub1\nContent-Type: text/plain\nContent-Transfer-Encoding: ?invalid\n\n"
		"Hello another world\n\n--sub1--\nSub MIME epilogue\n\n"
		"--foo bar--\nRoot MIME epilogue\n");
	CHECK_EQ_STR(
	    bodystructure_of(m, true),
	    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\" \"foo\" \"quoted\\\"string\") "
	    "\"<foo@example.com>\" \"hellodescription\" \"7bit\" 7 1 "
	    "\"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"inline\" (\"foo\" \"bar\")) (\"en\" \"fi\" "
	    "\"se\") \"http://example.com/test.txt\")(\"message\" \"rfc822\" NIL NIL NIL "
	    "\"7bit\" 412 (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" "
	    "\"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" "
	    "\"domain.org\")) ((NIL NIL \"sub-to1\" \"domain.org\")(NIL NIL \"sub-to2\" "
	    "\"domain.org\")) NIL NIL NIL NIL) ((\"text\" \"html\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"8bit\" 20 1 NIL NIL NIL NIL)(\"text\" \"plain\" "
	    "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 21 1 NIL NIL NIL NIL) "
	    "\"alternative\" (\"boundary\" \"sub1\") NIL NIL NIL) 21 NIL NIL NIL NIL) "
	    "\"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL)");
	CHECK_EQ_STR(
	    bodystructure_of(m, false),
	    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\" \"foo\" \"quoted\\\"string\") "
	    "\"<foo@example.com>\" \"hellodescription\" \"7bit\" 7 1)(\"message\" \"rfc822\" "
	    "NIL NIL NIL \"7bit\" 412 (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL "
	    "NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL "
	    "\"sub\" \"domain.org\")) ((NIL NIL \"sub-to1\" \"domain.org\")(NIL NIL "
	    "\"sub-to2\" \"domain.org\")) NIL NIL NIL NIL) ((\"text\" \"html\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"8bit\" 20 1)(\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 21 1) \"alternative\") 21) \"mixed\")");
}

TEST(mime_imap_dovecot_envelopes)
{
	CHECK_EQ_STR(
	    envelope_of(crlf("Message-ID: <msg@id>\nIn-Reply-To: <reply@to.id>\n"
			     "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
			     "Subject: subject header\n"
			     "From: From Real <fromuser@fromdomain.org>\n"
			     "To: To Real <touser@todomain.org>\n"
			     "Cc: Cc Real <ccuser@ccdomain.org>\n"
			     "Bcc: Bcc Real <bccuser@bccdomain.org>\n"
			     "Sender: Sender Real <senderuser@senderdomain.org>\n"
			     "Reply-To: ReplyTo Real <replytouser@replytodomain.org>\n"
			     "\nbody\n")),
	    "(\"Thu, 15 Feb 2007 01:02:03 +0200\" \"subject header\" ((\"From Real\" NIL "
	    "\"fromuser\" \"fromdomain.org\")) ((\"Sender Real\" NIL \"senderuser\" "
	    "\"senderdomain.org\")) ((\"ReplyTo Real\" NIL \"replytouser\" "
	    "\"replytodomain.org\")) ((\"To Real\" NIL \"touser\" \"todomain.org\")) ((\"Cc "
	    "Real\" NIL \"ccuser\" \"ccdomain.org\")) ((\"Bcc Real\" NIL \"bccuser\" "
	    "\"bccdomain.org\")) \"<reply@to.id>\" \"<msg@id>\")");
	CHECK_EQ_STR(
	    envelope_of(crlf("Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
			     "From: user@domain (Real Name)\n"
			     "To: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;\n"
			     "Cc: group:;, group2: (foo) ;\n\nbody\n")),
	    "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL ((\"Real Name\" NIL \"user\" "
	    "\"domain\")) ((\"Real Name\" NIL \"user\" \"domain\")) ((\"Real Name\" NIL "
	    "\"user\" \"domain\")) ((NIL NIL \"group\" NIL)(NIL NIL \"g1\" \"d1.org\")(NIL "
	    "NIL \"g2\" \"d2.org\")(NIL NIL NIL NIL)(NIL NIL \"group2\" NIL)(NIL NIL \"g3\" "
	    "\"d3.org\")(NIL NIL NIL NIL)) ((NIL NIL \"group\" NIL)(NIL NIL NIL NIL)(NIL NIL "
	    "\"group2\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)");
	/* Empty Sender and Reply-To: From stands in for them. */
	CHECK_EQ_STR(
	    envelope_of(crlf("Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
			     "From: user@domain (Real Name)\nSender: \nReply-To: \n\nbody\n")),
	    "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL ((\"Real Name\" NIL \"user\" "
	    "\"domain\")) ((\"Real Name\" NIL \"user\" \"domain\")) ((\"Real Name\" NIL "
	    "\"user\" \"domain\")) NIL NIL NIL NIL NIL)");
	CHECK_EQ_STR(
	    envelope_of(crlf("Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
			     "From: <@route:user@domain>\n\nbody\n")),
	    "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL ((NIL \"@route\" \"user\" "
	    "\"domain\")) ((NIL \"@route\" \"user\" \"domain\")) ((NIL \"@route\" \"user\" "
	    "\"domain\")) NIL NIL NIL NIL NIL)");
}

TEST(mime_imap_addresses_real_world)
{
	struct buf b = BUF_INIT;
#define ADDR(in, want)                                                  \
	do {                                                            \
		buf_reset(&b);                                          \
		mime_imap_address_list(in, strlen(in), &b, 0);          \
		CHECK_EQ_STR(buf_cstr(&b), want);                       \
	} while (0)
	ADDR("\"Doe, John\" <john.doe@example.com>",
	     "((\"Doe, John\" NIL \"john.doe\" \"example.com\"))");
	ADDR("\"Quote \\\"me\\\"\" <q@x>", "((\"Quote \\\"me\\\"\" NIL \"q\" \"x\"))");
	/* Encoded words stay as they are in ENVELOPE (RFC 3501 leaves decoding to clients). */
	ADDR("=?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <yamada@example.jp>",
	     "((\"=?ISO-2022-JP?B?GyRCOzNFRBsoQg==?=\" NIL \"yamada\" \"example.jp\"))");
	ADDR("undisclosed-recipients:;",
	     "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))");
	ADDR("foo", "((NIL NIL \"foo\" \"MISSING_DOMAIN\"))");
	ADDR("", "NIL");
	ADDR(" , ,", "NIL");
	ADDR("<>", "NIL");
	ADDR("\"john doe\"@example.com", "((NIL NIL \"john doe\" \"example.com\"))");
	ADDR("a@[192.0.2.1], Mr. Smith <smith@x.y> (comment)",
	     "((NIL NIL \"a\" \"[192.0.2.1]\")(\"Mr. Smith\" NIL \"smith\" \"x.y\"))");
	ADDR("a@b.c,,d@e.f", "((NIL NIL \"a\" \"b.c\")(NIL NIL \"d\" \"e.f\"))");
	ADDR("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	     "((\"Pete\" NIL \"pete\" \"silly.test\"))");
	ADDR("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	     "((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")(NIL NIL \"joe\" "
	     "\"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL))");
	ADDR("<broken@", "((NIL NIL \"broken\" \"MISSING_DOMAIN\"))");
	ADDR("\xe5\xb1\xb1\xe7\x94\xb0 <y@x>",
	     "(({6}\r\n\xe5\xb1\xb1\xe7\x94\xb0 NIL \"y\" \"x\"))");
	buf_reset(&b);
	mime_imap_address_list("\xe5\xb1\xb1\xe7\x94\xb0 <y@x>", 12, &b, MIME_IMAP_UTF8);
	CHECK_EQ_STR(buf_cstr(&b), "((\"\xe5\xb1\xb1\xe7\x94\xb0\" NIL \"y\" \"x\"))");
#undef ADDR
	buf_free(&b);
}

TEST(mime_imap_strings_quoted_or_literal)
{
	struct buf b = BUF_INIT;
	mime_imap_append_string(&b, "a \"b\" \\c", 8, 0);
	CHECK_EQ_STR(buf_cstr(&b), "\"a \\\"b\\\" \\\\c\"");
	buf_reset(&b);
	mime_imap_append_string(&b, "x\r\ny", 4, 0);
	CHECK_EQ_STR(buf_cstr(&b), "{4}\r\nx\r\ny");
	buf_reset(&b);
	mime_imap_append_string(&b, "a\0b", 3, 0);
	CHECK_EQ_STR(buf_cstr(&b), "\"ab\"");
	buf_reset(&b);
	mime_imap_append_string(&b, "\xff\0", 2, MIME_IMAP_UTF8);
	CHECK(b.len == 6 && memcmp(b.data, "{1}\r\n\xff", 6) == 0);
	buf_reset(&b);
	mime_imap_append_nstring(&b, NULL, 0);
	mime_imap_append_string(&b, NULL, 0, 0);
	CHECK_EQ_STR(buf_cstr(&b), "NIL\"\"");
	buf_reset(&b);
	char big[1001];
	memset(big, 'z', sizeof big);
	mime_imap_append_string(&b, big, sizeof big, 0);
	CHECK(b.len == 1001 + 8 && memcmp(b.data, "{1001}\r\n", 8) == 0);
	buf_free(&b);
}

TEST(mime_imap_envelope_literal_subject_and_missing_headers)
{
	CHECK_EQ_STR(envelope_of("\r\nno header at all\r\n"),
		     "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	CHECK_EQ_STR(
	    bodystructure_of("\r\nno header at all\r\n", true),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 18 1 NIL NIL NIL "
	    "NIL)");
	/* Raw 8-bit subject: a literal (no UTF8=ACCEPT). */
	CHECK_EQ_STR(envelope_of("Subject: caf\xc3\xa9\r\n\r\n"),
		     "(NIL {5}\r\ncaf\xc3\xa9 NIL NIL NIL NIL NIL NIL NIL NIL)");
	/* Encoded-word subject: as is. */
	CHECK_EQ_STR(
	    envelope_of(crlf("Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\n\n")),
	    "(NIL \"=?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\" NIL NIL NIL NIL NIL NIL NIL "
	    "NIL)");
}

TEST(mime_imap_digest_defaults_and_message_global)
{
	const char *m = crlf("Content-Type: multipart/digest; boundary=d\n\n"
			     "--d\n\nSubject: one\n\nfirst\n"
			     "--d\nContent-Type: message/global\n\nSubject: two\n\nsecond\n"
			     "--d--\n");
	CHECK_EQ_STR(
	    bodystructure_of(m, false),
	    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 21 (NIL \"one\" NIL NIL NIL NIL "
	    "NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 0) 2)(\"message\" \"global\" NIL NIL NIL \"7bit\" 22 (NIL \"two\" NIL NIL "
	    "NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 6 0) 2) \"digest\")");
}

TEST(mime_imap_japanese_mail_with_attachment)
{
	/* As Thunderbird or Outlook send it from a Japanese office: ISO-2022-JP text, encoded-word
	 * names, an attachment named both the RFC 2047 and the RFC 2231 way. */
	const char *msg = crlf(
	    "From: =?ISO-2022-JP?B?GyRCOzNFRBsoQiAbJEJCQE86GyhC?= <taro@example.co.jp>\n"
	    "To: =?ISO-2022-JP?B?GyRCOjRGIxsoQg==?= <hanako@example.jp>\n"
	    "Subject: =?ISO-2022-JP?B?GyRCOCtAUT1xJE5Bd0lVGyhC?=\n"
	    "Date: Mon, 6 Jan 2025 09:30:00 +0900\n"
	    "Message-ID: <20250106093000.1234@example.co.jp>\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"------------A1B2C3\"\n\n"
	    "This is a multi-part message in MIME format.\n"
	    "--------------A1B2C3\n"
	    "Content-Type: text/plain; charset=ISO-2022-JP\n"
	    "Content-Transfer-Encoding: 7bit\n\n"
	    "\x1b$B8+@Q=q$rAw$j$^$9!#\x1b(B\nTaro\n"
	    "--------------A1B2C3\n"
	    "Content-Type: application/pdf;\n name=\"=?ISO-2022-JP?B?GyRCOCtAUT1xGyhC?=.pdf\"\n"
	    "Content-Disposition: attachment;\n"
	    " filename*=iso-2022-jp''%1B%24B8%2B%40Q%3Dq%1B%28B.pdf\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "JVBERi0xLjQK\n"
	    "--------------A1B2C3--\n");
	CHECK_EQ_STR(
	    envelope_of(msg),
	    "(\"Mon, 6 Jan 2025 09:30:00 +0900\" \"=?ISO-2022-JP?B?GyRCOCtAUT1xJE5Bd0lVGyhC?=\" "
	    "((\"=?ISO-2022-JP?B?GyRCOzNFRBsoQiAbJEJCQE86GyhC?=\" NIL \"taro\" "
	    "\"example.co.jp\")) ((\"=?ISO-2022-JP?B?GyRCOzNFRBsoQiAbJEJCQE86GyhC?=\" NIL "
	    "\"taro\" \"example.co.jp\")) ((\"=?ISO-2022-JP?B?GyRCOzNFRBsoQiAbJEJCQE86GyhC?=\" "
	    "NIL \"taro\" \"example.co.jp\")) ((\"=?ISO-2022-JP?B?GyRCOjRGIxsoQg==?=\" NIL "
	    "\"hanako\" \"example.jp\")) NIL NIL NIL \"<20250106093000.1234@example.co.jp>\")");
	CHECK_EQ_STR(
	    bodystructure_of(msg, true),
	    "((\"text\" \"plain\" (\"charset\" \"ISO-2022-JP\") NIL NIL \"7bit\" 30 1 NIL NIL "
	    "NIL NIL)(\"application\" \"pdf\" (\"name\" "
	    "\"=?ISO-2022-JP?B?GyRCOCtAUT1xGyhC?=.pdf\") NIL NIL \"base64\" 12 NIL "
	    "(\"attachment\" (\"filename*\" \"iso-2022-jp''%1B%24B8%2B%40Q%3Dq%1B%28B.pdf\")) "
	    "NIL NIL) \"mixed\" (\"boundary\" \"------------A1B2C3\") NIL NIL NIL)");
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	struct buf b = BUF_INIT;
	CHECK(mime_part_param(&m->parts[2], true, "filename", &b));
	CHECK_EQ_STR(buf_cstr(&b), "\xe8\xa6\x8b\xe7\xa9\x8d\xe6\x9b\xb8.pdf");
	buf_reset(&b);
	CHECK(mime_part_param(&m->parts[2], false, "name", &b));
	CHECK_EQ_STR(buf_cstr(&b), "\xe8\xa6\x8b\xe7\xa9\x8d\xe6\x9b\xb8.pdf");
	buf_reset(&b);
	mime_search_text(m, msg, strlen(msg), MIME_SEARCH_HEADERS | MIME_SEARCH_BODY, &b);
	/* Found decoded: a word of the body, the subject, the From name. */
	CHECK(mime_search_contains(b.data, b.len,
				   "\xe9\x80\x81\xe3\x82\x8a\xe3\x81\xbe\xe3\x81\x99", 12));
	CHECK(strstr(buf_cstr(&b),
		     "Subject: \xe8\xa6\x8b\xe7\xa9\x8d\xe6\x9b\xb8\xe3\x81\xae\xe9\x80"
		     "\x81\xe4\xbb\x98\n") != NULL);
	CHECK(strstr(buf_cstr(&b), "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e") != NULL);
	buf_free(&b);
	mime_message_free(&m);
}
