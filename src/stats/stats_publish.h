/*
 * stats_publish.c's entries for the rest of the library: the "publish"
 * option (malloc_options.c) and fork (kmem_fork.c, which takes publish_lock
 * last but for the report lock: rank KMEM_RANK_PUBLISH, a leaf).  The fork
 * references are weak, so the freestanding core links without them.
 */
#ifndef KMEM_STATS_PUBLISH_H
#define KMEM_STATS_PUBLISH_H

/* Start publishing without waiting for the first snapshot: 0 or -1. */
int kmem_stats_publish_start(void);

void stats_publish_fork_enter(void) __attribute__((weak));
void stats_publish_fork_exit(void) __attribute__((weak));
void stats_publish_fork_child(void) __attribute__((weak));

#endif /* KMEM_STATS_PUBLISH_H */
