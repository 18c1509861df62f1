/* Store jobs of IMAP commands (job.c). Not for use outside src/imap. */
#ifndef YUBIN_IMAP_JOB_H
#define YUBIN_IMAP_JOB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/learn.h"
#include "lib/buf.h"
#include "lib/spool.h"
#include "store/committer.h"
#include "store/store.h"

struct imap_session;
struct imap_job;
/* Writer thread: makes the change; sets ok, and err when it fails. */
typedef void imap_job_run_fn(struct store *st, struct imap_job *j);
/* Loop thread, the change saved and the session still there: the answer of the command that
 * started the job (its tag in s->tag). A failed change is answered by job.c. */
typedef void imap_job_complete_fn(struct imap_session *s, struct imap_job *j);

/* A change for the writer thread on behalf of a command. The command fills in what its run
 * function reads, and its complete function answers. */
struct imap_job {
	struct store_job job;
	imap_job_run_fn *run;
	imap_job_complete_fn *complete;
	int64_t account_id, mailbox_id, to_mailbox;
	char *name, *name2;
	bool on, move;
	bool decode_failed;      /* FETCH's \Seen: some parts could not be decoded */
	int64_t *uids;
	size_t n;
	enum store_flag_op op;
	unsigned flags;
	char *keywords;
	int64_t unchangedsince;
	struct spool_bytes *msg; /* APPEND: the message */
	int64_t internaldate;
	int64_t uidvalidity;
	enum imap_learn learn;   /* COPY, MOVE, STORE: what the change teaches the spam filter */
	/* results */
	bool ok;
	struct buf err;
	int64_t *failed;
	size_t nfailed;
	int64_t *new_uids;
	int64_t uid;
};

/* A job for the current command, on the selected mailbox (mailbox_id) of the session's
 * account. The caller fills in what run reads, then submits it, or frees it. */
struct imap_job *imap_job_new(struct imap_session *s, imap_job_run_fn *run,
			      imap_job_complete_fn *complete);
/* Hands the job to the writer; the current command (taken from the parser) waits for it,
 * and the session reads no input until the job is answered. */
void imap_job_submit(struct imap_session *s, struct imap_job *j);
void imap_job_free(struct imap_job *j);

/* EXPUNGE's change (cmd_message.c), which CLOSE makes too: the \Deleted messages of
 * mailbox_id among uids (all of them when uids is NULL). */
imap_job_run_fn imap_job_expunge;

#endif
