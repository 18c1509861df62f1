/* Inside the IMAP service: the session and the helpers its command files share.
 * Not for use outside src/imap. */
#ifndef YUBIN_IMAP_SESSION_H
#define YUBIN_IMAP_SESSION_H
#include <event2/bufferevent.h>

#include "imap/uidmap.h"
#include <stdbool.h>
#include <stdint.h>

#include "imap/parse.h"
#include "imap/server.h"
#include "lib/buf.h"
#include "lib/spool.h"
#include "lib/linereader.h"

enum imap_state { IMAP_NOT_AUTH, IMAP_AUTH, IMAP_SELECTED, IMAP_LOGOUT };

enum imap_wait {
	WAIT_NONE,
	WAIT_LOGIN,      /* password check running */
	WAIT_JOB,        /* a store job running */
	WAIT_SASL,       /* AUTHENTICATE PLAIN waits for the client's response line */
	WAIT_IDLE,       /* IDLE: waiting for DONE */
	WAIT_CLOSE,      /* last reply queued */
};

struct imap_session {
	struct imap_server *srv;
	struct imap_session *next, *prev;
	struct bufferevent *bev;
	int fd;
	unsigned long id;
	char ip[48];                   /* INET6_ADDRSTRLEN */
	enum imap_state state;
	enum imap_wait wait;
	struct imap_parser *parser;
	size_t prelogin_held; /* what the parser holds before login, counted per address */
	/* An APPEND's message goes to a spool (a file when large), not to the parser: */
	struct spool append;
	uint64_t append_left; /* its bytes still to come */
	bool append_cr;       /* CRLF normalisation: a CR ended the last piece */
	bool append_ready;    /* the spool holds the message of the command being read */
	bool append_lit8;     /* sent as ~{n} (BINARY): NUL bytes allowed */
	bool append_nul;      /* a NUL byte came in a {n} literal: the APPEND is refused */
	struct line_reader lines;      /* IDLE's DONE and AUTHENTICATE responses */
	struct imap_command *cmd;      /* the command waiting for an async step */
	char *tag;                     /* its tag */
	bool tls, starttls_pending, output_blocked;
	bool compress_pending, compressed;
	struct bufferevent *raw_bev;   /* under the COMPRESS filter, when there is one */
	struct event *close_timer;     /* COMPRESS: polls until the last reply left */
	/* Asleep in IDLE: no bufferevent (bev is NULL), only this event on the socket and the
	 * TLS state (see session_sleep). */
	struct event *sleep_ev;        /* the quiet timer, or the socket watch while asleep */
	SSL *sleep_ssl;
	bool asleep;
	bool rev2, condstore, qresync, utf8;
	size_t errors;
	/* after login */
	int64_t account_id;
	char *user;                    /* as given at login */
	/* selected mailbox (a few fields of struct mailbox_info, small for idle sessions) */
	struct {
		int64_t id, uidvalidity, uidnext, highestmodseq;
		char *name;
	} mbox;
	bool readonly;
	struct uidmap uids;            /* sequence numbers and UIDs */
	int64_t known_modseq;
	uint32_t *saved;               /* SEARCHRES "$" */
	size_t nsaved;
	/* STORE ... .SILENT: do not echo these UIDs in the next sync */
	uint32_t *silent;
	size_t nsilent;
};

/* Output. */
void imap_write(struct imap_session *s, const char *data, size_t len);
void imap_printf(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "TAG OK [code] text" etc.; code may be NULL. Counts NO/BAD as errors. */
void imap_tagged(struct imap_session *s, const char *tag, const char *status, const char *code,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Message sets: the UIDs (ascending, existing only) a sequence set names. False with a
 * sentence when the set does not parse. *uids is malloc'd. */
bool imap_resolve_set(struct imap_session *s, const char *set, size_t len, bool uid,
		      uint32_t **uids, size_t *n, const char **err);
/* Sequence number of a UID in the selected mailbox, 0 if absent. */
uint32_t imap_seq_of(const struct imap_session *s, uint32_t uid);
/* Appends "1:3,7" for ascending UIDs. */
void imap_append_uid_set(struct buf *out, const uint32_t *v, size_t n);
/* "* VANISHED (EARLIER) set" for UIDs expunged after modseq, within known (or all).
 * False (nothing sent) when the store could not be read. */
bool imap_report_vanished_earlier(struct imap_session *s, int64_t modseq, const char *known,
				  size_t known_len);
/* Appends "(\Seen $Work ...)" for flags and keywords. */
void imap_format_flags(unsigned flags, const char *keywords, struct buf *out);

/* Reports changes since the last sync: new messages (EXISTS), flag changes (FETCH) and, when
 * expunges_allowed, expunged messages (EXPUNGE or VANISHED). */
void imap_sync(struct imap_session *s, bool expunges_allowed);

/* FETCH set \Seen on these messages (takes uids): the flags are written, then the tagged
 * reply goes out. */
void imap_mark_seen(struct imap_session *s, const char *tag, uint32_t *uids, size_t n,
		    bool decode_failed);

/* Commands in their own files. */
void imap_cmd_fetch(struct imap_session *s, const struct imap_command *c, bool uid,
		    const struct imap_arg *args, size_t count);
void imap_cmd_search(struct imap_session *s, const struct imap_command *c, bool uid,
		     const struct imap_arg *args, size_t count);
void imap_cmd_sort(struct imap_session *s, const struct imap_command *c, bool uid,
		   const struct imap_arg *args, size_t count);
void imap_cmd_thread(struct imap_session *s, const struct imap_command *c, bool uid,
		     const struct imap_arg *args, size_t count);
/* Whether a message of the selected mailbox matches a parsed SEARCH program. A message
 * whose bytes could not be read sets *read_failed (the command must then answer NO). */
bool imap_search_matches(struct imap_session *s, const struct imap_search *search,
			 const struct message_meta *m, bool *read_failed);

#endif
