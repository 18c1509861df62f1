/* Helpers shared by the files of src/mime; not part of the API (mime.h is). */
#ifndef YUBIN_MIME_INTERNAL_H
#define YUBIN_MIME_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "mime/mime.h"

/* One arena per parsed message (lib/arena.h): parts and strings are freed together. Its
 * allocations are zeroed (arena_zalloc). */
#define MIME_ARENA_CHUNK 8192

/* ASCII case-insensitive equality of s[0..len) with the NUL-terminated word. */
bool mime_ascii_ieq(const char *s, size_t len, const char *word);
int mime_hex_value(int c);
bool mime_is_wsp(int c);

/* RFC 2045 token characters (printable ASCII except tspecials), plus 8-bit bytes for leniency. */
bool mime_is_token_char(int c);

/* The lexer of structured header values (RFC 5322 3.2): CFWS skipping with nested comments. */
struct mime_lexer {
	const char *s;
	size_t len, pos;
};
/* Skips whitespace and comments; if comment is not NULL the text of the last comment is
 * appended to it (after a reset), for "user@host (Real Name)". */
void mime_lex_skip_cfws(struct mime_lexer *lx, struct buf *comment);
/* Reads a quoted-string at pos (which must be '"'), appending its content unescaped. An
 * unterminated string runs to the end. */
void mime_lex_quoted(struct mime_lexer *lx, struct buf *out);

/* Parses "type/subtype; params" (Content-Type) or "value; params" (Content-Disposition, when
 * want_subtype is false) from an unfolded value. Parameters get RFC 2231 continuations joined.
 * False when the leading type is not valid (the caller then uses the defaults). */
bool mime_parse_content_field(struct arena *a, const char *v, size_t len, bool want_subtype,
			      const char **type, const char **subtype,
			      const struct mime_param **params, size_t *nparams,
			      size_t max_params);

/* Decodes an RFC 2231 extended value "charset'lang'%XX..." to UTF-8. */
void mime_rfc2231_decode(const char *v, size_t len, struct buf *out);

/* Appends an encoded text to UTF-8 with a strict flag: returns false if the bytes are not valid
 * in that charset (used to guess the charset of raw 8-bit header text). */
bool mime_charset_try(const char *charset, const char *in, size_t len, struct buf *out);

/* Appends the UTF-8 encoding of a code point. */
void mime_utf8_put(struct buf *out, unsigned cp);
/* Decodes one UTF-8 sequence at s (len > 0); returns its length, or 0 if invalid. */
size_t mime_utf8_get(const unsigned char *s, size_t len, unsigned *cp);

#endif
