/* SPF record parser and macro expander (RFC 7208 sections 4.6, 5, 6 and 7). Pure code over
 * buffers: the evaluator (spf.c) does the DNS, this file only reads strings. */
#include "mailauth/spf_record.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/alloc.h"

const char *spf_result_name(enum spf_result r)
{
	switch (r) {
	case SPF_NONE: return "none";
	case SPF_NEUTRAL: return "neutral";
	case SPF_PASS: return "pass";
	case SPF_FAIL: return "fail";
	case SPF_SOFTFAIL: return "softfail";
	case SPF_TEMPERROR: return "temperror";
	case SPF_PERMERROR: return "permerror";
	}
	return "?";
}

bool spf_record_is_spf1(const char *txt, size_t len)
{
	return len >= 6 && strncasecmp(txt, "v=spf1", 6) == 0 && (len == 6 || txt[6] == ' ');
}

/* ---- macros ---- */

static bool is_delimiter(char c)
{
	return c && strchr(".-+,/_=", c) != NULL;
}

/* The value of one macro letter, or NULL for an unknown letter. *status is set when the
 * letter is not allowed here or needs the PTR validation first. */
static const char *macro_value(char letter, bool exp, const struct spf_macro_env *env,
			       char *scratch, size_t scratch_len, enum spf_macro_status *status)
{
	switch (tolower((unsigned char)letter)) {
	case 's': return env->sender;
	case 'l': return env->local;
	case 'o': return env->sender_domain;
	case 'd': return env->domain;
	case 'i': return env->ip;
	case 'v': return env->ip_version;
	case 'h': return env->helo;
	case 'p':
		if (!env->ptr_name)
			*status = SPF_MACRO_NEED_PTR;
		return env->ptr_name ? env->ptr_name : "";
	case 'c':
	case 'r':
	case 't':
		if (!exp) {
			*status = SPF_MACRO_SYNTAX;
			return "";
		}
		if (tolower((unsigned char)letter) == 'c')
			return env->client_ip;
		if (tolower((unsigned char)letter) == 'r')
			return env->receiver ? env->receiver : "unknown";
		snprintf(scratch, scratch_len, "%lld", env->timestamp);
		return scratch;
	}
	*status = SPF_MACRO_SYNTAX;
	return "";
}

/* Appends value split on the delimiters, optionally reversed, keeping the rightmost keep
 * parts (0: all), joined with dots; URL-escaped when escape is set (section 7.3). */
static void macro_transform(struct buf *out, const char *value, const char *delims, size_t keep,
			    bool reverse, bool escape)
{
	size_t vlen = strlen(value), nparts = 1;
	for (size_t i = 0; i < vlen; i++)
		if (strchr(delims, value[i]))
			nparts++;
	/* part boundaries: start offsets and lengths */
	size_t *start = xcalloc(nparts, sizeof *start), *plen = xcalloc(nparts, sizeof *plen);
	size_t k = 0, s = 0;
	for (size_t i = 0; i <= vlen; i++) {
		if (i == vlen || strchr(delims, value[i])) {
			start[k] = s;
			plen[k] = i - s;
			k++;
			s = i + 1;
		}
	}
	size_t first = 0;
	if (keep && keep < nparts)
		first = nparts - keep;
	struct buf joined = BUF_INIT;
	for (size_t j = first; j < nparts; j++) {
		size_t idx = reverse ? nparts - 1 - j : j;
		if (j > first)
			buf_append_char(&joined, '.');
		buf_append(&joined, value + start[idx], plen[idx]);
	}
	if (joined.len == 0 && !joined.data)
		buf_append(&joined, "", 0);
	if (!escape) {
		buf_append(out, joined.data, joined.len);
	} else {
		for (size_t i = 0; i < joined.len; i++) {
			unsigned char c = (unsigned char)joined.data[i];
			if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
				buf_append_char(out, (char)c);
			else
				buf_printf(out, "%%%02X", c);
		}
	}
	buf_free(&joined);
	free(start);
	free(plen);
}

/* Walks a macro-string: checks it, and expands it into out when env is set. *ends_macro
 * tells whether the last token was a macro-expand (for the domain-end rule). */
static enum spf_macro_status macro_walk(const char *in, size_t len, bool exp,
					const struct spf_macro_env *env, struct buf *out,
					bool *ends_macro)
{
	enum spf_macro_status status = SPF_MACRO_OK;
	size_t start_len = out ? out->len : 0;
	bool last_macro = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c != '%') {
			/* macro-literal is %x21-24 / %x26-7E; explanation strings may hold spaces */
			if (!(c >= 0x21 && c <= 0x7e) && !(exp && c == ' '))
				return SPF_MACRO_SYNTAX;
			if (out)
				buf_append_char(out, (char)c);
			last_macro = false;
			goto check_size;
		}
		if (i + 1 >= len)
			return SPF_MACRO_SYNTAX;
		c = (unsigned char)in[++i];
		last_macro = false;
		if (c == '%' || c == '_' || c == '-') {
			if (out)
				buf_append_str(out, c == '%' ? "%" : c == '_' ? " " : "%20");
			goto check_size;
		}
		if (c != '{')
			return SPF_MACRO_SYNTAX;
		if (++i >= len)
			return SPF_MACRO_SYNTAX;
		char letter = in[i++];
		if (!strchr("slodipvhcrtSLODIPVHCRT", letter))
			return SPF_MACRO_SYNTAX;
		size_t keep = 0;
		bool digits = false, reverse = false;
		while (i < len && isdigit((unsigned char)in[i])) {
			digits = true;
			if (keep < 1000)
				keep = keep * 10 + (size_t)(in[i] - '0');
			i++;
		}
		/* "If a DIGIT is specified, the value MUST be nonzero" (7.3) */
		if (digits && keep == 0)
			return SPF_MACRO_SYNTAX;
		if (i < len && (in[i] == 'r' || in[i] == 'R')) {
			reverse = true;
			i++;
		}
		char delims[8] = "";
		size_t nd = 0;
		while (i < len && is_delimiter(in[i])) {
			if (!strchr(delims, in[i]) && nd < sizeof delims - 1)
				delims[nd++] = in[i];
			i++;
		}
		if (i >= len || in[i] != '}')
			return SPF_MACRO_SYNTAX;
		if (!nd)
			strcpy(delims, ".");
		last_macro = true;
		if (!exp && strchr("crtCRT", letter))
			return SPF_MACRO_SYNTAX;
		if (!env)
			continue;
		char scratch[32];
		const char *value = macro_value(letter, exp, env, scratch, sizeof scratch, &status);
		if (status == SPF_MACRO_SYNTAX)
			return status;
		if (status == SPF_MACRO_NEED_PTR)
			continue; /* keep checking the syntax; the caller asks again later */
		macro_transform(out, value ? value : "", delims, keep, reverse,
				isupper((unsigned char)letter));
	check_size:
		if (out && out->len - start_len > SPF_MACRO_MAX_OUT)
			return SPF_MACRO_SYNTAX;
	}
	if (ends_macro)
		*ends_macro = last_macro;
	return status;
}

enum spf_macro_status spf_macro_expand(const char *in, size_t len, bool exp,
				       const struct spf_macro_env *env, struct buf *out)
{
	return macro_walk(in, len, exp, env, env ? out : NULL, NULL);
}

bool spf_macro_uses_ptr(const char *spec)
{
	for (const char *p = spec; (p = strstr(p, "%{")) != NULL; p += 2)
		if (p[2] == 'p' || p[2] == 'P')
			return true;
	return false;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool toplabel_valid(const char *s, size_t n)
{
	if (n == 0)
		return false;
	bool alpha = false, hyphen = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '-')
			hyphen = true;
		else if (isalpha(c))
			alpha = true;
		else if (!isdigit(c))
			return false;
	}
	if (hyphen)
		return s[0] != '-' && s[n - 1] != '-';
	return alpha;
}

bool spf_domain_spec_valid(const char *spec, size_t len)
{
	bool ends_macro = false;
	if (len == 0 || macro_walk(spec, len, false, NULL, NULL, &ends_macro) != SPF_MACRO_OK)
		return false;
	if (ends_macro)
		return true;
	size_t n = len;
	if (spec[n - 1] == '.')
		n--;
	size_t dot = n;
	while (dot > 0 && spec[dot - 1] != '.')
		dot--;
	if (dot == 0)
		return false; /* domain-end needs "." toplabel */
	return toplabel_valid(spec + dot, n - dot);
}

/* ---- records ---- */

/* Parses "0" or a number without a leading zero, at most max. */
static bool parse_prefix(const char *s, size_t n, int max, int *out)
{
	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return false;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Takes a trailing "/N" (after a slash that is not part of "//"): returns the length of
 * the digits' "/N" suffix or 0 when there is none. */
static size_t trailing_cidr(const char *s, size_t n, bool dual)
{
	size_t d = n;
	while (d > 0 && isdigit((unsigned char)s[d - 1]))
		d--;
	if (d == n || d == 0 || s[d - 1] != '/')
		return 0;
	bool is_dual = d >= 2 && s[d - 2] == '/';
	if (dual != is_dual)
		return 0;
	return n - d + (dual ? 2 : 1);
}

/* dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ], taken off the end of
 * s[0..*n). Returns false on a malformed or out-of-range length. */
static bool strip_dual_cidr(const char *s, size_t *n, struct spf_term *t)
{
	size_t k = trailing_cidr(s, *n, true);
	if (k) {
		if (!parse_prefix(s + *n - k + 2, k - 2, 128, &t->cidr6))
			return false;
		*n -= k;
	}
	k = trailing_cidr(s, *n, false);
	if (k) {
		if (!parse_prefix(s + *n - k + 1, k - 1, 32, &t->cidr4))
			return false;
		*n -= k;
	}
	return true;
}

static bool set_domain_spec(struct spf_term *t, const char *s, size_t n)
{
	if (!spf_domain_spec_valid(s, n))
		return false;
	t->domain_spec = xstrndup(s, n);
	return true;
}

static bool parse_ip(struct spf_term *t, const char *s, size_t n, bool v6)
{
	size_t slash = 0;
	while (slash < n && s[slash] != '/')
		slash++;
	char addr[64];
	if (slash == 0 || slash >= sizeof addr)
		return false;
	memcpy(addr, s, slash);
	addr[slash] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, t->addr) != 1)
		return false;
	if (slash < n) {
		int *len = v6 ? &t->cidr6 : &t->cidr4;
		if (!parse_prefix(s + slash + 1, n - slash - 1, v6 ? 128 : 32, len))
			return false;
	}
	return true;
}

static const struct {
	const char *name;
	enum spf_mech mech;
} mech_names[] = {
	{ "all", SPF_MECH_ALL }, { "include", SPF_MECH_INCLUDE }, { "a", SPF_MECH_A },
	{ "mx", SPF_MECH_MX },   { "ptr", SPF_MECH_PTR },         { "ip4", SPF_MECH_IP4 },
	{ "ip6", SPF_MECH_IP6 }, { "exists", SPF_MECH_EXISTS },
};

static bool parse_directive(struct spf_term *t, const char *s, size_t n, const char **why)
{
	t->qualifier = SPF_PASS;
	t->cidr4 = 32;
	t->cidr6 = 128;
	if (n && strchr("+-~?", s[0])) {
		t->qualifier = s[0] == '+' ? SPF_PASS : s[0] == '-' ? SPF_FAIL
			     : s[0] == '~' ? SPF_SOFTFAIL : SPF_NEUTRAL;
		s++;
		n--;
	}
	size_t name_len = 0;
	while (name_len < n && isalnum((unsigned char)s[name_len]))
		name_len++;
	bool found = false;
	for (size_t i = 0; i < sizeof mech_names / sizeof mech_names[0]; i++) {
		if (strlen(mech_names[i].name) == name_len &&
		    strncasecmp(mech_names[i].name, s, name_len) == 0) {
			t->mech = mech_names[i].mech;
			found = true;
		}
	}
	if (!found) {
		*why = "unknown mechanism";
		return false;
	}
	const char *rest = s + name_len;
	size_t rn = n - name_len;
	bool colon = rn > 0 && rest[0] == ':';
	*why = "malformed mechanism";
	switch (t->mech) {
	case SPF_MECH_ALL:
		return rn == 0;
	case SPF_MECH_INCLUDE:
	case SPF_MECH_EXISTS:
		return colon && set_domain_spec(t, rest + 1, rn - 1);
	case SPF_MECH_PTR:
		if (rn == 0)
			return true;
		return colon && set_domain_spec(t, rest + 1, rn - 1);
	case SPF_MECH_A:
	case SPF_MECH_MX:
		if (!strip_dual_cidr(rest, &rn, t))
			return false;
		if (rn == 0)
			return true;
		return colon && set_domain_spec(t, rest + 1, rn - 1);
	case SPF_MECH_IP4:
	case SPF_MECH_IP6:
		return colon && parse_ip(t, rest + 1, rn - 1, t->mech == SPF_MECH_IP6);
	}
	return false;
}

static bool parse_modifier(struct spf_record *r, const char *s, size_t n, size_t eq,
			   const char **why)
{
	const char *value = s + eq + 1;
	size_t vn = n - eq - 1;
	char **slot = NULL;
	if (eq == 8 && strncasecmp(s, "redirect", 8) == 0)
		slot = &r->redirect;
	else if (eq == 3 && strncasecmp(s, "exp", 3) == 0)
		slot = &r->exp;
	if (!slot) {
		/* unknown-modifier = name "=" macro-string: checked, then ignored */
		*why = "malformed modifier";
		return macro_walk(value, vn, true, NULL, NULL, NULL) == SPF_MACRO_OK;
	}
	if (*slot) {
		*why = "modifier given twice";
		return false;
	}
	if (!spf_domain_spec_valid(value, vn)) {
		*why = "malformed modifier";
		return false;
	}
	*slot = xstrndup(value, vn);
	return true;
}

int spf_record_parse(const char *txt, size_t len, struct spf_record *out, const char **why)
{
	memset(out, 0, sizeof *out);
	if (!spf_record_is_spf1(txt, len)) {
		*why = "not an SPF version 1 record";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)txt[i] >= 0x80) {
			*why = "record is not 7-bit ASCII";
			return -1;
		}
	}
	size_t cap = 0;
	size_t i = 6;
	while (i < len) {
		if (txt[i] == ' ') {
			i++;
			continue;
		}
		size_t j = i;
		while (j < len && txt[j] != ' ')
			j++;
		const char *s = txt + i;
		size_t n = j - i;
		i = j;
		/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ), then "=": a modifier */
		size_t eq = 0;
		if (isalpha((unsigned char)s[0])) {
			eq = 1;
			while (eq < n && (isalnum((unsigned char)s[eq]) || strchr("-_.", s[eq])))
				eq++;
			if (eq >= n || s[eq] != '=')
				eq = 0;
		}
		if (eq) {
			if (!parse_modifier(out, s, n, eq, why))
				goto fail;
			continue;
		}
		if (out->nterms == cap) {
			cap = cap ? cap * 2 : 8;
			out->terms = xrealloc(out->terms, cap * sizeof *out->terms);
		}
		struct spf_term *t = &out->terms[out->nterms];
		memset(t, 0, sizeof *t);
		out->nterms++;
		t->text = xstrndup(s, n);
		if (!parse_directive(t, s, n, why))
			goto fail;
	}
	return 0;
fail:
	spf_record_free(out);
	return -1;
}

void spf_record_free(struct spf_record *r)
{
	for (size_t i = 0; i < r->nterms; i++) {
		free(r->terms[i].domain_spec);
		free(r->terms[i].text);
	}
	free(r->terms);
	free(r->redirect);
	free(r->exp);
	memset(r, 0, sizeof *r);
}
