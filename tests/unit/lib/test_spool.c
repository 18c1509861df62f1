#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/spool.h"
#include "test.h"

static size_t files_in(const char *dir)
{
	size_t n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.' || strncmp(e->d_name, ".spool-", 7) == 0;
	if (d)
		closedir(d);
	return n;
}

static void add(struct spool *sp, const char *s, size_t n)
{
	buf_append(spool_buf(sp), s, n);
	CHECK(spool_settle(sp));
}

TEST(spool_small_message_stays_in_memory)
{
	size_t base = spool_memory_total();
	struct spool sp;
	spool_init(&sp, "/tmp", 100);
	add(&sp, "hello ", 6);
	add(&sp, "world", 5);
	CHECK(!spool_spilled(&sp));
	CHECK_EQ_INT(spool_length(&sp), 11);
	CHECK_EQ_INT(spool_memory_total() - base, 11);
	struct buf err = BUF_INIT;
	struct spool_bytes *b = spool_finish(&sp, &err);
	CHECK(b && b->mem && !b->map);
	CHECK_EQ_INT(b->len, 11);
	CHECK(memcmp(b->data, "hello world", 11) == 0);
	CHECK_EQ_INT(spool_memory_total(), base); /* handed over: not unfinished any more */
	CHECK(spool_bytes_insert(b, 6, "big ", 4));
	CHECK_EQ_INT(b->len, 15);
	CHECK(memcmp(b->data, "hello big world", 15) == 0);
	CHECK(spool_bytes_remove(b, 0, 6));
	CHECK_EQ_INT(b->len, 9);
	CHECK(memcmp(b->data, "big world", 10) == 0); /* NUL-terminated still */
	CHECK(!spool_bytes_remove(b, 5, 5));          /* past the end: refused */
	CHECK_EQ_INT(b->len, 9);
	spool_bytes_free(&b);
	CHECK(b == NULL);
	spool_free(&sp);
	buf_free(&err);
}

TEST(spool_large_message_goes_to_an_unlinked_file)
{
	char dir[] = "/tmp/yubin-spool-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	size_t base = spool_memory_total();
	struct spool sp;
	spool_init(&sp, dir, 1000);
	size_t total = 0;
	char chunk[777];
	for (int i = 0; i < 200; i++) {
		memset(chunk, 'a' + i % 26, sizeof chunk);
		add(&sp, chunk, sizeof chunk);
		total += sizeof chunk;
		CHECK(spool_memory_total() - base <= 1000);
	}
	CHECK(spool_spilled(&sp));
	CHECK_EQ_INT(spool_length(&sp), total);
	CHECK_EQ_INT(files_in(dir), 0); /* nothing visible, nothing left by a crash */
	struct buf err = BUF_INIT;
	struct spool_bytes *b = spool_finish(&sp, &err);
	CHECK(b && b->map && !b->mem);
	CHECK_EQ_INT(b->len, total);
	bool same = true;
	for (size_t i = 0; i < total; i++)
		same &= b->data[i] == 'a' + (int)(i / sizeof chunk) % 26;
	CHECK(same);
	CHECK_EQ_INT(spool_memory_total(), base);
	/* a header inserted after the first 10 bytes, in the room before the data */
	CHECK(spool_bytes_insert(b, 10, "X-New: 1\r\n", 10));
	CHECK_EQ_INT(b->len, total + 10);
	CHECK(memcmp(b->data, "aaaaaaaaaaX-New: 1\r\naaaa", 24) == 0);
	CHECK(b->data[total + 9] == 'a' + (int)((total - 1) / sizeof chunk) % 26);
	char big[SPOOL_RESERVE];
	memset(big, 'z', sizeof big);
	CHECK(!spool_bytes_insert(b, 0, big, sizeof big)); /* no room: refused, unchanged */
	CHECK_EQ_INT(b->len, total + 10);
	/* removing a field makes room for a bigger one */
	CHECK(spool_bytes_remove(b, 10, 10));
	CHECK_EQ_INT(b->len, total);
	CHECK(memcmp(b->data, "aaaaaaaaaaaaaa", 14) == 0);
	CHECK(b->data[total - 1] == 'a' + (int)((total - 1) / sizeof chunk) % 26);
	CHECK(spool_bytes_insert(b, 0, big, SPOOL_RESERVE - 100));
	CHECK_EQ_INT(b->len, total + SPOOL_RESERVE - 100);
	spool_bytes_free(&b);
	/* the spool is reusable after finishing */
	add(&sp, "x", 1);
	CHECK(!spool_spilled(&sp));
	spool_free(&sp);
	CHECK_EQ_INT(spool_memory_total(), base);
	rmdir(dir);
	buf_free(&err);
}

TEST(spool_unwritable_directory_fails_cleanly)
{
	size_t base = spool_memory_total();
	struct spool sp;
	spool_init(&sp, "/nonexistent-yubin-dir", 4);
	buf_append(spool_buf(&sp), "0123456789", 10);
	CHECK(!spool_settle(&sp));
	CHECK(sp.error != 0);
	buf_append(spool_buf(&sp), "more", 4);
	CHECK(!spool_settle(&sp));
	struct buf err = BUF_INIT;
	CHECK(spool_finish(&sp, &err) == NULL);
	CHECK(err.len > 0);
	CHECK_EQ_INT(spool_memory_total(), base);
	spool_free(&sp);
	buf_free(&err);
}
