/* libFuzzer target: the parser of rspamd's /stat answer must never crash, and must refuse
 * with a reason or give numbers that are -1 or not negative. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "spam/rspamd_probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rspamd_stat st;
	struct buf err = BUF_INIT;
	if (rspamd_stat_parse((const char *)data, size, &st, &err)) {
		const long long *v = &st.scanned;
		for (size_t i = 0; i < sizeof st / sizeof st.scanned; i++)
			if (v[i] < -1)
				abort();
	} else if (!err.len) {
		abort();
	}
	buf_free(&err);
	return 0;
}
