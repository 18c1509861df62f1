/* The run-length UID map, checked against a plain array under random appends and removals. */
#include <stdlib.h>

#include "imap/uidmap.h"
#include "test.h"

static void check_same(const struct uidmap *m, const uint32_t *model, uint32_t n)
{
	CHECK_EQ_INT(uidmap_count(m), n);
	CHECK_EQ_INT(uidmap_last(m), n ? model[n - 1] : 0);
	for (uint32_t i = 0; i < n; i++) {
		CHECK_EQ_INT(uidmap_uid(m, i + 1), model[i]);
		CHECK_EQ_INT(uidmap_seq(m, model[i]), i + 1);
	}
	CHECK_EQ_INT(uidmap_uid(m, 0), 0);
	CHECK_EQ_INT(uidmap_uid(m, n + 1), 0);
	/* UIDs in the gaps are absent. */
	for (uint32_t i = 0; i + 1 < n; i++)
		for (uint32_t u = model[i] + 1; u < model[i + 1] && u < model[i] + 4; u++)
			CHECK_EQ_INT(uidmap_seq(m, u), 0);
	/* In order, one by one. */
	uint32_t i = 0;
	for (uint32_t u = uidmap_next(m, 0); u; u = uidmap_next(m, u), i++)
		CHECK(i < n && u == model[i]);
	CHECK_EQ_INT(i, n);
	/* Runs are maximal: two runs never continue each other. */
	for (uint32_t r = 0; !m->is_bitmap && r + 1 < m->nruns; r++)
		CHECK(m->runs[r].uid + (m->runs[r + 1].seq - m->runs[r].seq) < m->runs[r + 1].uid);
}

TEST(imap_uidmap_runs)
{
	struct uidmap m = { 0 };
	CHECK_EQ_INT(uidmap_seq(&m, 1), 0);
	CHECK(uidmap_append(&m, 1));
	CHECK(uidmap_append(&m, 2));
	CHECK(uidmap_append(&m, 3));
	CHECK_EQ_INT(m.nruns, 1);
	CHECK(!uidmap_append(&m, 3)); /* not above the last */
	CHECK(!uidmap_append(&m, 0));
	CHECK(uidmap_append(&m, 10));
	CHECK_EQ_INT(m.nruns, 2);
	uint32_t model[] = { 1, 2, 3, 10 };
	check_same(&m, model, 4);
	uidmap_remove(&m, 2); /* splits 1..3 into 1 and 3 */
	uint32_t model2[] = { 1, 3, 10 };
	check_same(&m, model2, 3);
	CHECK_EQ_INT(m.nruns, 3);
	uidmap_remove(&m, 3);
	uidmap_remove(&m, 1);
	uint32_t model3[] = { 3 };
	check_same(&m, model3, 1);
	uidmap_remove(&m, 1);
	check_same(&m, model3, 0);
	CHECK_EQ_INT(m.nruns, 0);
	CHECK(uidmap_append(&m, 4)); /* after emptying, a new first UID */
	check_same(&m, (uint32_t[]){ 4 }, 1);
	uidmap_compact(&m);
	CHECK_EQ_INT(m.cap, 1);
	uidmap_clear(&m);
	/* Every other UID: the bitmap is the smaller form. */
	uint32_t odd[300];
	for (uint32_t k = 0; k < 300; k++) {
		odd[k] = 2 * k + 1;
		CHECK(uidmap_append(&m, odd[k]));
	}
	uidmap_compact(&m);
	CHECK(m.is_bitmap);
	CHECK(uidmap_bytes(&m) < 300 * sizeof(uint32_t));
	check_same(&m, odd, 300);
	/* A far jump goes back to runs rather than a huge bitmap. */
	CHECK(uidmap_append(&m, 4000000000u));
	CHECK(!m.is_bitmap);
	uidmap_clear(&m);
	CHECK_EQ_INT(uidmap_count(&m), 0);
}

TEST(imap_uidmap_random_against_array)
{
	srand(7);
	int bitmaps = 0, runs = 0;
	for (int round = 0; round < 50; round++) {
		struct uidmap m = { 0 };
		uint32_t model[400];
		uint32_t n = 0, next = 1;
		for (int op = 0; op < 600; op++) {
			if (n < 400 && (n == 0 || rand() % 3)) {
				/* some rounds dense, some with long gaps */
				next += (uint32_t)(rand() % 4 == 0 ? 1 + rand() % (round % 3 ? 5 : 900) : 0);
				CHECK(uidmap_append(&m, next));
				model[n++] = next++;
			} else {
				uint32_t seq = 1 + (uint32_t)rand() % n;
				uidmap_remove(&m, seq);
				memmove(&model[seq - 1], &model[seq], (n - seq) * sizeof *model);
				n--;
			}
			if (op % 37 == 0) {
				uidmap_compact(&m);
				bitmaps += m.is_bitmap;
				runs += !m.is_bitmap;
				check_same(&m, model, n);
			}
		}
		check_same(&m, model, n);
		uidmap_clear(&m);
	}
	CHECK(bitmaps > 0 && runs > 0); /* both forms were exercised */
}

/* A reader thread's copy answers like the original, in both forms, and owns its memory. */
TEST(uidmap_copy_is_independent)
{
	for (int bitmap = 0; bitmap < 2; bitmap++) {
		struct uidmap m = { 0 }, c;
		uint32_t model[2000], n = 0;
		for (uint32_t u = 1; u <= 4000; u++)
			if (!bitmap || u % 2)
				if (n < 2000 && uidmap_append(&m, u))
					model[n++] = u;
		uidmap_compact(&m);
		CHECK_EQ_INT(m.is_bitmap, bitmap);
		uidmap_copy(&c, &m);
		uidmap_clear(&m);
		check_same(&c, model, n);
		CHECK(uidmap_append(&c, 5000));
		uidmap_clear(&c);
	}
}

/* Bulk removal (a large EXPUNGE's sync) leaves what one removal per UID would. */
TEST(imap_uidmap_remove_uids_against_array)
{
	srand(11);
	for (int round = 0; round < 40; round++) {
		struct uidmap m = { 0 };
		uint32_t model[3000], gone[3500], kept[3000];
		uint32_t n = 0, ngone = 0, nkept = 0, next = 1;
		for (uint32_t k = 0; k < 3000; k++) {
			next += (uint32_t)(rand() % 5 == 0 ? rand() % (round % 2 ? 3 : 200) : 0);
			CHECK(uidmap_append(&m, next));
			model[n++] = next++;
		}
		if (round % 3)
			uidmap_compact(&m);
		for (uint32_t k = 0; k < n; k++) {
			if (rand() % (round % 4 + 2) == 0) {
				gone[ngone++] = model[k];
				if (k % 7 == 0)
					gone[ngone++] = model[k] + 1 == (k + 1 < n ? model[k + 1] : 0)
						? model[k] : model[k] + 1; /* absent UIDs are ignored */
			} else {
				kept[nkept++] = model[k];
			}
		}
		uidmap_remove_uids(&m, gone, ngone);
		check_same(&m, kept, nkept);
		uidmap_remove_uids(&m, kept, nkept);
		CHECK_EQ_INT(uidmap_count(&m), 0);
		uidmap_clear(&m);
	}
}
