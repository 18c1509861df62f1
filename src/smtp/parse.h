/* SMTP grammar (RFC 5321, 6531 SMTPUTF8, 3030 CHUNKING, 1870 SIZE, 6152 8BITMIME) as pure
 * functions over bytes: no sockets, no allocation on the command path. Shared by the inbound
 * server and (later) the outbound client. */
#ifndef YUBIN_SMTP_PARSE_H
#define YUBIN_SMTP_PARSE_H
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

enum smtp_verb {
	SMTP_UNKNOWN, SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA, SMTP_BDAT,
	SMTP_RSET, SMTP_NOOP, SMTP_QUIT, SMTP_HELP, SMTP_VRFY, SMTP_EXPN, SMTP_STARTTLS,
	SMTP_AUTH,
};

enum smtp_body { SMTP_BODY_NONE, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME, SMTP_BODY_BINARYMIME };

/* RFC 5321 4.5.3.1: local part 64 and domain 255 octets; UTF-8 local parts may be longer
 * in bytes, so we allow 256 for the local part. */
#define SMTP_LOCAL_MAX 256
#define SMTP_DOMAIN_MAX 256

struct smtp_address {
	bool null;                    /* <> */
	bool utf8;                    /* has non-ASCII bytes (needs SMTPUTF8) */
	char local[SMTP_LOCAL_MAX];   /* local part, quotes removed */
	char domain[SMTP_DOMAIN_MAX]; /* domain, or [address literal]; empty for <postmaster> */
	char text[SMTP_LOCAL_MAX + SMTP_DOMAIN_MAX + 4]; /* as written between < and > */
};

struct smtp_command {
	enum smtp_verb verb;
	const char *arg; /* the text after the verb and its space; points into the line */
	size_t arg_len;
	struct smtp_address addr; /* MAIL, RCPT */
	long long size;           /* MAIL SIZE=, -1 when absent */
	enum smtp_body body;      /* MAIL BODY= */
	bool smtputf8;            /* MAIL SMTPUTF8 */
	unsigned long long chunk_size; /* BDAT */
	bool last;                /* BDAT ... LAST */
};

/* A reply the parser wants sent: code, enhanced status, one sentence. */
struct smtp_error {
	int code;
	const char *status;
	const char *text;
};

/* Parses one command line (without CRLF). utf8_ok: SMTPUTF8 addresses are allowed (the
 * server advertises it; MAIL must still carry SMTPUTF8 for them). False + err on bad syntax. */
bool smtp_parse_command(const char *line, size_t len, struct smtp_command *cmd,
			struct smtp_error *err);
/* Parses a path "<...>" with optional source route, for tests and the client side. */
bool smtp_parse_path(const char *s, size_t len, bool allow_null, struct smtp_address *out,
		     size_t *used);

/* DATA content: dot-unstuffing and end-of-data detection, strict CRLF (RFC 5321 2.3.8):
 * a bare CR or bare LF stops the reader (SMTP smuggling defence). */
enum smtp_data_status { SMTP_DATA_MORE, SMTP_DATA_END, SMTP_DATA_BARE_EOL };

struct smtp_data_reader {
	int state;
	size_t max_size, max_line, max_header;
	size_t size;        /* content bytes seen (unstuffed) */
	size_t line_len;    /* length of the current line so far */
	size_t header_len;  /* bytes of the header block so far */
	bool in_header;
	bool last_was_cr;   /* BDAT: the previous chunk ended with CR */
	bool too_big, line_too_long, header_too_big;
};

void smtp_data_reader_init(struct smtp_data_reader *r, size_t max_size, size_t max_line,
			   size_t max_header);
/* Feeds bytes; appends unstuffed content to out until max_size is passed (then it only counts).
 * *consumed tells how many input bytes were used; on END they include the final ".\r\n". */
enum smtp_data_status smtp_data_feed(struct smtp_data_reader *r, const char *in, size_t len,
				     size_t *consumed, struct buf *out);
/* For BDAT chunks: tracks size, header and line limits over raw content; a bare LF is
 * stored as CRLF. */
void smtp_data_count_raw(struct smtp_data_reader *r, const char *in, size_t len, struct buf *out);

#endif
