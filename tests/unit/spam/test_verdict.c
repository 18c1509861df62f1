#include <string.h>

#include "lib/buf.h"
#include "spam/rspamd_reply.h"
#include "spam/verdict.h"
#include "test.h"

static void verdict(struct spam_verdict *v, const char *json, bool tempfail)
{
	struct rspamd_result r;
	struct buf err = BUF_INIT;
	bool ok = rspamd_reply_parse(json, strlen(json), &r, &err);
	CHECK(ok);
	struct spam_options o = { .tempfail_when_unavailable = tempfail };
	spam_verdict_make(v, ok ? &r : NULL, ok ? NULL : err.data, &o);
	rspamd_result_free(&r);
	buf_free(&err);
}

TEST(spam_verdict_actions)
{
	struct spam_verdict v;
	verdict(&v, "{\"action\":\"reject\",\"score\":15,\"required_score\":15,"
		    "\"messages\":{\"smtp_message\":\"Gtube pattern\"}}", false);
	CHECK_EQ_INT(v.disposition, SPAM_REJECT);
	CHECK_EQ_STR(v.reply, "550 5.7.1 Gtube pattern");
	CHECK_EQ_STR(v.what, "spam");
	spam_verdict_free(&v);
	verdict(&v, "{\"action\":\"reject\",\"score\":20}", false);
	CHECK_EQ_STR(v.reply, "550 5.7.1 This message looks like spam and was not accepted");
	spam_verdict_free(&v);
	verdict(&v, "{\"action\":\"reject\",\"score\":3.9,\"symbols\":{\"CLAM_VIRUS\":{\"score\":0,"
		    "\"options\":[\"Eicar-Signature\"]}}}", false);
	CHECK_EQ_INT(v.disposition, SPAM_REJECT);
	CHECK_EQ_STR(v.reply, "554 5.7.1 This message contains a virus (Eicar-Signature) and was "
			      "not accepted");
	CHECK_EQ_STR(v.what, "virus");
	spam_verdict_free(&v);
	/* a virus wins whatever the action */
	verdict(&v, "{\"action\":\"no action\",\"score\":0,\"symbols\":{\"CLAM_VIRUS\":"
		    "{\"score\":0}}}", false);
	CHECK_EQ_STR(v.reply, "554 5.7.1 This message contains a virus (CLAM_VIRUS) and was not "
			      "accepted");
	spam_verdict_free(&v);
	verdict(&v, "{\"action\":\"soft reject\",\"score\":0}", false);
	CHECK_EQ_INT(v.disposition, SPAM_TEMPFAIL);
	CHECK(strncmp(v.reply, "451 4.7.1 ", 10) == 0);
	spam_verdict_free(&v);
	verdict(&v, "{\"action\":\"greylist\",\"score\":4.5}", false);
	CHECK_EQ_INT(v.disposition, SPAM_TEMPFAIL);
	spam_verdict_free(&v);
	verdict(&v, "{\"action\":\"no action\",\"score\":-0.1,\"required_score\":15}", false);
	CHECK_EQ_INT(v.disposition, SPAM_DELIVER);
	CHECK_EQ_STR(v.headers.data, "X-Spam-Status: No, score=-0.10 required=15.00 "
				     "action=\"no action\"\r\nX-Spam-Score: -0.10\r\n");
	spam_verdict_free(&v);
}

TEST(spam_verdict_junk_headers)
{
	struct spam_verdict v;
	struct buf json = BUF_INIT;
	buf_append_str(&json, "{\"action\":\"add header\",\"score\":7.9,\"required_score\":15,"
			      "\"symbols\":{");
	for (int i = 0; i < 20; i++)
		buf_printf(&json, "%s\"SYMBOL_NUMBER_%d\":{\"score\":%d}", i ? "," : "", i, i);
	buf_append_str(&json, "},\"milter\":{\"add_headers\":{\"X-Spam-Status\":\"Yes\","
			      "\"X-Rspamd-Server\":\"scanner1\"}}}");
	verdict(&v, json.data, false);
	CHECK_EQ_INT(v.disposition, SPAM_JUNK);
	CHECK_EQ_STR(v.what, "junk");
	CHECK(strncmp(v.headers.data, "X-Spam-Status: Yes, score=7.90 required=15.00 "
				      "action=\"add header\"\r\nX-Spam-Score: 7.90\r\n"
				      "X-Spam-Symbols: SYMBOL_NUMBER_19(19.00),", 114) == 0);
	/* folded: no line over 78 columns, continuation lines start with a tab */
	const char *p = v.headers.data;
	while (*p) {
		const char *eol = strstr(p, "\r\n");
		CHECK(eol && eol - p <= 78);
		if (!eol)
			break;
		p = eol + 2;
	}
	CHECK(strstr(v.headers.data, "\r\n\tSYMBOL_NUMBER_") != NULL);
	CHECK(strstr(v.headers.data, "SYMBOL_NUMBER_0(0.00)\r\n") != NULL);
	/* rspamd's own headers are added, except ours */
	CHECK(strstr(v.headers.data, "X-Rspamd-Server: scanner1\r\n") != NULL);
	CHECK(strstr(v.headers.data, "X-Spam-Status: Yes\r\n") == NULL);
	spam_verdict_free(&v);
	buf_free(&json);
}

TEST(spam_verdict_unscanned)
{
	struct spam_verdict v;
	spam_verdict_make(&v, NULL, "no answer from rspamd within 10000 ms", NULL);
	CHECK_EQ_INT(v.disposition, SPAM_DELIVER);
	CHECK_EQ_STR(v.what, "unscanned");
	CHECK_EQ_STR(v.headers.data, "X-Spam-Status: unscanned\r\n");
	spam_verdict_free(&v);
	spam_verdict_make(&v, NULL, "cannot connect",
			  &(struct spam_options){ .tempfail_when_unavailable = true });
	CHECK_EQ_INT(v.disposition, SPAM_TEMPFAIL);
	CHECK(strncmp(v.reply, "451 4.7.1 ", 10) == 0);
	CHECK_EQ_INT(v.headers.len, 0);
	spam_verdict_free(&v);
	/* a long message from rspamd: the reply stays one bounded line */
	struct buf json = BUF_INIT;
	buf_append_str(&json, "{\"action\":\"reject\",\"score\":20,"
			      "\"messages\":{\"smtp_message\":\"");
	for (int i = 0; i < 900; i++)
		buf_append_char(&json, 'm');
	buf_append_str(&json, "\"}}");
	verdict(&v, json.data, false);
	CHECK(strlen(v.reply) <= SPAM_REPLY_MAX && strncmp(v.reply, "550 5.7.1 mmm", 13) == 0);
	spam_verdict_free(&v);
	buf_free(&json);
}

static void verdict_with(struct spam_verdict *v, struct rspamd_result *r, const char *json,
			 const struct spam_options *o)
{
	struct buf err = BUF_INIT;
	CHECK(rspamd_reply_parse(json, strlen(json), r, &err));
	spam_verdict_make(v, r, NULL, o);
	buf_free(&err);
}

TEST(spam_verdict_options)
{
	struct spam_verdict v;
	struct rspamd_result r;
	struct spam_options o = { .reject_to_junk = true, .add_header_to_inbox = true,
				  .greylist_to_inbox = true };
	verdict_with(&v, &r, "{\"action\":\"reject\",\"score\":16,\"required_score\":15}", &o);
	CHECK_EQ_INT(v.disposition, SPAM_JUNK);
	CHECK_EQ_STR(v.reply, "");
	CHECK(strncmp(v.headers.data, "X-Spam-Status: Yes, score=16.00", 31) == 0);
	spam_verdict_free(&v);
	rspamd_result_free(&r);
	verdict_with(&v, &r, "{\"action\":\"add header\",\"score\":7}", &o);
	CHECK_EQ_INT(v.disposition, SPAM_DELIVER);
	/* the headers still tell what rspamd thought */
	CHECK(strncmp(v.headers.data, "X-Spam-Status: Yes", 18) == 0);
	CHECK(strstr(v.headers.data, "X-Spam-Symbols:") != NULL);
	spam_verdict_free(&v);
	rspamd_result_free(&r);
	verdict_with(&v, &r, "{\"action\":\"greylist\",\"score\":4.5}", &o);
	CHECK_EQ_INT(v.disposition, SPAM_DELIVER);
	CHECK(strncmp(v.headers.data, "X-Spam-Status: No", 17) == 0);
	spam_verdict_free(&v);
	rspamd_result_free(&r);
	/* soft reject is rspamd asking for a retry (rate limits): not the greylist choice */
	verdict_with(&v, &r, "{\"action\":\"soft reject\",\"score\":0}", &o);
	CHECK_EQ_INT(v.disposition, SPAM_TEMPFAIL);
	spam_verdict_free(&v);
	rspamd_result_free(&r);
	/* a virus is refused whatever the options */
	verdict_with(&v, &r, "{\"action\":\"reject\",\"score\":3,\"symbols\":{\"CLAM_VIRUS\":"
			     "{\"score\":0,\"options\":[\"Eicar\"]}}}", &o);
	CHECK_EQ_INT(v.disposition, SPAM_REJECT);
	CHECK_EQ_STR(v.what, "virus");
	spam_verdict_free(&v);
	rspamd_result_free(&r);
}

TEST(spam_verdict_per_recipient)
{
	struct spam_verdict v;
	struct rspamd_result r;
	struct spam_recipient plain = { .scan = true, .threshold = -1 };
	struct spam_recipient off = { .scan = false, .threshold = -1 };
	struct spam_recipient allowed = { .scan = true, .threshold = -1,
					  .sender = SPAM_SENDER_ALLOWED };
	struct spam_recipient blocked = { .scan = true, .threshold = -1,
					  .sender = SPAM_SENDER_BLOCKED };
	struct spam_recipient low = { .scan = true, .threshold = 3 };
	struct spam_recipient high = { .scan = true, .threshold = 10 };

	verdict_with(&v, &r, "{\"action\":\"add header\",\"score\":8}", NULL);
	CHECK_EQ_INT(spam_verdict_for(&v, &r, &plain), SPAM_JUNK);
	CHECK_EQ_INT(spam_verdict_for(&v, &r, &off), SPAM_DELIVER);
	CHECK_EQ_INT(spam_verdict_for(&v, &r, &allowed), SPAM_DELIVER);
	CHECK_EQ_INT(spam_verdict_for(&v, &r, &blocked), SPAM_REJECT);
	CHECK_EQ_INT(spam_verdict_for(&v, &r, &low), SPAM_JUNK);
	CHECK_EQ_INT(spam_verdict_for(&v, &r, &high), SPAM_DELIVER);
	spam_verdict_free(&v);
	rspamd_result_free(&r);

	verdict_with(&v, &r, "{\"action\":\"no action\",\"score\":3}", NULL);
	CHECK_EQ_INT(spam_verdict_for(&v, &r, &plain), SPAM_DELIVER);
	CHECK_EQ_INT(spam_verdict_for(&v, &r, &low), SPAM_JUNK); /* at the threshold: Junk */
	spam_verdict_free(&v);
	rspamd_result_free(&r);

	/* the threshold does not undo rspamd's reject */
	verdict_with(&v, &r, "{\"action\":\"reject\",\"score\":15}", NULL);
	CHECK_EQ_INT(spam_verdict_for(&v, &r, &high), SPAM_REJECT);
	CHECK_EQ_INT(spam_verdict_for(&v, &r, &allowed), SPAM_DELIVER);
	spam_verdict_free(&v);
	rspamd_result_free(&r);

	/* a virus: refused for the allowlisted sender and the account with scanning off too */
	verdict_with(&v, &r, "{\"action\":\"reject\",\"score\":3,\"symbols\":{\"CLAM_VIRUS\":"
			     "{\"score\":0}}}", NULL);
	CHECK_EQ_INT(spam_verdict_for(&v, &r, &allowed), SPAM_REJECT);
	CHECK_EQ_INT(spam_verdict_for(&v, &r, &off), SPAM_REJECT);
	spam_verdict_free(&v);
	rspamd_result_free(&r);

	/* unscanned: as the server says; not scanned at all: only the blocklist */
	spam_verdict_make(&v, NULL, "down", &(struct spam_options){ .tempfail_when_unavailable = 1 });
	CHECK_EQ_INT(spam_verdict_for(&v, NULL, &plain), SPAM_TEMPFAIL);
	CHECK_EQ_INT(spam_verdict_for(&v, NULL, &allowed), SPAM_DELIVER);
	spam_verdict_free(&v);
	CHECK_EQ_INT(spam_verdict_for(NULL, NULL, &plain), SPAM_DELIVER);
	CHECK_EQ_INT(spam_verdict_for(NULL, NULL, &blocked), SPAM_REJECT);
}

TEST(spam_verdict_combine)
{
	enum spam_disposition a[] = { SPAM_REJECT, SPAM_REJECT };
	CHECK_EQ_INT(spam_combine(a, 2), SPAM_REJECT);
	enum spam_disposition b[] = { SPAM_REJECT, SPAM_TEMPFAIL };
	CHECK_EQ_INT(spam_combine(b, 2), SPAM_TEMPFAIL);
	enum spam_disposition c[] = { SPAM_REJECT, SPAM_DELIVER, SPAM_TEMPFAIL, SPAM_JUNK };
	CHECK_EQ_INT(spam_combine(c, 4), SPAM_DELIVER);
	CHECK_EQ_INT(c[0], SPAM_JUNK);
	CHECK_EQ_INT(c[1], SPAM_DELIVER);
	CHECK_EQ_INT(c[2], SPAM_JUNK);
	CHECK_EQ_INT(c[3], SPAM_JUNK);
	CHECK_EQ_INT(spam_combine(NULL, 0), SPAM_DELIVER);
}

TEST(spam_verdict_refusals_keep_headers)
{
	/* for the copy other recipients take when only some refuse (spam_combine) */
	struct spam_verdict v;
	struct rspamd_result r;
	verdict_with(&v, &r, "{\"action\":\"reject\",\"score\":16,\"required_score\":15}", NULL);
	CHECK_EQ_INT(v.disposition, SPAM_REJECT);
	CHECK(strncmp(v.headers.data, "X-Spam-Status: Yes, score=16.00", 31) == 0);
	spam_verdict_free(&v);
	rspamd_result_free(&r);
	verdict_with(&v, &r, "{\"action\":\"greylist\",\"score\":4}", NULL);
	CHECK_EQ_INT(v.disposition, SPAM_TEMPFAIL);
	CHECK(strncmp(v.headers.data, "X-Spam-Status: No, score=4.00", 29) == 0);
	spam_verdict_free(&v);
	rspamd_result_free(&r);
}
