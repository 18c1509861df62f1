/* The outbound agent: takes due entries from the queue, finds the receiving servers in DNS,
 * speaks SMTP to them, and records the outcome: delivered, retry later (with backoff), or
 * bounced with a DSN the sender can understand. */
#ifndef YUBIN_AGENT_H
#define YUBIN_AGENT_H
#include <event2/event.h>

#include "lib/config.h"
#include "store/committer.h"
#include "store/store.h"

struct outbound;
struct dns_resolver;

/* cfg points at the daemon's current configuration pointer (it changes on reload). */
/* The resolver the agent made from the resolver setting; inbound checks share it (one cache). */
struct dns_resolver *outbound_resolver(struct outbound *ob);
struct outbound *outbound_start(struct event_base *base, struct config *const *cfg,
				struct store *store, struct committer *writer,
				const char *default_domain, struct buf *err);
/* Stops taking new work and drops attempts in flight (their entries stay queued). */
void outbound_stop(struct outbound *ob);
/* New entries are in the queue: a scheduler pass soon (passes are at most every 10 ms). */
void outbound_kick(struct outbound *ob);

#endif
