/* DKIM key store: the From domain that picks the signing keys, zone-file strings, name
 * checks, and a key pair made on disk that signs through the keyring (what the server does). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_keys.h"
#include "test.h"

static bool from(const char *v, const char *want)
{
	char out[256];
	bool ok = dkim_from_domain(v, strlen(v), out, sizeof out);
	if (!want)
		return !ok;
	return ok && strcmp(out, want) == 0;
}

TEST(dkim_keys_from_domain)
{
	CHECK(from(" Alice <alice@Example.COM>", "example.com"));
	CHECK(from(" alice@example.com", "example.com"));
	CHECK(from(" alice@example.com (Alice)", "example.com"));
	CHECK(from(" \"Bob@evil.test, <x@evil.test>\" <bob@good.test>", "good.test"));
	CHECK(from(" a@first.test, b@second.test", "first.test"));
	CHECK(from(" \"a@b\"@quoted.test", "quoted.test"));
	CHECK(from(" <alice@example.com.>", "example.com"));
	CHECK(from(" undisclosed-recipients:;", NULL));
	CHECK(from(" <alice@>", NULL));
	CHECK(from(" Alice <alice@example.com", NULL));
	CHECK(from("", NULL));
}

TEST(dkim_keys_record_strings)
{
	struct buf out = BUF_INIT;
	dkim_record_strings("v=DKIM1; p=abc", 14, " ", &out);
	CHECK_EQ_STR(out.data, "\"v=DKIM1; p=abc\"");
	buf_reset(&out);
	char big[600];
	memset(big, 'A', sizeof big);
	dkim_record_strings(big, sizeof big, " ", &out);
	/* 255 + 255 + 90, each quoted, joined by one space */
	CHECK_EQ_INT(out.len, 600 + 6 + 2);
	CHECK(out.data[256] == '"' && out.data[257] == ' ' && out.data[258] == '"');
	buf_free(&out);
}

TEST(dkim_keys_names)
{
	CHECK(dkim_domain_name_ok("example.com"));
	CHECK(!dkim_domain_name_ok("Example.com"));
	CHECK(!dkim_domain_name_ok("../etc"));
	CHECK(!dkim_domain_name_ok("a/b"));
	CHECK(!dkim_domain_name_ok(".hidden"));
	CHECK(dkim_selector_ok("y2026a-rsa"));
	CHECK(!dkim_selector_ok("../x"));
	CHECK(!dkim_selector_ok("a/b"));
	CHECK(!dkim_selector_ok(""));
}

TEST(dkim_keys_generate_and_sign)
{
	char dir[] = "/tmp/yubin-dkimkeys-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char rsa[DKIM_SELECTOR_MAX], ed[DKIM_SELECTOR_MAX];
	struct buf err = BUF_INIT;
	CHECK(dkim_keys_generate(dir, "example.com", 1780000000, rsa, ed, &err)); /* 2026 */
	CHECK_EQ_STR(rsa, "y2026a-rsa");
	CHECK_EQ_STR(ed, "y2026a-ed");
	char *sel[] = { rsa, ed };
	CHECK(dkim_keys_set_signing(dir, "example.com", sel, 2, &err));
	char *bad[] = { "y1999a-rsa" };
	CHECK(!dkim_keys_set_signing(dir, "example.com", bad, 1, &err));
	struct dkim_keyring *kr = dkim_keyring_load(dir, "example.com");
	CHECK_EQ_INT(dkim_keyring_domains(kr), 1);
	const char msg[] = "From: A <a@news.example.com>\r\nSubject: hi\r\n\r\nbody\r\n";
	struct buf out = BUF_INIT;
	const char *domain = NULL, *why = NULL;
	CHECK(dkim_keyring_sign(kr, msg, sizeof msg - 1, 1780000000, &out, &domain, &why));
	CHECK_EQ_STR(domain, "example.com");
	/* two fields, each verifying against the record the store prints */
	struct buf signed_msg = BUF_INIT;
	buf_append(&signed_msg, out.data, out.len);
	buf_append(&signed_msg, msg, sizeof msg - 1);
	struct dkim_verifier *v = dkim_verifier_new(signed_msg.data, signed_msg.len);
	CHECK_EQ_INT(dkim_verifier_key_count(v), 2);
	for (size_t i = 0; i < dkim_verifier_key_count(v); i++) {
		const char *name = dkim_verifier_key_name(v, i);
		char s[DKIM_SELECTOR_MAX];
		snprintf(s, sizeof s, "%.*s", (int)strcspn(name, "."), name);
		struct buf txt = BUF_INIT;
		const char *type;
		CHECK(dkim_keys_record(dir, "example.com", s, &txt, &type, &err));
		dkim_verifier_set_key(v, i, DKIM_DNS_FOUND, txt.data, txt.len);
		buf_free(&txt);
	}
	dkim_verifier_run(v, 1780000000);
	CHECK_EQ_INT(dkim_verifier_count(v), 2);
	for (size_t i = 0; i < dkim_verifier_count(v); i++)
		CHECK_EQ_INT(dkim_verifier_result(v, i)->result, DKIM_PASS);
	dkim_verifier_free(&v);
	/* foreign From: the fallback domain signs; no From at all: nothing */
	buf_reset(&out);
	const char foreign[] = "From: x@elsewhere.test\r\n\r\nb\r\n";
	CHECK(dkim_keyring_sign(kr, foreign, sizeof foreign - 1, 1780000000, &out, &domain, &why));
	CHECK_EQ_STR(domain, "example.com");
	buf_reset(&out);
	CHECK(!dkim_keyring_sign(kr, "Subject: x\r\n\r\n", 14, 1780000000, &out, &domain, &why));
	CHECK_EQ_INT(out.len, 0);
	/* retire refuses a selector in use; the next rotation is y2026b */
	CHECK(!dkim_keys_retire(dir, "example.com", rsa, &err));
	char rsa2[DKIM_SELECTOR_MAX], ed2[DKIM_SELECTOR_MAX];
	CHECK(dkim_keys_generate(dir, "example.com", 1780000000, rsa2, ed2, &err));
	CHECK_EQ_STR(rsa2, "y2026b-rsa");
	dkim_keyring_release(kr);
	buf_free(&out);
	buf_free(&signed_msg);
	buf_free(&err);
	struct buf rm = BUF_INIT;
	buf_printf(&rm, "rm -rf '%s'", dir);
	CHECK(system(rm.data) == 0);
	buf_free(&rm);
}
