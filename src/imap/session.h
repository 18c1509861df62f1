/* Inside the IMAP service: the session and the helpers its command files share.
 * Not for use outside src/imap. */
#ifndef YUBIN_IMAP_SESSION_H
#define YUBIN_IMAP_SESSION_H
#include <event2/bufferevent.h>
#include <stdatomic.h>

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

struct imap_read;

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
		bool junk;             /* it has the \Junk role: moving out of it teaches ham */
	} mbox;
	bool readonly;
	struct uidmap uids;            /* sequence numbers and UIDs */
	int64_t known_modseq;
	uint32_t *saved;               /* SEARCHRES "$" */
	size_t nsaved;
	/* STORE ... .SILENT: do not echo these UIDs in the next sync */
	uint32_t *silent;
	size_t nsilent;
	struct imap_read *reading;     /* the reader job this session waits for (WAIT_JOB) */
};

/* ---- reads off the event loop (reader.c) ----------------------------------------------
 * A command whose cost grows with the mailbox (SEARCH, SORT, THREAD, LIST) runs on a reader
 * thread with its own store connection. The thread sees a copy of the session's view taken
 * when the command started; the session reads no input until the job is done, so its view
 * is the same when the result comes back to the loop. */
struct imap_view {
	struct store *store;           /* the connection of the thread the work runs on */
	struct uidmap uids;            /* the session's UIDs and sequence numbers (a copy) */
	uint32_t *saved;               /* SEARCHRES "$" (a copy) */
	size_t nsaved;
	int64_t account_id, mailbox_id;
	bool rev2, utf8;
};

enum imap_read_next {
	IMAP_READ_DONE,    /* answered: the session reads its next command */
	IMAP_READ_AGAIN,   /* more to do: work runs again (a FETCH in slices) */
	IMAP_READ_HANDED,  /* the command goes on in a writer job (FETCH marking \Seen) */
};

/* Embed at the start of a command's own struct. */
struct imap_read {
	struct store_job job;          /* job.ctx: the session; NULL once it is gone */
	struct imap_command *cmd;      /* the command, owned here (its arguments are used) */
	struct imap_view view;
	atomic_bool cancelled;         /* the session is gone or the server stops: end early */
	bool paused;                   /* AGAIN, but the client has not read the last slice yet */
	struct imap_server *srv;
	size_t reader;                 /* the reader it is queued on (while queued or running) */
	/* Reader thread: the heavy part; reads through view.store, never the session. */
	void (*work)(struct imap_read *r);
	/* Loop thread, session still there: answers (tag in s->tag), and says what now. */
	enum imap_read_next (*finish)(struct imap_session *s, struct imap_read *r);
	/* Frees what the command added, not r itself. May be NULL. */
	void (*release)(struct imap_read *r);
};

/* Takes the current command from the parser into r, copies the session's view (with its
 * selected mailbox when `selected`), pauses the session and queues r on a reader. */
void imap_read_submit(struct imap_session *s, struct imap_read *r, const char *tag,
		      bool selected);
/* For other jobs on the readers (learn.c): the least busy reader, counted as one busier
 * until imap_reader_unload. Only when srv->nreaders > 0. */
size_t imap_reader_pick(struct imap_server *srv);
void imap_reader_unload(struct imap_server *srv, size_t reader);
/* True when the work should stop early (its answer would be thrown away). */
bool imap_read_cancelled(struct imap_read *r);
/* The session is going away: its read, if any, is dropped. */
void imap_read_cancel(struct imap_session *s);
/* The session's output has drained: a read paused for it goes on. */
void imap_read_output_drained(struct imap_session *s);
/* A session's command has been answered: free it, read the next one. */
void imap_command_finished(struct imap_session *s);
/* The tag of a command answered later (after a job, a login, IDLE's DONE), in s->tag. */
void imap_remember_tag(struct imap_session *s, const char *tag);
/* The login succeeded: the idle timeout instead of login-timeout, and a parser with the full
 * limits for the next command. */
void imap_session_logged_in(struct imap_session *s);
/* "IMAP4rev1 ... AUTH=PLAIN": the capabilities for the session as it is now. */
void imap_capability_list(struct imap_session *s, struct buf *out);
/* The client's AUTHENTICATE PLAIN response (base64, or "*" to cancel): logs in or answers. */
void imap_sasl_response(struct imap_session *s, const char *b64, size_t len);
/* The client's line in IDLE: DONE ends it (OK), anything else too (BAD). */
void imap_idle_end(struct imap_session *s, const char *line);

/* Output. */
/* Ends the session once what is queued has gone out (BYE, LOGOUT, too many errors). */
void imap_close_after_reply(struct imap_session *s);
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
/* A flag list of STORE or APPEND ("(\Seen $Work)", or one flag alone): the system flags as
 * bits, the keywords space-separated in keywords. False when it is not a valid one. */
bool imap_parse_flag_list(const struct imap_arg *arg, unsigned *flags, struct buf *keywords);

/* Reports changes since the last sync: new messages (EXISTS), flag changes (FETCH) and, when
 * expunges_allowed, expunged messages (EXPUNGE or VANISHED). */
void imap_sync(struct imap_session *s, bool expunges_allowed);
/* Leaves the selected mailbox: back to the authenticated state. */
void imap_unselect(struct imap_session *s);

/* FETCH set \Seen on these messages (takes uids): the flags are written, then the tagged
 * reply goes out. */
void imap_mark_seen(struct imap_session *s, const char *tag, uint32_t *uids, size_t n,
		    bool decode_failed);

/* A command's handler (the table in commands.c calls it once the state is right): args and
 * count are those after the name, after "UID" too when uid is set (c->args otherwise). It
 * answers, or starts a job that answers later. */
typedef void imap_command_fn(struct imap_session *s, const struct imap_command *c, bool uid,
			     const struct imap_arg *args, size_t count);
imap_command_fn imap_cmd_capability, imap_cmd_noop, imap_cmd_logout, imap_cmd_id;
imap_command_fn imap_cmd_starttls, imap_cmd_login, imap_cmd_authenticate;
imap_command_fn imap_cmd_enable, imap_cmd_compress, imap_cmd_idle;
imap_command_fn imap_cmd_select, imap_cmd_examine, imap_cmd_list, imap_cmd_lsub;
imap_command_fn imap_cmd_namespace, imap_cmd_status, imap_cmd_create, imap_cmd_delete;
imap_command_fn imap_cmd_rename, imap_cmd_subscribe, imap_cmd_unsubscribe, imap_cmd_append;
imap_command_fn imap_cmd_getquotaroot, imap_cmd_getquota, imap_cmd_setquota;
imap_command_fn imap_cmd_close, imap_cmd_unselect, imap_cmd_check;
imap_command_fn imap_cmd_fetch, imap_cmd_search, imap_cmd_sort, imap_cmd_thread;
imap_command_fn imap_cmd_store, imap_cmd_copy, imap_cmd_move, imap_cmd_expunge;
/* Mailbox names on the wire: modified UTF-7 unless the client speaks UTF-8 (IMAP4rev2 or
 * ENABLE UTF8=ACCEPT). from_wire: false for a name that cannot be a mailbox's. */
void imap_name_to_wire(bool utf8, const char *name, struct buf *out);
bool imap_name_from_wire(struct imap_session *s, const char *in, size_t len, struct buf *out);
/* The tagged NO when a mailbox lookup did not find it: not there (`code`, e.g. TRYCREATE), or
 * the store could not be read (NO [SERVERBUG], never "no such mailbox"). */
void imap_reply_mailbox_missing(struct imap_session *s, const char *tag, enum store_rc rc,
				const char *code);
/* STATUS items ("(MESSAGES 3 UNSEEN 1)") of a mailbox; valid: every item is known. */
void imap_status_items(long appendlimit, const struct mailbox_info *m,
		       const struct imap_arg *items, size_t n, struct buf *out);
bool imap_status_items_valid(const struct imap_arg *items, size_t n);
/* Whether a message of the selected mailbox matches a parsed SEARCH program, as the view
 * sees it (messages it has no sequence number for never match). Any thread; stops early
 * (false) once r, when not NULL, is cancelled. A message whose bytes could not be read sets
 * *read_failed (the command must then answer NO). */
bool imap_search_matches(const struct imap_view *v, struct imap_read *r,
			 const struct imap_search *search, const struct message_meta *m,
			 bool *read_failed);

#endif
