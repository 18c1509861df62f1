/* The bump allocator of arena.h: a list of chunks, the newest small-allocation chunk first. */
#include "lib/arena.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"

/* Requests bigger than this (IMAP literals, long header values) get a chunk of their own,
 * linked behind the current one so that it keeps serving the small requests around them. */
#define ARENA_OWN_CHUNK 2048

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct arena_chunk *head;
	size_t first_chunk, chunk;
};

struct arena *arena_new(size_t first_chunk, size_t chunk)
{
	struct arena *a = xcalloc(1, sizeof *a);
	a->first_chunk = first_chunk;
	a->chunk = chunk;
	return a;
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	free(a);
}

void *arena_alloc(struct arena *a, size_t size)
{
	size_t align = alignof(max_align_t);
	size = size_add(size, align - 1) & ~(align - 1);
	if (size == 0)
		size = align;
	struct arena_chunk *c = a->head;
	if (!c || c->cap - c->used < size) {
		bool own = c && size > ARENA_OWN_CHUNK;
		size_t cap = c ? a->chunk : a->first_chunk;
		if (own || size > cap)
			cap = size;
		struct arena_chunk *n = xmalloc(size_add(sizeof *n, cap));
		n->used = 0;
		n->cap = cap;
		if (own) {
			n->next = c->next;
			c->next = n;
		} else {
			n->next = c;
			a->head = n;
		}
		c = n;
	}
	void *p = (char *)c->data + c->used;
	c->used += size;
	return p;
}

void *arena_zalloc(struct arena *a, size_t size)
{
	void *p = arena_alloc(a, size);
	memset(p, 0, size);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, size_add(len, 1));
	if (len)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}
