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
 * Slack.  A page given back costs a system call now and a fault and a
 * zeroing at its next use, so frees keep their pages while a cache's
 * free memory is within its slack (over_slack()):
 * - a class's (any cache but the quantum caches): a sixteenth of its
 *   slabs' bytes (it was an eighth while the quantum caches kept nothing:
 *   with the rule below, realloc_strings' peak was 0.6 MiB higher at an
 *   eighth, and as before at a sixteenth, for 4 % more madvise calls);
 * - the quantum cache of page-sized buffers (which holds the one-page
 *   slabs of every small class): what keeps kmem's footprint -- its
 *   slabs and large buffers in use, plus what kmem_oversize keeps of
 *   freed ones -- within the footprint's peak since the last update pass
 *   (kmem_footprint.c).  Below its peak, the program already held that
 *   much resident: keeping the pages of a burst of frees there until a
 *   class takes them again costs no resident memory it did not have
 *   before, and giving them back made small_objects (which frees its
 *   70 MiB and builds them again, four times) give back and refault
 *   20 MiB, and python 77 MiB.  qcache_kept sums what the quantum caches
 *   keep, each cache's share refreshed as its slab layer hands out or
 *   takes back a buffer (kmem_slab_purge_account()).  (The untouched
 *   pages of a fresh slab count as kept too: the estimate errs towards
 *   giving back.)  When the footprint is about to grow past its peak by
 *   a large buffer (kmem_slab_purge_footprint_grows(), from kmem_alloc.c)
 *   the quantum caches give back what they keep first;
 * - the other quantum caches keep none: each serves the slabs of a few
 *   classes of big buffers (realloc_strings' strings pass through them
 *   all), whose pages kept for reuse raised its peak by 0.6 MiB, and
 *   their buffers are the slabs of classes whose own slack (above) is
 *   the reuse that matters.
 *
 * The sweep.  Frees below the slack keep their pages, and nothing
 * would give those back later but frees in the same granules: a cache
 * that stops allocating keeps its slack for good.  So the update pass
 * sweeps (kmem_slab_purge_sweep()) the partly used slabs of every cache
 * whose slab layer handed out nothing for a whole interval -- the slack
 * is there for reuse, and there was none -- and of every quantum cache
 * that keeps more than the footprint's gap to its peak (the peak is reset
 * by each pass, so what sat kept for a whole interval goes at the next);
 * a reap sweeps every cache: each free granule not given back yet goes
 * back now.
 *
 * Invariants: a set bit means every chunk overlapping the granule is free;
 * cache_purged is the number of set bits over the cache's slabs;
 * cache_purge_kept is the cache's kept_bytes() when last counted, and
 * qcache_kept their sum.  Outside the quantum caches, kmem's footprint
 * leaves out the granules given back (purged_changed()).
 * Locking: everything here runs under the cache's slab_lock, the madvise
 * included: a buffer of the granule must not be handed out while its page
 * is being given back.  The call is short and on the slab layer's slow
 * path (after the magazines and the depot).
 * kmem_slab_purge_footprint_grows() takes the quantum caches' slab locks
 * one at a time, from paths that have just called vmem and so hold no
 * lock ranked above the arenas.
 */
#include "kmem_impl.h"

#include "vmem/vmem_impl.h"

#define PURGE_BITS      32
/* Free memory in a class's slabs kept resident: 1/PURGE_SLACK of them. */
#define PURGE_SLACK     16

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
 * Bytes free and not given back in the slabs of kmem_default's quantum
 * caches, each cache's share as it last counted it (cache_purge_kept,
 * changed under its slab_lock; the sum atomically, read without a lock).
 */
static uint64_t qcache_kept;

/*
 * cp gave back (gone) or took again granules of its slabs: outside the
 * quantum caches, kmem's footprint counts resident bytes, so it follows.
 */
static void
purged_changed(const kmem_cache_t *cp, uint64_t granules, bool gone)
{
	if (cp->cache_flags & KMC_QCACHE)
		return;
	if (gone)
		kmem_footprint_sub(granules * cp->cache_purge_granule);
	else
		kmem_footprint_add(granules * cp->cache_purge_granule);
}

/* cp's free bytes in slabs, less those given back (slab_lock held). */
static uint64_t
kept_bytes(const kmem_cache_t *cp)
{
	uint64_t free = cp->cache_buf_total -
	    (cp->cache_slab_alloc - cp->cache_slab_free);
	uint64_t resident = free * cp->cache_chunksize;
	uint64_t purged = cp->cache_purged * cp->cache_purge_granule;
	return (resident > purged ? resident - purged : 0);
}

void
kmem_slab_purge_account(kmem_cache_t *cp)
{
	if (cp->cache_purge_granule == 0)
		return;
	uint64_t now = kept_bytes(cp), was = cp->cache_purge_kept;
	/* Atomic: kmem_slab_purge_footprint_grows() reads it unlocked. */
	__atomic_store_n(&cp->cache_purge_kept, now, __ATOMIC_RELAXED);
	if (now > was)
		__atomic_add_fetch(&qcache_kept, now - was, __ATOMIC_RELAXED);
	else
		__atomic_sub_fetch(&qcache_kept, was - now, __ATOMIC_RELAXED);
}

/*
 * Is cp, a quantum cache, to give back what it keeps (slab_lock held)?
 * Yes if its buffers are bigger than a page, or if the quantum caches
 * keep more than the gap between kmem's footprint and its peak.  See
 * "Slack" above.
 */
static bool
qcache_over_gap(kmem_cache_t *cp)
{
	kmem_slab_purge_account(cp);
	if (cp->cache_chunksize > kmem_pagesize())
		return (true);
	return (kmem_footprint_over_peak(__atomic_load_n(&qcache_kept,
	    __ATOMIC_RELAXED)));
}

/*
 * Is the cache's free memory in slabs, less what went back already, more
 * than its slack (slab_lock held)?  Below that, frees keep their pages:
 * the next allocation from the slab layer is likely to take them again,
 * and a page given back costs a fault and a zeroing then.  See "Slack".
 */
static bool
over_slack(kmem_cache_t *cp)
{
	uint64_t kept = kept_bytes(cp);
	if (cp->cache_flags & KMC_QCACHE)
		return (kept > 0 && qcache_over_gap(cp));
	return (kept * PURGE_SLACK > cp->cache_buf_total * cp->cache_chunksize);
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
		purged_changed(cp, run, true);
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
	if (always || idle || ((cp->cache_flags & KMC_QCACHE) &&
	    qcache_over_gap(cp))) {
		/* The partly used slabs: from the first with a free buffer
		 * to the empty ones at the end, which reaps take whole. */
		for (kmem_slab_t *sp = cp->cache_freelist;
		    sp != &cp->cache_slabs && sp->slab_refcnt != 0;
		    sp = sp->slab_next)
			slab_sweep(cp, sp);
		if (cp->cache_flags & KMC_QCACHE)
			kmem_slab_purge_account(cp);
	}
	kmem_mutex_exit(&cp->cache_slab_lock);
}

/*
 * Give back the free pages of cp, a quantum cache, a slab at a time until
 * the quantum caches with grown (more bytes about to be taken) are back
 * under the footprint's peak; slab_lock held.
 */
static void
qcache_trim(kmem_cache_t *cp, uint64_t grown)
{
	for (kmem_slab_t *sp = cp->cache_freelist;
	    sp != &cp->cache_slabs && sp->slab_refcnt != 0 &&
	    kmem_footprint_over_peak(__atomic_load_n(&qcache_kept,
	    __ATOMIC_RELAXED) + grown); sp = sp->slab_next) {
		slab_sweep(cp, sp);
		kmem_slab_purge_account(cp);
	}
}

void
kmem_slab_purge_footprint_grows(uint64_t bytes)
{
	uint64_t kept = __atomic_load_n(&qcache_kept, __ATOMIC_RELAXED);
	if (kept == 0 || !kmem_footprint_over_peak(kept + bytes))
		return;
	for (size_t i = 0; i < VMEM_NQCACHE_MAX; i++) {
		kmem_cache_t *cp = kmem_default->vm_qcache[i];
		if (cp == NULL || cp->cache_purge_granule == 0 ||
		    __atomic_load_n(&cp->cache_purge_kept,
		    __ATOMIC_RELAXED) == 0)
			continue;
		kmem_mutex_enter(&cp->cache_slab_lock);
		qcache_trim(cp, bytes);
		kmem_mutex_exit(&cp->cache_slab_lock);
		if (!kmem_footprint_over_peak(__atomic_load_n(&qcache_kept,
		    __ATOMIC_RELAXED) + bytes))
			break;
	}
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
		purged_changed(cp, 1, false);
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
	uint64_t n = 0;
	for (uint32_t m = sp->slab_purged; m != 0; m &= m - 1)
		n++;
	cp->cache_purged -= n;
	purged_changed(cp, n, false);
	sp->slab_purged = 0;
}
