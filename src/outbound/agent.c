#include "outbound/agent.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "deliver/route.h"
#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/linereader.h"
#include "net/conn.h"
#include "lib/log.h"
#include "outbound/dns.h"
#include "auth/sasl.h"
#include "outbound/dsn.h"
#include "smtp/parse.h"

#define MAX_ACTIVE 16
#define CONNECT_TIMEOUT 30
#define REPLY_TIMEOUT 300
#define MAX_REPLY 65536 /* bytes of one multi-line reply we keep */

struct outbound {
	struct event_base *base;
	struct config *const *cfg;
	struct store *store;
	struct committer *writer;
	struct dns_resolver *dns;
	SSL_CTX *tls;
	char *default_domain;
	struct event *timer;
	struct attempt *active;
	size_t nactive;
};

enum attempt_state {
	A_RESOLVING, A_CONNECTING, A_GREETING, A_EHLO, A_HELO, A_STARTTLS, A_AUTH, A_MAIL, A_RCPT,
	A_DATA, A_BODY, A_QUIT,
};

/* What became of one recipient in this attempt. */
struct rcpt_result {
	int code;      /* 0: no answer yet */
	bool from_server; /* the code came from the remote server, not from us */
	char *reply;   /* the server's words */
	char status[16];
};

struct attempt {
	struct outbound *ob;
	struct attempt *next;
	struct queue_entry e;
	struct buf msg;
	struct dns_mx *mx;
	size_t nmx, mx_i;
	bool implicit_mx;
	char **addrs;
	size_t naddrs, addr_i;
	char host[256];
	struct bufferevent *bev;
	int fd;
	bool tls;
	enum attempt_state state;
	struct line_reader lines;
	struct buf reply;          /* the reply being read, all lines joined */
	bool ext_starttls, ext_8bit, ext_smtputf8, ext_auth;
	bool smarthost;            /* relaying through the configured smarthost */
	int port;
	long long size_limit;
	size_t rcpt_i;
	bool finished;             /* outcome recorded; freed once the callbacks have returned */
	struct rcpt_result *results;
	char *last_error;          /* why the last address did not work */
};

static struct config *cfg(struct outbound *ob)
{
	return *ob->cfg;
}

static void attempt_try_address(struct attempt *a);
static void attempt_finish(struct attempt *a);

/* ---- results ------------------------------------------------------------------------- */

static void status_of_reply(int code, const char *text, char *status, size_t len)
{
	/* The enhanced status the server gave, or one made from the basic code. */
	if (text && text[0] >= '2' && text[0] <= '5' && text[1] == '.') {
		size_t n = strcspn(text, " ");
		snprintf(status, len, "%.*s", (int)(n < len - 1 ? n : len - 1), text);
		return;
	}
	snprintf(status, len, "%d.0.0", code / 100);
}

static void set_result(struct rcpt_result *r, int code, const char *reply)
{
	r->code = code;
	r->from_server = false;
	free(r->reply);
	r->reply = xstrdup(reply);
	const char *text = strchr(reply, ' ');
	status_of_reply(code, text ? text + 1 : NULL, r->status, sizeof r->status);
}

/* Every recipient still without a final answer gets this one. */
static void set_pending(struct attempt *a, int code, const char *reply, const char *status)
{
	for (size_t i = 0; i < a->e.nrcpts; i++)
		if (a->results[i].code == 0 || (a->results[i].code >= 200 && a->results[i].code < 300 &&
						 a->state <= A_BODY && code >= 400)) {
			set_result(&a->results[i], code, reply);
			if (status)
				snprintf(a->results[i].status, sizeof a->results[i].status, "%s", status);
		}
}

static void fail_all(struct attempt *a, int code, const char *status, const char *why)
{
	char reply[600];
	snprintf(reply, sizeof reply, "%d %s %s", code, status, why);
	for (size_t i = 0; i < a->e.nrcpts; i++) {
		set_result(&a->results[i], code, reply);
		snprintf(a->results[i].status, sizeof a->results[i].status, "%s", status);
	}
	attempt_finish(a);
}

/* ---- SMTP client ----------------------------------------------------------------------- */

static void send_line(struct attempt *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void send_line(struct attempt *a, const char *fmt, ...)
{
	struct buf line = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	buf_append(&line, "\r\n", 2);
	bufferevent_write(a->bev, line.data, line.len);
	buf_free(&line);
}

/* Bufferevents own their socket (BEV_OPT_CLOSE_ON_FREE) and, for TLS, their SSL: libevent
 * closes the descriptor after it has forgotten it. */
static void close_connection(struct attempt *a)
{
	if (a->bev)
		bufferevent_free(a->bev);
	a->bev = NULL;
	a->fd = -1;
	a->tls = false;
}

static void quit_answered(struct bufferevent *bev, void *ctx)
{
	bufferevent_free(bev);
}

static void quit_event(struct bufferevent *bev, short what, void *ctx)
{
	bufferevent_free(bev);
}

/* RFC 5321 4.1.1.10: say QUIT, and close when the server answers or hangs up (a few seconds
 * at most). Waiting for the answer, not for our write, also works under TLS, where "written"
 * only means handed to the TLS layer. */
static void quit_and_close(struct attempt *a)
{
	if (!a->bev)
		return;
	struct bufferevent *bev = a->bev;
	a->bev = NULL;
	a->fd = -1;
	a->tls = false;
	evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
	bufferevent_setcb(bev, quit_answered, NULL, quit_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	struct timeval tv = { 5, 0 };
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_write(bev, "QUIT\r\n", 6);
}

/* This address did not work: remember why and go on with the next. */
static void next_address(struct attempt *a, const char *why)
{
	free(a->last_error);
	a->last_error = xstrdup(why);
	log_info("event=outbound-try-failed queue=%lld host=%s addr=%s error=\"%s\"",
		 (long long)a->e.id, a->host, a->addr_i < a->naddrs ? a->addrs[a->addr_i] : "-", why);
	close_connection(a);
	a->addr_i++;
	attempt_try_address(a);
}

/* The message as it goes out: without our Return-Path line, dot-stuffed, CRLF, final dot. */
static void send_body(struct attempt *a)
{
	const char *p = a->msg.data ? a->msg.data : "", *end = p + a->msg.len;
	if (a->msg.len > 12 && strncasecmp(p, "Return-Path:", 12) == 0) {
		const char *nl = memchr(p, '\n', a->msg.len);
		if (nl)
			p = nl + 1;
	}
	struct buf out = BUF_INIT;
	buf_reserve(&out, (size_t)(end - p) + (size_t)(end - p) / 50 + 8);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t text = len && p[len - 1] == '\r' ? len - 1 : len;
		if (text && p[0] == '.')
			buf_append_char(&out, '.');
		buf_append(&out, p, text);
		buf_append(&out, "\r\n", 2);
		p += len + (nl ? 1 : 0);
	}
	buf_append_str(&out, ".\r\n");
	bufferevent_write(a->bev, out.data, out.len);
	buf_free(&out);
}

static bool message_is_8bit(const struct buf *m)
{
	for (size_t i = 0; i < m->len; i++)
		if ((unsigned char)m->data[i] >= 0x80)
			return true;
	return false;
}

static void send_mail_from(struct attempt *a)
{
	if (a->e.smtputf8 && !a->ext_smtputf8) {
		fail_all(a, 553, "5.6.7", "the receiving server does not support SMTPUTF8, which this "
			 "message needs");
		return;
	}
	if (a->size_limit > 0 && (long long)a->msg.len > a->size_limit) {
		char why[200];
		snprintf(why, sizeof why, "the message (%zu bytes) is larger than the receiving "
			 "server accepts (%lld bytes)", a->msg.len, a->size_limit);
		fail_all(a, 552, "5.3.4", why);
		return;
	}
	a->state = A_MAIL;
	send_line(a, "MAIL FROM:<%s> SIZE=%zu%s%s", a->e.sender, a->msg.len,
		  a->ext_8bit && message_is_8bit(&a->msg) ? " BODY=8BITMIME" : "",
		  a->e.smtputf8 ? " SMTPUTF8" : "");
}

static void send_next_rcpt(struct attempt *a)
{
	while (a->rcpt_i < a->e.nrcpts && a->results[a->rcpt_i].code != 0)
		a->rcpt_i++;
	if (a->rcpt_i < a->e.nrcpts) {
		a->state = A_RCPT;
		send_line(a, "RCPT TO:<%s>", a->e.rcpts[a->rcpt_i]);
		return;
	}
	bool any = false;
	for (size_t i = 0; i < a->e.nrcpts; i++)
		any |= a->results[i].code >= 200 && a->results[i].code < 300;
	if (!any) {
		a->state = A_QUIT;
		quit_and_close(a);
		attempt_finish(a);
		return;
	}
	a->state = A_DATA;
	send_line(a, "DATA");
}

static void start_tls(struct attempt *a)
{
	struct evbuffer *in = bufferevent_get_input(a->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	SSL *ssl = SSL_new(a->ob->tls);
	SSL_set_tlsext_host_name(ssl, a->host);
	/* TLS as a filter over the same connection; freeing it frees the SSL and the socket. */
	a->bev = bufferevent_openssl_filter_new(a->ob->base, a->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	bufferevent_openssl_set_allow_dirty_shutdown(a->bev, 1);
	a->tls = true;
}

static void on_read(struct bufferevent *bev, void *ctx);
static void on_event(struct bufferevent *bev, short what, void *ctx);

static void handle_reply(struct attempt *a, int code, const char *reply)
{
	switch (a->state) {
	case A_GREETING:
		if (code != 220)
			return next_address(a, reply);
		a->state = A_EHLO;
		send_line(a, "EHLO %s", cfg(a->ob)->hostname);
		return;
	case A_EHLO:
		if (code != 250) {
			a->state = A_HELO;
			send_line(a, "HELO %s", cfg(a->ob)->hostname);
			return;
		}
		a->ext_starttls = strstr(reply, "STARTTLS") != NULL;
		a->ext_8bit = strstr(reply, "8BITMIME") != NULL;
		a->ext_smtputf8 = strstr(reply, "SMTPUTF8") != NULL;
		{
			const char *sz = strstr(reply, "SIZE");
			a->size_limit = sz ? atoll(sz + 4) : 0;
		}
		a->ext_auth = strstr(reply, "AUTH") != NULL;
		if (a->ext_starttls && !a->tls && a->ob->tls) {
			a->state = A_STARTTLS;
			send_line(a, "STARTTLS");
			return;
		}
		if (a->smarthost && !a->tls) {
			/* Never hand a password or mail to a relay over plain text. */
			return next_address(a, "the smarthost does not offer TLS");
		}
		if (a->smarthost && cfg(a->ob)->smarthost_user[0]) {
			struct buf plain = BUF_INIT, enc = BUF_INIT;
			buf_append_char(&plain, '\0');
			buf_append_str(&plain, cfg(a->ob)->smarthost_user);
			buf_append_char(&plain, '\0');
			buf_append_str(&plain, cfg(a->ob)->smarthost_password);
			base64_encode(&enc, plain.data, plain.len);
			a->state = A_AUTH;
			send_line(a, "AUTH PLAIN %s", enc.data);
			buf_free(&plain);
			buf_free(&enc);
			return;
		}
		send_mail_from(a);
		return;
	case A_HELO:
		if (code != 250)
			return next_address(a, reply);
		send_mail_from(a);
		return;
	case A_STARTTLS:
		if (code != 220) {
			send_mail_from(a); /* opportunistic: go on without TLS */
			return;
		}
		start_tls(a);
		bufferevent_setcb(a->bev, on_read, NULL, on_event, a);
		bufferevent_enable(a->bev, EV_READ | EV_WRITE);
		a->state = A_EHLO;
		send_line(a, "EHLO %s", cfg(a->ob)->hostname);
		return;
	case A_AUTH:
		if (code != 235) {
			/* A wrong relay password is the operator's to fix; keep the mail meanwhile. */
			char text[700];
			snprintf(text, sizeof text, "451 4.7.0 the smarthost refused our login (%s); check "
				 "smarthost-user and smarthost-password", reply);
			set_pending(a, 451, text, "4.7.0");
			a->state = A_QUIT;
			quit_and_close(a);
			attempt_finish(a);
			return;
		}
		send_mail_from(a);
		return;
	case A_MAIL:
		if (code / 100 == 2) {
			a->rcpt_i = 0;
			send_next_rcpt(a);
			return;
		}
		set_pending(a, code, reply, NULL);
		for (size_t i = 0; i < a->e.nrcpts; i++)
			a->results[i].from_server = true;
		a->state = A_QUIT;
		quit_and_close(a);
		attempt_finish(a);
		return;
	case A_RCPT:
		set_result(&a->results[a->rcpt_i], code, reply);
		a->results[a->rcpt_i].from_server = true;
		a->rcpt_i++;
		send_next_rcpt(a);
		return;
	case A_DATA:
		if (code != 354) {
			/* Accepted recipients now share this answer. */
			for (size_t i = 0; i < a->e.nrcpts; i++)
				if (a->results[i].code / 100 == 2) {
					set_result(&a->results[i], code, reply);
					a->results[i].from_server = true;
				}
			a->state = A_QUIT;
			quit_and_close(a);
			attempt_finish(a);
			return;
		}
		a->state = A_BODY;
		send_body(a);
		return;
	case A_BODY:
		for (size_t i = 0; i < a->e.nrcpts; i++)
			if (a->results[i].code / 100 == 2) {
				set_result(&a->results[i], code, reply);
				a->results[i].from_server = true;
			}
		a->state = A_QUIT;
		quit_and_close(a);
		attempt_finish(a);
		return;
	default:
		return;
	}
}

static void on_read(struct bufferevent *bev, void *ctx)
{
	struct attempt *a = ctx;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (!a->finished && a->bev == bev && evbuffer_get_length(in) > 0) {
		char *text;
		size_t n;
		enum conn_line st = conn_read_line(in, &a->lines, &text, &n);
		if (st == CONN_LINE_NONE)
			return;
		if (st == CONN_LINE_TOO_LONG)
			continue; /* over-long reply lines are dropped; the code line still comes */
		char line[1100];
		snprintf(line, sizeof line, "%.*s", (int)(n < 1000 ? n : 1000), text);
		free(text);
		if (strlen(line) < 3) {
			next_address(a, "the server sent a malformed reply");
			return;
		}
		if (a->reply.len)
			buf_append_char(&a->reply, ' ');
		buf_append_str(&a->reply, a->reply.len ? line + 4 * (strlen(line) > 4) : line);
		if (line[3] == '-') {
			/* More lines follow; a server that never ends its reply is dropped. */
			if (a->reply.len > MAX_REPLY) {
				buf_reset(&a->reply);
				next_address(a, "the server sent an endless reply");
				return;
			}
			continue;
		}
		int code = atoi(line);
		char *reply = buf_steal(&a->reply, NULL);
		if (code < 200 || code > 599) {
			free(reply);
			next_address(a, "the server sent a malformed reply");
			return;
		}
		handle_reply(a, code, reply);
		free(reply);
		if (a->finished || a->bev != bev)
			return; /* finished or moved on */
	}
}

static void on_event(struct bufferevent *bev, short what, void *ctx)
{
	struct attempt *a = ctx;
	if (a->finished)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		if (a->state == A_CONNECTING) {
			a->state = A_GREETING;
			struct timeval tv = { REPLY_TIMEOUT, 0 };
			bufferevent_set_timeouts(a->bev, &tv, &tv);
		}
		return;
	}
	const char *why = what & BEV_EVENT_TIMEOUT ? "the server did not answer in time"
			  : a->state == A_CONNECTING ? "the connection was refused or failed"
						     : "the server closed the connection";
	if (a->state >= A_BODY) {
		/* After the final dot there may have been a delivery we never heard of: counting
		 * it as a failure keeps mail safe (at worst it arrives twice). */
		set_pending(a, 451, "451 4.4.2 connection lost after the message was sent", "4.4.2");
		close_connection(a);
		attempt_finish(a);
		return;
	}
	/* Before that nothing was delivered: the next address starts afresh. */
	for (size_t i = 0; i < a->e.nrcpts; i++)
		if (a->results[i].code / 100 == 2) {
			a->results[i].code = 0;
			free(a->results[i].reply);
			a->results[i].reply = NULL;
		}
	next_address(a, why);
}

/* Connects to the current address, or moves to the next MX when this one has none left. */
static void attempt_try_address(struct attempt *a);

static void addrs_clear(struct attempt *a)
{
	for (size_t i = 0; i < a->naddrs; i++)
		free(a->addrs[i]);
	free(a->addrs);
	a->addrs = NULL;
	a->naddrs = 0;
	a->addr_i = 0;
}

static void addrs_answer(void *ctx, enum dns_status st, char **addrs, size_t n, const char *why)
{
	struct attempt *a = ctx;
	addrs_clear(a);
	if (st == DNS_OK) {
		a->addrs = xcalloc(n, sizeof *a->addrs);
		for (size_t i = 0; i < n; i++)
			a->addrs[i] = xstrdup(addrs[i]);
		a->naddrs = n;
	} else {
		char text[400];
		snprintf(text, sizeof text, "no address for %s (%s)", a->host, why);
		free(a->last_error);
		a->last_error = xstrdup(text);
		if (a->implicit_mx && st == DNS_NONE) {
			fail_all(a, 550, "5.1.2", "the domain has no mail server (no MX and no address)");
			return;
		}
	}
	attempt_try_address(a);
}

static void attempt_try_address(struct attempt *a)
{
	while (a->addr_i >= a->naddrs) {
		if (a->naddrs > 0 || a->host[0]) {
			/* This MX is used up. */
			a->mx_i++;
			addrs_clear(a);
		}
		if (a->mx_i >= a->nmx) {
			char text[600];
			snprintf(text, sizeof text, "could not reach any mail server of %s (%s)",
				 a->e.domain, a->last_error ? a->last_error : "no server");
			set_pending(a, 451, text, "4.4.1");
			for (size_t i = 0; i < a->e.nrcpts; i++)
				if (a->results[i].code == 451)
					snprintf(a->results[i].status, sizeof a->results[i].status, "4.4.1");
			attempt_finish(a);
			return;
		}
		snprintf(a->host, sizeof a->host, "%s", a->mx[a->mx_i].host);
		a->state = A_RESOLVING;
		dns_lookup_addrs(a->ob->dns, a->host, addrs_answer, a);
		return;
	}
	const char *ip = a->addrs[a->addr_i];
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t sslen;
	int port = a->port;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		sslen = sizeof *in4;
	} else if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		sslen = sizeof *in6;
	} else {
		next_address(a, "bad address");
		return;
	}
	a->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		next_address(a, "cannot create a socket");
		return;
	}
	int one = 1;
	setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (a->smarthost && port == 465) {
		/* Submission over TLS from the first byte (RFC 8314). */
		SSL *ssl = SSL_new(a->ob->tls);
		SSL_set_tlsext_host_name(ssl, a->host);
		a->bev = bufferevent_openssl_socket_new(a->ob->base, a->fd, ssl,
							BUFFEREVENT_SSL_CONNECTING,
							BEV_OPT_CLOSE_ON_FREE |
							BEV_OPT_DEFER_CALLBACKS);
		bufferevent_openssl_set_allow_dirty_shutdown(a->bev, 1);
		a->tls = true;
	} else {
		a->bev = bufferevent_socket_new(a->ob->base, a->fd,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	}
	bufferevent_setcb(a->bev, on_read, NULL, on_event, a);
	struct timeval tv = { CONNECT_TIMEOUT, 0 };
	bufferevent_set_timeouts(a->bev, &tv, &tv);
	bufferevent_enable(a->bev, EV_READ | EV_WRITE);
	line_reader_init(&a->lines, 2048);
	buf_reset(&a->reply);
	a->state = A_CONNECTING;
	a->ext_starttls = a->ext_8bit = a->ext_smtputf8 = a->ext_auth = false;
	a->size_limit = 0;
	log_info("event=outbound-connect queue=%lld host=%s addr=%s port=%d", (long long)a->e.id,
		 a->host, ip, port);
	if (bufferevent_socket_connect(a->bev, (struct sockaddr *)&ss, (int)sslen) < 0)
		next_address(a, "the connection failed");
}

static void mx_answer(void *ctx, enum dns_status st, const struct dns_mx *mx, size_t n,
		      const char *why)
{
	struct attempt *a = ctx;
	if (st == DNS_TEMPFAIL) {
		char text[300];
		snprintf(text, sizeof text, "451 4.4.3 DNS lookup of %s failed: %s", a->e.domain, why);
		set_pending(a, 451, text, "4.4.3");
		attempt_finish(a);
		return;
	}
	if (st == DNS_OK && n == 1 && mx[0].host[0] == '\0') {
		fail_all(a, 556, "5.1.10", "the domain does not accept mail (null MX, RFC 7505)");
		return;
	}
	if (st == DNS_OK) {
		a->mx = xcalloc(n, sizeof *a->mx);
		memcpy(a->mx, mx, n * sizeof *mx);
		a->nmx = n;
	} else {
		/* No MX: the domain itself is the mail server (RFC 5321 5.1). */
		a->mx = xcalloc(1, sizeof *a->mx);
		snprintf(a->mx[0].host, sizeof a->mx[0].host, "%s", a->e.domain);
		a->nmx = 1;
		a->implicit_mx = true;
	}
	a->mx_i = 0;
	a->host[0] = '\0';
	addrs_clear(a);
	snprintf(a->host, sizeof a->host, "%s", a->mx[0].host);
	a->state = A_RESOLVING;
	dns_lookup_addrs(a->ob->dns, a->host, addrs_answer, a);
}

/* ---- outcome ---------------------------------------------------------------------------- */

struct update_job {
	struct store_job job;
	int64_t id;
	char **done;
	size_t ndone;
	int64_t next_attempt;
	char *last_reply;
	bool warned;
};

static void update_run(struct store *s, struct store_job *job)
{
	struct update_job *u = (struct update_job *)job;
	struct buf err = BUF_INIT;
	if (!s->ops->queue_update(s, u->id, (const char *const *)u->done, u->ndone, u->next_attempt,
				  u->last_reply, u->warned, &err))
		log_error("event=queue-update-failed queue=%lld error=\"%s\"", (long long)u->id,
			  err.data);
	buf_free(&err);
}

static void update_done(struct store_job *job)
{
	struct update_job *u = (struct update_job *)job;
	for (size_t i = 0; i < u->ndone; i++)
		free(u->done[i]);
	free(u->done);
	free(u->last_reply);
	free(u);
}

/* Hands a DSN to the sender through the same durable path as any mail: to their mailbox,
 * or, for a sender in another domain (mail that a forwarding alias passed on), to the queue
 * with an empty envelope sender. */
static void deliver_dsn(struct attempt *a, bool delay, const struct dsn_recipient *r, size_t n)
{
	if (!a->e.sender[0] || a->e.is_bounce)
		return; /* no bounce to <>, never a bounce of a bounce */
	struct smtp_address addr;
	size_t used;
	struct route_targets targets = { .n = 0, .nremote = 0 };
	enum route_result where = ROUTE_UNKNOWN_USER;
	if (smtp_parse_path(a->e.sender, strlen(a->e.sender), false, &addr, &used) &&
	    !addr.null && addr.domain[0])
		where = route_recipient(a->ob->store, addr.local, addr.domain,
					a->ob->default_domain, 0, &targets);
	struct commit_remote *remote = NULL;
	size_t nremote = 0;
	if (where == ROUTE_NOT_LOCAL)
		route_queue_add(&remote, &nremote, a->e.sender);
	for (size_t i = 0; where == ROUTE_LOCAL && i < targets.nremote; i++)
		route_queue_add(&remote, &nremote, targets.remote[i]);
	if ((where != ROUTE_LOCAL && where != ROUTE_NOT_LOCAL) ||
	    (targets.n == 0 && nremote == 0)) {
		log_warn("event=dsn-undeliverable queue=%lld sender=<%s>", (long long)a->e.id,
			 a->e.sender);
		route_targets_free(&targets);
		return;
	}
	struct buf dsn = BUF_INIT, mailer = BUF_INIT;
	buf_printf(&mailer, "MAILER-DAEMON@%s", a->ob->default_domain);
	buf_printf(&dsn, "Return-Path: <>\r\n");
	dsn_build(&dsn, cfg(a->ob)->hostname, mailer.data, a->e.sender, delay, r, n,
		  a->msg.data ? a->msg.data : "", a->msg.len, a->e.created, clock_now());
	struct commit_request req = {
		.internaldate = clock_now(),
		.account_ids = xcalloc(targets.n ? targets.n : 1, sizeof(int64_t)),
		.naccounts = targets.n,
		.remote = remote,
		.nremote = nremote,
		.sender = xstrdup(""),
		.smtputf8 = a->e.smtputf8,
		.is_bounce = true,
	};
	memcpy(req.account_ids, targets.ids, targets.n * sizeof(int64_t));
	req.data = buf_steal(&dsn, &req.len);
	committer_submit(a->ob->writer, &req);
	buf_free(&mailer);
	log_info("event=dsn queue=%lld sender=<%s> kind=%s recipients=%zu queued=%zu",
		 (long long)a->e.id, a->e.sender, delay ? "delay" : "failure", n, nremote);
	route_targets_free(&targets);
}

static void attempt_free(struct attempt *a)
{
	close_connection(a);
	for (size_t i = 0; a->results && i < a->e.nrcpts; i++)
		free(a->results[i].reply);
	queue_entry_free(&a->e);
	buf_free(&a->msg);
	buf_free(&a->reply);
	free(a->mx);
	addrs_clear(a);
	free(a->results);
	free(a->last_error);
	free(a);
}

static void attempt_free_later(evutil_socket_t fd, short what, void *arg)
{
	attempt_free(arg);
}

static void attempt_unlink(struct attempt *a)
{
	struct outbound *ob = a->ob;
	for (struct attempt **pp = &ob->active; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			ob->nactive--;
			return;
		}
}

static void attempt_finish(struct attempt *a)
{
	struct outbound *ob = a->ob;
	struct config *c = cfg(ob);
	int64_t now = clock_now();
	bool expired = now - a->e.created >= c->queue_lifetime;
	struct update_job *u = xcalloc(1, sizeof *u);
	u->job.run = update_run;
	u->job.done = update_done;
	u->id = a->e.id;
	u->done = xcalloc(a->e.nrcpts ? a->e.nrcpts : 1, sizeof *u->done);
	struct dsn_recipient *failed = xcalloc(a->e.nrcpts ? a->e.nrcpts : 1, sizeof *failed);
	struct dsn_recipient *delayed = xcalloc(a->e.nrcpts ? a->e.nrcpts : 1, sizeof *delayed);
	size_t nfailed = 0, ndelayed = 0, ndelivered = 0;
	struct buf last = BUF_INIT;
	for (size_t i = 0; i < a->e.nrcpts; i++) {
		struct rcpt_result *r = &a->results[i];
		if (r->code == 0)
			set_result(r, 451, "451 4.4.1 no answer");
		if (r->code / 100 == 2) {
			u->done[u->ndone++] = xstrdup(a->e.rcpts[i]);
			ndelivered++;
			continue;
		}
		bool permanent = r->code / 100 == 5 || expired;
		struct dsn_recipient d = {
			.address = a->e.rcpts[i], .status = r->status, .diagnostic = r->reply,
			.remote_mta = r->from_server ? a->host : NULL,
		};
		if (permanent) {
			if (expired && r->code / 100 == 4) {
				d.status = "4.4.7";
				d.explanation = "The message could not be delivered for days, so we gave up. "
						"The receiving server was unreachable or kept asking us to "
						"wait; check the address, or reach the person another way.";
			}
			failed[nfailed++] = d;
			u->done[u->ndone++] = xstrdup(a->e.rcpts[i]);
		} else {
			delayed[ndelayed++] = d;
			if (!last.len)
				buf_printf(&last, "%s — %s", r->reply, dsn_explain(r->status, r->reply));
		}
	}
	if (nfailed)
		deliver_dsn(a, false, failed, nfailed);
	u->warned = a->e.warned;
	if (ndelayed && !a->e.warned && c->delay_warning > 0 &&
	    now - a->e.created >= c->delay_warning) {
		deliver_dsn(a, true, delayed, ndelayed);
		u->warned = true;
	}
	/* Retry after queue-retry-min, doubling with every attempt, at most queue-retry-max. */
	int64_t wait = c->queue_retry_min;
	for (int64_t k = 0; k < a->e.attempts && wait < c->queue_retry_max; k++)
		wait *= 2;
	if (wait > c->queue_retry_max)
		wait = c->queue_retry_max;
	u->next_attempt = now + wait;
	u->last_reply = last.len ? buf_steal(&last, NULL) : NULL;
	buf_free(&last);
	log_info("event=outbound-result queue=%lld domain=%s delivered=%zu failed=%zu deferred=%zu",
		 (long long)a->e.id, a->e.domain, ndelivered, nfailed, ndelayed);
	committer_submit_job(ob->writer, &u->job);
	free(failed);
	free(delayed);
	attempt_unlink(a);
	/* We may be deep inside this attempt's own callbacks: free it from the loop later. */
	a->finished = true;
	close_connection(a);
	event_base_once(ob->base, -1, EV_TIMEOUT, attempt_free_later, a, NULL);
}

/* ---- scheduler ------------------------------------------------------------------------- */

static bool is_active(struct outbound *ob, int64_t id)
{
	for (struct attempt *a = ob->active; a; a = a->next)
		if (a->e.id == id)
			return true;
	return false;
}

static bool uses_smarthost(const struct config *c, const char *domain)
{
	if (!c->smarthost[0])
		return false;
	if (!c->smarthost_domains[0])
		return true;
	size_t n = strlen(domain);
	for (const char *p = c->smarthost_domains; *p;) {
		while (*p == ',' || *p == ' ')
			p++;
		size_t len = strcspn(p, ", ");
		if (len == n && strncasecmp(p, domain, n) == 0)
			return true;
		p += len;
	}
	return false;
}

static bool start_entry(void *ctx, const struct queue_entry *e)
{
	struct outbound *ob = ctx;
	if (is_active(ob, e->id) || ob->nactive >= MAX_ACTIVE)
		return true;
	/* Few connections to one domain at a time: a burst of invoices to one customer must not
	 * look like an attack to their server. */
	size_t same = 0;
	for (struct attempt *x = ob->active; x; x = x->next)
		same += strcmp(x->e.domain, e->domain) == 0;
	if (same >= (size_t)cfg(ob)->outbound_per_domain)
		return true;
	struct attempt *a = xcalloc(1, sizeof *a);
	a->ob = ob;
	a->fd = -1;
	/* Deep copy: the store's entry lives only during this call. */
	a->e = *e;
	a->e.sender = xstrdup(e->sender);
	a->e.domain = xstrdup(e->domain);
	a->e.last_reply = e->last_reply ? xstrdup(e->last_reply) : NULL;
	a->e.rcpts = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof *a->e.rcpts);
	for (size_t i = 0; i < e->nrcpts; i++)
		a->e.rcpts[i] = xstrdup(e->rcpts[i]);
	a->results = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof *a->results);
	if (!ob->store->ops->queue_message(ob->store, e->id, &a->msg)) {
		attempt_free(a);
		return true;
	}
	a->next = ob->active;
	ob->active = a;
	ob->nactive++;
	log_info("event=outbound-start queue=%lld domain=%s recipients=%zu attempt=%lld",
		 (long long)e->id, e->domain, e->nrcpts, (long long)e->attempts + 1);
	a->port = (int)cfg(ob)->outbound_port;
	if (uses_smarthost(cfg(ob), e->domain)) {
		/* The relay stands in for every MX of the domain. */
		char host[256];
		int port = 587;
		snprintf(host, sizeof host, "%s", cfg(ob)->smarthost);
		char *colon = strrchr(host, ':');
		if (colon && !strchr(colon, ']')) {
			*colon = '\0';
			port = atoi(colon + 1);
		}
		a->smarthost = true;
		a->port = port;
		struct dns_mx mx = { .preference = 0 };
		snprintf(mx.host, sizeof mx.host, "%s", host);
		a->mx = xcalloc(1, sizeof *a->mx);
		a->mx[0] = mx;
		a->nmx = 1;
		snprintf(a->host, sizeof a->host, "%s", host);
		struct in_addr v4;
		struct in6_addr v6;
		if (inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1) {
			char *addr = host;
			addrs_answer(a, DNS_OK, &addr, 1, NULL);
		} else {
			a->state = A_RESOLVING;
			dns_lookup_addrs(ob->dns, host, addrs_answer, a);
		}
		return true;
	}
	a->state = A_RESOLVING;
	dns_lookup_mx(ob->dns, e->domain, mx_answer, a);
	return true;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct outbound *ob = arg;
	if (ob->nactive >= MAX_ACTIVE)
		return;
	ob->store->ops->queue_due(ob->store, clock_now(), MAX_ACTIVE * 2, start_entry, ob);
}

struct outbound *outbound_start(struct event_base *base, struct config *const *config,
				struct store *store, struct committer *writer,
				const char *default_domain, struct buf *err)
{
	struct outbound *ob = xcalloc(1, sizeof *ob);
	ob->base = base;
	ob->cfg = config;
	ob->store = store;
	ob->writer = writer;
	ob->default_domain = xstrdup(default_domain);
	ob->dns = dns_resolver_new(base, (*config)->resolver, err);
	if (!ob->dns) {
		free(ob->default_domain);
		free(ob);
		return NULL;
	}
	/* Opportunistic TLS: encrypt when the other side offers it, without checking its
	 * certificate (RFC 7435); most MX certificates would not pass a strict check. */
	ob->tls = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ob->tls, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ob->tls, SSL_MODE_RELEASE_BUFFERS);
	ob->timer = event_new(base, -1, EV_PERSIST, on_timer, ob);
	struct timeval second = { 1, 0 };
	event_add(ob->timer, &second);
	/* What is due (after a crash: what was in flight) starts now, not a second later. */
	event_active(ob->timer, EV_TIMEOUT, 1);
	return ob;
}

void outbound_stop(struct outbound *ob)
{
	if (!ob)
		return;
	event_free(ob->timer);
	while (ob->active) {
		struct attempt *a = ob->active;
		ob->active = a->next;
		attempt_free(a);
	}
	dns_resolver_free(ob->dns);
	SSL_CTX_free(ob->tls);
	free(ob->default_domain);
	free(ob);
}
