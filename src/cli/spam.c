/* yubin spam status, the spam settings of accounts and domains (yubin account|domain set
 * NAME spam...), and init's look for a local rspamd. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "smtp/parse.h"
#include "spam/rspamd.h"
#include "spam/rspamd_probe.h"

/* What init looks for; YUBIN_RSPAMD_PROBE_URL changes it (tests), "" skips the look. */
#define PROBE_URL "http://127.0.0.1:11333"
#define PROBE_TIMEOUT_MS 1000

/* An address (name@example.com) or a whole domain (@example.com), as lists hold them. */
static bool list_entry_valid(const char *v)
{
	if (v[0] == '@') {
		size_t n = strlen(v + 1);
		if (n == 0 || n > 253)
			return false;
		for (const char *p = v + 1; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
				return false;
		return v[1] != '.' && v[n] != '.';
	}
	struct smtp_address a;
	size_t used, len = strlen(v);
	return smtp_parse_path(v, len, false, &a, &used) && used == len && a.domain[0];
}

bool cli_spam_key(const char *key)
{
	return strcmp(key, "spam") == 0 || strcmp(key, "spam-threshold") == 0 ||
	       strcmp(key, "spam-allow") == 0 || strcmp(key, "spam-block") == 0 ||
	       strcmp(key, "spam-unlist") == 0;
}

int cli_spam_set(struct store *s, const char *name, bool domain, const char *key,
		 const char *value)
{
	struct buf err = BUF_INIT;
	bool ok;
	const char *what = domain ? "domain" : "account";
	if (domain ? !s->ops->domain_exists(s, name, NULL) : false) {
		cli_error("%s: no such domain", name);
		return 1;
	}
	if (!domain) {
		struct account a;
		if (!s->ops->account_get(s, name, &a)) {
			cli_error("%s: no such account", name);
			return 1;
		}
		account_free(&a);
	}
	if (strcmp(key, "spam") == 0) {
		if (strcmp(value, "on") && strcmp(value, "off") && strcmp(value, "default")) {
			cli_error("spam is on, off or default, not \"%s\"", value);
			return 2;
		}
		const char *v = strcmp(value, "default") ? value : NULL;
		ok = domain ? s->ops->domain_set(s, name, key, v, &err)
			    : s->ops->account_set(s, name, key, v, &err);
		const char *meaning =
			!strcmp(value, "off") ? "mail to it is not scanned; blocked senders are still "
						"refused"
			: !strcmp(value, "on") ? "mail to it is scanned when rspamd-url is set"
			: domain ? "as the server says" : "as its domain, or else the server, says";
		if (ok)
			printf("%s: spam = %s (%s)\n", name, value, meaning);
	} else if (strcmp(key, "spam-threshold") == 0) {
		char *end;
		double t = strtod(value, &end);
		bool number = value[0] && *end == '\0' && isfinite(t) && t >= 0 && t <= 1000;
		if (!number && strcmp(value, "default") != 0) {
			cli_error("spam-threshold is a score from 0 to 1000 (e.g. 5.0) or default, "
				  "not \"%s\"", value);
			return 2;
		}
		char text[32];
		if (number)
			snprintf(text, sizeof text, "%g", t);
		ok = domain ? s->ops->domain_set(s, name, key, number ? text : NULL, &err)
			    : s->ops->account_set(s, name, key, number ? text : NULL, &err);
		if (ok && number)
			printf("%s: spam-threshold = %s (a message rspamd scores %s or more goes to Junk, "
			       "less to the inbox; rspamd's reject and greylist still apply)\n", name,
			       text, text);
		else if (ok)
			printf("%s: spam-threshold = default (rspamd's actions decide)\n", name);
	} else {
		if (!list_entry_valid(value)) {
			cli_error("\"%s\" is neither an address (name@example.com) nor a domain "
				  "(@example.com)", value);
			return 2;
		}
		enum spam_list l = !strcmp(key, "spam-allow") ? SPAM_LIST_ALLOW
				 : !strcmp(key, "spam-block") ? SPAM_LIST_BLOCK : SPAM_LIST_NONE;
		ok = s->ops->spam_list_set(s, name, value, l, &err);
		if (ok && l == SPAM_LIST_ALLOW)
			printf("%s: allows %s (its mail skips the Junk verdict; viruses and failed "
			       "DMARC/SPF checks are still refused or junked)\n", name, value);
		else if (ok && l == SPAM_LIST_BLOCK)
			printf("%s: blocks %s (refused with 550 5.7.1 when every recipient blocks it, "
			       "else delivered to Junk)\n", name, value);
		else if (ok)
			printf("%s: %s taken off its lists\n", name, value);
	}
	if (!ok)
		cli_error("%s %s: %s", what, name, err.data);
	buf_free(&err);
	return ok ? 0 : 1;
}

static void print_list_row(void *ctx, const char *const *cols, size_t n)
{
	const char *prefix = ctx;
	if (n >= 3)
		printf("%s%s %s %s\n", prefix, cols[0], strcmp(cols[2], "block") ? "allows" : "blocks",
		       cols[1]);
}

void cli_spam_show_account(struct store *s, const struct account *a, const struct config *cfg)
{
	if (a->spam >= 0)
		printf("spam: %s\n", a->spam ? "on" : "off");
	else
		printf("spam: default (%s)\n", cfg->rspamd_url[0] ? "on, unless its domain is off"
							    : "off: rspamd-url is not set");
	if (a->spam_threshold >= 0)
		printf("spam-threshold: %g\n", a->spam_threshold);
	else
		printf("spam-threshold: default (its domain's, or rspamd's actions)\n");
	s->ops->spam_list_rows(s, a->address, print_list_row, "spam-list: ");
}

/* Does init find an rspamd on this machine? Returns the URL to use (static) or NULL. */
const char *cli_rspamd_probe(void)
{
	const char *url = getenv("YUBIN_RSPAMD_PROBE_URL");
	if (!url)
		url = PROBE_URL;
	if (!*url)
		return NULL;
	struct buf body = BUF_INIT, err = BUF_INIT;
	int status = 0;
	bool ok = rspamd_http_get(url, RSPAMD_DEFAULT_PORT, "/ping", NULL, PROBE_TIMEOUT_MS, &status,
				  &body, &err) &&
		  status == 200 && body.len >= 4 && strncmp(body.data, "pong", 4) == 0;
	buf_free(&body);
	buf_free(&err);
	return ok ? url : NULL;
}

/* The outcomes the server counts (store/spam_jobs.h), with what each means. */
static const struct {
	const char *name, *meaning;
} outcomes[] = {
	{ "clean", "scanned, delivered to the inbox" },
	{ "junk", "scanned, delivered to Junk (for at least one recipient)" },
	{ "rejected", "refused as spam (550 5.7.1)" },
	{ "virus", "refused, a virus (554 5.7.1)" },
	{ "tempfail", "told to try again (451 4.7.1: greylist, soft reject)" },
	{ "unscanned", "rspamd did not answer: delivered unscanned (or 451)" },
	{ "blocked", "refused: every recipient blocks the sender" },
	{ "off", "not scanned: scanning is off for every recipient" },
};

struct counts {
	long long week[sizeof outcomes / sizeof outcomes[0]];
	long long today[sizeof outcomes / sizeof outcomes[0]];
};

static void count_row(void *ctx, const char *const *cols, size_t n)
{
	struct counts *c = ctx;
	if (n < 3)
		return;
	for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++)
		if (strcmp(cols[0], outcomes[i].name) == 0) {
			c->week[i] = atoll(cols[1]);
			c->today[i] = atoll(cols[2]);
		}
}

static void override_row(void *ctx, const char *const *cols, size_t n)
{
	(void)ctx;
	if (n < 4)
		return;
	printf("  %s %s:", cols[0], cols[1]);
	if (cols[2] && cols[2][0])
		printf(" spam %s", cols[2]);
	if (cols[3] && cols[3][0])
		printf(" spam-threshold %g", atof(cols[3]));
	putchar('\n');
}

static void count_rows(void *ctx, const char *const *cols, size_t n)
{
	(void)cols;
	(void)n;
	(*(size_t *)ctx)++;
}

/* rspamd's health: /ping on the normal worker, /stat on the controller. False when the
 * normal worker does not answer. */
static bool rspamd_health(const struct config *cfg)
{
	struct buf body = BUF_INIT, err = BUF_INIT;
	int status = 0;
	bool up = rspamd_http_get(cfg->rspamd_url, RSPAMD_DEFAULT_PORT, "/ping", NULL, 3000, &status,
				  &body, &err);
	if (!up)
		printf("rspamd: NOT ANSWERING at %s (%s): mail is delivered unscanned%s\n",
		       cfg->rspamd_url, err.data,
		       strcmp(cfg->spam_unavailable, "tempfail") == 0 ? " (answered 451: "
		       "spam-unavailable = tempfail)" : "");
	else if (status != 200 || body.len < 4 || strncmp(body.data, "pong", 4) != 0)
		printf("rspamd: %s answers /ping with HTTP %d, not pong: is it rspamd's normal "
		       "worker?\n", cfg->rspamd_url, status);
	else
		printf("rspamd: answering at %s (ping: pong)\n", cfg->rspamd_url);
	up = up && status == 200;
	buf_reset(&body);
	buf_reset(&err);
	/* the controller: rspamd-controller-url, else the host of rspamd-url on 11334 */
	struct buf curl = BUF_INIT;
	if (cfg->rspamd_controller_url[0]) {
		buf_append_str(&curl, cfg->rspamd_controller_url);
	} else {
		const char *host = strstr(cfg->rspamd_url, "://");
		host = host ? host + 3 : cfg->rspamd_url;
		size_t hl = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":/");
		buf_printf(&curl, "http://%.*s:%d", (int)hl, host, RSPAMD_CONTROLLER_DEFAULT_PORT);
	}
	struct rspamd_stat st;
	if (!rspamd_http_get(curl.data, RSPAMD_CONTROLLER_DEFAULT_PORT, "/stat",
			     cfg->rspamd_password, 3000, &status, &body, &err))
		printf("rspamd controller: not reachable at %s (%s); learning from Junk needs it\n",
		       curl.data, err.data);
	else if (status != 200)
		printf("rspamd controller: %s answers /stat with HTTP %d%s\n", curl.data, status,
		       status == 403 ? " (set rspamd-password)" : "");
	else if (!rspamd_stat_parse(body.data ? body.data : "", body.len, &st, &err))
		printf("rspamd controller: %s: %s\n", curl.data, err.data);
	else
		printf("rspamd controller: %s: %lld scanned since rspamd started (%lld rejected, "
		       "%lld add header, %lld no action), %lld learned\n", curl.data, st.scanned,
		       st.reject, st.add_header, st.no_action, st.learned);
	buf_free(&curl);
	buf_free(&body);
	buf_free(&err);
	return up;
}

int cmd_spam(struct cli *c)
{
	if (c->argc != 1 || strcmp(c->argv[0], "status") != 0) {
		cli_error("usage: yubin spam status --data DIR");
		return 2;
	}
	struct config cfg;
	cli_load_config(c, &cfg);
	struct store *s = cli_open_store(c);
	int rc = 0;
	if (cfg.rspamd_url[0]) {
		printf("scanning: on (rspamd-url = %s, rspamd-timeout = %ld s, spam-unavailable = %s)\n",
		       cfg.rspamd_url, cfg.rspamd_timeout, cfg.spam_unavailable);
		printf("actions: reject -> %s, add header -> %s, greylist -> %s, virus -> refused\n",
		       cfg.spam_reject_action, cfg.spam_add_header_action, cfg.spam_greylist_action);
		if (!rspamd_health(&cfg))
			rc = 1;
	} else {
		printf("scanning: off (rspamd-url is not set; install rspamd and clamav-daemon and set "
		       "rspamd-url = http://127.0.0.1:11333 in yubin.conf). Sender blocklists still "
		       "apply.\n");
	}
	int64_t today = clock_now() / 86400;
	struct counts counts;
	memset(&counts, 0, sizeof counts);
	s->ops->spam_counts(s, today - 6, today, count_row, &counts);
	printf("messages from other servers (counted by yubin, UTC days):\n");
	printf("  %-10s %12s %8s\n", "outcome", "last 7 days", "today");
	for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++)
		printf("  %-10s %12lld %8lld  %s\n", outcomes[i].name, counts.week[i], counts.today[i],
		       outcomes[i].meaning);
	size_t n = 0;
	s->ops->spam_overrides(s, count_rows, &n);
	printf("settings of their own:%s\n", n ? "" : " none (every account as the server)");
	s->ops->spam_overrides(s, override_row, NULL);
	n = 0;
	s->ops->spam_list_rows(s, NULL, count_rows, &n);
	printf("sender lists:%s\n", n ? "" : " none");
	s->ops->spam_list_rows(s, NULL, print_list_row, "  ");
	s->ops->close(s);
	config_free(&cfg);
	return rc;
}
