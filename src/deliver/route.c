#include "deliver/route.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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
		log_warn("event=alias-too-wide account=%s", a->address);
		return;
	}
	x->out->ids[x->out->n++] = a->id;
}

static bool expand(struct expansion *x, const char *address);

static void expand_alias_target(void *ctx, const char *const *cols, size_t n)
{
	struct expansion *x = ctx;
	if (n < 1 || !cols[0])
		return;
	if (!expand(x, cols[0]))
		log_warn("event=alias-target-unknown target=%s", cols[0]);
}

/* Adds the accounts address stands for; false when it stands for nobody. */
static bool expand(struct expansion *x, const char *address)
{
	if (x->depth >= ALIAS_DEPTH_MAX) {
		log_warn("event=alias-loop address=%s", address);
		return false;
	}
	struct account a;
	if (x->store->ops->account_get(x->store, address, &a)) {
		add_target(x, &a);
		account_free(&a);
		return true;
	}
	x->depth++;
	size_t before = x->out->n;
	size_t targets = x->store->ops->alias_targets(x->store, address, expand_alias_target, x);
	x->depth--;
	return targets > 0 && (x->out->n > before || x->full > 0);
}

enum route_result route_recipient(struct store *s, const char *local, const char *domain,
				  const char *default_domain, int64_t incoming_size,
				  struct route_targets *out)
{
	out->n = 0;
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
	if (x.full > 0 && x.full >= out->n)
		return ROUTE_OVER_QUOTA;
	return ROUTE_LOCAL;
}

bool route_sender_allowed(struct store *s, const char *local, const char *domain,
			  int64_t account_id)
{
	if (!domain[0] || !s->ops->domain_exists(s, domain, NULL))
		return false;
	/* The account's own address, its plus-addresses and aliases that lead to it; never
	 * the catch-all, which would let one user send as every unknown name. */
	struct route_targets t = { .n = 0 };
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
	for (size_t i = 0; found && i < t.n; i++)
		if (t.ids[i] == account_id)
			return true;
	return false;
}
