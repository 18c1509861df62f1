/* Logins for every protocol: which account and which device a password belongs to,
 * brute-force throttling (growing delays, never a lockout), and the audit log.
 * Password checks run on a worker thread (Argon2 takes tens of milliseconds); results come
 * back in the event-loop thread. */
#ifndef YUBIN_LOGIN_H
#define YUBIN_LOGIN_H
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/committer.h"

enum login_result {
	LOGIN_OK,
	LOGIN_BAD_PASSWORD,   /* also used for unknown users: never tell which */
	LOGIN_UNKNOWN_USER,   /* for the audit log only */
	LOGIN_ACCOUNT_PASSWORD_OFF, /* right account password, but it is turned off */
	LOGIN_TEMPFAIL,
};

struct login_outcome {
	enum login_result result;
	int64_t account_id;
	int64_t device_id;
	char device_label[128];
	char pop3_delete[16];   /* the account's policy, "" for the configured default */
};

typedef void (*login_done_fn)(void *ctx, const struct login_outcome *o);

struct login_service;

/* worker: a committer used only for jobs (its own store connection); writer: the committer
 * that owns writes (audit lines, last-used). */
struct login_service *login_service_new(struct event_base *base, struct committer *worker,
					struct committer *writer);
void login_service_free(struct login_service *ls);
void login_set_max_delay(struct login_service *ls, long seconds);
/* Starts a login; done(ctx, outcome) is called later in the loop thread, unless
 * login_cancel(ls, ctx) was called first. */
void login_start(struct login_service *ls, const char *address, const char *password,
		 const char *ip, const char *protocol, bool tls, login_done_fn done, void *ctx);
void login_cancel(struct login_service *ls, void *ctx);
/* For mechanisms checked by the session itself (SCRAM): count the outcome for throttling and
 * write the audit line, as login_start does. */
void login_report(struct login_service *ls, const char *address, const char *ip,
		  const char *protocol, bool tls, const struct login_outcome *o);
/* Milliseconds a login from ip for address should wait first (growing after failures). */
long login_delay_ms(struct login_service *ls, const char *address, const char *ip);
/* Normalised SHA-256 (hex) of an app password: dashes and spaces dropped, lower case. */
void login_app_secret_hash(const char *password, char out[65]);
/* A new app password, "xxxx-xxxx-xxxx-xxxx" (lower case letters and digits). */
void login_app_password_generate(char out[20]);

#endif
