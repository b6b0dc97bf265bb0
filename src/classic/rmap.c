/*
 * The resource map: the allocator of UNIX's core and swap maps (V6 through
 * 4.3BSD's malloc(mp, size)) with the SVR4 DDI interface, rmalloc(9F).  It
 * is kept as it was so that bench/ can set it beside vmem: the first-fit
 * scan that vmem's free lists were invented to avoid is the point.
 *
 * A map is one block from the page source: a header and an array of free
 * ranges <base, size>, sorted by base.  rmalloc() scans the array from the
 * lowest address and carves the request from the front of the first range
 * big enough (first fit); a range used up is removed by shifting the rest
 * of the array down.  rmfree() finds its place by binary search and merges
 * the freed range with the ranges just below and just above it; when it
 * touches neither, a new range is inserted by shifting the rest of the
 * array up.  rmget() takes an exact range out of the free range holding it.
 * So rmalloc() costs O(ranges) comparisons, and every insertion or removal
 * costs O(ranges) in memmove: the costs bench/vmem_frag.c measures.
 *
 * Invariants (KMEM_ASSERTS checks them around every change):
 * - entry[0 .. used) are non-empty and sorted, and no two touch or overlap:
 *   entry[i].base + entry[i].size < entry[i + 1].base (touching ranges are
 *   always merged), so the free set has exactly one representation.
 * - No range contains unit 0 or wraps past the top of unsigned long: 0 is
 *   how rmalloc() fails, and every range's end is representable.
 * - free_units is the sum of the sizes; used <= capacity.
 *
 * Overflow.  A free that merges with nothing needs a new entry.  When all
 * are in use, the classic map dropped the range (4.3BSD printed "rmap
 * overflow").  We do the same, but warn through kmem_warn() and count the
 * loss in lost_ranges and lost_units.  rmget() from the middle of a range
 * needs one more entry too; with the map full it fails instead.
 *
 * Bad input (kmem_report(); the call then changes nothing): a NULL map,
 * size 0, a range that contains unit 0 or wraps, a free that overlaps free
 * space (a double free), and freeing a map with threads asleep in it.
 *
 * Locking.  One mutex per map, of rank KMEM_RANK_CLASSIC; nothing else is
 * taken under it.  rmalloc_wait() sleeps on the map's condition variable,
 * which rmfree() broadcasts when it returns units while someone waits.
 * Reports and warnings are delivered after the lock is dropped.
 *
 * The laboratory (tools/kmlab) runs a map over a region of memory, one unit
 * per 16 bytes; see the end of this file.
 */
#include <kmem/classic.h>

#include <stdbool.h>
#include <string.h>

#include "base/bits.h"
#include "classic/classic_impl.h"
#include "base/lock_order.h"
#include "platform/platform.h"
#include "base/report.h"

_Static_assert(sizeof (size_t) <= sizeof (unsigned long),
    "sizes must fit in the unsigned long units of a map");

struct rmap_entry {
	unsigned long base;
	unsigned long size;
};

struct map {
	kmem_mutex_t lock;              /* protects everything below */
	kmem_cv_t cv;                   /* broadcast when units come back */
	unsigned waiters;               /* threads asleep on cv */
	size_t bytes;                   /* this block, from the page source */
	size_t capacity;
	size_t used;
	unsigned long free_units;
	struct rmap_stats st;           /* only the counters are kept here */
	struct rmap_entry entry[];
};

/* ---- the sorted array ---- */

static unsigned long
entry_end(const struct rmap_entry *ep)
{
	return (ep->base + ep->size);
}

/*
 * The invariants for the entries that a change at index i can touch.  Only
 * assertions call it, and they are compiled out unless KMEM_ASSERTS is set.
 */
static __attribute__((unused)) bool
rmap_sorted_near(const struct map *mp, size_t i)
{
	size_t lo = i >= 2 ? i - 2 : 0;
	size_t hi = i + 2 < mp->used ? i + 2 : mp->used;
	for (size_t j = lo; j < hi; j++) {
		const struct rmap_entry *ep = &mp->entry[j];
		if (ep->size == 0 || ep->base == 0 || entry_end(ep) < ep->base)
			return (false);
		if (j + 1 < mp->used && entry_end(ep) >= mp->entry[j + 1].base)
			return (false);
	}
	return (mp->used <= mp->capacity);
}

/* Index of the first entry whose base is above addr (binary search). */
static size_t
rmap_position(struct map *mp, unsigned long addr)
{
	size_t lo = 0;
	size_t hi = mp->used;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		mp->st.search_steps++;
		if (mp->entry[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

static void
rmap_remove(struct map *mp, size_t i)
{
	size_t after = mp->used - i - 1;
	memmove(&mp->entry[i], &mp->entry[i + 1], after * sizeof (mp->entry[0]));
	mp->used--;
	mp->st.entries_moved += after;
	KMEM_ASSERT(rmap_sorted_near(mp, i));
}

static void
rmap_insert(struct map *mp, size_t i, unsigned long base, unsigned long size)
{
	size_t after = mp->used - i;
	KMEM_ASSERT(mp->used < mp->capacity);
	memmove(&mp->entry[i + 1], &mp->entry[i], after * sizeof (mp->entry[0]));
	mp->entry[i] = (struct rmap_entry){ .base = base, .size = size };
	mp->used++;
	mp->st.entries_moved += after;
	KMEM_ASSERT(rmap_sorted_near(mp, i));
}

/* ---- checking the caller's input ---- */

static bool
rmap_null(struct map *mp, const char *caller)
{
	if (mp != NULL)
		return (false);
	kmem_report("%s: the map is NULL", caller);
	return (true);
}

/* Is [addr, addr + size) a range a map can hold?  Reports when not. */
static bool
rmap_range_ok(struct map *mp, const char *caller, size_t size,
    unsigned long addr)
{
	const char *why = NULL;
	if (size == 0)
		why = "size is 0";
	else if (addr == 0)
		why = "the range contains unit 0, which a map cannot manage "
		    "(0 means failure)";
	else if (addr + size < addr)
		why = "the range wraps past the end of the address space";
	if (why == NULL)
		return (true);
	kmem_report("%s(map %p, size %zu, addr 0x%lx): %s", caller, (void *)mp,
	    size, addr, why);
	return (false);
}

/* ---- the map ---- */

struct map *
rmallocmap(size_t mapsize)
{
	size_t header = offsetof(struct map, entry);
	if (mapsize == 0) {
		kmem_report("rmallocmap(0): a map needs room for at least one "
		    "free range");
		return (NULL);
	}
	if (mapsize > (SIZE_MAX - header - kmem_pagesize()) /
	    sizeof (struct rmap_entry))
		return (NULL);

	size_t bytes = p2_roundup(header + mapsize * sizeof (struct rmap_entry),
	    kmem_pagesize());
	struct map *mp = kmem_pages_alloc(bytes);
	if (mp == NULL)
		return (NULL);
	kmem_mutex_init(&mp->lock, KMEM_RANK_CLASSIC);
	kmem_cv_init(&mp->cv);
	mp->bytes = bytes;
	mp->capacity = mapsize;
	return (mp);
}

void
rmfreemap(struct map *mp)
{
	if (rmap_null(mp, "rmfreemap"))
		return;
	kmem_mutex_enter(&mp->lock);
	unsigned waiters = mp->waiters;
	kmem_mutex_exit(&mp->lock);
	if (waiters != 0) {
		kmem_report("rmfreemap(map %p): %u thread(s) still asleep in "
		    "rmalloc_wait() on it", (void *)mp, waiters);
		return;
	}
	kmem_cv_destroy(&mp->cv);
	kmem_mutex_destroy(&mp->lock);
	kmem_pages_free(mp, mp->bytes);
}

/* ---- allocation ---- */

/* First fit under the lock; 0 when no range is big enough. */
static unsigned long
rmap_first_fit(struct map *mp, size_t size)
{
	size_t i;
	for (i = 0; i < mp->used; i++) {
		if (mp->entry[i].size >= size)
			break;
	}
	mp->st.search_steps += i < mp->used ? i + 1 : i;
	if (i == mp->used)
		return (0);

	struct rmap_entry *ep = &mp->entry[i];
	unsigned long addr = ep->base;
	ep->base += size;
	ep->size -= size;
	if (ep->size == 0)
		rmap_remove(mp, i);
	mp->free_units -= size;
	mp->st.allocs++;
	return (addr);
}

unsigned long
rmalloc(struct map *mp, size_t size)
{
	if (rmap_null(mp, "rmalloc"))
		return (0);
	if (size == 0) {
		kmem_report("rmalloc(map %p, size 0): size is 0", (void *)mp);
		return (0);
	}
	kmem_mutex_enter(&mp->lock);
	unsigned long addr = rmap_first_fit(mp, size);
	if (addr == 0)
		mp->st.failures++;
	kmem_mutex_exit(&mp->lock);
	return (addr);
}

unsigned long
rmalloc_wait(struct map *mp, size_t size)
{
	if (rmap_null(mp, "rmalloc_wait"))
		return (0);
	if (size == 0) {
		kmem_report("rmalloc_wait(map %p, size 0): size is 0",
		    (void *)mp);
		return (0);
	}
	kmem_mutex_enter(&mp->lock);
	unsigned long addr;
	while ((addr = rmap_first_fit(mp, size)) == 0) {
		mp->st.waits++;
		mp->waiters++;
		kmem_cv_wait(&mp->cv, &mp->lock);
		mp->waiters--;
	}
	kmem_mutex_exit(&mp->lock);
	return (addr);
}

unsigned long
rmget(struct map *mp, size_t size, unsigned long addr)
{
	if (rmap_null(mp, "rmget") || !rmap_range_ok(mp, "rmget", size, addr))
		return (0);
	unsigned long end = addr + size;

	kmem_mutex_enter(&mp->lock);
	size_t i = rmap_position(mp, addr);
	struct rmap_entry *ep = i > 0 ? &mp->entry[i - 1] : NULL;
	if (ep == NULL || end > entry_end(ep) ||
	    (ep->base != addr && end != entry_end(ep) &&
	    mp->used == mp->capacity)) {
		mp->st.failures++;
		kmem_mutex_exit(&mp->lock);
		return (0);
	}

	unsigned long ep_end = entry_end(ep);
	if (ep->base == addr && ep_end == end) {
		rmap_remove(mp, i - 1);
	} else if (ep->base == addr) {
		ep->base = end;
		ep->size -= size;
	} else if (ep_end == end) {
		ep->size -= size;
	} else {
		ep->size = addr - ep->base;
		rmap_insert(mp, i, end, ep_end - end);
	}
	mp->free_units -= size;
	mp->st.allocs++;
	kmem_mutex_exit(&mp->lock);
	return (addr);
}

/* ---- freeing ---- */

/* What became of a range given to rmap_release(). */
enum rmap_release_result {
	RMAP_RELEASED,                  /* back in the map */
	RMAP_LOST,                      /* dropped: the map was full */
	RMAP_REFUSED                    /* bad input, reported */
};

/* rmfree(), telling the laboratory whether the range was lost. */
static enum rmap_release_result
rmap_release(struct map *mp, size_t size, unsigned long addr)
{
	if (rmap_null(mp, "rmfree") || !rmap_range_ok(mp, "rmfree", size, addr))
		return (RMAP_REFUSED);
	unsigned long end = addr + size;

	kmem_mutex_enter(&mp->lock);
	size_t i = rmap_position(mp, addr);
	struct rmap_entry *prev = i > 0 ? &mp->entry[i - 1] : NULL;
	struct rmap_entry *next = i < mp->used ? &mp->entry[i] : NULL;
	const struct rmap_entry *hit = NULL;
	if (prev != NULL && entry_end(prev) > addr)
		hit = prev;
	else if (next != NULL && next->base < end)
		hit = next;
	if (hit != NULL) {
		unsigned long hit_base = hit->base;
		unsigned long hit_end = entry_end(hit);
		kmem_mutex_exit(&mp->lock);
		kmem_report("rmfree(map %p, size %zu, addr 0x%lx): "
		    "[0x%lx, 0x%lx) overlaps the free range [0x%lx, 0x%lx): "
		    "a double free", (void *)mp, size, addr, addr, end,
		    hit_base, hit_end);
		return (RMAP_REFUSED);
	}

	bool joins_prev = prev != NULL && entry_end(prev) == addr;
	bool joins_next = next != NULL && next->base == end;
	bool lost = false;
	if (joins_prev && joins_next) {
		prev->size += size + next->size;
		rmap_remove(mp, i);
	} else if (joins_prev) {
		prev->size += size;
	} else if (joins_next) {
		next->base = addr;
		next->size += size;
	} else if (mp->used < mp->capacity) {
		rmap_insert(mp, i, addr, size);
	} else {
		lost = true;
	}
	KMEM_ASSERT(rmap_sorted_near(mp, i));

	mp->st.frees++;
	if (lost) {
		mp->st.lost_ranges++;
		mp->st.lost_units += size;
	} else {
		mp->free_units += size;
		if (mp->waiters > 0)
			kmem_cv_broadcast(&mp->cv);
	}
	size_t capacity = mp->capacity;
	kmem_mutex_exit(&mp->lock);

	if (!lost)
		return (RMAP_RELEASED);
	kmem_warn("rmfree(map %p): the map is full (%zu free ranges); "
	    "[0x%lx, 0x%lx) (%zu units) is lost", (void *)mp, capacity, addr,
	    end, size);
	return (RMAP_LOST);
}

void
rmfree(struct map *mp, size_t size, unsigned long addr)
{
	(void) rmap_release(mp, size, addr);
}

/* ---- statistics ---- */

void
rmstats(struct map *mp, struct rmap_stats *st)
{
	if (rmap_null(mp, "rmstats")) {
		*st = (struct rmap_stats){ 0 };
		return;
	}
	kmem_mutex_enter(&mp->lock);
	*st = mp->st;
	st->capacity = mp->capacity;
	st->entries = mp->used;
	st->free_units = mp->free_units;
	st->waiters = mp->waiters;
	st->largest_free = 0;
	for (size_t i = 0; i < mp->used; i++) {
		if (mp->entry[i].size > st->largest_free)
			st->largest_free = mp->entry[i].size;
	}
	kmem_mutex_exit(&mp->lock);
}

/* ---- the laboratory ---- */

/*
 * In the laboratory a map manages a region of memory in grains of
 * KMEM_LAB_GRAIN bytes: unit u is the grain at base + (u - 1) * grain,
 * since unit 0 cannot be managed.  The map has room for one free range per
 * page of the region, a fixed size as a kernel's map had, so a fragmenting
 * workload overflows it.  The ranges it loses are threaded through their
 * own memory, which nothing can use any more, so that the region's picture
 * can show them; the list is protected by the map's lock.
 */
struct rmap_lab {
	struct map *mp;
	uintptr_t base;
	size_t size;
	uintptr_t lost;                 /* the first lost range, or 0 */
};

struct rmap_lost {
	uintptr_t next;
	size_t bytes;
};

static unsigned long
rmap_lab_units(size_t size)
{
	return (p2_roundup(size, KMEM_LAB_GRAIN) / KMEM_LAB_GRAIN);
}

static void *
rmap_lab_create(size_t budget, const struct kmem_lab_type *types,
    size_t ntypes)
{
	(void) types, (void) ntypes;
	size_t page = kmem_pagesize();
	struct rmap_lab *rl = kmem_pages_alloc(page);
	void *region = kmem_pages_alloc(budget);
	struct map *mp = rmallocmap(budget / page > 0 ? budget / page : 1);
	if (rl == NULL || region == NULL || mp == NULL) {
		if (rl != NULL)
			kmem_pages_free(rl, page);
		if (region != NULL)
			kmem_pages_free(region, budget);
		if (mp != NULL)
			rmfreemap(mp);
		return (NULL);
	}
	*rl = (struct rmap_lab){ .mp = mp, .base = (uintptr_t)region,
	    .size = budget };
	rmfree(mp, budget / KMEM_LAB_GRAIN, 1);
	return (rl);
}

static void
rmap_lab_destroy(void *inst)
{
	struct rmap_lab *rl = inst;
	rmfreemap(rl->mp);
	kmem_pages_free((void *)rl->base, rl->size);
	kmem_pages_free(rl, kmem_pagesize());
}

static void *
rmap_lab_alloc(void *inst, size_t size, int type)
{
	(void) type;
	struct rmap_lab *rl = inst;
	if (size > rl->size)
		return (NULL);
	unsigned long unit = rmalloc(rl->mp, rmap_lab_units(size));
	return (unit == 0 ? NULL :
	    (void *)(rl->base + (unit - 1) * KMEM_LAB_GRAIN));
}

static void
rmap_lab_free(void *inst, void *addr, size_t size, int type)
{
	(void) type;
	struct rmap_lab *rl = inst;
	unsigned long unit = ((uintptr_t)addr - rl->base) / KMEM_LAB_GRAIN + 1;
	if (rmap_release(rl->mp, rmap_lab_units(size), unit) != RMAP_LOST)
		return;
	struct rmap_lost *lost = addr;
	kmem_mutex_enter(&rl->mp->lock);
	*lost = (struct rmap_lost){ .next = rl->lost,
	    .bytes = rmap_lab_units(size) * KMEM_LAB_GRAIN };
	rl->lost = (uintptr_t)lost;
	kmem_mutex_exit(&rl->mp->lock);
}

static size_t
rmap_lab_held(void *inst)
{
	struct rmap_lab *rl = inst;
	kmem_mutex_enter(&rl->mp->lock);
	size_t held = rl->size - rl->mp->free_units * KMEM_LAB_GRAIN;
	kmem_mutex_exit(&rl->mp->lock);
	return (held);
}

static void
rmap_lab_stats(void *inst, struct kmem_lab_stats *st)
{
	struct rmap_lab *rl = inst;
	struct map *mp = rl->mp;
	*st = (struct kmem_lab_stats){ .region = (void *)rl->base,
	    .region_bytes = rl->size };
	kmem_mutex_enter(&mp->lock);
	st->free_bytes = mp->free_units * KMEM_LAB_GRAIN;
	st->overhead_bytes = mp->st.lost_units * KMEM_LAB_GRAIN;
	for (size_t i = 0; i < mp->used; i++) {
		if (mp->entry[i].size * KMEM_LAB_GRAIN > st->largest_free)
			st->largest_free = mp->entry[i].size * KMEM_LAB_GRAIN;
	}
	st->metadata_bytes = offsetof(struct map, entry) +
	    mp->capacity * sizeof (struct rmap_entry);
	kmem_mutex_exit(&mp->lock);
	st->allocated_bytes = rl->size - st->free_bytes - st->overhead_bytes;
}

static void
rmap_lab_walk(void *inst, kmem_lab_walk_fn_t *fn, void *arg)
{
	struct rmap_lab *rl = inst;
	struct map *mp = rl->mp;
	kmem_mutex_enter(&mp->lock);
	fn(arg, (void *)rl->base, rl->size, KMEM_LAB_ALLOCATED);
	for (size_t i = 0; i < mp->used; i++)
		fn(arg, (void *)(rl->base + (mp->entry[i].base - 1) *
		    KMEM_LAB_GRAIN), mp->entry[i].size * KMEM_LAB_GRAIN,
		    KMEM_LAB_FREE);
	for (uintptr_t p = rl->lost; p != 0;
	    p = ((struct rmap_lost *)p)->next)
		fn(arg, (void *)p, ((struct rmap_lost *)p)->bytes,
		    KMEM_LAB_OVERHEAD);
	kmem_mutex_exit(&mp->lock);
}

const struct kmem_lab_ops kmem_lab_rmap_ops = {
	.name = "rmap",
	.design = "resource map: first fit over a sorted array (SVR4 rmalloc)",
	.create = rmap_lab_create,
	.destroy = rmap_lab_destroy,
	.alloc = rmap_lab_alloc,
	.free = rmap_lab_free,
	.held = rmap_lab_held,
	.stats = rmap_lab_stats,
	.walk = rmap_lab_walk,
};
