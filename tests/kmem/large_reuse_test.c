/*
 * Large buffers kept for reuse (kmem_oversize's retention, vmem.c): a
 * large buffer freed and allocated again comes back without an import
 * (no mmap, no page faults) and without a release (no munmap); what is
 * kept decays at each update pass until, idle, it has all gone back; a
 * reap gives it all back at once; and the buffers handed out never
 * overlap, whatever was reused.  The passes are driven by
 * kmem_update_now() and kmem_reap(), never by the clock: the interval is
 * set so long that no lazy pass can come in between.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/vmem.h>

#include "check.h"
#include "kmem/kmem_impl.h"             /* kmem_oversize */
#include "kmem/kmem_query.h"            /* kmem_large_alloc, malloc's path */
#include "vmem/vmem_impl.h"             /* VMEM_DECAY_PASSES */

#define MIB     ((size_t)1 << 20)

static vmem_stats_t
oversize(void)
{
	vmem_stats_t st;
	vmem_stats(kmem_oversize, &st);
	return (st);
}

static void
fill(unsigned char *p, size_t size, unsigned char mark)
{
	for (size_t off = 0; off < size; off += 4096)
		p[off] = mark;
	p[size - 1] = mark;
}

static void
check_fill(const unsigned char *p, size_t size, unsigned char mark)
{
	for (size_t off = 0; off < size; off += 4096)
		CHECK_EQ(p[off], mark);
	CHECK_EQ(p[size - 1], mark);
}

/* kmem_alloc()'s large path and malloc's (kmem_large_alloc()) alike. */
static void
test_freed_block_is_reused(void)
{
	unsigned char *p = kmem_alloc(8 * MIB, KM_SLEEP);
	fill(p, 8 * MIB, 1);
	vmem_stats_t before = oversize();
	kmem_free(p, 8 * MIB);
	CHECK(oversize().mem_dirty >= 8 * MIB);
	unsigned char *q = kmem_alloc(8 * MIB, KM_SLEEP);
	vmem_stats_t after = oversize();
	CHECK(q == p);
	CHECK_EQ(after.import, before.import);
	CHECK_EQ(after.release, before.release);
	CHECK_EQ(after.purged, before.purged);
	check_fill(q, 8 * MIB, 1);      /* the very pages, still there */
	kmem_free(q, 8 * MIB);

	unsigned char *m = kmem_large_alloc(20 * MIB, 0);
	fill(m, 20 * MIB, 2);
	before = oversize();
	CHECK(kmem_large_free(m));
	unsigned char *n = kmem_large_alloc(12 * MIB, 0);
	after = oversize();
	/* A smaller one goes in the freed memory (q's and m's, coalesced). */
	CHECK((uintptr_t)n >= (uintptr_t)q &&
	    (uintptr_t)n + 12 * MIB <= (uintptr_t)m + 20 * MIB);
	CHECK_EQ(after.import, before.import);
	CHECK_EQ(after.release, before.release);
	CHECK(kmem_large_free(n));
	CHECK_EQ(vmem_verify(kmem_oversize), 0);
}

/*
 * Buffers of mixed sizes allocated and freed in turn: the live ones never
 * overlap, and each keeps what was written to it.
 */
static void
test_mixed_sizes_do_not_overlap(void)
{
	enum { SLOTS = 12 };
	unsigned char *p[SLOTS] = { NULL };
	size_t size[SLOTS] = { 0 };
	uint64_t rng = 19;
	for (int step = 0; step < 200; step++) {
		int i = (int)(check_random(&rng) % SLOTS);
		if (p[i] != NULL) {
			check_fill(p[i], size[i], (unsigned char)i);
			kmem_free(p[i], size[i]);
		}
		size[i] = 256 * 1024 + check_random(&rng) % (6 * MIB);
		p[i] = kmem_alloc(size[i], KM_SLEEP);
		fill(p[i], size[i], (unsigned char)i);
		for (int j = 0; j < SLOTS; j++)
			CHECK(j == i || p[j] == NULL ||
			    (uintptr_t)p[j] + size[j] <= (uintptr_t)p[i] ||
			    (uintptr_t)p[i] + size[i] <= (uintptr_t)p[j]);
	}
	for (int i = 0; i < SLOTS; i++)
		kmem_free(p[i], size[i]);
	CHECK_EQ(vmem_verify(kmem_oversize), 0);
}

/*
 * Idle, what was kept decays: each update pass keeps no more than the
 * last; after VMEM_DECAY_PASSES + 1 passes nothing is kept and no span is
 * left.  The first pass after the buffers' use keeps them.
 */
static void
test_kept_memory_decays(void)
{
	kmem_reap();
	void *b[6];
	for (int i = 0; i < 6; i++) {
		b[i] = kmem_alloc(4 * MIB, KM_SLEEP);
		fill(b[i], 4 * MIB, 3);
	}
	for (int i = 0; i < 6; i++)
		kmem_free(b[i], 4 * MIB);
	size_t kept = oversize().mem_dirty;
	CHECK(kept >= 24 * MIB);
	kmem_update_now();
	CHECK_EQ(oversize().mem_dirty, kept);
	for (int pass = 1; pass <= VMEM_DECAY_PASSES; pass++) {
		kmem_update_now();
		size_t now = oversize().mem_dirty;
		CHECK(now <= kept);
		kept = now;
		CHECK_EQ(vmem_verify(kmem_oversize), 0);
	}
	CHECK_EQ(oversize().mem_dirty, 0);
	CHECK_EQ(oversize().mem_total, 0);
	CHECK_EQ(oversize().spans, 0);
}

/* A reap gives everything back at once. */
static void
test_reap_gives_all_back(void)
{
	void *p = kmem_alloc(16 * MIB, KM_SLEEP);
	fill(p, 16 * MIB, 4);
	kmem_free(p, 16 * MIB);
	CHECK(oversize().mem_dirty >= 16 * MIB);
	kmem_reap();
	vmem_stats_t st = oversize();
	CHECK_EQ(st.mem_dirty, 0);
	CHECK_EQ(st.mem_total, 0);
}

static const check_test_t tests[] = {
	CHECK_TEST(test_freed_block_is_reused),
	CHECK_TEST(test_mixed_sizes_do_not_overlap),
	CHECK_TEST(test_kept_memory_decays),
	CHECK_TEST(test_reap_gives_all_back),
};

int
main(int argc, char **argv)
{
	kmem_update_interval_set(3600ull * 1000 * 1000 * 1000);
	return (check_run_tests(tests, sizeof (tests) / sizeof (tests[0]),
	    argc, argv));
}
