/*
 * vmem: the general resource allocator (Bonwick & Adams, "Magazines and
 * Vmem", USENIX 2001), with illumos semantics.  docs/vmem.md is the long
 * version of this comment.
 *
 * Arenas, spans, segments.  An arena is a set of integers made of spans,
 * [start, end) ranges given by vmem_add() or imported from a source arena.
 * Each span is covered, in address order, by segments that are either
 * allocated or free.  Every span, segment and marker is a vmem_seg_t on the
 * arena list, a circular list anchored at seg0:
 *
 *	seg0 -> SPAN a -> FREE/ALLOC ... -> SPAN b -> FREE/ALLOC ... -> seg0
 *
 * seg0 has type VMEM_SPAN, so "my neighbour is a span" also holds at the
 * list's end.  Spans appear in the order they were added; segments never
 * cross a span boundary.  Two markers may sit between segments: the next-fit
 * rotor and vmem_walk()'s walker.
 *
 * Invariants (vmem_verify() checks all of them):
 * - Segments of a span tile it exactly; starts and ends are quantum-aligned;
 *   an allocated segment records its size rounded up to the quantum.
 * - No two free segments are adjacent unless a marker separates them or
 *   one is dirty and the other clean (frees coalesce with both neighbours;
 *   dirt is a retaining arena's, below).
 * - Free list i holds exactly the free segments of size [2^i, 2^(i+1)), and
 *   bit i of freemap is set exactly when list i is non-empty.
 * - Every allocated segment is in the hash (vmem_hash.c).
 * - A span imported from the source stays only while part of it is
 *   allocated or a marker sits inside it, or while the arena's free space
 *   is within what it may retain (below); once wholly free and beyond
 *   that, it goes back.
 * - The counters in st match the lists.
 *
 * Policies.  Instant fit (the default) takes the first segment of the
 * smallest non-empty free list whose members are all big enough: O(1) with
 * one bit scan of freemap, and within a factor of two of best fit.  Best fit
 * searches from the list that might fit for the smallest segment that does;
 * first fit takes the first that does.  Next fit scans the arena list from
 * the rotor and leaves the rotor behind the new segment, so freed ranges are
 * not reused at once (process IDs).  vmem_xalloc() adds alignment, phase,
 * a boundary not to cross and an address range [minaddr, maxaddr).
 *
 * Import.  When an arena with a source cannot satisfy a request it imports
 * a span big enough for it (and its alignment and boundary) from the
 * source, with its own lock dropped, then allocates from that span.
 * Requests with minaddr or maxaddr never import: the source cannot be told
 * the range.  A span
 * that becomes wholly free is unlinked under the lock and handed back to
 * the source after the lock is dropped.
 *
 * Retention.  An arena told to retain (vmem_retain_set(), internal: kmem
 * uses it on kmem_oversize) keeps what is freed in it for reuse, so that a
 * program that frees and reallocates large buffers reuses mapped, already
 * faulted pages instead of unmapping, mapping and faulting them again (a
 * fault per page is the dominant cost of a fresh large buffer).  It
 * imports big spans (min_import), so that neighbouring buffers share a
 * span and their frees coalesce into room for a bigger one -- a span per
 * buffer could only ever be reused by a buffer no bigger.  (When the
 * source cannot give that much -- the address space is limited -- it
 * imports what the request needs, and such a small span goes back as soon
 * as it is wholly free, as in an arena that does not retain.)  A free segment
 * is dirty from its free until it is purged (its pages dropped from the
 * resident set, its addresses kept); freshly imported memory is clean.
 * Dirty and clean neighbours do not coalesce (tcmalloc's page heap keeps
 * its normal and returned spans apart the same way), so mem_dirty, the
 * sum of the dirty segments, is what was freed and not purged since; a
 * purged segment joins its clean neighbours.  Allocation looks among the
 * dirty segments first, as jemalloc does: their pages are resident.
 * The bound, as jemalloc's decay and tcmalloc's page heap do it in their
 * ways, is time-based, but in update passes rather than clock time:
 * - between passes, mem_dirty stays within max(allowance, peak - inuse +
 *   slack), where peak is the most that was allocated since the last pass
 *   and slack is the larger of a quarter of it and the arena's floor:
 *   keeping what was freed never takes the arena's resident memory more
 *   than that beyond its recent peak (the quarter is room for the holes
 *   that buffers of mixed sizes leave between them; without it, every
 *   hole beyond the floor would be purged and faulted in again);
 * - at each pass (vmem_decay()), the allowance becomes the largest of
 *   (peak_i - inuse) * (D - i) / D over the peaks of the last D =
 *   VMEM_DECAY_PASSES passes (i = 0 the one just ended), and what is dirty
 *   beyond it goes back: a program that stops using large buffers gets its
 *   memory back in D + 1 passes, a quarter of the excess at a time, while
 *   one whose use swings keeps what its swings need;
 * - vmem_release_idle() (kmem_reap()) gives everything back at once.
 * Going back takes the smallest dirty segments first (the holes between
 * buffers, least likely to be reused): a segment that is a whole span goes
 * back to the source, addresses and all, any other is purged in place with
 * the arena's purge function -- under the arena lock, which costs only the
 * users of this arena (large buffers) a wait.  An arena
 * that does not retain gives a span back as soon as it is wholly free.
 *
 * Running dry.  Before a request fails or waits, kmem is asked to give back
 * what its caches hold beyond their working sets (kmem_reap_soon()), and
 * the request looks once more.
 *
 * Quantum caches.  An arena created with qcache_max gets kmem caches for
 * 1 .. qcache_max / quantum quanta (vmem_qcache_create()); vmem_alloc()
 * and vmem_free() of those sizes go to them, so the common small sizes
 * take a per-thread magazine rather than the arena lock.  They never touch
 * their buffers (KMC_NOTOUCH): each free is checked against what the cache
 * handed out (kmem_cache.c), and one it refuses is explained and reported
 * by the arena, as for any other size (vmem_qcache_bad_free()).  Their
 * slabs are segments of the arena marked qcache_slab, which vmem_free()
 * and vmem_xfree() refuse: only the cache gives a slab back.
 *
 * Sleeping.  VM_SLEEP requests wait on the arena's condition variable, which
 * every insertion into a free list signals while someone waits.  Arenas
 * with a source wait with a timeout and retry the import, since space can
 * reappear in the source without any free in this arena.
 *
 * Locking.  One lock per arena protects all of the above.  It is never held
 * together with another arena's lock: calls into the source, and report
 * handlers, run with it dropped.  Segment structures come from
 * vmem_segpool.c (the pool lock nests inside the arena lock), hash tables
 * and arena structures from the platform's page source, so vmem never
 * recurses into itself.  Order: vmem_list_lock, arena lock, segment pool.
 */
#include "vmem_impl.h"

#include "base/format.h"
#include "base/lock_order.h"
#include "base/report.h"
#include "kmem/kmem_query.h"

kmem_mutex_t vmem_list_lock = KMEM_MUTEX_INITIALIZER(KMEM_RANK_VMEM_LIST);
vmem_t *vmem_list;

/* How long a sleeping request waits before retrying a failed import. */
#define VMEM_RETRY_NS   (20u * 1000 * 1000)

enum vmem_policy { POLICY_INSTANT, POLICY_BEST, POLICY_FIRST, POLICY_NEXT };

/* One allocation request, validated and with its size rounded. */
typedef struct vmem_req {
	const char *caller;
	size_t size;            /* a multiple of the quantum */
	size_t align;           /* a power of two, at least the quantum */
	size_t phase;
	size_t nocross;
	uintptr_t minaddr;
	uintptr_t maxaddr;      /* exclusive; 0 for no limit */
	int vmflag;
	enum vmem_policy policy;
} vmem_req_t;

static void vmem_qcache_destroy(vmem_t *vmp, size_t *leaked,
    size_t *leaked_size);

/* A span taken out of the arena, to be given back once the lock is dropped. */
typedef struct vmem_release {
	uintptr_t start;
	size_t size;
} vmem_release_t;

/* ---- the arena list ---- */

static void
seg_link_after(vmem_seg_t *prev, vmem_seg_t *vsp)
{
	vsp->vs_aprev = prev;
	vsp->vs_anext = prev->vs_anext;
	prev->vs_anext->vs_aprev = vsp;
	prev->vs_anext = vsp;
}

static void
seg_unlink(vmem_seg_t *vsp)
{
	vsp->vs_aprev->vs_anext = vsp->vs_anext;
	vsp->vs_anext->vs_aprev = vsp->vs_aprev;
}

static vmem_seg_t *
vmem_seg_create(vmem_t *vmp, vmem_seg_t *prev, uintptr_t start, uintptr_t end)
{
	vmem_seg_t *vsp = vmem_reserve_take(vmp);
	vsp->vs_start = start;
	vsp->vs_end = end;
	seg_link_after(prev, vsp);
	return (vsp);
}

static void
vmem_seg_destroy(vmem_t *vmp, vmem_seg_t *vsp)
{
	seg_unlink(vsp);
	vmem_reserve_give(vmp, vsp);
}

/* ---- free lists ---- */

static unsigned
freelist_index(size_t size)
{
	return (highbit(size) - 1);
}

/*
 * mem_dirty gained (gained) or lost bytes (arena lock held).  Stored
 * atomically: kmem reads kmem_oversize's without the lock, as a hint of
 * what the arena keeps resident (kmem_footprint.c).
 */
static void
dirty_add(vmem_t *vmp, size_t bytes, bool gained)
{
	__atomic_store_n(&vmp->vm_st.mem_dirty, gained ?
	    vmp->vm_st.mem_dirty + bytes : vmp->vm_st.mem_dirty - bytes,
	    __ATOMIC_RELAXED);
}

static void
vmem_freelist_insert(vmem_t *vmp, vmem_seg_t *vsp)
{
	unsigned i = freelist_index(seg_size(vsp));
	vsp->vs_type = VMEM_FREE;
	if (vsp->vs_dirty)
		dirty_add(vmp, seg_size(vsp), true);
	vsp->vs_kprev = NULL;
	vsp->vs_knext = vmp->vm_freelist[i];
	if (vsp->vs_knext != NULL)
		vsp->vs_knext->vs_kprev = vsp;
	vmp->vm_freelist[i] = vsp;
	vmp->vm_freemap |= (uintptr_t)1 << i;
	vmp->vm_st.segs_free++;
	if (vmp->vm_waiters > 0)
		kmem_cv_broadcast(&vmp->vm_cv);
}

static void
vmem_freelist_delete(vmem_t *vmp, vmem_seg_t *vsp)
{
	unsigned i = freelist_index(seg_size(vsp));
	KMEM_ASSERT(vsp->vs_type == VMEM_FREE);
	if (vsp->vs_kprev != NULL)
		vsp->vs_kprev->vs_knext = vsp->vs_knext;
	else
		vmp->vm_freelist[i] = vsp->vs_knext;
	if (vsp->vs_knext != NULL)
		vsp->vs_knext->vs_kprev = vsp->vs_kprev;
	if (vmp->vm_freelist[i] == NULL)
		vmp->vm_freemap &= ~((uintptr_t)1 << i);
	vmp->vm_st.segs_free--;
	if (vsp->vs_dirty)
		dirty_add(vmp, seg_size(vsp), false);
}

/*
 * The free list (counting from 1; 0 for none) whose members all hold size:
 * the instant-fit choice.
 */
static unsigned
instant_fit_list(uintptr_t freemap, size_t size)
{
	if (is_p2(size))
		return (lowbit(p2_align(freemap, size)));
	unsigned hb = highbit(size);
	if (hb >= VMEM_FREELISTS)
		return (0);
	return (lowbit(p2_align(freemap, (uintptr_t)1 << hb)));
}

/* ---- spans ---- */

/* Add the span [start, start + size) and return its free segment. */
static vmem_seg_t *
vmem_span_create(vmem_t *vmp, uintptr_t start, size_t size, bool imported)
{
	vmem_seg_t *seg0 = &vmp->vm_seg0;
	vmem_seg_t *span =
	    vmem_seg_create(vmp, seg0->vs_aprev, start, start + size);
	span->vs_type = VMEM_SPAN;
	span->vs_imported = imported;
	span->vs_knext = seg0;
	span->vs_kprev = seg0->vs_kprev;
	seg0->vs_kprev->vs_knext = span;
	seg0->vs_kprev = span;

	vmem_seg_t *vsp = vmem_seg_create(vmp, span, start, start + size);
	vsp->vs_dirty = false;
	vmem_freelist_insert(vmp, vsp);

	vmp->vm_st.mem_total += size;
	if (imported)
		vmp->vm_st.mem_import += size;
	vmp->vm_st.spans++;
	return (vsp);
}

/* Is vsp, a free segment, the whole of a span imported from the source? */
static bool
vmem_span_is_free(const vmem_t *vmp, const vmem_seg_t *vsp)
{
	return (vmp->vm_release != NULL &&
	    vsp->vs_aprev->vs_type == VMEM_SPAN &&
	    vsp->vs_aprev->vs_imported && vsp->vs_anext->vs_type == VMEM_SPAN);
}

/*
 * Is vsp, a free segment not on a free list, a whole span to give back now?
 * In a retaining arena only if it is smaller than the minimum import: it
 * was imported when the source could not give the minimum (the address
 * space is short), and its addresses are wanted back.  Otherwise the
 * bound decides (vmem_trim()).
 */
static bool
vmem_span_to_release(const vmem_t *vmp, const vmem_seg_t *vsp)
{
	return (vmem_span_is_free(vmp, vsp) && (vmp->vm_purge == NULL ||
	    seg_size(vsp) < vmp->vm_min_import));
}

/*
 * The most dirty bytes a retaining arena keeps until the next pass: what
 * takes it to its recent peak, plus the slack (a quarter of the peak, or
 * the arena's floor if more), which is room for the holes that buffers of
 * mixed sizes leave between them.
 */
static size_t
vmem_retain_bound(const vmem_t *vmp)
{
	size_t slack = vmp->vm_peak / 4;
	if (slack < vmp->vm_retain)
		slack = vmp->vm_retain;
	size_t recent = vmp->vm_peak - vmp->vm_st.mem_inuse + slack;
	return (recent > vmp->vm_allowance ? recent : vmp->vm_allowance);
}

/* Is a retaining arena beyond its bound?  (Its lock held.) */
static bool
vmem_over_bound(const vmem_t *vmp)
{
	return (vmp->vm_purge != NULL &&
	    vmp->vm_st.mem_dirty > vmem_retain_bound(vmp));
}

static size_t vmem_trim(vmem_t *vmp, size_t limit, bool all);

/* Remove the span whose only segment is vsp; rel says what to give back. */
static void
vmem_span_take(vmem_t *vmp, vmem_seg_t *vsp, vmem_release_t *rel)
{
	vmem_seg_t *span = vsp->vs_aprev;
	KMEM_ASSERT(span->vs_start == vsp->vs_start &&
	    span->vs_end == vsp->vs_end);
	rel->start = vsp->vs_start;
	rel->size = seg_size(vsp);

	span->vs_kprev->vs_knext = span->vs_knext;
	span->vs_knext->vs_kprev = span->vs_kprev;
	vmem_seg_destroy(vmp, vsp);
	vmem_seg_destroy(vmp, span);

	vmp->vm_st.mem_total -= rel->size;
	vmp->vm_st.mem_import -= rel->size;
	vmp->vm_st.spans--;
	vmp->vm_st.release++;
}

/* Give a taken span back to the source; call without the arena lock. */
static void
vmem_release_span(vmem_t *vmp, vmem_release_t *rel)
{
	if (rel->size != 0)
		vmp->vm_release(vmp->vm_source, (void *)rel->start, rel->size);
	rel->size = 0;
}

/* ---- allocation ---- */

/*
 * Allocate [addr, addr + size) from the free segment vsp, which contains
 * it, and return the new allocated segment.
 */
static vmem_seg_t *
vmem_seg_alloc(vmem_t *vmp, vmem_seg_t *vsp, uintptr_t addr, size_t size)
{
	uintptr_t vs_start = vsp->vs_start;
	uintptr_t vs_end = vsp->vs_end;
	size_t vs_size = vs_end - vs_start;
	uintptr_t addr_end = addr + size;

	KMEM_ASSERT(vsp->vs_type == VMEM_FREE);
	KMEM_ASSERT(addr >= vs_start && addr_end <= vs_end && addr < addr_end);
	KMEM_ASSERT(p2_phase(addr | size, vmp->vm_quantum) == 0);

	if (addr == vs_start && p2_samehighbit(vs_size, vs_size - size)) {
		/* The remainder stays on the same free list: shrink in place. */
		if (vsp->vs_dirty)
			dirty_add(vmp, size, false);
		vsp->vs_start = addr_end;
		vsp = vmem_seg_create(vmp, vsp->vs_aprev, addr, addr_end);
	} else {
		/* The remainders are as dirty as the segment was. */
		vmem_freelist_delete(vmp, vsp);
		if (vs_end != addr_end) {
			vmem_seg_t *rest = vmem_seg_create(vmp, vsp, addr_end,
			    vs_end);
			rest->vs_dirty = vsp->vs_dirty;
			vmem_freelist_insert(vmp, rest);
		}
		if (vs_start != addr) {
			vmem_seg_t *rest = vmem_seg_create(vmp, vsp->vs_aprev,
			    vs_start, addr);
			rest->vs_dirty = vsp->vs_dirty;
			vmem_freelist_insert(vmp, rest);
		}
		vsp->vs_start = addr;
		vsp->vs_end = addr_end;
	}
	vsp->vs_type = VMEM_ALLOC;
	vsp->vs_qcache_slab = false;
	vmem_hash_insert(vmp, vsp);
	vmp->vm_st.mem_inuse += size;
	if (vmp->vm_st.mem_inuse > vmp->vm_peak)
		vmp->vm_peak = vmp->vm_st.mem_inuse;
	vmp->vm_st.alloc++;
	return (vsp);
}

/*
 * Where in the free segment vsp could req go?  Returns false when nowhere.
 * Careful near the top of the address space: every sum is checked.
 */
static bool
vmem_fit(const vmem_seg_t *vsp, const vmem_req_t *req, uintptr_t *addrp)
{
	uintptr_t lo = vsp->vs_start > req->minaddr ? vsp->vs_start :
	    req->minaddr;
	uintptr_t hi = vsp->vs_end;
	if (req->maxaddr != 0 && hi > req->maxaddr)
		hi = req->maxaddr;
	if (lo >= hi)
		return (false);

	uintptr_t addr = p2_phaseup(lo, req->align, req->phase);
	if (addr < lo)
		return (false);
	if (p2_crosses(addr, req->size, req->nocross)) {
		uintptr_t next = addr +
		    p2_roundup(p2_nphase(addr, req->nocross), req->align);
		if (next < addr)
			return (false);
		addr = next;
	}
	if (addr > hi || hi - addr < req->size)
		return (false);
	*addrp = addr;
	return (true);
}

/*
 * Search the free lists for req under the instant-, best- or first-fit
 * policy.  Instant fit starts at the first list whose members are all big
 * enough; the others start one list lower, where members might fit, as
 * does instant fit when no bigger list has anything.  dirty_only: only
 * among dirty segments (a retaining arena's first choice).
 */
static vmem_seg_t *
vmem_freelist_search(vmem_t *vmp, const vmem_req_t *req, uintptr_t *addrp,
    bool dirty_only)
{
	size_t size = req->size;
	unsigned first = highbit(size) - 1;
	if (!is_p2(size) && req->policy == POLICY_INSTANT &&
	    first + 1 < VMEM_FREELISTS && (vmp->vm_freemap >> (first + 1)) != 0)
		first++;

	vmem_seg_t *best = NULL;
	uintptr_t best_addr = 0;
	uintptr_t map = vmp->vm_freemap & (~(uintptr_t)0 << first);
	for (; map != 0 && best == NULL; map &= map - 1) {
		vmem_seg_t *vsp = vmp->vm_freelist[lowbit(map) - 1];
		for (; vsp != NULL; vsp = vsp->vs_knext) {
			uintptr_t addr;
			vmp->vm_st.search++;
			if ((best != NULL && seg_size(vsp) >= seg_size(best)) ||
			    (dirty_only && !vsp->vs_dirty))
				continue;
			if (!vmem_fit(vsp, req, &addr))
				continue;
			best = vsp;
			best_addr = addr;
			if (req->policy != POLICY_BEST || seg_size(vsp) == size)
				break;
		}
	}
	*addrp = best_addr;
	return (best);
}

/*
 * Move a marker (rotor or walker) to just after afterme, or off the list
 * when afterme is NULL, then coalesce the free segments it used to
 * separate.  If that leaves a whole imported span free, the span is taken
 * out and *rel says what to give back once the lock is dropped.
 */
static void
vmem_advance(vmem_t *vmp, vmem_seg_t *marker, vmem_seg_t *afterme,
    vmem_release_t *rel)
{
	vmem_seg_t *vprev = marker->vs_aprev;
	vmem_seg_t *vnext = marker->vs_anext;
	vmem_seg_t *vsp = NULL;

	rel->size = 0;
	seg_unlink(marker);
	if (afterme != NULL)
		seg_link_after(afterme, marker);

	if (vprev->vs_type == VMEM_FREE) {
		if (vnext->vs_type == VMEM_FREE &&
		    vprev->vs_end == vnext->vs_start &&
		    vprev->vs_anext == vnext &&
		    vprev->vs_dirty == vnext->vs_dirty) {
			vmem_freelist_delete(vmp, vnext);
			vmem_freelist_delete(vmp, vprev);
			vprev->vs_end = vnext->vs_end;
			vmem_seg_destroy(vmp, vnext);
			vmem_freelist_insert(vmp, vprev);
		}
		vsp = vprev;
	} else if (vnext->vs_type == VMEM_FREE) {
		vsp = vnext;
	}

	if (vsp != NULL && vmem_span_to_release(vmp, vsp)) {
		vmem_freelist_delete(vmp, vsp);
		vmem_span_take(vmp, vsp, rel);
	}
}

/*
 * Make sure the reserve holds the segments one operation may need.  A
 * VM_SLEEP caller waits for them; returns false only under VM_NOSLEEP.
 */
static bool
vmem_populate(vmem_t *vmp, int vmflag)
{
	while (!vmem_reserve_fill(vmp, VMEM_SEGS_PER_OP)) {
		if (vmflag & VM_NOSLEEP)
			return (false);
		vmp->vm_st.wait++;
		vmp->vm_waiters++;
		(void) kmem_cv_timedwait(&vmp->vm_cv, &vmp->vm_lock,
		    VMEM_RETRY_NS);
		vmp->vm_waiters--;
	}
	return (true);
}

/* Sleep until space may have been freed (arena lock held). */
static void
vmem_wait(vmem_t *vmp)
{
	vmp->vm_st.wait++;
	vmp->vm_waiters++;
	if (vmp->vm_import != NULL)
		(void) kmem_cv_timedwait(&vmp->vm_cv, &vmp->vm_lock,
		    VMEM_RETRY_NS);
	else
		kmem_cv_wait(&vmp->vm_cv, &vmp->vm_lock);
	vmp->vm_waiters--;
}

enum import_result { IMPORT_OK, IMPORT_FAILED, IMPORT_BROKEN };

/*
 * The source cannot be told an address range, so requests with minaddr or
 * maxaddr are served only from spans already here.
 */
static bool
vmem_can_import(const vmem_t *vmp, const vmem_req_t *req)
{
	return (vmp->vm_import != NULL && req->minaddr == 0 &&
	    req->maxaddr == 0);
}

/*
 * Import a span from the source big enough for req, whatever its alignment,
 * and choose req's address in it.  The source returns addresses aligned to
 * its quantum, so beyond that the span needs room to reach req's phase
 * (illumos's rule), or, with nocross, to reach the next nocross boundary
 * and its phase after it: nocross is a power of two at least align, so
 * boundary + phase is aligned and the segment fits before the next one.
 * The arena lock is dropped around the call; the segments the new span and
 * the allocation will use are set aside first so nobody else takes them.
 */
static enum import_result
vmem_import(vmem_t *vmp, const vmem_req_t *req, vmem_seg_t **vspp,
    uintptr_t *addrp)
{
	size_t source_quantum = vmp->vm_source != NULL ?
	    vmp->vm_source->vm_quantum : 1;
	size_t aquantum = vmp->vm_quantum > source_quantum ? vmp->vm_quantum :
	    source_quantum;
	size_t aphase = req->phase;
	if (req->nocross > aquantum)
		aphase = req->nocross - aquantum + req->phase;
	else if (req->align > aquantum)
		aphase = p2_phase(req->phase, aquantum) != 0 ?
		    req->align - vmp->vm_quantum : req->align - aquantum;
	size_t asize = req->size + aphase;
	if (asize < req->size)
		return (IMPORT_FAILED);
	size_t need = p2_roundup(asize, aquantum);
	if (asize < vmp->vm_min_import)
		asize = vmp->vm_min_import;
	asize = p2_roundup(asize, aquantum);
	if (asize < req->size || need < req->size)
		return (IMPORT_FAILED);

	vmem_seg_t *held = NULL;
	for (unsigned i = 0; i < VMEM_SEGS_PER_OP; i++) {
		vmem_seg_t *vsp = vmem_reserve_take(vmp);
		vsp->vs_knext = held;
		held = vsp;
	}
	kmem_mutex_exit(&vmp->vm_lock);

	/* A failed import is this arena's failure: only it honours VM_PANIC. */
	int import_flags = req->vmflag & VM_KMFLAGS & ~VM_PANIC;
	size_t got = asize;
	void *vaddr;
	if (vmp->vm_ximport)
		vaddr = ((vmem_ximport_t *)vmp->vm_import)(vmp->vm_source, &got,
		    req->align, import_flags);
	else
		vaddr = ((vmem_alloc_t *)vmp->vm_import)(vmp->vm_source, asize,
		    import_flags);
	if (vaddr == NULL && need < asize && !vmp->vm_ximport) {
		/* A big minimum the source cannot give: what req needs. */
		asize = got = need;
		vaddr = ((vmem_alloc_t *)vmp->vm_import)(vmp->vm_source, asize,
		    import_flags);
	}

	kmem_mutex_enter(&vmp->vm_lock);
	while (held != NULL) {
		vmem_seg_t *vsp = held;
		held = vsp->vs_knext;
		vmem_reserve_give(vmp, vsp);
	}
	if (vaddr == NULL)
		return (IMPORT_FAILED);

	/*
	 * Check the span before adding it: a span that breaks the import
	 * function's contract is reported and given back, so the arena is
	 * left as it was.
	 */
	uintptr_t start = (uintptr_t)vaddr;
	vmem_seg_t candidate = { .vs_start = start, .vs_end = start + got };
	const char *why = NULL;
	if (got < asize || p2_phase(start | got, vmp->vm_quantum) != 0 ||
	    start + got <= start)
		why = "short, misaligned or wrapping";
	else if (!vmem_fit(&candidate, req, addrp))
		why = "not aligned to the source's quantum";
	if (why == NULL) {
		*vspp = vmem_span_create(vmp, start, got, true);
		vmp->vm_st.import++;
		return (IMPORT_OK);
	}
	kmem_mutex_exit(&vmp->vm_lock);
	kmem_report("%s(\"%s\", %zu): the import function returned [%p, +%zu) "
	    "for a request of %zu bytes aligned to %zu: %s", req->caller,
	    vmp->vm_name, req->size, vaddr, got, asize, aquantum, why);
	if (vmp->vm_release != NULL)
		vmp->vm_release(vmp->vm_source, vaddr, got);
	kmem_mutex_enter(&vmp->vm_lock);
	return (IMPORT_BROKEN);
}

/* The failure path of every allocation: count it, honour VM_PANIC. */
static void *
vmem_alloc_failed(vmem_t *vmp, const vmem_req_t *req)
{
	vmp->vm_st.fail++;
	kmem_mutex_exit(&vmp->vm_lock);
	if (req->vmflag & VM_PANIC)
		kmem_report("%s(\"%s\", %zu): cannot satisfy mandatory "
		    "allocation (VM_PANIC)", req->caller, vmp->vm_name,
		    req->size);
	return (NULL);
}

/* Allocate by instant, best or first fit, importing or sleeping as needed. */
static void *
vmem_xalloc_locked(vmem_t *vmp, const vmem_req_t *req)
{
	bool reaped = false;
	KMEM_ASSERT(kmem_mutex_held(&vmp->vm_lock));
	for (;;) {
		uintptr_t addr;
		vmem_seg_t *vsp;
		if (!vmem_populate(vmp, req->vmflag))
			break;
		/*
		 * A retaining arena reuses its dirty memory first, as jemalloc
		 * does: its pages are resident, the clean ones would fault.
		 */
		vsp = NULL;
		if (vmp->vm_purge != NULL)
			vsp = vmem_freelist_search(vmp, req, &addr, true);
		if (vsp == NULL)
			vsp = vmem_freelist_search(vmp, req, &addr, false);
		if (vsp == NULL && vmem_can_import(vmp, req)) {
			enum import_result r = vmem_import(vmp, req, &vsp, &addr);
			if (r == IMPORT_BROKEN)
				break;
		}
		if (vsp != NULL) {
			vmem_seg_alloc(vmp, vsp, addr, req->size);
			/* A new peak leaves less room for what is kept. */
			bool over = vmem_over_bound(vmp);
			size_t bound = over ? vmem_retain_bound(vmp) : 0;
			kmem_mutex_exit(&vmp->vm_lock);
			if (over)
				(void) vmem_trim(vmp, bound, false);
			return ((void *)addr);
		}
		if (!reaped) {
			/*
			 * Before failing or waiting, have the kmem caches give
			 * back what they hold beyond their working sets (the
			 * quantum caches of this arena among them).
			 */
			reaped = true;
			kmem_mutex_exit(&vmp->vm_lock);
			kmem_reap_soon();
			kmem_mutex_enter(&vmp->vm_lock);
			continue;
		}
		if (req->vmflag & VM_NOSLEEP)
			break;
		vmem_wait(vmp);
	}
	return (vmem_alloc_failed(vmp, req));
}

static bool
vmem_nextfit_fits(const vmem_seg_t *vsp, const vmem_req_t *req,
    uintptr_t *addrp)
{
	return (vsp->vs_type == VMEM_FREE && vmem_fit(vsp, req, addrp));
}

/* Next fit: the first free segment at or after the rotor that fits. */
static void *
vmem_nextfit_alloc(vmem_t *vmp, vmem_req_t *req)
{
	vmem_seg_t *rotor = &vmp->vm_rotor;
	vmem_release_t rel = { 0, 0 };
	vmem_seg_t *vsp = NULL;
	uintptr_t addr = 0;

	kmem_mutex_enter(&vmp->vm_lock);
	while (vmem_populate(vmp, req->vmflag)) {
		for (vsp = rotor->vs_anext; vsp != rotor; vsp = vsp->vs_anext) {
			vmp->vm_st.search++;
			if (vmem_nextfit_fits(vsp, req, &addr))
				break;
		}
		if (vsp != rotor)
			break;
		/*
		 * Full circle.  The rotor itself may be keeping two free
		 * segments apart that together would fit: step it forward,
		 * which coalesces them, and look once more.
		 */
		vmem_advance(vmp, rotor, rotor->vs_anext, &rel);
		vsp = rotor->vs_aprev;
		if (vmem_nextfit_fits(vsp, req, &addr))
			break;
		vsp = NULL;
		if (rel.size != 0) {
			kmem_mutex_exit(&vmp->vm_lock);
			vmem_release_span(vmp, &rel);
			kmem_mutex_enter(&vmp->vm_lock);
			continue;
		}
		if (vmp->vm_import != NULL || (req->vmflag & VM_NOSLEEP))
			break;
		vmem_wait(vmp);
	}

	if (vsp == NULL) {
		/* Nothing after the rotor: import, or fail, by instant fit. */
		req->policy = POLICY_INSTANT;
		return (vmem_xalloc_locked(vmp, req));
	}

	vmem_release_t rel_after;
	vsp = vmem_seg_alloc(vmp, vsp, addr, req->size);
	vmem_advance(vmp, rotor, vsp, &rel_after);
	kmem_mutex_exit(&vmp->vm_lock);
	vmem_release_span(vmp, &rel);
	vmem_release_span(vmp, &rel_after);
	return ((void *)addr);
}

static int
policy_count(int vmflag)
{
	return (!!(vmflag & VM_INSTANTFIT) + !!(vmflag & VM_BESTFIT) +
	    !!(vmflag & VM_FIRSTFIT) + !!(vmflag & VM_NEXTFIT));
}

/*
 * Validate a request and fill *req; reports and returns false on bad input.
 * align 0 means the quantum, maxaddr NULL means no upper limit.
 */
static bool
vmem_req_init(vmem_t *vmp, vmem_req_t *req, const char *caller, size_t size,
    size_t align, size_t phase, size_t nocross, void *minaddr, void *maxaddr,
    int vmflag)
{
	const char *why = NULL;
	size_t q = vmp->vm_quantum;

	if (align == 0)
		align = q;
	*req = (vmem_req_t){ .caller = caller, .size = p2_roundup(size, q),
	    .align = align, .phase = phase, .nocross = nocross,
	    .minaddr = (uintptr_t)minaddr, .maxaddr = (uintptr_t)maxaddr,
	    .vmflag = vmflag };

	if (size == 0)
		why = "size is 0";
	else if (vmflag & ~VM_FLAGS)
		why = "vmflag has bits that are not allocation flags";
	else if (policy_count(vmflag) > 1)
		why = "vmflag names more than one allocation policy";
	else if (!is_p2(align))
		why = "align is not a power of two";
	else if (!is_p2(nocross))
		why = "nocross is not a power of two";
	else if (p2_phase(align | phase | nocross, q) != 0)
		why = "align, phase or nocross is not a multiple of the quantum";
	else if (phase >= align)
		why = "phase is not smaller than align";
	else if (nocross != 0 && (align > nocross || req->size > nocross ||
	    phase > nocross - req->size ||
	    p2_roundup(phase + req->size, align) > nocross))
		why = "the segment cannot fit between two nocross boundaries";
	else if (maxaddr != NULL && (uintptr_t)maxaddr <= (uintptr_t)minaddr)
		why = "the range [minaddr, maxaddr) is empty";
	if (why != NULL) {
		kmem_report("%s(\"%s\", size %zu, align %zu, phase %zu, nocross "
		    "%zu, minaddr %p, maxaddr %p, vmflag 0x%x): %s", caller,
		    vmp->vm_name, size, align, phase, nocross, minaddr, maxaddr,
		    (unsigned)vmflag, why);
		return (false);
	}

	if (vmflag & VM_BESTFIT)
		req->policy = POLICY_BEST;
	else if (vmflag & VM_FIRSTFIT)
		req->policy = POLICY_FIRST;
	else if (vmflag & VM_NEXTFIT)
		req->policy = POLICY_NEXT;
	else
		req->policy = POLICY_INSTANT;
	return (true);
}

/* A size so large that rounding it to the quantum wrapped: never fits. */
static void *
vmem_too_large(vmem_t *vmp, const vmem_req_t *req)
{
	kmem_mutex_enter(&vmp->vm_lock);
	return (vmem_alloc_failed(vmp, req));
}

/* The common case, in constant time: instant fit with no constraints. */
static bool
vmem_instant_fit_now(const vmem_t *vmp, const vmem_req_t *req)
{
	return (req->policy == POLICY_INSTANT &&
	    req->align == vmp->vm_quantum &&
	    req->phase == 0 && req->nocross == 0 && req->minaddr == 0 &&
	    req->maxaddr == 0);
}

/* Allocate for a validated request, by whatever path its policy takes. */
static void *
vmem_alloc_req(vmem_t *vmp, vmem_req_t *req)
{
	if (req->size == 0)
		return (vmem_too_large(vmp, req));
	if (req->policy == POLICY_NEXT)
		return (vmem_nextfit_alloc(vmp, req));

	/* (A retaining arena looks among its dirty segments first.) */
	kmem_mutex_enter(&vmp->vm_lock);
	if (vmem_instant_fit_now(vmp, req) && vmp->vm_purge == NULL &&
	    vmem_reserve_fill(vmp, VMEM_SEGS_PER_OP)) {
		unsigned flist = instant_fit_list(vmp->vm_freemap, req->size);
		if (flist != 0) {
			vmem_seg_t *vsp = vmp->vm_freelist[flist - 1];
			uintptr_t addr = vsp->vs_start;
			vmem_seg_alloc(vmp, vsp, addr, req->size);
			kmem_mutex_exit(&vmp->vm_lock);
			return ((void *)addr);
		}
	}
	return (vmem_xalloc_locked(vmp, req));
}

void *
vmem_alloc(vmem_t *vmp, size_t size, int vmflag)
{
	vmem_req_t req;
	if (!vmem_req_init(vmp, &req, "vmem_alloc", size, 0, 0, 0, NULL, NULL,
	    vmflag))
		return (NULL);
	if (size - 1 < vmp->vm_qcache_max)
		return (kmem_cache_alloc(vmp->vm_qcache[(size - 1) >>
		    vmp->vm_qshift], vmflag & VM_KMFLAGS));
	return (vmem_alloc_req(vmp, &req));
}

void *
vmem_qcache_slab_alloc(vmem_t *vmp, int vmflag)
{
	vmem_req_t req;
	if (!vmem_req_init(vmp, &req, "vmem_alloc", vmp->vm_qcache_slab, 0, 0,
	    0, NULL, NULL, vmflag))
		return (NULL);
	void *slab = vmem_alloc_req(vmp, &req);
	/* Until it is marked, a bad vmem_free() could take it: a client's
	 * race with its own quantum cache, not worth a flag in every request. */
	if (slab != NULL) {
		kmem_mutex_enter(&vmp->vm_lock);
		vmem_hash_find(vmp, (uintptr_t)slab)->vs_qcache_slab = true;
		kmem_mutex_exit(&vmp->vm_lock);
	}
	return (slab);
}

void *
vmem_xalloc(vmem_t *vmp, size_t size, size_t align, size_t phase,
    size_t nocross, void *minaddr, void *maxaddr, int vmflag)
{
	vmem_req_t req;
	if (!vmem_req_init(vmp, &req, "vmem_xalloc", size, align, phase,
	    nocross, minaddr, maxaddr, vmflag))
		return (NULL);
	return (vmem_alloc_req(vmp, &req));
}

/* ---- freeing ---- */

/*
 * Explain addr as the quantum caches see it; false if it is in none of
 * their slabs.  A slab is one allocated segment to the arena, so an address
 * in one is explained by the buffers of its cache instead.
 */
static bool
qcache_explain(const vmem_t *vmp, uintptr_t addr, size_t size, char *buf,
    size_t len)
{
	for (size_t i = 0; i < VMEM_NQCACHE_MAX && vmp->vm_qcache[i] != NULL;
	    i++) {
		kmem_cache_t *cp = vmp->vm_qcache[i];
		size_t bufsize = (i + 1) << vmp->vm_qshift;
		uintptr_t start, end;
		switch (kmem_slab_describe(cp, addr, &start, &end)) {
		case KMEM_BUF_NONE:
			continue;
		case KMEM_BUF_ALLOCATED:
			/* The right size refused: vmem_xfree() was called. */
			if (p2_roundup(size, vmp->vm_quantum) == bufsize)
				kmem_snprintf(buf, len, "the segment at this "
				    "address was allocated by vmem_alloc from "
				    "the quantum caches: free it with "
				    "vmem_free");
			else
				kmem_snprintf(buf, len, "wrong size: the "
				    "segment at this address was allocated "
				    "with size %zu", bufsize);
			return (true);
		case KMEM_BUF_CACHED:
		case KMEM_BUF_FREE:
			kmem_snprintf(buf, len, "the address is free: a double "
			    "free, or it was never allocated");
			return (true);
		case KMEM_BUF_INSIDE:
			kmem_snprintf(buf, len, "the address is inside the "
			    "allocated segment [%p, %p), not at its start",
			    (void *)start, (void *)end);
			return (true);
		}
	}
	return (false);
}

/*
 * Explain why addr cannot be freed with size, for the report.  Called with
 * the lock held, on the error path only, so linear scans are fine.
 */
static void
explain_bad_free(const vmem_t *vmp, uintptr_t addr, size_t size,
    const vmem_seg_t *found, char *buf, size_t len)
{
	if (qcache_explain(vmp, addr, size, buf, len))
		return;
	if (found != NULL &&
	    seg_size(found) == p2_roundup(size, vmp->vm_quantum)) {
		/* Only a quantum cache refuses a segment of the right size. */
		kmem_snprintf(buf, len, "the segment at this address was "
		    "allocated by vmem_xalloc, not from the quantum caches: "
		    "free it with vmem_xfree");
		return;
	}
	if (found != NULL) {
		kmem_snprintf(buf, len, "wrong size: the segment at this "
		    "address was allocated with size %zu", seg_size(found));
		return;
	}
	for (const vmem_seg_t *vsp = vmp->vm_seg0.vs_anext;
	    vsp != &vmp->vm_seg0;
	    vsp = vsp->vs_anext) {
		if ((vsp->vs_type & (VMEM_ALLOC | VMEM_FREE)) == 0 ||
		    addr < vsp->vs_start || addr >= vsp->vs_end)
			continue;
		if (vsp->vs_type == VMEM_FREE)
			kmem_snprintf(buf, len, "the address is free: a double "
			    "free, or it was never allocated");
		else
			kmem_snprintf(buf, len, "the address is inside the "
			    "allocated segment [%p, %p), not at its start",
			    (void *)vsp->vs_start, (void *)vsp->vs_end);
		return;
	}
	kmem_snprintf(buf, len, "the address is not in any span of the arena");
}

/* Report the bad free of vaddr, size by caller (the lock held; drops it). */
static void
vmem_refuse_free(vmem_t *vmp, const char *caller, void *vaddr, size_t size,
    const vmem_seg_t *found)
{
	char why[160];
	explain_bad_free(vmp, (uintptr_t)vaddr, size, found, why, sizeof (why));
	kmem_mutex_exit(&vmp->vm_lock);
	kmem_report("%s(\"%s\", %p, %zu): %s", caller, vmp->vm_name, vaddr,
	    size, why);
}

void
vmem_qcache_bad_free(vmem_t *vmp, void *vaddr, size_t size)
{
	kmem_mutex_enter(&vmp->vm_lock);
	vmem_refuse_free(vmp, "vmem_free", vaddr, size,
	    vmem_hash_find(vmp, (uintptr_t)vaddr));
}

/*
 * Free [vaddr, vaddr + size), a segment allocated from the arena itself; a
 * quantum cache's slab only when qcache_slab says the cache gives it back.
 * False when nothing was freed: reported, unless caller is NULL.
 */
static bool
vmem_free_common(vmem_t *vmp, const char *caller, void *vaddr, size_t size,
    bool qcache_slab)
{
	uintptr_t addr = (uintptr_t)vaddr;
	vmem_release_t rel = { 0, 0 };

	kmem_mutex_enter(&vmp->vm_lock);
	vmem_seg_t **slot = vmem_hash_slot(vmp, addr);
	vmem_seg_t *vsp = *slot;
	if (vsp == NULL || size == 0 || vsp->vs_qcache_slab != qcache_slab ||
	    seg_size(vsp) != p2_roundup(size, vmp->vm_quantum)) {
		if (caller == NULL)
			kmem_mutex_exit(&vmp->vm_lock);
		else
			vmem_refuse_free(vmp, caller, vaddr, size, vsp);
		return (false);
	}
	vmem_hash_unlink(vmp, slot);
	vmp->vm_st.mem_inuse -= seg_size(vsp);
	vmp->vm_st.free++;
	vsp->vs_dirty = vmp->vm_purge != NULL;

	vmem_seg_t *vnext = vsp->vs_anext;
	if (vnext->vs_type == VMEM_FREE && vnext->vs_dirty == vsp->vs_dirty) {
		vmem_freelist_delete(vmp, vnext);
		vsp->vs_end = vnext->vs_end;
		vmem_seg_destroy(vmp, vnext);
	}
	vmem_seg_t *vprev = vsp->vs_aprev;
	if (vprev->vs_type == VMEM_FREE && vprev->vs_dirty == vsp->vs_dirty) {
		vmem_freelist_delete(vmp, vprev);
		vprev->vs_end = vsp->vs_end;
		vmem_seg_destroy(vmp, vsp);
		vsp = vprev;
	}

	if (vmem_span_to_release(vmp, vsp))
		vmem_span_take(vmp, vsp, &rel);
	else
		vmem_freelist_insert(vmp, vsp);
	bool over = vmem_over_bound(vmp);
	size_t bound = over ? vmem_retain_bound(vmp) : 0;
	kmem_mutex_exit(&vmp->vm_lock);
	vmem_release_span(vmp, &rel);
	if (over)
		(void) vmem_trim(vmp, bound, false);
	return (true);
}

void
vmem_free(vmem_t *vmp, void *vaddr, size_t size)
{
	/* The size goes along for the cache's report of a bad free. */
	if (size - 1 < vmp->vm_qcache_max)
		kmem_notouch_free(vmp->vm_qcache[(size - 1) >> vmp->vm_qshift],
		    vaddr, size);
	else
		(void) vmem_free_common(vmp, "vmem_free", vaddr, size, false);
}

void
vmem_xfree(vmem_t *vmp, void *vaddr, size_t size)
{
	(void) vmem_free_common(vmp, "vmem_xfree", vaddr, size, false);
}

void
vmem_qcache_slab_free(vmem_t *vmp, void *vaddr)
{
	(void) vmem_free_common(vmp, "vmem_free", vaddr, vmp->vm_qcache_slab,
	    true);
}

bool
vmem_free_if_allocated(vmem_t *vmp, void *vaddr, size_t size)
{
	return (vmem_free_common(vmp, NULL, vaddr, size, false));
}

/* ---- retention ---- */

void
vmem_retain_set(vmem_t *vmp, size_t slack, size_t min_import,
    void (*purge)(void *addr, size_t size))
{
	kmem_mutex_enter(&vmp->vm_lock);
	vmp->vm_retain = slack;
	if (min_import > vmp->vm_min_import)
		vmp->vm_min_import = min_import;
	vmp->vm_purge = purge;
	kmem_mutex_exit(&vmp->vm_lock);
}

/*
 * Purge vsp, a dirty free segment, in place; it joins its free neighbours
 * (clean ones: two dirty segments would have coalesced), and if that makes
 * it a whole span, the span is taken out and *rel says what to give back.
 */
static void
vmem_seg_purge(vmem_t *vmp, vmem_seg_t *vsp, vmem_release_t *rel)
{
	KMEM_ASSERT(vsp->vs_type == VMEM_FREE && vsp->vs_dirty);
	vmp->vm_purge((void *)vsp->vs_start, seg_size(vsp));
	vmp->vm_st.purged += seg_size(vsp);
	vmem_freelist_delete(vmp, vsp);
	vsp->vs_dirty = false;
	vmem_seg_t *vnext = vsp->vs_anext;
	if (vnext->vs_type == VMEM_FREE) {
		KMEM_ASSERT(!vnext->vs_dirty);
		vmem_freelist_delete(vmp, vnext);
		vsp->vs_end = vnext->vs_end;
		vmem_seg_destroy(vmp, vnext);
	}
	vmem_seg_t *vprev = vsp->vs_aprev;
	if (vprev->vs_type == VMEM_FREE) {
		KMEM_ASSERT(!vprev->vs_dirty);
		vmem_freelist_delete(vmp, vprev);
		vprev->vs_end = vsp->vs_end;
		vmem_seg_destroy(vmp, vsp);
		vsp = vprev;
	}
	rel->size = 0;
	if (vmem_span_is_free(vmp, vsp))
		vmem_span_take(vmp, vsp, rel);
	else
		vmem_freelist_insert(vmp, vsp);
}

/* The smallest dirty free segment, by free list; NULL if none. */
static vmem_seg_t *
vmem_smallest_dirty(const vmem_t *vmp)
{
	for (uintptr_t map = vmp->vm_freemap; map != 0; map &= map - 1) {
		vmem_seg_t *vsp = vmp->vm_freelist[lowbit(map) - 1];
		for (; vsp != NULL; vsp = vsp->vs_knext)
			if (vsp->vs_dirty)
				return (vsp);
	}
	return (NULL);
}

/*
 * Give back until mem_dirty is at most limit, or everything with all
 * (every wholly free span too, clean or dirty).  Smallest first, by free
 * list: the small holes between buffers are the least likely to be
 * reused, and a big segment -- a whole span, say -- is what the next big
 * buffer needs.  A dirty segment that is a whole span goes back to the
 * source, addresses and all; any other is purged in place, and goes back
 * if that leaves its span wholly free.  Returns the bytes given back to
 * the source or purged in place.
 */
static size_t
vmem_trim(vmem_t *vmp, size_t limit, bool all)
{
	vmem_release_t rel[16];
	size_t given = 0;
	unsigned n;
	if (all)
		limit = 0;
	do {
		n = 0;
		kmem_mutex_enter(&vmp->vm_lock);
		for (vmem_seg_t *span = vmp->vm_seg0.vs_knext; all &&
		    span != &vmp->vm_seg0 && n < 16; ) {
			vmem_seg_t *vsp = span->vs_anext;
			span = span->vs_knext;
			if (vsp->vs_type == VMEM_FREE &&
			    vmem_span_is_free(vmp, vsp)) {
				vmem_freelist_delete(vmp, vsp);
				vmem_span_take(vmp, vsp, &rel[n++]);
			}
		}
		vmem_seg_t *vsp;
		while (n < 16 && vmp->vm_st.mem_dirty > limit &&
		    (vsp = vmem_smallest_dirty(vmp)) != NULL) {
			if (vmem_span_is_free(vmp, vsp)) {
				vmem_freelist_delete(vmp, vsp);
				vmem_span_take(vmp, vsp, &rel[n++]);
				continue;
			}
			size_t size = seg_size(vsp);
			vmem_seg_purge(vmp, vsp, &rel[n]);
			if (rel[n].size != 0)
				n++;            /* counted as it goes back */
			else
				given += size;
		}
		kmem_mutex_exit(&vmp->vm_lock);
		for (unsigned i = 0; i < n; i++) {
			given += rel[i].size;
			vmem_release_span(vmp, &rel[i]);
		}
	} while (n == 16);
	return (given);
}

size_t
vmem_decay(vmem_t *vmp)
{
	kmem_mutex_enter(&vmp->vm_lock);
	if (vmp->vm_purge == NULL) {
		kmem_mutex_exit(&vmp->vm_lock);
		return (0);
	}
	size_t inuse = vmp->vm_st.mem_inuse, allowance = 0;
	for (unsigned i = VMEM_DECAY_PASSES - 1; i > 0; i--)
		vmp->vm_peaks[i] = vmp->vm_peaks[i - 1];
	vmp->vm_peaks[0] = vmp->vm_peak;
	for (unsigned i = 0; i < VMEM_DECAY_PASSES; i++) {
		if (vmp->vm_peaks[i] <= inuse)
			continue;
		size_t a = (vmp->vm_peaks[i] - inuse) / VMEM_DECAY_PASSES *
		    (VMEM_DECAY_PASSES - i);
		if (a > allowance)
			allowance = a;
	}
	vmp->vm_allowance = allowance;
	vmp->vm_peak = inuse;
	kmem_mutex_exit(&vmp->vm_lock);
	return (vmem_trim(vmp, allowance, false));
}

size_t
vmem_release_idle(vmem_t *vmp)
{
	return (vmem_trim(vmp, 0, true));
}

/* ---- spans from the caller ---- */

void *
vmem_add(vmem_t *vmp, void *vaddr, size_t size, int vmflag)
{
	uintptr_t start = (uintptr_t)vaddr;
	const char *why = NULL;

	if (vaddr == NULL)
		why = "a span may not start at address 0 (NULL means failure)";
	else if (size == 0)
		why = "size is 0";
	else if (start + size < start)
		why = "the range wraps past the end of the address space";
	else if (p2_phase(start | size, vmp->vm_quantum) != 0)
		why = "address or size is not a multiple of the quantum";
	else if (vmflag & ~(VM_NOSLEEP | VM_PANIC))
		why = "vmflag may hold only VM_SLEEP, VM_NOSLEEP and VM_PANIC";

	kmem_mutex_enter(&vmp->vm_lock);
	for (vmem_seg_t *span = vmp->vm_seg0.vs_knext; why == NULL &&
	    span != &vmp->vm_seg0; span = span->vs_knext) {
		if (start < span->vs_end && span->vs_start < start + size)
			why = "the range overlaps a span of the arena";
	}
	if (why != NULL) {
		kmem_mutex_exit(&vmp->vm_lock);
		kmem_report("vmem_add(\"%s\", %p, %zu): %s", vmp->vm_name,
		    vaddr, size, why);
		return (NULL);
	}
	if (!vmem_populate(vmp, vmflag)) {
		kmem_mutex_exit(&vmp->vm_lock);
		return (NULL);
	}
	vmem_span_create(vmp, start, size, false);
	kmem_mutex_exit(&vmp->vm_lock);
	return (vaddr);
}

/* ---- inspection ---- */

size_t
vmem_alloc_size(vmem_t *vmp, const void *vaddr)
{
	size_t size = 0;
	kmem_mutex_enter(&vmp->vm_lock);
	vmem_seg_t *vsp = vmem_hash_find(vmp, (uintptr_t)vaddr);
	if (vsp != NULL)
		size = vsp->vs_end - vsp->vs_start;
	kmem_mutex_exit(&vmp->vm_lock);
	return (size);
}

int
vmem_contains(vmem_t *vmp, void *vaddr, size_t size)
{
	uintptr_t start = (uintptr_t)vaddr;
	bool found = false;

	kmem_mutex_enter(&vmp->vm_lock);
	for (vmem_seg_t *span = vmp->vm_seg0.vs_knext; span != &vmp->vm_seg0;
	    span = span->vs_knext) {
		if (start >= span->vs_start && start < span->vs_end &&
		    size <= span->vs_end - start) {
			found = true;
			break;
		}
	}
	kmem_mutex_exit(&vmp->vm_lock);
	return (found);
}

void
vmem_walk(vmem_t *vmp, int typemask,
    void (*func)(void *arg, void *start, size_t size), void *arg)
{
	int types = typemask & (VMEM_ALLOC | VMEM_FREE | VMEM_SPAN);
	bool reentrant = (typemask & VMEM_REENTRANT) != 0;
	vmem_seg_t walker = { .vs_type = VMEM_WALKER };
	vmem_release_t rel = { 0, 0 };

	kmem_mutex_enter(&vmp->vm_lock);
	seg_link_after(&vmp->vm_seg0, &walker);
	for (vmem_seg_t *vsp = walker.vs_anext; vsp != &vmp->vm_seg0;
	    vsp = vsp->vs_anext) {
		if ((vsp->vs_type & types) == 0)
			continue;
		void *start = (void *)vsp->vs_start;
		size_t size = seg_size(vsp);
		if (!reentrant) {
			func(arg, start, size);
			continue;
		}
		vmem_advance(vmp, &walker, vsp, &rel);
		kmem_mutex_exit(&vmp->vm_lock);
		vmem_release_span(vmp, &rel);
		func(arg, start, size);
		kmem_mutex_enter(&vmp->vm_lock);
		vsp = &walker;
	}
	vmem_advance(vmp, &walker, NULL, &rel);
	kmem_mutex_exit(&vmp->vm_lock);
	vmem_release_span(vmp, &rel);
}

size_t
vmem_size(vmem_t *vmp, int typemask)
{
	size_t size = 0;
	kmem_mutex_enter(&vmp->vm_lock);
	if (typemask & VMEM_ALLOC)
		size += vmp->vm_st.mem_inuse;
	if (typemask & VMEM_FREE)
		size += vmp->vm_st.mem_total - vmp->vm_st.mem_inuse;
	kmem_mutex_exit(&vmp->vm_lock);
	return (size);
}

/* ---- creation and destruction ---- */

static size_t
arena_bytes(void)
{
	return (p2_roundup(sizeof (vmem_t), kmem_pagesize()));
}

/* qcache_max rounded down to quanta, at most VMEM_NQCACHE_MAX of them. */
static size_t
qcache_limit(const vmem_t *vmp, size_t qcache_max)
{
	size_t n = qcache_max >> vmp->vm_qshift;
	return ((n < VMEM_NQCACHE_MAX ? n : VMEM_NQCACHE_MAX) <<
	    vmp->vm_qshift);
}

void
vmem_qcache_create(vmem_t *vmp, size_t qcache_max)
{
	size_t limit = qcache_limit(vmp, qcache_max);
	size_t n = limit >> vmp->vm_qshift;
	/*
	 * One slab size for all: the power of two above three times the
	 * largest (Bonwick & Adams): it exceeds every cached size, so a slab
	 * never comes from a quantum cache, and packs them all well.
	 */
	size_t slab = (size_t)1 << highbit(3 * limit);
	vmp->vm_qcache_slab =
	    p2_roundup(slab > 64 ? slab : 64, vmp->vm_quantum);
	for (size_t i = 0; i < n; i++) {
		char name[VMEM_NAMELEN];
		size_t size = (i + 1) << vmp->vm_qshift;
		kmem_snprintf(name, sizeof (name), "%s_%zu", vmp->vm_name,
		    size);
		vmp->vm_qcache[i] = kmem_cache_create_internal(name, size,
		    vmp->vm_quantum, NULL, NULL, NULL, NULL, vmp,
		    KMC_QCACHE | KMC_NOTOUCH);
		if (vmp->vm_qcache[i] == NULL) {
			/* The table of caches is full, or memory ran out:
			 * the arena works without them. */
			kmem_warn("vmem_create(\"%s\"): no quantum caches: "
			    "cannot create cache %s (%d caches alive at most)",
			    vmp->vm_name, name, KMEM_CACHES_MAX);
			size_t none = 0, none_size = 0;
			vmem_qcache_destroy(vmp, &none, &none_size);
			return;
		}
	}
	/* Only now may allocations take the quantum caches. */
	kmem_mutex_enter(&vmp->vm_lock);
	vmp->vm_qcache_max = limit;
	kmem_mutex_exit(&vmp->vm_lock);
}

/*
 * Stop using the quantum caches and destroy them.  Their buffers never
 * freed are the client's allocations, counted into *leaked and
 * *leaked_size for vmem_destroy()'s report; the slabs holding them stay
 * allocated in the arena.
 */
static void
vmem_qcache_destroy(vmem_t *vmp, size_t *leaked, size_t *leaked_size)
{
	kmem_mutex_enter(&vmp->vm_lock);
	vmp->vm_qcache_max = 0;
	kmem_mutex_exit(&vmp->vm_lock);
	for (size_t i = 0; i < VMEM_NQCACHE_MAX; i++) {
		if (vmp->vm_qcache[i] != NULL) {
			size_t n = kmem_cache_destroy_leaked(vmp->vm_qcache[i]);
			*leaked += n;
			*leaked_size += n * ((i + 1) << vmp->vm_qshift);
		}
		vmp->vm_qcache[i] = NULL;
	}
}

/*
 * The allocations vmem_destroy() reports: the arena's own segments, not
 * the quantum caches' slabs (their buffers were counted instead).
 */
static void
vmem_count_leaks(vmem_t *vmp, size_t *leaked, size_t *leaked_size)
{
	kmem_mutex_enter(&vmp->vm_lock);
	*leaked += vmp->vm_st.segs_alloc;
	*leaked_size += vmp->vm_st.mem_inuse;
	for (const vmem_seg_t *vsp = vmp->vm_seg0.vs_anext;
	    vsp != &vmp->vm_seg0;
	    vsp = vsp->vs_anext) {
		if (vsp->vs_type == VMEM_ALLOC && vsp->vs_qcache_slab) {
			(*leaked)--;
			*leaked_size -= seg_size(vsp);
		}
	}
	kmem_mutex_exit(&vmp->vm_lock);
}

static vmem_t *
vmem_create_common(const char *caller, const char *name, void *base,
    size_t size, size_t quantum, void *afunc, bool ximport, vmem_free_t *ffunc,
    vmem_t *source, size_t qcache_max, int vmflag)
{
	const char *why = NULL;
	int cflags = vmflag & VMC_FLAGS;

	if (name == NULL)
		why = "name is NULL";
	else if (quantum == 0 || !is_p2(quantum))
		why = "quantum is not a power of two";
	else if (vmflag & ~(VM_NOSLEEP | VM_PANIC | VMC_NO_QCACHE |
	    VMC_IDENTIFIER))
		why = "vmflag has bits that are not VM_SLEEP, VM_NOSLEEP, "
		    "VM_PANIC or VMC_* creation flags";
	else if (base == NULL && size != 0)
		why = "base is NULL but size is not 0 (spans may not start at "
		    "address 0)";
	else if (source != NULL && afunc == NULL)
		why = "a source arena needs an import function";
	else if (source != NULL &&
	    (source->vm_cflags & VMC_IDENTIFIER) != (cflags & VMC_IDENTIFIER))
		why = "an identifier arena and its source must both be "
		    "identifier arenas (VMC_IDENTIFIER)";
	if (why != NULL) {
		kmem_report("%s(\"%s\", base %p, size %zu, quantum %zu): %s",
		    caller, name != NULL ? name : "(null)", base, size, quantum,
		    why);
		return (NULL);
	}

	vmem_t *vmp = kmem_pages_alloc(arena_bytes());
	if (vmp == NULL)
		return (NULL);

	size_t i;
	for (i = 0; i + 1 < VMEM_NAMELEN && name[i] != '\0'; i++)
		vmp->vm_name[i] = name[i];
	vmp->vm_name[i] = '\0';
	kmem_mutex_init(&vmp->vm_lock, KMEM_RANK_VMEM_ARENA);
	kmem_cv_init(&vmp->vm_cv);
	vmp->vm_quantum = quantum;
	vmp->vm_qshift = highbit(quantum) - 1;
	vmp->vm_cflags = cflags;
	vmp->vm_ximport = ximport;
	vmp->vm_import = afunc;
	vmp->vm_release = ffunc;
	vmp->vm_source = source;
	vmp->vm_depth = source != NULL ? source->vm_depth + 1 : 0;

	if (cflags & VMC_NO_QCACHE) {
		/* Import in slabs as the quantum caches would have. */
		size_t slab = (size_t)1 << highbit(3 * qcache_limit(vmp,
		    qcache_max));
		vmp->vm_min_import = slab > 64 ? slab : 64;
	}

	vmp->vm_seg0.vs_type = VMEM_SPAN;
	vmp->vm_seg0.vs_anext = vmp->vm_seg0.vs_aprev = &vmp->vm_seg0;
	vmp->vm_seg0.vs_knext = vmp->vm_seg0.vs_kprev = &vmp->vm_seg0;
	vmp->vm_rotor.vs_type = VMEM_ROTOR;
	seg_link_after(&vmp->vm_seg0, &vmp->vm_rotor);
	vmem_hash_init(vmp);

	if (base != NULL && vmem_add(vmp, base, size, vmflag & VM_KMFLAGS) == NULL) {
		vmem_reserve_drain(vmp);
		kmem_cv_destroy(&vmp->vm_cv);
		kmem_mutex_destroy(&vmp->vm_lock);
		kmem_pages_free(vmp, arena_bytes());
		return (NULL);
	}

	kmem_mutex_enter(&vmem_list_lock);
	vmem_t **tail = &vmem_list;
	while (*tail != NULL)
		tail = &(*tail)->vm_list_next;
	*tail = vmp;
	kmem_mutex_exit(&vmem_list_lock);

	if (!(cflags & VMC_NO_QCACHE) && qcache_limit(vmp, qcache_max) != 0) {
		kmem_init();
		vmem_qcache_create(vmp, qcache_max);
	}
	return (vmp);
}

vmem_t *
vmem_create(const char *name, void *base, size_t size, size_t quantum,
    vmem_alloc_t *afunc, vmem_free_t *ffunc, vmem_t *source,
    size_t qcache_max, int vmflag)
{
	return (vmem_create_common("vmem_create", name, base, size, quantum,
	    (void *)afunc, false, ffunc, source, qcache_max, vmflag));
}

vmem_t *
vmem_xcreate(const char *name, void *base, size_t size, size_t quantum,
    vmem_ximport_t *afunc, vmem_free_t *ffunc, vmem_t *source,
    size_t qcache_max, int vmflag)
{
	return (vmem_create_common("vmem_xcreate", name, base, size, quantum,
	    (void *)afunc, true, ffunc, source, qcache_max, vmflag));
}

/*
 * fork(): the list, every arena and the segment pool, in the lock order
 * (registered with the platform when the library is loaded; kmem_fork.c
 * tells the whole order).  No thread holds two arena locks, so their order
 * among themselves is free; the list order will do.
 */
static void
vmem_fork_enter(void)
{
	kmem_mutex_enter_for_fork(&vmem_list_lock);
	for (vmem_t *vmp = vmem_list; vmp != NULL; vmp = vmp->vm_list_next)
		kmem_mutex_enter_for_fork(&vmp->vm_lock);
	kmem_mutex_enter_for_fork(&vmem_segpool_lock);
}

static void
vmem_fork_exit(void)
{
	kmem_mutex_exit_for_fork(&vmem_segpool_lock);
	for (vmem_t *vmp = vmem_list; vmp != NULL; vmp = vmp->vm_list_next)
		kmem_mutex_exit_for_fork(&vmp->vm_lock);
	kmem_mutex_exit_for_fork(&vmem_list_lock);
}

static const kmem_fork_handlers_t vmem_fork_handlers = {
	.rank = KMEM_RANK_VMEM_LIST,
	.prepare = vmem_fork_enter,
	.parent = vmem_fork_exit,
	.child = vmem_fork_exit,
};

KMEM_FORK_REGISTRATION static void
vmem_fork_register(void)
{
	kmem_fork_register(&vmem_fork_handlers);
}

/*
 * Take the arena off the list unless another arena still imports from it;
 * returns the name of such an arena, or NULL.
 */
static const char *
vmem_unlist(vmem_t *vmp)
{
	const char *user = NULL;
	kmem_mutex_enter(&vmem_list_lock);
	for (vmem_t *other = vmem_list; other != NULL;
	    other = other->vm_list_next)
		if (other->vm_source == vmp)
			user = other->vm_name;
	if (user == NULL) {
		vmem_t **pp = &vmem_list;
		while (*pp != vmp)
			pp = &(*pp)->vm_list_next;
		*pp = vmp->vm_list_next;
	}
	kmem_mutex_exit(&vmem_list_lock);
	return (user);
}

void
vmem_destroy(vmem_t *vmp)
{
	const char *user = vmem_unlist(vmp);
	if (user != NULL) {
		kmem_report("vmem_destroy(\"%s\"): arena \"%s\" still imports "
		    "from it", vmp->vm_name, user);
		return;
	}

	/* The arena is private now: nobody else can reach it. */
	size_t leaked = 0, leaked_size = 0;
	vmem_qcache_destroy(vmp, &leaked, &leaked_size);
	vmem_count_leaks(vmp, &leaked, &leaked_size);
	if (leaked != 0)
		kmem_report("vmem_destroy(\"%s\"): %zu allocation%s (%zu %s) "
		    "never freed; leaked", vmp->vm_name, leaked,
		    leaked == 1 ? "" : "s", leaked_size,
		    (vmp->vm_cflags & VMC_IDENTIFIER) ? "identifiers" :
		    "bytes");

	/*
	 * Taking the rotor off coalesces around it and gives back the one
	 * wholly free imported span it could have kept; then the spans kept
	 * by retention go back.  Spans holding leaked
	 * segments stay allocated in the source, so the source never hands
	 * out memory someone may still be using.
	 */
	vmem_release_t rel;
	kmem_mutex_enter(&vmp->vm_lock);
	vmem_advance(vmp, &vmp->vm_rotor, NULL, &rel);
	kmem_mutex_exit(&vmp->vm_lock);
	vmem_release_span(vmp, &rel);
	vmem_release_idle(vmp);         /* and the spans it retained */

	kmem_mutex_enter(&vmp->vm_lock);
	while (vmp->vm_seg0.vs_anext != &vmp->vm_seg0)
		vmem_seg_destroy(vmp, vmp->vm_seg0.vs_anext);
	vmem_hash_fini(vmp);
	kmem_mutex_exit(&vmp->vm_lock);

	vmem_reserve_drain(vmp);
	kmem_cv_destroy(&vmp->vm_cv);
	kmem_mutex_destroy(&vmp->vm_lock);
	kmem_pages_free(vmp, arena_bytes());
}
