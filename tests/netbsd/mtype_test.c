/*
 * Typed malloc(9): exact statistics after a known sequence (objects,
 * bytes, memory with header and size class, high-water mark, requests and
 * the per-size-class breakdown), M_ZERO, mtype_roundup(), realloc's cases,
 * the limit failing M_NOWAIT and M_CANFAIL requests, attach and detach,
 * the walk and the `vmstat -m` type table, NetBSD's names, and the checks
 * on free: wrong type, double free, foreign and NULL pointers.
 */
#include <stdint.h>
#include <string.h>

#include <kmem/kmem.h>

#include "netbsd_test.h"

#define MTYPE_NETBSD_NAMES      /* after every system header */
#include <kmem/mtype.h>

MALLOC_DEFINE(M_TESTA, "test_a", "statistics test");
MALLOC_DEFINE(M_TESTB, "test_b", "the other type");
MALLOC_DEFINE_LIMIT(M_TESTL, "test_limit", "limit test", 4096);
MALLOC_JUSTDEFINE(M_LAZY, "test_lazy", "attached on first use");
MALLOC_DEFINE(M_TABLE, "test_table", "table test");

static mtype_stats_t
stats_of(struct malloc_type *type)
{
	mtype_stats_t st;
	CHECK_EQ(mtype_stats(type, &st), 0);
	return (st);
}

static size_t
page_roundup(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return ((size + page - 1) / page * page);
}

static void
test_exact_statistics(void)
{
	mtype_stats_t st = stats_of(M_TESTA);
	CHECK(strcmp(st.name, "test_a") == 0);
	CHECK_EQ(st.attached, 1);       /* MALLOC_DEFINE attached it */
	CHECK_EQ(st.calls, 0);

	void *p10 = mtype_malloc(10, M_TESTA, M_WAITOK);
	void *p100 = mtype_malloc(100, M_TESTA, M_WAITOK);
	void *p1000 = mtype_malloc(1000, M_TESTA, M_NOWAIT);
	void *p200k = mtype_malloc(200000, M_TESTA, M_WAITOK);
	CHECK(p10 && p100 && p1000 && p200k);
	CHECK_EQ((uintptr_t)p10 % 16, 0);
	CHECK_EQ((uintptr_t)p100 % 16, 0);
	CHECK_EQ((uintptr_t)p1000 % 16, 0);
	CHECK_EQ((uintptr_t)p200k % 16, 0);
	memset(p10, 1, 10);
	memset(p100, 2, 100);
	memset(p1000, 3, 1000);
	memset(p200k, 4, 200000);

	/* Memory: 16-byte header, rounded to 16, then to kmem's class. */
	uint64_t m10 = 32, m100 = 128, m1000 = 1024;
	uint64_t m200k = page_roundup(200000 + 16);
	st = stats_of(M_TESTA);
	CHECK_EQ(st.inuse, 4);
	CHECK_EQ(st.bytes_inuse, 10 + 100 + 1000 + 200000);
	CHECK_EQ(st.mem_inuse, m10 + m100 + m1000 + m200k);
	CHECK_EQ(st.mem_max, m10 + m100 + m1000 + m200k);
	CHECK_EQ(st.calls, 4);
	CHECK_EQ(st.fails, 0);
	CHECK_EQ(st.frees, 0);

	mtype_free(p100, M_TESTA);
	st = stats_of(M_TESTA);
	CHECK_EQ(st.inuse, 3);
	CHECK_EQ(st.bytes_inuse, 10 + 1000 + 200000);
	CHECK_EQ(st.mem_inuse, m10 + m1000 + m200k);
	CHECK_EQ(st.mem_max, m10 + m100 + m1000 + m200k);
	CHECK_EQ(st.frees, 1);

	/* Size classes: 10 <= 16, 100 <= 128, 1000 <= 1024, 200000 <= 256K. */
	uint64_t calls[MTYPE_BUCKETS] = { 0 }, inuse[MTYPE_BUCKETS] = { 0 };
	calls[0] = inuse[0] = 1;
	calls[3] = 1;
	calls[6] = inuse[6] = 1;
	calls[14] = inuse[14] = 1;
	for (unsigned b = 0; b < MTYPE_BUCKETS; b++) {
		CHECK_EQ(st.bucket[b].calls, calls[b]);
		CHECK_EQ(st.bucket[b].inuse, inuse[b]);
	}
	CHECK_EQ(mtype_bucket_size(0), 16);
	CHECK_EQ(mtype_bucket_size(3), 128);
	CHECK_EQ(mtype_bucket_size(14), 262144);
	CHECK_EQ(mtype_bucket_size(MTYPE_BUCKETS - 1), SIZE_MAX);

	/* The other type saw none of it. */
	CHECK_EQ(stats_of(M_TESTB).calls, 0);

	mtype_free(p10, M_TESTA);
	mtype_free(p1000, M_TESTA);
	mtype_free(p200k, M_TESTA);
	st = stats_of(M_TESTA);
	CHECK_EQ(st.inuse, 0);
	CHECK_EQ(st.bytes_inuse, 0);
	CHECK_EQ(st.mem_inuse, 0);
	CHECK_EQ(st.calls, 4);
	CHECK_EQ(st.frees, 4);
	for (unsigned b = 0; b < MTYPE_BUCKETS; b++)
		CHECK_EQ(st.bucket[b].inuse, 0);
}

static void
test_zero_and_roundup(void)
{
	CHECK_EQ(mtype_roundup(1), 16);
	CHECK_EQ(mtype_roundup(10), 16);
	CHECK_EQ(mtype_roundup(16), 16);
	CHECK_EQ(mtype_roundup(17), 32);
	CHECK_EQ(mtype_roundup(100), 112);
	CHECK_EQ(mtype_roundup(1000), 1008);

	unsigned char *p = mtype_malloc(300, M_TESTB, M_WAITOK);
	memset(p, 0xff, 300);
	mtype_free(p, M_TESTB);
	p = mtype_malloc(300, M_TESTB, M_WAITOK | M_ZERO);
	for (int i = 0; i < 300; i++)
		CHECK_EQ(p[i], 0);
	/* All of mtype_roundup()'s bytes are usable. */
	memset(p, 0x12, mtype_roundup(300));
	mtype_free(p, M_TESTB);
}

static void
test_realloc(void)
{
	char *p = mtype_realloc(NULL, 20, M_TESTB, M_WAITOK);
	CHECK(p != NULL);
	memcpy(p, "0123456789abcdefghi", 20);
	p = mtype_realloc(p, 5000, M_TESTB, M_WAITOK | M_ZERO);
	CHECK(memcmp(p, "0123456789abcdefghi", 20) == 0);
	for (int i = 20; i < 5000; i++)
		CHECK_EQ(p[i], 0);
	p = mtype_realloc(p, 8, M_TESTB, M_WAITOK);
	CHECK(memcmp(p, "01234567", 8) == 0);
	mtype_stats_t st = stats_of(M_TESTB);
	CHECK_EQ(st.inuse, 1);
	CHECK_EQ(st.bytes_inuse, 8);
	CHECK(mtype_realloc(p, 0, M_TESTB, M_WAITOK) == NULL);
	st = stats_of(M_TESTB);
	CHECK_EQ(st.inuse, 0);
	CHECK_EQ(st.mem_inuse, 0);
}

static void
test_limit(void)
{
	mtype_stats_t st = stats_of(M_TESTL);
	CHECK_EQ(st.limit, 4096);
	void *p[4];
	for (int i = 0; i < 4; i++)
		CHECK((p[i] = mtype_malloc(1000, M_TESTL, M_NOWAIT)) != NULL);
	CHECK_EQ(stats_of(M_TESTL).mem_inuse, 4096);

	void *q = (void *)1;
	CHECK_NO_REPORT(q = mtype_malloc(1, M_TESTL, M_NOWAIT));
	CHECK(q == NULL);
	/* More than the limit could ever hold: NULL with M_CANFAIL ... */
	CHECK_NO_REPORT(q = mtype_malloc(5000, M_TESTL, M_WAITOK | M_CANFAIL));
	CHECK(q == NULL);
	/* ... and a report without. */
	CHECK_REPORT(q = mtype_malloc(5000, M_TESTL, M_WAITOK),
	    "can never be satisfied");
	CHECK(q == NULL);
	st = stats_of(M_TESTL);
	CHECK_EQ(st.fails, 3);
	CHECK_EQ(st.limit_hits, 3);
	CHECK_EQ(st.limit_waits, 0);
	CHECK_EQ(st.calls, 4);

	mtype_free(p[3], M_TESTL);
	CHECK((p[3] = mtype_malloc(1000, M_TESTL, M_NOWAIT)) != NULL);
	/* No limit, no failures. */
	mtype_setlimit(M_TESTL, 0);
	CHECK((q = mtype_malloc(5000, M_TESTL, M_NOWAIT)) != NULL);
	mtype_free(q, M_TESTL);
	mtype_setlimit(M_TESTL, 4096);
	for (int i = 0; i < 4; i++)
		free(p[i], M_TESTL);    /* NetBSD's name, MTYPE_NETBSD_NAMES */
	CHECK_EQ(stats_of(M_TESTL).mem_inuse, 0);
}

static void
count_types(void *arg, const mtype_stats_t *st)
{
	int *seen = arg;
	if (strcmp(st->name, "devbuf") == 0)
		seen[0]++;
	else if (strcmp(st->name, "temp") == 0)
		seen[1]++;
	else if (strcmp(st->name, "test_lazy") == 0)
		seen[2]++;
	else if (strcmp(st->name, "test_a") == 0)
		seen[3]++;
}

static void
test_attach_detach_walk(void)
{
	int seen[4] = { 0 };
	mtype_walk(count_types, seen);
	CHECK_EQ(seen[0], 1);
	CHECK_EQ(seen[1], 1);
	CHECK_EQ(seen[2], 0);           /* not attached yet */
	CHECK_EQ(seen[3], 1);

	void *p = malloc(64, M_LAZY, M_WAITOK);  /* attaches it */
	memset(seen, 0, sizeof (seen));
	mtype_walk(count_types, seen);
	CHECK_EQ(seen[2], 1);
	CHECK_REPORT(mtype_detach(M_LAZY), "1 allocation still in use");
	free(p, M_LAZY);
	mtype_detach(M_LAZY);
	memset(seen, 0, sizeof (seen));
	mtype_walk(count_types, seen);
	CHECK_EQ(seen[2], 0);
	CHECK_EQ(stats_of(M_LAZY).attached, 0);
	CHECK_REPORT(p = mtype_malloc(8, M_LAZY, M_WAITOK), "was detached");
	CHECK(p == NULL);
	malloc_type_attach(M_LAZY);
	p = mtype_malloc(8, M_LAZY, M_WAITOK);
	CHECK(p != NULL);
	mtype_free(p, M_LAZY);
	CHECK_EQ(stats_of(M_LAZY).calls, 2);
}

static void
test_table(void)
{
	static test_lines_t tl;
	void *a = mtype_malloc(10, M_TABLE, M_WAITOK);
	void *b = mtype_malloc(3000, M_TABLE, M_WAITOK);
	void *c = mtype_malloc(3000, M_TABLE, M_WAITOK);
	mtype_free(c, M_TABLE);
	mtype_setlimit(M_TABLE, 1 << 20);

	tl.n = 0;
	mtype_table(test_lines_emit, &tl);
	CHECK(strcmp(tl.line[0], "Memory statistics by type") == 0);
	char w[16][64];
	const char *head[] = { "Type", "InUse", "MemUse", "HighUse", "Limit",
		"Requests", "Fail", "Size(s)" };
	CHECK_EQ(test_words(tl.line[1], w, 16), 8);
	for (int i = 0; i < 8; i++)
		CHECK(strcmp(w[i], head[i]) == 0);
	const char *row = test_lines_find(&tl, "test_table ");
	CHECK(row != NULL);
	/* 32 + 2 * 3072 bytes at most, 32 + 3072 now: 4K and 7K. */
	const char *expect[] = { "test_table", "2", "4K", "7K", "1024K", "3",
		"0", "16,4096" };
	CHECK_EQ(test_words(row, w, 16), 8);
	for (int i = 0; i < 8; i++)
		CHECK(strcmp(w[i], expect[i]) == 0);
	CHECK(test_lines_find(&tl, "devbuf ") != NULL);
	mtype_free(a, M_TABLE);
	mtype_free(b, M_TABLE);
}

static void
test_bad_frees(void)
{
	uint64_t frees = stats_of(M_TESTA).frees;
	void *p = mtype_malloc(40, M_TESTA, M_WAITOK);
	CHECK_REPORT(mtype_free(p, M_TESTB), "wrong type: the memory was "
	    "allocated with type \"test_a\"");
	CHECK_EQ(stats_of(M_TESTA).inuse, 1);   /* nothing happened */
	CHECK_REPORT(CHECK(mtype_realloc(p, 80, M_TESTB, M_WAITOK) == NULL),
	    "wrong type");
	mtype_free(p, M_TESTA);
	CHECK_REPORT(mtype_free(p, M_TESTA), "double free");
	CHECK_EQ(stats_of(M_TESTA).frees, frees + 1);

	char on_stack[64];
	CHECK_REPORT(mtype_free(on_stack + 16, M_TESTA),
	    "not memory from mtype_malloc()");
	void *k = kmem_alloc(64, KM_SLEEP);
	memset(k, 0, 64);
	CHECK_REPORT(mtype_free((char *)k + 16, M_TESTA),
	    "not memory from mtype_malloc()");
	kmem_free(k, 64);
	CHECK_REPORT(mtype_free(NULL, M_TESTA), "NULL is not an allocation");
	void *big = mtype_malloc(300000, M_TESTA, M_WAITOK);
	CHECK_REPORT(mtype_free(big, M_TESTB), "allocated with type "
	    "\"test_a\"");
	mtype_free(big, M_TESTA);

	static struct malloc_type not_a_type;
	CHECK_REPORT(mtype_malloc(8, &not_a_type, M_WAITOK),
	    "is not a malloc type");
	CHECK_REPORT(mtype_malloc(8, M_TESTA, 0x4), "flags has bits");
}

static const check_test_t tests[] = {
	CHECK_TEST(test_exact_statistics),
	CHECK_TEST(test_zero_and_roundup),
	CHECK_TEST(test_realloc),
	CHECK_TEST(test_limit),
	CHECK_TEST(test_attach_detach_walk),
	CHECK_TEST(test_table),
	CHECK_TEST(test_bad_frees),
};

int
main(int argc, char **argv)
{
	return (test_main(tests, sizeof (tests) / sizeof (tests[0]), argc,
	    argv));
}
