/* Connection counts, in total and per client address, shared by every service so that one
 * address cannot take every slot by spreading over ports. */
#ifndef YUBIN_CONNLIMIT_H
#define YUBIN_CONNLIMIT_H
#include <stdbool.h>
#include <stddef.h>

struct ip_count {
	char ip[64];
	size_t count;
	size_t held; /* bytes its connections hold before login (IMAP commands being read) */
};

struct conn_limits {
	unsigned long last_id; /* connection ids, unique across services for the log */
	size_t total;
	size_t mx;          /* of total: port 25 (mail from other servers) */
	struct ip_count *ips;
	size_t nips;
};

/* Counts a new connection from ip (mx: on port 25); returns the connections from that address
 * now open. */
size_t conn_limits_add(struct conn_limits *l, const char *ip, bool mx);
void conn_limits_remove(struct conn_limits *l, const char *ip, bool mx);
/* Whether the connection just added must be refused: over max in total, or, for any service
 * but port 25, into the slots kept for port 25 (reserved, at most half of max), so idle mail
 * apps can never make other servers' mail wait. */
bool conn_limits_over(const struct conn_limits *l, bool mx, size_t max, size_t reserved);
/* A connection from ip that held `before` bytes before login now holds `now`; returns what
 * every connection from ip holds now. */
size_t conn_limits_hold(struct conn_limits *l, const char *ip, size_t before, size_t now);
/* What connections from ip hold before login. */
size_t conn_limits_held(const struct conn_limits *l, const char *ip);
void conn_limits_free(struct conn_limits *l);
bool net_ip_is_loopback(const char *ip);

#endif
