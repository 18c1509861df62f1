/* The POP3 service (RFC 1939) on 110 (STLS) and 995 (implicit TLS), with per-device
 * deletion: a DELE hides a message only from the device that sent it, by default. */
#ifndef YUBIN_POP3_SERVER_H
#define YUBIN_POP3_SERVER_H
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "auth/login.h"
#include "lib/config.h"
#include "net/connlimit.h"
#include "store/committer.h"
#include "store/store.h"

struct pop3_session;

struct pop3_server {
	struct config *cfg;            /* swapped on reload: read fields at use time */
	struct event_base *base;
	SSL_CTX *tls;
	struct store *store;           /* read connection of the loop thread */
	struct committer *writer;
	struct login_service *login;
	struct conn_limits *limits;
	struct pop3_session *sessions;
	int64_t *busy_devices;         /* devices with a session open ([IN-USE]) */
	size_t nbusy;
	bool draining;
};

/* Takes over fd. implicit_tls: the port speaks TLS from the first byte (995). */
void pop3_server_accept(struct pop3_server *srv, int fd, const struct sockaddr *peer,
			bool implicit_tls);
/* Like smtp_server_drain: returns the sessions still open. */
size_t pop3_server_drain(struct pop3_server *srv);
void pop3_server_close_all(struct pop3_server *srv);

#endif
