/*
 * Simple power-of-two free lists: the 4.2BSD user-level malloc, the first
 * kernel memory allocator of the chapter, kept simple on purpose so that
 * the lab shows what the later designs fixed.
 *
 * There is one free list per power of two from 16 bytes to the largest
 * that fits the region.  A request of size bytes takes a block of the
 * smallest power of two that holds size plus a one-word header.  The header
 * is the whole trick: while the block is free it links the block to the
 * next free block of its list; while it is allocated it holds the address
 * of its list's head, so p2list_free() finds the list from the block alone.
 * Its price is the rounding: a request of exactly a power of two (common in
 * a kernel: 1 KiB pathname buffers) takes a block twice its size.
 *
 * An empty list takes memory from the page level (pagelevel.c): one page,
 * cut into equal blocks, or for a block of a page or more, a run of pages
 * holding one block.  Memory never leaves a list: a freed block goes back
 * on the list it came from and its page is never returned, so a burst of
 * one size strands memory that no other size can use, and nothing
 * coalesces.
 *
 * Invariants (under the lock):
 * - Every page in use at the page level belongs to exactly one list: it
 *   was cut into that list's blocks (or is part of one large block).
 * - A block of a list is either on that list (its header is the next free
 *   block, 0 or an address inside the region) or allocated (its header is
 *   the address of list[c], which lies outside the region, in this
 *   structure): so the two can never be confused, and a double free is
 *   always caught.
 * - cls[c].free is the length of list c; cls[c].blocks - cls[c].free are
 *   allocated; live_blocks is their sum over the lists.
 *
 * Bad input (reported, the call does nothing): a NULL list set, size 0,
 * freeing NULL, an address outside the region or not where a block's data
 * starts, a block whose header names no list (a double free or an address
 * never handed out).
 *
 * Locking: one mutex of rank KMEM_RANK_CLASSIC; nothing is taken under it.
 */
#include <kmem/classic.h>

#include "classic/classic_impl.h"
#include "base/format.h"
#include "base/lock_order.h"
#include "platform/platform.h"
#include "base/report.h"

#define P2_HEADER       sizeof (uintptr_t)
#define P2_MINSHIFT     CLASSIC_GRAIN_SHIFT

struct p2list {
	kmem_mutex_t lock;              /* protects everything below */
	classic_region_t region;
	classic_pages_t pages;
	size_t meta_size;               /* this structure and its bitmap */
	size_t meta_bytes;              /* the pages they take */
	unsigned nclasses;
	uintptr_t list[KMEM_CLASSIC_CLASSES];   /* free list heads; 0: empty */
	struct p2list_class_stats cls[KMEM_CLASSIC_CLASSES];
	size_t live_blocks;
	uint64_t allocs;
	uint64_t frees;
	uint64_t failures;
};

static uintptr_t *
header_of(uintptr_t block)
{
	return ((uintptr_t *)block);
}

struct p2list *
p2list_create(void *base, size_t size)
{
	classic_region_t region;
	if (!classic_region_init(&region, "p2list_create", base, size))
		return (NULL);
	size_t total = 0;
	(void) classic_layout(&total, sizeof (struct p2list));
	size_t map_offset = classic_layout(&total,
	    classic_pages_map_bytes(size / kmem_pagesize()));
	size_t meta_bytes;
	struct p2list *pl = classic_meta_alloc(total, &meta_bytes);
	if (pl == NULL) {
		classic_region_fini(&region);
		return (NULL);
	}
	kmem_mutex_init(&pl->lock, KMEM_RANK_CLASSIC);
	pl->region = region;
	classic_pages_init(&pl->pages, &region,
	    (uint64_t *)((char *)pl + map_offset));
	pl->meta_size = total;
	pl->meta_bytes = meta_bytes;
	unsigned nclasses = highbit(size) - P2_MINSHIFT;
	pl->nclasses = nclasses < KMEM_CLASSIC_CLASSES ? nclasses :
	    KMEM_CLASSIC_CLASSES;
	for (unsigned c = 0; c < pl->nclasses; c++)
		pl->cls[c].block_size = (size_t)1 << (P2_MINSHIFT + c);
	return (pl);
}

void
p2list_destroy(struct p2list *pl)
{
	if (classic_null(pl, "p2list_destroy"))
		return;
	classic_region_t region = pl->region;
	kmem_mutex_destroy(&pl->lock);
	kmem_pages_free(pl, pl->meta_bytes);
	classic_region_fini(&region);
}

/* Cut fresh pages into blocks for list c; false when there are none. */
static bool
p2list_refill(struct p2list *pl, unsigned c)
{
	size_t block_size = pl->cls[c].block_size;
	size_t page = classic_page_size(&pl->pages);
	size_t npages = block_size < page ? 1 : block_size / page;
	uintptr_t addr = classic_pages_alloc(&pl->pages, npages);
	if (addr == 0)
		return (false);
	size_t nblocks = npages * page / block_size;
	/* Thread them from the top down, so the lowest is handed out first. */
	for (size_t i = nblocks; i-- > 0; ) {
		uintptr_t block = addr + i * block_size;
		*header_of(block) = pl->list[c];
		pl->list[c] = block;
	}
	pl->cls[c].blocks += nblocks;
	pl->cls[c].free += nblocks;
	pl->cls[c].refills++;
	return (true);
}

void *
p2list_alloc(struct p2list *pl, size_t size)
{
	if (classic_null(pl, "p2list_alloc") ||
	    classic_size_zero(pl, "p2list_alloc", size))
		return (NULL);
	unsigned c = size > SIZE_MAX / 2 ? KMEM_CLASSIC_CLASSES :
	    classic_p2_class(size + P2_HEADER, P2_MINSHIFT);
	kmem_mutex_enter(&pl->lock);
	if (c >= pl->nclasses || (pl->list[c] == 0 && !p2list_refill(pl, c))) {
		pl->failures++;
		kmem_mutex_exit(&pl->lock);
		return (NULL);
	}
	uintptr_t block = pl->list[c];
	pl->list[c] = *header_of(block);
	*header_of(block) = (uintptr_t)&pl->list[c];
	pl->cls[c].free--;
	pl->cls[c].allocs++;
	pl->live_blocks++;
	pl->allocs++;
	kmem_mutex_exit(&pl->lock);
	return ((void *)(block + P2_HEADER));
}

/*
 * The list whose block holds addr's data, checked; under the lock.  NULL
 * with *why set when addr is not such a block.
 */
static uintptr_t *
p2list_owner(struct p2list *pl, uintptr_t addr, char *why, size_t whylen)
{
	uintptr_t block = addr - P2_HEADER;
	if (addr < pl->region.base + P2_HEADER ||
	    !classic_region_has(&pl->region, addr) ||
	    p2_phase(block - pl->region.base, CLASSIC_GRAIN) != 0) {
		kmem_snprintf(why, whylen, "not the address of a block's data "
		    "in the region [%p, +%zu)", (void *)pl->region.base,
		    pl->region.size);
		return (NULL);
	}
	if (!classic_bit_test(pl->pages.used,
	    classic_page_index(&pl->pages, block))) {
		kmem_snprintf(why, whylen, "the address is in a page no list "
		    "has taken: it was never allocated");
		return (NULL);
	}
	uintptr_t header = *header_of(block);
	uintptr_t first = (uintptr_t)&pl->list[0];
	size_t c = (header - first) / sizeof (uintptr_t);
	if (header < first || c >= pl->nclasses ||
	    p2_phase(header - first, sizeof (uintptr_t)) != 0) {
		kmem_snprintf(why, whylen, "the block's header names no free "
		    "list: a double free, or an address p2list_alloc never "
		    "returned");
		return (NULL);
	}
	size_t page = classic_page_size(&pl->pages);
	size_t block_size = pl->cls[c].block_size;
	if (p2_phase(block - pl->region.base,
	    block_size < page ? block_size : page) != 0) {
		kmem_snprintf(why, whylen, "the header names the %zu-byte "
		    "list, but the address is not at the start of such a block",
		    block_size);
		return (NULL);
	}
	return (&pl->list[c]);
}

void
p2list_free(struct p2list *pl, void *addr)
{
	if (classic_null(pl, "p2list_free"))
		return;
	if (addr == NULL) {
		classic_report_free("p2list_free", pl, addr, CLASSIC_NO_SIZE,
		    "the address is NULL");
		return;
	}
	char why[160];
	kmem_mutex_enter(&pl->lock);
	uintptr_t *head = p2list_owner(pl, (uintptr_t)addr, why, sizeof (why));
	if (head == NULL) {
		kmem_mutex_exit(&pl->lock);
		classic_report_free("p2list_free", pl, addr, CLASSIC_NO_SIZE,
		    why);
		return;
	}
	uintptr_t block = (uintptr_t)addr - P2_HEADER;
	*header_of(block) = *head;
	*head = block;
	pl->cls[head - pl->list].free++;
	pl->live_blocks--;
	pl->frees++;
	kmem_mutex_exit(&pl->lock);
}

void
p2list_stats(struct p2list *pl, struct p2list_stats *st)
{
	*st = (struct p2list_stats){ 0 };
	if (classic_null(pl, "p2list_stats"))
		return;
	kmem_mutex_enter(&pl->lock);
	st->region_bytes = pl->region.size;
	st->free_pages = pl->pages.nfree;
	st->largest_free_run = classic_pages_largest_run(&pl->pages);
	st->nclasses = pl->nclasses;
	for (unsigned c = 0; c < pl->nclasses; c++)
		st->cls[c] = pl->cls[c];
	st->allocs = pl->allocs;
	st->frees = pl->frees;
	st->failures = pl->failures;
	kmem_mutex_exit(&pl->lock);
}

/* ---- the laboratory ---- */

static void *
p2list_lab_create(size_t budget, const struct kmem_lab_type *types,
    size_t ntypes)
{
	(void) types, (void) ntypes;
	return (p2list_create(NULL, budget));
}

static void
p2list_lab_destroy(void *inst)
{
	p2list_destroy(inst);
}

static void *
p2list_lab_alloc(void *inst, size_t size, int type)
{
	(void) type;
	return (p2list_alloc(inst, size));
}

static void
p2list_lab_free(void *inst, void *addr, size_t size, int type)
{
	(void) size, (void) type;
	p2list_free(inst, addr);
}

static size_t
p2list_lab_held(void *inst)
{
	struct p2list *pl = inst;
	kmem_mutex_enter(&pl->lock);
	size_t held = pl->region.size - classic_pages_free_bytes(&pl->pages);
	kmem_mutex_exit(&pl->lock);
	return (held);
}

static void
p2list_lab_stats(void *inst, struct kmem_lab_stats *st)
{
	struct p2list *pl = inst;
	*st = (struct kmem_lab_stats){ 0 };
	kmem_mutex_enter(&pl->lock);
	classic_lab_pages_stats(st, &pl->region, &pl->pages);
	for (unsigned c = 0; c < pl->nclasses; c++) {
		const struct p2list_class_stats *cs = &pl->cls[c];
		st->allocated_bytes += (cs->blocks - cs->free) * cs->block_size;
		st->cached_bytes += cs->free * cs->block_size;
	}
	st->metadata_bytes = pl->meta_size + pl->live_blocks * P2_HEADER;
	kmem_mutex_exit(&pl->lock);
}

static void
p2list_lab_walk(void *inst, kmem_lab_walk_fn_t *fn, void *arg)
{
	struct p2list *pl = inst;
	kmem_mutex_enter(&pl->lock);
	classic_lab_pages_walk(&pl->pages, fn, arg, KMEM_LAB_ALLOCATED);
	for (unsigned c = 0; c < pl->nclasses; c++) {
		for (uintptr_t b = pl->list[c]; b != 0; b = *header_of(b))
			fn(arg, (void *)b, pl->cls[c].block_size,
			    KMEM_LAB_CACHED);
	}
	kmem_mutex_exit(&pl->lock);
}

const struct kmem_lab_ops kmem_lab_p2list_ops = {
	.name = "p2list",
	.design = "power-of-two free lists with a one-word header (4.2BSD)",
	.create = p2list_lab_create,
	.destroy = p2list_lab_destroy,
	.alloc = p2list_lab_alloc,
	.free = p2list_lab_free,
	.held = p2list_lab_held,
	.stats = p2list_lab_stats,
	.walk = p2list_lab_walk,
};
