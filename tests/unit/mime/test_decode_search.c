/* Transfer-encoding decoders, SEARCH text and folding, and the stored form of the tree. */
#include "mime/mime.h"
#include "mime_test.h"
#include "test.h"

static const char *decode(enum mime_cte cte, const char *in, bool *ok)
{
	static struct buf b;
	buf_reset(&b);
	*ok = mime_decode_cte(cte, in, strlen(in), &b);
	return buf_cstr(&b);
}

TEST(mime_decode_base64_valid_and_invalid)
{
	bool ok;
	CHECK_EQ_STR(decode(MIME_CTE_BASE64, "aGVsbG8gd29y\r\nbGQ=\r\n", &ok), "hello world");
	CHECK(ok);
	CHECK_EQ_STR(decode(MIME_CTE_BASE64, "YQ==YWI=", &ok), "aab"); /* concatenated */
	CHECK(ok);
	CHECK_EQ_STR(decode(MIME_CTE_BASE64, "YWJj", &ok), "abc");
	CHECK(ok);
	CHECK_EQ_STR(decode(MIME_CTE_BASE64, "YW", &ok), "a"); /* unpadded end: accepted */
	CHECK(ok);
	decode(MIME_CTE_BASE64, "YWJj!", &ok);
	CHECK(!ok);
	decode(MIME_CTE_BASE64, "YWJjZ", &ok); /* a lone last character */
	CHECK(!ok);
	decode(MIME_CTE_BASE64, "=YWJj", &ok);
	CHECK(!ok);
	CHECK_EQ_STR(decode(MIME_CTE_BASE64, "", &ok), "");
	CHECK(ok);
}

TEST(mime_decode_qp_valid_and_invalid)
{
	bool ok;
	CHECK_EQ_STR(decode(MIME_CTE_QP, "Gr=C3=BC=c3=9Fe  \r\nsoft=\r\nbreak=  \r\n=3D\r\n", &ok),
		     "Gr\xc3\xbc\xc3\x9f" "e\r\nsoftbreak=\r\n");
	CHECK(ok);
	CHECK_EQ_STR(decode(MIME_CTE_QP, "a=ZZb=4\nc", &ok), "a=ZZb=4\nc");
	CHECK(!ok);
	CHECK_EQ_STR(decode(MIME_CTE_QP, "end=", &ok), "end");
	CHECK(ok);
	CHECK_EQ_STR(decode(MIME_CTE_8BIT, "as\xffis", &ok), "as\xffis");
	CHECK(ok);
	decode(MIME_CTE_UNKNOWN, "x", &ok);
	CHECK(!ok);
	CHECK_EQ_INT(mime_cte_from_name("Quoted-Printable", 16), MIME_CTE_QP);
	CHECK_EQ_INT(mime_cte_from_name("x-uuencode", 10), MIME_CTE_UNKNOWN);
}

TEST(mime_normalize_crlf_all_forms)
{
	struct buf b = BUF_INIT;
	mime_normalize_crlf("a\nb\r\nc\rd\r", 10, &b);
	CHECK_EQ_STR(buf_cstr(&b), "a\r\nb\r\nc\r\nd\r\n");
	buf_free(&b);
}

/* Split anywhere (between CR and LF too), the stream gives what the whole buffer gives. */
TEST(mime_normalize_crlf_stream_every_split)
{
	const char *inputs[] = { "a\nb\r\nc\rd\r", "\r\n\r\n", "\r\r\n\n", "x\r", "", "\n" };
	for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
		const char *in = inputs[k];
		size_t len = strlen(in);
		struct buf whole = BUF_INIT;
		mime_normalize_crlf(in, len, &whole);
		for (size_t cut = 0; cut <= len; cut++) {
			struct buf b = BUF_INIT;
			bool cr = false;
			mime_normalize_crlf_stream(in, cut, &cr, false, &b);
			mime_normalize_crlf_stream(in + cut, len - cut, &cr, false, &b);
			mime_normalize_crlf_stream(NULL, 0, &cr, true, &b);
			CHECK_EQ_INT(b.len, whole.len);
			CHECK(b.len == 0 || memcmp(b.data, whole.data, b.len) == 0);
			buf_free(&b);
		}
		buf_free(&whole);
	}
}

TEST(mime_search_text_japanese_and_encodings)
{
	const char *msg = crlf(
	    "From: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <yamada@example.jp>\n"
	    "Subject: =?ISO-2022-JP?B?GyRCOCtAUT1xGyhC?=\n"
	    "Content-Type: multipart/mixed; boundary=m\n\n"
	    "--m\nContent-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: "
	    "base64\n\n"
	    "GyRCJDMkcyRLJEEkTyEiQCQzJiEjGyhCDQobJEJAQTVhPXEkckF3JGokXiQ5ISMbKEINCg==\n"
	    "--m\nContent-Type: text/plain; charset=Shift_JIS\nContent-Transfer-Encoding: 8bit\n\n"
	    "\x93\xfa\x96{\x8c\xea\x82\xcc\x83\x81\x81[\x83\x8b\x87@\n"
	    "--m\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: "
	    "quoted-printable\n\n"
	    "<p>Gr=C3=BC=C3=9Fe aus M=C3=BCnchen</p>\n"
	    "--m\nContent-Type: application/pdf\nContent-Disposition: attachment; "
	    "filename*=UTF-8''%E8%AB%8B%E6%B1%82.pdf\n"
	    "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n"
	    "--m--\n");
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	struct buf text = BUF_INIT;
	mime_search_text(m, msg, strlen(msg), MIME_SEARCH_BODY, &text);
	const char *t = buf_cstr(&text);
	/* "請求書を送ります" from the ISO-2022-JP base64 part */
	CHECK(strstr(t, "\xe8\xab\x8b\xe6\xb1\x82\xe6\x9b\xb8\xe3\x82\x92\xe9\x80\x81") != NULL);
	/* "日本語のメール①" from the Shift_JIS part */
	CHECK(strstr(t, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\xa1\xe3\x83\xbc"
			"\xe3\x83\xab\xe2\x91\xa0") != NULL);
	CHECK(strstr(t, "<p>Gr\xc3\xbc\xc3\x9f" "e aus M\xc3\xbcnchen</p>") != NULL);
	CHECK(strstr(t, "\xe8\xab\x8b\xe6\xb1\x82.pdf") != NULL); /* attachment name */
	CHECK(strstr(t, "JVBER") == NULL);                          /* not its bytes */
	CHECK(strstr(t, "Subject") == NULL);                        /* BODY only */
	buf_reset(&text);
	mime_search_text(m, msg, strlen(msg), MIME_SEARCH_HEADERS, &text);
	t = buf_cstr(&text);
	CHECK(strstr(t, "Subject: \xe8\xa6\x8b\xe7\xa9\x8d\xe6\x9b\xb8\n") != NULL);
	CHECK(strstr(t, "From: \xe5\xb1\xb1\xe7\x94\xb0 <yamada@example.jp>\n") != NULL);
	CHECK(strstr(t, "Gr\xc3\xbc") == NULL);
	CHECK(mime_search_contains(t, text.len, "YAMADA@EXAMPLE", 14));
	buf_free(&text);
	mime_message_free(&m);
}

TEST(mime_search_text_nested_message_headers_in_body)
{
	const char *msg = crlf("Subject: outer\nContent-Type: message/rfc822\n\n"
			       "Subject: =?utf-8?q?inn=C3=A9r?=\n\ninner text\n");
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	struct buf text = BUF_INIT;
	mime_search_text(m, msg, strlen(msg), MIME_SEARCH_BODY, &text);
	CHECK(strstr(buf_cstr(&text), "Subject: inn\xc3\xa9r\n") != NULL);
	CHECK(strstr(buf_cstr(&text), "inner text") != NULL);
	CHECK(strstr(buf_cstr(&text), "outer") == NULL);
	buf_free(&text);
	mime_message_free(&m);
}

TEST(mime_search_folding)
{
	struct buf b = BUF_INIT;
	mime_search_fold("HeLLo \xc3\x84\xc3\x96\xc3\x9c \xce\xa3\xce\x9f\xce\xa6 \xd0\x9f\xd0\xa0",
			 24, &b);
	CHECK_EQ_STR(buf_cstr(&b), "hello \xc3\xa4\xc3\xb6\xc3\xbc \xcf\x83\xce\xbf\xcf\x86 "
				   "\xd0\xbf\xd1\x80");
	buf_reset(&b);
	/* Full-width "ＡＢＣ１" -> "abc1"; half-width "ｶﾞｷﾞ" -> "ガギ". */
	mime_search_fold("\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3\xef\xbc\x91", 12, &b);
	CHECK_EQ_STR(buf_cstr(&b), "abc1");
	buf_reset(&b);
	mime_search_fold("\xef\xbd\xb6\xef\xbe\x9e\xef\xbd\xb7\xef\xbe\x9e\xef\xbe\x8a\xef\xbe\x9f",
			 18, &b);
	CHECK_EQ_STR(buf_cstr(&b), "\xe3\x82\xac\xe3\x82\xae\xe3\x83\x91");
	buf_reset(&b);
	mime_search_fold("\xff" "A", 2, &b);
	CHECK_EQ_STR(buf_cstr(&b), "\xef\xbf\xbd" "a");
	buf_free(&b);
	CHECK(mime_search_contains("Quarterly REPORT", 16, "report", 6));
	CHECK(mime_search_contains("abc", 3, "", 0));
	CHECK(!mime_search_contains("abc", 3, "abcd", 4));
	/* "カタカナ" written half-width in the mail, searched full-width. */
	CHECK(mime_search_contains("\xef\xbd\xb6\xef\xbe\x80\xef\xbd\xb6\xef\xbe\x85", 12,
				   "\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a", 12));
	/* The two Japanese wave dashes. */
	CHECK(mime_search_contains("10\xe3\x80\x9c" "20", 7, "10\xef\xbd\x9e" "20", 7));
}

static const char *const serial_samples[] = {
	"From: a@b\r\nSubject: plain\r\n\r\nbody\r\n",
	"Content-Type: multipart/mixed; boundary=\"x\"; title*0*=utf-8''%E6%97%A5; title*1=a\r\n"
	"Content-Language: en, ja\r\nContent-Location: http://x/\r\nContent-MD5: abc\r\n\r\n"
	"--x\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline; a=b\r\n\r\n"
	"From: \"Q\" <q@r>\r\nTo: g: a@b, c@d;\r\nSubject: \xe6\x97\xa5\r\n\r\ninner\r\n"
	"--x\r\nContent-Type: text/plain; charset=iso-2022-jp\r\nContent-ID: <i@d>\r\n"
	"Content-Description: desc\r\nContent-Transfer-Encoding: base64\r\n\r\nGyRC\r\n--x--\r\n",
	"",
	"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: "
	"s\r\n\r\nb\r\n--d--\r\n",
};

TEST(mime_serialize_round_trip)
{
	for (size_t i = 0; i < sizeof serial_samples / sizeof serial_samples[0]; i++) {
		const char *msg = serial_samples[i];
		size_t len = strlen(msg);
		struct mime_message *m = mime_message_parse(msg, len, NULL);
		struct buf ser = BUF_INIT, a = BUF_INIT, b = BUF_INIT;
		mime_message_serialize(m, &ser);
		CHECK_EQ_INT((unsigned char)ser.data[0], MIME_SERIAL_VERSION);
		struct mime_message *r = mime_message_deserialize(ser.data, ser.len);
		CHECK(r != NULL);
		if (!r)
			continue;
		CHECK_EQ_INT(r->nparts, m->nparts);
		CHECK_EQ_INT(r->size, m->size);
		for (int ext = 0; ext < 2; ext++) {
			buf_reset(&a);
			buf_reset(&b);
			mime_imap_bodystructure(m, 0, ext, &a, 0);
			mime_imap_bodystructure(r, 0, ext, &b, 0);
			CHECK_EQ_STR(buf_cstr(&b), buf_cstr(&a));
		}
		buf_reset(&a);
		buf_reset(&b);
		mime_imap_envelope(m, 0, &a, 0);
		mime_imap_envelope(r, 0, &b, 0);
		CHECK_EQ_STR(buf_cstr(&b), buf_cstr(&a));
		for (uint32_t k = 0; k < m->nparts; k++) {
			CHECK_EQ_INT(r->parts[k].body_offset, m->parts[k].body_offset);
			CHECK_EQ_INT(r->parts[k].parent, m->parts[k].parent);
			CHECK_EQ_INT(r->parts[k].next_sibling, m->parts[k].next_sibling);
			CHECK_EQ_INT(r->parts[k].cte, m->parts[k].cte);
		}
		/* Serialising the copy gives the same bytes. */
		buf_reset(&a);
		mime_message_serialize(r, &a);
		CHECK(a.len == ser.len && memcmp(a.data, ser.data, a.len) == 0);
		/* Every truncation and a flipped version byte are refused, never misread. */
		for (size_t cut = 0; cut < ser.len; cut++) {
			struct mime_message *t = mime_message_deserialize(ser.data, cut);
			CHECK(t == NULL);
			mime_message_free(&t);
		}
		ser.data[0] = (char)(MIME_SERIAL_VERSION + 1);
		CHECK(mime_message_deserialize(ser.data, ser.len) == NULL);
		mime_message_free(&r);
		mime_message_free(&m);
		buf_free(&ser);
		buf_free(&a);
		buf_free(&b);
	}
	CHECK(mime_message_deserialize(NULL, 0) == NULL);
	CHECK(mime_message_deserialize("\x01\x00\x05", 3) == NULL);
}
