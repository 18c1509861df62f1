/* Bufferevents for server sessions (SMTP, POP3, IMAP): plain or TLS from the first byte,
 * the STARTTLS switch on the same socket, and teardown. The session owns the descriptor
 * (so STARTTLS can swap the bufferevent over it) and closes it after conn_free. */
#ifndef YUBIN_CONN_H
#define YUBIN_CONN_H
#include <event2/bufferevent.h>
#include <openssl/ssl.h>
#include <stdbool.h>

/* tls NULL: plain. */
struct bufferevent *conn_open(struct event_base *base, int fd, SSL_CTX *tls);
/* Drops whatever the client sent after STARTTLS (it must not be read as plaintext,
 * CVE-2011-0411), frees the plain bufferevent and returns a TLS one on the same socket. */
struct bufferevent *conn_starttls(struct event_base *base, struct bufferevent *plain, int fd,
				  SSL_CTX *tls);
/* Frees the bufferevent (under an optional filter such as COMPRESS) and its SSL. */
void conn_free(struct bufferevent *bev, struct bufferevent *under, bool tls);

#endif
