/*
 * What the kmem tests share: a cache's statistics in one call, a report
 * handler that any thread (or a forked child whose other threads vanished
 * mid-call) may enter, and caches of objects that know their own state.
 *
 * Objects of a cache made by ocache_create() with .ctor set start with an
 * ohead_t: the constructor writes FREE_MARK and the cache's magic, and the
 * destructor counts in .bad every object it finds in another state, so a
 * test that swaps LIVE_MARK in at allocation and FREE_MARK back at the
 * free catches a buffer handed out twice or destructed while in use.
 */
#ifndef KMEM_TEST_OBJECTS_H
#define KMEM_TEST_OBJECTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <kmem/kmem.h>

#define FREE_MARK       0xf4eef4eef4eef4eeull
#define LIVE_MARK       0x11fe000000000000ull

kmem_cache_stats_t stats_of(kmem_cache_t *cp);

/* Count reports from any thread, lock-free; keep the first one's text. */
void any_thread_report_handler(void *arg, kmem_report_kind_t kind,
    const char *msg);
/* Fail, printing the first, if any_thread_report_handler saw a report. */
void check_no_reports(void);

/* The CPUs online, at least 1. */
unsigned cpus(void);

typedef struct ocache {
	const char *name;
	size_t size;
	size_t align;
	int cflags;
	bool ctor;
	bool private_arena;     /* on an arena of its own over kmem's */
	kmem_cache_t *cp;
	vmem_t *arena;
	uint64_t magic;
	atomic_ulong constructed;
	atomic_ulong destructed;
	atomic_ulong bad;       /* destructed in the wrong state */
	atomic_ulong allocs;    /* for the test to count its allocations */
} ocache_t;

/* The head of every object of a cache with a constructor. */
typedef struct ohead {
	_Atomic uint64_t state;
	uint64_t magic;
} ohead_t;

/* Create oc->cp as oc describes, with fresh counters and magic. */
void ocache_create(ocache_t *oc);

#endif /* KMEM_TEST_OBJECTS_H */
