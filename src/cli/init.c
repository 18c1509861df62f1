/* yubin init: a data directory that works at once, and the DNS records to publish. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/buf.h"
#include "net/tls.h"

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return lchown(path, chown_uid, chown_gid) < 0 ? -1 : 0;
}

static bool write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0)
		return false;
	bool ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
	return close(fd) == 0 && ok;
}

int cmd_init(struct cli *c)
{
	const char *domain = cli_option(c, "--domain");
	const char *hostname = cli_option(c, "--hostname");
	const char *listen = cli_option(c, "--listen");
	const char *offset = cli_option(c, "--port-offset");
	const char *cert = cli_option(c, "--cert");
	const char *key = cli_option(c, "--key");
	const char *user = cli_option(c, "--user");
	const char *resolver = cli_option(c, "--resolver");
	if (!domain || c->argc || (!cert) != (!key)) {
		cli_error("usage: yubin init --data DIR --domain D [--hostname H] [--listen ADDR] "
			  "[--port-offset N] [--cert FILE --key FILE] [--user NAME] [--resolver ADDR@PORT]");
		return 2;
	}
	struct buf host = BUF_INIT, path = BUF_INIT, conf = BUF_INIT, err = BUF_INIT;
	struct buf dir = BUF_INIT, certp = BUF_INIT, keyp = BUF_INIT;
	int rc = 0;
	if (hostname)
		buf_append_str(&host, hostname);
	else
		buf_printf(&host, "mail.%s", domain);
	if (!listen)
		listen = "127.0.0.1";

	if (mkdir(c->data, 0750) < 0 && errno != EEXIST) {
		cli_error("cannot create %s: %s", c->data, strerror(errno));
		rc = 1;
		goto out;
	}
	buf_printf(&path, "%s/yubin.conf", c->data);
	if (access(path.data, F_OK) == 0) {
		cli_error("%s is already set up (it has yubin.conf); use another directory or remove it",
			  c->data);
		rc = 1;
		goto out;
	}
	const char *overrides[20];
	size_t n = 0;
	overrides[n++] = "hostname";
	overrides[n++] = host.data;
	overrides[n++] = "listen";
	overrides[n++] = listen;
	if (offset) {
		overrides[n++] = "port-offset";
		overrides[n++] = offset;
	}
	if (resolver) {
		overrides[n++] = "resolver";
		overrides[n++] = resolver;
	}
	if (cert) {
		overrides[n++] = "tls-cert";
		overrides[n++] = cert;
		overrides[n++] = "tls-key";
		overrides[n++] = key;
	}
	/* An rspamd already running here (Debian's rspamd package listens on 11333): scanning
	 * goes on at once. A second at most; nothing changes when none answers. */
	const char *rspamd = cli_rspamd_probe();
	if (rspamd) {
		overrides[n++] = "rspamd-url";
		overrides[n++] = rspamd;
	}
	overrides[n++] = NULL;
	overrides[n] = NULL;
	config_write_default(&conf, overrides);
	/* Parse what we wrote: a bad --port-offset is caught before anything else is made. */
	struct config cfg;
	config_defaults(&cfg);
	if (!config_parse(&cfg, conf.data, conf.len, &err)) {
		cli_error("%s", err.data);
		config_free(&cfg);
		rc = 2;
		goto out;
	}
	config_free(&cfg);
	if (!write_file(path.data, conf.data, conf.len, 0640)) {
		cli_error("cannot write %s: %s", path.data, strerror(errno));
		rc = 1;
		goto out;
	}
	if (!cert) {
		buf_printf(&dir, "%s/tls", c->data);
		buf_printf(&certp, "%s/tls/cert.pem", c->data);
		buf_printf(&keyp, "%s/tls/key.pem", c->data);
		if ((mkdir(dir.data, 0750) < 0 && errno != EEXIST) ||
		    !tls_write_self_signed(host.data, certp.data, keyp.data, &err)) {
			cli_error("cannot create the TLS certificate: %s", err.len ? err.data : strerror(errno));
			rc = 1;
		goto out;
		}
		printf("Created a self-signed certificate for %s (devices will warn until you install "
		       "one from a certificate authority: set tls-cert and tls-key).\n", host.data);
	}
	struct store *s = store_open_sqlite(c->data, true, &err);
	if (!s || !s->ops->domain_add(s, domain, &err)) {
		cli_error("cannot create the store: %s", err.data);
		if (s)
			s->ops->close(s);
		rc = 1;
		goto out;
	}
	s->ops->close(s);
	/* Before the ownership change below, so the keys go to the server's user too. */
	if (!cli_dkim_first_keys(c->data, domain)) {
		rc = 1;
		goto out;
	}

	if (geteuid() == 0) {
		/* The server drops root after binding its ports; the data must belong to that user. */
		struct passwd *pw = getpwnam(user ? user : "yubin");
		if (!pw && !user)
			pw = getpwnam("nobody");
		if (!pw) {
			cli_error("no such user \"%s\"", user);
			rc = 1;
		goto out;
		}
		chown_uid = pw->pw_uid;
		chown_gid = pw->pw_gid;
		if (nftw(c->data, chown_one, 16, FTW_PHYS) != 0) {
			cli_error("cannot give %s to %s: %s", c->data, pw->pw_name, strerror(errno));
			rc = 1;
		goto out;
		}
		printf("The data directory belongs to %s; the server runs as that user.\n", pw->pw_name);
	}
	printf("Initialised %s for %s (server name %s).\n", c->data, domain, host.data);
	if (rspamd)
		printf("Found rspamd at %s: mail from other servers is scanned for spam and "
		       "viruses (rspamd-url in yubin.conf; yubin spam status shows how it goes).\n",
		       rspamd);
	else
		printf("No rspamd answered at 127.0.0.1:11333, so spam scanning is off; to turn it "
		       "on: apt-get install rspamd clamav-daemon, then set rspamd-url = "
		       "http://127.0.0.1:11333 in yubin.conf and restart yubin.\n");
	char ldomain[256];
	snprintf(ldomain, sizeof ldomain, "%s", domain);
	for (char *p = ldomain; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	struct config shown;
	config_defaults(&shown);
	struct buf e2 = BUF_INIT;
	if (config_parse(&shown, conf.data, conf.len, &e2) &&
	    !cli_print_dns_records(c->data, ldomain, &shown))
		rc = 1;
	config_free(&shown);
	buf_free(&e2);
out:
	buf_free(&path);
	buf_free(&conf);
	buf_free(&err);
	buf_free(&host);
	buf_free(&dir);
	buf_free(&certp);
	buf_free(&keyp);
	return rc;
}
