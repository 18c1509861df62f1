/* Group commit (store/committer.c) on a real store in a temporary directory. The test thread
 * plays the event loop: the committer's wake() signals it, and it calls committer_reap. A job
 * that waits on a gate holds the writer, so what is submitted meanwhile queues up and the
 * batches are known in advance. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "store/committer.h"
#include "store/store.h"
#include "test.h"
#include "tmpdir.h"

/* ---- the loop side ------------------------------------------------------------------- */

struct loop {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned wakes;
	size_t changed, queued; /* what committer_reap returned, summed */
};

static void loop_init(struct loop *l)
{
	memset(l, 0, sizeof *l);
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
}

static void loop_destroy(struct loop *l)
{
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
}

static void loop_wake(void *arg)
{
	struct loop *l = arg;
	pthread_mutex_lock(&l->lock);
	l->wakes++;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

/* Reaps whenever woken until *count reaches want; false after 10 s without. */
static bool loop_run(struct loop *l, struct committer *c, const int *count, int want)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	for (;;) {
		pthread_mutex_lock(&l->lock);
		unsigned seen = l->wakes;
		pthread_mutex_unlock(&l->lock);
		size_t queued = 0;
		l->changed += committer_reap(c, &queued);
		l->queued += queued;
		if (*count >= want)
			return true;
		pthread_mutex_lock(&l->lock);
		int rc = 0;
		while (l->wakes == seen && rc == 0)
			rc = pthread_cond_timedwait(&l->cond, &l->lock, &deadline);
		pthread_mutex_unlock(&l->lock);
		if (rc != 0) {
			printf("  timed out: %d of %d callbacks\n", *count, want);
			return false;
		}
	}
}

/* ---- deliveries ---------------------------------------------------------------------- */

#define MAX_SEEN 512

/* What the done callbacks saw, in the order they ran. */
struct outcome {
	int n;
	int order[MAX_SEEN];
	bool ok[MAX_SEEN];
	char reason[MAX_SEEN][64];
	pthread_t loop_thread;
	bool off_loop; /* a callback ran on another thread */
};

struct ticket {
	struct outcome *o;
	int id;
};

static void on_done(void *ctx, bool ok, const char *reason)
{
	struct ticket *t = ctx;
	struct outcome *o = t->o;
	if (!pthread_equal(pthread_self(), o->loop_thread))
		o->off_loop = true;
	if (o->n < MAX_SEEN) {
		o->order[o->n] = t->id;
		o->ok[t->id] = ok;
		snprintf(o->reason[t->id], sizeof o->reason[t->id], "%s", reason ? reason : "");
	}
	o->n++;
}

static void outcome_init(struct outcome *o, struct ticket *t, int n)
{
	memset(o, 0, sizeof *o);
	o->loop_thread = pthread_self();
	for (int i = 0; i < n; i++)
		t[i] = (struct ticket){ o, i };
}

/* A message for account (none when 0), and for rcpt at its domain when rcpt is set. */
static void submit(struct committer *c, const char *text, int64_t account, const char *rcpt,
		   struct ticket *t)
{
	struct commit_request req = { 0 };
	req.data = xstrdup(text);
	req.len = strlen(text);
	req.internaldate = 1700000000;
	if (account) {
		req.account_ids = xmalloc(sizeof *req.account_ids);
		req.account_ids[0] = account;
		req.naccounts = 1;
	}
	if (rcpt) {
		req.remote = xcalloc(1, sizeof *req.remote);
		req.remote[0].domain = xstrdup(strchr(rcpt, '@') + 1);
		req.remote[0].rcpts = xmalloc(sizeof *req.remote[0].rcpts);
		req.remote[0].rcpts[0] = xstrdup(rcpt);
		req.remote[0].nrcpts = 1;
		req.nremote = 1;
	}
	req.sender = xstrdup("alice@example.test");
	req.done = on_done;
	req.ctx = t;
	committer_submit(c, &req);
}

/* ---- jobs ---------------------------------------------------------------------------- */

/* Holds the writer until opened. */
struct gate {
	struct store_job job; /* first: the committer hands back this pointer */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started, open;
	int done;
};

static void gate_run(struct store *s, struct store_job *job)
{
	struct gate *g = (struct gate *)job;
	pthread_mutex_lock(&g->lock);
	g->started = true;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void gate_done(struct store_job *job)
{
	((struct gate *)job)->done++;
}

/* Submits the gate and returns once the writer is inside it. */
static void gate_close(struct gate *g, struct committer *c)
{
	memset(g, 0, sizeof *g);
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->job.run = gate_run;
	g->job.done = gate_done;
	g->job.ctx = g;
	committer_submit_job(c, &g->job);
	pthread_mutex_lock(&g->lock);
	while (!g->started)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static void gate_destroy(struct gate *g)
{
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
}

/* Adds a domain named after it, and notes what it saw. */
struct note_job {
	struct store_job job;
	char domain[32];
	int *runs, *dones;  /* counters shared by the jobs of a test */
	int ran_as, done_as; /* its place in each order */
	bool in_batch;       /* the store had a batch open while it ran */
	bool stored;
	bool ctx_cleared;    /* done saw job.ctx NULL (its owner cancelled) */
	bool off_loop;
	pthread_t loop_thread;
};

static void note_run(struct store *s, struct store_job *job)
{
	struct note_job *n = (struct note_job *)job;
	n->ran_as = (*n->runs)++;
	n->in_batch = s->ops->batch_intact(s);
	struct buf err = BUF_INIT;
	n->stored = s->ops->domain_add(s, n->domain, &err);
	buf_free(&err);
}

static void note_done(struct store_job *job)
{
	struct note_job *n = (struct note_job *)job;
	n->done_as = (*n->dones)++;
	n->ctx_cleared = job->ctx == NULL;
	n->off_loop = !pthread_equal(pthread_self(), n->loop_thread);
}

static void note_init(struct note_job *n, const char *domain, bool group, int *runs, int *dones)
{
	memset(n, 0, sizeof *n);
	snprintf(n->domain, sizeof n->domain, "%s", domain);
	n->job.run = note_run;
	n->job.done = note_done;
	n->job.ctx = n;
	n->job.group = group;
	n->runs = runs;
	n->dones = dones;
	n->ran_as = n->done_as = -1;
	n->loop_thread = pthread_self();
}

/* ---- the store ----------------------------------------------------------------------- */

/* A store with example.test and alice; closed again, for the committer to open. */
static bool make_store(char dir[TEST_TMPDIR_SIZE], int64_t *alice)
{
	if (!test_tmpdir_make(dir))
		return false;
	struct buf err = BUF_INIT;
	struct store *s = store_open_sqlite(dir, true, &err);
	struct account a;
	bool ok = s && s->ops->domain_add(s, "example.test", &err) &&
		  s->ops->account_add(s, "alice@example.test", "h", NULL, 0, &err) &&
		  s->ops->account_get(s, "alice@example.test", &a);
	if (ok) {
		*alice = a.id;
		account_free(&a);
	} else {
		printf("  cannot set up a store: %s\n", err.data ? err.data : "");
	}
	if (s)
		s->ops->close(s);
	buf_free(&err);
	if (!ok)
		test_tmpdir_remove(dir);
	return ok;
}

static struct committer *start(const char *dir, struct loop *l)
{
	char *error = NULL;
	struct committer *c = committer_start(dir, loop_wake, l, &error);
	if (!c)
		printf("  committer_start: %s\n", error ? error : "");
	free(error);
	return c;
}

struct inbox {
	int count;
	struct buf all; /* every message, in UID order, separated by "|" */
};

static bool collect(void *ctx, const struct store_message *m)
{
	struct inbox *in = ctx;
	in->count++;
	buf_printf(&in->all, "%s%.*s", in->count > 1 ? "|" : "", (int)m->len,
		   (const char *)m->data);
	return true;
}

/* alice's INBOX as the committer left it. */
static void read_inbox(const char *dir, struct inbox *in)
{
	memset(in, 0, sizeof *in);
	struct buf err = BUF_INIT;
	struct store *s = store_open_sqlite(dir, false, &err);
	if (s) {
		s->ops->mailbox_messages(s, "alice@example.test", "INBOX", collect, in, &err);
		s->ops->close(s);
	}
	buf_free(&err);
}

/* ---- the tests ----------------------------------------------------------------------- */

TEST(committer_stores_what_queued_meanwhile_in_one_batch_in_order)
{
	char dir[TEST_TMPDIR_SIZE];
	int64_t alice;
	if (!make_store(dir, &alice)) {
		CHECK(false);
		return;
	}
	struct loop l;
	loop_init(&l);
	struct committer *c = start(dir, &l);
	CHECK(c != NULL);
	if (!c) {
		test_tmpdir_remove(dir);
		return;
	}
	struct outcome o;
	struct ticket t[5];
	outcome_init(&o, t, 5);
	struct gate g;
	gate_close(&g, c);
	char text[64];
	for (int i = 0; i < 5; i++) {
		snprintf(text, sizeof text, "Subject: m%d\r\n\r\nbody %d\r\n", i, i);
		submit(c, text, alice, NULL, &t[i]);
	}
	/* Nothing is answered before it is stored. */
	committer_reap(c, NULL);
	CHECK_EQ_INT(o.n, 0);
	gate_open(&g);
	CHECK(loop_run(&l, c, &o.n, 5));
	CHECK_EQ_INT(g.done, 1);
	for (int i = 0; i < 5 && i < o.n; i++) {
		CHECK_EQ_INT(o.order[i], i);
		CHECK(o.ok[i]);
		CHECK_EQ_STR(o.reason[i], "");
	}
	CHECK(!o.off_loop);
	/* Five deliveries changed mailboxes; the gate did not. None was queued outbound. */
	CHECK_EQ_INT(l.changed, 5);
	CHECK_EQ_INT(l.queued, 0);
	uint64_t messages, batches;
	committer_stats(c, &messages, &batches);
	CHECK_EQ_INT(messages, 5);
	CHECK_EQ_INT(batches, 1);
	committer_stop(c);
	struct inbox in;
	read_inbox(dir, &in);
	CHECK_EQ_INT(in.count, 5);
	struct buf want = BUF_INIT;
	for (int i = 0; i < 5; i++)
		buf_printf(&want, "%sSubject: m%d\r\n\r\nbody %d\r\n", i ? "|" : "", i, i);
	CHECK_EQ_STR(in.all.data ? in.all.data : "", want.data);
	buf_free(&want);
	buf_free(&in.all);
	gate_destroy(&g);
	loop_destroy(&l);
	test_tmpdir_remove(dir);
}

/* Queues n deliveries behind a gate and reaps them all; true when they were answered in
 * order, all ok. */
static bool deliver_queued(struct committer *c, struct loop *l, int64_t alice, int n)
{
	static struct outcome o;
	static struct ticket t[MAX_SEEN];
	outcome_init(&o, t, n);
	struct gate g;
	gate_close(&g, c);
	for (int i = 0; i < n; i++)
		submit(c, "Subject: bulk\r\n\r\nx\r\n", alice, NULL, &t[i]);
	gate_open(&g);
	bool fine = loop_run(l, c, &o.n, n);
	for (int i = 0; i < n && i < o.n; i++)
		fine &= o.order[i] == i && o.ok[i];
	gate_destroy(&g);
	return fine;
}

TEST(committer_cuts_a_long_queue_into_batches_of_256)
{
	char dir[TEST_TMPDIR_SIZE];
	int64_t alice;
	if (!make_store(dir, &alice)) {
		CHECK(false);
		return;
	}
	struct loop l;
	loop_init(&l);
	struct committer *c = start(dir, &l);
	CHECK(c != NULL);
	if (!c) {
		test_tmpdir_remove(dir);
		return;
	}
	uint64_t messages, batches;
	CHECK(deliver_queued(c, &l, alice, 256));
	committer_stats(c, &messages, &batches);
	CHECK_EQ_INT(messages, 256);
	CHECK_EQ_INT(batches, 1);
	CHECK(deliver_queued(c, &l, alice, 257));
	committer_stats(c, &messages, &batches);
	CHECK_EQ_INT(messages, 256 + 257);
	CHECK_EQ_INT(batches, 1 + 2);
	committer_stop(c);
	loop_destroy(&l);
	test_tmpdir_remove(dir);
}

TEST(committer_fails_only_the_delivery_whose_account_is_gone)
{
	char dir[TEST_TMPDIR_SIZE];
	int64_t alice;
	if (!make_store(dir, &alice)) {
		CHECK(false);
		return;
	}
	struct loop l;
	loop_init(&l);
	struct committer *c = start(dir, &l);
	CHECK(c != NULL);
	if (!c) {
		test_tmpdir_remove(dir);
		return;
	}
	struct outcome o;
	struct ticket t[3];
	outcome_init(&o, t, 3);
	struct gate g;
	gate_close(&g, c);
	submit(c, "Subject: a\r\n\r\na\r\n", alice, NULL, &t[0]);
	submit(c, "Subject: b\r\n\r\nb\r\n", alice + 1000, NULL, &t[1]);
	submit(c, "Subject: c\r\n\r\nc\r\n", alice, NULL, &t[2]);
	gate_open(&g);
	CHECK(loop_run(&l, c, &o.n, 3));
	CHECK(o.ok[0]);
	CHECK(!o.ok[1]);
	CHECK_EQ_STR(o.reason[1], "recipient account no longer exists");
	CHECK(o.ok[2]);
	uint64_t messages, batches;
	committer_stats(c, &messages, &batches);
	CHECK_EQ_INT(batches, 1);
	committer_stop(c);
	struct inbox in;
	read_inbox(dir, &in);
	CHECK_EQ_INT(in.count, 2);
	buf_free(&in.all);
	gate_destroy(&g);
	loop_destroy(&l);
	test_tmpdir_remove(dir);
}

TEST(committer_groups_marked_jobs_and_runs_the_others_alone)
{
	char dir[TEST_TMPDIR_SIZE];
	int64_t alice;
	if (!make_store(dir, &alice)) {
		CHECK(false);
		return;
	}
	struct loop l;
	loop_init(&l);
	struct committer *c = start(dir, &l);
	CHECK(c != NULL);
	if (!c) {
		test_tmpdir_remove(dir);
		return;
	}
	int runs = 0, dones = 0;
	struct note_job j[5];
	note_init(&j[0], "j0.test", true, &runs, &dones);
	note_init(&j[1], "j1.test", true, &runs, &dones);
	note_init(&j[2], "j2.test", true, &runs, &dones);
	note_init(&j[3], "j3.test", false, &runs, &dones);
	note_init(&j[4], "j4.test", true, &runs, &dones);
	j[4].job.changes_mailboxes = true;
	struct outcome o;
	struct ticket t[1];
	outcome_init(&o, t, 1);
	struct gate g;
	gate_close(&g, c);
	committer_submit_job(c, &j[0].job);
	committer_submit_job(c, &j[1].job);
	submit(c, "Subject: between\r\n\r\nx\r\n", alice, NULL, &t[0]);
	committer_submit_job(c, &j[2].job);
	committer_submit_job(c, &j[3].job);
	committer_submit_job(c, &j[4].job);
	gate_open(&g);
	CHECK(loop_run(&l, c, &dones, 5));
	CHECK_EQ_INT(o.n, 1);
	for (int i = 0; i < 5; i++) {
		CHECK_EQ_INT(j[i].ran_as, i);
		CHECK_EQ_INT(j[i].done_as, i);
		CHECK(j[i].stored);
		CHECK(!j[i].off_loop);
		CHECK(!j[i].ctx_cleared);
		CHECK(!j[i].job.lost);
	}
	/* Grouped jobs run inside a batch (one fsync for the group); the other on its own. */
	CHECK(j[0].in_batch);
	CHECK(j[1].in_batch);
	CHECK(j[2].in_batch);
	CHECK(!j[3].in_batch);
	CHECK(j[4].in_batch);
	/* The delivery and the job marked changes_mailboxes. */
	CHECK_EQ_INT(l.changed, 2);
	committer_stop(c);
	/* Every job's change is stored. */
	struct buf err = BUF_INIT;
	struct store *s = store_open_sqlite(dir, false, &err);
	CHECK(s != NULL);
	for (int i = 0; s && i < 5; i++)
		CHECK(s->ops->domain_exists(s, j[i].domain, NULL));
	if (s)
		s->ops->close(s);
	buf_free(&err);
	gate_destroy(&g);
	loop_destroy(&l);
	test_tmpdir_remove(dir);
}

TEST(committer_cancel_forgets_the_callback_but_stores_the_message)
{
	char dir[TEST_TMPDIR_SIZE];
	int64_t alice;
	if (!make_store(dir, &alice)) {
		CHECK(false);
		return;
	}
	struct loop l;
	loop_init(&l);
	struct committer *c = start(dir, &l);
	CHECK(c != NULL);
	if (!c) {
		test_tmpdir_remove(dir);
		return;
	}
	struct outcome o;
	struct ticket t[3];
	outcome_init(&o, t, 3);
	int runs = 0, dones = 0;
	struct note_job j;
	note_init(&j, "gone.test", false, &runs, &dones);
	j.job.ctx = &t[1]; /* the same owner as delivery 1 */
	struct gate g;
	gate_close(&g, c);
	submit(c, "Subject: kept\r\n\r\n0\r\n", alice, NULL, &t[0]);
	submit(c, "Subject: owner gone\r\n\r\n1\r\n", alice, NULL, &t[1]);
	committer_submit_job(c, &j.job);
	submit(c, "Subject: kept\r\n\r\n2\r\n", alice, NULL, &t[2]);
	committer_cancel(c, &t[1]);
	gate_open(&g);
	CHECK(loop_run(&l, c, &o.n, 2));
	CHECK(loop_run(&l, c, &dones, 1));
	CHECK_EQ_INT(o.n, 2);
	CHECK_EQ_INT(o.order[0], 0);
	CHECK_EQ_INT(o.order[1], 2);
	/* The job still runs and completes (it must free itself), told its owner is gone. */
	CHECK(j.stored);
	CHECK(j.ctx_cleared);
	committer_stop(c);
	CHECK_EQ_INT(o.n, 2);
	struct inbox in;
	read_inbox(dir, &in);
	CHECK_EQ_INT(in.count, 3);
	CHECK(in.all.data && strstr(in.all.data, "owner gone") != NULL);
	buf_free(&in.all);
	gate_destroy(&g);
	loop_destroy(&l);
	test_tmpdir_remove(dir);
}

/* Adds a header field, and notes what it was given. */
struct signer {
	pthread_mutex_t lock;
	int calls;
	bool saw_return_path; /* the Return-Path line must not be part of what is signed */
};

static void sign(void *arg, const char *msg, size_t len, struct buf *add)
{
	struct signer *sg = arg;
	pthread_mutex_lock(&sg->lock);
	sg->calls++;
	if (len >= 12 && strncmp(msg, "Return-Path:", 12) == 0)
		sg->saw_return_path = true;
	pthread_mutex_unlock(&sg->lock);
	buf_printf(add, "X-Signed: %zu\r\n", len);
}

struct queued {
	int n;
	int64_t id;
	char domain[64], rcpt[64];
};

static bool collect_queue(void *ctx, const struct queue_entry *e)
{
	struct queued *q = ctx;
	q->n++;
	q->id = e->id;
	snprintf(q->domain, sizeof q->domain, "%s", e->domain);
	snprintf(q->rcpt, sizeof q->rcpt, "%s", e->nrcpts ? e->rcpts[0] : "");
	return true;
}

TEST(committer_signs_outbound_mail_after_its_return_path)
{
	char dir[TEST_TMPDIR_SIZE];
	int64_t alice;
	if (!make_store(dir, &alice)) {
		CHECK(false);
		return;
	}
	struct loop l;
	loop_init(&l);
	struct committer *c = start(dir, &l);
	CHECK(c != NULL);
	if (!c) {
		test_tmpdir_remove(dir);
		return;
	}
	struct signer sg = { .calls = 0 };
	pthread_mutex_init(&sg.lock, NULL);
	committer_set_signer(c, sign, &sg, 2);
	struct outcome o;
	struct ticket t[2];
	outcome_init(&o, t, 2);
	submit(c, "Subject: local\r\n\r\nhi\r\n", alice, NULL, &t[0]);
	submit(c, "Return-Path: <alice@example.test>\r\nSubject: out\r\n\r\nhi\r\n", 0,
	       "bob@far.example", &t[1]);
	CHECK(loop_run(&l, c, &o.n, 2));
	CHECK(o.ok[0] && o.ok[1]);
	CHECK_EQ_INT(o.order[0], 0);
	CHECK_EQ_INT(o.order[1], 1);
	/* Only the message with a queue entry is signed, without its Return-Path line. */
	CHECK_EQ_INT(sg.calls, 1);
	CHECK(!sg.saw_return_path);
	CHECK_EQ_INT(l.queued, 1);
	committer_stop(c);
	struct buf err = BUF_INIT, msg = BUF_INIT;
	struct store *s = store_open_sqlite(dir, false, &err);
	CHECK(s != NULL);
	struct queued q = { 0 };
	if (s) {
		s->ops->queue_all(s, collect_queue, &q);
		CHECK_EQ_INT(q.n, 1);
		CHECK_EQ_STR(q.domain, "far.example");
		CHECK_EQ_STR(q.rcpt, "bob@far.example");
		CHECK(q.n == 1 && s->ops->queue_message(s, q.id, &msg));
		CHECK_EQ_STR(msg.data ? msg.data : "",
			     "Return-Path: <alice@example.test>\r\nX-Signed: 20\r\n"
			     "Subject: out\r\n\r\nhi\r\n");
		s->ops->close(s);
	}
	buf_free(&msg);
	buf_free(&err);
	pthread_mutex_destroy(&sg.lock);
	loop_destroy(&l);
	test_tmpdir_remove(dir);
}

TEST(committer_stop_stores_and_answers_what_is_still_queued)
{
	char dir[TEST_TMPDIR_SIZE];
	int64_t alice;
	if (!make_store(dir, &alice)) {
		CHECK(false);
		return;
	}
	struct loop l;
	loop_init(&l);
	struct committer *c = start(dir, &l);
	CHECK(c != NULL);
	if (!c) {
		test_tmpdir_remove(dir);
		return;
	}
	struct outcome o;
	struct ticket t[3];
	outcome_init(&o, t, 3);
	for (int i = 0; i < 3; i++)
		submit(c, "Subject: last\r\n\r\nx\r\n", alice, NULL, &t[i]);
	committer_stop(c); /* no reap before: stop runs the callbacks itself */
	CHECK_EQ_INT(o.n, 3);
	CHECK(o.ok[0] && o.ok[1] && o.ok[2]);
	struct inbox in;
	read_inbox(dir, &in);
	CHECK_EQ_INT(in.count, 3);
	buf_free(&in.all);
	loop_destroy(&l);
	test_tmpdir_remove(dir);
}
