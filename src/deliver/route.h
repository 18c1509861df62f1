/* Where does a recipient address go? Plus-addressing, aliases (distribution lists, nested
 * up to a fixed depth), catch-all, several domains. Reads the store; changes nothing. */
#ifndef YUBIN_ROUTE_H
#define YUBIN_ROUTE_H
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum route_result {
	ROUTE_LOCAL,        /* one or more local accounts */
	ROUTE_UNKNOWN_USER, /* our domain, but nobody by that name */
	ROUTE_NOT_LOCAL,    /* not one of our domains */
	ROUTE_OVER_QUOTA,   /* every target account is full */
};

struct route_targets {
	int64_t ids[64]; /* distinct accounts; a list wider than this is cut and logged */
	size_t n;
};

/* local/domain as parsed from the envelope (quotes removed). An empty domain means
 * <postmaster>, routed to postmaster@default_domain. incoming_size: declared or 0. */
enum route_result route_recipient(struct store *s, const char *local, const char *domain,
				  const char *default_domain, int64_t incoming_size,
				  struct route_targets *out);

/* May the logged-in account send with this envelope sender (its address, plus-addresses,
 * aliases that deliver to it)? */
bool route_sender_allowed(struct store *s, const char *local, const char *domain,
			  int64_t account_id);

#endif
