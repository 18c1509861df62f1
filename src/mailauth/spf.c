/* The SPF evaluator (RFC 7208 sections 4 to 6 and 11).
 *
 * Why replay: check_host() is naturally recursive (include, redirect) with DNS answers
 * needed deep inside it. Instead of turning that recursion into an explicit stack of
 * states, the evaluation is a plain recursive function over a cache of answers: when it
 * needs an answer the cache does not have, it records the query and unwinds; once the
 * answer is in, it runs again from the start. The run is deterministic (same inputs, same
 * answers, same %{t}), so each replay gets one query further. The RFC's limits bound the
 * queries (SPF_MAX_QUERIES on top), so the replays cost microseconds, and the code reads
 * like the RFC. */
#include "mailauth/spf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/alloc.h"
#include "lib/buf.h"

#define SPF_MAX_DNS_TERMS 10 /* section 4.6.4 */
#define SPF_MAX_VOID 2
#define SPF_MAX_NAMES 10 /* MX and PTR names looked at */
#define SPF_MAX_DEPTH 12 /* include/redirect nesting; the term limit stops loops first */

/* Evaluation outcome inside a run: a result, or "unwind, a query is pending". */
enum { EV_NEED = -1 };
/* Mechanism outcomes. */
enum { M_NOMATCH, M_MATCH, M_TEMPERROR, M_PERMERROR, M_NEED };

struct cached {
	enum spf_qtype type;
	char *name;
	enum spf_dns_status status;
	struct spf_rr *rrs;
	size_t nrrs;
};

struct spf_check {
	int family; /* 4 or 6 */
	unsigned char ip[16];
	char ip_dotted[80];  /* %{i} */
	char client_ip[64];  /* %{c} */
	char ptr_query[96];  /* the reverse-DNS name of ip */
	char *helo, *sender, *local, *sender_domain, *receiver;
	long long now;

	struct cached *cache;
	size_t ncache, cap;
	enum spf_qtype pending_type;
	char *pending_name;
	bool too_many;

	/* per run */
	int lookups, voids;

	bool done;
	enum spf_result result;
	char *mechanism, *explanation, *reason;
};

const char *spf_qtype_name(enum spf_qtype t)
{
	switch (t) {
	case SPF_QTXT: return "TXT";
	case SPF_QA: return "A";
	case SPF_QAAAA: return "AAAA";
	case SPF_QMX: return "MX";
	case SPF_QPTR: return "PTR";
	}
	return "?";
}

/* Lower-case, without a trailing dot: the cache key and the name asked. */
static char *normal_name(const char *name)
{
	size_t n = strlen(name);
	if (n && name[n - 1] == '.')
		n--;
	char *s = xstrndup(name, n);
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

/* The cached answer, or NULL after making (type, name) the pending query. */
static const struct cached *lookup(struct spf_check *c, enum spf_qtype type, const char *name)
{
	char *key = normal_name(name);
	for (size_t i = 0; i < c->ncache; i++) {
		if (c->cache[i].type == type && strcmp(c->cache[i].name, key) == 0) {
			free(key);
			return &c->cache[i];
		}
	}
	if (c->ncache >= SPF_MAX_QUERIES) {
		/* cannot happen within the RFC's limits; answer "no data" to stay bounded */
		c->too_many = true;
		free(key);
		static const struct cached empty = { SPF_QTXT, NULL, SPF_DNS_OK, NULL, 0 };
		return &empty;
	}
	free(c->pending_name);
	c->pending_name = key;
	c->pending_type = type;
	return NULL;
}

/* A lookup that counts toward the void-lookup limit when it finds nothing. Returns the
 * answer, or NULL with *m set (M_NEED, or M_PERMERROR past the limit). */
static const struct cached *lookup_counted(struct spf_check *c, enum spf_qtype type,
					   const char *name, int *m)
{
	const struct cached *a = lookup(c, type, name);
	if (!a) {
		*m = M_NEED;
		return NULL;
	}
	if (a->status == SPF_DNS_NXDOMAIN || (a->status == SPF_DNS_OK && a->nrrs == 0)) {
		if (++c->voids > SPF_MAX_VOID) {
			*m = M_PERMERROR;
			return NULL;
		}
	}
	return a;
}

static void set_reason(struct spf_check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_reason(struct spf_check *c, const char *fmt, ...)
{
	if (c->reason)
		return; /* the first (innermost) reason is the useful one */
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	c->reason = buf_steal(&b, NULL);
}

/* Section 4.3: a domain to check must be a multi-label name with labels of 1 to 63
 * characters and at most 253 in all (a trailing dot aside). */
static bool domain_ok(const char *d)
{
	size_t n = strlen(d);
	if (n && d[n - 1] == '.')
		n--;
	if (n == 0 || n > 253 || d[0] == '[')
		return false;
	size_t label = 0, labels = 1;
	for (size_t i = 0; i < n; i++) {
		if (d[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
			labels++;
		} else if (++label > 63) {
			return false;
		}
	}
	return label > 0 && labels > 1;
}

static bool ip_in(const struct spf_check *c, const unsigned char *net, int family, int prefix)
{
	if (family != c->family)
		return false;
	int full = prefix / 8, rest = prefix % 8;
	if (memcmp(c->ip, net, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (c->ip[full] & mask) == (net[full] & mask);
}

static bool name_matches_domain(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);
	if (n && name[n - 1] == '.')
		n--;
	if (d && domain[d - 1] == '.')
		d--;
	if (n == d)
		return strncasecmp(name, domain, n) == 0;
	return n > d && name[n - d - 1] == '.' && strncasecmp(name + n - d, domain, d) == 0;
}

/* Section 5.5: the names of the client's PTR records (at most 10) whose A/AAAA records
 * include the client's address. Errors skip a name. Returns M_NEED or M_MATCH (with
 * names filled, caller frees each) . */
static int ptr_validated(struct spf_check *c, char ***names, size_t *count)
{
	*names = NULL;
	*count = 0;
	const struct cached *p = lookup(c, SPF_QPTR, c->ptr_query);
	if (!p)
		return M_NEED;
	if (p->status != SPF_DNS_OK)
		return M_MATCH;
	size_t n = p->nrrs < SPF_MAX_NAMES ? p->nrrs : SPF_MAX_NAMES;
	int need = M_MATCH;
	for (size_t i = 0; i < n; i++) {
		char *name = xstrndup(p->rrs[i].data, p->rrs[i].len);
		const struct cached *a = lookup(c, c->family == 4 ? SPF_QA : SPF_QAAAA, name);
		if (!a) {
			free(name);
			need = M_NEED;
			break;
		}
		bool ok = false;
		for (size_t j = 0; a->status == SPF_DNS_OK && j < a->nrrs && !ok; j++)
			if (a->rrs[j].len == (c->family == 4 ? 4u : 16u))
				ok = ip_in(c, (const unsigned char *)a->rrs[j].data, c->family,
					   c->family == 4 ? 32 : 128);
		if (ok) {
			*names = xrealloc(*names, (*count + 1) * sizeof **names);
			(*names)[(*count)++] = name;
		} else {
			free(name);
		}
	}
	if (need == M_NEED) {
		for (size_t i = 0; i < *count; i++)
			free((*names)[i]);
		free(*names);
		*names = NULL;
		*count = 0;
	}
	return need;
}

static void free_names(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

static void fill_env(const struct spf_check *c, const char *domain, struct spf_macro_env *env)
{
	memset(env, 0, sizeof *env);
	env->sender = c->sender;
	env->local = c->local;
	env->sender_domain = c->sender_domain;
	env->domain = domain;
	env->ip = c->ip_dotted;
	env->ip_version = c->family == 4 ? "in-addr" : "ip6";
	env->helo = c->helo;
	env->client_ip = c->client_ip;
	env->receiver = c->receiver;
	env->timestamp = c->now;
}

/* Expands a macro-string for domain (resolving %{p} first when it is used) into *out
 * (caller frees). Returns M_MATCH on success, M_NEED, or M_PERMERROR on a macro error. */
static int expand(struct spf_check *c, const char *spec, const char *domain, bool exp,
		  char **out)
{
	struct spf_macro_env env;
	fill_env(c, domain, &env);
	char *pname = NULL;
	if (spf_macro_uses_ptr(spec)) {
		char **names;
		size_t count;
		if (ptr_validated(c, &names, &count) == M_NEED)
			return M_NEED;
		/* section 7.3: prefer the target domain or a subdomain of it */
		for (size_t i = 0; i < count && !pname; i++)
			if (name_matches_domain(names[i], domain))
				pname = xstrdup(names[i]);
		if (!pname && count)
			pname = xstrdup(names[0]);
		free_names(names, count);
		env.ptr_name = pname ? pname : "unknown";
	}
	struct buf b = BUF_INIT;
	enum spf_macro_status st = spf_macro_expand(spec, strlen(spec), exp, &env, &b);
	free(pname);
	if (st != SPF_MACRO_OK) {
		buf_free(&b);
		set_reason(c, "bad macro in \"%s\"", spec);
		return M_PERMERROR;
	}
	*out = buf_steal(&b, NULL);
	if (!*out)
		*out = xstrdup("");
	return M_MATCH;
}

/* A domain-spec expanded into a name to look up: a trailing dot dropped and, past 253
 * characters, labels removed from the left (section 7.3). */
static int target_name(struct spf_check *c, const char *spec, const char *domain, char **out)
{
	if (!spec) {
		*out = xstrdup(domain);
		return M_MATCH;
	}
	char *s;
	int m = expand(c, spec, domain, false, &s);
	if (m != M_MATCH)
		return m;
	size_t n = strlen(s);
	if (n && s[n - 1] == '.')
		s[--n] = '\0';
	char *p = s;
	while (strlen(p) > 253) {
		char *dot = strchr(p, '.');
		if (!dot)
			break;
		p = dot + 1;
	}
	*out = xstrdup(p);
	free(s);
	return M_MATCH;
}

static int check_host(struct spf_check *c, const char *domain, int depth, char **mech,
		      char **explanation);

static bool count_lookup(struct spf_check *c)
{
	if (++c->lookups > SPF_MAX_DNS_TERMS) {
		set_reason(c, "more than 10 DNS-querying terms");
		return false;
	}
	return true;
}

/* Whether any address in the answer is in the term's network. */
static bool addrs_match(const struct spf_check *c, const struct cached *a, const struct spf_term *t)
{
	for (size_t i = 0; i < a->nrrs; i++) {
		if (c->family == 4 && a->rrs[i].len == 4 &&
		    ip_in(c, (const unsigned char *)a->rrs[i].data, 4, t->cidr4))
			return true;
		if (c->family == 6 && a->rrs[i].len == 16 &&
		    ip_in(c, (const unsigned char *)a->rrs[i].data, 6, t->cidr6))
			return true;
	}
	return false;
}

static int eval_term(struct spf_check *c, const struct spf_term *t, const char *domain, int depth)
{
	enum spf_qtype atype = c->family == 4 ? SPF_QA : SPF_QAAAA;
	switch (t->mech) {
	case SPF_MECH_ALL:
		return M_MATCH;
	case SPF_MECH_IP4:
		return ip_in(c, t->addr, 4, t->cidr4) ? M_MATCH : M_NOMATCH;
	case SPF_MECH_IP6:
		return ip_in(c, t->addr, 6, t->cidr6) ? M_MATCH : M_NOMATCH;
	default:
		break;
	}
	if (!count_lookup(c))
		return M_PERMERROR;
	char *target;
	int m = target_name(c, t->domain_spec, domain, &target);
	if (m != M_MATCH)
		return m;
	const struct cached *a;
	switch (t->mech) {
	case SPF_MECH_INCLUDE: {
		char *sub_mech = NULL, *sub_exp = NULL;
		int r = check_host(c, target, depth + 1, &sub_mech, &sub_exp);
		free(sub_mech);
		free(sub_exp);
		if (r == EV_NEED)
			m = M_NEED;
		else if (r == SPF_PASS)
			m = M_MATCH;
		else if (r == SPF_TEMPERROR)
			m = M_TEMPERROR;
		else if (r == SPF_PERMERROR || r == SPF_NONE) {
			set_reason(c, "include:%s has no usable SPF record", target);
			m = M_PERMERROR;
		} else
			m = M_NOMATCH;
		break;
	}
	case SPF_MECH_A:
	case SPF_MECH_EXISTS:
		if (!domain_ok(target)) {
			m = M_NOMATCH;
			break;
		}
		a = lookup_counted(c, t->mech == SPF_MECH_EXISTS ? SPF_QA : atype, target, &m);
		if (!a)
			break;
		if (a->status == SPF_DNS_TEMPFAIL) {
			set_reason(c, "DNS error looking up %s", target);
			m = M_TEMPERROR;
		} else if (t->mech == SPF_MECH_EXISTS) {
			m = a->status == SPF_DNS_OK && a->nrrs > 0 ? M_MATCH : M_NOMATCH;
		} else {
			m = a->status == SPF_DNS_OK && addrs_match(c, a, t) ? M_MATCH : M_NOMATCH;
		}
		break;
	case SPF_MECH_MX: {
		if (!domain_ok(target)) {
			m = M_NOMATCH;
			break;
		}
		const struct cached *mx = lookup_counted(c, SPF_QMX, target, &m);
		if (!mx)
			break;
		if (mx->status == SPF_DNS_TEMPFAIL) {
			set_reason(c, "DNS error looking up MX of %s", target);
			m = M_TEMPERROR;
			break;
		}
		m = M_NOMATCH;
		if (mx->status != SPF_DNS_OK)
			break;
		if (mx->nrrs > SPF_MAX_NAMES) {
			set_reason(c, "more than 10 MX names at %s", target);
			m = M_PERMERROR;
			break;
		}
		for (size_t i = 0; i < mx->nrrs && m == M_NOMATCH; i++) {
			char *name = xstrndup(mx->rrs[i].data, mx->rrs[i].len);
			if (domain_ok(name)) {
				a = lookup_counted(c, atype, name, &m);
				if (a && a->status == SPF_DNS_TEMPFAIL) {
					set_reason(c, "DNS error looking up %s", name);
					m = M_TEMPERROR;
				} else if (a) {
					m = addrs_match(c, a, t) ? M_MATCH : M_NOMATCH;
				}
			}
			free(name);
		}
		break;
	}
	case SPF_MECH_PTR: {
		char **names;
		size_t count;
		m = ptr_validated(c, &names, &count);
		if (m == M_MATCH) {
			m = M_NOMATCH;
			for (size_t i = 0; i < count; i++)
				if (name_matches_domain(names[i], target))
					m = M_MATCH;
			free_names(names, count);
		}
		break;
	}
	default:
		m = M_PERMERROR;
	}
	free(target);
	return m;
}

/* Section 6.2: the explanation of a fail. Any problem means no explanation. */
static int explain(struct spf_check *c, const char *spec, const char *domain, char **out)
{
	*out = NULL;
	char *target;
	int m = target_name(c, spec, domain, &target);
	if (m != M_MATCH)
		return m == M_NEED ? M_NEED : M_MATCH;
	if (!domain_ok(target)) {
		free(target);
		return M_MATCH;
	}
	const struct cached *a = lookup(c, SPF_QTXT, target);
	free(target);
	if (!a)
		return M_NEED;
	if (a->status != SPF_DNS_OK || a->nrrs != 1)
		return M_MATCH;
	char *text = xstrndup(a->rrs[0].data, a->rrs[0].len);
	bool ascii = strlen(text) == a->rrs[0].len;
	for (const char *p = text; *p; p++)
		if ((unsigned char)*p >= 0x80)
			ascii = false;
	if (ascii) {
		struct spf_macro_env env;
		fill_env(c, domain, &env);
		if (spf_macro_uses_ptr(text)) {
			char *expanded;
			/* saves the reason the check already has */
			char *reason = c->reason;
			c->reason = NULL;
			m = expand(c, text, domain, true, &expanded);
			free(c->reason);
			c->reason = reason;
			if (m == M_NEED) {
				free(text);
				return M_NEED;
			}
			if (m == M_MATCH)
				*out = expanded;
		} else {
			struct buf b = BUF_INIT;
			if (spf_macro_expand(text, strlen(text), true, &env, &b) == SPF_MACRO_OK)
				*out = buf_steal(&b, NULL);
			buf_free(&b);
		}
	}
	free(text);
	return M_MATCH;
}

/* check_host() (section 4): returns an enum spf_result or EV_NEED. *mech and
 * *explanation (caller frees) say which term decided and why a fail failed. */
static int check_host(struct spf_check *c, const char *domain, int depth, char **mech,
		      char **explanation)
{
	if (depth > SPF_MAX_DEPTH) {
		set_reason(c, "include/redirect nested too deep");
		return SPF_PERMERROR;
	}
	if (!domain_ok(domain)) {
		set_reason(c, "not a valid domain: %s", domain);
		return SPF_NONE;
	}
	const struct cached *txt = lookup(c, SPF_QTXT, domain);
	if (!txt)
		return EV_NEED;
	if (txt->status == SPF_DNS_TEMPFAIL) {
		set_reason(c, "DNS error looking up TXT of %s", domain);
		return SPF_TEMPERROR;
	}
	const struct spf_rr *found = NULL;
	size_t nfound = 0;
	for (size_t i = 0; txt->status == SPF_DNS_OK && i < txt->nrrs; i++) {
		if (spf_record_is_spf1(txt->rrs[i].data, txt->rrs[i].len)) {
			found = &txt->rrs[i];
			nfound++;
		}
	}
	if (nfound == 0) {
		set_reason(c, "no SPF record at %s", domain);
		return SPF_NONE;
	}
	if (nfound > 1) {
		set_reason(c, "more than one SPF record at %s", domain);
		return SPF_PERMERROR;
	}
	struct spf_record rec;
	const char *why;
	if (spf_record_parse(found->data, found->len, &rec, &why) != 0) {
		set_reason(c, "%s in the SPF record of %s", why, domain);
		return SPF_PERMERROR;
	}
	int result = -2;
	for (size_t i = 0; i < rec.nterms && result == -2; i++) {
		const struct spf_term *t = &rec.terms[i];
		int m = eval_term(c, t, domain, depth);
		if (m == M_NEED)
			result = EV_NEED;
		else if (m == M_TEMPERROR)
			result = SPF_TEMPERROR;
		else if (m == M_PERMERROR)
			result = SPF_PERMERROR;
		else if (m == M_MATCH) {
			result = (int)t->qualifier;
			free(*mech);
			*mech = xstrdup(t->text);
		}
	}
	if (result == -2 && rec.redirect) {
		char *target = NULL;
		int m = count_lookup(c) ? target_name(c, rec.redirect, domain, &target) : M_PERMERROR;
		if (m == M_NEED) {
			result = EV_NEED;
		} else if (m != M_MATCH) {
			result = SPF_PERMERROR;
		} else {
			result = check_host(c, target, depth + 1, mech, explanation);
			if (result == SPF_NONE) {
				set_reason(c, "redirect=%s has no SPF record", target);
				result = SPF_PERMERROR;
			}
		}
		free(target);
		spf_record_free(&rec);
		return result;
	}
	if (result == -2) {
		result = SPF_NEUTRAL;
		free(*mech);
		*mech = xstrdup("default");
	}
	if (result == SPF_FAIL && rec.exp) {
		char *text = NULL;
		if (explain(c, rec.exp, domain, &text) == M_NEED)
			result = EV_NEED;
		free(*explanation);
		*explanation = text;
	}
	spf_record_free(&rec);
	return result;
}

static void run(struct spf_check *c)
{
	c->lookups = 0;
	c->voids = 0;
	free(c->reason);
	c->reason = NULL;
	char *mech = NULL, *exp = NULL;
	int r = check_host(c, c->sender_domain, 0, &mech, &exp);
	if (r == EV_NEED) {
		free(mech);
		free(exp);
		return;
	}
	c->done = true;
	c->result = (enum spf_result)r;
	c->mechanism = mech;
	c->explanation = exp;
	free(c->pending_name);
	c->pending_name = NULL;
}

static void format_ip(struct spf_check *c)
{
	inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->ip, c->client_ip, sizeof c->client_ip);
	if (c->family == 4) {
		snprintf(c->ip_dotted, sizeof c->ip_dotted, "%u.%u.%u.%u", c->ip[0], c->ip[1],
			 c->ip[2], c->ip[3]);
		snprintf(c->ptr_query, sizeof c->ptr_query, "%u.%u.%u.%u.in-addr.arpa", c->ip[3],
			 c->ip[2], c->ip[1], c->ip[0]);
		return;
	}
	static const char hex[] = "0123456789abcdef";
	/* %{i} in upper case, as the RFC 7208 test suite expects in explanations (the RFC's
	 * own example in 7.4 is lower case; DNS does not care) */
	static const char HEX[] = "0123456789ABCDEF";
	char *d = c->ip_dotted, *p = c->ptr_query;
	for (int i = 0; i < 16; i++) {
		*d++ = HEX[c->ip[i] >> 4];
		*d++ = '.';
		*d++ = HEX[c->ip[i] & 15];
		*d++ = i == 15 ? '\0' : '.';
	}
	for (int i = 15; i >= 0; i--) {
		*p++ = hex[c->ip[i] & 15];
		*p++ = '.';
		*p++ = hex[c->ip[i] >> 4];
		*p++ = '.';
	}
	strcpy(p, "ip6.arpa");
}

struct spf_check *spf_check_start(const char *ip, const char *helo, const char *mailfrom,
				  const char *receiver, long long now)
{
	unsigned char addr[16];
	struct spf_check *c = xcalloc(1, sizeof *c);
	if (inet_pton(AF_INET, ip, addr) == 1) {
		c->family = 4;
		memcpy(c->ip, addr, 4);
	} else if (inet_pton(AF_INET6, ip, addr) == 1) {
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(addr, mapped, 12) == 0) {
			c->family = 4; /* an IPv4-mapped address is the IPv4 client it maps */
			memcpy(c->ip, addr + 12, 4);
		} else {
			c->family = 6;
			memcpy(c->ip, addr, 16);
		}
	} else {
		free(c);
		return NULL;
	}
	format_ip(c);
	c->helo = xstrdup(helo ? helo : "");
	c->receiver = receiver ? xstrdup(receiver) : NULL;
	c->now = now;
	/* section 4.3: an empty MAIL FROM means postmaster@helo; no local part, postmaster */
	const char *from = mailfrom && *mailfrom ? mailfrom : NULL;
	const char *at = from ? strrchr(from, '@') : NULL;
	if (!from) {
		c->local = xstrdup("postmaster");
		c->sender_domain = xstrdup(c->helo);
	} else if (!at) {
		c->local = xstrdup("postmaster");
		c->sender_domain = xstrdup(from);
	} else {
		c->local = at == from ? xstrdup("postmaster") : xstrndup(from, (size_t)(at - from));
		c->sender_domain = xstrdup(at + 1);
	}
	struct buf s = BUF_INIT;
	buf_printf(&s, "%s@%s", c->local, c->sender_domain);
	c->sender = buf_steal(&s, NULL);
	return c;
}

struct spf_check *spf_check_start_helo(const char *ip, const char *helo, const char *receiver,
				       long long now)
{
	return spf_check_start(ip, helo, "", receiver, now);
}

bool spf_check_next(struct spf_check *c, struct spf_query *q)
{
	if (!c->done && !c->pending_name)
		run(c);
	if (c->done)
		return false;
	q->type = c->pending_type;
	q->name = c->pending_name;
	return true;
}

void spf_check_answer(struct spf_check *c, const struct spf_answer *a)
{
	if (c->done || !c->pending_name)
		return;
	if (c->ncache == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->cache = xrealloc(c->cache, c->cap * sizeof *c->cache);
	}
	struct cached *e = &c->cache[c->ncache++];
	e->type = c->pending_type;
	e->name = c->pending_name;
	c->pending_name = NULL;
	e->status = a->status;
	e->nrrs = a->status == SPF_DNS_OK ? a->nrrs : 0;
	e->rrs = e->nrrs ? xcalloc(e->nrrs, sizeof *e->rrs) : NULL;
	for (size_t i = 0; i < e->nrrs; i++) {
		char *d = xmalloc(a->rrs[i].len + 1);
		memcpy(d, a->rrs[i].data, a->rrs[i].len);
		d[a->rrs[i].len] = '\0';
		e->rrs[i].data = d;
		e->rrs[i].len = a->rrs[i].len;
	}
}

enum spf_result spf_check_result(const struct spf_check *c)
{
	return c->done ? c->result : SPF_TEMPERROR;
}

const char *spf_check_mechanism(const struct spf_check *c)
{
	return c->mechanism;
}

const char *spf_check_explanation(const struct spf_check *c)
{
	return c->explanation;
}

const char *spf_check_reason(const struct spf_check *c)
{
	return c->reason;
}

size_t spf_check_queries(const struct spf_check *c)
{
	return c->ncache;
}

void spf_check_free(struct spf_check *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ncache; i++) {
		for (size_t j = 0; j < c->cache[i].nrrs; j++)
			free((char *)c->cache[i].rrs[j].data);
		free(c->cache[i].rrs);
		free(c->cache[i].name);
	}
	free(c->cache);
	free(c->pending_name);
	free(c->helo);
	free(c->sender);
	free(c->local);
	free(c->sender_domain);
	free(c->receiver);
	free(c->mechanism);
	free(c->explanation);
	free(c->reason);
	free(c);
}
