/*
 * kmem's internal structures, shared by the files that implement it:
 *
 *	kmem_cache.c    caches: creation, layout, destruction, alloc and free
 *	kmem_slab.c     the slab layer
 *	kmem_depot.c    magazines and the depot, working set, resizing
 *	kmem_thread.c   the per-thread layer ("CPU" caches) and thread exit
 *	kmem_hash.c     buffer -> bufctl hash of caches with external slabs
 *	kmem_pagemap.c  page -> slab map of caches in touchable memory
 *	kmem_alloc.c    kmem_alloc()'s size classes
 *	kmem_update.c   the periodic update and reaping
 *	kmem_stats.c    statistics and the ::kmastat table
 *	kmem_fork.c     fork() handlers
 *	kmem_init.c     bootstrap: the default arena and internal caches
 *	kmem_debug.c    the debugging layer's checks and reports
 *	kmem_debug_options.c  its settings; kmem_debug_log.c  its logs
 *	kmem_firewall.c buffers against an unmapped page
 *	kmem_leaks.c    the leak detector (its working memory: scratch.c)
 *
 * The theory is at the top of kmem_cache.c; docs/kmem.md is the long
 * version.
 */
#ifndef KMEM_KMEM_IMPL_H
#define KMEM_KMEM_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kmem/debug.h>
#include <kmem/kmem.h>

#include "base/bits.h"
#include "platform/platform.h"
#include "base/poison.h"

#define KMEM_ALIGN              8       /* least buffer alignment */
#define KMEM_VOID_FRACTION      8       /* waste at most 1/8 of a slab */
#define KMEM_COLOR_STEP         64      /* a cache line */
#define KMEM_MAXBUF             (128 * 1024)    /* kmem_alloc's largest cache */
#define KMEM_CACHES_MAX         4096    /* caches alive at once */
#define KMEM_HASH_INITIAL       16

/* Flags kept in cache->flags beside the public KMC_* and KMF_* bits. */
#define KMF_HASH        0x00000200      /* external slabs and bufctl hash */
#define KMF_PAGEMAP     0x00000400      /* slabs are in the page map */
#define KMF_NULL        0x00000800      /* kmem_null_cache: allocates nothing */
#define KMF_CLASS       0x00001000      /* one of kmem_alloc()'s classes */
#define KMF_BUFTAG      (KMF_AUDIT | KMF_DEADBEEF | KMF_REDZONE | \
	KMF_CONTENTS | KMF_LITE)        /* a tag follows each buffer */

/*
 * A buffer's control structure in a cache with external slabs (KMF_HASH):
 * on its slab's free list while free, in the cache's hash while out of its
 * slab.  cached tells a KMC_NOTOUCH cache's buffer out of its slab that
 * waits in a magazine (true) from one its client holds (false): such a
 * cache cannot mark the buffer itself, and without this a bad free into a
 * magazine would go unseen until the buffer was handed out twice.  Only
 * those caches keep it (under slab_lock); it is false in all others.
 */
typedef struct kmem_bufctl {
	struct kmem_bufctl *next;
	uintptr_t addr;
	struct kmem_slab *slab;
	bool cached;
} kmem_bufctl_t;

/*
 * The tag after each buffer of a debug cache (KMF_BUFTAG; kmem_debug.c).
 * state is the buffer's address XORed with KMEM_BUFTAG_ALLOC or
 * KMEM_BUFTAG_FREE, so a tag copied from elsewhere or overwritten is told
 * apart from a genuine state; redzone holds KMEM_REDZONE_PATTERN;
 * requested is what the allocation asked for (the bytes between it and
 * the redzone hold KMEM_REDZONE_BYTE while allocated); while the debugging
 * layer works on a buffer being allocated or freed its state says BUSY,
 * so kmem_debug_verify() skips it; link is the slab
 * free list's link (cache->link_offset), so a free buffer's own bytes hold
 * nothing but the freed pattern.  With KMF_AUDIT the buffer's last
 * transaction follows the tag, and audit points at it.
 */
typedef struct kmem_audit {
	uint64_t thread;
	uint64_t time_ns;
	uint32_t op;            /* KMEM_OP_ALLOC or KMEM_OP_FREE */
	uint32_t depth;
	uintptr_t pcs[];        /* cache->audit_depth slots */
} kmem_audit_t;

typedef struct kmem_buftag {
	uint64_t redzone;
	uintptr_t state;
	uint64_t requested;
	void *link;
	kmem_audit_t *audit;
} kmem_buftag_t;

#define KMEM_BUFTAG_ALLOC       0xa110c8edUL
#define KMEM_BUFTAG_FREE        0xf4eef4eeUL
#define KMEM_BUFTAG_BUSY        0xb5b5b5b5UL    /* being allocated or freed */
#define KMEM_REDZONE_PATTERN    0xfeedfacefeedfaceULL
#define KMEM_REDZONE_BYTE       0xbb
#define KMEM_FREE_PATTERN       0xdeadbeefdeadbeefULL
#define KMEM_UNINITIALIZED_PATTERN 0xbaddcafebaddcafeULL
#define KMEM_AUDIT_DEPTH_MAX    64
#define KMEM_CONTENTS_MAX       4096

/*
 * The global debug settings (kmem_debug_options.c): set before kmem
 * starts, read-only after.  log_size[] is 0 for a log that is off.
 */
typedef struct kmem_debug_config {
	int flags;                      /* KMF_* for caches created later */
	unsigned audit_depth;
	size_t contents_bytes;
	size_t firewall_size;           /* 0: no firewall */
	size_t maxverify;
	bool verbose;
	bool noabort;
	size_t log_size[3];             /* by kmem_debug_log_t */
} kmem_debug_config_t;

/*
 * A slab: one piece of the cache's arena cut into chunks.  In a cache of
 * small buffers (no KMF_HASH) the slab structure sits at the end of the
 * slab itself and each free buffer holds the address of the next one at
 * cache->link_offset; otherwise the slab structure and one bufctl per
 * buffer come from internal caches.
 */
typedef struct kmem_slab {
	struct kmem_cache *cache;
	struct kmem_slab *next;         /* the cache's slab list */
	struct kmem_slab *prev;
	void *head;                     /* first free buffer, or bufctl */
	uintptr_t base;                 /* the slab's memory */
	uintptr_t first;                /* its first buffer (base + color) */
	unsigned refcnt;                /* buffers allocated */
	unsigned chunks;                /* buffers in all */
} kmem_slab_t;

/*
 * A magazine: an array of rounds (buffers).  While it sits in the depot,
 * next links it and count says how many rounds it holds (a thread that
 * exits may leave a partly full one); type says which magtype it is.
 */
typedef struct kmem_magazine {
	struct kmem_magazine *next;
	uint32_t count;
	uint32_t type;
	void *rounds[];
} kmem_magazine_t;

/* A magazine size, the buffer sizes it starts for, and its cache. */
typedef struct kmem_magtype {
	unsigned rounds;
	size_t align;
	size_t minbuf;          /* starting size for chunks above this */
	size_t maxbuf;          /* grow no further for chunks at or above */
	struct kmem_cache *cache;
} kmem_magtype_t;

/* One of the depot's lists, with its working-set bookkeeping. */
typedef struct kmem_maglist {
	kmem_magazine_t *list;
	uint64_t total;         /* magazines on the list */
	uint64_t min;           /* lowest total this update interval */
	uint64_t reaplimit;     /* that lowest, in the last full interval */
	uint64_t alloc;         /* magazines taken */
} kmem_maglist_t;

/*
 * A thread's view of one cache (the "CPU cache" of the 2001 paper): a
 * loaded and a previously loaded magazine.  rounds is -1 with no loaded
 * magazine, prounds -1 with no previous one; magsize is the size of the
 * magazines held, 0 while the layer is off for this slot.  Only the owning
 * thread changes a slot, with relaxed atomic stores where another thread
 * may read (statistics), so no lock and no read-modify-write is needed.
 */
typedef struct kmem_cpu_cache {
	kmem_magazine_t *loaded;
	kmem_magazine_t *ploaded;
	int rounds;
	int prounds;
	int magsize;
	unsigned spare;
	uint64_t alloc;         /* allocations served from magazines */
	uint64_t free;          /* frees taken by magazines */
} kmem_cpu_cache_t;

/* A thread's slots, indexed by cache->index. */
typedef struct kmem_thread_cache {
	kmem_cpu_cache_t *slots;
	unsigned nslots;
	unsigned slow_calls;    /* paces the lazy update (kmem_update.c) */
	kmem_mutex_t lock;      /* slots[] itself, and other threads' access */
	uintptr_t stack_lo;     /* the owner's stack, for the leak detector */
	uintptr_t stack_hi;     /* (both 0 when unknown) */
	struct kmem_thread_cache *next;         /* kmem_threads_lock */
	struct kmem_thread_cache *prev;
} kmem_thread_cache_t;

/* The buffer -> bufctl hash of a KMF_HASH cache (kmem_hash.c). */
typedef struct kmem_hash {
	kmem_bufctl_t **table;
	size_t mask;
	unsigned shift;         /* low address bits a chunk makes constant */
	size_t count;
	uint64_t lookup;
	uint64_t depth;
	kmem_bufctl_t *table0[KMEM_HASH_INITIAL];
} kmem_hash_t;

struct kmem_cache {
	/*
	 * Read on the fast paths; set at creation.  fast_index is index, the
	 * cache's slot in every thread cache, except for a debug cache
	 * (KMF_BUFTAG): UINT32_MAX sends its every allocation and free to the
	 * slow paths, which run the checks around the same magazines.
	 */
	unsigned fast_index;
	int flags;                      /* KMC_*, KMF_* */
	uintptr_t free_key;             /* free marks' key; 0: none (kmem_cache.c) */
	size_t bufsize;
	kmem_constructor_t *constructor;
	kmem_destructor_t *destructor;
	kmem_reclaim_t *reclaim;
	void *private;
	char name[VMEM_NAMELEN];
	unsigned index;                 /* slot in every thread cache */

	/* Layout, set at creation. */
	vmem_t *arena;
	size_t align;
	size_t chunksize;
	size_t slabsize;
	size_t link_offset;             /* the free link in small slabs */
	size_t buftag_offset;           /* KMF_BUFTAG */
	unsigned audit_depth;           /* KMF_AUDIT: frames per record */
	unsigned chunks;                /* buffers per slab */
	size_t mincolor;
	size_t maxcolor;

	/*
	 * Is an offset from a slab's first buffer a multiple of chunksize
	 * (= odd << chunk_shift)?  Exactly when the offset times the inverse
	 * of odd modulo 2^64, rotated right by chunk_shift, is at most
	 * UINT64_MAX / chunksize (Granlund & Montgomery): one multiply, no
	 * division on the free path.
	 */
	uint64_t slab_span;             /* chunks * chunksize */
	unsigned chunk_shift;
	uint64_t chunk_inverse;
	uint64_t chunk_limit;

	/* The depot: depot_lock. */
	kmem_mutex_t depot_lock;
	const kmem_magtype_t *magtype;  /* NULL: no magazine layer */
	kmem_maglist_t full;
	kmem_maglist_t empty;
	kmem_magazine_t *stale;         /* of an old size, to destroy */
	uint64_t depot_contention;
	uint64_t depot_contention_prev;
	bool depot_resize_wanted;       /* contention or traffic passed the threshold */
	bool depot_trim_wanted;         /* the full list passed its ceiling */
	uint64_t depot_trim;            /* full magazines destroyed at the ceiling */
	uint64_t depot_resize_time;     /* of the last check by a slow path */
	uint64_t depot_traffic_prev;    /* depot_alloc + depot_free at the last check */
	uint64_t depot_traffic_time;    /* clock time of the last check */
	uint64_t depot_alloc;
	uint64_t depot_free;

	/* The slab layer: slab_lock. */
	kmem_mutex_t slab_lock;
	kmem_slab_t slabs;              /* list anchor: full, partial, empty */
	kmem_slab_t *freelist;          /* first slab with a free buffer */
	size_t color;                   /* of the next slab */
	uint64_t slab_create;
	uint64_t slab_destroy;
	uint64_t slab_alloc;            /* buffers from slabs */
	uint64_t slab_free;             /* buffers back to slabs */
	uint64_t buf_total;
	uint64_t buf_max;
	uint64_t slow_alloc;            /* allocations not served by magazines */
	uint64_t slow_free;
	uint64_t alloc_fail;
	uint64_t dead_alloc;            /* counters of exited threads' slots */
	uint64_t dead_free;
	uint64_t reap;
	kmem_hash_t hash;

	struct kmem_cache *list_next;   /* kmem_caches_lock */
	struct kmem_cache *list_prev;
};

/* ---- kmem_init.c ---- */
extern vmem_t *kmem_default;
extern vmem_t *kmem_oversize;
extern kmem_cache_t *kmem_slab_cache;
extern kmem_cache_t *kmem_bufctl_cache;
extern kmem_cache_t *kmem_thread_cache_cache;
extern kmem_cache_t *kmem_cache_cache;
extern kmem_mutex_t kmem_init_lock;
void kmem_init(void);
bool kmem_initialized(void);
/* Has a thread started kmem_init()'s bootstrap (it may not be done)? */
bool kmem_init_begun(void);
vmem_t *kmem_metadata_arena(void);
/* Give back the free spans kmem_oversize kept for reuse (update, reap). */
void kmem_release_idle(void);

/* ---- kmem_cache.c ---- */
extern kmem_mutex_t kmem_caches_lock;
extern kmem_cache_t kmem_caches;        /* list anchor */
extern kmem_cache_t kmem_null_cache;
kmem_cache_t *kmem_cache_create_in(kmem_cache_t *cp, const char *name,
    size_t bufsize, size_t align, kmem_constructor_t *constructor,
    kmem_destructor_t *destructor, kmem_reclaim_t *reclaim, void *private,
    vmem_t *vmp, int cflags);
/* kmem_cache_create() without kmem_init(), for kmem's own caches. */
kmem_cache_t *kmem_cache_create_internal(const char *name, size_t bufsize,
    size_t align, kmem_constructor_t *constructor,
    kmem_destructor_t *destructor, kmem_reclaim_t *reclaim, void *private,
    vmem_t *vmp, int cflags);
void kmem_cache_free_to_slab(kmem_cache_t *cp, void *buf);

/* ---- kmem_slab.c ---- */
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

void kmem_slab_init(kmem_cache_t *cp);
void *kmem_slab_alloc(kmem_cache_t *cp, int kmflag);
unsigned kmem_slab_alloc_many(kmem_cache_t *cp, void **bufs, unsigned n,
    int kmflag);
void kmem_slab_free(kmem_cache_t *cp, void *buf);
bool kmem_slab_accepts(kmem_cache_t *cp, void *buf);
/* Report buf, freed to cp, a hash cache, but not out of any of its slabs. */
void kmem_slab_refuse(kmem_cache_t *cp, void *buf);
/*
 * A KMC_NOTOUCH cache's buffer is freed into a magazine: if its client had
 * it, mark it cached and return KMEM_BUF_ALLOCATED; else change nothing and
 * return KMEM_BUF_CACHED (a double free) or KMEM_BUF_NONE (not out of a
 * slab of this cache).
 */
kmem_buf_state_t kmem_slab_cache_buffer(kmem_cache_t *cp, void *buf);
/* Mark n buffers of a KMC_NOTOUCH cache, fresh from their slabs, as
 * waiting in a magazine. */
void kmem_slab_set_cached(kmem_cache_t *cp, void *const *bufs, unsigned n);
/* Mark a buffer of a KMC_NOTOUCH cache, out of its slab, as its client's
 * (whether it came from a magazine or from the slab). */
void kmem_slab_set_held(kmem_cache_t *cp, void *buf);
/*
 * What cp knows of addr, for a report (a linear search of the slabs): with
 * KMEM_BUF_INSIDE, [*start, *end) is the allocated buffer addr is inside,
 * or the slab when addr is in no buffer (colour slack, tail).
 */
kmem_buf_state_t kmem_slab_describe(kmem_cache_t *cp, uintptr_t addr,
    uintptr_t *start, uintptr_t *end);
/* Is buf, a buffer of cp (a KMF_PAGEMAP cache), free in its slab? */
bool kmem_slab_buffer_free(kmem_cache_t *cp, const void *buf);
size_t kmem_slab_reap(kmem_cache_t *cp);
uint64_t kmem_slab_destroy_all(kmem_cache_t *cp);

/* ---- kmem_debug.c ---- */
/* The tag of a fresh (or given back) free buffer, its freed pattern. */
void kmem_buftag_init(kmem_cache_t *cp, void *buf);
/* buf leaves the slab layer for an allocation of requested bytes: check
 * its pattern and tag, mark it allocated; false if it must not be used. */
bool kmem_debug_alloc(kmem_cache_t *cp, void *buf, size_t requested);
/* buf is freed (kmem_free_size as for kmem_bad_free()): check its tag and
 * redzone, mark it free; false if the free must be refused. */
bool kmem_debug_free(kmem_cache_t *cp, void *buf, size_t kmem_free_size);
/* After the destructor: paint the freed pattern. */
void kmem_debug_freed(kmem_cache_t *cp, void *buf);
/* The stack of buf's last transaction (KMF_AUDIT), 0 when none. */
unsigned kmem_audit_stack(kmem_cache_t *cp, void *buf, uintptr_t *pcs,
    unsigned max);
/* The size the allocation of buf, a debug cache's buffer, asked for. */
size_t kmem_debug_requested(kmem_cache_t *cp, const void *buf);
/* An allocation from cp (NULL: kmem_alloc) of size bytes failed. */
void kmem_debug_alloc_failed(kmem_cache_t *cp, size_t size);
/*
 * Report an error about buf (of cp, either may be NULL): the message,
 * then, when debugging is on, the stack that found it and buf's last
 * transaction if cp audits.
 */
void kmem_debug_report(kmem_cache_t *cp, const void *buf, const char *fmt,
    ...) KMEM_PRINTFLIKE(3, 4);

/* ---- kmem_debug_options.c ---- */
extern kmem_debug_config_t kmem_debug_config;

/* Does a request of size bytes get pages of its own (firewall=size)? */
static inline bool
kmem_firewall_wants(size_t size)
{
	size_t firewall = kmem_debug_config.firewall_size;
	return (firewall != 0 && size >= firewall);
}
/* Parse into *c (from the defaults); 0, or -1 with err naming the option. */
int kmem_debug_parse(const char *debug, const char *logging,
    kmem_debug_config_t *c, char *err, size_t errlen);
/* Apply KMEM_DEBUG / UMEM_DEBUG etc. unless kmem_debug_configure() ran;
 * false with err set when they are bad. */
bool kmem_debug_from_environment(char *err, size_t errlen);

/* Held by kmem_debug_verify() throughout, and by kmem_cache_destroy()
 * while it takes the cache off the list, so none goes while it is checked. */
extern kmem_mutex_t kmem_debug_verify_lock;

/* ---- kmem_debug_log.c ---- */
extern kmem_mutex_t kmem_debug_log_lock;
/* Allocate the rings kmem_debug_config asks for (bootstrap). */
void kmem_debug_logs_init(void);
/*
 * A transaction as the logs and reports see it: the stack is pcs[0 ..
 * depth - 1], innermost first.
 */
typedef struct kmem_transaction {
	kmem_debug_op_t op;
	uint64_t thread;
	uint64_t time_ns;
	unsigned depth;
	const uintptr_t *pcs;
} kmem_transaction_t;
/* Append a record of buf (contents: how many of its bytes to keep). */
void kmem_debug_log_append(int log, const kmem_cache_t *cp, const void *buf,
    size_t size, const kmem_transaction_t *tx, size_t contents);
/* Format the transaction log's entries for buf into out (verbose). */
size_t kmem_debug_log_history(const void *buf, char *out, size_t len);

/* ---- kmem_firewall.c ---- */
extern kmem_mutex_t kmem_firewall_lock;
/* A firewalled buffer of size bytes, counted as cp's (a kmem_alloc() class
 * for the requests it sends; NULL for large ones). */
void *kmem_firewall_alloc(kmem_cache_t *cp, size_t size, size_t align);
/* Free buf if it is a firewalled buffer (reports a bad size or cache, a
 * double free); false if it is none of the firewall's. */
bool kmem_firewall_free(kmem_cache_t *cp, void *buf, size_t kmem_free_size);
/* fn(arg, buffer, requested size, cache) for every live firewalled buffer,
 * until it returns false (the leak scan; kmem_firewall_lock held). */
bool kmem_firewall_walk(bool (*fn)(void *arg, void *buf, size_t size,
    kmem_cache_t *cp), void *arg);
/* The allocation stack of buf, a live firewalled buffer (KMF_AUDIT), into
 * pcs[0 .. max): how many frames; 0 when none or buf is not live.  For the
 * leak scan, which holds kmem_firewall_lock. */
unsigned kmem_firewall_stack(const void *buf, uintptr_t *pcs, unsigned max);
/* cp is being destroyed: forget its live firewalled buffers, which stay
 * mapped; how many there were. */
uint64_t kmem_firewall_forget(const kmem_cache_t *cp);
/* Unmap buf, a firewalled buffer never handed out (its constructor
 * failed), with no checks. */
void kmem_firewall_discard(void *buf);
/* The requested size of a live firewalled buffer, or 0. */
size_t kmem_firewall_size(const void *buf);

/* ---- kmem_fork.c ---- */
/* Take (release) every thread cache's, depot's and slab layer's lock, as
 * fork() does; kmem_caches_lock and kmem_threads_lock held. */
void kmem_caches_hold_all(void);
void kmem_caches_release_all(void);

/* ---- kmem_leaks.c ---- */
/* Scan for leaks when the process exits (true), or no longer (false). */
void kmem_leaks_at_exit(bool on);

/* ---- kmem_depot.c ---- */
extern kmem_magtype_t kmem_magtypes[];
const kmem_magtype_t *kmem_magtype_for(size_t chunksize);
void kmem_magtypes_init(void);
kmem_magazine_t *kmem_magazine_alloc(const kmem_magtype_t *mtp, int kmflag);
void kmem_magazine_destroy(kmem_cache_t *cp, kmem_magazine_t *mp,
    unsigned count);
kmem_magazine_t *kmem_depot_alloc(kmem_cache_t *cp, kmem_maglist_t *mlp,
    unsigned rounds);
void kmem_depot_free(kmem_cache_t *cp, kmem_magazine_t *mp, unsigned count);
void kmem_depot_ws_update(kmem_cache_t *cp);
void kmem_depot_ws_reap(kmem_cache_t *cp);
void kmem_depot_ws_zero(kmem_cache_t *cp);
void kmem_depot_purge(kmem_cache_t *cp);
/* Does a magazine in cp's depot (full or stale) hold buf? */
bool kmem_depot_holds(kmem_cache_t *cp, const void *buf);
void kmem_depot_resize_check(kmem_cache_t *cp);
/* From a slow path, no lock held: trim the full list if it passed its
 * ceiling, and the resize check if contention or traffic asks. */
void kmem_depot_tend(kmem_cache_t *cp);

/* ---- kmem_thread.c ---- */
/* Whose magazines of cp hold buf: the calling thread's, another's, none. */
typedef enum kmem_held_by {
	KMEM_HELD_BY_NONE,
	KMEM_HELD_BY_CALLER,
	KMEM_HELD_BY_OTHER
} kmem_held_by_t;
kmem_held_by_t kmem_thread_magazines_hold(kmem_cache_t *cp, const void *buf);
extern kmem_mutex_t kmem_threads_lock;
extern kmem_thread_cache_t kmem_threads;        /* list anchor */
extern __thread kmem_thread_cache_t *kmem_self
    __attribute__((tls_model("initial-exec")));
kmem_cpu_cache_t *kmem_thread_slot(kmem_cache_t *cp);
void kmem_thread_slot_to_depot(kmem_cache_t *cp, kmem_cpu_cache_t *cc);
void kmem_thread_flush_cache(kmem_cache_t *cp);
void kmem_thread_counts(kmem_cache_t *cp, uint64_t *alloc, uint64_t *free);
void kmem_thread_fork_prepare(void);
void kmem_thread_fork_child(void);
/* The calling thread (the library's own) never gets a thread cache: its
 * allocations and frees go straight to the slab layer. */
void kmem_thread_no_magazines(void);
/* How many threads have a thread cache now. */
unsigned kmem_thread_caches_live(void);
unsigned kmem_index_get(kmem_cache_t *cp);
void kmem_index_put(unsigned index);

/* ---- kmem_hash.c ---- */
void kmem_hash_init(kmem_hash_t *h, size_t chunksize);
void kmem_hash_fini(kmem_hash_t *h);
void kmem_hash_insert(kmem_hash_t *h, kmem_bufctl_t *bcp);
kmem_bufctl_t *kmem_hash_remove(kmem_hash_t *h, uintptr_t addr);
bool kmem_hash_contains(kmem_hash_t *h, uintptr_t addr);
kmem_bufctl_t *kmem_hash_find(kmem_hash_t *h, uintptr_t addr);

/* ---- kmem_pagemap.c ---- */
extern kmem_mutex_t kmem_pagemap_lock;
bool kmem_pagemap_insert(uintptr_t start, size_t size, kmem_slab_t *sp);
void kmem_pagemap_remove(uintptr_t start, size_t size);

#define KMEM_PAGEMAP_GRANULE_SHIFT 12     /* 4 KiB: any page size is a multiple */
#define KMEM_PAGEMAP_LEAF_BITS  18
#define KMEM_PAGEMAP_LEAF_SHIFT (KMEM_PAGEMAP_GRANULE_SHIFT + KMEM_PAGEMAP_LEAF_BITS)
#define KMEM_PAGEMAP_ROOT_BITS  (KMEM_VA_BITS - KMEM_PAGEMAP_LEAF_SHIFT)

extern kmem_slab_t **kmem_pagemap_root[1u << KMEM_PAGEMAP_ROOT_BITS];

/* The slab holding addr, or NULL: lock-free, for the free path. */
static inline kmem_slab_t *
kmem_pagemap_find(uintptr_t addr)
{
	if (addr >> KMEM_VA_BITS)
		return (NULL);
	kmem_slab_t **leaf = __atomic_load_n(
	    &kmem_pagemap_root[addr >> KMEM_PAGEMAP_LEAF_SHIFT], __ATOMIC_ACQUIRE);
	if (leaf == NULL)
		return (NULL);
	return (__atomic_load_n(&leaf[(addr >> KMEM_PAGEMAP_GRANULE_SHIFT) &
	    ((1u << KMEM_PAGEMAP_LEAF_BITS) - 1)], __ATOMIC_RELAXED));
}

/* ---- the fast paths (kmem_cache.c), shared with kmem_alloc.c ---- */

/*
 * A buffer of cp becomes free (in a magazine, on a slab's free list) or
 * stops being free: its bytes poisoned or unpoisoned (poison.h).
 */
static inline void
kmem_buffer_poison(const kmem_cache_t *cp, const void *buf)
{
#if defined(KMEM_ASAN) || defined(KMEM_VALGRIND)
	if (!(cp->flags & KMC_NOTOUCH))
		kmem_poison(buf, cp->bufsize);
#endif
	(void) cp;
	(void) buf;
}

static inline void
kmem_buffer_unpoison(const kmem_cache_t *cp, const void *buf)
{
#if defined(KMEM_ASAN) || defined(KMEM_VALGRIND)
	if (!(cp->flags & KMC_NOTOUCH))
		kmem_unpoison(buf, cp->bufsize);
#endif
	(void) cp;
	(void) buf;
}

/* Is buf the start of one of the buffers of sp, a slab of cp? */
static inline bool
kmem_slab_holds(const kmem_cache_t *cp, const kmem_slab_t *sp, const void *buf)
{
	uint64_t off = (uintptr_t)buf - sp->first;
	uint64_t q = off * cp->chunk_inverse;
	unsigned k = cp->chunk_shift;
	return (off < cp->slab_span &&
	    ((q >> k) | (q << ((64 - k) & 63))) <= cp->chunk_limit);
}

/* Is buf the start of one of cp's buffers?  For KMF_PAGEMAP caches. */
static inline bool
kmem_cache_owns(const kmem_cache_t *cp, const void *buf)
{
	const kmem_slab_t *sp = kmem_pagemap_find((uintptr_t)buf);
	return (sp != NULL && sp->cache == cp && kmem_slab_holds(cp, sp, buf));
}

/* ---- free marks (kmem_cache.c) ---- */

/* Give cp free marks if its buffers can carry them (at its creation). */
void kmem_cache_mark_frees(kmem_cache_t *cp);
/* The key of every cache's marks, drawn once by kmem_init(). */
void kmem_free_marks_init(void);

/* The mark a free buffer of cp at buf carries in its first word. */
static inline uintptr_t
kmem_free_mark(const kmem_cache_t *cp, const void *buf)
{
	return (cp->free_key ^ (uintptr_t)buf);
}

/* Does buf, a buffer of cp, carry the free mark?  A free one does; a live
 * one only if the program wrote it.  False in a cache without marks. */
static inline bool
kmem_free_marked(const kmem_cache_t *cp, const void *buf)
{
	return (cp->free_key != 0 &&
	    (uintptr_t)kmem_free_word(buf) == kmem_free_mark(cp, buf));
}

/* buf leaves cp for a caller: a live buffer never carries the mark. */
static inline void
kmem_free_mark_clear(const kmem_cache_t *cp, void *buf)
{
	if (cp->free_key != 0)
		*(uintptr_t *)buf = 0;
}

/*
 * Where buf, a buffer of cp whose first word holds the mark, waits free --
 * in which magazines, or on its slab's free list -- or NULL when it is in
 * none, and so live (the mark was the program's own data).
 */
const char *kmem_free_where(kmem_cache_t *cp, const void *buf);
/*
 * buf, freed to cp, carries the mark already: report it if it is free
 * already, else free it by the slow path (kmem_free_size as for
 * kmem_bad_free()).  Called last, so the fast path calls it as a tail
 * call and keeps no stack frame.
 */
void kmem_cache_free_marked(kmem_cache_t *cp, void *buf,
    size_t kmem_free_size);

/*
 * The slow paths.  requested is the size kmem_alloc() or malloc() asked
 * for (0 for kmem_cache_alloc(): the cache's size), kmem_free_size as for
 * kmem_bad_free(), or for a vmem quantum cache the size vmem_free() got:
 * only debug caches and the reports of bad frees use them, and as the
 * inline fast paths pass them only to these calls, they cost the fast
 * paths nothing.
 */
void *kmem_cache_alloc_slow(kmem_cache_t *cp, int kmflag, size_t requested);
void kmem_cache_free_slow(kmem_cache_t *cp, void *buf, size_t kmem_free_size);
/* Report buf, freed to cp; kmem_free_size is the size kmem_free() got,
 * or KMEM_FREE_UNSIZED / KMEM_FREE_MALLOC (below).  cp is NULL for a
 * kmem_free() above KMEM_MAXBUF of what is no large buffer of that size. */
void kmem_bad_free(kmem_cache_t *cp, void *buf, size_t kmem_free_size);
/*
 * kmem_free_size of the frees that name no size: kmem_cache_free()'s, and
 * free()'s (malloc.c), whose reports say free().  Sizes below these are
 * kmem_free()'s.
 */
#define KMEM_FREE_UNSIZED       SIZE_MAX
#define KMEM_FREE_MALLOC        (SIZE_MAX - 1)
/*
 * kmem_cache_free() to cp, a KMC_NOTOUCH cache: checked against its hash
 * before it may reach a magazine.  kmem_free_size as for the slow paths
 * (KMEM_FREE_UNSIZED, or vmem_free()'s size for a quantum cache).
 */
void kmem_notouch_free(kmem_cache_t *cp, void *buf, size_t kmem_free_size);
/* Report buf, freed to cp when it was free already: where says where it
 * waits (kmem_free_where()); kmem_free_size names the call. */
void kmem_double_free(kmem_cache_t *cp, void *buf, size_t kmem_free_size,
    const char *where);
/* Report buf, in slab sp but not the start of a buffer; where names the
 * call, e.g. "free(0x...)". */
void kmem_report_not_buffer_start(const char *where, const kmem_slab_t *sp,
    const void *buf);

static inline void *
kmem_cache_alloc_inline(kmem_cache_t *cp, int kmflag, size_t requested)
{
	kmem_thread_cache_t *tc = kmem_self;
	if (__builtin_expect(cp->fast_index < tc->nslots, 1)) {
		kmem_cpu_cache_t *cc = &tc->slots[cp->fast_index];
		int rounds = cc->rounds;
		if (__builtin_expect(rounds > 0, 1)) {
			void *buf = cc->loaded->rounds[rounds - 1];
			kmem_round_taken(&cc->loaded->rounds[rounds - 1]);
			__atomic_store_n(&cc->rounds, rounds - 1, __ATOMIC_RELAXED);
			__atomic_store_n(&cc->alloc, cc->alloc + 1,
			    __ATOMIC_RELAXED);
			kmem_buffer_unpoison(cp, buf);
			kmem_free_mark_clear(cp, buf);
			return (buf);
		}
	}
	return (kmem_cache_alloc_slow(cp, kmflag, requested));
}

/*
 * Free buf, known to be one of cp's buffers, to the thread's magazine.  In
 * a cache with free marks, a buffer that carries the mark already is
 * looked for among the free ones (out of line, rare) and refused if found;
 * any other gets the mark.  In a cache without marks, a buffer equal to
 * the one freed last is a double free, cheap to see (the mark catches it
 * in the others, so they skip this compare).  The round
 * is stored atomically (relaxed: a plain store) for kmem_free_where(),
 * which reads other threads' magazines.
 */
static inline void
kmem_cache_free_owned(kmem_cache_t *cp, void *buf, size_t kmem_free_size)
{
	uintptr_t key = cp->free_key;
	if (key != 0) {
		if (__builtin_expect(kmem_free_marked(cp, buf), 0)) {
			kmem_cache_free_marked(cp, buf, kmem_free_size);
			return;
		}
		kmem_unpoison(buf, sizeof (uintptr_t));	/* poisoned below */
		*(uintptr_t *)buf = kmem_free_mark(cp, buf);
	}
	kmem_thread_cache_t *tc = kmem_self;
	if (__builtin_expect(cp->fast_index < tc->nslots, 1)) {
		kmem_cpu_cache_t *cc = &tc->slots[cp->fast_index];
		int rounds = cc->rounds;
		if (__builtin_expect((unsigned)rounds < (unsigned)cc->magsize, 1)) {
			if (__builtin_expect(key == 0 && rounds > 0 &&
			    cc->loaded->rounds[rounds - 1] == buf, 0)) {
				kmem_double_free(cp, buf, kmem_free_size,
				    "the buffer freed last");
				return;
			}
			__atomic_store_n(&cc->loaded->rounds[rounds], buf,
			    __ATOMIC_RELAXED);
			__atomic_store_n(&cc->rounds, rounds + 1, __ATOMIC_RELAXED);
			__atomic_store_n(&cc->free, cc->free + 1, __ATOMIC_RELAXED);
			kmem_buffer_poison(cp, buf);
			return;
		}
	}
	kmem_cache_free_slow(cp, buf, kmem_free_size);
}

static inline void
kmem_cache_free_inline(kmem_cache_t *cp, void *buf, size_t kmem_free_size)
{
	if ((cp->flags & KMF_PAGEMAP) && !kmem_cache_owns(cp, buf)) {
		kmem_bad_free(cp, buf, kmem_free_size);
		return;
	}
	kmem_cache_free_owned(cp, buf, kmem_free_size);
}

/* ---- kmem_update.c ---- */
extern kmem_mutex_t kmem_update_lock;
/* Called after every maintenance pass, with no lock held (or NULL). */
extern void (*kmem_update_done_hook)(void);
void kmem_update_maybe(void);
/* After a thread exit that retired a thread cache, no lock held. */
void kmem_update_thread_exited(void);
/*
 * Have the update thread start by itself when the process needs it
 * (libkmem_malloc.so's default; kmem_update.c says when).
 */
void kmem_update_thread_auto(void);
void kmem_update_fork_child(void);
void kmem_reap_soon(void);

/* ---- kmem_alloc.c ---- */
void kmem_alloc_init(void);
/*
 * kmem_alloc's classes, numbered from 0 (8 bytes) to KMEM_ALLOC_CLASSES - 1
 * (KMEM_MAXBUF): the number of the class of 0 < size <= KMEM_MAXBUF, and
 * its buffer size in *class_size.  For whoever mirrors the classes (the
 * laboratory's slab row).
 */
#define KMEM_ALLOC_CLASSES      96
unsigned kmem_alloc_class(size_t size, size_t *class_size);

/*
 * The class tables: a size up to KMEM_ALLOC_SMALL finds its cache at
 * kmem_alloc_small[(size + 7) / 8], a larger one at
 * kmem_alloc_large[(size - 1) >> KMEM_ALLOC_LARGE_SHIFT]: the classes
 * above KMEM_ALLOC_SMALL are multiples of its eighth, so each slot of that
 * width belongs to one class.  A shift and a load, where finding the
 * highest bit would cost a bsr, whose false dependency on its destination
 * chained kmem_free() to the kmem_alloc() before it (an immediate
 * alloc+free pair of 2048 bytes took 11 ns instead of 5).  Every class's
 * buffers are aligned to the largest power of two dividing the class size,
 * up to a page, which is what memalign() counts on.
 */
#define KMEM_ALLOC_SMALL        1024
#define KMEM_ALLOC_LARGE_SHIFT  7       /* the width: KMEM_ALLOC_SMALL / 8 */
extern kmem_cache_t *kmem_alloc_small[KMEM_ALLOC_SMALL / 8 + 1];
extern kmem_cache_t *kmem_alloc_large[];

/* The slot in kmem_alloc_large[] of KMEM_ALLOC_SMALL < size <= KMEM_MAXBUF. */
static inline size_t
kmem_alloc_large_index(size_t size)
{
	return ((size - 1) >> KMEM_ALLOC_LARGE_SHIFT);
}

/* The cache of size's class, or NULL for 0 and sizes beyond KMEM_MAXBUF. */
static inline kmem_cache_t *
kmem_alloc_cache(size_t size)
{
	if (size - 1 < KMEM_ALLOC_SMALL)
		return (__atomic_load_n(&kmem_alloc_small[(size + 7) >> 3],
		    __ATOMIC_ACQUIRE));
	if (size - 1 < KMEM_MAXBUF)
		return (__atomic_load_n(&kmem_alloc_large[
		    kmem_alloc_large_index(size)], __ATOMIC_ACQUIRE));
	return (NULL);
}

#endif /* KMEM_KMEM_IMPL_H */
