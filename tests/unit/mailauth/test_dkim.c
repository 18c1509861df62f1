/* DKIM: the tag-list parsers, RFC 6376 3.4.5 canonicalization, the RFC 8463 Appendix A
 * messages (read from tests/testdata/dkim-rfc8463, or $YUBIN_TESTDATA/dkim-rfc8463),
 * signing round trips, the RFC 8301 rules, key tags, and hostile input with bounded cost. */
#include <stdlib.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_internal.h"
#include "test.h"

/* ---- helpers ---- */

static bool read_testdata(const char *name, struct buf *out)
{
	const char *dir = getenv("YUBIN_TESTDATA");
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/dkim-rfc8463/%s", dir ? dir : "tests/testdata", name);
	FILE *f = fopen(path.data, "rb");
	if (!f) {
		printf("  missing test data %s (set YUBIN_TESTDATA to the testdata directory)\n",
		       path.data);
		buf_free(&path);
		return false;
	}
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(out, chunk, n);
	fclose(f);
	buf_free(&path);
	return true;
}

/* The file with every LF made CRLF, as the message is on the wire. */
static bool read_crlf(const char *name, struct buf *out)
{
	struct buf raw = BUF_INIT;
	if (!read_testdata(name, &raw))
		return false;
	for (size_t i = 0; i < raw.len; i++) {
		if (raw.data[i] == '\n' && (i == 0 || raw.data[i - 1] != '\r'))
			buf_append_char(out, '\r');
		buf_append_char(out, raw.data[i]);
	}
	buf_free(&raw);
	return true;
}

struct txt {
	const char *name, *record;
};

static const struct txt rfc8463_keys[] = {
	{ "brisbane._domainkey.football.example.com",
	  "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=" },
	{ "test._domainkey.football.example.com",
	  "v=DKIM1; g=*; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5"
	  "qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4h"
	  "stT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB" },
};

/* Runs the verifier with these records (names not listed: no record). */
/* When set, the body hashes are computed before the keys are given, as the server does for a
 * large message (on its worker, during the lookups). */
static bool hash_first;

static struct dkim_verifier *verify_with(const char *msg, size_t len, const struct txt *keys,
					 size_t nkeys, time_t now)
{
	struct dkim_verifier *v = dkim_verifier_new(msg, len);
	if (hash_first)
		dkim_verifier_hash_bodies(v);
	for (size_t i = 0; i < dkim_verifier_key_count(v); i++) {
		const char *name = dkim_verifier_key_name(v, i);
		bool found = false;
		for (size_t k = 0; k < nkeys && !found; k++)
			if (strcmp(keys[k].name, name) == 0) {
				dkim_verifier_set_key(v, i, DKIM_DNS_FOUND, keys[k].record,
						      strlen(keys[k].record));
				found = true;
			}
		if (!found)
			dkim_verifier_set_key(v, i, DKIM_DNS_NONE, NULL, 0);
	}
	dkim_verifier_run(v, now);
	return v;
}

#define NOW ((time_t)1700000000)

/* ---- parsers ---- */

TEST(dkim_signature_parse_fields)
{
	const char *s = " v=1; a=rsa-sha256; c=relaxed/simple;\r\n d=example.com; s=sel;\r\n\t"
			"h=From : To:\r\n subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"
			" l=10; t=100; x=200; i=joe@mail.example.com; z=From:x|To:y;\r\n b=AQID BA==";
	struct dkim_signature sig;
	const char *why = NULL;
	CHECK(dkim_signature_parse(s, strlen(s), &sig, &why));
	CHECK(sig.alg == DKIM_ALG_RSA_SHA256);
	CHECK(sig.hcanon == DKIM_CANON_RELAXED && sig.bcanon == DKIM_CANON_SIMPLE);
	CHECK_EQ_STR(sig.d, "example.com");
	CHECK_EQ_STR(sig.s, "sel");
	CHECK_EQ_STR(sig.i, "joe@mail.example.com");
	CHECK_EQ_INT(sig.h_count, 3);
	CHECK_EQ_STR(sig.h[0], "From");
	CHECK_EQ_STR(sig.h[1], "To");
	CHECK_EQ_STR(sig.h[2], "subject");
	CHECK(sig.has_l && sig.l == 10);
	CHECK(sig.has_t && sig.t == 100 && sig.has_x && sig.x == 200);
	CHECK_EQ_INT(sig.b_len, 4);
	CHECK(sig.b[0] == 1 && sig.b[3] == 4);
	CHECK_EQ_INT(sig.bh_len, 32);
	/* b= value offsets cover everything up to the end (FWS included) */
	CHECK_EQ_INT(sig.b_value_end, strlen(s));
	CHECK(memcmp(s + sig.b_value_start, "AQID", 4) == 0);
	dkim_signature_free(&sig);

	/* c= absent: simple/simple; c=relaxed alone: relaxed/simple; no i=: "@d" */
	const char *s2 = "v=1;a=ed25519-sha256;d=Example.COM;s=x;h=from;"
			 "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;b=AA==;";
	CHECK(dkim_signature_parse(s2, strlen(s2), &sig, &why));
	CHECK(sig.alg == DKIM_ALG_ED25519_SHA256);
	CHECK(sig.hcanon == DKIM_CANON_SIMPLE && sig.bcanon == DKIM_CANON_SIMPLE);
	CHECK_EQ_STR(sig.i, "@Example.COM");
	dkim_signature_free(&sig);
}

static const char *sig_error(const char *s)
{
	struct dkim_signature sig;
	const char *why = NULL;
	if (dkim_signature_parse(s, strlen(s), &sig, &why)) {
		dkim_signature_free(&sig);
		return "(parsed)";
	}
	return why ? why : "(no reason)";
}

#define BH "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"
TEST(dkim_signature_parse_errors)
{
	CHECK_EQ_STR(sig_error("v=2; a=rsa-sha256; d=a; s=b; h=from; " BH " b=AA=="),
		     "the signature is not version 1 (v=1)");
	CHECK_EQ_STR(sig_error("a=rsa-sha256; d=a; s=b; h=from; " BH " b=AA=="),
		     "the signature has no v= tag");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-sha256; d=a; s=b; h=from; " BH),
		     "the signature has no b= tag");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-md5; d=a; s=b; h=from; " BH " b=AA=="),
		     "unknown signing algorithm in a=");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-sha256; d=a; d=a; s=b; h=from; " BH " b=AA=="),
		     "a tag appears twice in the signature");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-sha256; d=a; s=b; h=to:subject; " BH " b=AA=="),
		     "h= does not include From");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-sha256; d=a; s=b; h=from::to; " BH " b=AA=="),
		     "h= has an empty field name");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-sha256; d=a; s=b; h=from; " BH " b=A!A=="),
		     "b= is not valid base64");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-sha256; d=a; s=b; h=from; bh=AAAA; b=AA=="),
		     "bh= has the wrong length for the hash in a=");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-sha256; d=example.com; s=b; h=from; i=x@notexample.com; "
			       BH " b=AA=="),
		     "the domain of i= is not d= or a subdomain of it");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-sha256; d=a; s=b; h=from; t=200; x=100; " BH " b=AA=="),
		     "x= (expiry) is before t= (signing time)");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-sha256; d=a; s=b; h=from; l=1x; " BH " b=AA=="),
		     "l= is not a number");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-sha256; d=a; s=b; h=from; q=http; " BH " b=AA=="),
		     "q= does not offer dns/txt");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-sha256; d=a; s=b; h=from; c=fancy; " BH " b=AA=="),
		     "unknown canonicalization in c=");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-sha256; d=a/../b; s=b; h=from; " BH " b=AA=="),
		     "d= is not a domain name");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-sha256; d=example..org; s=b; h=from; " BH " b=AA=="),
		     "d= is not a domain name");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-sha256; d=a; s=b c; h=from; " BH " b=AA=="),
		     "s= is not a selector");
	CHECK_EQ_STR(sig_error("v=1; a=rsa-sha256; d=a; s=sel.2024_a; h=from; " BH " b=AA=="),
		     "(parsed)");
	CHECK_EQ_STR(sig_error("v=1; 9a=1; d=a"), "a tag name must start with a letter");
	CHECK_EQ_STR(sig_error("v=1; a"), "a tag has no '='");
	CHECK_EQ_STR(sig_error("v=1; a=\x01"), "a tag value holds a control character");
	CHECK_EQ_STR(sig_error(""), "the signature has no v= tag");
}

static const char *key_error(const char *s, struct dkim_key *out)
{
	const char *why = NULL;
	struct dkim_key key;
	if (dkim_key_parse(s, strlen(s), &key, &why)) {
		if (out)
			*out = key;
		else
			dkim_key_free(&key);
		return "(parsed)";
	}
	return why ? why : "(no reason)";
}

TEST(dkim_key_parse_tags)
{
	struct dkim_key k;
	CHECK_EQ_STR(key_error("v=DKIM1; k=ed25519; h=sha256; s=email:other; t=y:s; g=jo*; p=AAEC",
			       &k),
		     "(parsed)");
	CHECK(k.type == DKIM_KEY_ED25519 && k.sha256_ok && !k.sha1_ok && k.email_ok);
	CHECK(k.testing && k.strict && k.has_g);
	CHECK_EQ_STR(k.g, "jo*");
	CHECK_EQ_INT(k.p_len, 3);
	dkim_key_free(&k);
	CHECK_EQ_STR(key_error("p=", &k), "(parsed)"); /* revoked, defaults */
	CHECK(k.type == DKIM_KEY_RSA && k.p_len == 0 && k.sha1_ok && k.sha256_ok && k.email_ok);
	CHECK(!k.testing && !k.strict);
	dkim_key_free(&k);
	CHECK_EQ_STR(key_error("s=*; p=", &k), "(parsed)");
	CHECK(k.email_ok);
	dkim_key_free(&k);
	CHECK_EQ_STR(key_error("s=tlsrpt; p=", &k), "(parsed)");
	CHECK(!k.email_ok);
	dkim_key_free(&k);

	CHECK_EQ_STR(key_error("k=rsa; v=DKIM1; p=", NULL),
		     "the key record's v= is not DKIM1 or not first");
	CHECK_EQ_STR(key_error("v=DKIM2; p=", NULL), "the key record's v= is not DKIM1 or not first");
	CHECK_EQ_STR(key_error("v=DKIM1; k=dsa; p=", NULL),
		     "the key record's k= names an unknown key type");
	CHECK_EQ_STR(key_error("v=DKIM1; k=rsa", NULL), "the key record has no p= tag");
	CHECK_EQ_STR(key_error("v=DKIM1; p=%%%", NULL), "the key record's p= is not valid base64");
	CHECK_EQ_STR(key_error("v=DKIM1; p=; p=", NULL), "a tag appears twice in the key record");
	CHECK_EQ_STR(key_error("garbage", NULL), "a tag has no '='");
}

TEST(dkim_base64)
{
	unsigned char *o;
	size_t n;
	CHECK(dkim_base64_decode("aGVsbG8=", 8, &o, &n) && n == 5 && memcmp(o, "hello", 5) == 0);
	free(o);
	CHECK(dkim_base64_decode("aGVs\r\n bG8", 10, &o, &n) && n == 5 && memcmp(o, "hello", 5) == 0);
	free(o);
	CHECK(dkim_base64_decode("", 0, &o, &n) && n == 0 && o == NULL);
	CHECK(!dkim_base64_decode("aGVsbG8=x", 9, &o, &n));
	CHECK(!dkim_base64_decode("a", 1, &o, &n));
	CHECK(!dkim_base64_decode("a===", 4, &o, &n));
	CHECK(!dkim_base64_decode("aG-s", 4, &o, &n));
}

/* ---- canonicalization: RFC 6376 3.4.5 ---- */

static void emit_buf(void *ctx, const void *d, size_t n)
{
	buf_append(ctx, d, n);
}

TEST(dkim_canon_rfc6376_example)
{
	const char *h1 = "A: X\r\n", *h2 = "B : Y\t\r\n\tZ  \r\n";
	const char *body = " C \r\nD \t E\r\n\r\n\r\n";
	struct buf out = BUF_INIT;
	dkim_canon_header(DKIM_CANON_RELAXED, h1, strlen(h1), &out);
	dkim_canon_header(DKIM_CANON_RELAXED, h2, strlen(h2), &out);
	CHECK_EQ_STR(out.data, "a:X\r\nb:Y Z\r\n");
	buf_reset(&out);
	dkim_canon_header(DKIM_CANON_SIMPLE, h1, strlen(h1), &out);
	dkim_canon_header(DKIM_CANON_SIMPLE, h2, strlen(h2), &out);
	CHECK_EQ_STR(out.data, "A: X\r\nB : Y\t\r\n\tZ  \r\n");
	buf_reset(&out);
	CHECK_EQ_INT(dkim_canon_body(DKIM_CANON_RELAXED, body, strlen(body), emit_buf, &out), 9);
	CHECK_EQ_STR(out.data, " C\r\nD E\r\n");
	buf_reset(&out);
	CHECK_EQ_INT(dkim_canon_body(DKIM_CANON_SIMPLE, body, strlen(body), emit_buf, &out), 12);
	CHECK_EQ_STR(out.data, " C \r\nD \t E\r\n");

	/* Empty bodies: simple is one CRLF, relaxed nothing; a last line without CRLF gets one;
	 * bare LF is read as CRLF. */
	buf_reset(&out);
	CHECK_EQ_INT(dkim_canon_body(DKIM_CANON_SIMPLE, "\r\n\r\n", 4, emit_buf, &out), 2);
	CHECK_EQ_STR(out.data, "\r\n");
	buf_reset(&out);
	CHECK_EQ_INT(dkim_canon_body(DKIM_CANON_RELAXED, " \r\n\t\r\n", 6, emit_buf, &out), 0);
	buf_reset(&out);
	dkim_canon_body(DKIM_CANON_SIMPLE, "a\nb", 3, emit_buf, &out);
	CHECK_EQ_STR(out.data, "a\r\nb\r\n");
	buf_reset(&out);
	dkim_canon_header(DKIM_CANON_SIMPLE, "X: a\n b\n", 8, &out);
	CHECK_EQ_STR(out.data, "X: a\r\n b\r\n");
	buf_free(&out);

	/* The body hash honours l=: the hash of the first 3 canonical bytes. */
	unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
	uint64_t clen;
	dkim_body_hash(DKIM_CANON_SIMPLE, EVP_sha256(), "abcdef\r\n", 8, 3, a, &clen);
	CHECK_EQ_INT(clen, 8);
	EVP_Digest("abc", 3, b, NULL, EVP_sha256(), NULL);
	CHECK(memcmp(a, b, 32) == 0);
}

/* RFC 6376 3.4.3/3.4.4 read literally, one line at a time, for the comparison below. */
static void canon_reference(enum dkim_canon c, const char *body, size_t len, struct buf *out)
{
	size_t empty = 0, pos = 0;
	struct buf line = BUF_INIT;
	while (pos < len) {
		buf_reset(&line);
		size_t end = pos;
		while (end < len && body[end] != '\n')
			end++;
		/* CR before LF belongs to the line end; a last line without LF keeps all of it */
		size_t stop = end < len && end > pos && body[end - 1] == '\r' ? end - 1 : end;
		for (size_t i = pos; i < stop; i++) {
			char ch = body[i];
			bool wsp = ch == ' ' || ch == '\t';
			if (c == DKIM_CANON_RELAXED && wsp) {
				/* a run of WSP is one SP */
				if (i == pos || (body[i - 1] != ' ' && body[i - 1] != '\t'))
					buf_append_char(&line, ' ');
				continue;
			}
			buf_append_char(&line, ch);
		}
		if (c == DKIM_CANON_RELAXED)
			while (line.len && line.data[line.len - 1] == ' ')
				line.data[--line.len] = '\0';
		pos = end < len ? end + 1 : len;
		if (line.len == 0) {
			empty++;
			continue;
		}
		for (; empty; empty--)
			buf_append(out, "\r\n", 2);
		buf_append(out, line.data ? line.data : "", line.len);
		buf_append(out, "\r\n", 2);
	}
	if (out->len == 0 && c == DKIM_CANON_SIMPLE)
		buf_append(out, "\r\n", 2);
	buf_free(&line);
}

/* The fast canonicalization (which hands over runs of the message itself) against the
 * reference, on random bodies made of the characters that matter, and on a long plain text. */
TEST(dkim_canon_body_matches_reference)
{
	static const char alphabet[] = { 'a', 'b', ' ', ' ', '\t', '\r', '\n', '\n', '.' };
	unsigned seed = 12345;
	struct buf body = BUF_INIT, want = BUF_INIT, got = BUF_INIT;
	for (int round = 0; round < 4000; round++) {
		buf_reset(&body);
		size_t n = (size_t)(round % 97) + (round % 5 == 0 ? 2000 : 0);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			unsigned r = seed >> 16;
			/* odd rounds: long lines, so that whole 8-byte words are scanned */
			if (round % 2 && r % 64 != 0)
				buf_append_char(&body, "abcdefg \t "[r % 10]);
			else
				buf_append_char(&body, alphabet[r % sizeof alphabet]);
		}
		for (int c = 0; c < 2; c++) {
			enum dkim_canon canon = c ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
			buf_reset(&want);
			buf_reset(&got);
			canon_reference(canon, body.data ? body.data : "", body.len, &want);
			uint64_t total = dkim_canon_body(canon, body.data ? body.data : "", body.len,
							 emit_buf, &got);
			CHECK_EQ_INT(total, want.len);
			CHECK(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);
		}
	}
	buf_reset(&body);
	for (int i = 0; i < 3000; i++)
		buf_printf(&body, "%sline %d of a plain text with single blanks\r\n",
			   i % 40 == 0 ? "  " : "", i);
	for (int c = 0; c < 2; c++) {
		enum dkim_canon canon = c ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
		buf_reset(&want);
		buf_reset(&got);
		canon_reference(canon, body.data, body.len, &want);
		CHECK_EQ_INT(dkim_canon_body(canon, body.data, body.len, emit_buf, &got), want.len);
		CHECK(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);
	}
	buf_free(&body);
	buf_free(&want);
	buf_free(&got);
}

/* ---- RFC 8463 Appendix A ---- */

TEST(dkim_rfc8463_both_signatures)
{
	struct buf msg = BUF_INIT;
	if (!read_crlf("signed-ed25519-and-rsa.msg", &msg)) {
		CHECK(!"RFC 8463 test data present");
		return;
	}
	struct dkim_verifier *v = verify_with(msg.data, msg.len, rfc8463_keys, 2, NOW);
	CHECK_EQ_INT(dkim_verifier_key_count(v), 2);
	CHECK_EQ_STR(dkim_verifier_key_name(v, 0), "brisbane._domainkey.football.example.com");
	CHECK_EQ_INT(dkim_verifier_count(v), 2);
	const struct dkim_outcome *e = dkim_verifier_result(v, 0), *r = dkim_verifier_result(v, 1);
	CHECK_EQ_STR(dkim_result_name(e->result), "pass");
	CHECK_EQ_STR(e->alg, "ed25519-sha256");
	CHECK_EQ_STR(e->domain, "football.example.com");
	CHECK_EQ_STR(e->selector, "brisbane");
	CHECK_EQ_STR(dkim_result_name(r->result), "pass");
	CHECK_EQ_STR(r->alg, "rsa-sha256");
	CHECK_EQ_INT(r->key_bits, 1024);
	CHECK(!e->l_used && !r->l_used);
	dkim_verifier_free(&v);

	/* The file as stored (bare LF) verifies too. */
	struct buf lf = BUF_INIT;
	read_testdata("signed-ed25519-and-rsa.msg", &lf);
	v = verify_with(lf.data, lf.len, rfc8463_keys, 2, NOW);
	CHECK(dkim_verifier_result(v, 0)->result == DKIM_PASS);
	CHECK(dkim_verifier_result(v, 1)->result == DKIM_PASS);
	dkim_verifier_free(&v);
	buf_free(&lf);

	/* A changed body: both fail on the body hash. */
	struct buf m2 = BUF_INIT;
	buf_append(&m2, msg.data, msg.len);
	char *p = strstr(m2.data, "hungry");
	p[0] = 'H';
	v = verify_with(m2.data, m2.len, rfc8463_keys, 2, NOW);
	for (size_t i = 0; i < 2; i++) {
		CHECK(dkim_verifier_result(v, i)->result == DKIM_FAIL);
		CHECK(strstr(dkim_verifier_result(v, i)->reason, "body hash did not match"));
	}
	dkim_verifier_free(&v);

	/* A changed signed header: both fail on the signature. */
	buf_reset(&m2);
	buf_append(&m2, msg.data, msg.len);
	p = strstr(m2.data, "Is dinner ready?");
	p[0] = 'I', p[1] = 'S';
	v = verify_with(m2.data, m2.len, rfc8463_keys, 2, NOW);
	for (size_t i = 0; i < 2; i++) {
		CHECK(dkim_verifier_result(v, i)->result == DKIM_FAIL);
		CHECK(strstr(dkim_verifier_result(v, i)->reason, "signature did not verify"));
	}
	dkim_verifier_free(&v);

	/* A second Subject added on top: the oversigned Subject (h= lists it twice) catches it. */
	buf_reset(&m2);
	size_t at = (size_t)(strstr(msg.data, "From: Joe") - msg.data);
	buf_append(&m2, msg.data, at);
	buf_append_str(&m2, "Subject: win a prize\r\n");
	buf_append(&m2, msg.data + at, msg.len - at);
	v = verify_with(m2.data, m2.len, rfc8463_keys, 2, NOW);
	CHECK(dkim_verifier_result(v, 0)->result == DKIM_FAIL);
	dkim_verifier_free(&v);

	/* An unsigned field added: still passes. */
	buf_reset(&m2);
	buf_append(&m2, msg.data, at);
	buf_append_str(&m2, "X-Extra: 1\r\n");
	buf_append(&m2, msg.data + at, msg.len - at);
	v = verify_with(m2.data, m2.len, rfc8463_keys, 2, NOW);
	CHECK(dkim_verifier_result(v, 0)->result == DKIM_PASS);
	dkim_verifier_free(&v);

	/* No answer / temporary failure / no record. */
	v = dkim_verifier_new(msg.data, msg.len);
	dkim_verifier_set_key(v, 0, DKIM_DNS_TEMPFAIL, NULL, 0);
	dkim_verifier_set_key(v, 1, DKIM_DNS_NONE, NULL, 0);
	dkim_verifier_run(v, NOW);
	CHECK(dkim_verifier_result(v, 0)->result == DKIM_TEMPERROR);
	CHECK(dkim_verifier_result(v, 1)->result == DKIM_PERMERROR);
	CHECK(strstr(dkim_verifier_result(v, 1)->reason, "no key published at test._domainkey"));
	dkim_verifier_free(&v);
	buf_free(&m2);
	buf_free(&msg);
}

/* Verifies the RFC 8463 message with one key record replaced; returns the ed25519 outcome's
 * result and copies its reason. */
static enum dkim_result rfc8463_with_key(const char *ed_record, const char *rsa_record,
					 char *reason, size_t cap, bool *testing)
{
	struct buf msg = BUF_INIT;
	if (!read_crlf("signed-ed25519-and-rsa.msg", &msg))
		return DKIM_NOT_CHECKED;
	struct txt keys[2] = { { rfc8463_keys[0].name, ed_record ? ed_record : rfc8463_keys[0].record },
			       { rfc8463_keys[1].name, rsa_record ? rsa_record : rfc8463_keys[1].record } };
	struct dkim_verifier *v = verify_with(msg.data, msg.len, keys, 2, NOW);
	const struct dkim_outcome *o = dkim_verifier_result(v, rsa_record ? 1 : 0);
	enum dkim_result r = o->result;
	snprintf(reason, cap, "%s", o->reason);
	if (testing)
		*testing = o->testing;
	dkim_verifier_free(&v);
	buf_free(&msg);
	return r;
}


/* The same checks with the body hashes computed first, before any key is known. */
TEST(dkim_bodies_hashed_before_the_keys)
{
	struct buf msg = BUF_INIT;
	if (!read_crlf("signed-ed25519-and-rsa.msg", &msg)) {
		CHECK(!"RFC 8463 test data present");
		return;
	}
	hash_first = true;
	struct dkim_verifier *v = verify_with(msg.data, msg.len, rfc8463_keys, 2, NOW);
	CHECK_EQ_INT(dkim_verifier_count(v), 2);
	for (size_t i = 0; i < 2; i++)
		CHECK(dkim_verifier_result(v, i)->result == DKIM_PASS);
	dkim_verifier_free(&v);
	struct buf m2 = BUF_INIT;
	buf_append(&m2, msg.data, msg.len);
	char *p = strstr(m2.data, "hungry");
	p[0] = 'H';
	v = verify_with(m2.data, m2.len, rfc8463_keys, 2, NOW);
	for (size_t i = 0; i < 2; i++) {
		CHECK(dkim_verifier_result(v, i)->result == DKIM_FAIL);
		CHECK(strstr(dkim_verifier_result(v, i)->reason, "body hash did not match"));
	}
	dkim_verifier_free(&v);
	/* No key for either: the hashes were computed for nothing, and nothing leaks. */
	v = verify_with(msg.data, msg.len, rfc8463_keys, 0, NOW);
	for (size_t i = 0; i < 2; i++)
		CHECK(dkim_verifier_result(v, i)->result == DKIM_PERMERROR);
	dkim_verifier_free(&v);
	hash_first = false;
	buf_free(&m2);
	buf_free(&msg);
}
TEST(dkim_key_tags_applied)
{
	char why[256];
	bool testing = false;
	const char *ed = "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	struct buf rec = BUF_INIT;
#define ED_WITH(tags) (buf_reset(&rec), buf_printf(&rec, "v=DKIM1; k=ed25519; %s %s", tags, ed), rec.data)
	CHECK(rfc8463_with_key(ED_WITH("t=y;"), NULL, why, sizeof why, &testing) == DKIM_PASS);
	CHECK(testing);
	CHECK(strstr(why, "testing mode"));
	CHECK(rfc8463_with_key(ED_WITH("h=sha1;"), NULL, why, sizeof why, NULL) == DKIM_PERMERROR);
	CHECK(strstr(why, "does not allow SHA-256"));
	CHECK(rfc8463_with_key(ED_WITH("h=sha1:sha256;"), NULL, why, sizeof why, NULL) == DKIM_PASS);
	CHECK(rfc8463_with_key(ED_WITH("s=tlsrpt;"), NULL, why, sizeof why, NULL) == DKIM_PERMERROR);
	CHECK(strstr(why, "not for email"));
	CHECK(rfc8463_with_key(ED_WITH("s=email;"), NULL, why, sizeof why, NULL) == DKIM_PASS);
	CHECK(rfc8463_with_key(ED_WITH("g=joe;"), NULL, why, sizeof why, NULL) == DKIM_PERMERROR);
	CHECK(strstr(why, "granularity"));
	CHECK(rfc8463_with_key(ED_WITH("g=*;"), NULL, why, sizeof why, NULL) == DKIM_PASS);
	/* i=@football.example.com equals d=, so t=s (no subdomains) is satisfied. */
	CHECK(rfc8463_with_key(ED_WITH("t=s;"), NULL, why, sizeof why, NULL) == DKIM_PASS);
	CHECK(rfc8463_with_key("v=DKIM1; k=ed25519; p=", NULL, why, sizeof why, NULL) ==
	      DKIM_PERMERROR);
	CHECK(strstr(why, "revoked"));
	/* An RSA record for an Ed25519 signature, and the other way round. */
	CHECK(rfc8463_with_key(rfc8463_keys[1].record, NULL, why, sizeof why, NULL) ==
	      DKIM_PERMERROR);
	CHECK(strstr(why, "does not match a=ed25519-sha256"));
	CHECK(rfc8463_with_key(NULL, rfc8463_keys[0].record, why, sizeof why, NULL) ==
	      DKIM_PERMERROR);
	/* Garbage where the key should be. */
	CHECK(rfc8463_with_key("v=DKIM1; k=ed25519; p=AAAA", NULL, why, sizeof why, NULL) ==
	      DKIM_PERMERROR);
	CHECK(strstr(why, "not a valid Ed25519 public key"));
	CHECK(rfc8463_with_key(NULL, "v=DKIM1; p=SGVsbG8gd29ybGQgZ2FyYmFnZSBrZXkgZGF0YQ==", why,
			       sizeof why, NULL) == DKIM_PERMERROR);
	CHECK(strstr(why, "not a valid RSA public key"));
	CHECK(rfc8463_with_key("\x01\x02;;;==", NULL, why, sizeof why, NULL) == DKIM_PERMERROR);
	CHECK(strstr(why, "unusable"));
	buf_free(&rec);
}

/* ---- signing ---- */

static EVP_PKEY *gen_key(int type, int bits)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(type, NULL);
	EVP_PKEY *k = NULL;
	EVP_PKEY_keygen_init(c);
	if (type == EVP_PKEY_RSA)
		EVP_PKEY_CTX_set_rsa_keygen_bits(c, bits);
	EVP_PKEY_keygen(c, &k);
	EVP_PKEY_CTX_free(c);
	return k;
}

/* The DNS record for a key: SubjectPublicKeyInfo for RSA, the raw 32 bytes for Ed25519. */
static void key_record(EVP_PKEY *k, struct buf *out)
{
	unsigned char raw[8192], *p = raw;
	size_t n = sizeof raw;
	bool ed = EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519;
	if (ed)
		EVP_PKEY_get_raw_public_key(k, raw, &n);
	else
		n = (size_t)i2d_PUBKEY(k, &p);
	unsigned char *b64 = xmalloc(n * 2 + 4);
	EVP_EncodeBlock(b64, raw, (int)n);
	buf_printf(out, "v=DKIM1; k=%s; p=%s", ed ? "ed25519" : "rsa", b64);
	free(b64);
}

static const char *plain_msg = "From: Ann <ann@example.org>\r\n"
			       "To: bob@example.net\r\n"
			       "Subject: lunch\r\n"
			       "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
			       "Message-ID: <1@example.org>\r\n"
			       "X-Not-Signed: 1\r\n"
			       "\r\n"
			       "Noon?  \r\n"
			       "\r\n"
			       "\r\n";

TEST(dkim_sign_round_trip)
{
	int types[2] = { EVP_PKEY_RSA, EVP_PKEY_ED25519 };
	for (int t = 0; t < 2; t++) {
		EVP_PKEY *k = gen_key(types[t], 2048);
		struct buf signed_msg = BUF_INIT, rec = BUF_INIT;
		const char *why = NULL;
		CHECK(dkim_sign(plain_msg, strlen(plain_msg), "example.org", "sel", k, NOW,
				&signed_msg, &why));
		/* Every line of the new field is under 78 characters; From and Subject oversigned. */
		size_t col = 0;
		for (size_t i = 0; i < signed_msg.len; i++) {
			col = signed_msg.data[i] == '\n' ? 0 : col + 1;
			CHECK(col < 78);
		}
		CHECK(strstr(signed_msg.data, "c=relaxed/relaxed"));
		struct dkim_signature sig;
		const char *v0 = signed_msg.data + strlen("DKIM-Signature:");
		CHECK(dkim_signature_parse(v0, signed_msg.len - 2 - strlen("DKIM-Signature:"), &sig,
					   &why));
		struct buf hl = BUF_INIT;
		for (size_t i = 0; i < sig.h_count; i++)
			buf_printf(&hl, "%s%s", i ? ":" : "", sig.h[i]);
		CHECK_EQ_STR(hl.data ? hl.data : "", "From:From:To:Subject:Subject:Date:Message-ID");
		CHECK(sig.t == NOW && !sig.has_l && !sig.has_x);
		buf_free(&hl);
		dkim_signature_free(&sig);
		buf_append_str(&signed_msg, plain_msg);
		key_record(k, &rec);
		struct txt key = { "sel._domainkey.example.org", rec.data };
		struct dkim_verifier *v = verify_with(signed_msg.data, signed_msg.len, &key, 1, NOW);
		CHECK_EQ_INT(dkim_verifier_count(v), 1);
		CHECK_EQ_STR(dkim_result_name(dkim_verifier_result(v, 0)->result), "pass");
		CHECK_EQ_STR(dkim_verifier_result(v, 0)->alg, t ? "ed25519-sha256" : "rsa-sha256");
		dkim_verifier_free(&v);

		/* Relaxed: whitespace changes in a header and at line ends do not matter. */
		struct buf m2 = BUF_INIT;
		buf_append(&m2, signed_msg.data, signed_msg.len);
		char *p = strstr(m2.data, "Subject: lunch");
		memcpy(p, "subject:lunch ", 14); /* same length as "Subject: lunch" */
		v = verify_with(m2.data, m2.len, &key, 1, NOW);
		CHECK_EQ_STR(dkim_verifier_result(v, 0)->reason, "signature verified");
		dkim_verifier_free(&v);

		/* A second From added: fails (oversigned). */
		buf_reset(&m2);
		buf_append(&m2, signed_msg.data, signed_msg.len);
		buf_append_str(&m2, "");
		struct buf m3 = BUF_INIT;
		size_t at = (size_t)(strstr(m2.data, "From: Ann") - m2.data);
		buf_append(&m3, m2.data, at);
		buf_append_str(&m3, "From: mallory@example.com\r\n");
		buf_append(&m3, m2.data + at, m2.len - at);
		v = verify_with(m3.data, m3.len, &key, 1, NOW);
		CHECK(dkim_verifier_result(v, 0)->result == DKIM_FAIL);
		dkim_verifier_free(&v);
		buf_free(&m3);
		buf_free(&m2);
		buf_free(&signed_msg);
		buf_free(&rec);
		EVP_PKEY_free(k);
	}
	/* No From: refused. */
	EVP_PKEY *k = gen_key(EVP_PKEY_ED25519, 0);
	struct buf out = BUF_INIT;
	const char *why = NULL;
	CHECK(!dkim_sign("To: x\r\n\r\nhi\r\n", 14, "a", "b", k, NOW, &out, &why));
	CHECK_EQ_STR(why, "the message has no From field");
	CHECK_EQ_INT(out.len, 0);
	EVP_PKEY_free(k);
}

/* ---- RFC 8301, x=, l= ---- */

TEST(dkim_rfc8301_and_expiry)
{
	/* RSA-SHA1: policy, and no key is even asked for. */
	const char *sha1 = "DKIM-Signature: v=1; a=rsa-sha1; d=example.org; s=s; h=from;\r\n"
			   " bh=2jmj7l5rSw0yVb/vlWAYkK/YBwk=; b=AAAA\r\n"
			   "From: a@example.org\r\n\r\nhi\r\n";
	struct dkim_verifier *v = dkim_verifier_new(sha1, strlen(sha1));
	CHECK_EQ_INT(dkim_verifier_key_count(v), 0);
	dkim_verifier_run(v, NOW);
	CHECK_EQ_STR(dkim_result_name(dkim_verifier_result(v, 0)->result), "policy");
	CHECK_EQ_STR(dkim_verifier_result(v, 0)->reason,
		     "signed with RSA-SHA1, which RFC 8301 no longer accepts");
	dkim_verifier_free(&v);

	/* x= in the past: fail with the date. */
	const char *exp = "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s; h=from;\r\n"
			  " t=1600000000; x=1600086400; " BH " b=AAAA\r\n"
			  "From: a@example.org\r\n\r\nhi\r\n";
	struct txt none = { "x", "y" };
	v = verify_with(exp, strlen(exp), &none, 1, NOW);
	CHECK_EQ_STR(dkim_result_name(dkim_verifier_result(v, 0)->result), "fail");
	CHECK_EQ_STR(dkim_verifier_result(v, 0)->reason,
		     "signature expired on 2020-09-14 12:26:40 UTC");
	dkim_verifier_free(&v);

	/* A 512-bit RSA key: policy. (Signed with a good key; the key size is judged first.) */
	EVP_PKEY *big = gen_key(EVP_PKEY_RSA, 1024), *small = gen_key(EVP_PKEY_RSA, 512);
	struct buf m = BUF_INIT, rec = BUF_INIT;
	const char *why;
	CHECK(dkim_sign(plain_msg, strlen(plain_msg), "example.org", "sel", big, NOW, &m, &why));
	buf_append_str(&m, plain_msg);
	key_record(small, &rec);
	struct txt key = { "sel._domainkey.example.org", rec.data };
	v = verify_with(m.data, m.len, &key, 1, NOW);
	CHECK_EQ_STR(dkim_result_name(dkim_verifier_result(v, 0)->result), "policy");
	CHECK_EQ_STR(dkim_verifier_result(v, 0)->reason,
		     "key is 512 bits; RFC 8301 requires at least 1024");
	dkim_verifier_free(&v);
	/* The signer refuses a short key too. */
	buf_reset(&m);
	CHECK(!dkim_sign(plain_msg, strlen(plain_msg), "example.org", "sel", small, NOW, &m, &why));
	buf_free(&m);
	buf_free(&rec);
	EVP_PKEY_free(big);
	EVP_PKEY_free(small);
}

/* l=: a signature over the first part of the body still passes with text appended, and says
 * so; an l= longer than the body fails. The signature is made here by hand with l=. */
TEST(dkim_body_length_tag)
{
	EVP_PKEY *k = gen_key(EVP_PKEY_ED25519, 0);
	const char *body = "Hello.\r\n";
	unsigned char bh[EVP_MAX_MD_SIZE];
	uint64_t clen;
	dkim_body_hash(DKIM_CANON_RELAXED, EVP_sha256(), body, strlen(body), UINT64_MAX, bh, &clen);
	struct buf b64 = BUF_INIT;
	base64_encode(&b64, bh, 32);
	struct buf hdr = BUF_INIT;
	buf_printf(&hdr, "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;"
			 " s=sel; h=from; l=%llu; bh=%s; b=", (unsigned long long)clen, b64.data);
	/* header data: from field + this field with empty b=, relaxed, no final CRLF */
	struct buf data = BUF_INIT;
	const char *from = "From: a@example.org\r\n";
	dkim_canon_header(DKIM_CANON_RELAXED, from, strlen(from), &data);
	dkim_canon_header(DKIM_CANON_RELAXED, hdr.data, hdr.len, &data);
	data.len -= 2;
	unsigned char dig[32], sig[64];
	size_t sig_len = sizeof sig;
	EVP_Digest(data.data, data.len, dig, NULL, EVP_sha256(), NULL);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestSignInit(ctx, NULL, NULL, NULL, k);
	EVP_DigestSign(ctx, sig, &sig_len, dig, 32);
	EVP_MD_CTX_free(ctx);
	buf_reset(&b64);
	base64_encode(&b64, sig, sig_len);
	struct buf msg = BUF_INIT, rec = BUF_INIT;
	buf_printf(&msg, "%s%s\r\n%s\r\n%s", hdr.data, b64.data, from, body);
	key_record(k, &rec);
	struct txt key = { "sel._domainkey.example.org", rec.data };
	struct dkim_verifier *v = verify_with(msg.data, msg.len, &key, 1, NOW);
	const struct dkim_outcome *o = dkim_verifier_result(v, 0);
	CHECK_EQ_STR(dkim_result_name(o->result), "pass");
	CHECK(o->l_used && o->l == 8);
	dkim_verifier_free(&v);

	buf_append_str(&msg, "Appended by someone else.\r\n");
	v = verify_with(msg.data, msg.len, &key, 1, NOW);
	o = dkim_verifier_result(v, 0);
	CHECK_EQ_STR(dkim_result_name(o->result), "pass");
	CHECK(o->l_used && o->body_len > o->l);
	CHECK(strstr(o->reason, "l= leaves text after the signed body length unsigned"));
	dkim_verifier_free(&v);

	/* The body cut shorter than l=: fail. */
	msg.len -= strlen("Appended by someone else.\r\n") + 3;
	v = verify_with(msg.data, msg.len, &key, 1, NOW);
	o = dkim_verifier_result(v, 0);
	CHECK_EQ_STR(dkim_result_name(o->result), "fail");
	CHECK(strstr(o->reason, "is longer than the body"));
	dkim_verifier_free(&v);
	buf_free(&msg);
	buf_free(&rec);
	buf_free(&hdr);
	buf_free(&data);
	buf_free(&b64);
	EVP_PKEY_free(k);
}

/* ---- hostile input: the RFC's result, bounded time ---- */

static double elapsed(struct timespec a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

TEST(dkim_thousand_signatures_bounded)
{
	struct buf one = BUF_INIT, msg = BUF_INIT;
	if (!read_crlf("signed-ed25519-and-rsa.msg", &one)) {
		CHECK(!"RFC 8463 test data present");
		return;
	}
	size_t sig_len = (size_t)(strstr(one.data + 1, "DKIM-Signature") - one.data);
	for (int i = 0; i < 1000; i++)
		buf_append(&msg, one.data, sig_len);
	buf_append(&msg, one.data, one.len);
	/* a big body, so that checking every signature would cost real time */
	for (int i = 0; i < 20000; i++)
		buf_append_str(&msg, "We lost the game.  Are you hungry yet?\r\n");
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct dkim_verifier *v = verify_with(msg.data, msg.len, rfc8463_keys, 2, NOW);
	double secs = elapsed(t0);
	CHECK(secs < 2.0);
	/* only the first ten (all the Ed25519 copy) are looked at: one key */
	CHECK_EQ_INT(dkim_verifier_key_count(v), 1);
	CHECK_EQ_INT(dkim_verifier_count(v), DKIM_MAX_REPORTED);
	CHECK_EQ_INT(dkim_verifier_unlisted(v), 1002 - DKIM_MAX_REPORTED);
	size_t checked = 0, skipped = 0;
	for (size_t i = 0; i < dkim_verifier_count(v); i++) {
		enum dkim_result r = dkim_verifier_result(v, i)->result;
		if (r == DKIM_NOT_CHECKED)
			skipped++;
		else
			checked++;
		if (r == DKIM_FAIL) /* the body was changed: each checked one fails on bh */
			CHECK(strstr(dkim_verifier_result(v, i)->reason, "body hash"));
	}
	CHECK_EQ_INT(checked, DKIM_MAX_SIGNATURES);
	CHECK_EQ_INT(skipped, DKIM_MAX_REPORTED - DKIM_MAX_SIGNATURES);
	dkim_verifier_free(&v);
	buf_free(&one);
	buf_free(&msg);
}

TEST(dkim_huge_h_and_fields_bounded)
{
	struct buf msg = BUF_INIT;
	buf_append_str(&msg, "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s; " BH
			     " b=AAAA; h=from");
	for (int i = 0; i < 1000; i++)
		buf_append_str(&msg, ":\r\n to");
	buf_append_str(&msg, "\r\nFrom: a@example.org\r\n\r\nhi\r\n");
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct dkim_verifier *v = verify_with(msg.data, msg.len, NULL, 0, NOW);
	CHECK(elapsed(t0) < 2.0);
	CHECK_EQ_STR(dkim_result_name(dkim_verifier_result(v, 0)->result), "permerror");
	CHECK_EQ_STR(dkim_verifier_result(v, 0)->reason,
		     "malformed signature: h= names more than 256 header fields");
	CHECK_EQ_INT(dkim_verifier_key_count(v), 0);
	dkim_verifier_free(&v);

	/* 100000 entries (600 KB of h=): refused as too long before any list is built. */
	buf_reset(&msg);
	buf_append_str(&msg, "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s; " BH
			     " b=AAAA; h=from");
	for (int i = 0; i < 100000; i++)
		buf_append_str(&msg, ":\r\n to");
	buf_append_str(&msg, "\r\nFrom: a@example.org\r\n\r\nhi\r\n");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	v = verify_with(msg.data, msg.len, NULL, 0, NOW);
	CHECK(elapsed(t0) < 2.0);
	CHECK_EQ_STR(dkim_verifier_result(v, 0)->reason,
		     "malformed signature: a tag value is too long");
	dkim_verifier_free(&v);

	/* 256 entries: allowed, against 4000 fields of one name, each chosen once. */
	buf_reset(&msg);
	buf_append_str(&msg, "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s; " BH
			     " b=AAAA; h=from");
	for (int i = 0; i < 255; i++)
		buf_append_str(&msg, ":received");
	buf_append_str(&msg, "\r\n");
	for (int i = 0; i < 4000; i++)
		buf_append_str(&msg, "Received: x\r\n");
	buf_append_str(&msg, "From: a@example.org\r\n\r\nhi\r\n");
	struct txt key = { "s._domainkey.example.org", rfc8463_keys[1].record };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	v = verify_with(msg.data, msg.len, &key, 1, NOW);
	CHECK(elapsed(t0) < 2.0);
	/* the body hash is wrong on purpose (bh= of an empty body) */
	CHECK_EQ_STR(dkim_result_name(dkim_verifier_result(v, 0)->result), "fail");
	dkim_verifier_free(&v);

	/* More than DKIM_MAX_FIELDS fields: not checked, a permerror that says why. */
	buf_reset(&msg);
	buf_append_str(&msg, "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s; " BH
			     " b=AAAA; h=from\r\n");
	for (int i = 0; i < 5000; i++)
		buf_append_str(&msg, "Received: x\r\n");
	buf_append_str(&msg, "From: a@example.org\r\n\r\nhi\r\n");
	v = verify_with(msg.data, msg.len, &key, 1, NOW);
	CHECK_EQ_STR(dkim_result_name(dkim_verifier_result(v, 0)->result), "permerror");
	CHECK(strstr(dkim_verifier_result(v, 0)->reason, "more than 4096 header fields"));
	dkim_verifier_free(&v);

	/* A key record of 5000 tags and a signature of junk: errors, quickly. */
	buf_reset(&msg);
	for (int i = 0; i < 5000; i++)
		buf_printf(&msg, "x%d=%d; ", i, i);
	buf_append_str(&msg, "p=");
	struct dkim_key k;
	const char *why;
	CHECK(dkim_key_parse(msg.data, msg.len, &k, &why));
	CHECK_EQ_INT(k.p_len, 0);
	dkim_key_free(&k);
	buf_free(&msg);
}
