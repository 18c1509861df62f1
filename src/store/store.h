/* The mail store: accounts, domains, aliases, mailboxes and messages with their IMAP
 * identity (UIDVALIDITY, UID, MODSEQ, flags). Every invariant (UIDs only grow, MODSEQ only
 * grows, usage equals the sum of message sizes) is kept here and nowhere else.
 * One `struct store` is one connection: use it from one thread. The backend sits behind
 * `struct store_ops` so a PostgreSQL backend can follow without touching protocol code. */
#ifndef YUBIN_STORE_H
#define YUBIN_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct store;
struct dmarc_report;      /* mailauth/dmarc_report.h */
struct dmarc_observation;

struct account {
	int64_t id;
	char *address;
	char *password_hash;
	int64_t quota;      /* bytes, 0 = unlimited */
	int64_t used;       /* bytes stored */
	int64_t messages;   /* -1: not counted (see account_messages) */
	char *pop3_delete;  /* "per-device", "expunge", or NULL: the configured default */
	int64_t keep_days;  /* -1: the configured default */
	bool account_password_on;
	char *scram;        /* SCRAM-SHA-256 keys of the account password, or NULL */
	int save_sent;      /* 1 on, 0 off, -1: the configured default (save-sent) */
	int spam;           /* spam scanning: 1 on, 0 off, -1: the domain's or the server's */
	double spam_threshold; /* Junk at or above this score; < 0: the domain's or rspamd's */
};

/* A sender on an allowlist or blocklist (yubin account|domain set ... spam-allow|spam-block). */
enum spam_list { SPAM_LIST_NONE, SPAM_LIST_ALLOW, SPAM_LIST_BLOCK };

/* One account's spam settings for one message, each already resolved account first, then
 * the account's domain (the server's own default is the caller's). */
struct spam_settings {
	int scan;             /* 1 on, 0 off, -1: neither account nor domain says */
	double threshold;     /* < 0: neither says (rspamd's actions decide) */
	enum spam_list list;  /* the sender's place on the account's or domain's lists */
};

/* What a login needs to know, found by address and (for app passwords) the password's
 * SHA-256: app passwords are long random secrets, so a fast hash suffices and the lookup
 * is one indexed query; only the human-chosen account password needs Argon2. */
struct login_lookup {
	int64_t account_id;
	char *password_hash;         /* of the account password */
	bool account_password_on;
	int64_t account_device_id;   /* the device "account password" */
	int64_t app_device_id;       /* 0: the secret is no app password of this account */
	char *app_device_label;
	char *pop3_delete;           /* NULL: configured default */
	bool known_address;          /* some device of the account last logged in from this ip */
	char *scram;                 /* SCRAM-SHA-256 keys of the account password, or NULL */
};

/* One message of a POP3 maildrop. */
struct maildrop_entry {
	int64_t message_id;
	int64_t uidvalidity;
	int64_t uid;
	int64_t size;
};

struct audit_entry {
	int64_t time;
	const char *account;
	const char *device;
	const char *protocol;
	const char *ip;
	bool tls;
	const char *result;
};

/* Recipients of one message at one other domain: one queue entry. */
struct store_remote {
	const char *domain;
	const char *const *rcpts;
	size_t nrcpts;
};

/* One message to store for several accounts at once (same bytes, stored once), and to queue
 * for other domains in the same transaction. */
struct store_delivery {
	const char *data;
	size_t len;
	int64_t internaldate;   /* unix seconds */
	const int64_t *account_ids;
	size_t naccounts;
	const char *mailbox;    /* usually "INBOX" */
	const char *structure;  /* cached MIME structure (mime_message_serialize), or NULL */
	size_t structure_len;
	const struct store_remote *remote; /* queue entries to create */
	size_t nremote;
	const char *sender;     /* envelope sender for the queue ("" for <>) */
	bool smtputf8;          /* the message needs SMTPUTF8 on the way out */
	bool is_bounce;         /* a DSN: never bounce it again */
	int64_t sent_account_id; /* also store a copy, \Seen, in this account's \Sent mailbox
				  * (0: none); only when the delivery itself succeeds */
	bool junk;              /* judged spam or forged: into each account's \Junk mailbox
				 * (INBOX when it has none), with the keyword $Junk */
	const bool *account_junk; /* the same for account_ids[k] alone (NULL: junk decides) */
};

/* The outcome of one delivery attempt, for queue_update_many. */
struct queue_update {
	int64_t id;
	const char *const *done;
	size_t ndone;
	int64_t next_attempt;
	const char *last_reply;
	bool warned;
};

/* One queue entry (one message to one other domain). */
struct queue_entry {
	int64_t id;
	int64_t created;
	char *sender;
	char *domain;
	int64_t blob_id;
	int64_t next_attempt;
	int64_t attempts;
	bool warned;
	bool smtputf8;
	bool is_bounce;
	char *last_reply;
	char **rcpts;
	size_t nrcpts;
};

struct store_message {
	int64_t uid;
	int64_t modseq;
	int64_t internaldate;
	unsigned flags;
	const void *data;
	size_t len;
};

enum store_flag {
	STORE_FLAG_SEEN = 1, STORE_FLAG_ANSWERED = 2, STORE_FLAG_FLAGGED = 4,
	STORE_FLAG_DELETED = 8, STORE_FLAG_DRAFT = 16,
};

/* A mailbox as IMAP sees it. Counts are filled only when asked for (they walk the index). */
struct mailbox_info {
	int64_t id;
	char name[512];
	char special_use[16];  /* "\\Sent", ... or "" */
	bool subscribed;
	int64_t uidvalidity, uidnext, highestmodseq;
	int64_t messages, unseen, deleted, size;
};

/* A message's IMAP state without its bytes. keywords: space separated, valid during a call. */
struct message_meta {
	int64_t id, uid, modseq, internaldate, size;
	unsigned flags;
	const char *keywords;
};

enum store_flag_op { STORE_FLAGS_SET, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };

/* What a read said: found it, there is none, or the database failed (logged once by the
 * backend). A failure must reach the client as a failure (NO [SERVERBUG], -ERR [SYS/TEMP]),
 * never as an empty mailbox. STORE_OK is 0: write `== STORE_OK`, never `!rc`. */
enum store_rc { STORE_OK = 0, STORE_NOT_FOUND, STORE_ERROR };

typedef bool (*store_mailbox_fn)(void *ctx, const struct mailbox_info *m);
typedef bool (*store_meta_fn)(void *ctx, const struct message_meta *m);
typedef bool (*store_uid_fn)(void *ctx, int64_t uid, int64_t modseq);

/* Called per message; return false to stop. The data pointer is valid during the call. */
typedef bool (*store_message_fn)(void *ctx, const struct store_message *m);
typedef void (*store_row_fn)(void *ctx, const char *const *columns, size_t ncolumns);

struct store_ops {
	void (*close)(struct store *s);
	/* Group commit: the operations between batch_begin and batch_end share one transaction
	 * (one fsync), each still all-or-nothing on its own. batch_intact is false once the
	 * database has dropped the batch by itself; batch_end false: nothing since batch_begin
	 * was stored. */
	bool (*batch_begin)(struct store *s, struct buf *err);
	bool (*batch_intact)(struct store *s);
	bool (*batch_end)(struct store *s, struct buf *err);
	bool (*domain_add)(struct store *s, const char *domain, struct buf *err);
	bool (*domain_del)(struct store *s, const char *domain, struct buf *err);
	bool (*domain_exists)(struct store *s, const char *domain, char **catchall);
	bool (*domain_set_catchall)(struct store *s, const char *domain, const char *target,
				    struct buf *err);
	void (*domain_list)(struct store *s, store_row_fn fn, void *ctx);
	bool (*account_add)(struct store *s, const char *address, const char *password_hash,
			    const char *scram, int64_t quota, struct buf *err);
	bool (*account_del)(struct store *s, const char *address, struct buf *err);
	bool (*account_set_password)(struct store *s, const char *address, const char *hash,
				     const char *scram, struct buf *err);
	/* Fills acct (caller frees with account_free). False when there is no such account. */
	bool (*account_get)(struct store *s, const char *address, struct account *acct);
	void (*account_list)(struct store *s, store_row_fn fn, void *ctx);
	bool (*alias_add)(struct store *s, const char *alias, const char *target, struct buf *err);
	bool (*alias_del)(struct store *s, const char *alias, const char *target, struct buf *err);
	/* Appends each target of alias to fn; returns the number of targets. */
	size_t (*alias_targets)(struct store *s, const char *alias, store_row_fn fn, void *ctx);
	void (*alias_list)(struct store *s, store_row_fn fn, void *ctx);
	/* Stores every delivery in one transaction and syncs it: all or nothing.
	 * ok[i] tells per delivery whether it was stored (a vanished account fails only its own). */
	bool (*deliver_batch)(struct store *s, const struct store_delivery *d, size_t n, bool *ok,
			      struct buf *err);
	bool (*mailbox_messages)(struct store *s, const char *address, const char *mailbox,
				 store_message_fn fn, void *ctx, struct buf *err);
	/* Devices: an app password per device, plus the account password's own device. */
	bool (*device_add)(struct store *s, const char *address, const char *label,
			   const char *secret_sha256, struct buf *err);
	bool (*device_revoke)(struct store *s, const char *address, const char *label,
			      struct buf *err);
	/* Rows: label, created, last_used, last_protocol, last_ip, is_app_password ("1"/"0"). */
	void (*device_list)(struct store *s, const char *address, store_row_fn fn, void *ctx);
	/* NOT_FOUND: no such account; ERROR: the store could not be read (a login must then
	 * fail as "try again later", never as a wrong password). */
	enum store_rc (*login_lookup)(struct store *s, const char *address,
				      const char *secret_sha256, const char *ip,
				      struct login_lookup *out);
	/* A counter bumped by every change that takes a password away (revoke, password change
	 * or turned off, account deleted); -1 when it cannot be read. One indexed read. */
	int64_t (*credentials_generation)(struct store *s);
	/* Is device_id still a device of account_id? Fills password_hash, account_password_on
	 * and app_device_id or account_device_id (free with login_lookup_free). */
	bool (*device_check)(struct store *s, int64_t account_id, int64_t device_id,
			     struct login_lookup *out);
	/* The value of a meta key, set to value first if it has none (malloc'd; NULL on error). */
	char *(*meta_get_or_add)(struct store *s, const char *key, const char *value);
	void (*device_touch)(struct store *s, int64_t device_id, int64_t when, const char *protocol,
			     const char *ip);
	void (*audit_add)(struct store *s, const struct audit_entry *e);
	/* Rows: time, account, device, protocol, ip, tls, result; oldest first, the last `limit`. */
	void (*audit_list)(struct store *s, const char *address, int64_t limit, store_row_fn fn,
			   void *ctx);
	/* key: pop3-delete (value per-device|expunge|NULL), keep-days (number or NULL),
	 * account-password (on|off), save-sent (on|off|NULL). */
	bool (*account_set)(struct store *s, const char *address, const char *key, const char *value,
			    struct buf *err);
	/* Messages in all mailboxes of the account (walks its index: not for hot paths). */
	int64_t (*account_messages)(struct store *s, int64_t account_id);
	/* Messages some device deleted but that are still kept: count and bytes. */
	void (*deleted_kept)(struct store *s, int64_t account_id, int64_t *count, int64_t *bytes);
	/* The INBOX messages device_id has not deleted, oldest first. Caller frees *out
	 * (NULL and 0 on STORE_ERROR). */
	enum store_rc (*pop3_maildrop)(struct store *s, int64_t account_id, int64_t device_id,
			      struct maildrop_entry **out, size_t *n);
	/* The bytes of one message (by its id) appended to out. */
	enum store_rc (*message_read)(struct store *s, int64_t message_id, struct buf *out);
	/* POP3 UPDATE: device_id deleted these messages. expunge: remove them for everybody;
	 * else mark them for this device and expunge those every device has now deleted. */
	bool (*pop3_delete)(struct store *s, int64_t account_id, int64_t device_id,
			    const int64_t *message_ids, size_t n, bool expunge, int64_t now,
			    struct buf *err);
	/* keep-days sweep: expunges messages first deleted more than keep-days ago, and those
	 * every device has deleted. Returns the number expunged. */
	int64_t (*expire)(struct store *s, int64_t now, int64_t default_keep_days);
	/* IMAP: mailboxes of an account (name order) and one by name (case-sensitive, except
	 * INBOX). A scan whose callback returns false stops with STORE_OK. */
	enum store_rc (*mailbox_list)(struct store *s, int64_t account_id, bool with_counts,
			     store_mailbox_fn fn, void *ctx);
	enum store_rc (*mailbox_get)(struct store *s, int64_t account_id, const char *name,
				     bool with_counts, struct mailbox_info *out);
	bool (*mailbox_create)(struct store *s, int64_t account_id, const char *name,
			       const char *special_use, struct buf *err);
	/* Deletes the mailbox and its messages (never INBOX). */
	bool (*mailbox_delete)(struct store *s, int64_t account_id, const char *name,
			       struct buf *err);
	/* Renames the mailbox and every mailbox below it ("a" → "b" moves "a/x" to "b/x").
	 * Renaming INBOX moves its messages into a new mailbox and leaves INBOX empty. */
	bool (*mailbox_rename)(struct store *s, int64_t account_id, const char *from, const char *to,
			       struct buf *err);
	bool (*mailbox_subscribe)(struct store *s, int64_t account_id, const char *name, bool on,
				  struct buf *err);
	/* Messages with uid_min <= UID <= uid_max in UID order; with since_modseq > 0 only
	 * those changed after it. */
	enum store_rc (*mailbox_scan)(struct store *s, int64_t mailbox_id, int64_t uid_min,
				      int64_t uid_max, int64_t since_modseq, store_meta_fn fn,
				      void *ctx);
	/* The cached MIME structure of a message (appended to out); STORE_NOT_FOUND when none
	 * is cached. */
	enum store_rc (*message_structure)(struct store *s, int64_t message_id, struct buf *out);
	/* UIDs expunged after since_modseq (QRESYNC VANISHED and keeping sessions in step). */
	enum store_rc (*mailbox_vanished)(struct store *s, int64_t mailbox_id, int64_t since_modseq,
				 store_uid_fn fn, void *ctx);
	/* STORE: changes flags/keywords of the listed UIDs; a message whose modseq is above
	 * unchangedsince (if >= 0) is left alone and reported through *failed (CONDSTORE). */
	bool (*messages_set_flags)(struct store *s, int64_t mailbox_id, const int64_t *uids, size_t n,
				   enum store_flag_op op, unsigned flags, const char *keywords,
				   int64_t unchangedsince, int64_t **failed, size_t *nfailed,
				   struct buf *err);
	/* EXPUNGE: the listed UIDs if they are \Deleted (uids NULL: every \Deleted message). */
	bool (*messages_expunge)(struct store *s, int64_t mailbox_id, const int64_t *uids, size_t n,
				 struct buf *err);
	/* COPY / MOVE: same bytes, new UIDs in the target (in the order given), written to
	 * new_uids (n entries; 0 for UIDs that did not exist). Checks the quota. */
	bool (*messages_copy)(struct store *s, int64_t from_mailbox, const int64_t *uids, size_t n,
			      int64_t to_mailbox, bool move, int64_t *new_uids, struct buf *err);
	/* APPEND: a new message in the mailbox; checks the quota; *uid is its UID. */
	bool (*message_append)(struct store *s, int64_t mailbox_id, const char *data, size_t len,
			       const struct buf *structure, unsigned flags, const char *keywords,
			       int64_t internaldate, int64_t *uid, struct buf *err);
	/* Outbound queue. Every entry, for `yubin queue list`. */
	bool (*queue_all)(struct store *s, bool (*fn)(void *ctx, const struct queue_entry *e),
			  void *ctx);
	bool (*queue_get)(struct store *s, int64_t id, struct queue_entry *out);
	/* The bytes of an entry's message appended to out. */
	bool (*queue_message)(struct store *s, int64_t id, struct buf *out);
	/* Makes an entry (id 0: every entry) due now. False when there is no such entry. */
	bool (*queue_retry)(struct store *s, int64_t id, int64_t now);
	bool (*queue_delete)(struct store *s, int64_t id, struct buf *err);
	/* The domains that have due entries, the one waiting longest first (at most max). */
	bool (*queue_due_domains)(struct store *s, int64_t now, size_t max,
				  bool (*fn)(void *ctx, const char *domain), void *ctx);
	/* That domain's entries due at `now` (at most max), oldest first; fn gets each. */
	bool (*queue_due_domain)(struct store *s, int64_t now, const char *domain, size_t max,
				 bool (*fn)(void *ctx, const struct queue_entry *e), void *ctx);
	/* Moves entries to a later time without counting an attempt (they were not tried: the
	 * domain's rate limit holds them back). notes[i] replaces last_reply; NULL keeps it. */
	bool (*queue_postpone)(struct store *s, const int64_t *ids, const int64_t *when,
			       const char *const *notes, size_t n, struct buf *err);
	/* After attempts, in one transaction (one disk sync): each entry drops the recipients
	 * that are done (delivered or bounced); when none is left the entry goes; else it waits
	 * until next_attempt. */
	bool (*queue_update_many)(struct store *s, const struct queue_update *u, size_t n,
				  struct buf *err);
	/* DMARC aggregate reports (mailauth/dmarc_report.h). A report received: one row per
	 * record; false with "already stored" when this org sent this report_id before. */
	bool (*dmarc_report_add)(struct store *s, const struct dmarc_report *r, int64_t received,
				 struct buf *err);
	/* The received records whose period ends at or after since, per policy domain and
	 * source address (domain NULL: every domain), most messages first. Rows: domain,
	 * source_ip, messages, dkim_pass, spf_pass, both_fail, quarantined, rejected, reporters
	 * (comma separated), begin, end, header_froms, reports. */
	void (*dmarc_summary)(struct store *s, const char *domain, int64_t since, store_row_fn fn,
			      void *ctx);
	/* One inbound message's DMARC outcome, counted for the reports we send. */
	bool (*dmarc_observe)(struct store *s, const struct dmarc_observation *o, struct buf *err);
	/* The reports due: per domain with observations on days before cutoff_day (unix day
	 * numbers) and no report sent at or after sent_before, at most max_domains, each with
	 * its max_records largest rows. fn gets the report (domain, policy, begin/end and
	 * records filled; metadata left to it) and the rua= as published; false stops. */
	bool (*dmarc_pending)(struct store *s, int64_t cutoff_day, int64_t sent_before,
			      size_t max_domains, size_t max_records,
			      bool (*fn)(void *ctx, struct dmarc_report *r, const char *rua),
			      void *ctx);
	/* The report of domain up to cutoff_day is sent (or given up): its observations go,
	 * and now is its last report. */
	bool (*dmarc_reported)(struct store *s, const char *domain, int64_t cutoff_day, int64_t now,
			       struct buf *err);
	/* Spam settings (sqlite_spam.c). For one account and a message from env_sender (the
	 * envelope) with header_from (the From field's address; either may be NULL or ""):
	 * scanning, threshold and list place, account over domain; on a list an address beats
	 * its @domain, the account's entries beat the domain's. A few indexed reads. */
	enum store_rc (*spam_settings)(struct store *s, int64_t account_id, const char *env_sender,
				       const char *header_from, struct spam_settings *out);
	/* key spam (on|off|NULL) or spam-threshold (a number or NULL) of a domain. */
	bool (*domain_set)(struct store *s, const char *domain, const char *key, const char *value,
			   struct buf *err);
	/* scope: an account's address or a domain; sender: an address or @domain. list NONE
	 * takes it off both lists; false + err when it was on neither. */
	bool (*spam_list_set)(struct store *s, const char *scope, const char *sender,
			      enum spam_list list, struct buf *err);
	/* Rows: scope, sender, allow|block (scope NULL: every scope), sorted. */
	void (*spam_list_rows)(struct store *s, const char *scope, store_row_fn fn, void *ctx);
	/* Rows: kind (account|domain), name, spam (on|off|""), threshold ("" when none): those
	 * with a setting of their own. */
	void (*spam_overrides)(struct store *s, store_row_fn fn, void *ctx);
	/* One more message with this outcome on this day (unix day number). */
	bool (*spam_count)(struct store *s, int64_t day, const char *outcome, struct buf *err);
	/* Rows: outcome, messages counted on since_day and after, of them on today. */
	void (*spam_counts)(struct store *s, int64_t since_day, int64_t today, store_row_fn fn,
			    void *ctx);
	/* Verifies every invariant; appends problems to report. True when consistent. */
	bool (*check)(struct store *s, struct buf *report, int64_t *nmessages, int64_t *nmailboxes);
};

struct store {
	const struct store_ops *ops;
};

/* Opens (create: and initialises) the SQLite store in data_dir. NULL + err on failure. */
struct store *store_open_sqlite(const char *data_dir, bool create, struct buf *err);
/* WAL checkpoints on a background thread instead of inside the commits that cross SQLite's
 * threshold (store/sqlite_checkpoint.c). Every store opened after this in the process hands
 * its checkpoints to the thread: a PASSIVE checkpoint once the WAL has `pages` pages (0: 1000,
 * SQLite's default), a RESTART (writers wait) once it has `hard_pages` and has not started
 * over (0: 16 times `pages`). After stop, stores checkpoint in their commits again. */
bool store_checkpointer_start(const char *data_dir, int pages, int hard_pages, struct buf *err);
void store_checkpointer_stop(void);
struct store_checkpoint_stats {
	uint64_t runs, forced, failed;
	bool pending; /* one is wanted or running now */
};
void store_checkpointer_stats(struct store_checkpoint_stats *out);

void account_free(struct account *a);
void login_lookup_free(struct login_lookup *l);
void queue_entry_free(struct queue_entry *e);

#endif
