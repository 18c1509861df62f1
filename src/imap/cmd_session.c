/* Commands on the session itself: NOOP, LOGOUT and ID in any state; ENABLE, COMPRESS and
 * IDLE once logged in. */
#include <event2/bufferevent.h>
#include <strings.h>

#include "imap/session.h"

void imap_cmd_noop(struct imap_session *s, const struct imap_command *c, bool uid,
		   const struct imap_arg *args, size_t count)
{
	imap_sync(s, true);
	imap_tagged(s, c->tag, "OK", NULL, "NOOP completed.");
}

void imap_cmd_logout(struct imap_session *s, const struct imap_command *c, bool uid,
		     const struct imap_arg *args, size_t count)
{
	imap_printf(s, "* BYE Logging out.");
	imap_tagged(s, c->tag, "OK", NULL, "LOGOUT completed.");
	imap_close_after_reply(s);
}

void imap_cmd_id(struct imap_session *s, const struct imap_command *c, bool uid,
		 const struct imap_arg *args, size_t count)
{
	/* RFC 2971: ID (field value ...) or ID NIL. */
	if (c->count != 1 || (c->args[0].type != IMAP_ARG_LIST && c->args[0].type != IMAP_ARG_NIL)) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: ID (\"name\" \"value\" ...) or ID NIL");
		return;
	}
	imap_printf(s, "* ID (\"name\" \"yubin\" \"support-url\" \"https://example.invalid/yubin\")");
	imap_tagged(s, c->tag, "OK", NULL, "ID completed.");
}

void imap_cmd_enable(struct imap_session *s, const struct imap_command *c, bool uid,
		     const struct imap_arg *args, size_t count)
{
	if (c->count == 0) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: ENABLE capability...");
		return;
	}
	struct buf enabled = BUF_INIT;
	for (size_t i = 0; i < c->count; i++) {
		if (imap_arg_atom_equals(&c->args[i], "CONDSTORE") && !s->condstore) {
			s->condstore = true;
			buf_append_str(&enabled, " CONDSTORE");
		} else if (imap_arg_atom_equals(&c->args[i], "QRESYNC") && !s->qresync) {
			s->qresync = s->condstore = true;
			buf_append_str(&enabled, " QRESYNC");
		} else if (imap_arg_atom_equals(&c->args[i], "IMAP4rev2") && !s->rev2) {
			s->rev2 = true;
			buf_append_str(&enabled, " IMAP4rev2");
		}
	}
	imap_printf(s, "* ENABLED%s", enabled.data ? enabled.data : "");
	buf_free(&enabled);
	imap_tagged(s, c->tag, "OK", NULL, "Enabled.");
}

void imap_cmd_compress(struct imap_session *s, const struct imap_command *c, bool uid,
		       const struct imap_arg *args, size_t count)
{
	if (c->count != 1 || !imap_arg_atom_equals(&c->args[0], "DEFLATE")) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: COMPRESS DEFLATE");
		return;
	}
	if (s->compressed) {
		imap_tagged(s, c->tag, "NO", "COMPRESSIONACTIVE", "Compression is already on.");
		return;
	}
	imap_tagged(s, c->tag, "OK", NULL, "DEFLATE active.");
	/* The client sends nothing until it has this reply (RFC 4978), so switching after the
	 * reply is written loses no input. */
	s->compress_pending = true;
	bufferevent_disable(s->bev, EV_READ);
}

void imap_cmd_idle(struct imap_session *s, const struct imap_command *c, bool uid,
		   const struct imap_arg *args, size_t count)
{
	imap_remember_tag(s, c->tag);
	s->wait = WAIT_IDLE;
	imap_printf(s, "+ idling");
	imap_sync(s, true);
	/* IDLE can last hours: the parser and the parsed command (its tag is copied) are
	 * dropped; the next command after DONE gets a new parser. */
	imap_parser_free(&s->parser);
}

/* The line after IDLE: DONE ends it; anything else is an error that ends it too. */
void imap_idle_end(struct imap_session *s, const char *line)
{
	s->wait = WAIT_NONE;
	if (strcasecmp(line, "DONE") == 0) {
		imap_sync(s, true);
		imap_tagged(s, s->tag, "OK", NULL, "IDLE terminated.");
	} else {
		imap_tagged(s, s->tag, "BAD", NULL, "Expected DONE to end IDLE.");
	}
}
