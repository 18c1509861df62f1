/* DKIM (RFC 6376), with Ed25519 (RFC 8463) and the RFC 8301 crypto rules: the DKIM-Signature
 * and key-record parsers, canonicalization, verification and signing.
 *
 * No I/O here. Verification is two steps so that the key records can be fetched by the
 * asynchronous resolver in between:
 *
 *   v = dkim_verifier_new(msg, len);
 *   for (i = 0; i < dkim_verifier_key_count(v); i++)
 *           look up TXT dkim_verifier_key_name(v, i), then dkim_verifier_set_key(v, i, ...);
 *   dkim_verifier_run(v, time(NULL));      CPU work linear in the message: not on the loop
 *   for (i = 0; i < dkim_verifier_count(v); i++) r = dkim_verifier_result(v, i);
 *   dkim_verifier_free(&v);
 *
 * Work is bounded: at most DKIM_MAX_SIGNATURES signatures are checked (the others are reported
 * as not checked), h= may name at most DKIM_MAX_H fields, and each message costs at most one
 * pass over its body per checked signature. Messages may use CRLF or bare LF line ends; a bare
 * LF is read as CRLF (that is what the message is on the wire). */
#ifndef YUBIN_MAILAUTH_DKIM_H
#define YUBIN_MAILAUTH_DKIM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "lib/buf.h"

#define DKIM_MAX_SIGNATURES 10   /* checked per message; the rest are "not checked" */
#define DKIM_MAX_REPORTED 50     /* signatures listed in the results at all */
#define DKIM_MAX_H 256           /* entries in one h= list */
#define DKIM_MAX_FIELDS 4096     /* header fields looked at per message */
#define DKIM_MAX_TAG_VALUE 16384 /* bytes in one tag value (b= of a 16384-bit key is 2.8 KB) */

enum dkim_alg { DKIM_ALG_RSA_SHA256, DKIM_ALG_RSA_SHA1, DKIM_ALG_ED25519_SHA256 };
enum dkim_canon { DKIM_CANON_SIMPLE, DKIM_CANON_RELAXED };
enum dkim_keytype { DKIM_KEY_RSA, DKIM_KEY_ED25519 };

/* RFC 8601 result names, plus "not checked" for signatures past DKIM_MAX_SIGNATURES. */
enum dkim_result {
	DKIM_PASS,
	DKIM_FAIL,
	DKIM_NEUTRAL,
	DKIM_POLICY,
	DKIM_TEMPERROR,
	DKIM_PERMERROR,
	DKIM_NOT_CHECKED,
};
const char *dkim_result_name(enum dkim_result r);
const char *dkim_alg_name(enum dkim_alg a);

/* ---------------------------------------------------------------------------------------------
 * Tag lists (RFC 6376 3.2): tag=value pairs separated by ';', FWS allowed around names, '=' and
 * values. The parsers below are pure and fuzzed; an error gives a sentence in *why. */

/* A parsed DKIM-Signature value. Strings are NUL-terminated copies; the caller frees with
 * dkim_signature_free. */
struct dkim_signature {
	enum dkim_alg alg;
	enum dkim_canon hcanon, bcanon;
	unsigned char *b, *bh; /* decoded base64 */
	size_t b_len, bh_len;
	char *d, *s, *i;     /* i is "@d" when absent */
	char **h;            /* field names as written (compare case-insensitively) */
	size_t h_count;
	bool has_l, has_t, has_x;
	uint64_t l;
	int64_t t, x;
	/* Where the value of b= is in the parsed text, so the verifier can empty it (3.7). */
	size_t b_value_start, b_value_end;
};

/* Parses the value of a DKIM-Signature field (after the colon, folding kept). Returns true on
 * success; on false *why says what is wrong and sig holds nothing to free. */
bool dkim_signature_parse(const char *value, size_t len, struct dkim_signature *sig,
			  const char **why);
void dkim_signature_free(struct dkim_signature *sig);

/* A parsed key record (RFC 6376 3.6.1). */
struct dkim_key {
	enum dkim_keytype type;
	bool sha1_ok, sha256_ok; /* h= (both when absent) */
	bool email_ok;           /* s= names "email" or "*" (true when absent) */
	bool testing, strict;    /* t=y, t=s */
	bool has_g;              /* g= (RFC 4871 granularity), value in g */
	char *g;
	unsigned char *p;        /* decoded public key; p_len 0 means revoked */
	size_t p_len;
};

/* Parses a TXT record (strings already joined). false with *why on a syntax error or an
 * unknown key type (RFC 6376 says to ignore such records: the caller reports permerror). */
bool dkim_key_parse(const char *txt, size_t len, struct dkim_key *key, const char **why);
void dkim_key_free(struct dkim_key *key);

/* Decodes a b=, bh= or p= value: base64 with folding whitespace anywhere in it, decoded by
 * base64_decode_lenient; false when that reports anything wrong (another character, a stray
 * '=', a lone final character). *out is xmalloc'd (NULL when empty). */
bool dkim_base64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len);

/* ---------------------------------------------------------------------------------------------
 * Canonicalization (RFC 6376 3.4). Pure; bare LF is read as CRLF. */

/* Appends the canonical form of one header field (name, colon, value, CRLF). field/len is the
 * whole field as in the message, including its final line end if any. */
void dkim_canon_header(enum dkim_canon c, const char *field, size_t len, struct buf *out);

/* Feeds the canonical body to emit() in pieces. Returns the canonical length. */
typedef void (*dkim_emit_fn)(void *ctx, const void *data, size_t len);
uint64_t dkim_canon_body(enum dkim_canon c, const char *body, size_t len, dkim_emit_fn emit,
			 void *ctx);

/* SHA-256 or SHA-1 hash of the canonical body, at most `limit` bytes of it (UINT64_MAX for all).
 * *canon_len gets the full canonical length. md_out must hold EVP_MAX_MD_SIZE bytes. */
unsigned dkim_body_hash(enum dkim_canon c, const EVP_MD *md, const char *body, size_t len,
			uint64_t limit, unsigned char *md_out, uint64_t *canon_len);

/* ---------------------------------------------------------------------------------------------
 * Verification. */

enum dkim_dns { DKIM_DNS_FOUND, DKIM_DNS_NONE, DKIM_DNS_TEMPFAIL };

struct dkim_outcome {
	enum dkim_result result;
	char reason[256];     /* a sentence for people and logs ("body hash did not match") */
	char domain[256];     /* d= ("" when the signature did not parse) */
	char selector[128];   /* s= */
	const char *alg;      /* a= as a static string, or "" */
	bool l_used;          /* l= present: the body may have unsigned text appended */
	uint64_t l;
	uint64_t body_len;    /* canonical body length, for comparing with l= */
	bool testing;         /* key says t=y: treat as unsigned whatever the result */
	unsigned key_bits;
};

struct dkim_verifier;

/* Reads the header of msg (which must stay valid until dkim_verifier_free) and parses every
 * DKIM-Signature field. Never NULL. */
struct dkim_verifier *dkim_verifier_new(const char *msg, size_t len);
/* The distinct key records needed, "selector._domainkey.domain" (lower case). */
size_t dkim_verifier_key_count(const struct dkim_verifier *v);
const char *dkim_verifier_key_name(const struct dkim_verifier *v, size_t i);
/* The answer for key i: the TXT strings joined, or no record, or a temporary failure.
 * A key never answered counts as DKIM_DNS_TEMPFAIL. */
void dkim_verifier_set_key(struct dkim_verifier *v, size_t i, enum dkim_dns status,
			   const char *txt, size_t len);
/* Computes the body hash of every signature to check, which needs no key: on another thread
 * while the keys are looked up (it touches nothing set_key does). Optional: run does what is
 * not done yet. */
void dkim_verifier_hash_bodies(struct dkim_verifier *v);
/* Checks every signature (up to DKIM_MAX_SIGNATURES) at time `now`. */
void dkim_verifier_run(struct dkim_verifier *v, time_t now);
/* Results in header order (topmost signature first). */
size_t dkim_verifier_count(const struct dkim_verifier *v);
const struct dkim_outcome *dkim_verifier_result(const struct dkim_verifier *v, size_t i);
/* DKIM-Signature fields present beyond DKIM_MAX_REPORTED (not listed, not checked). */
size_t dkim_verifier_unlisted(const struct dkim_verifier *v);
void dkim_verifier_free(struct dkim_verifier **v);

/* ---------------------------------------------------------------------------------------------
 * Signing (relaxed/relaxed, SHA-256). */

/* Appends a complete "DKIM-Signature: ...CRLF" field to prepend to msg, signed with key (RSA or
 * Ed25519) for domain/selector at time now. h= covers From, To, Cc, Subject, Date, Message-ID,
 * Reply-To, In-Reply-To, References, MIME-Version, Content-Type as present, with From and
 * Subject listed once more than present (oversigned) so none can be added. Lines stay under 78
 * characters. false (nothing appended, *why set) if the key type is not usable or the message
 * has no From. */
bool dkim_sign(const char *msg, size_t len, const char *domain, const char *selector,
	       EVP_PKEY *key, time_t now, struct buf *out, const char **why);

#endif
