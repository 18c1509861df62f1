/* DMARC (RFC 7489, with RFC 9091's np=) as pure code: the policy record parser, the
 * organisational domain (the Public Suffix List through libpsl), the From domain of a
 * message, a resumable policy lookup that asks for one DNS answer at a time (the event loop
 * drives it in dmarc_dns.h, tests from a table), and the policy evaluation.
 *
 *   dmarc_from_domain(hdr, len, from, sizeof from, &why)       -> DMARC_FROM_OK or a problem
 *   l = dmarc_lookup_start(from);  while (dmarc_lookup_next(l, &q)) dmarc_lookup_answer(l, ...);
 *   in.policy = dmarc_lookup_policy(l); in.spf = ...; in.dkim = ...;
 *   dmarc_evaluate(&in, &out);     out.result, out.disposition, out.reason
 *
 * Nothing here blocks or does I/O, except that the first use of the Public Suffix List loads
 * it (once per process; thread-safe). */
#ifndef YUBIN_MAILAUTH_DMARC_H
#define YUBIN_MAILAUTH_DMARC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailauth/dkim.h"
#include "mailauth/spf_record.h"

#define DMARC_MAX_URIS 8        /* rua= and ruf= URIs kept each; more are counted, not kept */
#define DMARC_MAX_URI 320       /* bytes of one kept URI (mailto: + a 254-byte address) */
#define DMARC_MAX_RECORD 4096   /* longer TXT records are not DMARC records for us */
#define DMARC_DOMAIN_MAX 256    /* a domain name and its NUL */

/* ---------------------------------------------------------------------------------------------
 * The record (RFC 7489 6.3). */

enum dmarc_policy {
	DMARC_POLICY_UNSET, /* the tag was absent (sp, np: fall back to p; p: see p_from_rua) */
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};
enum dmarc_align { DMARC_ALIGN_RELAXED, DMARC_ALIGN_STRICT };
enum dmarc_psd { DMARC_PSD_UNSET, DMARC_PSD_Y, DMARC_PSD_N, DMARC_PSD_U };

enum {
	DMARC_FO_0 = 1 << 0, /* fo= flags; fo absent means "0" */
	DMARC_FO_1 = 1 << 1,
	DMARC_FO_D = 1 << 2,
	DMARC_FO_S = 1 << 3,
};

struct dmarc_uri {
	char uri[DMARC_MAX_URI]; /* "mailto:dmarc@example.com", %-escapes left as written */
	uint64_t max_size;       /* from "!10m" in bytes; 0: no limit */
};

struct dmarc_record {
	enum dmarc_policy p, sp, np;
	/* p= was missing or invalid (or sp= invalid) but rua= names a valid URI: RFC 7489
	 * 6.6.3 says to act as if p=none were published; p is then DMARC_POLICY_NONE. */
	bool p_from_rua;
	unsigned pct;             /* 0..100; 100 when absent or invalid */
	enum dmarc_align adkim, aspf;
	struct dmarc_uri rua[DMARC_MAX_URIS], ruf[DMARC_MAX_URIS];
	size_t nrua, nruf;        /* kept (mailto: URIs that fit) */
	size_t rua_dropped, ruf_dropped; /* valid URIs not kept: other schemes, too long, too many */
	uint32_t ri;              /* seconds; 86400 when absent or invalid */
	unsigned fo;              /* DMARC_FO_* (DMARC_FO_0 when absent) */
	bool rf_afrf;             /* rf= names afrf (the default) */
	enum dmarc_psd psd;
	unsigned ignored;         /* tags ignored: unknown, repeated, or with an invalid value */
};

enum dmarc_record_rc {
	DMARC_RECORD_OK,
	DMARC_RECORD_NOT_DMARC, /* does not start with v=DMARC1: not a DMARC record at all */
	DMARC_RECORD_INVALID,   /* a DMARC record with no usable policy: no DMARC processing */
	DMARC_RECORD_MULTIPLE,  /* (dmarc_record_pick) more than one DMARC record: none */
};

/* Parses a TXT record (its strings joined). Unknown tags and invalid values of tags other
 * than p and sp are ignored (the default applies), as 6.3 says. On DMARC_RECORD_INVALID and
 * DMARC_RECORD_NOT_DMARC *why says what is wrong. Pure; linear in len. */
enum dmarc_record_rc dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r,
					const char **why);

/* Of the TXT records at one _dmarc name, the one DMARC record (6.6.3: records that do not
 * start with v=DMARC1 are ignored; more than one DMARC record means none). Returns
 * DMARC_RECORD_OK with *r set, DMARC_RECORD_NOT_DMARC when there is no DMARC record,
 * DMARC_RECORD_MULTIPLE when there are several, DMARC_RECORD_INVALID for one record without
 * a policy; *why says which. */
enum dmarc_record_rc dmarc_record_pick(const char *const *txts, const size_t *lens, size_t n,
				       struct dmarc_record *r, const char **why);

const char *dmarc_policy_name(enum dmarc_policy p); /* "none" for UNSET too */

/* ---------------------------------------------------------------------------------------------
 * Domains. */

/* The organisational domain (RFC 7489 3.2): the registrable domain under the Public Suffix
 * List, normalised as below. False when there is none: the name is a public suffix itself, is
 * empty, has an empty label (".example.com", "a..b") or is not a valid name. */
bool dmarc_org_domain(const char *domain, char *out, size_t outlen);

/* Normalises a domain for lookups and comparison: lower case, one final dot removed, U-labels
 * turned into A-labels (IDNA2008 with UTS #46 mapping, libidn2; RFC 8616 4), A-labels taken
 * as given. False when it is not a plausible domain name (empty label, bad byte, too long, or
 * U-labels IDNA refuses). */
bool dmarc_domain_normalize(const char *domain, char *out, size_t outlen);

/* Identifier alignment (3.1): strict: the same name (case-insensitive); relaxed: the same
 * organisational domain (a public suffix counts as its own organisational domain). */
bool dmarc_aligned(const char *a, const char *b, enum dmarc_align mode);

/* ---------------------------------------------------------------------------------------------
 * The From domain (6.6.1). */

enum dmarc_from_rc {
	DMARC_FROM_OK,        /* one domain: in *out */
	DMARC_FROM_MISSING,   /* no From field */
	DMARC_FROM_MULTIPLE,  /* more than one From field */
	DMARC_FROM_MIXED,     /* one From field whose addresses have different domains */
	DMARC_FROM_NO_DOMAIN, /* From has no address with a usable domain */
};

/* Reads the header block at the start of msg (the whole message may be given: reading stops
 * at the empty line) and finds the domain DMARC is about, normalised (dmarc_domain_normalize). Several addresses with the same
 * domain in one From field are OK (6.6.1 lets receivers evaluate them once). Everything else
 * but OK is "DMARC cannot be evaluated": *why is a sentence for people. The lead's choice (see
 * authres.h for the header): MISSING/MULTIPLE/MIXED/NO_DOMAIN are RFC 5322 violations, and
 * several From fields are the classic way to show one author to the receiver and another to
 * the reader, so reject them (550 5.7.1) or at least report dmarc=permerror. Linear in len. */
enum dmarc_from_rc dmarc_from_domain(const char *msg, size_t len, char *out, size_t outlen,
				     const char **why);

/* ---------------------------------------------------------------------------------------------
 * The policy lookup (6.6.3 and RFC 9091): TXT _dmarc.<from>; when it has no DMARC record, TXT
 * _dmarc.<org domain> when that differs; when the record came from the organisational domain
 * and has np=, whether the From domain exists (NXDOMAIN for A, then AAAA and MX). */

enum dmarc_qtype { DMARC_QTXT, DMARC_QA, DMARC_QAAAA, DMARC_QMX };
enum dmarc_dns_status {
	DMARC_DNS_OK,       /* records, possibly none (NODATA) */
	DMARC_DNS_NXDOMAIN,
	DMARC_DNS_TEMPFAIL, /* timeout, SERVFAIL, any other error */
};
struct dmarc_query {
	enum dmarc_qtype type;
	const char *name; /* owned by the lookup; valid until the next call on it */
};

enum dmarc_found {
	DMARC_FOUND_NONE,     /* no DMARC record (or several, or one without a policy) */
	DMARC_FOUND_FROM,     /* at _dmarc.<from domain> */
	DMARC_FOUND_ORG,      /* at _dmarc.<organisational domain> */
	DMARC_FOUND_TEMPFAIL, /* a DNS lookup failed for now */
};
enum dmarc_exists { DMARC_EXISTS_UNKNOWN, DMARC_EXISTS_YES, DMARC_EXISTS_NO };

/* What the lookup found: the input of dmarc_evaluate(), which tests may also fill by hand. */
struct dmarc_policy_lookup {
	enum dmarc_found found;
	struct dmarc_record record;             /* when found is FROM or ORG */
	char policy_domain[DMARC_DOMAIN_MAX];   /* where the record is ("" when none) */
	enum dmarc_exists from_exists;          /* UNKNOWN unless it was asked (np= present) */
	char why[640];                          /* for NONE and TEMPFAIL: what was seen */
};

struct dmarc_lookup;
/* from is the From domain (dmarc_from_domain()). Never NULL: an invalid domain gives a lookup
 * that asks nothing and found NONE. */
struct dmarc_lookup *dmarc_lookup_start(const char *from);
bool dmarc_lookup_next(struct dmarc_lookup *l, struct dmarc_query *q);
/* The answer to the query last returned: TXT records with their strings joined; for A, AAAA
 * and MX only the status matters. */
void dmarc_lookup_answer(struct dmarc_lookup *l, enum dmarc_dns_status st,
			 const char *const *txts, const size_t *lens, size_t n);
/* Once dmarc_lookup_next() returned false. Owned by the lookup. */
const struct dmarc_policy_lookup *dmarc_lookup_policy(const struct dmarc_lookup *l);
size_t dmarc_lookup_queries(const struct dmarc_lookup *l);
void dmarc_lookup_free(struct dmarc_lookup *l);

/* ---------------------------------------------------------------------------------------------
 * Evaluation (6.6.2 - 6.6.4). */

enum dmarc_result {
	DMARC_RESULT_NONE,      /* no policy published: nothing to apply */
	DMARC_RESULT_PASS,
	DMARC_RESULT_FAIL,      /* apply out.disposition */
	DMARC_RESULT_TEMPERROR, /* try again later (451 4.7.x) */
	DMARC_RESULT_PERMERROR, /* cannot evaluate (no usable From domain) */
};
const char *dmarc_result_name(enum dmarc_result r); /* RFC 8601 names */

struct dmarc_input {
	const char *from_domain;                  /* NULL or "": permerror */
	const struct dmarc_policy_lookup *policy; /* NULL: treated as found NONE */
	enum spf_result spf;
	const char *spf_domain;  /* MAIL FROM's domain, or the HELO name when MAIL FROM is <> */
	/* The verifier's outcomes copied into one array (dkim_verifier_result() returns them one
	 * by one, not contiguous); result, domain and testing are read.
	 * A pass with a key that says t=y (testing) counts like any other: RFC 6376 says not to
	 * treat such mail differently from unsigned mail, which protects the signer from
	 * failures; a failure never helps DMARC anyway, and ignoring a correct pass would only
	 * make the signer's own mail fail DMARC (and be rejected under p=reject) because it is
	 * still testing, the opposite of what t=y is for. Many domains leave t=y on for years. */
	const struct dkim_outcome *dkim;
	size_t ndkim;
	unsigned random;         /* uniform in 0..99: the message is sampled when random < pct */
};

struct dmarc_outcome {
	enum dmarc_result result;
	enum dmarc_policy policy;      /* the published policy that applies (p, sp or np; RFC 8601
					* p=), NONE when there is none */
	enum dmarc_policy disposition; /* what to do on fail after pct (dis=): pct sampling turns
					* reject into quarantine and quarantine into none (6.6.4);
					* NONE for every other result */
	bool sampled_out;              /* pct took the message out of the policy */
	const char *policy_tag;        /* "p", "sp" or "np": which tag gave policy ("" if none) */
	bool spf_aligned, dkim_aligned; /* an aligned pass of each */
	char dkim_domain[DMARC_DOMAIN_MAX]; /* the d= of the aligned passing signature */
	char from_domain[DMARC_DOMAIN_MAX]; /* normalised */
	char policy_domain[DMARC_DOMAIN_MAX];
	char org_domain[DMARC_DOMAIN_MAX];
	char reason[512];              /* a sentence for people and logs */
};

/* Pure: the same input gives the same outcome. DNS trouble never gives a pass: a failed
 * record lookup is temperror, and so is a message that would fail, with a disposition other
 * than none, while the SPF check of an aligned domain or a signature whose d= would align had
 * a temporary DNS error (it may pass on a retry; under p=none, or sampled out to none, it
 * stays fail, since nothing would be done anyway). */
void dmarc_evaluate(const struct dmarc_input *in, struct dmarc_outcome *out);

#endif
