/* What the parts of the outbound agent share (not for use outside src/outbound; agent.h is
 * the interface). The agent follows Postfix's seams:
 *   agent.c     starting and stopping the agent; a delivery's life (struct attempt)
 *   schedule.c  the scheduler: due entries, rate limits, postponing, the passes' timers;
 *               its decisions are pure functions (schedule.h), unit-tested
 *   link.c      the connections: opening, keeping idle ones, reusing, closing (struct link)
 *   connect.c   the MX and address walk of one delivery (or the smarthost)
 *   proto.c     the SMTP client's state machine, from the greeting to the final dot
 *   result.c    what became of each recipient: queue updates and DSNs
 * Everything runs on the event loop thread. */
#ifndef YUBIN_AGENT_INTERNAL_H
#define YUBIN_AGENT_INTERNAL_H
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/linereader.h"
#include "net/dns.h"
#include "outbound/agent.h"
#include "outbound/ehlo.h"
#include "outbound/ratelimit.h"
#include "outbound/reply.h"
#include "store/committer.h"
#include "store/store.h"

#define REPLY_TIMEOUT 300 /* seconds for each of the server's replies */

struct postpone_job;
struct update_job;

struct outbound {
	struct event_base *base;
	struct config *const *cfg;
	struct store *store;
	struct committer *writer;
	struct dns_resolver *dns;
	SSL_CTX *tls;
	char *default_domain;
	struct event *timer;
	struct event *kick;        /* a scheduler pass soon: a connection has become free */
	struct event *soon;        /* a full pass in 10 ms: new entries were queued */
	struct attempt *active;
	size_t nactive;
	struct link *idle;         /* open connections without a delivery, newest first */
	size_t nidle;
	unsigned long links_opened;
	struct rate_limits *rates;
	/* Entries whose new state is still with the writer thread: until it has committed, the
	 * store still shows them due, and starting them again would send them twice. */
	int64_t *writing;
	size_t nwriting, writing_cap;
	struct postpone_job *postponing; /* held back by the rate limit during this pass */
	struct update_job *updating;     /* outcomes of attempts that ended since the last pass */
};

/* One SMTP connection to a receiving server. It outlives a delivery: after a transaction
 * that ended cleanly it waits (idle) for the next message to the same domain or address. */
struct link {
	struct outbound *ob;
	struct link *next;        /* in ob->idle */
	struct attempt *a;        /* the delivery using it; NULL while idle */
	struct bufferevent *bev;  /* NULL once closed */
	unsigned long id;         /* for the log: which messages shared a connection */
	bool tls, smarthost;
	int port;
	char host[256];           /* the MX name we connected to */
	char addr[64];
	char domain[256];         /* the domain of its latest delivery */
	struct line_reader lines;
	struct smtp_reply_reader reply; /* the reply being read */
	struct ehlo_ext ext;
	long transactions;        /* MAIL FROMs sent over it */
	struct event *idle_timer;
	int in_callback;          /* freeing waits until its own callbacks have returned */
	bool dead;
};

enum attempt_state {
	A_RESOLVING, A_CONNECTING, A_GREETING, A_EHLO, A_HELO, A_STARTTLS, A_AUTH, A_TRANSACTION,
	A_BODY,
};

/* The commands of one transaction. With PIPELINING they go in one write and their replies
 * are matched in order (RFC 2920); without it, one at a time. */
enum step_kind { STEP_RSET, STEP_MAIL, STEP_RCPT, STEP_DATA };

struct step {
	enum step_kind kind;
	size_t rcpt; /* STEP_RCPT: index into the entry's recipients */
};

/* What became of one recipient in this attempt. */
struct rcpt_result {
	int code;      /* 0: no answer yet */
	bool from_server; /* the code came from the remote server, not from us */
	char *reply;   /* the server's words */
	char status[16];
};

/* One delivery: one queue entry, over one link at a time. */
struct attempt {
	struct outbound *ob;
	struct attempt *next;
	struct queue_entry e;
	struct buf msg;
	struct dns_mx *mx;
	size_t nmx, mx_i;
	bool implicit_mx;
	char **addrs;
	size_t naddrs, addr_i;
	char host[256];
	bool smarthost;            /* relaying through the configured smarthost */
	int port;
	struct link *link;
	enum attempt_state state;
	bool reused;               /* its link carried mail before: the transaction starts with RSET */
	bool fresh_only;           /* a reused link failed: only new connections from now on */
	bool clean_end;            /* ended between transactions: the link may carry the next */
	bool pipelined;
	bool finished;             /* outcome recorded; freed once the callbacks have returned */
	struct step *steps;
	size_t nsteps, step_next;
	bool mail_failed;
	struct rcpt_result *results;
	char *last_error;          /* why the last address did not work */
};

static inline struct config *cfg(struct outbound *ob)
{
	return *ob->cfg;
}

/* ---- agent.c ---- */

/* Deep copy of a due entry, with its message read from the store; NULL when that fails. */
struct attempt *attempt_new(struct outbound *ob, const struct queue_entry *e);
/* Closes its link and frees it; it must no longer be in ob->active. */
void attempt_free(struct attempt *a);
/* Takes it out of ob->active. */
void attempt_unlink(struct attempt *a);

/* ---- schedule.c ---- */

/* A scheduler pass soon, for the domains with idle connections (one became free). */
void schedule_soon(struct outbound *ob);
/* The pass over every domain with due mail: every second, and 10 ms after outbound_kick. */
void schedule_on_timer(evutil_socket_t fd, short what, void *arg);
/* The pass schedule_soon asks for. */
void schedule_on_kick(evutil_socket_t fd, short what, void *arg);
/* Entries whose new state is with the writer thread: not started again until it is written. */
void schedule_writing_add(struct outbound *ob, int64_t id);
void schedule_writing_remove(struct outbound *ob, int64_t id);
/* Stopping: the entries held back during this pass stay as they are in the store. */
void schedule_drop_postponed(struct outbound *ob);

/* ---- link.c ---- */

/* One command line (CRLF added) to the server. */
void link_send(struct link *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A new connection to ip for a; NULL when it could not even be started. */
struct link *link_connect(struct attempt *a, const char *ip, const struct sockaddr *sa,
			  socklen_t salen);
/* Drops the connection at once (NULL: nothing); freed once its callbacks have returned. */
void link_close(struct link *l);
/* Says QUIT and closes (NULL: nothing). */
void link_quit(struct link *l);
/* The end of a callback of l that raised l->in_callback: a link closed meanwhile goes now. */
void link_release(struct link *l);
/* The delivery on l ended between transactions: keep the connection for the next one. */
void link_park(struct link *l);
/* An idle connection for the domain, or to the address and port; NULL when there is none. */
struct link *link_idle_for_domain(struct outbound *ob, const char *domain, bool smarthost);
struct link *link_idle_for_addr(struct outbound *ob, const char *addr, int port,
				bool smarthost);
/* Starts a's next transaction on the idle connection l. */
void attempt_use_link(struct attempt *a, struct link *l);

/* ---- connect.c ---- */

/* Finds the servers for a's domain (the smarthost, or its MX records) and connects. */
void attempt_resolve(struct attempt *a);
/* This address did not work (why): on to the next address, the next MX, or the end. */
void attempt_next_address(struct attempt *a, const char *why);
/* a's connection stopped working during the dialogue (closed, timed out, nonsense). */
void attempt_link_failed(struct attempt *a, const char *why);
/* Forgets the addresses of the current MX. */
void attempt_clear_addrs(struct attempt *a);

/* ---- proto.c ---- */

/* MAIL, RCPT and DATA for the recipients still without an answer (after RSET on a kept
 * connection). */
void proto_transaction_start(struct attempt *a);
/* The bufferevent callbacks of every link. */
void proto_on_read(struct bufferevent *bev, void *ctx);
void proto_on_event(struct bufferevent *bev, short what, void *ctx);

/* ---- result.c ---- */

/* r's answer: code and the reply's words, with the enhanced status they carry. */
void rcpt_result_set(struct rcpt_result *r, int code, const char *reply);
/* Every recipient still without a final answer gets this one (status NULL: from reply). */
void attempt_set_pending(struct attempt *a, int code, const char *reply, const char *status);
bool attempt_any_accepted(const struct attempt *a);
/* Accepted recipients share the server's answer to DATA or to the final dot. */
void attempt_set_accepted(struct attempt *a, int code, const char *reply);
/* Before the final dot nothing was delivered: a new connection starts those afresh. */
void attempt_forget_accepted(struct attempt *a);
/* Every recipient gets this answer, and the attempt ends (before any MAIL FROM). */
void attempt_fail_all(struct attempt *a, int code, const char *status, const char *why);
/* Records the outcome (queue update, DSNs), parks or closes the link, frees a later. */
void attempt_finish(struct attempt *a);
/* Hands the outcomes recorded since the last pass to the writer thread. */
void result_flush(struct outbound *ob);

#endif
