/* Delivery status notifications (RFC 3464) that a person can act on: the first part says in
 * plain words what happened and what to do, quoting the remote server. Pure: bytes out. */
#ifndef YUBIN_DSN_H
#define YUBIN_DSN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct dsn_recipient {
	const char *address;
	const char *status;      /* enhanced status, e.g. "5.1.1" */
	const char *diagnostic;  /* the remote reply ("550 5.1.1 ..."), or NULL */
	const char *remote_mta;  /* host name of the server that answered, or NULL */
	const char *explanation; /* plain words; NULL: derived from status and diagnostic */
};

/* One sentence for a person: what the reply means and what to do. */
const char *dsn_explain(const char *status, const char *diagnostic);

/* Appends a complete message (headers and body, CRLF). delay: a warning that delivery is
 * still being tried, not a failure. original: the message (its header is included). */
void dsn_build(struct buf *out, const char *hostname, const char *mailer_daemon,
	       const char *sender, bool delay, const struct dsn_recipient *r, size_t n,
	       const char *original, size_t original_len, int64_t arrival, int64_t now);

#endif
