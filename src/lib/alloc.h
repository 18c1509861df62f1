/* Allocation that never returns NULL: on exhaustion the process logs and aborts,
 * because every caller would otherwise need a recovery path nobody tests. */
#ifndef YUBIN_ALLOC_H
#define YUBIN_ALLOC_H
#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* a + b, aborting on overflow (sizes come from the network). */
size_t size_add(size_t a, size_t b);

#endif
