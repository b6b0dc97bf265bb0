/*
 * The SVR4 lazy buddy system (Lee & Barkley, SOSP 1989, as described in
 * the chapter): a buddy system (buddy_impl.h) that does not coalesce on
 * every free.
 *
 * A plain buddy system splits and joins the same blocks over and over when
 * a kernel allocates and frees one size in a steady state: each free joins
 * the block with its buddy, the next allocation splits them again.  The
 * lazy buddy system keeps freed blocks of a class on a list of its own,
 * still marked allocated in the buddy bitmaps, so nothing can join them and
 * the next allocation of the class takes one back with no bitmap work at
 * all.  Such a block is "locally free"; a block on the buddy system's free
 * lists is "globally free".  For a class with N blocks, A allocated, L
 * locally free and G globally free, the slack is
 *
 *	slack = N - 2L - G = A - L	(since N = A + L + G)
 *
 * and each free looks at it before the free:
 *	slack >= 2: lazy         the block becomes locally free (slack - 2);
 *	slack == 1: reclaiming   it is freed globally and coalesced (slack - 1);
 *	slack == 0: accelerated  it and one locally free block are freed
 *	                         globally (slack stays 0).
 * An allocation raises the slack by 2 when it takes a locally free block,
 * by 1 otherwise.  So the slack never goes below 0: L <= A for every class
 * at all times, no more than half the blocks of a class are ever held back,
 * and when all blocks are freed L is 0: everything has been coalesced and
 * the region is as it started.  (A free costs at most two coalescings:
 * "bounded by two coalescing delays per class".)
 *
 * An allocation takes a locally free block of its class if there is one,
 * else a block from the buddy system, splitting as usual.  Locally free
 * blocks of other classes cannot serve it; so that a request never fails
 * while delayed blocks could have coalesced into what it needs, a request
 * the buddy system cannot meet first frees every locally free block
 * globally (a "drain") and tries once more.
 *
 * State, besides the buddy core's: one list of locally free blocks per
 * class, singly linked through the blocks, and one bitmap per class (a bit
 * per block) marking them, so that freeing a locally free block again is
 * reported as the double free it is.
 *
 * Invariants (under the lock): L <= A for every class; a block is on a
 * local list exactly when its localmap bit is set, and its allocmap bit is
 * set too; local_bytes is the size of all locally free blocks.
 *
 * Bad input (reported, the call does nothing): as for the buddy system.
 *
 * Locking: one mutex of rank KMEM_RANK_CLASSIC; nothing is taken under it.
 */
#include <kmem/classic.h>

#include "classic/buddy_impl.h"
#include "base/format.h"
#include "base/lock_order.h"
#include "platform/platform.h"
#include "base/report.h"

struct lbuddy {
	kmem_mutex_t lock;              /* protects everything below */
	classic_region_t region;
	size_t meta_size;
	size_t meta_bytes;
	buddy_core_t core;
	uintptr_t local[KMEM_CLASSIC_CLASSES];  /* 0: empty */
	uint64_t *localmap[KMEM_CLASSIC_CLASSES];
	struct lbuddy_class_stats cls[KMEM_CLASSIC_CLASSES];
	size_t local_bytes;
	uint64_t allocs;
	uint64_t frees;
	uint64_t failures;
	uint64_t drains;
};

static uintptr_t *
next_of(uintptr_t block)
{
	return ((uintptr_t *)block);
}

struct lbuddy *
lbuddy_create(void *base, size_t size, size_t min_block)
{
	classic_region_t region;
	unsigned minshift;
	if (!buddy_core_region(&region, "lbuddy_create", base, size,
	    min_block, &minshift))
		return (NULL);
	size_t total = 0;
	(void) classic_layout(&total, sizeof (struct lbuddy));
	size_t core_offset = classic_layout(&total,
	    buddy_core_map_bytes(size, minshift));
	size_t local_offset[KMEM_CLASSIC_CLASSES];
	unsigned k;
	for (k = 0; k < KMEM_CLASSIC_CLASSES &&
	    ((size_t)1 << (minshift + k)) <= size; k++)
		local_offset[k] = classic_layout(&total,
		    classic_bitmap_bytes(size >> (minshift + k)));
	size_t meta_bytes;
	struct lbuddy *lb = classic_meta_alloc(total, &meta_bytes);
	if (lb == NULL) {
		classic_region_fini(&region);
		return (NULL);
	}
	kmem_mutex_init(&lb->lock, KMEM_RANK_CLASSIC);
	lb->region = region;
	lb->meta_size = total;
	lb->meta_bytes = meta_bytes;
	buddy_core_init(&lb->core, &region, minshift,
	    (uint64_t *)((char *)lb + core_offset));
	KMEM_ASSERT(k == lb->core.norders);
	for (k = 0; k < lb->core.norders; k++)
		lb->localmap[k] = (uint64_t *)((char *)lb + local_offset[k]);
	return (lb);
}

void
lbuddy_destroy(struct lbuddy *lb)
{
	if (classic_null(lb, "lbuddy_destroy"))
		return;
	classic_region_t region = lb->region;
	kmem_mutex_destroy(&lb->lock);
	kmem_pages_free(lb, lb->meta_bytes);
	classic_region_fini(&region);
}

static void
local_push(struct lbuddy *lb, uintptr_t addr, unsigned k)
{
	*next_of(addr) = lb->local[k];
	lb->local[k] = addr;
	classic_bit_set(lb->localmap[k], buddy_index(&lb->core, addr, k));
	lb->cls[k].locally_free++;
	lb->local_bytes += buddy_block_size(&lb->core, k);
}

static uintptr_t
local_pop(struct lbuddy *lb, unsigned k)
{
	uintptr_t addr = lb->local[k];
	lb->local[k] = *next_of(addr);
	classic_bit_clear(lb->localmap[k], buddy_index(&lb->core, addr, k));
	lb->cls[k].locally_free--;
	lb->local_bytes -= buddy_block_size(&lb->core, k);
	return (addr);
}

/* Free every locally free block globally. */
static void
lbuddy_drain(struct lbuddy *lb)
{
	for (unsigned k = 0; k < lb->core.norders; k++) {
		while (lb->local[k] != 0)
			buddy_core_release(&lb->core, local_pop(lb, k), k);
	}
	lb->drains++;
}

static uintptr_t
lbuddy_take(struct lbuddy *lb, unsigned k)
{
	if (lb->local[k] != 0)
		return (local_pop(lb, k));
	uintptr_t addr = buddy_core_take(&lb->core, k);
	if (addr == 0 && lb->local_bytes > 0) {
		lbuddy_drain(lb);
		addr = buddy_core_take(&lb->core, k);
	}
	return (addr);
}

void *
lbuddy_alloc(struct lbuddy *lb, size_t size)
{
	if (classic_null(lb, "lbuddy_alloc") ||
	    classic_size_zero(lb, "lbuddy_alloc", size))
		return (NULL);
	kmem_mutex_enter(&lb->lock);
	unsigned k = buddy_core_order(&lb->core, size);
	uintptr_t addr = k < lb->core.norders ? lbuddy_take(lb, k) : 0;
	if (addr == 0) {
		lb->failures++;
	} else {
		lb->cls[k].allocated++;
		lb->allocs++;
	}
	kmem_mutex_exit(&lb->lock);
	return ((void *)addr);
}

/* The slack rule: free the allocated block addr of class k. */
static void
lbuddy_release(struct lbuddy *lb, uintptr_t addr, unsigned k)
{
	struct lbuddy_class_stats *cs = &lb->cls[k];
	size_t slack = cs->allocated - cs->locally_free;
	KMEM_ASSERT(cs->allocated > 0 && cs->locally_free <= cs->allocated);
	cs->allocated--;
	if (slack >= 2) {
		local_push(lb, addr, k);
		cs->lazy_frees++;
	} else if (slack == 1) {
		buddy_core_release(&lb->core, addr, k);
		cs->reclaiming_frees++;
	} else {
		buddy_core_release(&lb->core, addr, k);
		buddy_core_release(&lb->core, local_pop(lb, k), k);
		cs->accelerated_frees++;
	}
	KMEM_ASSERT(cs->locally_free <= cs->allocated);
}

/* Is addr a locally free block of class k? */
static bool
lbuddy_is_local(const struct lbuddy *lb, uintptr_t addr, unsigned k)
{
	return (k < lb->core.norders && classic_region_has(&lb->region, addr) &&
	    p2_phase(addr - lb->region.base, buddy_block_size(&lb->core,
	    k)) == 0 && classic_bit_test(lb->localmap[k],
	    buddy_index(&lb->core, addr, k)));
}

void
lbuddy_free(struct lbuddy *lb, void *addr, size_t size)
{
	if (classic_null(lb, "lbuddy_free"))
		return;
	char why[200] = "size is 0";
	if (size != 0 && addr == NULL)
		kmem_snprintf(why, sizeof (why), "the address is NULL");
	if (size != 0 && addr != NULL) {
		uintptr_t a = (uintptr_t)addr;
		kmem_mutex_enter(&lb->lock);
		unsigned k = buddy_core_order(&lb->core, size);
		bool ok = false;
		if (lbuddy_is_local(lb, a, k)) {
			kmem_snprintf(why, sizeof (why), "the block is locally "
			    "free already: a double free");
		} else if (buddy_core_allocated(&lb->core, a, k)) {
			lbuddy_release(lb, a, k);
			lb->frees++;
			ok = true;
		} else {
			buddy_core_explain(&lb->core, a, k, why, sizeof (why));
		}
		kmem_mutex_exit(&lb->lock);
		if (ok)
			return;
	}
	classic_report_free("lbuddy_free", lb, addr, size, why);
}

void
lbuddy_stats(struct lbuddy *lb, struct lbuddy_stats *st)
{
	*st = (struct lbuddy_stats){ 0 };
	if (classic_null(lb, "lbuddy_stats"))
		return;
	kmem_mutex_enter(&lb->lock);
	buddy_core_stats(&lb->core, &st->buddy);
	st->buddy.allocs = lb->allocs;
	st->buddy.frees = lb->frees;
	st->buddy.failures = lb->failures;
	st->locally_free_bytes = lb->local_bytes;
	for (unsigned k = 0; k < lb->core.norders; k++) {
		st->cls[k] = lb->cls[k];
		st->cls[k].globally_free = lb->core.nfree[k];
	}
	st->drains = lb->drains;
	kmem_mutex_exit(&lb->lock);
}

/* ---- the laboratory ---- */

static void *
lbuddy_lab_create(size_t budget, const struct kmem_lab_type *types,
    size_t ntypes)
{
	(void) types, (void) ntypes;
	return (lbuddy_create(NULL, budget, CLASSIC_GRAIN));
}

static void
lbuddy_lab_destroy(void *inst)
{
	lbuddy_destroy(inst);
}

static void *
lbuddy_lab_alloc(void *inst, size_t size, int type)
{
	(void) type;
	return (lbuddy_alloc(inst, size));
}

static void
lbuddy_lab_free(void *inst, void *addr, size_t size, int type)
{
	(void) type;
	lbuddy_free(inst, addr, size);
}

static size_t
lbuddy_lab_held(void *inst)
{
	struct lbuddy *lb = inst;
	kmem_mutex_enter(&lb->lock);
	size_t held = lb->core.size - lb->core.free_bytes;
	kmem_mutex_exit(&lb->lock);
	return (held);
}

static void
lbuddy_lab_stats(void *inst, struct kmem_lab_stats *st)
{
	struct lbuddy *lb = inst;
	struct lbuddy_stats ls;
	lbuddy_stats(lb, &ls);
	*st = (struct kmem_lab_stats){
		.region = (void *)lb->region.base,
		.region_bytes = ls.buddy.region_bytes,
		.free_bytes = ls.buddy.free_bytes,
		.cached_bytes = ls.locally_free_bytes,
		.allocated_bytes = ls.buddy.region_bytes - ls.buddy.free_bytes -
		    ls.locally_free_bytes,
		.largest_free = ls.buddy.largest_free,
		.metadata_bytes = lb->meta_size,
	};
}

static void
lbuddy_lab_walk(void *inst, kmem_lab_walk_fn_t *fn, void *arg)
{
	struct lbuddy *lb = inst;
	kmem_mutex_enter(&lb->lock);
	buddy_core_walk(&lb->core, fn, arg);
	for (unsigned k = 0; k < lb->core.norders; k++)
		buddy_core_walk_map(&lb->core, lb->localmap[k], k,
		    KMEM_LAB_CACHED, fn, arg);
	kmem_mutex_exit(&lb->lock);
}

const struct kmem_lab_ops kmem_lab_lbuddy_ops = {
	.name = "lazy-buddy",
	.design = "buddy system with coalescing delayed by the slack (SVR4)",
	.create = lbuddy_lab_create,
	.destroy = lbuddy_lab_destroy,
	.alloc = lbuddy_lab_alloc,
	.free = lbuddy_lab_free,
	.held = lbuddy_lab_held,
	.stats = lbuddy_lab_stats,
	.walk = lbuddy_lab_walk,
};
