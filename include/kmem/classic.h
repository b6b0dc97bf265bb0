/*
 * libkmem: the classic kernel allocators, the designs that came before vmem
 * and the slab allocator.  This header is their home: each allocator has its
 * own section below, with the interface it had in the system it comes from,
 * so that programs and textbooks written for it read the same here and so
 * that bench/ can run every design side by side.
 *
 * Every allocator here is thread-safe (one lock per instance; Dynix's
 * per-CPU layer adds one per CPU), takes its memory from the platform's page
 * source rather than from malloc, and sends bad input to the report handler
 * of <kmem/common.h>: the offending call then does nothing.
 *
 * Regions.  Every allocator but the resource map manages a region of memory
 * given at creation: base and size must be multiples of the page size
 * (kmem_pagesize()); with base NULL the allocator takes size bytes from the
 * page source itself and gives them back when destroyed.  Its bookkeeping
 * lives outside the region, in pages from the page source, except where the
 * design puts it in the blocks (free-list links in free blocks, the
 * power-of-two lists' headers).  Destroying an allocator with blocks still
 * allocated is allowed: the blocks simply cease to exist.
 *
 * docs/classic.md describes each design, its invariants and its costs, and
 * the laboratory (tools/kmlab) that runs them side by side.
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

/*
 * The most power-of-two size classes (or buddy orders) any allocator below
 * keeps; the per-class arrays of the statistics have this many entries, of
 * which the first nclasses (or norders) are used.
 */
#define KMEM_CLASSIC_CLASSES    48

/* ======================================================================
 * Simple power-of-two free lists (the 4.2BSD user-level malloc, as the
 * chapter's first kernel allocator).
 *
 * A request is rounded up, with a one-word header, to a power of two of at
 * least 16 bytes, and served from that size's free list.  An empty list
 * takes a page from the region (or, for blocks of a page or more, a run of
 * pages) and cuts it into blocks.  Blocks never move to another list and
 * pages never go back.  The header of an allocated block names its list,
 * so p2list_free() needs no size.  Blocks are aligned to 8 bytes (the
 * header's size), not 16.
 * ====================================================================== */

struct p2list;

KMEM_API struct p2list *p2list_create(void *base, size_t size);
KMEM_API void p2list_destroy(struct p2list *pl);
/* NULL when the list is empty and no pages are left. */
KMEM_API void *p2list_alloc(struct p2list *pl, size_t size);
KMEM_API void p2list_free(struct p2list *pl, void *addr);

struct p2list_class_stats {
	size_t block_size;              /* header included */
	size_t blocks;                  /* cut for this list so far */
	size_t free;                    /* on the list now */
	uint64_t allocs;
	uint64_t refills;               /* times the list took pages */
};

struct p2list_stats {
	size_t region_bytes;
	size_t free_pages;              /* pages no list has taken */
	size_t largest_free_run;        /* bytes, in contiguous free pages */
	unsigned nclasses;
	struct p2list_class_stats cls[KMEM_CLASSIC_CLASSES];
	uint64_t allocs;
	uint64_t frees;
	uint64_t failures;
};

KMEM_API void p2list_stats(struct p2list *pl, struct p2list_stats *st);

/* ================= end of the power-of-two free lists ================= */

/* ======================================================================
 * McKusick-Karels: the 4.3BSD kernel malloc (McKusick & Karels, "Design of
 * a General Purpose Memory Allocator for the 4.3BSD UNIX Kernel", USENIX
 * 1988).
 *
 * Power-of-two buckets from 16 bytes to two pages, without headers: every
 * page of the region has an entry in kmemsizes, which names the bucket its
 * blocks belong to, so a free finds the size from the address.  An empty
 * bucket takes one page (or one block's worth of pages) and cuts it up;
 * those pages stay with their bucket for good.  Larger requests take whole
 * pages, first fit, and give them back on free.
 * ====================================================================== */

struct mk_arena;

KMEM_API struct mk_arena *mk_create(void *base, size_t size);
KMEM_API void mk_destroy(struct mk_arena *mk);
KMEM_API void *mk_malloc(struct mk_arena *mk, size_t size);
KMEM_API void mk_free(struct mk_arena *mk, void *addr);

struct mk_bucket_stats {
	size_t block_size;
	size_t blocks;                  /* cut for this bucket so far */
	size_t free;                    /* on its free list now */
	uint64_t calls;                 /* allocations from it */
};

struct mk_stats {
	size_t region_bytes;
	size_t free_pages;
	size_t largest_free_run;        /* bytes */
	size_t large_pages;             /* pages held by large allocations */
	size_t large_allocs;            /* large allocations outstanding */
	unsigned nbuckets;
	struct mk_bucket_stats bucket[KMEM_CLASSIC_CLASSES];
	uint64_t allocs;
	uint64_t frees;
	uint64_t failures;
};

KMEM_API void mk_stats(struct mk_arena *mk, struct mk_stats *st);

/* ================= end of McKusick-Karels ================= */

/* ======================================================================
 * The binary buddy system (Knowlton 1965; Knuth, TAOCP vol. 1, 2.5).
 *
 * Blocks of min_block << k bytes (order k), each aligned to its size from
 * the region's start.  An allocation takes a block of the smallest order
 * that holds it, splitting a larger block in halves as needed; a free joins
 * the block with its buddy (the other half of the block they were split
 * from) whenever the buddy is free too, repeatedly.  Bitmaps record which
 * blocks are free and which are allocated, so a free checks its address
 * and size.  With everything freed, the region is again the blocks it
 * started as (one block when its size is a power of two).
 * ====================================================================== */

struct buddy;

/* min_block: a power of two, at least 16. */
KMEM_API struct buddy *buddy_create(void *base, size_t size, size_t min_block);
KMEM_API void buddy_destroy(struct buddy *bp);
KMEM_API void *buddy_alloc(struct buddy *bp, size_t size);
/* size: what was asked of buddy_alloc (any size of the same order). */
KMEM_API void buddy_free(struct buddy *bp, void *addr, size_t size);

struct buddy_stats {
	size_t region_bytes;
	size_t min_block;
	unsigned norders;
	size_t free_bytes;
	size_t largest_free;            /* the largest free block */
	size_t free_blocks[KMEM_CLASSIC_CLASSES];       /* by order */
	size_t allocated_blocks[KMEM_CLASSIC_CLASSES];
	uint64_t allocs;
	uint64_t frees;
	uint64_t failures;
	uint64_t splits;
	uint64_t merges;
};

KMEM_API void buddy_stats(struct buddy *bp, struct buddy_stats *st);

/* ================= end of the buddy system ================= */

/* ======================================================================
 * The SVR4 lazy buddy system (Lee & Barkley, "A Lazy Buddy System Bounded
 * by Two Coalescing Delays per Class", SOSP 1989).
 *
 * A buddy system that delays coalescing.  A freed block is either locally
 * free (kept on its class's list, still marked allocated in the bitmaps, so
 * its buddy cannot join it) or globally free (marked free and coalesced at
 * once).  For each class, with A blocks allocated, L locally free and G
 * globally free, the slack is N - 2L - G = A - L, and a free decides by it:
 *   slack >= 2  lazy: the block becomes locally free;
 *   slack == 1  reclaiming: the block is freed globally;
 *   slack == 0  accelerated: the block and one locally free block are
 *               freed globally.
 * So L <= A always, and when everything is freed nothing is locally free:
 * the region is coalesced back to its starting blocks.  An allocation takes
 * a locally free block first (no bitmap work), then a globally free one,
 * then splits; before failing it frees every locally free block globally.
 * ====================================================================== */

struct lbuddy;

KMEM_API struct lbuddy *lbuddy_create(void *base, size_t size,
    size_t min_block);
KMEM_API void lbuddy_destroy(struct lbuddy *lb);
KMEM_API void *lbuddy_alloc(struct lbuddy *lb, size_t size);
KMEM_API void lbuddy_free(struct lbuddy *lb, void *addr, size_t size);

struct lbuddy_class_stats {
	size_t allocated;               /* A */
	size_t locally_free;            /* L */
	size_t globally_free;           /* G */
	uint64_t lazy_frees;            /* frees in each state */
	uint64_t reclaiming_frees;
	uint64_t accelerated_frees;
};

struct lbuddy_stats {
	/* The buddy system underneath: locally free blocks count as allocated. */
	struct buddy_stats buddy;
	size_t locally_free_bytes;
	struct lbuddy_class_stats cls[KMEM_CLASSIC_CLASSES];    /* by order */
	uint64_t drains;                /* times a failing request drained L */
};

KMEM_API void lbuddy_stats(struct lbuddy *lb, struct lbuddy_stats *st);

/* ================= end of the lazy buddy system ================= */

/* ======================================================================
 * The Mach zone allocator (zalloc; Sciver & Rashid, "zalloc" in Mach 2.5
 * and 3.0).
 *
 * A zone holds objects of one type and size.  It takes chunks of pages
 * from its arena's region and threads their elements on its free list;
 * zalloc and zfree push and pop that list.  zone_gc() finds the chunks
 * whose elements are all free, takes their elements off the free lists and
 * gives their pages back to the arena, where any zone may use them; an
 * allocation that finds no pages runs it once before failing.  zone_kalloc
 * is Mach's kalloc: power-of-two zones from 16 bytes to a page, whole pages
 * above.
 *
 * Zones live as long as their arena (Mach never destroyed one); an arena
 * holds at most ZONE_MAX of them, the kalloc zones included.
 * ====================================================================== */

#define ZONE_NAMELEN    32
#define ZONE_MAX        64

struct zone_arena;
struct zone;

KMEM_API struct zone_arena *zone_arena_create(void *base, size_t size);
KMEM_API void zone_arena_destroy(struct zone_arena *za);
/*
 * A zone of size-byte elements (rounded up to 16).  max: the most bytes
 * it may hold (0: no limit but the region); alloc: bytes taken at a time
 * (rounded up to pages; 0: chosen to waste little).  NULL if the arena
 * already has ZONE_MAX zones or the arguments are bad.
 */
KMEM_API struct zone *zinit(struct zone_arena *za, size_t size, size_t max,
    size_t alloc, const char *name);
KMEM_API void *zalloc(struct zone *z);
KMEM_API void zfree(struct zone *z, void *elem);
/* Give back every chunk whose elements are all free; returns the bytes. */
KMEM_API size_t zone_gc(struct zone_arena *za);
KMEM_API void *zone_kalloc(struct zone_arena *za, size_t size);
KMEM_API void zone_kfree(struct zone_arena *za, void *addr, size_t size);
/* The kalloc zone serving size (at most a page); NULL until first used. */
KMEM_API struct zone *zone_kalloc_zone(struct zone_arena *za, size_t size);

struct zone_stats {
	char name[ZONE_NAMELEN];
	size_t elem_size;
	size_t alloc_size;
	size_t max_size;                /* 0: no limit */
	size_t cur_size;                /* bytes of chunks held */
	size_t count;                   /* elements allocated */
	size_t free;                    /* elements on the free list */
	uint64_t allocs;
	uint64_t frees;
	uint64_t failures;
	uint64_t chunks_taken;
	uint64_t chunks_collected;      /* given back by zone_gc */
};

KMEM_API void zone_stats(struct zone *z, struct zone_stats *st);

struct zone_arena_stats {
	size_t region_bytes;
	size_t free_pages;
	size_t largest_free_run;        /* bytes */
	size_t large_pages;             /* held by zone_kalloc above a page */
	unsigned nzones;
	uint64_t gc_runs;
	uint64_t gc_bytes;              /* given back by all of them */
};

KMEM_API void zone_arena_stats(struct zone_arena *za,
    struct zone_arena_stats *st);

/* ================= end of the zone allocator ================= */

/* ======================================================================
 * The Dynix/ptx hierarchical allocator (McKenney & Slingwine, "Efficient
 * Kernel Memory Allocation on Shared-Memory Multiprocessors", USENIX 1993).
 *
 * Power-of-two classes from 16 bytes to half a page, in three layers:
 * - per CPU, for each class, a main and an auxiliary list of at most
 *   `target` blocks: most allocations and frees touch only these, under
 *   that CPU's lock;
 * - a global layer holding whole lists of `target` blocks, so that a CPU
 *   trades a list in one step;
 * - a coalesce-to-page layer that gives each block back to its page and
 *   returns a page to the region once all its blocks are free.
 * Larger requests take whole pages.  The "CPU" is a per-thread index given
 * out round robin (threads beyond the CPU count share).  dynix_reclaim()
 * empties the per-CPU and global layers into the pages; an allocation that
 * finds no memory does so once before failing.
 * ====================================================================== */

struct dynix;

KMEM_API struct dynix *dynix_create(void *base, size_t size);
KMEM_API void dynix_destroy(struct dynix *dx);
KMEM_API void *dynix_alloc(struct dynix *dx, size_t size);
KMEM_API void dynix_free(struct dynix *dx, void *addr, size_t size);
KMEM_API void dynix_reclaim(struct dynix *dx);

struct dynix_class_stats {
	size_t block_size;
	unsigned target;
	size_t allocated;
	size_t cpu_free;                /* in all CPUs' main and aux lists */
	size_t global_free;             /* in the global layer's lists */
	size_t page_free;               /* free in partly used pages */
	size_t pages;                   /* pages cut for this class */
	uint64_t cpu_allocs;            /* served by the CPU layer alone */
	uint64_t global_refills;        /* lists taken from the global layer */
	uint64_t page_refills;          /* lists built from the page layer */
	uint64_t global_spills;         /* lists given to the global layer */
};

struct dynix_stats {
	size_t region_bytes;
	unsigned ncpus;
	size_t free_pages;
	size_t largest_free_run;        /* bytes */
	size_t large_pages;
	unsigned nclasses;
	struct dynix_class_stats cls[KMEM_CLASSIC_CLASSES];
	uint64_t allocs;
	uint64_t frees;
	uint64_t failures;
	uint64_t reclaims;
};

/* A snapshot: the per-CPU layers are read one CPU at a time. */
KMEM_API void dynix_stats(struct dynix *dx, struct dynix_stats *st);

/* ================= end of the Dynix allocator ================= */

/* ======================================================================
 * The laboratory's operations table: every allocator above, and vmem,
 * behind one interface, so that tools/kmlab runs the same workload through
 * each on the same memory budget.  kmem_lab_allocators[] lists them; a new
 * allocator joins the laboratory by defining one struct kmem_lab_ops and
 * adding it to that list (src/classic/lab.c).
 *
 * Every byte of an allocator's region is in one of four states:
 *   FREE       in the general free pool: any request that fits may get it;
 *   ALLOCATED  inside a block handed out, with its rounding and header;
 *   CACHED     free, but kept for one size class or object type;
 *   OVERHEAD   none of these: bookkeeping kept in the region, page tails too
 *              small for a block, units a resource map lost.
 * The "held" bytes are all but the free ones: what the allocator needed to
 * serve what is allocated, the denominator of the utilization factor.
 * ====================================================================== */

enum kmem_lab_state {
	KMEM_LAB_FREE,
	KMEM_LAB_ALLOCATED,
	KMEM_LAB_CACHED,
	KMEM_LAB_OVERHEAD
};

#define KMEM_LAB_STATES         4
#define KMEM_LAB_UNTYPED        (-1)
/* Everything a walk reports starts and ends on this many bytes from the
 * region's start. */
#define KMEM_LAB_GRAIN          16

/* An object type of a workload (zones and object caches serve types). */
struct kmem_lab_type {
	const char *name;
	size_t size;
};

struct kmem_lab_stats {
	void *region;                   /* where the region starts */
	size_t region_bytes;            /* the budget */
	size_t free_bytes;              /* by state; they add up to */
	size_t allocated_bytes;         /* region_bytes */
	size_t cached_bytes;
	size_t overhead_bytes;
	size_t largest_free;            /* the largest free block or run */
	size_t metadata_bytes;          /* bookkeeping, in or out of the region */
};

typedef void kmem_lab_walk_fn_t(void *arg, void *start, size_t size,
    enum kmem_lab_state state);

struct kmem_lab_ops {
	const char *name;               /* short, for tables and options */
	const char *design;             /* one line */
	/*
	 * An instance managing budget bytes (a multiple of the page size),
	 * taken from the page source; types[0 .. ntypes) are the object types
	 * the workload will name.  NULL if there is no memory for it.
	 */
	void *(*create)(size_t budget, const struct kmem_lab_type *types,
	    size_t ntypes);
	void (*destroy)(void *inst);
	/* type: an index into the types given to create, or KMEM_LAB_UNTYPED. */
	void *(*alloc)(void *inst, size_t size, int type);
	void (*free)(void *inst, void *addr, size_t size, int type);
	/* region_bytes - free_bytes, cheaply (called after every event). */
	size_t (*held)(void *inst);
	void (*stats)(void *inst, struct kmem_lab_stats *st);
	/*
	 * Describe the region as ranges; where two ranges overlap, the later
	 * one is right.  The callback must not call into the allocator.
	 */
	void (*walk)(void *inst, kmem_lab_walk_fn_t *fn, void *arg);
};

/* Every allocator the laboratory knows, in the chapter's order; NULL ends. */
KMEM_API extern const struct kmem_lab_ops *const kmem_lab_allocators[];

/* The allocator named name, or NULL. */
KMEM_API const struct kmem_lab_ops *kmem_lab_find(const char *name);

/*
 * Walk inst and record each grain's state: states[i] (an enum
 * kmem_lab_state) for the KMEM_LAB_GRAIN bytes at region + i * grain,
 * ngrains = region_bytes / KMEM_LAB_GRAIN of them.  Grains no range covers
 * get KMEM_LAB_STATES; returns how many there were (0 when the walk covers
 * the region, as it must).
 */
KMEM_API size_t kmem_lab_map(const struct kmem_lab_ops *ops, void *inst,
    unsigned char *states, size_t ngrains);

/* ================= end of the laboratory's table ================= */

#ifdef __cplusplus
}
#endif

#endif /* KMEM_CLASSIC_H */
