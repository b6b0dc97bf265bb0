/*
 * Magazines sized from the traffic seen (kmem_cache.c's depot trips,
 * kmem_depot.c's kmem_depot_batch_seen()): a thread that allocates a batch
 * of B objects and frees them gets magazines of at least B rounds, in one
 * step, when it turns round; from then on the same batches go without a
 * trip to the depot.  A batch the magazines hold already changes nothing;
 * a cache whose chunks are too big to grow stays as it is.  Asserted on
 * the cache's statistics; nothing here depends on time (the update
 * interval is set so long that no pass comes in between).
 */
#include <stdint.h>
#include <stdio.h>

#include <kmem/kmem.h>

#include "check.h"
#include "kmem/kmem_query.h"        /* kmem_magazine_rounds: the limit */

#define MAXB    300

static kmem_cache_stats_t
stats_of(kmem_cache_t *cp)
{
	kmem_cache_stats_t st;
	CHECK_EQ(kmem_cache_stats(cp, &st), 0);
	return (st);
}

static void
batch(kmem_cache_t *cp, int n)
{
	void *objs[MAXB];
	for (int i = 0; i < n; i++) {
		objs[i] = kmem_cache_alloc(cp, KM_SLEEP);
		CHECK(objs[i] != NULL);
	}
	for (int i = 0; i < n; i++)
		kmem_cache_free(cp, objs[i]);
}

/* One batch of B and its return: magazines of at least B, in one step. */
static void
check_batch_grows(int b)
{
	/* 32 bytes: magazines of up to 143 rounds stay within
	 * KMEM_MAGAZINE_BYTES, so the batch alone sets the size. */
	kmem_cache_t *cp = kmem_cache_create("batch32", 32, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	kmem_cache_stats_t st = stats_of(cp);
	unsigned start = st.magazine_size;
	CHECK(start < (unsigned)b);
	CHECK_EQ(st.magazine_resize, 0);

	batch(cp, b);
	st = stats_of(cp);
	CHECK(st.magazine_size >= (unsigned)b);
	CHECK_EQ(st.magazine_resize, 1);

	/* The next batches: a slow path or two to get magazines of the new
	 * size, then none -- no depot trip, no further growth. */
	batch(cp, b);
	batch(cp, b);
	kmem_cache_stats_t warm = stats_of(cp);
	for (int i = 0; i < 20; i++)
		batch(cp, b);
	st = stats_of(cp);
	CHECK_EQ(st.depot_alloc, warm.depot_alloc);
	CHECK_EQ(st.depot_free, warm.depot_free);
	CHECK_EQ(st.magazine_resize, 1);
	kmem_cache_destroy(cp);
}

static void
test_batch_of_100(void)
{
	check_batch_grows(100);
}

static void
test_batch_of_40(void)
{
	check_batch_grows(40);
}

/* A batch that two magazines hold makes no trip, and nothing grows. */
static void
test_small_batch_keeps_size(void)
{
	kmem_cache_t *cp = kmem_cache_create("small32", 32, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	unsigned start = stats_of(cp).magazine_size;
	for (int i = 0; i < 50; i++)
		batch(cp, (int)start);
	kmem_cache_stats_t st = stats_of(cp);
	CHECK_EQ(st.magazine_size, start);
	CHECK_EQ(st.magazine_resize, 0);
	kmem_cache_destroy(cp);
}

/*
 * Chunks too big to grow (the magazine table's limit for them, or a
 * magazine of the next size would hold more than KMEM_MAGAZINE_BYTES)
 * keep their size, whatever the batch; between, growth stops at the limit.
 */
static void
test_limits_hold(void)
{
	static const size_t fixed[] = { 65536, 3000 };
	for (size_t i = 0; i < sizeof (fixed) / sizeof (fixed[0]); i++) {
		kmem_cache_t *big = kmem_cache_create("batch_big", fixed[i], 0,
		    NULL, NULL, NULL, NULL, NULL, 0);
		unsigned start = stats_of(big).magazine_size;
		batch(big, 60);
		batch(big, 60);
		CHECK_EQ(stats_of(big).magazine_size, start);
		CHECK_EQ(stats_of(big).magazine_resize, 0);
		kmem_cache_destroy(big);
	}

	kmem_cache_t *mid = kmem_cache_create("batch1k", 1000, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	batch(mid, MAXB);
	batch(mid, MAXB);
	kmem_cache_stats_t st = stats_of(mid);
	/* Capped below the batch, at the chunk size's limit. */
	CHECK_EQ(st.magazine_size, kmem_magazine_rounds(st.chunk_size, true));
	CHECK(st.magazine_size < MAXB);
	CHECK(st.magazine_size * st.chunk_size <= KMEM_MAGAZINE_BYTES);
	CHECK_EQ(st.magazine_resize, 1);
	kmem_cache_destroy(mid);
}

static const check_test_t tests[] = {
	CHECK_TEST(test_batch_of_100),
	CHECK_TEST(test_batch_of_40),
	CHECK_TEST(test_small_batch_keeps_size),
	CHECK_TEST(test_limits_hold),
};

int
main(int argc, char **argv)
{
	kmem_update_interval_set(3600ull * 1000 * 1000 * 1000);
	return (check_run_tests(tests, sizeof (tests) / sizeof (tests[0]),
	    argc, argv));
}
