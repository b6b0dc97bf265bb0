/*
 * What the files of src/kmem/ share: the structures (kmem_types.h), the
 * fast paths (kmem_fast.h), the debugging internals (kmem_debug_impl.h),
 * the interface for the library's other layers (kmem_query.h), and each
 * file's functions for the others:
 *
 *	kmem_cache.c    caches: creation, layout, destruction, alloc and free
 *	kmem_slab.c     the slab layer
 *	kmem_slab_purge.c  free pages inside slabs in use back to the system
 *	kmem_footprint.c  the bytes slabs and large buffers take, their peak
 *	kmem_depot.c    magazines and the depot, working set, resizing
 *	kmem_thread.c   the per-thread layer ("CPU" caches) and thread exit
 *	kmem_hash.c     buffer -> bufctl hash of caches with external slabs
 *	kmem_pagemap.c  page -> slab map of caches in touchable memory
 *	kmem_alloc.c    kmem_alloc()'s size classes
 *	kmem_update.c   the periodic update and reaping
 *	kmem_move.c     move callbacks: the defragmenter
 *	kmem_stats.c    statistics and the ::kmastat table
 *	kmem_fork.c     fork() handlers
 *	kmem_init.c     bootstrap: the default arena and internal caches
 *	kmem_debug.c    the debugging layer's checks and reports
 *	kmem_debug_options.c  its settings; kmem_debug_log.c  its logs
 *	kmem_firewall.c buffers against an unmapped page
 *	kmem_leaks.c    the leak detector (its working memory: scratch.c)
 *
 * Who includes it: the files of src/kmem/, and tests that test kmem's
 * internals; nothing else.  The library's other layers include
 * kmem_query.h, which kmem_impl.h includes too (and malloc.c kmem_fast.h).
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
#include "base/poison.h"
#include "platform/platform.h"
#include "kmem_debug_impl.h"
#include "kmem_fast.h"
#include "kmem_query.h"
#include "kmem_types.h"

/* ---- kmem_init.c ---- */
extern vmem_t *kmem_default;
extern vmem_t *kmem_oversize;
extern kmem_cache_t *kmem_slab_cache;
extern kmem_cache_t *kmem_bufctl_cache;
extern kmem_cache_t *kmem_thread_cache_cache;
extern kmem_cache_t *kmem_cache_cache;
extern kmem_mutex_t kmem_init_lock;
/* Making a kmem_alloc() class on its first use (kmem_alloc.c). */
extern kmem_mutex_t kmem_classes_lock;
bool kmem_initialized(void);
/* Has a thread started kmem_init()'s bootstrap (it may not be done)? */
bool kmem_init_begun(void);
vmem_t *kmem_metadata_arena(void);
/*
 * Give back what kmem_oversize kept for reuse beyond its decayed allowance
 * (an update pass: vmem_decay()), or all of it (everything: a reap), and
 * purge kmem_pages' free pages.
 */
void kmem_release_idle(bool everything);

/* ---- kmem_cache.c ---- */
extern kmem_mutex_t kmem_caches_lock;
extern kmem_cache_t kmem_caches;        /* list anchor */
extern kmem_cache_t kmem_null_cache;
/* malloc's recorder is on, and its hooks (kmem_alloc.c). */
extern bool kmem_malloc_diverted;
extern void *(*kmem_malloc_alloc_hook)(void *buf, size_t requested);
extern void (*kmem_malloc_free_hook)(void *buf);
extern void (*kmem_malloc_slow_hook)(void);
kmem_cache_t *kmem_cache_create_in(kmem_cache_t *cp, const char *name,
    size_t bufsize, size_t align, kmem_constructor_t *constructor,
    kmem_destructor_t *destructor, kmem_reclaim_t *reclaim, void *private,
    vmem_t *vmp, int cflags);
void kmem_cache_free_to_slab(kmem_cache_t *cp, void *buf);

/* ---- kmem_slab.c ---- */
void kmem_slab_init(kmem_cache_t *cp);
void *kmem_slab_alloc(kmem_cache_t *cp, int kmflag);
unsigned kmem_slab_alloc_many(kmem_cache_t *cp, void **bufs, unsigned n,
    int kmflag);
void kmem_slab_free(kmem_cache_t *cp, void *buf);
/*
 * A buffer for the defragmenter to move an object of avoid into: from the
 * first slab with a free buffer, if that slab is not avoid, not empty and
 * at least as allocated as avoid; never from a new slab.  NULL otherwise.
 */
void *kmem_slab_alloc_move(kmem_cache_t *cp, const kmem_slab_t *avoid);
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
/* Is buf, a buffer of cp (a KMF_PAGEMAP cache), free in its slab? */
bool kmem_slab_buffer_free(kmem_cache_t *cp, const void *buf);
size_t kmem_slab_reap(kmem_cache_t *cp);
/* The most bytes of all caches' slabs but the quantum caches' since the
 * last reset (an update pass), lock-free. */
uint64_t kmem_slab_peak(void);
void kmem_slab_peak_reset(void);

/* ---- kmem_footprint.c ---- */
/* The bytes of the slabs above and of kmem_oversize's large buffers in
 * use, and their most since the last reset (an update pass); lock-free. */
void kmem_footprint_add(uint64_t bytes);
void kmem_footprint_sub(uint64_t bytes);
uint64_t kmem_footprint(void);
uint64_t kmem_footprint_peak(void);
void kmem_footprint_peak_reset(void);
/* Would kept more bytes held resident for reuse, with what kmem_oversize
 * keeps of freed large buffers, take kmem past its footprint's peak? */
bool kmem_footprint_over_peak(uint64_t kept);

uint64_t kmem_slab_destroy_all(kmem_cache_t *cp);
/* Free pages inside slabs in use (kmem_slab_purge.c); slab_lock held but
 * for init. */
void kmem_slab_purge_init(kmem_cache_t *cp);
void kmem_slab_purge_freed(kmem_cache_t *cp, kmem_slab_t *sp, uintptr_t buf);
void kmem_slab_purge_refresh(kmem_cache_t *cp, kmem_slab_t *sp,
    uintptr_t buf);
void kmem_slab_purge_forget(kmem_cache_t *cp, kmem_slab_t *sp);
/* A quantum cache's slab layer handed out buffers: its share of what the
 * quantum caches keep resident is counted anew (slab_lock held). */
void kmem_slab_purge_account(kmem_cache_t *cp);
/* kmem's footprint is about to grow by bytes of a large buffer (no lock
 * held above the arenas' rank): the quantum caches give back what they
 * keep beyond its peak. */
void kmem_slab_purge_footprint_grows(uint64_t bytes);
/*
 * The update pass's and the reaps' share (takes slab_lock): give back
 * every free granule of cp's partly used slabs, if always or if cp's slab
 * layer handed out nothing since the last call.
 */
void kmem_slab_purge_sweep(kmem_cache_t *cp, bool always);
/* Does buf, a chunk of sp, lie partly in pages given back (slab_lock)?
 * Its tag and pattern are then not there to check until it is allocated. */
bool kmem_slab_purged_over(const kmem_cache_t *cp, const kmem_slab_t *sp,
    uintptr_t buf);

/* ---- kmem_fork.c ---- */
/* Take (release) every thread cache's, depot's and slab layer's lock, as
 * fork() does; kmem_caches_lock and kmem_threads_lock held. */
void kmem_caches_hold_all(void);
void kmem_caches_release_all(void);

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
/* Take buf out of a full magazine in cp's depot; true if one held it. */
bool kmem_depot_take(kmem_cache_t *cp, const void *buf);
void kmem_depot_resize_check(kmem_cache_t *cp);
/*
 * A thread's batch needed magazines of at least rounds (kmem_cache.c's
 * depot trips): the next check grows the cache's magazines to that size
 * at once, as far as its chunk size allows.
 */
void kmem_depot_batch_seen(kmem_cache_t *cp, unsigned rounds);
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
kmem_slot_t *kmem_thread_slot(kmem_cache_t *cp);
void kmem_thread_slot_to_depot(kmem_cache_t *cp, kmem_slot_t *cc);
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

/* ---- free marks (kmem_cache.c) ---- */

/* Give cp free marks if its buffers can carry them (at its creation). */
void kmem_cache_mark_frees(kmem_cache_t *cp);
/* The key of every cache's marks, drawn once by kmem_init(). */
void kmem_free_marks_init(void);

/* ---- kmem_update.c ---- */
extern kmem_mutex_t kmem_update_lock;
void kmem_update_maybe(void);
/* After a thread exit that retired a thread cache, no lock held. */
void kmem_update_thread_exited(void);
void kmem_update_fork_child(void);

/* ---- kmem_move.c ---- */
/* The update pass's share: consolidate the fragmented movable caches. */
void kmem_move_update(void);
/* kmem_cache_destroy(): wait for a pass at work on cp, and keep the next
 * from finding it (kmem_move_lock held until kmem_move_cache_gone()). */
void kmem_move_cache_leaving(kmem_cache_t *cp);
void kmem_move_cache_gone(kmem_cache_t *cp);
void kmem_move_fork_child(void);

/* ---- for the defragmenter (kmem_cache.c) ---- */
/* A constructed buffer, allocated as kmem_cache_alloc() would, to move an
 * object of avoid into (kmem_slab_alloc_move()); NULL if none. */
void *kmem_cache_move_dest(kmem_cache_t *cp, const kmem_slab_t *avoid);
/* Free buf, allocated, straight to its slab, as kmem_cache_free() would
 * but for the magazines. */
void kmem_cache_move_release(kmem_cache_t *cp, void *buf);

#endif /* KMEM_KMEM_IMPL_H */
