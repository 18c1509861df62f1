#include "outbound/ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/alloc.h"

/* More domains than this at once: those with a full bucket (nothing to remember) go. */
#define RATE_MAX_DOMAINS 4096

struct bucket {
	struct bucket *next;
	char domain[256];
	double tokens;     /* messages that may go now (fractions refill over time) */
	double last;       /* when tokens was last brought up to date */
	double booked;     /* the latest turn handed out by rate_wait */
};

struct rate_limits {
	struct bucket *head;
	size_t n;
};

struct rate_limits *rate_limits_new(void)
{
	return xcalloc(1, sizeof(struct rate_limits));
}

void rate_limits_free(struct rate_limits *r)
{
	if (!r)
		return;
	while (r->head) {
		struct bucket *b = r->head;
		r->head = b->next;
		free(b);
	}
	free(r);
}

size_t rate_limits_count(const struct rate_limits *r)
{
	return r->n;
}

static void refill(struct bucket *b, long per_minute, double now)
{
	if (now > b->last) {
		b->tokens += (now - b->last) * (double)per_minute / 60.0;
		b->last = now;
	}
	if (b->tokens > (double)per_minute)
		b->tokens = (double)per_minute;
}

/* Forgets buckets that are full again and have no turns booked: they hold no information. */
static void forget_full(struct rate_limits *r, long per_minute, double now)
{
	for (struct bucket **pp = &r->head; *pp;) {
		struct bucket *b = *pp;
		refill(b, per_minute, now);
		if (b->tokens >= (double)per_minute && b->booked <= now) {
			*pp = b->next;
			free(b);
			r->n--;
		} else {
			pp = &b->next;
		}
	}
}

static struct bucket *bucket_for(struct rate_limits *r, const char *domain, long per_minute,
				 double now)
{
	for (struct bucket *b = r->head; b; b = b->next)
		if (strcasecmp(b->domain, domain) == 0) {
			refill(b, per_minute, now);
			return b;
		}
	if (r->n >= RATE_MAX_DOMAINS)
		forget_full(r, per_minute, now);
	struct bucket *b = xcalloc(1, sizeof *b);
	snprintf(b->domain, sizeof b->domain, "%s", domain);
	b->tokens = (double)per_minute;
	b->last = now;
	b->booked = now;
	b->next = r->head;
	r->head = b;
	r->n++;
	return b;
}

bool rate_allows(struct rate_limits *r, const char *domain, long per_minute, double now)
{
	if (per_minute <= 0)
		return true;
	return bucket_for(r, domain, per_minute, now)->tokens >= 1.0;
}

void rate_take(struct rate_limits *r, const char *domain, long per_minute, double now)
{
	if (per_minute <= 0)
		return;
	bucket_for(r, domain, per_minute, now)->tokens -= 1.0;
}

double rate_wait(struct rate_limits *r, const char *domain, long per_minute, double now)
{
	if (per_minute <= 0)
		return 0;
	struct bucket *b = bucket_for(r, domain, per_minute, now);
	double interval = 60.0 / (double)per_minute;
	double first_free = now + (b->tokens >= 1.0 ? 0 : (1.0 - b->tokens) * interval);
	double turn = b->booked > now ? b->booked + interval : first_free;
	if (turn < first_free)
		turn = first_free;
	b->booked = turn;
	return turn - now;
}
