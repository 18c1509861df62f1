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

#include "auth/scram.h"

TEST(scram_secret_format_and_unknown_user_shape)
{
	char *secret = scram_make_secret("pencil");
	CHECK(secret != NULL && strncmp(secret, "4096$", 5) == 0);
	struct scram_server s;
	const char *err;
	CHECK(scram_client_first(&s, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", 32, &err));
	CHECK_EQ_STR(s.user, "user");
	const char *first = scram_server_first(&s, secret);
	CHECK(strncmp(first, "r=rOprNGfwEbeRWgbNEkqO", 22) == 0);
	CHECK(strstr(first, ",i=4096") != NULL);
	/* A wrong proof fails; channel binding is refused. */
	char final[200];
	CHECK(!scram_client_final(&s, "c=biws,r=x,p=AAAA", 17, final, sizeof final));
	CHECK(!scram_client_first(&s, "p=tls-unique,,n=user,r=abc", 26, &err));
	/* An unknown user gets an answer of the same shape. */
	CHECK(scram_client_first(&s, "n,,n=ghost,r=abc", 16, &err));
	CHECK(strstr(scram_server_first(&s, NULL), ",s=") != NULL);
	free(secret);
}
