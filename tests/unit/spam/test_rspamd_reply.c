#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "spam/rspamd_reply.h"
#include "test.h"

static bool parse(const char *json, struct rspamd_result *r, struct buf *err)
{
	buf_reset(err);
	rspamd_result_free(r);
	return rspamd_reply_parse(json, strlen(json), r, err);
}

/* What rspamd 3.4 answered for GTUBE (abridged only in message-id). */
TEST(rspamd_reply_gtube)
{
	struct rspamd_result r = { 0 };
	struct buf err = BUF_INIT;
	CHECK(parse("{\"is_skipped\":true,\"score\":15.0,\"required_score\":15.0,\"action\":"
		    "\"reject\",\"symbols\":{\"GTUBE\":{\"name\":\"GTUBE\",\"score\":0.0,"
		    "\"metric_score\":0.0}},\"messages\":{\"smtp_message\":\"Gtube pattern\"},"
		    "\"message-id\":\"1@example.org\",\"time_real\":0.25}", &r, &err));
	CHECK_EQ_INT(r.action, RSPAMD_REJECT);
	CHECK_EQ_STR(rspamd_action_name(r.action), "reject");
	CHECK(r.score == 15.0 && r.required_score == 15.0 && r.skipped);
	CHECK_EQ_INT(r.nsymbols, 1);
	CHECK_EQ_STR(r.symbols[0].name, "GTUBE");
	CHECK_EQ_STR(r.smtp_message, "Gtube pattern");
	CHECK(r.virus == NULL && r.subject == NULL && r.nadd_headers == 0);
	rspamd_result_free(&r);
	buf_free(&err);
}

TEST(rspamd_reply_actions)
{
	static const char *const names[] = { "no action", "greylist", "add header",
					     "rewrite subject", "soft reject", "reject" };
	struct rspamd_result r = { 0 };
	struct buf err = BUF_INIT;
	for (size_t i = 0; i < 6; i++) {
		char json[200];
		snprintf(json, sizeof json, "{\"action\":\"%s\",\"score\":-1.5}", names[i]);
		CHECK(parse(json, &r, &err));
		CHECK_EQ_INT(r.action, i);
		CHECK_EQ_STR(rspamd_action_name(r.action), names[i]);
		CHECK(r.score == -1.5 && r.required_score == 0 && !r.skipped);
	}
	CHECK(!parse("{\"action\":\"discard\",\"score\":1}", &r, &err));
	CHECK(strstr(err.data, "action") != NULL);
	CHECK(!parse("{\"action\":\"No Action\",\"score\":1}", &r, &err));
	rspamd_result_free(&r);
	buf_free(&err);
}

/* The antivirus module's symbol carries the scanner's name for what it found. */
TEST(rspamd_reply_virus)
{
	struct rspamd_result r = { 0 };
	struct buf err = BUF_INIT;
	CHECK(parse("{\"score\":3.9,\"required_score\":15.0,\"action\":\"reject\",\"symbols\":{"
		    "\"CLAM_VIRUS_FAIL\":{\"score\":0.0,\"options\":[\"timeout\"]},"
		    "\"MIME_GOOD\":{\"score\":-0.1,\"options\":[\"multipart/mixed\"]},"
		    "\"CLAM_VIRUS\":{\"score\":0.0,\"options\":[\"Eicar-Signature\",\"x\"]},"
		    "\"MIME_BAD_EXTENSION\":{\"score\":4.0,\"options\":[\"com\"]}},"
		    "\"messages\":{\"smtp_message\":"
		    "\"clamav: virus found: \\\"Eicar-Signature\\\"\"}}",
		    &r, &err));
	CHECK_EQ_STR(r.virus, "Eicar-Signature");
	CHECK_EQ_STR(r.smtp_message, "clamav: virus found: \"Eicar-Signature\"");
	CHECK_EQ_INT(r.nsymbols, 4);
	CHECK_EQ_STR(r.symbols[0].name, "MIME_BAD_EXTENSION"); /* strongest first */
	CHECK_EQ_STR(r.symbols[3].name, "MIME_GOOD");
	/* a virus symbol without options: its own name */
	CHECK(parse("{\"score\":0,\"action\":\"reject\","
		    "\"symbols\":{\"SOPHOS_VIRUS\":{\"score\":1}}}", &r, &err));
	CHECK_EQ_STR(r.virus, "SOPHOS_VIRUS");
	CHECK(parse("{\"score\":0,\"action\":\"no action\",\"symbols\":{\"CLAM_VIRUS_FAIL\":"
		    "{\"score\":0,\"options\":[\"failed to scan\"]}}}", &r, &err));
	CHECK(r.virus == NULL);
	CHECK(rspamd_symbol_is_virus("CLAM_VIRUS") && !rspamd_symbol_is_virus("_VIRUS") &&
	      !rspamd_symbol_is_virus("CLAM_VIRUS_FAIL") && !rspamd_symbol_is_virus("VIRUS"));
	/* the name reaches an SMTP reply: printable ASCII only */
	CHECK(parse("{\"score\":0,\"action\":\"reject\",\"symbols\":{\"CLAM_VIRUS\":{\"score\":0,"
		    "\"options\":[\"Evil\\r\\n250 ok\\u00e9\"]}}}", &r, &err));
	CHECK_EQ_STR(r.virus, "Evil??250 ok??"); /* one ? per byte */
	rspamd_result_free(&r);
	buf_free(&err);
}

TEST(rspamd_reply_milter_headers)
{
	struct rspamd_result r = { 0 };
	struct buf err = BUF_INIT;
	CHECK(parse("{\"score\":7,\"action\":\"add header\",\"milter\":{\"add_headers\":{"
		    "\"X-Spam-Status\":{\"value\":\"Yes, score=7\",\"order\":0},"
		    "\"X-Plain\":\"caf\\u00e9\\r\\nBcc: x@y\","
		    "\"X-Many\":[{\"value\":\"a\"},\"b\"],"
		    "\"Bad Name\":\"dropped\",\"Bad:Name\":\"dropped\"},"
		    "\"remove_headers\":{\"X-Spam\":0,\"X-Spam-Flag\":1}}}", &r, &err));
	CHECK_EQ_INT(r.nadd_headers, 4);
	CHECK_EQ_STR(r.add_headers[0].name, "X-Spam-Status");
	CHECK_EQ_STR(r.add_headers[0].value, "Yes, score=7");
	CHECK_EQ_STR(r.add_headers[1].name, "X-Plain");
	CHECK_EQ_STR(r.add_headers[1].value, "caf\xc3\xa9  Bcc: x@y");
	CHECK_EQ_STR(r.add_headers[2].value, "a");
	CHECK_EQ_STR(r.add_headers[3].value, "b");
	CHECK_EQ_INT(r.nremove_headers, 2);
	CHECK_EQ_STR(r.remove_headers[0], "X-Spam");
	CHECK_EQ_STR(r.remove_headers[1], "X-Spam-Flag");
	/* wrong types are errors, not guesses */
	CHECK(!parse("{\"score\":7,\"action\":\"add header\",\"milter\":{\"add_headers\":"
		     "{\"X-A\":5}}}", &r, &err));
	CHECK(!parse("{\"score\":7,\"action\":\"add header\",\"milter\":{\"add_headers\":[]}}",
		     &r, &err));
	CHECK(!parse("{\"score\":7,\"action\":\"add header\",\"milter\":{\"remove_headers\":"
		     "{\"X-A\":\"all\"}}}", &r, &err));
	CHECK(!parse("{\"score\":7,\"action\":\"add header\",\"milter\":true}", &r, &err));
	rspamd_result_free(&r);
	buf_free(&err);
}

TEST(rspamd_reply_rewrite_subject)
{
	struct rspamd_result r = { 0 };
	struct buf err = BUF_INIT;
	CHECK(parse("{\"score\":9,\"action\":\"rewrite subject\",\"subject\":\"***SPAM*** hi\"}",
		    &r, &err));
	CHECK_EQ_INT(r.action, RSPAMD_REWRITE_SUBJECT);
	CHECK_EQ_STR(r.subject, "***SPAM*** hi");
	CHECK(!parse("{\"score\":9,\"action\":\"rewrite subject\",\"subject\":[]}", &r, &err));
	rspamd_result_free(&r);
	buf_free(&err);
}

TEST(rspamd_reply_malformed)
{
	static const char *const bad[] = {
		"",
		"not json",
		"{\"action\":\"reject\",\"score\":15",            /* truncated */
		"[\"reject\", 15]",                               /* not an object */
		"{\"score\":1}",                                  /* no action */
		"{\"action\":\"reject\"}",                        /* no score */
		"{\"action\":1,\"score\":1}",
		"{\"action\":\"reject\",\"score\":\"15\"}",
		"{\"action\":\"reject\",\"score\":1,\"required_score\":null}",
		"{\"action\":\"reject\",\"score\":1,\"is_skipped\":1}",
		"{\"action\":\"reject\",\"score\":1,\"symbols\":[]}",
		"{\"action\":\"reject\",\"score\":1,\"symbols\":{\"A\":1}}",
		"{\"action\":\"reject\",\"score\":1,\"symbols\":{\"A\":{\"score\":\"x\"}}}",
		"{\"action\":\"reject\",\"score\":1,\"symbols\":{\"A\":{}}}",
		"{\"action\":\"reject\",\"score\":1,\"symbols\":{\"A\":{\"score\":1,"
		"\"options\":\"o\"}}}",
		"{\"action\":\"reject\",\"score\":1,\"messages\":[]}",
		"{\"action\":\"reject\",\"score\":1,\"messages\":{\"smtp_message\":5}}",
		"{\"action\":\"reject\",\"score\":1e999}",
		"{\"action\":\"re\\u0000ject\",\"score\":1}",
		"{\"action\":\"reject\",\"score\":1}garbage",
		"{\"error\":\"Cannot parse input\"}",
	};
	struct rspamd_result r = { 0 };
	struct buf err = BUF_INIT;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bool ok = parse(bad[i], &r, &err);
		if (ok || err.len == 0)
			printf("  accepted or no reason: %s\n", bad[i]);
		CHECK(!ok && err.len > 0);
	}
	CHECK(!parse("{\"error\":\"Cannot parse input\"}", &r, &err));
	CHECK_EQ_STR(err.data, "rspamd answered an error: Cannot parse input");
	/* bytes that are not UTF-8 */
	CHECK(!parse("{\"action\":\"reject\",\"score\":1,\"messages\":{\"smtp_message\":\"\xff\"}}",
		     &r, &err));
	/* a NUL inside the buffer */
	CHECK(!rspamd_reply_parse("{\"action\":\"reject\",\0\"score\":1}", 31, &r, &err));
	rspamd_result_free(&r);
	buf_free(&err);
}

TEST(rspamd_reply_bounds)
{
	struct rspamd_result r = { 0 };
	struct buf err = BUF_INIT, json = BUF_INIT;
	/* 500 symbols: the 50 strongest are kept, all are counted */
	buf_append_str(&json, "{\"action\":\"add header\",\"score\":7,\"symbols\":{");
	for (int i = 0; i < 500; i++)
		buf_printf(&json, "%s\"S%d\":{\"score\":%d.5}", i ? "," : "", i, (i * 7919) % 500);
	buf_append_str(&json, "}}");
	CHECK(rspamd_reply_parse(json.data, json.len, &r, &err));
	CHECK_EQ_INT(r.symbols_total, 500);
	CHECK_EQ_INT(r.nsymbols, RSPAMD_REPLY_MAX_SYMBOLS);
	CHECK(r.symbols[0].score == 499.5);
	CHECK(r.symbols[RSPAMD_REPLY_MAX_SYMBOLS - 1].score == 450.5);
	rspamd_result_free(&r);
	/* a long smtp_message is cut */
	buf_reset(&json);
	buf_append_str(&json, "{\"action\":\"reject\",\"score\":20,"
			      "\"messages\":{\"smtp_message\":\"");
	for (int i = 0; i < 5000; i++)
		buf_append_char(&json, 'x');
	buf_append_str(&json, "\"}}");
	CHECK(rspamd_reply_parse(json.data, json.len, &r, &err));
	CHECK_EQ_INT(strlen(r.smtp_message), RSPAMD_REPLY_MAX_TEXT);
	rspamd_result_free(&r);
	/* a long UTF-8 header value is cut at a character */
	buf_reset(&json);
	buf_append_str(&json, "{\"action\":\"add header\",\"score\":7,\"milter\":{\"add_headers\":"
			      "{\"X-A\":\"");
	for (int i = 0; i < 1000; i++)
		buf_append_str(&json, "\xc3\xa9");
	buf_append_str(&json, "\"}}}");
	CHECK(rspamd_reply_parse(json.data, json.len, &r, &err));
	CHECK_EQ_INT(r.nadd_headers, 1);
	CHECK(strlen(r.add_headers[0].value) <= RSPAMD_REPLY_MAX_TEXT &&
	      strlen(r.add_headers[0].value) % 2 == 0);
	rspamd_result_free(&r);
	/* 40 headers: 16 kept */
	buf_reset(&json);
	buf_append_str(&json, "{\"action\":\"add header\",\"score\":7,"
			      "\"milter\":{\"add_headers\":{");
	for (int i = 0; i < 40; i++)
		buf_printf(&json, "%s\"X-H%d\":\"v\"", i ? "," : "", i);
	buf_append_str(&json, "}}}");
	CHECK(rspamd_reply_parse(json.data, json.len, &r, &err));
	CHECK_EQ_INT(r.nadd_headers, RSPAMD_REPLY_MAX_HEADERS);
	rspamd_result_free(&r);
	/* over 1 MB: refused before parsing */
	buf_reset(&json);
	buf_append_str(&json, "{\"action\":\"reject\",\"score\":1,\"pad\":\"");
	while (json.len <= RSPAMD_REPLY_MAX_BYTES)
		buf_append_str(&json, "0123456789abcdef");
	buf_append_str(&json, "\"}");
	buf_reset(&err);
	CHECK(!rspamd_reply_parse(json.data, json.len, &r, &err));
	CHECK(strstr(err.data, "larger than") != NULL);
	/* deep nesting: an error, not a stack overflow */
	buf_reset(&json);
	for (int i = 0; i < 100000; i++)
		buf_append_char(&json, '[');
	CHECK(!rspamd_reply_parse(json.data, json.len, &r, &err));
	rspamd_result_free(&r);
	buf_free(&json);
	buf_free(&err);
}
