/* The Junk folder learns (issue 11): what a user's COPY, MOVE and STORE teach rspamd, and
 * the sending of those messages to its learnspam/learnham, read off the event loop.
 *
 * Spam: a message copied or moved into a mailbox with the \Junk role from one without it,
 * or given the $Junk keyword (STORE +FLAGS or FLAGS). Ham: a message copied or moved out of
 * Junk to any mailbox but Trash (deleting is not a verdict) or Junk, or given $NotJunk.
 * Removing $Junk (or $NotJunk) teaches nothing: it takes a verdict back without giving the
 * opposite one, and mail apps that mean "not junk" set $NotJunk. The older keywords Junk
 * and NonJunk (Thunderbird, Apple Mail) count like $Junk and $NotJunk. */
#ifndef YUBIN_IMAP_LEARN_H
#define YUBIN_IMAP_LEARN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* At most this many messages of one command are learned; the rest are skipped and counted
 * in the log line (a MOVE of 10,000 messages into Junk teaches rspamd 16 of them). */
#define IMAP_LEARN_PER_COMMAND 16
/* Larger messages are not learned: Bayes learns from the text, which a message this big is
 * mostly not, and each learn holds a copy of the message until rspamd has read it. */
#define IMAP_LEARN_MAX_BYTES (4u << 20)

enum imap_learn { IMAP_LEARN_NONE, IMAP_LEARN_SPAM, IMAP_LEARN_HAM };

/* COPY or MOVE from a mailbox (from_junk: it has the \Junk role) to one whose special-use
 * role is to_role ("\\Junk", "\\Trash", ... or ""). Pure. */
enum imap_learn imap_learn_of_copy(bool from_junk, const char *to_role);
/* STORE op with these keywords (space-separated, as the STORE command gave them). Pure. */
enum imap_learn imap_learn_of_store(enum store_flag_op op, const char *keywords);

struct imap_session;

/* A COPY, MOVE or STORE has been committed: teaches rspamd with the messages it named (UIDs
 * of mailbox_id, as stored now; 0 entries are skipped, and so are the UIDs in except, an
 * ascending list). Loop thread. Nothing happens without rspamd or for IMAP_LEARN_NONE. The
 * bytes are read on a reader thread; at most IMAP_LEARN_PER_COMMAND messages per command,
 * and no more than rspamd's learning budget (RSPAMD_LEARN_MAX_INFLIGHT, with the learns
 * still being read) allows; one log line (event=imap-learn) says how many and how many were
 * skipped. The command's reply does not wait for any of it. */
void imap_learn(struct imap_session *s, enum imap_learn what, int64_t mailbox_id,
		const int64_t *uids, size_t n, const int64_t *except, size_t nexcept);

#endif
