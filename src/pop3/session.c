/* One POP3 session: AUTHORIZATION → TRANSACTION → UPDATE (RFC 1939 section 3). */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/sasl.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/linereader.h"
#include "lib/log.h"
#include "lib/loopwatch.h"
#include "net/conn.h"
#include "net/listen.h"
#include "pop3/parse.h"
#include "pop3/server.h"

/* Lines longer than a command may come as SASL responses; the parser applies 255 to commands. */
#define POP3_LINE_MAX 2048
/* RFC 1939 3: an autologout timer of at least 10 minutes. */
#define POP3_MIN_IDLE_SECONDS 600

enum pop3_state {
	ST_AUTHORIZATION,
	ST_SASL_PLAIN,   /* AUTH PLAIN sent without initial response: waiting for it */
	ST_LOGIN_WAIT,   /* password being checked; input paused */
	ST_TRANSACTION,
	ST_UPDATE_WAIT,  /* deletions being written; input paused */
	ST_CLOSING,
};

struct pop3_message {
	struct maildrop_entry e;
	bool deleted;
};

struct pop3_session {
	struct pop3_server *srv;
	struct pop3_session *next, *prev;
	struct bufferevent *bev;
	int fd;
	unsigned long id;
	char ip[64];
	enum pop3_state state;
	struct line_reader lines;
	bool tls, stls_pending, output_blocked;
	char user[256];
	size_t errors;
	/* after login */
	int64_t account_id, device_id;
	char device_label[128];
	bool expunge_policy;
	struct pop3_message *msgs;
	size_t nmsgs;
	size_t retrieved, deleted_count;
};

struct update_job {
	struct store_job job;
	int64_t account_id, device_id;
	int64_t *ids;
	size_t n;
	bool expunge;
	bool ok;
	char *error;
};

static void session_process_input(struct pop3_session *s);
static void session_free(struct pop3_session *s);

static void set_timeouts(struct pop3_session *s);

static struct config *cfg(struct pop3_session *s)
{
	return s->srv->cfg;
}

static void send_line(struct pop3_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void send_line(struct pop3_session *s, const char *fmt, ...)
{
	struct buf line = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	if (line.len && line.data[0] == '-') {
		char q[128];
		log_info("event=reply conn=%lu service=pop3 reply=%s", s->id,
			 log_quote_mode(q, sizeof q, line.data, line.len < 60 ? line.len : 60, true));
	}
	buf_append(&line, "\r\n", 2);
	bufferevent_write(s->bev, line.data, line.len);
	buf_free(&line);
}

static void close_after_reply(struct pop3_session *s)
{
	s->state = ST_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	struct timeval linger = { 5, 0 };
	bufferevent_set_timeouts(s->bev, NULL, &linger);
}

/* Sends -ERR and counts it; too many errors closes the session. */
static void error_reply(struct pop3_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void error_reply(struct pop3_session *s, const char *fmt, ...)
{
	struct buf text = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	send_line(s, "-ERR %s", text.data);
	buf_free(&text);
	if (++s->errors >= (size_t)cfg(s)->max_errors) {
		send_line(s, "-ERR Too many errors in this session (%zu); closing the connection.",
			  s->errors);
		close_after_reply(s);
	}
}

static bool plaintext_allowed(struct pop3_session *s)
{
	const char *mode = cfg(s)->plaintext_auth;
	if (s->tls || strcmp(mode, "always") == 0)
		return true;
	return strcmp(mode, "loopback") == 0 && net_ip_is_loopback(s->ip);
}

static bool device_busy(struct pop3_server *srv, int64_t device_id)
{
	for (size_t i = 0; i < srv->nbusy; i++)
		if (srv->busy_devices[i] == device_id)
			return true;
	return false;
}

static void device_release(struct pop3_server *srv, int64_t device_id)
{
	for (size_t i = 0; i < srv->nbusy; i++)
		if (srv->busy_devices[i] == device_id) {
			srv->busy_devices[i] = srv->busy_devices[--srv->nbusy];
			return;
		}
}

static void cmd_capa(struct pop3_session *s)
{
	struct buf r = BUF_INIT;
	buf_append_str(&r, "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
			   "AUTH-RESP-CODE\r\nPIPELINING\r\n");
	if (s->state == ST_AUTHORIZATION) {
		if (plaintext_allowed(s))
			buf_append_str(&r, "USER\r\nSASL PLAIN\r\n");
		if (!s->tls && s->srv->tls)
			buf_append_str(&r, "STLS\r\n");
	}
	buf_append_str(&r, "IMPLEMENTATION yubin\r\n.\r\n");
	bufferevent_write(s->bev, r.data, r.len);
	buf_free(&r);
}

/* The password this session logged in with was revoked or changed (login_watch). Nothing
 * is deleted: deletions count only after QUIT. */
static bool login_revoked(void *ctx)
{
	struct pop3_session *s = ctx;
	if (s->state == ST_UPDATE_WAIT)
		return false; /* its QUIT is being written; it closes by itself */
	if (s->state != ST_CLOSING) {
		send_line(s, "-ERR [AUTH] " LOGIN_REVOKED_TEXT);
		close_after_reply(s);
	}
	return true;
}

static void login_done(void *ctx, const struct login_outcome *o)
{
	struct pop3_session *s = ctx;
	s->state = ST_AUTHORIZATION;
	bufferevent_enable(s->bev, EV_READ);
	switch (o->result) {
	case LOGIN_OK:
		break;
	case LOGIN_ACCOUNT_PASSWORD_OFF:
		error_reply(s, "[AUTH] The account password is turned off for mail apps on this "
			    "account; use this device's app password (your administrator can make one).");
		goto resume;
	case LOGIN_TEMPFAIL:
		send_line(s, "-ERR [SYS/TEMP] Too many failed logins from your address or for this "
			  "account just now; try again in a minute.");
		goto resume;
	case LOGIN_UNAVAILABLE:
		send_line(s, "-ERR [SYS/TEMP] The server cannot check passwords just now (a storage "
			  "problem); try again in a few minutes.");
		goto resume;
	default:
		error_reply(s, "[AUTH] Wrong user name or password. Use your full mail address as user "
			    "name; check the password or app password of this device.");
		goto resume;
	}
	if (device_busy(s->srv, o->device_id)) {
		send_line(s, "-ERR [IN-USE] Another POP3 session of this device (%s) is still open; "
			  "close the other mail program or wait a minute, then try again.",
			  o->device_label);
		goto resume;
	}
	struct maildrop_entry *entries;
	size_t n;
	if (s->srv->store->ops->pop3_maildrop(s->srv->store, o->account_id, o->device_id, &entries,
					      &n) != STORE_OK) {
		send_line(s, "-ERR [SYS/TEMP] The mailbox cannot be opened just now; try again later.");
		goto resume;
	}
	s->srv->busy_devices = xrealloc(s->srv->busy_devices,
					(s->srv->nbusy + 1) * sizeof *s->srv->busy_devices);
	s->srv->busy_devices[s->srv->nbusy++] = o->device_id;
	s->account_id = o->account_id;
	s->device_id = o->device_id;
	snprintf(s->device_label, sizeof s->device_label, "%s", o->device_label);
	const char *policy = o->pop3_delete[0] ? o->pop3_delete : cfg(s)->pop3_delete;
	s->expunge_policy = strcmp(policy, "expunge") == 0;
	s->msgs = xcalloc(n ? n : 1, sizeof *s->msgs);
	int64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		s->msgs[i].e = entries[i];
		total += entries[i].size;
	}
	s->nmsgs = n;
	free(entries);
	s->state = ST_TRANSACTION;
	set_timeouts(s);
	login_watch(s->srv->login, o, login_revoked, s);
	send_line(s, "+OK Logged in as %s (%s): %zu message%s (%lld octets).", s->user,
		  s->device_label, n, n == 1 ? "" : "s", (long long)total);
resume:
	session_process_input(s);
}

static void start_login(struct pop3_session *s, const char *user, const char *password)
{
	snprintf(s->user, sizeof s->user, "%s", user);
	s->state = ST_LOGIN_WAIT;
	bufferevent_disable(s->bev, EV_READ);
	login_start(s->srv->login, user, password, s->ip, "pop3", s->tls, login_done, s);
}

static void sasl_plain_response(struct pop3_session *s, const char *b64, size_t len)
{
	s->state = ST_AUTHORIZATION;
	if (len == 1 && b64[0] == '*') {
		error_reply(s, "[AUTH] Authentication cancelled.");
		return;
	}
	struct sasl_plain p;
	const char *why;
	if (!sasl_plain_decode(b64, len, &p, &why)) {
		error_reply(s, "[AUTH] %s", why);
		return;
	}
	if (p.authzid[0] && strcmp(p.authzid, p.authcid) != 0) {
		error_reply(s, "[AUTH] Logging in as another user (authorization identity) is not "
			    "supported.");
		return;
	}
	start_login(s, p.authcid, p.password);
	memset(&p, 0, sizeof p);
}

static void cmd_auth(struct pop3_session *s, const struct pop3_command *c)
{
	if (c->arg_len == 0) {
		/* RFC 1734 clients ask for the list with a bare AUTH. */
		send_line(s, "+OK Mechanisms follow\r\nPLAIN\r\n.");
		return;
	}
	size_t mlen = 0;
	while (mlen < c->arg_len && c->arg[mlen] != ' ')
		mlen++;
	if (mlen != 5 || strncasecmp(c->arg, "PLAIN", 5) != 0) {
		error_reply(s, "[AUTH] Unsupported authentication mechanism; use PLAIN.");
		return;
	}
	if (!plaintext_allowed(s)) {
		error_reply(s, "[AUTH] Passwords are only accepted over an encrypted connection: turn on "
			    "SSL/TLS in the mail app's account settings (port 995, or STARTTLS on 110).");
		return;
	}
	if (mlen < c->arg_len) {
		sasl_plain_response(s, c->arg + mlen + 1, c->arg_len - mlen - 1);
		return;
	}
	s->state = ST_SASL_PLAIN;
	send_line(s, "+ ");
}

static struct pop3_message *message_arg(struct pop3_session *s, const struct pop3_command *c)
{
	if (c->msg == 0 || c->msg > s->nmsgs) {
		error_reply(s, "There is no message %lu; this mailbox has %zu (see LIST).", c->msg,
			    s->nmsgs);
		return NULL;
	}
	struct pop3_message *m = &s->msgs[c->msg - 1];
	if (m->deleted) {
		error_reply(s, "Message %lu was deleted in this session (RSET undeletes).", c->msg);
		return NULL;
	}
	return m;
}

static void cmd_retr_top(struct pop3_session *s, const struct pop3_command *c)
{
	struct pop3_message *m = message_arg(s, c);
	if (!m)
		return;
	struct buf data = BUF_INIT;
	if (s->srv->store->ops->message_read(s->srv->store, m->e.message_id, &data) != STORE_OK) {
		send_line(s, "-ERR [SYS/TEMP] Message %lu cannot be read just now; try again later.",
			  c->msg);
		buf_free(&data);
		return;
	}
	struct buf out = BUF_INIT;
	if (c->verb == POP3_RETR)
		buf_printf(&out, "+OK %lld octets\r\n", (long long)m->e.size);
	else
		buf_append_str(&out, "+OK Top of message follows\r\n");
	pop3_format_message(data.data, data.len, c->verb == POP3_TOP ? (long)c->lines : -1, &out);
	bufferevent_write(s->bev, out.data, out.len);
	if (c->verb == POP3_RETR)
		s->retrieved++;
	buf_free(&out);
	buf_free(&data);
}

static void cmd_list_uidl(struct pop3_session *s, const struct pop3_command *c)
{
	bool uidl = c->verb == POP3_UIDL;
	if (c->has_msg) {
		struct pop3_message *m = message_arg(s, c);
		if (!m)
			return;
		if (uidl)
			send_line(s, "+OK %lu %lld.%lld", c->msg, (long long)m->e.uidvalidity,
				  (long long)m->e.uid);
		else
			send_line(s, "+OK %lu %lld", c->msg, (long long)m->e.size);
		return;
	}
	struct buf out = BUF_INIT;
	buf_append_str(&out, uidl ? "+OK Unique ids follow\r\n" : "+OK Message sizes follow\r\n");
	for (size_t i = 0; i < s->nmsgs; i++) {
		const struct pop3_message *m = &s->msgs[i];
		if (m->deleted)
			continue;
		if (uidl)
			buf_printf(&out, "%zu %lld.%lld\r\n", i + 1, (long long)m->e.uidvalidity,
				   (long long)m->e.uid);
		else
			buf_printf(&out, "%zu %lld\r\n", i + 1, (long long)m->e.size);
	}
	buf_append_str(&out, ".\r\n");
	bufferevent_write(s->bev, out.data, out.len);
	buf_free(&out);
}

static void update_job_run(struct store *st, struct store_job *job)
{
	struct update_job *u = (struct update_job *)job;
	struct buf err = BUF_INIT;
	u->ok = st->ops->pop3_delete(st, u->account_id, u->device_id, u->ids, u->n, u->expunge,
				     clock_now(), &err);
	if (!u->ok)
		u->error = buf_steal(&err, NULL);
	buf_free(&err);
}

static void update_job_done(struct store_job *job)
{
	struct update_job *u = (struct update_job *)job;
	struct pop3_session *s = job->ctx;
	if (s) {
		if (u->ok && job->lost)
			u->error = xstrdup("the transaction could not be committed");
		if (u->ok && !job->lost) {
			send_line(s, "+OK Goodbye; %zu message%s deleted%s.", u->n, u->n == 1 ? "" : "s",
				  u->expunge ? "" : " for this device (the account's other devices keep "
				  "them until they delete them too)");
		} else {
			log_error("event=pop3-update-failed conn=%lu error=%s", s->id, log_qstr(u->error));
			send_line(s, "-ERR [SYS/TEMP] The deletions could not be saved; the messages are "
				  "still there. Try again later.");
		}
		close_after_reply(s);
	}
	free(u->ids);
	free(u->error);
	free(u);
}

static void cmd_quit(struct pop3_session *s)
{
	if (s->state != ST_TRANSACTION || s->deleted_count == 0) {
		send_line(s, "+OK Goodbye.");
		close_after_reply(s);
		return;
	}
	struct update_job *u = xcalloc(1, sizeof *u);
	u->job.run = update_job_run;
	u->job.done = update_job_done;
	u->job.ctx = s;
	u->job.changes_mailboxes = true;
	u->job.group = true;
	u->account_id = s->account_id;
	u->device_id = s->device_id;
	u->expunge = s->expunge_policy;
	u->ids = xcalloc(s->deleted_count, sizeof *u->ids);
	for (size_t i = 0; i < s->nmsgs; i++)
		if (s->msgs[i].deleted)
			u->ids[u->n++] = s->msgs[i].e.message_id;
	s->state = ST_UPDATE_WAIT;
	bufferevent_disable(s->bev, EV_READ);
	committer_submit_job(s->srv->writer, &u->job);
}

static void cmd_stls(struct pop3_session *s)
{
	if (s->tls || !s->srv->tls) {
		error_reply(s, s->tls ? "TLS is already active." : "TLS is not available.");
		return;
	}
	send_line(s, "+OK Begin TLS negotiation.");
	/* Anything pipelined after STLS is discarded, never read as plaintext. */
	s->stls_pending = true;
	bufferevent_disable(s->bev, EV_READ);
}

static void run_authorization(struct pop3_session *s, const struct pop3_command *c)
{
	switch (c->verb) {
	case POP3_USER:
	case POP3_PASS:
		if (!plaintext_allowed(s)) {
			error_reply(s, "[AUTH] Passwords are only accepted over an encrypted connection: turn "
				    "on SSL/TLS in the mail app's account settings (port 995, or STARTTLS on "
				    "110).");
			return;
		}
		if (c->verb == POP3_USER) {
			snprintf(s->user, sizeof s->user, "%.*s", (int)c->arg_len, c->arg);
			send_line(s, "+OK Now send the password with PASS.");
			return;
		}
		if (!s->user[0]) {
			error_reply(s, "Send USER with your mail address first.");
			return;
		}
		{
			char password[256];
			snprintf(password, sizeof password, "%.*s", (int)c->arg_len, c->arg);
			char user[256];
			snprintf(user, sizeof user, "%s", s->user);
			start_login(s, user, password);
			memset(password, 0, sizeof password);
		}
		return;
	case POP3_AUTH:
		cmd_auth(s, c);
		return;
	case POP3_STLS:
		cmd_stls(s);
		return;
	case POP3_APOP:
		error_reply(s, "[AUTH] APOP is not supported; use USER/PASS or AUTH PLAIN over TLS.");
		return;
	default:
		error_reply(s, "Log in first (USER and PASS, or AUTH PLAIN).");
		return;
	}
}

static void run_transaction(struct pop3_session *s, const struct pop3_command *c)
{
	switch (c->verb) {
	case POP3_STAT: {
		size_t n = 0;
		long long size = 0;
		for (size_t i = 0; i < s->nmsgs; i++)
			if (!s->msgs[i].deleted) {
				n++;
				size += s->msgs[i].e.size;
			}
		send_line(s, "+OK %zu %lld", n, size);
		return;
	}
	case POP3_LIST:
	case POP3_UIDL:
		cmd_list_uidl(s, c);
		return;
	case POP3_RETR:
	case POP3_TOP:
		cmd_retr_top(s, c);
		return;
	case POP3_DELE: {
		struct pop3_message *m = message_arg(s, c);
		if (!m)
			return;
		m->deleted = true;
		s->deleted_count++;
		send_line(s, "+OK Message %lu deleted.", c->msg);
		return;
	}
	case POP3_RSET:
		for (size_t i = 0; i < s->nmsgs; i++)
			s->msgs[i].deleted = false;
		s->deleted_count = 0;
		send_line(s, "+OK %zu messages kept.", s->nmsgs);
		return;
	default:
		error_reply(s, "Already logged in; that command belongs before login.");
		return;
	}
}

static void run_command(struct pop3_session *s, const char *line, size_t len)
{
	if (s->state == ST_SASL_PLAIN) {
		sasl_plain_response(s, line, len);
		return;
	}
	struct pop3_command c;
	const char *err;
	if (!pop3_parse_command(line, len, &c, &err)) {
		error_reply(s, "%s", err);
		return;
	}
	switch (c.verb) {
	case POP3_CAPA:
		cmd_capa(s);
		return;
	case POP3_NOOP:
		send_line(s, "+OK");
		return;
	case POP3_QUIT:
		cmd_quit(s);
		return;
	default:
		break;
	}
	if (s->state == ST_TRANSACTION)
		run_transaction(s, &c);
	else
		run_authorization(s, &c);
}

static void session_process_input(struct pop3_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	while (evbuffer_get_length(in) > 0) {
		if ((s->state != ST_AUTHORIZATION && s->state != ST_TRANSACTION &&
		     s->state != ST_SASL_PLAIN) || s->stls_pending)
			return;
		if (conn_output_full(s->bev)) {
			s->output_blocked = true;
			return;
		}
		char *line;
		size_t len;
		enum conn_line st = conn_read_line(in, &s->lines, &line, &len);
		if (st == CONN_LINE_NONE)
			return;
		if (st == CONN_LINE_TOO_LONG) {
			error_reply(s, "Command line too long (the limit is 255 bytes).");
			continue;
		}
		/* A SASL response is a credential: the watchdog names it, never shows it. */
		bool sasl = s->state == ST_SASL_PLAIN;
		unsigned long id = s->id; /* s may be gone when the command returns */
		uint64_t t0 = loopwatch_begin();
		run_command(s, line, len);
		loopwatch_end(t0, "POP3", sasl ? "AUTH response" : line,
			      sasl ? 13 : loopwatch_verb_len(line, len), id);
		memset(line, 0, len); /* it may have held a password */
		free(line);
	}
}

static void on_read(struct bufferevent *bev, void *ctx)
{
	session_process_input(ctx);
}

static void on_event(struct bufferevent *bev, short what, void *ctx);
static void on_write(struct bufferevent *bev, void *ctx);

/* Before login: login-timeout. After: RFC 1939 3's ten minutes at least. */
static void set_timeouts(struct pop3_session *s)
{
	long idle = cfg(s)->login_timeout;
	if (s->account_id) /* logged in */
		idle = cfg(s)->command_timeout > POP3_MIN_IDLE_SECONDS ? cfg(s)->command_timeout
								       : POP3_MIN_IDLE_SECONDS;
	struct timeval tv = { idle, 0 };
	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

static void session_start_tls(struct pop3_session *s)
{
	s->stls_pending = false;
	s->bev = conn_starttls(s->srv->base, s->bev, s->fd, s->srv->tls);
	s->tls = true;
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	set_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->user[0] = '\0';
}

static void on_write(struct bufferevent *bev, void *ctx)
{
	struct pop3_session *s = ctx;
	if (s->state == ST_CLOSING) {
		session_free(s);
		return;
	}
	if (s->stls_pending) {
		session_start_tls(s);
		return;
	}
	if (s->output_blocked) {
		s->output_blocked = false;
		bufferevent_enable(s->bev, EV_READ);
		session_process_input(s);
	}
}

static void on_event(struct bufferevent *bev, short what, void *ctx)
{
	struct pop3_session *s = ctx;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & BEV_EVENT_TIMEOUT) && s->state != ST_CLOSING) {
		if (s->account_id)
			send_line(s, "-ERR Autologout: no command for too long; closing the "
				  "connection.");
		else
			send_line(s, "-ERR No login within %ld seconds; closing the connection.",
				  cfg(s)->login_timeout);
		close_after_reply(s);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && s->tls) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e) {
			char text[200];
			ERR_error_string_n(e, text, sizeof text);
			log_info("event=tls-error conn=%lu service=pop3 ip=%s error=%s", s->id, s->ip,
				 log_qstr(text));
		}
	}
	/* The client left: nothing is deleted (RFC 1939: UPDATE only after QUIT). */
	session_free(s);
}

static void session_free(struct pop3_session *s)
{
	struct pop3_server *srv = s->srv;
	login_cancel(srv->login, s);
	committer_cancel(srv->writer, s);
	if (s->device_id)
		device_release(srv, s->device_id);
	log_info("event=disconnect conn=%lu service=pop3 ip=%s retrieved=%zu deleted=%zu errors=%zu",
		 s->id, s->ip, s->retrieved, s->deleted_count, s->errors);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	conn_limits_remove(srv->limits, s->ip, false);
	conn_free(s->bev, NULL, s->tls);
	close(s->fd);
	free(s->msgs);
	free(s);
}

void pop3_server_accept(struct pop3_server *srv, int fd, const struct sockaddr *peer,
			bool implicit_tls)
{
	struct pop3_session *s = xcalloc(1, sizeof *s);
	s->srv = srv;
	s->fd = fd;
	s->id = ++srv->limits->last_id;
	net_addr_text(peer, s->ip, sizeof s->ip);
	line_reader_init(&s->lines, POP3_LINE_MAX);
	s->tls = implicit_tls && srv->tls;
	s->bev = conn_open(srv->base, fd, s->tls ? srv->tls : NULL);
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	set_timeouts(s);
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	size_t from_ip = conn_limits_add(srv->limits, s->ip, false);
	log_info("event=connect conn=%lu service=pop3 ip=%s tls=%s", s->id, s->ip,
		 s->tls ? "yes" : "no");
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	if (implicit_tls && !srv->tls) {
		/* No certificate: nothing sensible can be said on a TLS port. */
		close_after_reply(s);
		return;
	}
	if (srv->draining ||
	    conn_limits_over(srv->limits, false, (size_t)srv->cfg->max_connections,
			     (size_t)srv->cfg->smtp_reserved_connections) ||
	    from_ip > (size_t)srv->cfg->max_connections_per_ip) {
		send_line(s, "-ERR [SYS/TEMP] %s; try again later.",
			  srv->draining ? "Server shutting down" : "Too many connections");
		close_after_reply(s);
		return;
	}
	send_line(s, "+OK %s yubin POP3 ready.", srv->cfg->hostname);
}

size_t pop3_server_drain(struct pop3_server *srv)
{
	srv->draining = true;
	struct pop3_session *next;
	for (struct pop3_session *s = srv->sessions; s; s = next) {
		next = s->next;
		/* Sessions writing their deletions finish first (update_job_done closes them). */
		if (s->state != ST_CLOSING && s->state != ST_UPDATE_WAIT) {
			send_line(s, "-ERR [SYS/TEMP] Server shutting down; nothing was deleted.");
			close_after_reply(s);
		}
	}
	size_t open = 0;
	for (struct pop3_session *s = srv->sessions; s; s = s->next)
		open++;
	return open;
}

void pop3_server_close_all(struct pop3_server *srv)
{
	while (srv->sessions)
		session_free(srv->sessions);
}
