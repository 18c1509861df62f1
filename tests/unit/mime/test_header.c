#include "mime/mime.h"
#include "mime_test.h"
#include "test.h"

TEST(mime_header_iterates_fields_with_folding_and_offsets)
{
	const char *h = crlf("From: a@b.c\nSubject: one\n two\n\tthree\nX-Empty:\n\nbody\n");
	struct mime_header_iter it;
	struct mime_field f;
	mime_header_iter_init(&it, h, strlen(h), 0);
	CHECK(mime_header_next(&it, &f));
	CHECK(f.name_len == 4 && memcmp(f.name, "From", 4) == 0);
	CHECK(f.value_len == 6 && memcmp(f.value, " a@b.c", 6) == 0);
	CHECK_EQ_INT(f.offset, 0);
	CHECK_EQ_INT(f.size, 13);
	CHECK(mime_header_next(&it, &f));
	CHECK(f.name_len == 7 && memcmp(f.name, "Subject", 7) == 0);
	CHECK(f.value_len == 18 && memcmp(f.value, " one\r\n two\r\n\tthree", 18) == 0);
	CHECK_EQ_INT(f.offset, 13);
	CHECK_EQ_INT(f.size, 28);
	CHECK(mime_header_next(&it, &f));
	CHECK_EQ_INT(f.value_len, 0);
	CHECK(!mime_header_next(&it, &f)); /* stops at the empty line, not in the body */
	CHECK_EQ_INT(mime_header_block_size(h, strlen(h)), 13 + 28 + 10 + 2);
}

TEST(mime_header_tolerates_bare_lf_and_junk_lines)
{
	const char *h = " orphan continuation\nFrom mbox-line Mon Jan 1 00:00:00 2024\n"
			"Subject : spaced name\nno colon here\nTo: x@y\n";
	struct mime_header_iter it;
	struct mime_field f;
	mime_header_iter_init(&it, h, strlen(h), 0);
	CHECK(mime_header_next(&it, &f));
	CHECK(f.name_len == 7 && memcmp(f.name, "Subject", 7) == 0);
	CHECK(mime_header_next(&it, &f));
	CHECK(f.name_len == 2 && memcmp(f.name, "To", 2) == 0);
	CHECK(f.value_len == 4);
	CHECK(!mime_header_next(&it, &f));
	CHECK_EQ_INT(mime_header_block_size(h, strlen(h)), strlen(h)); /* no empty line */
}

TEST(mime_header_limit_on_field_count)
{
	const char *h = "A: 1\nB: 2\nC: 3\n\n";
	struct mime_header_iter it;
	struct mime_field f;
	mime_header_iter_init(&it, h, strlen(h), 2);
	CHECK(mime_header_next(&it, &f));
	CHECK(mime_header_next(&it, &f));
	CHECK(!mime_header_next(&it, &f));
}

TEST(mime_header_find_get_unfold)
{
	const char *h = crlf("Received: x\nSUBJECT:   Hello\n   world  \nsubject: second\n\n");
	struct buf b = BUF_INIT;
	CHECK(mime_header_get(h, strlen(h), "subject", &b));
	CHECK_EQ_STR(buf_cstr(&b), "Hello   world");
	buf_reset(&b);
	CHECK(!mime_header_get(h, strlen(h), "To", &b));
	CHECK_EQ_INT(b.len, 0);
	mime_header_unfold(" a\r\n\tb\r\n c ", 11, &b);
	CHECK_EQ_STR(buf_cstr(&b), "a\tb c");
	buf_free(&b);
}

TEST(mime_header_decode_rfc2047_basics)
{
	CHECK_EQ_STR(decoded_header("=?utf-8?q?caf=C3=A9_au_lait?="), "caf\xc3\xa9 au lait");
	CHECK_EQ_STR(decoded_header("=?UTF-8?B?5pel5pys6Kqe?= text"),
		     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e text");
	/* Whitespace between encoded-words goes; between a word and text it stays. */
	CHECK_EQ_STR(decoded_header("=?utf-8?q?a?= =?utf-8?q?b?=  x =?utf-8?q?c?="), "ab  x c");
	CHECK_EQ_STR(decoded_header("=?utf-8?q?a?=\r\n =?utf-8?q?b?="), "ab");
	/* Latin-1 labelled text is decoded as Windows-1252, as everybody does. */
	CHECK_EQ_STR(decoded_header("=?iso-8859-1?B?R3L832U=?="), "Gr\xc3\xbc\xc3\x9f" "e");
	/* Not encoded-words: left as they are. */
	CHECK_EQ_STR(decoded_header("=?utf-8?x?abc?= =?utf-8?q?a b?= =? ?="),
		     "=?utf-8?x?abc?= =?utf-8?q?a b?= =? ?=");
	CHECK_EQ_STR(decoded_header("a=?utf-8?q?b?=c"), "abc");
	/* RFC 2231 language in the charset. */
	CHECK_EQ_STR(decoded_header("=?US-ASCII*EN?Q?Keith_Moore?="), "Keith Moore");
	/* An unknown charset: bytes kept if they are UTF-8. */
	CHECK_EQ_STR(decoded_header("=?x-nonsense?q?ok?="), "ok");
}

TEST(mime_header_decode_joins_split_multibyte_words)
{
	/* UTF-8 character split across two words (forbidden, yet common). */
	CHECK_EQ_STR(decoded_header("=?UTF-8?B?5pel5g==?= =?UTF-8?B?nKzoqp4=?="),
		     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
}

TEST(mime_header_decode_japanese)
{
	/* ISO-2022-JP, the usual Japanese subject: "こんにちは". */
	CHECK_EQ_STR(decoded_header("=?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?="),
		     "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf");
	/* Two words, folded: "見積書" "について". */
	CHECK_EQ_STR(decoded_header("=?iso-2022-jp?B?GyRCOCtAUT1xGyhC?=\r\n"
				    " =?iso-2022-jp?B?GyRCJEskRCQkJEYbKEI=?="),
		     "\xe8\xa6\x8b\xe7\xa9\x8d\xe6\x9b\xb8\xe3\x81\xab\xe3\x81\xa4\xe3\x81\x84"
		     "\xe3\x81\xa6");
	/* Shift_JIS labelled CP932 text: NEC specials (①, ㈱). */
	CHECK_EQ_STR(decoded_header("=?Shift_JIS?B?h0CHig==?="), "\xe2\x91\xa0\xe3\x88\xb1");
	/* Raw ISO-2022-JP in a header, unencoded (old mailers). */
	CHECK_EQ_STR(decoded_header("Re: \x1b$B$3$s$K$A$O\x1b(B!"),
		     "Re: \xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf!");
	/* Raw Shift_JIS bytes (spam does this): guessed as CP932. */
	CHECK_EQ_STR(decoded_header("\x93\xfa\x96{\x8c\xea"),
		     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	/* Raw UTF-8 is kept. */
	CHECK_EQ_STR(decoded_header("\xe6\x97\xa5 ok"), "\xe6\x97\xa5 ok");
}

TEST(mime_charset_conversions)
{
	struct buf b = BUF_INIT;
	/* ISO-2022-JP with NEC row 13 (①), which glibc's own converter refuses. */
	CHECK(mime_charset_to_utf8("ISO-2022-JP", "\x1b$B-!$\"\x1b(B", 10, &b));
	CHECK_EQ_STR(buf_cstr(&b), "\xe2\x91\xa0\xe3\x81\x82");
	buf_reset(&b);
	/* Half-width katakana by ESC ( I, and by SO/SI. */
	CHECK(mime_charset_to_utf8("iso-2022-jp", "\x1b(I6\x1b(Ba\x0e" "7\x0f", 10, &b));
	CHECK_EQ_STR(buf_cstr(&b), "\xef\xbd\xb6" "a" "\xef\xbd\xb7");
	buf_reset(&b);
	/* EUC-JP (as eucJP-ms, with row 13). */
	CHECK(mime_charset_to_utf8("EUC-JP", "\xc6\xfc\xcb\xdc\xb8\xec\xad\xa1", 8, &b));
	CHECK_EQ_STR(buf_cstr(&b), "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe2\x91\xa0");
	buf_reset(&b);
	/* Shift_JIS body with ① (0x8740). */
	CHECK(mime_charset_to_utf8("shift_jis", "\x93\xfa\x87\x40", 4, &b));
	CHECK_EQ_STR(buf_cstr(&b), "\xe6\x97\xa5\xe2\x91\xa0");
	buf_reset(&b);
	/* Broken input: replaced, reported. */
	CHECK(!mime_charset_to_utf8("shift_jis", "a\x93", 2, &b));
	CHECK_EQ_STR(buf_cstr(&b), "a\xef\xbf\xbd");
	buf_reset(&b);
	CHECK(!mime_charset_to_utf8("utf-8", "a\xff\xc3", 3, &b));
	CHECK_EQ_STR(buf_cstr(&b), "a\xef\xbf\xbd\xef\xbf\xbd");
	buf_reset(&b);
	/* Unknown or dangerous names: taken as UTF-8, reported. */
	CHECK(!mime_charset_to_utf8("x-klingon", "ok", 2, &b));
	CHECK(!mime_charset_to_utf8("UTF-8//TRANSLIT", "ok", 2, &b));
	CHECK_EQ_STR(buf_cstr(&b), "okok");
	buf_reset(&b);
	CHECK(mime_charset_to_utf8("windows-1252", "\x80", 1, &b));
	CHECK_EQ_STR(buf_cstr(&b), "\xe2\x82\xac");
	buf_reset(&b);
	/* Overlong and surrogate UTF-8 are invalid. */
	CHECK(!mime_utf8_sanitize("\xc0\xaf\xed\xa0\x80", 5, &b));
	buf_free(&b);
}

TEST(mime_params_rfc2231_continuations_and_charsets)
{
	const char *msg = crlf(
	    "Content-Type: application/x-stuff;\n"
	    " title*0*=us-ascii'en'This%20is%20even%20more%20;\n"
	    " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\n"
	    " title*2=\"isn't it!\"\n"
	    "Content-Disposition: attachment;\n"
	    " filename*=UTF-8''%E6%B7%BB%E4%BB%98%E3%83%95%E3%82%A1%E3%82%A4%E3%83%AB%2E%70%64%66\n"
	    "\n"
	    "x\n");
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	const struct mime_part *p = &m->parts[0];
	CHECK_EQ_INT(p->nparams, 1);
	CHECK_EQ_STR(p->params[0].name, "title*");
	CHECK_EQ_STR(p->params[0].value,
		     "us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn't it!");
	struct buf b = BUF_INIT;
	CHECK(mime_part_param(p, false, "title", &b));
	CHECK_EQ_STR(buf_cstr(&b), "This is even more ***fun*** isn't it!");
	buf_reset(&b);
	CHECK(mime_part_param(p, true, "FILENAME", &b));
	CHECK_EQ_STR(buf_cstr(&b), "\xe6\xb7\xbb\xe4\xbb\x98\xe3\x83\x95\xe3\x82\xa1\xe3\x82\xa4"
				   "\xe3\x83\xab.pdf");
	buf_reset(&b);
	CHECK(!mime_part_param(p, true, "size", &b));
	buf_free(&b);
	mime_message_free(&m);
	CHECK(m == NULL);
}

TEST(mime_params_plain_continuations_quoting_and_2047_names)
{
	const char *msg =
	    crlf("Content-Type: text/plain; charset=\"ISO-2022-JP\" (comment); format=flowed\n"
		 "Content-Disposition: attachment; filename*1=\"part two.txt\"; filename*0=\"part "
		 "one \";\n"
		 " size=12; creation-date=\"Mon, 1 Jan 2024 10:00:00 +0900\"; "
		 "name=\"=?ISO-2022-JP?B?GyRCQEE1YT1xGyhCLnBkZg==?=\"\n"
		 "\n");
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	const struct mime_part *p = &m->parts[0];
	CHECK_EQ_STR(mime_part_charset(p), "ISO-2022-JP");
	CHECK_EQ_INT(p->nparams, 2);
	CHECK_EQ_STR(p->params[1].value, "flowed");
	CHECK_EQ_INT(p->ndisp_params, 4);
	/* Plain parameters first, then the joined RFC 2231 ones (Dovecot's order). */
	CHECK_EQ_STR(p->disp_params[0].name, "size");
	CHECK_EQ_STR(p->disp_params[1].value, "Mon, 1 Jan 2024 10:00:00 +0900");
	CHECK_EQ_STR(p->disp_params[3].name, "filename");
	CHECK_EQ_STR(p->disp_params[3].value, "part one part two.txt");
	struct buf b = BUF_INIT;
	CHECK(mime_part_param(p, true, "name", &b));
	CHECK_EQ_STR(buf_cstr(&b), "\xe8\xab\x8b\xe6\xb1\x82\xe6\x9b\xb8.pdf");
	buf_free(&b);
	mime_message_free(&m);
}

TEST(mime_params_rfc2231_gaps_and_mixed_sections)
{
	/* A gap: the sections stay apart, as Dovecot shows them. */
	const char *msg =
	    crlf("Content-Type: text/plain; b*2=\"two\"; B*0=zero; a*=utf-8''%41\n"
		 "Content-Disposition: inline; n*0*=utf-8''%E6%97%A5; n*1=\"100%\"\n\n");
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	const struct mime_part *p = &m->parts[0];
	CHECK_EQ_INT(p->nparams, 3);
	CHECK_EQ_STR(p->params[0].name, "a*");
	CHECK_EQ_STR(p->params[0].value, "utf-8''%41");
	CHECK_EQ_STR(p->params[1].name, "B*0");
	CHECK_EQ_STR(p->params[2].name, "b*2");
	CHECK_EQ_STR(p->params[2].value, "two");
	/* Plain sections after an extended one get '%' escaped. */
	CHECK_EQ_INT(p->ndisp_params, 1);
	CHECK_EQ_STR(p->disp_params[0].name, "n*");
	CHECK_EQ_STR(p->disp_params[0].value, "utf-8''%E6%97%A5100%25");
	struct buf b = BUF_INIT;
	CHECK(mime_part_param(p, true, "n", &b));
	CHECK_EQ_STR(buf_cstr(&b), "\xe6\x97\xa5" "100%");
	buf_free(&b);
	mime_message_free(&m);
}
