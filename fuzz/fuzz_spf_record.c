/* libFuzzer target: the SPF record parser and macro expander must never crash, must keep
 * every parsed value in range and every expansion under SPF_MACRO_MAX_OUT; and the
 * evaluator, with the input as every TXT answer (so include and redirect recurse into it),
 * must finish within SPF_MAX_QUERIES queries with a valid result. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/spf.h"

static const struct spf_macro_env env = {
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

static void evaluate(const char *txt, size_t len, const char *ip)
{
	struct spf_check *c = spf_check_start(ip, "helo.example.org", "a@example.com", NULL, 1);
	if (!c)
		abort();
	static const unsigned char v4[4] = { 192, 0, 2, 3 };
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct spf_query q;
	size_t asked = 0;
	while (spf_check_next(c, &q)) {
		if (++asked > SPF_MAX_QUERIES + 1 || !q.name)
			abort();
		struct spf_rr rr = { txt, len };
		struct spf_answer a = { SPF_DNS_OK, &rr, 1 };
		switch (q.type) {
		case SPF_QTXT:
			break;
		case SPF_QA:
			rr.data = (const char *)v4, rr.len = 4;
			break;
		case SPF_QAAAA:
			rr.data = (const char *)v6, rr.len = 16;
			break;
		case SPF_QMX:
		case SPF_QPTR:
			/* the name asked, one label shorter: answers that lead somewhere */
			rr.data = strchr(q.name, '.') ? strchr(q.name, '.') + 1 : "example.com";
			rr.len = strlen(rr.data);
			break;
		}
		/* some names time out or do not exist, to reach the error paths */
		if (strncmp(q.name, "t", 1) == 0)
			a.status = SPF_DNS_TEMPFAIL;
		else if (strncmp(q.name, "n", 1) == 0)
			a.status = SPF_DNS_NXDOMAIN;
		spf_check_answer(c, &a);
	}
	if (spf_check_result(c) > SPF_PERMERROR)
		abort();
	spf_check_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *txt = (const char *)data;
	struct spf_record r;
	const char *why = NULL;
	if (spf_record_parse(txt, size, &r, &why) == 0) {
		for (size_t i = 0; i < r.nterms; i++) {
			const struct spf_term *t = &r.terms[i];
			if (t->cidr4 < 0 || t->cidr4 > 32 || t->cidr6 < 0 || t->cidr6 > 128 || !t->text)
				abort();
			if (t->domain_spec && !spf_domain_spec_valid(t->domain_spec, strlen(t->domain_spec)))
				abort();
		}
		spf_record_free(&r);
	} else if (!why) {
		abort();
	}
	for (int exp = 0; exp < 2; exp++) {
		struct buf out = BUF_INIT;
		spf_macro_expand(txt, size, exp, &env, &out);
		if (out.len > SPF_MACRO_MAX_OUT + 64)
			abort();
		buf_free(&out);
	}
	spf_domain_spec_valid(txt, size);
	if (size < 4096 && !memchr(data, 0, size)) {
		evaluate(txt, size, "192.0.2.3");
		evaluate(txt, size, "2001:db8::1");
	}
	return 0;
}
