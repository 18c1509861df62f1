/* The SMTP client, Postfix's smtp_proto.c in spirit: greeting, EHLO (HELO), STARTTLS,
 * AUTH to a smarthost, then per message MAIL, RCPT, DATA, pipelined (RFC 2920) when the
 * server offers it, and the body. Replies are read by outbound/reply.c, which checks every
 * line. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/sasl.h"
#include "lib/alloc.h"
#include "net/conn.h"
#include "outbound/agent_internal.h"

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
	bufferevent_write(a->link->bev, out.data, out.len);
	buf_free(&out);
}

static bool message_is_8bit(const struct buf *m)
{
	for (size_t i = 0; i < m->len; i++)
		if ((unsigned char)m->data[i] >= 0x80)
			return true;
	return false;
}

/* The transaction is over (the server's last answer was `code`): record the outcome. A
 * server that said 421 is closing, so its connection cannot carry another message. */
static void transaction_over(struct attempt *a, int code)
{
	a->clean_end = code != 421 && a->link != NULL;
	attempt_finish(a);
}

static void step_command(struct attempt *a, const struct step *s, struct buf *out)
{
	const struct ehlo_ext *x = &a->link->ext;
	switch (s->kind) {
	case STEP_RSET:
		buf_append_str(out, "RSET\r\n");
		break;
	case STEP_MAIL:
		buf_printf(out, "MAIL FROM:<%s> SIZE=%zu%s%s\r\n", a->e.sender, a->msg.len,
			   x->eightbitmime && message_is_8bit(&a->msg) ? " BODY=8BITMIME" : "",
			   a->e.smtputf8 ? " SMTPUTF8" : "");
		break;
	case STEP_RCPT:
		buf_printf(out, "RCPT TO:<%s>\r\n", a->e.rcpts[s->rcpt]);
		break;
	case STEP_DATA:
		buf_append_str(out, "DATA\r\n");
		break;
	}
}

static void send_steps(struct attempt *a, size_t from, size_t to)
{
	struct buf out = BUF_INIT;
	for (size_t i = from; i < to; i++)
		step_command(a, &a->steps[i], &out);
	bufferevent_write(a->link->bev, out.data, out.len);
	buf_free(&out);
}

/* MAIL, a RCPT for every recipient still without an answer, DATA; on a kept connection RSET
 * first, which also shows whether the server is still there. */
void proto_transaction_start(struct attempt *a)
{
	struct link *l = a->link;
	if (a->e.smtputf8 && !l->ext.smtputf8) {
		attempt_fail_all(a, 553, "5.6.7", "the receiving server does not support SMTPUTF8, "
				 "which this message needs");
		return;
	}
	if (l->ext.size > 0 && (long long)a->msg.len > l->ext.size) {
		char why[200];
		snprintf(why, sizeof why, "the message (%zu bytes) is larger than the receiving "
			 "server accepts (%lld bytes)", a->msg.len, l->ext.size);
		attempt_fail_all(a, 552, "5.3.4", why);
		return;
	}
	free(a->steps);
	a->steps = xcalloc(a->e.nrcpts + 3, sizeof *a->steps);
	a->nsteps = a->step_next = 0;
	if (a->reused)
		a->steps[a->nsteps++].kind = STEP_RSET;
	a->steps[a->nsteps++].kind = STEP_MAIL;
	for (size_t i = 0; i < a->e.nrcpts; i++)
		if (a->results[i].code == 0)
			a->steps[a->nsteps++] = (struct step){ STEP_RCPT, i };
	a->steps[a->nsteps++].kind = STEP_DATA;
	a->mail_failed = false;
	a->pipelined = l->ext.pipelining;
	a->state = A_TRANSACTION;
	l->transactions++;
	send_steps(a, 0, a->pipelined ? a->nsteps : 1);
}

/* Lock-step (no PIPELINING): after a reply, the next command, or the end. */
static void send_next_step(struct attempt *a, int code)
{
	if (a->mail_failed) {
		transaction_over(a, code);
		return;
	}
	if (a->steps[a->step_next].kind == STEP_DATA && !attempt_any_accepted(a)) {
		/* Every recipient was refused: no DATA; the next transaction begins with RSET. */
		transaction_over(a, code);
		return;
	}
	send_steps(a, a->step_next, a->step_next + 1);
}

static void data_reply(struct attempt *a, int code, const char *reply)
{
	bool any = !a->mail_failed && attempt_any_accepted(a);
	if (code == 354) {
		a->state = A_BODY;
		if (any)
			send_body(a);
		else
			/* Pipelined DATA after every RCPT was refused, and the server still wants
			 * the message: end it empty. With no recipient nothing can be delivered. */
			bufferevent_write(a->link->bev, ".\r\n", 3);
		return;
	}
	if (any)
		attempt_set_accepted(a, code, reply);
	transaction_over(a, code);
}

static void step_reply(struct attempt *a, int code, const char *reply)
{
	const struct step *s = &a->steps[a->step_next++];
	switch (s->kind) {
	case STEP_RSET:
		if (code / 100 != 2) {
			attempt_link_failed(a, reply);
			return;
		}
		break;
	case STEP_MAIL:
		if (code / 100 != 2) {
			attempt_set_pending(a, code, reply, NULL);
			for (size_t i = 0; i < a->e.nrcpts; i++)
				a->results[i].from_server = true;
			a->mail_failed = true;
		}
		break;
	case STEP_RCPT:
		if (!a->mail_failed) {
			rcpt_result_set(&a->results[s->rcpt], code, reply);
			a->results[s->rcpt].from_server = true;
		}
		break;
	case STEP_DATA:
		data_reply(a, code, reply);
		return;
	}
	if (code == 421) {
		/* The server is closing: the replies still due will not come. */
		attempt_set_pending(a, code, reply, NULL);
		transaction_over(a, code);
		return;
	}
	if (!a->pipelined)
		send_next_step(a, code);
}

static void start_tls(struct link *l)
{
	struct evbuffer *in = bufferevent_get_input(l->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	SSL *ssl = SSL_new(l->ob->tls);
	SSL_set_tlsext_host_name(ssl, l->host);
	/* TLS as a filter over the same connection; freeing it frees the SSL and the socket. */
	l->bev = bufferevent_openssl_filter_new(l->ob->base, l->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	bufferevent_openssl_set_allow_dirty_shutdown(l->bev, 1);
	l->tls = true;
}

/* EHLO has been answered (and TLS, if any, is up): log in to a smarthost, or send mail. */
static void after_ehlo(struct attempt *a)
{
	struct link *l = a->link;
	struct config *c = cfg(a->ob);
	if (l->ext.starttls && !l->tls && a->ob->tls) {
		a->state = A_STARTTLS;
		link_send(l, "STARTTLS");
		return;
	}
	if (l->smarthost && !l->tls) {
		/* Never hand a password or mail to a relay over plain text. */
		attempt_next_address(a, "the smarthost does not offer TLS");
		return;
	}
	if (l->smarthost && c->smarthost_user[0]) {
		struct buf plain = BUF_INIT, enc = BUF_INIT;
		buf_append_char(&plain, '\0');
		buf_append_str(&plain, c->smarthost_user);
		buf_append_char(&plain, '\0');
		buf_append_str(&plain, c->smarthost_password);
		base64_encode(&enc, plain.data, plain.len);
		a->state = A_AUTH;
		link_send(l, "AUTH PLAIN %s", enc.data);
		buf_free(&plain);
		buf_free(&enc);
		return;
	}
	proto_transaction_start(a);
}

static void handle_reply(struct attempt *a, int code, const char *reply, const char *lines)
{
	struct link *l = a->link;
	switch (a->state) {
	case A_GREETING:
		if (code != 220)
			return attempt_next_address(a, reply);
		a->state = A_EHLO;
		link_send(l, "EHLO %s", cfg(a->ob)->hostname);
		return;
	case A_EHLO:
		if (code != 250) {
			a->state = A_HELO;
			link_send(l, "HELO %s", cfg(a->ob)->hostname);
			return;
		}
		ehlo_parse(lines, &l->ext);
		after_ehlo(a);
		return;
	case A_HELO:
		if (code != 250)
			return attempt_next_address(a, reply);
		memset(&l->ext, 0, sizeof l->ext);
		if (l->smarthost)
			return attempt_next_address(a, "the smarthost does not offer TLS");
		proto_transaction_start(a);
		return;
	case A_STARTTLS:
		if (code != 220) {
			if (l->smarthost)
				return attempt_next_address(a, "the smarthost refused STARTTLS");
			proto_transaction_start(a); /* opportunistic: go on without TLS */
			return;
		}
		start_tls(l);
		bufferevent_setcb(l->bev, proto_on_read, NULL, proto_on_event, l);
		bufferevent_enable(l->bev, EV_READ | EV_WRITE);
		a->state = A_EHLO;
		link_send(l, "EHLO %s", cfg(a->ob)->hostname);
		return;
	case A_AUTH:
		if (code != 235) {
			/* A wrong relay password is the operator's to fix; keep the mail meanwhile. */
			char text[700];
			snprintf(text, sizeof text, "451 4.7.0 the smarthost refused our login (%s); check "
				 "smarthost-user and smarthost-password", reply);
			attempt_set_pending(a, 451, text, "4.7.0");
			transaction_over(a, 421); /* not logged in: not worth keeping */
			return;
		}
		proto_transaction_start(a);
		return;
	case A_TRANSACTION:
		step_reply(a, code, reply);
		return;
	case A_BODY:
		attempt_set_accepted(a, code, reply);
		transaction_over(a, code);
		return;
	default:
		return;
	}
}

enum reply_read { REPLY_NONE, REPLY_OK, REPLY_BAD };

/* The next complete reply from l's input (outbound/reply.c checks every line). BAD: a
 * malformed or endless reply (*why says which). */
static enum reply_read read_reply(struct link *l, struct evbuffer *in, int *code, char **flat,
				  char **lines, const char **why)
{
	for (;;) {
		char *text;
		size_t n;
		enum conn_line st = conn_read_line(in, &l->lines, &text, &n);
		if (st == CONN_LINE_NONE)
			return REPLY_NONE;
		if (st == CONN_LINE_TOO_LONG)
			continue; /* over-long reply lines are dropped; the code line still comes */
		struct smtp_reply r;
		enum smtp_reply_status rs = smtp_reply_feed(&l->reply, text, n, &r, why);
		free(text);
		if (rs == SMTP_REPLY_MORE)
			continue;
		if (rs == SMTP_REPLY_BAD)
			return REPLY_BAD;
		*code = r.code;
		*flat = r.flat;
		*lines = r.lines;
		return REPLY_OK;
	}
}

void proto_on_read(struct bufferevent *bev, void *ctx)
{
	struct link *l = ctx;
	l->in_callback++;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (l->bev == bev && evbuffer_get_length(in) > 0) {
		int code;
		char *flat, *lines;
		const char *why;
		enum reply_read r = read_reply(l, in, &code, &flat, &lines, &why);
		if (r == REPLY_NONE)
			break;
		if (!l->a) {
			/* Nothing is owed to an idle connection (a 421 before the server hangs up). */
			if (r == REPLY_OK) {
				free(flat);
				free(lines);
			}
			link_close(l);
			break;
		}
		if (r == REPLY_BAD) {
			attempt_link_failed(l->a, why);
			break;
		}
		handle_reply(l->a, code, flat, lines);
		free(flat);
		free(lines);
	}
	link_release(l);
}

void proto_on_event(struct bufferevent *bev, short what, void *ctx)
{
	struct link *l = ctx;
	struct attempt *a = l->a;
	l->in_callback++;
	if (what & BEV_EVENT_CONNECTED) {
		if (a && a->state == A_CONNECTING) {
			a->state = A_GREETING;
			struct timeval tv = { REPLY_TIMEOUT, 0 };
			bufferevent_set_timeouts(l->bev, &tv, &tv);
		}
	} else if (!a) {
		link_close(l); /* an idle connection the server closed */
	} else {
		const char *why = what & BEV_EVENT_TIMEOUT ? "the server did not answer in time"
				  : a->state == A_CONNECTING ? "the connection was refused or failed"
							     : "the server closed the connection";
		attempt_link_failed(a, why);
	}
	link_release(l);
}
