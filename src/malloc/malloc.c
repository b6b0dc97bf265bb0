/*
 * The malloc family on kmem: kmem_malloc(), kmem_malloc_free() and the
 * rest of include/kmem/malloc.h.  libkmem_malloc.so gives them the C
 * library's names (malloc_shim.c).
 *
 * Small requests, up to KMEM_MAXBUF, are rounded up to a multiple of 16 and
 * served by kmem_alloc()'s class caches: every class that is a multiple of
 * 16 keeps its buffers 16-aligned (kmem_alloc.c), and a buffer never carries
 * a header.  Larger requests are whole pages from the kmem_oversize arena.
 * An aligned request for at most a page of alignment picks the class of
 * its size rounded up to the alignment: that class's buffers are aligned
 * at least that much (the class size is a multiple of the alignment, and
 * classes are aligned to the largest power of two dividing their size).
 * Anything else aligned is a large buffer from vmem_xalloc().
 *
 * free() is told no size, so it asks where the pointer lives:
 * - the page map knows every slab of the class caches; its cache must be
 *   one of kmem_alloc()'s (KMF_CLASS) and the pointer the start of one of
 *   its buffers, then the buffer goes to the thread's magazine as a
 *   kmem_free() would;
 * - an address with no slab must be the start of a large buffer, whose
 *   size vmem's hash knows;
 * - anything else -- a pointer into another cache, an interior pointer, a
 *   pointer that was never returned or a large buffer freed already -- is
 *   reported (and the default report handler aborts), and nothing changes.
 *   A small buffer freed twice is caught by the cache layer's free marks
 *   (kmem_cache.c), which realloc() and malloc_usable_size() ask too: a
 *   freed buffer is reported, not copied from and handed out again.
 *
 * Failures set errno to ENOMEM (EINVAL for a bad alignment) and return
 * NULL, never waiting for memory: every allocation here is KM_NOSLEEP.
 *
 * Large sizes are rounded up to classes too, eighths of a power of two
 * (large_class()), so that a freed large buffer, which kmem_pages keeps
 * mapped for a while (kmem_init.c), fits the next request of its class.
 *
 * realloc() keeps the buffer when the new size still fits and uses at least
 * half of it; otherwise it moves to the new size's class, so a buffer grown
 * by small appends moves a logarithmic number of times.
 *
 * Sampled guard pages ("guard=N"): each thread counts down to its next
 * sample, drawn at random with a mean of N allocations; malloc() pays one
 * decrement and branch for it (a field of the thread's kmem thread cache,
 * which the fast path holds in a register anyway: kmem_types.h), and the
 * sample, on the slow path, gets a slot of kmem's guard pool
 * (kmem_guard.c) when the pool has one and its time budget allows.  A
 * thread counts from its first allocation with a thread cache; the
 * allocations made before (its very first) are not counted.  Mode off,
 * the countdown restarts at GUARD_RECHECK, so a rate set later is seen by
 * every thread within that many allocations, and by the thread that sets
 * it at once.
 *
 * The fast paths, in instructions (docs/benchmarks.md counts them): a
 * small size finds its class by one load from kmem_alloc_small[] at the
 * size rounded up to 16 as a byte offset (small_class()); the slot is at
 * a byte offset kept in the cache (no multiply); malloc() reaches its slow
 * path by a tail call, so it saves no register.  free() finds a
 * guarded buffer on its slow path: it has no slab, and the pool is one
 * range of addresses.  A guarded buffer is recorded by the trace like any.
 *
 * The recorder (malloc_trace.c, the "trace" option) adds no test to
 * malloc() and free(): it turns the class caches' fast paths off, as
 * debugging does, so that a class allocation asked by malloc() and a
 * class free reach kmem's slow paths, which call the recorder's hooks
 * and use the thread's magazines as the fast paths would (kmem_query.h);
 * what else malloc() serves (0 bytes, large sizes, a failure) falls into
 * malloc_slow(), which records it.  calloc(), realloc() and the aligned
 * allocations test
 * kmem_trace_on once on entry; traced, they allocate with malloc_plain()
 * and free with free_unrecorded(), so that their parts are not events of
 * their own.  A malloc() made while one is served -- the C library's,
 * when kmem asks it for a new thread's stack bounds -- is an event of its
 * own, as kmem's statistics count it.
 */
#include <kmem/malloc.h>

#include "base/bits.h"
#include "base/format.h"
#include "base/poison.h"
#include "base/report.h"
#include "kmem/kmem_fast.h"
#include "kmem/kmem_query.h"
#include "malloc/malloc_impl.h"
#include "malloc_trace.h"

#include <errno.h>

#define MALLOC_ALIGN    16
#define GUARD_RECHECK   (1 << 20)
#define TLS_IE          __attribute__((tls_model("initial-exec")))

/* ---- large buffers: whole pages from kmem_oversize ---- */

/*
 * The size class of a large request: the next eighth of its power of two
 * (and a whole number of pages).  A freed large buffer then fits every
 * later request of its class exactly, and a buffer grown by realloc()
 * moves once per class, a logarithmic number of times.  0 for a size above
 * PTRDIFF_MAX: no object may be that large (the difference of two pointers
 * into it would not fit ptrdiff_t), so it fails at once, as glibc's does,
 * without asking vmem and the system for it.
 */
static size_t
large_class(size_t size)
{
	if (size > PTRDIFF_MAX)
		return (0);
	size_t step = kmem_pagesize();
	if (size > 16 * step)
		step = (size_t)1 << (highbit(size - 1) - 4);
	return (p2_roundup(size, step));
}

static void *
large_alloc(size_t size, size_t align)
{
	size = large_class(size);
	if (size == 0) {
		errno = ENOMEM;
		return (NULL);
	}
	void *buf = kmem_large_alloc(size, align);
	if (buf == NULL)
		errno = ENOMEM;
	else if (kmem_trace_on)
		kmem_trace_sync();      /* maybe another thread's free */
	return (buf);
}

/*
 * The size of the large buffer at ptr, or 0 after reporting that ptr is not
 * one; caller names the call for the report.
 */
static size_t
large_size(const void *ptr, const char *caller)
{
	size_t size = kmem_large_size(ptr);
	if (size == 0)
		kmem_debug_report(NULL, ptr, "%s(%p): not a pointer malloc "
		    "returned, or one already freed", caller, ptr);
	return (size);
}

/* ---- finding a pointer's owner ---- */

/*
 * The class cache that holds ptr at the start of one of its buffers; NULL
 * after reporting a pointer into a slab that is not one (caller names the
 * call); NULL without a report when ptr is in no slab.
 */
static kmem_cache_t *
class_of(const void *ptr, const kmem_slab_t *sp, const char *caller)
{
	kmem_cache_t *cp = sp->slab_cache;
	char where[64];
	if ((cp->cache_flags & KMF_CLASS) && kmem_slab_handed_out(cp, sp, ptr))
		return (cp);
	kmem_snprintf(where, sizeof (where), "%s(%p)", caller, ptr);
	if (!(cp->cache_flags & KMF_CLASS))
		kmem_debug_report(cp, ptr, "%s: wrong cache: the buffer "
		    "belongs to cache \"%s\", not to malloc", where,
		    kmem_cache_name(cp));
	else
		kmem_report_not_buffer_start(where, sp, ptr);
	return (NULL);
}

/*
 * Is ptr, a buffer of class cp, free (its free mark there, and found among
 * the free buffers)?  Reported as given to caller.  A debug cache's tag
 * says it in kmem_debug_requested().
 */
static bool
freed_already(kmem_cache_t *cp, const void *ptr, const char *caller)
{
	if (!kmem_free_marked(cp, ptr))
		return (false);
	const char *where = kmem_free_where(cp, ptr);
	if (where == NULL)
		return (false);
	kmem_debug_report(cp, ptr, "%s(%p): the buffer was freed already "
	    "(%s; cache \"%s\")", caller, ptr, where, kmem_cache_name(cp));
	return (true);
}

/* The usable size of ptr, not NULL; 0 after a report when it is not ours,
 * or free. */
static size_t
usable_size(const void *ptr, const char *caller)
{
	const kmem_slab_t *sp = kmem_pagemap_find((uintptr_t)ptr);
	if (sp != NULL) {
		kmem_cache_t *cp = class_of(ptr, sp, caller);
		if (cp == NULL || freed_already(cp, ptr, caller))
			return (0);
		return (kmem_cache_usable_size(cp, ptr));
	}
	if (kmem_guard_holds(ptr))
		return (kmem_guard_size(ptr, caller));
	return (large_size(ptr, caller));
}

/* ---- the family ---- */

/* malloc() the long way: a size beyond the classes, 0, before kmem_init(),
 * a class's first use, a magazine to fill, and every call while the
 * recorder is on. */
static void *
malloc_plain(size_t size)
{
	if (size > KMEM_MAXBUF)
		return (large_alloc(size, 0));
	if (size == 0)
		size = 1;
	/* The class's first use (or kmem's) makes its cache: until then its
	 * slots hold kmem_null_cache, whose magazines are always empty. */
	kmem_cache_t *cp = kmem_alloc_class_cache(p2_roundup(size,
	    MALLOC_ALIGN), KM_NOSLEEP);
	if (cp == NULL) {
		errno = ENOMEM;
		return (NULL);
	}
	void *buf = kmem_cache_alloc_inline(cp, KM_NOSLEEP, size);
	if (buf == NULL)
		errno = ENOMEM;
	else
		kmem_block_allocated(buf, cp->cache_bufsize, false);
	return (buf);
}

/*
 * Out of line, so that kmem_malloc() stays a leaf with no stack frame.
 * While the recorder is on, a class allocation is recorded by kmem's hook
 * (its fast path asks with KM_MALLOC_ENTRY, kmem_query.h); the rest of
 * malloc() comes here and is recorded here, a class allocation only when
 * it failed.
 */
static __attribute__((noinline, cold)) void *
malloc_slow(size_t size)
{
	void *buf = malloc_plain(size);
	if (kmem_trace_recording())
		kmem_trace_alloc(KMEM_TRACE_MALLOC, 0, 0, size, buf);
	return (buf);
}

/*
 * The class cache of a request of 1 to KMEM_ALLOC_SMALL bytes, malloc's
 * way: kmem_alloc_small[] has a slot per 8 bytes of size, and the slot of
 * a multiple of 16, 16 k, is slot 2 k, whose offset in the table is 16 k
 * bytes: the size rounded up to 16 is its class's offset, with no shift.
 */
static inline kmem_cache_t *
small_class(size_t size)
{
	_Static_assert(sizeof (kmem_alloc_small[0]) * 2 == MALLOC_ALIGN,
	    "a 16-byte step of size is a 16-byte step in the table");
	return (__atomic_load_n((kmem_cache_t **)((char *)kmem_alloc_small +
	    ((size + MALLOC_ALIGN - 1) & ~(size_t)(MALLOC_ALIGN - 1))),
	    __ATOMIC_ACQUIRE));
}

/*
 * buf, a class buffer of cp from a magazine, goes to the program.  Its
 * free mark is its first word (kmem_mark_word()), cleared whether or not
 * the class has marks (a firewall class has none): a store into a buffer
 * the program is about to own costs less than a test of the key.
 */
static inline void *
class_handed_out(const kmem_cache_t *cp, void *buf)
{
	*(uintptr_t *)buf = 0;
	kmem_block_allocated(buf, cp->cache_bufsize, false);
	return (buf);
}

static void *malloc_sampled(size_t size);

/*
 * Where kmem_malloc() goes when the thread's loaded magazine of cp has no
 * round, or the thread has no slot for cp (no thread cache yet, a debug
 * or recorded class): kmem's slow path, and malloc_slow() if that fails.
 * Its own function, reached by a tail call, so that the fast path saves
 * no register.  An allocation the fast path could not count down (tc had
 * no slot for cp) is counted here when it should be (count: not the
 * allocation malloc_sampled() makes after its draw, which would draw
 * again, for ever when the draw is 1 and the size cannot be guarded),
 * unless tc is one of kmem's shared stand-ins (no slots at all), which no
 * thread may write.
 */
static __attribute__((noinline)) void *
malloc_refill(kmem_cache_t *cp, kmem_thread_cache_t *tc, size_t size,
    bool count)
{
	if (count && cp->cache_fast_offset >= tc->slots_size &&
	    tc->slots_size != 0 && --tc->countdown < 0)
		return (malloc_sampled(size));
	void *buf = kmem_cache_alloc_slow(cp, KM_NOSLEEP | KM_MALLOC_ENTRY,
	    size);
	if (__builtin_expect(buf == NULL, 0))
		return (malloc_slow(size));
	return (class_handed_out(cp, buf));
}

/*
 * malloc() from the thread's loaded magazine, or NULL after the slow path
 * when count: with the guard sampler's countdown (kmem_malloc()), or
 * without (malloc_sampled(), which drew the next one).
 */
static inline __attribute__((always_inline)) void *
malloc_fast(size_t size, bool count)
{
	kmem_cache_t *cp;
	if (__builtin_expect(size - 1 < KMEM_ALLOC_SMALL, 1)) {
		cp = small_class(size);
	} else {
		cp = kmem_alloc_cache(p2_roundup(size, MALLOC_ALIGN));
		if (cp == NULL)
			return (malloc_slow(size));
	}
	kmem_thread_cache_t *tc = kmem_self;
	if (__builtin_expect(cp->cache_fast_offset < tc->slots_size, 1)) {
		if (count && __builtin_expect(--tc->countdown < 0, 0))
			return (malloc_sampled(size));
		kmem_slot_t *cc = kmem_fast_slot(tc, cp);
		int rounds = cc->cc_rounds;
		if (__builtin_expect(rounds > 0, 1))
			return (class_handed_out(cp,
			    kmem_magazine_pop(cp, cc, rounds)));
	}
	return (malloc_refill(cp, tc, size, count));
}

/* ---- sampled guard pages ---- */

/* The thread's xorshift64* state; 0 until its first draw. */
static __thread uint64_t guard_random TLS_IE;

/* A countdown for rate: uniform in [1, 2 rate - 1], a mean of rate. */
static int32_t
guard_draw(unsigned rate)
{
	uint64_t x = guard_random;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	guard_random = x;
	return ((int32_t)(1 + (x * 0x2545f4914f6cdd1dULL >> 32) %
	    (2 * (uint64_t)rate - 1)));
}

/* The thread's own seed: its stack's and thread-local storage's places
 * differ between threads and, with address randomisation, between runs. */
static uint64_t
guard_seed(void)
{
	uint64_t seed = (uintptr_t)&guard_random ^ kmem_clock_ns() ^
	    ((uint64_t)(uintptr_t)__builtin_frame_address(0) << 17);
	seed = (seed ^ (seed >> 30)) * 0xbf58476d1ce4e5b9ULL;
	seed = (seed ^ (seed >> 27)) * 0x94d049bb133111ebULL;
	seed ^= seed >> 31;
	return (seed != 0 ? seed : 1);
}

/*
 * The countdown ran out: a sample, guarded if the pool has a slot for it,
 * or a new thread's first draw, or the mode is off.  A guarded buffer
 * starts at its page, or 16-aligned as near its end as it fits, that is
 * p2_roundup(size, 16) before it: aligned, either way, as its class's
 * buffers are (to the largest power of two dividing that size), which is
 * what memalign() counts on.
 */
static __attribute__((noinline, cold)) void *
malloc_sampled(size_t size)
{
	kmem_thread_cache_t *tc = kmem_self;    /* one with slots (above) */
	unsigned rate = kmem_guard_rate();
	if (rate == 0) {
		tc->countdown = GUARD_RECHECK - 1;
		return (malloc_fast(size, false));
	}
	bool seeded = guard_random != 0;
	if (!seeded)
		guard_random = guard_seed();
	tc->countdown = guard_draw(rate) - 1;
	if (seeded) {
		void *buf = kmem_guard_alloc(size, MALLOC_ALIGN);
		if (buf != NULL) {
			kmem_block_allocated(buf, size, false);
			if (kmem_trace_on)
				kmem_trace_sync();
			if (kmem_trace_recording())
				kmem_trace_alloc(KMEM_TRACE_MALLOC, 0, 0, size,
				    buf);
			return (buf);
		}
	}
	return (malloc_fast(size, false));
}

bool
kmem_malloc_guard(unsigned rate)
{
	if (!kmem_guard_rate_set(rate))
		return (false);
	kmem_thread_cache_t *tc = kmem_self;
	if (tc->slots_size != 0)        /* not a shared stand-in */
		tc->countdown = 0;
	return (true);
}

void *
kmem_malloc(size_t size)
{
	return (malloc_fast(size, true));
}

/* Out of line, so that kmem_malloc_free() stays a leaf with no stack frame. */
static __attribute__((noinline, cold)) void
free_slow(void *ptr)
{
	if (ptr == NULL)
		return;
	const kmem_slab_t *sp = kmem_pagemap_find((uintptr_t)ptr);
	if (sp != NULL) {
		kmem_cache_t *cp = class_of(ptr, sp, "free");
		if (cp != NULL)
			kmem_cache_free_owned(cp, ptr, KMEM_FREE_MALLOC);
		return;
	}
	if (kmem_guard_holds(ptr)) {
		if (kmem_trace_recording() &&
		    ptr != kmem_trace_skip)
			kmem_trace_free(ptr);
		kmem_guard_free(ptr);
		return;
	}
	/* A class buffer's free is recorded by kmem's hook, a large one's
	 * here, before it is freed (malloc_trace.c says why). */
	if (kmem_trace_recording() && ptr != kmem_trace_skip &&
	    kmem_large_size(ptr) != 0)
		kmem_trace_free(ptr);
	if (!kmem_large_free(ptr))
		kmem_debug_report(NULL, ptr, "free(%p): not a pointer malloc "
		    "returned, or one already freed", ptr);
}

void
kmem_malloc_free(void *ptr)
{
	if (ptr != NULL)
		kmem_block_freed(ptr);
	const kmem_slab_t *sp = kmem_pagemap_find((uintptr_t)ptr);
	if (__builtin_expect(sp != NULL, 1)) {
		kmem_cache_t *cp = sp->slab_cache;
		if (__builtin_expect((cp->cache_flags & KMF_CLASS) &&
		    kmem_slab_handed_out(cp, sp, ptr), 1)) {
			kmem_cache_free_owned(cp, ptr, KMEM_FREE_MALLOC);
			return;
		}
	}
	free_slow(ptr);
}

static void *
calloc_plain(size_t nmemb, size_t size)
{
	size_t bytes;
	if (__builtin_mul_overflow(nmemb, size, &bytes)) {
		errno = ENOMEM;
		return (NULL);
	}
	void *buf = kmem_malloc(bytes);
	if (buf != NULL)
		__builtin_memset(buf, 0, bytes);
	return (buf);
}

/* free() of ptr, which the caller records (as a realloc). */
static void
free_unrecorded(void *ptr)
{
	kmem_trace_skip = ptr;
	kmem_malloc_free(ptr);
	kmem_trace_skip = NULL;
}

static __attribute__((noinline, cold)) void *
calloc_traced(size_t nmemb, size_t size)
{
	size_t bytes;
	void *buf = NULL;
	if (__builtin_mul_overflow(nmemb, size, &bytes))
		errno = ENOMEM;
	else if ((buf = malloc_plain(bytes)) != NULL)
		__builtin_memset(buf, 0, bytes);
	if (!kmem_trace_inside)
		kmem_trace_alloc(KMEM_TRACE_CALLOC, 0, nmemb, size, buf);
	return (buf);
}

void *
kmem_calloc(size_t nmemb, size_t size)
{
	if (__builtin_expect(kmem_trace_on, 0))
		return (calloc_traced(nmemb, size));
	return (calloc_plain(nmemb, size));
}

/*
 * realloc(); traced, it records the call once it knows the result, and
 * before the old buffer is freed (a constant at each call: no test when
 * not traced).
 */
static inline __attribute__((always_inline)) void *
realloc_impl(void *ptr, size_t size, bool traced)
{
	if (ptr == NULL) {
		void *buf = traced ? malloc_plain(size) : kmem_malloc(size);
		if (traced)
			kmem_trace_realloc(NULL, size, buf);
		return (buf);
	}
	if (size == 0) {
		if (traced) {
			kmem_trace_realloc(ptr, 0, NULL);
			free_unrecorded(ptr);
		} else {
			kmem_malloc_free(ptr);
		}
		return (NULL);
	}
	size_t old = usable_size(ptr, "realloc");
	if (old == 0) {
		errno = EINVAL;
		return (NULL);
	}
	if (size <= old && size > old / 2) {
		if (traced)
			kmem_trace_realloc(ptr, size, ptr);
		return (ptr);
	}
	void *buf = traced ? malloc_plain(size) : kmem_malloc(size);
	if (traced)
		kmem_trace_realloc(ptr, size, buf);
	if (buf == NULL)
		return (NULL);
	__builtin_memcpy(buf, ptr, size < old ? size : old);
	if (traced)
		free_unrecorded(ptr);
	else
		kmem_malloc_free(ptr);
	return (buf);
}

static __attribute__((noinline, cold)) void *
realloc_traced(void *ptr, size_t size)
{
	return (realloc_impl(ptr, size, !kmem_trace_inside));
}

void *
kmem_realloc(void *ptr, size_t size)
{
	if (__builtin_expect(kmem_trace_on, 0))
		return (realloc_traced(ptr, size));
	return (realloc_impl(ptr, size, false));
}

void *
kmem_reallocarray(void *ptr, size_t nmemb, size_t size)
{
	size_t bytes;
	if (__builtin_mul_overflow(nmemb, size, &bytes)) {
		errno = ENOMEM;
		return (NULL);
	}
	return (kmem_realloc(ptr, bytes));
}

/* An allocation aligned to align, a power of two; traced, by
 * malloc_plain() (not an event of its own). */
static inline __attribute__((always_inline)) void *
aligned_impl(size_t align, size_t size, bool traced)
{
	if (align <= MALLOC_ALIGN)
		return (traced ? malloc_plain(size) : kmem_malloc(size));
	if (size == 0)
		size = 1;
	if (align <= kmem_pagesize() && size <= KMEM_MAXBUF) {
		size_t rounded = p2_roundup(size, align);
		if (rounded <= KMEM_MAXBUF)
			return (traced ? malloc_plain(rounded) :
			    kmem_malloc(rounded));
	}
	return (large_alloc(size, align));
}

/* aligned_impl() recorded as fn's call with size asked. */
static __attribute__((noinline, cold)) void *
aligned_traced(size_t align, size_t size, unsigned fn, size_t asked)
{
	void *buf = aligned_impl(align, size, true);
	if (!kmem_trace_inside)
		kmem_trace_alloc(KMEM_TRACE_MEMALIGN, fn, align, asked, buf);
	return (buf);
}

/* aligned_impl() for the function fn (<kmem/trace.h>) of size asked. */
static inline void *
aligned(size_t align, size_t size, unsigned fn, size_t asked)
{
	if (__builtin_expect(kmem_trace_on, 0))
		return (aligned_traced(align, size, fn, asked));
	return (aligned_impl(align, size, false));
}

void *
kmem_memalign(size_t align, size_t size)
{
	/* glibc rounds an alignment that is not a power of two up to one. */
	if (!is_p2(align)) {
		if (align > SIZE_MAX / 2 + 1) {
			errno = EINVAL;
			return (NULL);
		}
		align = (size_t)1 << highbit(align);
	}
	return (aligned(align, size, KMEM_TRACE_FN_MEMALIGN, size));
}

int
kmem_posix_memalign(void **ptrp, size_t align, size_t size)
{
	if (!is_p2(align) || align < sizeof (void *))
		return (EINVAL);
	/* Failing, it leaves errno ENOMEM too, as glibc's does (programs,
	 * and glibc's tst-malloc-thread-fail, look there). */
	void *buf = aligned(align, size, KMEM_TRACE_FN_POSIX_MEMALIGN, size);
	if (buf == NULL)
		return (ENOMEM);
	*ptrp = buf;
	return (0);
}

void *
kmem_aligned_alloc(size_t align, size_t size)
{
	if (align == 0 || !is_p2(align)) {
		errno = EINVAL;
		return (NULL);
	}
	return (aligned(align, size, KMEM_TRACE_FN_ALIGNED_ALLOC, size));
}

void *
kmem_valloc(size_t size)
{
	return (aligned(kmem_pagesize(), size, KMEM_TRACE_FN_VALLOC, size));
}

void *
kmem_pvalloc(size_t size)
{
	size_t page = kmem_pagesize();
	if (size > SIZE_MAX - page) {
		errno = ENOMEM;
		return (NULL);
	}
	return (aligned(page, size != 0 ? p2_roundup(size, page) : page,
	    KMEM_TRACE_FN_PVALLOC, size));
}

size_t
kmem_malloc_usable_size(void *ptr)
{
	return (ptr != NULL ? usable_size(ptr, "malloc_usable_size") : 0);
}

/*
 * A sized free (C23): the buffer is found as free() finds it, and the
 * caller's size and alignment only checked against it, so a wrong one can
 * refuse the free but never free something else.  Any size up to the
 * buffer's usable size is accepted: realloc() keeps a buffer that still
 * fits, so the size last asked for may be of a smaller class.  where is
 * the call as the reports name it; caller its name alone.
 */
static void
sized_free(void *ptr, size_t size, const char *caller, const char *where)
{
	size_t usable = usable_size(ptr, caller);
	if (usable == 0)
		return;
	if (size > usable) {
		kmem_debug_report(NULL, ptr, "%s: wrong size: the buffer holds "
		    "%zu bytes", where, usable);
		return;
	}
	kmem_malloc_free(ptr);
}

void
kmem_free_sized(void *ptr, size_t size)
{
	char where[64];
	if (ptr == NULL)
		return;
	kmem_snprintf(where, sizeof (where), "free_sized(%p, %zu)", ptr, size);
	sized_free(ptr, size, "free_sized", where);
}

void
kmem_free_aligned_sized(void *ptr, size_t align, size_t size)
{
	char where[96];
	if (ptr == NULL)
		return;
	kmem_snprintf(where, sizeof (where), "free_aligned_sized(%p, %zu, %zu)",
	    ptr, align, size);
	if (align == 0 || !is_p2(align))
		kmem_debug_report(NULL, ptr, "%s: the alignment is not a power "
		    "of two", where);
	else if (((uintptr_t)ptr & (align - 1)) != 0)
		kmem_debug_report(NULL, ptr, "%s: the buffer is not aligned to "
		    "%zu", where, align);
	else
		sized_free(ptr, size, "free_aligned_sized", where);
}
