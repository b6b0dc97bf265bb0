/*
 * Typed malloc: NetBSD's malloc(9), with malloc types and their
 * statistics, on top of kmem_alloc().  See docs/netbsd.md.
 *
 * A malloc type names what memory is for ("devbuf", "temp") and counts it:
 * objects and bytes in use, the high-water mark, requests, failures, the
 * requests of each power-of-two size class (the sizes `vmstat -m` lists),
 * and an optional limit.  Define one in one file with MALLOC_DEFINE and
 * declare it wherever it is used with MALLOC_DECLARE:
 *
 *	MALLOC_DEFINE(M_FROB, "frob", "frobnicator state");
 *	struct frob *f = mtype_malloc(sizeof (*f), M_FROB, M_WAITOK | M_ZERO);
 *	...
 *	mtype_free(f, M_FROB);
 *
 * The names.  NetBSD calls these malloc(size, type, flags),
 * realloc(addr, size, type, flags) and free(addr, type), which would take
 * the C library's names; here they are mtype_malloc(), mtype_realloc() and
 * mtype_free(), with NetBSD's arguments in NetBSD's order, so porting is a
 * prefix.  The other functions map the same way: malloc_roundup() ->
 * mtype_roundup(), malloc_type_attach() -> mtype_attach(),
 * malloc_type_detach() -> mtype_detach(), malloc_type_setlimit() ->
 * mtype_setlimit().  A file that includes every system header first may
 * define MTYPE_NETBSD_NAMES before including this one to get NetBSD's
 * names as macros.
 *
 * Each allocation carries a 16-byte header holding its size and a tag made
 * of its type and address, so mtype_free() needs no size and catches a free
 * with the wrong type, a double free and a pointer malloc never returned.
 * Memory is 16-byte aligned.
 */
#ifndef KMEM_MTYPE_H
#define KMEM_MTYPE_H

#include <stddef.h>
#include <stdint.h>

#include <kmem/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags (values as in NetBSD). */
#define M_WAITOK        0x0000  /* wait for memory (and below the limit) */
#define M_NOWAIT        0x0001  /* return NULL rather than wait */
#define M_ZERO          0x0100  /* zero the memory */
#define M_CANFAIL       0x0200  /* with M_WAITOK: NULL, not a report, for a
				   request the limit can never let through */

#define MTYPE_MAGIC     0x6d747970u     /* "mtyp" */
#define MTYPE_NAMELEN   32

/*
 * A malloc type, in the program's storage (MALLOC_DEFINE).  The members
 * other than the three the macros fill are private.
 */
struct malloc_type {
	uint32_t ks_magic;              /* MTYPE_MAGIC */
	const char *ks_shortdesc;       /* the name statistics show */
	size_t ks_limit;                /* bytes; 0: no limit */
	struct malloc_type *ks_next;    /* the list of attached types */
	struct mtype_state *ks_state;   /* lock and counters, from first use */
	uint32_t ks_attached;
	uint32_t ks_busy;               /* walkers reading it */
};

#define MALLOC_JUSTDEFINE_LIMIT(type, shortdesc, longdesc, limit)     \
	struct malloc_type type[1] = {                                  \
		{ MTYPE_MAGIC, shortdesc, limit, NULL, NULL, 0, 0 }     \
	}

#define MALLOC_JUSTDEFINE(type, shortdesc, longdesc)                    \
	MALLOC_JUSTDEFINE_LIMIT(type, shortdesc, longdesc, 0)

/* Define the type and attach it before main() runs, as NetBSD's link set
 * attaches it at boot; a type defined with MALLOC_JUSTDEFINE is attached by
 * mtype_attach() or its first allocation. */
#define MALLOC_DEFINE_LIMIT(type, shortdesc, longdesc, limit)           \
	MALLOC_JUSTDEFINE_LIMIT(type, shortdesc, longdesc, limit);      \
	__attribute__((constructor)) static void                        \
	mtype_define_##type(void)                                       \
	{                                                               \
		mtype_attach(type);                                     \
	}                                                               \
	extern struct malloc_type type[1]

#define MALLOC_DEFINE(type, shortdesc, longdesc)                        \
	MALLOC_DEFINE_LIMIT(type, shortdesc, longdesc, 0)

#define MALLOC_DECLARE(type)                                            \
	extern struct malloc_type type[1]

/* NetBSD's two general types. */
KMEM_API extern struct malloc_type M_DEVBUF[1];
KMEM_API extern struct malloc_type M_TEMP[1];

/*
 * malloc(9).  mtype_malloc() returns NULL only with M_NOWAIT, or with
 * M_CANFAIL for a request larger than the type's limit.  mtype_free() does
 * not take NULL (NetBSD's free(9) does not either).  mtype_realloc() of
 * NULL allocates; to size 0 it frees and returns NULL; when it fails the
 * old memory is left as it was.
 */
KMEM_API void *mtype_malloc(size_t size, struct malloc_type *type, int flags);
KMEM_API void *mtype_realloc(void *addr, size_t size, struct malloc_type *type,
    int flags);
KMEM_API void mtype_free(void *addr, struct malloc_type *type);
/* The bytes an allocation of size really has room for. */
KMEM_API size_t mtype_roundup(size_t size);

KMEM_API void mtype_attach(struct malloc_type *type);
/* Take the type off the list; it must have nothing allocated. */
KMEM_API void mtype_detach(struct malloc_type *type);
/* Bytes of memory (as MemUse counts them) the type may hold; 0: no limit.
 * M_WAITOK allocations at the limit wait for frees. */
KMEM_API void mtype_setlimit(struct malloc_type *type, size_t limit);

/* ---- statistics ---- */

/*
 * Size classes of the statistics: bucket i counts requests of up to
 * 16 << i bytes (and more than the bucket before); the last one counts
 * everything larger.  mtype_bucket_size() gives the bound, SIZE_MAX for
 * the last.
 */
#define MTYPE_BUCKETS   20

typedef struct mtype_bucket_stats {
	uint64_t inuse;                 /* objects of this class allocated */
	uint64_t calls;                 /* allocations of this class */
} mtype_bucket_stats_t;

/* One type's counters; the columns of `vmstat -m`'s type table marked. */
typedef struct mtype_stats {
	char name[MTYPE_NAMELEN];       /* shortdesc: Type */
	int attached;
	uint64_t inuse;                 /* objects allocated now: InUse */
	uint64_t bytes_inuse;           /* bytes asked for by them */
	uint64_t mem_inuse;             /* bytes they occupy (header and size
					   class included): MemUse */
	uint64_t mem_max;               /* high-water mark of mem_inuse:
					   HighUse */
	uint64_t limit;                 /* 0: none: Limit */
	uint64_t calls;                 /* successful allocations: Requests */
	uint64_t fails;                 /* allocations that returned NULL:
					   Fail */
	uint64_t frees;
	uint64_t limit_hits;            /* allocations that found the limit */
	uint64_t limit_waits;           /* of those, ones that waited */
	mtype_bucket_stats_t bucket[MTYPE_BUCKETS];     /* Size(s) */
} mtype_stats_t;

KMEM_API size_t mtype_bucket_size(unsigned bucket);
/* Fill *st; 0, or -1 (reported) for something that is not a malloc type. */
KMEM_API int mtype_stats(struct malloc_type *type, mtype_stats_t *st);
/* Call fn with the counters of every attached type, with no lock held:
 * fn may allocate, but not detach a type (detaching waits for walkers). */
KMEM_API void mtype_walk(void (*fn)(void *arg, const mtype_stats_t *st),
    void *arg);
/*
 * The type table of `vmstat -m` (Type InUse MemUse HighUse Limit Requests
 * Fail Size(s)), one line per call of emit.
 */
KMEM_API void mtype_table(void (*emit)(void *arg, const char *line),
    void *arg);

#ifdef MTYPE_NETBSD_NAMES
#define malloc(size, type, flags)       mtype_malloc(size, type, flags)
#define realloc(addr, size, type, flags) mtype_realloc(addr, size, type, flags)
#define free(addr, type)                mtype_free(addr, type)
#define malloc_roundup(size)            mtype_roundup(size)
#define malloc_type_attach(type)        mtype_attach(type)
#define malloc_type_detach(type)        mtype_detach(type)
#define malloc_type_setlimit(type, limit) mtype_setlimit(type, limit)
#endif

#ifdef __cplusplus
}
#endif

#endif /* KMEM_MTYPE_H */
