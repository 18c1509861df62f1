/* The connections to receiving servers (struct link), Postfix's smtp_reuse.c in spirit: a
 * connection outlives its delivery; one that ended a transaction cleanly waits a few seconds
 * for the next message to its domain or to its address, then says QUIT. */
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
#include <sys/socket.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "outbound/agent_internal.h"

#define MAX_IDLE 16        /* open connections kept waiting for the next message */
#define IDLE_SECONDS 5     /* how long such a connection waits before it says QUIT */
#define CONNECT_TIMEOUT 30

void link_send(struct link *l, const char *fmt, ...)
{
	struct buf line = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	buf_append(&line, "\r\n", 2);
	bufferevent_write(l->bev, line.data, line.len);
	buf_free(&line);
}

static void link_free(struct link *l)
{
	if (l->bev)
		bufferevent_free(l->bev);
	if (l->idle_timer)
		event_free(l->idle_timer);
	smtp_reply_reader_reset(&l->reply);
	free(l);
}

static void idle_remove(struct link *l)
{
	struct outbound *ob = l->ob;
	for (struct link **pp = &ob->idle; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			ob->nidle--;
			break;
		}
	l->next = NULL;
	evtimer_del(l->idle_timer);
}

/* The end of a callback of l: a link closed meanwhile is freed now. */
void link_release(struct link *l)
{
	if (--l->in_callback == 0 && l->dead)
		link_free(l);
}

/* Drops the connection at once (bufferevents own their socket and, for TLS, their SSL:
 * BEV_OPT_CLOSE_ON_FREE) and detaches it from its delivery. */
void link_close(struct link *l)
{
	if (!l || l->dead)
		return;
	if (!l->a)
		idle_remove(l);
	else if (l->a->link == l)
		l->a->link = NULL;
	l->a = NULL;
	if (l->bev)
		bufferevent_free(l->bev);
	l->bev = NULL;
	l->dead = true;
	if (l->in_callback == 0)
		link_free(l);
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
void link_quit(struct link *l)
{
	if (!l || l->dead)
		return;
	struct bufferevent *bev = l->bev;
	l->bev = NULL;
	if (bev) {
		evbuffer_drain(bufferevent_get_input(bev),
			       evbuffer_get_length(bufferevent_get_input(bev)));
		bufferevent_setcb(bev, quit_answered, NULL, quit_event, NULL);
		bufferevent_enable(bev, EV_READ | EV_WRITE);
		struct timeval tv = { 5, 0 };
		bufferevent_set_timeouts(bev, &tv, &tv);
		bufferevent_write(bev, "QUIT\r\n", 6);
	}
	link_close(l);
}

static void link_idle_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	log_info("event=outbound-idle-close connection=%lu host=%s transactions=%ld", l->id,
		 log_str(l->host), l->transactions);
	link_quit(l);
}

/* The delivery on l is over and the server is between transactions: keep the connection for
 * the next message (outbound-reuse of them at most, IDLE_SECONDS of waiting at most). */
void link_park(struct link *l)
{
	struct outbound *ob = l->ob;
	l->a = NULL;
	if (l->transactions >= cfg(ob)->outbound_reuse) {
		link_quit(l);
		return;
	}
	if (ob->nidle >= MAX_IDLE) {
		struct link *oldest = ob->idle;
		while (oldest->next)
			oldest = oldest->next;
		link_quit(oldest);
	}
	l->next = ob->idle;
	ob->idle = l;
	ob->nidle++;
	/* Idle, the server's own timeout or our timer ends it; no read timeout of ours. */
	bufferevent_set_timeouts(l->bev, NULL, NULL);
	struct timeval tv = { IDLE_SECONDS, 0 };
	evtimer_add(l->idle_timer, &tv);
	schedule_soon(ob);
}

struct link *link_idle_for_domain(struct outbound *ob, const char *domain, bool smarthost)
{
	for (struct link *l = ob->idle; l; l = l->next)
		if (l->smarthost == smarthost && strcasecmp(l->domain, domain) == 0)
			return l;
	return NULL;
}

struct link *link_idle_for_addr(struct outbound *ob, const char *addr, int port,
				bool smarthost)
{
	for (struct link *l = ob->idle; l; l = l->next)
		if (l->smarthost == smarthost && l->port == port && strcmp(l->addr, addr) == 0)
			return l;
	return NULL;
}

/* Starts the next message on a kept connection. */
void attempt_use_link(struct attempt *a, struct link *l)
{
	idle_remove(l);
	l->a = a;
	a->link = l;
	a->reused = true;
	snprintf(l->domain, sizeof l->domain, "%s", a->e.domain);
	snprintf(a->host, sizeof a->host, "%s", l->host);
	struct timeval tv = { REPLY_TIMEOUT, 0 };
	bufferevent_set_timeouts(l->bev, &tv, &tv);
	log_info("event=outbound-reuse queue=%lld connection=%lu host=%s addr=%s transaction=%ld",
		 (long long)a->e.id, l->id, log_str(l->host), l->addr, l->transactions + 1);
	proto_transaction_start(a);
}

struct link *link_connect(struct attempt *a, const char *ip, const struct sockaddr *sa,
				 socklen_t salen)
{
	struct outbound *ob = a->ob;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct link *l = xcalloc(1, sizeof *l);
	l->ob = ob;
	l->id = ++ob->links_opened;
	l->port = a->port;
	l->smarthost = a->smarthost;
	snprintf(l->host, sizeof l->host, "%s", a->host);
	snprintf(l->addr, sizeof l->addr, "%s", ip);
	snprintf(l->domain, sizeof l->domain, "%s", a->e.domain);
	l->idle_timer = evtimer_new(ob->base, link_idle_timeout, l);
	line_reader_init(&l->lines, 2048);
	if (a->smarthost && a->port == 465) {
		/* Submission over TLS from the first byte (RFC 8314). */
		SSL *ssl = SSL_new(ob->tls);
		SSL_set_tlsext_host_name(ssl, a->host);
		l->bev = bufferevent_openssl_socket_new(ob->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
							BEV_OPT_CLOSE_ON_FREE |
							BEV_OPT_DEFER_CALLBACKS);
		bufferevent_openssl_set_allow_dirty_shutdown(l->bev, 1);
		l->tls = true;
	} else {
		l->bev = bufferevent_socket_new(ob->base, fd,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	}
	bufferevent_setcb(l->bev, proto_on_read, NULL, proto_on_event, l);
	struct timeval tv = { CONNECT_TIMEOUT, 0 };
	bufferevent_set_timeouts(l->bev, &tv, &tv);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	l->a = a;
	a->link = l;
	a->state = A_CONNECTING;
	log_info("event=outbound-connect queue=%lld connection=%lu host=%s addr=%s port=%d",
		 (long long)a->e.id, l->id, log_str(a->host), ip, a->port);
	if (bufferevent_socket_connect(l->bev, sa, (int)salen) < 0) {
		link_close(l);
		return NULL;
	}
	return l;
}
