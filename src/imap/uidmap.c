#include "imap/uidmap.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"

#define BLOCK_WORDS 8 /* 512 UIDs per count in the bitmap form */

/* ---- runs ------------------------------------------------------------------------------- */

static uint32_t run_len(const struct uidmap *m, uint32_t r)
{
	return (r + 1 < m->nruns ? m->runs[r + 1].seq : m->count + 1) - m->runs[r].seq;
}

/* The last run whose first sequence number (or first UID) is <= key; key is at least the
 * first run's. */
static uint32_t last_run_from(const struct uidmap *m, uint32_t key, bool by_uid)
{
	uint32_t lo = 0, hi = m->nruns;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if ((by_uid ? m->runs[mid].uid : m->runs[mid].seq) <= key)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static uint32_t run_of_seq(const struct uidmap *m, uint32_t seq)
{
	return last_run_from(m, seq, false);
}

static uint32_t run_of_uid(const struct uidmap *m, uint32_t uid)
{
	return last_run_from(m, uid, true);
}

static uint32_t runs_uid(const struct uidmap *m, uint32_t seq)
{
	const struct uid_run *r = &m->runs[run_of_seq(m, seq)];
	return r->uid + (seq - r->seq);
}

static uint32_t runs_seq(const struct uidmap *m, uint32_t uid)
{
	if (uid < m->runs[0].uid)
		return 0;
	uint32_t r = run_of_uid(m, uid), offset = uid - m->runs[r].uid;
	return offset < run_len(m, r) ? m->runs[r].seq + offset : 0;
}

static uint32_t runs_last(const struct uidmap *m)
{
	uint32_t r = m->nruns - 1;
	return m->runs[r].uid + run_len(m, r) - 1;
}

static uint32_t runs_next(const struct uidmap *m, uint32_t uid)
{
	if (uid < m->runs[0].uid)
		return m->runs[0].uid;
	uint32_t r = run_of_uid(m, uid);
	if (uid - m->runs[r].uid + 1 < run_len(m, r))
		return uid + 1;
	return r + 1 < m->nruns ? m->runs[r + 1].uid : 0;
}

static void insert_run(struct uidmap *m, uint32_t at, struct uid_run run)
{
	if (m->nruns == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 4;
		m->runs = xrealloc(m->runs, m->cap * sizeof *m->runs);
	}
	memmove(&m->runs[at + 1], &m->runs[at], (m->nruns - at) * sizeof *m->runs);
	m->runs[at] = run;
	m->nruns++;
}

static void runs_append(struct uidmap *m, uint32_t uid)
{
	if (!m->count || uid != runs_last(m) + 1)
		insert_run(m, m->nruns, (struct uid_run){ .uid = uid, .seq = m->count + 1 });
	m->count++; /* a UID right after the last one extends the last run */
}

static void runs_remove(struct uidmap *m, uint32_t seq)
{
	uint32_t r = run_of_seq(m, seq);
	uint32_t len = run_len(m, r), offset = seq - m->runs[r].seq;
	uint32_t shift_from = r + 1; /* runs from here on start one sequence number lower */
	if (len == 1) {
		memmove(&m->runs[r], &m->runs[r + 1], (m->nruns - r - 1) * sizeof *m->runs);
		m->nruns--;
		shift_from = r;
	} else if (offset == 0) {
		m->runs[r].uid++;
	} else if (offset < len - 1) {
		/* The messages after the removed one become a run of their own, starting at seq. */
		insert_run(m, r + 1, (struct uid_run){ .uid = m->runs[r].uid + offset + 1, .seq = seq + 1 });
	} /* else the last of its run: the run just ends one earlier */
	for (uint32_t i = shift_from; i < m->nruns; i++)
		m->runs[i].seq--;
	m->count--;
}

/* ---- bitmap ----------------------------------------------------------------------------- */

static uint32_t nblocks(uint32_t nwords)
{
	return (nwords + BLOCK_WORDS - 1) / BLOCK_WORDS;
}

static void bm_recount(struct uidmap *m)
{
	uint32_t n = 0;
	for (uint32_t w = 0; w < m->nwords; w++) {
		if (w % BLOCK_WORDS == 0)
			m->before[w / BLOCK_WORDS] = n;
		n += (uint32_t)__builtin_popcountll(m->words[w]);
	}
}

static uint32_t bm_seq(const struct uidmap *m, uint32_t uid)
{
	if (uid < m->base)
		return 0;
	uint32_t i = uid - m->base, w = i / 64;
	uint64_t bit = 1ull << (i % 64);
	if (w >= m->nwords || !(m->words[w] & bit))
		return 0;
	uint32_t rank = m->before[w / BLOCK_WORDS];
	for (uint32_t j = w - w % BLOCK_WORDS; j < w; j++)
		rank += (uint32_t)__builtin_popcountll(m->words[j]);
	return rank + (uint32_t)__builtin_popcountll(m->words[w] & (bit - 1)) + 1;
}

static uint32_t bm_uid(const struct uidmap *m, uint32_t seq)
{
	uint32_t rank = seq - 1, lo = 0, hi = nblocks(m->nwords);
	while (hi - lo > 1) { /* the block holding rank: the last with before <= rank */
		uint32_t mid = lo + (hi - lo) / 2;
		if (m->before[mid] <= rank)
			lo = mid;
		else
			hi = mid;
	}
	uint32_t seen = m->before[lo];
	for (uint32_t w = lo * BLOCK_WORDS; w < m->nwords; w++) {
		uint64_t x = m->words[w];
		uint32_t n = (uint32_t)__builtin_popcountll(x);
		if (rank - seen < n) {
			for (uint32_t k = rank - seen; k > 0; k--)
				x &= x - 1; /* drop the lowest set bit */
			return m->base + w * 64 + (uint32_t)__builtin_ctzll(x);
		}
		seen += n;
	}
	return 0; /* not reached while count is right */
}

static uint32_t bm_last(const struct uidmap *m)
{
	for (uint32_t w = m->nwords; w-- > 0;)
		if (m->words[w])
			return m->base + w * 64 + 63 - (uint32_t)__builtin_clzll(m->words[w]);
	return 0;
}

static uint32_t bm_next(const struct uidmap *m, uint32_t uid)
{
	uint32_t i = uid < m->base ? 0 : uid - m->base + 1;
	for (uint32_t w = i / 64; w < m->nwords; w++) {
		uint64_t x = m->words[w];
		if (w == i / 64)
			x &= ~0ull << (i % 64);
		if (x)
			return m->base + w * 64 + (uint32_t)__builtin_ctzll(x);
	}
	return 0;
}

static void bm_grow(struct uidmap *m, uint32_t nwords)
{
	m->words = xrealloc(m->words, nwords * sizeof *m->words);
	memset(&m->words[m->nwords], 0, (nwords - m->nwords) * sizeof *m->words);
	uint32_t old_blocks = nblocks(m->nwords), new_blocks = nblocks(nwords);
	m->before = xrealloc(m->before, new_blocks * sizeof *m->before);
	for (uint32_t b = old_blocks; b < new_blocks; b++)
		m->before[b] = m->count;
	m->nwords = nwords;
}

static void bm_set(struct uidmap *m, uint32_t uid)
{
	uint32_t i = uid - m->base;
	m->words[i / 64] |= 1ull << (i % 64);
	for (uint32_t b = i / 64 / BLOCK_WORDS + 1; b < nblocks(m->nwords); b++)
		m->before[b]++;
	m->count++;
}

static void bm_remove(struct uidmap *m, uint32_t seq)
{
	uint32_t i = bm_uid(m, seq) - m->base;
	m->words[i / 64] &= ~(1ull << (i % 64));
	for (uint32_t b = i / 64 / BLOCK_WORDS + 1; b < nblocks(m->nwords); b++)
		m->before[b]--;
	m->count--;
}

/* ---- both forms ------------------------------------------------------------------------- */

uint32_t uidmap_uid(const struct uidmap *m, uint32_t seq)
{
	if (seq == 0 || seq > m->count)
		return 0;
	return m->is_bitmap ? bm_uid(m, seq) : runs_uid(m, seq);
}

uint32_t uidmap_seq(const struct uidmap *m, uint32_t uid)
{
	if (m->count == 0)
		return 0;
	return m->is_bitmap ? bm_seq(m, uid) : runs_seq(m, uid);
}

uint32_t uidmap_last(const struct uidmap *m)
{
	if (m->count == 0)
		return 0;
	return m->is_bitmap ? bm_last(m) : runs_last(m);
}

uint32_t uidmap_next(const struct uidmap *m, uint32_t uid)
{
	if (m->count == 0)
		return 0;
	return m->is_bitmap ? bm_next(m, uid) : runs_next(m, uid);
}

/* Moves the UIDs into the given form, sized exactly. */
static void rebuild(struct uidmap *m, bool bitmap, uint32_t nruns)
{
	struct uidmap n = { .is_bitmap = bitmap };
	uint32_t first = uidmap_next(m, 0), last = uidmap_last(m);
	if (bitmap) {
		n.base = first;
		bm_grow(&n, (last - first) / 64 + 1);
		for (uint32_t u = first; u; u = uidmap_next(m, u)) {
			uint32_t i = u - first;
			n.words[i / 64] |= 1ull << (i % 64);
			n.count++;
		}
		bm_recount(&n);
	} else {
		n.runs = xcalloc(nruns ? nruns : 1, sizeof *n.runs);
		n.cap = nruns ? nruns : 1;
		for (uint32_t u = first; u; u = uidmap_next(m, u))
			runs_append(&n, u);
	}
	uidmap_clear(m);
	*m = n;
}

bool uidmap_append(struct uidmap *m, uint32_t uid)
{
	if (uid == 0 || (m->count && uid <= uidmap_last(m)))
		return false;
	if (m->is_bitmap && m->count == 0)
		uidmap_clear(m); /* start again as runs */
	if (!m->is_bitmap) {
		runs_append(m, uid);
		return true;
	}
	uint32_t words = (uid - m->base) / 64 + 1;
	if (words > m->nwords) {
		/* Far beyond the others (a gap of thousands of UIDs): runs are smaller. */
		if ((uint64_t)words > 8 * ((uint64_t)m->count + 8))
			rebuild(m, false, 0);
		else
			bm_grow(m, words + words / 8);
	}
	if (m->is_bitmap)
		bm_set(m, uid);
	else
		runs_append(m, uid);
	return true;
}

void uidmap_remove(struct uidmap *m, uint32_t seq)
{
	if (seq == 0 || seq > m->count)
		return;
	if (m->is_bitmap)
		bm_remove(m, seq);
	else
		runs_remove(m, seq);
	if (m->count == 0)
		uidmap_clear(m);
}

void uidmap_remove_uids(struct uidmap *m, const uint32_t *uids, size_t n)
{
	if (n == 0 || m->count == 0)
		return;
	/* One pass over the map, instead of a removal per UID: each uidmap_remove may split a
	 * run and renumber every run after it, so 50,000 of them cost billions of steps. */
	struct uidmap kept = { 0 };
	size_t i = 0;
	for (uint32_t u = uidmap_next(m, 0); u; u = uidmap_next(m, u)) {
		while (i < n && uids[i] < u)
			i++;
		if (i < n && uids[i] == u)
			continue;
		uidmap_append(&kept, u);
	}
	uidmap_clear(m);
	*m = kept;
	uidmap_compact(m);
}

void uidmap_compact(struct uidmap *m)
{
	if (m->count == 0) {
		uidmap_clear(m);
		return;
	}
	uint32_t nruns = m->nruns;
	if (m->is_bitmap) {
		nruns = 0;
		for (uint32_t u = uidmap_next(m, 0), prev = 0; u; prev = u, u = uidmap_next(m, u))
			nruns += !prev || u != prev + 1;
	}
	uint32_t first = uidmap_next(m, 0), words = (uidmap_last(m) - first) / 64 + 1;
	size_t bitmap_bytes = (size_t)words * 8 + (size_t)nblocks(words) * 4;
	size_t runs_bytes = (size_t)nruns * sizeof(struct uid_run);
	bool bitmap = bitmap_bytes < runs_bytes;
	if (bitmap != m->is_bitmap ||
	    (bitmap ? m->base != first || m->nwords != words : m->cap != m->nruns))
		rebuild(m, bitmap, nruns);
}

void uidmap_copy(struct uidmap *dst, const struct uidmap *src)
{
	*dst = *src;
	dst->runs = NULL;
	dst->words = NULL;
	dst->before = NULL;
	if (src->runs) {
		dst->runs = xcalloc(src->cap ? src->cap : 1, sizeof *dst->runs);
		memcpy(dst->runs, src->runs, (size_t)src->nruns * sizeof *dst->runs);
	}
	if (src->words) {
		dst->words = xcalloc(src->nwords ? src->nwords : 1, sizeof *dst->words);
		memcpy(dst->words, src->words, (size_t)src->nwords * sizeof *dst->words);
		dst->before = xcalloc(nblocks(src->nwords) ? nblocks(src->nwords) : 1,
				      sizeof *dst->before);
		memcpy(dst->before, src->before, (size_t)nblocks(src->nwords) * sizeof *dst->before);
	}
}

void uidmap_clear(struct uidmap *m)
{
	free(m->runs);
	free(m->words);
	free(m->before);
	memset(m, 0, sizeof *m);
}

size_t uidmap_bytes(const struct uidmap *m)
{
	return m->is_bitmap ? (size_t)m->nwords * 8 + (size_t)nblocks(m->nwords) * 4
			    : (size_t)m->cap * sizeof(struct uid_run);
}
