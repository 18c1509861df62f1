/* The DNS records a domain needs, each with one sentence on what it is for: printed by init,
 * domain add, dkim rotate and `yubin dns DOMAIN`. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/buf.h"
#include "mailauth/dkim_keys.h"

static bool is_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0;
}

bool cli_print_dkim_record(const char *data_dir, const char *domain, const char *selector,
			   bool signing)
{
	struct buf txt = BUF_INIT, err = BUF_INIT, strs = BUF_INIT;
	const char *type = "";
	bool ok = dkim_keys_record(data_dir, domain, selector, &txt, &type, &err);
	if (!ok) {
		cli_error("%s", err.data);
	} else {
		dkim_record_strings(txt.data, txt.len, " ", &strs);
		printf("  %s._domainkey.%s.  TXT  %s\n", selector, domain, strs.data);
		printf("      DKIM (%s key%s): the public key receiving servers use to check the "
		       "signature yubin puts on mail from @%s.\n",
		       strcmp(type, "rsa") == 0 ? "RSA" : "Ed25519",
		       signing ? ", signing now" : ", not signing yet", domain);
	}
	buf_free(&txt);
	buf_free(&err);
	buf_free(&strs);
	return ok;
}

/* Every key of the domain that is not retired, signing or not: a new key's record must be
 * published before it signs, an old one's until mail it signed has been checked. */
static bool print_dkim_records(const char *data_dir, const char *domain)
{
	size_t n, ns;
	char **sel = dkim_keys_selectors(data_dir, domain, &n);
	char **signing = dkim_keys_signing(data_dir, domain, &ns);
	bool ok = true;
	for (size_t i = 0; i < n; i++) {
		bool used = false;
		for (size_t k = 0; k < ns; k++)
			used |= strcmp(signing[k], sel[i]) == 0;
		ok &= cli_print_dkim_record(data_dir, domain, sel[i], used);
	}
	if (n == 0)
		printf("  (no DKIM keys for %s: make them with \"yubin dkim rotate %s\")\n", domain,
		       domain);
	dkim_strings_free(sel, n);
	dkim_strings_free(signing, ns);
	return ok;
}

bool cli_print_dns_records(const char *data_dir, const char *domain, const struct config *cfg)
{
	const char *hostname = cfg->hostname, *listen = cfg->listen ? cfg->listen : "";
	char first[64];
	snprintf(first, sizeof first, "%.*s", (int)strcspn(listen, ","), listen);
	bool v6 = strchr(first, ':') != NULL;
	bool public_addr = first[0] && !is_loopback(first) && strcmp(first, "0.0.0.0") != 0 &&
			   strcmp(first, "::") != 0;
	printf("\nAdd these DNS records for %s at your DNS provider:\n\n", domain);
	printf("  %s.  MX    10 %s.\n", domain, hostname);
	printf("      Mail for @%s is delivered to %s.\n", domain, hostname);
	printf("  %s.  %-4s  %s\n", hostname, v6 ? "AAAA" : "A",
	       public_addr ? first : "<this server's public IP address>");
	printf("      Where %s is: the address other mail servers and your staff's devices reach.\n",
	       hostname);
	if (!v6)
		printf("  %s.  AAAA  <public IPv6 address>   (only if the server has IPv6)\n", hostname);

	/* SPF: this domain's MX sends its mail; with a smarthost, the smarthost does too. */
	char relay[256] = "";
	if (cfg->smarthost && cfg->smarthost[0]) {
		snprintf(relay, sizeof relay, "%s", cfg->smarthost);
		if (relay[0] == '[') { /* [host]:port */
			memmove(relay, relay + 1, strlen(relay));
			relay[strcspn(relay, "]")] = '\0';
		} else {
			char *colon = strrchr(relay, ':');
			if (colon && strchr(relay, ':') == colon)
				*colon = '\0';
		}
	}
	if (relay[0]) {
		printf("  %s.  TXT   \"v=spf1 mx a:%s -all\"\n", domain, relay);
		printf("      SPF: only this server (the domain's MX) and your relay %s may send mail "
		       "from @%s (if your provider documents an SPF include, such as "
		       "include:_spf.provider.example, use it instead of a:%s).\n", relay, domain,
		       relay);
	} else {
		printf("  %s.  TXT   \"v=spf1 mx -all\"\n", domain);
		printf("      SPF: only this server (the domain's MX) may send mail from @%s; other "
		       "servers may refuse mail that claims to be from it but comes from elsewhere.\n",
		       domain);
	}
	bool ok = print_dkim_records(data_dir, domain);
	printf("  _dmarc.%s.  TXT  \"v=DMARC1; p=none; rua=mailto:dmarc-reports@%s\"\n", domain,
	       domain);
	printf("      DMARC: asks receivers to check that SPF or DKIM match the From address and "
	       "to send daily reports to dmarc-reports@%s (make that address an account or alias); "
	       "p=none only watches: change it to p=quarantine, then p=reject, once the reports "
	       "show all your mail passes.\n", domain);
	printf("\nUntil the MX and A records exist, mail from outside cannot reach this server; "
	       "without SPF and DKIM, other servers may file its mail as spam.\n");
	return ok;
}

int cmd_dns(struct cli *c)
{
	if (c->argc != 1) {
		cli_error("usage: yubin dns DOMAIN --data DIR");
		return 2;
	}
	struct config cfg;
	cli_load_config(c, &cfg);
	char domain[256];
	snprintf(domain, sizeof domain, "%s", c->argv[0]);
	for (char *p = domain; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	int rc = 0;
	if (!dkim_domain_name_ok(domain)) {
		cli_error("\"%s\" is not a domain name", c->argv[0]);
		rc = 2;
	} else {
		rc = cli_print_dns_records(c->data, domain, &cfg) ? 0 : 1;
	}
	config_free(&cfg);
	return rc;
}
