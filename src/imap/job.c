/* Store jobs: the changes IMAP commands make go to the writer thread; the session reads no
 * more input until the job is answered. The command that starts a job gives its run (writer
 * thread) and complete (loop) functions; a change that failed is answered here. */
#include <event2/bufferevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/job.h"
#include "imap/session.h"
#include "lib/alloc.h"
#include "lib/log.h"

static void job_run(struct store *st, struct store_job *job)
{
	struct imap_job *j = (struct imap_job *)job;
	j->run(st, j);
}

void imap_job_free(struct imap_job *j)
{
	free(j->name);
	free(j->name2);
	free(j->uids);
	free(j->keywords);
	spool_bytes_free(&j->msg);
	free(j->failed);
	free(j->new_uids);
	buf_free(&j->err);
	free(j);
}

/* The store's error text may start with a response code in brackets: pass it on. */
static void tagged_store_error(struct imap_session *s, struct imap_job *j)
{
	const char *text = j->err.data ? j->err.data : "The change could not be saved.";
	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		if (end) {
			char code[64];
			snprintf(code, sizeof code, "%.*s", (int)(end - text - 1), text + 1);
			imap_tagged(s, s->tag, "NO", code, "%s", end[1] == ' ' ? end + 2 : end + 1);
			return;
		}
	}
	log_error("event=imap-store-failed conn=%lu error=%s", s->id, log_qstr(text));
	imap_tagged(s, s->tag, "NO", "SERVERBUG", "The change could not be saved; try again.");
}

static void job_done(struct store_job *job)
{
	struct imap_job *j = (struct imap_job *)job;
	struct imap_session *s = job->ctx;
	if (!s) {
		imap_job_free(j);
		return;
	}
	if (job->lost) {
		j->ok = false;
		buf_free(&j->err); /* not a response code of the store's: a failed commit */
	}
	if (!j->ok) {
		imap_sync(s, false);
		tagged_store_error(s, j);
		imap_job_free(j);
		imap_command_finished(s);
		return;
	}
	j->complete(s, j);
	imap_job_free(j);
	imap_command_finished(s);
}

struct imap_job *imap_job_new(struct imap_session *s, imap_job_run_fn *run,
			      imap_job_complete_fn *complete)
{
	struct imap_job *j = xcalloc(1, sizeof *j);
	j->job.run = job_run;
	j->job.done = job_done;
	j->job.ctx = s;
	j->job.changes_mailboxes = true;
	j->job.group = true;
	j->job.what = "IMAP job done";
	j->run = run;
	j->complete = complete;
	j->account_id = s->account_id;
	j->mailbox_id = s->mbox.id;
	return j;
}

/* Hands the job to the writer; the current command waits for it. */
void imap_job_submit(struct imap_session *s, struct imap_job *j)
{
	s->wait = WAIT_JOB;
	s->cmd = imap_parser_take_command(s->parser);
	bufferevent_disable(s->bev, EV_READ);
	committer_submit_job(s->srv->writer, &j->job);
}
