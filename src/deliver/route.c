#include "deliver/route.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/log.h"

#define ALIAS_DEPTH_MAX 8

struct expansion {
	struct store *store;
	struct route_targets *out;
	int64_t incoming_size;
	size_t full;     /* targets found but over quota */
	int depth;
};

static void add_target(struct expansion *x, const struct account *a)
{
	if (a->quota > 0 && a->used + x->incoming_size > a->quota) {
		x->full++;
		/* A full member of a list still gets the message; only a direct recipient is
		 * refused (below), so nothing is silently dropped. */
	}
	for (size_t i = 0; i < x->out->n; i++)
		if (x->out->ids[i] == a->id)
			return;
	if (x->out->n == sizeof x->out->ids / sizeof x->out->ids[0]) {
		log_warn("event=alias-too-wide account=%s", log_str(a->address));
		return;
	}
	x->out->ids[x->out->n++] = a->id;
}

/* A forwarding target in another domain: the message is queued for it. */
static void add_remote(struct expansion *x, const char *address)
{
	for (size_t i = 0; i < x->out->nremote; i++)
		if (strcasecmp(x->out->remote[i], address) == 0)
			return;
	if (x->out->nremote == ROUTE_REMOTE_MAX) {
		log_warn("event=alias-too-wide forward=%s", log_str(address));
		return;
	}
	x->out->remote[x->out->nremote++] = xstrdup(address);
}

static bool expand(struct expansion *x, const char *address);

static void expand_alias_target(void *ctx, const char *const *cols, size_t n)
{
	struct expansion *x = ctx;
	if (n < 1 || !cols[0])
		return;
	const char *at = strrchr(cols[0], '@');
	if (at && !x->store->ops->domain_exists(x->store, at + 1, NULL)) {
		add_remote(x, cols[0]);
		return;
	}
	if (!expand(x, cols[0]))
		log_warn("event=alias-target-unknown target=%s", log_str(cols[0]));
}

/* Adds the accounts address stands for; false when it stands for nobody. */
static bool expand(struct expansion *x, const char *address)
{
	if (x->depth >= ALIAS_DEPTH_MAX) {
		log_warn("event=alias-loop address=%s", log_str(address));
		return false;
	}
	struct account a;
	if (x->store->ops->account_get(x->store, address, &a)) {
		add_target(x, &a);
		account_free(&a);
		return true;
	}
	x->depth++;
	size_t before = x->out->n, before_remote = x->out->nremote;
	size_t targets = x->store->ops->alias_targets(x->store, address, expand_alias_target, x);
	x->depth--;
	return targets > 0 && (x->out->n > before || x->out->nremote > before_remote || x->full > 0);
}

enum route_result route_recipient(struct store *s, const char *local, const char *domain,
				  const char *default_domain, int64_t incoming_size,
				  struct route_targets *out)
{
	out->n = 0;
	out->nremote = 0;
	if (!domain[0])
		domain = default_domain;
	char *catchall = NULL;
	if (!s->ops->domain_exists(s, domain, &catchall))
		return ROUTE_NOT_LOCAL;
	struct expansion x = { .store = s, .out = out, .incoming_size = incoming_size };
	struct buf address = BUF_INIT;
	buf_printf(&address, "%s@%s", local, domain);
	bool found = expand(&x, address.data);
	const char *plus = strchr(local, '+');
	if (!found && plus && plus != local) {
		buf_reset(&address);
		buf_printf(&address, "%.*s@%s", (int)(plus - local), local, domain);
		found = expand(&x, address.data);
	}
	if (!found && catchall)
		found = expand(&x, catchall);
	free(catchall);
	buf_free(&address);
	if (!found)
		return ROUTE_UNKNOWN_USER;
	if (x.full > 0 && x.full >= out->n && out->nremote == 0)
		return ROUTE_OVER_QUOTA;
	return ROUTE_LOCAL;
}

void route_targets_free(struct route_targets *t)
{
	for (size_t i = 0; i < t->nremote; i++)
		free(t->remote[i]);
	t->nremote = 0;
	t->n = 0;
}

void route_queue_add(struct commit_remote **remote, size_t *n, const char *address)
{
	const char *at = strrchr(address, '@');
	const char *domain = at ? at + 1 : "";
	struct commit_remote *r = NULL;
	for (size_t k = 0; k < *n && !r; k++)
		if (strcasecmp((*remote)[k].domain, domain) == 0)
			r = &(*remote)[k];
	if (!r) {
		*remote = xrealloc(*remote, (*n + 1) * sizeof **remote);
		r = &(*remote)[(*n)++];
		r->domain = xstrdup(domain);
		r->rcpts = NULL;
		r->nrcpts = 0;
	}
	for (size_t k = 0; k < r->nrcpts; k++)
		if (strcasecmp(r->rcpts[k], address) == 0)
			return;
	r->rcpts = xrealloc(r->rcpts, (r->nrcpts + 1) * sizeof *r->rcpts);
	r->rcpts[r->nrcpts++] = xstrdup(address);
}

bool route_sender_allowed(struct store *s, const char *local, const char *domain,
			  int64_t account_id)
{
	if (!domain[0] || !s->ops->domain_exists(s, domain, NULL))
		return false;
	/* The account's own address, its plus-addresses and aliases that lead to it; never
	 * the catch-all, which would let one user send as every unknown name. */
	struct route_targets t = { .n = 0, .nremote = 0 };
	struct expansion x = { .store = s, .out = &t };
	struct buf address = BUF_INIT;
	buf_printf(&address, "%s@%s", local, domain);
	bool found = expand(&x, address.data);
	const char *plus = strchr(local, '+');
	if (!found && plus && plus != local) {
		buf_reset(&address);
		buf_printf(&address, "%.*s@%s", (int)(plus - local), local, domain);
		found = expand(&x, address.data);
	}
	buf_free(&address);
	bool allowed = false;
	for (size_t i = 0; found && i < t.n; i++)
		allowed |= t.ids[i] == account_id;
	route_targets_free(&t);
	return allowed;
}
