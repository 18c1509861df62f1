/* What the end of DATA does with a scan's outcome, with issue 11's defaults: pure code, so
 * the session only carries it out. A filter outage never loses mail: without an answer the
 * message is delivered marked unscanned (or, with spam-unavailable = tempfail, answered 451).
 *
 *   virus (antivirus symbol)   554 5.7.1 naming the virus; nothing stored
 *   reject                     550 5.7.1 with rspamd's message if it gave one
 *   soft reject, greylist      451 4.7.1, the sender retries
 *   add header, rewrite subject  Junk, with X-Spam-Status: Yes, X-Spam-Score, X-Spam-Symbols
 *   no action                  inbox, with X-Spam-Status: No and X-Spam-Score
 *   no answer (error)          inbox with X-Spam-Status: unscanned, or 451 4.7.1 */
#ifndef YUBIN_SPAM_VERDICT_H
#define YUBIN_SPAM_VERDICT_H
#include <stdbool.h>

#include "lib/buf.h"
#include "spam/rspamd_reply.h"

enum spam_disposition {
	SPAM_DELIVER,  /* to the inbox, with the headers */
	SPAM_JUNK,     /* to the recipient's Junk mailbox, with the headers */
	SPAM_REJECT,   /* answer `reply` (5xx); nothing stored */
	SPAM_TEMPFAIL, /* answer `reply` (4xx); nothing stored */
};

/* An SMTP reply line is at most 512 bytes with its CRLF (RFC 5321 4.5.3.1.5). */
#define SPAM_REPLY_MAX 510

struct spam_verdict {
	enum spam_disposition disposition;
	const char *what;          /* for the log: clean, junk, spam, virus, retry, unscanned */
	char reply[SPAM_REPLY_MAX + 1]; /* REJECT, TEMPFAIL: "550 5.7.1 text", no CRLF */
	struct buf headers;        /* DELIVER, JUNK: header lines to prepend, each ending CRLF */
};

/* result and error as rspamd_scan_fn got them (exactly one is NULL). The caller should also
 * remove X-Spam-Status, X-Spam-Score and X-Spam-Symbols the message arrived with (and
 * result->remove_headers), so a sender cannot mark its own mail clean. */
void spam_verdict_make(struct spam_verdict *v, const struct rspamd_result *result,
		       const char *error, bool tempfail_when_unavailable);
void spam_verdict_free(struct spam_verdict *v);

#endif
