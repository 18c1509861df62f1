#include "net/conn.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/bufferevent_ssl.h>

#include "lib/alloc.h"

/* The one way a server session's bufferevent is made: plaintext when ssl is NULL. */
static struct bufferevent *wrap(struct event_base *base, int fd, SSL *ssl,
				enum bufferevent_ssl_state state)
{
	if (!ssl)
		return bufferevent_socket_new(base, fd, BEV_OPT_DEFER_CALLBACKS);
	struct bufferevent *bev =
		bufferevent_openssl_socket_new(base, fd, ssl, state, BEV_OPT_DEFER_CALLBACKS);
	/* Clients that just close without close_notify are common and harmless. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

struct bufferevent *conn_open(struct event_base *base, int fd, SSL_CTX *tls)
{
	return wrap(base, fd, tls ? SSL_new(tls) : NULL, BUFFEREVENT_SSL_ACCEPTING);
}

struct bufferevent *conn_starttls(struct event_base *base, struct bufferevent *plain, int fd,
				  SSL_CTX *tls)
{
	struct evbuffer *in = bufferevent_get_input(plain);
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_free(plain);
	return conn_open(base, fd, tls);
}

bool conn_can_sleep(struct bufferevent *bev, bool tls)
{
	/* Reading off: the session waits for something else, or libevent saw the end of the
	 * connection and its event callback is still to come. */
	if (!(bufferevent_get_enabled(bev) & EV_READ))
		return false;
	if (evbuffer_get_length(bufferevent_get_input(bev)) ||
	    evbuffer_get_length(bufferevent_get_output(bev)))
		return false;
	if (!tls)
		return true;
	/* Decrypted bytes inside OpenSSL would wait unseen: the socket would not signal them.
	 * And conn_wake wraps an SSL whose handshake is done. */
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	return SSL_is_init_finished(ssl) && SSL_pending(ssl) == 0;
}

SSL *conn_sleep(struct bufferevent *bev, bool tls)
{
	SSL *ssl = tls ? bufferevent_openssl_get_ssl(bev) : NULL;
	bufferevent_free(bev); /* no BEV_OPT_CLOSE_ON_FREE: the socket and the SSL stay */
	return ssl;
}

struct bufferevent *conn_wake(struct event_base *base, int fd, SSL *ssl)
{
	return wrap(base, fd, ssl, BUFFEREVENT_SSL_OPEN); /* the handshake is long done */
}

void conn_free(struct bufferevent *bev, struct bufferevent *under, bool tls)
{
	if (!bev)
		return;
	/* Without BEV_OPT_CLOSE_ON_FREE (we own the fd across STARTTLS) libevent leaves the SSL
	 * to us. */
	SSL *ssl = tls ? bufferevent_openssl_get_ssl(under ? under : bev) : NULL;
	bufferevent_free(bev);
	SSL_free(ssl);
}

enum conn_line conn_read_line(struct evbuffer *in, struct line_reader *lr, char **line,
			      size_t *len)
{
	while (evbuffer_get_length(in) > 0) {
		size_t avail = evbuffer_get_length(in);
		size_t want = avail < lr->max ? avail : lr->max;
		const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)want);
		size_t consumed, line_len;
		enum line_status st = line_reader_next(lr, p, want, &consumed, &line_len);
		if (st == LINE_NEED_MORE) {
			evbuffer_drain(in, consumed);
			if (consumed == 0)
				return CONN_LINE_NONE;
			continue;
		}
		if (st == LINE_TOO_LONG) {
			evbuffer_drain(in, consumed);
			return CONN_LINE_TOO_LONG;
		}
		*len = line_strip_eol(p, line_len);
		*line = xstrndup(p, *len);
		evbuffer_drain(in, consumed);
		return CONN_LINE_OK;
	}
	return CONN_LINE_NONE;
}

bool conn_output_full(struct bufferevent *bev)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) <= CONN_OUTPUT_HIGH_WATER)
		return false;
	bufferevent_disable(bev, EV_READ);
	return true;
}
