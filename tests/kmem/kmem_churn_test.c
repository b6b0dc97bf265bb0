/*
 * Memory goes back only when it will not be needed again soon (issue 16,
 * the churn): kmem_slab_purge.c's "Slack" and kmem_footprint.c.
 * - a burst freed and allocated again, below the footprint's peak, keeps
 *   its pages in the quantum cache of one-page buffers: nothing is given
 *   back and refaulted (the cache's purge_count does not move);
 * - what they keep goes back at the update passes once the use stays
 *   below the peak;
 * - a large buffer that takes the footprint past its peak first makes
 *   the quantum caches give back what they keep;
 * - the quantum caches of bigger buffers keep nothing.
 * Counted with kmem_cache_stats(); residency read with mincore().  One
 * process, no clock-driven pass: the interval is set to an hour and the
 * passes are run by hand.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kmem/kmem.h>

#include "check.h"
#include "kmem/kmem_query.h"        /* kmem_cache_of(): a class's cache */
#include "vmem/vmem_impl.h"         /* kmem_default's quantum caches */

static size_t page_size;

static kmem_cache_stats_t
stats_of(kmem_cache_t *cp)
{
	kmem_cache_stats_t st;
	CHECK_EQ(kmem_cache_stats(cp, &st), 0);
	return (st);
}

/* The quantum cache of kmem_default whose buffers are n pages. */
static kmem_cache_t *
quantum_cache(size_t n)
{
	kmem_cache_t *qc = kmem_default_arena()->vm_qcache[n - 1];
	CHECK(qc != NULL && stats_of(qc).chunk_size == n * page_size);
	return (qc);
}

/*
 * The burst: 12 MiB of 192-byte objects, a class of one-page slabs, six
 * times the depots' 2 MiB floor, so their ceiling sends most of it to the
 * slabs, whose empty slabs go to the quantum cache.  The first time, it
 * is allocated interleaved with as many bytes of 320-byte objects (another
 * class of one-page slabs), which stay: the quantum cache's 128 KiB slabs
 * hold pages of both, and the burst's pages land in slabs still in use,
 * where the quantum cache decides whether they stay resident.
 */
enum { SIZE = 192, N = (12 << 20) / SIZE, OTHER = 320 };
static void *objs[N];
static void *others[N];

static void
alloc_burst(bool interleaved)
{
	for (unsigned i = 0; i < N; i++) {
		objs[i] = kmem_alloc(SIZE, KM_SLEEP);
		memset(objs[i], 0x6b, SIZE);
		if (interleaved && i % 5 < 3)
			others[i] = kmem_alloc(OTHER, KM_SLEEP);
	}
}

static void
free_burst(void)
{
	for (unsigned i = 0; i < N; i++)
		kmem_free(objs[i], SIZE);
}

static void
free_others(void)
{
	for (unsigned i = 0; i < N; i++)
		if (i % 5 < 3)
			kmem_free(others[i], OTHER);
}

/* The burst's pages. */
static uint64_t
burst_pages(void)
{
	return ((uint64_t)N * SIZE / page_size);
}

/*
 * Allocated, freed, allocated again, freed again: the class's empty
 * slabs went back to the quantum cache's slabs (thousands of them), and
 * the quantum cache gave none of their pages back: all of it stayed
 * below the footprint's peak, and the second round took them again.
 */
static void
test_burst_reused_not_refaulted(void)
{
	kmem_cache_t *qc = quantum_cache(1);
	alloc_burst(true);
	kmem_cache_t *cp = kmem_cache_of(objs[0]);
	CHECK(cp != NULL && stats_of(cp).slab_size == page_size);
	kmem_cache_stats_t before = stats_of(qc);
	free_burst();
	kmem_cache_stats_t st = stats_of(qc);
	CHECK(st.slab_free - before.slab_free > burst_pages() / 2);
	alloc_burst(false);
	free_burst();
	CHECK_EQ(stats_of(qc).purge_count, before.purge_count);
}

/*
 * The burst allocated and freed, its pages kept by the quantum cache, and
 * then a large buffer bigger than the footprint's peak: before the
 * footprint grows past its peak, the quantum cache gives back what it
 * kept.
 */
static void
test_growth_past_the_peak_takes_what_is_kept(void)
{
	kmem_cache_t *qc = quantum_cache(1);
	alloc_burst(false);
	free_burst();
	uint64_t purged = stats_of(qc).purge_count;
	size_t big = 32 << 20;
	char *large = kmem_alloc(big, KM_SLEEP);
	CHECK(large != NULL);
	/* At least half the burst's pages: the rest may wait in the quantum
	 * cache's depot and magazines, or have been purged already. */
	CHECK(stats_of(qc).purge_count - purged >= burst_pages() / 2);
	kmem_free(large, big);
}

/* Is the page at p resident?  One whose span went back is not. */
static bool
page_resident(const void *p)
{
	unsigned char vec[1];
	if (mincore((void *)p, page_size, vec) != 0) {
		CHECK_EQ(errno, ENOMEM);
		return (false);
	}
	return (vec[0] & 1);
}

/*
 * What the quantum cache keeps below the peak goes back when the use
 * stays below it: the burst allocated and freed once more, then two
 * update passes.  The first keeps it (the interval saw the peak, and the
 * quantum cache's slab layer handed out pages in it); the second, whose
 * interval's peak is the use after the frees, gives it back.
 */
static void
test_kept_pages_go_back_at_the_update(void)
{
	kmem_cache_t *qc = quantum_cache(1);
	alloc_burst(false);
	free_burst();
	kmem_update_now();
	uint64_t purged = stats_of(qc).purge_count;
	kmem_update_now();
	kmem_cache_stats_t st = stats_of(qc);
	CHECK(st.purge_count - purged >= burst_pages() / 2);
}

/*
 * The quantum cache of two-page buffers keeps none of its own (each such
 * cache serves the slabs of a few classes of big buffers): 1024 two-page
 * buffers, written, all but one in 16 (one a slab) freed, with no pass
 * and no reap.
 * This below the footprint's peak, where the quantum cache of one-page
 * buffers would keep them.  What reaches its slabs leaves the resident
 * set at once; what stays is
 * what its depot and the thread's magazines hold, give or take a
 * magazine, not the hundreds of buffers a slack would keep.
 */
static int
by_address(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a;
	uintptr_t y = (uintptr_t)*(void *const *)b;
	return (x < y ? -1 : x > y);
}

static void
test_bigger_quantum_caches_keep_nothing(void)
{
	enum { M = 1024, KEEP = 16 };       /* a slab's buffers: 128 KiB */
	static void *bufs[M];
	size_t size = 2 * page_size;
	kmem_cache_t *qc = quantum_cache(2);
	/* A gap below the footprint's peak, and nothing kept in it: the
	 * burst allocated, freed and reaped. */
	alloc_burst(false);
	free_burst();
	kmem_reap();
	for (unsigned i = 0; i < M; i++) {
		bufs[i] = vmem_alloc(kmem_default_arena(), size, VM_SLEEP);
		memset(bufs[i], 0x5e, size);
	}
	qsort(bufs, M, sizeof (bufs[0]), by_address);
	for (unsigned i = 0; i < M; i++)
		if (i % KEEP != 0)
			vmem_free(kmem_default_arena(), bufs[i], size);
	kmem_cache_stats_t st = stats_of(qc);
	CHECK(st.depot_trim > 0);
	size_t resident = 0;
	for (unsigned i = 0; i < M; i++)
		if (i % KEEP != 0)
			resident += page_resident(bufs[i]) +
			    page_resident((char *)bufs[i] + page_size);
	CHECK(resident <= 2 * (st.full_magazines + 3) * st.magazine_size);
	for (unsigned i = 0; i < M; i += KEEP)
		vmem_free(kmem_default_arena(), bufs[i], size);
}

int
main(void)
{
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	kmem_update_interval_set(3600ull * 1000 * 1000 * 1000);
	kmem_update_now();
	test_bigger_quantum_caches_keep_nothing();
	test_burst_reused_not_refaulted();
	test_kept_pages_go_back_at_the_update();
	test_growth_past_the_peak_takes_what_is_kept();
	free_others();
	printf("kmem_churn_test: all passed\n");
	return (0);
}
