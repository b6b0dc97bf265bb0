/*
 * The NetBSD layers' locks around fork(): kmem_fork.c takes them after
 * the arenas' and before the thread caches' (rank KMEM_RANK_NETBSD), and
 * releases them in the reverse order.  pool.c and mtype.c define them;
 * the references are weak, so a core built without the NetBSD layers (the
 * freestanding build) links and has nothing to take.
 */
#ifndef KMEM_NETBSD_FORK_H
#define KMEM_NETBSD_FORK_H

void pool_fork_enter(void) __attribute__((weak));
void pool_fork_exit(void) __attribute__((weak));
void mtype_fork_enter(void) __attribute__((weak));
void mtype_fork_exit(void) __attribute__((weak));

#endif /* KMEM_NETBSD_FORK_H */
