/* DKIM signing keys: where they live, how they are made and rotated, and the in-memory table
 * the server signs with.
 *
 * On disk, in the data directory (directories 0700, files 0600):
 *
 *   dkim/<domain>/<selector>.key     the private key, PEM (PKCS#8), RSA-2048 or Ed25519
 *   dkim/<domain>/signing            the selectors mail is signed with, one per line
 *   dkim/<domain>/retired/           keys taken out of use (`yubin dkim retire`)
 *
 * Selectors are dated: y2026a-rsa and y2026a-ed are the first pair made in 2026, y2026b-* the
 * next rotation that year. The CLI writes these files; the server reads them at start and on
 * SIGHUP into a dkim_keyring, which is immutable and shared by reference between threads. */
#ifndef YUBIN_MAILAUTH_DKIM_KEYS_H
#define YUBIN_MAILAUTH_DKIM_KEYS_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lib/buf.h"

#define DKIM_SELECTOR_MAX 64

/* ---- the key files (CLI) -------------------------------------------------------------------- */

/* True when d is usable as a directory name for a domain: letters, digits, '-', '.', not
 * starting with '.' and without "..". Domains are stored in lower case. */
bool dkim_domain_name_ok(const char *d);
bool dkim_selector_ok(const char *s);

/* Makes a new RSA-2048 and a new Ed25519 key for domain with the next free dated selector of
 * the year of `now` (y2026a, y2026b, ...), written 0600 in 0700 directories. Does not change
 * which selectors sign. sel_rsa and sel_ed get the names. false with a sentence in err. */
bool dkim_keys_generate(const char *data_dir, const char *domain, time_t now,
			char sel_rsa[DKIM_SELECTOR_MAX], char sel_ed[DKIM_SELECTOR_MAX],
			struct buf *err);

/* Selectors of every key file of domain (not retired), sorted; *n gets the count. Free each and
 * the array. NULL with *n = 0 when there are none. */
char **dkim_keys_selectors(const char *data_dir, const char *domain, size_t *n);
/* The selectors in the signing file (in its order). NULL with *n = 0 when none. */
char **dkim_keys_signing(const char *data_dir, const char *domain, size_t *n);
/* Writes the signing file (atomically). Every selector must have a key file: false with a
 * sentence in err otherwise, and nothing changes. */
bool dkim_keys_set_signing(const char *data_dir, const char *domain, char *const *sel, size_t n,
			   struct buf *err);
/* Moves a key file to retired/. Refuses a selector in the signing file. */
bool dkim_keys_retire(const char *data_dir, const char *domain, const char *selector,
		      struct buf *err);
/* Domains with a key directory, sorted. */
char **dkim_keys_domains(const char *data_dir, size_t *n);
void dkim_strings_free(char **v, size_t n);

/* The TXT record for a key: "v=DKIM1; k=rsa; p=..." or "v=DKIM1; k=ed25519; p=..." (RFC 8463:
 * the 32 raw bytes of the public key). *type gets "rsa" or "ed25519". */
bool dkim_keys_record(const char *data_dir, const char *domain, const char *selector,
		      struct buf *txt, const char **type, struct buf *err);
/* Appends txt as zone-file strings: "..." "..." each at most 255 bytes, separated by
 * `sep` (e.g. " " or "\n\t"). */
void dkim_record_strings(const char *txt, size_t len, const char *sep, struct buf *out);

/* ---- the table the server signs with ------------------------------------------------------ */

struct dkim_keyring;

/* Reads every domain's signing keys. A key that cannot be used (missing, unreadable, wrong
 * type) is logged with what to do, and its domain is left unsigned; nothing is fatal.
 * fallback_domain signs mail whose From domain has no keys (forwarded foreign mail). */
struct dkim_keyring *dkim_keyring_load(const char *data_dir, const char *fallback_domain);
/* Domains that sign (for the log). */
size_t dkim_keyring_domains(const struct dkim_keyring *kr);
void dkim_keyring_release(struct dkim_keyring *kr);

/* Appends one DKIM-Signature field per signing key of the domain chosen for msg (see
 * dkim_keyring_pick): false with *why when nothing could be signed. *domain gets the d= used
 * ("" when none). Any thread. */
bool dkim_keyring_sign(const struct dkim_keyring *kr, const char *msg, size_t len, time_t now,
		       struct buf *out, const char **domain, const char **why);

/* The domain of the first address in a From field value, lower case, or false. Pure. */
bool dkim_from_domain(const char *value, size_t len, char *out, size_t out_size);

/* A holder that lets the loop swap the keyring (SIGHUP) while worker threads sign with it. */
struct dkim_keyholder;
struct dkim_keyholder *dkim_keyholder_new(struct dkim_keyring *kr);
/* Replaces the keyring; the old one is released when its last user is done. */
void dkim_keyholder_set(struct dkim_keyholder *h, struct dkim_keyring *kr);
/* A reference to the current keyring: release it with dkim_keyring_release. */
struct dkim_keyring *dkim_keyholder_get(struct dkim_keyholder *h);
void dkim_keyholder_free(struct dkim_keyholder *h);

#endif
