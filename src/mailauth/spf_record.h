/* SPF (RFC 7208) records and macros as pure code: a TXT string in, terms or an error out;
 * a macro-string and the values of its letters in, the expansion out. No DNS, no I/O: the
 * evaluator (spf.h) supplies the values, and fuzz/fuzz_spf_record.c drives both. */
#ifndef YUBIN_SPF_RECORD_H
#define YUBIN_SPF_RECORD_H
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* The results of check_host() (RFC 7208 section 2.6). */
enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

enum spf_mech {
	SPF_MECH_ALL,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
};

struct spf_term {
	enum spf_mech mech;
	enum spf_result qualifier; /* SPF_PASS, SPF_FAIL, SPF_SOFTFAIL or SPF_NEUTRAL */
	char *domain_spec;         /* unexpanded macro-string, NULL when the term has none */
	int cidr4, cidr6;          /* prefix lengths: 32 and 128 when not given */
	unsigned char addr[16];    /* ip4 (first 4 bytes) and ip6 networks */
	char *text;                /* the term as written, for logs and results */
};

struct spf_record {
	struct spf_term *terms;
	size_t nterms;
	char *redirect; /* domain-spec of redirect=, or NULL */
	char *exp;      /* domain-spec of exp=, or NULL */
};

/* Longest expansion of one macro-string: longer is a permerror (a record of a few
 * hundred bytes could otherwise ask for megabytes through repeated %{s}). */
#define SPF_MACRO_MAX_OUT 8192

/* True when the TXT string is an SPF version 1 record ("v=spf1" then a space or the end,
 * case-insensitively: section 4.5). */
bool spf_record_is_spf1(const char *txt, size_t len);

/* Parses a whole record (with its "v=spf1"). Returns 0 and fills *out (free it with
 * spf_record_free), or -1 with *why saying what is wrong (a static string): the caller's
 * permerror. Nothing is kept on failure. */
int spf_record_parse(const char *txt, size_t len, struct spf_record *out, const char **why);
void spf_record_free(struct spf_record *r);

/* The values of the macro letters (section 7.2). Strings are NUL-terminated. */
struct spf_macro_env {
	const char *sender;        /* s */
	const char *local;         /* l */
	const char *sender_domain; /* o */
	const char *domain;        /* d */
	const char *ip;            /* i: dotted IPv4, or 32 dotted nibbles for IPv6 */
	const char *ptr_name;      /* p: validated name or "unknown"; NULL while not known */
	const char *ip_version;    /* v: "in-addr" or "ip6" */
	const char *helo;          /* h */
	const char *client_ip;     /* c: the address in its usual text form (exp only) */
	const char *receiver;      /* r (exp only) */
	long long timestamp;       /* t (exp only) */
};

enum spf_macro_status {
	SPF_MACRO_OK,
	SPF_MACRO_SYNTAX,   /* not a macro-string, or too long: permerror */
	SPF_MACRO_NEED_PTR, /* uses %{p} and env->ptr_name is NULL: validate the PTR first */
};

/* Expands a macro-string (section 7) into out (appended to). exp is true for explanation
 * strings, the only place the letters c, r and t are allowed. env NULL only checks the
 * syntax. */
enum spf_macro_status spf_macro_expand(const char *in, size_t len, bool exp,
				       const struct spf_macro_env *env, struct buf *out);

/* True when the macro-string is valid and ends as a domain-spec must (section 7.1:
 * a macro or "." toplabel, then an optional "."). */
bool spf_domain_spec_valid(const char *spec, size_t len);

/* True when the macro-string mentions the p letter. */
bool spf_macro_uses_ptr(const char *spec);

const char *spf_result_name(enum spf_result r);

#endif
