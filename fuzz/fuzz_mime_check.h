/* Shared by the fuzz_mime_* targets: a small reader of IMAP parenthesised lists, to check that
 * what the MIME layer renders is something an IMAP client can parse. */
#ifndef YUBIN_FUZZ_MIME_CHECK_H
#define YUBIN_FUZZ_MIME_CHECK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

/* Reads an IMAP parenthesised list (strings, literals, NIL, numbers, nested lists) at s[*i];
 * false if the syntax is broken. A client's parser must be able to read what we send. */
static inline bool imap_list_ok(const char *s, size_t len, size_t *i, int depth)
{
	if (depth > 5000 || *i >= len || s[*i] != '(')
		return false;
	(*i)++;
	bool first = true;
	while (*i < len && s[*i] != ')') {
		if (!first) {
			if (s[*i] != ' ')
				return false;
			(*i)++;
		}
		first = false;
		if (*i >= len)
			return false;
		char c = s[*i];
		if (c == '(') {
			if (!imap_list_ok(s, len, i, depth + 1))
				return false;
			/* Body parts of a multipart follow each other without a space. */
			while (*i < len && s[*i] == '(')
				if (!imap_list_ok(s, len, i, depth + 1))
					return false;
		} else if (c == '"') {
			(*i)++;
			while (*i < len && s[*i] != '"') {
				if (s[*i] == '\\')
					(*i)++;
				else if (s[*i] == '\r' || s[*i] == '\n' || s[*i] == '\0')
					return false;
				(*i)++;
			}
			if (*i >= len)
				return false;
			(*i)++;
		} else if (c == '{') {
			size_t n = 0;
			(*i)++;
			while (*i < len && s[*i] >= '0' && s[*i] <= '9')
				n = n * 10 + (size_t)(s[(*i)++] - '0');
			if (*i + 3 > len || memcmp(s + *i, "}\r\n", 3) != 0 || n > len - *i - 3)
				return false;
			*i += 3 + n;
		} else if (c >= '0' && c <= '9') {
			while (*i < len && s[*i] >= '0' && s[*i] <= '9')
				(*i)++;
		} else if (len - *i >= 3 && memcmp(s + *i, "NIL", 3) == 0) {
			*i += 3;
		} else {
			return false;
		}
	}
	if (*i >= len)
		return false;
	(*i)++;
	return true;
}

static inline void check_imap(const struct buf *b)
{
	size_t i = 0;
	if (!imap_list_ok(b->data, b->len, &i, 0) || i != b->len)
		abort();
}

#endif
