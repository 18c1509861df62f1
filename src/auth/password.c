#include "auth/password.h"

#include <argon2.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/log.h"

/* OWASP's 2023 minimum for Argon2id: 19 MiB, 2 iterations, 1 lane. */
#define T_COST 2
#define M_COST_KIB 19456
#define LANES 1
#define SALT_LEN 16
#define HASH_LEN 32

char *password_hash(const char *password)
{
	unsigned char salt[SALT_LEN];
	if (RAND_bytes(salt, sizeof salt) != 1)
		return NULL;
	size_t len = argon2_encodedlen(T_COST, M_COST_KIB, LANES, SALT_LEN, HASH_LEN, Argon2_id);
	char *out = xmalloc(len);
	int rc = argon2id_hash_encoded(T_COST, M_COST_KIB, LANES, password, strlen(password), salt,
				       SALT_LEN, HASH_LEN, out, len);
	if (rc != ARGON2_OK) {
		log_error("event=password-hash-failed error=\"%s\"", argon2_error_message(rc));
		free(out);
		return NULL;
	}
	return out;
}

bool password_verify(const char *encoded, const char *password)
{
	return argon2id_verify(encoded, password, strlen(password)) == ARGON2_OK;
}

void password_generate(char *out, size_t len)
{
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char r[128];
	if (len > sizeof r)
		len = sizeof r;
	if (RAND_bytes(r, (int)len) != 1)
		abort();
	for (size_t i = 0; i + 1 < len; i++)
		out[i] = alphabet[r[i] % (sizeof alphabet - 1)];
	out[len - 1] = '\0';
}
