/* libFuzzer target: the POP3 command parser, SASL PLAIN decoding and message formatting. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"
#include "pop3/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size ? size : 1);
	memcpy(line, data, size);
	struct pop3_command cmd;
	const char *err = NULL;
	if (!pop3_parse_command(line, size, &cmd, &err) && !err)
		abort();
	struct sasl_plain p;
	sasl_plain_decode(line, size, &p, &err);
	struct buf out = BUF_INIT;
	pop3_format_message(line, size, size ? data[0] % 4 : -1, &out);
	/* The output always ends with the terminator and never holds a lone "." line early. */
	if (out.len < 3 || memcmp(out.data + out.len - 3, ".\r\n", 3) != 0)
		abort();
	buf_free(&out);
	free(line);
	return 0;
}
