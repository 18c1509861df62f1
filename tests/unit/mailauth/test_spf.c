/* The SPF evaluator driven from a table of DNS records, the way the event loop drives it
 * from the resolver: one query at a time. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <strings.h>

#include "mailauth/spf.h"
#include "test.h"

/* One record. value: TXT text, an address for A/AAAA, a name for MX/PTR, or "TEMPFAIL"
 * (the query for this name and type times out). */
struct zrec {
	const char *name;
	enum spf_qtype type;
	const char *value;
};

struct outcome {
	enum spf_result result;
	char mech[128];
	char exp[256];
	size_t queries;
};

static struct outcome run(const struct zrec *zone, const char *ip, const char *helo,
			  const char *from)
{
	struct outcome o = { SPF_NONE, "", "", 0 };
	struct spf_check *c = spf_check_start(ip, helo, from, "mx.example.net", 1000);
	if (!c) {
		o.result = (enum spf_result)-1;
		return o;
	}
	struct spf_query q;
	int guard = 0;
	while (spf_check_next(c, &q) && guard++ < 1000) {
		struct spf_rr rrs[32];
		unsigned char addrs[32][16];
		struct spf_answer a = { SPF_DNS_NXDOMAIN, rrs, 0 };
		for (const struct zrec *z = zone; z->name; z++) {
			if (strcasecmp(z->name, q.name) != 0)
				continue;
			if (a.status == SPF_DNS_NXDOMAIN)
				a.status = SPF_DNS_OK; /* the name exists */
			if (z->type != q.type || a.nrrs == 32)
				continue;
			if (strcmp(z->value, "TEMPFAIL") == 0) {
				a.status = SPF_DNS_TEMPFAIL;
				break;
			}
			struct spf_rr *rr = &rrs[a.nrrs];
			if (q.type == SPF_QA || q.type == SPF_QAAAA) {
				inet_pton(q.type == SPF_QA ? AF_INET : AF_INET6, z->value, addrs[a.nrrs]);
				rr->data = (const char *)addrs[a.nrrs];
				rr->len = q.type == SPF_QA ? 4 : 16;
			} else {
				rr->data = z->value;
				rr->len = strlen(z->value);
			}
			a.nrrs++;
		}
		if (a.status != SPF_DNS_OK)
			a.nrrs = 0;
		spf_check_answer(c, &a);
	}
	o.result = spf_check_result(c);
	snprintf(o.mech, sizeof o.mech, "%s", spf_check_mechanism(c) ? spf_check_mechanism(c) : "");
	snprintf(o.exp, sizeof o.exp, "%s", spf_check_explanation(c) ? spf_check_explanation(c) : "");
	o.queries = spf_check_queries(c);
	spf_check_free(c);
	return o;
}

#define TXT(n, v) { n, SPF_QTXT, v }
#define A(n, v) { n, SPF_QA, v }
#define AAAA(n, v) { n, SPF_QAAAA, v }
#define MX(n, v) { n, SPF_QMX, v }
#define PTR(n, v) { n, SPF_QPTR, v }
#define END { NULL, SPF_QTXT, NULL }

TEST(spf_eval_basic_results)
{
	static const struct zrec zone[] = {
		TXT("example.com", "v=spf1 ip4:192.0.2.0/24 a mx ~all"),
		TXT("example.com", "some other TXT record"),
		A("example.com", "198.51.100.7"),
		MX("example.com", "mail.example.com"),
		A("mail.example.com", "203.0.113.9"),
		TXT("neutral.example", "v=spf1 ?all"),
		TXT("empty.example", "v=spf1"),
		TXT("two.example", "v=spf1 -all"),
		TXT("two.example", "v=spf1 +all"),
		TXT("broken.example", "v=spf1 a:"),
		END,
	};
	struct outcome o = run(zone, "192.0.2.55", "h.example", "alice@example.com");
	CHECK_EQ_INT(o.result, SPF_PASS);
	CHECK_EQ_STR(o.mech, "ip4:192.0.2.0/24");
	o = run(zone, "198.51.100.7", "h.example", "alice@example.com");
	CHECK_EQ_INT(o.result, SPF_PASS);
	CHECK_EQ_STR(o.mech, "a");
	o = run(zone, "203.0.113.9", "h.example", "alice@example.com");
	CHECK_EQ_INT(o.result, SPF_PASS);
	CHECK_EQ_STR(o.mech, "mx");
	o = run(zone, "203.0.113.10", "h.example", "alice@example.com");
	CHECK_EQ_INT(o.result, SPF_SOFTFAIL);
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@neutral.example").result, SPF_NEUTRAL);
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@empty.example").result, SPF_NEUTRAL);
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@nowhere.example").result, SPF_NONE);
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@two.example").result, SPF_PERMERROR);
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@broken.example").result, SPF_PERMERROR);
	/* not a domain to check: none without asking the DNS */
	o = run(zone, "192.0.2.1", "h", "a@localhost");
	CHECK_EQ_INT(o.result, SPF_NONE);
	CHECK_EQ_INT(o.queries, 0);
	/* HELO identity and the null sender: postmaster@helo */
	struct spf_check *c = spf_check_start_helo("192.0.2.1", "example.com", NULL, 0);
	struct spf_query q;
	CHECK(spf_check_next(c, &q));
	CHECK(q.type == SPF_QTXT);
	CHECK_EQ_STR(q.name, "example.com");
	spf_check_free(c);
	CHECK(spf_check_start("not-an-ip", "h", "a@b.c", NULL, 0) == NULL);
}

TEST(spf_eval_include_loop_is_permerror)
{
	static const struct zrec zone[] = {
		TXT("loop1.example", "v=spf1 include:loop2.example -all"),
		TXT("loop2.example", "v=spf1 include:loop1.example -all"),
		TXT("self.example", "v=spf1 redirect=self.example"),
		END,
	};
	struct outcome o = run(zone, "192.0.2.1", "h", "a@loop1.example");
	CHECK_EQ_INT(o.result, SPF_PERMERROR);
	CHECK(o.queries <= 2); /* each name asked once, whatever the depth */
	o = run(zone, "192.0.2.1", "h", "a@self.example");
	CHECK_EQ_INT(o.result, SPF_PERMERROR);
}

TEST(spf_eval_eleventh_lookup_is_permerror)
{
	static const struct zrec zone[] = {
		TXT("ten.example", "v=spf1 a:h1.example a:h2.example a:h3.example a:h4.example "
				   "a:h5.example a:h6.example a:h7.example a:h8.example "
				   "a:h9.example include:last.example -all"),
		TXT("eleven.example", "v=spf1 a:h1.example a:h2.example a:h3.example a:h4.example "
				      "a:h5.example a:h6.example a:h7.example a:h8.example "
				      "a:h9.example a:h10.example include:last.example -all"),
		TXT("last.example", "v=spf1 ip4:192.0.2.1"),
		A("h1.example", "10.0.0.1"), A("h2.example", "10.0.0.2"), A("h3.example", "10.0.0.3"),
		A("h4.example", "10.0.0.4"), A("h5.example", "10.0.0.5"), A("h6.example", "10.0.0.6"),
		A("h7.example", "10.0.0.7"), A("h8.example", "10.0.0.8"), A("h9.example", "10.0.0.9"),
		A("h10.example", "10.0.0.10"),
		END,
	};
	/* the include is the 10th DNS term: allowed, and it matches */
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@ten.example").result, SPF_PASS);
	/* one more a: before it makes the include the 11th */
	struct outcome o = run(zone, "192.0.2.1", "h", "a@eleven.example");
	CHECK_EQ_INT(o.result, SPF_PERMERROR);
	CHECK(o.queries <= 11);
}

TEST(spf_eval_void_lookups)
{
	static const struct zrec zone[] = {
		TXT("two.example", "v=spf1 exists:n1.example a:n2.example -all"),
		TXT("three.example", "v=spf1 exists:n1.example a:n2.example mx:n3.example -all"),
		END,
	};
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@two.example").result, SPF_FAIL);
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@three.example").result, SPF_PERMERROR);
}

TEST(spf_eval_tempfail_is_temperror)
{
	static const struct zrec zone[] = {
		TXT("down.example", "TEMPFAIL"),
		TXT("a.example", "v=spf1 a:slow.example -all"),
		A("slow.example", "TEMPFAIL"),
		TXT("inc.example", "v=spf1 include:down.example -all"),
		TXT("mx.example", "v=spf1 mx -all"),
		MX("mx.example", "m1.example"),
		A("m1.example", "TEMPFAIL"),
		/* a PTR error makes ptr not match (5.5), it is no temperror */
		TXT("ptr.example", "v=spf1 ptr -all"),
		PTR("1.2.0.192.in-addr.arpa", "TEMPFAIL"),
		/* an exp= that times out leaves the fail without explanation (6.2) */
		TXT("exp.example", "v=spf1 -all exp=why.example"),
		TXT("why.example", "TEMPFAIL"),
		END,
	};
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@down.example").result, SPF_TEMPERROR);
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@a.example").result, SPF_TEMPERROR);
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@inc.example").result, SPF_TEMPERROR);
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@mx.example").result, SPF_TEMPERROR);
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@ptr.example").result, SPF_FAIL);
	struct outcome o = run(zone, "192.0.2.1", "h", "a@exp.example");
	CHECK_EQ_INT(o.result, SPF_FAIL);
	CHECK_EQ_STR(o.exp, "");
}

TEST(spf_eval_ipv6)
{
	static const struct zrec zone[] = {
		TXT("v6.example", "v=spf1 ip6:2001:db8:1::/48 a/24//64 -all"),
		AAAA("v6.example", "2001:db8:2:3::1"),
		A("v6.example", "192.0.2.200"),
		TXT("v4.example", "v=spf1 ip4:192.0.2.0/24 -all"),
		END,
	};
	CHECK_EQ_INT(run(zone, "2001:db8:1:ffff::5", "h", "a@v6.example").result, SPF_PASS);
	struct outcome o = run(zone, "2001:db8:2:3:aaaa::9", "h", "a@v6.example");
	CHECK_EQ_INT(o.result, SPF_PASS);
	CHECK_EQ_STR(o.mech, "a/24//64");
	CHECK_EQ_INT(run(zone, "2001:db8:2:4::1", "h", "a@v6.example").result, SPF_FAIL);
	/* the IPv4 CIDR applies to IPv4 clients only */
	CHECK_EQ_INT(run(zone, "192.0.2.7", "h", "a@v6.example").result, SPF_PASS);
	/* an IPv4-mapped address is the IPv4 client */
	CHECK_EQ_INT(run(zone, "::ffff:192.0.2.7", "h", "a@v4.example").result, SPF_PASS);
	CHECK_EQ_INT(run(zone, "2001:db8::1", "h", "a@v4.example").result, SPF_FAIL);
}

TEST(spf_eval_mx_limit_and_explanation)
{
	static const struct zrec zone[] = {
		TXT("many.example", "v=spf1 mx -all"),
		MX("many.example", "m1.example"), MX("many.example", "m2.example"),
		MX("many.example", "m3.example"), MX("many.example", "m4.example"),
		MX("many.example", "m5.example"), MX("many.example", "m6.example"),
		MX("many.example", "m7.example"), MX("many.example", "m8.example"),
		MX("many.example", "m9.example"), MX("many.example", "m10.example"),
		MX("many.example", "m11.example"),
		/* the hosts exist, so the void-lookup limit is not what stops the check */
		A("m1.example", "10.0.0.1"), A("m2.example", "10.0.0.2"), A("m3.example", "10.0.0.3"),
		A("m4.example", "10.0.0.4"), A("m5.example", "10.0.0.5"), A("m6.example", "10.0.0.6"),
		A("m7.example", "10.0.0.7"), A("m8.example", "10.0.0.8"), A("m9.example", "10.0.0.9"),
		A("m10.example", "10.0.0.10"), A("m11.example", "10.0.0.11"),
		TXT("ten.example", "v=spf1 -mx:tenmx.example"),
		MX("tenmx.example", "m1.example"), MX("tenmx.example", "m2.example"),
		MX("tenmx.example", "m3.example"), MX("tenmx.example", "m4.example"),
		MX("tenmx.example", "m5.example"), MX("tenmx.example", "m6.example"),
		MX("tenmx.example", "m7.example"), MX("tenmx.example", "m8.example"),
		MX("tenmx.example", "m9.example"), MX("tenmx.example", "m10.example"),
		TXT("exp.example", "v=spf1 -all exp=why.%{d}"),
		TXT("why.exp.example", "%{l} at %{c} (%{ir}.%{v}) is not allowed for %{o}"),
		TXT("redir.example", "v=spf1 redirect=exp.example exp=ignored.example"),
		END,
	};
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@many.example").result, SPF_PERMERROR);
	CHECK_EQ_INT(run(zone, "10.0.0.10", "h", "a@many.example").result, SPF_PERMERROR);
	/* ten names are allowed */
	struct outcome t = run(zone, "10.0.0.10", "h", "a@ten.example");
	CHECK_EQ_INT(t.result, SPF_FAIL);
	CHECK_EQ_STR(t.mech, "-mx:tenmx.example");
	struct outcome o = run(zone, "192.0.2.1", "h", "bob@exp.example");
	CHECK_EQ_INT(o.result, SPF_FAIL);
	CHECK_EQ_STR(o.exp, "bob at 192.0.2.1 (1.2.0.192.in-addr) is not allowed for exp.example");
	/* after redirect the target's exp= applies, with %{d} the target */
	o = run(zone, "192.0.2.1", "h", "bob@redir.example");
	CHECK_EQ_INT(o.result, SPF_FAIL);
	CHECK_EQ_STR(o.exp, "bob at 192.0.2.1 (1.2.0.192.in-addr) is not allowed for redir.example");
}

TEST(spf_eval_ptr_and_p_macro)
{
	static const struct zrec zone[] = {
		TXT("ptr.example", "v=spf1 ptr -all"),
		TXT("p.example", "v=spf1 exists:%{p}.ok.example -all"),
		PTR("1.2.0.192.in-addr.arpa", "fake.other.example"),
		PTR("1.2.0.192.in-addr.arpa", "mail.ptr.example"),
		A("mail.ptr.example", "192.0.2.1"),
		A("fake.other.example", "10.9.9.9"),
		A("mail.ptr.example.ok.example", "127.0.0.2"),
		END,
	};
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@ptr.example").result, SPF_PASS);
	CHECK_EQ_INT(run(zone, "192.0.2.2", "h", "a@ptr.example").result, SPF_FAIL);
	CHECK_EQ_INT(run(zone, "192.0.2.1", "h", "a@p.example").result, SPF_PASS);
}
