/* A bump allocator for the strings and arrays of one parsed message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "mime/mime_internal.h"

#define ARENA_CHUNK 8192

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct mime_arena {
	struct arena_chunk *chunks;
};

struct mime_arena *mime_arena_new(void)
{
	return xcalloc(1, sizeof(struct mime_arena));
}

void mime_arena_free(struct mime_arena *a)
{
	if (!a)
		return;
	struct arena_chunk *c = a->chunks;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	free(a);
}

void *mime_arena_alloc(struct mime_arena *a, size_t size)
{
	size_t align = sizeof(max_align_t);
	size = size_add(size, align - 1) & ~(align - 1);
	if (size == 0)
		size = align;
	struct arena_chunk *c = a->chunks;
	if (!c || c->cap - c->used < size) {
		/* Big requests get a chunk of their own so the current one keeps its free space. */
		size_t cap = size > ARENA_CHUNK / 4 ? size : ARENA_CHUNK;
		struct arena_chunk *n = xmalloc(size_add(sizeof(*n), cap));
		n->used = 0;
		n->cap = cap;
		if (c && size > ARENA_CHUNK / 4) {
			n->next = c->next;
			c->next = n;
		} else {
			n->next = c;
			a->chunks = n;
		}
		c = n;
	}
	void *p = (char *)c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

char *mime_arena_strndup(struct mime_arena *a, const char *s, size_t len)
{
	char *p = mime_arena_alloc(a, size_add(len, 1));
	if (len)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}
