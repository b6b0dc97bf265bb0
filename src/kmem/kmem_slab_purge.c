/*
 * Free pages inside slabs still in use go back to the system.
 *
 * A slab goes back to its arena only when every buffer in it is free; a
 * slab of many pages that keeps one live buffer holds all its pages.  Here
 * the slab layer gives back, with kmem_pages_purge() (madvise
 * MADV_DONTNEED on POSIX, as kmem_release_idle() does for the free pages
 * of kmem_pages), every page of such a slab that no allocated buffer
 * touches, the moment the last buffer on it is freed; and it remembers
 * which, so that a buffer allocated there later is known to be fresh.
 *
 * Which caches.  Those whose slabs are whole pages of kmem's page source
 * (arena kmem_default: kmem_alloc's and malloc's classes, kmem_default's
 * quantum caches, clients' caches created with vmp == NULL), of more than
 * one page, and whose free lists live outside the buffers (KMF_HASH: the
 * bufctls), so that a page given back holds nothing the allocator needs.
 * Other arenas may stand for anything (IDs, device memory): never.
 * Firewalled caches have a slab per buffer: never partly used.
 *
 * Granules.  A slab remembers its pages given back in one 32-bit word,
 * slab_purged (32, so that the slab structure stays 64 bytes); a bit stands
 * for cache_purge_granule bytes from the slab's base: a page, or the fewest
 * whole pages that let 32 bits cover the slab.
 * A granule is given back when no chunk overlapping it is allocated (the
 * colour slack and the tail belong to nobody), and, in a cache with free
 * marks (kmem_cache.c), when no chunk's mark word is inside it: a free
 * buffer's mark is what catches a later double free of it, and a page
 * given back reads as zeros.
 *
 * Fresh buffers.  A granule given back reads as zeros (or as it was, on a
 * platform that did nothing) until written.  When a buffer overlapping it
 * is allocated, its bit is cleared; in a debug cache (KMF_BUFTAG) that
 * buffer and every free one overlapping the granule get their tag and
 * free pattern written again, as slab_create() writes them in a new slab,
 * so the checks of a later allocation see a buffer freed and untouched.
 * Constructors need nothing: a buffer on a slab's free list is
 * unconstructed, and is constructed when it leaves the slab.
 *
 * The sweep.  Frees below the slack keep their pages, and nothing
 * would give those back later but frees in the same granules: a cache
 * that stops allocating keeps its slack for good.  So the update pass
 * sweeps (kmem_slab_purge_sweep()) the partly used slabs of every cache
 * whose slab layer handed out nothing for a whole interval -- the slack
 * is there for reuse, and there was none -- and a reap sweeps every
 * cache: each free granule not given back yet goes back now.  (vmem's
 * quantum caches need no sweep: they keep no slack, over_slack().)
 *
 * Invariants: a set bit means every chunk overlapping the granule is free;
 * cache_purged is the number of set bits over the cache's slabs.
 * Locking: everything here runs under the cache's slab_lock, the madvise
 * included: a buffer of the granule must not be handed out while its page
 * is being given back.  The call is short and on the slab layer's slow
 * path (after the magazines and the depot).
 */
#include "kmem_impl.h"

#define PURGE_BITS      32
/* Free memory in slabs kept resident: up to 1/PURGE_SLACK of the slabs. */
#define PURGE_SLACK     8

void
kmem_slab_purge_init(kmem_cache_t *cp)
{
	size_t page = kmem_pagesize();
	cp->cache_purge_granule = 0;
	if (cp->cache_arena != kmem_default || !(cp->cache_flags & KMF_HASH) ||
	    (cp->cache_flags & KMF_FIREWALL) || cp->cache_slabsize <= page ||
	    cp->cache_chunks < 2)
		return;
	size_t pages = cp->cache_slabsize / page;
	cp->cache_purge_granule = page * ((pages + PURGE_BITS - 1) / PURGE_BITS);
}

/* The chunks overlapping [start, end) of sp: [*lo, *hi); false if none. */
static bool
chunks_over(const kmem_cache_t *cp, const kmem_slab_t *sp, uintptr_t start,
    uintptr_t end, uint64_t *lo, uint64_t *hi)
{
	uintptr_t first = sp->slab_first;
	uintptr_t last = first + cp->cache_slab_span;
	if (end <= first || start >= last)
		return (false);
	*lo = start <= first ? 0 : (start - first) / cp->cache_chunksize;
	*hi = ((end < last ? end : last) - first + cp->cache_chunksize - 1) /
	    cp->cache_chunksize;
	return (true);
}

/* May granule g of sp go back (slab_lock held)?  See above. */
static bool
granule_free(kmem_cache_t *cp, const kmem_slab_t *sp, unsigned g)
{
	uintptr_t start = sp->slab_base + g * cp->cache_purge_granule;
	uintptr_t end = start + cp->cache_purge_granule;
	uint64_t lo, hi;
	if (!chunks_over(cp, sp, start, end, &lo, &hi))
		return (true);
	for (uint64_t i = lo; i < hi; i++) {
		uintptr_t chunk = sp->slab_first + i * cp->cache_chunksize;
		uintptr_t mark = chunk + cp->cache_mark_offset;
		if (cp->cache_free_key != 0 && mark >= start && mark < end)
			return (false);
		if (kmem_hash_contains(&cp->cache_hash, chunk))
			return (false);
	}
	return (true);
}

/* The granules of sp that [start, end) overlaps: [*lo, *hi). */
static void
granules_over(const kmem_cache_t *cp, const kmem_slab_t *sp, uintptr_t start,
    uintptr_t end, unsigned *lo, unsigned *hi)
{
	*lo = (unsigned)((start - sp->slab_base) / cp->cache_purge_granule);
	*hi = (unsigned)((end - sp->slab_base + cp->cache_purge_granule - 1) /
	    cp->cache_purge_granule);
}

/*
 * Is the cache's free memory in slabs, less what went back already, more
 * than PURGE_SLACK of its slabs (slab_lock held)?  Below that, frees keep
 * their pages: the next allocation from the slab layer is likely to take
 * them again, and a page given back costs a fault and a zeroing then.
 * A quantum cache keeps no slack: its buffers are other caches' slabs,
 * whose own slab layers keep theirs, and a slack at both levels kept an
 * eighth of kmem_default twice (realloc_strings: 7.5 MiB of its 47 MiB
 * peak sat free in the quantum caches' slabs).
 */
static bool
over_slack(const kmem_cache_t *cp)
{
	uint64_t free = cp->cache_buf_total -
	    (cp->cache_slab_alloc - cp->cache_slab_free);
	uint64_t resident = free * cp->cache_chunksize;
	uint64_t purged = cp->cache_purged * cp->cache_purge_granule;
	if (cp->cache_flags & KMC_QCACHE)
		return (resident > purged);
	return (resident > purged && (resident - purged) * PURGE_SLACK >
	    cp->cache_buf_total * cp->cache_chunksize);
}

/*
 * Give back the granules of sp in [lo, hi) that are free and not given
 * back yet, one call for each run of neighbouring ones (slab_lock held).
 */
static void
purge_free_granules(kmem_cache_t *cp, kmem_slab_t *sp, unsigned lo,
    unsigned hi)
{
	unsigned run = 0;
	for (unsigned g = lo; g <= hi; g++) {
		uint32_t bit = (uint32_t)1 << (g & (PURGE_BITS - 1));
		if (g < hi && !(sp->slab_purged & bit) &&
		    granule_free(cp, sp, g)) {
			sp->slab_purged |= bit;
			run++;
			continue;
		}
		if (run == 0)
			continue;
		kmem_pages_purge((void *)(sp->slab_base +
		    (g - run) * cp->cache_purge_granule),
		    run * cp->cache_purge_granule);
		cp->cache_purged += run;
		cp->cache_purge_count += run;
		run = 0;
	}
}

void
kmem_slab_purge_freed(kmem_cache_t *cp, kmem_slab_t *sp, uintptr_t buf)
{
	if (cp->cache_purge_granule == 0 || !over_slack(cp))
		return;
	unsigned lo, hi;
	granules_over(cp, sp, buf, buf + cp->cache_chunksize, &lo, &hi);
	purge_free_granules(cp, sp, lo, hi);
}

/* Give back every free granule of sp not given back yet (slab_lock held). */
static void
slab_sweep(kmem_cache_t *cp, kmem_slab_t *sp)
{
	purge_free_granules(cp, sp, 0,
	    (unsigned)(cp->cache_slabsize / cp->cache_purge_granule));
}

void
kmem_slab_purge_sweep(kmem_cache_t *cp, bool always)
{
	if (cp->cache_purge_granule == 0)
		return;
	kmem_mutex_enter(&cp->cache_slab_lock);
	bool idle = cp->cache_slab_alloc == cp->cache_sweep_alloc;
	cp->cache_sweep_alloc = cp->cache_slab_alloc;
	if (always || idle) {
		/* The partly used slabs: from the first with a free buffer
		 * to the empty ones at the end, which reaps take whole. */
		for (kmem_slab_t *sp = cp->cache_freelist;
		    sp != &cp->cache_slabs && sp->slab_refcnt != 0;
		    sp = sp->slab_next)
			slab_sweep(cp, sp);
	}
	kmem_mutex_exit(&cp->cache_slab_lock);
}

/* Write a free chunk's tag and pattern again, as a new slab's. */
static void
chunk_renew(kmem_cache_t *cp, uintptr_t chunk, bool free)
{
	kmem_buffer_unpoison(cp, (void *)chunk);
	kmem_buftag_init(cp, (void *)chunk);
	if (free)
		kmem_buffer_poison(cp, (void *)chunk);
}

void
kmem_slab_purge_refresh(kmem_cache_t *cp, kmem_slab_t *sp, uintptr_t buf)
{
	unsigned lo, hi;
	granules_over(cp, sp, buf, buf + cp->cache_chunksize, &lo, &hi);
	for (unsigned g = lo; g < hi; g++) {
		uint32_t bit = (uint32_t)1 << g;
		if (!(sp->slab_purged & bit))
			continue;
		sp->slab_purged &= ~bit;
		cp->cache_purged--;
		uint64_t clo, chi;
		uintptr_t start = sp->slab_base + g * cp->cache_purge_granule;
		if (!(cp->cache_flags & KMF_BUFTAG) || !chunks_over(cp, sp,
		    start, start + cp->cache_purge_granule, &clo, &chi))
			continue;
		for (uint64_t i = clo; i < chi; i++) {
			uintptr_t chunk = sp->slab_first +
			    i * cp->cache_chunksize;
			if (chunk == buf)
				chunk_renew(cp, chunk, false);
			else if (!kmem_hash_contains(&cp->cache_hash, chunk))
				chunk_renew(cp, chunk, true);
		}
	}
}

bool
kmem_slab_purged_over(const kmem_cache_t *cp, const kmem_slab_t *sp,
    uintptr_t buf)
{
	unsigned lo, hi;
	if (sp->slab_purged == 0)
		return (false);
	granules_over(cp, sp, buf, buf + cp->cache_chunksize, &lo, &hi);
	for (unsigned g = lo; g < hi; g++)
		if (sp->slab_purged & ((uint32_t)1 << g))
			return (true);
	return (false);
}

void
kmem_slab_purge_forget(kmem_cache_t *cp, kmem_slab_t *sp)
{
	/* Bit by bit: the freestanding core has no popcount from libgcc. */
	for (uint32_t m = sp->slab_purged; m != 0; m &= m - 1)
		cp->cache_purged--;
	sp->slab_purged = 0;
}
