/* yubin dkim list|rotate|use|retire: the signing keys of each domain (mailauth/dkim_keys.h). */
#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "mailauth/dkim_keys.h"

static uid_t owner_uid;
static gid_t owner_gid;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return lchown(path, owner_uid, owner_gid) < 0 ? -1 : 0;
}

/* Run as root, the files just made belong to root: give them to the data directory's owner,
 * who runs the server and must read them. */
static void give_to_owner(const char *data_dir)
{
	struct stat st;
	if (geteuid() != 0 || stat(data_dir, &st) != 0 || st.st_uid == 0)
		return;
	owner_uid = st.st_uid;
	owner_gid = st.st_gid;
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/dkim", data_dir);
	if (nftw(p.data, chown_one, 16, FTW_PHYS) != 0)
		cli_error("cannot give %s to uid %u: %s", p.data, (unsigned)owner_uid, strerror(errno));
	buf_free(&p);
}

static void lower(char *out, size_t size, const char *in)
{
	snprintf(out, size, "%s", in);
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

bool cli_dkim_first_keys(const char *data_dir, const char *domain_in)
{
	char domain[256];
	lower(domain, sizeof domain, domain_in);
	char rsa[DKIM_SELECTOR_MAX], ed[DKIM_SELECTOR_MAX];
	struct buf err = BUF_INIT;
	bool ok = dkim_keys_generate(data_dir, domain, (time_t)clock_now(), rsa, ed, &err);
	if (ok) {
		char *sel[] = { rsa, ed };
		ok = dkim_keys_set_signing(data_dir, domain, sel, 2, &err);
	}
	if (!ok)
		cli_error("DKIM keys for %s: %s", domain, err.data);
	else
		printf("Made DKIM keys %s (RSA-2048) and %s (Ed25519) for %s in %s/dkim/%s; mail "
		       "from @%s is signed with both.\n", rsa, ed, domain, data_dir, domain, domain);
	give_to_owner(data_dir);
	buf_free(&err);
	return ok;
}

static const char reload_note[] =
	"A running server uses the change after SIGHUP (kill -HUP <pid of yubin serve>).\n";

static bool in_list(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static int dkim_list(struct cli *c, const char *only)
{
	size_t nd;
	char **domains = dkim_keys_domains(c->data, &nd);
	bool found = false;
	for (size_t i = 0; i < nd; i++) {
		if (only && strcmp(only, domains[i]) != 0)
			continue;
		size_t n, ns;
		char **sel = dkim_keys_selectors(c->data, domains[i], &n);
		char **signing = dkim_keys_signing(c->data, domains[i], &ns);
		for (size_t k = 0; k < n; k++) {
			struct buf txt = BUF_INIT, err = BUF_INIT;
			const char *type = "?";
			if (!dkim_keys_record(c->data, domains[i], sel[k], &txt, &type, &err))
				type = "unreadable";
			printf("%s\t%s\t%s\t%s\n", domains[i], sel[k], type,
			       in_list(signing, ns, sel[k]) ? "signing" : "ready");
			found = true;
			buf_free(&txt);
			buf_free(&err);
		}
		/* A selector named in the signing file without its key: the server leaves the
		 * domain unsigned, so say it here too. */
		for (size_t k = 0; k < ns; k++)
			if (!in_list(sel, n, signing[k]))
				printf("%s\t%s\tmissing\tsigning (its key file is missing: mail from %s "
				       "goes out unsigned)\n", domains[i], signing[k], domains[i]);
		dkim_strings_free(sel, n);
		dkim_strings_free(signing, ns);
	}
	dkim_strings_free(domains, nd);
	if (only && !found) {
		cli_error("%s has no DKIM keys (make them with: yubin dkim rotate %s)", only, only);
		return 1;
	}
	return 0;
}

struct find_domain {
	const char *want;
	bool found;
};

static void match_domain(void *ctx, const char *const *cols, size_t n)
{
	struct find_domain *f = ctx;
	if (n > 0 && cols[0] && strcasecmp(cols[0], f->want) == 0)
		f->found = true;
}

static int dkim_rotate(struct cli *c, const char *domain)
{
	/* Keys only for our own domains: a typo would otherwise make a directory of keys
	 * nobody uses. */
	struct store *s = cli_open_store(c);
	struct find_domain f = { domain, false };
	s->ops->domain_list(s, match_domain, &f);
	s->ops->close(s);
	if (!f.found) {
		cli_error("%s is not one of this server's domains (yubin domain list)", domain);
		return 1;
	}
	size_t ns;
	char **signing = dkim_keys_signing(c->data, domain, &ns);
	char rsa[DKIM_SELECTOR_MAX], ed[DKIM_SELECTOR_MAX];
	struct buf err = BUF_INIT;
	int rc = 0;
	if (!dkim_keys_generate(c->data, domain, (time_t)clock_now(), rsa, ed, &err)) {
		cli_error("%s", err.data);
		rc = 1;
	} else if (ns == 0) {
		/* Nothing signs yet (a domain from before DKIM keys): the first pair signs now. */
		char *sel[] = { rsa, ed };
		if (!dkim_keys_set_signing(c->data, domain, sel, 2, &err)) {
			cli_error("%s", err.data);
			rc = 1;
		} else {
			printf("Made DKIM keys %s (RSA-2048) and %s (Ed25519) for %s; nothing signed "
			       "mail from @%s before, so these sign from now on.\n%s"
			       "Publish these records:\n\n", rsa, ed, domain, domain, reload_note);
			cli_print_dkim_record(c->data, domain, rsa, true);
			cli_print_dkim_record(c->data, domain, ed, true);
		}
	} else {
		printf("Made DKIM keys %s (RSA-2048) and %s (Ed25519) for %s. Mail is still signed "
		       "with", rsa, ed, domain);
		for (size_t i = 0; i < ns; i++)
			printf(" %s", signing[i]);
		printf(".\n\nPublish these records first:\n\n");
		cli_print_dkim_record(c->data, domain, rsa, false);
		cli_print_dkim_record(c->data, domain, ed, false);
		printf("\nOnce they are visible in DNS (wait a day to be safe), switch with:\n"
		       "  yubin dkim use %s %s %s\n"
		       "and a few days later, when mail signed with the old keys has been delivered, "
		       "retire them (yubin dkim retire %s SELECTOR) and remove their records.\n",
		       domain, rsa, ed, domain);
	}
	give_to_owner(c->data);
	dkim_strings_free(signing, ns);
	buf_free(&err);
	return rc;
}

static int dkim_use(struct cli *c, const char *domain, char **sel, size_t n)
{
	struct buf err = BUF_INIT;
	int rc = 0;
	if (!dkim_keys_set_signing(c->data, domain, sel, n, &err)) {
		cli_error("%s; nothing changed", err.data);
		rc = 1;
	} else {
		printf("Mail from @%s is now signed with", domain);
		for (size_t i = 0; i < n; i++)
			printf(" %s", sel[i]);
		printf(".\nTheir DNS records must already be published (yubin dns %s shows them): "
		       "until receivers can find them, every signature fails.\n%s", domain,
		       reload_note);
	}
	give_to_owner(c->data);
	buf_free(&err);
	return rc;
}

static int dkim_retire(struct cli *c, const char *domain, const char *selector)
{
	struct buf err = BUF_INIT;
	int rc = 0;
	if (!dkim_keys_retire(c->data, domain, selector, &err)) {
		cli_error("%s", err.data);
		rc = 1;
	} else {
		printf("Retired %s of %s (the key file is now in %s/dkim/%s/retired/). You can remove "
		       "the DNS record %s._domainkey.%s.\n", selector, domain, c->data, domain,
		       selector, domain);
	}
	give_to_owner(c->data);
	buf_free(&err);
	return rc;
}

int cmd_dkim(struct cli *c)
{
	const char *sub = c->argc > 0 ? c->argv[0] : "";
	struct config cfg;
	cli_load_config(c, &cfg);
	config_free(&cfg);
	char domain[256] = "";
	if (c->argc > 1) {
		lower(domain, sizeof domain, c->argv[1]);
		if (!dkim_domain_name_ok(domain)) {
			cli_error("\"%s\" is not a domain name", c->argv[1]);
			return 2;
		}
	}
	if (strcmp(sub, "list") == 0 && c->argc <= 2)
		return dkim_list(c, c->argc == 2 ? domain : NULL);
	if (strcmp(sub, "rotate") == 0 && c->argc == 2)
		return dkim_rotate(c, domain);
	if (strcmp(sub, "use") == 0 && c->argc >= 3)
		return dkim_use(c, domain, c->argv + 2, (size_t)(c->argc - 2));
	if (strcmp(sub, "retire") == 0 && c->argc == 3)
		return dkim_retire(c, domain, c->argv[2]);
	cli_error("usage: yubin dkim list [DOMAIN] | rotate DOMAIN | use DOMAIN SELECTOR... | "
		  "retire DOMAIN SELECTOR");
	return 2;
}
