/* Address lists (cidr.h). */
#include "lib/cidr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* Text to 4 or 16 bytes; an IPv4-mapped IPv6 address becomes its IPv4 address. 0: bad. */
static int parse_ip(const char *s, unsigned char out[16])
{
	if (inet_pton(AF_INET, s, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, out) != 1)
		return 0;
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (memcmp(out, mapped, 12) == 0) {
		memmove(out, out + 12, 4);
		return 4;
	}
	return 16;
}

/* One entry, "ADDR" or "ADDR/BITS". */
static bool parse_entry(const char *s, size_t len, unsigned char net[16], int *family, int *bits)
{
	char text[64];
	if (len == 0 || len >= sizeof text)
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	char *slash = strchr(text, '/');
	long prefix = -1;
	if (slash) {
		*slash = '\0';
		char *end;
		if (!slash[1] || slash[1] == '-' || slash[1] == '+')
			return false;
		prefix = strtol(slash + 1, &end, 10);
		if (*end)
			return false;
	}
	int f = parse_ip(text, net);
	if (!f)
		return false;
	if (prefix >= 0 && f == 4 && strchr(text, ':')) {
		/* a mapped IPv4 network written in IPv6 (::ffff:192.0.2.0/120) */
		if (prefix < 96)
			return false;
		prefix -= 96;
	}
	int max = f * 8;
	if (prefix > max)
		return false;
	*family = f;
	*bits = prefix < 0 ? max : (int)prefix;
	return true;
}

static bool in_net(const unsigned char *ip, const unsigned char *net, int bits)
{
	int full = bits / 8, rest = bits % 8;
	if (memcmp(ip, net, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (ip[full] & mask) == (net[full] & mask);
}

static const char *next_entry(const char *p, size_t *len)
{
	p += strspn(p, ", \t");
	*len = strcspn(p, ", \t");
	return p;
}

bool cidr_list_valid(const char *list, struct buf *err)
{
	size_t len;
	for (const char *p = next_entry(list, &len); *p; p = next_entry(p + len, &len)) {
		unsigned char net[16];
		int family, bits;
		if (!parse_entry(p, len, net, &family, &bits)) {
			buf_printf(err, "\"%.*s\" is not an address or a network such as "
				   "192.0.2.0/24 or 2001:db8::/32", (int)(len > 64 ? 64 : len), p);
			return false;
		}
	}
	return true;
}

bool cidr_list_match(const char *list, const char *ip)
{
	unsigned char addr[16];
	int family = parse_ip(ip, addr);
	if (!family || !list)
		return false;
	size_t len;
	for (const char *p = next_entry(list, &len); *p; p = next_entry(p + len, &len)) {
		unsigned char net[16];
		int f, bits;
		if (parse_entry(p, len, net, &f, &bits) && f == family && in_net(addr, net, bits))
			return true;
	}
	return false;
}
