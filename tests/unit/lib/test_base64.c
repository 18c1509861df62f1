#include <stdio.h>
#include <string.h>

#include "lib/base64.h"
#include "test.h"

/* RFC 4648 section 10. */
static const struct {
	const char *raw, *enc;
} rfc4648[] = {
	{ "", "" },         { "f", "Zg==" },         { "fo", "Zm8=" },         { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
};
#define NVEC (sizeof rfc4648 / sizeof rfc4648[0])

/* Strict decode of a C string; the result as a C string, or NULL when it is refused. */
static const char *strict(const char *in)
{
	static char out[256];
	size_t n = 999;
	if (!base64_decode(in, strlen(in), (unsigned char *)out, sizeof out - 1, &n))
		return NULL;
	out[n] = '\0';
	return out;
}

/* Lenient decode of a C string into b (reset first); returns its verdict. */
static bool lenient(const char *in, struct buf *b)
{
	buf_reset(b);
	bool ok = base64_decode_lenient(in, strlen(in), b);
	buf_reserve(b, 0);
	return ok;
}

TEST(base64_rfc4648_vectors)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < NVEC; i++) {
		size_t rl = strlen(rfc4648[i].raw);
		buf_reset(&b);
		base64_encode(&b, rfc4648[i].raw, rl);
		buf_reserve(&b, 0);
		CHECK_EQ_STR(b.data, rfc4648[i].enc);
		CHECK_EQ_INT(base64_encoded_len(rl), strlen(rfc4648[i].enc));
		char s[16];
		CHECK(base64_encode_str(s, sizeof s, rfc4648[i].raw, rl));
		CHECK_EQ_STR(s, rfc4648[i].enc);
		const char *d = strict(rfc4648[i].enc);
		CHECK(d && strcmp(d, rfc4648[i].raw) == 0);
		CHECK(lenient(rfc4648[i].enc, &b));
		CHECK_EQ_STR(b.data, rfc4648[i].raw);
	}
	buf_free(&b);
}

TEST(base64_encode_appends_and_wraps)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, "x=");
	base64_encode(&b, "foob", 4);
	CHECK_EQ_STR(b.data, "x=Zm9vYg==");
	CHECK_EQ_INT(b.len, 10);
	base64_encode(&b, "", 0);
	CHECK_EQ_INT(b.len, 10);

	buf_reset(&b);
	base64_encode_lines(&b, "", 0);
	CHECK_EQ_INT(b.len, 0);
	unsigned char data[58];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 37);
	base64_encode_lines(&b, data, 57);
	CHECK_EQ_INT(b.len, 78);
	CHECK(b.data[75] != '\r' && memcmp(b.data + 76, "\r\n", 2) == 0);
	buf_reset(&b);
	base64_encode_lines(&b, data, 58);
	CHECK_EQ_INT(b.len, 78 + 6);
	CHECK(memcmp(b.data + 76, "\r\n", 2) == 0 && memcmp(b.data + 80, "==\r\n", 4) == 0);
	buf_free(&b);
}

TEST(base64_encode_str_needs_room_for_the_nul)
{
	char s[9];
	memset(s, 'x', sizeof s);
	CHECK(!base64_encode_str(s, 8, "foobar", 6)); /* 8 characters and a NUL need 9 */
	CHECK_EQ_STR(s, "");
	CHECK(base64_encode_str(s, 9, "foobar", 6));
	CHECK_EQ_STR(s, "Zm9vYmFy");
	CHECK(base64_encode_str(s, 1, "", 0));
	CHECK_EQ_STR(s, "");
}

TEST(base64_strict_refuses_bad_padding)
{
	CHECK(strict("Zg") == NULL);       /* not a whole quantum */
	CHECK(strict("Zg=") == NULL);
	CHECK(strict("Zm9vY") == NULL);
	CHECK(strict("Z===") == NULL);     /* at most two '=' */
	CHECK(strict("====") == NULL);
	CHECK(strict("Zm=v") == NULL);     /* data after padding */
	CHECK(strict("Zg==Zg==") == NULL); /* padding before the last quantum */
	CHECK(strict("Zg==\n") == NULL);
	CHECK(strict("Zm9v====") == NULL);
	/* The bits the padding leaves over are not checked. */
	CHECK(strict("Zh==") && strcmp(strict("Zh=="), "f") == 0);
}

TEST(base64_strict_refuses_whitespace_and_garbage)
{
	CHECK(strict("Zm9v YmFy") == NULL);
	CHECK(strict("Zm9vYmFy\r\n") == NULL);
	CHECK(strict(" Zm9") == NULL);
	CHECK(strict("Zm9\t") == NULL);
	CHECK(strict("Zm9*") == NULL);
	CHECK(strict("Zm9-") == NULL); /* the URL-safe alphabet is another encoding */
	CHECK(strict("Zm9_") == NULL);
	CHECK(strict("Zm9\x80") == NULL);
	unsigned char out[8];
	size_t n;
	CHECK(!base64_decode("Zm\0v", 4, out, sizeof out, &n));
	CHECK(strict("+/+/") != NULL);
}

TEST(base64_strict_respects_outmax)
{
	unsigned char out[6];
	size_t n = 0;
	CHECK(base64_decode("Zm9vYmFy", 8, out, 6, &n) && n == 6 && memcmp(out, "foobar", 6) == 0);
	CHECK(!base64_decode("Zm9vYmFy", 8, out, 5, &n));
	CHECK(base64_decode("Zm9vYmE=", 8, out, 5, &n) && n == 5);
	CHECK(!base64_decode("Zm9vYmE=", 8, out, 4, &n));
	CHECK(base64_decode("", 0, out, 0, &n) && n == 0);
}

TEST(base64_lenient_skips_whitespace)
{
	struct buf b = BUF_INIT;
	CHECK(lenient("Zm9v\r\nYmFy\r\n", &b));
	CHECK_EQ_STR(b.data, "foobar");
	CHECK(lenient(" Z m\t9 v\nY\r\nm E = ", &b));
	CHECK_EQ_STR(b.data, "fooba");
	CHECK(lenient("Zg=\r\n=", &b));
	CHECK_EQ_STR(b.data, "f");
	CHECK(lenient(" \r\n\t", &b));
	CHECK_EQ_INT(b.len, 0);
	buf_free(&b);
}

TEST(base64_lenient_reports_garbage_but_decodes_the_rest)
{
	struct buf b = BUF_INIT;
	CHECK(!lenient("Zm9v!YmFy", &b));
	CHECK_EQ_STR(b.data, "foobar");
	CHECK(!lenient("Zm9v\vYmFy", &b)); /* only SP, TAB, CR and LF are whitespace */
	CHECK_EQ_STR(b.data, "foobar");
	CHECK(!lenient("Zm9v-_", &b));
	CHECK_EQ_STR(b.data, "foo");
	CHECK(!lenient("=Zm9v", &b)); /* a '=' that ends no quantum */
	CHECK_EQ_STR(b.data, "foo");
	CHECK(!lenient("Zm9vY", &b)); /* a lone character at the end is dropped */
	CHECK_EQ_STR(b.data, "foo");
	CHECK(!lenient("Z=", &b));
	CHECK_EQ_INT(b.len, 0);
	buf_free(&b);
}

TEST(base64_lenient_padding_forms)
{
	struct buf b = BUF_INIT;
	CHECK(lenient("Zg==Zm8=", &b)); /* concatenated encodings */
	CHECK_EQ_STR(b.data, "ffo");
	CHECK(lenient("Zm8", &b)); /* unpadded end: decoded as if padded */
	CHECK_EQ_STR(b.data, "fo");
	CHECK(lenient("Zg", &b));
	CHECK_EQ_STR(b.data, "f");
	CHECK(lenient("Zm8==", &b)); /* extra '=' after padding */
	CHECK_EQ_STR(b.data, "fo");
	CHECK(lenient("Zg=", &b));
	CHECK_EQ_STR(b.data, "f");
	/* a '=' ends the quantum: "Zm=v" is "Zm=" then a lone "v" */
	CHECK(!lenient("Zm=v", &b));
	CHECK_EQ_STR(b.data, "f");
	buf_free(&b);
}

TEST(base64_lenient_appends)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, "a:");
	CHECK(base64_decode_lenient("Zm9v", 4, &b));
	CHECK_EQ_STR(b.data, "a:foo");
	buf_free(&b);
}

/* Every length from 0 to 300 and every byte value: encode, then both decoders give the input
 * back, and the wrapped form too. */
TEST(base64_round_trip_lengths)
{
	unsigned char data[300], out[300];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 131 + 7);
	struct buf enc = BUF_INIT, dec = BUF_INIT;
	for (size_t n = 0; n <= sizeof data; n++) {
		buf_reset(&enc);
		base64_encode(&enc, data, n);
		CHECK_EQ_INT(enc.len, base64_encoded_len(n));
		CHECK_EQ_INT(enc.len % 4, 0);
		size_t got = 999;
		CHECK(base64_decode(enc.data, enc.len, out, n, &got));
		CHECK_EQ_INT(got, n);
		CHECK(n == 0 || memcmp(out, data, n) == 0);
		if (n > 0)
			CHECK(!base64_decode(enc.data, enc.len, out, n - 1, &got));
		buf_reset(&dec);
		CHECK(base64_decode_lenient(enc.data, enc.len, &dec));
		CHECK(dec.len == n && (n == 0 || memcmp(dec.data, data, n) == 0));

		buf_reset(&enc);
		base64_encode_lines(&enc, data, n);
		size_t lines = (n + 56) / 57;
		CHECK_EQ_INT(enc.len, base64_encoded_len(n) + 2 * lines);
		for (size_t at = 0; at < enc.len; at += 78)
			CHECK(enc.len - at <= 78 ? memcmp(enc.data + enc.len - 2, "\r\n", 2) == 0
						 : memcmp(enc.data + at + 76, "\r\n", 2) == 0);
		buf_reset(&dec);
		CHECK(base64_decode_lenient(enc.data, enc.len, &dec));
		CHECK(dec.len == n && (n == 0 || memcmp(dec.data, data, n) == 0));
	}
	buf_free(&enc);
	buf_free(&dec);
}
