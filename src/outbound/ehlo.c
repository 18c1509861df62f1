#include "outbound/ehlo.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool keyword_is(const char *word, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(word, name, len) == 0;
}

static void ehlo_keyword(const char *line, size_t len, struct ehlo_ext *out)
{
	size_t n = 0;
	while (n < len && line[n] != ' ' && line[n] != '=')
		n++;
	if (keyword_is(line, n, "STARTTLS"))
		out->starttls = true;
	else if (keyword_is(line, n, "8BITMIME"))
		out->eightbitmime = true;
	else if (keyword_is(line, n, "SMTPUTF8"))
		out->smtputf8 = true;
	else if (keyword_is(line, n, "PIPELINING"))
		out->pipelining = true;
	else if (keyword_is(line, n, "AUTH"))
		out->auth = true;
	else if (keyword_is(line, n, "SIZE") && n < len) {
		/* Bounded copy: the number is parsed from our own NUL-terminated buffer. */
		char num[24];
		size_t m = len - n - 1 < sizeof num - 1 ? len - n - 1 : sizeof num - 1;
		memcpy(num, line + n + 1, m);
		num[m] = '\0';
		long long v = strtoll(num, NULL, 10);
		out->size = v > 0 ? v : 0;
	}
}

void ehlo_parse(const char *lines, struct ehlo_ext *out)
{
	memset(out, 0, sizeof *out);
	const char *p = strchr(lines, '\n'); /* the greeting line names no extension */
	while (p) {
		p++;
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		ehlo_keyword(p, len, out);
		p = nl;
	}
}
