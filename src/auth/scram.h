/* SCRAM-SHA-256 (RFC 5802, RFC 7677) on the server side. The store keeps only the salted keys
 * (StoredKey, ServerKey), never the password or anything that logs in by itself. */
#ifndef YUBIN_SCRAM_H
#define YUBIN_SCRAM_H
#include <stdbool.h>
#include <stddef.h>

#define SCRAM_ITERATIONS 4096
#define SCRAM_SALT_LEN 16

/* "4096$salt$storedkey$serverkey" (base64 parts) for a password; malloc'd. */
char *scram_make_secret(const char *password);

struct scram_server {
	char user[256];
	char client_first_bare[1024];
	char server_first[1024];
	char nonce[256];             /* client nonce + ours */
	unsigned char stored_key[32], server_key[32];
	bool have_secret;
};

/* Reads client-first "n,,n=user,r=nonce". False with a sentence on bad input. */
bool scram_client_first(struct scram_server *s, const char *msg, size_t len, const char **err);
/* Loads StoredKey and ServerKey from a stored secret (and its iteration count and base64
 * salt when asked). False (and no keys: every proof fails) for NULL or a damaged secret. */
bool scram_server_keys(struct scram_server *s, const char *secret, int *iterations,
		       char salt64[64]);
/* Builds server-first from the stored secret. NULL: an unknown user, whose salt is
 * HMAC-SHA256(unknown_key, lower-cased name) cut to the real salt's length, so it is the
 * same on every attempt and the exchange looks like a real one until the proof fails.
 * Returns the message to send. */
const char *scram_server_first(struct scram_server *s, const char *secret,
			       const unsigned char *unknown_key, size_t unknown_key_len);
/* Checks client-final "c=biws,r=...,p=proof". True when the proof is right; then server_final
 * (of size >= 128) holds "v=signature" to send back. */
bool scram_client_final(struct scram_server *s, const char *msg, size_t len, char *server_final,
			size_t server_final_len);

#endif
