/*
 * kmem: the slab allocator of Bonwick (USENIX 1994) with the magazine and
 * depot layers of Bonwick & Adams (USENIX 2001), and kmem_alloc(), with
 * illumos semantics.  See docs/kmem.md.
 *
 * An object cache hands out buffers of one size.  Buffers keep their
 * constructed state while they are cached: the constructor runs when a
 * buffer first leaves its slab, the destructor only when it goes back to
 * one.  Allocation and free are served, in that order, by the calling
 * thread's magazines, the cache's depot of full and empty magazines, and
 * the slab layer, which takes memory from a vmem arena.
 */
#ifndef KMEM_KMEM_H
#define KMEM_KMEM_H

#include <stddef.h>
#include <stdint.h>

#include <kmem/common.h>
#include <kmem/vmem.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kmem_cache kmem_cache_t;

/* Allocation flags (values as in illumos; shared with vmem's VM_*). */
#define KM_SLEEP        0x0000  /* wait for memory: never returns NULL */
#define KM_NOSLEEP      0x0001  /* return NULL rather than wait */
#define KM_PANIC        0x0002  /* failure is reported and aborts */
#define KM_VMFLAGS      0x00FF
#define KM_FLAGS        0xFFFF

/* Cache creation flags (values as in illumos). */
#define KMC_NOTOUCH     0x00010000  /* never write into free buffers */
#define KMC_NODEBUG     0x00020000  /* ignore the debug flags for this cache */
#define KMC_NOMAGAZINE  0x00040000  /* no per-thread or depot layer */
#define KMC_NOHASH      0x00080000  /* keep slab data inside the slab */
#define KMC_QCACHE      0x00100000  /* a vmem quantum cache */

/*
 * Debug flags, also accepted in kmem_cache_create's cflags (values as in
 * illumos's KMF_*).  They select the buffer layout: a tag after each buffer
 * holding a redzone and a state word, found through the buffer's control
 * structure; the checks themselves belong to the debugging layer
 * (include/kmem/debug.h, docs/debugging.md).
 */
#define KMF_AUDIT       0x00000001  /* record the last transaction */
#define KMF_DEADBEEF    0x00000002  /* fill freed buffers with a pattern */
#define KMF_REDZONE     0x00000004  /* a redzone after each buffer */
#define KMF_CONTENTS    0x00000008  /* log freed buffers' first bytes */
#define KMF_NOMAGAZINE  0x00000020  /* bypass the magazine layer */
#define KMF_FIREWALL    0x00000040  /* buffers end against an unmapped page */
#define KMF_LITE        0x00000100  /* cheap checks only */
#define KMF_DEBUG_FLAGS 0x0000016F

typedef int kmem_constructor_t(void *buf, void *arg, int kmflag);
typedef void kmem_destructor_t(void *buf, void *arg);
typedef void kmem_reclaim_t(void *arg);

KMEM_API kmem_cache_t *kmem_cache_create(const char *name, size_t bufsize,
    size_t align, kmem_constructor_t *constructor,
    kmem_destructor_t *destructor, kmem_reclaim_t *reclaim, void *arg,
    vmem_t *vmp, int cflags);
KMEM_API void kmem_cache_destroy(kmem_cache_t *cp);
KMEM_API void *kmem_cache_alloc(kmem_cache_t *cp, int kmflag);
KMEM_API void kmem_cache_free(kmem_cache_t *cp, void *buf);

/*
 * Move callbacks (illumos's kmem_cache_set_move(9F); docs/kmem.md, "Moving
 * objects").  A cache whose client can move its objects lets kmem empty
 * sparse slabs: kmem picks a live object old in a sparsely used slab and
 * a constructed buffer newbuf in a fuller one and asks the client to move.
 * The client copies old to newbuf, points every reference to old at newbuf
 * and answers:
 *   KMEM_CBRC_YES        moved: kmem frees old;
 *   KMEM_CBRC_NO         this object never moves: kmem frees newbuf, and asks
 *                        about no other object of old's slab while that
 *                        slab stays partly allocated;
 *   KMEM_CBRC_LATER      busy now: kmem frees newbuf and asks again in a later
 *                        pass (after 3 LATERs from one slab, as NO);
 *   KMEM_CBRC_DONT_NEED  the client had no more use for old: kmem frees
 *                        both;
 *   KMEM_CBRC_DONT_KNOW  old is not one of the client's live objects (just
 *                        allocated, being freed, or free in a magazine):
 *                        kmem frees newbuf and looks for old in the depot.
 * The client must not free either buffer itself.  old may be in any state
 * but "never allocated": the callback must recognise its live objects
 * without trusting old's contents (docs/kmem.md shows how), and may read
 * old whatever its state, since no slab goes back while a pass runs.
 * Callbacks run one at a time, on the thread running the pass, with no
 * kmem lock held; they may allocate and free, but must not create or
 * destroy caches or call kmem_cache_move_now().
 *
 * kmem_cache_set_move() must be called once, before the first allocation
 * from the cache; not on KMC_NOTOUCH or KMC_QCACHE caches nor with
 * KMF_FIREWALL.  A cache with a move callback carries no free marks
 * (kmem_cache_free() then catches only the double free of the buffer
 * freed last; a debug cache catches them all).
 */
typedef enum kmem_cbrc {
	KMEM_CBRC_YES,
	KMEM_CBRC_NO,
	KMEM_CBRC_LATER,
	KMEM_CBRC_DONT_NEED,
	KMEM_CBRC_DONT_KNOW
} kmem_cbrc_t;

typedef kmem_cbrc_t kmem_move_callback_t(void *old, void *newbuf, size_t size,
    void *arg);

KMEM_API void kmem_cache_set_move(kmem_cache_t *cp,
    kmem_move_callback_t *move);
/*
 * Consolidate the cache now: its free buffers in the calling thread's
 * magazines and in the depot go back to their slabs, then every partly
 * allocated slab, least allocated first, is emptied into the fullest ones
 * as far as the client lets it, and the emptied slabs go back to the
 * arena.  Returns the bytes of slabs given back.  The update pass does the
 * same, a little at a time, to caches that are fragmented.
 */
KMEM_API size_t kmem_cache_move_now(kmem_cache_t *cp);

/* Give back what the cache holds beyond its working set, now. */
KMEM_API void kmem_cache_reap_now(kmem_cache_t *cp);
/* The same for every cache, after running their reclaim callbacks. */
KMEM_API void kmem_reap(void);

KMEM_API void *kmem_alloc(size_t size, int kmflag);
KMEM_API void *kmem_zalloc(size_t size, int kmflag);
KMEM_API void kmem_free(void *buf, size_t size);

/* The arena caches take slabs from when created with vmp == NULL. */
KMEM_API vmem_t *kmem_default_arena(void);

/*
 * Maintenance.  Every update interval (15 s unless changed) each cache
 * updates its depot working set, resizes its magazines if the depot lock
 * was contended, and resizes its hash.  By default the update runs lazily,
 * from an allocation's slow path or a thread's exit once the interval has
 * passed; kmem_update_thread(true) runs it from a background thread
 * instead, and kmem_update_thread(false) stops that thread (and keeps
 * libkmem_malloc.so from starting it by itself).  Linked, the library
 * starts no thread unless asked.  A pass run by kmem_update_now() (the
 * thread's, or a direct call) also consolidates the fragmented caches that
 * have move callbacks; the lazy pass does not, since the thread it runs
 * on may hold a lock the callback takes.
 */
KMEM_API void kmem_update_interval_set(uint64_t interval_ns);
KMEM_API int kmem_update_thread(int enable);
KMEM_API void kmem_update_now(void);

/* Statistics: one cache's counters, read in one snapshot. */
typedef struct kmem_cache_stats {
	char name[VMEM_NAMELEN];
	char arena[VMEM_NAMELEN];
	int cflags;
	size_t buf_size;        /* as asked */
	size_t chunk_size;      /* buffer plus tag, rounded to the alignment */
	size_t align;
	size_t slab_size;
	unsigned buf_per_slab;
	uint64_t buf_inuse;     /* allocated and not yet freed */
	uint64_t buf_total;     /* buffers in all slabs */
	uint64_t buf_constructed; /* cached in magazines, constructed
				   * (free, in a debug cache's) */
	uint64_t buf_max;       /* high-water mark of buf_total */
	size_t mem_total;       /* bytes of slabs */
	size_t mem_purged;      /* of which given back to the system: free
				   * pages inside slabs still in use */
	uint64_t purge_count;   /* pages (granules) given back so, ever */
	uint64_t alloc;         /* successful allocations */
	uint64_t alloc_fail;    /* allocations that returned NULL */
	uint64_t free;
	uint64_t slab_alloc;    /* buffers taken from slabs */
	uint64_t slab_free;     /* buffers given back to slabs */
	uint64_t slab_create;
	uint64_t slab_destroy;
	uint64_t depot_alloc;   /* magazines taken from the depot */
	uint64_t depot_free;    /* magazines given to the depot */
	uint64_t depot_contention; /* depot lock found busy */
	uint64_t depot_trim;    /* full magazines destroyed at the depot's ceiling */
	uint64_t full_magazines;
	uint64_t empty_magazines;
	unsigned magazine_size;
	uint64_t magazine_resize; /* times the magazine size grew */
	uint64_t reap;
	int movable;            /* has a move callback (kmem_cache_set_move) */
	uint64_t move_callbacks; /* callbacks made: the five answers' sum */
	uint64_t move_yes;
	uint64_t move_no;
	uint64_t move_later;
	uint64_t move_dont_need;
	uint64_t move_dont_know;
	uint64_t move_hunt_found; /* DONT_KNOW buffers found in the depot */
	uint64_t move_slabs_freed; /* slabs emptied by moves */
	size_t hash_buckets;
	uint64_t hash_lookup;
	uint64_t hash_depth;
} kmem_cache_stats_t;

KMEM_API int kmem_cache_stats(kmem_cache_t *cp, kmem_cache_stats_t *st);

/*
 * The table of illumos's ::kmastat (cache name, buf size, in use, total,
 * memory, allocations, failures, plus magazine size and depot contention)
 * for every cache, one line per call of emit.
 */
KMEM_API void kmem_table(void (*emit)(void *arg, const char *line), void *arg);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_KMEM_H */
