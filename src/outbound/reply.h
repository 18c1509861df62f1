/* A strict reader of SMTP replies as the outbound client receives them (RFC 5321 4.2).
 * Pure: lines in (without their CRLF), a finished reply out, so it is unit-tested and fuzzed
 * apart from the socket. Every line must start with the same three-digit code (first digit
 * 2-5, second 0-5), followed by a space, a hyphen (more lines follow) or the end of the line;
 * "250X" or a continuation with another code is a malformed reply, not a guess. */
#ifndef YUBIN_OUTBOUND_REPLY_H
#define YUBIN_OUTBOUND_REPLY_H
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* Bytes of one reply kept (its lines together) and lines of one reply accepted. */
#define SMTP_REPLY_MAX_BYTES 65536
#define SMTP_REPLY_MAX_LINES 1000
/* Bytes of one line kept; the rest of a longer line is dropped. */
#define SMTP_REPLY_LINE_KEEP 1000

enum smtp_reply_status {
	SMTP_REPLY_MORE, /* a line of a multi-line reply: feed the next one */
	SMTP_REPLY_DONE, /* the reply is complete: take it */
	SMTP_REPLY_BAD,  /* malformed or endless: *why says which; the reader is reset */
};

struct smtp_reply_reader {
	int code;           /* of the reply being read; 0 before its first line */
	size_t nlines;
	struct buf flat;    /* the lines' texts joined by spaces, with the code once in front */
	struct buf lines;   /* the lines' texts (after "250-"/"250 "), separated by '\n' */
};

struct smtp_reply {
	int code;
	char *flat;  /* "250 mx.example hello PIPELINING": for people (DSNs, queue list) */
	char *lines; /* "mx.example hello\nPIPELINING": for EHLO parsing */
};

void smtp_reply_reader_init(struct smtp_reply_reader *r);
/* Feeds one line (len bytes, no CRLF, may contain any byte). On DONE, *out owns two strings
 * the caller frees (smtp_reply_free). Control bytes in the text become '?'. */
enum smtp_reply_status smtp_reply_feed(struct smtp_reply_reader *r, const char *line, size_t len,
				       struct smtp_reply *out, const char **why);
void smtp_reply_reader_reset(struct smtp_reply_reader *r);
void smtp_reply_free(struct smtp_reply *reply);

#endif
