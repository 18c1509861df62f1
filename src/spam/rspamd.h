/* The rspamd client: scans a message with rspamd's HTTP protocol (POST /checkv2 on the normal
 * worker) on the event loop with libevent's evhttp, so a scan never blocks other sessions;
 * and tells the controller worker what users taught it (POST /learnspam, /learnham).
 *
 * Every scan has its own connection and one deadline for all of it (connecting, sending,
 * rspamd's answer); its callback runs exactly once, always from the loop (never from inside
 * rspamd_scan_start), unless the scan is cancelled first. The answer is bounded
 * (RSPAMD_REPLY_MAX_BYTES) and parsed by rspamd_reply.c; anything else than a valid answer
 * with status 200 is an error, and the caller treats the message as unscanned. */
#ifndef YUBIN_SPAM_RSPAMD_H
#define YUBIN_SPAM_RSPAMD_H
#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "lib/buf.h"
#include "spam/rspamd_reply.h"

/* rspamd's usual ports: the normal worker (scans) and the controller (learning). */
#define RSPAMD_DEFAULT_PORT 11333
#define RSPAMD_CONTROLLER_DEFAULT_PORT 11334
/* Learning requests in flight at once; more are skipped (and logged), so a user moving
 * thousands of messages into Junk cannot make the server hold thousands of copies. */
#define RSPAMD_LEARN_MAX_INFLIGHT 32

struct rspamd_client;
struct rspamd_scan;

struct rspamd_client_settings {
	const char *url;            /* rspamd-url: http://ADDR[:PORT][/prefix] */
	const char *controller_url; /* rspamd-controller-url; NULL/"": url's host, port 11334 */
	const char *password;       /* rspamd-password; NULL/"": none */
	int timeout_ms;             /* rspamd-timeout, for a whole scan (and each learn) */
};

/* Counted since the client was made (for logs, `yubin spam status` and tests). */
struct rspamd_stats {
	unsigned long scans, scan_errors, scan_timeouts, cancelled;
	unsigned long learns, learn_errors, learns_skipped;
};

/* NULL with a sentence in err when a URL is not http://ADDR[:PORT] with a numeric address
 * (a host name would need a blocking lookup) or "localhost". */
struct rspamd_client *rspamd_client_new(struct event_base *base,
					const struct rspamd_client_settings *settings,
					struct buf *err);
/* Drops every scan and learn in flight without calling anything back. Not from inside a
 * scan's callback (the scan is still being finished there). */
void rspamd_client_free(struct rspamd_client *c);
const struct rspamd_stats *rspamd_client_stats(const struct rspamd_client *c);
/* Learning requests sent and not answered yet (at most RSPAMD_LEARN_MAX_INFLIGHT): callers
 * that queue learns of their own count these against the same budget. */
size_t rspamd_learns_inflight(const struct rspamd_client *c);

/* What rspamd is told about the message besides its bytes (each a header of the request).
 * Any field may be NULL (or nrcpts 0) when unknown; mail_from "" is the null sender. */
struct rspamd_envelope {
	const char *ip;        /* the sending client's address */
	const char *helo;
	const char *mail_from;
	const char *const *rcpts;
	size_t nrcpts;
	const char *hostname;  /* the client's verified reverse DNS name */
	const char *queue_id;  /* shows in rspamd's log, to match its lines with ours */
	const char *user;      /* the logged-in user, for mail from authenticated users */
};

/* Called once with the parsed answer (error NULL), or with error set (result NULL): rspamd
 * unreachable, too slow, an HTTP error, or an answer that is not valid. The result is valid
 * during the call only; to keep it, copy the struct and zero the original. The scan handle
 * is gone once this is called. */
typedef void (*rspamd_scan_fn)(void *ctx, struct rspamd_result *result, const char *error);

/* Starts a scan of msg (len bytes, which must stay valid and unchanged until fn is called or
 * the scan is cancelled: they are sent from there, not copied). Never NULL. */
struct rspamd_scan *rspamd_scan_start(struct rspamd_client *c, const struct rspamd_envelope *env,
				      const char *msg, size_t len, rspamd_scan_fn fn, void *ctx);
/* Stops a scan whose callback has not run yet; the callback never runs. */
void rspamd_scan_cancel(struct rspamd_scan *s);

/* Fire and forget: sends msg (copied) to the controller as spam or ham, and logs the outcome
 * (event=rspamd-learn). rcpt, if not NULL, goes as Deliver-To, for rspamd's per-user
 * statistics when it is set up for them. what names the message in the log line. rspamd's
 * "already learned" (208) and "too few words" (204) answers count as ok, with a note. */
void rspamd_learn(struct rspamd_client *c, bool spam, const char *msg, size_t len,
		  const char *rcpt, const char *what);

#endif
