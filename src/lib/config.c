#include "lib/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/cidr.h"

enum setting_type { SETTING_STRING, SETTING_NUMBER };

struct setting {
	const char *name;
	enum setting_type type;
	size_t offset;
	const char *default_value;
	long min, max;
	const char *help;
	const char *choices; /* "a|b|c" for strings that take one of a few words */
};

#define STR(field) SETTING_STRING, offsetof(struct config, field)
#define NUM(field) SETTING_NUMBER, offsetof(struct config, field)

static const struct setting settings[] = {
	{ "hostname", STR(hostname), "localhost", 0, 0,
	  "Name of this server: greeting, Received headers, certificate. DNS must point it here." },
	{ "listen", STR(listen), "127.0.0.1", 0, 0,
	  "Addresses to listen on, comma separated (0.0.0.0 and :: for all)." },
	{ "port-offset", NUM(port_offset), "0", 0, 60000,
	  "Added to every standard port (10000: SMTP on 10025). Lets a non-root demo run." },
	{ "smtp-port", NUM(smtp_port), "25", 1, 65535,
	  "Port for incoming mail from other servers (before port-offset)." },
	{ "submission-port", NUM(submission_port), "587", 0, 65535,
	  "Port where staff's mail apps send (STARTTLS, then log in); 0 turns it off." },
	{ "submissions-port", NUM(submissions_port), "465", 0, 65535,
	  "Port where mail apps send over TLS from the start (RFC 8314); 0 turns it off." },
	{ "pop3-port", NUM(pop3_port), "110", 0, 65535,
	  "Port for POP3 with STLS (before port-offset); 0 turns it off." },
	{ "pop3s-port", NUM(pop3s_port), "995", 0, 65535,
	  "Port for POP3 over TLS (before port-offset); 0 turns it off." },
	{ "imap-port", NUM(imap_port), "143", 0, 65535,
	  "Port for IMAP with STARTTLS (before port-offset); 0 turns it off." },
	{ "imaps-port", NUM(imaps_port), "993", 0, 65535,
	  "Port for IMAP over TLS (before port-offset); 0 turns it off." },
	{ "user", STR(user), "", 0, 0,
	  "When started as root, run as this user after binding ports (empty: the data directory's owner)." },
	{ "tls-cert", STR(tls_cert), "tls/cert.pem", 0, 0,
	  "Certificate chain (PEM), relative to the data directory. Its names must include hostname." },
	{ "tls-key", STR(tls_key), "tls/key.pem", 0, 0, "Private key (PEM) for tls-cert." },
	{ "max-message-size", NUM(max_message_size), "26214400", 1024, 1L << 40,
	  "Largest message accepted, in bytes (advertised as SIZE; 552 5.3.4 when exceeded)." },
	{ "max-recipients", NUM(max_recipients), "100", 1, 100000,
	  "Recipients per message; more get 452 4.5.3 and the sender retries them later." },
	{ "max-command-line", NUM(max_command_line), "2048", 512, 1L << 20,
	  "Longest SMTP command line in bytes; longer gets 500 5.5.2." },
	{ "max-text-line", NUM(max_text_line), "65536", 1000, 1L << 30,
	  "Longest line inside a message; a longer one gets 500 5.5.2 after the data." },
	{ "max-header-size", NUM(max_header_size), "262144", 1024, 1L << 30,
	  "Largest header block of a message in bytes; larger gets 552 5.3.4." },
	{ "max-hops", NUM(max_hops), "50", 5, 1000,
	  "Most Received headers a message may carry (ours included); more means it is going round "
	  "in a loop between servers and gets 554 5.4.6." },
	{ "max-connections", NUM(max_connections), "1000", 1, 1000000,
	  "Simultaneous connections in total, every service together; more get 421 4.7.0 "
	  "(IMAP, POP3: BYE / -ERR)." },
	{ "max-connections-per-ip", NUM(max_connections_per_ip), "50", 1, 1000000,
	  "Simultaneous connections from one address, every service together; more are refused." },
	{ "smtp-reserved-connections", NUM(smtp_reserved_connections), "100", 0, 1000000,
	  "Of max-connections, slots only port 25 (mail from other servers) may use: IMAP, POP3 "
	  "and submission together get the rest, so idle mail apps cannot make incoming mail wait." },
	{ "max-errors", NUM(max_errors), "10", 1, 10000,
	  "Errors a client may make in one session before it gets 421 4.7.0 and is disconnected." },
	{ "command-timeout", NUM(command_timeout), "300", 1, 86400,
	  "Seconds a client may stay silent before it gets 421 4.4.2 and is disconnected." },
	{ "drain-time", NUM(drain_time), "3", 1, 300,
	  "Seconds a stop (SIGTERM) waits for sessions to finish what they are doing before "
	  "closing them; the process exits at most 2 seconds after that, whatever is running." },
	{ "login-timeout", NUM(login_timeout), "60", 1, 86400,
	  "Seconds an IMAP or POP3 client (or one on the submission ports, if shorter than "
	  "command-timeout) may stay silent before logging in; after login the RFC minimums "
	  "apply (IMAP 30 minutes, POP3 10 minutes, or command-timeout if longer)." },
	{ "session-timeout", NUM(session_timeout), "1800", 10, 86400,
	  "Seconds one SMTP session may last in all (slow senders get 421 4.4.2 after that)." },
	{ "spill-threshold", NUM(spill_threshold), "1048576", 0, 1L << 40,
	  "A message being received (SMTP DATA/BDAT, IMAP APPEND) larger than this many bytes is "
	  "kept in an unlinked temporary file in the data directory instead of in memory." },
	{ "max-pending-memory", NUM(max_pending_memory), "268435456", 0, 1L << 40,
	  "Bytes of unfinished messages all sessions together may hold in memory (spilled bytes do "
	  "not count); over it, new transactions get 452 4.3.1 or NO [LIMIT] until it drains." },
	{ "default-quota", NUM(default_quota), "1073741824", 0, 1L << 50,
	  "Mailbox quota for new accounts in bytes (0 = unlimited). Full mailboxes get 552 5.2.2." },
	{ "max-imap-sessions-per-account", NUM(max_imap_sessions_per_account), "50", 1, 100000,
	  "IMAP sessions one account may have open at once (phones, PCs and webmail together)." },
	{ "imap-max-line", NUM(imap_max_line), "65536", 1024, 1L << 24,
	  "Longest IMAP command in bytes, not counting literals; longer gets BAD [LIMIT]." },
	{ "login-max-command", NUM(login_max_command), "8192", 1024, 1L << 20,
	  "Largest IMAP command before login, in bytes, its line and literals together; larger "
	  "gets BAD [LIMIT] (a login needs a few hundred bytes)." },
	{ "login-max-per-ip", NUM(login_max_per_ip), "65536", 1024, 1L << 30,
	  "Bytes of unfinished IMAP commands all connections from one address may make the server "
	  "hold before they log in; more and the connection is closed with BYE." },
	{ "imap-max-nesting", NUM(imap_max_nesting), "16", 2, 1000,
	  "Deepest nesting of parenthesised lists (and of SEARCH NOT/OR) in one IMAP command." },
	{ "imap-max-sequence-ranges", NUM(imap_max_ranges), "1000", 1, 1000000,
	  "Most ranges in one IMAP sequence set (1,3:5,9 has three)." },
	{ "pop3-delete", STR(pop3_delete), "per-device", 0, 0,
	  "per-device: a POP3 delete hides the message only from the device that deleted it (other "
	  "phones and PCs still get it); expunge: classic POP3, deleted for everybody.",
	  "per-device|expunge" },
	{ "keep-days", NUM(keep_days), "30", 0, 36500,
	  "A message a device deleted is removed for everybody this many days after the first delete "
	  "(0: only once every device deleted it)." },
	{ "plaintext-auth", STR(plaintext_auth), "loopback", 0, 0,
	  "Passwords without TLS: loopback (only from this machine), never, or always.",
	  "loopback|never|always" },
	{ "auth-max-delay", NUM(auth_max_delay), "15", 1, 600,
	  "Longest pause, in seconds, added after failed logins (it grows with each failure; there "
	  "is never a lockout). An attempt that would wait longer gets \"try again later\"." },
	{ "auth-failures-per-minute", NUM(auth_failures_per_minute), "10", 1, 10000,
	  "Failed logins allowed per minute from one address and against one account, counted over "
	  "every protocol and connection; more attempts wait their turn." },
	{ "resolver", STR(resolver), "", 0, 0,
	  "DNS server for finding other domains' mail servers: ADDR or ADDR@PORT (empty: the "
	  "system's /etc/resolv.conf)." },
	{ "trusted-networks", STR(trusted_networks), "", 0, 0,
	  "Addresses whose mail is not checked for SPF, DKIM and DMARC (your own other servers, a "
	  "backup MX), e.g. 192.0.2.0/24, 2001:db8::/32. Empty: every sender is checked, this "
	  "machine included; logged-in users are never checked." },
	{ "mailauth-timeout", NUM(mailauth_timeout), "5", 1, 60,
	  "Seconds all DNS lookups for checking one incoming message (SPF, DKIM keys, DMARC) may "
	  "take together; what has not answered by then counts as a temporary DNS failure." },
	{ "dns-temperror", STR(dns_temperror), "accept", 0, 0,
	  "When a check could not be finished because DNS failed for now: accept (deliver as if "
	  "the sender's domain published nothing; the header says temperror) or tempfail (answer "
	  "451 4.4.3 so the sender tries again later).", "accept|tempfail" },
	{ "dmarc-reject", STR(dmarc_reject), "reject", 0, 0,
	  "Mail that fails DMARC for a domain whose policy is p=reject: reject (550 5.7.1 at the "
	  "end of DATA; nothing is stored) or junk (delivered to Junk).", "reject|junk" },
	{ "spf-fail", STR(spf_fail), "junk", 0, 0,
	  "Mail whose sender domain has no DMARC policy but an SPF record that says this server "
	  "may not send for it (-all): junk (delivered to Junk) or accept (to the inbox).",
	  "junk|accept" },
	{ "rspamd-url", STR(rspamd_url), "", 0, 0,
	  "Where rspamd's normal worker listens, e.g. http://127.0.0.1:11333 (a numeric address); "
	  "mail from other servers is scanned for spam and viruses there before it is accepted. "
	  "Empty: no scanning." },
	{ "rspamd-controller-url", STR(rspamd_controller_url), "", 0, 0,
	  "Where rspamd's controller worker listens, for learning spam and ham from what users "
	  "move in and out of Junk (empty: the host of rspamd-url, port 11334)." },
	{ "rspamd-password", STR(rspamd_password), "", 0, 0,
	  "The controller's password (rspamd's worker-controller.inc `password`), if it has one." },
	{ "rspamd-timeout", NUM(rspamd_timeout), "10", 1, 300,
	  "Seconds a scan may take; a slower or unreachable rspamd counts as unavailable." },
	{ "spam-unavailable", STR(spam_unavailable), "accept", 0, 0,
	  "When rspamd cannot scan a message: accept (deliver it with X-Spam-Status: unscanned) "
	  "or tempfail (answer 451 4.7.1 so the sender tries again later).", "accept|tempfail" },
	{ "spam-reject-action", STR(spam_reject_action), "reject", 0, 0,
	  "What rspamd's \"reject\" (clear spam, e.g. GTUBE) does: reject (550 5.7.1 at the end of "
	  "DATA; nothing is stored, the sender is told) or junk (delivered to Junk). A virus is "
	  "always refused (554 5.7.1).", "reject|junk" },
	{ "spam-add-header-action", STR(spam_add_header_action), "junk", 0, 0,
	  "What rspamd's \"add header\" and \"rewrite subject\" (probable spam) do: junk (the "
	  "Junk folder) or inbox; either way with X-Spam-Status, X-Spam-Score and X-Spam-Symbols. "
	  "Per account or domain: yubin account|domain set NAME spam-threshold SCORE.",
	  "junk|inbox" },
	{ "spam-greylist-action", STR(spam_greylist_action), "tempfail", 0, 0,
	  "What rspamd's \"greylist\" does: tempfail (451 4.7.1; real servers try again and get "
	  "through, much spamware does not) or inbox (deliver at once).", "tempfail|inbox" },
	{ "outbound-port", NUM(outbound_port), "25", 1, 65535,
	  "Port to connect to on other domains' mail servers (only tests change it)." },
	{ "outbound-per-domain", NUM(outbound_per_domain), "4", 1, 1000,
	  "Deliveries to one domain at the same time." },
	{ "outbound-domain-rate", NUM(outbound_domain_rate), "120", 0, 1000000,
	  "Messages per minute to one destination domain (0: no limit). Up to this many go at "
	  "once, then one every 60/N seconds; the rest wait in the queue (not a failure)." },
	{ "outbound-reuse", NUM(outbound_reuse), "100", 1, 100000,
	  "Messages sent over one connection to a receiving server before it is closed "
	  "(1: a new connection for every message). An idle connection closes after 5 seconds." },
	{ "restrict-sender", STR(restrict_sender), "yes", 0, 0,
	  "yes: a logged-in user may send only as their own address, plus-addresses and aliases; "
	  "no: as anyone (for a relay that trusts its users).", "yes|no" },
	{ "save-sent", STR(save_sent), "off", 0, 0,
	  "on: a copy of every message a logged-in user sends is stored, marked as read, in their "
	  "Sent folder (for mail apps that do not upload one themselves). Per account: yubin "
	  "account set ADDRESS save-sent on|off|default.", "off|on" },
	{ "max-messages-per-user-hour", NUM(max_user_hour), "1000", 0, 10000000,
	  "Messages one logged-in user may send per hour (0: no limit); more get 451 4.7.1." },
	{ "smarthost", STR(smarthost), "", 0, 0,
	  "Send mail for other domains through this relay (HOST:PORT, e.g. smtp.provider.example:587) "
	  "instead of directly; for networks where port 25 is blocked. Empty: direct." },
	{ "smarthost-domains", STR(smarthost_domains), "", 0, 0,
	  "Only these recipient domains (comma separated) go through the smarthost; empty: all." },
	{ "smarthost-user", STR(smarthost_user), "", 0, 0, "User name at the smarthost." },
	{ "smarthost-password", STR(smarthost_password), "", 0, 0, "Password at the smarthost." },
	{ "queue-retry-min", NUM(queue_retry_min), "300", 1, 86400,
	  "Seconds before the first retry of a message another server did not take; doubles each time." },
	{ "queue-retry-max", NUM(queue_retry_max), "14400", 1, 604800,
	  "Longest pause between retries, in seconds." },
	{ "delay-warning", NUM(delay_warning), "14400", 0, 2592000,
	  "Seconds until the sender is told a message is delayed (0: never)." },
	{ "queue-lifetime", NUM(queue_lifetime), "432000", 10, 2592000,
	  "Seconds until an undeliverable message is returned to the sender (5 days)." },
	{ "dmarc-report-address", STR(dmarc_report_address), "dmarc-reports", 0, 0,
	  "Local part where other providers' DMARC aggregate reports arrive (in every domain): "
	  "mail to it is delivered as usual and its report is read for yubin report dmarc. "
	  "Empty: reports are not read." },
	{ "dmarc-reports", STR(dmarc_reports), "off", 0, 0,
	  "on: count the DMARC outcome of incoming mail and send the daily aggregate report to "
	  "each domain whose DMARC record asks for one (rua=), from dmarc-report-address@ the "
	  "first domain.", "off|on" },
	{ "log-level", STR(log_level), "info", 0, 0, "debug, info, warn or error.",
	  "debug|info|warn|error" },
};

#define NSETTINGS (sizeof settings / sizeof settings[0])

static const struct setting *setting_find(const char *name, size_t len)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strlen(settings[i].name) == len && memcmp(settings[i].name, name, len) == 0)
			return &settings[i];
	return NULL;
}

static bool word_in(const char *word, const char *choices)
{
	size_t n = strlen(word);
	for (const char *p = choices; *p;) {
		size_t len = strcspn(p, "|");
		if (len == n && strncmp(p, word, n) == 0)
			return true;
		p += len + (p[len] == '|');
	}
	return false;
}

static bool setting_set(struct config *cfg, const struct setting *s, const char *value,
			struct buf *err)
{
	char *field = (char *)cfg + s->offset;
	if (s->type == SETTING_STRING) {
		if (s->choices && !word_in(value, s->choices)) {
			buf_printf(err, "%s must be one of %s, not \"%s\"", s->name, s->choices, value);
			return false;
		}
		if (s->offset == offsetof(struct config, trusted_networks)) {
			struct buf why = BUF_INIT;
			bool ok = cidr_list_valid(value, &why);
			if (!ok)
				buf_printf(err, "%s: %s", s->name, why.data);
			buf_free(&why);
			if (!ok)
				return false;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return true;
	}
	errno = 0;
	char *end;
	long n = strtol(value, &end, 10);
	if (errno || end == value || *end || n < s->min || n > s->max) {
		buf_printf(err, "%s must be a whole number from %ld to %ld, not \"%s\"", s->name,
			   s->min, s->max, value);
		return false;
	}
	*(long *)field = n;
	return true;
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	struct buf ignored = BUF_INIT;
	for (size_t i = 0; i < NSETTINGS; i++)
		setting_set(cfg, &settings[i], settings[i].default_value, &ignored);
	buf_free(&ignored);
}

static const char *trim(char *s, size_t *len)
{
	while (*len && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		(*len)--;
	}
	while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t' || s[*len - 1] == '\r'))
		(*len)--;
	return s;
}

bool config_parse(struct config *cfg, const char *text, size_t len, struct buf *err)
{
	size_t lineno = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		lineno++;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t linelen = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = xstrndup(p, linelen);
		p += linelen + (nl ? 1 : 0);
		size_t l = linelen;
		const char *t = trim(line, &l);
		if (l == 0 || t[0] == '#') {
			free(line);
			continue;
		}
		const char *eq = memchr(t, '=', l);
		if (!eq) {
			buf_printf(err, "line %zu: expected \"key = value\"", lineno);
			free(line);
			return false;
		}
		size_t klen = (size_t)(eq - t);
		const char *key = trim((char *)t, &klen);
		size_t vlen = l - (size_t)(eq - t) - 1;
		const char *v = trim((char *)eq + 1, &vlen);
		const struct setting *s = setting_find(key, klen);
		if (!s) {
			buf_printf(err, "line %zu: unknown setting \"%.*s\"", lineno, (int)klen, key);
			free(line);
			return false;
		}
		char *value = xstrndup(v, vlen);
		struct buf why = BUF_INIT;
		bool ok = setting_set(cfg, s, value, &why);
		if (!ok)
			buf_printf(err, "line %zu: %s", lineno, why.data);
		buf_free(&why);
		free(value);
		free(line);
		if (!ok)
			return false;
	}
	return true;
}

bool config_load(struct config *cfg, const char *path, struct buf *err)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		buf_printf(err, "cannot read %s: %s", path, strerror(errno));
		return false;
	}
	struct buf text = BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&text, chunk, n);
	fclose(f);
	struct buf why = BUF_INIT;
	bool ok = config_parse(cfg, text.data ? text.data : "", text.len, &why);
	if (!ok)
		buf_printf(err, "%s %s", path, why.data);
	buf_free(&why);
	buf_free(&text);
	return ok;
}

void config_write_default(struct buf *out, const char *const *overrides)
{
	buf_append_str(out, "# yubin configuration. One setting per line: key = value.\n"
			    "# Lines starting with # are comments; a commented setting shows its default.\n"
			    "# After a change: send SIGHUP to yubin serve (or restart it).\n");
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		const char *value = NULL;
		for (const char *const *o = overrides; o && o[0]; o += 2)
			if (strcmp(o[0], s->name) == 0)
				value = o[1];
		buf_printf(out, "\n# %s\n", s->help);
		if (value)
			buf_printf(out, "%s = %s\n", s->name, value);
		else
			buf_printf(out, "#%s = %s\n", s->name, s->default_value);
	}
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (settings[i].type == SETTING_STRING) {
			char **field = (char **)((char *)cfg + settings[i].offset);
			free(*field);
			*field = NULL;
		}
}
