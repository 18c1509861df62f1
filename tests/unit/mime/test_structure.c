#include <time.h>

#include "mime/mime.h"
#include "mime_test.h"
#include "test.h"

static const char *body_of(const char *msg, const struct mime_part *p)
{
	static char out[4096];
	size_t n = p->body_size < sizeof out - 1 ? p->body_size : sizeof out - 1;
	memcpy(out, msg + p->body_offset, n);
	out[n] = '\0';
	return out;
}

TEST(mime_structure_plain_message_offsets)
{
	const char *msg = crlf("From: a@b\nSubject: hi\n\nline 1\nline 2\n");
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	CHECK_EQ_INT(m->nparts, 1);
	const struct mime_part *p = &m->parts[0];
	CHECK_EQ_INT(p->header_offset, 0);
	CHECK_EQ_INT(p->header_size, 26);
	CHECK_EQ_INT(p->body_offset, 26);
	CHECK_EQ_INT(p->body_size, 16);
	CHECK_EQ_INT(p->body_lines, 2);
	CHECK_EQ_STR(p->type, "text");
	CHECK_EQ_STR(p->subtype, "plain");
	CHECK(p->flags & MIME_PART_TEXT);
	CHECK(p->flags & MIME_PART_ENVELOPE);
	CHECK_EQ_STR(p->env[MIME_ENV_SUBJECT], "hi");
	CHECK(p->env[MIME_ENV_TO] == NULL);
	mime_message_free(&m);
}

TEST(mime_structure_alternative_with_preamble_epilogue_padding)
{
	const char *msg = crlf("Content-Type: multipart/alternative; boundary=\"==alt==\"\n\n"
			       "This is a preamble.\n"
			       "--==alt==  \t\n" /* transport padding */
			       "Content-Type: text/plain; charset=utf-8\n\nplain\n"
			       "--==alt==\nContent-Type: text/html\n\n<b>html</b>\n\n"
			       "--==alt==--   \nepilogue\n--==alt==\nnot a part\n");
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	CHECK_EQ_INT(m->nparts, 3);
	CHECK(m->parts[0].flags & MIME_PART_MULTIPART);
	CHECK_EQ_INT(m->parts[0].nchildren, 2);
	CHECK_EQ_STR(body_of(msg, &m->parts[1]), "plain");
	CHECK_EQ_INT(m->parts[1].body_lines, 0);
	CHECK_EQ_STR(body_of(msg, &m->parts[2]), "<b>html</b>\r\n");
	CHECK_EQ_INT(m->parts[2].body_lines, 1);
	/* The multipart's body runs to the end, epilogue included. */
	CHECK_EQ_INT(m->parts[0].body_offset + m->parts[0].body_size, strlen(msg));
	mime_message_free(&m);
}

TEST(mime_structure_mixed_attachments_and_nested_forward)
{
	const char *msg =
	    crlf("From: Alice <alice@example.com>\nTo: bob@example.com\nSubject: Fwd: report\n"
		 "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=outer\n\n"
		 "--outer\nContent-Type: text/plain\n\nSee below.\n"
		 "--outer\nContent-Type: application/pdf; name=report.pdf\n"
		 "Content-Transfer-Encoding: base64\nContent-Disposition: attachment; "
		 "filename=report.pdf\n\n"
		 "JVBERi0xLjQK\n"
		 "--outer\nContent-Type: message/rfc822\n\n"
		 "From: Carol <carol@example.com>\nSubject: report\n"
		 "Content-Type: multipart/mixed; boundary=inner\n\n"
		 "--inner\n\nhello\n--inner\nContent-Type: image/png\n\nPNG\n--inner--\n"
		 "--outer--\n");
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	CHECK_EQ_INT(m->nparts, 7);
	CHECK_EQ_INT(m->parts[0].nchildren, 3);
	CHECK_EQ_STR(m->parts[2].subtype, "pdf");
	CHECK_EQ_INT(m->parts[2].cte, MIME_CTE_BASE64);
	CHECK_EQ_STR(m->parts[2].disposition, "attachment");
	CHECK(m->parts[3].flags & MIME_PART_MESSAGE);
	CHECK(m->parts[4].flags & MIME_PART_ENVELOPE);
	CHECK(m->parts[4].flags & MIME_PART_MULTIPART);
	CHECK_EQ_STR(m->parts[4].env[MIME_ENV_SUBJECT], "report");
	CHECK_EQ_INT(m->parts[4].parent, 3);
	CHECK_EQ_STR(body_of(msg, &m->parts[5]), "hello");
	CHECK_EQ_STR(body_of(msg, &m->parts[6]), "PNG");
	/* The encapsulated message ends where the rfc822 part ends. */
	CHECK_EQ_INT(m->parts[3].body_offset + m->parts[3].body_size,
		     m->parts[4].body_offset + m->parts[4].body_size);
	CHECK_EQ_INT(m->parts[3].body_offset, m->parts[4].header_offset);
	mime_message_free(&m);
}

TEST(mime_structure_missing_final_boundary_and_outer_close)
{
	/* The inner multipart never closes: the outer boundary ends it. */
	const char *msg = crlf("Content-Type: multipart/mixed; boundary=a\n\n"
			       "--a\nContent-Type: multipart/alternative; boundary=b\n\n"
			       "--b\n\none\n--b\n\ntwo\n"
			       "--a\n\nthree\n");
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	CHECK_EQ_INT(m->nparts, 5);
	CHECK_EQ_INT(m->parts[0].nchildren, 2);
	CHECK_EQ_INT(m->parts[1].nchildren, 2);
	CHECK_EQ_STR(body_of(msg, &m->parts[3]), "two");
	CHECK_EQ_STR(body_of(msg, &m->parts[4]), "three\r\n");
	CHECK_EQ_INT(m->parts[4].parent, 0);
	mime_message_free(&m);
}

TEST(mime_structure_boundaries_prefix_of_each_other)
{
	/* Outer "abc" is a prefix of inner "abcdef": the longest match wins. */
	const char *msg = crlf("Content-Type: multipart/mixed; boundary=abc\n\n"
			       "--abc\nContent-Type: multipart/mixed; boundary=abcdef\n\n"
			       "--abcdef\n\nin1\n--abcdef\n\nin2\n--abcdef--\n"
			       "--abc\n\nout2\n--abc--\n");
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	CHECK_EQ_INT(m->nparts, 5);
	CHECK_EQ_INT(m->parts[0].nchildren, 2);
	CHECK_EQ_INT(m->parts[1].nchildren, 2);
	CHECK_EQ_STR(body_of(msg, &m->parts[2]), "in1");
	CHECK_EQ_STR(body_of(msg, &m->parts[3]), "in2");
	CHECK_EQ_STR(body_of(msg, &m->parts[4]), "out2");
	mime_message_free(&m);
	/* The same boundary reused by a nested multipart: the inner one takes it (innermost). */
	const char *msg2 = crlf("Content-Type: multipart/mixed; boundary=x\n\n"
				"--x\nContent-Type: multipart/mixed; boundary=x\n\n"
				"--x\n\ninner\n--x--\nafter\n");
	m = mime_message_parse(msg2, strlen(msg2), NULL);
	CHECK_EQ_INT(m->nparts, 3);
	CHECK_EQ_STR(body_of(msg2, &m->parts[2]), "inner");
	mime_message_free(&m);
}

TEST(mime_structure_boundary_in_part_header_and_garbage)
{
	/* A part whose header runs into the next boundary has no body. */
	const char *msg = crlf("Content-Type: multipart/mixed; boundary=b\n\n"
			       "--b\nContent-Type: text/plain\n--b\n\nsecond\n--b--\n");
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	CHECK_EQ_INT(m->nparts, 3);
	CHECK_EQ_INT(m->parts[1].body_size, 0);
	CHECK_EQ_STR(m->parts[1].type, "text");
	CHECK_EQ_INT(m->parts[1].header_size, strlen("Content-Type: text/plain"));
	CHECK_EQ_STR(body_of(msg, &m->parts[2]), "second");
	mime_message_free(&m);
	/* No boundary parameter; boundary never used; invalid Content-Type. */
	const char *nob = crlf("Content-Type: multipart/mixed\n\nx\n");
	CHECK_EQ_STR(
	    bodystructure_of(nob, false),
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")");
	const char *bad =
	    crlf("Content-Type: garbage\nContent-Transfer-Encoding: base64 junk\n\nx\n");
	CHECK_EQ_STR(bodystructure_of(bad, false),
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)");
}

TEST(mime_structure_bare_lf_message)
{
	const char *msg =
	    "Content-Type: multipart/mixed; boundary=z\n\n--z\n\nunix\nlines\n--z--\n";
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	CHECK_EQ_INT(m->nparts, 2);
	CHECK_EQ_STR(body_of(msg, &m->parts[1]), "unix\nlines");
	CHECK_EQ_INT(m->parts[1].body_lines, 1);
	CHECK_EQ_INT(m->parts[1].header_size, 1);
	mime_message_free(&m);
}

TEST(mime_structure_huge_header)
{
	struct buf msg = BUF_INIT;
	buf_append_str(&msg, "Subject: early\r\n");
	for (int i = 0; i < 20000; i++)
		buf_printf(&msg, "Received: from host%d by relay\r\n", i);
	buf_printf(&msg, "X-Long: ");
	for (int i = 0; i < 200000; i++)
		buf_append_char(&msg, 'v');
	buf_append_str(&msg, "\r\nContent-Type: text/html\r\n\r\nbody\r\n");
	struct mime_message *m = mime_message_parse(msg.data, msg.len, NULL);
	CHECK_EQ_INT(m->nparts, 1);
	CHECK_EQ_STR(m->parts[0].env[MIME_ENV_SUBJECT], "early");
	/* Past max_header_fields: not interpreted, but still part of the header bytes. */
	CHECK_EQ_STR(m->parts[0].subtype, "plain");
	CHECK_EQ_INT(m->parts[0].body_size, 6);
	CHECK_EQ_INT(m->parts[0].header_size, msg.len - 6);
	mime_message_free(&m);
	buf_free(&msg);
}

TEST(mime_structure_limits_depth_and_parts)
{
	/* 200 nested multiparts: parsed to the depth limit, the rest opaque. */
	struct buf msg = BUF_INIT;
	for (int i = 0; i < 200; i++)
		buf_printf(&msg, "Content-Type: multipart/mixed; boundary=b%03d\r\n\r\n--b%03d\r\n",
			   i, i);
	buf_append_str(&msg, "\r\ndeep\r\n");
	struct mime_message *m = mime_message_parse(msg.data, msg.len, NULL);
	CHECK_EQ_INT(m->nparts, MIME_DEFAULT_MAX_DEPTH + 1);
	CHECK(m->parts[m->nparts - 1].flags & MIME_PART_TRUNCATED);
	struct buf bs = BUF_INIT;
	mime_imap_bodystructure(m, 0, true, &bs, 0);
	CHECK(bs.len > 0);
	mime_message_free(&m);
	buf_free(&bs);

	/* 10000 parts: the first 4999 children are kept. */
	buf_reset(&msg);
	buf_append_str(&msg, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (int i = 0; i < 10000; i++)
		buf_append_str(&msg, "--p\r\n\r\nx\r\n");
	buf_append_str(&msg, "--p--\r\n");
	m = mime_message_parse(msg.data, msg.len, NULL);
	CHECK_EQ_INT(m->nparts, MIME_DEFAULT_MAX_PARTS);
	CHECK(m->parts[0].flags & MIME_PART_TRUNCATED);
	CHECK_EQ_INT(m->parts[0].body_offset + m->parts[0].body_size, msg.len);
	mime_message_free(&m);

	/* A caller's own limits. */
	struct mime_limits lim;
	mime_limits_default(&lim);
	lim.max_parts = 3;
	m = mime_message_parse(msg.data, msg.len, &lim);
	CHECK_EQ_INT(m->nparts, 3);
	mime_message_free(&m);
	buf_free(&msg);
}

TEST(mime_structure_hostile_input_is_linear)
{
	/* Lines that nearly match a long boundary, at full depth: must stay fast. */
	struct buf msg = BUF_INIT;
	char bnd[MIME_BOUNDARY_MAX + 1];
	memset(bnd, 'q', MIME_BOUNDARY_MAX);
	bnd[MIME_BOUNDARY_MAX] = '\0';
	for (int i = 0; i < 50; i++)
		buf_printf(
		    &msg,
		    "Content-Type: multipart/mixed; boundary=\"%.*s%02d\"\r\n\r\n--%.*s%02d\r\n",
		    MIME_BOUNDARY_MAX - 2, bnd, i, MIME_BOUNDARY_MAX - 2, bnd, i);
	buf_append_str(&msg, "\r\n");
	while (msg.len < 8 * 1024 * 1024)
		buf_printf(&msg, "--%.*sxx\r\n", MIME_BOUNDARY_MAX - 2, bnd);
	clock_t t0 = clock();
	struct mime_message *m = mime_message_parse(msg.data, msg.len, NULL);
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	CHECK_EQ_INT(m->nparts, 51);
	CHECK(secs < 5.0);
	mime_message_free(&m);
	/* Many encoded-word starts without an end. */
	buf_reset(&msg);
	buf_append_str(&msg, "Subject: ");
	for (int i = 0; i < 20000; i++)
		buf_append_str(&msg, "=?a?q?=?");
	struct buf out = BUF_INIT;
	t0 = clock();
	mime_header_decode(msg.data + 9, msg.len - 9, &out);
	CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
	buf_free(&out);
	buf_free(&msg);
}

TEST(mime_structure_empty_and_degenerate_messages)
{
	struct mime_message *m = mime_message_parse("", 0, NULL);
	CHECK_EQ_INT(m->nparts, 1);
	CHECK_EQ_INT(m->parts[0].header_size, 0);
	CHECK_EQ_INT(m->parts[0].body_size, 0);
	mime_message_free(&m);
	m = mime_message_parse(NULL, 5, NULL);
	CHECK_EQ_INT(m->size, 0);
	mime_message_free(&m);
	mime_message_free(&m); /* NULL is fine */
	const char *only_header = "Subject: x\r\nContent-Type: message/rfc822";
	m = mime_message_parse(only_header, strlen(only_header), NULL);
	CHECK_EQ_INT(m->nparts, 1);
	CHECK_EQ_INT(m->parts[0].header_size, strlen(only_header));
	struct buf b = BUF_INIT;
	mime_imap_bodystructure(m, 0, false, &b, 0);
	CHECK_EQ_STR(buf_cstr(&b),
		     "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL "
		     "NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" "
		     "\"us-ascii\") NIL NIL \"7bit\" 0 0) 0)");
	buf_free(&b);
	mime_message_free(&m);
}

TEST(mime_structure_empty_bodies_before_boundaries)
{
	/* The empty line of a header right before a boundary stays in the header, and the parts
	 * around it agree (found by fuzzing): the rfc822 part's body is the inner message. */
	const char *msg = crlf("Content-Type: multipart/mixed; boundary=b\n\n"
			       "--b\nContent-Type: message/rfc822\n\nSubject: x\n\n--b\n"
			       "Content-Type: multipart/mixed; boundary=c\n\n--c\nX: y\n\n--b--\n");
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	CHECK_EQ_INT(m->nparts, 5);
	const struct mime_part *p = &m->parts[1], *n = &m->parts[2];
	CHECK_EQ_INT(p->body_offset + p->body_size, n->body_offset + n->body_size);
	CHECK_EQ_INT(n->header_size, strlen("Subject: x\r\n\r\n"));
	CHECK_EQ_INT(n->body_size, 0);
	CHECK_EQ_INT(p->body_lines, 2);
	/* The inner multipart lost its close delimiter; its part's header is whole. */
	const struct mime_part *c = &m->parts[4];
	CHECK_EQ_INT(c->header_size, strlen("X: y\r\n\r\n"));
	CHECK(c->header_offset + c->header_size <= m->parts[3].body_offset + m->parts[3].body_size);
	mime_message_free(&m);
}

TEST(mime_structure_forward_chain_beyond_depth)
{
	/* A forward of a forward of ... 80 deep: nested to the limit, then opaque. */
	struct buf msg = BUF_INIT;
	for (int i = 0; i < 80; i++)
		buf_printf(&msg, "Subject: level %d\r\nContent-Type: message/rfc822\r\n\r\n", i);
	buf_append_str(&msg, "Subject: bottom\r\n\r\nbottom text\r\n");
	struct mime_message *m = mime_message_parse(msg.data, msg.len, NULL);
	/* Each level is a message/rfc822 part and, from the second on, the message inside it. */
	CHECK_EQ_INT(m->nparts, MIME_DEFAULT_MAX_DEPTH + 1);
	const struct mime_part *last = &m->parts[m->nparts - 1];
	CHECK(last->flags & MIME_PART_TRUNCATED);
	CHECK(last->flags & MIME_PART_ENVELOPE);
	CHECK_EQ_INT(last->body_offset + last->body_size, msg.len);
	CHECK_EQ_STR(m->parts[1].env[MIME_ENV_SUBJECT], "level 1");
	struct buf bs = BUF_INIT;
	mime_imap_bodystructure(m, m->nparts - 2, false, &bs, 0);
	CHECK(strstr(bs.data, "(NIL \"level 50\" NIL") != NULL);
	buf_reset(&bs);
	mime_imap_bodystructure(m, m->nparts - 1, false, &bs, 0);
	CHECK(strncmp(bs.data, "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" ", 39) == 0);
	CHECK(strstr(bs.data, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\"") !=
	      NULL);
	buf_free(&bs);
	mime_message_free(&m);
	buf_free(&msg);
}
