#include <stdlib.h>

#include "auth/login.h"
#include "auth/password.h"
#include "auth/sasl.h"
#include "test.h"

TEST(base64_decodes_and_rejects)
{
	unsigned char out[16];
	size_t n;
	CHECK(base64_decode("aGVsbG8=", 8, out, sizeof out, &n));
	CHECK(n == 5 && memcmp(out, "hello", 5) == 0);
	CHECK(base64_decode("", 0, out, sizeof out, &n));
	CHECK_EQ_INT(n, 0);
	CHECK(!base64_decode("aGVsbG8", 7, out, sizeof out, &n));
	CHECK(!base64_decode("aGV=bG8=", 8, out, sizeof out, &n));
	CHECK(!base64_decode("aGVs*G8=", 8, out, sizeof out, &n));
	CHECK(!base64_decode("aGVsbG8gd29ybGQgaGVsbG8=", 24, out, 4, &n));
}

TEST(sasl_plain_splits_fields)
{
	struct sasl_plain p;
	const char *err;
	/* "\0alice\0secret" */
	CHECK(sasl_plain_decode("AGFsaWNlAHNlY3JldA==", 20, &p, &err));
	CHECK_EQ_STR(p.authzid, "");
	CHECK_EQ_STR(p.authcid, "alice");
	CHECK_EQ_STR(p.password, "secret");
	/* "alice" alone: no NULs */
	CHECK(!sasl_plain_decode("YWxpY2U=", 8, &p, &err));
	/* "\0\0pw": empty user */
	CHECK(!sasl_plain_decode("AABwdw==", 8, &p, &err));
}

TEST(app_secret_hash_ignores_dashes_spaces_and_case)
{
	char a[65], b[65], c[65];
	login_app_secret_hash("abcd-efgh-jkmn-pqrs", a);
	login_app_secret_hash("ABCD EFGH JKMN PQRS", b);
	login_app_secret_hash("abcd-efgh-jkmn-pqrt", c);
	CHECK_EQ_STR(a, b);
	CHECK(strcmp(a, c) != 0);
	char pw[20];
	login_app_password_generate(pw);
	CHECK_EQ_INT(strlen(pw), 19);
	CHECK(pw[4] == '-' && pw[9] == '-' && pw[14] == '-');
}

TEST(argon2_password_roundtrip)
{
	char *h = password_hash("correct horse");
	CHECK(h != NULL && strncmp(h, "$argon2id$", 10) == 0);
	CHECK(password_verify(h, "correct horse"));
	CHECK(!password_verify(h, "correct horse "));
	free(h);
}

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/scram.h"
#include "lib/buf.h"

/* The client's side of RFC 5802 for the server-first message `first`: "c=biws,r=...,p=...". */
static void scram_client_proof(const char *password, const char *client_first_bare,
			       const char *first, bool tamper, char *out, size_t outlen)
{
	char salt64[64] = "", nonce[256] = "";
	int iter = 0;
	sscanf(first, "r=%255[^,],s=%63[^,],i=%d", nonce, salt64, &iter);
	unsigned char salt[64], salted[32], client_key[32], stored[32], sig[32], proof[32];
	size_t slen = 0;
	base64_decode(salt64, strlen(salt64), salt, sizeof salt, &slen);
	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)slen, iter, EVP_sha256(), 32,
			  salted);
	unsigned int n = 32;
	HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key", 10, client_key, &n);
	EVP_Digest(client_key, 32, stored, &n, EVP_sha256(), NULL);
	char without_proof[300];
	snprintf(without_proof, sizeof without_proof, "c=biws,r=%s", nonce);
	struct buf auth = BUF_INIT;
	buf_printf(&auth, "%s,%s,%s", client_first_bare, first, without_proof);
	HMAC(EVP_sha256(), stored, 32, (const unsigned char *)auth.data, auth.len, sig, &n);
	buf_free(&auth);
	for (int i = 0; i < 32; i++)
		proof[i] = client_key[i] ^ sig[i];
	if (tamper)
		proof[0] ^= 1;
	char p64[64];
	EVP_EncodeBlock((unsigned char *)p64, proof, 32);
	snprintf(out, outlen, "%s,p=%s", without_proof, p64);
}

static const unsigned char unknown_key[32] = { 1, 2, 3 };

TEST(scram_proof_right_and_wrong)
{
	char *secret = scram_make_secret("pencil");
	CHECK(secret != NULL && strncmp(secret, "4096$", 5) == 0);
	struct scram_server s;
	const char *err;
	CHECK(scram_client_first(&s, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", 32, &err));
	CHECK_EQ_STR(s.user, "user");
	const char *first = scram_server_first(&s, secret, unknown_key, sizeof unknown_key);
	CHECK(strncmp(first, "r=rOprNGfwEbeRWgbNEkqO", 22) == 0);
	CHECK(strstr(first, ",i=4096") != NULL);
	char final[200], msg[400];
	/* The right nonce with a wrong proof fails at the proof (not at the nonce). */
	scram_client_proof("pencil", "n=user,r=rOprNGfwEbeRWgbNEkqO", first, true, msg, sizeof msg);
	CHECK(!scram_client_final(&s, msg, strlen(msg), final, sizeof final));
	scram_client_proof("pencil!", "n=user,r=rOprNGfwEbeRWgbNEkqO", first, false, msg,
			   sizeof msg);
	CHECK(!scram_client_final(&s, msg, strlen(msg), final, sizeof final));
	/* The right one passes and gets the server's signature. */
	scram_client_proof("pencil", "n=user,r=rOprNGfwEbeRWgbNEkqO", first, false, msg, sizeof msg);
	CHECK(scram_client_final(&s, msg, strlen(msg), final, sizeof final));
	CHECK(strncmp(final, "v=", 2) == 0);
	CHECK(!scram_client_first(&s, "p=tls-unique,,n=user,r=abc", 26, &err));
	free(secret);
}

TEST(scram_unknown_user_salt_is_stable_and_shaped_like_a_real_one)
{
	char *secret = scram_make_secret("pencil");
	struct scram_server s;
	const char *err;
	char real[1024], a[1024], b[1024], c[1024];
	CHECK(scram_client_first(&s, "n,,n=user,r=abc", 15, &err));
	snprintf(real, sizeof real, "%s", scram_server_first(&s, secret, unknown_key, 32));
	CHECK(scram_client_first(&s, "n,,n=Ghost,r=abc", 16, &err));
	snprintf(a, sizeof a, "%s", scram_server_first(&s, NULL, unknown_key, 32));
	CHECK(scram_client_first(&s, "n,,n=other,r=xyz", 16, &err));
	snprintf(c, sizeof c, "%s", scram_server_first(&s, NULL, unknown_key, 32));
	CHECK(scram_client_first(&s, "n,,n=ghost,r=xyz", 16, &err));
	snprintf(b, sizeof b, "%s", scram_server_first(&s, NULL, unknown_key, 32));
	/* Same name (any case): same salt; another name: another salt. */
	CHECK_EQ_STR(strstr(a, ",s="), strstr(b, ",s="));
	CHECK(strcmp(strstr(a, ",s="), strstr(c, ",s=")) != 0);
	/* Same length of salt and same iteration count as a real account. */
	CHECK_EQ_INT(strlen(strstr(a, ",s=")), strlen(strstr(real, ",s=")));
	CHECK(strstr(a, ",i=4096") != NULL);
	/* No proof passes for an unknown user. */
	char final[200], msg[400];
	scram_client_proof("pencil", "n=ghost,r=xyz", b, false, msg, sizeof msg);
	CHECK(!scram_client_final(&s, msg, strlen(msg), final, sizeof final));
	free(secret);
}
