/*
 * The binary buddy system (Knowlton 1965; Knuth, TAOCP vol. 1, 2.5): the
 * chapter's answer to the power-of-two lists' worst fault, memory that
 * never moves between sizes.
 *
 * Blocks have sizes min_block << k (order k) and start at multiples of
 * their size, counted from the region's start.  Any block of order k + 1
 * is two blocks of order k, buddies of each other: the buddy of the block
 * at offset x is the one at x ^ (min_block << k), found by arithmetic
 * alone.  To allocate size bytes, take a free block of the smallest order
 * k that holds it; if that order's list is empty, take a block from the
 * next order that has one and split it in halves, keeping one half and
 * putting the other on its order's list, down to order k.  To free, look
 * at the buddy: if it is a free block of the same order, take it off its
 * list and join the two into their parent, and repeat one order up; else
 * put the block on its list.  Both cost O(orders).
 *
 * The region is first cut into the largest aligned blocks that fit (one
 * block when its size is a power of two).  Since a free always joins free
 * buddies, no two free buddies ever coexist, and once everything is freed
 * the region is again exactly those blocks.
 *
 * State.  For each order, two bitmaps with a bit per block: freemap (the
 * block is on its free list) and allocmap (it is allocated).  The buddy
 * test reads freemap; buddy_free() reads allocmap, so it knows a double
 * free, a wrong size and a pointer into the middle of a block apart.  The
 * bitmaps cost 4 bits per minimum block (1/32 of the region with 16-byte
 * blocks).  Free lists are doubly linked through the free blocks so that a
 * buddy leaves its list in O(1) when it is joined.
 *
 * Invariants (the core's, under the owner's lock):
 * - The blocks (bits set in either map) tile [base, base + size).
 * - No bit is set in both maps of an order; freemap bits are exactly the
 *   blocks on that order's list, and nfree[k] counts them.
 * - A free block's buddy (when the parent fits the region) is not a free
 *   block of the same order.
 * - free_bytes is the size of all free blocks.
 *
 * Internal fragmentation is the price: a request is rounded up to a power
 * of two (a 2049-byte request takes 4096), and splitting to the bottom
 * puts small blocks next to large free ones, so a few long-lived small
 * blocks keep large blocks from forming (the lab's "frag" workload).
 *
 * Bad input (reported, the call does nothing): a NULL buddy, size 0, a
 * min_block that is not a power of two of at least 16, freeing NULL, an
 * address outside the region, a free block (double free), a wrong size,
 * an address inside a block.
 *
 * Locking: one mutex of rank KMEM_RANK_CLASSIC; nothing is taken under it.
 */
#include <kmem/classic.h>

#include "classic/buddy_impl.h"
#include "base/format.h"
#include "base/lock_order.h"
#include "platform/platform.h"
#include "base/report.h"

/* ---- the core ---- */

bool
buddy_core_region(classic_region_t *rp, const char *caller, void *base,
    size_t size, size_t min_block, unsigned *minshiftp)
{
	if (min_block < CLASSIC_GRAIN || !is_p2(min_block) ||
	    min_block > kmem_pagesize()) {
		kmem_report("%s(base %p, size %zu, min_block %zu): min_block "
		    "must be a power of two from %zu to the page size", caller,
		    base, size, min_block, CLASSIC_GRAIN);
		return (false);
	}
	*minshiftp = lowbit(min_block) - 1;
	return (classic_region_init(rp, caller, base, size));
}

static unsigned
core_norders(size_t size, unsigned minshift)
{
	unsigned norders = highbit(size) - minshift;
	return (norders < KMEM_CLASSIC_CLASSES ? norders :
	    KMEM_CLASSIC_CLASSES);
}

static size_t
core_blocks(size_t size, unsigned minshift, unsigned k)
{
	return (size >> (minshift + k));
}

size_t
buddy_core_map_bytes(size_t size, unsigned minshift)
{
	size_t bytes = 0;
	for (unsigned k = 0; k < core_norders(size, minshift); k++)
		bytes += 2 * classic_bitmap_bytes(core_blocks(size, minshift, k));
	return (bytes);
}

static void
core_push(buddy_core_t *bc, uintptr_t addr, unsigned k)
{
	buddy_link_t *head = &bc->freelist[k];
	buddy_link_t *link = (buddy_link_t *)addr;
	link->next = head->next;
	link->prev = head;
	head->next->prev = link;
	head->next = link;
	classic_bit_set(bc->freemap[k], buddy_index(bc, addr, k));
	bc->nfree[k]++;
	bc->free_bytes += buddy_block_size(bc, k);
}

static void
core_unlink(buddy_core_t *bc, uintptr_t addr, unsigned k)
{
	buddy_link_t *link = (buddy_link_t *)addr;
	link->prev->next = link->next;
	link->next->prev = link->prev;
	classic_bit_clear(bc->freemap[k], buddy_index(bc, addr, k));
	bc->nfree[k]--;
	bc->free_bytes -= buddy_block_size(bc, k);
}

void
buddy_core_init(buddy_core_t *bc, const classic_region_t *rp,
    unsigned minshift, uint64_t *maps)
{
	*bc = (buddy_core_t){ .base = rp->base, .size = rp->size,
	    .minshift = minshift, .norders = core_norders(rp->size, minshift) };
	for (unsigned k = 0; k < bc->norders; k++) {
		size_t words = classic_bitmap_bytes(core_blocks(rp->size,
		    minshift, k)) / sizeof (uint64_t);
		bc->freemap[k] = maps;
		bc->allocmap[k] = maps + words;
		maps += 2 * words;
		bc->freelist[k].next = bc->freelist[k].prev = &bc->freelist[k];
	}
	/* The largest aligned blocks that fit, from the bottom up. */
	size_t offset = 0;
	while (offset < bc->size) {
		unsigned k = bc->norders - 1;
		while (p2_phase(offset, buddy_block_size(bc, k)) != 0 ||
		    offset + buddy_block_size(bc, k) > bc->size)
			k--;
		core_push(bc, bc->base + offset, k);
		offset += buddy_block_size(bc, k);
	}
}

unsigned
buddy_core_order(const buddy_core_t *bc, size_t size)
{
	if (size > bc->size)
		return (bc->norders);
	unsigned k = classic_p2_class(size, bc->minshift);
	return (k < bc->norders ? k : bc->norders);
}

uintptr_t
buddy_core_take(buddy_core_t *bc, unsigned k)
{
	unsigned j = k;
	while (j < bc->norders && bc->nfree[j] == 0)
		j++;
	if (j >= bc->norders)
		return (0);
	uintptr_t addr = (uintptr_t)bc->freelist[j].next;
	core_unlink(bc, addr, j);
	while (j > k) {
		j--;
		core_push(bc, addr + buddy_block_size(bc, j), j);
		bc->splits++;
	}
	classic_bit_set(bc->allocmap[k], buddy_index(bc, addr, k));
	return (addr);
}

void
buddy_core_release(buddy_core_t *bc, uintptr_t addr, unsigned k)
{
	KMEM_ASSERT(buddy_core_allocated(bc, addr, k));
	classic_bit_clear(bc->allocmap[k], buddy_index(bc, addr, k));
	size_t offset = addr - bc->base;
	while (k + 1 < bc->norders) {
		size_t buddy = offset ^ buddy_block_size(bc, k);
		if (buddy + buddy_block_size(bc, k) > bc->size ||
		    !classic_bit_test(bc->freemap[k], buddy_index(bc,
		    bc->base + buddy, k)))
			break;
		core_unlink(bc, bc->base + buddy, k);
		bc->merges++;
		offset = offset < buddy ? offset : buddy;
		k++;
	}
	core_push(bc, bc->base + offset, k);
}

bool
buddy_core_allocated(const buddy_core_t *bc, uintptr_t addr, unsigned k)
{
	return (k < bc->norders && addr - bc->base < bc->size &&
	    p2_phase(addr - bc->base, buddy_block_size(bc, k)) == 0 &&
	    classic_bit_test(bc->allocmap[k], buddy_index(bc, addr, k)));
}

void
buddy_core_explain(const buddy_core_t *bc, uintptr_t addr, unsigned k,
    char *why, size_t len)
{
	if (addr - bc->base >= bc->size) {
		kmem_snprintf(why, len, "the address is outside the region "
		    "[%p, +%zu)", (void *)bc->base, bc->size);
		return;
	}
	if (k >= bc->norders) {
		kmem_snprintf(why, len, "no block is that large: it was never "
		    "allocated");
		return;
	}
	/* The blocks tile the region: exactly one order has one holding addr. */
	for (unsigned j = 0; j < bc->norders; j++) {
		size_t i = buddy_index(bc, addr, j);
		if (bc->base + ((i + 1) << (bc->minshift + j)) > bc->base +
		    bc->size)
			continue;
		void *start = (void *)(bc->base + (i << (bc->minshift + j)));
		size_t bytes = buddy_block_size(bc, j);
		if (classic_bit_test(bc->freemap[j], i)) {
			kmem_snprintf(why, len, "the address is in the free "
			    "block [%p, +%zu): a double free, or it was never "
			    "allocated", start, bytes);
			return;
		}
		if (!classic_bit_test(bc->allocmap[j], i))
			continue;
		if ((uintptr_t)start == addr)
			kmem_snprintf(why, len, "wrong size: the block at this "
			    "address is a %zu-byte block, not a %zu-byte one",
			    bytes, buddy_block_size(bc, k));
		else
			kmem_snprintf(why, len, "the address is inside the "
			    "allocated block [%p, +%zu), not at its start",
			    start, bytes);
		return;
	}
	kmem_panic("buddy: no block holds %p", (void *)addr);
}

void
buddy_core_stats(const buddy_core_t *bc, struct buddy_stats *st)
{
	st->region_bytes = bc->size;
	st->min_block = buddy_block_size(bc, 0);
	st->norders = bc->norders;
	st->free_bytes = bc->free_bytes;
	st->largest_free = 0;
	for (unsigned k = 0; k < bc->norders; k++) {
		st->free_blocks[k] = bc->nfree[k];
		st->allocated_blocks[k] = classic_bits_count(bc->allocmap[k], 0,
		    core_blocks(bc->size, bc->minshift, k));
		if (bc->nfree[k] > 0)
			st->largest_free = buddy_block_size(bc, k);
	}
	st->splits = bc->splits;
	st->merges = bc->merges;
}

void
buddy_core_walk_map(const buddy_core_t *bc, const uint64_t *map, unsigned k,
    enum kmem_lab_state state, kmem_lab_walk_fn_t *fn, void *arg)
{
	size_t nblocks = core_blocks(bc->size, bc->minshift, k);
	for (size_t w = 0; w * 64 < nblocks; w++) {
		for (uint64_t bits = map[w]; bits != 0; bits &= bits - 1) {
			size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
			fn(arg, (void *)(bc->base + (i << (bc->minshift + k))),
			    buddy_block_size(bc, k), state);
		}
	}
}

void
buddy_core_walk(const buddy_core_t *bc, kmem_lab_walk_fn_t *fn, void *arg)
{
	for (unsigned k = 0; k < bc->norders; k++) {
		buddy_core_walk_map(bc, bc->allocmap[k], k, KMEM_LAB_ALLOCATED,
		    fn, arg);
		buddy_core_walk_map(bc, bc->freemap[k], k, KMEM_LAB_FREE, fn,
		    arg);
	}
}

/* ---- the buddy system ---- */

struct buddy {
	kmem_mutex_t lock;              /* protects everything below */
	classic_region_t region;
	size_t meta_size;
	size_t meta_bytes;
	buddy_core_t core;
	uint64_t allocs;
	uint64_t frees;
	uint64_t failures;
};

struct buddy *
buddy_create(void *base, size_t size, size_t min_block)
{
	classic_region_t region;
	unsigned minshift;
	if (!buddy_core_region(&region, "buddy_create", base, size, min_block,
	    &minshift))
		return (NULL);
	size_t total = 0;
	(void) classic_layout(&total, sizeof (struct buddy));
	size_t maps_offset = classic_layout(&total,
	    buddy_core_map_bytes(size, minshift));
	size_t meta_bytes;
	struct buddy *bp = classic_meta_alloc(total, &meta_bytes);
	if (bp == NULL) {
		classic_region_fini(&region);
		return (NULL);
	}
	kmem_mutex_init(&bp->lock, KMEM_RANK_CLASSIC);
	bp->region = region;
	bp->meta_size = total;
	bp->meta_bytes = meta_bytes;
	buddy_core_init(&bp->core, &region, minshift,
	    (uint64_t *)((char *)bp + maps_offset));
	return (bp);
}

void
buddy_destroy(struct buddy *bp)
{
	if (classic_null(bp, "buddy_destroy"))
		return;
	classic_region_t region = bp->region;
	kmem_mutex_destroy(&bp->lock);
	kmem_pages_free(bp, bp->meta_bytes);
	classic_region_fini(&region);
}

void *
buddy_alloc(struct buddy *bp, size_t size)
{
	if (classic_null(bp, "buddy_alloc") ||
	    classic_size_zero(bp, "buddy_alloc", size))
		return (NULL);
	kmem_mutex_enter(&bp->lock);
	unsigned k = buddy_core_order(&bp->core, size);
	uintptr_t addr = k < bp->core.norders ? buddy_core_take(&bp->core, k) :
	    0;
	if (addr == 0)
		bp->failures++;
	else
		bp->allocs++;
	kmem_mutex_exit(&bp->lock);
	return ((void *)addr);
}

void
buddy_free(struct buddy *bp, void *addr, size_t size)
{
	if (classic_null(bp, "buddy_free"))
		return;
	char why[200] = "size is 0";
	if (size != 0 && addr == NULL)
		kmem_snprintf(why, sizeof (why), "the address is NULL");
	if (size != 0 && addr != NULL) {
		kmem_mutex_enter(&bp->lock);
		unsigned k = buddy_core_order(&bp->core, size);
		bool ok = buddy_core_allocated(&bp->core, (uintptr_t)addr, k);
		if (ok) {
			buddy_core_release(&bp->core, (uintptr_t)addr, k);
			bp->frees++;
		} else {
			buddy_core_explain(&bp->core, (uintptr_t)addr, k, why,
			    sizeof (why));
		}
		kmem_mutex_exit(&bp->lock);
		if (ok)
			return;
	}
	classic_report_free("buddy_free", bp, addr, size, why);
}

void
buddy_stats(struct buddy *bp, struct buddy_stats *st)
{
	*st = (struct buddy_stats){ 0 };
	if (classic_null(bp, "buddy_stats"))
		return;
	kmem_mutex_enter(&bp->lock);
	buddy_core_stats(&bp->core, st);
	st->allocs = bp->allocs;
	st->frees = bp->frees;
	st->failures = bp->failures;
	kmem_mutex_exit(&bp->lock);
}

/* ---- the laboratory ---- */

static void *
buddy_lab_create(size_t budget, const struct kmem_lab_type *types,
    size_t ntypes)
{
	(void) types, (void) ntypes;
	return (buddy_create(NULL, budget, CLASSIC_GRAIN));
}

static void
buddy_lab_destroy(void *inst)
{
	buddy_destroy(inst);
}

static void *
buddy_lab_alloc(void *inst, size_t size, int type)
{
	(void) type;
	return (buddy_alloc(inst, size));
}

static void
buddy_lab_free(void *inst, void *addr, size_t size, int type)
{
	(void) type;
	buddy_free(inst, addr, size);
}

static size_t
buddy_lab_held(void *inst)
{
	struct buddy *bp = inst;
	kmem_mutex_enter(&bp->lock);
	size_t held = bp->core.size - bp->core.free_bytes;
	kmem_mutex_exit(&bp->lock);
	return (held);
}

static void
buddy_lab_stats(void *inst, struct kmem_lab_stats *st)
{
	struct buddy *bp = inst;
	struct buddy_stats bs;
	buddy_stats(bp, &bs);
	*st = (struct kmem_lab_stats){
		.region = (void *)bp->region.base,
		.region_bytes = bs.region_bytes,
		.free_bytes = bs.free_bytes,
		.allocated_bytes = bs.region_bytes - bs.free_bytes,
		.largest_free = bs.largest_free,
		.metadata_bytes = bp->meta_size,
	};
}

static void
buddy_lab_walk(void *inst, kmem_lab_walk_fn_t *fn, void *arg)
{
	struct buddy *bp = inst;
	kmem_mutex_enter(&bp->lock);
	buddy_core_walk(&bp->core, fn, arg);
	kmem_mutex_exit(&bp->lock);
}

const struct kmem_lab_ops kmem_lab_buddy_ops = {
	.name = "buddy",
	.design = "binary buddy system, coalescing on every free (Knuth)",
	.create = buddy_lab_create,
	.destroy = buddy_lab_destroy,
	.alloc = buddy_lab_alloc,
	.free = buddy_lab_free,
	.held = buddy_lab_held,
	.stats = buddy_lab_stats,
	.walk = buddy_lab_walk,
};
