/*
 * libkmem: the classic kernel allocators, the designs that came before vmem
 * and the slab allocator.  This header is their home: each allocator has its
 * own section below, with the interface it had in the system it comes from,
 * so that programs and textbooks written for it read the same here and so
 * that bench/ can run every design side by side.
 *
 * Every allocator here is thread-safe (one lock per instance), takes its own
 * memory from the platform's page source rather than from malloc, and sends
 * bad input to the report handler of <kmem/common.h>.
 */
#ifndef KMEM_CLASSIC_H
#define KMEM_CLASSIC_H

#include <stddef.h>
#include <stdint.h>

#include <kmem/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * The resource map (UNIX V6 through 4.3BSD malloc(mp, size); the SVR4 DDI
 * rmalloc(9F) family).
 *
 * A map manages a set of integers ("units": core clicks, swap blocks, slot
 * numbers...) as a sorted array of free <base, size> ranges, allocated by
 * first fit.  A new map is empty: fill it by rmfree()ing the ranges it is
 * to manage.  Unit 0 cannot be managed, since 0 is how rmalloc() fails.
 *
 * The map has room for a fixed number of free ranges.  A free that needs a
 * new range when all are in use loses the freed units, as the classic map
 * did, but never silently: the loss is reported as a warning and counted in
 * the statistics.  A map may be freed while units are still allocated.
 * ====================================================================== */

struct map;

/* A map with room for mapsize free ranges; NULL if no memory. */
KMEM_API struct map *rmallocmap(size_t mapsize);
KMEM_API void rmfreemap(struct map *mp);

/* First fit: the lowest range of size units that is free; 0 on failure. */
KMEM_API unsigned long rmalloc(struct map *mp, size_t size);
/* As rmalloc(), but sleeps until rmfree() makes the request possible. */
KMEM_API unsigned long rmalloc_wait(struct map *mp, size_t size);
/* Exactly [addr, addr + size) if it is all free; else 0. */
KMEM_API unsigned long rmget(struct map *mp, size_t size, unsigned long addr);
/* Give [addr, addr + size) back (or to a new map, for the first time). */
KMEM_API void rmfree(struct map *mp, size_t size, unsigned long addr);

/* A map's state and counters, read in one consistent snapshot. */
struct rmap_stats {
	size_t capacity;                /* free ranges the map can hold */
	size_t entries;                 /* free ranges it holds now */
	unsigned long free_units;       /* units in those ranges */
	unsigned long largest_free;     /* the longest free range */
	unsigned waiters;               /* threads asleep in rmalloc_wait() */
	uint64_t allocs;                /* successful rmalloc*() and rmget() */
	uint64_t frees;                 /* accepted rmfree()s, lost ones too */
	uint64_t failures;              /* rmalloc() and rmget() that gave 0 */
	uint64_t waits;                 /* times rmalloc_wait() went to sleep */
	uint64_t lost_ranges;           /* frees dropped because the map was full */
	uint64_t lost_units;            /* units in those ranges */
	uint64_t search_steps;          /* free ranges looked at by searches */
	uint64_t entries_moved;         /* ranges shifted to insert or remove */
};

/* Fill *st for mp. */
KMEM_API void rmstats(struct map *mp, struct rmap_stats *st);

/* ==================== end of the resource map ==================== */

#ifdef __cplusplus
}
#endif

#endif /* KMEM_CLASSIC_H */
