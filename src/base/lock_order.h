/*
 * The library's lock order, written down once: a thread may take a lock
 * only when its rank is greater than the rank of every library lock it
 * already holds.  Builds with KMEM_ASSERTS check this on every acquisition
 * (src/platform/posix.c).  docs/locking.md explains each rule.
 *
 * Equal ranks may not nest either: no thread ever holds two arena locks;
 * vmem drops an arena's lock before calling into its source.  kmem's
 * per-cache locks rank above the arenas, so holding one while calling into
 * vmem is caught; the cache list ranks below, so a reap may hold it while
 * slabs go back to their arenas.
 */
#ifndef KMEM_LOCK_ORDER_H
#define KMEM_LOCK_ORDER_H

enum kmem_lock_rank {
	KMEM_RANK_UPDATE = 1,           /* the update thread's state */
	KMEM_RANK_INIT = 2,             /* kmem's bootstrap */
	KMEM_RANK_MOVE = 3,             /* one move pass at a time (kmem_move.c) */
	KMEM_RANK_CLASSES = 4,          /* making a kmem_alloc() class */
	KMEM_RANK_VERIFY = 5,           /* kmem_debug_verify() against destroys */
	KMEM_RANK_CACHE_LIST = 6,       /* all caches; held by reap and update */
	KMEM_RANK_VMEM_LIST = 10,       /* the list of all arenas */
	KMEM_RANK_VMEM_ARENA = 20,      /* one arena's segments and counters */
	KMEM_RANK_VMEM_SEGPOOL = 30,    /* the global pool of segment structures */
	KMEM_RANK_CLASSIC_LIST = 35,    /* every classic instance's lock, for fork */
	KMEM_RANK_CLASSIC = 40,         /* one classic allocator instance (a leaf) */
	KMEM_RANK_NETBSD = 45,          /* pool(9), malloc(9): one at a time */
	KMEM_RANK_THREADS = 50,         /* the list of thread caches */
	KMEM_RANK_THREAD_CACHE = 55,    /* one thread's slots */
	KMEM_RANK_DEPOT = 60,           /* one cache's depot */
	KMEM_RANK_SLAB = 65,            /* one cache's slab layer */
	KMEM_RANK_PAGEMAP = 70,         /* page map insertions (a leaf) */
	KMEM_RANK_FIREWALL = 75,        /* firewalled buffers (a leaf) */
	KMEM_RANK_GUARD = 77,           /* the sampled guard pages' pool (a leaf) */
	KMEM_RANK_DEBUG_LOG = 80,       /* the debug logs (a leaf) */
	KMEM_RANK_PUBLISH = 85,         /* the statistics publisher's state (a leaf) */
	KMEM_RANK_REPORT = 90,          /* the report handler's spin flag (a leaf) */
	/*
	 * Keep every rank below 100: the symbolizer's lock, a platform
	 * pthread mutex taken under any of these while a report names its
	 * frames, is taken after them all at fork (src/platform/symbolize.c).
	 */
};

#endif /* KMEM_LOCK_ORDER_H */
