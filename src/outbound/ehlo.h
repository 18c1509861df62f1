/* The extensions a server names in its EHLO reply (RFC 5321 4.1.1.1). Pure: text in,
 * flags out, so the client's decisions (STARTTLS, PIPELINING, SIZE...) are tested alone. */
#ifndef YUBIN_EHLO_H
#define YUBIN_EHLO_H
#include <stdbool.h>

struct ehlo_ext {
	bool starttls, eightbitmime, smtputf8, pipelining, auth;
	long long size; /* SIZE limit in bytes; 0: none announced (or no number) */
};

/* lines: the text of every reply line after its "250-"/"250 ", separated by '\n'. The first
 * line is the server's greeting, never a keyword; a keyword is the first word of a later
 * line, matched without regard to case. */
void ehlo_parse(const char *lines, struct ehlo_ext *out);

#endif
