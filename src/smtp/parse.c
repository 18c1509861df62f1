#include "smtp/parse.h"

#include "lib/utf8.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_HELO }, { "EHLO", SMTP_EHLO }, { "MAIL", SMTP_MAIL },
	{ "RCPT", SMTP_RCPT }, { "DATA", SMTP_DATA }, { "BDAT", SMTP_BDAT },
	{ "RSET", SMTP_RSET }, { "NOOP", SMTP_NOOP }, { "QUIT", SMTP_QUIT },
	{ "HELP", SMTP_HELP }, { "VRFY", SMTP_VRFY }, { "EXPN", SMTP_EXPN },
	{ "STARTTLS", SMTP_STARTTLS }, { "AUTH", SMTP_AUTH },
};

static void set_error(struct smtp_error *err, int code, const char *status, const char *text)
{
	err->code = code;
	err->status = status;
	err->text = text;
}

static bool is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true; /* UTF-8 (RFC 6531); validity is checked separately */
	if (isalnum(c))
		return true;
	return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Domain = sub-domain *("." sub-domain), or an address literal "[...]". */
static bool parse_domain(const char *s, size_t len, size_t *used)
{
	size_t i = 0;
	if (len && s[0] == '[') {
		while (i < len && s[i] != ']') {
			unsigned char c = (unsigned char)s[i];
			if (c < 33 || c > 126 || (i > 0 && (c == '[' || c == '\\')))
				return false;
			i++;
		}
		if (i >= len || i < 2)
			return false;
		*used = i + 1;
		return true;
	}
	size_t label = 0;
	for (;;) {
		label = 0;
		while (i < len) {
			unsigned char c = (unsigned char)s[i];
			if (!(isalnum(c) || c == '-' || c >= 0x80))
				break;
			label++;
			i++;
		}
		if (label == 0 || label > 63 || s[i - label] == '-' || s[i - 1] == '-')
			return false;
		if (i < len && s[i] == '.') {
			i++;
			continue;
		}
		break;
	}
	*used = i;
	return i > 0 && i < SMTP_DOMAIN_MAX;
}

static void copy_lower(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[len] = '\0';
}

/* Mailbox = Local-part "@" Domain; also the bare "postmaster" (RFC 5321 4.5.1). */
static bool parse_mailbox(const char *s, size_t len, struct smtp_address *out, size_t *used)
{
	size_t i = 0, o = 0;
	if (len && s[0] == '"') {
		i = 1;
		for (;;) {
			if (i >= len)
				return false;
			unsigned char c = (unsigned char)s[i];
			if (c == '"')
				break;
			if (c == '\\') {
				if (i + 1 >= len || (unsigned char)s[i + 1] < 32)
					return false;
				c = (unsigned char)s[++i];
			} else if (c < 32 || c == 127) {
				return false;
			}
			if (o + 1 >= SMTP_LOCAL_MAX)
				return false;
			out->local[o++] = (char)c;
			i++;
		}
		i++; /* closing quote */
		if (o == 0)
			return false;
	} else {
		bool need_atom = true;
		while (i < len) {
			unsigned char c = (unsigned char)s[i];
			if (c == '.') {
				if (need_atom)
					return false;
				need_atom = true;
			} else if (is_atext(c)) {
				need_atom = false;
			} else {
				break;
			}
			if (o + 1 >= SMTP_LOCAL_MAX)
				return false;
			out->local[o++] = (char)c;
			i++;
		}
		if (o == 0 || need_atom)
			return false;
	}
	out->local[o] = '\0';
	if (i == len || s[i] != '@') {
		/* Only <postmaster> may come without a domain. */
		if (strcasecmp(out->local, "postmaster") != 0 || s[0] == '"')
			return false;
		out->domain[0] = '\0';
		*used = i;
		return true;
	}
	i++;
	size_t dlen;
	if (!parse_domain(s + i, len - i, &dlen))
		return false;
	copy_lower(out->domain, s + i, dlen);
	i += dlen;
	*used = i;
	return true;
}

bool smtp_parse_path(const char *s, size_t len, bool allow_null, struct smtp_address *out,
		     size_t *used)
{
	memset(out, 0, sizeof *out);
	size_t i = 0;
	bool bracket = len && s[0] == '<';
	if (bracket)
		i++;
	if (bracket && i < len && s[i] == '>') {
		if (!allow_null)
			return false;
		out->null = true;
		*used = i + 1;
		return true;
	}
	/* A-d-l ":" : a source route. RFC 5321 says accept and ignore it. */
	if (bracket && i < len && s[i] == '@') {
		while (i < len && s[i] != ':') {
			if (s[i] == '>' || s[i] == ' ')
				return false;
			i++;
		}
		if (i >= len)
			return false;
		i++;
	}
	size_t start = i, mlen;
	if (!parse_mailbox(s + i, len - i, out, &mlen))
		return false;
	i += mlen;
	if (bracket) {
		if (i >= len || s[i] != '>')
			return false;
		i++;
	}
	size_t tlen = mlen;
	if (tlen >= sizeof out->text)
		return false;
	memcpy(out->text, s + start, tlen);
	out->text[tlen] = '\0';
	for (size_t k = 0; k < tlen; k++)
		if ((unsigned char)out->text[k] >= 0x80)
			out->utf8 = true;
	if (out->utf8 && !utf8_valid((const unsigned char *)out->text, tlen))
		return false;
	*used = i;
	return true;
}

static bool keyword_is(const char *s, size_t len, const char *kw)
{
	return strlen(kw) == len && strncasecmp(s, kw, len) == 0;
}

static bool parse_number(const char *s, size_t len, unsigned long long max,
			 unsigned long long *out)
{
	if (len == 0 || len > 20)
		return false;
	unsigned long long n = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		if (n > (max - (unsigned)(s[i] - '0')) / 10)
			return false;
		n = n * 10 + (unsigned)(s[i] - '0');
	}
	*out = n;
	return true;
}

/* ESMTP parameters after a path: "KEY[=VALUE]" separated by spaces. */
static bool parse_params(const char *s, size_t len, struct smtp_command *cmd,
			 struct smtp_error *err)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && s[i] == ' ')
			i++;
		if (i >= len)
			break;
		size_t start = i;
		while (i < len && s[i] != ' ')
			i++;
		const char *p = s + start;
		size_t plen = i - start;
		const char *eq = memchr(p, '=', plen);
		size_t klen = eq ? (size_t)(eq - p) : plen;
		const char *v = eq ? eq + 1 : NULL;
		size_t vlen = eq ? plen - klen - 1 : 0;
		if (cmd->verb == SMTP_MAIL && keyword_is(p, klen, "SIZE")) {
			unsigned long long n;
			if (!v || !parse_number(v, vlen, (1ULL << 62), &n)) {
				set_error(err, 501, "5.5.4", "The SIZE parameter must be a number of bytes.");
				return false;
			}
			cmd->size = (long long)n;
		} else if (cmd->verb == SMTP_MAIL && keyword_is(p, klen, "BODY")) {
			if (v && keyword_is(v, vlen, "7BIT"))
				cmd->body = SMTP_BODY_7BIT;
			else if (v && keyword_is(v, vlen, "8BITMIME"))
				cmd->body = SMTP_BODY_8BITMIME;
			else if (v && keyword_is(v, vlen, "BINARYMIME"))
				cmd->body = SMTP_BODY_BINARYMIME;
			else {
				set_error(err, 501, "5.5.4", "BODY must be 7BIT, 8BITMIME or BINARYMIME.");
				return false;
			}
		} else if (cmd->verb == SMTP_MAIL && keyword_is(p, klen, "SMTPUTF8") && !v) {
			cmd->smtputf8 = true;
		} else if (cmd->verb == SMTP_MAIL &&
			   (keyword_is(p, klen, "AUTH") || keyword_is(p, klen, "RET") ||
			    keyword_is(p, klen, "ENVID"))) {
			/* Accepted and ignored until DSN support lands. */
		} else if (cmd->verb == SMTP_RCPT &&
			   (keyword_is(p, klen, "NOTIFY") || keyword_is(p, klen, "ORCPT"))) {
			/* Accepted and ignored until DSN support lands. */
		} else {
			set_error(err, 555, "5.5.4", "Unknown or unsupported parameter.");
			return false;
		}
	}
	return true;
}

/* "FROM:" / "TO:" followed by optional spaces and a path. */
static bool parse_mail_rcpt(const char *arg, size_t len, struct smtp_command *cmd,
			    struct smtp_error *err)
{
	const char *kw = cmd->verb == SMTP_MAIL ? "FROM:" : "TO:";
	size_t kwlen = strlen(kw);
	bool is_mail = cmd->verb == SMTP_MAIL;
	if (len < kwlen || strncasecmp(arg, kw, kwlen) != 0) {
		set_error(err, 501, "5.5.4",
			  is_mail ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>");
		return false;
	}
	size_t i = kwlen;
	while (i < len && arg[i] == ' ')
		i++;
	size_t used;
	if (!smtp_parse_path(arg + i, len - i, is_mail, &cmd->addr, &used)) {
		if (is_mail)
			set_error(err, 501, "5.1.7",
				  "The sender address is not valid; write it as <name@example.com>.");
		else
			set_error(err, 501, "5.1.3",
				  "The recipient address is not valid; write it as <name@example.com>.");
		return false;
	}
	i += used;
	if (i < len && arg[i] != ' ') {
		set_error(err, 501, is_mail ? "5.1.7" : "5.1.3",
			  "Unexpected text after the address.");
		return false;
	}
	return parse_params(arg + i, len - i, cmd, err);
}

static bool parse_bdat(const char *arg, size_t len, struct smtp_command *cmd,
		       struct smtp_error *err)
{
	size_t i = 0;
	while (i < len && arg[i] != ' ')
		i++;
	if (!parse_number(arg, i, (1ULL << 62), &cmd->chunk_size)) {
		set_error(err, 501, "5.5.4", "Syntax: BDAT <size> [LAST]");
		return false;
	}
	while (i < len && arg[i] == ' ')
		i++;
	if (i < len) {
		if (!keyword_is(arg + i, len - i, "LAST")) {
			set_error(err, 501, "5.5.4", "Syntax: BDAT <size> [LAST]");
			return false;
		}
		cmd->last = true;
	}
	return true;
}

bool smtp_parse_command(const char *line, size_t len, struct smtp_command *cmd,
			struct smtp_error *err)
{
	memset(cmd, 0, sizeof *cmd);
	cmd->size = -1;
	if (memchr(line, '\0', len)) {
		set_error(err, 500, "5.5.2", "Commands must not contain NUL bytes.");
		return false;
	}
	size_t vlen = 0;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (keyword_is(line, vlen, verbs[i].name))
			cmd->verb = verbs[i].verb;
	if (cmd->verb == SMTP_UNKNOWN) {
		set_error(err, 500, "5.5.1", "Command not recognized.");
		return false;
	}
	size_t a = vlen;
	if (a < len)
		a++; /* the single space after the verb */
	cmd->arg = line + a;
	cmd->arg_len = len - a;
	/* Trailing spaces are common from hand-typed sessions; ignore them. */
	while (cmd->arg_len && cmd->arg[cmd->arg_len - 1] == ' ')
		cmd->arg_len--;
	switch (cmd->verb) {
	case SMTP_HELO:
	case SMTP_EHLO:
		if (cmd->arg_len == 0) {
			set_error(err, 501, "5.5.4", "Say hello with your host name, e.g. EHLO mail.example.com.");
			return false;
		}
		return true;
	case SMTP_MAIL:
	case SMTP_RCPT:
		return parse_mail_rcpt(cmd->arg, cmd->arg_len, cmd, err);
	case SMTP_BDAT:
		return parse_bdat(cmd->arg, cmd->arg_len, cmd, err);
	case SMTP_DATA:
	case SMTP_RSET:
	case SMTP_QUIT:
	case SMTP_STARTTLS:
		if (cmd->arg_len) {
			set_error(err, 501, "5.5.4", "This command takes no arguments.");
			return false;
		}
		return true;
	default:
		return true;
	}
}

/* Reader states. */
enum { ST_LINE_START, ST_MID, ST_CR, ST_DOT, ST_DOT_CR };

void smtp_data_reader_init(struct smtp_data_reader *r, size_t max_size, size_t max_line,
			   size_t max_header)
{
	memset(r, 0, sizeof *r);
	r->state = ST_LINE_START;
	r->max_size = max_size;
	r->max_line = max_line;
	r->max_header = max_header;
	r->in_header = true;
}

static void emit(struct smtp_data_reader *r, const char *p, size_t n, struct buf *out)
{
	if (!r->too_big && r->size + n > r->max_size)
		r->too_big = true;
	if (!r->too_big)
		buf_append(out, p, n);
	r->size += n;
	r->line_len += n;
	if (r->line_len > r->max_line)
		r->line_too_long = true;
	if (r->in_header) {
		r->header_len += n;
		if (r->header_len > r->max_header)
			r->header_too_big = true;
	}
}

/* A line ended (its CRLF already emitted). */
static void end_line(struct smtp_data_reader *r)
{
	/* An empty line (just CRLF) ends the header block. */
	if (r->in_header && r->line_len == 2)
		r->in_header = false;
	r->line_len = 0;
}

enum smtp_data_status smtp_data_feed(struct smtp_data_reader *r, const char *in, size_t len,
				     size_t *consumed, struct buf *out)
{
	size_t i = 0;
	while (i < len) {
		char c = in[i];
		switch (r->state) {
		case ST_LINE_START:
			if (c == '.') {
				r->state = ST_DOT;
				i++;
				continue;
			}
			r->state = ST_MID;
			continue;
		case ST_MID: {
			size_t run = i;
			while (run < len && in[run] != '\r' && in[run] != '\n')
				run++;
			if (run > i) {
				emit(r, in + i, run - i, out);
				i = run;
				continue;
			}
			if (c == '\n') {
				*consumed = i + 1;
				return SMTP_DATA_BARE_EOL;
			}
			r->state = ST_CR;
			i++;
			continue;
		}
		case ST_CR:
			if (c != '\n') {
				*consumed = i;
				return SMTP_DATA_BARE_EOL;
			}
			emit(r, "\r\n", 2, out);
			end_line(r);
			r->state = ST_LINE_START;
			i++;
			continue;
		case ST_DOT:
			if (c == '\r') {
				r->state = ST_DOT_CR;
				i++;
				continue;
			}
			if (c == '\n') {
				*consumed = i + 1;
				return SMTP_DATA_BARE_EOL;
			}
			/* A leading dot is removed (transparency, RFC 5321 4.5.2). */
			r->state = ST_MID;
			continue;
		case ST_DOT_CR:
			if (c != '\n') {
				*consumed = i;
				return SMTP_DATA_BARE_EOL;
			}
			*consumed = i + 1;
			return SMTP_DATA_END;
		}
	}
	*consumed = len;
	return SMTP_DATA_MORE;
}

void smtp_data_count_raw(struct smtp_data_reader *r, const char *in, size_t len, struct buf *out)
{
	size_t i = 0;
	while (i < len) {
		const char *lf = memchr(in + i, '\n', len - i);
		size_t n = lf ? (size_t)(lf - (in + i)) + 1 : len - i;
		/* A bare LF is stored as CRLF (the previous byte may have ended the last chunk),
		 * so POP3 and IMAP sizes match the bytes they send. */
		bool bare = lf && (lf == in + i ? !r->last_was_cr : lf[-1] != '\r');
		if (bare) {
			emit(r, in + i, n - 1, out);
			emit(r, "\r\n", 2, out);
		} else {
			emit(r, in + i, n, out);
		}
		r->last_was_cr = n > 0 && in[i + n - 1] == '\r';
		if (lf) {
			/* Header ends at an empty line (CRLF or bare LF in binary content). */
			if (r->in_header && (r->line_len == 2 || r->line_len == 1))
				r->in_header = false;
			r->line_len = 0;
		}
		i += n;
	}
}
