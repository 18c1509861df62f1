/* The one bounded line reader, shared by every protocol. Pure: it looks at bytes the
 * caller already holds and says how many to consume; it never reads a socket.
 * An over-long line is reported once (LINE_TOO_LONG) and then skipped up to and
 * including its line feed, without ever buffering more than `max` bytes. */
#ifndef YUBIN_LINEREADER_H
#define YUBIN_LINEREADER_H
#include <stdbool.h>
#include <stddef.h>

enum line_status {
	LINE_NEED_MORE, /* consume *consumed bytes; if that was 0, wait for more input, else call again */
	LINE_OK,        /* a line of *line_len bytes (LF included) starts at data */
	LINE_TOO_LONG,  /* the line exceeds max: answer once; its rest will be skipped */
};

struct line_reader {
	size_t max;    /* longest acceptable line, LF included */
	bool skipping; /* inside the tail of an over-long line */
};

void line_reader_init(struct line_reader *lr, size_t max);
enum line_status line_reader_next(struct line_reader *lr, const char *data, size_t len,
				  size_t *consumed, size_t *line_len);
/* Length of the line without its CRLF or LF. */
size_t line_strip_eol(const char *line, size_t len);

#endif
