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

/* Flags kept in cache->cache_flags beside the public KMC_* and KMF_* bits. */
#define KMF_HASH        0x00000200      /* external slabs and bufctl hash */
#define KMF_PAGEMAP     0x00000400      /* slabs are in the page map */
#define KMF_NULL        0x00000800      /* kmem_null_cache: allocates nothing */
#define KMF_CLASS       0x00001000      /* one of kmem_alloc()'s classes */
#define KMF_MOVE        0x00002000      /* has a move callback (kmem_move.c) */
#define KMF_MARKWORD    0x00004000      /* a word after each buffer holds
					   its free mark (kmem_cache.c) */
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
 * cache->cache_link_offset; otherwise the slab structure and one bufctl per
 * buffer come from internal caches.
 */
typedef struct kmem_slab {
	struct kmem_cache *slab_cache;
	struct kmem_slab *slab_next;    /* the cache's slab list */
	struct kmem_slab *slab_prev;
	void *slab_head;                /* first free buffer, or bufctl */
	uintptr_t slab_base;            /* the slab's memory */
	uintptr_t slab_first;           /* its first buffer (base + color) */
	unsigned slab_refcnt;           /* buffers allocated */
	/*
	 * Buffers from the first that have left the slab at least once (to
	 * a caller or a magazine): a fresh slab hands its buffers out in
	 * address order, so those at this index and beyond never did, and a
	 * free of one is refused (kmem_slab_handed_out()).
	 */
	unsigned slab_handed;
	/* The defragmenter's (kmem_move.c), under slab_lock; 0 while the
	 * slab is full or empty. */
	uint16_t slab_move_pass;        /* the pass that last looked at it */
	uint8_t slab_move_no;           /* the client said NO (or LATER 3x) */
	uint8_t slab_move_later;        /* LATERs since the last move off it */
	uint32_t slab_purged;   /* granules given back (kmem_slab_purge.c) */
} kmem_slab_t;

/* A small cache's slab holds one: each byte more can cost a buffer. */
_Static_assert(sizeof (kmem_slab_t) <= 64, "kmem_slab_t fits 64 bytes");

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
	kmem_magazine_t *cc_loaded;
	kmem_magazine_t *cc_ploaded;
	int cc_rounds;
	int cc_prounds;
	int cc_magsize;
	int cc_run;     /* depot trips in a row: > 0 allocating, < 0 freeing */
	uint64_t cc_alloc;              /* allocations served from magazines */
	uint64_t cc_free;               /* frees taken by magazines */
} kmem_slot_t;

/* A thread's slots, indexed by cache->cache_index. */
typedef struct kmem_thread_cache {
	kmem_slot_t *slots;
	unsigned nslots;
	unsigned slots_size;    /* nslots * sizeof (kmem_slot_t), for the fast
				 * paths' bound on cache_fast_offset */
	/*
	 * The layer above's countdown, malloc's guard sampler's (malloc.c):
	 * its fast path decrements it once it knows the thread has slots,
	 * and takes its own slow path at 0 or below.  Here because the fast
	 * path has this structure in a register already, where a variable of
	 * its own would cost a TLS address load, a load and a store.  kmem
	 * never reads it; 0 in a new thread cache (a first draw).
	 */
	int32_t countdown;
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
	 * Read on the fast paths; set at creation.  cache_fast_offset is
	 * where the cache's slot starts in every thread cache's array, in
	 * bytes (cache_index * sizeof (kmem_slot_t): the fast paths add it,
	 * no multiply), except for a debug cache (KMF_BUFTAG): UINT32_MAX,
	 * beyond any array, sends its every allocation and free to the slow
	 * paths, which run the checks around the same magazines.  malloc's
	 * recorder sets it so on the class caches, once and for good
	 * (kmem_malloc_divert(), kmem_query.h).
	 */
	unsigned cache_fast_offset;
	int cache_flags;                /* KMC_*, KMF_* */
	uintptr_t cache_free_key; /* free marks' key; 0: none (kmem_cache.c) */
	/*
	 * Also read by the free paths, so in the same cache line as the
	 * above (the structure is 64-aligned).  Is an offset from a slab's
	 * first buffer the offset of one of its buffers, a multiple m of
	 * chunksize (= odd << chunk_shift), and which?  The offset times the
	 * inverse of odd modulo 2^64, rotated right by chunk_shift, is m
	 * itself for a multiple; for anything else the bits below
	 * chunk_shift rotate to the top, or the product is above UINT64_MAX /
	 * chunksize (Granlund & Montgomery), above any count of buffers as a
	 * slab fits in memory.  An offset below the first buffer wraps to a
	 * huge one, and its multiple is huge too.  So one multiply and one
	 * compare with a count -- the slab's buffers handed out, on the free
	 * paths (kmem_slab_handed_out()) -- and no division, no separate
	 * bound check.
	 */
	uint64_t cache_chunk_inverse;
	unsigned cache_chunk_shift;
	size_t cache_mark_offset; /* where in a chunk the mark goes */
	size_t cache_bufsize;
	kmem_constructor_t *cache_constructor;
	kmem_destructor_t *cache_destructor;
	kmem_reclaim_t *cache_reclaim;
	void *cache_private;
	char cache_name[VMEM_NAMELEN];
	unsigned cache_index;           /* slot in every thread cache */

	/* Layout, set at creation. */
	vmem_t *cache_arena;
	size_t cache_align;
	size_t cache_chunksize;
	size_t cache_slabsize;
	size_t cache_link_offset;       /* the free link in small slabs */
	size_t cache_buftag_offset;     /* KMF_BUFTAG */
	unsigned cache_audit_depth;     /* KMF_AUDIT: frames per record */
	unsigned cache_chunks;          /* buffers per slab */
	size_t cache_mincolor;
	size_t cache_maxcolor;
	uint64_t cache_slab_span;       /* chunks * chunksize */


	/* The depot: cache_depot_lock. */
	kmem_mutex_t cache_depot_lock;
	const kmem_magtype_t *cache_magtype; /* NULL: no magazine layer */
	kmem_maglist_t cache_full;
	uint64_t cache_full_bytes;      /* of rounds on the full list */
	kmem_maglist_t cache_empty;
	kmem_magazine_t *cache_stale;   /* of an old size, to destroy */
	uint64_t cache_depot_contention;
	uint64_t cache_depot_contention_prev;
	/* contention or traffic passed the threshold */
	bool cache_depot_resize_wanted;
	bool cache_depot_trim_wanted;   /* the full list passed its ceiling */
	uint64_t cache_depot_trim; /* full magazines destroyed at the ceiling */
	uint64_t cache_depot_resize_time; /* of the last check by a slow path */
	/* cache_depot_alloc + cache_depot_free at the last check */
	uint64_t cache_depot_traffic_prev;
	uint64_t cache_depot_traffic_time; /* clock time of the last check */
	uint64_t cache_depot_alloc;
	uint64_t cache_depot_free;
	unsigned cache_depot_batch;     /* rounds a batch seen needs (atomic) */
	uint64_t cache_depot_resize;    /* magazine size changes */

	/* The slab layer: cache_slab_lock. */
	kmem_mutex_t cache_slab_lock;
	kmem_slab_t cache_slabs;        /* list anchor: full, partial, empty */
	kmem_slab_t *cache_freelist;    /* first slab with a free buffer */
	size_t cache_color;             /* of the next slab */
	uint64_t cache_slab_create;
	uint64_t cache_slab_destroy;
	uint64_t cache_slab_alloc;      /* buffers from slabs */
	uint64_t cache_slab_free;       /* buffers back to slabs */
	uint64_t cache_buf_total;
	uint64_t cache_buf_max;
	uint64_t cache_slow_alloc; /* allocations not served by magazines */
	uint64_t cache_slow_free;
	uint64_t cache_alloc_fail;
	uint64_t cache_dead_alloc;      /* counters of exited threads' slots */
	uint64_t cache_dead_free;
	uint64_t cache_reap;
	kmem_hash_t cache_hash;
	/* The defragmenter is at work (slab_lock): no slab goes back. */
	bool cache_move_busy;

	/*
	 * Moving (kmem_move.c): the callback, set (atomically, as statistics
	 * read it) before the first allocation; the rest under
	 * kmem_move_lock, the counters also read atomically by statistics.
	 */
	kmem_move_callback_t *cache_move;
	uint16_t cache_move_pass;       /* passes that looked at the cache */
	unsigned cache_move_numer;      /* reclaimable below numer/8 used */
	uint64_t cache_move_callbacks;
	uint64_t cache_move_yes;
	uint64_t cache_move_no;
	uint64_t cache_move_later;
	uint64_t cache_move_dont_need;
	uint64_t cache_move_dont_know;
	uint64_t cache_move_hunt_found;
	uint64_t cache_move_slabs_freed;
	/* Free pages given back inside slabs (kmem_slab_purge.c). */
	size_t cache_purge_granule;     /* bytes a bit stands for; 0: never */
	uint64_t cache_purged;          /* granules given back now */
	uint64_t cache_purge_count;     /* granules given back, ever */
	uint64_t cache_sweep_alloc; /* cache_slab_alloc at the last sweep */
	uint64_t cache_purge_kept;  /* a quantum cache's share of what they
					 * keep (kmem_slab_purge.c) */

	struct kmem_cache *cache_list_next; /* kmem_caches_lock */
	struct kmem_cache *cache_list_prev;
};
_Static_assert(offsetof(struct kmem_cache, cache_chunk_shift) +
    sizeof (unsigned) <= 64, "the free paths read one line of a cache");

#endif /* KMEM_KMEM_TYPES_H */
