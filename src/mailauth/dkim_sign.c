/* DKIM signing: relaxed/relaxed, SHA-256, RSA or Ed25519 (RFC 6376 5, RFC 8463). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "mailauth/dkim_internal.h"
#include "mime/mime.h"

/* The fields we sign when present; From and Subject get one more entry than there are fields,
 * so a second From or Subject added later breaks the signature (RFC 6376 8.15). */
static const char *const signed_fields[] = {
	"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "In-Reply-To",
	"References", "MIME-Version", "Content-Type",
};

#define LINE_MAX_CHARS 76

/* Appends `word` to the header being built, starting a new folded line when the current one
 * would pass LINE_MAX_CHARS. *col is the current column. */
static void add_folded(struct buf *out, size_t *col, const char *word, size_t len)
{
	if (*col + len > LINE_MAX_CHARS && *col > 1) {
		buf_append(out, "\r\n\t", 3);
		*col = 8; /* a tab counts as up to 8 columns */
		if (len && word[0] == ' ')
			word++, len--;
	}
	buf_append(out, word, len);
	*col += len;
}

bool dkim_sign(const char *msg, size_t len, const char *domain, const char *selector,
	       EVP_PKEY *key, time_t now, struct buf *out, const char **why)
{
	int type = EVP_PKEY_get_base_id(key);
	if (type != EVP_PKEY_RSA && type != EVP_PKEY_ED25519) {
		*why = "the key is neither RSA nor Ed25519";
		return false;
	}
	if (type == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) < 1024) {
		*why = "the RSA key is shorter than 1024 bits (RFC 8301)";
		return false;
	}
	struct dkim_field *fields;
	size_t n;
	dkim_fields_collect(msg, len, &fields, &n);
	char *h[DKIM_MAX_H];
	size_t hn = 0;
	for (size_t k = 0; k < sizeof signed_fields / sizeof signed_fields[0]; k++) {
		size_t count = 0, nl = strlen(signed_fields[k]);
		for (size_t j = 0; j < n; j++)
			if (fields[j].name_len == nl && strncasecmp(fields[j].name, signed_fields[k], nl) == 0)
				count++;
		if (k == 0 && count == 0) {
			free(fields);
			*why = "the message has no From field";
			return false;
		}
		if (k == 0 || k == 3)
			count++;
		for (; count && hn < DKIM_MAX_H; count--)
			h[hn++] = (char *)signed_fields[k];
	}

	size_t hdr_len = mime_header_block_size(msg, len);
	unsigned char bh[EVP_MAX_MD_SIZE];
	uint64_t canon_len;
	unsigned bh_len = dkim_body_hash(DKIM_CANON_RELAXED, EVP_sha256(), msg + hdr_len,
					 len - hdr_len, UINT64_MAX, bh, &canon_len);

	struct buf hdr = BUF_INIT;
	buf_printf(&hdr, "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed;",
		   type == EVP_PKEY_RSA ? "rsa-sha256" : "ed25519-sha256");
	size_t col = hdr.len;
	struct buf word = BUF_INIT;
	buf_printf(&word, " d=%s;", domain);
	add_folded(&hdr, &col, word.data, word.len);
	buf_reset(&word);
	buf_printf(&word, " s=%s;", selector);
	add_folded(&hdr, &col, word.data, word.len);
	buf_reset(&word);
	buf_printf(&word, " t=%lld;", (long long)now);
	add_folded(&hdr, &col, word.data, word.len);
	for (size_t k = 0; k < hn; k++) {
		buf_reset(&word);
		buf_printf(&word, "%s%s%s", k == 0 ? " h=" : "", h[k], k + 1 == hn ? ";" : ":");
		add_folded(&hdr, &col, word.data, word.len);
	}
	buf_reset(&word);
	buf_append_str(&word, " bh=");
	base64_encode(&word, bh, bh_len);
	buf_append_char(&word, ';');
	add_folded(&hdr, &col, word.data, word.len);
	buf_free(&word);
	buf_append(&hdr, "\r\n\tb=", 5);
	col = 10;

	/* The data signed: the chosen fields, then this field with b= empty, no final CRLF. */
	struct buf data = BUF_INIT;
	bool *used = xcalloc(n ? n : 1, sizeof *used);
	dkim_header_data(msg, fields, n, used, h, hn, DKIM_CANON_RELAXED, &data);
	free(used);
	free(fields);
	dkim_canon_header(DKIM_CANON_RELAXED, hdr.data, hdr.len, &data);
	data.len -= 2;

	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		abort();
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	bool ok;
	if (type == EVP_PKEY_ED25519) {
		unsigned char dig[32];
		EVP_Digest(data.data, data.len, dig, NULL, EVP_sha256(), NULL);
		ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
		     EVP_DigestSign(ctx, NULL, &sig_len, dig, sizeof dig) == 1;
		if (ok) {
			sig = xmalloc(sig_len);
			ok = EVP_DigestSign(ctx, sig, &sig_len, dig, sizeof dig) == 1;
		}
	} else {
		ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
		     EVP_DigestSign(ctx, NULL, &sig_len, (unsigned char *)data.data, data.len) == 1;
		if (ok) {
			sig = xmalloc(sig_len);
			ok = EVP_DigestSign(ctx, sig, &sig_len, (unsigned char *)data.data,
					    data.len) == 1;
		}
	}
	EVP_MD_CTX_free(ctx);
	buf_free(&data);
	if (!ok) {
		free(sig);
		buf_free(&hdr);
		*why = "OpenSSL could not sign with this key";
		return false;
	}
	struct buf b64 = BUF_INIT;
	base64_encode(&b64, sig, sig_len);
	free(sig);
	/* b= is removed whole before verifying, so the folding inside it is free. */
	for (size_t i = 0; i < b64.len;) {
		size_t room = LINE_MAX_CHARS - col, take = b64.len - i < room ? b64.len - i : room;
		if (take == 0) {
			buf_append(&hdr, "\r\n\t", 3);
			col = 8;
			continue;
		}
		buf_append(&hdr, b64.data + i, take);
		col += take;
		i += take;
	}
	buf_free(&b64);
	buf_append(&hdr, "\r\n", 2);
	buf_append(out, hdr.data, hdr.len);
	buf_free(&hdr);
	return true;
}
