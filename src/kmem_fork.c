/*
 * fork() in a threaded program.  The child has only the thread that called
 * fork(), but a copy of all memory, including locks other threads held.  So
 * fork() is bracketed (the platform's kmem_fork_hooks_install()):
 *
 * - prepare: give the forking thread its thread cache if it has none (the
 *   child must not ask libc for its stack: kmem_thread_fork_prepare());
 *   then take every library lock, in the lock order of lock_order.h
 *   (every arena's, every pool's and malloc type's, every thread cache's,
 *   each cache's depot and slab locks, the page map's, the firewall's,
 *   the debug logs' and the statistics publisher's), so no lock is
 *   mid-operation at the moment of the copy;
 * - parent: release them all;
 * - child: release them all, then give the magazines of the threads that
 *   do not exist in the child back to the depots, and forget the update
 *   thread and the statistics publisher, which do not exist either (nor is
 *   the parent's statistics segment the child's); a child whose parent had
 *   the update thread starts its own when it needs one (kmem_update.c).
 *
 * The locks are taken with the platform's _for_fork calls, which skip the
 * lock-order bookkeeping (it would hold hundreds of locks at once).
 */
#include "kmem_impl.h"
#include "netbsd_fork.h"
#include "stats_publish.h"

#include "report.h"
#include "vmem_impl.h"

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
	for (kmem_cache_t *cp = kmem_caches.list_next; cp != &kmem_caches;
	    cp = cp->list_next)
		kmem_mutex_enter_for_fork(&cp->depot_lock);
	for (kmem_cache_t *cp = kmem_caches.list_next; cp != &kmem_caches;
	    cp = cp->list_next)
		kmem_mutex_enter_for_fork(&cp->slab_lock);
}

void
kmem_caches_release_all(void)
{
	for (kmem_cache_t *cp = kmem_caches.list_next; cp != &kmem_caches;
	    cp = cp->list_next) {
		kmem_mutex_exit_for_fork(&cp->slab_lock);
		kmem_mutex_exit_for_fork(&cp->depot_lock);
	}
	for (kmem_thread_cache_t *tc = kmem_threads.next; tc != &kmem_threads;
	    tc = tc->next)
		kmem_mutex_exit_for_fork(&tc->lock);
}

void
kmem_fork_prepare(void)
{
	kmem_thread_fork_prepare();     /* before any lock is held */
	kmem_mutex_enter_for_fork(&kmem_update_lock);
	kmem_mutex_enter_for_fork(&kmem_init_lock);
	kmem_mutex_enter_for_fork(&kmem_debug_verify_lock);
	kmem_mutex_enter_for_fork(&kmem_caches_lock);
	vmem_fork_enter();
	if (pool_fork_enter != NULL)
		pool_fork_enter();
	if (mtype_fork_enter != NULL)
		mtype_fork_enter();
	kmem_mutex_enter_for_fork(&kmem_threads_lock);
	kmem_caches_hold_all();
	kmem_mutex_enter_for_fork(&kmem_pagemap_lock);
	kmem_mutex_enter_for_fork(&kmem_firewall_lock);
	kmem_mutex_enter_for_fork(&kmem_debug_log_lock);
	if (stats_publish_fork_enter != NULL)
		stats_publish_fork_enter();
	kmem_report_fork_enter();
}

/* Release what prepare took, in the reverse order. */
static void
fork_release(void)
{
	kmem_report_fork_exit();
	if (stats_publish_fork_exit != NULL)
		stats_publish_fork_exit();
	kmem_mutex_exit_for_fork(&kmem_debug_log_lock);
	kmem_mutex_exit_for_fork(&kmem_firewall_lock);
	kmem_mutex_exit_for_fork(&kmem_pagemap_lock);
	kmem_caches_release_all();
	kmem_mutex_exit_for_fork(&kmem_threads_lock);
	if (mtype_fork_exit != NULL)
		mtype_fork_exit();
	if (pool_fork_exit != NULL)
		pool_fork_exit();
	vmem_fork_exit();
	kmem_mutex_exit_for_fork(&kmem_caches_lock);
	kmem_mutex_exit_for_fork(&kmem_debug_verify_lock);
	kmem_mutex_exit_for_fork(&kmem_init_lock);
	kmem_mutex_exit_for_fork(&kmem_update_lock);
}

void
kmem_fork_parent(void)
{
	fork_release();
}

void
kmem_fork_child(void)
{
	fork_release();
	kmem_update_fork_child();
	kmem_thread_fork_child();
	if (stats_publish_fork_child != NULL)
		stats_publish_fork_child();
}
