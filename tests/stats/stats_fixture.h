/*
 * What the statistics tests allocate, and the figures a snapshot must then
 * show: one of each kind of allocator, each with a name no other object
 * has, so the rows can be found in a snapshot, a table or the JSON.
 *
 *	vmem arena "stats_arena"        STATS_SEGS segments of STATS_SEG_SIZE
 *	kmem cache "stats_cache"        STATS_BUFS buffers of STATS_BUF_SIZE
 *	pool "stats_pool"               STATS_POOL_ITEMS items out
 *	pool cache "stats_pcache"       STATS_PCACHE_ITEMS objects out
 *	malloc type "stats_type"        STATS_TYPE_OBJECTS of STATS_TYPE_SIZE
 *
 * stats_fixture_grow() allocates one more of each, so a test can watch
 * the figures move; n is how many times it was called.
 */
#ifndef KMEM_TESTS_STATS_FIXTURE_H
#define KMEM_TESTS_STATS_FIXTURE_H

#include <kmem/kmem.h>
#include <kmem/mtype.h>
#include <kmem/pool.h>
#include <kmem/stats.h>
#include <kmem/vmem.h>

#include "check.h"

#define STATS_SEG_SIZE          8192
#define STATS_SEGS              3
#define STATS_BUF_SIZE          200
#define STATS_BUFS              10
#define STATS_POOL_ITEMS        7
#define STATS_PCACHE_ITEMS      5
#define STATS_TYPE_SIZE         100
#define STATS_TYPE_OBJECTS      4

MALLOC_DEFINE(M_STATS, "stats_type", "statistics test");

static struct {
	vmem_t *arena;
	kmem_cache_t *cache;
	struct pool pool;
	pool_cache_t pcache;
	unsigned grown;
} fixture;

/* One more of each. */
static inline void
stats_fixture_grow(void)
{
	CHECK(vmem_alloc(fixture.arena, STATS_SEG_SIZE, VM_SLEEP) != NULL);
	CHECK(kmem_cache_alloc(fixture.cache, KM_SLEEP) != NULL);
	CHECK(pool_get(&fixture.pool, PR_WAITOK) != NULL);
	CHECK(pool_cache_get(fixture.pcache, PR_WAITOK) != NULL);
	CHECK(mtype_malloc(STATS_TYPE_SIZE, M_STATS, M_WAITOK) != NULL);
	fixture.grown++;
}

static inline void
stats_fixture_make(void)
{
	fixture.arena = vmem_create("stats_arena", (void *)0x10000000,
	    1 << 24, 4096, NULL, NULL, NULL, 0, VM_SLEEP);
	CHECK(fixture.arena != NULL);
	fixture.cache = kmem_cache_create("stats_cache", STATS_BUF_SIZE, 0,
	    NULL, NULL, NULL, NULL, NULL, 0);
	CHECK(fixture.cache != NULL);
	pool_init(&fixture.pool, 64, 0, 0, 0, "stats_pool", NULL, IPL_NONE);
	fixture.pcache = pool_cache_init(128, 0, 0, 0, "stats_pcache", NULL,
	    IPL_NONE, NULL, NULL, NULL);
	CHECK(fixture.pcache != NULL);
	for (int i = 0; i < STATS_SEGS; i++)
		CHECK(vmem_alloc(fixture.arena, STATS_SEG_SIZE, VM_SLEEP) !=
		    NULL);
	for (int i = 0; i < STATS_BUFS; i++)
		CHECK(kmem_cache_alloc(fixture.cache, KM_SLEEP) != NULL);
	for (int i = 0; i < STATS_POOL_ITEMS; i++)
		CHECK(pool_get(&fixture.pool, PR_WAITOK) != NULL);
	for (int i = 0; i < STATS_PCACHE_ITEMS; i++)
		CHECK(pool_cache_get(fixture.pcache, PR_WAITOK) != NULL);
	for (int i = 0; i < STATS_TYPE_OBJECTS; i++)
		CHECK(mtype_malloc(STATS_TYPE_SIZE, M_STATS, M_WAITOK) != NULL);
}

#define FIND(type, st, rows, n, wanted)                                 \
	({                                                              \
		const type *found_ = NULL;                              \
		for (size_t i_ = 0; i_ < (st)->n; i_++)                 \
			if (strcmp((st)->rows[i_].name, wanted) == 0)   \
				found_ = &(st)->rows[i_];               \
		CHECK(found_ != NULL);                                  \
		found_;                                                 \
	})

/* The snapshot shows exactly what the fixture allocated. */
static inline void
stats_fixture_check(const kmem_stats_t *st)
{
	unsigned g = fixture.grown;
	const vmem_stats_t *arena = FIND(vmem_stats_t, st, arenas, narenas, "stats_arena");
	CHECK_EQ(arena->mem_inuse, (STATS_SEGS + g) * STATS_SEG_SIZE);
	CHECK_EQ(arena->mem_total, 1 << 24);
	CHECK_EQ(arena->alloc, STATS_SEGS + g);
	CHECK_EQ(arena->free, 0);
	CHECK_EQ(arena->segs_alloc, STATS_SEGS + g);

	const kmem_cache_stats_t *cache = FIND(kmem_cache_stats_t, st, caches, ncaches,
	    "stats_cache");
	CHECK_EQ(cache->buf_size, STATS_BUF_SIZE);
	CHECK_EQ(cache->buf_inuse, STATS_BUFS + g);
	CHECK_EQ(cache->alloc, STATS_BUFS + g);
	CHECK_EQ(cache->free, 0);
	CHECK(cache->buf_total >= STATS_BUFS + g);
	CHECK_EQ(cache->mem_total, (cache->slab_create - cache->slab_destroy) *
	    cache->slab_size);

	const pool_stats_t *pool = FIND(pool_stats_t, st, pools, npools, "stats_pool");
	CHECK_EQ(pool->size, 64);
	CHECK_EQ(pool->is_cache, 0);
	CHECK_EQ(pool->nget, STATS_POOL_ITEMS + g);
	CHECK_EQ(pool->nout, STATS_POOL_ITEMS + g);
	CHECK_EQ(pool->nput, 0);

	const pool_stats_t *pcache = FIND(pool_stats_t, st, pools, npools, "stats_pcache");
	CHECK_EQ(pcache->size, 128);
	CHECK_EQ(pcache->is_cache, 1);
	CHECK_EQ(pcache->nget, STATS_PCACHE_ITEMS + g);
	CHECK_EQ(pcache->nout, STATS_PCACHE_ITEMS + g);

	const mtype_stats_t *type = FIND(mtype_stats_t, st, types, ntypes, "stats_type");
	CHECK_EQ(type->inuse, STATS_TYPE_OBJECTS + g);
	CHECK_EQ(type->calls, STATS_TYPE_OBJECTS + g);
	CHECK_EQ(type->bytes_inuse, (STATS_TYPE_OBJECTS + g) * STATS_TYPE_SIZE);
	CHECK_EQ(type->frees, 0);
}

#endif /* KMEM_TESTS_STATS_FIXTURE_H */
