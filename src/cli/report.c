/* yubin report dmarc: what other providers' DMARC aggregate reports say about our domains, in
 * plain words; --send-now builds and queues the reports we owe others (dmarc-reports = on). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "lib/alloc.h"
#include "lib/clock.h"

/* "7d", "24h", "90m" before now, or a date "2026-12-01" (UTC); -1 when it is neither. */
static int64_t parse_since(const char *t, int64_t now)
{
	char *end;
	long long n = strtoll(t, &end, 10);
	if (end != t && n >= 0 && end[0] && !end[1]) {
		switch (end[0]) {
		case 'd': return now - n * 86400;
		case 'h': return now - n * 3600;
		case 'm': return now - n * 60;
		}
	}
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *rest = strptime(t, "%Y-%m-%d", &tm);
	if (rest && !*rest)
		return (int64_t)timegm(&tm);
	return -1;
}

static void format_day(int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M UTC", &tm);
}

struct summary {
	char domain[256];
	long long messages, failing, rows;
	struct buf warnings; /* sentences about sources failing both, for the domain at hand */
};

static void domain_end(struct summary *s)
{
	if (!s->domain[0])
		return;
	printf("  In all: %lld message%s as %s reported", s->messages, s->messages == 1 ? "" : "s",
	       s->domain);
	if (s->failing)
		printf(", %lld of them failing both SPF and DKIM.\n", s->failing);
	else
		printf("; every source passed SPF or DKIM (DMARC passes).\n");
	if (s->warnings.len)
		fputs(s->warnings.data, stdout);
	buf_reset(&s->warnings);
	s->messages = s->failing = 0;
	putchar('\n');
}

static void print_row(void *ctx, const char *const *c, size_t n)
{
	struct summary *s = ctx;
	if (n < 13)
		return;
	const char *domain = c[0] ? c[0] : "", *ip = c[1] ? c[1] : "";
	long long msgs = atoll(c[2] ? c[2] : "0"), dkim = atoll(c[3] ? c[3] : "0");
	long long spf = atoll(c[4] ? c[4] : "0"), both = atoll(c[5] ? c[5] : "0");
	long long quar = atoll(c[6] ? c[6] : "0"), rej = atoll(c[7] ? c[7] : "0");
	if (strcmp(domain, s->domain) != 0) {
		domain_end(s);
		snprintf(s->domain, sizeof s->domain, "%s", domain);
		printf("%s\n", domain);
	}
	s->rows++;
	s->messages += msgs;
	s->failing += both;
	printf("  %s: %lld message%s (From: %s), reported by %s\n", ip, msgs, msgs == 1 ? "" : "s",
	       c[11] ? c[11] : "", c[8] ? c[8] : "");
	printf("    DKIM aligned: %lld passed, %lld failed; SPF aligned: %lld passed, %lld "
	       "failed\n", dkim, msgs - dkim, spf, msgs - spf);
	if (quar || rej)
		printf("    receivers applied your policy: %lld quarantined, %lld rejected\n", quar,
		       rej);
	else
		printf("    delivered normally (no quarantine or reject applied)\n");
	if (both > 0)
		buf_printf(&s->warnings,
			   "  %s sent %lld message%s as %s that failed both SPF and DKIM: if this is "
			   "your web form or newsletter service, add it to your SPF record or have it "
			   "sign with DKIM; if not, someone is forging your domain.\n",
			   ip, both, both == 1 ? "" : "s", domain);
}

static void print_count(void *ctx, const char *const *c, size_t n)
{
	(void)n;
	*(long long *)ctx += atoll(c[12] ? c[12] : "0");
}

int cmd_report_send(struct cli *c, struct store *s);

int cmd_report(struct cli *c)
{
	const char *what = c->argc > 0 ? c->argv[0] : "";
	const char *domain = cli_option(c, "--domain");
	const char *since_s = cli_option(c, "--since");
	bool send_now = cli_flag(c, "--send-now");
	if (strcmp(what, "dmarc") != 0 || c->argc != 1) {
		cli_error("usage: yubin report dmarc [--domain D] [--since 7d|24h|2026-12-01] | "
			  "yubin report dmarc --send-now  --data DIR");
		return 2;
	}
	int64_t now = clock_now();
	int64_t since = since_s ? parse_since(since_s, now) : now - 7 * 86400;
	if (since < 0) {
		cli_error("--since takes a number of days or hours back (7d, 24h) or a date "
			  "(2026-12-01), not \"%s\"", since_s);
		return 2;
	}
	struct store *s = cli_open_store(c);
	if (send_now) {
		int rc = cmd_report_send(c, s);
		s->ops->close(s);
		return rc;
	}
	char from[40];
	format_day(since, from, sizeof from);
	long long reports = 0;
	s->ops->dmarc_summary(s, domain, since, print_count, &reports);
	if (reports == 0) {
		printf("No DMARC aggregate reports about %s cover the time since %s.\n",
		       domain ? domain : "your domains", from);
		printf("Receivers send them to the address in your DMARC record's rua= "
		       "(dmarc-reports@ your domain, as yubin init suggests), usually once a day.\n");
		s->ops->close(s);
		return 0;
	}
	printf("DMARC aggregate reports since %s: what receiving mail servers saw of mail sent "
	       "with your domains in From.\n\n", from);
	struct summary sum;
	memset(&sum, 0, sizeof sum);
	s->ops->dmarc_summary(s, domain, since, print_row, &sum);
	domain_end(&sum);
	buf_free(&sum.warnings);
	s->ops->close(s);
	return 0;
}
