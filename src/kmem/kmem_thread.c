/*
 * The per-thread layer: where user space keeps the "CPU caches" of the 2001
 * paper.  A kernel gives each CPU a loaded and a previous magazine per
 * cache and disables preemption around them; a process cannot, so each
 * thread gets them instead (docs/kmem.md records the measurements behind
 * this choice).  The thread reaches its own through kmem_self, an
 * initial-exec TLS pointer, so the fast path is a bounds check and an array
 * access: no lock, no atomic read-modify-write.
 *
 * A thread's slots live in one array indexed by cache->cache_index, grown
 * on the thread's slow path when a cache with a higher index is first
 * used.
 * kmem_self starts out pointing at kmem_no_thread, which has no slots, so
 * a thread's first call into any cache takes the slow path, which creates
 * its thread cache.
 *
 * A thread cache also records its thread's stack bounds (asked once, when
 * it is made, while kmem_self keeps any allocation this needs away from
 * the magazines), so that the leak detector can scan other threads' stacks;
 * 0 for unknown (the platform cannot say, or was asked from inside its own
 * query: kmem_thread_stack() in posix.c), and such a stack is not scanned.
 *
 * Memory held per thread is bounded by the magazines: at most two per cache
 * it has used, of the cache's magazine size.
 *
 * Other threads touch a thread's slots in three cases, all under the
 * thread cache's lock: a cache being destroyed takes its magazines back
 * (nobody may use that cache meanwhile, so the owner is not touching that
 * slot), statistics read the counters (which owners store with relaxed
 * atomic stores), and the owner itself swaps in a bigger array under the
 * lock.  The owner's slow paths exchange magazines under the lock too
 * (uncontended), so fork(), which takes every thread cache's lock, never
 * copies a slot halfway through an exchange.  When a thread exits, its magazines go back to their depots as they
 * are -- list operations only, no destructor runs there (a partly full
 * magazine goes to the full list with its count) -- and its counters are
 * added to the caches'.
 *
 * kmem_thread_caches_live() counts the thread caches on the list: the
 * update (kmem_update.c) starts its thread by default once two threads
 * allocate.
 *
 * Locking: kmem_threads_lock (the list of thread caches), then a thread
 * cache's lock, then depot locks.  A thread cache's own memory comes from
 * internal caches and the metadata arena, which have no magazines, so
 * growing one never recurses into this layer.
 */
#include "kmem_impl.h"

#include "base/lock_order.h"
#include "base/report.h"

/*
 * kmem_self's two stand-ins, neither with slots, so both send every call to
 * the slow path.  kmem_no_thread is a thread that has no thread cache yet;
 * its first slow path makes one.  kmem_no_magazines is a thread that must
 * not make one: it is making it now (what the C library allocates meanwhile,
 * such as pthread_setspecific()'s second-level array when we are malloc(),
 * must not recurse into making another), or it is exiting (a free() from a
 * later TLS destructor must not leave a thread cache nobody retires).  Its
 * calls go straight to the slab layer.
 */
static kmem_thread_cache_t kmem_no_thread;
static kmem_thread_cache_t kmem_no_magazines;
__thread kmem_thread_cache_t *kmem_self
    __attribute__((tls_model("initial-exec"))) = &kmem_no_thread;

kmem_mutex_t kmem_threads_lock = KMEM_MUTEX_INITIALIZER(KMEM_RANK_THREADS);
kmem_thread_cache_t kmem_threads = { .next = &kmem_threads,
	.prev = &kmem_threads };
/* How many thread caches are on the list; written under kmem_threads_lock. */
static unsigned threads_live;

/*
 * The cache at each index, so an exiting thread knows whose magazines its
 * slots hold.  Written under kmem_caches_lock, read with atomic loads.
 */
static kmem_cache_t *index_cache[KMEM_CACHES_MAX];

unsigned
kmem_index_get(kmem_cache_t *cp)
{
	KMEM_ASSERT(kmem_mutex_held(&kmem_caches_lock));
	for (unsigned i = 0; i < KMEM_CACHES_MAX; i++) {
		if (__atomic_load_n(&index_cache[i], __ATOMIC_RELAXED) == NULL) {
			__atomic_store_n(&index_cache[i], cp, __ATOMIC_RELEASE);
			return (i);
		}
	}
	return (KMEM_CACHES_MAX);
}

void
kmem_index_put(unsigned index)
{
	KMEM_ASSERT(kmem_mutex_held(&kmem_caches_lock));
	__atomic_store_n(&index_cache[index], NULL, __ATOMIC_RELEASE);
}

static void
slot_reset(kmem_slot_t *cc)
{
	__atomic_store_n(&cc->cc_rounds, -1, __ATOMIC_RELAXED);
	__atomic_store_n(&cc->cc_alloc, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&cc->cc_free, 0, __ATOMIC_RELAXED);
	cc->cc_loaded = cc->cc_ploaded = NULL;
	cc->cc_prounds = -1;
	cc->cc_magsize = 0;
}

static size_t
slots_bytes(unsigned nslots)
{
	return (p2_roundup(nslots * sizeof (kmem_slot_t), kmem_pagesize()));
}

/* Make tc's array hold at least want slots; false if out of memory. */
static bool
slots_grow(kmem_thread_cache_t *tc, unsigned want)
{
	unsigned nslots = tc->nslots * 2 > want ? tc->nslots * 2 : want;
	size_t bytes = slots_bytes(nslots);
	nslots = (unsigned)(bytes / sizeof (kmem_slot_t));
	kmem_slot_t *slots = vmem_alloc(kmem_metadata_arena(), bytes,
	    VM_NOSLEEP);
	if (slots == NULL)
		return (false);

	kmem_mutex_enter(&tc->lock);
	kmem_slot_t *old = tc->slots;
	unsigned old_n = tc->nslots;
	for (unsigned i = 0; i < nslots; i++) {
		if (i < old_n)
			slots[i] = old[i];
		else
			slot_reset(&slots[i]);
	}
	tc->slots = slots;
	tc->nslots = nslots;
	tc->slots_size = nslots * (unsigned)sizeof (kmem_slot_t);
	kmem_mutex_exit(&tc->lock);

	if (old != NULL)
		vmem_free(kmem_metadata_arena(), old, slots_bytes(old_n));
	return (true);
}

static kmem_thread_cache_t *
thread_cache_make(void)
{
	kmem_self = &kmem_no_magazines;
	kmem_thread_cache_t *tc = kmem_cache_alloc(kmem_thread_cache_cache,
	    KM_NOSLEEP);
	if (tc == NULL) {
		kmem_self = &kmem_no_thread;
		return (NULL);
	}
	*tc = (kmem_thread_cache_t){ 0 };
	if (!kmem_thread_stack(&tc->stack_lo, &tc->stack_hi))
		tc->stack_lo = tc->stack_hi = 0;
	kmem_mutex_init(&tc->lock, KMEM_RANK_THREAD_CACHE);
	if (!kmem_thread_exit_notify(tc)) {
		kmem_mutex_destroy(&tc->lock);
		kmem_cache_free(kmem_thread_cache_cache, tc);
		kmem_self = &kmem_no_thread;
		return (NULL);
	}
	kmem_mutex_enter(&kmem_threads_lock);
	tc->next = &kmem_threads;
	tc->prev = kmem_threads.prev;
	kmem_threads.prev->next = tc;
	kmem_threads.prev = tc;
	__atomic_store_n(&threads_live, threads_live + 1, __ATOMIC_RELAXED);
	kmem_mutex_exit(&kmem_threads_lock);
	kmem_self = tc;
	return (tc);
}

/*
 * Once per thread, with the asynchronous signals blocked: a handler that
 * allocated, or forked and exit()ed in the child, would find the thread
 * half registered (platform.h, kmem_signals_block()).
 */
static kmem_thread_cache_t *
thread_cache_create(void)
{
	kmem_signals_t signals;
	kmem_signals_block(&signals);
	kmem_thread_cache_t *tc = thread_cache_make();
	kmem_signals_restore(&signals);
	return (tc);
}

unsigned
kmem_thread_caches_live(void)
{
	return (__atomic_load_n(&threads_live, __ATOMIC_RELAXED));
}

/*
 * Before fork(): the forking thread gets its thread cache now, while it may
 * still call the C library freely, so that the child -- where only
 * async-signal-safe calls are safe, and the allocator behind malloc() may
 * keep a lock another thread held at the copy (AddressSanitizer's does) --
 * never asks for its stack bounds: pthread_getattr_np() allocates.  If
 * another thread is still setting kmem up, the fork waits for it here, so
 * that the cache can be made.
 */
void
kmem_thread_fork_prepare(void)
{
	if (!kmem_init_begun())
		return;
	kmem_init();
	if (kmem_self == &kmem_no_thread)
		(void) thread_cache_create();
}

void
kmem_thread_no_magazines(void)
{
	if (kmem_self == &kmem_no_thread)
		kmem_self = &kmem_no_magazines;
}

kmem_slot_t *
kmem_thread_slot(kmem_cache_t *cp)
{
	kmem_thread_cache_t *tc = kmem_self;
	if (cp->cache_index < tc->nslots)
		return (&tc->slots[cp->cache_index]);
	if (tc == &kmem_no_magazines)
		return (NULL);
	if (tc == &kmem_no_thread && (tc = thread_cache_create()) == NULL)
		return (NULL);
	if (!slots_grow(tc, cp->cache_index + 1))
		return (NULL);
	return (&tc->slots[cp->cache_index]);
}

/* Give the slot's magazines to cp's depot as they are; list ops only. */
void
kmem_thread_slot_to_depot(kmem_cache_t *cp, kmem_slot_t *cc)
{
	if (cc->cc_loaded != NULL)
		kmem_depot_free(cp, cc->cc_loaded, (unsigned)cc->cc_rounds);
	if (cc->cc_ploaded != NULL)
		kmem_depot_free(cp, cc->cc_ploaded, (unsigned)cc->cc_prounds);
	cc->cc_loaded = cc->cc_ploaded = NULL;
	__atomic_store_n(&cc->cc_rounds, -1, __ATOMIC_RELAXED);
	cc->cc_prounds = -1;
}

/* Empty a slot for good: magazines to the depot, counters to the cache. */
static void
slot_retire(kmem_cache_t *cp, kmem_slot_t *cc)
{
	kmem_thread_slot_to_depot(cp, cc);
	__atomic_fetch_add(&cp->cache_dead_alloc, cc->cc_alloc,
	    __ATOMIC_RELAXED);
	__atomic_fetch_add(&cp->cache_dead_free, cc->cc_free, __ATOMIC_RELAXED);
	slot_reset(cc);
}

void
kmem_thread_flush_cache(kmem_cache_t *cp)
{
	kmem_mutex_enter(&kmem_threads_lock);
	for (kmem_thread_cache_t *tc = kmem_threads.next; tc != &kmem_threads;
	    tc = tc->next) {
		kmem_mutex_enter(&tc->lock);
		if (cp->cache_index < tc->nslots)
			slot_retire(cp, &tc->slots[cp->cache_index]);
		kmem_mutex_exit(&tc->lock);
	}
	kmem_mutex_exit(&kmem_threads_lock);
}

void
kmem_thread_counts(kmem_cache_t *cp, uint64_t *alloc, uint64_t *free)
{
	*alloc = *free = 0;
	kmem_mutex_enter(&kmem_threads_lock);
	for (kmem_thread_cache_t *tc = kmem_threads.next; tc != &kmem_threads;
	    tc = tc->next) {
		kmem_mutex_enter(&tc->lock);
		if (cp->cache_index < tc->nslots) {
			kmem_slot_t *cc = &tc->slots[cp->cache_index];
			*alloc += __atomic_load_n(&cc->cc_alloc,
			    __ATOMIC_RELAXED);
			*free += __atomic_load_n(&cc->cc_free,
			    __ATOMIC_RELAXED);
		}
		kmem_mutex_exit(&tc->lock);
	}
	kmem_mutex_exit(&kmem_threads_lock);
}

/*
 * The calling thread's own slot, so no lock: its owner is the only one to
 * change it.  pool_put() asks, to catch an item put twice in a row.
 */
bool
kmem_cache_freed_last(kmem_cache_t *cp, const void *buf)
{
	kmem_thread_cache_t *tc = kmem_self;
	if (cp->cache_index >= tc->nslots)
		return (false);
	const kmem_slot_t *cc = &tc->slots[cp->cache_index];
	if (cc->cc_rounds > 0)
		return (kmem_magazine_top_is(cc->cc_loaded, cc->cc_rounds,
		    buf));
	return (cc->cc_prounds > 0 &&
	    kmem_magazine_top_is(cc->cc_ploaded, cc->cc_prounds, buf));
}

/* Does one of the first rounds rounds of mp hold buf? */
static bool
magazine_holds(const kmem_magazine_t *mp, int rounds, const void *buf)
{
	for (int i = 0; i < rounds; i++)
		if (__atomic_load_n(&mp->rounds[i], __ATOMIC_RELAXED) == buf)
			return (true);
	return (false);
}

/*
 * A slot's magazines change only under its thread cache's lock, which we
 * hold; its owner's fast paths change rounds and the rounds themselves
 * without it, with relaxed atomic stores, so they are read atomically.
 * A round the owner pushes or pops meanwhile may be seen or missed: a
 * double free racing with the first free in another thread may be missed.
 */
static bool
slot_holds(const kmem_slot_t *cc, const void *buf)
{
	int rounds = __atomic_load_n(&cc->cc_rounds, __ATOMIC_RELAXED);
	return ((cc->cc_loaded != NULL &&
	    magazine_holds(cc->cc_loaded, rounds, buf)) ||
	    (cc->cc_ploaded != NULL &&
	    magazine_holds(cc->cc_ploaded, cc->cc_prounds, buf)));
}

kmem_held_by_t
kmem_thread_magazines_hold(kmem_cache_t *cp, const void *buf)
{
	kmem_held_by_t held = KMEM_HELD_BY_NONE;
	kmem_mutex_enter(&kmem_threads_lock);
	for (kmem_thread_cache_t *tc = kmem_threads.next; tc != &kmem_threads &&
	    held == KMEM_HELD_BY_NONE; tc = tc->next) {
		kmem_mutex_enter(&tc->lock);
		if (cp->cache_index < tc->nslots &&
		    slot_holds(&tc->slots[cp->cache_index], buf))
			held = tc == kmem_self ? KMEM_HELD_BY_CALLER :
			    KMEM_HELD_BY_OTHER;
		kmem_mutex_exit(&tc->lock);
	}
	kmem_mutex_exit(&kmem_threads_lock);
	return (held);
}

/*
 * Retire every slot of tc, whose owner is gone (it exited, or it lived in
 * the parent of a forked child); kmem_threads_lock held, tc unlinked.
 */
static void
thread_cache_retire(kmem_thread_cache_t *tc)
{
	tc->prev->next = tc->next;
	tc->next->prev = tc->prev;
	__atomic_store_n(&threads_live, threads_live - 1, __ATOMIC_RELAXED);
	kmem_mutex_enter(&tc->lock);
	for (unsigned i = 0; i < tc->nslots && i < KMEM_CACHES_MAX; i++) {
		kmem_cache_t *cp = __atomic_load_n(&index_cache[i],
		    __ATOMIC_ACQUIRE);
		if (cp != NULL)
			slot_retire(cp, &tc->slots[i]);
	}
	kmem_mutex_exit(&tc->lock);
}

/* Free a retired thread cache; no lock held (this calls into vmem). */
static void
thread_cache_free(kmem_thread_cache_t *tc)
{
	kmem_mutex_destroy(&tc->lock);
	if (tc->slots != NULL)
		vmem_free(kmem_metadata_arena(), tc->slots,
		    slots_bytes(tc->nslots));
	kmem_cache_free(kmem_thread_cache_cache, tc);
}

/*
 * Called by the platform when a thread with a thread cache exits.  The
 * thread cache is retired under the list lock and its own, so a cache
 * destroyed meanwhile either finds the magazines still in the slot or
 * finds them in its depot.  Then the update hears of it (kmem_update.c):
 * a pass may be due, and what the thread left in the depots is what the
 * passes give back.
 */
void
kmem_thread_exiting(void *arg)
{
	kmem_thread_cache_t *tc = arg;
	if (kmem_self == tc)
		kmem_self = &kmem_no_magazines;
	kmem_mutex_enter(&kmem_threads_lock);
	thread_cache_retire(tc);
	kmem_mutex_exit(&kmem_threads_lock);
	thread_cache_free(tc);
	kmem_update_thread_exited();
}

/*
 * In a forked child: only the calling thread exists, so every other
 * thread cache is an orphan.  Their magazines go back to the depots.
 */
void
kmem_thread_fork_child(void)
{
	kmem_thread_cache_t *orphans = NULL;
	kmem_mutex_enter(&kmem_threads_lock);
	kmem_thread_cache_t *tc = kmem_threads.next;
	while (tc != &kmem_threads) {
		kmem_thread_cache_t *next = tc->next;
		if (tc != kmem_self) {
			thread_cache_retire(tc);
			tc->next = orphans;
			orphans = tc;
		}
		tc = next;
	}
	kmem_mutex_exit(&kmem_threads_lock);
	while (orphans != NULL) {
		tc = orphans;
		orphans = tc->next;
		thread_cache_free(tc);
	}
}
