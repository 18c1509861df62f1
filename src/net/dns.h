/* Asynchronous DNS on libunbound, driven by the event loop (its file descriptor is watched;
 * no blocking call): outbound delivery's MX and addresses, SPF's queries of any type. */
#ifndef YUBIN_DNS_H
#define YUBIN_DNS_H
#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

enum dns_status {
	DNS_OK,
	DNS_NONE,     /* the name exists but has no such record, or does not exist */
	DNS_TEMPFAIL, /* no answer now (timeout, SERVFAIL): try again later */
};

struct dns_mx {
	int preference;
	char host[256];
};

struct dns_resolver;

/* forwarder: "ADDR" or "ADDR@PORT" to ask that server; NULL or "" for /etc/resolv.conf. */
struct dns_resolver *dns_resolver_new(struct event_base *base, const char *forwarder,
				      struct buf *err);
void dns_resolver_free(struct dns_resolver *r);

/* MX records sorted by preference. A null MX (RFC 7505) comes back as one entry with host "". */
typedef void (*dns_mx_fn)(void *ctx, enum dns_status st, const struct dns_mx *mx, size_t n,
			  const char *why);
void dns_lookup_mx(struct dns_resolver *r, const char *domain, dns_mx_fn fn, void *ctx);

/* IPv4 and IPv6 addresses of a host, as text. */
typedef void (*dns_addr_fn)(void *ctx, enum dns_status st, char **addrs, size_t n,
			    const char *why);
void dns_lookup_addrs(struct dns_resolver *r, const char *host, dns_addr_fn fn, void *ctx);

#endif
