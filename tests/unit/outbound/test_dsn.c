#include "mime/mime.h"
#include "outbound/dsn.h"
#include "test.h"

TEST(dsn_explains_common_replies)
{
	CHECK(strstr(dsn_explain("5.1.1", "550 5.1.1 user unknown"), "does not exist") != NULL);
	CHECK(strstr(dsn_explain("5.2.2", "552 5.2.2 mailbox full"), "full") != NULL);
	CHECK(strstr(dsn_explain("5.7.1", "554 5.7.1 rejected as spam"), "SPF") != NULL);
	CHECK(strstr(dsn_explain("5.3.4", "552 5.3.4 message too large"), "too big") != NULL);
	CHECK(strstr(dsn_explain("4.4.1", NULL), "tried again") != NULL);
	CHECK(strstr(dsn_explain("5.1.10", NULL), "null MX") != NULL);
}

TEST(dsn_is_a_well_formed_multipart_report)
{
	const char *original = "Return-Path: <a@example.test>\r\nReceived: from x\r\n"
			       "Subject: Quote\r\nFrom: a@example.test\r\n\r\nsecret body\r\n";
	struct dsn_recipient r = { .address = "b@remote.test", .status = "5.1.1",
				   .diagnostic = "550 5.1.1 no such user",
				   .remote_mta = "mx.remote.test" };
	struct buf out = BUF_INIT;
	dsn_build(&out, "mail.example.test", "MAILER-DAEMON@example.test", "a@example.test", false,
		  &r, 1, original, strlen(original), 1700000000, 1700000100);
	struct mime_message *m = mime_message_parse(out.data, out.len, NULL);
	CHECK(m->nparts >= 4); /* the report and its three parts */
	struct buf bs = BUF_INIT;
	mime_imap_bodystructure(m, 0, false, &bs, 0);
	CHECK(strstr(bs.data, "\"report\"") != NULL);
	CHECK(strstr(bs.data, "\"delivery-status\"") != NULL);
	CHECK(strstr(bs.data, "\"rfc822-headers\"") != NULL);
	CHECK(strstr(out.data, "Final-Recipient: rfc822; b@remote.test\r\n") != NULL);
	CHECK(strstr(out.data, "Status: 5.1.1\r\n") != NULL);
	CHECK(strstr(out.data, "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n") != NULL);
	CHECK(strstr(out.data, "mx.remote.test said: 550 5.1.1 no such user") != NULL);
	CHECK(strstr(out.data, "Subject: Quote\r\n") != NULL);
	/* Only headers travel back, and not our Return-Path. */
	CHECK(strstr(out.data, "secret body") == NULL);
	CHECK(strstr(out.data, "Return-Path: <a@example.test>") == NULL);
	CHECK(strstr(out.data, "Auto-Submitted: auto-replied\r\n") != NULL);
	mime_message_free(&m);
	buf_free(&bs);
	buf_free(&out);
}
