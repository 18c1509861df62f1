/* Authentication-Results: the field we write, and recognising fields that claim our name. */
#include "mailauth/authres.h"
#include "test.h"

/* Every line ends in CRLF, continuation lines start with a tab, no other control bytes. */
static bool well_formed(const struct buf *b, size_t max_line)
{
	size_t col = 0;
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];
		if (c == '\r') {
			if (i + 1 >= b->len || b->data[i + 1] != '\n')
				return false;
			i++;
			if (i + 1 < b->len && b->data[i + 1] != '\t')
				return false;
			if (col > max_line)
				return false;
			col = 0;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f || c == '\n')
			return false;
		col++;
	}
	return b->len >= 2 && b->data[b->len - 1] == '\n';
}

static struct dkim_outcome dk(enum dkim_result r, const char *d, const char *s, const char *why)
{
	struct dkim_outcome o = { .result = r, .alg = "rsa-sha256" };
	snprintf(o.domain, sizeof o.domain, "%s", d);
	snprintf(o.selector, sizeof o.selector, "%s", s);
	snprintf(o.reason, sizeof o.reason, "%s", why);
	return o;
}

TEST(authres_format_typical)
{
	struct authres_spf spf = { SPF_PASS, "alice@example.com", "mail.example.com",
				   "192.0.2.1 is allowed by example.com" };
	struct dkim_outcome d[2] = { dk(DKIM_PASS, "example.com", "sel", "signature verified"),
				     dk(DKIM_FAIL, "example.net", "s2", "body hash did not match") };
	struct dmarc_outcome m = { .result = DMARC_RESULT_PASS, .policy = DMARC_POLICY_REJECT,
				   .disposition = DMARC_POLICY_NONE, .policy_tag = "p",
				   .from_domain = "example.com" };
	struct buf b = BUF_INIT;
	authres_format(&b, "mx.example.org", &spf, 1, d, 2, 0, &m);
	CHECK_EQ_STR(buf_cstr(&b),
		     "Authentication-Results: mx.example.org;\r\n"
		     "\tspf=pass (192.0.2.1 is allowed by example.com)\r\n"
		     "\tsmtp.mailfrom=alice@example.com;\r\n"
		     "\tdkim=pass (signature verified) header.d=example.com header.s=sel\r\n"
		     "\theader.a=rsa-sha256;\r\n"
		     "\tdkim=fail (body hash did not match) header.d=example.net header.s=s2\r\n"
		     "\theader.a=rsa-sha256;\r\n"
		     "\tdmarc=pass (p=reject dis=none) header.from=example.com\r\n");
	CHECK(well_formed(&b, 78));
	CHECK(authres_is_ours(b.data + 23, b.len - 23, "MX.example.ORG"));
	buf_free(&b);
}

TEST(authres_format_edge)
{
	/* null MAIL FROM: smtp.helo; no signatures: dkim=none; dmarc fail through sp after pct */
	struct authres_spf spf = { SPF_NONE, "", "helo.example", NULL };
	struct dmarc_outcome m = { .result = DMARC_RESULT_FAIL, .policy = DMARC_POLICY_REJECT,
				   .disposition = DMARC_POLICY_QUARANTINE, .policy_tag = "sp",
				   .from_domain = "a.example.com" };
	struct buf b = BUF_INIT;
	authres_format(&b, "mx.example.org", &spf, 1, NULL, 0, 0, &m);
	CHECK_EQ_STR(buf_cstr(&b),
		     "Authentication-Results: mx.example.org;\r\n"
		     "\tspf=none smtp.helo=helo.example;\r\n"
		     "\tdkim=none (the message is not signed);\r\n"
		     "\tdmarc=fail (sp=reject dis=quarantine) header.from=a.example.com\r\n");
	buf_reset(&b);
	/* permerror: the reason, no header.from; not checked: policy */
	struct dmarc_outcome pe = { .result = DMARC_RESULT_PERMERROR, .policy_tag = "",
				    .reason = "the message has more than one From field" };
	struct dkim_outcome d = dk(DKIM_NOT_CHECKED, "example.com", "s", "");
	authres_format(&b, "mx.example.org", NULL, 0, &d, 1, 0, &pe);
	CHECK_EQ_STR(buf_cstr(&b),
		     "Authentication-Results: mx.example.org;\r\n"
		     "\tdkim=policy (not checked: too many signatures) header.d=example.com\r\n"
		     "\theader.s=s header.a=rsa-sha256;\r\n"
		     "\tdmarc=permerror (the message has more than one From field)\r\n");
	buf_free(&b);
}

TEST(authres_format_hostile)
{
	/* values from the message and DNS cannot break the field */
	struct authres_spf spf = { SPF_FAIL, "\"evil\r\nX-Injected: 1\"@example.com", "h",
				   "a (nested) \\ comment\r\nX-Injected: yes\x01\x7f \xff\xfe end" };
	struct dkim_outcome d = dk(DKIM_FAIL, "ex;ample.com\nX: y", "s s", "(((unbalanced");
	struct dmarc_outcome m = { .result = DMARC_RESULT_FAIL, .policy_tag = "p",
				   .from_domain = "例え.jp" };
	struct buf b = BUF_INIT;
	authres_format(&b, "mx.example.org", &spf, 1, &d, 1, 0, &m);
	CHECK(well_formed(&b, 998));
	CHECK(strstr(buf_cstr(&b), "\nX-") == NULL);
	CHECK(strstr(buf_cstr(&b), "smtp.mailfrom=\"\\\"evil X-Injected: 1\\\"@example.com\"") !=
	      NULL);
	CHECK(strstr(buf_cstr(&b), "(a \\(nested\\) \\\\ comment") != NULL);
	CHECK(strstr(buf_cstr(&b), "?? end)") != NULL);
	CHECK(strstr(buf_cstr(&b), "header.d=\"ex;ample.com X: y\"") != NULL);
	CHECK(strstr(buf_cstr(&b), "header.s=\"s s\"") != NULL);
	CHECK(strstr(buf_cstr(&b), "(\\(\\(\\(unbalanced)") != NULL);
	CHECK(strstr(buf_cstr(&b), "header.from=\"例え.jp\"") != NULL);
	buf_reset(&b);
	/* a very long reason folds between words and is cut */
	char reason[2000];
	for (size_t i = 0; i < sizeof reason - 1; i++)
		reason[i] = i % 7 == 6 ? ' ' : 'x';
	reason[sizeof reason - 1] = '\0';
	spf.reason = reason;
	spf.mailfrom = "a@example.com";
	authres_format(&b, "mx.example.org", &spf, 1, NULL, 0, 0, NULL);
	CHECK(well_formed(&b, 78));
	CHECK(b.len < 600);
	buf_free(&b);
}

TEST(authres_is_ours_cases)
{
	static const struct {
		const char *value;
		bool ours;
	} rows[] = {
		{ " mx.example.org; spf=pass smtp.mailfrom=a@b", true },
		{ "mx.example.org", true },
		{ " MX.Example.Org 1; none", true },
		{ "\r\n\t(comment (nested) \\) ) mx.example.org;dkim=pass", true },
		{ " \"mx.example.org\"; dkim=pass", true },
		{ " \"mx.ex\\ample.org\"; dkim=pass", true },
		{ " mx.example.org(c); dkim=pass", true },
		{ " mx.example.org/1; dkim=pass", true },
		{ " mx.example.org.evil.example; dkim=pass", false },
		{ " evil.example; mx.example.org", false },
		{ " mx.example.or; x", false },
		{ " mx.example.orgx; x", false },
		{ "", false },
		{ " (unclosed mx.example.org; x", false },
		{ " \"mx.example.org; x", false },
		{ " ; mx.example.org", false },
	};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
		if (authres_is_ours(rows[i].value, strlen(rows[i].value), "mx.example.org") !=
		    rows[i].ours) {
			printf("  is_ours row %zu: %s\n", i, rows[i].value);
			test_failures_in_case++;
		}
	CHECK(!authres_is_ours("x", 1, ""));
	CHECK(!authres_is_ours(NULL, 0, "x"));
}

TEST(authres_format_both_spf_identities_and_a_bounded_dkim_list)
{
	struct authres_spf spf[2] = {
		{ SPF_PASS, "a@example.com", "mx.example.com", NULL },
		{ SPF_NONE, NULL, "mx.example.com", NULL },
	};
	struct dkim_outcome d[12];
	for (size_t i = 0; i < 12; i++)
		d[i] = dk(i < 10 ? DKIM_FAIL : DKIM_NOT_CHECKED, "example.com", "s", "x");
	struct buf b = BUF_INIT;
	authres_format(&b, "mx.example.org", spf, 2, d, 12, 5, NULL);
	const char *t = buf_cstr(&b);
	CHECK(strstr(t, "spf=pass smtp.mailfrom=a@example.com;") != NULL);
	CHECK(strstr(t, "spf=none smtp.helo=mx.example.com;") != NULL);
	size_t fails = 0;
	for (const char *p = t; (p = strstr(p, "dkim=fail")); p++)
		fails++;
	CHECK_EQ_INT(fails, 10);
	CHECK(strstr(t, "dkim=policy (7 more signatures not checked)") != NULL);
	CHECK(well_formed(&b, 78));
	buf_free(&b);
}
