/* libFuzzer target: the DKIM-Signature tag-list parser must never crash, must give a reason for
 * every refusal, and what it accepts must be consistent (required tags there, From in h=, b=
 * offsets inside the input, h= bounded). The whole input is also run through the verifier as
 * the value of a DKIM-Signature field, with a fixed key answer, to reach canonicalization. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "mailauth/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct dkim_signature sig;
	const char *why = NULL;
	if (dkim_signature_parse(s, size, &sig, &why)) {
		bool from = false;
		for (size_t i = 0; i < sig.h_count; i++)
			if (strcasecmp(sig.h[i], "from") == 0)
				from = true;
		if (!sig.d || !sig.s || !sig.i || !sig.b || !sig.bh || !from ||
		    sig.h_count > DKIM_MAX_H || sig.b_value_start > sig.b_value_end ||
		    sig.b_value_end > size)
			abort();
		dkim_signature_free(&sig);
	} else if (!why) {
		abort();
	}

	struct buf msg = BUF_INIT;
	buf_append_str(&msg, "DKIM-Signature:");
	buf_append(&msg, data, size);
	buf_append_str(&msg, "\r\nFrom: a@example.org\r\nSubject: x\r\n\r\nbody \t \r\n\r\n");
	struct dkim_verifier *v = dkim_verifier_new(msg.data, msg.len);
	for (size_t i = 0; i < dkim_verifier_key_count(v); i++) {
		static const char key[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
		dkim_verifier_set_key(v, i, DKIM_DNS_FOUND, key, sizeof key - 1);
	}
	dkim_verifier_run(v, 1700000000);
	for (size_t i = 0; i < dkim_verifier_count(v); i++) {
		const struct dkim_outcome *o = dkim_verifier_result(v, i);
		if (!o->reason[0] || !o->alg)
			abort();
	}
	dkim_verifier_free(&v);
	buf_free(&msg);
	return 0;
}
