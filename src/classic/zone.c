/*
 * The Mach zone allocator (zalloc, zfree, zinit, zone_gc; Mach 2.5 and 3.0,
 * and kalloc on top of it): one zone per kind of object.
 *
 * A zone holds elements of one size.  When its free list is empty it takes
 * a chunk (alloc_size bytes, whole pages) from its arena's page level
 * (pagelevel.c, Mach's zone_map), cuts it into elements and threads them
 * on the free list, through their first word; zalloc and zfree pop and
 * push that list, so both are a few instructions under the lock.  A zone's
 * max_size bounds the memory it may hold (Mach's runaway protection).  The
 * chunk size is chosen so that little of it is left over: the smallest
 * number of pages, up to 8, whose tail after the last whole element is at
 * most 1/16 of the chunk.
 *
 * Memory flows back through garbage collection.  zone_gc() looks at every
 * chunk of every zone; a chunk none of whose elements is allocated is
 * taken off (its elements are dropped from the zone's free list) and its
 * pages go back to the page level, where any zone, or a large kalloc, may
 * take them.  Mach ran it from the pageout daemon when memory ran low; here
 * an allocation that finds no pages runs it once, if anything was freed
 * since it last ran, before failing.
 *
 * kalloc (zone_kalloc, zone_kfree) is Mach's general-purpose front end:
 * power-of-two zones "kalloc.16" up to "kalloc.<page size>", created the
 * first time each is needed, and whole pages from the page level above a
 * page.
 *
 * Page table: every page of the region has an entry saying whether it is
 * free, the first page of a chunk (its zone and page count), a later page
 * of one (how far back its first page is), or the first page of a large
 * kalloc block.  With one bit per 16-byte grain marking allocated elements
 * (our addition: Mach trusted its callers), zfree checks that an address is
 * an element of that very zone and allocated, and zone_gc finds wholly free
 * chunks by counting bits instead of walking free lists.
 *
 * Invariants (under the lock):
 * - A page is in use at the page level exactly when its entry is not FREE.
 * - Every element of a chunk is on its zone's free list or has its
 *   allocmap bit set, never both; count and nfree count them, and
 *   cur_size is the zone's chunks times alloc_size.
 * - frees_since_gc is 0 only if no element was freed since zone_gc ran.
 *
 * Bad input (reported, the call does nothing): a NULL arena or zone, size
 * 0, an element size larger than the region, alloc smaller than an
 * element, freeing NULL, an address outside the region, not in one of the
 * zone's chunks, not at an element's start, or not allocated; a
 * zone_kfree with a size other than the allocation's.
 *
 * Locking: one mutex per arena, rank KMEM_RANK_CLASSIC, covering all its
 * zones (Mach had one per zone and one for the zone map; nested locks of
 * one rank are not allowed here, and one lock is what the lab measures).
 */
#include <kmem/classic.h>

#include <string.h>

#include "classic/classic_impl.h"
#include "base/format.h"
#include "base/lock_order.h"
#include "platform/platform.h"
#include "base/report.h"

#define ZONE_CHUNK_MAX_PAGES    8

enum zone_page_kind {
	ZPAGE_FREE,
	ZPAGE_CHUNK,                    /* the first page of a chunk */
	ZPAGE_TAIL,                     /* a later page of a chunk or block */
	ZPAGE_LARGE                     /* the first page of a large kalloc */
};

struct zone_page {
	uint32_t npages;                /* first pages: the pages it spans;
					   ZPAGE_TAIL: how far back the first is */
	uint8_t kind;
	uint8_t zone;                   /* ZPAGE_CHUNK: the zone's index */
	bool collect;                   /* ZPAGE_CHUNK: zone_gc takes it */
};

struct zone {
	struct zone_arena *za;
	char name[ZONE_NAMELEN];
	unsigned index;
	size_t elem_size;
	size_t max_size;
	size_t alloc_size;
	size_t cur_size;
	size_t count;
	uintptr_t free_elements;        /* 0: empty */
	size_t nfree;
	uint64_t allocs;
	uint64_t frees;
	uint64_t failures;
	uint64_t chunks_taken;
	uint64_t chunks_collected;
};

struct zone_arena {
	kmem_mutex_t lock;              /* protects everything below */
	classic_region_t region;
	classic_pages_t pages;
	size_t meta_size;
	size_t meta_bytes;
	unsigned nzones;
	struct zone zones[ZONE_MAX];
	struct zone *kalloc_zone[KMEM_CLASSIC_CLASSES];
	unsigned nkalloc;               /* kalloc sizes: 16 .. page */
	size_t large_pages;
	uint64_t frees_since_gc;
	uint64_t gc_runs;
	uint64_t gc_bytes;
	struct zone_page *pagetab;      /* one per page */
	uint64_t *allocmap;             /* one bit per grain */
};

static uintptr_t *
next_of(uintptr_t elem)
{
	return ((uintptr_t *)elem);
}

struct zone_arena *
zone_arena_create(void *base, size_t size)
{
	classic_region_t region;
	if (!classic_region_init(&region, "zone_arena_create", base, size))
		return (NULL);
	size_t npages = size / kmem_pagesize();
	size_t total = 0;
	(void) classic_layout(&total, sizeof (struct zone_arena));
	size_t map_offset = classic_layout(&total,
	    classic_pages_map_bytes(npages));
	size_t table_offset = classic_layout(&total,
	    npages * sizeof (struct zone_page));
	size_t alloc_offset = classic_layout(&total,
	    classic_bitmap_bytes(size >> CLASSIC_GRAIN_SHIFT));
	size_t meta_bytes;
	struct zone_arena *za = classic_meta_alloc(total, &meta_bytes);
	if (za == NULL) {
		classic_region_fini(&region);
		return (NULL);
	}
	kmem_mutex_init(&za->lock, KMEM_RANK_CLASSIC);
	za->region = region;
	classic_pages_init(&za->pages, &region,
	    (uint64_t *)((char *)za + map_offset));
	za->pagetab = (struct zone_page *)((char *)za + table_offset);
	za->allocmap = (uint64_t *)((char *)za + alloc_offset);
	za->meta_size = total;
	za->meta_bytes = meta_bytes;
	za->nkalloc = highbit(kmem_pagesize()) - CLASSIC_GRAIN_SHIFT;
	return (za);
}

void
zone_arena_destroy(struct zone_arena *za)
{
	if (classic_null(za, "zone_arena_destroy"))
		return;
	classic_region_t region = za->region;
	kmem_mutex_destroy(&za->lock);
	kmem_pages_free(za, za->meta_bytes);
	classic_region_fini(&region);
}

/* ---- the page table ---- */

static void
zone_mark_pages(struct zone_arena *za, uintptr_t addr, size_t npages,
    enum zone_page_kind kind, unsigned zone)
{
	size_t p = classic_page_index(&za->pages, addr);
	za->pagetab[p] = (struct zone_page){ .npages = (uint32_t)npages,
	    .kind = (uint8_t)kind, .zone = (uint8_t)zone };
	for (size_t i = 1; i < npages; i++) {
		za->pagetab[p + i] = (struct zone_page){ .npages = (uint32_t)i,
		    .kind = kind == ZPAGE_FREE ? ZPAGE_FREE : ZPAGE_TAIL };
	}
}

/* The first page of the chunk or block holding page p. */
static size_t
zone_first_page(const struct zone_arena *za, size_t p)
{
	return (za->pagetab[p].kind == ZPAGE_TAIL ? p - za->pagetab[p].npages :
	    p);
}

/* ---- garbage collection ---- */

static size_t
chunk_elements(const struct zone *z)
{
	return (z->alloc_size / z->elem_size);
}

/* Are all elements of the chunk starting at page p free? */
static bool
chunk_unused(const struct zone_arena *za, size_t p)
{
	uintptr_t start = classic_page_addr(&za->pages, p);
	size_t first = classic_grain(&za->region, start);
	size_t grains = za->pagetab[p].npages << (za->pages.shift -
	    CLASSIC_GRAIN_SHIFT);
	return (classic_bits_count(za->allocmap, first, first + grains) == 0);
}

/* Drop the elements of chunks marked for collection from z's free list. */
static void
zone_unthread_collected(struct zone_arena *za, struct zone *z)
{
	uintptr_t *link = &z->free_elements;
	while (*link != 0) {
		size_t p = zone_first_page(za,
		    classic_page_index(&za->pages, *link));
		if (za->pagetab[p].collect) {
			*link = *next_of(*link);
			z->nfree--;
		} else {
			link = next_of(*link);
		}
	}
}

static size_t
zone_gc_locked(struct zone_arena *za)
{
	bool marked[ZONE_MAX] = { false };
	size_t p;
	for (p = 0; p < za->pages.npages; p++) {
		struct zone_page *pt = &za->pagetab[p];
		if (pt->kind == ZPAGE_CHUNK && chunk_unused(za, p)) {
			pt->collect = true;
			marked[pt->zone] = true;
		}
	}
	for (unsigned i = 0; i < za->nzones; i++) {
		if (marked[i])
			zone_unthread_collected(za, &za->zones[i]);
	}
	size_t bytes = 0;
	for (p = 0; p < za->pages.npages; p++) {
		struct zone_page *pt = &za->pagetab[p];
		if (pt->kind != ZPAGE_CHUNK || !pt->collect)
			continue;
		struct zone *z = &za->zones[pt->zone];
		uintptr_t addr = classic_page_addr(&za->pages, p);
		z->cur_size -= z->alloc_size;
		z->chunks_collected++;
		bytes += z->alloc_size;
		classic_pages_free(&za->pages, addr, pt->npages);
		zone_mark_pages(za, addr, pt->npages, ZPAGE_FREE, 0);
	}
	za->frees_since_gc = 0;
	za->gc_runs++;
	za->gc_bytes += bytes;
	return (bytes);
}

size_t
zone_gc(struct zone_arena *za)
{
	if (classic_null(za, "zone_gc"))
		return (0);
	kmem_mutex_enter(&za->lock);
	size_t bytes = zone_gc_locked(za);
	kmem_mutex_exit(&za->lock);
	return (bytes);
}

/* npages from the page level, collecting garbage once if that helps. */
static uintptr_t
zone_take_pages(struct zone_arena *za, size_t npages)
{
	uintptr_t addr = classic_pages_alloc(&za->pages, npages);
	if (addr == 0 && za->frees_since_gc > 0) {
		zone_gc_locked(za);
		addr = classic_pages_alloc(&za->pages, npages);
	}
	return (addr);
}

/* ---- zones ---- */

/* Pages per chunk for elements of elem_size bytes: see the theory. */
static size_t
zone_chunk_pages(size_t elem_size, size_t page)
{
	for (size_t n = 1; n <= ZONE_CHUNK_MAX_PAGES; n++) {
		size_t chunk = n * page;
		if (chunk >= elem_size && (chunk % elem_size) * 16 <= chunk)
			return (n);
	}
	return (p2_roundup(elem_size, page) / page);
}

static struct zone *
zinit_locked(struct zone_arena *za, size_t elem_size, size_t max,
    size_t alloc_size, const char *name)
{
	if (za->nzones == ZONE_MAX)
		return (NULL);
	struct zone *z = &za->zones[za->nzones];
	*z = (struct zone){ .za = za, .index = za->nzones,
	    .elem_size = elem_size, .max_size = max, .alloc_size = alloc_size };
	kmem_snprintf(z->name, sizeof (z->name), "%s", name);
	za->nzones++;
	return (z);
}

struct zone *
zinit(struct zone_arena *za, size_t size, size_t max, size_t alloc,
    const char *name)
{
	if (classic_null(za, "zinit"))
		return (NULL);
	size_t page = kmem_pagesize();
	size_t elem_size = p2_roundup(size, CLASSIC_GRAIN);
	const char *why = NULL;
	if (size == 0)
		why = "size is 0";
	else if (name == NULL)
		why = "name is NULL";
	else if (size > za->region.size)
		why = "an element is larger than the arena's region";
	else if (alloc > za->region.size)
		why = "alloc is larger than the arena's region";
	else if (alloc != 0 && p2_roundup(alloc, page) < elem_size)
		why = "alloc is smaller than an element";
	if (why != NULL) {
		kmem_report("zinit(%p, size %zu, max %zu, alloc %zu, \"%s\"): "
		    "%s", (void *)za, size, max, alloc, name != NULL ? name :
		    "(null)", why);
		return (NULL);
	}
	size_t alloc_size = alloc != 0 ? p2_roundup(alloc, page) :
	    zone_chunk_pages(elem_size, page) * page;
	kmem_mutex_enter(&za->lock);
	struct zone *z = zinit_locked(za, elem_size, max, alloc_size, name);
	kmem_mutex_exit(&za->lock);
	return (z);
}

/* A fresh chunk for z; false when z is at its max or no pages are left. */
static bool
zone_grow(struct zone_arena *za, struct zone *z)
{
	if (z->max_size != 0 && z->cur_size + z->alloc_size > z->max_size)
		return (false);
	size_t npages = z->alloc_size >> za->pages.shift;
	uintptr_t addr = zone_take_pages(za, npages);
	if (addr == 0)
		return (false);
	zone_mark_pages(za, addr, npages, ZPAGE_CHUNK, z->index);
	for (size_t i = chunk_elements(z); i-- > 0; ) {
		uintptr_t elem = addr + i * z->elem_size;
		*next_of(elem) = z->free_elements;
		z->free_elements = elem;
		z->nfree++;
	}
	z->cur_size += z->alloc_size;
	z->chunks_taken++;
	return (true);
}

static uintptr_t
zalloc_locked(struct zone_arena *za, struct zone *z)
{
	if (z->free_elements == 0 && !zone_grow(za, z)) {
		z->failures++;
		return (0);
	}
	uintptr_t elem = z->free_elements;
	z->free_elements = *next_of(elem);
	z->nfree--;
	z->count++;
	z->allocs++;
	classic_bit_set(za->allocmap, classic_grain(&za->region, elem));
	return (elem);
}

void *
zalloc(struct zone *z)
{
	if (classic_null(z, "zalloc"))
		return (NULL);
	struct zone_arena *za = z->za;
	kmem_mutex_enter(&za->lock);
	uintptr_t elem = zalloc_locked(za, z);
	kmem_mutex_exit(&za->lock);
	return ((void *)elem);
}

/* Free elem to z under the lock; NULL, or why it cannot be freed. */
static const char *
zfree_locked(struct zone_arena *za, struct zone *z, uintptr_t elem,
    char *why, size_t len)
{
	if (!classic_region_has(&za->region, elem))
		return ("the address is outside the arena's region");
	size_t p = zone_first_page(za, classic_page_index(&za->pages, elem));
	const struct zone_page *pt = &za->pagetab[p];
	if (pt->kind != ZPAGE_CHUNK) {
		return ("the address is not in any zone's chunk: it was never "
		    "allocated from a zone");
	}
	if (pt->zone != z->index) {
		kmem_snprintf(why, len, "the address belongs to zone \"%s\", "
		    "not \"%s\"", za->zones[pt->zone].name, z->name);
		return (why);
	}
	size_t offset = elem - classic_page_addr(&za->pages, p);
	if (offset % z->elem_size != 0 ||
	    offset / z->elem_size >= chunk_elements(z))
		return ("the address is not at the start of an element");
	size_t grain = classic_grain(&za->region, elem);
	if (!classic_bit_test(za->allocmap, grain))
		return ("the element is free: a double free, or it was never "
		    "allocated");
	classic_bit_clear(za->allocmap, grain);
	*next_of(elem) = z->free_elements;
	z->free_elements = elem;
	z->nfree++;
	z->count--;
	z->frees++;
	za->frees_since_gc++;
	return (NULL);
}

void
zfree(struct zone *z, void *elem)
{
	if (classic_null(z, "zfree"))
		return;
	char why[160];
	const char *bad = "the address is NULL";
	if (elem != NULL) {
		kmem_mutex_enter(&z->za->lock);
		bad = zfree_locked(z->za, z, (uintptr_t)elem, why, sizeof (why));
		kmem_mutex_exit(&z->za->lock);
	}
	if (bad != NULL)
		classic_report_free("zfree", z, elem, CLASSIC_NO_SIZE, bad);
}

/* ---- kalloc ---- */

/* The kalloc zone for size (at most a page), made when first needed. */
static struct zone *
kalloc_zone_for(struct zone_arena *za, size_t size)
{
	unsigned c = classic_p2_class(size, CLASSIC_GRAIN_SHIFT);
	if (za->kalloc_zone[c] == NULL) {
		size_t elem_size = (size_t)1 << (CLASSIC_GRAIN_SHIFT + c);
		char name[ZONE_NAMELEN];
		kmem_snprintf(name, sizeof (name), "kalloc.%zu", elem_size);
		za->kalloc_zone[c] = zinit_locked(za, elem_size, 0,
		    zone_chunk_pages(elem_size, classic_page_size(&za->pages)) <<
		    za->pages.shift, name);
	}
	return (za->kalloc_zone[c]);
}

void *
zone_kalloc(struct zone_arena *za, size_t size)
{
	if (classic_null(za, "zone_kalloc") ||
	    classic_size_zero(za, "zone_kalloc", size))
		return (NULL);
	size_t page = kmem_pagesize();
	uintptr_t addr = 0;
	kmem_mutex_enter(&za->lock);
	if (size <= page) {
		struct zone *z = kalloc_zone_for(za, size);
		if (z != NULL)
			addr = zalloc_locked(za, z);
	} else if (size <= za->region.size) {
		size_t npages = p2_roundup(size, page) / page;
		addr = zone_take_pages(za, npages);
		if (addr != 0) {
			zone_mark_pages(za, addr, npages, ZPAGE_LARGE, 0);
			za->large_pages += npages;
		}
	}
	kmem_mutex_exit(&za->lock);
	return ((void *)addr);
}

static const char *
zone_kfree_large(struct zone_arena *za, uintptr_t addr, size_t size)
{
	if (!classic_region_has(&za->region, addr))
		return ("the address is outside the arena's region");
	size_t p = classic_page_index(&za->pages, addr);
	const struct zone_page *pt = &za->pagetab[p];
	if (pt->kind != ZPAGE_LARGE || classic_page_addr(&za->pages, p) != addr)
		return ("the address is not the start of a large kalloc block");
	size_t npages = pt->npages;
	if (p2_roundup(size, classic_page_size(&za->pages)) !=
	    npages << za->pages.shift)
		return ("wrong size: the block at this address has another "
		    "number of pages");
	classic_pages_free(&za->pages, addr, npages);
	zone_mark_pages(za, addr, npages, ZPAGE_FREE, 0);
	za->large_pages -= npages;
	return (NULL);
}

void
zone_kfree(struct zone_arena *za, void *addr, size_t size)
{
	if (classic_null(za, "zone_kfree"))
		return;
	char why[160];
	const char *bad = size == 0 ? "size is 0" : "the address is NULL";
	if (size != 0 && addr != NULL) {
		kmem_mutex_enter(&za->lock);
		if (size > classic_page_size(&za->pages)) {
			bad = zone_kfree_large(za, (uintptr_t)addr, size);
		} else {
			struct zone *z = za->kalloc_zone[classic_p2_class(size,
			    CLASSIC_GRAIN_SHIFT)];
			bad = z == NULL ? "no kalloc zone of this size exists: "
			    "it was never allocated" : zfree_locked(za, z,
			    (uintptr_t)addr, why, sizeof (why));
		}
		kmem_mutex_exit(&za->lock);
	}
	if (bad != NULL)
		classic_report_free("zone_kfree", za, addr, size, bad);
}

struct zone *
zone_kalloc_zone(struct zone_arena *za, size_t size)
{
	if (classic_null(za, "zone_kalloc_zone") ||
	    classic_size_zero(za, "zone_kalloc_zone", size))
		return (NULL);
	if (size > classic_page_size(&za->pages))
		return (NULL);
	kmem_mutex_enter(&za->lock);
	struct zone *z = za->kalloc_zone[classic_p2_class(size,
	    CLASSIC_GRAIN_SHIFT)];
	kmem_mutex_exit(&za->lock);
	return (z);
}

/* ---- statistics ---- */

void
zone_stats(struct zone *z, struct zone_stats *st)
{
	memset(st, 0, sizeof (*st));
	if (classic_null(z, "zone_stats"))
		return;
	kmem_mutex_enter(&z->za->lock);
	memcpy(st->name, z->name, sizeof (st->name));
	st->elem_size = z->elem_size;
	st->alloc_size = z->alloc_size;
	st->max_size = z->max_size;
	st->cur_size = z->cur_size;
	st->count = z->count;
	st->free = z->nfree;
	st->allocs = z->allocs;
	st->frees = z->frees;
	st->failures = z->failures;
	st->chunks_taken = z->chunks_taken;
	st->chunks_collected = z->chunks_collected;
	kmem_mutex_exit(&z->za->lock);
}

void
zone_arena_stats(struct zone_arena *za, struct zone_arena_stats *st)
{
	*st = (struct zone_arena_stats){ 0 };
	if (classic_null(za, "zone_arena_stats"))
		return;
	kmem_mutex_enter(&za->lock);
	st->region_bytes = za->region.size;
	st->free_pages = za->pages.nfree;
	st->largest_free_run = classic_pages_largest_run(&za->pages);
	st->large_pages = za->large_pages;
	st->nzones = za->nzones;
	st->gc_runs = za->gc_runs;
	st->gc_bytes = za->gc_bytes;
	kmem_mutex_exit(&za->lock);
}

/* ---- the laboratory ---- */

/*
 * The lab's instance: an arena with one zone per object type of the
 * workload (as a kernel has one per structure), and kalloc for the rest.
 */
struct zone_lab {
	struct zone_arena *za;
	size_t bytes;
	size_t ntypes;
	struct zone *type_zone[];       /* NULL: the type goes to kalloc */
};

static void *
zone_lab_create(size_t budget, const struct kmem_lab_type *types,
    size_t ntypes)
{
	size_t total = sizeof (struct zone_lab) + ntypes * sizeof (struct zone *);
	size_t bytes;
	struct zone_lab *zl = classic_meta_alloc(total, &bytes);
	if (zl == NULL)
		return (NULL);
	zl->bytes = bytes;
	zl->za = zone_arena_create(NULL, budget);
	if (zl->za == NULL) {
		kmem_pages_free(zl, bytes);
		return (NULL);
	}
	zl->ntypes = ntypes;
	/* Leave room for the kalloc zones. */
	for (size_t t = 0; t < ntypes && t + zl->za->nkalloc < ZONE_MAX; t++)
		zl->type_zone[t] = zinit(zl->za, types[t].size, 0, 0,
		    types[t].name);
	return (zl);
}

static void
zone_lab_destroy(void *inst)
{
	struct zone_lab *zl = inst;
	zone_arena_destroy(zl->za);
	kmem_pages_free(zl, zl->bytes);
}

static struct zone *
zone_lab_zone(const struct zone_lab *zl, int type)
{
	return (type >= 0 && (size_t)type < zl->ntypes ? zl->type_zone[type] :
	    NULL);
}

static void *
zone_lab_alloc(void *inst, size_t size, int type)
{
	struct zone_lab *zl = inst;
	struct zone *z = zone_lab_zone(zl, type);
	return (z != NULL ? zalloc(z) : zone_kalloc(zl->za, size));
}

static void
zone_lab_free(void *inst, void *addr, size_t size, int type)
{
	struct zone_lab *zl = inst;
	struct zone *z = zone_lab_zone(zl, type);
	if (z != NULL)
		zfree(z, addr);
	else
		zone_kfree(zl->za, addr, size);
}

static size_t
zone_lab_held(void *inst)
{
	struct zone_arena *za = ((struct zone_lab *)inst)->za;
	kmem_mutex_enter(&za->lock);
	size_t held = za->region.size - classic_pages_free_bytes(&za->pages);
	kmem_mutex_exit(&za->lock);
	return (held);
}

static void
zone_lab_stats(void *inst, struct kmem_lab_stats *st)
{
	struct zone_arena *za = ((struct zone_lab *)inst)->za;
	*st = (struct kmem_lab_stats){ 0 };
	kmem_mutex_enter(&za->lock);
	classic_lab_pages_stats(st, &za->region, &za->pages);
	st->allocated_bytes = za->large_pages << za->pages.shift;
	for (unsigned i = 0; i < za->nzones; i++) {
		const struct zone *z = &za->zones[i];
		size_t chunks = z->cur_size / z->alloc_size;
		st->allocated_bytes += z->count * z->elem_size;
		st->cached_bytes += z->nfree * z->elem_size;
		st->overhead_bytes += chunks * (z->alloc_size % z->elem_size);
	}
	st->metadata_bytes = za->meta_size + sizeof (struct zone_lab) +
	    ((struct zone_lab *)inst)->ntypes * sizeof (struct zone *);
	kmem_mutex_exit(&za->lock);
}

static void
zone_lab_walk(void *inst, kmem_lab_walk_fn_t *fn, void *arg)
{
	struct zone_arena *za = ((struct zone_lab *)inst)->za;
	kmem_mutex_enter(&za->lock);
	classic_lab_pages_walk(&za->pages, fn, arg, KMEM_LAB_ALLOCATED);
	for (size_t p = 0; p < za->pages.npages; p++) {
		if (za->pagetab[p].kind != ZPAGE_CHUNK)
			continue;
		const struct zone *z = &za->zones[za->pagetab[p].zone];
		uintptr_t start = classic_page_addr(&za->pages, p);
		size_t n = chunk_elements(z);
		classic_lab_walk_blocks(fn, arg, za->allocmap, za->region.base,
		    start, n, z->elem_size);
		if (z->alloc_size % z->elem_size != 0)
			fn(arg, (void *)(start + n * z->elem_size),
			    z->alloc_size % z->elem_size, KMEM_LAB_OVERHEAD);
	}
	kmem_mutex_exit(&za->lock);
}

const struct kmem_lab_ops kmem_lab_zone_ops = {
	.name = "zone",
	.design = "a zone per object type, kalloc zones, page GC (Mach)",
	.create = zone_lab_create,
	.destroy = zone_lab_destroy,
	.alloc = zone_lab_alloc,
	.free = zone_lab_free,
	.held = zone_lab_held,
	.stats = zone_lab_stats,
	.walk = zone_lab_walk,
};
