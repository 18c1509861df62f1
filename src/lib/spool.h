/* The bytes of a message being received (SMTP DATA/BDAT, IMAP APPEND): in memory up to a
 * threshold, past it in an unlinked temporary file, so a large message costs disk and not
 * memory. Finished, they become one read-only span (malloc'd or a mapping of the file) that
 * the writer thread stores and frees.
 *
 *	spool_init(&sp, dir, threshold);
 *	buf_append(spool_buf(&sp), ...);   // a writer appends to the staging buffer,
 *	spool_settle(&sp);                 // then lets the spool move it to disk if over
 *	struct spool_bytes *b = spool_finish(&sp, &err);   // b->data, b->len
 *	spool_bytes_free(&b);              // any thread
 *
 * Bytes held in memory by unfinished spools are counted process-wide (spool_memory_total),
 * for a cap on what all sessions together may hold. */
#ifndef YUBIN_SPOOL_H
#define YUBIN_SPOOL_H
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* Room kept at the start of a spilled file, so a few header lines can be inserted near the
 * start of a finished message without copying it (spool_bytes_insert). */
#define SPOOL_RESERVE 4096

struct spool {
	struct buf mem;   /* staging buffer, and all the bytes while under the threshold */
	int fd;           /* the temporary file; -1 while in memory */
	size_t on_disk;   /* bytes written to the file (after SPOOL_RESERVE) */
	size_t counted;   /* of mem.len: what spool_memory_total counts for this spool */
	size_t threshold;
	char *dir;
	int error;        /* errno of a failed write: everything after it is dropped */
};

struct spool_bytes {
	const char *data;
	size_t len;
	char *mem;        /* malloc'd bytes, or NULL */
	void *map;        /* or a mapping of map_len bytes (data inside it) */
	size_t map_len;
};

/* dir: where temporary files go (the data directory); threshold 0: never spill. */
void spool_init(struct spool *sp, const char *dir, size_t threshold);
/* The buffer to append to; call spool_settle after appending. */
struct buf *spool_buf(struct spool *sp);
/* Moves the staged bytes to the file once the spool has passed its threshold. False when the
 * file cannot be written (sp->error says why; the bytes are dropped, the spool is failed). */
bool spool_settle(struct spool *sp);
/* Bytes appended so far (on disk or in memory). */
size_t spool_length(const struct spool *sp);
bool spool_spilled(const struct spool *sp);
/* Ends the spool (it is empty and may be used again): the bytes as one span, or NULL with a
 * sentence in err if the file failed. */
struct spool_bytes *spool_finish(struct spool *sp, struct buf *err);
/* Drops the bytes; the spool may be used again. */
void spool_reset(struct spool *sp);
/* Drops everything. */
void spool_free(struct spool *sp);

/* Inserts n bytes at offset `at` of a finished span. A spilled one has SPOOL_RESERVE bytes of
 * room before its data: false when n does not fit there. */
bool spool_bytes_insert(struct spool_bytes *b, size_t at, const void *data, size_t n);
/* Removes n bytes at offset `at` of a finished span (a header field, say). False when the
 * range is outside the span. Costs O(at) for a spilled span, O(len) in memory. */
bool spool_bytes_remove(struct spool_bytes *b, size_t at, size_t n);
/* Any thread. Sets *b to NULL. */
void spool_bytes_free(struct spool_bytes **b);
/* Wraps malloc'd bytes (ownership taken). */
struct spool_bytes *spool_bytes_from_mem(char *data, size_t len);

/* Bytes all unfinished spools hold in memory now. */
size_t spool_memory_total(void);

#endif
