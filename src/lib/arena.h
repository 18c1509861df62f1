/* A bump allocator: many small allocations with one lifetime, freed together (one IMAP
 * command, one parsed MIME message), so a hostile input with thousands of parts costs one
 * free, not thousands. Allocation never returns NULL (alloc.h); nothing is freed alone. */
#ifndef YUBIN_ARENA_H
#define YUBIN_ARENA_H
#include <stddef.h>

struct arena;

/* An empty arena. Its first chunk will hold first_chunk bytes, the later ones chunk bytes
 * (a request bigger than that gets a chunk of its size). */
struct arena *arena_new(size_t first_chunk, size_t chunk);
/* Frees the arena and everything allocated from it; NULL is fine. */
void arena_free(struct arena *a);

/* size bytes aligned for any type (a distinct pointer even for size 0), uninitialised. */
void *arena_alloc(struct arena *a, size_t size);
/* The same, zeroed. */
void *arena_zalloc(struct arena *a, size_t size);
/* s[0..len) and a NUL. */
char *arena_strndup(struct arena *a, const char *s, size_t len);

#endif
