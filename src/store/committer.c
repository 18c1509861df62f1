#include "store/committer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/alloc.h"
#include "lib/spool.h"
#include "lib/log.h"
#include "lib/loopwatch.h"
#include "mime/mime.h"
#include "store/store.h"

/* Largest batch, so one huge burst does not hold every client for one giant transaction. */
#define BATCH_MAX 256

struct pending {
	struct store_job *job; /* a job instead of a delivery */
	struct commit_request req;
	bool ok;
	char *reason;
	struct pending *next;
	/* Waiting for the pre-stage (signing); the writer stops at the first such entry, so
	 * the order of the queue is kept. */
	bool needs_sign;
	struct pending *sign_next;
};

#define MAX_SIGNERS 8

struct committer {
	struct store *store;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pending *queue, **queue_tail;  /* waiting to be committed */
	struct pending *done, **done_tail;    /* committed, waiting for committer_reap */
	struct pending *inflight;             /* being committed now (for cancel) */
	bool stopping;
	void (*wake)(void *);
	void *wake_arg;
	uint64_t messages, batches;
	/* The pre-stage: requests with queue entries, in order, for the signer threads. */
	commit_sign_fn sign;
	void *sign_arg;
	pthread_t signers[MAX_SIGNERS];
	unsigned nsigners;
	pthread_cond_t sign_cond;
	struct pending *sign_queue, **sign_tail;
	void (*report_sink)(void *arg, char *data, size_t len, struct spool_bytes *spool);
	void *report_sink_arg;
};

static void commit_batch(struct committer *c, struct pending *batch, size_t n)
{
	struct store_delivery *d = xcalloc(n, sizeof *d);
	bool *ok = xcalloc(n, sizeof *ok);
	struct buf *structures = xcalloc(n, sizeof *structures);
	size_t i = 0;
	for (struct pending *p = batch; p; p = p->next, i++) {
		/* The MIME structure is computed once, here, off the event loop, and kept with the
		 * message so IMAP never parses it again for BODYSTRUCTURE. */
		struct mime_message *m = mime_message_parse(p->req.data, p->req.len, NULL);
		mime_message_serialize(m, &structures[i]);
		mime_message_free(&m);
		d[i].structure = structures[i].data;
		d[i].structure_len = structures[i].len;
		d[i].sender = p->req.sender;
		d[i].smtputf8 = p->req.smtputf8;
		d[i].is_bounce = p->req.is_bounce;
		d[i].junk = p->req.junk;
		d[i].sent_account_id = p->req.sent_account_id;
		d[i].nremote = p->req.nremote;
		if (p->req.nremote) {
			struct store_remote *r = xcalloc(p->req.nremote, sizeof *r);
			for (size_t k = 0; k < p->req.nremote; k++) {
				r[k].domain = p->req.remote[k].domain;
				r[k].rcpts = (const char *const *)p->req.remote[k].rcpts;
				r[k].nrcpts = p->req.remote[k].nrcpts;
			}
			d[i].remote = r;
		}
		d[i].data = p->req.data;
		d[i].len = p->req.len;
		d[i].internaldate = p->req.internaldate;
		d[i].account_ids = p->req.account_ids;
		d[i].account_junk = p->req.account_junk;
		d[i].naccounts = p->req.naccounts;
		d[i].mailbox = "INBOX";
	}
	struct buf err = BUF_INIT;
	bool committed = c->store->ops->deliver_batch(c->store, d, n, ok, &err);
	if (!committed)
		log_error("event=commit-failed messages=%zu error=%s", n, log_qstr(err.data));
	i = 0;
	for (struct pending *p = batch; p; p = p->next, i++) {
		p->ok = committed && ok[i];
		if (!p->ok)
			p->reason = xstrdup(committed ? "recipient account no longer exists"
						      : (err.data ? err.data : "store error"));
	}
	buf_free(&err);
	for (i = 0; i < n; i++) {
		buf_free(&structures[i]);
		free((void *)d[i].remote);
	}
	free(structures);
	free(d);
	free(ok);
}

static void mark_lost(struct pending *from, struct pending *to_excl, const char *why)
{
	size_t n = 0;
	for (struct pending *p = from; p != to_excl; p = p->next, n++)
		p->job->lost = true;
	if (n)
		log_error("event=commit-failed jobs=%zu error=%s", n, log_qstr(why));
}

/* Runs consecutive grouped jobs in one transaction: each is a savepoint of its own, and one
 * COMMIT makes them all durable. When the database drops the transaction by itself, the jobs
 * run in it so far are marked lost and the rest go on in a new one. */
static void run_job_group(struct committer *c, struct pending *batch)
{
	struct store *s = c->store;
	struct buf err = BUF_INIT;
	bool open = s->ops->batch_begin(s, &err);
	struct pending *first = batch;
	for (struct pending *p = batch; p; p = p->next) {
		if (!open) {
			p->job->run(s, p->job); /* no batch: it commits on its own */
			first = p->next;
			continue;
		}
		p->job->run(s, p->job);
		if (!s->ops->batch_intact(s)) {
			buf_free(&err);
			s->ops->batch_end(s, &err);
			mark_lost(first, p->next, err.data ? err.data : "rolled back");
			buf_free(&err);
			first = p->next;
			open = p->next && s->ops->batch_begin(s, &err);
		}
	}
	if (open && !s->ops->batch_end(s, &err))
		mark_lost(first, NULL, err.data ? err.data : "commit failed");
	buf_free(&err);
}

static void *committer_main(void *arg)
{
	struct committer *c = arg;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while ((!c->queue && !c->stopping) || (c->queue && c->queue->needs_sign))
			pthread_cond_wait(&c->cond, &c->lock);
		if (!c->queue && c->stopping)
			break;
		/* Take up to BATCH_MAX deliveries, or grouped jobs: everything of the kind that
		 * queued while we were syncing. Any other job runs alone, in queue order. */
		struct pending *batch = c->queue, *last = batch;
		size_t n = 1;
		bool grouped = batch->job && batch->job->group;
		while (last->next && n < BATCH_MAX && !last->next->needs_sign &&
		       (grouped ? last->next->job && last->next->job->group
				: !batch->job && !last->next->job)) {
			last = last->next;
			n++;
		}
		c->queue = last->next;
		if (!c->queue)
			c->queue_tail = &c->queue;
		last->next = NULL;
		c->inflight = batch;
		pthread_mutex_unlock(&c->lock);

		if (grouped)
			run_job_group(c, batch);
		else if (batch->job)
			batch->job->run(c->store, batch->job);
		else
			commit_batch(c, batch, n);

		pthread_mutex_lock(&c->lock);
		c->inflight = NULL;
		*c->done_tail = batch;
		c->done_tail = &last->next;
		if (!batch->job) {
			c->messages += n;
			c->batches++;
		}
		pthread_mutex_unlock(&c->lock);
		c->wake(c->wake_arg);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Puts the fields the sign function made at the start of what is sent: after the Return-Path
 * line, which the outbound agent drops. A spilled message has room for them before its first
 * byte; otherwise (or when that room is used up) the bytes are copied once. */
static void insert_fields(struct commit_request *req, size_t at, const struct buf *add)
{
	if (!req->spool)
		req->spool = spool_bytes_from_mem(req->data, req->len);
	if (!spool_bytes_insert(req->spool, at, add->data, add->len)) {
		char *m = xmalloc(req->spool->len + add->len + 1);
		memcpy(m, req->spool->data, at);
		memcpy(m + at, add->data, add->len);
		memcpy(m + at + add->len, req->spool->data + at, req->spool->len - at);
		m[req->spool->len + add->len] = '\0';
		size_t len = req->spool->len + add->len;
		spool_bytes_free(&req->spool);
		req->spool = spool_bytes_from_mem(m, len);
	}
	req->data = (char *)req->spool->data;
	req->len = req->spool->len;
}

static void sign_one(struct committer *c, struct commit_request *req)
{
	size_t at = 0;
	if (req->len > 12 && strncasecmp(req->data, "Return-Path:", 12) == 0) {
		const char *nl = memchr(req->data, '\n', req->len);
		at = nl ? (size_t)(nl + 1 - req->data) : 0;
	}
	struct buf add = BUF_INIT;
	c->sign(c->sign_arg, req->data + at, req->len - at, &add);
	if (add.len)
		insert_fields(req, at, &add);
	buf_free(&add);
}

static void *signer_main(void *arg)
{
	struct committer *c = arg;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->sign_queue && !c->stopping)
			pthread_cond_wait(&c->sign_cond, &c->lock);
		struct pending *p = c->sign_queue;
		if (!p)
			break; /* stopping, and nothing is left to sign */
		c->sign_queue = p->sign_next;
		if (!c->sign_queue)
			c->sign_tail = &c->sign_queue;
		pthread_mutex_unlock(&c->lock);
		/* The writer does not touch an entry that still needs signing, and cancel only
		 * clears its callback: the request's bytes are ours until needs_sign is cleared. */
		sign_one(c, &p->req);
		pthread_mutex_lock(&c->lock);
		p->needs_sign = false;
		pthread_cond_signal(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

void committer_set_signer(struct committer *c, commit_sign_fn fn, void *arg, unsigned threads)
{
	if (threads < 1)
		threads = 1;
	if (threads > MAX_SIGNERS)
		threads = MAX_SIGNERS;
	c->sign = fn;
	c->sign_arg = arg;
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&c->signers[i], NULL, signer_main, c) != 0)
			log_fatal("event=thread-create-failed what=signer");
		c->nsigners++;
	}
}

struct committer *committer_start(const char *data_dir, void (*wake)(void *), void *wake_arg,
				  char **error)
{
	struct buf err = BUF_INIT;
	struct store *store = store_open_sqlite(data_dir, false, &err);
	if (!store) {
		*error = buf_steal(&err, NULL);
		return NULL;
	}
	struct committer *c = xcalloc(1, sizeof *c);
	c->store = store;
	c->queue_tail = &c->queue;
	c->done_tail = &c->done;
	c->wake = wake;
	c->wake_arg = wake_arg;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_cond_init(&c->sign_cond, NULL);
	c->sign_tail = &c->sign_queue;
	if (pthread_create(&c->thread, NULL, committer_main, c) != 0)
		log_fatal("event=thread-create-failed what=committer");
	return c;
}

void committer_submit(struct committer *c, struct commit_request *req)
{
	struct pending *p = xcalloc(1, sizeof *p);
	p->req = *req;
	p->needs_sign = c->nsigners && req->nremote > 0;
	pthread_mutex_lock(&c->lock);
	*c->queue_tail = p;
	c->queue_tail = &p->next;
	if (p->needs_sign) {
		*c->sign_tail = p;
		c->sign_tail = &p->sign_next;
		pthread_cond_signal(&c->sign_cond);
	} else {
		pthread_cond_signal(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
}

void committer_submit_job(struct committer *c, struct store_job *job)
{
	struct pending *p = xcalloc(1, sizeof *p);
	p->job = job;
	pthread_mutex_lock(&c->lock);
	*c->queue_tail = p;
	c->queue_tail = &p->next;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void pending_free(struct pending *p)
{
	if (p->req.spool)
		spool_bytes_free(&p->req.spool);
	else
		free(p->req.data);
	free(p->req.account_ids);
	free(p->req.account_junk);
	for (size_t i = 0; i < p->req.nremote; i++) {
		free(p->req.remote[i].domain);
		for (size_t k = 0; k < p->req.remote[i].nrcpts; k++)
			free(p->req.remote[i].rcpts[k]);
		free(p->req.remote[i].rcpts);
	}
	free(p->req.remote);
	free(p->req.sender);
	free(p->reason);
	free(p);
}

size_t committer_reap(struct committer *c, size_t *queued)
{
	size_t n = 0;
	if (queued)
		*queued = 0;
	pthread_mutex_lock(&c->lock);
	struct pending *list = c->done;
	c->done = NULL;
	c->done_tail = &c->done;
	pthread_mutex_unlock(&c->lock);
	while (list) {
		struct pending *next = list->next;
		if (!list->job || list->job->changes_mailboxes)
			n++;
		if (queued && !list->job && list->ok && list->req.nremote)
			(*queued)++;
		/* A completion runs on the event loop: the watchdog names one that held it. */
		uint64_t t0 = loopwatch_begin();
		const char *what = "delivery done";
		if (list->job) {
			what = list->job->what ? list->job->what : "job done";
			list->job->done(list->job);
		} else if (list->req.done) {
			list->req.done(list->req.ctx, list->ok, list->reason);
		}
		loopwatch_end(t0, "store", what, strlen(what), 0);
		if (!list->job && list->ok && list->req.dmarc_report && c->report_sink) {
			c->report_sink(c->report_sink_arg, list->req.data, list->req.len,
				       list->req.spool);
			list->req.data = NULL;
			list->req.spool = NULL;
		}
		pending_free(list);
		list = next;
	}
	return n;
}

void committer_set_report_sink(struct committer *c,
			       void (*sink)(void *arg, char *data, size_t len,
					    struct spool_bytes *spool),
			       void *arg)
{
	c->report_sink = sink;
	c->report_sink_arg = arg;
}

void committer_cancel(struct committer *c, void *ctx)
{
	pthread_mutex_lock(&c->lock);
	struct pending *lists[] = { c->queue, c->inflight, c->done };
	for (size_t i = 0; i < 3; i++)
		for (struct pending *p = lists[i]; p; p = p->next)
			if (p->job && p->job->ctx == ctx)
				p->job->ctx = NULL;
			else if (!p->job && p->req.ctx == ctx)
				p->req.done = NULL;
	pthread_mutex_unlock(&c->lock);
}

void committer_stop(struct committer *c)
{
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_signal(&c->cond);
	pthread_cond_broadcast(&c->sign_cond);
	pthread_mutex_unlock(&c->lock);
	/* The signers sign what is left before they end; the writer waits for them. */
	for (unsigned i = 0; i < c->nsigners; i++)
		pthread_join(c->signers[i], NULL);
	pthread_join(c->thread, NULL);
	committer_reap(c, NULL);
	c->store->ops->close(c->store);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	pthread_cond_destroy(&c->sign_cond);
	free(c);
}

void committer_stats(struct committer *c, uint64_t *messages, uint64_t *batches)
{
	pthread_mutex_lock(&c->lock);
	*messages = c->messages;
	*batches = c->batches;
	pthread_mutex_unlock(&c->lock);
}
