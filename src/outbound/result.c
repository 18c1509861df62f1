/* What became of each recipient of a delivery, and what that means for the queue: the
 * outcomes of the attempts that end in one loop turn go to the writer as one job; bounces and
 * delay warnings go to the sender like any mail (dsn.c builds them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/route.h"
#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "outbound/agent_internal.h"
#include "outbound/dsn.h"
#include "outbound/schedule.h"
#include "smtp/parse.h"
#include "store/committer.h"

static void status_of_reply(int code, const char *text, char *status, size_t len)
{
	/* The enhanced status the server gave, or one made from the basic code. */
	if (text && text[0] >= '2' && text[0] <= '5' && text[1] == '.') {
		size_t n = strcspn(text, " ");
		snprintf(status, len, "%.*s", (int)(n < len - 1 ? n : len - 1), text);
		return;
	}
	snprintf(status, len, "%d.0.0", code / 100);
}

void rcpt_result_set(struct rcpt_result *r, int code, const char *reply)
{
	r->code = code;
	r->from_server = false;
	free(r->reply);
	r->reply = xstrdup(reply);
	const char *text = strchr(reply, ' ');
	status_of_reply(code, text ? text + 1 : NULL, r->status, sizeof r->status);
}

/* Every recipient still without a final answer gets this one. */
void attempt_set_pending(struct attempt *a, int code, const char *reply, const char *status)
{
	for (size_t i = 0; i < a->e.nrcpts; i++)
		if (a->results[i].code == 0 || (a->results[i].code >= 200 && a->results[i].code < 300 &&
						 a->state <= A_BODY && code >= 400)) {
			rcpt_result_set(&a->results[i], code, reply);
			if (status)
				snprintf(a->results[i].status, sizeof a->results[i].status, "%s", status);
		}
}

bool attempt_any_accepted(const struct attempt *a)
{
	for (size_t i = 0; i < a->e.nrcpts; i++)
		if (a->results[i].code / 100 == 2)
			return true;
	return false;
}

/* Accepted recipients share the server's answer to DATA or to the final dot. */
void attempt_set_accepted(struct attempt *a, int code, const char *reply)
{
	for (size_t i = 0; i < a->e.nrcpts; i++)
		if (a->results[i].code / 100 == 2) {
			rcpt_result_set(&a->results[i], code, reply);
			a->results[i].from_server = true;
		}
}

/* Before the final dot nothing was delivered: a new connection starts those afresh. */
void attempt_forget_accepted(struct attempt *a)
{
	for (size_t i = 0; i < a->e.nrcpts; i++)
		if (a->results[i].code / 100 == 2) {
			a->results[i].code = 0;
			free(a->results[i].reply);
			a->results[i].reply = NULL;
		}
}

void attempt_fail_all(struct attempt *a, int code, const char *status, const char *why)
{
	char reply[600];
	snprintf(reply, sizeof reply, "%d %s %s", code, status, why);
	for (size_t i = 0; i < a->e.nrcpts; i++) {
		rcpt_result_set(&a->results[i], code, reply);
		snprintf(a->results[i].status, sizeof a->results[i].status, "%s", status);
	}
	/* Called before any MAIL FROM: an open connection is still between transactions. */
	a->clean_end = a->link != NULL;
	attempt_finish(a);
}

/* The outcomes of the attempts that ended during one turn of the event loop, written in one
 * transaction (one disk sync for all of them). */
struct update_job {
	struct store_job job;   /* job.ctx: the agent, NULL once it has stopped */
	struct queue_update *u;
	size_t n, cap;
};

static void update_run(struct store *s, struct store_job *job)
{
	struct update_job *b = (struct update_job *)job;
	struct buf err = BUF_INIT;
	if (!s->ops->queue_update_many(s, b->u, b->n, &err))
		log_error("event=queue-update-failed entries=%zu error=%s", b->n, log_qstr(err.data));
	buf_free(&err);
}

static void update_done(struct store_job *job)
{
	struct update_job *b = (struct update_job *)job;
	if (job->lost) /* the entries stay as they were: delivered ones go again (at least once) */
		log_error("event=queue-update-lost entries=%zu", b->n);
	for (size_t i = 0; i < b->n; i++) {
		struct queue_update *u = &b->u[i];
		if (job->ctx)
			schedule_writing_remove(job->ctx, u->id);
		for (size_t k = 0; k < u->ndone; k++)
			free((char *)u->done[k]);
		free((void *)u->done);
		free((char *)u->last_reply);
	}
	free(b->u);
	free(b);
}

/* A new slot in the batch the next flush hands to the writer. */
static struct queue_update *update_add(struct outbound *ob, int64_t id)
{
	struct update_job *b = ob->updating;
	if (!b) {
		b = ob->updating = xcalloc(1, sizeof *b);
		b->job.run = update_run;
		b->job.done = update_done;
		b->job.ctx = ob;
		b->job.group = true; /* shares the writer's transaction with IMAP/POP3 changes */
	}
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 16;
		b->u = xrealloc(b->u, b->cap * sizeof *b->u);
	}
	struct queue_update *u = &b->u[b->n++];
	memset(u, 0, sizeof *u);
	u->id = id;
	schedule_writing_add(ob, id);
	return u;
}

void result_flush(struct outbound *ob)
{
	if (ob->updating)
		committer_submit_job(ob->writer, &ob->updating->job);
	ob->updating = NULL;
}

/* Hands a DSN to the sender through the same durable path as any mail: to their mailbox,
 * or, for a sender in another domain (mail that a forwarding alias passed on), to the queue
 * with an empty envelope sender. */
static void deliver_dsn(struct attempt *a, bool delay, const struct dsn_recipient *r, size_t n)
{
	if (!a->e.sender[0] || a->e.is_bounce)
		return; /* no bounce to <>, never a bounce of a bounce */
	struct smtp_address addr;
	size_t used;
	struct route_targets targets = { .n = 0, .nremote = 0 };
	enum route_result where = ROUTE_UNKNOWN_USER;
	if (smtp_parse_path(a->e.sender, strlen(a->e.sender), false, &addr, &used) &&
	    !addr.null && addr.domain[0])
		where = route_recipient(a->ob->store, addr.local, addr.domain,
					a->ob->default_domain, 0, &targets);
	struct commit_remote *remote = NULL;
	size_t nremote = 0;
	if (where == ROUTE_NOT_LOCAL)
		route_queue_add(&remote, &nremote, a->e.sender);
	for (size_t i = 0; where == ROUTE_LOCAL && i < targets.nremote; i++)
		route_queue_add(&remote, &nremote, targets.remote[i]);
	if ((where != ROUTE_LOCAL && where != ROUTE_NOT_LOCAL) ||
	    (targets.n == 0 && nremote == 0)) {
		log_warn("event=dsn-undeliverable queue=%lld sender=%s", (long long)a->e.id,
			 log_str(a->e.sender));
		route_targets_free(&targets);
		return;
	}
	struct buf dsn = BUF_INIT, mailer = BUF_INIT;
	buf_printf(&mailer, "MAILER-DAEMON@%s", a->ob->default_domain);
	buf_printf(&dsn, "Return-Path: <>\r\n");
	dsn_build(&dsn, cfg(a->ob)->hostname, mailer.data, a->e.sender, delay, r, n,
		  a->msg.data ? a->msg.data : "", a->msg.len, a->e.created, clock_now());
	struct commit_request req = {
		.internaldate = clock_now(),
		.account_ids = xcalloc(targets.n ? targets.n : 1, sizeof(int64_t)),
		.naccounts = targets.n,
		.remote = remote,
		.nremote = nremote,
		.sender = xstrdup(""),
		.smtputf8 = a->e.smtputf8,
		.is_bounce = true,
	};
	memcpy(req.account_ids, targets.ids, targets.n * sizeof(int64_t));
	req.data = buf_steal(&dsn, &req.len);
	committer_submit(a->ob->writer, &req);
	buf_free(&mailer);
	log_info("event=dsn queue=%lld sender=%s kind=%s recipients=%zu queued=%zu",
		 (long long)a->e.id, log_str(a->e.sender), delay ? "delay" : "failure", n, nremote);
	route_targets_free(&targets);
}

static void attempt_free_later(evutil_socket_t fd, short what, void *arg)
{
	attempt_free(arg);
}

void attempt_finish(struct attempt *a)
{
	struct outbound *ob = a->ob;
	struct config *c = cfg(ob);
	int64_t now = clock_now();
	bool expired = schedule_gives_up(a->e.created, now, c->queue_lifetime);
	struct queue_update *u = update_add(ob, a->e.id);
	char **done = xcalloc(a->e.nrcpts ? a->e.nrcpts : 1, sizeof *done);
	struct dsn_recipient *failed = xcalloc(a->e.nrcpts ? a->e.nrcpts : 1, sizeof *failed);
	struct dsn_recipient *delayed = xcalloc(a->e.nrcpts ? a->e.nrcpts : 1, sizeof *delayed);
	size_t nfailed = 0, ndelayed = 0, ndelivered = 0;
	struct buf last = BUF_INIT;
	for (size_t i = 0; i < a->e.nrcpts; i++) {
		struct rcpt_result *r = &a->results[i];
		if (r->code == 0)
			rcpt_result_set(r, 451, "451 4.4.1 no answer");
		if (r->code / 100 == 2) {
			done[u->ndone++] = xstrdup(a->e.rcpts[i]);
			ndelivered++;
			continue;
		}
		bool permanent = r->code / 100 == 5 || expired;
		struct dsn_recipient d = {
			.address = a->e.rcpts[i], .status = r->status, .diagnostic = r->reply,
			.remote_mta = r->from_server ? a->host : NULL,
		};
		if (permanent) {
			if (expired && r->code / 100 == 4) {
				d.status = "4.4.7";
				d.explanation = "The message could not be delivered for days, so we gave up. "
						"The receiving server was unreachable or kept asking us to "
						"wait; check the address, or reach the person another way.";
			}
			failed[nfailed++] = d;
			done[u->ndone++] = xstrdup(a->e.rcpts[i]);
		} else {
			delayed[ndelayed++] = d;
			if (!last.len)
				buf_printf(&last, "%s — %s", r->reply, dsn_explain(r->status, r->reply));
		}
	}
	if (nfailed)
		deliver_dsn(a, false, failed, nfailed);
	u->warned = a->e.warned;
	if (ndelayed && schedule_warns(a->e.created, now, c->delay_warning, a->e.warned)) {
		deliver_dsn(a, true, delayed, ndelayed);
		u->warned = true;
	}
	/* Retry after queue-retry-min, doubling with every attempt, at most queue-retry-max. */
	u->next_attempt = now + schedule_retry_wait(c->queue_retry_min, c->queue_retry_max,
						    a->e.attempts);
	u->last_reply = last.len ? buf_steal(&last, NULL) : NULL;
	buf_free(&last);
	struct link *l = a->link;
	log_info("event=outbound-result queue=%lld domain=%s delivered=%zu failed=%zu deferred=%zu "
		 "connection=%lu transaction=%ld pipelined=%s", (long long)a->e.id,
		 log_str(a->e.domain),
		 ndelivered, nfailed, ndelayed, l ? l->id : 0UL, l ? l->transactions : 0L,
		 a->pipelined ? "yes" : "no");
	u->done = (const char *const *)done;
	schedule_soon(ob); /* the pass it triggers hands the batch to the writer */
	free(failed);
	free(delayed);
	attempt_unlink(a);
	/* The connection: kept for the next message when the dialogue ended cleanly. After a
	 * "try again later" the next try gets a new connection: the server may have asked us
	 * to back off, or greylist per session. */
	a->link = NULL;
	if (l) {
		l->a = NULL;
		if (a->clean_end && ndelayed == 0 && l->bev)
			link_park(l);
		else
			link_quit(l);
	}
	/* We may be deep inside this attempt's own callbacks: free it from the loop later. */
	a->finished = true;
	event_base_once(ob->base, -1, EV_TIMEOUT, attempt_free_later, a, NULL);
}
