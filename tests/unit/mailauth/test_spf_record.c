#include <stdlib.h>

#include "mailauth/spf_record.h"
#include "test.h"

static int parse(const char *txt, struct spf_record *r)
{
	const char *why = NULL;
	int rc = spf_record_parse(txt, strlen(txt), r, &why);
	if (rc != 0 && !why)
		rc = -2; /* an error must say why */
	return rc;
}

static bool parses(const char *txt)
{
	struct spf_record r;
	int rc = parse(txt, &r);
	if (rc == 0)
		spf_record_free(&r);
	return rc == 0;
}

TEST(spf_record_terms)
{
	struct spf_record r;
	CHECK_EQ_INT(parse("v=spf1 +a mx/24 -ptr:Example.com ~ip4:192.0.2.0/24 "
			   "?ip6:2001:db8::/32 a:%{d}.x.org/26//64 exists:%{ir}.sbl.example.org "
			   "include:_spf.example.net -all redirect=_spf.example.com "
			   "exp=explain.%{d} foo=bar", &r), 0);
	CHECK_EQ_INT(r.nterms, 9);
	CHECK(r.terms[0].mech == SPF_MECH_A && r.terms[0].qualifier == SPF_PASS &&
	      !r.terms[0].domain_spec && r.terms[0].cidr4 == 32 && r.terms[0].cidr6 == 128);
	CHECK(r.terms[1].mech == SPF_MECH_MX && r.terms[1].cidr4 == 24);
	CHECK(r.terms[2].mech == SPF_MECH_PTR && r.terms[2].qualifier == SPF_FAIL);
	CHECK_EQ_STR(r.terms[2].domain_spec, "Example.com");
	CHECK(r.terms[3].mech == SPF_MECH_IP4 && r.terms[3].qualifier == SPF_SOFTFAIL &&
	      r.terms[3].cidr4 == 24 && r.terms[3].addr[0] == 192 && r.terms[3].addr[2] == 2);
	CHECK(r.terms[4].mech == SPF_MECH_IP6 && r.terms[4].qualifier == SPF_NEUTRAL &&
	      r.terms[4].cidr6 == 32 && r.terms[4].addr[0] == 0x20 && r.terms[4].addr[3] == 0xb8);
	CHECK(r.terms[5].cidr4 == 26 && r.terms[5].cidr6 == 64);
	CHECK_EQ_STR(r.terms[5].domain_spec, "%{d}.x.org");
	CHECK(r.terms[6].mech == SPF_MECH_EXISTS && r.terms[7].mech == SPF_MECH_INCLUDE);
	CHECK(r.terms[8].mech == SPF_MECH_ALL && r.terms[8].qualifier == SPF_FAIL);
	CHECK_EQ_STR(r.terms[8].text, "-all");
	CHECK_EQ_STR(r.redirect, "_spf.example.com");
	CHECK_EQ_STR(r.exp, "explain.%{d}");
	spf_record_free(&r);
	/* mechanism names are case-insensitive; runs of spaces separate terms */
	CHECK(parses("V=SPF1   A:example.com   MX   -ALL   "));
	CHECK(parses("v=spf1"));
}

TEST(spf_record_errors)
{
	const char *bad[] = {
		"v=spf1 foo",                 /* unknown mechanism */
		"v=spf1 a:example.com/33",     /* IPv4 prefix out of range */
		"v=spf1 a//129",               /* IPv6 prefix out of range */
		"v=spf1 a/024",                /* leading zero */
		"v=spf1 a/",                   /* empty length */
		"v=spf1 ip4:192.0.2",          /* not an address */
		"v=spf1 ip4:192.0.2.1/",       /* empty length */
		"v=spf1 ip6::CAFE::BABE",      /* two :: */
		"v=spf1 include",              /* include needs a domain */
		"v=spf1 include:",             /* empty domain-spec */
		"v=spf1 exists:foo%(ir).x.com",/* % not followed by {, %, _ or - */
		"v=spf1 a:%{x}.example.com",   /* no such letter */
		"v=spf1 a:%{c}.example.com",   /* c is for explanations only */
		"v=spf1 a:%{d0}.example.com",  /* a zero digit transformer */
		"v=spf1 a:%{d",                /* unterminated */
		"v=spf1 a:museum",             /* domain-end needs \".\" toplabel */
		"v=spf1 a:abc.123",            /* all-numeric toplabel */
		"v=spf1 all:foo",              /* all takes no argument */
		"v=spf1 redirect=a.com redirect=b.com", /* twice */
		"v=spf1 exp=",                 /* empty */
		"v=spf1 -all \xc3\xa9",        /* not 7-bit */
		"v=spf1 a:ctrl.example.com\rptr",
		"v=spf10 a",                   /* not version 1 */
		"spf1 a",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct spf_record r;
		int rc = parse(bad[i], &r);
		if (rc != -1)
			printf("  accepted or no reason: %s\n", bad[i]);
		CHECK_EQ_INT(rc, -1);
	}
	/* unknown modifiers are ignored, but their macro syntax is checked */
	CHECK(parses("v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all"));
	CHECK(!parses("v=spf1 moo=%{"));
	CHECK(parses("v=spf1 a:example.com. a:123-4.example.com ptr:%{d}"));
}

TEST(spf_record_version)
{
	CHECK(spf_record_is_spf1("v=spf1", 6));
	CHECK(spf_record_is_spf1("V=Spf1 -all", 11));
	CHECK(!spf_record_is_spf1("v=spf10", 7));
	CHECK(!spf_record_is_spf1("v=spf1-all", 10));
	CHECK(!spf_record_is_spf1("v=spf", 5));
}

/* RFC 7208 section 7.4's examples. */
static const struct spf_macro_env rfc_env = {
	.sender = "strong-bad@email.example.com",
	.local = "strong-bad",
	.sender_domain = "email.example.com",
	.domain = "email.example.com",
	.ip = "192.0.2.3",
	.ptr_name = "mx.example.org",
	.ip_version = "in-addr",
	.helo = "mx.example.org",
	.client_ip = "192.0.2.3",
	.receiver = "mx.example.net",
	.timestamp = 1234567890,
};

static char *expand(const char *in, bool exp, enum spf_macro_status *st)
{
	struct buf b = BUF_INIT;
	*st = spf_macro_expand(in, strlen(in), exp, &rfc_env, &b);
	char *s = buf_steal(&b, NULL);
	return s ? s : calloc(1, 1);
}

TEST(spf_macro_rfc_examples)
{
	static const char *const cases[][2] = {
		{ "%{s}", "strong-bad@email.example.com" },
		{ "%{o}", "email.example.com" },
		{ "%{d}", "email.example.com" },
		{ "%{d4}", "email.example.com" },
		{ "%{d3}", "email.example.com" },
		{ "%{d2}", "example.com" },
		{ "%{d1}", "com" },
		{ "%{dr}", "com.example.email" },
		{ "%{d2r}", "example.email" },
		{ "%{l}", "strong-bad" },
		{ "%{l-}", "strong.bad" },
		{ "%{lr}", "strong-bad" },
		{ "%{lr-}", "bad.strong" },
		{ "%{l1r-}", "strong" },
		{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
		{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
		{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
		  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
		{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
		  "3.2.0.192.in-addr.strong.lp._spf.example.com" },
		{ "%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net" },
		{ "%{S}", "strong-bad%40email.example.com" },
		{ "%%%_%-", "% %20" },
		{ "%{p}.%{h}", "mx.example.org.mx.example.org" },
		{ "%{d999}", "email.example.com" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum spf_macro_status st;
		char *s = expand(cases[i][0], false, &st);
		CHECK_EQ_INT(st, SPF_MACRO_OK);
		CHECK_EQ_STR(s, cases[i][1]);
		free(s);
	}
}

TEST(spf_macro_exp_only_and_errors)
{
	enum spf_macro_status st;
	char *s = expand("%{c} %{r} %{t}", true, &st);
	CHECK_EQ_INT(st, SPF_MACRO_OK);
	CHECK_EQ_STR(s, "192.0.2.3 mx.example.net 1234567890");
	free(s);
	s = expand("%{c}", false, &st);
	CHECK_EQ_INT(st, SPF_MACRO_SYNTAX);
	free(s);
	const char *bad[] = { "%", "%x", "%{", "%{s", "%{q}", "%{s0}", "%{s!}", "a b" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		s = expand(bad[i], false, &st);
		CHECK_EQ_INT(st, SPF_MACRO_SYNTAX);
		free(s);
	}
	/* %{p} before the PTR names are validated: the evaluator must look them up first */
	struct spf_macro_env env = rfc_env;
	env.ptr_name = NULL;
	struct buf b = BUF_INIT;
	CHECK_EQ_INT(spf_macro_expand("%{p}.x", 6, false, &env, &b), SPF_MACRO_NEED_PTR);
	buf_free(&b);
	CHECK(spf_macro_uses_ptr("a.%{P}.b") && !spf_macro_uses_ptr("%{d}.p"));
	/* a short string cannot expand without bound */
	struct buf big = BUF_INIT;
	char many[2000] = "";
	for (int i = 0; i < 400; i++)
		strcat(many, "%{s}");
	CHECK_EQ_INT(spf_macro_expand(many, strlen(many), false, &rfc_env, &big), SPF_MACRO_SYNTAX);
	CHECK(big.len <= SPF_MACRO_MAX_OUT + 64);
	buf_free(&big);
}

TEST(spf_domain_spec_end)
{
	CHECK(spf_domain_spec_valid("example.com", 11));
	CHECK(spf_domain_spec_valid("example.com.", 12));
	CHECK(spf_domain_spec_valid("%{d}", 4));
	CHECK(spf_domain_spec_valid("foo.%{d2}", 9));
	CHECK(!spf_domain_spec_valid("com", 3));
	CHECK(!spf_domain_spec_valid("", 0));
	CHECK(!spf_domain_spec_valid("a.-com", 6));
	CHECK(!spf_domain_spec_valid("a.1234", 6));
}
