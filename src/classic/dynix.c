/*
 * The Dynix/ptx hierarchical allocator (McKenney & Slingwine, USENIX 1993):
 * a power-of-two allocator built for shared-memory multiprocessors, where
 * a global lock on every allocation costs more than the allocation.
 *
 * Blocks come in power-of-two classes from 16 bytes to half a page and
 * move through three layers:
 *
 * The per-CPU layer.  Each CPU has, for each class, a main list and an
 * auxiliary list of free blocks, each of at most `target` blocks.  An
 * allocation pops main; if main is empty and aux is not, they swap.  A free
 * pushes on main; if main already has target blocks, main becomes aux and
 * the block starts a new main, and an aux that was already full goes to
 * the global layer whole.  So a CPU that allocates and frees at the same
 * rate never leaves its own layer, and one that only frees hands blocks on
 * in lists of target, one lock acquisition per list.  (The magazines of
 * the kmem allocator, Bonwick & Adams 2001, are this idea made general.)
 *
 * The global layer keeps, per class, a stack of such lists; a CPU whose
 * lists are both empty takes one whole.  Above global_max lists it passes
 * blocks down instead of keeping them.
 *
 * The coalesce-to-page layer gives each block back to its page: a page
 * cut for a class keeps its free blocks on a list of its own with a count;
 * pages with free blocks are on their class's list of partly free pages,
 * which refills a CPU when the global layer has no list; and a page whose
 * blocks are all free goes back to the page level (pagelevel.c, the vmblk
 * layer of the paper), where any class, or a large request, can use it.
 * Requests above half a page take whole pages from the page level.
 *
 * Blocks held in the per-CPU and global layers are free but not
 * coalescible; dynix_reclaim() sends every one of them down to the pages,
 * and an allocation that finds no memory does that once before failing.
 *
 * The CPU.  User space has no honest CPU number to lock by (a thread can
 * move between reading it and using it), so each thread gets an index on
 * its first allocation, round robin, and uses CPU layer index % ncpus, with
 * ncpus = kmem_cpu_count() at creation.  Threads beyond that share a layer,
 * which is why each layer keeps a lock: uncontended, it is the cost a
 * kernel's interrupt masking stands for.
 *
 * Locks: one per CPU layer and one (dx->lock) for the global layer, the
 * coalesce-to-page layer and the page level, all of rank KMEM_RANK_CLASSIC
 * and never nested: a thread drops its CPU layer's lock before taking the
 * global one and takes it again afterwards.
 *
 * Double frees.  One bit per 16-byte grain marks allocated blocks; it is
 * set and cleared with atomic operations because frees on different CPUs
 * touch the same words.  The page table's kind and class are read without
 * the global lock (atomically) to check a free; they change only under it,
 * and never for a page holding an allocated block.
 *
 * Invariants:
 * - (global lock) A page is in use at the page level exactly when its
 *   entry is not DX_PAGE_FREE; a class page's nfree counts the blocks on its
 *   own list, and it is on its class's partial list exactly when 0 <
 *   nfree < blocks_per_page.
 * - (per-CPU lock) main and aux hold at most target blocks each, except
 *   that main may hold target + a list when threads sharing a layer both
 *   refilled it.
 * - Every block of a class page is in exactly one place: allocated (its
 *   allocmap bit set), on a CPU's main or aux, in a global list, or on its
 *   page's list.
 *
 * Bad input (reported, the call does nothing): a NULL allocator, size 0,
 * freeing NULL, an address outside the region or not at a block's start, a
 * size whose class is not the page's, a block that is not allocated.
 */
#include <kmem/classic.h>

#include "classic/classic_impl.h"
#include "base/format.h"
#include "base/lock_order.h"
#include "platform/platform.h"
#include "base/report.h"

#define DX_TARGET_MAX   16
#define DX_TARGET_MIN   2

enum dx_page_kind {
	DX_PAGE_FREE,
	DX_PAGE_CLASS,                  /* cut into blocks of one class */
	DX_PAGE_LARGE,                  /* the first page of a large block */
	DX_PAGE_TAIL                    /* a later page of one */
};

/* The coalesce-to-page layer's view of a page. */
struct dx_page {
	uintptr_t free;                 /* this page's free blocks */
	struct dx_page *next;           /* the class's partly free pages */
	struct dx_page *prev;
	uint32_t npages;                /* DX_PAGE_LARGE: the block's pages */
	uint16_t nfree;
	uint8_t kind;                   /* written atomically, under dx->lock */
	uint8_t cls;                    /* likewise */
};

/* A list of free blocks, linked through their first word. */
struct dx_list {
	uintptr_t head;                 /* 0: empty */
	unsigned count;
};

struct dx_cpu_class {
	struct dx_list main;
	struct dx_list aux;
	uint64_t cpu_allocs;
};

struct dx_cpu {
	_Alignas(CLASSIC_LAYOUT_ALIGN) kmem_mutex_t lock;
	uint64_t allocs;
	uint64_t frees;
	struct dx_cpu_class cls[KMEM_CLASSIC_CLASSES];
};

/* The global and coalesce-to-page layers of one class. */
struct dx_class {
	size_t block_size;
	unsigned target;
	unsigned blocks_per_page;
	uintptr_t lists;                /* global lists, linked via word 1 */
	unsigned nlists;
	struct dx_page partial;         /* sentinel: partly free pages */
	size_t pages;
	size_t page_free;
	uint64_t global_refills;
	uint64_t page_refills;
	uint64_t global_spills;
};

struct dynix {
	kmem_mutex_t lock;              /* the layers below the CPUs */
	classic_region_t region;
	classic_pages_t pages;
	size_t meta_size;
	size_t meta_bytes;
	unsigned ncpus;
	unsigned nclasses;
	unsigned global_max;            /* lists kept per class */
	struct dx_class cls[KMEM_CLASSIC_CLASSES];
	size_t large_pages;
	uint64_t large_allocs;
	uint64_t large_frees;
	uint64_t failures;
	uint64_t reclaims;
	struct dx_page *pagetab;        /* one per page */
	uint64_t *allocmap;             /* one bit per grain, atomic */
	struct dx_cpu *cpu;             /* ncpus of them */
};

static uintptr_t *
next_of(uintptr_t block)
{
	return ((uintptr_t *)block);
}

/* The second word of a list's first block links the global layer's lists. */
static uintptr_t *
next_list_of(uintptr_t block)
{
	return ((uintptr_t *)block + 1);
}

static void
list_push(struct dx_list *l, uintptr_t block)
{
	*next_of(block) = l->head;
	l->head = block;
	l->count++;
}

static uintptr_t
list_pop(struct dx_list *l)
{
	uintptr_t block = l->head;
	l->head = *next_of(block);
	l->count--;
	return (block);
}

/* ---- the CPU ---- */

static unsigned thread_next_index;
static _Thread_local unsigned thread_index_plus1;

static struct dx_cpu *
dynix_cpu(struct dynix *dx)
{
	if (thread_index_plus1 == 0)
		thread_index_plus1 = 1 + __atomic_fetch_add(&thread_next_index,
		    1, __ATOMIC_RELAXED);
	return (&dx->cpu[(thread_index_plus1 - 1) % dx->ncpus]);
}

/* ---- creation ---- */

struct dynix *
dynix_create(void *base, size_t size)
{
	classic_region_t region;
	if (!classic_region_init(&region, "dynix_create", base, size))
		return (NULL);
	size_t npages = size / kmem_pagesize();
	unsigned ncpus = kmem_cpu_count();
	size_t total = 0;
	(void) classic_layout(&total, sizeof (struct dynix));
	size_t map_offset = classic_layout(&total,
	    classic_pages_map_bytes(npages));
	size_t table_offset = classic_layout(&total,
	    npages * sizeof (struct dx_page));
	size_t alloc_offset = classic_layout(&total,
	    classic_bitmap_bytes(size >> CLASSIC_GRAIN_SHIFT));
	size_t cpu_offset = classic_layout(&total,
	    ncpus * sizeof (struct dx_cpu));
	size_t meta_bytes;
	struct dynix *dx = classic_meta_alloc(total, &meta_bytes);
	if (dx == NULL) {
		classic_region_fini(&region);
		return (NULL);
	}
	kmem_mutex_init(&dx->lock, KMEM_RANK_CLASSIC);
	dx->region = region;
	classic_pages_init(&dx->pages, &region,
	    (uint64_t *)((char *)dx + map_offset));
	dx->pagetab = (struct dx_page *)((char *)dx + table_offset);
	dx->allocmap = (uint64_t *)((char *)dx + alloc_offset);
	dx->cpu = (struct dx_cpu *)((char *)dx + cpu_offset);
	dx->meta_size = total;
	dx->meta_bytes = meta_bytes;
	dx->ncpus = ncpus;
	dx->global_max = 2 * ncpus;
	size_t page = kmem_pagesize();
	/* Classes of 16 bytes to half a page: at least two blocks a page. */
	dx->nclasses = highbit(page) - 1 - CLASSIC_GRAIN_SHIFT;
	for (unsigned c = 0; c < dx->nclasses; c++) {
		struct dx_class *dc = &dx->cls[c];
		dc->block_size = (size_t)1 << (CLASSIC_GRAIN_SHIFT + c);
		dc->blocks_per_page = (unsigned)(page / dc->block_size);
		unsigned target = dc->blocks_per_page / 4;
		dc->target = target > DX_TARGET_MAX ? DX_TARGET_MAX :
		    target < DX_TARGET_MIN ? DX_TARGET_MIN : target;
		dc->partial.next = dc->partial.prev = &dc->partial;
	}
	for (unsigned i = 0; i < ncpus; i++)
		kmem_mutex_init(&dx->cpu[i].lock, KMEM_RANK_CLASSIC);
	return (dx);
}

void
dynix_destroy(struct dynix *dx)
{
	if (classic_null(dx, "dynix_destroy"))
		return;
	classic_region_t region = dx->region;
	for (unsigned i = 0; i < dx->ncpus; i++)
		kmem_mutex_destroy(&dx->cpu[i].lock);
	kmem_mutex_destroy(&dx->lock);
	kmem_pages_free(dx, dx->meta_bytes);
	classic_region_fini(&region);
}

/* ---- the coalesce-to-page layer (dx->lock held) ---- */

static void
page_set_kind(struct dx_page *pg, enum dx_page_kind kind, unsigned cls)
{
	__atomic_store_n(&pg->cls, (uint8_t)cls, __ATOMIC_RELAXED);
	__atomic_store_n(&pg->kind, (uint8_t)kind, __ATOMIC_RELAXED);
}

static void
partial_insert(struct dx_class *dc, struct dx_page *pg)
{
	pg->prev = dc->partial.prev;
	pg->next = &dc->partial;
	dc->partial.prev->next = pg;
	dc->partial.prev = pg;
}

static void
partial_remove(struct dx_page *pg)
{
	pg->prev->next = pg->next;
	pg->next->prev = pg->prev;
}

/* A fresh page cut for class c, on the partial list; false if none. */
static bool
page_layer_grow(struct dynix *dx, unsigned c)
{
	struct dx_class *dc = &dx->cls[c];
	uintptr_t addr = classic_pages_alloc(&dx->pages, 1);
	if (addr == 0)
		return (false);
	struct dx_page *pg = &dx->pagetab[classic_page_index(&dx->pages, addr)];
	pg->free = 0;
	for (unsigned i = dc->blocks_per_page; i-- > 0; ) {
		uintptr_t block = addr + i * dc->block_size;
		*next_of(block) = pg->free;
		pg->free = block;
	}
	pg->nfree = (uint16_t)dc->blocks_per_page;
	page_set_kind(pg, DX_PAGE_CLASS, c);
	partial_insert(dc, pg);
	dc->pages++;
	dc->page_free += dc->blocks_per_page;
	return (true);
}

static uintptr_t
page_layer_alloc(struct dynix *dx, unsigned c)
{
	struct dx_class *dc = &dx->cls[c];
	if (dc->partial.next == &dc->partial && !page_layer_grow(dx, c))
		return (0);
	struct dx_page *pg = dc->partial.next;
	uintptr_t block = pg->free;
	pg->free = *next_of(block);
	if (--pg->nfree == 0)
		partial_remove(pg);
	dc->page_free--;
	return (block);
}

static void
page_layer_free(struct dynix *dx, uintptr_t block)
{
	size_t p = classic_page_index(&dx->pages, block);
	struct dx_page *pg = &dx->pagetab[p];
	struct dx_class *dc = &dx->cls[pg->cls];
	*next_of(block) = pg->free;
	pg->free = block;
	dc->page_free++;
	if (++pg->nfree == 1)
		partial_insert(dc, pg);
	if (pg->nfree < dc->blocks_per_page)
		return;
	/* Every block is home: the page goes back to the page level. */
	partial_remove(pg);
	dc->pages--;
	dc->page_free -= pg->nfree;
	pg->nfree = 0;
	page_set_kind(pg, DX_PAGE_FREE, 0);
	classic_pages_free(&dx->pages, classic_page_addr(&dx->pages, p), 1);
}

static void
page_layer_free_list(struct dynix *dx, uintptr_t head)
{
	while (head != 0) {
		uintptr_t next = *next_of(head);
		page_layer_free(dx, head);
		head = next;
	}
}

/* ---- the global layer (dx->lock held) ---- */

/* A list for class c from the global layer or, failing that, the pages. */
static struct dx_list
global_take(struct dynix *dx, unsigned c)
{
	struct dx_class *dc = &dx->cls[c];
	struct dx_list l = { 0, 0 };
	if (dc->nlists > 0) {
		l.head = dc->lists;
		dc->lists = *next_list_of(l.head);
		dc->nlists--;
		for (uintptr_t b = l.head; b != 0; b = *next_of(b))
			l.count++;
		dc->global_refills++;
		return (l);
	}
	uintptr_t block;
	while (l.count < dc->target && (block = page_layer_alloc(dx, c)) != 0)
		list_push(&l, block);
	if (l.count > 0)
		dc->page_refills++;
	return (l);
}

static void
global_put(struct dynix *dx, unsigned c, struct dx_list l)
{
	struct dx_class *dc = &dx->cls[c];
	dc->global_spills++;
	if (dc->nlists < dx->global_max) {
		*next_list_of(l.head) = dc->lists;
		dc->lists = l.head;
		dc->nlists++;
	} else {
		page_layer_free_list(dx, l.head);
	}
}

/* ---- reclaiming ---- */

void
dynix_reclaim(struct dynix *dx)
{
	if (classic_null(dx, "dynix_reclaim"))
		return;
	for (unsigned i = 0; i < dx->ncpus; i++) {
		struct dx_cpu *cpu = &dx->cpu[i];
		struct dx_list taken[2][KMEM_CLASSIC_CLASSES];
		kmem_mutex_enter(&cpu->lock);
		for (unsigned c = 0; c < dx->nclasses; c++) {
			taken[0][c] = cpu->cls[c].main;
			taken[1][c] = cpu->cls[c].aux;
			cpu->cls[c].main = cpu->cls[c].aux =
			    (struct dx_list){ 0, 0 };
		}
		kmem_mutex_exit(&cpu->lock);
		kmem_mutex_enter(&dx->lock);
		for (unsigned c = 0; c < dx->nclasses; c++) {
			page_layer_free_list(dx, taken[0][c].head);
			page_layer_free_list(dx, taken[1][c].head);
		}
		kmem_mutex_exit(&dx->lock);
	}
	kmem_mutex_enter(&dx->lock);
	for (unsigned c = 0; c < dx->nclasses; c++) {
		struct dx_class *dc = &dx->cls[c];
		while (dc->nlists > 0) {
			uintptr_t head = dc->lists;
			dc->lists = *next_list_of(head);
			dc->nlists--;
			page_layer_free_list(dx, head);
		}
	}
	dx->reclaims++;
	kmem_mutex_exit(&dx->lock);
}

/* ---- allocation ---- */

static void
allocmap_set(struct dynix *dx, uintptr_t block)
{
	size_t g = classic_grain(&dx->region, block);
	uint64_t bit = (uint64_t)1 << (g % 64);
	uint64_t old = __atomic_fetch_or(&dx->allocmap[g / 64], bit,
	    __ATOMIC_RELAXED);
	KMEM_ASSERT((old & bit) == 0);
	(void) old;
}

/* Clear block's bit; false if it was clear already. */
static bool
allocmap_clear(struct dynix *dx, uintptr_t block)
{
	size_t g = classic_grain(&dx->region, block);
	uint64_t bit = (uint64_t)1 << (g % 64);
	return ((__atomic_fetch_and(&dx->allocmap[g / 64], ~bit,
	    __ATOMIC_RELAXED) & bit) != 0);
}

/* A block from the CPU layer, or 0 when its lists are empty. */
static uintptr_t
cpu_alloc(struct dx_cpu *cpu, unsigned c)
{
	struct dx_cpu_class *cc = &cpu->cls[c];
	if (cc->main.count == 0 && cc->aux.count > 0) {
		cc->main = cc->aux;
		cc->aux = (struct dx_list){ 0, 0 };
	}
	if (cc->main.count == 0)
		return (0);
	cc->cpu_allocs++;
	cpu->allocs++;
	return (list_pop(&cc->main));
}

/* The slow path: a list from the layers below, one block for the caller. */
static uintptr_t
dynix_refill(struct dynix *dx, struct dx_cpu *cpu, unsigned c)
{
	kmem_mutex_enter(&dx->lock);
	struct dx_list l = global_take(dx, c);
	kmem_mutex_exit(&dx->lock);
	if (l.count == 0) {
		dynix_reclaim(dx);
		kmem_mutex_enter(&dx->lock);
		l = global_take(dx, c);
		kmem_mutex_exit(&dx->lock);
		if (l.count == 0)
			return (0);
	}
	uintptr_t block = list_pop(&l);
	kmem_mutex_enter(&cpu->lock);
	struct dx_cpu_class *cc = &cpu->cls[c];
	while (l.count > 0)
		list_push(&cc->main, list_pop(&l));
	cpu->allocs++;
	kmem_mutex_exit(&cpu->lock);
	return (block);
}

static uintptr_t
dynix_alloc_large(struct dynix *dx, size_t size)
{
	if (size > dx->region.size)
		return (0);
	size_t page = classic_page_size(&dx->pages);
	size_t npages = p2_roundup(size, page) / page;
	for (int attempt = 0; attempt < 2; attempt++) {
		kmem_mutex_enter(&dx->lock);
		uintptr_t addr = classic_pages_alloc(&dx->pages, npages);
		if (addr != 0) {
			size_t p = classic_page_index(&dx->pages, addr);
			dx->pagetab[p].npages = (uint32_t)npages;
			page_set_kind(&dx->pagetab[p], DX_PAGE_LARGE, 0);
			for (size_t i = 1; i < npages; i++)
				page_set_kind(&dx->pagetab[p + i], DX_PAGE_TAIL,
				    0);
			dx->large_pages += npages;
			dx->large_allocs++;
		}
		kmem_mutex_exit(&dx->lock);
		if (addr != 0)
			return (addr);
		if (attempt == 0)
			dynix_reclaim(dx);
	}
	return (0);
}

void *
dynix_alloc(struct dynix *dx, size_t size)
{
	if (classic_null(dx, "dynix_alloc") ||
	    classic_size_zero(dx, "dynix_alloc", size))
		return (NULL);
	uintptr_t block;
	if (size > dx->cls[dx->nclasses - 1].block_size) {
		block = dynix_alloc_large(dx, size);
	} else {
		unsigned c = classic_p2_class(size, CLASSIC_GRAIN_SHIFT);
		struct dx_cpu *cpu = dynix_cpu(dx);
		kmem_mutex_enter(&cpu->lock);
		block = cpu_alloc(cpu, c);
		kmem_mutex_exit(&cpu->lock);
		if (block == 0)
			block = dynix_refill(dx, cpu, c);
		if (block != 0)
			allocmap_set(dx, block);
	}
	if (block == 0) {
		kmem_mutex_enter(&dx->lock);
		dx->failures++;
		kmem_mutex_exit(&dx->lock);
	}
	return ((void *)block);
}

/* ---- freeing ---- */

static const char *
dynix_free_large(struct dynix *dx, uintptr_t addr, size_t size)
{
	size_t p = classic_page_index(&dx->pages, addr);
	struct dx_page *pg = &dx->pagetab[p];
	if (pg->kind != DX_PAGE_LARGE || classic_page_addr(&dx->pages, p) != addr)
		return ("the address is not the start of a large block: a "
		    "double free, a wrong size, or never allocated");
	size_t npages = pg->npages;
	if (p2_roundup(size, classic_page_size(&dx->pages)) !=
	    npages << dx->pages.shift)
		return ("wrong size: the block at this address has another "
		    "number of pages");
	for (size_t i = 0; i < npages; i++)
		page_set_kind(&dx->pagetab[p + i], DX_PAGE_FREE, 0);
	classic_pages_free(&dx->pages, addr, npages);
	dx->large_pages -= npages;
	dx->large_frees++;
	return (NULL);
}

/* Check a small block's free and clear its bit; NULL, or why not. */
static const char *
dynix_free_check(struct dynix *dx, uintptr_t addr, unsigned c, char *why,
    size_t len)
{
	size_t p = classic_page_index(&dx->pages, addr);
	struct dx_page *pg = &dx->pagetab[p];
	if (__atomic_load_n(&pg->kind, __ATOMIC_RELAXED) != DX_PAGE_CLASS)
		return ("the address is not in a page of small blocks: it was "
		    "never allocated with this size");
	unsigned page_cls = __atomic_load_n(&pg->cls, __ATOMIC_RELAXED);
	if (page_cls != c) {
		kmem_snprintf(why, len, "wrong size: the page holds %zu-byte "
		    "blocks, and this size takes %zu-byte ones",
		    dx->cls[page_cls].block_size, dx->cls[c].block_size);
		return (why);
	}
	if (p2_phase(addr, dx->cls[c].block_size) != 0)
		return ("the address is not at the start of a block");
	if (!allocmap_clear(dx, addr))
		return ("the block is free: a double free, or it was never "
		    "allocated");
	return (NULL);
}

static void
dynix_free_small(struct dynix *dx, uintptr_t block, unsigned c)
{
	struct dx_cpu *cpu = dynix_cpu(dx);
	kmem_mutex_enter(&cpu->lock);
	struct dx_cpu_class *cc = &cpu->cls[c];
	struct dx_list spill = { 0, 0 };
	cpu->frees++;
	if (cc->main.count >= dx->cls[c].target) {
		spill = cc->aux;
		cc->aux = cc->main;
		cc->main = (struct dx_list){ 0, 0 };
	}
	list_push(&cc->main, block);
	kmem_mutex_exit(&cpu->lock);
	if (spill.count > 0) {
		kmem_mutex_enter(&dx->lock);
		global_put(dx, c, spill);
		kmem_mutex_exit(&dx->lock);
	}
}

void
dynix_free(struct dynix *dx, void *addr, size_t size)
{
	if (classic_null(dx, "dynix_free"))
		return;
	uintptr_t a = (uintptr_t)addr;
	char why[160];
	const char *bad = size == 0 ? "size is 0" : "the address is NULL";
	if (size != 0 && addr != NULL && !classic_region_has(&dx->region, a)) {
		bad = "the address is outside the allocator's region";
	} else if (size != 0 && addr != NULL &&
	    size > dx->cls[dx->nclasses - 1].block_size) {
		kmem_mutex_enter(&dx->lock);
		bad = dynix_free_large(dx, a, size);
		kmem_mutex_exit(&dx->lock);
	} else if (size != 0 && addr != NULL) {
		unsigned c = classic_p2_class(size, CLASSIC_GRAIN_SHIFT);
		bad = dynix_free_check(dx, a, c, why, sizeof (why));
		if (bad == NULL)
			dynix_free_small(dx, a, c);
	}
	if (bad != NULL)
		classic_report_free("dynix_free", dx, addr, size, bad);
}

/* ---- statistics ---- */

void
dynix_stats(struct dynix *dx, struct dynix_stats *st)
{
	*st = (struct dynix_stats){ 0 };
	if (classic_null(dx, "dynix_stats"))
		return;
	for (unsigned i = 0; i < dx->ncpus; i++) {
		struct dx_cpu *cpu = &dx->cpu[i];
		kmem_mutex_enter(&cpu->lock);
		st->allocs += cpu->allocs;
		st->frees += cpu->frees;
		for (unsigned c = 0; c < dx->nclasses; c++) {
			const struct dx_cpu_class *cc = &cpu->cls[c];
			st->cls[c].cpu_free += cc->main.count + cc->aux.count;
			st->cls[c].cpu_allocs += cc->cpu_allocs;
		}
		kmem_mutex_exit(&cpu->lock);
	}
	kmem_mutex_enter(&dx->lock);
	st->region_bytes = dx->region.size;
	st->ncpus = dx->ncpus;
	st->free_pages = dx->pages.nfree;
	st->largest_free_run = classic_pages_largest_run(&dx->pages);
	st->large_pages = dx->large_pages;
	st->nclasses = dx->nclasses;
	for (unsigned c = 0; c < dx->nclasses; c++) {
		const struct dx_class *dc = &dx->cls[c];
		struct dynix_class_stats *cs = &st->cls[c];
		cs->block_size = dc->block_size;
		cs->target = dc->target;
		for (uintptr_t l = dc->lists; l != 0; l = *next_list_of(l)) {
			for (uintptr_t b = l; b != 0; b = *next_of(b))
				cs->global_free++;
		}
		cs->page_free = dc->page_free;
		cs->pages = dc->pages;
		cs->allocated = dc->pages * dc->blocks_per_page -
		    cs->page_free - cs->global_free - cs->cpu_free;
		cs->global_refills = dc->global_refills;
		cs->page_refills = dc->page_refills;
		cs->global_spills = dc->global_spills;
	}
	st->allocs += dx->large_allocs;
	st->frees += dx->large_frees;
	st->failures = dx->failures;
	st->reclaims = dx->reclaims;
	kmem_mutex_exit(&dx->lock);
}

/* ---- the laboratory ---- */

static void *
dynix_lab_create(size_t budget, const struct kmem_lab_type *types,
    size_t ntypes)
{
	(void) types, (void) ntypes;
	return (dynix_create(NULL, budget));
}

static void
dynix_lab_destroy(void *inst)
{
	dynix_destroy(inst);
}

static void *
dynix_lab_alloc(void *inst, size_t size, int type)
{
	(void) type;
	return (dynix_alloc(inst, size));
}

static void
dynix_lab_free(void *inst, void *addr, size_t size, int type)
{
	(void) type;
	dynix_free(inst, addr, size);
}

static size_t
dynix_lab_held(void *inst)
{
	struct dynix *dx = inst;
	kmem_mutex_enter(&dx->lock);
	size_t held = dx->region.size - classic_pages_free_bytes(&dx->pages);
	kmem_mutex_exit(&dx->lock);
	return (held);
}

static void
dynix_lab_stats(void *inst, struct kmem_lab_stats *st)
{
	struct dynix *dx = inst;
	struct dynix_stats ds;
	dynix_stats(dx, &ds);
	*st = (struct kmem_lab_stats){ 0 };
	kmem_mutex_enter(&dx->lock);
	classic_lab_pages_stats(st, &dx->region, &dx->pages);
	kmem_mutex_exit(&dx->lock);
	st->allocated_bytes = ds.large_pages * kmem_pagesize();
	for (unsigned c = 0; c < ds.nclasses; c++) {
		const struct dynix_class_stats *cs = &ds.cls[c];
		st->allocated_bytes += cs->allocated * cs->block_size;
		st->cached_bytes += (cs->cpu_free + cs->global_free +
		    cs->page_free) * cs->block_size;
	}
	st->metadata_bytes = dx->meta_size;
}

static void
dynix_lab_walk(void *inst, kmem_lab_walk_fn_t *fn, void *arg)
{
	struct dynix *dx = inst;
	kmem_mutex_enter(&dx->lock);
	classic_lab_pages_walk(&dx->pages, fn, arg, KMEM_LAB_ALLOCATED);
	for (size_t p = 0; p < dx->pages.npages; p++) {
		const struct dx_page *pg = &dx->pagetab[p];
		if (pg->kind != DX_PAGE_CLASS)
			continue;
		const struct dx_class *dc = &dx->cls[pg->cls];
		classic_lab_walk_blocks(fn, arg, dx->allocmap, dx->region.base,
		    classic_page_addr(&dx->pages, p), dc->blocks_per_page,
		    dc->block_size);
	}
	kmem_mutex_exit(&dx->lock);
}

const struct kmem_lab_ops kmem_lab_dynix_ops = {
	.name = "dynix",
	.design = "per-CPU lists, global lists, coalesce-to-page (Dynix/ptx)",
	.create = dynix_lab_create,
	.destroy = dynix_lab_destroy,
	.alloc = dynix_lab_alloc,
	.free = dynix_lab_free,
	.held = dynix_lab_held,
	.stats = dynix_lab_stats,
	.walk = dynix_lab_walk,
};
