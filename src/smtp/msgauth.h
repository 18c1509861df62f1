/* Checks one incoming message, as the end of DATA needs it: SPF for MAIL FROM and HELO,
 * every DKIM signature, the From domain's DMARC policy, then what to do with the message
 * and the Authentication-Results field (RFC 8601) to add.
 *
 * All DNS goes through the shared asynchronous resolver, in parallel, within one time budget
 * per message; the DKIM hashing of a large message runs on a worker thread. The loop never
 * waits: the answer comes back through fn.
 *
 *	struct msgauth *m = msgauth_start(base, dns, worker, &params, fn, ctx);
 *	... fn(ctx, &verdict) is called once, on a later loop turn ...
 *	msgauth_cancel(m) before that drops the check (and the message bytes it holds). */
#ifndef YUBIN_SMTP_MSGAUTH_H
#define YUBIN_SMTP_MSGAUTH_H
#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/spool.h"
#include "mailauth/dmarc_report.h"
#include "net/dns.h"
#include "store/committer.h"

/* Messages up to this size are hashed on the loop (tens of microseconds per signature);
 * larger ones on the worker, while their keys are looked up. */
#define MSGAUTH_INLINE_BYTES (16 * 1024)

enum msgauth_action {
	MSGAUTH_DELIVER,  /* to the inbox */
	MSGAUTH_JUNK,     /* to the Junk mailbox, keyword $Junk */
	MSGAUTH_REJECT,   /* 550 5.7.1: DMARC p=reject failed */
	MSGAUTH_TEMPFAIL, /* 451 4.4.3: DNS failed and dns-temperror = tempfail */
};

struct msgauth_params {
	const char *ip;        /* the client's address */
	const char *helo;      /* as the client said it */
	const char *mailfrom;  /* "" for the null sender */
	const char *authserv_id; /* our host name: the Authentication-Results authserv-id */
	int timeout_ms;        /* all DNS lookups together */
	bool tempfail_on_dns;  /* dns-temperror = tempfail */
	bool dmarc_reject;     /* dmarc-reject = reject (else junk) */
	bool spf_fail_junk;    /* spf-fail = junk */
	/* The message: taken over (freed by msgauth_cancel, or handed back in the verdict). The
	 * message proper starts at offset (after our own trace fields). */
	struct spool_bytes *bytes;
	size_t offset;
};

struct msgauth_verdict {
	enum msgauth_action action;
	char sentence[600];    /* for a reject or tempfail reply; and the log */
	struct buf header;     /* "Authentication-Results: ...\r\n" (freed by the caller) */
	char spf[16], dkim[16], dmarc[16]; /* result names for the log line */
	char from_domain[256];
	struct spool_bytes *bytes; /* the message, back to the caller */
	/* For the aggregate reports we send: set when the From domain has a DMARC record
	 * (strings valid during the callback). */
	bool observed;
	struct dmarc_observation obs;
};

typedef void (*msgauth_fn)(void *ctx, struct msgauth_verdict *v);

struct msgauth;

struct msgauth *msgauth_start(struct event_base *base, struct dns_resolver *dns,
			      struct committer *worker, const struct msgauth_params *p,
			      msgauth_fn fn, void *ctx);
void msgauth_cancel(struct msgauth *m);

#endif
