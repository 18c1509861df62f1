/* Reader jobs: IMAP reads whose cost grows with the mailbox, run on reader threads (each a
 * committer with its own SQLite connection; WAL lets them read while the writer writes), so
 * that one SEARCH over 100,000 messages does not stop every other client (issue 9). */
#include <stdlib.h>
#include <string.h>

#include "imap/session.h"
#include "lib/alloc.h"
#include "net/conn.h"

static void read_free(struct imap_read *r)
{
	if (r->release)
		r->release(r);
	imap_command_free(&r->cmd);
	uidmap_clear(&r->view.uids);
	free(r->view.saved);
	free(r);
}

/* The reader with the fewest reads queued or running (ties in turn), counted as one busier,
 * so a short read waits behind a long one only when every reader is busy. */
size_t imap_reader_pick(struct imap_server *srv)
{
	size_t best = srv->next_reader++ % srv->nreaders;
	for (size_t k = 1; k < srv->nreaders; k++) {
		size_t i = (best + k) % srv->nreaders;
		if (srv->reader_load[i] < srv->reader_load[best])
			best = i;
	}
	srv->reader_load[best]++;
	return best;
}

void imap_reader_unload(struct imap_server *srv, size_t reader)
{
	if (srv->reader_load[reader])
		srv->reader_load[reader]--;
}

static void reader_queue(struct imap_server *srv, struct imap_read *r)
{
	r->srv = srv;
	r->reader = imap_reader_pick(srv);
	committer_submit_job(srv->readers[r->reader], &r->job);
}

/* The read came back from its reader (answered or cancelled). */
static void reader_unload(struct imap_read *r)
{
	if (r->srv)
		imap_reader_unload(r->srv, r->reader);
	r->srv = NULL;
}

static void read_run(struct store *st, struct store_job *job)
{
	struct imap_read *r = (struct imap_read *)job;
	if (imap_read_cancelled(r))
		return;
	r->view.store = st;
	r->work(r);
}

static void read_done(struct store_job *job)
{
	struct imap_read *r = (struct imap_read *)job;
	struct imap_session *s = job->ctx;
	reader_unload(r);
	if (s && s->reading == r) {
		/* Closed meanwhile (an idle timeout's BYE): nothing more to say. */
		enum imap_read_next next = IMAP_READ_DONE;
		if (s->wait != WAIT_CLOSE) {
			r->view.store = s->srv->store;
			next = r->finish(s, r);
		}
		if (next == IMAP_READ_AGAIN) {
			/* A client that does not read gets no more slices until it has read these
			 * (imap_read_output_drained), so they do not pile up in memory. */
			if (s->bev && conn_output_full(s->bev))
				r->paused = true;
			else
				reader_queue(s->srv, r);
			return;
		}
		s->reading = NULL;
		read_free(r);
		if (next == IMAP_READ_DONE)
			imap_command_finished(s);
		return;
	}
	read_free(r);
}

bool imap_read_cancelled(struct imap_read *r)
{
	return atomic_load_explicit(&r->cancelled, memory_order_relaxed);
}

void imap_read_submit(struct imap_session *s, struct imap_read *r, const char *tag,
		      bool selected)
{
	struct imap_server *srv = s->srv;
	if (s->wait == WAIT_CLOSE) {
		/* The sync before it said BYE (the mailbox is gone): no answer, no work. */
		read_free(r);
		return;
	}
	r->job.run = read_run;
	r->job.done = read_done;
	r->job.ctx = s;
	r->job.what = "IMAP read done";
	atomic_init(&r->cancelled, false);
	imap_remember_tag(s, tag);
	r->cmd = imap_parser_take_command(s->parser);
	r->view.account_id = s->account_id;
	r->view.rev2 = s->rev2;
	r->view.utf8 = s->utf8;
	if (selected) {
		r->view.mailbox_id = s->mbox.id;
		uidmap_copy(&r->view.uids, &s->uids);
		if (s->nsaved) {
			r->view.saved = xcalloc(s->nsaved, sizeof *r->view.saved);
			memcpy(r->view.saved, s->saved, s->nsaved * sizeof *s->saved);
			r->view.nsaved = s->nsaved;
		}
	}
	if (!srv->nreaders) {
		/* No reader threads (a tool or test that starts none): on the loop, as before; the
		 * caller is still inside its command, so the session simply goes on. */
		s->reading = r;
		enum imap_read_next next;
		do {
			r->view.store = srv->store;
			r->work(r);
			next = r->finish(s, r);
		} while (next == IMAP_READ_AGAIN);
		s->reading = NULL;
		read_free(r);
		return;
	}
	s->reading = r;
	s->wait = WAIT_JOB;
	bufferevent_disable(s->bev, EV_READ);
	reader_queue(srv, r);
}

void imap_read_output_drained(struct imap_session *s)
{
	struct imap_read *r = s->reading;
	if (r && r->paused) {
		r->paused = false;
		reader_queue(s->srv, r);
	}
}

void imap_read_cancel(struct imap_session *s)
{
	struct imap_read *r = s->reading;
	if (!r)
		return;
	s->reading = NULL;
	if (r->paused) {
		read_free(r); /* in no reader's queue */
		return;
	}
	atomic_store(&r->cancelled, true);
	for (size_t i = 0; i < s->srv->nreaders; i++)
		committer_cancel(s->srv->readers[i], s);
}
