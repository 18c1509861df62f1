/* yubin: one binary, subcommands. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/password.h"
#include "cli/cli.h"
#include "lib/alloc.h"
#include "lib/buf.h"

static const char usage[] =
	"usage: yubin COMMAND [ARGS] --data DIR\n"
	"\n"
	"  init --domain D [--hostname H] [--listen ADDR] [--port-offset N] [--cert F --key F]\n"
	"                        create a data directory and print the DNS records to add\n"
	"  serve                 run the mail server in the foreground\n"
	"  account add|del|passwd|list [ADDRESS]   manage mailboxes (password from stdin)\n"
	"  alias add ALIAS TARGET... | del ALIAS [TARGET] | list\n"
	"  domain add|del D | list | catchall D TARGET|--off | set D KEY VALUE\n"
	"  dns DOMAIN            print the DNS records DOMAIN needs (MX, SPF, DKIM, DMARC)\n"
	"  dkim list [DOMAIN] | rotate DOMAIN | use DOMAIN SELECTOR... | retire DOMAIN SELECTOR\n"
	"  export ADDRESS [--mailbox NAME] (--mbox FILE | --maildir DIR)\n"
	"  account app-password add ADDRESS --label L | list ADDRESS | revoke ADDRESS LABEL\n"
	"  account set ADDRESS pop3-delete|account-password|keep-days|save-sent VALUE;\n"
	"                        account show ADDRESS\n"
	"  account set ADDRESS|domain set DOMAIN spam on|off|default | spam-threshold N|default\n"
	"                        | spam-allow|spam-block|spam-unlist SENDER|@DOMAIN\n"
	"  spam status           scanning, rspamd's health, what the filter did\n"
	"  audit [--account ADDRESS] [--limit N]   the login audit log\n"
	"  expire                run the keep-days sweep now\n"
	"  queue list | show ID | retry ID | flush | delete ID   mail waiting for other domains\n"
	"  report dmarc [--domain D] [--since 7d] | --send-now   DMARC reports in plain words\n"
	"  check                 verify the store's consistency\n";

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("yubin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *cli_option(struct cli *c, const char *name)
{
	for (int i = 0; i + 1 < c->argc; i++)
		if (strcmp(c->argv[i], name) == 0) {
			const char *v = c->argv[i + 1];
			memmove(&c->argv[i], &c->argv[i + 2], (size_t)(c->argc - i - 2) * sizeof(char *));
			c->argc -= 2;
			return v;
		}
	return NULL;
}

bool cli_flag(struct cli *c, const char *name)
{
	for (int i = 0; i < c->argc; i++)
		if (strcmp(c->argv[i], name) == 0) {
			memmove(&c->argv[i], &c->argv[i + 1], (size_t)(c->argc - i - 1) * sizeof(char *));
			c->argc -= 1;
			return true;
		}
	return false;
}

void cli_load_config(struct cli *c, struct config *cfg)
{
	config_defaults(cfg);
	struct buf path = BUF_INIT, err = BUF_INIT;
	buf_printf(&path, "%s/yubin.conf", c->data);
	if (!config_load(cfg, path.data, &err)) {
		cli_error("%s", err.data);
		exit(1);
	}
	buf_free(&path);
	buf_free(&err);
}

void cli_become_data_owner(const char *data_dir, const struct config *cfg, bool refuse_root)
{
	if (geteuid() != 0)
		return;
	uid_t uid;
	gid_t gid;
	if (cfg && cfg->user && cfg->user[0]) {
		struct passwd *pw = getpwnam(cfg->user);
		if (!pw) {
			cli_error("the user \"%s\" (setting user) does not exist; create it with "
				  "\"adduser --system %s\" or change the setting", cfg->user, cfg->user);
			exit(1);
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	} else {
		struct stat st;
		if (stat(data_dir, &st) < 0) {
			cli_error("cannot use the data directory %s: %s", data_dir, strerror(errno));
			exit(1);
		}
		uid = st.st_uid;
		gid = st.st_gid;
	}
	if (uid == 0) {
		if (!refuse_root)
			return;
		cli_error("refusing to serve mail as root: give the data directory to an unprivileged "
			  "user (e.g. \"chown -R nobody: %s\") or set \"user\" in yubin.conf", data_dir);
		exit(1);
	}
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		cli_error("cannot drop privileges to uid %u: %s", (unsigned)uid, strerror(errno));
		exit(1);
	}
}

struct store *cli_open_store(struct cli *c)
{
	struct config cfg;
	cli_load_config(c, &cfg);
	config_free(&cfg);
	struct buf err = BUF_INIT;
	struct store *s = store_open_sqlite(c->data, false, &err);
	if (!s) {
		cli_error("%s", err.data);
		exit(1);
	}
	/* Run as root, SQLite may just have created its -wal and -shm files: hand them to the
	 * data directory's owner, or the server (which runs as that user) could not open them. */
	struct stat st;
	if (geteuid() == 0 && stat(c->data, &st) == 0 && st.st_uid != 0) {
		const char *suffixes[] = { "store.db", "store.db-wal", "store.db-shm" };
		for (size_t i = 0; i < 3; i++) {
			struct buf p = BUF_INIT;
			buf_printf(&p, "%s/%s", c->data, suffixes[i]);
			if (chown(p.data, st.st_uid, st.st_gid) < 0 && errno != ENOENT)
				cli_error("cannot give %s to uid %u: %s", p.data, (unsigned)st.st_uid,
					  strerror(errno));
			buf_free(&p);
		}
	}
	return s;
}

char *cli_read_or_make_password(void)
{
	if (!isatty(STDIN_FILENO)) {
		char line[1024];
		if (fgets(line, sizeof line, stdin)) {
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0])
				return xstrdup(line);
		}
	}
	char pw[17];
	password_generate(pw, sizeof pw);
	printf("password: %s\n", pw);
	return xstrdup(pw);
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	static const struct {
		const char *name;
		int (*run)(struct cli *);
	} commands[] = {
		{ "init", cmd_init }, { "serve", cmd_serve }, { "account", cmd_account },
		{ "alias", cmd_alias }, { "domain", cmd_domain }, { "export", cmd_export },
		{ "check", cmd_check }, { "audit", cmd_audit }, { "expire", cmd_expire },
		{ "queue", cmd_queue }, { "dkim", cmd_dkim }, { "dns", cmd_dns },
		{ "report", cmd_report }, { "spam", cmd_spam },
	};
	struct cli c = { .argc = argc - 2, .argv = xcalloc((size_t)argc, sizeof(char *)) };
	memcpy(c.argv, argv + 2, (size_t)(argc - 2) * sizeof(char *));
	c.data = cli_option(&c, "--data");
	if (!c.data)
		c.data = getenv("YUBIN_DATA");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		if (!c.data) {
			cli_error("say which data directory to use: --data DIR");
			return 2;
		}
		int rc = commands[i].run(&c);
		free(c.argv);
		return rc;
	}
	cli_error("unknown command \"%s\"\n%s", argv[1], usage);
	return 2;
}
