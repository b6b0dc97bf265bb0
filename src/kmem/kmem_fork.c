/*
 * fork() in a threaded program.  The child has only the thread that called
 * fork(), but a copy of all memory, including locks other threads held.  So
 * fork() is bracketed (the platform calls these hooks around every fork,
 * from before the library's first lock can be taken):
 *
 * - prepare: give the forking thread its thread cache if it has none (the
 *   child must not ask libc for its stack: kmem_thread_fork_prepare());
 *   take the C library's locks its fork() takes after the handlers
 *   (kmem_fork_libc_enter(): glibc's list of streams); then take every
 *   library lock, in the lock order of lock_order.h
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
 *
 * fork() from a signal handler.  If the handler interrupted the library in
 * the forking thread, that thread holds (or is taking) a library lock
 * (kmem_locks_held()): prepare would wait for itself, or take locks out of
 * order.  Then all three hooks stand aside and take nothing: the operation
 * the signal interrupted finishes in the parent and in the child alike,
 * where its thread is the one that goes on, so both see whole state.  (In
 * a process with other threads, one of theirs may then be held in the
 * child: a fork from a handler can promise no more there, as glibc's own
 * malloc promises no more.)  The hooks stand aside in nested pairs -- a
 * handler may fork while an interrupted fork runs its hooks -- so each
 * thread counts the prepares it let pass, and the parent or child hook
 * after each one lets itself pass too.
 */
#include "kmem_impl.h"
#include "netbsd/netbsd_fork.h"
#include "stats/stats_publish.h"

#include "base/report.h"
#include "vmem/vmem_impl.h"

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

/* Prepares that stood aside, in this thread, whose fork has not returned. */
static __thread unsigned forks_standing_aside
    __attribute__((tls_model("initial-exec")));

void
kmem_fork_prepare(void)
{
	if (kmem_locks_held()) {
		forks_standing_aside++;
		return;
	}
	kmem_thread_fork_prepare();     /* before any lock is held */
	kmem_fork_libc_enter();
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
fork_release(bool child)
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
	kmem_fork_libc_exit(child);
}

/* Did the prepare of this fork stand aside?  Then so does its other half. */
static bool
fork_stood_aside(void)
{
	if (forks_standing_aside == 0)
		return (false);
	forks_standing_aside--;
	return (true);
}

void
kmem_fork_parent(void)
{
	if (!fork_stood_aside())
		fork_release(false);
}

/*
 * The update thread and the statistics publisher are forgotten even when
 * the hooks stood aside: neither exists in the child.
 */
void
kmem_fork_child(void)
{
	if (!fork_stood_aside()) {
		fork_release(true);
		kmem_thread_fork_child();
	}
	kmem_update_fork_child();
	if (stats_publish_fork_child != NULL)
		stats_publish_fork_child();
}
