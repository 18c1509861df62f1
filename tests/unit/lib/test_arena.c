#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "lib/arena.h"
#include "test.h"

static bool aligned(const void *p)
{
	return (uintptr_t)p % alignof(max_align_t) == 0;
}

TEST(arena_allocations_are_aligned_distinct_and_kept)
{
	struct arena *a = arena_new(64, 256);
	char *p[200];
	size_t sizes[200];
	/* Small and big requests mixed, so that every chunk rule is taken: the first chunk,
	 * new chunks in front, and big ones of their own behind the current one. */
	for (size_t i = 0; i < 200; i++) {
		sizes[i] = i % 17 == 0 ? 3000 + i : i % 5 == 0 ? 300 : i % 7;
		p[i] = arena_alloc(a, sizes[i]);
		CHECK(aligned(p[i]));
		memset(p[i], (int)i, sizes[i]);
	}
	for (size_t i = 0; i < 200; i++) {
		for (size_t k = 0; k < sizes[i]; k++)
			if ((unsigned char)p[i][k] != (unsigned char)i) {
				CHECK(!"an allocation was overwritten");
				break;
			}
		if (i)
			CHECK(p[i] != p[i - 1]); /* size 0 too gets its own address */
	}
	arena_free(a);
	arena_free(NULL);
}

TEST(arena_zalloc_zeroes_and_strndup_terminates)
{
	struct arena *a = arena_new(128, 128);
	/* Dirty the first chunk, then get zeroed memory from it and from a new chunk. */
	memset(arena_alloc(a, 100), 0xff, 100);
	unsigned char *z = arena_zalloc(a, 16);
	unsigned char *big = arena_zalloc(a, 5000);
	bool zero = true;
	for (size_t i = 0; i < 16; i++)
		zero = zero && z[i] == 0;
	for (size_t i = 0; i < 5000; i++)
		zero = zero && big[i] == 0;
	CHECK(zero);
	char *s = arena_strndup(a, "hello world", 5);
	CHECK_EQ_STR(s, "hello");
	CHECK_EQ_STR(arena_strndup(a, "", 0), "");
	CHECK_EQ_STR(arena_strndup(a, NULL, 0), "");
	arena_free(a);
}
