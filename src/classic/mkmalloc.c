/*
 * McKusick-Karels: the 4.3BSD kernel malloc (McKusick & Karels, USENIX
 * 1988), which replaced the kernel's ten special-purpose allocators.
 *
 * Small requests, up to two pages, are served from power-of-two buckets
 * (16 bytes and up) like the power-of-two lists, with one change that made
 * the design: no header in the blocks.  Instead every page of the region
 * has an entry in kmemsizes[] saying what the page holds:
 *   - nothing (the page is free at the page level);
 *   - blocks of bucket b: an empty bucket takes one page (or, for blocks of
 *     two pages, two) and cuts it into blocks, and the page stays with that
 *     bucket for good;
 *   - the first page of a large allocation, with its page count;
 *   - a later page of a multi-page block.
 * So mk_free() finds a block's size from its address, and requests of
 * exactly a power of two (the kernel's commonest) cost no more than their
 * size.  The cutoff is two pages because above it whole pages waste less
 * than powers of two: a request of 2 to 3 pages takes 3 pages, not 4.
 *
 * Large requests (above two pages) take a run of pages, first fit, from the
 * page level (pagelevel.c), which stands for the 4.3BSD kernel map; they
 * give the pages back on free, where they coalesce with free neighbours.
 * Pages given to a bucket never come back: a burst of one size strands
 * them, the weakness the paper names in its "future work".
 *
 * Double frees.  The original trusted its callers.  We keep one bit per
 * 16-byte grain of the region, set while the block starting there is
 * allocated, so that a double free or a free of a block never handed out
 * is caught (at 1/128 of the region in bookkeeping).
 *
 * Invariants (under the lock):
 * - A page is in use at the page level exactly when its kmemsizes entry is
 *   not MK_PAGE_FREE.
 * - Every block of a bucket is on the bucket's list or has its allocmap
 *   bit set, never both; bucket[b].free is the list's length.
 * - large_pages is the sum of the page counts of the MK_PAGE_LARGE pages.
 *
 * Bad input (reported, the call does nothing): a NULL arena, size 0,
 * freeing NULL, an address outside the region, in a free page, inside a
 * block rather than at its start, or of a block that is not allocated.
 *
 * Locking: one mutex of rank KMEM_RANK_CLASSIC; nothing is taken under it.
 */
#include <kmem/classic.h>

#include "classic/classic_impl.h"
#include "base/lock_order.h"
#include "platform/platform.h"
#include "base/report.h"

#define MK_MINBUCKET    CLASSIC_GRAIN_SHIFT

enum mk_page_kind {
	MK_PAGE_FREE,
	MK_PAGE_LARGE,                  /* the first page of a large block */
	MK_PAGE_TAIL,                   /* a later page of a multi-page block */
	MK_PAGE_BUCKET                  /* + b: the first page of bucket b's */
};

struct mk_kmemsizes {
	uint32_t pagecnt;               /* pages of the block or chunk */
	uint8_t indx;                   /* an mk_page_kind, or its sum */
};

struct mk_arena {
	kmem_mutex_t lock;              /* protects everything below */
	classic_region_t region;
	classic_pages_t pages;
	size_t meta_size;
	size_t meta_bytes;
	unsigned nbuckets;
	uintptr_t bucket_head[KMEM_CLASSIC_CLASSES];    /* 0: empty */
	struct mk_bucket_stats bucket[KMEM_CLASSIC_CLASSES];
	size_t large_pages;
	size_t large_allocs;
	uint64_t allocs;
	uint64_t frees;
	uint64_t failures;
	struct mk_kmemsizes *kmemsizes; /* one per page */
	uint64_t *allocmap;             /* one bit per grain */
};

static uintptr_t *
next_of(uintptr_t block)
{
	return ((uintptr_t *)block);
}

struct mk_arena *
mk_create(void *base, size_t size)
{
	classic_region_t region;
	if (!classic_region_init(&region, "mk_create", base, size))
		return (NULL);
	size_t npages = size / kmem_pagesize();
	size_t total = 0;
	(void) classic_layout(&total, sizeof (struct mk_arena));
	size_t map_offset = classic_layout(&total,
	    classic_pages_map_bytes(npages));
	size_t sizes_offset = classic_layout(&total,
	    npages * sizeof (struct mk_kmemsizes));
	size_t alloc_offset = classic_layout(&total,
	    classic_bitmap_bytes(size >> CLASSIC_GRAIN_SHIFT));
	size_t meta_bytes;
	struct mk_arena *mk = classic_meta_alloc(total, &meta_bytes);
	if (mk == NULL) {
		classic_region_fini(&region);
		return (NULL);
	}
	kmem_mutex_init(&mk->lock, KMEM_RANK_CLASSIC);
	mk->region = region;
	classic_pages_init(&mk->pages, &region,
	    (uint64_t *)((char *)mk + map_offset));
	mk->kmemsizes = (struct mk_kmemsizes *)((char *)mk + sizes_offset);
	mk->allocmap = (uint64_t *)((char *)mk + alloc_offset);
	mk->meta_size = total;
	mk->meta_bytes = meta_bytes;
	/* Buckets of 16 bytes up to two pages: the large cutoff. */
	mk->nbuckets = highbit(2 * kmem_pagesize()) - MK_MINBUCKET;
	for (unsigned b = 0; b < mk->nbuckets; b++)
		mk->bucket[b].block_size = (size_t)1 << (MK_MINBUCKET + b);
	return (mk);
}

void
mk_destroy(struct mk_arena *mk)
{
	if (classic_null(mk, "mk_destroy"))
		return;
	classic_region_t region = mk->region;
	kmem_mutex_destroy(&mk->lock);
	kmem_pages_free(mk, mk->meta_bytes);
	classic_region_fini(&region);
}

/* Mark npages pages from addr as one block or chunk of kind indx. */
static void
mk_set_sizes(struct mk_arena *mk, uintptr_t addr, size_t npages,
    unsigned indx)
{
	size_t p = classic_page_index(&mk->pages, addr);
	mk->kmemsizes[p] = (struct mk_kmemsizes){ (uint32_t)npages,
	    (uint8_t)indx };
	for (size_t i = 1; i < npages; i++)
		mk->kmemsizes[p + i] = (struct mk_kmemsizes){ 0, MK_PAGE_TAIL };
}

/* Give bucket b a fresh page (or two) of blocks; false when none left. */
static bool
mk_refill(struct mk_arena *mk, unsigned b)
{
	size_t block_size = mk->bucket[b].block_size;
	size_t page = classic_page_size(&mk->pages);
	size_t npages = block_size < page ? 1 : block_size / page;
	uintptr_t addr = classic_pages_alloc(&mk->pages, npages);
	if (addr == 0)
		return (false);
	mk_set_sizes(mk, addr, npages, MK_PAGE_BUCKET + b);
	size_t nblocks = npages * page / block_size;
	for (size_t i = nblocks; i-- > 0; ) {
		uintptr_t block = addr + i * block_size;
		*next_of(block) = mk->bucket_head[b];
		mk->bucket_head[b] = block;
	}
	mk->bucket[b].blocks += nblocks;
	mk->bucket[b].free += nblocks;
	return (true);
}

static uintptr_t
mk_alloc_small(struct mk_arena *mk, size_t size)
{
	unsigned b = classic_p2_class(size, MK_MINBUCKET);
	if (mk->bucket_head[b] == 0 && !mk_refill(mk, b))
		return (0);
	uintptr_t block = mk->bucket_head[b];
	mk->bucket_head[b] = *next_of(block);
	classic_bit_set(mk->allocmap, classic_grain(&mk->region, block));
	mk->bucket[b].free--;
	mk->bucket[b].calls++;
	return (block);
}

static uintptr_t
mk_alloc_large(struct mk_arena *mk, size_t size)
{
	size_t page = classic_page_size(&mk->pages);
	if (size > mk->region.size)
		return (0);
	size_t npages = p2_roundup(size, page) / page;
	uintptr_t addr = classic_pages_alloc(&mk->pages, npages);
	if (addr == 0)
		return (0);
	mk_set_sizes(mk, addr, npages, MK_PAGE_LARGE);
	mk->large_pages += npages;
	mk->large_allocs++;
	return (addr);
}

void *
mk_malloc(struct mk_arena *mk, size_t size)
{
	if (classic_null(mk, "mk_malloc") ||
	    classic_size_zero(mk, "mk_malloc", size))
		return (NULL);
	kmem_mutex_enter(&mk->lock);
	uintptr_t addr = size <= mk->bucket[mk->nbuckets - 1].block_size ?
	    mk_alloc_small(mk, size) : mk_alloc_large(mk, size);
	if (addr == 0)
		mk->failures++;
	else
		mk->allocs++;
	kmem_mutex_exit(&mk->lock);
	return ((void *)addr);
}

/* Free addr under the lock; returns why it cannot be freed, or NULL. */
static const char *
mk_free_locked(struct mk_arena *mk, uintptr_t addr)
{
	if (!classic_region_has(&mk->region, addr))
		return ("the address is outside the arena's region");
	size_t p = classic_page_index(&mk->pages, addr);
	uintptr_t page_addr = classic_page_addr(&mk->pages, p);
	struct mk_kmemsizes *ks = &mk->kmemsizes[p];
	switch (ks->indx) {
	case MK_PAGE_FREE:
		return ("the address is in a free page: a double free, or it "
		    "was never allocated");
	case MK_PAGE_TAIL:
		return ("the address is inside a block that starts on an "
		    "earlier page");
	case MK_PAGE_LARGE:
		if (addr != page_addr)
			return ("the address is inside a large block, not at "
			    "its start");
		mk->large_pages -= ks->pagecnt;
		mk->large_allocs--;
		classic_pages_free(&mk->pages, addr, ks->pagecnt);
		mk_set_sizes(mk, addr, ks->pagecnt, MK_PAGE_FREE);
		return (NULL);
	default:
		break;
	}
	unsigned b = ks->indx - MK_PAGE_BUCKET;
	if (p2_phase(addr - page_addr, mk->bucket[b].block_size) != 0)
		return ("the address is not at the start of a block of its "
		    "page's bucket");
	size_t grain = classic_grain(&mk->region, addr);
	if (!classic_bit_test(mk->allocmap, grain))
		return ("the block is free: a double free, or it was never "
		    "allocated");
	classic_bit_clear(mk->allocmap, grain);
	*next_of(addr) = mk->bucket_head[b];
	mk->bucket_head[b] = addr;
	mk->bucket[b].free++;
	return (NULL);
}

void
mk_free(struct mk_arena *mk, void *addr)
{
	if (classic_null(mk, "mk_free"))
		return;
	const char *why = "the address is NULL";
	if (addr != NULL) {
		kmem_mutex_enter(&mk->lock);
		why = mk_free_locked(mk, (uintptr_t)addr);
		if (why == NULL)
			mk->frees++;
		kmem_mutex_exit(&mk->lock);
	}
	if (why != NULL)
		classic_report_free("mk_free", mk, addr, CLASSIC_NO_SIZE, why);
}

void
mk_stats(struct mk_arena *mk, struct mk_stats *st)
{
	*st = (struct mk_stats){ 0 };
	if (classic_null(mk, "mk_stats"))
		return;
	kmem_mutex_enter(&mk->lock);
	st->region_bytes = mk->region.size;
	st->free_pages = mk->pages.nfree;
	st->largest_free_run = classic_pages_largest_run(&mk->pages);
	st->large_pages = mk->large_pages;
	st->large_allocs = mk->large_allocs;
	st->nbuckets = mk->nbuckets;
	for (unsigned b = 0; b < mk->nbuckets; b++)
		st->bucket[b] = mk->bucket[b];
	st->allocs = mk->allocs;
	st->frees = mk->frees;
	st->failures = mk->failures;
	kmem_mutex_exit(&mk->lock);
}

/* ---- the laboratory ---- */

static void *
mk_lab_create(size_t budget, const struct kmem_lab_type *types, size_t ntypes)
{
	(void) types, (void) ntypes;
	return (mk_create(NULL, budget));
}

static void
mk_lab_destroy(void *inst)
{
	mk_destroy(inst);
}

static void *
mk_lab_alloc(void *inst, size_t size, int type)
{
	(void) type;
	return (mk_malloc(inst, size));
}

static void
mk_lab_free(void *inst, void *addr, size_t size, int type)
{
	(void) size, (void) type;
	mk_free(inst, addr);
}

static size_t
mk_lab_held(void *inst)
{
	struct mk_arena *mk = inst;
	kmem_mutex_enter(&mk->lock);
	size_t held = mk->region.size - classic_pages_free_bytes(&mk->pages);
	kmem_mutex_exit(&mk->lock);
	return (held);
}

static void
mk_lab_stats(void *inst, struct kmem_lab_stats *st)
{
	struct mk_arena *mk = inst;
	*st = (struct kmem_lab_stats){ 0 };
	kmem_mutex_enter(&mk->lock);
	classic_lab_pages_stats(st, &mk->region, &mk->pages);
	st->allocated_bytes = mk->large_pages << mk->pages.shift;
	for (unsigned b = 0; b < mk->nbuckets; b++) {
		const struct mk_bucket_stats *bs = &mk->bucket[b];
		st->allocated_bytes += (bs->blocks - bs->free) * bs->block_size;
		st->cached_bytes += bs->free * bs->block_size;
	}
	st->metadata_bytes = mk->meta_size;
	kmem_mutex_exit(&mk->lock);
}

static void
mk_lab_walk(void *inst, kmem_lab_walk_fn_t *fn, void *arg)
{
	struct mk_arena *mk = inst;
	kmem_mutex_enter(&mk->lock);
	classic_lab_pages_walk(&mk->pages, fn, arg, KMEM_LAB_ALLOCATED);
	size_t page = classic_page_size(&mk->pages);
	for (size_t p = 0; p < mk->pages.npages; p++) {
		const struct mk_kmemsizes *ks = &mk->kmemsizes[p];
		if (ks->indx < MK_PAGE_BUCKET)
			continue;
		size_t block_size = mk->bucket[ks->indx - MK_PAGE_BUCKET].
		    block_size;
		classic_lab_walk_blocks(fn, arg, mk->allocmap, mk->region.base,
		    classic_page_addr(&mk->pages, p),
		    ks->pagecnt * page / block_size, block_size);
	}
	kmem_mutex_exit(&mk->lock);
}

const struct kmem_lab_ops kmem_lab_mk_ops = {
	.name = "mckusick-karels",
	.design = "power-of-two buckets, sizes kept per page (4.3BSD malloc)",
	.create = mk_lab_create,
	.destroy = mk_lab_destroy,
	.alloc = mk_lab_alloc,
	.free = mk_lab_free,
	.held = mk_lab_held,
	.stats = mk_lab_stats,
	.walk = mk_lab_walk,
};
