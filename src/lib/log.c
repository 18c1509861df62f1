#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"

static enum log_level min_level = LOG_INFO;
static const char *level_names[] = { "debug", "info", "warn", "error", "fatal" };

void log_set_level(enum log_level level)
{
	min_level = level;
}

static void log_write(enum log_level level, const char *fmt, va_list ap)
{
	struct timespec now;
	struct tm tm;
	char stamp[40];
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	struct buf line = BUF_INIT;
	buf_printf(&line, "%s.%03ldZ level=%s ", stamp, now.tv_nsec / 1000000, level_names[level]);
	buf_vprintf(&line, fmt, ap);
	buf_append_char(&line, '\n');
	/* One write per line so concurrent threads do not interleave. */
	fwrite(line.data, 1, line.len, stderr);
	fflush(stderr);
	buf_free(&line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level < min_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_write(level, fmt, ap);
	va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_write(LOG_FATAL, fmt, ap);
	va_end(ap);
	exit(1);
}

const char *log_quote(char *out, size_t outlen, const char *s, size_t len)
{
	size_t o = 0;
	int needs_quote = len == 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] == ' ' || s[i] == '"' || s[i] == '=' || (unsigned char)s[i] < 0x20)
			needs_quote = 1;
	if (needs_quote && o + 1 < outlen)
		out[o++] = '"';
	for (size_t i = 0; i < len && o + 5 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
		} else if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else {
			out[o++] = (char)c;
		}
	}
	if (needs_quote && o + 1 < outlen)
		out[o++] = '"';
	out[o < outlen ? o : outlen - 1] = '\0';
	return out;
}
