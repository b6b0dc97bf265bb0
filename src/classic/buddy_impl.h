/*
 * The binary buddy system's core, shared by the buddy system (buddy.c,
 * where the theory is) and the SVR4 lazy buddy system (lazybuddy.c), which
 * adds delayed coalescing on top of it.
 *
 * The core knows blocks by order: a block of order k has 1 << (minshift +
 * k) bytes and starts at a multiple of that from base.  For each order two
 * bitmaps, one bit per block: freemap (the block is on freelist[k]) and
 * allocmap (the block was taken with buddy_core_take and not yet released).
 * A block in neither is not a block now: it is part of a larger block or
 * split into smaller ones.  Free blocks are on circular, doubly linked
 * lists whose links live in the free blocks themselves.
 *
 * No lock: the owner's lock covers every call.
 */
#ifndef KMEM_CLASSIC_BUDDY_IMPL_H
#define KMEM_CLASSIC_BUDDY_IMPL_H

#include "classic/classic_impl.h"

typedef struct buddy_link {
	struct buddy_link *next;
	struct buddy_link *prev;
} buddy_link_t;

typedef struct buddy_core {
	uintptr_t base;
	size_t size;
	unsigned minshift;
	unsigned norders;
	buddy_link_t freelist[KMEM_CLASSIC_CLASSES];    /* sentinels */
	size_t nfree[KMEM_CLASSIC_CLASSES];
	uint64_t *freemap[KMEM_CLASSIC_CLASSES];
	uint64_t *allocmap[KMEM_CLASSIC_CLASSES];
	size_t free_bytes;
	uint64_t splits;
	uint64_t merges;
} buddy_core_t;

static inline size_t
buddy_block_size(const buddy_core_t *bc, unsigned k)
{
	return ((size_t)1 << (bc->minshift + k));
}

static inline size_t
buddy_index(const buddy_core_t *bc, uintptr_t addr, unsigned k)
{
	return ((addr - bc->base) >> (bc->minshift + k));
}

/*
 * Check a region and min_block for caller, taking the region; false after a
 * report (or when there is no memory).  *minshiftp gets log2(min_block).
 */
bool buddy_core_region(classic_region_t *rp, const char *caller, void *base,
    size_t size, size_t min_block, unsigned *minshiftp);
/* The bytes of bitmaps a core for size bytes in min blocks needs. */
size_t buddy_core_map_bytes(size_t size, unsigned minshift);
/* A core over the region, all free; maps: buddy_core_map_bytes() of zeros. */
void buddy_core_init(buddy_core_t *bc, const classic_region_t *rp,
    unsigned minshift, uint64_t *maps);
/* The order that holds size bytes; norders when none does. */
unsigned buddy_core_order(const buddy_core_t *bc, size_t size);
/* A block of order k, now allocated, splitting as needed; 0 if none. */
uintptr_t buddy_core_take(buddy_core_t *bc, unsigned k);
/* Free the allocated block addr of order k and join it with free buddies. */
void buddy_core_release(buddy_core_t *bc, uintptr_t addr, unsigned k);
/* Is addr the start of an allocated block of order k? */
bool buddy_core_allocated(const buddy_core_t *bc, uintptr_t addr, unsigned k);
/* Say in why what addr is, when it is not an allocated block of order k. */
void buddy_core_explain(const buddy_core_t *bc, uintptr_t addr, unsigned k,
    char *why, size_t len);
/* Fill the core's part of *st: everything but allocs, frees, failures. */
void buddy_core_stats(const buddy_core_t *bc, struct buddy_stats *st);
/* Call fn for each block of order k whose bit is set in map, as state. */
void buddy_core_walk_map(const buddy_core_t *bc, const uint64_t *map,
    unsigned k, enum kmem_lab_state state, kmem_lab_walk_fn_t *fn, void *arg);
/* Report allocated blocks as ALLOCATED and free blocks as FREE. */
void buddy_core_walk(const buddy_core_t *bc, kmem_lab_walk_fn_t *fn,
    void *arg);

#endif /* KMEM_CLASSIC_BUDDY_IMPL_H */
