/* Address lists such as the trusted-networks setting: "127.0.0.0/8, ::1, 2001:db8::/32"
 * (comma or space separated, a bare address is a /32 or /128). Pure. */
#ifndef YUBIN_LIB_CIDR_H
#define YUBIN_LIB_CIDR_H
#include <stdbool.h>

#include "lib/buf.h"

/* True when list parses; otherwise false with a sentence in err naming the bad entry. */
bool cidr_list_valid(const char *list, struct buf *err);
/* True when ip (text; an IPv4-mapped IPv6 address counts as its IPv4 address) is inside an
 * entry of list. Entries that do not parse match nothing. */
bool cidr_list_match(const char *list, const char *ip);

#endif
