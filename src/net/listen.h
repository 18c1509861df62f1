/* Listening sockets, opened before privileges are dropped. */
#ifndef YUBIN_LISTEN_H
#define YUBIN_LISTEN_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "lib/buf.h"

/* Binds addr:port (IPv4 or IPv6 literal), non-blocking, close-on-exec. -1 + err on failure. */
int net_listen(const char *addr, int port, struct buf *err);
/* Numeric text of a peer address ("192.0.2.1" or "2001:db8::1"). */
void net_addr_text(const struct sockaddr *sa, char *out, size_t outlen);

#endif
