/* Structured logging: one event per line, key=value, to stderr.
 * Levels have fixed meanings: info (normal event), warn (something an operator may
 * want to fix), error (an operation failed; service continues), fatal (exit). */
#ifndef YUBIN_LOG_H
#define YUBIN_LOG_H
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_FATAL };

void log_set_level(enum log_level level);
/* fmt continues the line with more key=value pairs, e.g. "event=accept conn=%u". */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Anything a client (or another server) sent goes through these before it reaches a log
 * line, so it can neither start a line nor pass for another key=value pair.
 * log_quote copies s into out as a log value: in quotes when it is empty or has spaces,
 * '=', quotes, backslashes or non-ASCII; control bytes and bytes that are not UTF-8 become
 * \xNN, '"' and '\' get a backslash; too long for out: cut at a character, "..." added.
 * log_quote_mode: the same, always in quotes when `always` (fields written key="..."). */
const char *log_quote(char *out, size_t outlen, const char *s, size_t len);
const char *log_quote_mode(char *out, size_t outlen, const char *s, size_t len, bool always);
/* log_quote of a C string (NULL: "") into one of 8 per-thread buffers, for use as a "%s"
 * argument: valid until 8 more calls in the same thread; values cut at about 300 bytes.
 * log_qstr always quotes. */
const char *log_str(const char *s);
const char *log_qstr(const char *s);

#endif
