/*
 * What the classic allocators share: the region each one manages, the
 * block of bookkeeping each takes from the page source, bitmaps, size
 * classes, the page-level allocator under the page-based designs
 * (pagelevel.c), the wording of their reports, and their entries in the
 * laboratory's table (lab.c).
 *
 * Nothing here locks: every function runs under the lock of the allocator
 * instance that owns the structure.
 */
#ifndef KMEM_CLASSIC_IMPL_H
#define KMEM_CLASSIC_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kmem/classic.h>

#include "base/bits.h"

/* The allocation grain: blocks are multiples of it and aligned to it. */
#define CLASSIC_GRAIN_SHIFT     4
#define CLASSIC_GRAIN           ((size_t)1 << CLASSIC_GRAIN_SHIFT)

_Static_assert(CLASSIC_GRAIN == KMEM_LAB_GRAIN,
    "the laboratory's grain is the allocators' grain");

/* ---- the region ---- */

typedef struct classic_region {
	uintptr_t base;
	size_t size;
	bool owned;                     /* taken from the page source */
} classic_region_t;

/*
 * Set *rp to [base, base + size), or to size bytes from the page source
 * when base is NULL.  Reports bad input as "caller(base, size): ..." and
 * returns false, as it does (silently) when there is no memory.
 */
bool classic_region_init(classic_region_t *rp, const char *caller, void *base,
    size_t size);
void classic_region_fini(classic_region_t *rp);

static inline bool
classic_region_has(const classic_region_t *rp, uintptr_t addr)
{
	return (addr - rp->base < rp->size);
}

/* ---- bookkeeping: one block from the page source ---- */

/*
 * Lay out a bookkeeping block: reserve bytes, aligned to a cache line,
 * after the *total bytes reserved so far; returns their offset from the
 * block's start.
 */
#define CLASSIC_LAYOUT_ALIGN    64
size_t classic_layout(size_t *total, size_t bytes);
/* The block, zero-filled: total rounded up to pages (*bytesp), or NULL. */
void *classic_meta_alloc(size_t total, size_t *bytesp);

/* ---- bitmaps ---- */

static inline size_t
classic_bitmap_bytes(size_t bits)
{
	return ((bits + 63) / 64 * sizeof (uint64_t));
}

static inline bool
classic_bit_test(const uint64_t *map, size_t i)
{
	return ((map[i / 64] >> (i % 64)) & 1);
}

static inline void
classic_bit_set(uint64_t *map, size_t i)
{
	map[i / 64] |= (uint64_t)1 << (i % 64);
}

static inline void
classic_bit_clear(uint64_t *map, size_t i)
{
	map[i / 64] &= ~((uint64_t)1 << (i % 64));
}

/* The index of the grain holding addr, counted from the region's start. */
static inline size_t
classic_grain(const classic_region_t *rp, uintptr_t addr)
{
	return ((addr - rp->base) >> CLASSIC_GRAIN_SHIFT);
}

/* How many bits of map[from .. to) are set. */
size_t classic_bits_count(const uint64_t *map, size_t from, size_t to);

/* ---- power-of-two size classes ---- */

/* The smallest c such that (1 << (minshift + c)) >= size (size > 0). */
static inline unsigned
classic_p2_class(size_t size, unsigned minshift)
{
	if (size <= ((size_t)1 << minshift))
		return (0);
	return (highbit(size - 1) - minshift);
}

/* ---- the page-level allocator (pagelevel.c) ---- */

/*
 * The pages of a region, each free or in use, in a bitmap; runs of pages
 * are found first fit.  This is the "page-level allocator" the chapter's
 * kernel memory allocators sit on (4.3BSD's kernel map, Mach's zone map,
 * Dynix's vmblk layer).
 */
typedef struct classic_pages {
	uintptr_t base;
	size_t npages;
	unsigned shift;                 /* log2 of the page size */
	size_t nfree;
	size_t hint;                    /* no page below it is free */
	uint64_t *used;                 /* bit i set: page i is in use */
} classic_pages_t;

static inline size_t
classic_pages_map_bytes(size_t npages)
{
	return (classic_bitmap_bytes(npages));
}

/* The pages of rp, all free; map has classic_pages_map_bytes() of zeros. */
void classic_pages_init(classic_pages_t *pp, const classic_region_t *rp,
    uint64_t *map);
/* The first run of n free pages, now in use; 0 when there is none. */
uintptr_t classic_pages_alloc(classic_pages_t *pp, size_t n);
void classic_pages_free(classic_pages_t *pp, uintptr_t addr, size_t n);
/* The longest run of free pages, in bytes. */
size_t classic_pages_largest_run(const classic_pages_t *pp);

static inline size_t
classic_page_index(const classic_pages_t *pp, uintptr_t addr)
{
	return ((addr - pp->base) >> pp->shift);
}

static inline uintptr_t
classic_page_addr(const classic_pages_t *pp, size_t index)
{
	return (pp->base + (index << pp->shift));
}

static inline size_t
classic_page_size(const classic_pages_t *pp)
{
	return ((size_t)1 << pp->shift);
}

static inline size_t
classic_pages_free_bytes(const classic_pages_t *pp)
{
	return (pp->nfree << pp->shift);
}

/* ---- reports ---- */

/* Report a NULL instance passed to caller; true when inst is NULL. */
bool classic_null(const void *inst, const char *caller);
/*
 * Report a bad allocation size ("caller(inst, size N): why") when size is
 * 0; true when it is.
 */
bool classic_size_zero(const void *inst, const char *caller, size_t size);
/*
 * Report a bad free: "caller(inst, addr): why", or with ", size N" when
 * size is not CLASSIC_NO_SIZE.
 */
#define CLASSIC_NO_SIZE SIZE_MAX
void classic_report_free(const char *caller, const void *inst,
    const void *addr, size_t size, const char *why);

/* ---- the laboratory ---- */

extern const struct kmem_lab_ops kmem_lab_rmap_ops;
extern const struct kmem_lab_ops kmem_lab_p2list_ops;
extern const struct kmem_lab_ops kmem_lab_mk_ops;
extern const struct kmem_lab_ops kmem_lab_buddy_ops;
extern const struct kmem_lab_ops kmem_lab_lbuddy_ops;
extern const struct kmem_lab_ops kmem_lab_zone_ops;
extern const struct kmem_lab_ops kmem_lab_dynix_ops;
extern const struct kmem_lab_ops kmem_lab_slab_ops;
extern const struct kmem_lab_ops kmem_lab_vmem_instant_ops;
extern const struct kmem_lab_ops kmem_lab_vmem_best_ops;
extern const struct kmem_lab_ops kmem_lab_vmem_next_ops;

/*
 * For rows built on a vmem arena: add its largest free segment and its
 * boundary tags' bytes to *st; describe its region: FREE, then its
 * allocated segments ALLOCATED.
 */
struct vmem;
void classic_lab_vmem_stats(struct vmem *vmp, struct kmem_lab_stats *st);
void classic_lab_vmem_walk(struct vmem *vmp, void *region, size_t size,
    kmem_lab_walk_fn_t *fn, void *arg);

/*
 * The part of a page-based allocator's laboratory statistics that its
 * region and page level decide: region, free bytes, largest free run.
 */
void classic_lab_pages_stats(struct kmem_lab_stats *st,
    const classic_region_t *rp, const classic_pages_t *pp);
/* Report the page level's free runs as FREE and its used runs as used. */
void classic_lab_pages_walk(const classic_pages_t *pp, kmem_lab_walk_fn_t *fn,
    void *arg, enum kmem_lab_state used);
/*
 * Report nblocks blocks of size bytes from start: ALLOCATED where map (one
 * bit a grain of the region from base) marks the block's first grain,
 * CACHED where it does not.
 */
void classic_lab_walk_blocks(kmem_lab_walk_fn_t *fn, void *arg,
    const uint64_t *map, uintptr_t base, uintptr_t start, size_t nblocks,
    size_t size);

#endif /* KMEM_CLASSIC_IMPL_H */
