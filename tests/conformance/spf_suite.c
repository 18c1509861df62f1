/* Driver for the SPF conformance suite (tests/conformance/spf_suite.py): runs the real
 * evaluator and asks its DNS questions on stdout; the script answers them from the suite's
 * zone data on stdin. Lines, tab-separated:
 *   in:  CHECK <ip> <helo> <mailfrom>
 *   out: QUERY <TXT|A|AAAA|MX|PTR> <name>
 *   in:  ANSWER <OK|NXDOMAIN|TEMPFAIL> <count>, then count lines of hex-encoded record data
 *   out: RESULT <result> <mechanism> <explanation> <queries> <reason>
 * With --resolver ADDR@PORT [--timeout-ms N] IP HELO MAILFROM it instead runs one check
 * through the real asynchronous resolver (src/mailauth/spf_dns.c) asking that DNS server,
 * and prints the RESULT line with the milliseconds it took added at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "mailauth/spf.h"
#include "mailauth/spf_dns.h"

static char *read_line(void)
{
	static char *line;
	static size_t cap;
	ssize_t n = getline(&line, &cap, stdin);
	if (n < 0)
		return NULL;
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Prints s with tabs and line breaks made visible, so one result stays one line. */
static void put_field(const char *s)
{
	for (; s && *s; s++)
		putchar(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s);
}

static void print_result(struct spf_check *c)
{
	printf("RESULT\t%s\t", spf_result_name(spf_check_result(c)));
	put_field(spf_check_mechanism(c));
	putchar('\t');
	put_field(spf_check_explanation(c));
	printf("\t%zu\t", spf_check_queries(c));
	put_field(spf_check_reason(c));
}

static void on_done(void *ctx, struct spf_check *c)
{
	struct event_base *base = ctx;
	event_base_loopexit(base, NULL);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One check through libunbound on an event loop, as the server will run it. */
static int run_resolver(int argc, char **argv)
{
	const char *fwd = argv[2];
	int timeout_ms = SPF_RUN_DEFAULT_TIMEOUT_MS, i = 3;
	if (argc > 4 && strcmp(argv[3], "--timeout-ms") == 0) {
		timeout_ms = atoi(argv[4]);
		i = 5;
	}
	if (argc != i + 3) {
		fprintf(stderr, "usage: spf-suite --resolver ADDR@PORT [--timeout-ms N] IP HELO FROM\n");
		return 2;
	}
	struct event_base *base = event_base_new();
	struct buf err = BUF_INIT;
	struct dns_resolver *r = dns_resolver_new(base, fwd, &err);
	if (!r) {
		fprintf(stderr, "spf-suite: %s\n", buf_cstr(&err));
		return 2;
	}
	struct spf_check *c = spf_check_start(argv[i], argv[i + 1], argv[i + 2], "receiver.test",
					      (long long)time(NULL));
	if (!c) {
		fprintf(stderr, "spf-suite: not an IP address: %s\n", argv[i]);
		return 2;
	}
	long long t0 = now_ms();
	if (spf_run_start(base, r, c, timeout_ms, on_done, base))
		event_base_dispatch(base);
	print_result(c);
	printf("\t%lld\n", now_ms() - t0);
	spf_check_free(c);
	dns_resolver_free(r);
	event_base_free(base);
	buf_free(&err);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "--resolver") == 0)
		return run_resolver(argc, argv);
	char *line;
	while ((line = read_line()) != NULL) {
		if (strncmp(line, "CHECK\t", 6) != 0)
			continue;
		char *fields[3] = { NULL, NULL, NULL };
		char *p = line + 6;
		for (int i = 0; i < 3; i++) {
			fields[i] = p;
			p = strchr(p, '\t');
			if (!p && i < 2) {
				fprintf(stderr, "spf-suite: bad CHECK line\n");
				return 2;
			}
			if (p)
				*p++ = '\0';
		}
		char *ip = xstrdup(fields[0]), *helo = xstrdup(fields[1]), *from = xstrdup(fields[2]);
		struct spf_check *c = spf_check_start(ip, helo, from, "receiver.com", 1234567890);
		if (!c) {
			printf("RESULT\tbad-ip\t\t\t0\t\n");
			fflush(stdout);
			free(ip), free(helo), free(from);
			continue;
		}
		struct spf_query q;
		while (spf_check_next(c, &q)) {
			printf("QUERY\t%s\t%s\n", spf_qtype_name(q.type), q.name);
			fflush(stdout);
			char *ans = read_line();
			if (!ans)
				return 2;
			struct spf_answer a = { SPF_DNS_TEMPFAIL, NULL, 0 };
			char status[16];
			size_t n = 0;
			if (sscanf(ans, "ANSWER\t%15s\t%zu", status, &n) != 2 || n > 10000)
				return 2;
			a.status = strcmp(status, "OK") == 0         ? SPF_DNS_OK
				   : strcmp(status, "NXDOMAIN") == 0 ? SPF_DNS_NXDOMAIN
								     : SPF_DNS_TEMPFAIL;
			struct spf_rr *rrs = n ? xcalloc(n, sizeof *rrs) : NULL;
			for (size_t i = 0; i < n; i++) {
				char *h = read_line();
				if (!h)
					return 2;
				size_t hl = strlen(h) / 2;
				char *d = xmalloc(hl + 1);
				for (size_t j = 0; j < hl; j++)
					d[j] = (char)(hexval(h[2 * j]) * 16 + hexval(h[2 * j + 1]));
				rrs[i].data = d;
				rrs[i].len = hl;
			}
			a.rrs = rrs;
			a.nrrs = n;
			spf_check_answer(c, &a);
			for (size_t i = 0; i < n; i++)
				free((char *)rrs[i].data);
			free(rrs);
		}
		print_result(c);
		putchar('\n');
		fflush(stdout);
		spf_check_free(c);
		free(ip), free(helo), free(from);
	}
	return 0;
}
