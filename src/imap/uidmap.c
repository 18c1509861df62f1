#include "imap/uidmap.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"

/* Index of the run holding sequence number seq (1 .. count). */
static uint32_t run_of_seq(const struct uidmap *m, uint32_t seq)
{
	uint32_t lo = 0, hi = m->nruns; /* the answer is the last run with runs[r].seq <= seq */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (m->runs[mid].seq <= seq)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

uint32_t uidmap_uid(const struct uidmap *m, uint32_t seq)
{
	if (seq == 0 || seq > m->count)
		return 0;
	const struct uid_run *r = &m->runs[run_of_seq(m, seq)];
	return r->uid + (seq - r->seq);
}

uint32_t uidmap_seq(const struct uidmap *m, uint32_t uid)
{
	if (m->count == 0 || uid < m->runs[0].uid)
		return 0;
	uint32_t lo = 0, hi = m->nruns; /* the last run with runs[r].uid <= uid */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (m->runs[mid].uid <= uid)
			lo = mid;
		else
			hi = mid;
	}
	uint32_t offset = uid - m->runs[lo].uid;
	return offset < uidmap_run_len(m, lo) ? m->runs[lo].seq + offset : 0;
}

uint32_t uidmap_last(const struct uidmap *m)
{
	if (m->count == 0)
		return 0;
	uint32_t r = m->nruns - 1;
	return m->runs[r].uid + uidmap_run_len(m, r) - 1;
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

bool uidmap_append(struct uidmap *m, uint32_t uid)
{
	uint32_t last = uidmap_last(m);
	if (uid == 0 || (m->count && uid <= last))
		return false;
	if (!m->count || uid != last + 1)
		insert_run(m, m->nruns, (struct uid_run){ .uid = uid, .seq = m->count + 1 });
	m->count++; /* a UID right after the last one extends the last run */
	return true;
}

void uidmap_remove(struct uidmap *m, uint32_t seq)
{
	if (seq == 0 || seq > m->count)
		return;
	uint32_t r = run_of_seq(m, seq);
	uint32_t len = uidmap_run_len(m, r), offset = seq - m->runs[r].seq;
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
	if (m->count == 0)
		m->nruns = 0;
}

void uidmap_compact(struct uidmap *m)
{
	if (m->cap == m->nruns)
		return;
	if (m->nruns == 0) {
		uidmap_clear(m);
		return;
	}
	m->runs = xrealloc(m->runs, m->nruns * sizeof *m->runs);
	m->cap = m->nruns;
}

void uidmap_clear(struct uidmap *m)
{
	free(m->runs);
	memset(m, 0, sizeof *m);
}
