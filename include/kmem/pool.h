/*
 * pool(9) and pool_cache(9): NetBSD's resource-pool manager and its object
 * cache, with NetBSD's man-page semantics, on top of libkmem's object
 * caches.  See docs/netbsd.md.
 *
 * A pool hands out items of one size.  pool_get() and pool_put() go
 * through a kmem cache, so a thread's gets and puts are served by its
 * magazines; pages come from the kmem default arena, or, when pool_init()
 * is given a struct pool_allocator, from its pa_alloc and go back through
 * its pa_free.  A pool cache is a pool whose items are constructed once and
 * stay constructed while they are cached, as in kmem; its constructor and
 * destructor take NetBSD's argument order, (arg, object, ...).
 *
 * Differences from NetBSD, in brief (docs/netbsd.md has the reasons): the
 * hard limit counts the items callers hold, not the items cached in
 * magazines; pool_prime() and pool_setlowat() set items aside in a reserve
 * that serves PR_NOWAIT requests when no page can be had; the ipl is
 * accepted and ignored; a physical address is the virtual one.
 *
 * Bad input -- a put of an item that is not the pool's, a put to a
 * destroyed pool, an item put twice in a row, flags that are not NetBSD's,
 * an alignment that is not a power of two -- is reported through the
 * report handler (kmem/common.h), which aborts by default.  So is a
 * pool_init() or pool_cache_init() that cannot have memory for the pool's
 * own structures at once: they never wait for it, and if the handler
 * returns, the pool is left not set up (pool_cache_init() returns NULL).
 */
#ifndef KMEM_POOL_H
#define KMEM_POOL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <kmem/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* pool_get() and pool_cache_get() flags (values as in NetBSD). */
#define PR_WAITOK       0x0001  /* wait for an item: exactly one of these two */
#define PR_NOWAIT       0x0002  /* return NULL rather than wait */
#define PR_LIMITFAIL    0x0100  /* with PR_WAITOK: NULL at the hard limit */
#define PR_ZERO         0x8000  /* zero the item (pools without constructor) */

/* pool_init() and pool_cache_init() flags (values as in NetBSD). */
#define PR_NOTOUCH      0x0400  /* never write into free items */
#define PR_LARGECACHE   0x1000  /* accepted; magazines size themselves */
#define PR_PSERIALIZE   0x20000 /* accepted; implies PR_NOTOUCH */

/* Interrupt priority levels: accepted and ignored in user space. */
#define IPL_NONE        0
#define IPL_SOFTCLOCK   1
#define IPL_SOFTBIO     2
#define IPL_SOFTNET     3
#define IPL_SOFTSERIAL  4
#define IPL_VM          5
#define IPL_SCHED       6
#define IPL_HIGH        7
#define IPL_BIO         IPL_VM
#define IPL_NET         IPL_VM
#define IPL_TTY         IPL_VM

#define POOL_NAMELEN    32

struct pool;

/*
 * A page allocator.  pa_alloc returns one page of pa_pagesz bytes, aligned
 * to pa_pagesz, or NULL (flags is PR_WAITOK or PR_NOWAIT); pa_free takes it
 * back.  pa_pagesz is a power of two; 0 means the system page size.  The
 * structure may be shared by many pools and is not written by the library.
 */
struct pool_allocator {
	void *(*pa_alloc)(struct pool *pp, int flags);
	void (*pa_free)(struct pool *pp, void *page);
	unsigned int pa_pagesz;
};

/*
 * NetBSD's two standard allocators.  Both mean "the default": pages from
 * the kmem default arena.  Passing NULL is the same.
 */
KMEM_API extern struct pool_allocator pool_allocator_kmem;
KMEM_API extern struct pool_allocator pool_allocator_nointr;

/*
 * A pool, in the caller's storage.  The members are private: use the
 * functions.  pr_state is the library's state for a live pool; pr_magic
 * tells a live pool from a destroyed or never initialised one.
 */
struct pool {
	uint32_t pr_magic;
	char pr_wchan[POOL_NAMELEN];
	struct pool_state *pr_state;
};

KMEM_API void pool_init(struct pool *pp, size_t size, unsigned int align,
    unsigned int align_offset, int flags, const char *wchan,
    struct pool_allocator *palloc, int ipl);
KMEM_API void pool_destroy(struct pool *pp);
KMEM_API void *pool_get(struct pool *pp, int flags);
KMEM_API void pool_put(struct pool *pp, void *item);
/* Set aside n more items (whole pages of them); 0, or ENOMEM. */
KMEM_API int pool_prime(struct pool *pp, int n);
KMEM_API void pool_setlowat(struct pool *pp, int n);
KMEM_API void pool_sethiwat(struct pool *pp, int n);
/*
 * At most n items out at once.  A PR_WAITOK get at the limit waits for a
 * put; a PR_NOWAIT or PR_LIMITFAIL one fails, and warnmess (when not NULL)
 * is printed as a warning, at most once every ratecap seconds.
 */
KMEM_API void pool_sethardlimit(struct pool *pp, int n, const char *warnmess,
    int ratecap);
/* Called with (arg, flags) when the pool is short: at the hard limit and
 * on reclaim. */
KMEM_API void pool_set_drain_hook(struct pool *pp,
    void (*fn)(void *arg, int flags), void *arg);
/* Give back idle pages (the drain hook runs first); 1 if any went. */
KMEM_API int pool_reclaim(struct pool *pp);

/* ---- pool_cache(9) ---- */

typedef struct pool_cache *pool_cache_t;
typedef uintptr_t pool_paddr_t;         /* NetBSD's paddr_t */
#define POOL_PADDR_INVALID ((pool_paddr_t)-1)

KMEM_API pool_cache_t pool_cache_init(size_t size, unsigned int align,
    unsigned int align_offset, int flags, const char *wchan,
    struct pool_allocator *palloc, int ipl,
    int (*ctor)(void *arg, void *object, int flags),
    void (*dtor)(void *arg, void *object), void *arg);
KMEM_API void pool_cache_destroy(pool_cache_t pc);
KMEM_API void *pool_cache_get(pool_cache_t pc, int flags);
KMEM_API void pool_cache_put(pool_cache_t pc, void *object);
/* The physical address of an object is its virtual address here. */
KMEM_API void *pool_cache_get_paddr(pool_cache_t pc, int flags,
    pool_paddr_t *pap);
KMEM_API void pool_cache_put_paddr(pool_cache_t pc, void *object,
    pool_paddr_t pa);
/* Destroy the cached objects of the calling thread and of the depot. */
KMEM_API void pool_cache_invalidate(pool_cache_t pc);
KMEM_API void pool_cache_set_drain_hook(pool_cache_t pc,
    void (*fn)(void *arg, int flags), void *arg);
KMEM_API void pool_cache_setlowat(pool_cache_t pc, int n);
KMEM_API void pool_cache_sethiwat(pool_cache_t pc, int n);
KMEM_API void pool_cache_sethardlimit(pool_cache_t pc, int n,
    const char *warnmess, int ratecap);
KMEM_API int pool_cache_reclaim(pool_cache_t pc);

/* ---- statistics ---- */

/*
 * One pool's counters.  The columns of NetBSD's `vmstat -m` pool table are
 * marked; a "page" is one slab of the pool's kmem cache, which is one
 * pa_pagesz page for a pool with its own allocator.
 */
typedef struct pool_stats {
	char name[POOL_NAMELEN];        /* the wchan: Name */
	char cache[POOL_NAMELEN];       /* the kmem cache behind the pool */
	int is_cache;                   /* a pool_cache's pool */
	int has_allocator;              /* pages from a pool_allocator */
	int flags;                      /* PR_NOTOUCH etc. from pool_init */
	size_t size;                    /* item size as asked: Size */
	size_t item_size;               /* bytes an item takes in its page */
	size_t align;
	size_t align_offset;
	size_t page_size;
	unsigned items_per_page;
	uint64_t nget;                  /* successful gets: Requests */
	uint64_t nfail;                 /* gets that returned NULL: Fail */
	uint64_t nput;                  /* puts: Releases */
	uint64_t npagealloc;            /* pages taken: Pgreq */
	uint64_t npagefree;             /* pages given back: Pgrel */
	uint64_t npages;                /* pages held: Npage */
	uint64_t hiwat_pages;           /* most pages ever held: Hiwat */
	unsigned minpages;              /* kept by prime and lowat: Minpg */
	unsigned maxpages;              /* UINT_MAX: no limit: Maxpg */
	uint64_t nidle;                 /* pages with no item in use: Idle */
	uint64_t nout;                  /* items held by callers */
	uint64_t nitems;                /* items in the pages, not held */
	uint64_t ncached;               /* of those, cached in magazines */
	uint64_t nreserved;             /* of those, set aside (prime, lowat) */
	unsigned reserve_target;        /* items the reserve is kept at */
	unsigned minitems;              /* pool_setlowat() */
	unsigned hardlimit;             /* UINT_MAX: none */
	uint64_t nlimit;                /* gets that found the hard limit */
	uint64_t nwait;                 /* of those, gets that waited */
	uint64_t ndrain;                /* drain hook calls */
	uint64_t nconstruct;            /* pool caches: constructor calls */
	uint64_t ndestruct;             /* pool caches: destructor calls */
} pool_stats_t;

/* Fill *st; 0, or -1 (reported) for a pool that is not live. */
KMEM_API int pool_stats(struct pool *pp, pool_stats_t *st);
KMEM_API int pool_cache_stats(pool_cache_t pc, pool_stats_t *st);
/*
 * Call fn with the counters of every live pool and pool cache, in the
 * order they were initialised.  fn is called with no lock held, so it may
 * use pools, but it must not destroy one (destruction waits for walkers).
 */
KMEM_API void pool_walk(void (*fn)(void *arg, const pool_stats_t *st),
    void *arg);
/*
 * The pool table of NetBSD's `vmstat -m` (Name Size Requests Fail Releases
 * Pgreq Pgrel Npage Hiwat Minpg Maxpg Idle), one line per call of emit,
 * then the totals line.
 */
KMEM_API void pool_table(void (*emit)(void *arg, const char *line),
    void *arg);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_POOL_H */
