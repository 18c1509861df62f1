#include "lib/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/utf8.h"

static enum log_level min_level = LOG_INFO;
static const char *level_names[] = { "debug", "info", "warn", "error", "fatal" };

void log_set_level(enum log_level level)
{
	min_level = level;
}

/* One event is one line, whatever a call site forgot to quote: control bytes (a CR or LF
 * from a client would start a forged line) become \xNN from `from` on. */
static void log_neutralize(struct buf *line, size_t from)
{
	size_t n = 0;
	for (size_t i = from; i < line->len; i++)
		n += (unsigned char)line->data[i] < 0x20 || line->data[i] == 0x7f;
	if (!n)
		return;
	struct buf out = BUF_INIT;
	buf_append(&out, line->data, from);
	for (size_t i = from; i < line->len; i++) {
		unsigned char c = (unsigned char)line->data[i];
		if (c < 0x20 || c == 0x7f)
			buf_printf(&out, "\\x%02x", c);
		else
			buf_append_char(&out, (char)c);
	}
	buf_free(line);
	*line = out;
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
	size_t start = line.len;
	buf_vprintf(&line, fmt, ap);
	log_neutralize(&line, start);
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

/* Length of the valid UTF-8 sequence at s (at most len bytes), 0 if there is none. */
static size_t utf8_sequence(const unsigned char *s, size_t len)
{
	uint32_t cp;
	return utf8_decode_one(s, len, &cp);
}

const char *log_quote(char *out, size_t outlen, const char *s, size_t len)
{
	return log_quote_mode(out, outlen, s, len, false);
}

const char *log_quote_mode(char *out, size_t outlen, const char *in, size_t len, bool always)
{
	const unsigned char *s = (const unsigned char *)in;
	if (outlen < 8) {
		if (outlen)
			out[0] = '\0';
		return out;
	}
	bool quote = always || len == 0;
	for (size_t i = 0; i < len && !quote; i++)
		quote = s[i] <= ' ' || s[i] == '"' || s[i] == '=' || s[i] == '\\' || s[i] >= 0x7f;
	/* Room kept for the closing quote, "..." and the NUL. */
	size_t o = 0, limit = outlen - 5;
	if (quote)
		out[o++] = '"';
	size_t i = 0;
	while (i < len) {
		char piece[8];
		size_t plen, used;
		size_t seq = utf8_sequence(s + i, len - i);
		if (s[i] < 0x20 || s[i] == 0x7f || seq == 0) {
			plen = (size_t)snprintf(piece, sizeof piece, "\\x%02x", s[i]);
			used = 1;
		} else if (s[i] == '"' || s[i] == '\\') {
			piece[0] = '\\';
			piece[1] = (char)s[i];
			plen = 2;
			used = 1;
		} else {
			memcpy(piece, s + i, seq);
			plen = used = seq;
		}
		if (o + plen > limit)
			break;
		memcpy(out + o, piece, plen);
		o += plen;
		i += used;
	}
	if (i < len) {
		memcpy(out + o, "...", 3); /* cut: said so, never half an escape or character */
		o += 3;
	}
	if (quote)
		out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* Rotating per-thread buffers, so one log line can carry several client values. */
#define LOG_STR_SLOTS 8
#define LOG_STR_SIZE 320

static const char *log_str_mode(const char *s, bool always)
{
	static __thread char slots[LOG_STR_SLOTS][LOG_STR_SIZE];
	static __thread unsigned next;
	char *out = slots[next++ % LOG_STR_SLOTS];
	if (!s)
		s = "";
	return log_quote_mode(out, LOG_STR_SIZE, s, strlen(s), always);
}

const char *log_str(const char *s)
{
	return log_str_mode(s, false);
}

const char *log_qstr(const char *s)
{
	return log_str_mode(s, true);
}
