/* Password hashing with Argon2id (libargon2) in the PHC string format. */
#ifndef YUBIN_PASSWORD_H
#define YUBIN_PASSWORD_H
#include <stdbool.h>
#include <stddef.h>

/* Returns a malloc'd encoded hash ("$argon2id$v=19$..."), or NULL on failure. */
char *password_hash(const char *password);
bool password_verify(const char *encoded, const char *password);
/* Writes a random password of len-1 characters (easy to read aloud: no 0/O/1/l). */
void password_generate(char *out, size_t len);

#endif
