/* Group commit. Sessions hand finished messages to the committer; its thread stores
 * everything that has queued up in one transaction (one fsync), then hands the results
 * back to the event loop, which answers every waiting client. This is how throughput
 * exceeds the disk's fsync rate while 250 still means "on stable storage". */
#ifndef YUBIN_COMMITTER_H
#define YUBIN_COMMITTER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct buf;

struct committer;

/* Called in the event-loop thread (from committer_reap) once the message is durable (ok)
 * or could not be stored (!ok, with a reason for the log). */
typedef void (*commit_done_fn)(void *ctx, bool ok, const char *reason);

/* Recipients at one other domain (one queue entry). */
struct commit_remote {
	char *domain;
	char **rcpts;
	size_t nrcpts;
};

struct commit_request {
	char *data;            /* the message; owned by the committer once submitted */
	size_t len;
	struct spool_bytes *spool; /* when set, data points into it (a message spilled to a
				      file): freed with it instead of free(data); owned */
	int64_t internaldate;
	int64_t *account_ids;  /* owned by the committer once submitted */
	size_t naccounts;
	struct commit_remote *remote; /* queue entries to create; owned by the committer */
	size_t nremote;
	char *sender;                 /* envelope sender for the queue; owned */
	bool smtputf8, is_bounce;
	bool junk;                    /* to the accounts' Junk mailboxes, keyword $Junk */
	bool *account_junk;           /* or per account (naccounts entries; NULL: none); owned */
	int64_t sent_account_id;      /* also a \Seen copy in this account's Sent mailbox (0: no) */
	bool dmarc_report;            /* for dmarc-reports@: once stored, the bytes go to the
				       * report sink (committer_set_report_sink) to be read */
	commit_done_fn done;
	void *ctx;
};

/* Work done on every message that creates queue entries before it is stored (DKIM signing):
 * appends header fields to `add`, which go in at the start of what is sent (after our
 * Return-Path line). msg/len is the message as it will be sent. Runs on the committer's
 * pre-stage threads, never on the event loop nor the writer. */
typedef void (*commit_sign_fn)(void *arg, const char *msg, size_t len, struct buf *add);

/* Any other store work for the writer thread (POP3 deletions, device bookkeeping, audit log
 * lines) and, on a second committer used as a worker, slow reads such as password checks.
 * Embed it at the start of a larger struct that carries the arguments and results. */
struct store_job {
	void (*run)(struct store *s, struct store_job *job); /* in the committer's thread */
	void (*done)(struct store_job *job); /* in the loop thread; must free the job. job->ctx
					       * is NULL when its owner cancelled meanwhile. */
	void *ctx;
	bool changes_mailboxes; /* IMAP sessions in IDLE should look for news after it */
	/* May share one transaction (one fsync) with the grouped jobs queued next to it. Only
	 * for the writer, and only for jobs whose run is one store operation or a few. */
	bool group;
	/* Set by the committer when the shared transaction failed after run returned: the job's
	 * changes were not stored, whatever run reported. done must say so. */
	bool lost;
	/* What the loop-turn watchdog calls its completion when that is slow (a constant string,
	 * e.g. "IMAP job done"); NULL: "job done". */
	const char *what;
};

/* wake(arg) is called from the committer thread when results are ready; it must make the
 * event loop call committer_reap (e.g. event_active on a thread-safe libevent event). */
struct committer *committer_start(const char *data_dir, void (*wake)(void *), void *wake_arg,
				  char **error);
/* Requests with queue entries pass `threads` pre-stage threads running fn before the writer
 * stores them; the writer still takes everything in submission order. Call once, before the
 * first submit. */
void committer_set_signer(struct committer *c, commit_sign_fn fn, void *arg, unsigned threads);
/* Takes ownership of req->data (or req->spool), req->account_ids, req->account_junk,
 * req->remote and req->sender. */
void committer_submit(struct committer *c, struct commit_request *req);
/* Queues a job; it runs after the deliveries queued before it, on its own. */
void committer_submit_job(struct committer *c, struct store_job *job);
/* Runs the completion callbacks of finished requests; returns how many of them changed
 * mailboxes (deliveries, and jobs marked changes_mailboxes) and, in *queued when not NULL,
 * how many deliveries added outbound queue entries. Event-loop thread only. */
size_t committer_reap(struct committer *c, size_t *queued);
/* Forget the callback of every request (and the ctx of every job) with this ctx (its session is gone); the message is
 * still committed. */
void committer_cancel(struct committer *c, void *ctx);
/* Where the bytes of a stored delivery marked dmarc_report go (in the loop thread, after its
 * done callback): sink takes data (or spool, when set) over. NULL: nowhere. */
void committer_set_report_sink(struct committer *c,
			       void (*sink)(void *arg, char *data, size_t len,
					    struct spool_bytes *spool),
			       void *arg);
/* Commits what is queued, stops the thread and runs the last callbacks. */
void committer_stop(struct committer *c);
/* Messages and batches committed so far (for metrics and the log). */
void committer_stats(struct committer *c, uint64_t *messages, uint64_t *batches);

#endif
