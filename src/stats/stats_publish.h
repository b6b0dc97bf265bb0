/*
 * stats_publish.c's entry for the rest of the library: the "publish"
 * option (malloc_options.c).
 */
#ifndef KMEM_STATS_PUBLISH_H
#define KMEM_STATS_PUBLISH_H

/* Start publishing without waiting for the first snapshot: 0 or -1. */
int kmem_stats_publish_start(void);

#endif /* KMEM_STATS_PUBLISH_H */
