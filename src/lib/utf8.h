/* UTF-8 helpers shared by every parser: strict decoding (no overlongs, surrogates or values
 * past U+10FFFF), validation and encoding into the shared buffer. */
#ifndef YUBIN_UTF8_H
#define YUBIN_UTF8_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* Decodes one sequence; returns its length, or 0 when it is invalid or cut off. */
size_t utf8_decode_one(const unsigned char *s, size_t len, uint32_t *cp);
bool utf8_valid(const void *s, size_t len);
void utf8_append(struct buf *out, uint32_t cp);

#endif
