/*
 * vmem's internal structures, shared by the files that implement it:
 * vmem.c (arenas and allocation), vmem_segpool.c (segment structures),
 * vmem_hash.c (the allocated-segment hash) and vmem_stats.c (statistics,
 * the table, verification).  The theory is at the top of vmem.c.
 */
#ifndef KMEM_VMEM_IMPL_H
#define KMEM_VMEM_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kmem/vmem.h>

#include "base/bits.h"
#include "platform/platform.h"
#include "vmem_query.h"

/* Segment types: the public ones and the arena-list markers. */
#define VMEM_ROTOR      0x20    /* the next-fit rotor */
#define VMEM_WALKER     0x40    /* a vmem_walk() position marker */

/*
 * A segment: a span marker, an allocated or free range, or a marker that
 * holds a place in the arena list.  [start, end) is the range; allocated
 * segments record their size rounded up to the quantum.
 */
typedef struct vmem_seg vmem_seg_t;
struct vmem_seg {
	uintptr_t vs_start;
	uintptr_t vs_end;
	vmem_seg_t *vs_anext; /* arena list: each span, then its segments */
	vmem_seg_t *vs_aprev;
	vmem_seg_t *vs_knext; /* kin list: free list, hash chain, span list */
	vmem_seg_t *vs_kprev;           /* (free list and span list only) */
	uint8_t vs_type;
	bool vs_imported;               /* spans: imported from the source */
	bool vs_qcache_slab;            /* allocated: a quantum cache's slab */
	bool vs_dirty;                  /* free, retaining arena: freed and not
	                                   purged since, so maybe resident */
};

static inline size_t
seg_size(const vmem_seg_t *vsp)
{
	return (vsp->vs_end - vsp->vs_start);
}

/* The most quantum caches an arena can have. */
#define VMEM_NQCACHE_MAX 16

/* Free list i holds free segments of size [2^i, 2^(i+1)). */
#define VMEM_FREELISTS  KMEM_ADDR_BITS
#define VMEM_HASH_INITIAL 16

/*
 * The most segment structures one allocation can consume: a new span
 * (marker and free segment) plus an allocation from its middle (the
 * allocated segment and one more free remainder).
 */
#define VMEM_SEGS_PER_OP 4

/* Counters, all protected by the arena lock. */
typedef struct vmem_counters {
	size_t mem_inuse;
	size_t mem_total;
	size_t mem_import;
	uint64_t alloc;
	uint64_t free;
	uint64_t fail;
	uint64_t wait;
	uint64_t import;
	uint64_t release;
	uint64_t search;
	uint64_t hash_lookup;
	uint64_t hash_depth;
	uint64_t hash_rescale;
	size_t segs_alloc;
	size_t segs_free;
	size_t spans;
	size_t mem_dirty;               /* free bytes in dirty segments */
	uint64_t purged;                /* bytes purged in place */
} vmem_counters_t;

/* Decay passes over which a retaining arena's allowance falls to zero. */
#define VMEM_DECAY_PASSES 4

struct vmem {
	char vm_name[VMEM_NAMELEN];
	kmem_mutex_t vm_lock;           /* protects everything below */
	kmem_cv_t vm_cv;                /* signalled when space is freed */
	unsigned vm_waiters;            /* threads sleeping on cv */

	size_t vm_quantum;
	unsigned vm_qshift;             /* log2(quantum) */
	size_t vm_qcache_max;           /* sizes up to this go to qcache[] */
	size_t vm_qcache_slab;          /* the slab size of every qcache[] */
	struct kmem_cache *vm_qcache[VMEM_NQCACHE_MAX];
	size_t vm_min_import;           /* smallest span worth importing */
	/* Retention (vmem.c); vm_purge is NULL in an arena that keeps none. */
	void (*vm_purge)(void *addr, size_t size);
	size_t vm_retain;               /* slack above the recent peak */
	size_t vm_peak;                 /* most mem_inuse since the last pass */
	size_t vm_allowance;            /* dirty bytes the last pass allowed */
	size_t vm_peaks[VMEM_DECAY_PASSES]; /* vm_peak of the last passes */
	int vm_cflags;
	bool vm_ximport;                /* import is a vmem_ximport_t */
	void *vm_import;                /* vmem_alloc_t or vmem_ximport_t */
	vmem_free_t *vm_release;
	vmem_t *vm_source;
	unsigned vm_depth;              /* number of sources above */
	vmem_t *vm_list_next;           /* all arenas, vmem_list_lock */

	vmem_seg_t vm_seg0;             /* arena list and span list anchor */
	vmem_seg_t vm_rotor;
	uintptr_t vm_freemap; /* bit i set <=> freelist[i] non-empty */
	vmem_seg_t *vm_freelist[VMEM_FREELISTS];

	vmem_seg_t *vm_reserve;         /* this arena's spare segments */
	unsigned vm_nreserve;

	vmem_seg_t **vm_hash_table;
	size_t vm_hash_mask;            /* buckets - 1 */
	unsigned vm_hash_bits;          /* log2(buckets) */
	vmem_seg_t *vm_hash0[VMEM_HASH_INITIAL];

	vmem_counters_t vm_st;
};

/* The list of all arenas (vmem.c); vmem_stats.c walks it. */
extern kmem_mutex_t vmem_list_lock;
extern vmem_t *vmem_list;

/*
 * Give vmp quantum caches for 1 .. qcache_max / quantum quanta (at most
 * VMEM_NQCACHE_MAX); kmem must be initialised.  From then on, vmem_alloc()
 * and vmem_free() of those sizes go through them.
 */
void vmem_qcache_create(vmem_t *vmp, size_t qcache_max);

/*
 * A quantum cache's slab of vmp->vm_qcache_slab bytes, and its return.  The
 * segment is marked, so that vmem_free() and vmem_xfree() refuse it: only
 * its cache may give it back (kmem_slab.c).
 */
void *vmem_qcache_slab_alloc(vmem_t *vmp, int vmflag);
void vmem_qcache_slab_free(vmem_t *vmp, void *vaddr);

/*
 * Report vmem_free(vmp, vaddr, size) of a quantum cache's size, which that
 * cache refused: explained as the arena would explain it (vmem.c).
 */
void vmem_qcache_bad_free(vmem_t *vmp, void *vaddr, size_t size);


/* vmem_segpool.c: segment structures.  All need vmp->vm_lock held. */
extern kmem_mutex_t vmem_segpool_lock;
bool vmem_reserve_fill(vmem_t *vmp, unsigned want);
vmem_seg_t *vmem_reserve_take(vmem_t *vmp);
void vmem_reserve_give(vmem_t *vmp, vmem_seg_t *vsp);
void vmem_reserve_drain(vmem_t *vmp);

/* vmem_hash.c: the allocated-segment hash.  All need vmp->vm_lock held. */
void vmem_hash_init(vmem_t *vmp);
void vmem_hash_fini(vmem_t *vmp);
void vmem_hash_insert(vmem_t *vmp, vmem_seg_t *vsp);
vmem_seg_t **vmem_hash_slot(vmem_t *vmp, uintptr_t addr);
void vmem_hash_unlink(vmem_t *vmp, vmem_seg_t **slot);
/* Look up without touching the statistics (for vmem_verify). */
vmem_seg_t *vmem_hash_find(const vmem_t *vmp, uintptr_t addr);

/*
 * The size of the allocated segment that starts at vaddr, or 0 if no
 * allocated segment starts there (vmem.c).  For callers that free without
 * knowing the size, such as free() of a large buffer.
 */
size_t vmem_alloc_size(vmem_t *vmp, const void *vaddr);
/*
 * vmem_xfree(), but false with no report and nothing changed when no
 * segment of size starts at vaddr: for a caller that explains the bad free
 * itself (kmem_free() above KMEM_MAXBUF), with one hash lookup.
 */
bool vmem_free_if_allocated(vmem_t *vmp, void *vaddr, size_t size);
size_t vmem_hash_longest_chain(const vmem_t *vmp);

/*
 * Retention (vmem.c): a retaining arena keeps what is freed in it -- wholly
 * free imported spans and free segments alike, "dirty" until purged -- for
 * reuse, up to a bound that follows its recent peak (the theory at the top
 * of vmem.c), imports at least min_import bytes at a time so that
 * neighbouring buffers share spans and their frees coalesce, and purges
 * dirty free segments of spans still in use with purge(addr, size), which
 * must drop the pages from the resident set (called with the arena lock
 * held).  slack: dirty bytes allowed above the recent peak between passes.
 * vmem_decay() is one pass of the decay schedule: the allowance follows
 * the peaks of the last VMEM_DECAY_PASSES passes and what is beyond it goes
 * back.  vmem_release_idle() gives back every wholly free span and purges
 * every dirty segment.  Both return the bytes they gave back or purged.
 */
void vmem_retain_set(vmem_t *vmp, size_t slack, size_t min_import,
    void (*purge)(void *addr, size_t size));
size_t vmem_decay(vmem_t *vmp);
size_t vmem_release_idle(vmem_t *vmp);

#endif /* KMEM_VMEM_IMPL_H */
