/* The inbound SMTP service (MX role): accepts connections, enforces connection limits and
 * runs one session per connection on the shared event loop. */
#ifndef YUBIN_SMTP_SERVER_H
#define YUBIN_SMTP_SERVER_H
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "store/committer.h"
#include "auth/login.h"
#include "lib/config.h"
#include "net/connlimit.h"
#include "net/dns.h"
#include "store/store.h"

struct smtp_session;
struct rspamd_client;

/* Which port a connection came in on: the MX port takes mail for our domains from anyone;
 * submission (587 with STARTTLS, 465 with TLS from the first byte) takes mail from logged-in
 * users for anywhere. */
enum smtp_mode { SMTP_MODE_MX, SMTP_MODE_SUBMISSION, SMTP_MODE_SUBMISSIONS };

struct smtp_server {
	struct config *cfg;           /* may be swapped on reload: read fields at use time */
	struct event_base *base;
	SSL_CTX *tls;                 /* NULL: STARTTLS not offered */
	struct store *store;          /* read connection of the event-loop thread */
	struct committer *committer;
	struct dns_resolver *dns;     /* checking inbound mail (NULL: not checked) */
	struct committer *mailauth_worker; /* DKIM hashing of large messages */
	struct rspamd_client *rspamd; /* spam scanning of inbound mail (NULL: off) */
	struct login_service *login;  /* AUTH on the submission ports */
	char *default_domain;         /* where <postmaster> goes */
	struct conn_limits *limits;   /* shared with the other services */
	const char *spool_dir;        /* large messages being received spill here */
	struct smtp_session *sessions; /* every live session, for shutdown */
	bool draining;                /* shutting down: refuse new connections */
	struct send_count *sends;     /* messages per logged-in account in the current hour */
	size_t nsends;
};

struct send_count {
	int64_t account_id;
	int64_t hour;                 /* unix time / 3600 */
	long count;
};

/* Takes over fd (accepted, non-blocking). */
void smtp_server_accept(struct smtp_server *srv, int fd, const struct sockaddr *peer,
			enum smtp_mode mode);
/* Asks every session to finish: idle ones are closed with 421, ones waiting for a commit
 * are closed once it is answered. Returns the number still open. */
size_t smtp_server_drain(struct smtp_server *srv);

/* Closes every session at once (end of a shutdown that waited long enough). */
void smtp_server_close_all(struct smtp_server *srv);

#endif
