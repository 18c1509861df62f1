/* The IMAP service (RFC 9051 / RFC 3501) on 143 (STARTTLS) and 993 (implicit TLS). */
#ifndef YUBIN_IMAP_SERVER_H
#define YUBIN_IMAP_SERVER_H
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "auth/login.h"
#include "lib/config.h"
#include "net/connlimit.h"
#include "spam/rspamd.h"
#include "store/committer.h"
#include "store/store.h"

struct imap_session;

#define IMAP_MAX_READERS 4

struct imap_server {
	struct config *cfg;            /* swapped on reload: read fields at use time */
	struct event_base *base;
	SSL_CTX *tls;
	struct store *store;           /* read connection of the loop thread */
	struct committer *writer;
	/* Reader threads for SEARCH, SORT, THREAD and LIST (none: those run on the loop). */
	struct committer *readers[IMAP_MAX_READERS];
	size_t nreaders, next_reader;
	/* Reads queued or running on each reader: a new one goes to the least busy, so a quick
	 * FETCH does not wait behind another user's long SEARCH while a reader is free. */
	size_t reader_load[IMAP_MAX_READERS];
	struct login_service *login;
	struct conn_limits *limits;
	const char *spool_dir;        /* large APPENDs being received spill here */
	struct imap_session *sessions;
	bool draining;
	/* The spam filter users teach by moving mail to and from Junk (learn.c); NULL: none.
	 * Set to NULL before the client is freed: learns still being read are then dropped. */
	struct rspamd_client *rspamd;
	size_t learns_reading;         /* messages being read for learning on the readers */
};

void imap_server_accept(struct imap_server *srv, int fd, const struct sockaddr *peer,
			bool implicit_tls);
/* Something changed in the store: sessions in IDLE tell their clients now. */
void imap_server_notify(struct imap_server *srv);
size_t imap_server_drain(struct imap_server *srv);
void imap_server_close_all(struct imap_server *srv);

#endif
