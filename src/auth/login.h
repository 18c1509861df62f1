/* Logins for every protocol and mechanism: which account and which device a password belongs
 * to, brute-force throttling (a queue per client address and per account, growing delays and a
 * cap of failures per minute, never a lockout of the owner), the audit log, and ending the
 * sessions whose password was revoked or changed.
 * Password checks run on a worker thread (Argon2 takes tens of milliseconds); results come
 * back in the event-loop thread. */
#ifndef YUBIN_LOGIN_H
#define YUBIN_LOGIN_H
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/scram.h"
#include "store/committer.h"

enum login_result {
	LOGIN_OK,
	LOGIN_BAD_PASSWORD,   /* also used for unknown users: never tell which */
	LOGIN_UNKNOWN_USER,   /* for the audit log only */
	LOGIN_ACCOUNT_PASSWORD_OFF, /* right account password, but it is turned off */
	LOGIN_TEMPFAIL,       /* too many failures from this address or for this account */
	LOGIN_UNAVAILABLE,    /* the store could not be read: nothing was checked, try later */
};

struct login_outcome {
	enum login_result result;
	int64_t account_id;
	int64_t device_id;
	char device_label[128];
	char pop3_delete[16];   /* the account's policy, "" for the configured default */
	const char *server_final; /* SCRAM success: the "v=..." message to send (valid in done) */
	/* What login_watch needs to notice the password going away. */
	int64_t generation;
	bool app_password;
	unsigned char stamp[16]; /* of the account password's hash when it was checked */
};

typedef void (*login_done_fn)(void *ctx, const struct login_outcome *o);

struct login_service;

/* store: the loop thread's connection (lookups, the per-second revocation check); worker: a
 * committer used only for jobs (Argon2); writer: the committer that owns writes (audit lines,
 * last-used). */
struct login_service *login_service_new(struct event_base *base, struct store *store,
					struct committer *worker, struct committer *writer);
void login_service_free(struct login_service *ls);
/* auth-max-delay (seconds) and auth-failures-per-minute. */
void login_set_limits(struct login_service *ls, long max_delay_seconds, long failures_per_minute);
/* Starts a login; done(ctx, outcome) is called later in the loop thread, unless
 * login_cancel(ls, ctx) was called first. */
void login_start(struct login_service *ls, const char *address, const char *password,
		 const char *ip, const char *protocol, bool tls, login_done_fn done, void *ctx);
/* SCRAM-SHA-256: the server-first message for the client-first already read into sc. */
const char *login_scram_first(struct login_service *ls, struct scram_server *sc);
/* SCRAM-SHA-256: checks the client-final message like login_start checks a password (same
 * throttle, audit and outcome); on success o->server_final is the message to send. sc must
 * stay alive until done is called or login_cancel. */
void login_scram_final(struct login_service *ls, struct scram_server *sc, const char *msg,
		       size_t len, const char *ip, const char *protocol, bool tls,
		       login_done_fn done, void *ctx);
/* Forgets every login and the watch of ctx (its session is going away). */
void login_cancel(struct login_service *ls, void *ctx);
/* Ends a session whose password went away: sends the protocol's goodbye and closes. Returns
 * false when the session is busy (a commit in flight): it is asked again shortly. */
typedef bool (*login_end_fn)(void *ctx);
/* Watches a session logged in with outcome o: when its app password is revoked, the account
 * password is changed or turned off (if it used that), or the account is deleted, end(ctx)
 * is called within about a second. login_cancel(ls, ctx) stops watching. */
void login_watch(struct login_service *ls, const struct login_outcome *o, login_end_fn end,
		 void *ctx);
/* The sentence the sessions say when they end that way. */
#define LOGIN_REVOKED_TEXT "Your password was changed or revoked; log in again."
/* Normalised SHA-256 (hex) of an app password: dashes and spaces dropped, lower case. */
void login_app_secret_hash(const char *password, char out[65]);
/* A new app password, "xxxx-xxxx-xxxx-xxxx" (lower case letters and digits). */
void login_app_password_generate(char out[20]);

#endif
