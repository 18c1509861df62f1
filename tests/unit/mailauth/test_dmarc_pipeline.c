/* The end of DATA as the lead will wire it, with no DNS: sign a message with dkim_sign(),
 * verify it with dkim.h, find the From domain, evaluate DMARC against a lookup filled from a
 * table, write Authentication-Results, and spot a forged field that claims our name. */
#include <openssl/evp.h>

#include "mailauth/authres.h"
#include "mime/mime.h"
#include "test.h"

#define NOW 1796000000

static const char *msg = "Authentication-Results: MX.example.net; dmarc=pass header.from=a.test\r\n"
			 "Authentication-Results: other.example; spf=pass\r\n"
			 "From: Ann <ann@example.org>\r\n"
			 "To: bob@example.net\r\n"
			 "Subject: lunch\r\n"
			 "\r\n"
			 "Noon?\r\n";

static void key_record(EVP_PKEY *k, struct buf *out)
{
	unsigned char raw[64];
	size_t n = sizeof raw;
	EVP_PKEY_get_raw_public_key(k, raw, &n);
	unsigned char b64[128];
	EVP_EncodeBlock(b64, raw, (int)n);
	buf_printf(out, "v=DKIM1; k=ed25519; p=%s", b64);
}

/* DKIM over msg signed for d=mail.example.org, then DMARC with the record given. */
static void run(const char *record, struct dmarc_outcome *o, struct buf *ar)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_PKEY *k = NULL;
	EVP_PKEY_keygen_init(c);
	EVP_PKEY_keygen(c, &k);
	EVP_PKEY_CTX_free(c);
	struct buf m = BUF_INIT, rec = BUF_INIT;
	const char *why = NULL;
	CHECK(dkim_sign(msg, strlen(msg), "mail.example.org", "sel", k, NOW, &m, &why));
	buf_append_str(&m, msg);
	key_record(k, &rec);
	struct dkim_verifier *v = dkim_verifier_new(m.data, m.len);
	CHECK_EQ_INT(dkim_verifier_key_count(v), 1);
	dkim_verifier_set_key(v, 0, DKIM_DNS_FOUND, rec.data, rec.len);
	dkim_verifier_run(v, NOW);
	struct dkim_outcome outs[DKIM_MAX_REPORTED];
	size_t n = dkim_verifier_count(v);
	for (size_t i = 0; i < n; i++)
		outs[i] = *dkim_verifier_result(v, i);

	char from[DMARC_DOMAIN_MAX];
	CHECK_EQ_INT(dmarc_from_domain(m.data, m.len, from, sizeof from, &why), DMARC_FROM_OK);
	CHECK_EQ_STR(from, "example.org");
	struct dmarc_policy_lookup pl = { .found = DMARC_FOUND_FROM, .policy_domain = "example.org" };
	CHECK_EQ_INT(dmarc_record_parse(record, strlen(record), &pl.record, &why), DMARC_RECORD_OK);
	struct dmarc_input in = { .from_domain = from, .policy = &pl, .spf = SPF_SOFTFAIL,
				  .spf_domain = "bounces.example.com", .dkim = outs, .ndkim = n,
				  .random = 0 };
	dmarc_evaluate(&in, o);
	struct authres_spf spf = { SPF_SOFTFAIL, "x@bounces.example.com", "h.example.com",
				   "192.0.2.9 is not one of bounces.example.com's servers" };
	authres_format(ar, "mx.example.net", &spf, 1, outs, n, 0, o);

	/* the forged field claiming our name is found; the other is left alone */
	struct mime_header_iter it;
	struct mime_field f;
	int ours = 0, theirs = 0;
	mime_header_iter_init(&it, m.data, m.len, 0);
	while (mime_header_next(&it, &f))
		if (f.name_len == 22 && strncasecmp(f.name, "Authentication-Results", 22) == 0) {
			if (authres_is_ours(f.value, f.value_len, "mx.example.net"))
				ours++;
			else
				theirs++;
		}
	CHECK_EQ_INT(ours, 1);
	CHECK_EQ_INT(theirs, 1);
	dkim_verifier_free(&v);
	EVP_PKEY_free(k);
	buf_free(&m);
	buf_free(&rec);
}

TEST(dmarc_pipeline_relaxed_pass_strict_fail)
{
	struct dmarc_outcome o;
	struct buf ar = BUF_INIT;
	run("v=DMARC1; p=reject", &o, &ar);
	CHECK_EQ_INT(o.result, DMARC_RESULT_PASS);
	CHECK(o.dkim_aligned && !o.spf_aligned);
	CHECK_EQ_STR(o.dkim_domain, "mail.example.org");
	CHECK(strstr(buf_cstr(&ar), "dkim=pass (signature verified) header.d=mail.example.org") !=
	      NULL);
	CHECK(strstr(buf_cstr(&ar), "dmarc=pass (p=reject dis=none) header.from=example.org\r\n"));
	buf_reset(&ar);
	run("v=DMARC1; p=reject; adkim=s", &o, &ar);
	CHECK_EQ_INT(o.result, DMARC_RESULT_FAIL);
	CHECK_EQ_INT(o.disposition, DMARC_POLICY_REJECT);
	CHECK(strstr(buf_cstr(&ar), "dmarc=fail (p=reject dis=reject) header.from=example.org"));
	buf_free(&ar);
}
