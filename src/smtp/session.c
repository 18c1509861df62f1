/* One inbound SMTP session: the state machine over parsed commands (parse.c knows the
 * grammar, this file knows what is allowed when and what to answer). */
#include <ctype.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth/sasl.h"
#include "auth/scram.h"
#include "deliver/route.h"
#include "lib/clock.h"
#include "mime/mime.h"
#include "net/conn.h"
#include "net/connlimit.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/linereader.h"
#include "lib/log.h"
#include "lib/loopwatch.h"
#include "lib/spool.h"
#include "net/listen.h"
#include "net/tls.h"
#include "lib/cidr.h"
#include "smtp/headers.h"
#include "smtp/msgauth.h"
#include "spam/rspamd.h"
#include "spam/verdict.h"
#include "smtp/parse.h"
#include "smtp/server.h"
#include "store/dmarc_jobs.h"
#include "store/spam_jobs.h"

enum session_state {
	ST_COMMAND,    /* reading command lines */
	ST_DATA,       /* reading DATA content */
	ST_BDAT,       /* reading a BDAT chunk */
	ST_CHECKING,   /* message being checked (SPF, DKIM, DMARC); input paused */
	ST_COMMITTING, /* message handed to the committer; input paused */
	ST_AUTH_REPLY, /* AUTH: waiting for the client's next base64 line */
	ST_AUTH_CHECK, /* AUTH: password being checked; input paused */
	ST_CLOSING,    /* last reply queued; close once it is written */
};

struct recipient {
	char address[SMTP_LOCAL_MAX + SMTP_DOMAIN_MAX + 4];
	char domain[SMTP_DOMAIN_MAX];
	bool remote;                  /* another domain: goes to the outbound queue */
	struct route_targets targets; /* local accounts, and addresses aliases forward to */
};

struct smtp_session {
	struct smtp_server *srv;
	struct smtp_session *next, *prev;
	struct bufferevent *bev;
	struct event *deadline; /* session-timeout: the whole session must end by then */
	int fd;
	unsigned long id;
	char ip[64];
	enum session_state state;
	struct line_reader lines;
	bool tls;
	char tls_info[160];
	bool starttls_pending;
	bool output_blocked; /* replies are piling up unread: input paused until they drain */
	char helo[256];
	bool esmtp;
	enum smtp_mode mode;
	/* AUTH (submission) */
	bool authenticated;
	int64_t account_id;
	char auth_user[256];
	char auth_mech[8];       /* "PLAIN", "LOGIN" or "SCRAM" while a dialogue is open */
	struct scram_server *scram; /* SCRAM-SHA-256 exchange in progress */
	int scram_stage;
	char login_user[256];    /* AUTH LOGIN: the user name given first */
	size_t trace_len;        /* bytes of our trace headers at the start of message */
	struct msgauth *check;   /* ST_CHECKING: the check holding the finished message */
	struct rspamd_scan *scan; /* ST_CHECKING: the spam scan of scan_bytes */
	struct spool_bytes *scan_bytes;
	bool scan_junk;          /* the check already said Junk */
	/* The spam settings of the message's accounts (message_commit's order), and one with
	 * the server's defaults for forwarding to other domains, found at the end of DATA. */
	struct spam_recipient *spam_rcpts;
	size_t spam_n;
	/* transaction */
	bool have_mail;
	struct smtp_address sender;
	bool smtputf8;
	enum smtp_body body;
	int64_t declared_size; /* MAIL SIZE=, for the quota check at RCPT */
	struct recipient *rcpts;
	size_t nrcpts;
	bool used_bdat;
	/* message being received */
	struct spool message;     /* trace headers + content; spills to a file when large */
	struct smtp_data_reader data;
	unsigned long long bdat_left;
	bool bdat_last;
	bool bdat_failed;
	size_t messages;
	size_t errors;
};

static void session_process_input(struct smtp_session *s);
static void session_free(struct smtp_session *s);
static struct send_count *send_slot(struct smtp_session *s);

static struct config *cfg(struct smtp_session *s)
{
	return s->srv->cfg;
}

/* Queues "code status text" as one reply line. */
static void reply(struct smtp_session *s, int code, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void reply(struct smtp_session *s, int code, const char *status, const char *fmt, ...)
{
	struct buf line = BUF_INIT;
	/* The greeting and the HELO reply start with our name (RFC 5321 4.2), so no status. */
	if (status)
		buf_printf(&line, "%d %s ", code, status);
	else
		buf_printf(&line, "%d ", code);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	if (code >= 400)
		log_info("event=reply conn=%lu code=%d status=%s", s->id, code, status ? status : "-");
	buf_append(&line, "\r\n", 2);
	bufferevent_write(s->bev, line.data, line.len);
	buf_free(&line);
}

/* Closes after the queued replies are written. */
static void session_close_after_reply(struct smtp_session *s)
{
	s->state = ST_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	/* A client that does not read its last reply must not hold the connection for long. */
	struct timeval linger = { 5, 0 };
	bufferevent_set_timeouts(s->bev, NULL, &linger);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		session_free(s);
}

/* Counts an error reply; too many and the client is sent away. True when closed. */
static bool count_error(struct smtp_session *s)
{
	if (++s->errors < (size_t)cfg(s)->max_errors)
		return false;
	reply(s, 421, "4.7.0", "Too many errors in this session (%zu); closing the connection.",
	      s->errors);
	session_close_after_reply(s);
	return true;
}

static void transaction_reset(struct smtp_session *s)
{
	s->have_mail = false;
	s->smtputf8 = false;
	s->body = SMTP_BODY_NONE;
	for (size_t i = 0; i < s->nrcpts; i++)
		route_targets_free(&s->rcpts[i].targets);
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpts = 0;
	s->used_bdat = false;
	s->bdat_failed = false;
	spool_reset(&s->message);
	free(s->spam_rcpts);
	s->spam_rcpts = NULL;
	s->spam_n = 0;
}

static void commit_done(void *ctx, bool ok, const char *reason)
{
	struct smtp_session *s = ctx;
	if (ok) {
		s->messages++;
		if (s->authenticated)
			send_slot(s)->count++;
		reply(s, 250, "2.0.0", "Message accepted and stored for %zu recipient%s.", s->nrcpts,
		      s->nrcpts == 1 ? "" : "s");
	} else {
		log_error("event=store-failed conn=%lu reason=%s", s->id, log_qstr(reason));
		reply(s, 451, "4.3.0", "The message could not be stored just now; please try again later.");
	}
	transaction_reset(s);
	if (s->srv->draining) {
		reply(s, 421, "4.3.2", "Server shutting down; closing the connection.");
		session_close_after_reply(s);
		return;
	}
	s->state = ST_COMMAND;
	bufferevent_enable(s->bev, EV_READ);
	session_process_input(s);
}

/* Writes Return-Path and Received, the trace headers every stored message starts with. */
static void trace_headers(struct smtp_session *s, struct buf *out)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_printf(out, "Return-Path: <%s>\r\n", s->sender.null ? "" : s->sender.text);
	/* RFC 3848 / 6531 protocol names; "A" when the client logged in. */
	static const char *names[2][2][2] = {
		{ { "ESMTP", "ESMTPA" }, { "ESMTPS", "ESMTPSA" } },
		{ { "UTF8SMTP", "UTF8SMTPA" }, { "UTF8SMTPS", "UTF8SMTPSA" } },
	};
	const char *proto = !s->esmtp && !s->smtputf8 ? "SMTP"
			  : names[s->smtputf8][s->tls][s->authenticated];
	buf_printf(out, "Received: from %s ([%s])\r\n\tby %s (yubin) with %s", s->helo, s->ip,
		   cfg(s)->hostname, proto);
	if (s->tls)
		buf_printf(out, "\r\n\t(using %s)", s->tls_info);
	if (s->nrcpts == 1)
		buf_printf(out, "\r\n\tfor <%s>", s->rcpts[0].address);
	buf_printf(out, ";\r\n\t%s\r\n", date);
}

/* Submission (RFC 6409 8): a message from a mail app gets the Message-ID and Date it lacks. */
static bool complete_headers(struct smtp_session *s, struct spool_bytes *b)
{
	const char *msg = b->data + s->trace_len;
	size_t len = b->len - s->trace_len;
	size_t hdr = mime_header_block_size(msg, len);
	struct mime_field f;
	struct buf add = BUF_INIT;
	if (!mime_header_find(msg, hdr, "Message-ID", &f)) {
		unsigned char r[12];
		RAND_bytes(r, sizeof r);
		buf_append_str(&add, "Message-ID: <");
		for (size_t i = 0; i < sizeof r; i++)
			buf_printf(&add, "%02x", r[i]);
		buf_printf(&add, "@%s>\r\n", cfg(s)->hostname);
	}
	if (!mime_header_find(msg, hdr, "Date", &f)) {
		char date[64];
		time_t now = (time_t)clock_now();
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
		buf_printf(&add, "Date: %s\r\n", date);
	}
	/* Insert after our trace headers, before the message's own (a spilled message has
	 * room for them before its first byte: nothing is copied). */
	bool ok = spool_bytes_insert(b, s->trace_len, add.data, add.len);
	buf_free(&add);
	return ok;
}

/* RFC 5321 6.3: counting Received headers (ours included) is how a loop between forwarding
 * servers is stopped. The header block is bounded by max-header-size. */
static bool hops_exceeded(struct smtp_session *s, const struct spool_bytes *b)
{
	size_t hdr = mime_header_block_size(b->data, b->len);
	struct mime_header_iter it;
	struct mime_field f;
	long hops = 0;
	mime_header_iter_init(&it, b->data, hdr, 0);
	while (mime_header_next(&it, &f))
		if (f.name_len == 8 && strncasecmp(f.name, "Received", 8) == 0 &&
		    ++hops > cfg(s)->max_hops)
			return true;
	return false;
}

/* The account that should find a copy of this message in its Sent mailbox (0: none): a
 * logged-in sender, when the account or else the server setting says so. */
static int64_t sent_copy_account(struct smtp_session *s)
{
	if (s->mode == SMTP_MODE_MX || !s->authenticated)
		return 0;
	struct account a;
	if (!s->srv->store->ops->account_get(s->srv->store, s->auth_user, &a))
		return 0;
	bool on = a.save_sent >= 0 ? a.save_sent == 1 : strcmp(cfg(s)->save_sent, "on") == 0;
	account_free(&a);
	return on ? s->account_id : 0;
}

/* A local recipient is dmarc-reports@ (store/dmarc_jobs.h): the report is read once stored. */
static bool for_dmarc_reports(struct smtp_session *s)
{
	for (size_t i = 0; i < s->nrcpts; i++)
		if (!s->rcpts[i].remote && dmarc_report_address(cfg(s), s->rcpts[i].address))
			return true;
	return false;
}

/* The distinct accounts the message goes to, in the order they are stored (ids: room for
 * every target of every recipient). */
static size_t distinct_accounts(struct smtp_session *s, int64_t *ids)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nrcpts; i++)
		for (size_t k = 0; k < s->rcpts[i].targets.n; k++) {
			int64_t id = s->rcpts[i].targets.ids[k];
			bool dup = false;
			for (size_t j = 0; j < n; j++)
				dup |= ids[j] == id;
			if (!dup)
				ids[n++] = id;
		}
	return n;
}

static size_t target_count(struct smtp_session *s)
{
	size_t naccounts = 0;
	for (size_t i = 0; i < s->nrcpts; i++)
		naccounts += s->rcpts[i].targets.n;
	return naccounts;
}

/* Does the message also go to other domains (a logged-in user's recipients, or aliases that
 * forward)? */
static bool goes_elsewhere(struct smtp_session *s)
{
	for (size_t i = 0; i < s->nrcpts; i++)
		if (s->rcpts[i].remote || s->rcpts[i].targets.nremote)
			return true;
	return false;
}

/* Hands a finished message to the committer (b and account_junk, one per distinct account
 * or NULL, are taken over). */
static void message_commit(struct smtp_session *s, struct spool_bytes *b, bool junk,
			   bool *account_junk)
{
	/* Other domains (recipients of a logged-in user, and where forwarding aliases
	 * lead): one queue entry per domain with its recipients. */
	struct commit_remote *remote = NULL;
	size_t nremote = 0;
	for (size_t i = 0; i < s->nrcpts; i++) {
		if (s->rcpts[i].remote)
			route_queue_add(&remote, &nremote, s->rcpts[i].address);
		for (size_t k = 0; k < s->rcpts[i].targets.nremote; k++)
			route_queue_add(&remote, &nremote, s->rcpts[i].targets.remote[k]);
	}
	int64_t *ids = xcalloc(target_count(s), sizeof *ids);
	size_t n = distinct_accounts(s, ids);
	log_info("event=message conn=%lu from=%s recipients=%zu accounts=%zu queued=%zu "
		 "size=%zu spilled=%s", s->id, log_str(s->sender.null ? "<>" : s->sender.text),
		 s->nrcpts, n, nremote, b->len, b->map ? "yes" : "no");
	struct commit_request req = {
		.internaldate = (int64_t)time(NULL),
		.account_ids = ids,
		.naccounts = n,
		.remote = remote,
		.nremote = nremote,
		.sender = xstrdup(s->sender.null ? "" : s->sender.text),
		.smtputf8 = s->smtputf8,
		.sent_account_id = sent_copy_account(s),
		.dmarc_report = !junk && for_dmarc_reports(s), /* a forged report stays unread */
		.done = commit_done,
		.ctx = s,
	};
	req.data = (char *)b->data;
	req.len = b->len;
	req.spool = b;
	req.junk = junk;
	req.account_junk = account_junk;
	s->state = ST_COMMITTING;
	bufferevent_disable(s->bev, EV_READ);
	committer_submit(s->srv->committer, &req);
}

/* ---- the spam scan (rspamd) ---------------------------------------------------------------- */

/* Mail from outside goes through the spam settings (lists, and the scan when rspamd-url is
 * set); mail from logged-in users does not. */
static bool spam_applies(struct smtp_session *s)
{
	return s->mode == SMTP_MODE_MX && !s->authenticated;
}

/* X-Spam-* fields the message came with, and those rspamd asks to remove: a sender must not
 * mark its own mail clean. */
static bool spam_field(const struct mime_field *f, void *arg)
{
	const struct rspamd_result *r = arg;
	if (f->name_len >= 7 && strncasecmp(f->name, "X-Spam-", 7) == 0)
		return true;
	for (size_t i = 0; r && i < r->nremove_headers; i++)
		if (strlen(r->remove_headers[i]) == f->name_len &&
		    strncasecmp(f->name, r->remove_headers[i], f->name_len) == 0)
			return true;
	return false;
}

/* "550 5.7.1 text" as the verdict wrote it, to reply(). */
static void reply_line(struct smtp_session *s, const char *line)
{
	int code = atoi(line);
	const char *p = strchr(line, ' ');
	char status[16] = "";
	if (p) {
		p++;
		size_t n = strcspn(p, " ");
		if (n < sizeof status && isdigit((unsigned char)p[0])) {
			memcpy(status, p, n);
			status[n] = '\0';
			p += n + (p[n] == ' ');
		}
	}
	if (code < 400 || code > 599)
		code = 451;
	reply(s, code, status[0] ? status : NULL, "%s", p ? p : "");
}

/* Back to reading commands after the message was answered without being stored. */
static void message_refused(struct smtp_session *s, struct spool_bytes *b)
{
	spool_bytes_free(&b);
	transaction_reset(s);
	s->state = ST_COMMAND;
	bufferevent_enable(s->bev, EV_READ);
	session_process_input(s);
}

/* The end of the spam filter's part: what the scan (v and r; v NULL when the message was not
 * scanned) means for each account, what that adds up to, then the reply or the commit. */
static void spam_apply(struct smtp_session *s, struct spool_bytes *b, struct spam_verdict *v,
		       const struct rspamd_result *r)
{
	size_t n = s->spam_n;
	enum spam_disposition *d = xcalloc(n ? n : 1, sizeof *d);
	for (size_t i = 0; i < n; i++)
		d[i] = spam_verdict_for(v, r, &s->spam_rcpts[i]);
	enum spam_disposition all = spam_combine(d, n);
	size_t junked = 0;
	for (size_t i = 0; i < n; i++)
		junked += d[i] == SPAM_JUNK;
	const char *outcome;
	if (all == SPAM_REJECT)
		outcome = r && r->virus ? "virus" : v && v->disposition == SPAM_REJECT ? "rejected"
										    : "blocked";
	else if (all == SPAM_TEMPFAIL)
		outcome = !r ? "unscanned" : "tempfail";
	else
		outcome = !v ? "off" : !r ? "unscanned" : junked ? "junk" : "clean";
	log_info("event=spam-verdict conn=%lu outcome=%s accounts=%zu junk=%zu", s->id, outcome,
		 n, junked);
	if (s->srv->rspamd || all == SPAM_REJECT)
		spam_count_outcome(s->srv->committer, outcome);
	if (all == SPAM_REJECT || all == SPAM_TEMPFAIL) {
		reply_line(s, v && v->disposition == all ? v->reply : SPAM_BLOCKED_REPLY);
		free(d);
		message_refused(s, b);
		return;
	}
	/* A sender's own X-Spam-* fields go whenever a filter is configured, scanned or not. */
	if (v || s->srv->rspamd)
		header_remove_fields(b, 0, spam_field, (void *)r);
	if (v && v->headers.len) {
		const char *eol = memchr(b->data, '\n', b->len);
		size_t at = eol ? (size_t)(eol - b->data) + 1 : 0; /* after Return-Path */
		if (!spool_bytes_insert(b, at, v->headers.data, v->headers.len))
			log_warn("event=spam-headers-not-added conn=%lu reason=\"no room before a "
				 "spilled message\"", s->id);
	}
	/* the accounts come first in spam_rcpts, in message_commit's order */
	bool *account_junk = NULL;
	if (junked) {
		account_junk = xcalloc(n, sizeof *account_junk);
		for (size_t i = 0; i < n; i++)
			account_junk[i] = d[i] == SPAM_JUNK;
	}
	free(d);
	message_commit(s, b, s->scan_junk, account_junk);
}

static void scan_done(void *ctx, struct rspamd_result *result, const char *error)
{
	struct smtp_session *s = ctx;
	s->scan = NULL;
	struct spool_bytes *b = s->scan_bytes;
	s->scan_bytes = NULL;
	struct spam_verdict v;
	const struct config *c = cfg(s);
	struct spam_options o = {
		.reject_to_junk = strcmp(c->spam_reject_action, "junk") == 0,
		.add_header_to_inbox = strcmp(c->spam_add_header_action, "inbox") == 0,
		.greylist_to_inbox = strcmp(c->spam_greylist_action, "inbox") == 0,
		.tempfail_when_unavailable = strcmp(c->spam_unavailable, "tempfail") == 0,
	};
	spam_verdict_make(&v, result, error, &o);
	log_info("event=spam-scan conn=%lu ip=%s what=%s score=%.2f%s%s", s->id, s->ip, v.what,
		 result ? result->score : 0.0, error ? " error=" : "", error ? log_qstr(error) : "");
	spam_apply(s, b, &v, result);
	spam_verdict_free(&v);
}

/* Context of from_first: the From field's first address, and how many there are. */
struct from_address {
	char address[SMTP_LOCAL_MAX + SMTP_DOMAIN_MAX + 4];
	size_t n;
};

static void from_first(void *ctx, const char *local, size_t local_len, const char *domain,
		       size_t domain_len)
{
	struct from_address *f = ctx;
	if (f->n++ == 0 && local_len && domain_len &&
	    local_len + domain_len + 2 <= sizeof f->address)
		snprintf(f->address, sizeof f->address, "%.*s@%.*s", (int)local_len, local,
			 (int)domain_len, domain);
}

/* The spam settings of every account the message goes to: one indexed read each, on the
 * loop's own connection like routing. Lists match the envelope sender and the From field's
 * address (only when it names exactly one: several could smuggle an allowed one in). True
 * when the message should be scanned: some account wants it, and not every one refuses the
 * sender anyway. */
static bool spam_recipients(struct smtp_session *s, const struct spool_bytes *b)
{
	struct from_address from = { .n = 0 };
	size_t hdr = mime_header_block_size(b->data, b->len);
	struct mime_field f;
	if (mime_header_find(b->data, hdr, "From", &f))
		mime_address_list_each(f.value, f.value_len, from_first, &from);
	if (from.n != 1)
		from.address[0] = '\0';
	int64_t *ids = xcalloc(target_count(s) + 1, sizeof *ids);
	size_t n = distinct_accounts(s, ids);
	bool elsewhere = goes_elsewhere(s);
	s->spam_n = n + elsewhere;
	s->spam_rcpts = xcalloc(s->spam_n ? s->spam_n : 1, sizeof *s->spam_rcpts);
	bool scan = false, blocked_all = s->spam_n > 0;
	struct store *st = s->srv->store;
	for (size_t i = 0; i < s->spam_n; i++) {
		struct spam_recipient *p = &s->spam_rcpts[i];
		struct spam_settings set = { .scan = -1, .threshold = -1 };
		if (i < n && st->ops->spam_settings(st, ids[i], s->sender.null ? "" : s->sender.text,
						    from.address, &set) == STORE_ERROR)
			log_warn("event=spam-settings-unread conn=%lu account_id=%lld", s->id,
				 (long long)ids[i]);
		p->scan = set.scan != 0;
		p->threshold = set.threshold;
		p->sender = set.list == SPAM_LIST_ALLOW ? SPAM_SENDER_ALLOWED
			  : set.list == SPAM_LIST_BLOCK ? SPAM_SENDER_BLOCKED : SPAM_SENDER_ANY;
		scan |= p->scan;
		blocked_all &= p->sender == SPAM_SENDER_BLOCKED;
	}
	free(ids);
	return scan && !blocked_all;
}

static void scan_or_commit(struct smtp_session *s, struct spool_bytes *b, bool junk)
{
	if (!spam_applies(s)) {
		message_commit(s, b, junk, NULL);
		return;
	}
	s->scan_junk = junk;
	if (!spam_recipients(s, b) || !s->srv->rspamd) {
		spam_apply(s, b, NULL, NULL);
		return;
	}
	char **rcpts = xcalloc(s->nrcpts, sizeof *rcpts);
	for (size_t i = 0; i < s->nrcpts; i++)
		rcpts[i] = s->rcpts[i].address;
	char queue_id[32];
	snprintf(queue_id, sizeof queue_id, "%lu.%zu", s->id, s->messages + 1);
	struct rspamd_envelope env = {
		.ip = s->ip,
		.helo = s->helo,
		.mail_from = s->sender.null ? "" : s->sender.text,
		.rcpts = (const char *const *)rcpts,
		.nrcpts = s->nrcpts,
		.hostname = cfg(s)->hostname,
		.queue_id = queue_id,
	};
	s->state = ST_CHECKING;
	bufferevent_disable(s->bev, EV_READ);
	s->scan_bytes = b;
	s->scan = rspamd_scan_start(s->srv->rspamd, &env, b->data, b->len, scan_done, s);
	free(rcpts);
}

/* Drops a check or scan in flight (the session goes, or answers otherwise). */
static void check_cancel(struct smtp_session *s)
{
	msgauth_cancel(s->check);
	s->check = NULL;
	if (s->scan)
		rspamd_scan_cancel(s->scan);
	s->scan = NULL;
	spool_bytes_free(&s->scan_bytes);
}

/* Mail from outside is checked (SPF, DKIM, DMARC) before it is stored; mail from logged-in
 * users and from trusted-networks is not. */
static bool needs_check(struct smtp_session *s)
{
	return s->mode == SMTP_MODE_MX && !s->authenticated && s->srv->dns &&
	       !cidr_list_match(cfg(s)->trusted_networks, s->ip);
}

static void check_done(void *ctx, struct msgauth_verdict *v)
{
	struct smtp_session *s = ctx;
	s->check = NULL;
	struct spool_bytes *b = v->bytes;
	static const char *const actions[] = { "deliver", "junk", "reject", "tempfail" };
	log_info("event=mailauth conn=%lu ip=%s from=%s from_domain=%s spf=%s dkim=%s dmarc=%s "
		 "action=%s", s->id, s->ip, log_str(s->sender.null ? "<>" : s->sender.text),
		 log_str(v->from_domain), v->spf, v->dkim, v->dmarc, actions[v->action]);
	/* Counted for the reports we send (when dmarc-reports is on); not a message the sender
	 * will send again. */
	if (v->observed && v->action != MSGAUTH_TEMPFAIL)
		dmarc_observe(s->srv->committer, cfg(s), &v->obs);
	if (v->action == MSGAUTH_REJECT || v->action == MSGAUTH_TEMPFAIL) {
		if (v->action == MSGAUTH_REJECT)
			reply(s, 550, "5.7.1", "%s", v->sentence);
		else
			reply(s, 451, "4.4.3", "%s", v->sentence);
		spool_bytes_free(&b);
		transaction_reset(s);
		s->state = ST_COMMAND;
		bufferevent_enable(s->bev, EV_READ);
		session_process_input(s);
		return;
	}
	/* The verdict goes at the top, after Return-Path: the newest trace field first. */
	const char *eol = memchr(b->data, '\n', s->trace_len);
	size_t at = eol ? (size_t)(eol - b->data) + 1 : 0;
	if (!spool_bytes_insert(b, at, v->header.data, v->header.len))
		log_warn("event=authres-not-added conn=%lu reason=\"no room before a spilled "
			 "message\"", s->id);
	scan_or_commit(s, b, v->action == MSGAUTH_JUNK);
}

static void check_start(struct smtp_session *s, struct spool_bytes *b)
{
	struct msgauth_params p = {
		.ip = s->ip,
		.helo = s->helo,
		.mailfrom = s->sender.null ? "" : s->sender.text,
		.authserv_id = cfg(s)->hostname,
		.timeout_ms = (int)cfg(s)->mailauth_timeout * 1000,
		.tempfail_on_dns = strcmp(cfg(s)->dns_temperror, "tempfail") == 0,
		.dmarc_reject = strcmp(cfg(s)->dmarc_reject, "reject") == 0,
		.spf_fail_junk = strcmp(cfg(s)->spf_fail, "junk") == 0,
		.bytes = b,
		.offset = s->trace_len,
	};
	s->state = ST_CHECKING;
	bufferevent_disable(s->bev, EV_READ);
	s->check = msgauth_start(s->srv->base, s->srv->dns, s->srv->mailauth_worker, &p,
				 check_done, s);
}
static void message_finish(struct smtp_session *s)
{
	struct smtp_data_reader *d = &s->data;
	struct spool_bytes *b = NULL;
	struct buf err = BUF_INIT;
	if (!d->too_big && !d->header_too_big && !d->line_too_long && s->nrcpts > 0) {
		b = spool_finish(&s->message, &err);
		if (!b) {
			log_error("event=spool-failed conn=%lu error=%s", s->id, log_qstr(err.data));
			reply(s, 451, "4.3.0", "The message could not be kept for storing (a problem on "
			      "this server); try again later.");
			buf_free(&err);
			transaction_reset(s);
			s->state = ST_COMMAND;
			return;
		}
	}
	buf_free(&err);
	if (d->too_big) {
		reply(s, 552, "5.3.4", "The message is %zu bytes, more than the limit of %ld bytes; "
		      "send it smaller or share the file by a link.", d->size, cfg(s)->max_message_size);
	} else if (d->header_too_big) {
		reply(s, 552, "5.3.4", "The message header is larger than %ld bytes.",
		      cfg(s)->max_header_size);
	} else if (d->line_too_long) {
		reply(s, 500, "5.5.2", "A line of the message is longer than %ld bytes; the sending "
		      "program must wrap long lines.", cfg(s)->max_text_line);
	} else if (s->nrcpts == 0) {
		reply(s, 554, "5.5.1", "No valid recipients; the message was not accepted.");
	} else if (hops_exceeded(s, b)) {
		log_warn("event=mail-loop conn=%lu from=%s", s->id,
			 log_str(s->sender.null ? "<>" : s->sender.text));
		reply(s, 554, "5.4.6", "Mail loop: the message has passed through more than %ld mail "
		      "servers (Received headers); check the forwarding (aliases) of its recipients "
		      "here and at the next server.", cfg(s)->max_hops);
	} else {
		if (s->mode != SMTP_MODE_MX && !complete_headers(s, b)) {
			reply(s, 451, "4.3.0", "The message could not be prepared for storing; try "
			      "again later.");
			spool_bytes_free(&b);
			transaction_reset(s);
			s->state = ST_COMMAND;
			return;
		}
		if (needs_check(s)) {
			check_start(s, b);
			return;
		}
		scan_or_commit(s, b, false);
		return;
	}
	spool_bytes_free(&b);
	transaction_reset(s);
	s->state = ST_COMMAND;
}

static void message_start(struct smtp_session *s)
{
	spool_reset(&s->message);
	s->message.threshold = (size_t)cfg(s)->spill_threshold;
	trace_headers(s, spool_buf(&s->message));
	s->trace_len = spool_length(&s->message);
	smtp_data_reader_init(&s->data, (size_t)cfg(s)->max_message_size,
			      (size_t)cfg(s)->max_text_line, (size_t)cfg(s)->max_header_size);
}

/* Passwords only over TLS, except from this machine when the setting allows it. */
static bool auth_allowed(struct smtp_session *s)
{
	const char *mode = cfg(s)->plaintext_auth;
	if (s->tls || strcmp(mode, "always") == 0)
		return true;
	return strcmp(mode, "loopback") == 0 && net_ip_is_loopback(s->ip);
}

static void cmd_ehlo(struct smtp_session *s, const struct smtp_command *c)
{
	transaction_reset(s);
	snprintf(s->helo, sizeof s->helo, "%.*s", (int)(c->arg_len < 200 ? c->arg_len : 200),
		 c->arg);
	for (char *p = s->helo; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == '(' || *p == ')' || (unsigned char)*p > 0x7e)
			*p = '?';
	if (c->verb == SMTP_HELO) {
		s->esmtp = false;
		reply(s, 250, NULL, "%s", cfg(s)->hostname);
		return;
	}
	s->esmtp = true;
	struct buf r = BUF_INIT;
	buf_printf(&r, "250-%s greets %s\r\n", cfg(s)->hostname, s->helo);
	buf_append_str(&r, "250-PIPELINING\r\n");
	buf_printf(&r, "250-SIZE %ld\r\n", cfg(s)->max_message_size);
	buf_append_str(&r, "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n");
	if (s->srv->tls && !s->tls)
		buf_append_str(&r, "250-STARTTLS\r\n");
	if (s->mode != SMTP_MODE_MX && auth_allowed(s))
		buf_append_str(&r, "250-AUTH PLAIN LOGIN SCRAM-SHA-256\r\n");
	buf_append_str(&r, "250-SMTPUTF8\r\n250 CHUNKING\r\n");
	bufferevent_write(s->bev, r.data, r.len);
	buf_free(&r);
}

/* The per-user hourly budget (a compromised password must not send unlimited spam). */
static struct send_count *send_slot(struct smtp_session *s)
{
	struct smtp_server *srv = s->srv;
	int64_t hour = clock_now() / 3600;
	for (size_t i = 0; i < srv->nsends; i++)
		if (srv->sends[i].account_id == s->account_id) {
			if (srv->sends[i].hour != hour) {
				srv->sends[i].hour = hour;
				srv->sends[i].count = 0;
			}
			return &srv->sends[i];
		}
	/* Drop last hour's entries before growing. */
	size_t kept = 0;
	for (size_t i = 0; i < srv->nsends; i++)
		if (srv->sends[i].hour == hour)
			srv->sends[kept++] = srv->sends[i];
	srv->nsends = kept;
	srv->sends = xrealloc(srv->sends, (srv->nsends + 1) * sizeof *srv->sends);
	struct send_count *c = &srv->sends[srv->nsends++];
	c->account_id = s->account_id;
	c->hour = hour;
	c->count = 0;
	return c;
}

static bool send_allowed(struct smtp_session *s)
{
	return cfg(s)->max_user_hour == 0 || send_slot(s)->count < cfg(s)->max_user_hour;
}

static void cmd_mail(struct smtp_session *s, const struct smtp_command *c)
{
	if (!s->helo[0]) {
		reply(s, 503, "5.5.1", "Say EHLO (or HELO) first.");
		count_error(s);
		return;
	}
	if (s->have_mail) {
		reply(s, 503, "5.5.1", "A transaction is already open; send RSET to start over.");
		count_error(s);
		return;
	}
	if (s->mode != SMTP_MODE_MX && !s->authenticated) {
		reply(s, 530, "5.7.0", "Log in first: turn on \"authentication\" for the outgoing "
		      "server in the mail app (user name = your mail address).");
		count_error(s);
		return;
	}
	if ((size_t)spool_memory_total() > (size_t)cfg(s)->max_pending_memory) {
		/* Sessions already receiving go on; a new one waits until they are stored. */
		log_warn("event=pending-memory-full conn=%lu ip=%s held=%zu", s->id, s->ip,
			 spool_memory_total());
		reply(s, 452, "4.3.1", "The server is busy receiving other mail; try again in a few "
		      "minutes.");
		return;
	}
	if (s->mode != SMTP_MODE_MX && !send_allowed(s)) {
		reply(s, 451, "4.7.1", "You have sent %ld messages this hour, the most allowed; the "
		      "mail app will retry later, or ask the administrator to raise the limit.",
		      cfg(s)->max_user_hour);
		return;
	}
	if (s->mode != SMTP_MODE_MX && strcmp(cfg(s)->restrict_sender, "yes") == 0 &&
	    (c->addr.null || !route_sender_allowed(s->srv->store, c->addr.local, c->addr.domain,
						   s->account_id))) {
		reply(s, 550, "5.7.1", "You may send only as your own address <%s> or its aliases, "
		      "not as <%s>.", s->auth_user, c->addr.null ? "" : c->addr.text);
		count_error(s);
		return;
	}
	if (c->body == SMTP_BODY_BINARYMIME) {
		reply(s, 555, "5.5.4", "BODY=BINARYMIME is not supported here.");
		count_error(s);
		return;
	}
	if (c->addr.utf8 && !c->smtputf8) {
		reply(s, 553, "5.6.7", "The sender address has non-ASCII characters; add the SMTPUTF8 "
		      "parameter.");
		count_error(s);
		return;
	}
	if (c->size > cfg(s)->max_message_size) {
		reply(s, 552, "5.3.4", "The message (%lld bytes) is larger than the limit of %ld bytes.",
		      c->size, cfg(s)->max_message_size);
		count_error(s);
		return;
	}
	s->have_mail = true;
	s->sender = c->addr;
	s->smtputf8 = c->smtputf8;
	s->body = c->body;
	s->declared_size = c->size > 0 ? c->size : 0;
	reply(s, 250, "2.1.0", "Sender OK.");
}

static void cmd_rcpt(struct smtp_session *s, const struct smtp_command *c)
{
	if (!s->have_mail) {
		reply(s, 503, "5.5.1", "Say who the mail is from (MAIL FROM) first.");
		count_error(s);
		return;
	}
	if (c->addr.utf8 && !s->smtputf8) {
		reply(s, 553, "5.6.7", "The recipient address has non-ASCII characters; MAIL FROM "
		      "needs the SMTPUTF8 parameter.");
		count_error(s);
		return;
	}
	if (s->nrcpts >= (size_t)cfg(s)->max_recipients) {
		reply(s, 452, "4.5.3", "Too many recipients for one message (limit %ld); send the rest "
		      "in another message.", cfg(s)->max_recipients);
		return;
	}
	struct recipient r;
	memset(&r, 0, sizeof r);
	snprintf(r.address, sizeof r.address, "%s", c->addr.text);
	enum route_result res = route_recipient(s->srv->store, c->addr.local, c->addr.domain,
						s->srv->default_domain, s->declared_size, &r.targets);
	switch (res) {
	case ROUTE_NOT_LOCAL:
		if (s->authenticated && c->addr.domain[0] && c->addr.domain[0] != '[') {
			r.remote = true;
			snprintf(r.domain, sizeof r.domain, "%s", c->addr.domain);
			break;
		}
		reply(s, 554, "5.7.1", "Relay access denied: %s is not a domain of this server, and "
		      "only authenticated users may send to other domains.",
		      c->addr.domain[0] ? c->addr.domain : "(none)");
		count_error(s);
		return;
	case ROUTE_UNKNOWN_USER:
		route_targets_free(&r.targets);
		reply(s, 550, "5.1.1", "There is no mailbox <%s> here; check the spelling of the "
		      "address.", c->addr.text);
		count_error(s);
		return;
	case ROUTE_OVER_QUOTA:
		route_targets_free(&r.targets);
		reply(s, 552, "5.2.2", "The mailbox of <%s> is full; the recipient must delete some "
		      "mail before it can receive more.", c->addr.text);
		count_error(s);
		return;
	case ROUTE_LOCAL:
		break;
	}
	s->rcpts = xrealloc(s->rcpts, (s->nrcpts + 1) * sizeof *s->rcpts);
	s->rcpts[s->nrcpts++] = r;
	if (r.remote)
		reply(s, 250, "2.1.5", "Recipient OK; it will be delivered to %s.", r.domain);
	else
		reply(s, 250, "2.1.5", "Recipient OK.");
}

static bool transaction_ready(struct smtp_session *s)
{
	if (!s->have_mail) {
		reply(s, 503, "5.5.1", "Say who the mail is from (MAIL FROM) first.");
		return false;
	}
	if (s->nrcpts == 0) {
		reply(s, 503, "5.5.1", "No valid recipients yet (RCPT TO).");
		return false;
	}
	return true;
}

static void cmd_data(struct smtp_session *s)
{
	if (s->used_bdat) {
		reply(s, 503, "5.5.1", "DATA cannot follow BDAT in one message.");
		count_error(s);
		return;
	}
	if (!transaction_ready(s)) {
		count_error(s);
		return;
	}
	message_start(s);
	s->state = ST_DATA;
	reply(s, 354, "2.0.0", "Send the message; end it with a line holding only a dot.");
}

static void cmd_bdat(struct smtp_session *s, const struct smtp_command *c)
{
	/* The chunk's bytes follow whatever we answer, so they are always read, and every
	 * BDAT gets its one reply when its chunk is complete. */
	if (!s->used_bdat) {
		s->used_bdat = true;
		s->bdat_failed = !s->have_mail || s->nrcpts == 0;
		message_start(s);
	}
	s->bdat_left = c->chunk_size;
	s->bdat_last = c->last;
	s->state = ST_BDAT;
}

static void bdat_chunk_done(struct smtp_session *s)
{
	s->state = ST_COMMAND;
	if (s->bdat_failed) {
		reply(s, 503, "5.5.1", "BDAT needs MAIL FROM and at least one accepted RCPT TO first; "
		      "this chunk was discarded.");
		if (s->bdat_last)
			transaction_reset(s);
		count_error(s);
		return;
	}
	if (s->bdat_last) {
		message_finish(s);
		return;
	}
	if (s->data.too_big) {
		reply(s, 552, "5.3.4", "The message is larger than the limit of %ld bytes.",
		      cfg(s)->max_message_size);
		return;
	}
	reply(s, 250, "2.0.0", "%zu bytes received so far.", s->data.size);
}

static void cmd_starttls(struct smtp_session *s)
{
	if (s->tls || !s->srv->tls) {
		reply(s, 503, "5.5.1", s->tls ? "TLS is already active." : "TLS is not available.");
		count_error(s);
		return;
	}
	reply(s, 220, "2.0.0", "Ready to start TLS.");
	/* Nothing the client sent after STARTTLS may be read as plaintext (CVE-2011-0411). */
	s->starttls_pending = true;
	bufferevent_disable(s->bev, EV_READ);
}

static void set_timeouts(struct smtp_session *s);

/* The password this session logged in with was revoked or changed (login_watch). */
static bool auth_revoked(void *ctx)
{
	struct smtp_session *s = ctx;
	if (s->state == ST_COMMITTING)
		return false; /* its message is answered first */
	if (s->state != ST_CLOSING) {
		reply(s, 421, "4.7.0", LOGIN_REVOKED_TEXT);
		session_close_after_reply(s);
	}
	return true;
}

static void auth_done(void *ctx, const struct login_outcome *o)
{
	struct smtp_session *s = ctx;
	s->state = ST_COMMAND;
	bufferevent_enable(s->bev, EV_READ);
	if (o->result == LOGIN_OK && o->server_final) {
		/* SCRAM: the client checks our signature, then sends an empty line. */
		struct buf out = BUF_INIT;
		base64_encode(&out, o->server_final, strlen(o->server_final));
		s->scram_stage = 2;
		s->state = ST_AUTH_REPLY;
		s->account_id = o->account_id;
		login_watch(s->srv->login, o, auth_revoked, s);
		reply(s, 334, NULL, "%s", out.data);
		buf_free(&out);
	} else if (o->result == LOGIN_OK) {
		s->authenticated = true;
		s->account_id = o->account_id;
		set_timeouts(s); /* login-timeout no longer applies */

		login_watch(s->srv->login, o, auth_revoked, s);
		reply(s, 235, "2.7.0", "Logged in (%s).", o->device_label);
	} else if (o->result == LOGIN_ACCOUNT_PASSWORD_OFF) {
		reply(s, 535, "5.7.8", "The account password is turned off for mail apps on this "
		      "account; use this device's app password.");
		count_error(s);
	} else if (o->result == LOGIN_TEMPFAIL) {
		reply(s, 454, "4.7.0", "Too many failed logins from your address or for this account "
		      "just now; try again in a minute.");
	} else if (o->result == LOGIN_UNAVAILABLE) {
		reply(s, 454, "4.7.0", "The server cannot check passwords just now (a storage "
		      "problem); try again in a few minutes.");
	} else {
		s->auth_user[0] = '\0';
		reply(s, 535, "5.7.8", "Wrong user name or password. The user name is your full mail "
		      "address.");
		count_error(s);
	}
	if (o->result != LOGIN_OK)
		s->auth_user[0] = '\0';
	if (o->result != LOGIN_OK && s->scram) {
		free(s->scram);
		s->scram = NULL;
		s->scram_stage = 0;
		s->auth_mech[0] = '\0';
	}
	if (s->state != ST_CLOSING)
		session_process_input(s);
}

static void auth_check(struct smtp_session *s, const char *user, const char *password)
{
	snprintf(s->auth_user, sizeof s->auth_user, "%s", user);
	s->auth_mech[0] = '\0';
	s->state = ST_AUTH_CHECK;
	bufferevent_disable(s->bev, EV_READ);
	login_start(s->srv->login, user, password, s->ip, "smtp", s->tls, auth_done, s);
}

static void scram_end(struct smtp_session *s)
{
	if (s->scram)
		login_cancel(s->srv->login, s); /* the login service may hold s->scram */
	free(s->scram);
	s->scram = NULL;
	s->scram_stage = 0;
	s->auth_mech[0] = '\0';
}

/* SCRAM-SHA-256 (RFC 7677): the login service answers the first message and checks the
 * proof, with the same throttling and audit as every other mechanism. */
static void scram_step(struct smtp_session *s, const char *b64, size_t len)
{
	char text[1100];
	size_t n = 0;
	if (s->scram_stage < 2 &&
	    (!base64_decode(b64, len, (unsigned char *)text, sizeof text - 1, &n) ||
	     memchr(text, 0, n))) {
		scram_end(s);
		reply(s, 501, "5.5.2", "That is not valid base64.");
		count_error(s);
		return;
	}
	text[n] = '\0';
	if (s->scram_stage == 0) {
		s->scram = xcalloc(1, sizeof *s->scram);
		const char *why;
		if (!scram_client_first(s->scram, text, n, &why)) {
			scram_end(s);
			reply(s, 501, "5.5.2", "%s", why);
			count_error(s);
			return;
		}
		const char *server_first = login_scram_first(s->srv->login, s->scram);
		struct buf out = BUF_INIT;
		base64_encode(&out, server_first, strlen(server_first));
		s->scram_stage = 1;
		s->state = ST_AUTH_REPLY;
		reply(s, 334, NULL, "%s", out.data);
		buf_free(&out);
	} else if (s->scram_stage == 1) {
		snprintf(s->auth_user, sizeof s->auth_user, "%s", s->scram->user);
		s->state = ST_AUTH_CHECK;
		bufferevent_disable(s->bev, EV_READ);
		login_scram_final(s->srv->login, s->scram, text, n, s->ip, "smtp", s->tls, auth_done,
				  s);
	} else {
		/* The client has checked our signature and sends an empty line. */
		s->authenticated = true;
		set_timeouts(s); /* login-timeout no longer applies */
		free(s->scram);
		s->scram = NULL;
		s->scram_stage = 0;
		s->auth_mech[0] = '\0';
		reply(s, 235, "2.7.0", "Logged in (account password, SCRAM-SHA-256).");
	}
}

/* One base64 line of an AUTH dialogue (or its initial response). */
static void auth_step(struct smtp_session *s, const char *b64, size_t len)
{
	s->state = ST_COMMAND;
	if (len == 1 && b64[0] == '*') {
		scram_end(s);
		reply(s, 501, "5.0.0", "Authentication cancelled.");
		return;
	}
	if (strcmp(s->auth_mech, "SCRAM") == 0) {
		scram_step(s, b64, len);
		return;
	}
	if (strcmp(s->auth_mech, "PLAIN") == 0) {
		struct sasl_plain p;
		const char *why;
		if (!sasl_plain_decode(b64, len, &p, &why) ||
		    (p.authzid[0] && strcmp(p.authzid, p.authcid) != 0)) {
			s->auth_mech[0] = '\0';
			reply(s, 501, "5.5.2", "%s", p.authzid[0] ? "Logging in as another user is not "
			      "supported." : why);
			count_error(s);
			return;
		}
		auth_check(s, p.authcid, p.password);
		memset(&p, 0, sizeof p);
		return;
	}
	/* LOGIN: first the user name, then the password, each in base64. */
	unsigned char text[256];
	size_t n;
	if (!base64_decode(b64, len, text, sizeof text - 1, &n) || memchr(text, 0, n)) {
		s->auth_mech[0] = '\0';
		reply(s, 501, "5.5.2", "That is not valid base64.");
		count_error(s);
		return;
	}
	text[n] = '\0';
	if (!s->login_user[0]) {
		snprintf(s->login_user, sizeof s->login_user, "%s", (const char *)text);
		s->state = ST_AUTH_REPLY;
		reply(s, 334, NULL, "UGFzc3dvcmQ6"); /* "Password:" */
		return;
	}
	char user[256];
	snprintf(user, sizeof user, "%s", s->login_user);
	s->login_user[0] = '\0';
	auth_check(s, user, (const char *)text);
	memset(text, 0, sizeof text);
}

static void cmd_auth(struct smtp_session *s, const struct smtp_command *c)
{
	if (s->mode == SMTP_MODE_MX) {
		reply(s, 503, "5.5.1", "Logging in is for the submission ports (587 and 465), not "
		      "for this one.");
		count_error(s);
		return;
	}
	if (s->authenticated || s->have_mail) {
		reply(s, 503, "5.5.1", s->authenticated ? "Already logged in."
			: "AUTH is not allowed during a mail transaction.");
		count_error(s);
		return;
	}
	if (!auth_allowed(s)) {
		reply(s, 538, "5.7.11", "Passwords are only accepted over an encrypted connection: "
		      "turn on SSL/TLS or STARTTLS for the outgoing server in the mail app.");
		count_error(s);
		return;
	}
	size_t mlen = 0;
	while (mlen < c->arg_len && c->arg[mlen] != ' ')
		mlen++;
	bool plain = mlen == 5 && strncasecmp(c->arg, "PLAIN", 5) == 0;
	bool login = mlen == 5 && strncasecmp(c->arg, "LOGIN", 5) == 0;
	bool scram = mlen == 13 && strncasecmp(c->arg, "SCRAM-SHA-256", 13) == 0;
	if (!plain && !login && !scram) {
		reply(s, 504, "5.5.4", "Unsupported mechanism; use PLAIN, LOGIN or SCRAM-SHA-256.");
		count_error(s);
		return;
	}
	snprintf(s->auth_mech, sizeof s->auth_mech, "%s", plain ? "PLAIN" : login ? "LOGIN" : "SCRAM");
	s->login_user[0] = '\0';
	if (mlen < c->arg_len) {
		const char *ir = c->arg + mlen + 1;
		size_t irlen = c->arg_len - mlen - 1;
		/* RFC 4954: "=" is an empty initial response. */
		auth_step(s, ir, irlen == 1 && ir[0] == '=' ? 0 : irlen);
		return;
	}
	s->state = ST_AUTH_REPLY;
	reply(s, 334, NULL, "%s", login ? "VXNlcm5hbWU6" : ""); /* "Username:" */
}

static void session_run_command(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_command c;
	struct smtp_error err;
	if (!smtp_parse_command(line, len, &c, &err)) {
		reply(s, err.code, err.status, "%s", err.text);
		count_error(s);
		return;
	}
	switch (c.verb) {
	case SMTP_HELO:
	case SMTP_EHLO:
		cmd_ehlo(s, &c);
		break;
	case SMTP_MAIL:
		cmd_mail(s, &c);
		break;
	case SMTP_RCPT:
		cmd_rcpt(s, &c);
		break;
	case SMTP_DATA:
		cmd_data(s);
		break;
	case SMTP_BDAT:
		cmd_bdat(s, &c);
		break;
	case SMTP_RSET:
		transaction_reset(s);
		reply(s, 250, "2.0.0", "Reset.");
		break;
	case SMTP_NOOP:
		reply(s, 250, "2.0.0", "OK.");
		break;
	case SMTP_QUIT:
		reply(s, 221, "2.0.0", "Goodbye.");
		session_close_after_reply(s);
		break;
	case SMTP_HELP:
		reply(s, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY "
		      "STARTTLS. See RFC 5321.");
		break;
	case SMTP_VRFY:
		reply(s, 252, "2.5.0", "Cannot verify users, but will accept the message and try.");
		break;
	case SMTP_EXPN:
		reply(s, 502, "5.5.1", "EXPN is disabled.");
		count_error(s);
		break;
	case SMTP_STARTTLS:
		cmd_starttls(s);
		break;
	case SMTP_AUTH:
		cmd_auth(s, &c);
		break;
	case SMTP_UNKNOWN:
		break;
	}
}

/* Feeds the first contiguous chunk of input to the DATA reader. */
static void session_read_data(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
		return;
	size_t consumed = 0;
	enum smtp_data_status st = smtp_data_feed(&s->data, v.iov_base, v.iov_len, &consumed,
						  spool_buf(&s->message));
	spool_settle(&s->message); /* a failure is reported at the end (message_finish) */
	evbuffer_drain(in, consumed);
	if (st == SMTP_DATA_END) {
		message_finish(s);
	} else if (st == SMTP_DATA_BARE_EOL) {
		/* Where the message ends is now ambiguous: read nothing more (SMTP smuggling). */
		log_warn("event=bare-eol conn=%lu ip=%s", s->id, s->ip);
		reply(s, 521, "5.5.2", "Bare CR or LF in the message: lines must end with CRLF. "
		      "Closing the connection so no text can be mistaken for commands.");
		transaction_reset(s);
		session_close_after_reply(s);
	}
}

static void session_read_bdat(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	if (s->bdat_left > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		size_t n = v.iov_len < s->bdat_left ? v.iov_len : (size_t)s->bdat_left;
		if (!s->bdat_failed) {
			smtp_data_count_raw(&s->data, v.iov_base, n, spool_buf(&s->message));
			spool_settle(&s->message);
		}
		evbuffer_drain(in, n);
		s->bdat_left -= n;
	}
	if (s->bdat_left == 0)
		bdat_chunk_done(s);
}

static void session_process_input(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	while (evbuffer_get_length(in) > 0) {
		if (s->state == ST_DATA || s->state == ST_BDAT) {
			bool data = s->state == ST_DATA;
			uint64_t t0 = loopwatch_begin();
			if (data)
				session_read_data(s, in);
			else
				session_read_bdat(s, in);
			loopwatch_end(t0, "SMTP", data ? "DATA" : "BDAT", 4, s->id);
			continue;
		}
		if ((s->state != ST_COMMAND && s->state != ST_AUTH_REPLY) || s->starttls_pending)
			return;
		/* A client that pipelines without reading replies must not make us buffer them
		 * without bound: stop reading until it catches up (on_write resumes). */
		if (conn_output_full(s->bev)) {
			s->output_blocked = true;
			return;
		}
		char *line;
		size_t len;
		enum conn_line st = conn_read_line(in, &s->lines, &line, &len);
		if (st == CONN_LINE_NONE)
			return;
		if (st == CONN_LINE_TOO_LONG) {
			reply(s, 500, "5.5.2", "Command line too long (limit %ld bytes).",
			      cfg(s)->max_command_line);
			if (count_error(s))
				return;
			continue;
		}
		/* An AUTH response is a credential: the watchdog names it, never shows it. */
		bool auth = s->state == ST_AUTH_REPLY;
		uint64_t t0 = loopwatch_begin();
		if (auth)
			auth_step(s, line, len);
		else
			session_run_command(s, line, len);
		loopwatch_end(t0, "SMTP", auth ? "AUTH response" : line,
			      auth ? 13 : loopwatch_verb_len(line, len), s->id);
		memset(line, 0, len); /* it may have held a password */
		free(line);
		if (s->state == ST_CLOSING)
			return;
	}
	/* BDAT 0 LAST has no bytes to wait for. */
	if (s->state == ST_BDAT && s->bdat_left == 0)
		bdat_chunk_done(s);
}

static void on_read(struct bufferevent *bev, void *ctx)
{
	(void)bev;
	session_process_input(ctx);
}

static void on_event(struct bufferevent *bev, short what, void *ctx);
static void on_write(struct bufferevent *bev, void *ctx);

/* On submission, a client that has not logged in gets login-timeout when that is shorter. */
static long idle_timeout(struct smtp_session *s)
{
	if (s->mode != SMTP_MODE_MX && !s->authenticated &&
	    cfg(s)->login_timeout < cfg(s)->command_timeout)
		return cfg(s)->login_timeout;
	return cfg(s)->command_timeout;
}

static void set_timeouts(struct smtp_session *s)
{
	struct timeval tv = { idle_timeout(s), 0 };
	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

static void session_start_tls(struct smtp_session *s)
{
	s->starttls_pending = false;
	s->bev = conn_starttls(s->srv->base, s->bev, s->fd, s->srv->tls);
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	set_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	/* RFC 3207: forget everything learned before TLS. */
	transaction_reset(s);
	s->helo[0] = '\0';
	s->authenticated = false;
	s->auth_user[0] = '\0';
	s->tls = true;
}

static void on_write(struct bufferevent *bev, void *ctx)
{
	struct smtp_session *s = ctx;
	(void)bev;
	if (s->state == ST_CLOSING) {
		session_free(s);
		return;
	}
	if (s->starttls_pending) {
		session_start_tls(s);
		return;
	}
	if (s->output_blocked) {
		s->output_blocked = false;
		bufferevent_enable(s->bev, EV_READ);
		session_process_input(s);
	}
}

static void on_event(struct bufferevent *bev, short what, void *ctx)
{
	struct smtp_session *s = ctx;
	if (what & BEV_EVENT_CONNECTED) {
		if (s->tls) {
			struct buf d = BUF_INIT;
			tls_describe(bufferevent_openssl_get_ssl(bev), &d);
			snprintf(s->tls_info, sizeof s->tls_info, "%s", d.data);
			log_info("event=tls conn=%lu tls=%s", s->id, log_qstr(d.data));
			buf_free(&d);
		}
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && s->state != ST_CLOSING) {
		log_info("event=timeout conn=%lu ip=%s", s->id, s->ip);
		reply(s, 421, "4.4.2", "No command for %ld seconds; closing the connection.",
		      idle_timeout(s));
		session_close_after_reply(s);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = s->tls ? bufferevent_get_openssl_error(bev) : 0;
		if (e) {
			char text[200];
			ERR_error_string_n(e, text, sizeof text);
			log_info("event=tls-error conn=%lu ip=%s error=%s", s->id, s->ip, log_qstr(text));
		}
	}
	/* EOF or error: the peer is gone. A message being committed stays committed. */
	session_free(s);
}

static void on_deadline(evutil_socket_t fd, short what, void *ctx)
{
	struct smtp_session *s = ctx;
	if (s->state == ST_CLOSING)
		return;
	if (s->state == ST_COMMITTING) {
		/* Let the commit answer first; look again shortly. */
		struct timeval again = { 1, 0 };
		evtimer_add(s->deadline, &again);
		return;
	}
	check_cancel(s); /* not acknowledged: the sender tries again */
	log_info("event=session-timeout conn=%lu ip=%s", s->id, s->ip);
	reply(s, 421, "4.4.2", "This session lasted longer than %ld seconds; closing the connection.",
	      cfg(s)->session_timeout);
	transaction_reset(s);
	session_close_after_reply(s);
}

static void session_free(struct smtp_session *s)
{
	struct smtp_server *srv = s->srv;
	if (s->state == ST_COMMITTING)
		committer_cancel(srv->committer, s);
	check_cancel(s);
	login_cancel(srv->login, s); /* a check in flight, and the revocation watch */
	log_info("event=disconnect conn=%lu ip=%s messages=%zu errors=%zu", s->id, s->ip,
		 s->messages, s->errors);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	conn_limits_remove(srv->limits, s->ip, s->mode == SMTP_MODE_MX);
	event_free(s->deadline);
	conn_free(s->bev, NULL, s->tls);
	close(s->fd);
	transaction_reset(s);
	spool_free(&s->message);
	free(s->scram);
	free(s);
}

void smtp_server_accept(struct smtp_server *srv, int fd, const struct sockaddr *peer,
			enum smtp_mode mode)
{
	struct smtp_session *s = xcalloc(1, sizeof *s);
	s->srv = srv;
	s->fd = fd;
	s->mode = mode;
	s->id = ++srv->limits->last_id;
	net_addr_text(peer, s->ip, sizeof s->ip);
	line_reader_init(&s->lines, (size_t)srv->cfg->max_command_line);
	spool_init(&s->message, srv->spool_dir, (size_t)srv->cfg->spill_threshold);
	/* Port 465: TLS from the first byte (RFC 8314). */
	s->tls = mode == SMTP_MODE_SUBMISSIONS && srv->tls;
	s->bev = conn_open(srv->base, fd, s->tls ? srv->tls : NULL);
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	set_timeouts(s);
	s->deadline = evtimer_new(srv->base, on_deadline, s);
	struct timeval whole = { srv->cfg->session_timeout, 0 };
	evtimer_add(s->deadline, &whole);
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	size_t from_ip = conn_limits_add(srv->limits, s->ip, mode == SMTP_MODE_MX);
	log_info("event=connect conn=%lu ip=%s", s->id, s->ip);
	if (srv->draining) {
		reply(s, 421, "4.3.2", "Server shutting down; try again later.");
		session_close_after_reply(s);
		return;
	}
	if (conn_limits_over(srv->limits, mode == SMTP_MODE_MX, (size_t)srv->cfg->max_connections,
			     (size_t)srv->cfg->smtp_reserved_connections)) {
		reply(s, 421, "4.7.0", "Too many connections to this server (limit %ld); try again "
		      "later.", srv->cfg->max_connections);
		session_close_after_reply(s);
		return;
	}
	if (from_ip > (size_t)srv->cfg->max_connections_per_ip) {
		reply(s, 421, "4.7.0", "Too many connections from your address %s (limit %ld); try "
		      "again later.", s->ip, srv->cfg->max_connections_per_ip);
		session_close_after_reply(s);
		return;
	}
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	reply(s, 220, NULL, "%s ESMTP yubin ready", srv->cfg->hostname);
}

size_t smtp_server_drain(struct smtp_server *srv)
{
	srv->draining = true;
	struct smtp_session *next;
	for (struct smtp_session *s = srv->sessions; s; s = next) {
		next = s->next;
		/* A session waiting for its commit is answered first, then closed (commit_done).
		 * A message still being checked was not acknowledged: the sender tries again. */
		if (s->state == ST_CHECKING)
			check_cancel(s);
		if (s->state != ST_COMMITTING && s->state != ST_CLOSING) {
			reply(s, 421, "4.3.2", "Server shutting down; closing the connection.");
			session_close_after_reply(s);
		}
	}
	size_t open = 0;
	for (struct smtp_session *s = srv->sessions; s; s = s->next)
		open++;
	return open;
}

void smtp_server_close_all(struct smtp_server *srv)
{
	while (srv->sessions)
		session_free(srv->sessions);
}
