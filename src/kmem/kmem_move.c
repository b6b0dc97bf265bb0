/*
 * Move callbacks: the defragmenter (illumos's slab consolidator, 2008).
 *
 * A slab goes back to its arena only when every buffer in it is free, so a
 * program that frees a random 90 % of its objects gets almost nothing back:
 * nearly every slab keeps a survivor.  The allocator knows which slabs are
 * sparse but cannot move an object; the client can move one but does not
 * know which.  A client that can move its objects says so with
 * kmem_cache_set_move(); then kmem picks a live buffer old in a sparse slab
 * and a constructed buffer newbuf in a full one, and asks the client to
 * move old to newbuf (include/kmem/kmem.h lists the five answers; docs/kmem.md
 * is the long version).
 *
 * The policy, illumos's with the differences docs/kmem.md records:
 * - When.  The update pass (kmem_update_now(): the update thread, or a
 *   program's own call) looks at each movable cache; kmem_cache_move_now()
 *   does one at once.  Never from the lazy pass an allocation or a thread
 *   exit runs: that thread may hold the very client lock its callback
 *   would take.
 * - Which caches.  In the update pass, a fragmented one: at least
 *   KMEM_MOVE_MINSLABS slabs in use, more than one of them partial, and at
 *   least 1/8 of their buffers free.  On demand, any.
 * - Which slabs.  The partial slabs are first sorted, most allocated first
 *   (slabs the client pinned with NO before all), so that allocation fills
 *   the fullest and the sparsest sit at the end.  Candidates are taken from
 *   the end: in the update pass among the last KMEM_MOVE_SCAN_RANGE partial
 *   slabs, up to KMEM_MOVE_SLABS_PER_PASS of them, each reclaimable: not
 *   pinned, and with one buffer allocated or fewer than numer/8 of them,
 *   numer rising from 1 towards 7 while candidates are scarce and falling
 *   back while they are plentiful; on demand, every partial slab, pinned or
 *   not.
 * - Where to.  Each destination comes from the first slab with a free
 *   buffer, the fullest, never from a new slab, never from the candidate
 *   itself nor from one less allocated than it (kmem_slab_alloc_move()):
 *   when there is none, the two ends have met and the pass stops.
 * - The answers.  YES and DONT_NEED free old; every answer but YES frees
 *   newbuf; NO pins the slab (no more callbacks for it until it is full or
 *   empty, or a kmem_cache_move_now()); LATER moves on to the slab's other
 *   buffers and counts: the third LATER from a slab since its last move
 *   counts as a NO; DONT_KNOW takes old out of the depot if a full magazine
 *   there holds it (the "hunt"), so that it goes back to its slab.  A
 *   buffer in a thread's own magazines is not hunted: those belong to their
 *   threads, which touch them without a lock (kmem_cache_move_now() first
 *   empties the calling thread's and the depot).
 *
 * Safety.  While a pass is at work on a cache, cache_move_busy keeps every
 * slab of it out of the arena (kmem_slab.c), so old stays mapped and keeps
 * being either the client's object or kmem's free buffer, whatever other
 * threads do meanwhile: the client may read it to recognise it.  For the
 * same reason the buffers of a movable cache are not poisoned for
 * AddressSanitizer while free (kmem_fast.h), old is made readable for
 * memcheck before each callback, and they carry no free marks in the
 * object (the mark would overwrite the client's own recognition field):
 * only a cache with a constructor or destructor keeps its marks, in the
 * word after each object (kmem_cache.c), which the moves set and clear as
 * frees and allocations do.  Buffers freed
 * here bypass the magazines, which would keep the slab occupied.
 *
 * Locking: kmem_move_lock (rank KMEM_RANK_MOVE, below the cache list) makes
 * passes one at a time, across all caches, as illumos's single callback
 * thread does: a client never sees two of its callbacks at once.  It is
 * held across the callbacks, where no other kmem lock is held; the slab
 * lock is taken and dropped around each step.  kmem_cache_destroy() takes
 * it too (kmem_move_cache_leaving()), so a cache cannot be destroyed under
 * a pass, and a pass walks the cache list holding it.  So a callback must
 * not create or destroy caches, nor call kmem_cache_move_now().
 * The counters are written under kmem_move_lock, atomically, and read by
 * kmem_cache_stats() without it.
 */
#include "kmem_impl.h"

#include "base/lock_order.h"
#include "base/report.h"

/* illumos's kmem_frag_minslabs, kmem_frag_numer/denom, KMEM_VOID_FRACTION,
 * kmem_reclaim_scan_range and KMEM_DISBELIEF. */
#define KMEM_MOVE_MINSLABS      101
#define KMEM_MOVE_FRACTION      8
#define KMEM_MOVE_SCAN_RANGE    12
#define KMEM_MOVE_DISBELIEF     3
/* illumos moves one slab's objects per cache per 15 s; see docs/kmem.md. */
#define KMEM_MOVE_SLABS_PER_PASS 4

static kmem_mutex_t kmem_move_lock = KMEM_MUTEX_INITIALIZER(KMEM_RANK_MOVE);
/* Caches with a move callback: while none, the update pass skips this. */
static unsigned movable_caches;

static void
count(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

void
kmem_cache_set_move(kmem_cache_t *cp, kmem_move_callback_t *move)
{
	if (cp == NULL) {
		kmem_report("kmem_cache_set_move(NULL): the cache is NULL");
		return;
	}
	const char *why = NULL;
	if (move == NULL)
		why = "the callback is NULL";
	else if (cp->cache_flags & (KMC_NOTOUCH | KMC_QCACHE))
		why = "the cache's buffers may not be touched (KMC_NOTOUCH)";
	else if (cp->cache_flags & KMF_FIREWALL)
		why = "firewalled buffers are not in slabs (KMF_FIREWALL)";
	else if (cp->cache_flags & KMF_CLASS)
		why = "kmem_alloc()'s caches belong to the library";
	kmem_mutex_enter(&kmem_move_lock);
	kmem_mutex_enter(&cp->cache_slab_lock);
	if (why == NULL && cp->cache_move != NULL)
		why = "the cache has a move callback already";
	else if (why == NULL && cp->cache_slab_create != 0)
		why = "the cache has allocated already (set it first)";
	if (why == NULL) {
		/* No buffer exists yet: no fast path reads these now. */
		__atomic_store_n(&cp->cache_move, move, __ATOMIC_RELEASE);
		cp->cache_flags |= KMF_MOVE;
		if (cp->cache_mark_offset == 0)
			cp->cache_free_key = 0;
		cp->cache_move_numer = 1;
	}
	kmem_mutex_exit(&cp->cache_slab_lock);
	kmem_mutex_exit(&kmem_move_lock);
	if (why != NULL)
		kmem_report("kmem_cache_set_move(\"%s\"): %s", cp->cache_name,
		    why);
	else
		__atomic_fetch_add(&movable_caches, 1, __ATOMIC_RELAXED);
}

/* ---- the slab list, as the defragmenter sees it (slab_lock held) ---- */

/* Partial slabs in the order allocation should meet them. */
static bool
slab_before(const kmem_slab_t *a, const kmem_slab_t *b)
{
	if (a->slab_move_no != b->slab_move_no)
		return (a->slab_move_no > b->slab_move_no);
	return (a->slab_refcnt >= b->slab_refcnt);
}

/* Merge sort the chain of n slabs from head (slab_next, NULL-ended). */
static kmem_slab_t *
chain_sort(kmem_slab_t *head, size_t n)
{
	if (n < 2)
		return (head);
	kmem_slab_t *mid = head;
	for (size_t i = 1; i < n / 2; i++)
		mid = mid->slab_next;
	kmem_slab_t *second = mid->slab_next;
	mid->slab_next = NULL;
	kmem_slab_t *a = chain_sort(head, n / 2);
	kmem_slab_t *b = chain_sort(second, n - n / 2);
	kmem_slab_t anchor;
	kmem_slab_t *tail = &anchor;
	while (a != NULL && b != NULL) {
		kmem_slab_t **from = slab_before(a, b) ? &a : &b;
		tail->slab_next = *from;
		tail = *from;
		*from = (*from)->slab_next;
	}
	tail->slab_next = a != NULL ? a : b;
	return (anchor.slab_next);
}

/*
 * Sort the partial slabs (those from the free list's first to the first
 * empty one) into allocation order; returns how many there are.
 */
static size_t
sort_partial_slabs(kmem_cache_t *cp)
{
	kmem_slab_t *anchor = &cp->cache_slabs;
	kmem_slab_t *first = cp->cache_freelist;
	kmem_slab_t *after = first;
	size_t n = 0;
	for (; after != anchor && after->slab_refcnt != 0;
	    after = after->slab_next)
		n++;
	if (n < 2)
		return (n);
	kmem_slab_t *before = first->slab_prev;
	after->slab_prev->slab_next = NULL;
	kmem_slab_t *prev = before;
	for (kmem_slab_t *sp = chain_sort(first, n); sp != NULL;
	    sp = sp->slab_next) {
		sp->slab_prev = prev;
		prev->slab_next = sp;
		prev = sp;
	}
	prev->slab_next = after;
	after->slab_prev = prev;
	cp->cache_freelist = before->slab_next;
	return (n);
}

/* Is cp fragmented enough for the update pass to move (illumos's test)? */
static bool
cache_fragmented(const kmem_cache_t *cp, size_t partial)
{
	uint64_t empty = 0;
	for (const kmem_slab_t *sp = cp->cache_slabs.slab_prev;
	    sp != &cp->cache_slabs && sp->slab_refcnt == 0; sp = sp->slab_prev)
		empty++;
	uint64_t slabs = cp->cache_slab_create - cp->cache_slab_destroy - empty;
	uint64_t chunks = cp->cache_buf_total - empty * cp->cache_chunks;
	uint64_t allocated = cp->cache_slab_alloc - cp->cache_slab_free;
	uint64_t unused = chunks > allocated ? chunks - allocated : 0;
	return (slabs >= KMEM_MOVE_MINSLABS && partial > 1 &&
	    unused * KMEM_MOVE_FRACTION >= chunks);
}

static bool
slab_reclaimable(const kmem_cache_t *cp, const kmem_slab_t *sp, bool all)
{
	if (all)
		return (true);
	if (sp->slab_move_no)
		return (false);
	return (sp->slab_refcnt == 1 || (uint64_t)sp->slab_refcnt *
	    KMEM_MOVE_FRACTION < (uint64_t)cp->cache_chunks *
	    cp->cache_move_numer);
}

/*
 * The next slab to empty, walking back from sp: skipping the empty ones
 * and those this pass has seen, stopping at the first full one (the
 * partial slabs are all behind) or, in the update pass, after
 * KMEM_MOVE_SCAN_RANGE partial slabs looked at.  NULL when there is none.
 */
static kmem_slab_t *
next_candidate(kmem_cache_t *cp, kmem_slab_t *sp, bool all,
    unsigned *scanned)
{
	for (; sp != &cp->cache_slabs; sp = sp->slab_prev) {
		if (sp->slab_refcnt == 0 ||
		    sp->slab_move_pass == cp->cache_move_pass)
			continue;
		if (sp->slab_refcnt == cp->cache_chunks)
			return (NULL);
		if (!all && ++*scanned > KMEM_MOVE_SCAN_RANGE)
			return (NULL);
		if (slab_reclaimable(cp, sp, all))
			return (sp);
	}
	return (NULL);
}

/* Which of sp's buffers are allocated: a bit each in map. */
static void
slab_snapshot(const kmem_cache_t *cp, const kmem_slab_t *sp, uint64_t *map)
{
	unsigned words = (cp->cache_chunks + 63) / 64;
	for (unsigned w = 0; w < words; w++)
		map[w] = ~(uint64_t)0;
	const void *free_buf = sp->slab_head;
	while (free_buf != NULL) {
		uintptr_t addr;
		if (cp->cache_flags & KMF_HASH) {
			const kmem_bufctl_t *bcp = free_buf;
			addr = bcp->addr;
			free_buf = bcp->next;
		} else {
			addr = (uintptr_t)free_buf;
			free_buf = kmem_free_word((const char *)free_buf +
			    cp->cache_link_offset);
		}
		size_t i = (addr - sp->slab_first) / cp->cache_chunksize;
		map[i / 64] &= ~((uint64_t)1 << (i % 64));
	}
}

static bool
bit_set(const uint64_t *map, size_t i)
{
	return ((map[i / 64] >> (i % 64)) & 1);
}

/* ---- moving ---- */

/* Was sp emptied, by the free just made?  No lock held. */
static bool
slab_emptied(kmem_cache_t *cp, kmem_slab_t *sp)
{
	kmem_mutex_enter(&cp->cache_slab_lock);
	bool empty = sp->slab_refcnt == 0;
	kmem_mutex_exit(&cp->cache_slab_lock);
	if (empty)
		count(&cp->cache_move_slabs_freed);
	return (empty);
}

/* Pin sp: the client will not let one of its buffers move. */
static void
slab_pin(kmem_cache_t *cp, kmem_slab_t *sp)
{
	kmem_mutex_enter(&cp->cache_slab_lock);
	if (sp->slab_refcnt != 0 && sp->slab_refcnt != cp->cache_chunks)
		sp->slab_move_no = 1;
	kmem_mutex_exit(&cp->cache_slab_lock);
}

/*
 * What kmem does with the client's answer about old (moved to newbuf); true
 * if the defragmenter is done with old's slab sp.  *freed counts the
 * buffers it gave back to the slabs.
 */
static bool
move_answered(kmem_cache_t *cp, kmem_slab_t *sp, void *old, void *newbuf,
    kmem_cbrc_t answer, unsigned *freed)
{
	count(&cp->cache_move_callbacks);
	*freed = 1;
	switch (answer) {
	case KMEM_CBRC_YES:
		count(&cp->cache_move_yes);
		kmem_cache_move_release(cp, old);
		kmem_mutex_enter(&cp->cache_slab_lock);
		sp->slab_move_later = 0;
		kmem_mutex_exit(&cp->cache_slab_lock);
		return (slab_emptied(cp, sp));
	case KMEM_CBRC_DONT_NEED:
		count(&cp->cache_move_dont_need);
		kmem_cache_move_release(cp, newbuf);
		kmem_cache_move_release(cp, old);
		*freed = 2;
		return (slab_emptied(cp, sp));
	case KMEM_CBRC_NO:
		count(&cp->cache_move_no);
		kmem_cache_move_release(cp, newbuf);
		slab_pin(cp, sp);
		return (true);
	case KMEM_CBRC_LATER: {
		count(&cp->cache_move_later);
		kmem_cache_move_release(cp, newbuf);
		kmem_mutex_enter(&cp->cache_slab_lock);
		bool disbelieved =
		    ++sp->slab_move_later >= KMEM_MOVE_DISBELIEF;
		kmem_mutex_exit(&cp->cache_slab_lock);
		if (disbelieved)
			slab_pin(cp, sp);
		return (disbelieved);
	}
	case KMEM_CBRC_DONT_KNOW:
		count(&cp->cache_move_dont_know);
		kmem_cache_move_release(cp, newbuf);
		if (!kmem_depot_take(cp, old))
			return (false);
		count(&cp->cache_move_hunt_found);
		kmem_cache_free_to_slab(cp, old);       /* as a magazine's */
		*freed = 2;
		return (slab_emptied(cp, sp));
	}
	kmem_cache_move_release(cp, newbuf);
	slab_pin(cp, sp);
	kmem_report("kmem_cache_move(\"%s\"): the move callback answered %d "
	    "for %p, which is not a kmem_cbrc_t; taken as KMEM_CBRC_NO",
	    cp->cache_name, (int)answer, old);
	return (true);
}

/*
 * Ask the client to move every allocated buffer of sp, a partial slab;
 * map has room for a bit per buffer.  False when no destination is left
 * (the pass is over).
 */
static bool
move_slab(kmem_cache_t *cp, kmem_slab_t *sp, uint64_t *map)
{
	kmem_mutex_enter(&cp->cache_slab_lock);
	slab_snapshot(cp, sp, map);
	uint64_t frees = cp->cache_slab_free;
	kmem_mutex_exit(&cp->cache_slab_lock);

	for (unsigned i = 0; i < cp->cache_chunks; i++) {
		if (!bit_set(map, i))
			continue;
		kmem_mutex_enter(&cp->cache_slab_lock);
		bool done = sp->slab_refcnt == 0 || sp->slab_move_no;
		if (!done && cp->cache_slab_free != frees) {
			/* Buffers went back: ask about none of them. */
			slab_snapshot(cp, sp, map);
			frees = cp->cache_slab_free;
		}
		kmem_mutex_exit(&cp->cache_slab_lock);
		if (done)
			return (true);
		if (!bit_set(map, i))
			continue;

		void *old = (void *)(sp->slab_first + i * cp->cache_chunksize);
		void *newbuf = kmem_cache_move_dest(cp, sp);
		if (newbuf == NULL)
			return (false);
		/* memcheck took a freed buffer for a freed block: the callback
		 * may read it all the same (nothing in other builds). */
		kmem_unpoison(old, cp->cache_bufsize);
		kmem_cbrc_t answer = cp->cache_move(old, newbuf,
		    cp->cache_bufsize, cp->cache_private);
		unsigned freed;
		if (move_answered(cp, sp, old, newbuf, answer, &freed))
			return (true);
		/* Ours; any other (the client's own, in its callback, or
		 * another thread's) makes the next step look again. */
		frees += freed;
	}
	return (true);
}

/* The update pass found as many candidates as it sought, or too few. */
static void
adjust_threshold(kmem_cache_t *cp, unsigned found)
{
	if (found == KMEM_MOVE_SLABS_PER_PASS && cp->cache_move_numer > 1)
		cp->cache_move_numer--;
	else if (found * 2 < KMEM_MOVE_SLABS_PER_PASS &&
	    cp->cache_move_numer < KMEM_MOVE_FRACTION - 1)
		cp->cache_move_numer++;
}

/*
 * One pass over cp: every partial slab (all) or the update pass's few.
 * Returns the bytes of slabs given back.  kmem_move_lock held.
 */
static size_t
move_cache(kmem_cache_t *cp, bool all)
{
	size_t map_bytes = (cp->cache_chunks + 63) / 64 * sizeof (uint64_t);
	uint64_t *map = kmem_alloc(map_bytes, KM_NOSLEEP);
	if (map == NULL)
		return (0);

	kmem_mutex_enter(&cp->cache_slab_lock);
	size_t partial = sort_partial_slabs(cp);
	if (!all && !cache_fragmented(cp, partial)) {
		cp->cache_move_numer = 1;
		kmem_mutex_exit(&cp->cache_slab_lock);
		kmem_free(map, map_bytes);
		return (0);
	}
	cp->cache_move_busy = true;
	if (++cp->cache_move_pass == 0)
		cp->cache_move_pass = 1;        /* 0: a slab never looked at */
	kmem_slab_t *cursor = cp->cache_slabs.slab_prev;
	unsigned scanned = 0, found = 0;
	kmem_slab_t *sp;
	while ((all || found < KMEM_MOVE_SLABS_PER_PASS) &&
	    (sp = next_candidate(cp, cursor, all, &scanned)) != NULL) {
		cursor = sp->slab_prev;
		sp->slab_move_pass = cp->cache_move_pass;
		if (all)
			sp->slab_move_no = sp->slab_move_later = 0;
		found++;
		kmem_mutex_exit(&cp->cache_slab_lock);
		bool more = move_slab(cp, sp, map);
		kmem_mutex_enter(&cp->cache_slab_lock);
		if (!more)
			break;
	}
	cp->cache_move_busy = false;
	kmem_mutex_exit(&cp->cache_slab_lock);

	if (!all)
		adjust_threshold(cp, found);
	kmem_free(map, map_bytes);
	return (kmem_slab_reap(cp));
}

size_t
kmem_cache_move_now(kmem_cache_t *cp)
{
	if (cp == NULL) {
		kmem_report("kmem_cache_move_now(NULL): the cache is NULL");
		return (0);
	}
	if (cp->cache_move == NULL) {
		kmem_report("kmem_cache_move_now(\"%s\"): the cache has no move "
		    "callback (kmem_cache_set_move)", cp->cache_name);
		return (0);
	}
	/* Free buffers in the caller's magazines and the depot hold slabs
	 * just as live ones do: back to the slabs first. */
	kmem_cache_reap_now(cp);
	kmem_mutex_enter(&kmem_move_lock);
	size_t freed = move_cache(cp, true);
	kmem_mutex_exit(&kmem_move_lock);
	return (freed);
}

void
kmem_move_update(void)
{
	if (__atomic_load_n(&movable_caches, __ATOMIC_RELAXED) == 0 ||
	    !kmem_mutex_tryenter(&kmem_move_lock))
		return;
	/* No cache can be destroyed while this lock is held, so cp stays on
	 * the list between the steps. */
	kmem_cache_t *cp = &kmem_caches;
	for (;;) {
		kmem_mutex_enter(&kmem_caches_lock);
		do
			cp = cp->cache_list_next;
		while (cp != &kmem_caches && cp->cache_move == NULL);
		kmem_mutex_exit(&kmem_caches_lock);
		if (cp == &kmem_caches)
			break;
		(void) move_cache(cp, false);
	}
	kmem_mutex_exit(&kmem_move_lock);
}

void
kmem_move_cache_leaving(kmem_cache_t *cp)
{
	(void) cp;      /* not yet known to be a cache: not read */
	kmem_mutex_enter(&kmem_move_lock);
}

void
kmem_move_cache_gone(kmem_cache_t *cp)
{
	kmem_mutex_exit(&kmem_move_lock);
	if (cp != NULL && (cp->cache_flags & KMF_MOVE))
		__atomic_fetch_sub(&movable_caches, 1, __ATOMIC_RELAXED);
}

/*
 * In a fork() child: a pass another thread was running does not exist
 * there.  Its lock is made anew and its caches' slabs may go back again
 * (a destination it held is lost to the child).
 */
void
kmem_move_fork_child(void)
{
	kmem_mutex_init(&kmem_move_lock, KMEM_RANK_MOVE);
	for (kmem_cache_t *cp = kmem_caches.cache_list_next; cp != &kmem_caches;
	    cp = cp->cache_list_next) {
		if (cp->cache_move_busy)        /* no write, no page copied */
			cp->cache_move_busy = false;
	}
}
