/* The one growable byte buffer. Always NUL-terminated after len (not counted),
 * so text can be handed to C string functions; binary-safe otherwise. */
#ifndef YUBIN_BUF_H
#define YUBIN_BUF_H
#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_append_str(struct buf *b, const char *s);
void buf_append_char(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_reset(struct buf *b);
/* Frees the storage; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);
/* Takes the storage out of the buffer; the caller frees it. */
char *buf_steal(struct buf *b, size_t *len);
const char *buf_cstr(struct buf *b);

#endif
