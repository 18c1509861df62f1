/* DMARC policy discovery (RFC 7489 6.6.3, RFC 9091 for np=) as a resumable lookup: it names
 * one DNS query at a time and is handed the answer, like the SPF evaluator, so the loop
 * (dmarc_dns.c) and tests (a table) drive the same code. At most five queries. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "mailauth/dmarc.h"

enum step { ASK_FROM, ASK_ORG, ASK_A, ASK_AAAA, ASK_MX, DONE };

struct dmarc_lookup {
	enum step step;
	char from[DMARC_DOMAIN_MAX], org[DMARC_DOMAIN_MAX];
	char qname[DMARC_DOMAIN_MAX + 8];
	size_t queries;
	struct dmarc_policy_lookup res;
};

/* "_dmarc." + name, or false when that is longer than DNS allows. */
static bool dmarc_name(struct dmarc_lookup *l, const char *domain)
{
	int n = snprintf(l->qname, sizeof l->qname, "_dmarc.%s", domain);
	return n > 0 && n <= 253;
}

__attribute__((format(printf, 2, 3))) static void say(struct dmarc_lookup *l, const char *fmt,
						      ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->res.why, sizeof l->res.why, fmt, ap);
	va_end(ap);
}

static void none(struct dmarc_lookup *l, const char *why)
{
	l->res.found = DMARC_FOUND_NONE;
	say(l, "%s", why);
	l->step = DONE;
}

static void ask_org(struct dmarc_lookup *l)
{
	if (strcmp(l->org, l->from) != 0 && dmarc_name(l, l->org))
		l->step = ASK_ORG;
	else
		none(l, "");
}

struct dmarc_lookup *dmarc_lookup_start(const char *from)
{
	struct dmarc_lookup *l = xcalloc(1, sizeof *l);
	if (!dmarc_domain_normalize(from, l->from, sizeof l->from)) {
		none(l, "the From domain is not a domain name");
		return l;
	}
	if (!dmarc_org_domain(l->from, l->org, sizeof l->org))
		memcpy(l->org, l->from, sizeof l->org); /* a public suffix: its own */
	if (dmarc_name(l, l->from))
		l->step = ASK_FROM;
	else
		ask_org(l);
	return l;
}

bool dmarc_lookup_next(struct dmarc_lookup *l, struct dmarc_query *q)
{
	switch (l->step) {
	case ASK_FROM:
	case ASK_ORG:
		q->type = DMARC_QTXT;
		q->name = l->qname;
		return true;
	case ASK_A:
	case ASK_AAAA:
	case ASK_MX:
		q->type = l->step == ASK_A ? DMARC_QA : l->step == ASK_AAAA ? DMARC_QAAAA : DMARC_QMX;
		q->name = l->from;
		return true;
	case DONE:
		break;
	}
	return false;
}

/* A TXT answer at _dmarc.<domain>: true when the lookup goes on to the organisational domain
 * (no DMARC record there at all). */
static bool take_txt(struct dmarc_lookup *l, enum dmarc_dns_status st, const char *const *txts,
		     const size_t *lens, size_t n, enum dmarc_found found, const char *domain)
{
	if (st == DMARC_DNS_TEMPFAIL) {
		l->res.found = DMARC_FOUND_TEMPFAIL;
		say(l,
			 "the DNS lookup of _dmarc.%s failed for now", domain);
		l->step = DONE;
		return false;
	}
	const char *why = NULL;
	enum dmarc_record_rc rc = st == DMARC_DNS_OK
					  ? dmarc_record_pick(txts, lens, n, &l->res.record, &why)
					  : DMARC_RECORD_NOT_DMARC;
	switch (rc) {
	case DMARC_RECORD_OK:
		l->res.found = found;
		snprintf(l->res.policy_domain, sizeof l->res.policy_domain, "%s", domain);
		l->step = DONE;
		return false;
	case DMARC_RECORD_NOT_DMARC:
		return true;
	case DMARC_RECORD_INVALID:
	case DMARC_RECORD_MULTIPLE:
		/* 6.6.3: discovery ends here, without looking further up */
		l->res.found = DMARC_FOUND_NONE;
		say(l, "at _dmarc.%s: %s", domain, why);
		memset(&l->res.record, 0, sizeof l->res.record);
		l->step = DONE;
		return false;
	}
	return false;
}

void dmarc_lookup_answer(struct dmarc_lookup *l, enum dmarc_dns_status st,
			 const char *const *txts, const size_t *lens, size_t n)
{
	l->queries++;
	switch (l->step) {
	case ASK_FROM:
		if (take_txt(l, st, txts, lens, n, DMARC_FOUND_FROM, l->from)) {
			ask_org(l);
			if (l->step == DONE)
				say(l, "no DMARC record at _dmarc.%s",
					 l->from);
		} else if (l->res.found == DMARC_FOUND_FROM) {
			l->res.from_exists = DMARC_EXISTS_YES; /* it has a child: it exists */
		}
		return;
	case ASK_ORG:
		if (take_txt(l, st, txts, lens, n, DMARC_FOUND_ORG, l->org)) {
			none(l, "");
			say(l,
				 "no DMARC record at _dmarc.%s or _dmarc.%s", l->from, l->org);
		} else if (l->res.found == DMARC_FOUND_ORG &&
			   l->res.record.np != DMARC_POLICY_UNSET) {
			l->step = ASK_A; /* np= applies only if the From domain does not exist */
		}
		return;
	case ASK_A:
	case ASK_AAAA:
	case ASK_MX:
		/* RFC 9091 2.1: non-existent means NXDOMAIN for A, AAAA and MX. A failed query
		 * leaves it unknown: then sp= (or p=) applies, never the stricter guess. */
		if (st == DMARC_DNS_NXDOMAIN && l->step != ASK_MX) {
			l->step++;
			return;
		}
		l->res.from_exists = st == DMARC_DNS_NXDOMAIN ? DMARC_EXISTS_NO
				     : st == DMARC_DNS_OK   ? DMARC_EXISTS_YES
							    : DMARC_EXISTS_UNKNOWN;
		l->step = DONE;
		return;
	case DONE:
		return;
	}
}

const struct dmarc_policy_lookup *dmarc_lookup_policy(const struct dmarc_lookup *l)
{
	return &l->res;
}

size_t dmarc_lookup_queries(const struct dmarc_lookup *l)
{
	return l->queries;
}

void dmarc_lookup_free(struct dmarc_lookup *l)
{
	free(l);
}
