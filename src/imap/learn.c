/* The Junk folder learns: which IMAP changes are a verdict on a message, and handing those
 * messages to rspamd. The loop only picks the UIDs; a reader thread reads the bytes (a
 * message may be megabytes, and the loop must not wait for the disk), then the loop hands
 * them to the rspamd client, which sends them without waiting for anyone. */
#include "imap/learn.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/session.h"
#include "lib/alloc.h"
#include "lib/log.h"

/* ---- what teaches what (pure) --------------------------------------------------------- */

enum imap_learn imap_learn_of_copy(bool from_junk, const char *to_role)
{
	bool to_junk = to_role && strcmp(to_role, "\\Junk") == 0;
	bool to_trash = to_role && strcmp(to_role, "\\Trash") == 0;
	if (to_junk && !from_junk)
		return IMAP_LEARN_SPAM;
	if (from_junk && !to_junk && !to_trash)
		return IMAP_LEARN_HAM;
	return IMAP_LEARN_NONE;
}

static bool word_is(const char *w, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(w, name, len) == 0;
}

enum imap_learn imap_learn_of_store(enum store_flag_op op, const char *keywords)
{
	if (op == STORE_FLAGS_REMOVE || !keywords)
		return IMAP_LEARN_NONE;
	bool junk = false, notjunk = false;
	for (const char *p = keywords; *p;) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		size_t len = (size_t)(p - w);
		if (word_is(w, len, "$Junk") || word_is(w, len, "Junk"))
			junk = true;
		else if (word_is(w, len, "$NotJunk") || word_is(w, len, "NonJunk"))
			notjunk = true;
	}
	if (junk == notjunk) /* neither, or both at once: no verdict */
		return IMAP_LEARN_NONE;
	return junk ? IMAP_LEARN_SPAM : IMAP_LEARN_HAM;
}

/* ---- reading the messages and sending them ---------------------------------------------- */

enum item_state { ITEM_READ, ITEM_GONE, ITEM_LARGE, ITEM_UNREADABLE };

struct learn_item {
	uint32_t uid;
	enum item_state state;
	struct buf bytes;
};

struct learn_job {
	struct store_job job; /* ctx: the server */
	size_t reader;
	bool on_reader;
	bool spam;
	unsigned long conn;
	char *rcpt;           /* the account's address: Deliver-To, for per-user Bayes (or NULL) */
	int64_t mailbox_id;
	size_t n;
	struct learn_item items[];
};

static bool meta_found(void *ctx, const struct message_meta *m)
{
	struct message_meta *out = ctx;
	*out = *m;
	out->keywords = NULL; /* valid during the call only; not needed */
	return false;
}

/* Reader thread: one indexed lookup and one read per message, IMAP_LEARN_PER_COMMAND at
 * most. */
static void learn_run(struct store *st, struct store_job *job)
{
	struct learn_job *l = (struct learn_job *)job;
	for (size_t i = 0; i < l->n; i++) {
		struct learn_item *it = &l->items[i];
		struct message_meta m = { 0 };
		enum store_rc rc = st->ops->mailbox_scan(st, l->mailbox_id, it->uid, it->uid, 0,
							 meta_found, &m);
		if (rc == STORE_OK && m.uid != it->uid)
			rc = STORE_NOT_FOUND; /* expunged since the command */
		if (rc == STORE_OK && m.size > (int64_t)IMAP_LEARN_MAX_BYTES) {
			it->state = ITEM_LARGE;
			continue;
		}
		if (rc == STORE_OK)
			rc = st->ops->message_read(st, m.id, &it->bytes);
		it->state = rc == STORE_OK ? ITEM_READ : rc == STORE_NOT_FOUND ? ITEM_GONE
									 : ITEM_UNREADABLE;
		if (rc != STORE_OK)
			buf_free(&it->bytes);
	}
}

static void learn_free(struct learn_job *l)
{
	for (size_t i = 0; i < l->n; i++)
		buf_free(&l->items[i].bytes);
	free(l->rcpt);
	free(l);
}

/* Loop thread: the bytes go to rspamd (copied by the client), then are freed at once. */
static void learn_done(struct store_job *job)
{
	struct learn_job *l = (struct learn_job *)job;
	struct imap_server *srv = job->ctx;
	srv->learns_reading -= l->n;
	if (l->on_reader)
		imap_reader_unload(srv, l->reader);
	if (!srv->rspamd) { /* the server stops: the client is gone */
		learn_free(l);
		return;
	}
	size_t gone = 0, large = 0, unreadable = 0;
	for (size_t i = 0; i < l->n; i++) {
		struct learn_item *it = &l->items[i];
		switch (it->state) {
		case ITEM_READ: {
			char what[48];
			snprintf(what, sizeof what, "%lld/%u", (long long)l->mailbox_id, it->uid);
			rspamd_learn(srv->rspamd, l->spam, it->bytes.data ? it->bytes.data : "",
				     it->bytes.len, l->rcpt, what);
			buf_free(&it->bytes);
			break;
		}
		case ITEM_GONE:
			gone++;
			break;
		case ITEM_LARGE:
			large++;
			break;
		case ITEM_UNREADABLE:
			unreadable++;
			break;
		}
	}
	if (gone || large || unreadable)
		log_info("event=imap-learn-skipped conn=%lu as=%s mailbox=%lld gone=%zu too_large=%zu "
			 "unreadable=%zu max_bytes=%u", l->conn, l->spam ? "spam" : "ham",
			 (long long)l->mailbox_id, gone, large, unreadable, IMAP_LEARN_MAX_BYTES);
	learn_free(l);
}

static bool in_sorted(const int64_t *v, size_t n, int64_t x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo] == x;
}

void imap_learn(struct imap_session *s, enum imap_learn what, int64_t mailbox_id,
		const int64_t *uids, size_t n, const int64_t *except, size_t nexcept)
{
	struct imap_server *srv = s->srv;
	if (!srv->rspamd || what == IMAP_LEARN_NONE)
		return;
	size_t messages = 0;
	for (size_t i = 0; i < n; i++)
		if (uids[i] > 0 && uids[i] <= UINT32_MAX && !in_sorted(except, nexcept, uids[i]))
			messages++;
	if (!messages)
		return;
	/* The same budget as the client's own cap, shared by every session: what is being
	 * read counts, so a burst of commands cannot queue more than rspamd is sent at once. */
	size_t busy = srv->learns_reading + rspamd_learns_inflight(srv->rspamd);
	size_t room = busy < RSPAMD_LEARN_MAX_INFLIGHT ? RSPAMD_LEARN_MAX_INFLIGHT - busy : 0;
	size_t take = messages < IMAP_LEARN_PER_COMMAND ? messages : IMAP_LEARN_PER_COMMAND;
	const char *why = take < messages ? " why=per-command-limit" : "";
	if (take > room) {
		take = room;
		why = " why=busy";
	}
	log_info("event=imap-learn conn=%lu user=%s as=%s messages=%zu learning=%zu skipped=%zu%s",
		 s->id, log_str(s->user), what == IMAP_LEARN_SPAM ? "spam" : "ham", messages, take,
		 messages - take, why);
	if (!take)
		return;
	struct learn_job *l = xcalloc(1, sizeof *l + take * sizeof l->items[0]);
	l->job.run = learn_run;
	l->job.done = learn_done;
	l->job.ctx = srv;
	l->job.what = "IMAP learn read";
	l->spam = what == IMAP_LEARN_SPAM;
	l->conn = s->id;
	if (s->user && *s->user) {
		l->rcpt = xstrdup(s->user);
		for (char *c = l->rcpt; *c; c++)
			*c = (char)tolower((unsigned char)*c); /* addresses are stored in lower case */
	}
	l->mailbox_id = mailbox_id;
	for (size_t i = 0; i < n && l->n < take; i++)
		if (uids[i] > 0 && uids[i] <= UINT32_MAX && !in_sorted(except, nexcept, uids[i]))
			l->items[l->n++] = (struct learn_item){ .uid = (uint32_t)uids[i],
								 .bytes = BUF_INIT };
	srv->learns_reading += l->n;
	if (!srv->nreaders) {
		/* No reader threads (a tool or test that starts none): on the loop, bounded. */
		learn_run(srv->store, &l->job);
		learn_done(&l->job);
		return;
	}
	l->reader = imap_reader_pick(srv);
	l->on_reader = true;
	committer_submit_job(srv->readers[l->reader], &l->job);
}
