/* Asking rspamd how it is, for the command line (yubin init, yubin spam status): a blocking
 * HTTP GET with a deadline, and the controller's /stat answer in a few numbers. Never used
 * by the server, whose requests go through rspamd.c on the event loop. */
#ifndef YUBIN_SPAM_RSPAMD_PROBE_H
#define YUBIN_SPAM_RSPAMD_PROBE_H
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* Answers larger than this are not read (a /stat answer is a few kilobytes). */
#define RSPAMD_PROBE_MAX_BODY (1024 * 1024)

/* GET url (http://HOST[:PORT][/prefix], default_port when none) + path, with rspamd's
 * Password header when password is not NULL or "". Blocks for at most timeout_ms. True with
 * the HTTP status and body when rspamd answered; false with a sentence in err. */
bool rspamd_http_get(const char *url, int default_port, const char *path, const char *password,
		     int timeout_ms, int *status, struct buf *body, struct buf *err);

/* What the controller's /stat says (-1: not in the answer). */
struct rspamd_stat {
	long long scanned, learned, spam_count, ham_count;
	long long reject, add_header, no_action, greylist, soft_reject, rewrite_subject;
};

/* Parses /stat's JSON (pure); false with a sentence in err when it is not a JSON object. */
bool rspamd_stat_parse(const char *json, size_t len, struct rspamd_stat *out, struct buf *err);

#endif
