/* rspamd's answer to POST /checkv2 (its JSON protocol), parsed into what yubin acts on.
 * Pure code over a buffer: no I/O. Anything that is not a well-formed answer (not JSON, cut
 * short, larger than RSPAMD_REPLY_MAX_BYTES, a field of the wrong type, an unknown action)
 * is an error with a sentence, and the caller treats the message as unscanned.
 *
 * Text that reaches an SMTP reply or a header is cleaned here, so no caller can forget:
 * smtp_message, virus and symbol names keep printable ASCII only (other bytes become '?'),
 * header values and the rewritten subject keep UTF-8 but no control bytes (CR, LF and TAB
 * become spaces), and a header whose name is not a valid field name is dropped. */
#ifndef YUBIN_SPAM_RSPAMD_REPLY_H
#define YUBIN_SPAM_RSPAMD_REPLY_H
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

#define RSPAMD_REPLY_MAX_BYTES (1024 * 1024)
/* Symbols kept (those with the largest absolute score); the rest are only counted. */
#define RSPAMD_REPLY_MAX_SYMBOLS 50
/* Headers to add or remove that are kept; more are dropped (and counted). */
#define RSPAMD_REPLY_MAX_HEADERS 16
/* Bytes kept of any one string (names, values, messages); longer ones are cut. */
#define RSPAMD_REPLY_MAX_TEXT 998

/* rspamd's actions, from the mildest to the strongest. */
enum rspamd_action {
	RSPAMD_NO_ACTION,
	RSPAMD_GREYLIST,
	RSPAMD_ADD_HEADER,
	RSPAMD_REWRITE_SUBJECT,
	RSPAMD_SOFT_REJECT,
	RSPAMD_REJECT,
};

struct rspamd_symbol {
	char *name;
	double score;
};

struct rspamd_header {
	char *name;
	char *value;
};

struct rspamd_result {
	enum rspamd_action action;
	double score;
	double required_score;
	bool skipped;          /* rspamd stopped early (e.g. GTUBE, a pre-filter's verdict) */
	struct rspamd_symbol *symbols; /* the RSPAMD_REPLY_MAX_SYMBOLS strongest, by |score| */
	size_t nsymbols;
	size_t symbols_total;  /* every symbol in the answer */
	struct rspamd_header *add_headers; /* milter.add_headers, in the answer's order */
	size_t nadd_headers;
	char **remove_headers; /* milter.remove_headers: names */
	size_t nremove_headers;
	char *smtp_message;    /* messages.smtp_message, or NULL */
	char *subject;         /* the subject to set for "rewrite subject", or NULL */
	char *virus;           /* the first virus found (antivirus module), or NULL */
};

/* Parses body into out (which the caller frees with rspamd_result_free, also after an
 * error). On error returns false with a sentence in err. */
bool rspamd_reply_parse(const char *body, size_t len, struct rspamd_result *out, struct buf *err);
void rspamd_result_free(struct rspamd_result *r);
/* rspamd's own spelling: "no action", "greylist", "add header", ... */
const char *rspamd_action_name(enum rspamd_action a);
/* True for the symbols rspamd's antivirus module sets when a scanner found something:
 * NAME_VIRUS (CLAM_VIRUS, SOPHOS_VIRUS, ...), not the _FAIL ones it sets on errors. */
bool rspamd_symbol_is_virus(const char *name);

#endif
