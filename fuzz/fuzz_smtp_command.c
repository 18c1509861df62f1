/* libFuzzer target: the SMTP command parser must never crash or read out of bounds,
 * and the line reader must hand it only bounded lines. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/linereader.h"
#include "smtp/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct line_reader lr;
	line_reader_init(&lr, 512);
	const char *p = (const char *)data;
	size_t left = size;
	while (left > 0) {
		size_t consumed, len;
		enum line_status st = line_reader_next(&lr, p, left, &consumed, &len);
		if (st == LINE_OK) {
			/* Copy so reads past the line are caught by ASan. */
			size_t n = line_strip_eol(p, len);
			char *line = malloc(n ? n : 1);
			memcpy(line, p, n);
			struct smtp_command cmd;
			struct smtp_error err;
			if (!smtp_parse_command(line, n, &cmd, &err) && (err.code < 500 || !err.text))
				abort();
			free(line);
		}
		if (consumed == 0)
			break;
		p += consumed;
		left -= consumed;
	}
	return 0;
}
