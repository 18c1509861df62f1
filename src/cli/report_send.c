/* yubin report dmarc --send-now: the server's daily DMARC report run, done at once from the
 * command line (today's observations included; still at most one report per domain per UTC
 * day). The queued messages go out with the server's next queue scan. */
#include <event2/event.h>
#include <event2/thread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/alloc.h"
#include "lib/clock.h"
#include "net/dns.h"
#include "outbound/dmarc_send.h"
#include "store/committer.h"

int cmd_report_send(struct cli *c, struct store *s);

struct send_state {
	struct event_base *base;
	struct committer *worker, *writer;
	bool finished;
	size_t queued, dropped;
};

static void wake(void *arg)
{
	event_active(arg, EV_READ, 0);
}

static void on_wake(evutil_socket_t fd, short what, void *ctx)
{
	(void)fd;
	(void)what;
	struct send_state *st = ctx;
	committer_reap(st->worker, NULL);
	committer_reap(st->writer, NULL);
}

static void sent(void *ctx, size_t queued, size_t dropped)
{
	struct send_state *st = ctx;
	st->finished = true;
	st->queued = queued;
	st->dropped = dropped;
	event_base_loopexit(st->base, NULL);
}

static void first_domain(void *ctx, const char *const *cols, size_t n)
{
	char **out = ctx;
	if (!*out && n > 0 && cols[0])
		*out = xstrdup(cols[0]);
}

int cmd_report_send(struct cli *c, struct store *s)
{
	struct config cfg;
	cli_load_config(c, &cfg);
	char *domain = NULL;
	s->ops->domain_list(s, first_domain, &domain);
	if (!domain) {
		cli_error("there is no domain to send reports from; add one: yubin domain add D");
		config_free(&cfg);
		return 1;
	}
	if (strcmp(cfg.dmarc_reports, "on") != 0)
		printf("Note: dmarc-reports is off, so no observations are being recorded; this sends "
		       "only what was recorded while it was on.\n");
	evthread_use_pthreads();
	struct send_state st;
	memset(&st, 0, sizeof st);
	st.base = event_base_new();
	struct event *ev = event_new(st.base, -1, 0, on_wake, &st);
	char *error = NULL;
	st.worker = committer_start(c->data, wake, ev, &error);
	if (st.worker)
		st.writer = committer_start(c->data, wake, ev, &error);
	if (!st.writer) {
		cli_error("%s", error ? error : "cannot open the store");
		return 1;
	}
	struct buf err = BUF_INIT, from = BUF_INIT;
	struct dns_resolver *dns = dns_resolver_new(st.base, cfg.resolver, &err);
	if (!dns)
		printf("Note: no DNS resolver (%s); addresses in other organizations are skipped.\n",
		       err.data ? err.data : "");
	buf_printf(&from, "%s@%s", cfg.dmarc_report_address[0] ? cfg.dmarc_report_address
							       : "dmarc-reports", domain);
	struct dmarc_send_params p = {
		.base = st.base, .dns = dns, .worker = st.worker, .writer = st.writer,
		.hostname = cfg.hostname, .from = from.data, .now = clock_now(),
		.include_today = true, .done = sent, .ctx = &st,
	};
	dmarc_send_run(&p);
	while (!st.finished)
		event_base_loop(st.base, EVLOOP_ONCE);
	committer_stop(st.worker);
	committer_stop(st.writer);
	if (dns)
		dns_resolver_free(dns);
	event_free(ev);
	event_base_free(st.base);
	printf("DMARC aggregate reports: %zu queued", st.queued);
	if (st.dropped)
		printf(", %zu not sent (no address of their rua= could take them; see the log "
		       "lines above)", st.dropped);
	printf(".\n");
	buf_free(&err);
	buf_free(&from);
	free(domain);
	config_free(&cfg);
	return 0;
}
