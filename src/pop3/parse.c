#include "pop3/parse.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum pop3_verb verb;
	int min_args, max_args; /* -1: the rest of the line is one argument */
} verbs[] = {
	{ "USER", POP3_USER, -1, -1 }, { "PASS", POP3_PASS, -1, -1 }, { "AUTH", POP3_AUTH, 0, -1 },
	{ "STLS", POP3_STLS, 0, 0 },   { "CAPA", POP3_CAPA, 0, 0 },   { "STAT", POP3_STAT, 0, 0 },
	{ "LIST", POP3_LIST, 0, 1 },   { "RETR", POP3_RETR, 1, 1 },   { "DELE", POP3_DELE, 1, 1 },
	{ "NOOP", POP3_NOOP, 0, 0 },   { "RSET", POP3_RSET, 0, 0 },   { "QUIT", POP3_QUIT, 0, 0 },
	{ "TOP", POP3_TOP, 2, 2 },     { "UIDL", POP3_UIDL, 0, 1 },   { "APOP", POP3_APOP, -1, -1 },
};

/* A message number or line count: 1-9 digits (no sign, no leading +). */
static bool parse_number(const char *s, size_t len, unsigned long *out)
{
	if (len == 0 || len > 9)
		return false;
	unsigned long n = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		n = n * 10 + (unsigned long)(s[i] - '0');
	}
	*out = n;
	return true;
}

bool pop3_parse_command(const char *line, size_t len, struct pop3_command *cmd, const char **err)
{
	memset(cmd, 0, sizeof *cmd);
	if (memchr(line, '\0', len)) {
		*err = "Commands must not contain NUL bytes.";
		return false;
	}
	/* RFC 2449: 255 octets with CRLF, whatever the command. */
	if (len + 2 > POP3_COMMAND_MAX) {
		*err = "Command line too long (the limit is 255 bytes).";
		return false;
	}
	size_t vlen = 0;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	int idx = -1;
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (strlen(verbs[i].name) == vlen && strncasecmp(line, verbs[i].name, vlen) == 0)
			idx = (int)i;
	if (idx < 0) {
		*err = "Unknown command. Commands: USER PASS AUTH STLS CAPA STAT LIST RETR DELE TOP UIDL "
		       "NOOP RSET QUIT.";
		return false;
	}
	cmd->verb = verbs[idx].verb;
	size_t a = vlen < len ? vlen + 1 : len;
	cmd->arg = line + a;
	cmd->arg_len = len - a;
	if (verbs[idx].min_args < 0) {
		if (cmd->arg_len == 0) {
			*err = cmd->verb == POP3_USER ? "Say which user: USER name@example.com."
						     : "This command needs an argument.";
			return false;
		}
		return true;
	}
	if (cmd->verb == POP3_AUTH)
		return true; /* AUTH [mechanism [initial-response]] is read by the session */
	/* Split the arguments on single spaces. */
	const char *args[2];
	size_t arglen[2];
	int nargs = 0;
	size_t i = a;
	while (i < len) {
		size_t start = i;
		while (i < len && line[i] != ' ')
			i++;
		if (i == start || nargs == 2) {
			*err = "Too many or badly separated arguments.";
			return false;
		}
		args[nargs] = line + start;
		arglen[nargs++] = i - start;
		if (i < len)
			i++;
		if (i == len && line[len - 1] == ' ') {
			*err = "Too many or badly separated arguments.";
			return false;
		}
	}
	if (nargs < verbs[idx].min_args || nargs > verbs[idx].max_args) {
		*err = verbs[idx].max_args == 0 ? "This command takes no arguments."
		       : cmd->verb == POP3_TOP ? "Syntax: TOP message-number lines."
					       : "Give one message number, e.g. RETR 1.";
		return false;
	}
	if (nargs >= 1) {
		if (!parse_number(args[0], arglen[0], &cmd->msg) || cmd->msg == 0) {
			*err = "Message numbers are whole numbers from 1 (see LIST).";
			return false;
		}
		cmd->has_msg = true;
	}
	if (nargs == 2 && !parse_number(args[1], arglen[1], &cmd->lines)) {
		*err = "The number of lines must be a whole number.";
		return false;
	}
	return true;
}

void pop3_format_message(const char *data, size_t len, long body_lines, struct buf *out)
{
	const char *p = data, *end = data + len;
	bool in_body = false;
	long body_sent = 0;
	buf_reserve(out, len + len / 64 + 8);
	while (p < end) {
		if (in_body && body_lines >= 0 && body_sent >= body_lines)
			break;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t linelen = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t text = linelen && p[linelen - 1] == '\r' ? linelen - 1 : linelen;
		if (text && p[0] == '.')
			buf_append_char(out, '.');
		buf_append(out, p, text);
		buf_append(out, "\r\n", 2);
		if (in_body)
			body_sent++;
		else if (text == 0)
			in_body = true;
		p += linelen + (nl ? 1 : 0);
	}
	buf_append(out, ".\r\n", 3);
}
