/* What the end of DATA does with a scan's outcome: pure code, so the session only carries it
 * out. A filter outage never loses mail: without an answer the message is delivered marked
 * unscanned (or, with spam-unavailable = tempfail, answered 451). With the defaults
 * (spam-reject-action, spam-add-header-action, spam-greylist-action change them):
 *
 *   virus (antivirus symbol)   554 5.7.1 naming the virus; nothing stored (not configurable)
 *   reject                     550 5.7.1 with rspamd's message if it gave one (or Junk)
 *   soft reject                451 4.7.1, the sender retries
 *   greylist                   451 4.7.1, the sender retries (or the inbox)
 *   add header, rewrite subject  Junk, with X-Spam-Status: Yes, X-Spam-Score, X-Spam-Symbols
 *                              (or the inbox, with the same headers)
 *   no action                  inbox, with X-Spam-Status: No and X-Spam-Score
 *   no answer (error)          inbox with X-Spam-Status: unscanned, or 451 4.7.1
 *
 * Then each recipient account's own settings (spam_verdict_for) and, for a message with
 * several, what they add up to (spam_combine). */
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
	struct buf headers;        /* header lines to prepend, each ending CRLF (for REJECT and
				    * TEMPFAIL too, for a copy other recipients take; not for
				    * a virus or an unscanned message) */
};

/* The server's choices (yubin.conf); all false: the defaults above. */
struct spam_options {
	bool reject_to_junk;            /* spam-reject-action = junk */
	bool add_header_to_inbox;       /* spam-add-header-action = inbox */
	bool greylist_to_inbox;         /* spam-greylist-action = inbox */
	bool tempfail_when_unavailable; /* spam-unavailable = tempfail */
};

/* result and error as rspamd_scan_fn got them (exactly one is NULL); o NULL: the defaults.
 * The caller should also remove X-Spam-Status, X-Spam-Score and X-Spam-Symbols the message
 * arrived with (and result->remove_headers), so a sender cannot mark its own mail clean. */
void spam_verdict_make(struct spam_verdict *v, const struct rspamd_result *result,
		       const char *error, const struct spam_options *o);
void spam_verdict_free(struct spam_verdict *v);

enum spam_sender { SPAM_SENDER_ANY, SPAM_SENDER_ALLOWED, SPAM_SENDER_BLOCKED };

/* One recipient account's settings (account, else its domain, else the server's). */
struct spam_recipient {
	bool scan;               /* false: the filter's verdict does not apply to this account */
	double threshold;        /* >= 0: Junk when the score is at least this, inbox below,
				  * instead of what add header / no action would do */
	enum spam_sender sender; /* the sender is on the account's allowlist or blocklist */
};

#define SPAM_BLOCKED_REPLY "550 5.7.1 The recipient does not accept mail from this sender"

/* What the message means for one account. v NULL: the message was not scanned (scanning is
 * off for every recipient). A virus is refused for everyone, allowlisted senders and accounts
 * with scanning off included: a scan that found one is never ignored. A blocked sender is
 * refused. Then scanning off or an allowed sender: the inbox. Then the threshold, for what
 * rspamd scored below reject and greylist. Otherwise the message's own disposition. */
enum spam_disposition spam_verdict_for(const struct spam_verdict *v,
				       const struct rspamd_result *r,
				       const struct spam_recipient *p);

/* What the accounts' dispositions (d, n of them) add up to for the message: REJECT when every
 * account refuses it, TEMPFAIL when none takes it and some would take it later, otherwise
 * DELIVER, and then the accounts that would refuse it or have it retried get it in Junk
 * instead (d is changed): after DATA one reply answers for every recipient, and a message
 * some recipients want is never lost for the others. n 0: DELIVER. */
enum spam_disposition spam_combine(enum spam_disposition *d, size_t n);

#endif
