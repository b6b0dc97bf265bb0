/*
 * The library's lock order, written down once: a thread may take a lock
 * only when its rank is greater than the rank of every library lock it
 * already holds.  Builds with KMEM_ASSERTS check this on every acquisition
 * (src/platform/posix.c).  docs/locking.md explains each rule.
 *
 * Equal ranks may not nest either: no thread ever holds two arena locks;
 * vmem drops an arena's lock before calling into its source.
 */
#ifndef KMEM_LOCK_ORDER_H
#define KMEM_LOCK_ORDER_H

enum kmem_lock_rank {
	KMEM_RANK_VMEM_LIST = 10,       /* the list of all arenas */
	KMEM_RANK_VMEM_ARENA = 20,      /* one arena's segments and counters */
	KMEM_RANK_VMEM_SEGPOOL = 30,    /* the global pool of segment structures */
	KMEM_RANK_CLASSIC = 40,         /* one classic allocator instance (a leaf) */
};

#endif /* KMEM_LOCK_ORDER_H */
