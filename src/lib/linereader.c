#include "lib/linereader.h"

#include <string.h>

void line_reader_init(struct line_reader *lr, size_t max)
{
	lr->max = max;
	lr->skipping = false;
}

enum line_status line_reader_next(struct line_reader *lr, const char *data, size_t len,
				  size_t *consumed, size_t *line_len)
{
	*line_len = 0;
	if (lr->skipping) {
		const char *lf = memchr(data, '\n', len);
		if (!lf) {
			*consumed = len;
			return LINE_NEED_MORE;
		}
		/* The tail is gone; the caller calls again for the next line. */
		lr->skipping = false;
		*consumed = (size_t)(lf - data) + 1;
		return LINE_NEED_MORE;
	}
	size_t window = len < lr->max ? len : lr->max;
	const char *lf = memchr(data, '\n', window);
	if (lf) {
		*consumed = *line_len = (size_t)(lf - data) + 1;
		return LINE_OK;
	}
	if (len < lr->max) {
		*consumed = 0;
		return LINE_NEED_MORE;
	}
	/* max bytes without a line feed: too long. Drop them and skip the rest. */
	lr->skipping = true;
	*consumed = lr->max;
	return LINE_TOO_LONG;
}

size_t line_strip_eol(const char *line, size_t len)
{
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	return len;
}
