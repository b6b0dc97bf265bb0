/*
 * kmem's fast paths, as inline functions: the page map's lookup, the
 * checks a free makes before its buffer may enter a magazine, the free
 * marks, kmem_cache_alloc()'s and kmem_cache_free()'s magazine pop and
 * push, and kmem_alloc()'s class tables.  They are inlined where they are
 * called, so an allocation or a free costs no call until it needs a slow
 * path (declared here too: the inlines end in them).
 *
 * Who includes it: kmem_impl.h (kmem_cache.c and kmem_alloc.c use the
 * inlines), and src/malloc/malloc.c, whose malloc() and free() are these
 * fast paths with a size class and a page-map lookup in front; nothing
 * else outside src/kmem/ (the other layers have kmem_query.h).  An inline
 * here reads kmem's structures (kmem_types.h) without a lock: only the
 * calling thread's slots, which no other thread changes, and what is set
 * when a cache is created.
 */
#ifndef KMEM_KMEM_FAST_H
#define KMEM_KMEM_FAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kmem/kmem.h>

#include "base/poison.h"
#include "kmem_query.h"
#include "kmem_types.h"

/* ---- the calling thread's slots (kmem_thread.c) ---- */
extern __thread kmem_thread_cache_t *kmem_self
    __attribute__((tls_model("initial-exec")));

/* ---- the page map (kmem_pagemap.c) ---- */

#define KMEM_PAGEMAP_GRANULE_SHIFT 12     /* 4 KiB: any page size is a multiple */
#define KMEM_PAGEMAP_LEAF_BITS  18
#define KMEM_PAGEMAP_LEAF_SHIFT (KMEM_PAGEMAP_GRANULE_SHIFT + KMEM_PAGEMAP_LEAF_BITS)
#define KMEM_PAGEMAP_ROOT_BITS  (KMEM_VA_BITS - KMEM_PAGEMAP_LEAF_SHIFT)

extern kmem_slab_t **kmem_pagemap_root[1u << KMEM_PAGEMAP_ROOT_BITS];

/* The slab holding addr, or NULL: lock-free, for the free path. */
static inline kmem_slab_t *
kmem_pagemap_find(uintptr_t addr)
{
	uintptr_t root = addr >> KMEM_PAGEMAP_LEAF_SHIFT;
	if (root >= (uintptr_t)1 << KMEM_PAGEMAP_ROOT_BITS)    /* beyond VA */
		return (NULL);
	kmem_slab_t **leaf = __atomic_load_n(&kmem_pagemap_root[root],
	    __ATOMIC_ACQUIRE);
	if (leaf == NULL)
		return (NULL);
	return (__atomic_load_n(&leaf[(addr >> KMEM_PAGEMAP_GRANULE_SHIFT) &
	    ((1u << KMEM_PAGEMAP_LEAF_BITS) - 1)], __ATOMIC_RELAXED));
}

/* ---- the fast paths (kmem_cache.c), shared with kmem_alloc.c ---- */

/*
 * A buffer of cp becomes free (in a magazine, on a slab's free list) or
 * stops being free: its bytes poisoned or unpoisoned (poison.h).  Not the
 * buffers of a cache with a move callback: the callback may read an
 * object that was freed meanwhile, as its contract allows (kmem_move.c).
 */
static inline void
kmem_buffer_poison(const kmem_cache_t *cp, const void *buf)
{
#if defined(KMEM_ASAN) || defined(KMEM_VALGRIND)
	if (!(cp->cache_flags & (KMC_NOTOUCH | KMF_MOVE)))
		kmem_poison(buf, cp->cache_bufsize);
#endif
	(void) cp;
	(void) buf;
}

static inline void
kmem_buffer_unpoison(const kmem_cache_t *cp, const void *buf)
{
#if defined(KMEM_ASAN) || defined(KMEM_VALGRIND)
	if (!(cp->cache_flags & KMC_NOTOUCH))
		kmem_unpoison(buf, cp->cache_bufsize);
#endif
	(void) cp;
	(void) buf;
}

/*
 * The index of the buffer of sp, a slab of cp, that starts at buf; when
 * buf starts none (before the first, between two, or past the last), a
 * number above every slab's count of buffers.
 */
static inline uint64_t
kmem_slab_index(const kmem_cache_t *cp, const kmem_slab_t *sp, const void *buf)
{
	uint64_t off = (uintptr_t)buf - sp->slab_first;
	uint64_t q = off * cp->cache_chunk_inverse;
	unsigned k = cp->cache_chunk_shift;
	return ((q >> k) | (q << ((64 - k) & 63)));
}

/* Is buf the start of one of the buffers of sp, a slab of cp? */
static inline bool
kmem_slab_holds(const kmem_cache_t *cp, const kmem_slab_t *sp, const void *buf)
{
	return (kmem_slab_index(cp, sp, buf) < cp->cache_chunks);
}

/*
 * Is buf the start of one of the buffers of sp, a slab of cp, that has
 * left the slab at some time -- the only ones a caller can free?  What
 * the free paths ask: a buffer still on a fresh slab, never handed out,
 * is refused before it can reach a magazine and be handed out twice.
 */
static inline bool
kmem_slab_handed_out(const kmem_cache_t *cp, const kmem_slab_t *sp,
    const void *buf)
{
	/* Read without the slab's lock, which its writer holds: a buffer the
	 * caller got reached it after the count passed its index, and the
	 * count only grows. */
	return (kmem_slab_index(cp, sp, buf) <
	    __atomic_load_n(&sp->slab_handed, __ATOMIC_RELAXED));
}

/* Could a caller free buf to cp?  For KMF_PAGEMAP caches. */
static inline bool
kmem_cache_owns(const kmem_cache_t *cp, const void *buf)
{
	const kmem_slab_t *sp = kmem_pagemap_find((uintptr_t)buf);
	return (sp != NULL && sp->slab_cache == cp &&
	    kmem_slab_handed_out(cp, sp, buf));
}

/* ---- free marks (kmem_cache.c) ---- */

/* The mark a free buffer of cp at buf carries, and the word that holds
 * it: the buffer's first, or in a cache of constructed objects a word
 * after the buffer (KMF_MARKWORD). */
static inline uintptr_t
kmem_free_mark(const kmem_cache_t *cp, const void *buf)
{
	return (cp->cache_free_key ^ (uintptr_t)buf);
}

/*
 * class_buffer: the caller knows buf for a class buffer, malloc's, whose
 * mark is always its first word (no class has a constructor); malloc's
 * paths say so with a constant, and load no offset.
 */
static inline uintptr_t *
kmem_mark_word(const kmem_cache_t *cp, const void *buf, bool class_buffer)
{
	return (class_buffer ? (uintptr_t *)buf :
	    (uintptr_t *)((uintptr_t)buf + cp->cache_mark_offset));
}

/* Does buf, a buffer of cp, carry the free mark?  A free one does; a live
 * one only if the program wrote it.  False in a cache without marks. */
static inline bool
kmem_free_marked(const kmem_cache_t *cp, const void *buf)
{
	return (cp->cache_free_key != 0 &&
	    (uintptr_t)kmem_free_word(kmem_mark_word(cp, buf, false)) ==
	    kmem_free_mark(cp, buf));
}

/* buf, a buffer of cp, becomes free: it carries the mark. */
static inline void
kmem_free_mark_set(const kmem_cache_t *cp, void *buf, bool class_buffer)
{
	if (cp->cache_free_key != 0) {
		uintptr_t *mark = kmem_mark_word(cp, buf, class_buffer);
		kmem_unpoison(mark, sizeof (uintptr_t));
		*mark = kmem_free_mark(cp, buf);
	}
}

/* buf leaves cp for a caller: a live buffer never carries the mark. */
static inline void
kmem_free_mark_clear(const kmem_cache_t *cp, void *buf, bool class_buffer)
{
	if (cp->cache_free_key != 0)
		*kmem_mark_word(cp, buf, class_buffer) = 0;
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
/* Report buf, freed to cp when it was free already: where says where it
 * waits (kmem_free_where()); kmem_free_size names the call. */
void kmem_double_free(kmem_cache_t *cp, void *buf, size_t kmem_free_size,
    const char *where);
/* Report buf, in slab sp but not the start of a buffer the slab handed
 * out; where names the call, e.g. "free(0x...)". */
void kmem_report_not_buffer_start(const char *where, const kmem_slab_t *sp,
    const void *buf);

/* ---- a thread's magazines: the one pop and the one push ---- */

/*
 * The fast paths below, the slow paths of kmem_cache.c (under the thread
 * cache's lock, after a swap or a trade with the depot) and
 * kmem_cache_freed_last() (kmem_thread.c) all use these.  Only the owning
 * thread changes its slot; the count, the rounds and the counters are
 * stored atomically (relaxed: plain stores) for the threads that read
 * them -- statistics, and kmem_free_where(), which searches other
 * threads' magazines.
 */

/* Take the top round of cc's loaded magazine, which holds rounds > 0 of
 * them, for an allocation from cp. */
static inline void *
kmem_magazine_pop(const kmem_cache_t *cp, kmem_slot_t *cc, int rounds)
{
	void *buf = cc->cc_loaded->rounds[rounds - 1];
	kmem_round_taken(&cc->cc_loaded->rounds[rounds - 1]);
	__atomic_store_n(&cc->cc_rounds, rounds - 1, __ATOMIC_RELAXED);
	__atomic_store_n(&cc->cc_alloc, cc->cc_alloc + 1, __ATOMIC_RELAXED);
	kmem_buffer_unpoison(cp, buf);
	return (buf);
}

/* Put buf, freed to cp, on cc's loaded magazine, which holds rounds of
 * fewer than its size. */
static inline void
kmem_magazine_push(const kmem_cache_t *cp, kmem_slot_t *cc, int rounds,
    void *buf)
{
	__atomic_store_n(&cc->cc_loaded->rounds[rounds], buf, __ATOMIC_RELAXED);
	__atomic_store_n(&cc->cc_rounds, rounds + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&cc->cc_free, cc->cc_free + 1, __ATOMIC_RELAXED);
	kmem_buffer_poison(cp, buf);
}

/* Is buf the top round of mp, which holds rounds > 0 of them? */
static inline bool
kmem_magazine_top_is(const kmem_magazine_t *mp, int rounds, const void *buf)
{
	return (mp->rounds[rounds - 1] == buf);
}

/* ---- kmem_cache_alloc() and kmem_cache_free() ---- */

/* cp's slot in tc, whose slots_size the caller found above
 * cp->cache_fast_offset. */
static inline kmem_slot_t *
kmem_fast_slot(const kmem_thread_cache_t *tc, const kmem_cache_t *cp)
{
	return ((kmem_slot_t *)((char *)tc->slots + cp->cache_fast_offset));
}

static inline void *
kmem_cache_alloc_inline(kmem_cache_t *cp, int kmflag, size_t requested)
{
	kmem_thread_cache_t *tc = kmem_self;
	if (__builtin_expect(cp->cache_fast_offset < tc->slots_size, 1)) {
		kmem_slot_t *cc = kmem_fast_slot(tc, cp);
		int rounds = cc->cc_rounds;
		if (__builtin_expect(rounds > 0, 1)) {
			void *buf = kmem_magazine_pop(cp, cc, rounds);
			kmem_free_mark_clear(cp, buf,
			    kmflag & KM_MALLOC_ENTRY);
			return (buf);
		}
	}
	return (kmem_cache_alloc_slow(cp, kmflag, requested));
}

/*
 * Push buf, a buffer of cp being freed, on the thread's loaded magazine,
 * or take the slow path.  marked: cp has free marks and buf carries its
 * mark now (a constant at each call).  In a cache without marks, a buffer
 * equal to the one freed last is a double free, cheap to see (the mark
 * catches it in the others, so they skip this compare).
 */
static inline __attribute__((always_inline)) void
kmem_cache_free_push(kmem_cache_t *cp, void *buf, size_t kmem_free_size,
    bool marked)
{
	kmem_thread_cache_t *tc = kmem_self;
	if (__builtin_expect(cp->cache_fast_offset < tc->slots_size, 1)) {
		kmem_slot_t *cc = kmem_fast_slot(tc, cp);
		int rounds = cc->cc_rounds;
		if (__builtin_expect((unsigned)rounds <
		    (unsigned)cc->cc_magsize, 1)) {
			if (__builtin_expect(!marked && rounds > 0 &&
			    kmem_magazine_top_is(cc->cc_loaded, rounds, buf),
			    0)) {
				kmem_double_free(cp, buf, kmem_free_size,
				    "the buffer freed last");
				return;
			}
			kmem_magazine_push(cp, cc, rounds, buf);
			return;
		}
	}
	kmem_cache_free_slow(cp, buf, kmem_free_size);
}

/*
 * Free buf, known to be one of cp's buffers, to the thread's magazine.  In
 * a cache with free marks, a buffer that carries the mark already is
 * looked for among the free ones (out of line, rare) and refused if found;
 * any other gets the mark.  The two kinds of cache have a push each, so
 * that the marked one tests no key again.
 */
static inline void
kmem_cache_free_owned(kmem_cache_t *cp, void *buf, size_t kmem_free_size)
{
	if (cp->cache_free_key != 0) {
		bool class_buffer = kmem_free_size == KMEM_FREE_MALLOC;
		if (__builtin_expect((uintptr_t)kmem_free_word(kmem_mark_word(
		    cp, buf, class_buffer)) == kmem_free_mark(cp, buf), 0)) {
			kmem_cache_free_marked(cp, buf, kmem_free_size);
			return;
		}
		kmem_free_mark_set(cp, buf, class_buffer); /* poisoned below */
		kmem_cache_free_push(cp, buf, kmem_free_size, true);
		return;
	}
	kmem_cache_free_push(cp, buf, kmem_free_size, false);
}

static inline void
kmem_cache_free_inline(kmem_cache_t *cp, void *buf, size_t kmem_free_size)
{
	if ((cp->cache_flags & KMF_PAGEMAP) && !kmem_cache_owns(cp, buf)) {
		kmem_bad_free(cp, buf, kmem_free_size);
		return;
	}
	kmem_cache_free_owned(cp, buf, kmem_free_size);
}

/* ---- kmem_alloc()'s class tables (kmem_alloc.c) ---- */

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

#endif /* KMEM_KMEM_FAST_H */
