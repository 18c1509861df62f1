#include "net/connlimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"

static struct ip_count *slot_find(const struct conn_limits *l, const char *ip)
{
	for (size_t i = 0; i < l->nips; i++)
		if (strcmp(l->ips[i].ip, ip) == 0)
			return &l->ips[i];
	return NULL;
}

size_t conn_limits_add(struct conn_limits *l, const char *ip, bool mx)
{
	l->total++;
	l->mx += mx;
	struct ip_count *slot = slot_find(l, ip);
	if (!slot) {
		l->ips = xrealloc(l->ips, (l->nips + 1) * sizeof *l->ips);
		slot = &l->ips[l->nips++];
		snprintf(slot->ip, sizeof slot->ip, "%s", ip);
		slot->count = 0;
		slot->held = 0;
	}
	return ++slot->count;
}

void conn_limits_remove(struct conn_limits *l, const char *ip, bool mx)
{
	l->total--;
	l->mx -= mx;
	struct ip_count *slot = slot_find(l, ip);
	if (slot && --slot->count == 0)
		*slot = l->ips[--l->nips];
}

size_t conn_limits_hold(struct conn_limits *l, const char *ip, size_t before, size_t now)
{
	struct ip_count *slot = slot_find(l, ip);
	if (!slot)
		return 0; /* not counted (cannot happen while the connection is open) */
	slot->held = slot->held - before + now;
	return slot->held;
}

size_t conn_limits_held(const struct conn_limits *l, const char *ip)
{
	struct ip_count *slot = slot_find(l, ip);
	return slot ? slot->held : 0;
}

bool conn_limits_over(const struct conn_limits *l, bool mx, size_t max, size_t reserved)
{
	if (l->total > max)
		return true;
	if (mx)
		return false;
	size_t keep = reserved < max / 2 ? reserved : max / 2;
	return l->total - l->mx > max - keep;
}

void conn_limits_free(struct conn_limits *l)
{
	free(l->ips);
	l->ips = NULL;
	l->nips = l->total = l->mx = 0;
}

bool net_ip_is_loopback(const char *ip)
{
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0;
}
