/*
 * The slab layer (Bonwick 1994): each cache cuts slabs from its arena into
 * chunks of chunksize bytes and keeps them on one list, ordered
 *
 *	anchor -> full slabs -> partial slabs -> empty slabs -> anchor
 *
 * with cache->cache_freelist pointing at the first slab that has a free buffer
 * (the anchor when none has).  Allocation takes from that slab, so partial
 * slabs fill up before empty ones are touched and empty slabs stay whole,
 * ready to be reaped; a slab that gains a free buffer moves to the front
 * of the partial slabs, one that empties moves to the end.
 *
 * Two layouts:
 * - Small buffers (no KMF_HASH): the slab structure sits at the end of the
 *   slab, and each free buffer holds the address of the next free one at
 *   link_offset (near its end: the start of an object tends to be hot).
 *   A buffer's slab is found through the page map.
 * - Large buffers, and caches that may not touch their memory (KMF_HASH):
 *   the slab structure and one bufctl per buffer come from internal caches;
 *   free bufctls hang on their slab, allocated ones in the cache's hash,
 *   which is also what finds a freed buffer's slab.  In a KMC_NOTOUCH
 *   cache the hash holds buffers in magazines too, and a bufctl's cached
 *   says which of its buffers those are (kmem_slab_cache_buffer()).
 *
 * Coloring: the slack a slab cannot fill is put before its first buffer in
 * steps of a cache line (or the alignment, if larger), a different amount
 * in successive slabs, so the buffers of different slabs start at
 * different cache-line offsets.
 *
 * A cache keeps one empty slab, the one emptied last: when another slab
 * empties, the kept one goes back to the arena at once, where any cache
 * can use its pages.  One is enough to stop a cache that frees and
 * allocates across a slab boundary from making and destroying a slab
 * every time; more would hold memory other caches need (the magazines and
 * the depot above are where constructed buffers wait).  kmem_slab_reap()
 * gives back the kept one too (the reaper calls it; see kmem_update.c).
 *
 * Pages wholly free inside a slab still in use go back to the system as
 * their last buffer is freed (kmem_slab_purge.c, called under slab_lock).
 *
 * slab_bytes sums the slabs of every cache but vmem's quantum caches
 * (whose slabs hold other caches' slabs: counting both would count those
 * twice), changed atomically as slabs are made and destroyed; slab_peak
 * is its most since the last update pass, which the depots' ceiling
 * follows (kmem_depot.c): the peak, not the sum, so that a burst of frees,
 * whose trims destroy slabs, does not lower the ceiling under itself.
 * kmem's footprint (kmem_footprint.c) counts the same slabs.
 *
 * Free buffers are poisoned for AddressSanitizer and memcheck (poison.h):
 * a buffer is unpoisoned before its free link is read or written, and a
 * slab as a whole before its memory goes back to the arena.
 *
 * The defragmenter (kmem_move.c) takes its destinations through
 * kmem_slab_alloc_move(), and while it is at work (cache_move_busy) no slab
 * goes back to the arena: the buffers it asks the client about stay
 * mapped, whatever happens to them meanwhile.  The slabs that empty wait
 * at the end of the list until it reaps them.
 *
 * Invariants: slabs before freelist are full, slabs from it on have a free
 * buffer, partial ones before the empty one (at most one, more while the
 * defragmenter is at work); refcnt counts
 * allocated buffers (with clients or in magazines); buf_total counts the
 * chunks of all slabs; only a KMC_NOTOUCH cache's bufctls are ever marked
 * cached, and a bufctl leaves its slab marked not cached.
 * Locking: slab_lock protects the list, the hash and the bufctls' cached;
 * it is dropped while a slab is created or destroyed, because that calls
 * into vmem and the internal caches.
 */
#include "kmem_impl.h"

static uint64_t slab_bytes;
static uint64_t slab_peak;      /* the most since kmem_slab_peak_reset() */

/* A slab of cp was made (made) or destroyed. */
static void
slab_bytes_add(const kmem_cache_t *cp, bool made)
{
	if (cp->cache_flags & KMC_QCACHE)
		return;
	if (!made) {
		__atomic_sub_fetch(&slab_bytes, cp->cache_slabsize,
		    __ATOMIC_RELAXED);
		kmem_footprint_sub(cp->cache_slabsize);
		return;
	}
	kmem_footprint_add(cp->cache_slabsize);
	uint64_t now = __atomic_add_fetch(&slab_bytes, cp->cache_slabsize,
	    __ATOMIC_RELAXED);
	uint64_t peak = __atomic_load_n(&slab_peak, __ATOMIC_RELAXED);
	while (now > peak && !__atomic_compare_exchange_n(&slab_peak, &peak,
	    now, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		continue;
}

uint64_t
kmem_slab_peak(void)
{
	return (__atomic_load_n(&slab_peak, __ATOMIC_RELAXED));
}

void
kmem_slab_peak_reset(void)
{
	__atomic_store_n(&slab_peak, __atomic_load_n(&slab_bytes,
	    __ATOMIC_RELAXED), __ATOMIC_RELAXED);
}

#include "base/report.h"
#include "vmem/vmem_impl.h"

void
kmem_slab_init(kmem_cache_t *cp)
{
	cp->cache_slabs.slab_next = cp->cache_slabs.slab_prev =
	    &cp->cache_slabs;
	cp->cache_freelist = &cp->cache_slabs;
	cp->cache_color = cp->cache_mincolor;
	if (cp->cache_flags & KMF_HASH)
		kmem_hash_init(&cp->cache_hash, cp->cache_chunksize);
	kmem_slab_purge_init(cp);
}

static void
slab_unlink(kmem_slab_t *sp)
{
	sp->slab_prev->slab_next = sp->slab_next;
	sp->slab_next->slab_prev = sp->slab_prev;
}

static void
slab_link_before(kmem_slab_t *next, kmem_slab_t *sp)
{
	sp->slab_next = next;
	sp->slab_prev = next->slab_prev;
	next->slab_prev->slab_next = sp;
	next->slab_prev = sp;
}

/* A slab left the partial slabs: what the defragmenter knew of it goes. */
static void
slab_move_forget(kmem_slab_t *sp)
{
	sp->slab_move_no = 0;
	sp->slab_move_later = 0;
}

/* The color for the next slab, advanced (slab_lock held). */
static size_t
slab_next_color(kmem_cache_t *cp)
{
	size_t color = cp->cache_color;
	size_t step = cp->cache_align > KMEM_COLOR_STEP ? cp->cache_align :
	    KMEM_COLOR_STEP;
	cp->cache_color = color + step > cp->cache_maxcolor ?
	    cp->cache_mincolor : color + step;
	return (color);
}

static void
slab_free_bufctls(kmem_bufctl_t *bcp)
{
	while (bcp != NULL) {
		kmem_bufctl_t *next = bcp->next;
		kmem_cache_free(kmem_bufctl_cache, bcp);
		bcp = next;
	}
}

/* Make a slab's memory clean for whoever its arena gives it to next. */
static void
slab_unpoison(const kmem_cache_t *cp, uintptr_t base)
{
#if defined(KMEM_ASAN) || defined(KMEM_VALGRIND)
	if (!(cp->cache_flags & KMC_NOTOUCH))
		kmem_unpoison((void *)base, cp->cache_slabsize);
#endif
	(void) cp;
	(void) base;
}

/* Give a slab's memory back to the arena. */
static void
slab_give_back(kmem_cache_t *cp, void *mem)
{
	if (cp->cache_flags & KMC_QCACHE)
		vmem_qcache_slab_free(cp->cache_arena, mem);
	else
		vmem_free(cp->cache_arena, mem, cp->cache_slabsize);
}

/* A new slab with all its buffers free, or NULL; no lock held. */
static kmem_slab_t *
slab_create(kmem_cache_t *cp, size_t color, int kmflag)
{
	void *mem = (cp->cache_flags & KMC_QCACHE) ?
	    vmem_qcache_slab_alloc(cp->cache_arena, kmflag & KM_VMFLAGS) :
	    vmem_alloc(cp->cache_arena, cp->cache_slabsize,
	    kmflag & KM_VMFLAGS);
	if (mem == NULL)
		return (NULL);
	uintptr_t base = (uintptr_t)mem;

	kmem_slab_t *sp;
	if (cp->cache_flags & KMF_HASH)
		sp = kmem_cache_alloc(kmem_slab_cache, kmflag);
	else
		sp =
		    (kmem_slab_t *)(base + cp->cache_slabsize -
		    sizeof (kmem_slab_t));
	if (sp == NULL)
		goto fail_slab;
	*sp = (kmem_slab_t){ .slab_cache = cp, .slab_base = base,
	    .slab_first = base + color };

	/* Free lists in address order, so a fresh slab fills from its start. */
	for (unsigned i = cp->cache_chunks; i-- > 0;) {
		uintptr_t buf = sp->slab_first + i * cp->cache_chunksize;
		if (cp->cache_flags & KMF_HASH) {
			kmem_bufctl_t *bcp = kmem_cache_alloc(kmem_bufctl_cache,
			    kmflag);
			if (bcp == NULL)
				goto fail_bufctls;
			*bcp = (kmem_bufctl_t){ .next = sp->slab_head,
			    .addr = buf, .slab = sp };
			sp->slab_head = bcp;
		} else {
			*(void **)(buf + cp->cache_link_offset) =
			    sp->slab_head;
			sp->slab_head = (void *)buf;
		}
		if (cp->cache_flags & KMF_BUFTAG)
			kmem_buftag_init(cp, (void *)buf);
		kmem_buffer_poison(cp, (void *)buf);
	}

	if ((cp->cache_flags & KMF_PAGEMAP) &&
	    !kmem_pagemap_insert(base, cp->cache_slabsize, sp))
		goto fail_bufctls;
	return (sp);

fail_bufctls:
	slab_unpoison(cp, base);
	if (cp->cache_flags & KMF_HASH) {
		slab_free_bufctls(sp->slab_head);
		kmem_cache_free(kmem_slab_cache, sp);
	}
fail_slab:
	slab_give_back(cp, mem);
	return (NULL);
}

/* Give an unlinked slab, all of whose buffers are free, back; no lock. */
static void
slab_destroy(kmem_cache_t *cp, kmem_slab_t *sp)
{
	void *mem = (void *)sp->slab_base;
	slab_unpoison(cp, sp->slab_base);
	if (cp->cache_flags & KMF_PAGEMAP)
		kmem_pagemap_remove(sp->slab_base, cp->cache_slabsize);
	if (cp->cache_flags & KMF_HASH) {
		slab_free_bufctls(sp->slab_head);
		kmem_cache_free(kmem_slab_cache, sp);
	}
	slab_give_back(cp, mem);
}

/* Take a free buffer of sp, the first slab with one (slab_lock held). */
static void *
slab_take(kmem_cache_t *cp, kmem_slab_t *sp)
{
	void *buf;
	if (cp->cache_flags & KMF_HASH) {
		kmem_bufctl_t *bcp = sp->slab_head;
		sp->slab_head = bcp->next;
		bcp->cached = false;
		kmem_hash_insert(&cp->cache_hash, bcp);
		buf = (void *)bcp->addr;
		kmem_buffer_unpoison(cp, buf);
		if (sp->slab_purged != 0)
			kmem_slab_purge_refresh(cp, sp, bcp->addr);
	} else {
		buf = sp->slab_head;
		kmem_buffer_unpoison(cp, buf);
		sp->slab_head =
		    *(void **)((uintptr_t)buf + cp->cache_link_offset);
	}
	uint64_t index = kmem_slab_index(cp, sp, buf);
	if (index >= sp->slab_handed)
		__atomic_store_n(&sp->slab_handed, (unsigned)index + 1,
		    __ATOMIC_RELAXED);      /* the free paths read it unlocked */
	if (++sp->slab_refcnt == cp->cache_chunks) {
		cp->cache_freelist = sp->slab_next;
		slab_move_forget(sp);
	}
	return (buf);
}

/*
 * Take up to n buffers, in slab order, into bufs; returns how many.  A new
 * slab is made only when no slab has a free buffer and none was taken yet,
 * so a batch never grows the cache just to be topped up.
 */
unsigned
kmem_slab_alloc_many(kmem_cache_t *cp, void **bufs, unsigned n, int kmflag)
{
	unsigned got = 0;
	kmem_mutex_enter(&cp->cache_slab_lock);
	kmem_slab_t *sp = cp->cache_freelist;
	if (sp == &cp->cache_slabs) {
		size_t color = slab_next_color(cp);
		kmem_mutex_exit(&cp->cache_slab_lock);
		sp = slab_create(cp, color, kmflag);
		if (sp == NULL)
			return (0);
		kmem_mutex_enter(&cp->cache_slab_lock);
		slab_link_before(&cp->cache_slabs, sp);
		if (cp->cache_freelist == &cp->cache_slabs)
			cp->cache_freelist = sp;
		cp->cache_slab_create++;
		slab_bytes_add(cp, true);
		cp->cache_buf_total += cp->cache_chunks;
		if (cp->cache_buf_total > cp->cache_buf_max)
			cp->cache_buf_max = cp->cache_buf_total;
	}

	while (got < n && (sp = cp->cache_freelist) != &cp->cache_slabs)
		bufs[got++] = slab_take(cp, sp);
	cp->cache_slab_alloc += got;
	if (cp->cache_flags & KMC_QCACHE)
		kmem_slab_purge_account(cp);
	kmem_mutex_exit(&cp->cache_slab_lock);
	return (got);
}

void *
kmem_slab_alloc_move(kmem_cache_t *cp, const kmem_slab_t *avoid)
{
	void *buf = NULL;
	kmem_mutex_enter(&cp->cache_slab_lock);
	kmem_slab_t *sp = cp->cache_freelist;
	if (sp != &cp->cache_slabs && sp != avoid && sp->slab_refcnt != 0 &&
	    sp->slab_refcnt >= avoid->slab_refcnt) {
		buf = slab_take(cp, sp);
		cp->cache_slab_alloc++;
	}
	kmem_mutex_exit(&cp->cache_slab_lock);
	return (buf);
}

void *
kmem_slab_alloc(kmem_cache_t *cp, int kmflag)
{
	void *buf;
	return (kmem_slab_alloc_many(cp, &buf, 1, kmflag) == 1 ? buf : NULL);
}

void
kmem_slab_refuse(kmem_cache_t *cp, void *buf)
{
	kmem_report("kmem_cache_free(\"%s\", %p): not a buffer allocated from "
	    "this cache (a double free, a buffer of another cache, or never "
	    "allocated)", cp->cache_name, buf);
}

/*
 * Would kmem_slab_free() take buf?  Only a hash cache can say no here (the
 * page map vouched for the others); asking first lets a bad free be refused
 * before a destructor runs on it or a debug tag is marked free.
 */
bool
kmem_slab_accepts(kmem_cache_t *cp, void *buf)
{
	if (!(cp->cache_flags & KMF_HASH))
		return (true);
	kmem_mutex_enter(&cp->cache_slab_lock);
	bool known = kmem_hash_contains(&cp->cache_hash, (uintptr_t)buf);
	kmem_mutex_exit(&cp->cache_slab_lock);
	if (!known)
		kmem_slab_refuse(cp, buf);
	return (known);
}

kmem_buf_state_t
kmem_slab_cache_buffer(kmem_cache_t *cp, void *buf)
{
	kmem_buf_state_t state = KMEM_BUF_NONE;
	kmem_mutex_enter(&cp->cache_slab_lock);
	kmem_bufctl_t *bcp = kmem_hash_find(&cp->cache_hash, (uintptr_t)buf);
	if (bcp != NULL && bcp->cached) {
		state = KMEM_BUF_CACHED;
	} else if (bcp != NULL) {
		bcp->cached = true;
		state = KMEM_BUF_ALLOCATED;
	}
	kmem_mutex_exit(&cp->cache_slab_lock);
	return (state);
}

void
kmem_slab_set_cached(kmem_cache_t *cp, void *const *bufs, unsigned n)
{
	kmem_mutex_enter(&cp->cache_slab_lock);
	for (unsigned i = 0; i < n; i++) {
		kmem_bufctl_t *bcp = kmem_hash_find(&cp->cache_hash,
		    (uintptr_t)bufs[i]);
		KMEM_ASSERT(bcp != NULL && !bcp->cached);
		bcp->cached = true;
	}
	kmem_mutex_exit(&cp->cache_slab_lock);
}

void
kmem_slab_set_held(kmem_cache_t *cp, void *buf)
{
	kmem_mutex_enter(&cp->cache_slab_lock);
	kmem_bufctl_t *bcp = kmem_hash_find(&cp->cache_hash, (uintptr_t)buf);
	KMEM_ASSERT(bcp != NULL);
	bcp->cached = false;
	kmem_mutex_exit(&cp->cache_slab_lock);
}

/* What the slab sp, which holds addr, knows of it (slab_lock held). */
static kmem_buf_state_t
slab_describe(kmem_cache_t *cp, kmem_slab_t *sp, uintptr_t addr,
    uintptr_t *start, uintptr_t *end)
{
	if (addr < sp->slab_first ||
	    addr - sp->slab_first >= cp->cache_slab_span) {
		*start = sp->slab_base;      /* colour slack or the tail */
		*end = sp->slab_base + cp->cache_slabsize;
		return (KMEM_BUF_INSIDE);
	}
	uintptr_t buf = sp->slab_first + (addr - sp->slab_first) /
	    cp->cache_chunksize * cp->cache_chunksize;
	kmem_bufctl_t *bcp = kmem_hash_find(&cp->cache_hash, buf);
	if (bcp == NULL)
		return (KMEM_BUF_FREE);
	if (bcp->cached)
		return (KMEM_BUF_CACHED);
	if (buf == addr)
		return (KMEM_BUF_ALLOCATED);
	*start = buf;
	*end = buf + cp->cache_bufsize;
	return (KMEM_BUF_INSIDE);
}

kmem_buf_state_t
kmem_slab_describe(kmem_cache_t *cp, uintptr_t addr, uintptr_t *start,
    uintptr_t *end)
{
	kmem_buf_state_t state = KMEM_BUF_NONE;
	KMEM_ASSERT(cp->cache_flags & KMF_HASH);
	kmem_mutex_enter(&cp->cache_slab_lock);
	for (kmem_slab_t *sp = cp->cache_slabs.slab_next;
	    sp != &cp->cache_slabs;
	    sp = sp->slab_next) {
		if (addr - sp->slab_base < cp->cache_slabsize) {
			state = slab_describe(cp, sp, addr, start, end);
			break;
		}
	}
	kmem_mutex_exit(&cp->cache_slab_lock);
	return (state);
}

/* Is buf on its slab's free list (slab_lock held)?  Small slabs: walk it. */
static bool
slab_list_holds(const kmem_cache_t *cp, const kmem_slab_t *sp, const void *buf)
{
	for (const void *f = sp->slab_head; f != NULL;
	    f = kmem_free_word((const char *)f + cp->cache_link_offset))
		if (f == buf)
			return (true);
	return (false);
}

bool
kmem_slab_buffer_free(kmem_cache_t *cp, const void *buf)
{
	const kmem_slab_t *sp = kmem_pagemap_find((uintptr_t)buf);
	kmem_mutex_enter(&cp->cache_slab_lock);
	bool is_free = (cp->cache_flags & KMF_HASH) ?
	    !kmem_hash_contains(&cp->cache_hash, (uintptr_t)buf) :
	    sp != NULL && sp->slab_cache == cp && slab_list_holds(cp, sp, buf);
	kmem_mutex_exit(&cp->cache_slab_lock);
	return (is_free);
}

void
kmem_slab_free(kmem_cache_t *cp, void *buf)
{
	kmem_slab_t *sp;
	kmem_mutex_enter(&cp->cache_slab_lock);
	if (cp->cache_flags & KMF_HASH) {
		kmem_bufctl_t *bcp =
		    kmem_hash_remove(&cp->cache_hash, (uintptr_t)buf);
		if (bcp == NULL) {
			kmem_mutex_exit(&cp->cache_slab_lock);
			kmem_slab_refuse(cp, buf);
			return;
		}
		sp = bcp->slab;
		bcp->next = sp->slab_head;
		sp->slab_head = bcp;
	} else {
		sp = kmem_pagemap_find((uintptr_t)buf);
		KMEM_ASSERT(sp != NULL && sp->slab_cache == cp);
		kmem_buffer_unpoison(cp, buf);  /* it may come from a magazine */
		*(void **)((uintptr_t)buf + cp->cache_link_offset) =
		    sp->slab_head;
		sp->slab_head = buf;
	}
	kmem_buffer_poison(cp, buf);

	bool was_full = sp->slab_refcnt == cp->cache_chunks;
	kmem_slab_t *victim = NULL;
	if (--sp->slab_refcnt == 0) {
		/* Empty: to the end, and the one kept empty before goes
		 * (unless the defragmenter is at work: kmem_move.c). */
		slab_move_forget(sp);
		if (cp->cache_freelist == sp)
			cp->cache_freelist = sp->slab_next;
		slab_unlink(sp);
		kmem_slab_t *kept = cp->cache_slabs.slab_prev;
		if (kept != &cp->cache_slabs && kept->slab_refcnt == 0 &&
		    !cp->cache_move_busy) {
			if (cp->cache_freelist == kept)
				cp->cache_freelist = &cp->cache_slabs;
			slab_unlink(kept);
			kmem_slab_purge_forget(cp, kept);
			cp->cache_buf_total -= cp->cache_chunks;
			cp->cache_slab_destroy++;
			slab_bytes_add(cp, false);
			victim = kept;
		}
		slab_link_before(&cp->cache_slabs, sp);
		if (cp->cache_freelist == &cp->cache_slabs)
			cp->cache_freelist = sp;
	} else {
		if (was_full) {
			/* Partial: to the front of the partial slabs. */
			slab_unlink(sp);
			slab_link_before(cp->cache_freelist, sp);
			cp->cache_freelist = sp;
		}
		kmem_slab_purge_freed(cp, sp, (uintptr_t)buf);
	}
	cp->cache_slab_free++;
	kmem_mutex_exit(&cp->cache_slab_lock);
	if (victim != NULL)
		slab_destroy(cp, victim);
}

/* Take the empty slabs off the list (slab_lock held); returns them. */
static kmem_slab_t *
slab_take_empty(kmem_cache_t *cp)
{
	kmem_slab_t *taken = NULL;
	kmem_slab_t *sp;
	if (cp->cache_move_busy)
		return (NULL);  /* the defragmenter reaps when it is done */
	while ((sp = cp->cache_slabs.slab_prev) != &cp->cache_slabs &&
	    sp->slab_refcnt == 0) {
		if (cp->cache_freelist == sp)
			cp->cache_freelist = &cp->cache_slabs;
		slab_unlink(sp);
		kmem_slab_purge_forget(cp, sp);
		cp->cache_buf_total -= cp->cache_chunks;
		cp->cache_slab_destroy++;
		slab_bytes_add(cp, false);
		sp->slab_next = taken;
		taken = sp;
	}
	return (taken);
}

size_t
kmem_slab_reap(kmem_cache_t *cp)
{
	kmem_mutex_enter(&cp->cache_slab_lock);
	kmem_slab_t *sp = slab_take_empty(cp);
	kmem_mutex_exit(&cp->cache_slab_lock);

	size_t freed = 0;
	while (sp != NULL) {
		kmem_slab_t *next = sp->slab_next;
		slab_destroy(cp, sp);
		freed += cp->cache_slabsize;
		sp = next;
	}
	return (freed);
}

/*
 * For kmem_cache_destroy: give back the empty slabs and forget the others,
 * whose buffers were never freed; their memory stays allocated in the
 * arena, so nothing someone may still use is handed out again.  Returns
 * how many buffers were never freed.
 */
uint64_t
kmem_slab_destroy_all(kmem_cache_t *cp)
{
	kmem_slab_reap(cp);
	uint64_t leaked = 0;
	kmem_mutex_enter(&cp->cache_slab_lock);
	while (cp->cache_slabs.slab_next != &cp->cache_slabs) {
		kmem_slab_t *sp = cp->cache_slabs.slab_next;
		slab_unlink(sp);
		kmem_slab_purge_forget(cp, sp);
		leaked += sp->slab_refcnt;
		if (cp->cache_flags & KMF_PAGEMAP)
			kmem_pagemap_remove(sp->slab_base, cp->cache_slabsize);
	}
	cp->cache_freelist = &cp->cache_slabs;
	if (cp->cache_flags & KMF_HASH)
		kmem_hash_fini(&cp->cache_hash);
	kmem_mutex_exit(&cp->cache_slab_lock);
	return (leaked);
}

/* ---- the slabs as the other layers see them (kmem_query.h) ---- */

/* The free buffers of sp to fn (slab_lock held). */
static void
slab_walk_free(kmem_cache_t *cp, const kmem_slab_t *sp,
    void (*fn)(void *arg, void *buf, size_t chunk_size), void *arg)
{
	if (cp->cache_flags & KMF_HASH) {
		for (const kmem_bufctl_t *bcp = sp->slab_head; bcp != NULL;
		    bcp = bcp->next)
			fn(arg, (void *)bcp->addr, cp->cache_chunksize);
		return;
	}
	for (void *buf = sp->slab_head; buf != NULL;
	    buf = kmem_free_word((char *)buf + cp->cache_link_offset))
		fn(arg, buf, cp->cache_chunksize);
}

void
kmem_cache_walk_slabs(kmem_cache_t *cp,
    void (*slab_fn)(void *arg, const kmem_slab_info_t *slab),
    void (*free_fn)(void *arg, void *buf, size_t chunk_size), void *arg)
{
	size_t outside = (cp->cache_flags & KMF_HASH) ? sizeof (kmem_slab_t) :
	    0;
	size_t per_chunk = (cp->cache_flags & KMF_HASH) ?
	    sizeof (kmem_bufctl_t) : 0;
	kmem_mutex_enter(&cp->cache_slab_lock);
	for (kmem_slab_t *sp = cp->cache_slabs.slab_next;
	    sp != &cp->cache_slabs;
	    sp = sp->slab_next) {
		kmem_slab_info_t info = { .base = sp->slab_base,
			.size = cp->cache_slabsize, .first = sp->slab_first,
			.chunk_size = cp->cache_chunksize,
			    .chunks = cp->cache_chunks,
			.allocated = sp->slab_refcnt,
			.metadata = outside + cp->cache_chunks * per_chunk };
		slab_fn(arg, &info);
		if (free_fn != NULL)
			slab_walk_free(cp, sp, free_fn, arg);
	}
	kmem_mutex_exit(&cp->cache_slab_lock);
}

size_t
kmem_cache_metadata_bytes(kmem_cache_t *cp)
{
	size_t bytes = sizeof (kmem_cache_t);
	kmem_mutex_enter(&cp->cache_slab_lock);
	if (cp->cache_flags & KMF_HASH)
		bytes += (cp->cache_hash.mask + 1) * sizeof (kmem_bufctl_t *);
	kmem_mutex_exit(&cp->cache_slab_lock);
	return (bytes);
}

/* Empty slabs sit at the end of the list. */
uint64_t
kmem_cache_empty_slabs(kmem_cache_t *cp)
{
	uint64_t empty = 0;
	kmem_mutex_enter(&cp->cache_slab_lock);
	for (const kmem_slab_t *sp = cp->cache_slabs.slab_prev;
	    sp != &cp->cache_slabs &&
	    sp->slab_refcnt == 0; sp = sp->slab_prev)
		empty++;
	kmem_mutex_exit(&cp->cache_slab_lock);
	return (empty);
}

bool
kmem_cache_knows(kmem_cache_t *cp, const void *buf)
{
	if (cp->cache_flags & KMF_PAGEMAP)
		return (kmem_cache_owns(cp, buf));
	kmem_mutex_enter(&cp->cache_slab_lock);
	bool known = kmem_hash_contains(&cp->cache_hash, (uintptr_t)buf);
	kmem_mutex_exit(&cp->cache_slab_lock);
	return (known);
}

kmem_cache_t *
kmem_cache_of(const void *addr)
{
	const kmem_slab_t *sp = kmem_pagemap_find((uintptr_t)addr);
	return (sp != NULL ? sp->slab_cache : NULL);
}
