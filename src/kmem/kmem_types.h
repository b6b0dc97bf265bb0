/*
 * kmem's structures: the cache, its slabs and bufctls, the hash, the
 * magazines, the depot's lists and a thread's slots, with the flags kmem
 * keeps in a cache beside the public ones.
 *
 * Who includes it: kmem_impl.h (every file of src/kmem/) and kmem_fast.h
 * (the fast paths, inlined where they are called).  Nothing outside
 * src/kmem/ includes it for its own sake: the library's other layers ask
 * kmem through kmem_query.h, and malloc.c sees these structures only
 * through kmem_fast.h's inlines.
 *
 * Which lock guards which field is said at each structure; the lock order
 * is at the top of kmem_cache.c.
 */
#ifndef KMEM_KMEM_TYPES_H
#define KMEM_KMEM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kmem/kmem.h>

#include "platform/platform.h"

#define KMEM_COLOR_STEP         64      /* a cache line */
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
 * A slot: a thread's view of one cache, the "CPU cache" of the 2001 paper
 * (illumos's kmem_cpu_cache_t, whose cc_ its variables keep): a loaded and
 * a previously loaded magazine.  rounds is -1 with no loaded
 * magazine, prounds -1 with no previous one; magsize is the size of the
 * magazines held, 0 while the layer is off for this slot.  Only the owning
 * thread changes a slot, with relaxed atomic stores where another thread
 * may read (statistics), so no lock and no read-modify-write is needed.
 */
typedef struct kmem_slot {
	kmem_magazine_t *loaded;
	kmem_magazine_t *ploaded;
	int rounds;
	int prounds;
	int magsize;
	unsigned spare;
	uint64_t alloc;         /* allocations served from magazines */
	uint64_t free;          /* frees taken by magazines */
} kmem_slot_t;

/* A thread's slots, indexed by cache->index. */
typedef struct kmem_thread_cache {
	kmem_slot_t *slots;
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

#endif /* KMEM_KMEM_TYPES_H */
