/* yubin account / alias / domain / check: the operator's view of the store. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/login.h"
#include "auth/password.h"
#include "auth/scram.h"
#include "lib/clock.h"
#include "cli/cli.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "smtp/parse.h"

/* Splits and validates an address with the SMTP grammar; false with a message if bad. */
static bool address_valid(const char *address, struct smtp_address *out)
{
	size_t used;
	size_t len = strlen(address);
	if (!smtp_parse_path(address, len, false, out, &used) || used != len || !out->domain[0]) {
		cli_error("\"%s\" is not a valid mail address (write it as name@example.com)", address);
		return false;
	}
	return true;
}

static bool domain_is_local(struct store *s, const char *domain)
{
	return s->ops->domain_exists(s, domain, NULL);
}

static void print_row(void *ctx, const char *const *cols, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? "\t" : "", cols[i] ? cols[i] : "");
	putchar('\n');
}

static void print_account_row(void *ctx, const char *const *cols, size_t n)
{
	(void)ctx;
	if (n < 3)
		return;
	long long used = atoll(cols[1]), quota = atoll(cols[2]);
	if (quota > 0)
		printf("%s\t%lld bytes used of %lld (%lld%%)\n", cols[0], used, quota,
		       used * 100 / quota);
	else
		printf("%s\t%lld bytes used (no quota)\n", cols[0], used);
}


static void format_time(const char *unix_seconds, char *out, size_t len)
{
	if (!unix_seconds || !*unix_seconds) {
		snprintf(out, len, "never");
		return;
	}
	time_t t = (time_t)atoll(unix_seconds);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void print_device_row(void *ctx, const char *const *cols, size_t n)
{
	const char *prefix = ctx;
	if (n < 6)
		return;
	char created[40], used[40];
	format_time(cols[1], created, sizeof created);
	format_time(cols[2], used, sizeof used);
	if (cols[2])
		printf("%s%s\t%s\t%s %s %s\n", prefix, cols[0], created, used, cols[3] ? cols[3] : "",
		       cols[4] ? cols[4] : "");
	else
		printf("%s%s\t%s\tnever\n", prefix, cols[0], created);
}

static int app_password(struct cli *c, struct store *s)
{
	const char *label = cli_option(c, "--label");
	const char *sub = c->argc > 1 ? c->argv[1] : "";
	struct buf err = BUF_INIT;
	int rc = 0;
	bool control = false;
	for (const char *p = label ? label : ""; *p; p++)
		control |= (unsigned char)*p < 0x20 || *p == 0x7f;
	if (strcmp(sub, "add") == 0 && c->argc == 3 && label && control) {
		/* A label is shown in lists, logs and the audit: a line break or tab in it could
		 * only garble them. */
		cli_error("%s: a label is a name for a device; it cannot contain control characters "
			  "(line breaks, tabs)", c->argv[2]);
		rc = 1;
	} else if (strcmp(sub, "add") == 0 && c->argc == 3 && label && label[0]) {
		char password[20], secret[65];
		login_app_password_generate(password);
		login_app_secret_hash(password, secret);
		if (!s->ops->device_add(s, c->argv[2], label, secret, &err)) {
			cli_error("%s: %s", c->argv[2],
				  strstr(err.data, "exists") ? "a device with that label already exists"
							     : err.data);
			rc = 1;
		} else {
			printf("App password for \"%s\" on %s (shown only this once; type it into that "
			       "device instead of the account password):\n", label, c->argv[2]);
			printf("password: %s\n", password);
		}
	} else if (strcmp(sub, "list") == 0 && c->argc == 3) {
		struct account a;
		if (!s->ops->account_get(s, c->argv[2], &a)) {
			cli_error("%s: no such account", c->argv[2]);
			return 1;
		}
		account_free(&a);
		s->ops->device_list(s, c->argv[2], print_device_row, "");
	} else if (strcmp(sub, "revoke") == 0 && c->argc == 4) {
		if (!s->ops->device_revoke(s, c->argv[2], c->argv[3], &err)) {
			cli_error("%s: %s", c->argv[2], err.data);
			rc = 1;
		} else {
			printf("revoked \"%s\" of %s: that device can no longer log in\n", c->argv[3],
			       c->argv[2]);
		}
	} else {
		cli_error("usage: yubin account app-password add ADDRESS --label LABEL | list ADDRESS | "
			  "revoke ADDRESS LABEL");
		rc = 2;
	}
	buf_free(&err);
	return rc;
}

static int account_set(struct cli *c, struct store *s)
{
	if (c->argc != 4) {
		cli_error("usage: yubin account set ADDRESS pop3-delete per-device|expunge|default | "
			  "account-password on|off | keep-days N|default | "
			  "save-sent on|off|default | spam on|off|default | spam-threshold N|default | "
			  "spam-allow|spam-block|spam-unlist SENDER|@DOMAIN");
		return 2;
	}
	const char *key = c->argv[2], *value = c->argv[3];
	if (cli_spam_key(key))
		return cli_spam_set(s, c->argv[1], false, key, value);
	bool valid = (strcmp(key, "pop3-delete") == 0 &&
		      (!strcmp(value, "per-device") || !strcmp(value, "expunge") ||
		       !strcmp(value, "default"))) ||
		     (strcmp(key, "account-password") == 0 &&
		      (!strcmp(value, "on") || !strcmp(value, "off"))) ||
		     (strcmp(key, "save-sent") == 0 &&
		      (!strcmp(value, "on") || !strcmp(value, "off") || !strcmp(value, "default"))) ||
		     (strcmp(key, "keep-days") == 0 &&
		      (!strcmp(value, "default") || strspn(value, "0123456789") == strlen(value)));
	if (!valid || !value[0]) {
		cli_error("%s cannot be \"%s\"; see yubin account set without arguments", key, value);
		return 2;
	}
	struct buf err = BUF_INIT;
	bool ok = s->ops->account_set(s, c->argv[1], key, strcmp(value, "default") ? value : NULL,
				      &err);
	if (!ok)
		cli_error("%s: %s", c->argv[1], err.data);
	else
		printf("%s: %s = %s\n", c->argv[1], key, value);
	buf_free(&err);
	return ok ? 0 : 1;
}

static int account_show(struct cli *c, struct store *s)
{
	struct account a;
	if (c->argc != 2 || !s->ops->account_get(s, c->argv[1], &a)) {
		cli_error(c->argc != 2 ? "usage: yubin account show ADDRESS" : "%s: no such account",
			  c->argc == 2 ? c->argv[1] : "");
		return c->argc != 2 ? 2 : 1;
	}
	struct config cfg;
	cli_load_config(c, &cfg);
	printf("account: %s\n", a.address);
	a.messages = s->ops->account_messages(s, a.id);
	if (a.quota > 0)
		printf("storage: %lld messages, %lld of %lld bytes (%lld%%)\n", (long long)a.messages,
		       (long long)a.used, (long long)a.quota, (long long)(a.used * 100 / a.quota));
	else
		printf("storage: %lld messages, %lld bytes (no quota)\n", (long long)a.messages,
		       (long long)a.used);
	printf("pop3-delete: %s%s\n", a.pop3_delete ? a.pop3_delete : cfg.pop3_delete,
	       a.pop3_delete ? "" : " (the server's default)");
	if (a.keep_days >= 0)
		printf("keep-days: %lld\n", (long long)a.keep_days);
	else
		printf("keep-days: %ld (the server's default)\n", cfg.keep_days);
	printf("account-password: %s\n", a.account_password_on ? "on" : "off");
	if (a.save_sent >= 0)
		printf("save-sent: %s\n", a.save_sent ? "on" : "off");
	else
		printf("save-sent: %s (the server's default)\n", cfg.save_sent);
	cli_spam_show_account(s, &a, &cfg);
	s->ops->device_list(s, a.address, print_device_row, "device: ");
	int64_t count, bytes;
	s->ops->deleted_kept(s, a.id, &count, &bytes);
	printf("deleted but kept: %lld messages, %lld bytes (some device deleted them; others may "
	       "still fetch them)\n", (long long)count, (long long)bytes);
	config_free(&cfg);
	account_free(&a);
	return 0;
}

static void ignore_row(void *ctx, const char *const *cols, size_t n)
{
	(void)ctx;
	(void)cols;
	(void)n;
}

/* DMARC aggregate reports for a domain arrive at dmarc-reports@ it (the address yubin init
 * suggests for rua=): the first account of a domain receives them unless that address is
 * already an account or alias, so the reports have somewhere to go. */
static void report_alias(struct store *s, const struct config *cfg, const char *account,
			 const char *domain)
{
	if (!cfg->dmarc_report_address[0])
		return;
	struct buf alias = BUF_INIT, err = BUF_INIT;
	buf_printf(&alias, "%s@%s", cfg->dmarc_report_address, domain);
	struct account a;
	if (s->ops->account_get(s, alias.data, &a)) {
		account_free(&a);
	} else if (strcasecmp(alias.data, account) != 0 &&
		   s->ops->alias_targets(s, alias.data, ignore_row, NULL) == 0) {
		if (s->ops->alias_add(s, alias.data, account, &err))
			printf("%s now also receives DMARC reports for %s (alias %s; change it with "
			       "yubin alias)\n", account, domain, alias.data);
	}
	buf_free(&alias);
	buf_free(&err);
}

int cmd_account(struct cli *c)
{
	const char *sub = c->argc > 0 ? c->argv[0] : "";
	struct store *s = cli_open_store(c);
	struct buf err = BUF_INIT;
	int rc = 0;
	if (strcmp(sub, "list") == 0) {
		s->ops->account_list(s, print_account_row, NULL);
	} else if (strcmp(sub, "app-password") == 0) {
		rc = app_password(c, s);
	} else if (strcmp(sub, "set") == 0) {
		rc = account_set(c, s);
	} else if (strcmp(sub, "show") == 0) {
		rc = account_show(c, s);
	} else if (c->argc == 2 && (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0)) {
		struct smtp_address a;
		if (!address_valid(c->argv[1], &a)) {
			rc = 1;
			goto done;
		}
		if (!domain_is_local(s, a.domain)) {
			cli_error("%s is not a domain of this server; add it first: yubin domain add %s",
				  a.domain, a.domain);
			rc = 1;
			goto done;
		}
		char *pw = cli_read_or_make_password();
		char *hash = password_hash(pw);
		char *scram = scram_make_secret(pw);
		free(pw);
		if (!hash) {
			cli_error("cannot hash the password");
			rc = 1;
			goto done;
		}
		bool ok;
		if (strcmp(sub, "add") == 0) {
			struct config cfg;
			cli_load_config(c, &cfg);
			ok = s->ops->account_add(s, c->argv[1], hash, scram, cfg.default_quota, &err);
			if (ok) {
				printf("added %s\n", c->argv[1]);
				report_alias(s, &cfg, c->argv[1], a.domain);
			}
			config_free(&cfg);
		} else {
			ok = s->ops->account_set_password(s, c->argv[1], hash, scram, &err);
		}
		free(hash);
		free(scram);
		if (!ok) {
			cli_error("%s: %s", c->argv[1], err.data);
			rc = 1;
		} else if (sub[0] != 'a') {
			printf("password changed for %s\n", c->argv[1]);
		}
	} else if (c->argc == 2 && strcmp(sub, "del") == 0) {
		if (!s->ops->account_del(s, c->argv[1], &err)) {
			cli_error("%s: %s", c->argv[1], err.data);
			rc = 1;
		} else {
			printf("deleted %s and all its mail\n", c->argv[1]);
		}
	} else {
		cli_error("usage: yubin account add|del|passwd|show ADDRESS | list | set ADDRESS KEY VALUE"
			  " | app-password add|list|revoke ...  --data DIR");
		rc = 2;
	}
done:
	s->ops->close(s);
	buf_free(&err);
	return rc;
}

/* A catch-all target must be local: a catch-all forwarding to another domain would pass on
 * mail for every made-up name, spam included. */
static bool target_valid(struct store *s, const char *target)
{
	struct smtp_address a;
	if (!address_valid(target, &a))
		return false;
	if (!domain_is_local(s, a.domain)) {
		cli_error("%s is not in a domain of this server; a catch-all must be a local account "
			  "or alias (make an alias that forwards, and point the catch-all at it, if "
			  "you really mean it)", target);
		return false;
	}
	return true;
}

static void count_row(void *ctx, const char *const *cols, size_t n)
{
	(void)cols;
	(void)n;
	(*(size_t *)ctx)++;
}

int cmd_alias(struct cli *c)
{
	const char *sub = c->argc > 0 ? c->argv[0] : "";
	struct store *s = cli_open_store(c);
	struct buf err = BUF_INIT;
	int rc = 0;
	if (strcmp(sub, "list") == 0) {
		s->ops->alias_list(s, print_row, NULL);
	} else if (strcmp(sub, "add") == 0 && c->argc >= 3) {
		struct smtp_address a;
		struct account acct;
		if (!address_valid(c->argv[1], &a)) {
			rc = 1;
			goto done;
		}
		if (!domain_is_local(s, a.domain)) {
			cli_error("%s is not a domain of this server", a.domain);
			rc = 1;
			goto done;
		}
		if (s->ops->account_get(s, c->argv[1], &acct)) {
			account_free(&acct);
			cli_error("%s is an account; an alias cannot have the same address", c->argv[1]);
			rc = 1;
			goto done;
		}
		for (int i = 2; i < c->argc; i++) {
			struct smtp_address ta;
			if (!address_valid(c->argv[i], &ta)) {
				rc = 1;
				continue;
			}
			size_t n = 0;
			struct account t;
			bool local = domain_is_local(s, ta.domain);
			if (!local && ta.domain[0] == '[') {
				cli_error("%s: forwarding needs a domain name, not an address literal",
					  c->argv[i]);
				rc = 1;
				continue;
			}
			bool exists = local && s->ops->account_get(s, c->argv[i], &t);
			if (exists)
				account_free(&t);
			else if (local)
				s->ops->alias_targets(s, c->argv[i], count_row, &n);
			if (!local)
				printf("note: mail to %s will be forwarded to %s in another domain, with the "
				       "original sender (no SRS: the receiving server's SPF check may fail "
				       "for senders whose domain publishes SPF)\n", c->argv[1], c->argv[i]);
			else if (!exists && n == 0)
				printf("note: %s is neither an account nor an alias yet\n", c->argv[i]);
			buf_reset(&err);
			if (local)
				for (char *p = c->argv[i]; *p; p++)
					*p = (char)tolower((unsigned char)*p);
			if (!s->ops->alias_add(s, c->argv[1], c->argv[i], &err)) {
				cli_error("%s -> %s: %s", c->argv[1], c->argv[i], err.data);
				rc = 1;
			} else {
				printf("%s -> %s\n", c->argv[1], c->argv[i]);
			}
		}
	} else if (strcmp(sub, "del") == 0 && (c->argc == 2 || c->argc == 3)) {
		if (!s->ops->alias_del(s, c->argv[1], c->argc == 3 ? c->argv[2] : NULL, &err)) {
			cli_error("%s: %s", c->argv[1], err.data);
			rc = 1;
		}
	} else {
		cli_error("usage: yubin alias add ALIAS TARGET... | del ALIAS [TARGET] | list  --data DIR");
		rc = 2;
	}
done:
	s->ops->close(s);
	buf_free(&err);
	return rc;
}

int cmd_domain(struct cli *c)
{
	const char *sub = c->argc > 0 ? c->argv[0] : "";
	bool off = cli_flag(c, "--off");
	struct store *s = cli_open_store(c);
	struct buf err = BUF_INIT;
	int rc = 0;
	if (strcmp(sub, "list") == 0) {
		s->ops->domain_list(s, print_row, NULL);
	} else if (strcmp(sub, "add") == 0 && c->argc == 2) {
		if (!s->ops->domain_add(s, c->argv[1], &err)) {
			cli_error("%s: %s", c->argv[1], err.data);
			rc = 1;
		} else if (!cli_dkim_first_keys(c->data, c->argv[1])) {
			rc = 1;
		} else {
			struct config cfg;
			cli_load_config(c, &cfg);
			char *d = xstrdup(c->argv[1]);
			for (char *p = d; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			if (!cli_print_dns_records(c->data, d, &cfg))
				rc = 1;
			free(d);
			config_free(&cfg);
		}
	} else if (strcmp(sub, "del") == 0 && c->argc == 2) {
		if (!s->ops->domain_del(s, c->argv[1], &err)) {
			cli_error("%s: %s", c->argv[1], err.data);
			rc = 1;
		}
	} else if (strcmp(sub, "catchall") == 0 && (c->argc == 3 || (c->argc == 2 && off))) {
		const char *target = off ? NULL : c->argv[2];
		if (target && !target_valid(s, target))
			rc = 1;
		else if (!s->ops->domain_set_catchall(s, c->argv[1], target, &err)) {
			cli_error("%s: %s", c->argv[1], err.data);
			rc = 1;
		}
	} else if (strcmp(sub, "set") == 0 && c->argc == 4 && cli_spam_key(c->argv[2])) {
		rc = cli_spam_set(s, c->argv[1], true, c->argv[2], c->argv[3]);
	} else {
		cli_error("usage: yubin domain add|del DOMAIN | list | "
			  "catchall DOMAIN TARGET|--off | set DOMAIN spam on|off|default | "
			  "set DOMAIN spam-threshold N|default | "
			  "set DOMAIN spam-allow|spam-block|spam-unlist SENDER|@DOMAIN");
		rc = 2;
	}
	s->ops->close(s);
	buf_free(&err);
	return rc;
}

int cmd_check(struct cli *c)
{
	struct store *s = cli_open_store(c);
	struct buf report = BUF_INIT;
	int64_t messages = 0, mailboxes = 0;
	bool ok = s->ops->check(s, &report, &messages, &mailboxes);
	s->ops->close(s);
	if (!ok) {
		fputs(report.data, stdout);
		printf("store has problems (see above)\n");
		buf_free(&report);
		return 1;
	}
	printf("store ok: %lld messages in %lld mailboxes\n", (long long)messages,
	       (long long)mailboxes);
	buf_free(&report);
	return 0;
}

static void print_audit_row(void *ctx, const char *const *cols, size_t n)
{
	if (n < 7)
		return;
	char when[40];
	format_time(cols[0], when, sizeof when);
	/* The account is what a client typed (a failed login stores it as sent): escaped here,
	 * so a name with a line break cannot print a made-up audit line. */
	printf("%s account=%s device=%s protocol=%s ip=%s tls=%s result=%s\n", when,
	       log_str(cols[1]), log_qstr(cols[2]), log_str(cols[3]), log_str(cols[4]),
	       cols[5] && strcmp(cols[5], "1") == 0 ? "yes" : "no", log_str(cols[6]));
}

int cmd_audit(struct cli *c)
{
	const char *account = cli_option(c, "--account");
	const char *limit = cli_option(c, "--limit");
	if (c->argc) {
		cli_error("usage: yubin audit [--account ADDRESS] [--limit N] --data DIR");
		return 2;
	}
	struct store *s = cli_open_store(c);
	s->ops->audit_list(s, account, limit ? atoll(limit) : 100, print_audit_row, NULL);
	s->ops->close(s);
	return 0;
}

int cmd_expire(struct cli *c)
{
	struct config cfg;
	cli_load_config(c, &cfg);
	struct store *s = cli_open_store(c);
	int64_t n = s->ops->expire(s, clock_now(), cfg.keep_days);
	s->ops->close(s);
	config_free(&cfg);
	if (n < 0) {
		cli_error("the expiry sweep failed (see the message above)");
		return 1;
	}
	printf("expunged %lld messages\n", (long long)n);
	return 0;
}
