/* yubin account / alias / domain / check: the operator's view of the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "cli/cli.h"
#include "lib/buf.h"
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

int cmd_account(struct cli *c)
{
	const char *sub = c->argc > 0 ? c->argv[0] : "";
	struct store *s = cli_open_store(c);
	struct buf err = BUF_INIT;
	int rc = 0;
	if (strcmp(sub, "list") == 0) {
		s->ops->account_list(s, print_account_row, NULL);
	} else if (c->argc == 2 && (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0)) {
		struct smtp_address a;
		if (!address_valid(c->argv[1], &a))
			return 1;
		if (!domain_is_local(s, a.domain)) {
			cli_error("%s is not a domain of this server; add it first: yubin domain add %s",
				  a.domain, a.domain);
			return 1;
		}
		char *pw = cli_read_or_make_password();
		char *hash = password_hash(pw);
		free(pw);
		if (!hash) {
			cli_error("cannot hash the password");
			return 1;
		}
		bool ok;
		if (strcmp(sub, "add") == 0) {
			struct config cfg;
			cli_load_config(c, &cfg);
			ok = s->ops->account_add(s, c->argv[1], hash, cfg.default_quota, &err);
			config_free(&cfg);
		} else {
			ok = s->ops->account_set_password(s, c->argv[1], hash, &err);
		}
		free(hash);
		if (!ok) {
			cli_error("%s: %s", c->argv[1], err.data);
			rc = 1;
		} else {
			printf("%s %s\n", sub[0] == 'a' ? "added" : "password changed for", c->argv[1]);
		}
	} else if (c->argc == 2 && strcmp(sub, "del") == 0) {
		if (!s->ops->account_del(s, c->argv[1], &err)) {
			cli_error("%s: %s", c->argv[1], err.data);
			rc = 1;
		} else {
			printf("deleted %s and all its mail\n", c->argv[1]);
		}
	} else {
		cli_error("usage: yubin account add|del|passwd ADDRESS | list  --data DIR");
		rc = 2;
	}
	s->ops->close(s);
	buf_free(&err);
	return rc;
}

/* A target is fine when it is a local account or alias (forwarding to other domains needs
 * outbound delivery, which this server does not do yet). */
static bool target_valid(struct store *s, const char *target)
{
	struct smtp_address a;
	if (!address_valid(target, &a))
		return false;
	if (!domain_is_local(s, a.domain)) {
		cli_error("%s is not in a domain of this server; forwarding to other domains is not "
			  "supported yet", target);
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
		if (!address_valid(c->argv[1], &a))
			return 1;
		if (!domain_is_local(s, a.domain)) {
			cli_error("%s is not a domain of this server", a.domain);
			return 1;
		}
		if (s->ops->account_get(s, c->argv[1], &acct)) {
			account_free(&acct);
			cli_error("%s is an account; an alias cannot have the same address", c->argv[1]);
			return 1;
		}
		for (int i = 2; i < c->argc; i++) {
			if (!target_valid(s, c->argv[i])) {
				rc = 1;
				continue;
			}
			size_t n = 0;
			struct account t;
			bool exists = s->ops->account_get(s, c->argv[i], &t);
			if (exists)
				account_free(&t);
			else
				s->ops->alias_targets(s, c->argv[i], count_row, &n);
			if (!exists && n == 0)
				printf("note: %s is neither an account nor an alias yet\n", c->argv[i]);
			buf_reset(&err);
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
	} else {
		cli_error("usage: yubin domain add|del DOMAIN | list | catchall DOMAIN TARGET|--off");
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
		return 1;
	}
	printf("store ok: %lld messages in %lld mailboxes\n", (long long)messages,
	       (long long)mailboxes);
	buf_free(&report);
	return 0;
}
