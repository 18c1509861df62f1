/* Getting to the authenticated state: CAPABILITY (what it lists depends on it), STARTTLS,
 * LOGIN and AUTHENTICATE PLAIN. The password is checked off the loop (auth/login.c); the
 * session reads nothing meanwhile, and login_done answers. */
#include <event2/bufferevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/sasl.h"
#include "imap/session.h"
#include "lib/alloc.h"
#include "net/connlimit.h"

static bool plaintext_allowed(struct imap_session *s)
{
	const char *mode = s->srv->cfg->plaintext_auth;
	if (s->tls || strcmp(mode, "always") == 0)
		return true;
	return strcmp(mode, "loopback") == 0 && net_ip_is_loopback(s->ip);
}

void imap_capability_list(struct imap_session *s, struct buf *out)
{
	buf_append_str(out, "IMAP4rev1 IMAP4rev2 LITERAL- SASL-IR ID ENABLE IDLE UIDPLUS MOVE UNSELECT "
			    "NAMESPACE CHILDREN SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED "
			    "LIST-STATUS CONDSTORE QRESYNC ESEARCH SEARCHRES BINARY QUOTA "
			    "QUOTA=RES-STORAGE STATUS=SIZE SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT");
	if (s->state != IMAP_NOT_AUTH && !s->compressed)
		buf_append_str(out, " COMPRESS=DEFLATE");
	buf_printf(out, " APPENDLIMIT=%ld", s->srv->cfg->max_message_size);
	if (s->state == IMAP_NOT_AUTH) {
		if (!s->tls && s->srv->tls)
			buf_append_str(out, " STARTTLS");
		buf_append_str(out, plaintext_allowed(s) ? " AUTH=PLAIN" : " LOGINDISABLED");
	}
}

void imap_cmd_capability(struct imap_session *s, const struct imap_command *c, bool uid,
			 const struct imap_arg *args, size_t count)
{
	struct buf line = BUF_INIT;
	buf_append_str(&line, "* CAPABILITY ");
	imap_capability_list(s, &line);
	imap_printf(s, "%s", line.data);
	buf_free(&line);
	imap_tagged(s, c->tag, "OK", NULL, "Capabilities listed.");
}

static size_t sessions_of_account(struct imap_server *srv, int64_t account_id)
{
	size_t n = 0;
	for (struct imap_session *x = srv->sessions; x; x = x->next)
		if (x->state != IMAP_NOT_AUTH && x->account_id == account_id)
			n++;
	return n;
}

/* The password this session logged in with was revoked or changed (login_watch). */
static bool login_revoked(void *ctx)
{
	struct imap_session *s = ctx;
	if (s->wait == WAIT_CLOSE)
		return true;
	/* Only a session waiting for its client ends now; one with work in flight (a store job)
	 * is answered first and asked again. */
	if (s->wait != WAIT_NONE && s->wait != WAIT_IDLE && s->wait != WAIT_SASL)
		return false;
	imap_printf(s, "* BYE " LOGIN_REVOKED_TEXT);
	imap_close_after_reply(s);
	return true;
}

static void login_done(void *ctx, const struct login_outcome *o)
{
	struct imap_session *s = ctx;
	switch (o->result) {
	case LOGIN_OK:
		if (sessions_of_account(s->srv, o->account_id) >=
		    (size_t)s->srv->cfg->max_imap_sessions_per_account) {
			imap_tagged(s, s->tag, "NO", "LIMIT", "Too many IMAP sessions for this account "
				    "(limit %ld); close a mail app on another device.",
				    s->srv->cfg->max_imap_sessions_per_account);
			break;
		}
		s->state = IMAP_AUTH;
		s->account_id = o->account_id;
		login_watch(s->srv->login, o, login_revoked, s);
		imap_session_logged_in(s);
		{
			struct buf caps = BUF_INIT;
			imap_capability_list(s, &caps);
			struct buf code = BUF_INIT;
			buf_printf(&code, "CAPABILITY %s", caps.data);
			imap_tagged(s, s->tag, "OK", code.data, "Logged in (%s).", o->device_label);
			buf_free(&code);
			buf_free(&caps);
		}
		break;
	case LOGIN_ACCOUNT_PASSWORD_OFF:
		imap_tagged(s, s->tag, "NO", "AUTHENTICATIONFAILED", "The account password is turned "
			    "off for mail apps on this account; use this device's app password.");
		break;
	case LOGIN_TEMPFAIL:
		imap_tagged(s, s->tag, "NO", "UNAVAILABLE", "Too many failed logins from your address "
			    "or for this account just now; try again in a minute.");
		break;
	case LOGIN_UNAVAILABLE:
		imap_tagged(s, s->tag, "NO", "UNAVAILABLE", "The server cannot check passwords just "
			    "now (a storage problem); try again in a few minutes.");
		break;
	default:
		imap_tagged(s, s->tag, "NO", "AUTHENTICATIONFAILED", "Wrong user name or password. Use "
			    "your full mail address as user name.");
		break;
	}
	imap_command_finished(s);
}

static void start_login(struct imap_session *s, const char *user, const char *password)
{
	free(s->user);
	s->user = xstrdup(user);
	s->wait = WAIT_LOGIN;
	if (!s->cmd)
		s->cmd = imap_parser_take_command(s->parser);
	bufferevent_disable(s->bev, EV_READ);
	login_start(s->srv->login, user, password, s->ip, "imap", s->tls, login_done, s);
}

void imap_cmd_login(struct imap_session *s, const struct imap_command *c, bool uid,
		    const struct imap_arg *args, size_t count)
{
	const char *user, *pass;
	size_t ulen, plen;
	if (c->count != 2 || !imap_arg_get_astring(&c->args[0], &user, &ulen) ||
	    !imap_arg_get_astring(&c->args[1], &pass, &plen)) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: LOGIN user password");
		return;
	}
	if (!plaintext_allowed(s)) {
		imap_tagged(s, c->tag, "NO", "PRIVACYREQUIRED", "Passwords are only accepted over an "
			    "encrypted connection: turn on SSL/TLS in the mail app (port 993, or "
			    "STARTTLS on 143).");
		return;
	}
	imap_remember_tag(s, c->tag);
	char u[256], p[256];
	snprintf(u, sizeof u, "%.*s", (int)ulen, user);
	snprintf(p, sizeof p, "%.*s", (int)plen, pass);
	start_login(s, u, p);
	memset(p, 0, sizeof p);
}

void imap_sasl_response(struct imap_session *s, const char *b64, size_t len)
{
	if (len == 1 && b64[0] == '*') {
		imap_tagged(s, s->tag, "BAD", NULL, "Authentication cancelled.");
		imap_command_finished(s);
		return;
	}
	struct sasl_plain p;
	const char *why;
	if (!sasl_plain_decode(b64, len, &p, &why) ||
	    (p.authzid[0] && strcmp(p.authzid, p.authcid) != 0)) {
		imap_tagged(s, s->tag, "NO", "AUTHENTICATIONFAILED", "%s",
			    p.authzid[0] ? "Logging in as another user is not supported." : why);
		imap_command_finished(s);
		return;
	}
	start_login(s, p.authcid, p.password);
	memset(&p, 0, sizeof p);
}

void imap_cmd_authenticate(struct imap_session *s, const struct imap_command *c, bool uid,
			   const struct imap_arg *args, size_t count)
{
	const char *mech;
	size_t mlen;
	if (c->count < 1 || c->count > 2 || !imap_arg_get_astring(&c->args[0], &mech, &mlen)) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: AUTHENTICATE PLAIN [initial-response]");
		return;
	}
	if (mlen != 5 || strncasecmp(mech, "PLAIN", 5) != 0) {
		imap_tagged(s, c->tag, "NO", "CANNOT", "Unsupported mechanism; use PLAIN.");
		return;
	}
	if (!plaintext_allowed(s)) {
		imap_tagged(s, c->tag, "NO", "PRIVACYREQUIRED", "Passwords are only accepted over an "
			    "encrypted connection: turn on SSL/TLS in the mail app.");
		return;
	}
	imap_remember_tag(s, c->tag);
	s->cmd = imap_parser_take_command(s->parser);
	if (c->count == 2) {
		const char *ir;
		size_t irlen;
		imap_arg_get_astring(&s->cmd->args[1], &ir, &irlen);
		/* SASL-IR: "=" is an empty initial response. */
		imap_sasl_response(s, ir, irlen == 1 && ir[0] == '=' ? 0 : irlen);
		return;
	}
	s->wait = WAIT_SASL;
	imap_printf(s, "+ ");
}

void imap_cmd_starttls(struct imap_session *s, const struct imap_command *c, bool uid,
		       const struct imap_arg *args, size_t count)
{
	if (s->tls || !s->srv->tls) {
		imap_tagged(s, c->tag, "BAD", NULL, s->tls ? "TLS is already active." : "TLS is not available.");
		return;
	}
	imap_tagged(s, c->tag, "OK", NULL, "Begin TLS negotiation now.");
	s->starttls_pending = true;
	bufferevent_disable(s->bev, EV_READ);
}
