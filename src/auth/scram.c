#include "auth/scram.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"
#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/buf.h"

static void hmac(const unsigned char *key, size_t klen, const void *data, size_t dlen,
		 unsigned char out[32])
{
	unsigned int n = 32;
	HMAC(EVP_sha256(), key, (int)klen, data, dlen, out, &n);
}

static void sha256(const unsigned char *in, size_t len, unsigned char out[32])
{
	unsigned int n = 32;
	EVP_Digest(in, len, out, &n, EVP_sha256(), NULL);
}

char *scram_make_secret(const char *password)
{
	unsigned char salt[SCRAM_SALT_LEN], salted[32], client_key[32], stored[32], server[32];
	if (RAND_bytes(salt, sizeof salt) != 1)
		return NULL;
	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof salt, SCRAM_ITERATIONS,
			  EVP_sha256(), sizeof salted, salted);
	hmac(salted, 32, "Client Key", 10, client_key);
	sha256(client_key, 32, stored);
	hmac(salted, 32, "Server Key", 10, server);
	char s64[32], st64[64], sv64[64];
	base64_encode_str(s64, sizeof s64, salt, sizeof salt);
	base64_encode_str(st64, sizeof st64, stored, 32);
	base64_encode_str(sv64, sizeof sv64, server, 32);
	OPENSSL_cleanse(salted, sizeof salted);
	OPENSSL_cleanse(client_key, sizeof client_key);
	char *out = xmalloc(256);
	snprintf(out, 256, "%d$%s$%s$%s", SCRAM_ITERATIONS, s64, st64, sv64);
	return out;
}

/* Value of attribute `a=` in a comma-separated SCRAM message. */
static bool attr(const char *msg, size_t len, char a, const char **v, size_t *vlen)
{
	const char *p = msg, *end = msg + len;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
		if (n >= 2 && p[0] == a && p[1] == '=') {
			*v = p + 2;
			*vlen = n - 2;
			return true;
		}
		p += n + 1;
	}
	return false;
}

bool scram_client_first(struct scram_server *s, const char *msg, size_t len, const char **err)
{
	memset(s, 0, sizeof *s);
	/* gs2 header: no channel binding ("n,," or "y,,"), no authorization identity. */
	if (len < 3 || (msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',' || msg[2] != ',') {
		*err = "Channel binding and authorization identities are not supported.";
		return false;
	}
	const char *bare = msg + 3;
	size_t blen = len - 3;
	const char *user, *nonce;
	size_t ulen, nlen;
	if (blen >= sizeof s->client_first_bare || !attr(bare, blen, 'n', &user, &ulen) ||
	    !attr(bare, blen, 'r', &nonce, &nlen) || ulen == 0 || ulen >= sizeof s->user ||
	    nlen == 0 || nlen > 128 || memchr(user, '=', ulen)) {
		*err = "The SCRAM client-first message is malformed.";
		return false;
	}
	memcpy(s->client_first_bare, bare, blen);
	memcpy(s->user, user, ulen);
	unsigned char rnd[18];
	RAND_bytes(rnd, sizeof rnd);
	char r64[32];
	base64_encode_str(r64, sizeof r64, rnd, sizeof rnd);
	snprintf(s->nonce, sizeof s->nonce, "%.*s%s", (int)nlen, nonce, r64);
	return true;
}

bool scram_server_keys(struct scram_server *s, const char *secret, int *iterations,
		       char salt64[64])
{
	char st64[64], sv64[64], salt[64];
	unsigned char raw[64];
	size_t n;
	int iter = 0;
	s->have_secret = false;
	if (!secret || sscanf(secret, "%d$%63[^$]$%63[^$]$%63s", &iter, salt, st64, sv64) != 4 ||
	    !base64_decode(st64, strlen(st64), raw, sizeof raw, &n) || n != 32)
		return false;
	memcpy(s->stored_key, raw, 32);
	if (!base64_decode(sv64, strlen(sv64), raw, sizeof raw, &n) || n != 32)
		return false;
	memcpy(s->server_key, raw, 32);
	s->have_secret = true;
	if (iterations)
		*iterations = iter;
	if (salt64)
		memcpy(salt64, salt, sizeof salt);
	return true;
}

const char *scram_server_first(struct scram_server *s, const char *secret,
			       const unsigned char *unknown_key, size_t unknown_key_len)
{
	int iterations = SCRAM_ITERATIONS;
	char salt64[64] = "";
	if (!scram_server_keys(s, secret, &iterations, salt64)) {
		/* An unknown user gets the answer a real one would: the same salt every time
		 * (derived from the name and a secret of this server, so nobody can compute it),
		 * of the same length, with the same iteration count. */
		char name[sizeof s->user];
		size_t n = 0;
		for (; s->user[n]; n++)
			name[n] = (char)tolower((unsigned char)s->user[n]);
		unsigned char mac[32];
		hmac(unknown_key, unknown_key_len, name, n, mac);
		base64_encode_str(salt64, sizeof salt64, mac, SCRAM_SALT_LEN);
		iterations = SCRAM_ITERATIONS;
	}
	snprintf(s->server_first, sizeof s->server_first, "r=%s,s=%s,i=%d", s->nonce, salt64,
		 iterations);
	return s->server_first;
}

bool scram_client_final(struct scram_server *s, const char *msg, size_t len, char *server_final,
			size_t server_final_len)
{
	const char *cb, *nonce, *proof;
	size_t cblen, nlen, plen;
	if (!attr(msg, len, 'c', &cb, &cblen) || !attr(msg, len, 'r', &nonce, &nlen) ||
	    !attr(msg, len, 'p', &proof, &plen))
		return false;
	/* "biws" = base64("n,,"), "eSws" = base64("y,,"). */
	if (!((cblen == 4 && (memcmp(cb, "biws", 4) == 0 || memcmp(cb, "eSws", 4) == 0))) ||
	    nlen != strlen(s->nonce) || memcmp(nonce, s->nonce, nlen) != 0)
		return false;
	const char *p_attr = strstr(msg, ",p=");
	if (!p_attr || (size_t)(p_attr - msg) > len)
		return false;
	struct buf auth = BUF_INIT;
	buf_printf(&auth, "%s,%s,%.*s", s->client_first_bare, s->server_first,
		   (int)(p_attr - msg), msg);
	unsigned char proof_raw[64], signature[32], client_key[32], check[32];
	size_t n;
	bool ok = base64_decode(proof, plen, proof_raw, sizeof proof_raw, &n) && n == 32 &&
		  s->have_secret;
	if (ok) {
		hmac(s->stored_key, 32, auth.data, auth.len, signature);
		for (int i = 0; i < 32; i++)
			client_key[i] = proof_raw[i] ^ signature[i];
		sha256(client_key, 32, check);
		ok = CRYPTO_memcmp(check, s->stored_key, 32) == 0;
	}
	if (ok) {
		unsigned char server_sig[32];
		char sig64[64];
		hmac(s->server_key, 32, auth.data, auth.len, server_sig);
		base64_encode_str(sig64, sizeof sig64, server_sig, 32);
		snprintf(server_final, server_final_len, "v=%s", sig64);
	}
	buf_free(&auth);
	return ok;
}
