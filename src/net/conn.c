#include "net/conn.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>

struct bufferevent *conn_open(struct event_base *base, int fd, SSL_CTX *tls)
{
	if (!tls)
		return bufferevent_socket_new(base, fd, BEV_OPT_DEFER_CALLBACKS);
	struct bufferevent *bev = bufferevent_openssl_socket_new(
		base, fd, SSL_new(tls), BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_DEFER_CALLBACKS);
	/* Clients that just close without close_notify are common and harmless. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

struct bufferevent *conn_starttls(struct event_base *base, struct bufferevent *plain, int fd,
				  SSL_CTX *tls)
{
	struct evbuffer *in = bufferevent_get_input(plain);
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_free(plain);
	return conn_open(base, fd, tls);
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
