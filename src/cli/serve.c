/* yubin serve: bind, drop privileges, run the event loop until SIGTERM. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/committer.h"
#include "store/dmarc_jobs.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/loopwatch.h"
#include "net/listen.h"
#include "net/tls.h"
#include "auth/login.h"
#include "lib/clock.h"
#include "mailauth/dkim_keys.h"
#include "spam/rspamd.h"
#include "imap/server.h"
#include "outbound/agent.h"
#include "outbound/dmarc_send.h"
#include "pop3/server.h"
#include "smtp/server.h"

#define MAX_LISTENERS 16
/* Reader threads for IMAP: a read goes to the least busy, so up to three long SEARCHes do
 * not make a quick FETCH of someone else wait. */
#define IMAP_READERS 4
_Static_assert(IMAP_READERS <= IMAP_MAX_READERS, "imap/server.h holds at most this many");

enum service {
	SERVICE_SMTP, SERVICE_SUBMISSION, SERVICE_SUBMISSIONS, SERVICE_POP3, SERVICE_POP3S,
	SERVICE_IMAP, SERVICE_IMAPS,
};

struct daemon;

struct listener {
	struct daemon *daemon;
	enum service service;
	struct evconnlistener *ev;
};

struct daemon {
	struct cli *cli;
	struct event_base *base;
	struct smtp_server smtp;
	struct pop3_server pop3;
	struct imap_server imap;
	struct conn_limits limits;
	struct committer *auth_worker;
	struct committer *mailauth_worker;
	/* DMARC reports: reading those that arrive, building those we send */
	struct committer *report_worker;
	struct dmarc_ingest *dmarc_ingest;
	struct event *dmarc_timer;
	struct dns_resolver *dmarc_dns;
	bool dmarc_running;
	struct committer *imap_readers[IMAP_READERS];
	struct outbound *outbound;
	struct login_service *login;
	struct dkim_keyholder *dkim;
	struct event *expire_timer;
	struct listener listeners[MAX_LISTENERS];
	size_t nlisteners;
	struct event *commit_wake;
	struct event *drain_timer;
	int drain_ticks;
	/* drain-time when the stop began (the stop thread reads it; reloads change the config). */
	_Atomic long drain_seconds;
	/* SIGTERM/SIGINT are taken by a thread of their own (term_guard_main), which wakes the
	 * loop through this event and records the signal here. */
	struct event *terminate;
	int term_signal;
	sigset_t term_set;
};

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
		      void *ctx)
{
	struct listener *lis = ctx;
	struct daemon *d = lis->daemon;
	/* Replies often go out in two writes (TLS records, a literal); without this the second
	 * waits ~40 ms for the client's delayed acknowledgement. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	switch (lis->service) {
	case SERVICE_SMTP:
		smtp_server_accept(&d->smtp, fd, sa, SMTP_MODE_MX);
		break;
	case SERVICE_SUBMISSION:
		smtp_server_accept(&d->smtp, fd, sa, SMTP_MODE_SUBMISSION);
		break;
	case SERVICE_SUBMISSIONS:
		smtp_server_accept(&d->smtp, fd, sa, SMTP_MODE_SUBMISSIONS);
		break;
	case SERVICE_POP3:
	case SERVICE_POP3S:
		pop3_server_accept(&d->pop3, fd, sa, lis->service == SERVICE_POP3S);
		break;
	case SERVICE_IMAP:
	case SERVICE_IMAPS:
		imap_server_accept(&d->imap, fd, sa, lis->service == SERVICE_IMAPS);
		break;
	}
}

struct expire_job {
	struct store_job job;
	int64_t keep_days;
	int64_t expunged;
};

static void expire_job_run(struct store *s, struct store_job *job)
{
	struct expire_job *e = (struct expire_job *)job;
	e->expunged = s->ops->expire(s, clock_now(), e->keep_days);
}

static void expire_job_done(struct store_job *job)
{
	struct expire_job *e = (struct expire_job *)job;
	if (e->expunged)
		log_info("event=expire expunged=%lld", (long long)e->expunged);
	free(e);
}

/* keep-days: at start and every hour, remove what every device deleted or what was deleted
 * longer ago than keep-days. */
static void on_expire_timer(evutil_socket_t fd, short what, void *ctx)
{
	struct daemon *d = ctx;
	struct expire_job *e = xcalloc(1, sizeof *e);
	e->job.run = expire_job_run;
	e->job.done = expire_job_done;
	e->job.changes_mailboxes = true;
	e->keep_days = d->smtp.cfg->keep_days;
	committer_submit_job(d->smtp.committer, &e->job);
}

static void dmarc_sent(void *ctx, size_t queued, size_t dropped)
{
	struct daemon *d = ctx;
	d->dmarc_running = false;
	if (queued && d->outbound) /* NULL: shutting down; the queue sends them after a restart */
		outbound_kick(d->outbound);
	if (queued || dropped)
		log_info("event=dmarc-reports-sent queued=%zu dropped=%zu", queued, dropped);
}

/* dmarc-reports = on: every hour, send the reports of the UTC days that are over and not yet
 * reported (at most one per domain per day; the store knows which are due). */
static void on_dmarc_timer(evutil_socket_t fd, short what, void *ctx)
{
	(void)fd;
	(void)what;
	struct daemon *d = ctx;
	const struct config *cfg = d->smtp.cfg;
	if (strcmp(cfg->dmarc_reports, "on") != 0 || d->dmarc_running)
		return;
	if (!d->dmarc_dns) {
		struct buf err = BUF_INIT;
		d->dmarc_dns = dns_resolver_new(d->base, cfg->resolver, &err);
		if (!d->dmarc_dns)
			log_warn("event=dmarc-reports-no-dns error=%s hint=\"reports to other "
				 "organizations' addresses are skipped\"", log_qstr(err.data));
		buf_free(&err);
	}
	struct buf from = BUF_INIT;
	buf_printf(&from, "%s@%s", cfg->dmarc_report_address[0] ? cfg->dmarc_report_address
								  : "dmarc-reports",
		   d->smtp.default_domain);
	struct dmarc_send_params p = {
		.base = d->base, .dns = d->dmarc_dns, .worker = d->report_worker,
		.writer = d->smtp.committer, .hostname = cfg->hostname, .from = from.data,
		.now = clock_now(), .done = dmarc_sent, .ctx = d,
	};
	d->dmarc_running = true;
	dmarc_send_run(&p);
	buf_free(&from);
}

static void on_accept_error(struct evconnlistener *l, void *ctx)
{
	(void)l;
	(void)ctx;
	/* EMFILE and friends: log and keep going; the listener retries on the next event. */
	log_error("event=accept-failed error=\"%s\"", strerror(errno));
}

static void wake_loop(void *arg)
{
	event_active(arg, EV_READ, 0);
}

static void on_commit_wake(evutil_socket_t fd, short what, void *ctx)
{
	(void)fd;
	(void)what;
	struct daemon *d = ctx;
	committer_reap(d->auth_worker, NULL);
	committer_reap(d->mailauth_worker, NULL);
	committer_reap(d->report_worker, NULL);
	for (size_t i = 0; i < IMAP_READERS; i++)
		committer_reap(d->imap_readers[i], NULL);
	/* Whatever was just written (mail, flags, expunges): IDLE clients hear of it now. Wakes
	 * for password checks, audit lines and queue bookkeeping change no mailbox. */
	size_t queued;
	if (committer_reap(d->smtp.committer, &queued) > 0) {
		uint64_t t0 = loopwatch_begin();
		imap_server_notify(&d->imap);
		loopwatch_end(t0, "IMAP", "notify", 6, 0);
	}
	/* New queue entries go out now, not at the agent's next tick. */
	if (queued)
		outbound_kick(d->outbound);
}

static void on_drain_tick(evutil_socket_t fd, short what, void *ctx)
{
	(void)fd;
	(void)what;
	struct daemon *d = ctx;
	size_t open = smtp_server_drain(&d->smtp) + pop3_server_drain(&d->pop3) +
		      imap_server_drain(&d->imap);
	if (open == 0 || ++d->drain_ticks > atomic_load(&d->drain_seconds) * 10) {
		if (open) {
			log_warn("event=shutdown-forced sessions=%zu", open);
			smtp_server_close_all(&d->smtp);
			pop3_server_close_all(&d->pop3);
			imap_server_close_all(&d->imap);
		}
		event_base_loopexit(d->base, NULL);
	}
}

static void on_terminate(evutil_socket_t sig, short what, void *ctx)
{
	(void)what;
	struct daemon *d = ctx;
	if (d->drain_timer)
		return;
	log_info("event=shutdown signal=%d", (int)sig);
	for (size_t i = 0; i < d->nlisteners; i++)
		evconnlistener_disable(d->listeners[i].ev);
	struct timeval tick = { 0, 100000 };
	d->drain_timer = event_new(d->base, -1, EV_PERSIST, on_drain_tick, d);
	event_add(d->drain_timer, &tick);
	on_drain_tick(-1, 0, d);
}

static void on_terminate_request(evutil_socket_t fd, short what, void *ctx)
{
	struct daemon *d = ctx;
	on_terminate(d->term_signal, what, d);
}

/* Seconds after the drain time at which the process ends even if the loop never got to drain
 * (a bug that holds it): every acknowledged message is already on disk, so exiting loses
 * nothing, and an operator's stop must never need kill -9. */
#define STOP_GRACE_SECONDS 2

static void *term_guard_main(void *arg)
{
	struct daemon *d = arg;
	int sig;
	while (sigwait(&d->term_set, &sig) != 0)
		;
	d->term_signal = sig;
	event_active(d->terminate, EV_READ, 0);
	long deadline = atomic_load(&d->drain_seconds) + STOP_GRACE_SECONDS;
	struct timespec left = { deadline, 0 };
	while (nanosleep(&left, &left) != 0)
		;
	log_error("event=shutdown-stuck signal=%d seconds=%d hint=\"the event loop did not drain in "
		  "time; exiting anyway (acknowledged mail is on disk)\"", sig, (int)deadline);
	_exit(1);
	return NULL;
}

static void apply_log_level(const struct config *cfg)
{
	const char *names[] = { "debug", "info", "warn", "error" };
	for (int i = 0; i < 4; i++)
		if (strcmp(cfg->log_level, names[i]) == 0)
			log_set_level((enum log_level)i);
}

static SSL_CTX *load_tls(struct cli *c, const struct config *cfg)
{
	struct buf cert = BUF_INIT, key = BUF_INIT, err = BUF_INIT;
	buf_printf(&cert, cfg->tls_cert[0] == '/' ? "%.0s%s" : "%s/%s", c->data, cfg->tls_cert);
	buf_printf(&key, cfg->tls_key[0] == '/' ? "%.0s%s" : "%s/%s", c->data, cfg->tls_key);
	SSL_CTX *ctx = tls_server_ctx_new(cert.data, key.data, &err);
	if (!ctx)
		log_error("event=tls-unavailable error=\"%s\" hint=\"STARTTLS is not offered until the "
			  "certificate and key load\"", err.data);
	buf_free(&cert);
	buf_free(&key);
	buf_free(&err);
	return ctx;
}

/* DKIM: every message that goes into the queue is signed here, on the writer's pre-stage
 * threads (store/committer.c), once, so every retry sends the same bytes. */
static void dkim_sign_queued(void *arg, const char *msg, size_t len, struct buf *add)
{
	struct dkim_keyholder *h = arg;
	struct dkim_keyring *kr = dkim_keyholder_get(h);
	const char *domain = "", *why = "no keys loaded";
	if (!kr || !dkim_keyring_sign(kr, msg, len, (time_t)clock_now(), add, &domain, &why))
		log_warn("event=dkim-unsigned reason=%s hint=\"the message is queued without a DKIM "
			 "signature\"", log_qstr(why));
	else
		log_debug("event=dkim-signed domain=%s", log_str(domain));
	dkim_keyring_release(kr);
}

static struct dkim_keyring *load_dkim(struct daemon *d)
{
	struct dkim_keyring *kr = dkim_keyring_load(d->cli->data, d->smtp.default_domain);
	log_info("event=dkim-keys signing_domains=%zu", dkim_keyring_domains(kr));
	return kr;
}

static void on_reload(evutil_socket_t sig, short what, void *ctx)
{
	(void)sig;
	(void)what;
	struct daemon *d = ctx;
	struct config *fresh = xcalloc(1, sizeof *fresh);
	config_defaults(fresh);
	struct buf path = BUF_INIT, err = BUF_INIT;
	buf_printf(&path, "%s/yubin.conf", d->cli->data);
	if (!config_load(fresh, path.data, &err)) {
		log_error("event=reload-failed error=\"%s\" hint=\"the old configuration stays in use\"",
			  err.data);
		config_free(fresh);
		free(fresh);
	} else {
		/* Listening addresses and ports need a restart; everything else applies now. */
		struct config *old = d->smtp.cfg;
		d->smtp.cfg = d->pop3.cfg = d->imap.cfg = fresh;
		config_free(old);
		free(old);
		apply_log_level(fresh);
		atomic_store(&d->drain_seconds, fresh->drain_time);
		login_set_limits(d->login, fresh->auth_max_delay, fresh->auth_failures_per_minute);
		SSL_CTX *tls = load_tls(d->cli, fresh);
		if (tls) {
			/* Live sessions keep a reference to the old context through their SSL. */
			SSL_CTX_free(d->smtp.tls);
			d->smtp.tls = d->pop3.tls = d->imap.tls = tls;
		}
		log_info("event=reloaded tls=%s", tls ? "ok" : "unchanged");
	}
	/* Keys change with `yubin dkim ...` apart from the configuration: reload them anyway. A
	 * few small files: cheap enough for the loop. */
	dkim_keyholder_set(d->dkim, load_dkim(d));
	buf_free(&path);
	buf_free(&err);
}

static void first_domain(void *ctx, const char *const *cols, size_t n)
{
	char **out = ctx;
	if (!*out && n > 0 && cols[0])
		*out = xstrdup(cols[0]);
}

int cmd_serve(struct cli *c)
{
	struct daemon d;
	memset(&d, 0, sizeof d);
	d.cli = c;
	struct config *cfg = xcalloc(1, sizeof *cfg);
	cli_load_config(c, cfg);
	apply_log_level(cfg);
	atomic_store(&d.drain_seconds, cfg->drain_time);
	signal(SIGPIPE, SIG_IGN);

	/* Bind first (ports below 1024 need root), then give root up before reading any input. */
	struct {
		enum service service;
		const char *name;
		long port;
	} services[] = {
		{ SERVICE_SMTP, "smtp", cfg->smtp_port },
		{ SERVICE_SUBMISSION, "submission", cfg->submission_port },
		{ SERVICE_SUBMISSIONS, "submissions", cfg->submissions_port },
		{ SERVICE_POP3, "pop3", cfg->pop3_port },
		{ SERVICE_POP3S, "pop3s", cfg->pop3s_port },
		{ SERVICE_IMAP, "imap", cfg->imap_port },
		{ SERVICE_IMAPS, "imaps", cfg->imaps_port },
	};
	int fds[MAX_LISTENERS];
	enum service fd_service[MAX_LISTENERS];
	size_t nfds = 0;
	for (size_t k = 0; k < sizeof services / sizeof services[0]; k++) {
		if (services[k].port == 0)
			continue;
		int port = (int)(services[k].port + cfg->port_offset);
		char *addrs = xstrdup(cfg->listen);
		for (char *save = NULL, *a = strtok_r(addrs, ", ", &save); a;
		     a = strtok_r(NULL, ", ", &save)) {
			struct buf err = BUF_INIT;
			if (nfds == MAX_LISTENERS)
				log_fatal("event=too-many-listen-addresses max=%d", MAX_LISTENERS);
			int fd = net_listen(a, port, &err);
			if (fd < 0)
				log_fatal("event=listen-failed service=%s error=\"%s\"", services[k].name,
					  err.data);
			fd_service[nfds] = services[k].service;
			fds[nfds++] = fd;
			log_info("event=listening service=%s addr=%s%s%s:%d", services[k].name,
				 strchr(a, ':') ? "[" : "", a, strchr(a, ':') ? "]" : "", port);
			buf_free(&err);
		}
		free(addrs);
	}
	cli_become_data_owner(c->data, cfg, true);

	/* Blocked in every thread (they inherit the mask): only term_guard_main takes them, so
	 * a stop request is seen even while the loop is busy. */
	sigemptyset(&d.term_set);
	sigaddset(&d.term_set, SIGTERM);
	sigaddset(&d.term_set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &d.term_set, NULL);
	evthread_use_pthreads();
	d.base = event_base_new();
	struct buf err = BUF_INIT;
	d.smtp.cfg = cfg;
	d.smtp.base = d.base;
	d.smtp.limits = &d.limits;
	d.smtp.spool_dir = c->data;
	/* Before any store is opened: their commits leave the WAL checkpoints to this thread. */
	if (!store_checkpointer_start(c->data, 0, 0, &err))
		log_fatal("event=store-unavailable error=\"%s\"", err.data);
	d.smtp.store = store_open_sqlite(c->data, false, &err);
	if (!d.smtp.store)
		log_fatal("event=store-unavailable error=\"%s\"", err.data);
	d.smtp.store->ops->domain_list(d.smtp.store, first_domain, &d.smtp.default_domain);
	if (!d.smtp.default_domain)
		log_fatal("event=no-domains hint=\"add one: yubin domain add example.com\"");
	d.smtp.tls = load_tls(c, cfg);
	d.commit_wake = event_new(d.base, -1, 0, on_commit_wake, &d);
	char *error = NULL;
	d.smtp.committer = committer_start(c->data, wake_loop, d.commit_wake, &error);
	if (!d.smtp.committer)
		log_fatal("event=store-unavailable error=\"%s\"", error);

	/* Signing costs an RSA signature and a hash of the message: on threads of its own (one
	 * per core, at most 4), ahead of the writer, never on the loop. */
	d.dkim = dkim_keyholder_new(load_dkim(&d));
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	committer_set_signer(d.smtp.committer, dkim_sign_queued, d.dkim,
			     (unsigned)(cores < 1 ? 1 : cores > 4 ? 4 : cores));

	d.auth_worker = committer_start(c->data, wake_loop, d.commit_wake, &error);
	if (!d.auth_worker)
		log_fatal("event=store-unavailable error=\"%s\"", error);
	/* DKIM hashing of large incoming messages (small ones are checked on the loop). */
	d.mailauth_worker = committer_start(c->data, wake_loop, d.commit_wake, &error);
	if (!d.mailauth_worker)
		log_fatal("event=store-unavailable error=\"%s\"", error);
	d.smtp.mailauth_worker = d.mailauth_worker;
	/* IMAP reads that grow with the mailbox (SEARCH, SORT, THREAD, LIST) run here, each
	 * thread with its own connection, so the loop never waits for them. */
	for (size_t i = 0; i < IMAP_READERS; i++) {
		d.imap_readers[i] = committer_start(c->data, wake_loop, d.commit_wake, &error);
		if (!d.imap_readers[i])
			log_fatal("event=store-unavailable error=\"%s\"", error);
	}
	d.report_worker = committer_start(c->data, wake_loop, d.commit_wake, &error);
	if (!d.report_worker)
		log_fatal("event=store-unavailable error=\"%s\"", error);
	d.dmarc_ingest = dmarc_ingest_new(d.report_worker, d.smtp.committer);
	committer_set_report_sink(d.smtp.committer, dmarc_ingest_take, d.dmarc_ingest);
	d.login = login_service_new(d.base, d.smtp.store, d.auth_worker, d.smtp.committer);
	login_set_limits(d.login, cfg->auth_max_delay, cfg->auth_failures_per_minute);
	d.smtp.login = d.login;
	d.pop3 = (struct pop3_server){
		.cfg = cfg, .base = d.base, .tls = d.smtp.tls, .store = d.smtp.store,
		.writer = d.smtp.committer, .login = d.login, .limits = &d.limits,
	};
	d.imap = (struct imap_server){
		.cfg = cfg, .base = d.base, .tls = d.smtp.tls, .store = d.smtp.store,
		.writer = d.smtp.committer, .login = d.login, .limits = &d.limits,
		.nreaders = IMAP_READERS,
		.spool_dir = c->data,
	};
	memcpy(d.imap.readers, d.imap_readers, sizeof d.imap_readers);

	for (size_t i = 0; i < nfds; i++) {
		struct listener *l = &d.listeners[d.nlisteners++];
		l->daemon = &d;
		l->service = fd_service[i];
		l->ev = evconnlistener_new(d.base, on_accept, l,
					   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fds[i]);
		evconnlistener_set_error_cb(l->ev, on_accept_error);
	}
	d.outbound = outbound_start(d.base, &d.smtp.cfg, d.smtp.store, d.smtp.committer,
				    d.smtp.default_domain, &err);
	if (!d.outbound)
		log_fatal("event=outbound-unavailable error=\"%s\"", err.data);
	d.smtp.dns = outbound_resolver(d.outbound);
	if (cfg->rspamd_url[0]) {
		/* rspamd-url and its companions take effect at start (a reload keeps the client). */
		struct rspamd_client_settings rs = {
			.url = cfg->rspamd_url, .controller_url = cfg->rspamd_controller_url,
			.password = cfg->rspamd_password, .timeout_ms = (int)cfg->rspamd_timeout * 1000,
		};
		buf_reset(&err);
		d.smtp.rspamd = rspamd_client_new(d.base, &rs, &err);
		if (!d.smtp.rspamd)
			log_fatal("event=rspamd-unusable error=%s hint=\"fix rspamd-url in yubin.conf, "
				  "or empty it to turn scanning off\"", log_qstr(err.data));
		log_info("event=spam-scanning url=%s", log_str(cfg->rspamd_url));
		d.imap.rspamd = d.smtp.rspamd; /* the Junk folder teaches it (imap/learn.c) */
	}
	d.expire_timer = event_new(d.base, -1, EV_PERSIST, on_expire_timer, &d);
	struct timeval hourly = { 3600, 0 };
	event_add(d.expire_timer, &hourly);
	on_expire_timer(-1, 0, &d);
	d.dmarc_timer = event_new(d.base, -1, EV_PERSIST, on_dmarc_timer, &d);
	event_add(d.dmarc_timer, &hourly);
	on_dmarc_timer(-1, 0, &d);
	d.terminate = event_new(d.base, -1, 0, on_terminate_request, &d);
	pthread_t term_guard;
	if (pthread_create(&term_guard, NULL, term_guard_main, &d) != 0)
		log_fatal("event=thread-create-failed what=term-guard");
	pthread_detach(term_guard);
	struct event *sighup = evsignal_new(d.base, SIGHUP, on_reload, &d);
	event_add(sighup, NULL);
	log_info("event=ready hostname=%s domain=%s uid=%u", cfg->hostname, d.smtp.default_domain,
		 (unsigned)getuid());

	event_base_dispatch(d.base);

	/* Every acknowledged message is already durable; this only waits for queued commits.
	 * Deliveries in flight are dropped: their queue entries are still there. */
	/* Learns still being read on the IMAP readers are dropped when they come back. */
	d.imap.rspamd = NULL;
	if (d.smtp.rspamd)
		rspamd_client_free(d.smtp.rspamd);
	outbound_stop(d.outbound);
	d.outbound = NULL;
	committer_stop(d.auth_worker);
	committer_stop(d.mailauth_worker);
	/* Reports stored from now on stay unread in the mailbox; those being read are stored
	 * by the writer, which stops after the worker. */
	committer_set_report_sink(d.smtp.committer, NULL, NULL);
	committer_stop(d.report_worker);
	dmarc_ingest_free(d.dmarc_ingest);
	/* Every session is closed, so their reads were cancelled and end at the next message. */
	for (size_t i = 0; i < IMAP_READERS; i++)
		committer_stop(d.imap_readers[i]);
	/* How well commits were grouped: messages per fsync'd batch, for the log. */
	uint64_t committed = 0, batches = 0;
	committer_stats(d.smtp.committer, &committed, &batches);
	committer_stop(d.smtp.committer);
	dkim_keyholder_free(d.dkim);
	login_service_free(d.login);
	event_free(d.expire_timer);
	event_free(d.dmarc_timer);
	if (d.dmarc_dns)
		dns_resolver_free(d.dmarc_dns);
	free(d.pop3.busy_devices);
	for (size_t i = 0; i < d.nlisteners; i++)
		evconnlistener_free(d.listeners[i].ev);
	event_free(sighup);
	if (d.drain_timer)
		event_free(d.drain_timer);
	event_free(d.commit_wake);
	event_free(d.terminate);
	d.smtp.store->ops->close(d.smtp.store);
	struct store_checkpoint_stats ckpt;
	store_checkpointer_stats(&ckpt);
	store_checkpointer_stop();
	SSL_CTX_free(d.smtp.tls);
	free(d.smtp.default_domain);
	conn_limits_free(&d.limits);
	free(d.smtp.sends);
	config_free(d.smtp.cfg);
	free(d.smtp.cfg);
	event_base_free(d.base);
	buf_free(&err);
	log_info("event=stopped slow_turns=%llu committed=%llu batches=%llu checkpoints=%llu "
		 "forced_checkpoints=%llu", (unsigned long long)loopwatch_slow_turns(),
		 (unsigned long long)committed, (unsigned long long)batches,
		 (unsigned long long)ckpt.runs, (unsigned long long)ckpt.forced);
	return 0;
}
