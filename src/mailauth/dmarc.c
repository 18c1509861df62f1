/* DMARC: domains (organisational domain through libpsl, alignment), the From domain of a
 * message, and the policy evaluation. Pure except for loading the Public Suffix List once. */
#include "mailauth/dmarc.h"

#include <idn2.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/utf8.h"
#include "mime/mime.h"

/* ---------------------------------------------------------------------------------------------
 * The Public Suffix List: loaded once, then only read (libpsl's lookups do not write to the
 * context, so threads share it). psl_latest() takes whichever is newer of the list built into
 * libpsl and Debian's publicsuffix package (/usr/share/publicsuffix). */

static const psl_ctx_t *psl;
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

static void psl_init(void)
{
	psl = psl_latest(NULL);
	if (!psl)
		psl = psl_load_file("/usr/share/publicsuffix/public_suffix_list.dat");
	if (!psl)
		psl = psl_builtin();
}

static const psl_ctx_t *psl_get(void)
{
	pthread_once(&psl_once, psl_init);
	return psl;
}

static bool label_byte_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c >= 0x80;
}

bool dmarc_domain_normalize(const char *domain, char *out, size_t outlen)
{
	if (!domain || outlen == 0)
		return false;
	size_t len = strlen(domain);
	if (len && domain[len - 1] == '.')
		len--;
	if (len == 0 || len > 253 || len >= outlen)
		return false;
	bool ascii = true;
	for (size_t i = 0; i < len; i++) {
		char c = domain[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		if ((unsigned char)c >= 0x80)
			ascii = false;
		out[i] = c;
	}
	out[len] = '\0';
	if (!ascii) {
		/* U-labels (SMTPUTF8 mail): DMARC looks up and compares A-labels (RFC 8616 4),
		 * as DKIM's d= and SPF's domains are written; UTS #46 mapping lower-cases them */
		char *alabels = NULL;
		if (!utf8_valid(out, len) ||
		    idn2_to_ascii_8z(out, &alabels, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) !=
			    IDN2_OK || !alabels)
			return false;
		size_t l = strlen(alabels);
		if (l == 0 || l > 253 || l >= outlen) {
			idn2_free(alabels);
			return false;
		}
		for (size_t i = 0; i < l; i++)
			out[i] = alabels[i] >= 'A' && alabels[i] <= 'Z' ? (char)(alabels[i] + 32)
									: alabels[i];
		out[l] = '\0';
		idn2_free(alabels);
		len = l;
	}
	size_t label = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || out[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			label = 0;
			continue;
		}
		if (!label_byte_ok((unsigned char)out[i]))
			return false;
		label++;
	}
	return true;
}

bool dmarc_org_domain(const char *domain, char *out, size_t outlen)
{
	char norm[DMARC_DOMAIN_MAX];
	if (!dmarc_domain_normalize(domain, norm, sizeof norm))
		return false;
	const psl_ctx_t *ctx = psl_get();
	const char *reg = NULL;
	if (ctx) {
		reg = psl_registrable_domain(ctx, norm);
	} else {
		/* no list at all (not on Debian): the last two labels */
		const char *last = strrchr(norm, '.');
		if (last) {
			reg = norm;
			for (const char *p = last - 1; p > norm; p--)
				if (*p == '.') {
					reg = p + 1;
					break;
				}
		}
	}
	if (!reg || strlen(reg) >= outlen)
		return false;
	memmove(out, reg, strlen(reg) + 1);
	return true;
}

/* The organisational domain, or the name itself when it is a public suffix. */
static bool org_or_self(const char *domain, char *out, size_t outlen)
{
	if (dmarc_org_domain(domain, out, outlen))
		return true;
	return dmarc_domain_normalize(domain, out, outlen);
}

bool dmarc_aligned(const char *a, const char *b, enum dmarc_align mode)
{
	char x[DMARC_DOMAIN_MAX], y[DMARC_DOMAIN_MAX];
	bool ok = mode == DMARC_ALIGN_STRICT
			  ? dmarc_domain_normalize(a, x, sizeof x) && dmarc_domain_normalize(b, y, sizeof y)
			  : org_or_self(a, x, sizeof x) && org_or_self(b, y, sizeof y);
	return ok && strcmp(x, y) == 0;
}

/* ---------------------------------------------------------------------------------------------
 * The From domain. */

struct from_scan {
	char first[DMARC_DOMAIN_MAX];
	size_t with_domain, without_domain;
	bool mixed;
};

static void on_address(void *ctx, const char *local, size_t local_len, const char *domain,
		       size_t domain_len)
{
	struct from_scan *s = ctx;
	char raw[DMARC_DOMAIN_MAX], norm[DMARC_DOMAIN_MAX];
	if (domain_len == 0 || domain_len >= sizeof raw || memchr(domain, '\0', domain_len)) {
		s->without_domain++;
		return;
	}
	memcpy(raw, domain, domain_len);
	raw[domain_len] = '\0';
	if (!dmarc_domain_normalize(raw, norm, sizeof norm)) {
		s->without_domain++;
		return;
	}
	if (s->with_domain++ == 0)
		memcpy(s->first, norm, sizeof norm);
	else if (strcmp(s->first, norm) != 0)
		s->mixed = true;
}

enum dmarc_from_rc dmarc_from_domain(const char *msg, size_t len, char *out, size_t outlen,
				     const char **why)
{
	struct mime_header_iter it;
	struct mime_field f, from = { 0 };
	size_t nfrom = 0;
	if (outlen)
		out[0] = '\0';
	mime_header_iter_init(&it, msg, len, 0);
	while (mime_header_next(&it, &f))
		if (f.name_len == 4 && strncasecmp(f.name, "From", 4) == 0 && nfrom++ == 0)
			from = f;
	if (nfrom == 0) {
		*why = "the message has no From field, so DMARC cannot be checked";
		return DMARC_FROM_MISSING;
	}
	if (nfrom > 1) {
		*why = "the message has more than one From field, so it is not clear who sent it";
		return DMARC_FROM_MULTIPLE;
	}
	struct buf v = BUF_INIT;
	mime_header_unfold(from.value, from.value_len, &v);
	struct from_scan s = { .with_domain = 0 };
	mime_address_list_each(v.data, v.len, on_address, &s);
	buf_free(&v);
	if (s.with_domain == 0) {
		*why = "the message's From field has no address with a domain DMARC can check";
		return DMARC_FROM_NO_DOMAIN;
	}
	if (s.mixed || s.without_domain) {
		*why = "the message's From field names several addresses in different domains";
		return DMARC_FROM_MIXED;
	}
	if (strlen(s.first) >= outlen) {
		*why = "the message's From domain is too long";
		return DMARC_FROM_NO_DOMAIN;
	}
	memcpy(out, s.first, strlen(s.first) + 1);
	*why = NULL;
	return DMARC_FROM_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Evaluation. */

const char *dmarc_result_name(enum dmarc_result r)
{
	switch (r) {
	case DMARC_RESULT_NONE: return "none";
	case DMARC_RESULT_PASS: return "pass";
	case DMARC_RESULT_FAIL: return "fail";
	case DMARC_RESULT_TEMPERROR: return "temperror";
	case DMARC_RESULT_PERMERROR: return "permerror";
	}
	return "permerror";
}

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* The reason sentence, cut to fit (domains are at most 253 bytes, so it rarely is). */
__attribute__((format(printf, 2, 3))) static void say(struct dmarc_outcome *out,
						      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof out->reason, fmt, ap);
	va_end(ap);
}

/* What the SPF check and the signatures said, for the fail sentence. */
static void describe_seen(const struct dmarc_input *in, struct buf *b)
{
	size_t shown = 0;
	for (size_t i = 0; i < in->ndkim && shown < 3; i++) {
		const struct dkim_outcome *d = &in->dkim[i];
		buf_printf(b, "%s%s signature from %s", shown++ ? ", " : "",
			   d->result == DKIM_PASS ? "a good" : "a failed",
			   d->domain[0] ? d->domain : "an unknown domain");
	}
	if (in->ndkim == 0)
		buf_append_str(b, "no signature");
	else if (in->ndkim > 3)
		buf_printf(b, " and %zu more", in->ndkim - 3);
	if (in->spf_domain && in->spf_domain[0])
		buf_printf(b, "; SPF %s for %s", spf_result_name(in->spf), in->spf_domain);
	else
		buf_printf(b, "; SPF %s", spf_result_name(in->spf));
}

static bool temp_trouble(const struct dmarc_input *in, const char *from,
			 const struct dmarc_record *r, const char **what)
{
	if (in->spf == SPF_TEMPERROR && in->spf_domain &&
	    dmarc_aligned(in->spf_domain, from, r->aspf)) {
		*what = "the SPF check";
		return true;
	}
	for (size_t i = 0; i < in->ndkim; i++)
		if (in->dkim[i].result == DKIM_TEMPERROR &&
		    dmarc_aligned(in->dkim[i].domain, from, r->adkim)) {
			*what = "the check of a signature from the same domain";
			return true;
		}
	return false;
}

void dmarc_evaluate(const struct dmarc_input *in, struct dmarc_outcome *out)
{
	memset(out, 0, sizeof *out);
	out->policy_tag = "";
	out->policy = DMARC_POLICY_NONE;
	out->disposition = DMARC_POLICY_NONE;
	char *from = out->from_domain;
	if (!in->from_domain ||
	    !dmarc_domain_normalize(in->from_domain, from, sizeof out->from_domain)) {
		out->result = DMARC_RESULT_PERMERROR;
		from[0] = '\0';
		copy(out->reason, sizeof out->reason,
		     "the message has no From domain DMARC can check");
		return;
	}
	org_or_self(from, out->org_domain, sizeof out->org_domain);
	const struct dmarc_policy_lookup *pl = in->policy;
	if (!pl || pl->found == DMARC_FOUND_NONE) {
		out->result = DMARC_RESULT_NONE;
		say(out, "%s publishes no DMARC policy%s%s%s", from,
			 pl && pl->why[0] ? " (" : "", pl ? pl->why : "", pl && pl->why[0] ? ")" : "");
		return;
	}
	if (pl->found == DMARC_FOUND_TEMPFAIL) {
		out->result = DMARC_RESULT_TEMPERROR;
		say(out,
			 "the DMARC policy of %s could not be looked up (a temporary DNS failure), so "
			 "the message cannot be checked now", from);
		return;
	}
	const struct dmarc_record *r = &pl->record;
	copy(out->policy_domain, sizeof out->policy_domain, pl->policy_domain);
	const char *pd = out->policy_domain[0] ? out->policy_domain : from;

	/* the policy that applies (6.6.3, RFC 9091 4) */
	out->policy = r->p;
	out->policy_tag = "p";
	if (pl->found == DMARC_FOUND_ORG && strcmp(from, pd) != 0) {
		if (pl->from_exists == DMARC_EXISTS_NO && r->np != DMARC_POLICY_UNSET) {
			out->policy = r->np;
			out->policy_tag = "np";
		} else if (r->sp != DMARC_POLICY_UNSET) {
			out->policy = r->sp;
			out->policy_tag = "sp";
		}
	}
	if (out->policy == DMARC_POLICY_UNSET)
		out->policy = DMARC_POLICY_NONE;

	/* alignment (3.1) */
	out->spf_aligned = in->spf == SPF_PASS && in->spf_domain &&
			   dmarc_aligned(in->spf_domain, from, r->aspf);
	for (size_t i = 0; i < in->ndkim && !out->dkim_aligned; i++) {
		const struct dkim_outcome *d = &in->dkim[i];
		if (d->result == DKIM_PASS && dmarc_aligned(d->domain, from, r->adkim)) {
			out->dkim_aligned = true;
			dmarc_domain_normalize(d->domain, out->dkim_domain, sizeof out->dkim_domain);
		}
	}
	if (out->spf_aligned || out->dkim_aligned) {
		out->result = DMARC_RESULT_PASS;
		if (out->dkim_aligned)
			say(out,
				 "the message is from %s and carries a good signature from %s, as %s's "
				 "DMARC policy asks", from, out->dkim_domain, pd);
		else
			say(out,
				 "the message is from %s and was sent from a server %s allows (SPF), as "
				 "%s's DMARC policy asks", from, in->spf_domain, pd);
		return;
	}

	/* fail: what to do after pct (6.6.4) */
	out->result = DMARC_RESULT_FAIL;
	bool sampled = in->random % 100 < r->pct;
	out->sampled_out = !sampled && out->policy != DMARC_POLICY_NONE;
	switch (out->policy) {
	case DMARC_POLICY_REJECT:
		out->disposition = sampled ? DMARC_POLICY_REJECT : DMARC_POLICY_QUARANTINE;
		break;
	case DMARC_POLICY_QUARANTINE:
		out->disposition = sampled ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
		break;
	default:
		out->disposition = DMARC_POLICY_NONE;
		break;
	}
	const char *what = NULL;
	if (out->disposition != DMARC_POLICY_NONE && temp_trouble(in, from, r, &what)) {
		out->result = DMARC_RESULT_TEMPERROR;
		out->disposition = DMARC_POLICY_NONE;
		say(out,
			 "the message from %s does not meet %s's DMARC policy yet, but %s failed with "
			 "a temporary DNS error, so it may pass later", from, pd, what);
		return;
	}
	char need_dkim[300], need_spf[300];
	const char *who = r->adkim == DMARC_ALIGN_STRICT ? from : out->org_domain;
	snprintf(need_dkim, sizeof need_dkim, "%s%s", who,
		 r->adkim == DMARC_ALIGN_STRICT ? "" : " (or a subdomain)");
	who = r->aspf == DMARC_ALIGN_STRICT ? from : out->org_domain;
	snprintf(need_spf, sizeof need_spf, "%s%s", who,
		 r->aspf == DMARC_ALIGN_STRICT ? "" : " (or a subdomain)");
	struct buf seen = BUF_INIT;
	describe_seen(in, &seen);
	say(out,
		 "the message claims to be from %s, but %s's DMARC policy says it must be signed by "
		 "%s or sent from the servers of %s, and it was neither (%s)", from, pd, need_dkim,
		 need_spf, buf_cstr(&seen));
	buf_free(&seen);
}
