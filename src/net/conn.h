/* Bufferevents for server sessions (SMTP, POP3, IMAP): plain or TLS from the first byte,
 * the STARTTLS switch on the same socket, and teardown. The session owns the descriptor
 * (so STARTTLS can swap the bufferevent over it) and closes it after conn_free. */
#ifndef YUBIN_CONN_H
#define YUBIN_CONN_H
#include <event2/bufferevent.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/linereader.h"

/* tls NULL: plain. */
struct bufferevent *conn_open(struct event_base *base, int fd, SSL_CTX *tls);
/* Drops whatever the client sent after STARTTLS (it must not be read as plaintext,
 * CVE-2011-0411), frees the plain bufferevent and returns a TLS one on the same socket. */
struct bufferevent *conn_starttls(struct event_base *base, struct bufferevent *plain, int fd,
				  SSL_CTX *tls);
enum conn_line { CONN_LINE_NONE, CONN_LINE_OK, CONN_LINE_TOO_LONG };

/* The next line from a connection's input, through its bounded line reader. OK: *line is a
 * malloc'd copy without CR LF (NUL-terminated, *len bytes); the caller frees it (and wipes it
 * if it may hold a password). NONE: no complete line yet. TOO_LONG: a line over the limit was
 * dropped; answer once and call again (its tail is skipped without being buffered). */
enum conn_line conn_read_line(struct evbuffer *in, struct line_reader *lr, char **line,
			      size_t *len);
/* Replies piling up unread past this: stop reading the client until it catches up. */
#define CONN_OUTPUT_HIGH_WATER 65536
/* True (and reading paused) when the client is not reading its replies. */
bool conn_output_full(struct bufferevent *bev);

/* Frees the bufferevent (under an optional filter such as COMPRESS) and its SSL. */
void conn_free(struct bufferevent *bev, struct bufferevent *under, bool tls);

/* A connection waiting for its client (IMAP between commands and in IDLE) can give back its
 * bufferevent (about 1 KB with its buffers) and keep only the socket and the TLS state.
 * conn_can_sleep: reading is on, the handshake is done and nothing is buffered on either side
 * (so nothing can be lost). conn_sleep frees the bufferevent and returns the SSL (NULL for
 * plaintext); conn_wake wraps them in a new one, ready to use. */
bool conn_can_sleep(struct bufferevent *bev, bool tls);
SSL *conn_sleep(struct bufferevent *bev, bool tls);
struct bufferevent *conn_wake(struct event_base *base, int fd, SSL *ssl);

#endif
