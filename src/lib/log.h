/* Structured logging: one event per line, key=value, to stderr.
 * Levels have fixed meanings: info (normal event), warn (something an operator may
 * want to fix), error (an operation failed; service continues), fatal (exit). */
#ifndef YUBIN_LOG_H
#define YUBIN_LOG_H
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

/* Copies s into out as a log value: quoted if it has spaces, control bytes escaped. */
const char *log_quote(char *out, size_t outlen, const char *s, size_t len);

#endif
