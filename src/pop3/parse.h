/* POP3 command grammar (RFC 1939, 2449, 2595, 5034): pure functions over one line. */
#ifndef YUBIN_POP3_PARSE_H
#define YUBIN_POP3_PARSE_H
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

enum pop3_verb {
	POP3_UNKNOWN, POP3_USER, POP3_PASS, POP3_AUTH, POP3_STLS, POP3_CAPA, POP3_STAT,
	POP3_LIST, POP3_RETR, POP3_DELE, POP3_NOOP, POP3_RSET, POP3_QUIT, POP3_TOP, POP3_UIDL,
	POP3_APOP,
};

/* RFC 2449: a command line is at most 255 octets including CRLF. */
#define POP3_COMMAND_MAX 255

struct pop3_command {
	enum pop3_verb verb;
	const char *arg;      /* USER/PASS/AUTH: the text after the verb's space (into the line) */
	size_t arg_len;
	bool has_msg;         /* LIST/UIDL with a message number; always for RETR/DELE/TOP */
	unsigned long msg;    /* message number, 1-based */
	unsigned long lines;  /* TOP */
};

/* Parses a line without its CRLF. False with a sentence in *err on bad syntax. */
bool pop3_parse_command(const char *line, size_t len, struct pop3_command *cmd, const char **err);

/* Appends a stored message as a POP3 multi-line body: CRLF line ends (a bare LF becomes
 * CRLF), leading dots doubled, and the terminating ".\r\n". body_lines < 0: the whole
 * message; else the header, the blank line and that many body lines (TOP). */
void pop3_format_message(const char *data, size_t len, long body_lines, struct buf *out);

#endif
