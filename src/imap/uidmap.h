/* The UIDs of a selected mailbox in ascending order, and the sequence numbers they have.
 * Kept as runs of consecutive UIDs: a mailbox of 10,000 messages delivered one after another
 * is one run of 8 bytes instead of an array of 40 KB, which matters when thousands of phones
 * sit in IDLE. Pure code, no I/O. */
#ifndef YUBIN_IMAP_UIDMAP_H
#define YUBIN_IMAP_UIDMAP_H
#include <stdbool.h>
#include <stdint.h>

/* Run r covers sequence numbers seq .. (next run's seq - 1), or .. count for the last run,
 * with UIDs uid, uid + 1, ... */
struct uid_run {
	uint32_t uid, seq;
};

struct uidmap {
	struct uid_run *runs;
	uint32_t nruns, cap;
	uint32_t count; /* messages */
};

static inline uint32_t uidmap_count(const struct uidmap *m)
{
	return m->count;
}

/* Messages in run r. */
static inline uint32_t uidmap_run_len(const struct uidmap *m, uint32_t r)
{
	return (r + 1 < m->nruns ? m->runs[r + 1].seq : m->count + 1) - m->runs[r].seq;
}

/* UID of sequence number seq (1 .. count); 0 when out of range. */
uint32_t uidmap_uid(const struct uidmap *m, uint32_t seq);
/* Sequence number of uid; 0 when it is not there. */
uint32_t uidmap_seq(const struct uidmap *m, uint32_t uid);
/* Highest UID, 0 when empty. */
uint32_t uidmap_last(const struct uidmap *m);
/* Adds a new highest UID; false (and nothing changes) unless uid > uidmap_last. */
bool uidmap_append(struct uidmap *m, uint32_t uid);
/* Removes sequence number seq (1 .. count); the numbers above it move down by one. */
void uidmap_remove(struct uidmap *m, uint32_t seq);
/* Gives back unused capacity (for a session that will now sit idle). */
void uidmap_compact(struct uidmap *m);
void uidmap_clear(struct uidmap *m);

#endif
