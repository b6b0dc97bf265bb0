/*
 * Maintenance: the periodic update and reaping.
 *
 * Every update interval (15 s unless kmem_update_interval_set() says
 * otherwise) each cache:
 * - closes its depot's working-set interval, destroying magazines of an
 *   old size left by exited threads;
 * - grows its magazines if the depot lock was contended (kmem_depot.c);
 * - gives back what sat unused for a whole interval: depot magazines
 *   beyond the working set, then the empty slabs;
 * and then the free large-buffer spans kept for reuse go back (kmem_init.c).  Memory thus drains back
 *   to the arenas a working set at a time instead of being dropped at once
 *   (page faults are expensive: docs/kmem.md).
 *
 * The update runs lazily by default: a thread's slow path calls
 * kmem_update_maybe() every 64th time, which runs the pass if the interval
 * has passed and nobody else is running it.  kmem_update_thread(1) starts a
 * background thread that runs it on the clock instead.  Neither ever runs on
 * a fast path.
 *
 * Reaping on demand: kmem_reap() runs every cache's reclaim callback and
 * gives back everything beyond the working sets; kmem_cache_reap_now()
 * gives back all that one cache holds in its depot and empty slabs, plus
 * the calling thread's own magazines.  When an arena runs dry, the slab
 * layer and vmem call kmem_reap_soon(), which reaps everything, at most
 * once per KMEM_REAP_SPACING and never waiting for a pass already running.
 *
 * Locking: a pass holds kmem_caches_lock, so caches cannot be destroyed
 * under it (callbacks and destructors must not create or destroy caches).
 * kmem_update_lock guards the thread's state and is never held during a pass.
 * After a pass, with no lock held, kmem_update_done_hook (if set) is called:
 * the statistics publisher (stats_publish.c) sets it to wake its thread.
 */
#include "kmem_impl.h"

#include "lock_order.h"
#include "report.h"

#define KMEM_UPDATE_INTERVAL    (15ull * 1000 * 1000 * 1000)
#define KMEM_REAP_SPACING       (100ull * 1000 * 1000)

static uint64_t update_interval = KMEM_UPDATE_INTERVAL;
static uint64_t next_update;            /* clock time of the next pass */
static uint64_t next_auto_reap;

kmem_mutex_t kmem_update_lock = KMEM_MUTEX_INITIALIZER(KMEM_RANK_UPDATE);
static kmem_cv_t update_cv = KMEM_CV_INITIALIZER;
static bool thread_wanted;              /* kmem_update_lock */
static bool thread_running;             /* kmem_update_lock */

/* What a pass does to one cache. */
static void
cache_update(kmem_cache_t *cp)
{
	kmem_depot_ws_update(cp);
	kmem_depot_resize_check(cp);
	kmem_depot_ws_reap(cp);
	kmem_slab_reap(cp);
}

/* The pass itself; kmem_caches_lock held. */
void (*kmem_update_done_hook)(void);

/* After a pass, with no lock held: tell the hook (stats_publish.c). */
static void
update_done(void)
{
	void (*hook)(void) = __atomic_load_n(&kmem_update_done_hook,
	    __ATOMIC_ACQUIRE);
	if (hook != NULL)
		hook();
}

static void
update_pass(void)
{
	for (kmem_cache_t *cp = kmem_caches.list_next; cp != &kmem_caches;
	    cp = cp->list_next)
		cache_update(cp);
	kmem_release_idle();
	__atomic_store_n(&next_update, kmem_clock_ns() + update_interval,
	    __ATOMIC_RELAXED);
}

void
kmem_update_now(void)
{
	kmem_mutex_enter(&kmem_caches_lock);
	update_pass();
	kmem_mutex_exit(&kmem_caches_lock);
	update_done();
}

void
kmem_update_maybe(void)
{
	if (__atomic_load_n(&thread_running, __ATOMIC_RELAXED) ||
	    kmem_clock_ns() < __atomic_load_n(&next_update, __ATOMIC_RELAXED))
		return;
	if (kmem_mutex_tryenter(&kmem_caches_lock)) {
		update_pass();
		kmem_mutex_exit(&kmem_caches_lock);
		update_done();
	}
}

void
kmem_update_interval_set(uint64_t interval_ns)
{
	if (interval_ns == 0) {
		kmem_report("kmem_update_interval_set(0): the interval must be "
		    "at least 1 ns");
		return;
	}
	__atomic_store_n(&update_interval, interval_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&next_update, kmem_clock_ns() + interval_ns,
	    __ATOMIC_RELAXED);
	kmem_mutex_enter(&kmem_update_lock);
	kmem_cv_broadcast(&update_cv);
	kmem_mutex_exit(&kmem_update_lock);
}

static void
update_thread_main(void *arg)
{
	(void) arg;
	kmem_mutex_enter(&kmem_update_lock);
	while (thread_wanted) {
		uint64_t interval = __atomic_load_n(&update_interval,
		    __ATOMIC_RELAXED);
		if (kmem_cv_timedwait(&update_cv, &kmem_update_lock, interval) ||
		    !thread_wanted)
			continue;       /* woken early: re-read the interval */
		kmem_mutex_exit(&kmem_update_lock);
		kmem_update_now();
		kmem_mutex_enter(&kmem_update_lock);
	}
	__atomic_store_n(&thread_running, false, __ATOMIC_RELAXED);
	kmem_cv_broadcast(&update_cv);
	kmem_mutex_exit(&kmem_update_lock);
}

int
kmem_update_thread(int enable)
{
	kmem_init();
	int result = 0;
	kmem_mutex_enter(&kmem_update_lock);
	if (enable && !thread_running) {
		thread_wanted = true;
		if (kmem_thread_create(update_thread_main, NULL, "kmem_update"))
			__atomic_store_n(&thread_running, true, __ATOMIC_RELAXED);
		else
			result = -1;
	} else if (!enable && thread_running) {
		thread_wanted = false;
		kmem_cv_broadcast(&update_cv);
		while (thread_running)
			kmem_cv_wait(&update_cv, &kmem_update_lock);
	}
	kmem_mutex_exit(&kmem_update_lock);
	return (result);
}

/* In a forked child the update thread does not exist; its condition
 * variable, which it may have been waiting on, is made anew. */
void
kmem_update_fork_child(void)
{
	kmem_cv_init(&update_cv);
	thread_wanted = false;
	thread_running = false;
}

/* ---- reaping ---- */

/* Give back everything cp holds beyond what is allocated. */
static void
cache_reap_all(kmem_cache_t *cp)
{
	kmem_depot_ws_zero(cp);
	kmem_depot_ws_reap(cp);
	kmem_slab_reap(cp);
	__atomic_fetch_add(&cp->reap, 1, __ATOMIC_RELAXED);
}

void
kmem_cache_reap_now(kmem_cache_t *cp)
{
	kmem_thread_cache_t *tc = kmem_self;
	if (cp->index < tc->nslots) {
		kmem_mutex_enter(&tc->lock);
		kmem_thread_slot_to_depot(cp, &tc->slots[cp->index]);
		kmem_mutex_exit(&tc->lock);
	}
	cache_reap_all(cp);
}

/* One reap pass; kmem_caches_lock held. */
static void
reap_pass(bool everything)
{
	for (kmem_cache_t *cp = kmem_caches.list_next; cp != &kmem_caches;
	    cp = cp->list_next) {
		if (cp->reclaim != NULL)
			cp->reclaim(cp->private);
		if (everything) {
			cache_reap_all(cp);
		} else {
			kmem_depot_ws_reap(cp);
			kmem_slab_reap(cp);
			__atomic_fetch_add(&cp->reap, 1, __ATOMIC_RELAXED);
		}
	}
	kmem_release_idle();
}

void
kmem_reap(void)
{
	kmem_mutex_enter(&kmem_caches_lock);
	reap_pass(false);
	kmem_mutex_exit(&kmem_caches_lock);
}

void
kmem_reap_soon(void)
{
	uint64_t now = kmem_clock_ns();
	if (now < __atomic_load_n(&next_auto_reap, __ATOMIC_RELAXED) ||
	    !kmem_mutex_tryenter(&kmem_caches_lock))
		return;
	__atomic_store_n(&next_auto_reap, now + KMEM_REAP_SPACING,
	    __ATOMIC_RELAXED);
	reap_pass(true);
	kmem_mutex_exit(&kmem_caches_lock);
}
