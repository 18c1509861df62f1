/* The DMARC record parser (RFC 7489 6.3) and the choice among the TXT records at a name. */
#include <stdint.h>

#include "mailauth/dmarc.h"
#include "test.h"

static enum dmarc_record_rc parse(const char *s, struct dmarc_record *r)
{
	const char *why = NULL;
	enum dmarc_record_rc rc = dmarc_record_parse(s, strlen(s), r, &why);
	if (rc != DMARC_RECORD_OK)
		CHECK(why != NULL);
	return rc;
}

TEST(dmarc_record_full)
{
	struct dmarc_record r;
	CHECK_EQ_INT(parse("v=DMARC1; p=reject; sp=quarantine; np=reject; pct=30; adkim=s; "
			   "aspf=s; rua=mailto:agg@example.com!10m, mailto:b@example.org; "
			   "ruf=mailto:f@example.com!512; ri=3600; fo=1:d; rf=afrf; psd=n", &r),
		     DMARC_RECORD_OK);
	CHECK_EQ_INT(r.p, DMARC_POLICY_REJECT);
	CHECK_EQ_INT(r.sp, DMARC_POLICY_QUARANTINE);
	CHECK_EQ_INT(r.np, DMARC_POLICY_REJECT);
	CHECK_EQ_INT(r.pct, 30);
	CHECK_EQ_INT(r.adkim, DMARC_ALIGN_STRICT);
	CHECK_EQ_INT(r.aspf, DMARC_ALIGN_STRICT);
	CHECK_EQ_INT(r.nrua, 2);
	CHECK_EQ_STR(r.rua[0].uri, "mailto:agg@example.com");
	CHECK_EQ_INT(r.rua[0].max_size, 10u << 20);
	CHECK_EQ_STR(r.rua[1].uri, "mailto:b@example.org");
	CHECK_EQ_INT(r.rua[1].max_size, 0);
	CHECK_EQ_INT(r.nruf, 1);
	CHECK_EQ_INT(r.ruf[0].max_size, 512);
	CHECK_EQ_INT(r.ri, 3600);
	CHECK_EQ_INT(r.fo, DMARC_FO_1 | DMARC_FO_D);
	CHECK(r.rf_afrf);
	CHECK_EQ_INT(r.psd, DMARC_PSD_N);
	CHECK_EQ_INT(r.ignored, 0);
	CHECK(!r.p_from_rua);
}

TEST(dmarc_record_defaults_and_leniency)
{
	struct dmarc_record r;
	CHECK_EQ_INT(parse("v=DMARC1;p=none", &r), DMARC_RECORD_OK);
	CHECK_EQ_INT(r.p, DMARC_POLICY_NONE);
	CHECK_EQ_INT(r.sp, DMARC_POLICY_UNSET);
	CHECK_EQ_INT(r.np, DMARC_POLICY_UNSET);
	CHECK_EQ_INT(r.pct, 100);
	CHECK_EQ_INT(r.adkim, DMARC_ALIGN_RELAXED);
	CHECK_EQ_INT(r.ri, 86400);
	CHECK_EQ_INT(r.fo, DMARC_FO_0);
	/* spaces, case of tag names and values, a final ';', empty tags */
	CHECK_EQ_INT(parse("  v = DMARC1 ;  P = Reject ;; pct = 0 ;", &r), DMARC_RECORD_OK);
	CHECK_EQ_INT(r.p, DMARC_POLICY_REJECT);
	CHECK_EQ_INT(r.pct, 0);
	/* invalid values of other tags: the default, counted as ignored */
	CHECK_EQ_INT(parse("v=DMARC1; p=quarantine; pct=101; adkim=x; ri=-1; fo=2; np=maybe; "
			   "x-future=1; psd=q", &r), DMARC_RECORD_OK);
	CHECK_EQ_INT(r.p, DMARC_POLICY_QUARANTINE);
	CHECK_EQ_INT(r.pct, 100);
	CHECK_EQ_INT(r.adkim, DMARC_ALIGN_RELAXED);
	CHECK_EQ_INT(r.ri, 86400);
	CHECK_EQ_INT(r.fo, DMARC_FO_0);
	CHECK_EQ_INT(r.np, DMARC_POLICY_UNSET);
	CHECK_EQ_INT(r.psd, DMARC_PSD_UNSET);
	CHECK_EQ_INT(r.ignored, 7);
	/* a repeated tag: the first counts */
	CHECK_EQ_INT(parse("v=DMARC1; p=reject; p=none", &r), DMARC_RECORD_OK);
	CHECK_EQ_INT(r.p, DMARC_POLICY_REJECT);
	CHECK_EQ_INT(r.ignored, 1);
}

TEST(dmarc_record_version)
{
	struct dmarc_record r;
	static const char *const not_dmarc[] = {
		"", "v=spf1 -all", "p=reject; v=DMARC1", "v=dmarc1; p=reject", "v=DMARC1x; p=none",
		"v=DMARC2; p=none", "vv=DMARC1; p=none", "v DMARC1; p=none", "V=DMARC1; p=none",
	};
	for (size_t i = 0; i < sizeof not_dmarc / sizeof *not_dmarc; i++)
		CHECK_EQ_INT(parse(not_dmarc[i], &r), DMARC_RECORD_NOT_DMARC);
	CHECK_EQ_INT(parse("v=DMARC1", &r), DMARC_RECORD_INVALID); /* no p */
}

TEST(dmarc_record_p_missing_rua_rule)
{
	struct dmarc_record r;
	/* 6.6.3: no valid p but a valid rua: as if p=none */
	CHECK_EQ_INT(parse("v=DMARC1; rua=mailto:r@example.com", &r), DMARC_RECORD_OK);
	CHECK(r.p_from_rua);
	CHECK_EQ_INT(r.p, DMARC_POLICY_NONE);
	CHECK_EQ_INT(parse("v=DMARC1; p=bogus; sp=reject; rua=mailto:r@example.com", &r),
		     DMARC_RECORD_OK);
	CHECK(r.p_from_rua);
	CHECK_EQ_INT(r.p, DMARC_POLICY_NONE);
	CHECK_EQ_INT(r.sp, DMARC_POLICY_UNSET);
	/* an invalid sp with a valid p is handled the same way */
	CHECK_EQ_INT(parse("v=DMARC1; p=reject; sp=bogus; rua=https://example.com/r", &r),
		     DMARC_RECORD_OK);
	CHECK(r.p_from_rua);
	CHECK_EQ_INT(r.nrua, 0); /* https: valid, not kept */
	CHECK_EQ_INT(r.rua_dropped, 1);
	/* no valid URI: no DMARC processing */
	CHECK_EQ_INT(parse("v=DMARC1; p=bogus", &r), DMARC_RECORD_INVALID);
	CHECK_EQ_INT(parse("v=DMARC1; p=reject; sp=bogus", &r), DMARC_RECORD_INVALID);
	CHECK_EQ_INT(parse("v=DMARC1; rua=not a uri", &r), DMARC_RECORD_INVALID);
	CHECK_EQ_INT(parse("v=DMARC1; rua=mailto:x@example.com!12q", &r), DMARC_RECORD_INVALID);
}

TEST(dmarc_record_uris_bounded)
{
	struct dmarc_record r;
	char rec[4096] = "v=DMARC1; p=none; rua=";
	for (int i = 0; i < 20; i++)
		snprintf(rec + strlen(rec), sizeof rec - strlen(rec), "%smailto:r%d@example.com!%dk",
			 i ? "," : "", i, i + 1);
	CHECK_EQ_INT(parse(rec, &r), DMARC_RECORD_OK);
	CHECK_EQ_INT(r.nrua, DMARC_MAX_URIS);
	CHECK_EQ_INT(r.rua_dropped, 20 - DMARC_MAX_URIS);
	CHECK_EQ_STR(r.rua[7].uri, "mailto:r7@example.com");
	CHECK_EQ_INT(r.rua[7].max_size, 8 * 1024);
	/* sizes: units, and overflow is not a URI */
	CHECK_EQ_INT(parse("v=DMARC1; p=none; rua=mailto:a@b.example!1t,mailto:c@d.example!"
			   "99999999999999999999g", &r), DMARC_RECORD_OK);
	CHECK_EQ_INT(r.nrua, 1);
	CHECK_EQ_INT(r.rua[0].max_size, 1ull << 40);
	/* mailto without an address, over-long mailto: valid URIs, not kept */
	char longuri[600] = "v=DMARC1; p=none; ruf=mailto:";
	memset(longuri + strlen(longuri), 'a', 400);
	strcat(longuri, "@example.com, mailto:nobody");
	CHECK_EQ_INT(parse(longuri, &r), DMARC_RECORD_OK);
	CHECK_EQ_INT(r.nruf, 0);
	CHECK_EQ_INT(r.ruf_dropped, 2);
	/* too long a record */
	char big[DMARC_MAX_RECORD + 100] = "v=DMARC1; p=reject; x=";
	memset(big + strlen(big), 'x', DMARC_MAX_RECORD);
	big[sizeof big - 1] = '\0';
	CHECK_EQ_INT(parse(big, &r), DMARC_RECORD_INVALID);
}

TEST(dmarc_record_pick_rules)
{
	struct dmarc_record r;
	const char *why;
	const char *one[] = { "v=spf1 -all", "v=DMARC1; p=reject", "google-site-verification=x" };
	size_t lone[] = { strlen(one[0]), strlen(one[1]), strlen(one[2]) };
	CHECK_EQ_INT(dmarc_record_pick(one, lone, 3, &r, &why), DMARC_RECORD_OK);
	CHECK_EQ_INT(r.p, DMARC_POLICY_REJECT);
	const char *two[] = { "v=DMARC1; p=reject", "v=DMARC1; p=none" };
	size_t ltwo[] = { strlen(two[0]), strlen(two[1]) };
	CHECK_EQ_INT(dmarc_record_pick(two, ltwo, 2, &r, &why), DMARC_RECORD_MULTIPLE);
	CHECK(strstr(why, "more than one") != NULL);
	CHECK_EQ_INT(dmarc_record_pick(one, lone, 1, &r, &why), DMARC_RECORD_NOT_DMARC);
	CHECK_EQ_INT(dmarc_record_pick(NULL, NULL, 0, &r, &why), DMARC_RECORD_NOT_DMARC);
	const char *bad[] = { "v=DMARC1; p=maybe" };
	size_t lbad[] = { strlen(bad[0]) };
	CHECK_EQ_INT(dmarc_record_pick(bad, lbad, 1, &r, &why), DMARC_RECORD_INVALID);
}
