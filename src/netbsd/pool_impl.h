/*
 * pool(9) and pool_cache(9) internals, shared by pool.c (pools: the state
 * behind a struct pool, gets and puts, limits, the reserve, statistics) and
 * pool_cache.c (constructed objects on top of a pool).  The theory is at
 * the top of pool.c.
 */
#ifndef KMEM_POOL_IMPL_H
#define KMEM_POOL_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kmem/pool.h>

#include "kmem/kmem_query.h"
#include "platform/platform.h"

#define POOL_MAGIC_LIVE 0x706f6f6cu     /* "pool" */
#define POOL_MAGIC_DEAD 0x64656164u     /* "dead" */

typedef struct pool_state pool_state_t;

/*
 * What the library keeps for one live pool.  The counters marked atomic
 * are read and written with atomic builtins and no lock; lock guards the
 * hard-limit sleepers, the warning's rate cap and the reserve; the list
 * members belong to pool_list_lock (pool.c).
 */
struct pool_state {
	/* Set up by pool_setup(), then read-only. */
	struct pool *pool;
	struct pool_cache *pcache;      /* the pool cache owning it, or NULL */
	kmem_cache_t *cache;            /* items come from here */
	vmem_t *arena;                  /* pool_allocator pools: the slabs' */
	vmem_t *page_key;               /* ... and its source, which names us */
	struct pool_allocator *palloc;  /* NULL: the default */
	int flags;                      /* PR_NOTOUCH etc. */
	size_t size;                    /* item size as asked */
	size_t align;                   /* as asked (0: the default) */
	size_t align_offset;
	size_t shift;                   /* item = kmem buffer + shift */
	size_t pagesz;                  /* slab size */
	unsigned items_per_page;
	int (*ctor)(void *arg, void *object, int flags);
	void (*dtor)(void *arg, void *object);
	void *ctor_arg;

	/* Atomic. */
	uint64_t nout;                  /* items held by callers */
	uint64_t reserve_allocs;        /* kmem allocations for the reserve */
	uint64_t reserve_frees;         /* kmem frees of reserved items */
	uint64_t reserve_takes;         /* gets the reserve served */
	uint64_t reserve_keeps;         /* puts the reserve kept */
	uint64_t nfail;
	uint64_t nlimit;
	uint64_t nwait;
	uint64_t ndrain;
	uint64_t nconstruct;
	uint64_t ndestruct;
	unsigned hardlimit;             /* UINT_MAX: none */
	unsigned waiters;               /* gets asleep at the hard limit */
	unsigned maxpages;              /* UINT_MAX: no high-water mark */
	unsigned minpages;
	unsigned minitems;              /* low-water mark */
	unsigned nreserve;              /* (written under lock) */
	uint32_t puts;                  /* paces the high-water trim */
	void (*drain_hook)(void *arg, int flags);
	void *drain_arg;

	/* lock */
	kmem_mutex_t lock;
	kmem_cv_t cv;                   /* a put below the hard limit */
	const char *warnmess;
	uint64_t ratecap_ns;
	uint64_t warned_at;
	bool warned;
	unsigned primed;                /* items pool_prime() set aside */
	unsigned reserve_target;        /* primed + minitems */
	unsigned reserve_cap;
	void **reserve;

	/* pool_list_lock */
	pool_state_t *list_next;
	pool_state_t *list_prev;
	unsigned busy;                  /* walkers reading it */
	bool dying;                     /* pool_destroy() under way */
};

/*
 * Set pp up as a pool of items of size from a kmem cache with the given
 * kmem constructor and destructor (NULL for a plain pool); caller names
 * the public function for reports.  False (reported) on bad input, and
 * when memory for the pool's own structures cannot be had at once: it
 * never waits for memory (pool_init() has no way to say it failed, so the
 * report is what tells, and the default handler aborts).
 */
bool pool_setup(struct pool *pp, size_t size, unsigned int align,
    unsigned int align_offset, int flags, const char *wchan,
    struct pool_allocator *palloc, const char *caller,
    struct pool_cache *pcache, kmem_constructor_t *kctor,
    kmem_destructor_t *kdtor, int (*ctor)(void *, void *, int),
    void (*dtor)(void *, void *), void *ctor_arg);
/* Report that caller could not set the pool wchan up, and why. */
void pool_setup_report(const char *caller, const char *wchan, size_t size,
    unsigned int align, unsigned int align_offset, int flags,
    const char *why);
/* Undo pool_setup(); false (reported) while items are out. */
bool pool_teardown(struct pool *pp, const char *caller);
/* The state of a live pool, or NULL (reported). */
pool_state_t *pool_state_of(struct pool *pp, const char *caller,
    const void *item);
/* Check get flags: exactly one of PR_WAITOK and PR_NOWAIT, nothing
 * unknown; false (reported) otherwise. */
bool pool_get_flags_ok(pool_state_t *ps, int flags, const char *caller);
/* Get an item (not zeroed), honouring the hard limit and the reserve. */
void *pool_take(pool_state_t *ps, int flags);
/* Put an item back, after checking it is one of the pool's, out. */
void pool_give(pool_state_t *ps, void *item, const char *caller);
/* Give the calling thread's and the depot's cached items back to their
 * slabs (destructing them), then refill the reserve. */
void pool_invalidate_state(pool_state_t *ps);
int pool_reclaim_state(pool_state_t *ps);
void pool_stats_fill(pool_state_t *ps, pool_stats_t *st);

#endif /* KMEM_POOL_IMPL_H */
