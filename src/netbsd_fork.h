/*
 * The NetBSD layers' locks around fork(): kmem_fork.c takes them after
 * the arenas' and before the thread caches' (rank KMEM_RANK_NETBSD), and
 * releases them in the reverse order.  pool.c and mtype.c define them.
 */
#ifndef KMEM_NETBSD_FORK_H
#define KMEM_NETBSD_FORK_H

void pool_fork_enter(void);
void pool_fork_exit(void);
void mtype_fork_enter(void);
void mtype_fork_exit(void);

#endif /* KMEM_NETBSD_FORK_H */
