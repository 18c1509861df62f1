#include "spam/rspamd_probe.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

struct probe {
	struct event_base *base;
	bool answered;
	int status;
	struct buf *body;
};

static void on_response(struct evhttp_request *req, void *arg)
{
	struct probe *p = arg;
	int status = req ? evhttp_request_get_response_code(req) : 0;
	if (status > 0) {
		p->answered = true;
		p->status = status;
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(in);
		if (len)
			buf_append(p->body, (const char *)evbuffer_pullup(in, -1), len);
	}
	event_base_loopbreak(p->base);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

bool rspamd_http_get(const char *url, int default_port, const char *path, const char *password,
		     int timeout_ms, int *status, struct buf *body, struct buf *err)
{
	*status = 0;
	struct evhttp_uri *u = evhttp_uri_parse(url);
	const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
	const char *host = u ? evhttp_uri_get_host(u) : NULL;
	if (!u || !scheme || strcmp(scheme, "http") != 0 || !host || !*host) {
		buf_printf(err, "\"%s\" is not a URL like http://127.0.0.1:%d", url, default_port);
		if (u)
			evhttp_uri_free(u);
		return false;
	}
	int port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : default_port;
	const char *prefix = evhttp_uri_get_path(u) ? evhttp_uri_get_path(u) : "";
	size_t pl = strlen(prefix);
	while (pl > 0 && prefix[pl - 1] == '/')
		pl--;
	size_t hl = strlen(host);
	struct buf addr = BUF_INIT, uri = BUF_INIT, hosthdr = BUF_INIT;
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']')
		buf_append(&addr, host + 1, hl - 2);
	else
		buf_append_str(&addr, host);
	buf_printf(&hosthdr, "%s:%d", host, port);
	buf_printf(&uri, "%.*s%s", (int)pl, prefix, path);
	evhttp_uri_free(u);

	struct probe p = { .base = event_base_new(), .body = body };
	bool ok = false;
	struct evhttp_connection *conn = NULL;
	struct event *deadline = NULL;
	if (!p.base) {
		buf_printf(err, "cannot make an event base");
		goto out;
	}
	/* a host name is looked up blocking here: fine for a command, never for the server */
	conn = evhttp_connection_base_new(p.base, NULL, addr.data, (unsigned short)port);
	if (!conn) {
		buf_printf(err, "cannot connect to %s", hosthdr.data);
		goto out;
	}
	evhttp_connection_set_retries(conn, 0);
	evhttp_connection_set_max_body_size(conn, RSPAMD_PROBE_MAX_BODY);
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	evhttp_connection_set_timeout_tv(conn, &tv);
	deadline = evtimer_new(p.base, on_deadline, p.base);
	evtimer_add(deadline, &tv);
	struct evhttp_request *req = evhttp_request_new(on_response, &p);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", hosthdr.data);
	evhttp_add_header(h, "Connection", "close");
	if (password && *password)
		evhttp_add_header(h, "Password", password);
	if (evhttp_make_request(conn, req, EVHTTP_REQ_GET, uri.data) != 0) {
		buf_printf(err, "cannot send a request to %s", hosthdr.data);
		goto out;
	}
	event_base_dispatch(p.base);
	if (!p.answered) {
		buf_printf(err, "no answer from %s within %d ms", hosthdr.data, timeout_ms);
		goto out;
	}
	*status = p.status;
	ok = true;
out:
	if (deadline)
		event_free(deadline);
	if (conn)
		evhttp_connection_free(conn);
	if (p.base)
		event_base_free(p.base);
	buf_free(&addr);
	buf_free(&uri);
	buf_free(&hosthdr);
	return ok;
}

static long long number(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		return json_integer_value(v) >= 0 ? (long long)json_integer_value(v) : -1;
	if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 9e18)
		return (long long)json_real_value(v);
	return -1;
}

bool rspamd_stat_parse(const char *json, size_t len, struct rspamd_stat *out, struct buf *err)
{
	memset(out, 0xff, sizeof *out); /* every field -1 */
	json_error_t je;
	/* JSON_REJECT_DUPLICATES: one answer, one meaning */
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!root || !json_is_object(root)) {
		buf_printf(err, "rspamd's /stat answer is not a JSON object");
		json_decref(root);
		return false;
	}
	out->scanned = number(root, "scanned");
	out->learned = number(root, "learned");
	out->spam_count = number(root, "spam_count");
	out->ham_count = number(root, "ham_count");
	json_t *a = json_object_get(root, "actions");
	if (json_is_object(a)) {
		out->reject = number(a, "reject");
		out->add_header = number(a, "add header");
		out->no_action = number(a, "no action");
		out->greylist = number(a, "greylist");
		out->soft_reject = number(a, "soft reject");
		out->rewrite_subject = number(a, "rewrite subject");
	}
	json_decref(root);
	return true;
}
