/* The UIDs of a selected mailbox in ascending order, and the sequence numbers they have.
 * Thousands of phones sit in IDLE on a selected mailbox, so this is kept small: as runs of
 * consecutive UIDs (a mailbox delivered in order and never cleaned up is one run of 8 bytes)
 * or, once deletions have left many gaps, as a bitmap over the UID range with a count per
 * 512 UIDs (1,000 messages among 2,000 UIDs: about 270 bytes instead of 4,000 for an array).
 * uidmap_compact picks the smaller form. Pure code, no I/O. */
#ifndef YUBIN_IMAP_UIDMAP_H
#define YUBIN_IMAP_UIDMAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Run r covers sequence numbers seq .. (next run's seq - 1), or .. count for the last run,
 * with UIDs uid, uid + 1, ... */
struct uid_run {
	uint32_t uid, seq;
};

struct uidmap {
	uint32_t count;  /* messages */
	bool is_bitmap;
	/* runs form */
	struct uid_run *runs;
	uint32_t nruns, cap;
	/* bitmap form: bit i is UID base + i; before[b] counts the set bits ahead of block b
	 * (8 words, 512 UIDs), so a lookup scans at most one block. */
	uint64_t *words;
	uint32_t *before;
	uint32_t nwords, base;
};

static inline uint32_t uidmap_count(const struct uidmap *m)
{
	return m->count;
}

/* UID of sequence number seq (1 .. count); 0 when out of range. */
uint32_t uidmap_uid(const struct uidmap *m, uint32_t seq);
/* Sequence number of uid; 0 when it is not there. */
uint32_t uidmap_seq(const struct uidmap *m, uint32_t uid);
/* Highest UID, 0 when empty. */
uint32_t uidmap_last(const struct uidmap *m);
/* The smallest UID above uid, 0 when there is none (uidmap_next(m, 0) is the first). */
uint32_t uidmap_next(const struct uidmap *m, uint32_t uid);
/* Adds a new highest UID; false (and nothing changes) unless uid > uidmap_last. */
bool uidmap_append(struct uidmap *m, uint32_t uid);
/* Removes sequence number seq (1 .. count); the numbers above it move down by one. */
void uidmap_remove(struct uidmap *m, uint32_t seq);
/* Removes these UIDs (ascending; absent ones are ignored) in one pass over the map, then
 * compacts it. */
void uidmap_remove_uids(struct uidmap *m, const uint32_t *uids, size_t n);
/* Rebuilds in the smaller form without spare capacity (for a session that will now sit
 * idle). Cheap when nothing would change. */
void uidmap_compact(struct uidmap *m);
void uidmap_clear(struct uidmap *m);
/* dst becomes an independent copy of src (for a reader thread's view of a session). */
void uidmap_copy(struct uidmap *dst, const struct uidmap *src);
/* Bytes held (for tests and the benchmark's reasoning). */
size_t uidmap_bytes(const struct uidmap *m);

#endif
