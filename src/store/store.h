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

struct account {
	int64_t id;
	char *address;
	char *password_hash;
	int64_t quota;      /* bytes, 0 = unlimited */
	int64_t used;       /* bytes stored */
	int64_t messages;
};

/* One message to store for several accounts at once (same bytes, stored once). */
struct store_delivery {
	const char *data;
	size_t len;
	int64_t internaldate;   /* unix seconds */
	const int64_t *account_ids;
	size_t naccounts;
	const char *mailbox;    /* usually "INBOX" */
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

/* Called per message; return false to stop. The data pointer is valid during the call. */
typedef bool (*store_message_fn)(void *ctx, const struct store_message *m);
typedef void (*store_row_fn)(void *ctx, const char *const *columns, size_t ncolumns);

struct store_ops {
	void (*close)(struct store *s);
	bool (*domain_add)(struct store *s, const char *domain, struct buf *err);
	bool (*domain_del)(struct store *s, const char *domain, struct buf *err);
	bool (*domain_exists)(struct store *s, const char *domain, char **catchall);
	bool (*domain_set_catchall)(struct store *s, const char *domain, const char *target,
				    struct buf *err);
	void (*domain_list)(struct store *s, store_row_fn fn, void *ctx);
	bool (*account_add)(struct store *s, const char *address, const char *password_hash,
			    int64_t quota, struct buf *err);
	bool (*account_del)(struct store *s, const char *address, struct buf *err);
	bool (*account_set_password)(struct store *s, const char *address, const char *hash,
				     struct buf *err);
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
	/* Verifies every invariant; appends problems to report. True when consistent. */
	bool (*check)(struct store *s, struct buf *report, int64_t *nmessages, int64_t *nmailboxes);
};

struct store {
	const struct store_ops *ops;
};

/* Opens (create: and initialises) the SQLite store in data_dir. NULL + err on failure. */
struct store *store_open_sqlite(const char *data_dir, bool create, struct buf *err);
void account_free(struct account *a);

#endif
