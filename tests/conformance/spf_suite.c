/* Driver for the SPF conformance suite (tests/conformance/spf_suite.py): runs the real
 * evaluator and asks its DNS questions on stdout; the script answers them from the suite's
 * zone data on stdin. Lines, tab-separated:
 *   in:  CHECK <ip> <helo> <mailfrom>
 *   out: QUERY <TXT|A|AAAA|MX|PTR> <name>
 *   in:  ANSWER <OK|NXDOMAIN|TEMPFAIL> <count>, then count lines of hex-encoded record data
 *   out: RESULT <result> <mechanism> <explanation> <queries> <reason>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "mailauth/spf.h"

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

int main(void)
{
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
		printf("RESULT\t%s\t", spf_result_name(spf_check_result(c)));
		put_field(spf_check_mechanism(c));
		putchar('\t');
		put_field(spf_check_explanation(c));
		printf("\t%zu\t", spf_check_queries(c));
		put_field(spf_check_reason(c));
		putchar('\n');
		fflush(stdout);
		spf_check_free(c);
		free(ip), free(helo), free(from);
	}
	return 0;
}
