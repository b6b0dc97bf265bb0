/*
 * Maintenance: the periodic update and reaping.
 *
 * Every update interval (15 s unless kmem_update_interval_set() says
 * otherwise) each cache:
 * - closes its depot's working-set interval, destroying magazines of an
 *   old size left by exited threads;
 * - grows its magazines if the depot lock was contended (kmem_depot.c);
 * - gives back what sat unused for a whole interval: depot magazines
 *   beyond the working set, then the empty slabs, then, if its slab layer
 *   handed out nothing in the interval, the free pages inside its partly
 *   used slabs (kmem_slab_purge.c's sweep; a reap sweeps every cache);
 * and then what kmem_oversize keeps of freed large buffers decays (vmem.c,
 * "Retention"): beyond an allowance that follows the last passes' peaks,
 * it goes back; a reap gives all of it back.  A pass run by
 * kmem_update_now() (the update thread's, or a program's own call) then
 * consolidates the fragmented caches that have move callbacks
 * (kmem_move.c).  Memory thus drains back
 *   to the arenas a working set at a time instead of being dropped at once
 *   (page faults are expensive: docs/kmem.md).
 *
 * The update runs lazily by default: a thread's slow path calls
 * kmem_update_maybe() every 64th time, which runs the pass if the interval
 * has passed and nobody else is running it, and so does a thread's exit.
 * Neither ever runs on a fast path.  A process that has stopped allocating
 * never takes those paths, so what its exited threads left in the depots
 * would stay; the update thread runs the pass on the clock instead:
 * - kmem_update_thread(1) starts it now, kmem_update_thread(0) stops it and
 *   keeps it stopped;
 * - kmem_update_thread_auto() (libkmem_malloc.so's default) starts it when
 *   a thread exits while another thread with a thread cache lives on: the
 *   exited thread's magazines wait in the depots, and the process is
 *   multithreaded anyway.  Single-threaded programs -- most of what a
 *   shell or make runs -- never get one.  The start is made from the
 *   exiting thread's destructor, never from malloc() or free(): the C
 *   library calls those holding locks of its own that pthread_create()
 *   takes too (pthread_join() frees the joined thread's TLS under its
 *   stack list's lock; glibc's tst-malloc-thread-exit hung on it).
 *   Starting it takes kmem_update_lock with a try; if the platform cannot
 *   make the thread, the lazy pass goes on as before and no start is
 *   tried again.
 * The thread frees with no magazines of its own (what it gives back goes to
 * the slabs, not into a thread cache nobody would reap) and blocks every
 * signal (kmem_thread_create()).  It must never keep the process alive: a
 * program whose main thread calls pthread_exit() ends when its last thread
 * does.  So a thread exiting when no other thread has a thread cache and
 * only it and the update thread are left (kmem_thread_count() == 2: it
 * counts the threads that have not exited, and a main thread that called
 * pthread_exit() has) tells the update thread to stop, without waiting,
 * and whichever ends last ends the process, as it would have.  The update
 * thread also stops when it wakes to find itself alone: threads that never
 * allocated, or two that exited at once, each seeing the other, call no
 * hook that would see it; the process then ends within an interval.
 * At exit() it is simply killed: it holds kmem_caches_lock only during a
 * pass, which never waits for anything exit-time code holds, so the
 * statistics printer or the leak scan waits at most for the pass to end.
 *
 * In a fork() child the thread does not exist.  If the parent had one (or
 * the automatic start), the child gets the automatic start, with its first
 * pass an interval after the fork: a child that execs or exits soon, as
 * most do, never makes one, and never in the moments after the fork.
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
 * kmem_update_lock guards the thread's state; the update thread never holds
 * it during a pass (a thread starting it may: pthread_create() allocates,
 * and a due pass in that allocation runs under it).
 * After a pass, with no lock held, the hook set by kmem_update_done_hook_set()
 * is called: the statistics publisher (stats_publish.c) sets one to wake
 * its thread.
 */
#include "kmem_impl.h"

#include "base/lock_order.h"
#include "base/report.h"

#define KMEM_UPDATE_INTERVAL    (15ull * 1000 * 1000 * 1000)
#define KMEM_REAP_SPACING       (100ull * 1000 * 1000)

static uint64_t update_interval = KMEM_UPDATE_INTERVAL;
static uint64_t next_update;            /* clock time of the next pass */
static uint64_t next_auto_reap;

kmem_mutex_t kmem_update_lock = KMEM_MUTEX_INITIALIZER(KMEM_RANK_UPDATE);
static kmem_cv_t update_cv = KMEM_CV_INITIALIZER;
/* kmem_update_lock; read without it, atomically, by the paths that ask */
static bool thread_wanted;              /* the thread is to keep running */
static bool thread_running;             /* it exists (or is stopping) */
static bool thread_auto;                /* start it when the process needs it */

/* What a pass does to one cache. */
static void
cache_update(kmem_cache_t *cp)
{
	kmem_depot_ws_update(cp);
	kmem_depot_resize_check(cp);
	kmem_depot_ws_reap(cp);
	kmem_slab_reap(cp);
	kmem_slab_purge_sweep(cp, false);
}

/* Called after every pass (stats_publish.c sets it). */
static void (*update_done_hook)(void);

void
kmem_update_done_hook_set(void (*hook)(void))
{
	__atomic_store_n(&update_done_hook, hook, __ATOMIC_RELEASE);
}

/* After a pass, with no lock held: tell the hook. */
static void
update_done(void)
{
	void (*hook)(void) = __atomic_load_n(&update_done_hook,
	    __ATOMIC_ACQUIRE);
	if (hook != NULL)
		hook();
}

/* The pass itself; kmem_caches_lock held. */
static void
update_pass(void)
{
	for (kmem_cache_t *cp = kmem_caches.cache_list_next; cp != &kmem_caches;
	    cp = cp->cache_list_next)
		cache_update(cp);
	/* The depots' ceiling follows the slabs' peak of each interval, and
	 * what the quantum caches keep the footprint's (kmem_footprint.c). */
	kmem_slab_peak_reset();
	kmem_footprint_peak_reset();
	kmem_release_idle(false);
	__atomic_store_n(&next_update, kmem_clock_ns() + update_interval,
	    __ATOMIC_RELAXED);
}

void
kmem_update_now(void)
{
	kmem_mutex_enter(&kmem_caches_lock);
	update_pass();
	kmem_mutex_exit(&kmem_caches_lock);
	/* Only here, never in the lazy pass: move callbacks take client
	 * locks an allocating or exiting thread may hold (kmem_move.c). */
	kmem_move_update();
	update_done();
}

/* Run the pass if it is due and nobody else is running it. */
static void
update_if_due(void)
{
	if (kmem_clock_ns() < __atomic_load_n(&next_update, __ATOMIC_RELAXED))
		return;
	if (kmem_mutex_tryenter(&kmem_caches_lock)) {
		update_pass();
		kmem_mutex_exit(&kmem_caches_lock);
		update_done();
	}
}

static void update_thread_main(void *arg);

/* Start the thread; kmem_update_lock held.  False if it cannot be made. */
static bool
thread_start(void)
{
	__atomic_store_n(&thread_wanted, true, __ATOMIC_RELAXED);
	if (!kmem_thread_create(update_thread_main, NULL, "kmem_update")) {
		__atomic_store_n(&thread_wanted, false, __ATOMIC_RELAXED);
		return (false);
	}
	__atomic_store_n(&thread_running, true, __ATOMIC_RELAXED);
	return (true);
}

/*
 * Does the process need the thread it was told to start by itself?  A
 * thread has exited (its magazines went to the depots) and another one
 * with a thread cache lives on.
 */
static bool
auto_start_wanted(void)
{
	return (__atomic_load_n(&thread_auto, __ATOMIC_RELAXED) &&
	    kmem_thread_caches_live() > 0);
}

/* The automatic start, at a thread's exit: never waits for the lock. */
static void
auto_start(void)
{
	if (!kmem_mutex_tryenter(&kmem_update_lock))
		return;
	if (thread_auto && !thread_running && !thread_start())
		__atomic_store_n(&thread_auto, false, __ATOMIC_RELAXED);
	kmem_mutex_exit(&kmem_update_lock);
}

void
kmem_update_maybe(void)
{
	if (!__atomic_load_n(&thread_running, __ATOMIC_RELAXED))
		update_if_due();
}

/*
 * After a thread's exit retired its thread cache (in its thread-specific
 * data destructor, where the C library holds none of its locks).  Without
 * the update thread: the automatic start, if another thread with a cache
 * lives on (the exiting one may be the program's last), else a pass if one
 * is due.  With it: if this is the last thread besides it, it is told to
 * stop, so that it does not keep the process alive.
 */
void
kmem_update_thread_exited(void)
{
	if (!__atomic_load_n(&thread_running, __ATOMIC_RELAXED)) {
		if (auto_start_wanted())
			auto_start();
		if (!__atomic_load_n(&thread_running, __ATOMIC_RELAXED))
			update_if_due();
		return;
	}
	/* The update thread has no thread cache, so while another thread
	 * has one, there are more than two and /proc need not be read (a
	 * thread that never allocated is left to the thread's own check). */
	if (kmem_thread_caches_live() != 0 || kmem_thread_count() != 2)
		return;
	kmem_mutex_enter(&kmem_update_lock);
	__atomic_store_n(&thread_wanted, false, __ATOMIC_RELAXED);
	kmem_cv_broadcast(&update_cv);
	kmem_mutex_exit(&kmem_update_lock);
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
	kmem_thread_no_magazines();
	kmem_mutex_enter(&kmem_update_lock);
	while (thread_wanted) {
		uint64_t interval = __atomic_load_n(&update_interval,
		    __ATOMIC_RELAXED);
		if (kmem_cv_timedwait(&update_cv, &kmem_update_lock, interval) ||
		    !thread_wanted)
			continue;       /* woken early: re-read the interval */
		if (kmem_thread_caches_live() == 0 &&
		    kmem_thread_count() == 1) {
			/* Alone: the program's threads have all exited. */
			__atomic_store_n(&thread_wanted, false,
			    __ATOMIC_RELAXED);
			break;
		}
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
	if (enable) {
		/* One told to stop (its process's last thread exiting)
		 * finishes before a new one starts. */
		while (thread_running && !thread_wanted)
			kmem_cv_wait(&update_cv, &kmem_update_lock);
		if (!thread_running && !thread_start())
			result = -1;
	} else {
		__atomic_store_n(&thread_auto, false, __ATOMIC_RELAXED);
		__atomic_store_n(&thread_wanted, false, __ATOMIC_RELAXED);
		kmem_cv_broadcast(&update_cv);
		while (thread_running)
			kmem_cv_wait(&update_cv, &kmem_update_lock);
	}
	kmem_mutex_exit(&kmem_update_lock);
	return (result);
}

void
kmem_update_thread_auto(void)
{
	/* The first pass, and so the start in a single-threaded process,
	 * comes an interval from now. */
	__atomic_store_n(&next_update, kmem_clock_ns() + __atomic_load_n(
	    &update_interval, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
	kmem_mutex_enter(&kmem_update_lock);
	__atomic_store_n(&thread_auto, true, __ATOMIC_RELAXED);
	kmem_mutex_exit(&kmem_update_lock);
}

/*
 * In a forked child the update thread does not exist; its condition
 * variable, which it may have been waiting on, is made anew.  A child of a
 * parent with the thread (or the automatic start) starts its own as any
 * process does: when one of its threads exits.
 */
void
kmem_update_fork_child(void)
{
	kmem_cv_init(&update_cv);
	bool had = (thread_running && thread_wanted) || thread_auto;
	/* Atomic stores, as everywhere: the parent's threads, copied while
	 * they read these without the lock, read them atomically. */
	__atomic_store_n(&thread_wanted, false, __ATOMIC_RELAXED);
	__atomic_store_n(&thread_running, false, __ATOMIC_RELAXED);
	__atomic_store_n(&thread_auto, had, __ATOMIC_RELAXED);
	__atomic_store_n(&next_update, kmem_clock_ns() + update_interval,
	    __ATOMIC_RELAXED);
}

/* ---- reaping ---- */

/* Give back everything cp holds beyond what is allocated. */
static void
cache_reap_all(kmem_cache_t *cp)
{
	kmem_depot_ws_zero(cp);
	kmem_depot_ws_reap(cp);
	kmem_slab_reap(cp);
	kmem_slab_purge_sweep(cp, true);
	__atomic_fetch_add(&cp->cache_reap, 1, __ATOMIC_RELAXED);
}

/* The calling thread's magazines of cp go to cp's depot. */
static void
own_magazines_to_depot(kmem_cache_t *cp)
{
	kmem_thread_cache_t *tc = kmem_self;
	if (cp->cache_index < tc->nslots) {
		kmem_mutex_enter(&tc->lock);
		kmem_thread_slot_to_depot(cp, &tc->slots[cp->cache_index]);
		kmem_mutex_exit(&tc->lock);
	}
}

void
kmem_cache_reap_now(kmem_cache_t *cp)
{
	own_magazines_to_depot(cp);
	cache_reap_all(cp);
}

/* One reap pass; kmem_caches_lock held. */
static void
reap_pass(bool everything)
{
	for (kmem_cache_t *cp = kmem_caches.cache_list_next; cp != &kmem_caches;
	    cp = cp->cache_list_next) {
		if (cp->cache_reclaim != NULL)
			cp->cache_reclaim(cp->cache_private);
		if (everything) {
			cache_reap_all(cp);
		} else {
			kmem_depot_ws_reap(cp);
			kmem_slab_reap(cp);
			kmem_slab_purge_sweep(cp, true);
			__atomic_fetch_add(&cp->cache_reap, 1,
			    __ATOMIC_RELAXED);
		}
	}
	kmem_release_idle(true);
}

void
kmem_reap(void)
{
	kmem_mutex_enter(&kmem_caches_lock);
	reap_pass(false);
	kmem_mutex_exit(&kmem_caches_lock);
}

void
kmem_give_back_all(void)
{
	kmem_mutex_enter(&kmem_caches_lock);
	for (kmem_cache_t *cp = kmem_caches.cache_list_next; cp != &kmem_caches;
	    cp = cp->cache_list_next)
		own_magazines_to_depot(cp);
	reap_pass(true);
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
