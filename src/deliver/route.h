/* Where does a recipient address go? Plus-addressing, aliases (distribution lists, nested
 * up to a fixed depth, forwarding to other domains), catch-all, several domains. Reads the
 * store; changes nothing. */
#ifndef YUBIN_ROUTE_H
#define YUBIN_ROUTE_H
#include <stddef.h>
#include <stdint.h>

#include "store/committer.h"
#include "store/store.h"

enum route_result {
	ROUTE_LOCAL,        /* one or more local accounts */
	ROUTE_UNKNOWN_USER, /* our domain, but nobody by that name */
	ROUTE_NOT_LOCAL,    /* not one of our domains */
	ROUTE_OVER_QUOTA,   /* every target account is full */
};

#define ROUTE_REMOTE_MAX 16

struct route_targets {
	int64_t ids[64]; /* distinct accounts; a list wider than this is cut and logged */
	size_t n;
	/* Addresses in other domains that aliases forward to (owned; route_targets_free).
	 * Only aliases the operator made lead here, so this opens no relay. */
	char *remote[ROUTE_REMOTE_MAX];
	size_t nremote;
};

/* local/domain as parsed from the envelope (quotes removed). An empty domain means
 * <postmaster>, routed to postmaster@default_domain. incoming_size: declared or 0.
 * ROUTE_LOCAL may mean accounts, forwarding addresses, or both. Always free out after. */
enum route_result route_recipient(struct store *s, const char *local, const char *domain,
				  const char *default_domain, int64_t incoming_size,
				  struct route_targets *out);
void route_targets_free(struct route_targets *t);

/* Adds address to the queue entry (struct commit_remote) for its domain in *remote, making
 * one when there is none; an address already there is not added again. */
void route_queue_add(struct commit_remote **remote, size_t *n, const char *address);

/* May the logged-in account send with this envelope sender (its address, plus-addresses,
 * aliases that deliver to it)? */
bool route_sender_allowed(struct store *s, const char *local, const char *domain,
			  int64_t account_id);

#endif
