/* libFuzzer target: authres_is_ours() takes any bytes; authres_format() given the input as
 * every value from outside writes a field with no line end but CRLF TAB folds, no control
 * bytes, that authres_is_ours() recognises. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/authres.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	authres_is_ours((const char *)data, size, "mx.example.org");
	if (size > 4096)
		return 0;
	char *s = strndup((const char *)data, size);
	struct authres_spf spf = { SPF_FAIL, size % 2 ? s : "", s, s };
	struct dkim_outcome d = { .result = DKIM_FAIL, .alg = "rsa-sha256" };
	strncpy(d.domain, s, sizeof d.domain - 1);
	strncpy(d.selector, s, sizeof d.selector - 1);
	strncpy(d.reason, s, sizeof d.reason - 1);
	struct dmarc_outcome m = { .result = DMARC_RESULT_PERMERROR, .policy_tag = "" };
	strncpy(m.from_domain, s, sizeof m.from_domain - 1);
	strncpy(m.reason, s, sizeof m.reason - 1);
	struct buf b = BUF_INIT;
	authres_format(&b, size % 3 ? s : "mx.example.org", &spf, 1, &d, 1, 0, &m);
	for (size_t i = 0; i < b.len; i++) {
		unsigned char c = (unsigned char)b.data[i];
		if (c == '\r') {
			if (i + 1 >= b.len || b.data[i + 1] != '\n')
				abort();
			i++;
			if (i + 1 < b.len && b.data[i + 1] != '\t')
				abort();
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			abort();
		}
	}
	if (size % 3 == 0) {
		size_t skip = strlen("Authentication-Results:");
		if (b.len < skip || !authres_is_ours(b.data + skip, b.len - skip, "mx.example.org"))
			abort();
	}
	buf_free(&b);
	free(s);
	return 0;
}
