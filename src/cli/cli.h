/* Shared pieces of the subcommands: argument lookup, the data directory, privileges. */
#ifndef YUBIN_CLI_H
#define YUBIN_CLI_H
#include <stdbool.h>
#include <sys/types.h>

#include "lib/config.h"
#include "store/store.h"

struct cli {
	int argc;
	char **argv;      /* positional arguments after the subcommand words; options removed */
	const char *data; /* --data */
};

/* Value of --name VALUE (removed from argv), or NULL. */
const char *cli_option(struct cli *c, const char *name);
/* True when --name is present (removed from argv). */
bool cli_flag(struct cli *c, const char *name);
/* Prints "yubin: <sentence>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Loads DIR/yubin.conf; exits with a sentence when it cannot. */
void cli_load_config(struct cli *c, struct config *cfg);
/* When running as root, become the user that owns the data directory (or cfg->user), so
 * files the store creates stay readable by the server. Exits when that is impossible. */
void cli_become_data_owner(const char *data_dir, const struct config *cfg, bool refuse_root);
/* Opens the store of the data directory, or exits with a sentence. */
struct store *cli_open_store(struct cli *c);
/* Reads one password line from stdin if it is not a terminal; else generates one and
 * prints it. Returns a malloc'd string. */
char *cli_read_or_make_password(void);

/* DNS records (cli/dns.c): every record domain needs, each with a sentence; one DKIM key's
 * TXT record. false when a key could not be read (said on stderr). */
bool cli_print_dns_records(const char *data_dir, const char *domain, const struct config *cfg);
bool cli_print_dkim_record(const char *data_dir, const char *domain, const char *selector,
			   bool signing);
/* A new domain's first DKIM pair (cli/dkim.c), made and put to signing; says so. */
bool cli_dkim_first_keys(const char *data_dir, const char *domain);

int cmd_init(struct cli *c);
int cmd_serve(struct cli *c);
int cmd_account(struct cli *c);
int cmd_alias(struct cli *c);
int cmd_domain(struct cli *c);
int cmd_export(struct cli *c);
int cmd_check(struct cli *c);
int cmd_audit(struct cli *c);
int cmd_expire(struct cli *c);
int cmd_queue(struct cli *c);
int cmd_dkim(struct cli *c);
int cmd_dns(struct cli *c);
int cmd_report(struct cli *c);
int cmd_spam(struct cli *c);

/* Spam settings (cli/spam.c): is key one of them (spam, spam-threshold, spam-allow,
 * spam-block, spam-unlist); set it for an account or a domain, say so, return the exit status;
 * the account's lines for account show; the rspamd init finds on this machine (or NULL). */
bool cli_spam_key(const char *key);
int cli_spam_set(struct store *s, const char *name, bool domain, const char *key,
		 const char *value);
void cli_spam_show_account(struct store *s, const struct account *a, const struct config *cfg);
const char *cli_rspamd_probe(void);

#endif
