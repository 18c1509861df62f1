/* One IMAP session's connection: reading commands (the parser, an APPEND's message into a
 * spool, the lines of IDLE and AUTHENTICATE), writing replies, STARTTLS and COMPRESS,
 * timeouts, and sleeping between commands. The table in commands.c runs each command; the
 * commands live in cmd_*.c, the sync in sync.c, store jobs in job.c. */
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "imap/commands.h"
#include "imap/session.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/loopwatch.h"
#include "mime/mime.h"
#include "net/conn.h"
#include "net/deflate.h"
#include "net/listen.h"

/* RFC 9051 5.4: an autologout timer of at least 30 minutes. */
#define IMAP_IDLE_SECONDS 1800

static void session_process_input(struct imap_session *s);
static void set_timeouts(struct imap_session *s);
static bool prelogin_account(struct imap_session *s);
static void session_free(struct imap_session *s);
static void session_wake(struct imap_session *s);

/* ---- output ---------------------------------------------------------------------------- */

void imap_write(struct imap_session *s, const char *data, size_t len)
{
	session_wake(s);
	bufferevent_write(s->bev, data, len);
}

void imap_printf(struct imap_session *s, const char *fmt, ...)
{
	struct buf line = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	buf_append(&line, "\r\n", 2);
	imap_write(s, line.data, line.len);
	buf_free(&line);
}

void imap_close_after_reply(struct imap_session *s)
{
	session_wake(s);
	s->wait = WAIT_CLOSE;
	s->state = IMAP_LOGOUT;
	bufferevent_disable(s->bev, EV_READ);
	struct timeval linger = { 5, 0 };
	bufferevent_set_timeouts(s->bev, NULL, &linger);
}

void imap_tagged(struct imap_session *s, const char *tag, const char *status, const char *code,
		 const char *fmt, ...)
{
	struct buf line = BUF_INIT;
	buf_printf(&line, "%s %s ", tag, status);
	if (code)
		buf_printf(&line, "[%s] ", code);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	if (status[0] != 'O') {
		char q[128];
		log_info("event=reply conn=%lu service=imap reply=%s", s->id,
			 log_quote_mode(q, sizeof q, line.data, line.len < 80 ? line.len : 80, true));
	}
	buf_append(&line, "\r\n", 2);
	imap_write(s, line.data, line.len);
	buf_free(&line);
	if (status[0] == 'B' && ++s->errors >= (size_t)s->srv->cfg->max_errors) {
		imap_printf(s, "* BYE Too many errors in this session; closing the connection.");
		imap_close_after_reply(s);
	}
}

/* ---- helpers ---------------------------------------------------------------------------- */

void imap_remember_tag(struct imap_session *s, const char *tag)
{
	free(s->tag);
	s->tag = xstrdup(tag);
}

void imap_command_finished(struct imap_session *s)
{
	imap_command_free(&s->cmd);
	if (s->wait != WAIT_CLOSE) {
		s->wait = WAIT_NONE;
		bufferevent_enable(s->bev, EV_READ);
		session_process_input(s);
	}
}

/* ---- input --------------------------------------------------------------------------- */

/* IDLE's DONE and AUTHENTICATE responses are lines, not commands. */
static void read_line(struct imap_session *s, struct evbuffer *in)
{
	char *line;
	size_t len;
	enum conn_line st = conn_read_line(in, &s->lines, &line, &len);
	if (st != CONN_LINE_OK) {
		if (st == CONN_LINE_TOO_LONG && s->wait == WAIT_SASL) {
			s->wait = WAIT_NONE;
			imap_tagged(s, s->tag, "BAD", NULL, "Authentication response too long.");
			imap_command_free(&s->cmd);
		}
		return;
	}
	if (s->wait == WAIT_IDLE)
		imap_idle_end(s, line);
	else
		imap_sasl_response(s, line, len);
	memset(line, 0, len);
	free(line);
}

static void handle_parse_error(struct imap_session *s)
{
	const struct imap_parse_error *e = imap_parser_error(s->parser);
	const char *code = e->code == IMAP_PARSE_ERR_LIMIT	? "LIMIT"
			   : e->code == IMAP_PARSE_ERR_TOOBIG ? "TOOBIG" : NULL;
	/* A synchronizing literal that is too big is refused with NO (RFC 7888 4); the client
	 * did not send it, so the session goes on. */
	bool refusal = e->code == IMAP_PARSE_ERR_TOOBIG && !e->fatal && e->tag &&
		       strncmp(e->text, "Non-synchronizing", 17) != 0; /* {n+}: BAD (RFC 7888) */
	imap_tagged(s, e->tag ? e->tag : "*", refusal ? "NO" : "BAD", code, "%s", e->text);
	if (e->fatal) {
		imap_printf(s, "* BYE The rest of this input cannot be read safely; closing.");
		imap_close_after_reply(s);
	}
}

static void handle_literal(struct imap_session *s)
{
	const char *name = imap_parser_name(s->parser);
	const char *tag = imap_parser_tag(s->parser);
	uint64_t size = imap_parser_literal_size(s->parser);
	bool append = name && strcasecmp(name, "APPEND") == 0;
	if (append && size > (uint64_t)s->srv->cfg->max_message_size) {
		imap_tagged(s, tag ? tag : "*", "NO", "TOOBIG", "The message is larger than the limit "
			    "of %ld bytes.", s->srv->cfg->max_message_size);
		imap_parser_literal_refuse(s->parser);
		return;
	}
	/* Before login the parser keeps each command under login-max-command; all connections
	 * from one address together stay under login-max-per-ip. */
	if (s->state == IMAP_NOT_AUTH &&
	    conn_limits_held(s->srv->limits, s->ip) + size > (uint64_t)s->srv->cfg->login_max_per_ip) {
		imap_tagged(s, tag ? tag : "*", "NO", "LIMIT", "Your address has too much unfinished "
			    "data on this server before login; log in first.");
		imap_parser_literal_refuse(s->parser);
		return;
	}
	/* After login, a message for APPEND longer than a mailbox name or a date goes to a
	 * spool (a file past spill-threshold) instead of the parser's memory. */
	if (append && s->state != IMAP_NOT_AUTH && size > 1024) {
		if (s->append_ready) {
			imap_tagged(s, tag ? tag : "*", "BAD", NULL, "One message per APPEND.");
			imap_parser_literal_refuse(s->parser);
			spool_reset(&s->append);
			s->append_ready = false;
			return;
		}
		if (spool_memory_total() > (size_t)s->srv->cfg->max_pending_memory) {
			log_warn("event=pending-memory-full conn=%lu service=imap held=%zu", s->id,
				 spool_memory_total());
			imap_tagged(s, tag ? tag : "*", "NO", "LIMIT", "The server is busy receiving "
				    "other mail; try again in a few minutes.");
			imap_parser_literal_refuse(s->parser);
			return;
		}
		imap_printf(s, "+ Ready for literal data");
		imap_parser_literal_outside(s->parser);
		spool_reset(&s->append);
		s->append.threshold = (size_t)s->srv->cfg->spill_threshold;
		s->append_left = size;
		s->append_cr = false;
		s->append_ready = true;
		s->append_lit8 = imap_parser_literal_is8(s->parser);
		s->append_nul = false;
		return;
	}
	imap_printf(s, "+ Ready for literal data");
	imap_parser_literal_accept(s->parser);
}

/* The bytes of an APPEND literal read outside the parser: into the spool, CRLF fixed. */
static void append_read(struct imap_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
		return;
	size_t n = v.iov_len < s->append_left ? v.iov_len : (size_t)s->append_left;
	s->append_left -= n;
	if (!s->append_lit8 && memchr(v.iov_base, '\0', n))
		s->append_nul = true; /* as the parser does for literals it reads */
	mime_normalize_crlf_stream(v.iov_base, n, &s->append_cr, s->append_left == 0,
				   spool_buf(&s->append));
	spool_settle(&s->append); /* a failure is reported by imap_cmd_append */
	evbuffer_drain(in, n);
}

/* The parser exists while commands come; a session in IDLE drops it (see imap_cmd_idle). */
static struct imap_parser *parser_of(struct imap_session *s)
{
	if (!s->parser) {
		struct imap_parser_limits lim;
		imap_parser_limits_default(&lim);
		lim.max_literal = (size_t)s->srv->cfg->max_message_size;
		lim.max_literal_total = lim.max_literal;
		lim.max_line = (size_t)s->srv->cfg->imap_max_line;
		lim.max_depth = (size_t)s->srv->cfg->imap_max_nesting;
		/* A new parser is made at login (imap_session_logged_in). */
		if (s->state == IMAP_NOT_AUTH)
			lim.max_command = (size_t)s->srv->cfg->login_max_command;
		s->parser = imap_parser_new(&lim);
	}
	return s->parser;
}

/* "FETCH" or "UID FETCH": the command's name for the loop-turn watchdog (never arguments). */
static void command_label(const struct imap_command *c, char *out, size_t outlen)
{
	if (strcasecmp(c->name, "UID") == 0 && c->count > 0 && c->args[0].type == IMAP_ARG_ATOM)
		snprintf(out, outlen, "UID %.*s", (int)(c->args[0].len < 20 ? c->args[0].len : 20),
			 c->args[0].str);
	else
		snprintf(out, outlen, "%.24s", c->name);
}

/* Counts what an unauthenticated session's parser holds against its address; false (after
 * BYE) when the address holds more than login-max-per-ip. */
static bool prelogin_account(struct imap_session *s)
{
	size_t now = s->state == IMAP_NOT_AUTH && s->parser ? imap_parser_held(s->parser) : 0;
	if (now == s->prelogin_held)
		return true;
	size_t all = conn_limits_hold(s->srv->limits, s->ip, s->prelogin_held, now);
	s->prelogin_held = now;
	if (s->state != IMAP_NOT_AUTH || all <= (size_t)s->srv->cfg->login_max_per_ip)
		return true;
	log_info("event=prelogin-limit conn=%lu service=imap ip=%s held=%zu", s->id, s->ip, all);
	imap_printf(s, "* BYE Your address has too much unfinished data on this server before "
		    "login; closing.");
	imap_close_after_reply(s);
	return false;
}

static void session_process_input(struct imap_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	while (evbuffer_get_length(in) > 0 && prelogin_account(s)) {
		if (s->starttls_pending || s->compress_pending || s->wait == WAIT_LOGIN ||
		    s->wait == WAIT_JOB ||
		    s->wait == WAIT_CLOSE)
			return;
		if (conn_output_full(s->bev)) {
			s->output_blocked = true;
			return;
		}
		if (s->append_left > 0) {
			append_read(s, in);
			continue;
		}
		if (s->wait == WAIT_IDLE || s->wait == WAIT_SASL) {
			size_t before = evbuffer_get_length(in);
			read_line(s, in);
			if (evbuffer_get_length(in) == before)
				return;
			continue;
		}
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		size_t used = 0;
		enum imap_parse_status st = imap_parser_feed(parser_of(s), v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		switch (st) {
		case IMAP_PARSE_NEED_MORE:
			break;
		case IMAP_PARSE_DONE: {
			const struct imap_command *c = imap_parser_command(s->parser);
			char what[48];
			command_label(c, what, sizeof what);
			uint64_t t0 = loopwatch_begin();
			imap_command_run(s, c);
			loopwatch_end(t0, "IMAP", what, strlen(what), s->id);
			if (s->append_ready) { /* not taken by imap_cmd_append (e.g. a syntax error) */
				spool_reset(&s->append);
				s->append_ready = false;
			}
			if (s->parser)
				imap_parser_release(s->parser);
			break;
		}
		case IMAP_PARSE_LITERAL:
			handle_literal(s);
			break;
		case IMAP_PARSE_ERROR:
			if (s->append_ready) {
				spool_reset(&s->append);
				s->append_ready = false;
			}
			handle_parse_error(s);
			break;
		}
	}
	prelogin_account(s);
}

static void on_read(struct bufferevent *bev, void *ctx)
{
	session_process_input(ctx);
}

static void on_event(struct bufferevent *bev, short what, void *ctx);
static void on_write(struct bufferevent *bev, void *ctx);

/* Before login a silent client holds a connection for nothing: login-timeout. After, RFC 9051
 * 5.4's 30 minutes at least. */
static long idle_seconds(const struct imap_session *s)
{
	if (s->state == IMAP_NOT_AUTH)
		return s->srv->cfg->login_timeout;
	return s->srv->cfg->command_timeout > IMAP_IDLE_SECONDS ? s->srv->cfg->command_timeout
								 : IMAP_IDLE_SECONDS;
}

static void set_timeouts(struct imap_session *s)
{
	struct timeval tv = { idle_seconds(s), 0 };
	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

/* ---- sleeping between commands ----------------------------------------------------------
 * A phone in IDLE may say nothing for half an hour, and a server holds thousands of them. Once
 * a reply has gone out and nothing is buffered either way, a session waiting for its client
 * gives back its bufferevent (about 1 KB with its buffers) and keeps the socket, the TLS state
 * and one event (sleep_ev). The client speaking (a command, DONE, or closing), news to report
 * (imap_write) or the idle timeout wakes it with a new bufferevent around the same socket and
 * SSL. In IDLE it sleeps at once; between other commands after SLEEP_AFTER_MS of quiet (the
 * same event as a timer), so a client issuing command after command does not pay for a new
 * bufferevent each time, while the memory of one that has stopped is soon reused. */

#define SLEEP_AFTER_MS 50

static void on_sleep_event(evutil_socket_t fd, short what, void *ctx)
{
	struct imap_session *s = ctx;
	session_wake(s);
	if (what & EV_TIMEOUT)
		on_event(s->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, s);
	/* else the new bufferevent reads what the client sent */
}

static bool may_sleep(const struct imap_session *s)
{
	return (s->wait == WAIT_IDLE || s->wait == WAIT_NONE) && !s->asleep && s->bev &&
	       !s->starttls_pending && !s->compress_pending && !s->raw_bev && !s->close_timer;
}

static void session_sleep(struct imap_session *s)
{
	if (!may_sleep(s) || !conn_can_sleep(s->bev, s->tls))
		return;
	s->sleep_ssl = conn_sleep(s->bev, s->tls);
	s->bev = NULL;
	s->asleep = true;
	if (s->sleep_ev) { /* the quiet timer becomes the watch on the socket */
		event_del(s->sleep_ev);
		event_assign(s->sleep_ev, s->srv->base, s->fd, EV_READ, on_sleep_event, s);
	} else {
		s->sleep_ev = event_new(s->srv->base, s->fd, EV_READ, on_sleep_event, s);
	}
	struct timeval tv = { idle_seconds(s), 0 };
	event_add(s->sleep_ev, &tv);
}

static void on_quiet(evutil_socket_t fd, short what, void *ctx)
{
	session_sleep(ctx);
}

/* After a reply went out: sleep now (IDLE) or after a quiet spell. */
static void session_sleep_soon(struct imap_session *s)
{
	if (!may_sleep(s))
		return;
	if (s->wait == WAIT_IDLE) {
		session_sleep(s);
		return;
	}
	if (!s->sleep_ev)
		s->sleep_ev = evtimer_new(s->srv->base, on_quiet, s);
	struct timeval tv = { 0, SLEEP_AFTER_MS * 1000 };
	evtimer_add(s->sleep_ev, &tv);
}

static void session_wake(struct imap_session *s)
{
	if (!s->asleep)
		return;
	event_del(s->sleep_ev);
	event_assign(s->sleep_ev, s->srv->base, -1, 0, on_quiet, s); /* a timer again */
	s->asleep = false;
	s->bev = conn_wake(s->srv->base, s->fd, s->sleep_ssl);
	s->sleep_ssl = NULL;
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	set_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void session_start_tls(struct imap_session *s)
{
	s->starttls_pending = false;
	if (s->parser)
		imap_parser_reset(s->parser);
	s->bev = conn_starttls(s->srv->base, s->bev, s->fd, s->srv->tls);
	s->tls = true;
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	set_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void close_when_flushed(evutil_socket_t fd, short what, void *arg)
{
	on_write(NULL, arg);
}

static void on_write(struct bufferevent *bev, void *ctx)
{
	struct imap_session *s = ctx;
	/* libevent also calls this when a write event finds nothing to write (a new bufferevent
	 * right after waking); a reply queued since then is not out yet. */
	if (s->bev && evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
		return;
	if (s->wait == WAIT_CLOSE) {
		/* Under COMPRESS the last reply may still sit in the socket's buffer, and nothing
		 * calls us again when it drains: look again shortly. */
		if (s->raw_bev && evbuffer_get_length(bufferevent_get_output(s->raw_bev)) > 0) {
			struct timeval soon = { 0, 20000 };
			if (!s->close_timer)
				s->close_timer = evtimer_new(s->srv->base, close_when_flushed, s);
			evtimer_add(s->close_timer, &soon);
			return;
		}
		session_free(s);
		return;
	}
	if (s->starttls_pending) {
		session_start_tls(s);
		return;
	}
	if (s->compress_pending) {
		s->compress_pending = false;
		struct bufferevent *z = net_deflate_wrap(s->bev);
		if (!z) {
			imap_printf(s, "* BYE Compression could not start.");
			imap_close_after_reply(s);
			return;
		}
		s->raw_bev = s->bev;
		s->bev = z;
		s->compressed = true;
		bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
		bufferevent_enable(s->bev, EV_READ | EV_WRITE);
		return;
	}
	if (s->reading) {
		imap_read_output_drained(s);
		return;
	}
	if (s->output_blocked) {
		s->output_blocked = false;
		bufferevent_enable(s->bev, EV_READ);
		session_process_input(s);
	}
	session_sleep_soon(s);
}

static void on_event(struct bufferevent *bev, short what, void *ctx)
{
	struct imap_session *s = ctx;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & BEV_EVENT_TIMEOUT) && s->wait != WAIT_CLOSE) {
		if (s->state == IMAP_NOT_AUTH)
			imap_printf(s, "* BYE No login within %ld seconds; closing the connection.",
				    s->srv->cfg->login_timeout);
		else
			imap_printf(s, "* BYE Autologout: idle for too long.");
		imap_close_after_reply(s);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && s->tls) {
		unsigned long e = bufferevent_get_openssl_error(s->raw_bev ? s->raw_bev : bev);
		if (e) {
			char text[200];
			ERR_error_string_n(e, text, sizeof text);
			log_info("event=tls-error conn=%lu service=imap ip=%s error=%s", s->id, s->ip,
				 log_qstr(text));
		}
	}
	session_free(s);
}

static void session_free(struct imap_session *s)
{
	struct imap_server *srv = s->srv;
	login_cancel(srv->login, s);
	committer_cancel(srv->writer, s);
	imap_read_cancel(s);
	log_info("event=disconnect conn=%lu service=imap ip=%s errors=%zu", s->id, s->ip, s->errors);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	conn_limits_hold(srv->limits, s->ip, s->prelogin_held, 0);
	conn_limits_remove(srv->limits, s->ip, false);
	/* The COMPRESS filter frees the bufferevent under it. */
	conn_free(s->bev, s->raw_bev, s->tls);
	if (s->sleep_ev)
		event_free(s->sleep_ev);
	if (s->asleep)
		SSL_free(s->sleep_ssl);
	if (s->close_timer)
		event_free(s->close_timer);
	close(s->fd);
	imap_command_free(&s->cmd);
	imap_parser_free(&s->parser);
	spool_free(&s->append);
	uidmap_clear(&s->uids);
	free(s->saved);
	free(s->silent);
	free(s->user);
	free(s->tag);
	free(s->mbox.name);
	free(s);
}

void imap_session_logged_in(struct imap_session *s)
{
	if (s->bev)
		set_timeouts(s); /* from login-timeout to the idle timeout */
	/* The pre-login parser (login-max-command) holds nothing between commands; the
	 * next command gets one with the full limits. */
	imap_parser_free(&s->parser);
	prelogin_account(s);
}

void imap_server_accept(struct imap_server *srv, int fd, const struct sockaddr *peer,
			bool implicit_tls)
{
	struct imap_session *s = xcalloc(1, sizeof *s);
	s->srv = srv;
	s->fd = fd;
	s->id = ++srv->limits->last_id;
	net_addr_text(peer, s->ip, sizeof s->ip);
	line_reader_init(&s->lines, 8192);
	spool_init(&s->append, srv->spool_dir, (size_t)srv->cfg->spill_threshold);
	s->tls = implicit_tls && srv->tls;
	s->bev = conn_open(srv->base, fd, s->tls ? srv->tls : NULL);
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	set_timeouts(s);
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	size_t from_ip = conn_limits_add(srv->limits, s->ip, false);
	log_info("event=connect conn=%lu service=imap ip=%s tls=%s", s->id, s->ip,
		 s->tls ? "yes" : "no");
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	if (implicit_tls && !srv->tls) {
		imap_close_after_reply(s);
		return;
	}
	if (srv->draining ||
	    conn_limits_over(srv->limits, false, (size_t)srv->cfg->max_connections,
			     (size_t)srv->cfg->smtp_reserved_connections) ||
	    from_ip > (size_t)srv->cfg->max_connections_per_ip) {
		imap_printf(s, "* BYE [UNAVAILABLE] %s; try again later.",
			    srv->draining ? "Server shutting down" : "Too many connections");
		imap_close_after_reply(s);
		return;
	}
	struct buf caps = BUF_INIT;
	imap_capability_list(s, &caps);
	imap_printf(s, "* OK [CAPABILITY %s] %s yubin IMAP ready.", caps.data, srv->cfg->hostname);
	buf_free(&caps);
}

size_t imap_server_drain(struct imap_server *srv)
{
	srv->draining = true;
	struct imap_session *next;
	for (struct imap_session *s = srv->sessions; s; s = next) {
		next = s->next;
		/* A read is dropped at once (nothing is lost); a write is waited for. */
		if (s->reading) {
			imap_read_cancel(s);
			s->wait = WAIT_NONE;
		}
		if (s->wait != WAIT_CLOSE && s->wait != WAIT_JOB) {
			imap_printf(s, "* BYE Server shutting down.");
			imap_close_after_reply(s);
		}
	}
	size_t open = 0;
	for (struct imap_session *s = srv->sessions; s; s = s->next)
		open++;
	return open;
}

void imap_server_close_all(struct imap_server *srv)
{
	while (srv->sessions)
		session_free(srv->sessions);
}
