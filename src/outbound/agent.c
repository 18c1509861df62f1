/* The outbound agent's frame: starting and stopping it, and the life of one delivery
 * (struct attempt) from a due queue entry to its freeing. The parts are listed in
 * agent_internal.h. */
#include "outbound/agent.h"

#include <openssl/ssl.h>
#include <stdlib.h>

#include "lib/alloc.h"
#include "net/dns.h"
#include "outbound/agent_internal.h"
#include "outbound/ratelimit.h"
#include "store/committer.h"

/* Deep copy: the store's entry lives only during the scan's callback. NULL when its message
 * cannot be read. */
struct attempt *attempt_new(struct outbound *ob, const struct queue_entry *e)
{
	struct attempt *a = xcalloc(1, sizeof *a);
	a->ob = ob;
	a->e = *e;
	a->e.sender = xstrdup(e->sender);
	a->e.domain = xstrdup(e->domain);
	a->e.last_reply = e->last_reply ? xstrdup(e->last_reply) : NULL;
	a->e.rcpts = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof *a->e.rcpts);
	for (size_t i = 0; i < e->nrcpts; i++)
		a->e.rcpts[i] = xstrdup(e->rcpts[i]);
	a->results = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof *a->results);
	if (!ob->store->ops->queue_message(ob->store, e->id, &a->msg)) {
		attempt_free(a);
		return NULL;
	}
	return a;
}

void attempt_free(struct attempt *a)
{
	link_close(a->link);
	for (size_t i = 0; a->results && i < a->e.nrcpts; i++)
		free(a->results[i].reply);
	queue_entry_free(&a->e);
	buf_free(&a->msg);
	free(a->steps);
	free(a->mx);
	attempt_clear_addrs(a);
	free(a->results);
	free(a->last_error);
	free(a);
}

void attempt_unlink(struct attempt *a)
{
	struct outbound *ob = a->ob;
	for (struct attempt **pp = &ob->active; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			ob->nactive--;
			return;
		}
}

struct outbound *outbound_start(struct event_base *base, struct config *const *config,
				struct store *store, struct committer *writer,
				const char *default_domain, struct buf *err)
{
	struct outbound *ob = xcalloc(1, sizeof *ob);
	ob->base = base;
	ob->cfg = config;
	ob->store = store;
	ob->writer = writer;
	ob->default_domain = xstrdup(default_domain);
	ob->dns = dns_resolver_new(base, (*config)->resolver, err);
	if (!ob->dns) {
		free(ob->default_domain);
		free(ob);
		return NULL;
	}
	/* Opportunistic TLS: encrypt when the other side offers it, without checking its
	 * certificate (RFC 7435); most MX certificates would not pass a strict check. */
	ob->tls = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ob->tls, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ob->tls, SSL_MODE_RELEASE_BUFFERS);
	ob->rates = rate_limits_new();
	ob->kick = event_new(base, -1, 0, schedule_on_kick, ob);
	ob->timer = event_new(base, -1, EV_PERSIST, schedule_on_timer, ob);
	ob->soon = evtimer_new(base, schedule_on_timer, ob);
	struct timeval second = { 1, 0 };
	event_add(ob->timer, &second);
	/* What is due (after a crash: what was in flight) starts now, not a second later. */
	event_active(ob->timer, EV_TIMEOUT, 1);
	return ob;
}

void outbound_stop(struct outbound *ob)
{
	if (!ob)
		return;
	event_free(ob->timer);
	event_free(ob->soon);
	event_free(ob->kick);
	while (ob->active) {
		struct attempt *a = ob->active;
		ob->active = a->next;
		attempt_free(a);
	}
	while (ob->idle)
		link_close(ob->idle);
	/* Outcomes not yet handed over still go to disk (the writer commits what it holds when
	 * it stops); their callbacks must not reach this agent any more. */
	result_flush(ob);
	committer_cancel(ob->writer, ob);
	schedule_drop_postponed(ob);
	rate_limits_free(ob->rates);
	free(ob->writing);
	dns_resolver_free(ob->dns);
	SSL_CTX_free(ob->tls);
	free(ob->default_domain);
	free(ob);
}

struct dns_resolver *outbound_resolver(struct outbound *ob)
{
	return ob->dns;
}
