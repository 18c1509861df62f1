/* LIST/LSUB mailbox patterns (RFC 9051 6.3.9) as a pure function: "*" matches any run of
 * characters, "%" any run without the hierarchy separator. */
#ifndef YUBIN_IMAP_LISTMATCH_H
#define YUBIN_IMAP_LISTMATCH_H
#include <stdbool.h>

/* Whether `name` matches `pat` (both NUL-terminated) with `sep` as the hierarchy separator.
 * Time O(len(pat) * len(name)) and memory O(len(name)), whatever the pattern: a client's
 * pattern of thousands of wildcards costs no more than as many literal characters. */
bool imap_list_match(const char *pat, const char *name, char sep);

#endif
