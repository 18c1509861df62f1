/* Asynchronous DNS on libunbound, driven by the event loop (its file descriptor is watched;
 * no blocking call): outbound delivery's MX and addresses, SPF's queries of any type. */
#ifndef YUBIN_DNS_H
#define YUBIN_DNS_H
#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* One query of any type (RR_TXT and so on: the numeric type): each record's rdata as the
 * server sent it, after libunbound followed any CNAMEs (and cached the answer by its TTL).
 * The records live until fn returns. */
struct dns_rdata {
	const unsigned char *data;
	size_t len;
};
typedef void (*dns_rdata_fn)(void *ctx, enum dns_status st, const struct dns_rdata *rr, size_t n,
			     const char *why);
struct dns_query;
/* Returns the query in flight, or NULL when fn was already called (the query refused). */
struct dns_query *dns_query(struct dns_resolver *r, const char *name, int rrtype, dns_rdata_fn fn,
			    void *ctx);
/* For a DNS_NONE answer: whether its why says the name does not exist at all (NXDOMAIN), as
 * opposed to having no record of that type (DMARC's np= needs the difference). */
bool dns_why_nxdomain(const char *why);
/* Forgets a query dns_query() returned whose fn has not been called: it never will be. */
void dns_query_cancel(struct dns_query *q);
/* dns_query() calls that went to libunbound, and those that joined an identical query
 * already in flight (same type and name, any case) and share its answer. */
struct dns_stats {
	uint64_t asked, joined;
};
void dns_resolver_stats(const struct dns_resolver *r, struct dns_stats *out);

/* A TXT record's character-strings concatenated (RFC 7208 3.3, RFC 6376 3.6.2.2), appended
 * to out. False when the rdata is malformed. */
bool dns_txt_join(const struct dns_rdata *rr, struct buf *out);

/* A domain name in DNS wire format (uncompressed, as in rdata) to text without the final
 * dot ("" for the root). False when malformed or longer than outlen allows. */
bool dns_wire_name(const unsigned char *p, size_t len, char *out, size_t outlen);

#endif
