#include "spam/rspamd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "lib/alloc.h"
#include "lib/log.h"

/* Headers of an answer; rspamd's are a few hundred bytes. */
#define MAX_ANSWER_HEADERS 16384
/* Learning may wait for Redis; never give it less than this. */
#define LEARN_MIN_TIMEOUT_MS 10000

struct endpoint {
	char *addr;   /* numeric, without brackets */
	int port;
	char *host;   /* for the Host header: ADDR:PORT, IPv6 in brackets */
	char *prefix; /* path before /checkv2, without a trailing '/' */
};

struct rspamd_client {
	struct event_base *base;
	struct endpoint scan, controller;
	char *password;
	int timeout_ms;
	struct rspamd_stats stats;
	struct rspamd_scan *ops; /* scans and learns in flight */
	size_t learns_inflight;
};

/* One request: a scan, or a learn (no callback; the outcome is logged). */
struct rspamd_scan {
	struct rspamd_client *c;
	struct rspamd_scan *prev, *next;
	bool learn, spam;
	bool done;              /* finished: waits for the timer to free it outside evhttp */
	bool starting;          /* inside evhttp_make_request, which may call back at once */
	struct evhttp_connection *conn;
	struct event *timer;    /* the deadline; also runs early failures and the freeing */
	char *early_error;      /* a failure before the request went out, reported from the loop */
	enum evhttp_request_error http_error;
	bool have_http_error;
	int http_errno;
	char *what;             /* learn: names the message in the log */
	int timeout_ms;
	struct timespec t0;
	rspamd_scan_fn fn;
	void *ctx;
};

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000);
}

static void endpoint_free(struct endpoint *e)
{
	free(e->addr);
	free(e->host);
	free(e->prefix);
	memset(e, 0, sizeof *e);
}

/* http://ADDR[:PORT][/prefix]. Only numeric addresses: evhttp without a DNS base would look
 * a name up with a blocking getaddrinfo on the loop. */
static bool endpoint_parse(struct endpoint *e, const char *url, int default_port,
			   const char *setting, struct buf *err)
{
	struct evhttp_uri *u = evhttp_uri_parse(url);
	if (!u) {
		buf_printf(err, "%s: \"%s\" is not a URL like http://127.0.0.1:%d", setting, url,
			   default_port);
		return false;
	}
	bool ok = false;
	const char *scheme = evhttp_uri_get_scheme(u), *host = evhttp_uri_get_host(u);
	const char *path = evhttp_uri_get_path(u);
	if (!scheme || strcmp(scheme, "http") != 0) {
		buf_printf(err, "%s: \"%s\" must start with http:// (rspamd speaks plain HTTP; "
			   "keep it on this machine or a private network)", setting, url);
		goto out;
	}
	if (!host || !*host || evhttp_uri_get_query(u) || evhttp_uri_get_userinfo(u)) {
		buf_printf(err, "%s: \"%s\" must be http://ADDRESS[:PORT]", setting, url);
		goto out;
	}
	size_t hl = strlen(host);
	char *addr = host[0] == '[' && hl > 2 && host[hl - 1] == ']' ? xstrndup(host + 1, hl - 2)
								   : xstrdup(host);
	if (strcmp(addr, "localhost") == 0) {
		free(addr);
		addr = xstrdup("127.0.0.1");
	}
	unsigned char bin[16];
	bool v6 = inet_pton(AF_INET6, addr, bin) == 1;
	if (!v6 && inet_pton(AF_INET, addr, bin) != 1) {
		buf_printf(err, "%s: \"%s\" must name a numeric address (e.g. 127.0.0.1), not a "
			   "host name", setting, url);
		free(addr);
		goto out;
	}
	e->addr = addr;
	e->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : default_port;
	struct buf h = BUF_INIT;
	buf_printf(&h, v6 ? "[%s]:%d" : "%s:%d", addr, e->port);
	e->host = buf_steal(&h, NULL);
	size_t pl = path ? strlen(path) : 0;
	while (pl > 0 && path[pl - 1] == '/')
		pl--;
	e->prefix = xstrndup(path ? path : "", pl);
	ok = true;
out:
	evhttp_uri_free(u);
	return ok;
}

struct rspamd_client *rspamd_client_new(struct event_base *base,
					const struct rspamd_client_settings *settings,
					struct buf *err)
{
	struct rspamd_client *c = xcalloc(1, sizeof *c);
	c->base = base;
	c->timeout_ms = settings->timeout_ms > 0 ? settings->timeout_ms : 10000;
	if (!endpoint_parse(&c->scan, settings->url ? settings->url : "", RSPAMD_DEFAULT_PORT,
			    "rspamd-url", err))
		goto fail;
	if (settings->controller_url && *settings->controller_url) {
		if (!endpoint_parse(&c->controller, settings->controller_url,
				    RSPAMD_CONTROLLER_DEFAULT_PORT, "rspamd-controller-url", err))
			goto fail;
	} else {
		struct endpoint *e = &c->controller;
		e->addr = xstrdup(c->scan.addr);
		e->port = RSPAMD_CONTROLLER_DEFAULT_PORT;
		struct buf h = BUF_INIT;
		buf_printf(&h, strchr(e->addr, ':') ? "[%s]:%d" : "%s:%d", e->addr, e->port);
		e->host = buf_steal(&h, NULL);
		e->prefix = xstrdup("");
	}
	if (settings->password && *settings->password)
		c->password = xstrdup(settings->password);
	return c;
fail:
	endpoint_free(&c->scan);
	endpoint_free(&c->controller);
	free(c);
	return NULL;
}

const struct rspamd_stats *rspamd_client_stats(const struct rspamd_client *c)
{
	return &c->stats;
}

size_t rspamd_learns_inflight(const struct rspamd_client *c)
{
	return c->learns_inflight;
}

static void op_free(struct rspamd_scan *s)
{
	struct rspamd_client *c = s->c;
	if (s->prev)
		s->prev->next = s->next;
	else
		c->ops = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->learn)
		c->learns_inflight--;
	/* frees the request still queued on it without calling it back */
	if (s->conn)
		evhttp_connection_free(s->conn);
	event_free(s->timer);
	free(s->early_error);
	free(s->what);
	free(s);
}

void rspamd_client_free(struct rspamd_client *c)
{
	if (!c)
		return;
	while (c->ops)
		op_free(c->ops);
	endpoint_free(&c->scan);
	endpoint_free(&c->controller);
	free(c->password);
	free(c);
}

/* Reports the outcome once. Called from inside evhttp or from the timer; the connection
 * is freed later, from the timer, never from inside evhttp's own callback. */
static void finish(struct rspamd_scan *s, struct rspamd_result *res, const char *error,
		   bool timeout, int status)
{
	struct rspamd_client *c = s->c;
	s->done = true;
	if (s->learn) {
		if (error)
			c->stats.learn_errors++;
		else
			c->stats.learns++;
		if (error)
			log_warn("event=rspamd-learn as=%s msg=%s result=error status=%d ms=%ld "
				 "error=%s", s->spam ? "spam" : "ham", log_str(s->what), status,
				 elapsed_ms(&s->t0), log_qstr(error));
		else if (status == 208 || status == 204)
			/* Not failures: rspamd knew this message already (a mail app that sets $Junk
			 * and then moves the message to Junk teaches it twice), or it has too few
			 * words for its Bayes classifier to learn anything from. */
			log_info("event=rspamd-learn as=%s msg=%s result=ok ms=%ld note=%s",
				 s->spam ? "spam" : "ham", log_str(s->what), elapsed_ms(&s->t0),
				 status == 208 ? "already-learned" : "too-few-words");
		else
			log_info("event=rspamd-learn as=%s msg=%s result=ok ms=%ld",
				 s->spam ? "spam" : "ham", log_str(s->what), elapsed_ms(&s->t0));
		return;
	}
	if (error) {
		c->stats.scan_errors++;
		if (timeout)
			c->stats.scan_timeouts++;
	} else {
		c->stats.scans++;
	}
	s->fn(s->ctx, res, error);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct rspamd_scan *s = arg;
	if (s->done) {
		op_free(s);
		return;
	}
	if (s->early_error) {
		finish(s, NULL, s->early_error, false, 0);
	} else {
		struct buf why = BUF_INIT;
		buf_printf(&why, "no answer from rspamd within %d ms", s->timeout_ms);
		finish(s, NULL, why.data, true, 0);
		buf_free(&why);
	}
	op_free(s);
}

static void on_http_error(enum evhttp_request_error error, void *arg)
{
	struct rspamd_scan *s = arg;
	s->http_error = error;
	s->have_http_error = true;
	s->http_errno = errno;
}

static void describe_failure(struct rspamd_scan *s, struct buf *why)
{
	if (!s->have_http_error) {
		/* evhttp reports a failed connect without a reason */
		buf_printf(why, "cannot connect to rspamd at %s",
			   s->learn ? s->c->controller.host : s->c->scan.host);
		return;
	}
	switch (s->http_error) {
	case EVREQ_HTTP_DATA_TOO_LONG:
		buf_printf(why, "rspamd's answer is larger than %d bytes", RSPAMD_REPLY_MAX_BYTES);
		break;
	case EVREQ_HTTP_EOF:
		buf_append_str(why, "rspamd closed the connection before a whole answer");
		break;
	case EVREQ_HTTP_INVALID_HEADER:
		buf_append_str(why, "rspamd's answer is not valid HTTP");
		break;
	case EVREQ_HTTP_TIMEOUT:
		buf_append_str(why, "rspamd timed out");
		break;
	default:
		buf_printf(why, "cannot reach rspamd (%s)",
			   s->http_errno ? strerror(s->http_errno) : "connection failed");
		break;
	}
}

/* The "error" text of a JSON error answer, cleaned, if there is one. */
static void append_error_text(struct buf *why, const char *body, size_t len)
{
	struct rspamd_result r;
	struct buf err = BUF_INIT;
	static const char prefix[] = "rspamd answered an error: ";
	if (!rspamd_reply_parse(body, len, &r, &err) &&
	    strncmp(err.data, prefix, sizeof prefix - 1) == 0)
		buf_printf(why, " (%s)", err.data + sizeof prefix - 1);
	rspamd_result_free(&r);
	buf_free(&err);
}

static void on_response(struct evhttp_request *req, void *arg)
{
	struct rspamd_scan *s = arg;
	if (s->done)
		return;
	struct buf why = BUF_INIT;
	int status = req ? evhttp_request_get_response_code(req) : 0;
	if (s->starting) {
		/* called back from inside rspamd_scan_start: report it from the loop instead */
		describe_failure(s, &why);
		if (!s->early_error)
			s->early_error = buf_steal(&why, NULL);
		buf_free(&why);
		return;
	}
	if (!req || status == 0) {
		describe_failure(s, &why);
		finish(s, NULL, why.data, false, 0);
	} else {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(in);
		const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
		/* learn: 208 "already learned", 204 "too few tokens" (rspamd's own codes) */
		bool learn_noop = s->learn && (status == 208 || status == 204);
		if (status != 200 && !learn_noop) {
			buf_printf(&why, "rspamd answered HTTP %d", status);
			if (len <= RSPAMD_REPLY_MAX_BYTES)
				append_error_text(&why, body, len);
			finish(s, NULL, why.data, false, status);
		} else if (s->learn) {
			finish(s, NULL, NULL, false, status);
		} else {
			struct rspamd_result r;
			if (rspamd_reply_parse(body, len, &r, &why))
				finish(s, &r, NULL, false, status);
			else
				finish(s, NULL, why.data, false, status);
			rspamd_result_free(&r);
		}
	}
	buf_free(&why);
	/* free the connection from the loop, once evhttp is done with it */
	evtimer_del(s->timer);
	event_active(s->timer, EV_TIMEOUT, 1);
}

/* Header values come from the SMTP client: evhttp refuses CR and LF, and nothing else
 * below a space belongs in one either. */
static void add_header(struct evkeyvalq *h, const char *name, const char *value)
{
	if (!value)
		return;
	size_t n = strlen(value);
	if (n > 1000)
		n = 1000;
	char *v = xstrndup(value, n);
	for (char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	evhttp_add_header(h, name, v);
	free(v);
}

static struct rspamd_scan *op_start(struct rspamd_client *c, bool learn, const struct endpoint *e,
				    int timeout_ms)
{
	struct rspamd_scan *s = xcalloc(1, sizeof *s);
	s->c = c;
	s->learn = learn;
	s->timeout_ms = timeout_ms;
	clock_gettime(CLOCK_MONOTONIC, &s->t0);
	s->next = c->ops;
	if (c->ops)
		c->ops->prev = s;
	c->ops = s;
	if (learn)
		c->learns_inflight++;
	s->timer = evtimer_new(c->base, on_timer, s);
	if (!s->timer)
		abort(); /* only fails when out of memory */
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	evtimer_add(s->timer, &tv);
	s->conn = evhttp_connection_base_new(c->base, NULL, e->addr, (unsigned short)e->port);
	if (!s->conn)
		return s;
	evhttp_connection_set_max_body_size(s->conn, RSPAMD_REPLY_MAX_BYTES);
	evhttp_connection_set_max_headers_size(s->conn, MAX_ANSWER_HEADERS);
	evhttp_connection_set_retries(s->conn, 0);
	/* our deadline decides; evhttp's own timeouts only as a backstop behind it */
	struct timeval backstop = { timeout_ms / 1000 + 5, 0 };
	evhttp_connection_set_timeout_tv(s->conn, &backstop);
	return s;
}

/* The request could not even be sent: report it from the loop like any other failure. */
static void fail_early(struct rspamd_scan *s, const char *why)
{
	if (why != s->early_error) {
		free(s->early_error);
		s->early_error = xstrdup(why);
	}
	evtimer_del(s->timer);
	event_active(s->timer, EV_TIMEOUT, 1);
}

static void send_request(struct rspamd_scan *s, struct evhttp_request *req,
			 const struct endpoint *e, const char *path)
{
	struct buf uri = BUF_INIT;
	buf_printf(&uri, "%s%s", e->prefix, path);
	s->starting = true;
	int rc = evhttp_make_request(s->conn, req, EVHTTP_REQ_POST, uri.data);
	s->starting = false;
	if (rc != 0 || s->early_error)
		fail_early(s, s->early_error ? s->early_error
					     : "cannot send the request to rspamd");
	buf_free(&uri);
}

static struct evhttp_request *new_request(struct rspamd_scan *s, const struct endpoint *e)
{
	struct evhttp_request *req = evhttp_request_new(on_response, s);
	if (!req)
		abort();
	evhttp_request_set_error_cb(req, on_http_error);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", e->host);
	evhttp_add_header(h, "Connection", "close");
	return req;
}

struct rspamd_scan *rspamd_scan_start(struct rspamd_client *c, const struct rspamd_envelope *env,
				      const char *msg, size_t len, rspamd_scan_fn fn, void *ctx)
{
	struct rspamd_scan *s = op_start(c, false, &c->scan, c->timeout_ms);
	s->fn = fn;
	s->ctx = ctx;
	if (!s->conn) {
		fail_early(s, "cannot make a connection to rspamd");
		return s;
	}
	struct evhttp_request *req = new_request(s, &c->scan);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	add_header(h, "IP", env->ip);
	add_header(h, "Helo", env->helo);
	if (env->mail_from)
		add_header(h, "From", *env->mail_from ? env->mail_from : "<>");
	for (size_t i = 0; i < env->nrcpts; i++)
		add_header(h, "Rcpt", env->rcpts[i]);
	add_header(h, "Hostname", env->hostname);
	add_header(h, "Queue-Id", env->queue_id);
	add_header(h, "User", env->user);
	/* sent from the caller's bytes, not copied: they stay valid until fn or cancel */
	if (len)
		evbuffer_add_reference(evhttp_request_get_output_buffer(req), msg, len, NULL, NULL);
	send_request(s, req, &c->scan, "/checkv2");
	return s;
}

void rspamd_scan_cancel(struct rspamd_scan *s)
{
	if (!s || s->done)
		return;
	s->c->stats.cancelled++;
	op_free(s);
}

void rspamd_learn(struct rspamd_client *c, bool spam, const char *msg, size_t len,
		  const char *rcpt, const char *what)
{
	if (c->learns_inflight >= RSPAMD_LEARN_MAX_INFLIGHT) {
		c->stats.learns_skipped++;
		log_warn("event=rspamd-learn as=%s msg=%s result=skipped inflight=%zu",
			 spam ? "spam" : "ham", log_str(what), c->learns_inflight);
		return;
	}
	int timeout = c->timeout_ms < LEARN_MIN_TIMEOUT_MS ? LEARN_MIN_TIMEOUT_MS : c->timeout_ms;
	struct rspamd_scan *s = op_start(c, true, &c->controller, timeout);
	s->spam = spam;
	s->what = xstrdup(what ? what : "");
	if (!s->conn) {
		fail_early(s, "cannot make a connection to rspamd's controller");
		return;
	}
	struct evhttp_request *req = new_request(s, &c->controller);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (c->password)
		evhttp_add_header(h, "Password", c->password);
	add_header(h, "Deliver-To", rcpt);
	/* copied: nobody waits for a learn, so the caller's bytes may go away at once */
	evbuffer_add(evhttp_request_get_output_buffer(req), msg, len);
	send_request(s, req, &c->controller, spam ? "/learnspam" : "/learnham");
}
