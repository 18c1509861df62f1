/* libFuzzer target: DATA dot-unstuffing and end detection. Checks an invariant too: the
 * output never holds more than the input and never exceeds the size limit. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "smtp/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_data_reader r;
	struct buf out = BUF_INIT;
	smtp_data_reader_init(&r, 4096, 200, 1000);
	size_t pos = 0;
	/* Feed in uneven pieces to exercise state carried across calls. */
	size_t step = size ? (data[0] % 7) + 1 : 1;
	while (pos < size) {
		size_t n = size - pos < step ? size - pos : step, consumed;
		enum smtp_data_status st = smtp_data_feed(&r, (const char *)data + pos, n, &consumed, &out);
		if (consumed > n)
			abort();
		pos += consumed;
		if (st != SMTP_DATA_MORE)
			break;
	}
	if (out.len > size || out.len > 4096)
		abort();
	buf_free(&out);
	return 0;
}
