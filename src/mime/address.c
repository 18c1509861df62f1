/* RFC 5322 3.4 address lists (with the obsolete forms of 4.4) rendered as IMAP ENVELOPE address
 * lists: ((name adl mailbox host)...), groups as (NIL NIL "group" NIL) ... (NIL NIL NIL NIL).
 * Broken input never stops the parse: the rest of a bad address is skipped up to the next comma.
 * Missing parts are filled with Dovecot's placeholders so the host is never NIL outside groups. */
#include <string.h>

#include "mime/mime_internal.h"

#define MISSING_MAILBOX "MISSING_MAILBOX"
#define MISSING_DOMAIN "MISSING_DOMAIN"

struct addr_parser {
	struct mime_lexer lx;
	struct buf *out;
	unsigned flags;
	mime_address_fn fn; /* set: addresses go to fn, nothing is rendered */
	void *ctx;
	size_t count;
	struct buf name, route, mailbox, host, comment;
};

static bool is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool at_end(const struct addr_parser *ap)
{
	return ap->lx.pos >= ap->lx.len;
}

static char peek(const struct addr_parser *ap)
{
	return at_end(ap) ? '\0' : ap->lx.s[ap->lx.pos];
}

static size_t read_atom(struct addr_parser *ap, struct buf *out, bool allow_dot)
{
	size_t start = ap->lx.pos;
	while (!at_end(ap)) {
		unsigned char c = (unsigned char)peek(ap);
		if (!is_atext(c) && !(allow_dot && c == '.'))
			break;
		ap->lx.pos++;
	}
	if (out)
		buf_append(out, ap->lx.s + start, ap->lx.pos - start);
	return ap->lx.pos - start;
}

/* phrase = 1*word (obs-phrase allows '.'), words joined by one space. Returns the number of
 * words read. The last comment seen is kept in ap->comment. */
static size_t read_phrase(struct addr_parser *ap, struct buf *out)
{
	size_t words = 0;
	for (;;) {
		mime_lex_skip_cfws(&ap->lx, &ap->comment);
		char c = peek(ap);
		if (c == '"') {
			if (words++)
				buf_append_char(out, ' ');
			mime_lex_quoted(&ap->lx, out);
		} else if (is_atext((unsigned char)c) || c == '.') {
			if (words++)
				buf_append_char(out, ' ');
			read_atom(ap, out, true);
		} else {
			return words;
		}
	}
}

/* local-part = word *("." word), as written without CFWS and without the quotes. */
static bool read_local_part(struct addr_parser *ap)
{
	bool any = false;
	for (;;) {
		mime_lex_skip_cfws(&ap->lx, &ap->comment);
		char c = peek(ap);
		if (c == '"') {
			mime_lex_quoted(&ap->lx, &ap->mailbox);
			any = true;
		} else if (is_atext((unsigned char)c)) {
			read_atom(ap, &ap->mailbox, false);
			any = true;
		} else if (c == '.') {
			buf_append_char(&ap->mailbox, '.');
			ap->lx.pos++;
			continue;
		} else {
			return any;
		}
		mime_lex_skip_cfws(&ap->lx, &ap->comment);
		if (peek(ap) != '.')
			return true;
	}
}

/* domain = dot-atom / domain-literal, kept as written (brackets included). */
static void read_domain(struct addr_parser *ap)
{
	for (;;) {
		mime_lex_skip_cfws(&ap->lx, &ap->comment);
		char c = peek(ap);
		if (c == '[') {
			size_t start = ap->lx.pos;
			while (!at_end(ap) && peek(ap) != ']') {
				if (peek(ap) == '\\' && ap->lx.pos + 1 < ap->lx.len)
					ap->lx.pos++;
				ap->lx.pos++;
			}
			if (!at_end(ap))
				ap->lx.pos++;
			buf_append(&ap->host, ap->lx.s + start, ap->lx.pos - start);
		} else if (is_atext((unsigned char)c)) {
			read_atom(ap, &ap->host, false);
		} else if (c == '.') {
			buf_append_char(&ap->host, '.');
			ap->lx.pos++;
			continue;
		} else {
			return;
		}
		mime_lex_skip_cfws(&ap->lx, &ap->comment);
		if (peek(ap) != '.')
			return;
	}
}

static void emit_string(struct addr_parser *ap, struct buf *b, bool present)
{
	if (!present)
		buf_append_str(ap->out, "NIL");
	else
		mime_imap_append_string(ap->out, b->data ? b->data : "", b->len, ap->flags);
}

static void emit_address(struct addr_parser *ap, bool has_name)
{
	if (ap->fn) {
		ap->fn(ap->ctx, ap->mailbox.data ? ap->mailbox.data : "", ap->mailbox.len,
		       ap->host.data ? ap->host.data : "", ap->host.len);
		ap->count++;
		return;
	}
	buf_append_char(ap->out, '(');
	emit_string(ap, &ap->name, has_name);
	buf_append_char(ap->out, ' ');
	emit_string(ap, &ap->route, ap->route.len > 0);
	buf_append_char(ap->out, ' ');
	if (ap->mailbox.len == 0)
		buf_append_str(&ap->mailbox, MISSING_MAILBOX);
	emit_string(ap, &ap->mailbox, true);
	buf_append_char(ap->out, ' ');
	if (ap->host.len == 0)
		buf_append_str(&ap->host, MISSING_DOMAIN);
	emit_string(ap, &ap->host, true);
	buf_append_char(ap->out, ')');
	ap->count++;
}

static void skip_to_comma(struct addr_parser *ap, bool in_group)
{
	while (!at_end(ap)) {
		char c = peek(ap);
		if (c == ',' || (in_group && c == ';'))
			return;
		if (c == '"') {
			struct buf junk = BUF_INIT;
			mime_lex_quoted(&ap->lx, &junk);
			buf_free(&junk);
		} else if (c == '(') {
			mime_lex_skip_cfws(&ap->lx, NULL);
		} else {
			ap->lx.pos++;
		}
	}
}

/* angle-addr = "<" [obs-route] addr-spec ">", at '<'. */
static void read_angle_addr(struct addr_parser *ap)
{
	ap->lx.pos++;
	mime_lex_skip_cfws(&ap->lx, NULL);
	if (peek(ap) == '@' || peek(ap) == ',') {
		/* obs-route: "@a,@b:" kept without CFWS as the IMAP adl. */
		while (!at_end(ap) && peek(ap) != ':' && peek(ap) != '>') {
			char c = peek(ap);
			if (c == '(') {
				mime_lex_skip_cfws(&ap->lx, NULL);
				continue;
			}
			if (!mime_is_wsp((unsigned char)c) && c != '\r' && c != '\n')
				buf_append_char(&ap->route, c);
			ap->lx.pos++;
		}
		if (peek(ap) == ':')
			ap->lx.pos++;
	}
	read_local_part(ap);
	mime_lex_skip_cfws(&ap->lx, NULL);
	if (peek(ap) == '@') {
		ap->lx.pos++;
		read_domain(ap);
	}
	while (!at_end(ap) && peek(ap) != '>' && peek(ap) != ',')
		ap->lx.pos++;
	if (peek(ap) == '>')
		ap->lx.pos++;
}

/* One mailbox (name-addr or addr-spec), or a group when allow_group. */
static void read_address(struct addr_parser *ap, bool in_group)
{
	buf_reset(&ap->name);
	buf_reset(&ap->route);
	buf_reset(&ap->mailbox);
	buf_reset(&ap->host);
	buf_reset(&ap->comment);
	size_t start = ap->lx.pos;
	size_t words = read_phrase(ap, &ap->name);
	mime_lex_skip_cfws(&ap->lx, &ap->comment);
	char c = peek(ap);
	if (c == '<') {
		bool has_name = words > 0;
		if (!has_name && ap->comment.len) {
			buf_append(&ap->name, ap->comment.data, ap->comment.len);
			has_name = true;
		}
		read_angle_addr(ap);
		mime_lex_skip_cfws(&ap->lx, NULL);
		if (ap->mailbox.len == 0 && ap->host.len == 0 && !has_name) {
			skip_to_comma(ap, in_group);
			return; /* "<>": nothing to show */
		}
		emit_address(ap, has_name);
		skip_to_comma(ap, in_group);
		return;
	}
	if (c == ':' && !in_group && words > 0) {
		ap->lx.pos++;
		if (!ap->fn) {
			buf_append_str(ap->out, "(NIL NIL ");
			mime_imap_append_string(ap->out, ap->name.data, ap->name.len, ap->flags);
			buf_append_str(ap->out, " NIL)");
			ap->count++;
		}
		for (;;) {
			mime_lex_skip_cfws(&ap->lx, NULL);
			if (at_end(ap))
				break;
			c = peek(ap);
			if (c == ';') {
				ap->lx.pos++;
				break;
			}
			if (c == ',') {
				ap->lx.pos++;
				continue;
			}
			size_t before = ap->lx.pos;
			read_address(ap, true);
			if (ap->lx.pos == before)
				ap->lx.pos++;
		}
		if (!ap->fn) {
			buf_append_str(ap->out, "(NIL NIL NIL NIL)");
			ap->count++;
		}
		return;
	}
	/* addr-spec: start again and read the phrase as a local part. */
	ap->lx.pos = start;
	buf_reset(&ap->name);
	buf_reset(&ap->comment);
	if (!read_local_part(ap)) {
		skip_to_comma(ap, in_group);
		return;
	}
	buf_reset(&ap->comment);
	mime_lex_skip_cfws(&ap->lx, &ap->comment);
	if (peek(ap) == '@') {
		ap->lx.pos++;
		read_domain(ap);
	}
	mime_lex_skip_cfws(&ap->lx, &ap->comment);
	bool has_name = ap->comment.len > 0;
	if (has_name)
		buf_append(&ap->name, ap->comment.data, ap->comment.len);
	emit_address(ap, has_name);
	skip_to_comma(ap, in_group);
}

/* Reads the whole list into ap (rendered, or handed to ap->fn). */
static void parse_list(struct addr_parser *ap)
{
	ap->name = ap->route = ap->mailbox = ap->host = ap->comment = (struct buf)BUF_INIT;
	while (!at_end(ap)) {
		mime_lex_skip_cfws(&ap->lx, NULL);
		if (at_end(ap))
			break;
		char c = peek(ap);
		if (c == ',' || c == ';' || c == '>' || c == ':' || c == '@' || c == ')' ||
		    c == '[' || c == ']' || c == '\\') {
			ap->lx.pos++;
			continue;
		}
		size_t before = ap->lx.pos;
		read_address(ap, false);
		if (ap->lx.pos == before)
			ap->lx.pos++;
	}
	buf_free(&ap->name);
	buf_free(&ap->route);
	buf_free(&ap->mailbox);
	buf_free(&ap->host);
	buf_free(&ap->comment);
}

void mime_imap_address_list(const char *value, size_t len, struct buf *out, unsigned flags)
{
	struct buf list = BUF_INIT;
	struct addr_parser ap = {
		.lx = { value ? value : "", value ? len : 0, 0 },
		.out = &list,
		.flags = flags,
	};
	parse_list(&ap);
	if (ap.count == 0) {
		buf_append_str(out, "NIL");
	} else {
		buf_append_char(out, '(');
		buf_append(out, list.data, list.len);
		buf_append_char(out, ')');
	}
	buf_free(&list);
}

size_t mime_address_list_each(const char *value, size_t len, mime_address_fn fn, void *ctx)
{
	struct addr_parser ap = {
		.lx = { value ? value : "", value ? len : 0, 0 },
		.fn = fn,
		.ctx = ctx,
	};
	parse_list(&ap);
	return ap.count;
}
