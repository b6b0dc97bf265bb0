/*
 * vmem: the general resource allocator of Solaris/illumos (Bonwick & Adams,
 * "Magazines and Vmem", USENIX 2001), with illumos semantics.
 *
 * An arena manages a set of integers -- addresses, identifiers, port numbers,
 * anything -- as spans of [start, end) ranges, and hands out segments of
 * them.  Arenas nest: an arena with a source imports spans from it when it
 * runs short and gives them back when they are wholly free.  See
 * docs/vmem.md for the theory and every flag.
 *
 * Results are never NULL on success, which is why an identifier arena
 * usually starts at 1 and why no span may start at address 0.
 */
#ifndef KMEM_VMEM_H
#define KMEM_VMEM_H

#include <stddef.h>
#include <stdint.h>

#include <kmem/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmem vmem_t;
typedef void *(vmem_alloc_t)(vmem_t *source, size_t size, int vmflag);
typedef void (vmem_free_t)(vmem_t *source, void *addr, size_t size);
/* An import function that may return more than asked: *sizep grows. */
typedef void *(vmem_ximport_t)(vmem_t *source, size_t *sizep, size_t align,
    int vmflag);

/* Allocation flags (the low 16 bits; values as in illumos). */
#define VM_SLEEP        0x0000  /* wait until the request can be met */
#define VM_NOSLEEP      0x0001  /* fail at once with NULL instead */
#define VM_PANIC        0x0002  /* failure is reported and aborts */
#define VM_BESTFIT      0x0100  /* smallest segment that fits */
#define VM_FIRSTFIT     0x0200  /* first segment found that fits */
#define VM_NEXTFIT      0x0400  /* next free range after the last one */
#define VM_INSTANTFIT   0x1000  /* the default: O(1), within 2x of best */
#define VM_KMFLAGS      0x00FF  /* the part shared with kmem's KM_* flags */
#define VM_FLAGS        0xFFFF

/* Arena creation flags (the high 16 bits of vmem_create's vmflag). */
#define VMC_NO_QCACHE   0x00020000  /* no quantum caches; import big spans */
#define VMC_IDENTIFIER  0x00040000  /* integers, not memory */
#define VMC_FLAGS       0xFFFF0000

/* Segment types for vmem_walk() and vmem_size(). */
#define VMEM_ALLOC      0x01
#define VMEM_FREE       0x02
#define VMEM_SPAN       0x10
#define VMEM_REENTRANT  0x80000000  /* walk drops the lock around callbacks */

#define VMEM_NAMELEN    32

KMEM_API vmem_t *vmem_create(const char *name, void *base, size_t size,
    size_t quantum, vmem_alloc_t *afunc, vmem_free_t *ffunc, vmem_t *source,
    size_t qcache_max, int vmflag);
KMEM_API vmem_t *vmem_xcreate(const char *name, void *base, size_t size,
    size_t quantum, vmem_ximport_t *afunc, vmem_free_t *ffunc,
    vmem_t *source, size_t qcache_max, int vmflag);
KMEM_API void vmem_destroy(vmem_t *vmp);

KMEM_API void *vmem_alloc(vmem_t *vmp, size_t size, int vmflag);
KMEM_API void *vmem_xalloc(vmem_t *vmp, size_t size, size_t align,
    size_t phase, size_t nocross, void *minaddr, void *maxaddr, int vmflag);
KMEM_API void vmem_free(vmem_t *vmp, void *addr, size_t size);
KMEM_API void vmem_xfree(vmem_t *vmp, void *addr, size_t size);

KMEM_API void *vmem_add(vmem_t *vmp, void *addr, size_t size, int vmflag);
KMEM_API int vmem_contains(vmem_t *vmp, void *addr, size_t size);
KMEM_API void vmem_walk(vmem_t *vmp, int typemask,
    void (*func)(void *arg, void *start, size_t size), void *arg);
KMEM_API size_t vmem_size(vmem_t *vmp, int typemask);

/* Statistics: one arena's counters, read in one consistent snapshot. */
typedef struct vmem_stats {
	char name[VMEM_NAMELEN];
	char source[VMEM_NAMELEN];   /* "" when the arena imports nothing */
	unsigned depth;              /* 0 for a root arena, source depth + 1 */
	int cflags;                  /* VMC_* flags the arena was created with */
	size_t quantum;
	size_t qcache_max;
	size_t mem_inuse;            /* bytes (or identifiers) allocated */
	size_t mem_total;            /* size of all spans */
	size_t mem_import;           /* part of mem_total imported from source */
	uint64_t alloc;              /* successful allocations */
	uint64_t free;               /* frees */
	uint64_t fail;               /* allocations that returned NULL */
	uint64_t wait;               /* times an allocation slept */
	uint64_t import;             /* spans imported from the source */
	uint64_t release;            /* imported spans given back */
	uint64_t search;             /* free segments examined by searches */
	uint64_t hash_lookup;        /* frees looked up in the hash */
	uint64_t hash_depth;         /* chain entries examined by those lookups */
	uint64_t hash_rescale;       /* times the hash table was resized */
	size_t hash_buckets;
	size_t hash_longest_chain;   /* measured when the snapshot is taken */
	size_t segs_alloc;           /* allocated segments */
	size_t segs_free;            /* free segments */
	size_t spans;
	size_t segs_reserved;        /* segment structures held for this arena */
	size_t mem_dirty;            /* free bytes kept for reuse, not purged */
	uint64_t purged;             /* bytes purged in place (madvise) */
} vmem_stats_t;

/* Fill *st for vmp; returns 0. */
KMEM_API int vmem_stats(vmem_t *vmp, vmem_stats_t *st);

/*
 * Print the arena table (the columns of illumos's mdb ::vmem) for vmp, or
 * for every arena when vmp is NULL, nested arenas indented under their
 * source.  Each line, without newline, goes to emit(arg, line).
 */
KMEM_API void vmem_table(vmem_t *vmp,
    void (*emit)(void *arg, const char *line), void *arg);

/*
 * Check every internal invariant of vmp (segment order and coverage,
 * coalescing, free lists, free-list bitmap, hash, counters).  Returns 0 when
 * all hold; otherwise reports the first violation and returns -1.
 */
KMEM_API int vmem_verify(vmem_t *vmp);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_VMEM_H */
