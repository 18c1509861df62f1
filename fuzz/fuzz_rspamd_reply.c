/* libFuzzer target: rspamd's /checkv2 answer parser must never crash, must give a reason
 * for every refusal, and what it keeps must be bounded and clean. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spam/rspamd_reply.h"

static void check_clean(const char *s, int ascii_only)
{
	if (!s)
		return;
	if (strlen(s) > RSPAMD_REPLY_MAX_TEXT)
		abort();
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || (ascii_only && *p >= 0x80))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rspamd_result r;
	struct buf err = BUF_INIT;
	if (rspamd_reply_parse((const char *)data, size, &r, &err)) {
		if (r.nsymbols > RSPAMD_REPLY_MAX_SYMBOLS || r.nsymbols > r.symbols_total ||
		    r.nadd_headers > RSPAMD_REPLY_MAX_HEADERS ||
		    r.nremove_headers > RSPAMD_REPLY_MAX_HEADERS || r.action > RSPAMD_REJECT)
			abort();
		for (size_t i = 0; i < r.nsymbols; i++)
			check_clean(r.symbols[i].name, 1);
		for (size_t i = 0; i < r.nadd_headers; i++) {
			check_clean(r.add_headers[i].name, 1);
			check_clean(r.add_headers[i].value, 0);
		}
		check_clean(r.smtp_message, 1);
		check_clean(r.virus, 1);
		check_clean(r.subject, 0);
	} else if (err.len == 0) {
		abort();
	}
	rspamd_result_free(&r);
	buf_free(&err);
	return 0;
}
