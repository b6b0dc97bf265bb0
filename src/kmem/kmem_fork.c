/*
 * fork() in a threaded program.  The child has only the thread that called
 * fork(), but a copy of all memory, including locks other threads held.  So
 * every layer registers fork handlers with the platform (platform.h), which
 * runs them around every fork: prepare handlers in the rank order of
 * lock_order.h, parent or child handlers in the reverse.  kmem registers
 * three sets, because its locks rank below and above the arenas' and the
 * NetBSD layers':
 *
 * - kmem_fork_threads (KMEM_FORK_UNLOCKED, first): prepare gives the
 *   forking thread its thread cache if it has none (the child must not ask
 *   libc for its stack: kmem_thread_fork_prepare()), waiting for a
 *   bootstrap in progress, before any lock is held and before the C
 *   library's locks; in the child, after every lock is released, the
 *   magazines of the threads that do not exist there go back to the
 *   depots, a move pass another thread was running is forgotten
 *   (kmem_move.c: its lock is not taken here, since a pass holds it across
 *   client callbacks that may wait for the forking thread), and the update
 *   thread, which does not exist either, is forgotten even when the fork
 *   stood aside (a child whose parent had it
 *   starts its own when it needs one: kmem_update.c);
 * - kmem_fork_lists (KMEM_RANK_UPDATE): the update, bootstrap, class
 *   making, verify and cache list locks;
 * - kmem_fork_caches (KMEM_RANK_THREADS): the thread list, every thread
 *   cache's, depot and slab lock, the page map's, the firewall's, the
 *   guard pool's and the debug logs'.
 * Between them run vmem's (the arena list, every arena, the segment pool:
 * vmem.c), the classic allocators' (classic/common.c) and the NetBSD
 * layers' (pool.c, mtype.c); after them the
 * statistics publisher's (stats_publish.c) and the report handler's
 * (report.c).  So fork() holds every library lock at once, taken in the
 * lock order, and no lock is mid-operation at the moment of the copy.
 *
 * The locks are taken with the platform's _for_fork calls, which skip the
 * lock-order bookkeeping (it would hold hundreds of locks at once).  A fork
 * from a signal handler that interrupted the library in the forking thread
 * runs none of this but the child_always handlers: the platform stands
 * aside for all the layers at once (posix.c explains why that is right).
 *
 * Registered from a constructor when the library is loaded, before any of
 * its code can take one of these locks.  (A static link has this file
 * wherever it has kmem: kmem_init() needs kmem_leaks.c, which calls
 * kmem_caches_hold_all().)
 */
#include "kmem_impl.h"

#include "base/lock_order.h"

/*
 * Every thread cache's, depot's and slab layer's lock, in the order of
 * lock_order.h (the caller holds kmem_caches_lock and kmem_threads_lock):
 * for fork() and for the leak scan, which need every cache still.  Many
 * locks of one rank nest here, so the _for_fork calls, unchecked.
 */
void
kmem_caches_hold_all(void)
{
	for (kmem_thread_cache_t *tc = kmem_threads.next; tc != &kmem_threads;
	    tc = tc->next)
		kmem_mutex_enter_for_fork(&tc->lock);
	for (kmem_cache_t *cp = kmem_caches.cache_list_next; cp != &kmem_caches;
	    cp = cp->cache_list_next)
		kmem_mutex_enter_for_fork(&cp->cache_depot_lock);
	for (kmem_cache_t *cp = kmem_caches.cache_list_next; cp != &kmem_caches;
	    cp = cp->cache_list_next)
		kmem_mutex_enter_for_fork(&cp->cache_slab_lock);
}

void
kmem_caches_release_all(void)
{
	for (kmem_cache_t *cp = kmem_caches.cache_list_next; cp != &kmem_caches;
	    cp = cp->cache_list_next) {
		kmem_mutex_exit_for_fork(&cp->cache_slab_lock);
		kmem_mutex_exit_for_fork(&cp->cache_depot_lock);
	}
	for (kmem_thread_cache_t *tc = kmem_threads.next; tc != &kmem_threads;
	    tc = tc->next)
		kmem_mutex_exit_for_fork(&tc->lock);
}

static void
kmem_fork_lists_enter(void)
{
	kmem_mutex_enter_for_fork(&kmem_update_lock);
	kmem_mutex_enter_for_fork(&kmem_init_lock);
	kmem_mutex_enter_for_fork(&kmem_classes_lock);
	kmem_mutex_enter_for_fork(&kmem_debug_verify_lock);
	kmem_mutex_enter_for_fork(&kmem_caches_lock);
}

static void
kmem_fork_lists_exit(void)
{
	kmem_mutex_exit_for_fork(&kmem_caches_lock);
	kmem_mutex_exit_for_fork(&kmem_debug_verify_lock);
	kmem_mutex_exit_for_fork(&kmem_classes_lock);
	kmem_mutex_exit_for_fork(&kmem_init_lock);
	kmem_mutex_exit_for_fork(&kmem_update_lock);
}

static void
kmem_fork_caches_enter(void)
{
	kmem_mutex_enter_for_fork(&kmem_threads_lock);
	kmem_caches_hold_all();
	kmem_mutex_enter_for_fork(&kmem_pagemap_lock);
	kmem_mutex_enter_for_fork(&kmem_firewall_lock);
	kmem_mutex_enter_for_fork(&kmem_guard_lock);
	kmem_mutex_enter_for_fork(&kmem_debug_log_lock);
}

static void
kmem_fork_caches_exit(void)
{
	kmem_mutex_exit_for_fork(&kmem_debug_log_lock);
	kmem_mutex_exit_for_fork(&kmem_guard_lock);
	kmem_mutex_exit_for_fork(&kmem_firewall_lock);
	kmem_mutex_exit_for_fork(&kmem_pagemap_lock);
	kmem_caches_release_all();
	kmem_mutex_exit_for_fork(&kmem_threads_lock);
}

/* In the child, every lock released: the threads' and move passes' state. */
static void
kmem_fork_threads_child(void)
{
	kmem_thread_fork_child();
	kmem_move_fork_child();
}

static const kmem_fork_handlers_t kmem_fork_threads = {
	.rank = KMEM_FORK_UNLOCKED,
	.prepare = kmem_thread_fork_prepare,
	.child = kmem_fork_threads_child,
	.child_always = kmem_update_fork_child,
};

static const kmem_fork_handlers_t kmem_fork_lists = {
	.rank = KMEM_RANK_UPDATE,
	.prepare = kmem_fork_lists_enter,
	.parent = kmem_fork_lists_exit,
	.child = kmem_fork_lists_exit,
};

static const kmem_fork_handlers_t kmem_fork_caches = {
	.rank = KMEM_RANK_THREADS,
	.prepare = kmem_fork_caches_enter,
	.parent = kmem_fork_caches_exit,
	.child = kmem_fork_caches_exit,
};

KMEM_FORK_REGISTRATION static void
kmem_fork_register_all(void)
{
	kmem_fork_register(&kmem_fork_threads);
	kmem_fork_register(&kmem_fork_lists);
	kmem_fork_register(&kmem_fork_caches);
}
