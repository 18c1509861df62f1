#include "lib/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/alloc.h"

/* Sessions run on the loop thread, but spool_bytes_free may run on the writer's. */
static size_t memory_total;

static void count(struct spool *sp)
{
	size_t now = sp->mem.len;
	if (now >= sp->counted)
		__atomic_add_fetch(&memory_total, now - sp->counted, __ATOMIC_RELAXED);
	else
		__atomic_sub_fetch(&memory_total, sp->counted - now, __ATOMIC_RELAXED);
	sp->counted = now;
}

size_t spool_memory_total(void)
{
	return __atomic_load_n(&memory_total, __ATOMIC_RELAXED);
}

void spool_init(struct spool *sp, const char *dir, size_t threshold)
{
	memset(sp, 0, sizeof *sp);
	sp->fd = -1;
	sp->threshold = threshold;
	sp->dir = xstrdup(dir ? dir : ".");
}

struct buf *spool_buf(struct spool *sp)
{
	return &sp->mem;
}

size_t spool_length(const struct spool *sp)
{
	return sp->on_disk + sp->mem.len;
}

bool spool_spilled(const struct spool *sp)
{
	return sp->fd >= 0;
}

/* Unlinked from the start (O_TMPFILE), or at once where the file system lacks it: nothing
 * is left behind by a crash. */
static int temp_open(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	char path[4096];
	snprintf(path, sizeof path, "%s/.spool-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

static bool write_all(int fd, const char *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return false;
		}
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return true;
}

static void fail(struct spool *sp, int e)
{
	sp->error = e ? e : EIO;
	buf_free(&sp->mem);
	count(sp);
}

bool spool_settle(struct spool *sp)
{
	if (sp->error) {
		buf_free(&sp->mem);
		count(sp);
		return false;
	}
	if (sp->fd < 0 && (sp->threshold == 0 || sp->mem.len <= sp->threshold)) {
		count(sp);
		return true;
	}
	if (sp->fd < 0) {
		sp->fd = temp_open(sp->dir);
		if (sp->fd < 0) {
			fail(sp, errno);
			return false;
		}
	}
	if (sp->mem.len &&
	    !write_all(sp->fd, sp->mem.data, sp->mem.len, (off_t)(SPOOL_RESERVE + sp->on_disk))) {
		fail(sp, errno);
		return false;
	}
	sp->on_disk += sp->mem.len;
	/* Keep a small staging buffer rather than the largest one seen. */
	if (sp->mem.cap > 256 * 1024)
		buf_free(&sp->mem);
	else
		buf_reset(&sp->mem);
	count(sp);
	return true;
}

void spool_reset(struct spool *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
	sp->on_disk = 0;
	sp->error = 0;
	buf_free(&sp->mem);
	count(sp);
}

struct spool_bytes *spool_bytes_from_mem(char *data, size_t len)
{
	struct spool_bytes *b = xcalloc(1, sizeof *b);
	b->mem = data ? data : xstrdup("");
	b->data = b->mem;
	b->len = len;
	return b;
}

struct spool_bytes *spool_finish(struct spool *sp, struct buf *err)
{
	if (sp->fd >= 0)
		spool_settle(sp);
	if (sp->error) {
		buf_printf(err, "temporary file in %s: %s", sp->dir, strerror(sp->error));
		spool_reset(sp);
		return NULL;
	}
	if (sp->fd < 0) {
		size_t len;
		char *data = buf_steal(&sp->mem, &len);
		count(sp);
		return spool_bytes_from_mem(data, len);
	}
	size_t map_len = SPOOL_RESERVE + sp->on_disk;
	/* Private and writable: spool_bytes_insert writes into the reserved room; the pages
	 * stay those of the file until then, so no memory is copied. */
	void *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, sp->fd, 0);
	if (map == MAP_FAILED) {
		buf_printf(err, "mapping a temporary file: %s", strerror(errno));
		spool_reset(sp);
		return NULL;
	}
	struct spool_bytes *b = xcalloc(1, sizeof *b);
	b->map = map;
	b->map_len = map_len;
	b->data = (const char *)map + SPOOL_RESERVE;
	b->len = sp->on_disk;
	spool_reset(sp); /* the mapping keeps the unlinked file */
	return b;
}

void spool_free(struct spool *sp)
{
	spool_reset(sp);
	free(sp->dir);
	sp->dir = NULL;
}

bool spool_bytes_insert(struct spool_bytes *b, size_t at, const void *data, size_t n)
{
	if (at > b->len)
		return false;
	if (n == 0)
		return true;
	if (b->mem) {
		char *m = xmalloc(b->len + n + 1);
		memcpy(m, b->mem, at);
		memcpy(m + at, data, n);
		memcpy(m + at + n, b->mem + at, b->len - at);
		m[b->len + n] = '\0';
		free(b->mem);
		b->mem = m;
		b->data = m;
		b->len += n;
		return true;
	}
	char *start = (char *)b->data;
	if ((size_t)(start - (char *)b->map) < n)
		return false;
	memmove(start - n, start, at);
	memcpy(start - n + at, data, n);
	b->data = start - n;
	b->len += n;
	return true;
}

bool spool_bytes_remove(struct spool_bytes *b, size_t at, size_t n)
{
	if (at > b->len || n > b->len - at)
		return false;
	if (n == 0)
		return true;
	if (b->mem) {
		memmove(b->mem + at, b->mem + at + n, b->len - at - n);
		b->len -= n;
		b->mem[b->len] = '\0';
		return true;
	}
	/* A mapping: move the part before the cut forward (it is the header, short), so the
	 * room before the data grows by n and the body's pages are not touched. */
	char *start = (char *)b->data;
	memmove(start + n, start, at);
	b->data = start + n;
	b->len -= n;
	return true;
}

void spool_bytes_free(struct spool_bytes **pb)
{
	struct spool_bytes *b = *pb;
	if (!b)
		return;
	if (b->map)
		munmap(b->map, b->map_len);
	free(b->mem);
	free(b);
	*pb = NULL;
}
