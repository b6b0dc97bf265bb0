/*
 * kmem for the library's other layers: what vmem's quantum caches, the
 * NetBSD layer (pool, typed malloc), the laboratory's slab row, statistics
 * publishing, malloc and the benchmarks may ask of kmem beyond
 * <kmem/kmem.h>.  A kmem_cache_t stays opaque here: no structure of kmem's
 * is visible, so kmem may change its own without their knowing.  (malloc.c
 * also includes kmem_fast.h, the fast paths it is built from.)
 *
 * Who includes it: those layers, and kmem_impl.h, so that the files of
 * src/kmem/ that define these functions see the same declarations.
 *
 * Locks: none of these may be called with a kmem lock held; each says
 * which it takes.  The callbacks of kmem_cache_walk_slabs() run under the
 * cache's slab lock, and so must not call into kmem.
 */
#ifndef KMEM_KMEM_QUERY_H
#define KMEM_KMEM_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kmem/kmem.h>

/*
 * Promises of the layout, for the layers that predict it (pool.c gives a
 * page allocator's pool slabs of exactly one page).
 */
#define KMEM_ALIGN              8       /* least buffer alignment */
#define KMEM_VOID_FRACTION      8       /* waste at most 1/8 of a slab */
#define KMEM_MAXBUF             (128 * 1024)    /* kmem_alloc's largest cache */
#define KMEM_CACHES_MAX         4096    /* caches alive at once */

/* Start kmem (the debug settings, the arenas, the internal caches), once. */
void kmem_init(void);

/* ---- kmem_alloc()'s classes and large buffers (kmem_alloc.c) ---- */

/*
 * kmem_alloc's classes, numbered from 0 (8 bytes) to KMEM_ALLOC_CLASSES - 1
 * (KMEM_MAXBUF): the number of the class of 0 < size <= KMEM_MAXBUF, and
 * its buffer size in *class_size.  For whoever mirrors the classes (the
 * laboratory's slab row) or counts the memory a request occupies.
 */
#define KMEM_ALLOC_CLASSES      96
unsigned kmem_alloc_class(size_t size, size_t *class_size);
/*
 * The cache of the class of 0 < size <= KMEM_MAXBUF, made now if this is
 * the class's first use (and kmem started if it was not), its structure
 * allocated as kmflag says; NULL for other sizes, or when it cannot be
 * made (memory ran out).  A slow path: the class tables' fast lookup
 * (kmem_fast.h) gives kmem_null_cache for a class not made yet.
 */
kmem_cache_t *kmem_alloc_class_cache(size_t size, int kmflag);
/*
 * May the len bytes at buf be read as the start of a kmem_alloc() buffer:
 * is buf the start of a buffer of one of the classes, or are they inside
 * a large buffer's span?  Lock-free for a class buffer; a large one asks
 * kmem_oversize (its lock).  For typed malloc's header checks.
 */
bool kmem_alloc_readable(const void *buf, size_t len);
/*
 * malloc's large buffers, from kmem_oversize (or firewalled, when the
 * debug settings ask for size): size bytes, a multiple of the page size,
 * aligned to align, a power of two; never waits.  NULL when memory ran
 * out (the debugging layer is told).
 */
void *kmem_large_alloc(size_t size, size_t align);
/* The size of the large buffer at buf, or 0 when buf is none. */
size_t kmem_large_size(const void *buf);
/*
 * free() of buf when it is no class buffer: true when it was a large
 * buffer, now freed (or a firewalled one's bad free, reported); false,
 * nothing changed, when it is none.
 */
bool kmem_large_free(void *buf);
/* Visit each of kmem_alloc()'s class caches made so far once, smallest
 * first (before kmem_init(), none). */
void kmem_alloc_class_walk(void (*visit)(void *arg, kmem_cache_t *cp),
    void *arg);
/* The statistics of kmem_oversize, the large buffers' arena; false,
 * *st untouched, before kmem_init(). */
bool kmem_large_stats(vmem_stats_t *st);

/* ---- sampled guard pages (kmem_guard.c), for malloc ---- */

/*
 * Guard about one malloc() in rate from now on (malloc.c draws them); 0:
 * none.  The first rate maps the pool and takes the faults (platform's
 * hook); false, nothing changed, when it cannot.  Takes kmem_guard_lock.
 */
bool kmem_guard_rate_set(unsigned rate);
unsigned kmem_guard_rate(void);
/*
 * A buffer of size bytes aligned to align (a power of two) in a slot of
 * the pool, between guard pages; NULL when size or align is above a page,
 * the rate is 0 or the pool is full.  Takes kmem_guard_lock.
 */
void *kmem_guard_alloc(size_t size, size_t align);
/*
 * The guard pages' time budget (kmem_guard.c): burst_ns plus ppm millionths
 * of the time from now on; ppm 0: none.  The default is 0.5% plus 5 ms;
 * for the tests, which guard every allocation.
 */
void kmem_guard_budget_set(uint32_t ppm, uint64_t burst_ns);
/* Is buf in the pool's address range?  Lock-free: free()'s slow path. */
bool kmem_guard_holds(const void *buf);
/* free() of buf, in the pool: freed, or the error reported. */
void kmem_guard_free(void *buf);
/* The size of the guarded buffer at buf, in the pool; 0 after a report
 * (caller names the call: "realloc", "malloc_usable_size"). */
size_t kmem_guard_size(const void *buf, const char *caller);

/* ---- questions about caches and their buffers ---- */

/* The cache's name, as kmem_cache_create() got it (cut to VMEM_NAMELEN). */
const char *kmem_cache_name(const kmem_cache_t *cp);
/*
 * The cache whose slab holds addr, for a cache in the page map (touchable
 * memory, an arena of whole pages), or NULL.  Lock-free: for reports.
 */
kmem_cache_t *kmem_cache_of(const void *addr);
/*
 * Could buf be a buffer cp handed out, so that kmem_cache_free() of it
 * would not be refused as a stranger?  In the page map: buf is the start
 * of one of cp's buffers (lock-free).  Otherwise: cp's hash holds buf, a
 * buffer out of its slab (cp's slab lock).
 */
bool kmem_cache_knows(kmem_cache_t *cp, const void *buf);
/*
 * Is buf the buffer the calling thread freed to cp last, still on top of
 * its magazines?  A put twice, caught without a search (pool_put()).
 */
bool kmem_cache_freed_last(kmem_cache_t *cp, const void *buf);
/*
 * The bytes of buf, a live buffer of cp, the caller may use: what its
 * allocation asked for in a debug cache (the redzone follows), else the
 * cache's buffer size.
 */
size_t kmem_cache_usable_size(kmem_cache_t *cp, const void *buf);
/* Slabs of cp with no buffer allocated (cp's slab lock). */
uint64_t kmem_cache_empty_slabs(kmem_cache_t *cp);

/* One slab, as kmem_cache_walk_slabs() shows it. */
typedef struct kmem_slab_info {
	uintptr_t base;         /* the slab's memory, size bytes */
	size_t size;
	uintptr_t first;        /* its first buffer (base + colour) */
	size_t chunk_size;      /* buffer and tag, rounded to the alignment */
	unsigned chunks;        /* buffers in the slab, from first on */
	unsigned allocated;     /* ... of which out of the slab */
	size_t metadata;        /* bytes kept outside the slab for it: its
				 * structure and bufctls (0 when inside) */
} kmem_slab_info_t;

/*
 * Call slab_fn for every slab of cp (full ones first, then partial, then
 * empty), and after each, free_fn (when not NULL) for every buffer free in
 * that slab, chunk_size bytes at buf.  Under cp's slab lock: the callbacks
 * must not call into kmem.
 */
void kmem_cache_walk_slabs(kmem_cache_t *cp,
    void (*slab_fn)(void *arg, const kmem_slab_info_t *slab),
    void (*free_fn)(void *arg, void *buf, size_t chunk_size), void *arg);
/* Bytes of cp's bookkeeping outside its slabs: the cache structure and
 * its hash table (cp's slab lock). */
size_t kmem_cache_metadata_bytes(kmem_cache_t *cp);
/*
 * The rounds of the magazines of a cache of chunks of chunksize bytes:
 * the size it starts with, or with grown, the largest contention or a
 * batch can grow them to (bench/cpu_identity's table of the memory they
 * hold).
 */
unsigned kmem_magazine_rounds(size_t chunksize, bool grown);
/*
 * Magazines grow only while one holds at most KMEM_MAGAZINE_BYTES of
 * buffers, or at most KMEM_MAGAZINE_MIN_ROUNDS buffers: a thread's two
 * magazines of a cache hold at most twice the larger (kmem_depot.c).
 */
#define KMEM_MAGAZINE_BYTES     (16u << 10)
#define KMEM_MAGAZINE_MIN_ROUNDS 3
/*
 * The depots' ceiling: the full magazines of all caches without
 * constructor or destructor hold at most kmem_depot_ceiling() bytes of
 * rounds together, give or take one magazine per thread freeing at that
 * moment (kmem_depot.c): KMEM_DEPOT_FULL_MIN, or a sixteenth of the
 * caches' slabs at their peak since the last update pass
 * (KMEM_DEPOT_FULL_SHARE), whichever is more.
 * kmem_depot_full_bytes() says how many they hold now.
 */
#define KMEM_DEPOT_FULL_MIN     (2u << 20)
#define KMEM_DEPOT_FULL_SHARE   16
uint64_t kmem_depot_ceiling(void);
uint64_t kmem_depot_full_bytes(void);

/* ---- reports (kmem_debug.c) ---- */

/*
 * Report an error about buf (of cp, either may be NULL): the message,
 * then, when debugging is on, the stack that found it and buf's last
 * transaction if cp audits.
 */
void kmem_debug_report(kmem_cache_t *cp, const void *buf, const char *fmt,
    ...) KMEM_PRINTFLIKE(3, 4);

/* ---- vmem's quantum caches ---- */

/* kmem_cache_create() without kmem_init(), for kmem's and vmem's own
 * caches; NULL when memory or the table of caches ran out. */
kmem_cache_t *kmem_cache_create_internal(const char *name, size_t bufsize,
    size_t align, kmem_constructor_t *constructor,
    kmem_destructor_t *destructor, kmem_reclaim_t *reclaim, void *private,
    vmem_t *vmp, int cflags);
/*
 * kmem_cache_free() to cp, a KMC_NOTOUCH cache: checked against its hash
 * before it may reach a magazine.  kmem_free_size as for the slow paths
 * (KMEM_FREE_UNSIZED, or vmem_free()'s size for a quantum cache).
 */
void kmem_notouch_free(kmem_cache_t *cp, void *buf, size_t kmem_free_size);

/*
 * kmem_cache_destroy() that reports no leak: it returns the number of
 * buffers never freed (their slabs stay allocated in the arena), which
 * vmem_destroy() reports as the arena's own allocations.
 */
size_t kmem_cache_destroy_leaked(kmem_cache_t *cp);
/*
 * What a cache knows of an address: for the checks on the buffers of a
 * KMC_NOTOUCH cache with magazines, and the reports of bad frees.
 */
typedef enum kmem_buf_state {
	KMEM_BUF_NONE,          /* in no slab of the cache */
	KMEM_BUF_ALLOCATED,     /* a buffer's start; its client has it */
	KMEM_BUF_CACHED,        /* in a buffer free in a magazine */
	KMEM_BUF_FREE,          /* in a buffer free in its slab */
	KMEM_BUF_INSIDE,        /* inside an allocated buffer, or no buffer */
} kmem_buf_state_t;
/*
 * What cp knows of addr, for a report (a linear search of the slabs, under
 * cp's slab lock): with KMEM_BUF_INSIDE, [*start, *end) is the allocated
 * buffer addr is inside, or the slab when addr is in no buffer (colour
 * slack, tail).
 */
kmem_buf_state_t kmem_slab_describe(kmem_cache_t *cp, uintptr_t addr,
    uintptr_t *start, uintptr_t *end);
/* An arena is about to fail or wait: ask every cache to give back (at
 * most once per 100 ms). */
void kmem_reap_soon(void);
/*
 * Give back everything the caches hold beyond what is allocated, now: the
 * calling thread's own magazines, every depot, every free slab, the large
 * buffers' kept memory and the free pages of kmem_pages (malloc_trim()).
 * Other threads' own magazines stay theirs.
 */
void kmem_give_back_all(void);

/* ---- malloc's recorder (src/malloc/malloc_trace.c) ---- */

/*
 * The recorder sees every malloc() and free() without a test on their fast
 * paths: it turns the class caches' fast paths off, as a debug cache's are
 * (cache_fast_offset UINT32_MAX), so every call reaches the slow paths.
 * There, after kmem_malloc_divert(alloc_hook, free_hook):
 * - an allocation of a class asked with KM_MALLOC_ENTRY (only malloc()'s
 *   fast path asks so) returns alloc_hook(buf, requested), which returns
 *   buf, once it has its buffer; a failed one returns NULL without it,
 *   and malloc() falls into its own slow path, which records the failure;
 * - a free of a class buffer with KMEM_FREE_MALLOC calls free_hook(buf)
 *   before any other thread can get the buffer again: after pushing it
 *   to the thread's loaded magazine, else before the buffer is freed;
 * - between the hooks, a class cache that is no debug cache takes the
 *   round from, or gives it to, the thread's loaded magazine as its fast
 *   path would have (by cache_index, no lock), so the diverted calls cost
 *   a call and a hook more than the fast paths, not the magazines' lock;
 * - an allocation that took kmem's slow path instead (the depot, the
 *   slabs: where a buffer another thread freed comes from) calls
 *   slow_hook() once it has its buffer, malloc()'s or not.
 * Once on, it stays on.  Call it before other threads allocate: a thread
 * that read the old fast offset a moment earlier makes one unrecorded call.
 */
#define KM_MALLOC_ENTRY 0x10000         /* beyond KM_FLAGS: kmem's own */
void kmem_malloc_divert(void *(*alloc_hook)(void *buf, size_t requested),
    void (*free_hook)(void *buf), void (*slow_hook)(void));

/* ---- the update (kmem_update.c) ---- */

/*
 * Have the update thread start by itself when the process needs it
 * (libkmem_malloc.so's default; kmem_update.c says when).
 */
void kmem_update_thread_auto(void);
/* Call hook after every maintenance pass, with no lock held (NULL: none). */
void kmem_update_done_hook_set(void (*hook)(void));

#endif /* KMEM_KMEM_QUERY_H */
