/* The DMARC lookup through the real asynchronous resolver, for tests/integration/
 * test_dmarc_dns.py: dmarc-tool --resolver ADDR@PORT [--timeout-ms N] [--cancel-after-ms N]
 * FROM_DOMAIN runs dmarc_run_start() on an event loop asking that DNS server and prints
 *
 *   LOOKUP <found> <policy domain> <p> <sp> <np> <pct> <from exists> <ms> <why>
 *
 * (tab-separated; found: none, from, org, tempfail; exists: unknown, yes, no), or CANCELLED
 * when --cancel-after-ms cancelled the run before it ended (the callback must then never run:
 * the loop goes on for the rest of the timeout to see that it does not). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "mailauth/dmarc_dns.h"

static long long t0;
static bool called, cancelled;
static struct dmarc_run *run;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_done(void *ctx, const struct dmarc_policy_lookup *res)
{
	static const char *const found[] = { "none", "from", "org", "tempfail" };
	static const char *const exists[] = { "unknown", "yes", "no" };
	const struct dmarc_record *r = &res->record;
	if (cancelled)
		printf("CALLED-AFTER-CANCEL\n");
	called = true;
	run = NULL;
	printf("LOOKUP\t%s\t%s\t%s\t%s\t%s\t%u\t%s\t%lld\t%s\n", found[res->found],
	       res->policy_domain, dmarc_policy_name(r->p),
	       r->sp ? dmarc_policy_name(r->sp) : "-", r->np ? dmarc_policy_name(r->np) : "-",
	       r->pct, exists[res->from_exists], now_ms() - t0, res->why);
	event_base_loopexit(ctx, NULL);
}

static void on_cancel(evutil_socket_t fd, short what, void *arg)
{
	if (run) {
		dmarc_run_cancel(run);
		run = NULL;
		cancelled = true;
		printf("CANCELLED\n");
	}
}

int main(int argc, char **argv)
{
	int timeout_ms = 5000, cancel_ms = -1, i = 1;
	const char *fwd = NULL;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--resolver") == 0)
			fwd = argv[i + 1];
		else if (strcmp(argv[i], "--timeout-ms") == 0)
			timeout_ms = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--cancel-after-ms") == 0)
			cancel_ms = atoi(argv[i + 1]);
	}
	if (!fwd || i + 1 != argc) {
		fprintf(stderr, "usage: dmarc-tool --resolver ADDR@PORT [--timeout-ms N] "
				"[--cancel-after-ms N] FROM_DOMAIN\n");
		return 2;
	}
	struct event_base *base = event_base_new();
	struct buf err = BUF_INIT;
	struct dns_resolver *r = dns_resolver_new(base, fwd, &err);
	if (!r) {
		fprintf(stderr, "dmarc-tool: %s\n", buf_cstr(&err));
		return 2;
	}
	struct event *cancel = NULL;
	if (cancel_ms >= 0) {
		cancel = evtimer_new(base, on_cancel, NULL);
		struct timeval tv = { cancel_ms / 1000, (cancel_ms % 1000) * 1000 };
		evtimer_add(cancel, &tv);
	}
	t0 = now_ms();
	run = dmarc_run_start(base, r, argv[i], timeout_ms, on_done, base);
	if (!called) {
		if (cancel) {
			/* exits at the end unless on_done ended the loop first */
			/* after a cancel, nothing may call back: wait out the timeout to see */
			struct timeval end = { (timeout_ms + 500) / 1000, ((timeout_ms + 500) % 1000) * 1000 };
			event_base_loopexit(base, &end);
		}
		event_base_dispatch(base);
	}
	int rc = called && cancelled ? 1 : 0;
	if (!called && !cancelled) {
		printf("NO-CALLBACK\n");
		rc = 1;
	}
	if (cancel)
		event_free(cancel);
	dns_resolver_free(r);
	event_base_free(base);
	buf_free(&err);
	return rc;
}
