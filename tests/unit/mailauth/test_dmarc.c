/* DMARC: organisational domains (with Debian's Public Suffix List test vectors), alignment,
 * the From domain, the policy lookup driven from a table of DNS answers, and the evaluation. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "mailauth/dmarc.h"
#include "test.h"

#define PSL_TESTS "/usr/share/doc/publicsuffix/examples/test_psl.txt"

/* 'text' or null in a checkPublicSuffix(...) line; NULL for null. *p moves past it. */
static char *psl_arg(const char **p)
{
	while (**p == ' ' || **p == ',')
		(*p)++;
	if (strncmp(*p, "null", 4) == 0) {
		*p += 4;
		return NULL;
	}
	if (**p != '\'')
		return (char *)"?"; /* not expected: makes the vector fail visibly */
	const char *s = ++*p, *e = strchr(s, '\'');
	if (!e)
		return (char *)"?";
	*p = e + 1;
	return strndup(s, (size_t)(e - s));
}

TEST(dmarc_psl_conformance)
{
	FILE *f = fopen(PSL_TESTS, "r");
	CHECK(f != NULL); /* Debian's publicsuffix package ships it: a missing file is a failure */
	if (!f)
		return;
	char line[1024];
	int total = 0, ok = 0;
	while (fgets(line, sizeof line, f)) {
		const char *p = line;
		if (strncmp(p, "checkPublicSuffix(", 18) != 0)
			continue; /* comments, and the vectors the file itself comments out */
		p += 18;
		char *in = psl_arg(&p), *want = psl_arg(&p);
		/* our names are A-labels: the U-label vectors are compared in that form */
		char got[DMARC_DOMAIN_MAX], want_a[DMARC_DOMAIN_MAX] = "";
		bool have = dmarc_org_domain(in, got, sizeof got);
		if (want && !dmarc_domain_normalize(want, want_a, sizeof want_a))
			strcpy(want_a, "?");
		bool pass = want ? have && strcmp(got, want_a) == 0 : !have;
		total++;
		if (pass)
			ok++;
		else
			printf("  PSL vector %s -> %s: got %s\n", in ? in : "null", want ? want : "null",
			       have ? got : "null");
		if (in && strcmp(in, "?"))
			free(in);
		if (want && strcmp(want, "?"))
			free(want);
	}
	fclose(f);
	printf("  PSL conformance: %d/%d checkPublicSuffix vectors of %s\n", ok, total, PSL_TESTS);
	CHECK(total >= 70);
	CHECK_EQ_INT(ok, total);
}

TEST(dmarc_org_domain_cases)
{
	char out[DMARC_DOMAIN_MAX];
	CHECK(dmarc_org_domain("Mail.Example.COM.", out, sizeof out));
	CHECK_EQ_STR(out, "example.com");
	CHECK(dmarc_org_domain("a.b.example.co.uk", out, sizeof out));
	CHECK_EQ_STR(out, "example.co.uk");
	CHECK(!dmarc_org_domain("co.uk", out, sizeof out));
	CHECK(!dmarc_org_domain("a..example.com", out, sizeof out));
	CHECK(!dmarc_org_domain("[192.0.2.1]", out, sizeof out));
	CHECK(!dmarc_org_domain("", out, sizeof out));
	CHECK(!dmarc_org_domain(".", out, sizeof out));
	CHECK(dmarc_org_domain("xn--85x722f.xn--55qx5d.cn", out, sizeof out));
	CHECK_EQ_STR(out, "xn--85x722f.xn--55qx5d.cn");
	CHECK(dmarc_org_domain("WWW.ÄBC.de", out, sizeof out));
	CHECK_EQ_STR(out, "xn--bc-uia.de");
	CHECK(dmarc_org_domain("www.食狮.公司.cn", out, sizeof out));
	CHECK_EQ_STR(out, "xn--85x722f.xn--55qx5d.cn");
	CHECK(dmarc_aligned("例え.jp", "XN--R8JZ45G.jp", DMARC_ALIGN_STRICT));
	CHECK(!dmarc_org_domain("bad\xff.example", out, sizeof out));
	char tiny[8];
	CHECK(!dmarc_org_domain("example.com", tiny, sizeof tiny));
	char longname[300];
	memset(longname, 'a', 299);
	longname[299] = '\0';
	CHECK(!dmarc_org_domain(longname, out, sizeof out));
}

TEST(dmarc_alignment)
{
	static const struct {
		const char *a, *b;
		bool relaxed, strict;
	} rows[] = {
		{ "example.com", "example.com", true, true },
		{ "EXAMPLE.com.", "example.COM", true, true },
		{ "mail.example.com", "example.com", true, false },
		{ "a.example.com", "b.example.com", true, false },
		{ "example.com", "example.org", false, false },
		{ "example.co.uk", "other.co.uk", false, false },
		{ "a.example.co.uk", "example.co.uk", true, false },
		{ "co.uk", "example.co.uk", false, false },
		{ "evilexample.com", "example.com", false, false },
		{ "", "example.com", false, false },
	};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		if (dmarc_aligned(rows[i].a, rows[i].b, DMARC_ALIGN_RELAXED) != rows[i].relaxed ||
		    dmarc_aligned(rows[i].a, rows[i].b, DMARC_ALIGN_STRICT) != rows[i].strict) {
			printf("  alignment row %zu (%s, %s)\n", i, rows[i].a, rows[i].b);
			test_failures_in_case++;
		}
	}
}

TEST(dmarc_from_domain_cases)
{
	static const struct {
		const char *msg;
		enum dmarc_from_rc rc;
		const char *domain;
	} rows[] = {
		{ "From: Alice <alice@Example.COM>\r\nTo: b@x.example\r\n\r\nbody", DMARC_FROM_OK,
		  "example.com" },
		{ "from: alice@example.com (Alice)\r\n\r\n", DMARC_FROM_OK, "example.com" },
		{ "From: \"Bob, Jr\" <bob@mail.example.org.>\r\n\r\n", DMARC_FROM_OK,
		  "mail.example.org" },
		{ "From:\r\n  =?utf-8?q?A?= <a@example.net>\r\n\r\n", DMARC_FROM_OK, "example.net" },
		{ "From: a@example.com, b@EXAMPLE.com\r\n\r\n", DMARC_FROM_OK, "example.com" },
		{ "From: team: a@example.com, b@example.com;\r\n\r\n", DMARC_FROM_OK, "example.com" },
		{ "From: a@example.com, b@example.org\r\n\r\n", DMARC_FROM_MIXED, "" },
		{ "From: a@example.com, b\r\n\r\n", DMARC_FROM_MIXED, "" },
		{ "From: a@example.com\r\nFrom: a@example.com\r\n\r\n", DMARC_FROM_MULTIPLE, "" },
		{ "From: a@example.com\r\nFROM: b@evil.example\r\n\r\n", DMARC_FROM_MULTIPLE, "" },
		{ "To: b@example.com\r\n\r\nFrom: a@example.com\r\n", DMARC_FROM_MISSING, "" },
		{ "", DMARC_FROM_MISSING, "" },
		{ "From: undisclosed-recipients:;\r\n\r\n", DMARC_FROM_NO_DOMAIN, "" },
		{ "From: alice\r\n\r\n", DMARC_FROM_NO_DOMAIN, "" },
		{ "From: <alice@[192.0.2.1]>\r\n\r\n", DMARC_FROM_NO_DOMAIN, "" },
		{ "From: <>\r\n\r\n", DMARC_FROM_NO_DOMAIN, "" },
		{ "From: a@ex..ample.com\r\n\r\n", DMARC_FROM_NO_DOMAIN, "" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		char d[DMARC_DOMAIN_MAX];
		const char *why = NULL;
		enum dmarc_from_rc rc =
			dmarc_from_domain(rows[i].msg, strlen(rows[i].msg), d, sizeof d, &why);
		if (rc != rows[i].rc || strcmp(d, rows[i].domain) != 0 ||
		    (rc != DMARC_FROM_OK && !why)) {
			printf("  From row %zu: rc %d domain \"%s\"\n", i, rc, d);
			test_failures_in_case++;
		}
	}
}

/* ---------------------------------------------------------------------------------------------
 * The lookup from a table. */

struct zrec {
	const char *name;
	enum dmarc_qtype type;
	const char *value; /* TXT text; "TEMPFAIL" fails that query; anything for A/AAAA/MX */
};

static struct dmarc_policy_lookup run_lookup(const struct zrec *zone, const char *from,
					     char *asked, size_t asked_len)
{
	struct dmarc_lookup *l = dmarc_lookup_start(from);
	struct dmarc_query q;
	asked[0] = '\0';
	int guard = 0;
	while (dmarc_lookup_next(l, &q) && guard++ < 20) {
		static const char *const tn[] = { "TXT", "A", "AAAA", "MX" };
		snprintf(asked + strlen(asked), asked_len - strlen(asked), "%s%s %s",
			 asked[0] ? ", " : "", tn[q.type], q.name);
		const char *txts[8];
		size_t lens[8], n = 0;
		enum dmarc_dns_status st = DMARC_DNS_NXDOMAIN;
		for (const struct zrec *z = zone; z->name; z++) {
			if (strcasecmp(z->name, q.name) != 0)
				continue;
			if (st == DMARC_DNS_NXDOMAIN)
				st = DMARC_DNS_OK;
			if (z->type != q.type || n == 8)
				continue;
			if (strcmp(z->value, "TEMPFAIL") == 0) {
				st = DMARC_DNS_TEMPFAIL;
				break;
			}
			txts[n] = z->value;
			lens[n++] = strlen(z->value);
		}
		dmarc_lookup_answer(l, st, txts, lens, n);
	}
	struct dmarc_policy_lookup res = *dmarc_lookup_policy(l);
	CHECK(guard <= 5);
	CHECK_EQ_INT(dmarc_lookup_queries(l), guard);
	dmarc_lookup_free(l);
	return res;
}

static const struct zrec zone[] = {
	{ "_dmarc.example.com", DMARC_QTXT, "v=DMARC1; p=reject; sp=quarantine; np=reject" },
	{ "_dmarc.example.com", DMARC_QTXT, "v=spf1 -all" },
	{ "example.com", DMARC_QA, "192.0.2.1" },
	{ "mail.example.com", DMARC_QMX, "mx" },
	{ "_dmarc.own.example.com", DMARC_QTXT, "v=DMARC1; p=none" },
	{ "_dmarc.two.example", DMARC_QTXT, "v=DMARC1; p=reject" },
	{ "_dmarc.two.example", DMARC_QTXT, "v=DMARC1; p=none" },
	{ "_dmarc.sub.two.example", DMARC_QTXT, "unrelated" },
	{ "_dmarc.broken.example", DMARC_QTXT, "v=DMARC1; p=whatever" },
	{ "_dmarc.slow.example", DMARC_QTXT, "TEMPFAIL" },
	{ "_dmarc.plain.example", DMARC_QTXT, "v=DMARC1; p=quarantine" },
	{ "half.np.example", DMARC_QA, "TEMPFAIL" },
	{ "_dmarc.np.example", DMARC_QTXT, "v=DMARC1; p=none; np=reject" },
	{ "mx.np.example", DMARC_QMX, "mx" },
	{ NULL, 0, NULL },
};

TEST(dmarc_lookup_table)
{
	char asked[1024];
	struct dmarc_policy_lookup r;
	r = run_lookup(zone, "Example.com", asked, sizeof asked);
	CHECK_EQ_INT(r.found, DMARC_FOUND_FROM);
	CHECK_EQ_STR(r.policy_domain, "example.com");
	CHECK_EQ_INT(r.record.p, DMARC_POLICY_REJECT);
	CHECK_EQ_STR(asked, "TXT _dmarc.example.com");
	/* a subdomain: the org record; np= is there, so existence is asked: it exists (it has
	 * an MX, so the A query is NODATA, not NXDOMAIN) */
	r = run_lookup(zone, "mail.example.com", asked, sizeof asked);
	CHECK_EQ_INT(r.found, DMARC_FOUND_ORG);
	CHECK_EQ_STR(r.policy_domain, "example.com");
	CHECK_EQ_INT(r.from_exists, DMARC_EXISTS_YES);
	CHECK_EQ_STR(asked, "TXT _dmarc.mail.example.com, TXT _dmarc.example.com, A mail.example.com");
	r = run_lookup(zone, "ghost.example.com", asked, sizeof asked);
	CHECK_EQ_INT(r.found, DMARC_FOUND_ORG);
	CHECK_EQ_INT(r.from_exists, DMARC_EXISTS_NO);
	CHECK_EQ_STR(asked, "TXT _dmarc.ghost.example.com, TXT _dmarc.example.com, A ghost.example.com"
			    ", AAAA ghost.example.com, MX ghost.example.com");
	/* a subdomain's own record wins */
	r = run_lookup(zone, "own.example.com", asked, sizeof asked);
	CHECK_EQ_INT(r.found, DMARC_FOUND_FROM);
	CHECK_EQ_INT(r.record.p, DMARC_POLICY_NONE);
	/* no np=: no existence queries */
	r = run_lookup(zone, "x.plain.example", asked, sizeof asked);
	CHECK_EQ_INT(r.found, DMARC_FOUND_ORG);
	CHECK_EQ_INT(r.from_exists, DMARC_EXISTS_UNKNOWN);
	CHECK_EQ_STR(asked, "TXT _dmarc.x.plain.example, TXT _dmarc.plain.example");
	/* two records: none, and no further lookups (6.6.3) */
	r = run_lookup(zone, "two.example", asked, sizeof asked);
	CHECK_EQ_INT(r.found, DMARC_FOUND_NONE);
	CHECK(strstr(r.why, "more than one") != NULL);
	r = run_lookup(zone, "sub.two.example", asked, sizeof asked);
	CHECK_EQ_INT(r.found, DMARC_FOUND_NONE);
	CHECK_EQ_STR(asked, "TXT _dmarc.sub.two.example, TXT _dmarc.two.example");
	/* a record without a policy at the From domain stops there too */
	r = run_lookup(zone, "broken.example", asked, sizeof asked);
	CHECK_EQ_INT(r.found, DMARC_FOUND_NONE);
	CHECK(strstr(r.why, "p=") != NULL);
	r = run_lookup(zone, "nothing.example", asked, sizeof asked);
	CHECK_EQ_INT(r.found, DMARC_FOUND_NONE);
	CHECK_EQ_STR(r.why, "no DMARC record at _dmarc.nothing.example");
	r = run_lookup(zone, "a.nothing.example", asked, sizeof asked);
	CHECK_EQ_STR(r.why, "no DMARC record at _dmarc.a.nothing.example or _dmarc.nothing.example");
	/* DNS failures */
	r = run_lookup(zone, "slow.example", asked, sizeof asked);
	CHECK_EQ_INT(r.found, DMARC_FOUND_TEMPFAIL);
	r = run_lookup(zone, "a.slow.example", asked, sizeof asked);
	CHECK_EQ_INT(r.found, DMARC_FOUND_TEMPFAIL);
	r = run_lookup(zone, "half.np.example", asked, sizeof asked);
	CHECK_EQ_INT(r.found, DMARC_FOUND_ORG);
	CHECK_EQ_INT(r.from_exists, DMARC_EXISTS_UNKNOWN);
	r = run_lookup(zone, "mx.np.example", asked, sizeof asked);
	CHECK_EQ_INT(r.from_exists, DMARC_EXISTS_YES);
	/* not a domain: nothing asked */
	r = run_lookup(zone, "bad..example", asked, sizeof asked);
	CHECK_EQ_INT(r.found, DMARC_FOUND_NONE);
	CHECK_EQ_STR(asked, "");
	/* a public suffix as From: its own org domain, one query */
	r = run_lookup(zone, "co.uk", asked, sizeof asked);
	CHECK_EQ_STR(asked, "TXT _dmarc.co.uk");
}

/* ---------------------------------------------------------------------------------------------
 * Evaluation from a table. */

struct dk {
	enum dkim_result r;
	const char *d;
};

struct eval_row {
	const char *name;
	const char *from;
	enum dmarc_found found;
	const char *record;
	const char *policy_domain;
	enum dmarc_exists exists;
	enum spf_result spf;
	const char *spf_domain;
	struct dk dkim[3];
	unsigned random;
	enum dmarc_result result;
	enum dmarc_policy policy, disposition;
	const char *tag;
	bool spf_aligned, dkim_aligned;
};

#define P(x) DMARC_POLICY_##x
#define R(x) DMARC_RESULT_##x
#define F(x) DMARC_FOUND_##x
#define E(x) DMARC_EXISTS_##x
#define REJ "v=DMARC1; p=reject"

static const struct eval_row rows[] = {
	/* alignment of SPF and DKIM, relaxed and strict */
	{ "spf relaxed", "example.com", F(FROM), REJ, "example.com", E(YES), SPF_PASS,
	  "bounce.example.com", { { 0 } }, 0, R(PASS), P(REJECT), P(NONE), "p", true, false },
	{ "spf strict", "example.com", F(FROM), REJ "; aspf=s", "example.com", E(YES), SPF_PASS,
	  "bounce.example.com", { { 0 } }, 0, R(FAIL), P(REJECT), P(REJECT), "p", false, false },
	{ "spf strict exact", "example.com", F(FROM), REJ "; aspf=s", "example.com", E(YES),
	  SPF_PASS, "EXAMPLE.com", { { 0 } }, 0, R(PASS), P(REJECT), P(NONE), "p", true, false },
	{ "spf softfail", "example.com", F(FROM), REJ, "example.com", E(YES), SPF_SOFTFAIL,
	  "example.com", { { 0 } }, 0, R(FAIL), P(REJECT), P(REJECT), "p", false, false },
	{ "spf other domain", "example.com", F(FROM), REJ, "example.com", E(YES), SPF_PASS,
	  "example.org", { { 0 } }, 0, R(FAIL), P(REJECT), P(REJECT), "p", false, false },
	{ "dkim relaxed", "mail.example.com", F(ORG), REJ, "example.com", E(UNKNOWN), SPF_FAIL,
	  "x.org", { { DKIM_PASS, "example.com" } }, 0, R(PASS), P(REJECT), P(NONE), "p", false,
	  true },
	{ "dkim strict", "mail.example.com", F(ORG), REJ "; adkim=s", "example.com", E(UNKNOWN),
	  SPF_NONE, "", { { DKIM_PASS, "example.com" } }, 0, R(FAIL), P(REJECT), P(REJECT), "p",
	  false, false },
	{ "dkim strict exact", "mail.example.com", F(ORG), REJ "; adkim=s", "example.com",
	  E(UNKNOWN), SPF_NONE, "", { { DKIM_FAIL, "mail.example.com" },
				     { DKIM_PASS, "Mail.Example.com" } },
	  0, R(PASS), P(REJECT), P(NONE), "p", false, true },
	{ "dkim fail aligned", "example.com", F(FROM), REJ, "example.com", E(YES), SPF_NONE, "",
	  { { DKIM_FAIL, "example.com" }, { DKIM_PASS, "mailer.example.net" } }, 0, R(FAIL),
	  P(REJECT), P(REJECT), "p", false, false },
	{ "org across psl", "example.co.uk", F(FROM), REJ, "example.co.uk", E(YES), SPF_PASS,
	  "other.co.uk", { { DKIM_PASS, "co.uk" } }, 0, R(FAIL), P(REJECT), P(REJECT), "p",
	  false, false },
	/* p, sp, np */
	{ "sp for subdomain", "a.example.com", F(ORG), REJ "; sp=quarantine", "example.com",
	  E(YES), SPF_FAIL, "a.example.com", { { 0 } }, 0, R(FAIL), P(QUARANTINE), P(QUARANTINE),
	  "sp", false, false },
	{ "p when no sp", "a.example.com", F(ORG), REJ, "example.com", E(YES), SPF_FAIL, "",
	  { { 0 } }, 0, R(FAIL), P(REJECT), P(REJECT), "p", false, false },
	{ "sp not for own record", "example.com", F(FROM), "v=DMARC1; p=none; sp=reject",
	  "example.com", E(YES), SPF_FAIL, "", { { 0 } }, 0, R(FAIL), P(NONE), P(NONE), "p",
	  false, false },
	{ "np for nxdomain", "ghost.example.com", F(ORG), "v=DMARC1; p=none; sp=quarantine; "
	  "np=reject", "example.com", E(NO), SPF_NONE, "", { { 0 } }, 0, R(FAIL), P(REJECT),
	  P(REJECT), "np", false, false },
	{ "np needs nxdomain", "ghost.example.com", F(ORG), "v=DMARC1; p=none; sp=quarantine; "
	  "np=reject", "example.com", E(UNKNOWN), SPF_NONE, "", { { 0 } }, 0, R(FAIL),
	  P(QUARANTINE), P(QUARANTINE), "sp", false, false },
	{ "no np: sp", "ghost.example.com", F(ORG), "v=DMARC1; p=reject; sp=none", "example.com",
	  E(NO), SPF_NONE, "", { { 0 } }, 0, R(FAIL), P(NONE), P(NONE), "sp", false, false },
	{ "rua rule: p=none", "example.com", F(FROM), "v=DMARC1; rua=mailto:r@example.com",
	  "example.com", E(YES), SPF_FAIL, "", { { 0 } }, 0, R(FAIL), P(NONE), P(NONE), "p",
	  false, false },
	/* pct */
	{ "pct 0 reject", "example.com", F(FROM), REJ "; pct=0", "example.com", E(YES), SPF_FAIL,
	  "", { { 0 } }, 0, R(FAIL), P(REJECT), P(QUARANTINE), "p", false, false },
	{ "pct 0 quarantine", "example.com", F(FROM), "v=DMARC1; p=quarantine; pct=0",
	  "example.com", E(YES), SPF_FAIL, "", { { 0 } }, 0, R(FAIL), P(QUARANTINE), P(NONE), "p",
	  false, false },
	{ "pct 100", "example.com", F(FROM), REJ "; pct=100", "example.com", E(YES), SPF_FAIL,
	  "", { { 0 } }, 99, R(FAIL), P(REJECT), P(REJECT), "p", false, false },
	{ "pct 50 in", "example.com", F(FROM), REJ "; pct=50", "example.com", E(YES), SPF_FAIL,
	  "", { { 0 } }, 49, R(FAIL), P(REJECT), P(REJECT), "p", false, false },
	{ "pct 50 out", "example.com", F(FROM), REJ "; pct=50", "example.com", E(YES), SPF_FAIL,
	  "", { { 0 } }, 50, R(FAIL), P(REJECT), P(QUARANTINE), "p", false, false },
	{ "pct 50 quarantine out", "example.com", F(FROM), "v=DMARC1; p=quarantine; pct=50",
	  "example.com", E(YES), SPF_FAIL, "", { { 0 } }, 77, R(FAIL), P(QUARANTINE), P(NONE),
	  "p", false, false },
	/* none, temperror, permerror */
	{ "no record", "example.com", F(NONE), NULL, "", E(UNKNOWN), SPF_FAIL, "", { { 0 } }, 0,
	  R(NONE), P(NONE), P(NONE), "", false, false },
	{ "lookup tempfail", "example.com", F(TEMPFAIL), NULL, "", E(UNKNOWN), SPF_PASS,
	  "example.com", { { 0 } }, 0, R(TEMPERROR), P(NONE), P(NONE), "", false, false },
	{ "spf temperror aligned", "example.com", F(FROM), REJ, "example.com", E(YES),
	  SPF_TEMPERROR, "example.com", { { 0 } }, 0, R(TEMPERROR), P(REJECT), P(NONE), "p",
	  false, false },
	{ "dkim temperror aligned", "example.com", F(FROM), REJ, "example.com", E(YES), SPF_FAIL,
	  "example.com", { { DKIM_TEMPERROR, "example.com" } }, 0, R(TEMPERROR), P(REJECT),
	  P(NONE), "p", false, false },
	{ "dkim temperror elsewhere", "example.com", F(FROM), REJ, "example.com", E(YES),
	  SPF_FAIL, "example.com", { { DKIM_TEMPERROR, "example.net" } }, 0, R(FAIL), P(REJECT),
	  P(REJECT), "p", false, false },
	{ "temperror under p=none is fail", "example.com", F(FROM), "v=DMARC1; p=none",
	  "example.com", E(YES), SPF_TEMPERROR, "example.com", { { 0 } }, 0, R(FAIL), P(NONE),
	  P(NONE), "p", false, false },
	{ "temperror but pass", "example.com", F(FROM), REJ, "example.com", E(YES), SPF_TEMPERROR,
	  "example.com", { { DKIM_PASS, "example.com" } }, 0, R(PASS), P(REJECT), P(NONE), "p",
	  false, true },
	{ "no from", "", F(FROM), REJ, "example.com", E(YES), SPF_PASS, "example.com", { { 0 } },
	  0, R(PERMERROR), P(NONE), P(NONE), "", false, false },
};

TEST(dmarc_evaluate_table)
{
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		const struct eval_row *row = &rows[i];
		struct dmarc_policy_lookup pl = { .found = row->found, .from_exists = row->exists };
		snprintf(pl.policy_domain, sizeof pl.policy_domain, "%s", row->policy_domain);
		if (row->record) {
			const char *why;
			if (dmarc_record_parse(row->record, strlen(row->record), &pl.record, &why) !=
			    DMARC_RECORD_OK) {
				printf("  row \"%s\": record does not parse\n", row->name);
				test_failures_in_case++;
				continue;
			}
		}
		struct dkim_outcome dk[3];
		size_t nd = 0;
		for (; nd < 3 && row->dkim[nd].d; nd++) {
			dk[nd] = (struct dkim_outcome){ .result = row->dkim[nd].r };
			snprintf(dk[nd].domain, sizeof dk[nd].domain, "%s", row->dkim[nd].d);
		}
		struct dmarc_input in = {
			.from_domain = row->from, .policy = &pl, .spf = row->spf,
			.spf_domain = row->spf_domain, .dkim = dk, .ndkim = nd, .random = row->random,
		};
		struct dmarc_outcome o;
		dmarc_evaluate(&in, &o);
		if (o.result != row->result || o.policy != row->policy ||
		    o.disposition != row->disposition || strcmp(o.policy_tag, row->tag) != 0 ||
		    o.spf_aligned != row->spf_aligned || o.dkim_aligned != row->dkim_aligned ||
		    !o.reason[0]) {
			printf("  row \"%s\": %s policy %s dis %s tag %s spf %d dkim %d: %s\n",
			       row->name, dmarc_result_name(o.result), dmarc_policy_name(o.policy),
			       dmarc_policy_name(o.disposition), o.policy_tag, o.spf_aligned,
			       o.dkim_aligned, o.reason);
			test_failures_in_case++;
		}
	}
}

TEST(dmarc_reason_sentences)
{
	struct dmarc_policy_lookup pl = { .found = DMARC_FOUND_FROM };
	const char *why;
	dmarc_record_parse("v=DMARC1; p=reject", 18, &pl.record, &why);
	strcpy(pl.policy_domain, "example.com");
	struct dkim_outcome dk = { .result = DKIM_PASS, .domain = "mailer.example.net" };
	struct dmarc_input in = { .from_domain = "Example.com", .policy = &pl, .spf = SPF_FAIL,
				  .spf_domain = "example.org", .dkim = &dk, .ndkim = 1 };
	struct dmarc_outcome o;
	dmarc_evaluate(&in, &o);
	CHECK_EQ_STR(o.reason, "the message claims to be from example.com, but example.com's DMARC "
			       "policy says it must be signed by example.com (or a subdomain) or "
			       "sent from the servers of example.com (or a subdomain), and it was "
			       "neither (a good signature from mailer.example.net; SPF fail for "
			       "example.org)");
	strcpy(dk.domain, "example.com");
	dk.testing = true; /* counts: see dmarc.h */
	dmarc_evaluate(&in, &o);
	CHECK_EQ_INT(o.result, DMARC_RESULT_PASS);
	CHECK_EQ_STR(o.reason, "the message is from example.com and carries a good signature from "
			       "example.com, as example.com's DMARC policy asks");
	pl.found = DMARC_FOUND_TEMPFAIL;
	dmarc_evaluate(&in, &o);
	CHECK(strstr(o.reason, "temporary DNS failure") != NULL);
}
