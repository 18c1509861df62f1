/* Temporary directories for unit tests that need files (a store, a spool, keys): made under
 * /tmp, removed with everything in them when the test ends, so runs leave nothing behind. */
#ifndef YUBIN_TEST_TMPDIR_H
#define YUBIN_TEST_TMPDIR_H
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_TMPDIR_SIZE 64

/* Makes a fresh directory; dir holds TEST_TMPDIR_SIZE bytes. False (and a line printed) when
 * none could be made. */
static inline bool test_tmpdir_make(char dir[TEST_TMPDIR_SIZE])
{
	snprintf(dir, TEST_TMPDIR_SIZE, "/tmp/yubin-unit-XXXXXX");
	if (mkdtemp(dir))
		return true;
	printf("  cannot make a temporary directory under /tmp\n");
	dir[0] = '\0';
	return false;
}

static inline int test_tmpdir_remove_one(const char *path, const struct stat *st, int type,
					 struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (remove(path) != 0)
		printf("  could not remove %s\n", path);
	return 0;
}

/* Removes dir and everything under it (nothing when dir is ""). */
static inline void test_tmpdir_remove(const char *dir)
{
	if (dir[0])
		nftw(dir, test_tmpdir_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
