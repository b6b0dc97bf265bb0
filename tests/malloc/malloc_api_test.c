/*
 * The malloc family (include/kmem/malloc.h) called directly, in-process:
 * glibc's documented behaviour for every function, alignment and usable
 * size for every small size, the large path, and the reports for pointers
 * that are not malloc's.  The same functions under their C library names
 * are tested by malloc_preload_test.
 *
 * What glibc's own portable malloc tests check of glibc's malloc is
 * checked here of ours, in our words (docs/malloc.md has the table): the
 * edges of realloc() and reallocarray(), calloc() of reused memory and of
 * zero and wrapping factors, every alignment function's edges, and a
 * freed buffer going back to the next aligned request that fits it.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>

#include "check.h"
#include "kmem/kmem_fast.h"          /* the class tables and free marks */

#define PAGE    ((size_t)sysconf(_SC_PAGESIZE))

static bool
all_bytes(const void *buf, int byte, size_t n)
{
	const unsigned char *p = buf;
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)byte)
			return (false);
	return (true);
}

/* Every size up to beyond kmem's largest class: aligned, usable, writable. */
static void
test_sizes(void)
{
	for (size_t size = 0; size <= 300 * 1024; size += size < 4096 ? 1 :
	    size < 140 * 1024 ? 997 : 8191) {
		char *p = kmem_malloc(size);
		CHECK(p != NULL);
		CHECK_EQ((uintptr_t)p % 16, 0);
		size_t usable = kmem_malloc_usable_size(p);
		CHECK(usable >= size);
		CHECK(usable >= 16);
		/* a class never gives more than an eighth (or 16 bytes) more */
		CHECK(usable <= size + size / 8 + 16 || usable <= size + PAGE);
		__builtin_memset(p, 0xa5, usable);
		kmem_malloc_free(p);
	}
	CHECK_EQ(kmem_malloc_usable_size(NULL), 0);
	kmem_malloc_free(NULL);
}

/*
 * Distinct live buffers never overlap, and keep what was written, also
 * after a third of them were freed and buffers of other sizes, up to
 * several MiB, took their place among the rest (glibc's mallocbug: a
 * freed block merged with a neighbour still in use).
 */
static void
test_no_overlap(void)
{
	enum { N = 2000 };
	static unsigned char *bufs[N];
	static size_t sizes[N];
	static unsigned char tags[N];
	uint64_t rng = 1;
	for (int i = 0; i < N; i++) {
		sizes[i] = check_random(&rng) % (i % 10 == 0 ? 300000 : 2000);
		bufs[i] = kmem_malloc(sizes[i]);
		CHECK(bufs[i] != NULL);
		tags[i] = (unsigned char)i;
		__builtin_memset(bufs[i], tags[i], sizes[i]);
	}
	for (int i = 0; i < N; i += 3) {
		CHECK(all_bytes(bufs[i], tags[i], sizes[i]));
		kmem_malloc_free(bufs[i]);
	}
	for (int i = 0; i < N; i += 3) {
		sizes[i] = i % 300 == 0 ? 0x3fa000 + (size_t)i :
		    check_random(&rng) % (i % 2 == 0 ? 40000 : 600);
		bufs[i] = kmem_malloc(sizes[i]);
		CHECK(bufs[i] != NULL);
		tags[i] = (unsigned char)(i + 0x80);
		__builtin_memset(bufs[i], tags[i], sizes[i]);
	}
	for (int i = 0; i < N; i++) {
		CHECK(all_bytes(bufs[i], tags[i], sizes[i]));
		kmem_malloc_free(bufs[i]);
	}
}

static void
test_calloc(void)
{
	for (size_t n = 1; n < 70000; n = n * 3 + 1) {
		unsigned char *p = kmem_malloc(n * 4);
		__builtin_memset(p, 0xff, n * 4);
		kmem_malloc_free(p);
		p = kmem_calloc(n, 4);
		CHECK(p != NULL);
		CHECK(all_bytes(p, 0, n * 4));
		kmem_malloc_free(p);
	}
	errno = 0;
	CHECK(kmem_calloc(SIZE_MAX / 2, 3) == NULL);
	CHECK_EQ(errno, ENOMEM);
	void *p = kmem_calloc(0, 10);
	CHECK(p != NULL);
	kmem_malloc_free(p);

	/* No elements, or elements of no size, however large the other
	 * factor: the product is 0, no overflow, and the result is
	 * malloc(0)'s (glibc's tst-calloc asks these). */
	static const size_t other[] = { 0, UINT_MAX, SIZE_MAX };
	for (size_t i = 0; i < sizeof (other) / sizeof (other[0]); i++) {
		p = kmem_calloc(0, other[i]);
		CHECK(p != NULL);
		kmem_malloc_free(p);
		p = kmem_calloc(other[i], 0);
		CHECK(p != NULL);
		kmem_malloc_free(p);
	}

	/* A product that wraps around to a small size fails: SIZE_MAX is a
	 * multiple of 65537, so this one is SIZE_MAX + 65537, which wraps
	 * to 65536 (glibc's tst-reallocarray asks reallocarray() the
	 * same); the second wraps to 0. */
	errno = 0;
	CHECK(kmem_calloc(65537, SIZE_MAX / 65537 + 1) == NULL);
	CHECK_EQ(errno, ENOMEM);
	errno = 0;
	CHECK(kmem_calloc(SIZE_MAX / 65537 + 1, 65537) == NULL);
	CHECK_EQ(errno, ENOMEM);
	errno = 0;
	CHECK(kmem_calloc(2, SIZE_MAX / 2 + 1) == NULL);
	CHECK_EQ(errno, ENOMEM);
}

/*
 * calloc() zeroes what it hands out, whatever the buffer held before:
 * many buffers at once, past the magazines into the depot and the slabs,
 * each filled with ones and freed before the next round asks for them
 * again (glibc's tst-calloc: small fixed sizes, and random products of up
 * to 10 elements of up to 100 bytes).
 */
static void
test_calloc_reused(void)
{
	enum { MANY = 20000 };
	static unsigned char *bufs[MANY];
	static const size_t fixed[] = { 15, 5, 17, 6, 31, 96 };
	uint64_t rng = 3;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < MANY; i++) {
			size_t n = 1, elem = fixed[(size_t)(i + round) % 6];
			if (i % 2 == 1) {
				n = 1 + check_random(&rng) % 10;
				elem = 1 + check_random(&rng) % 100;
			}
			bufs[i] = kmem_calloc(n, elem);
			CHECK(bufs[i] != NULL);
			CHECK(all_bytes(bufs[i], 0, n * elem));
			__builtin_memset(bufs[i], 0xff,
			    kmem_malloc_usable_size(bufs[i]));
		}
		for (int i = MANY; i-- > 0; )
			kmem_malloc_free(bufs[i]);
	}
}

static void
test_realloc(void)
{
	/* NULL is malloc; 0 frees and returns NULL */
	char *p = kmem_realloc(NULL, 10);
	CHECK(p != NULL);
	CHECK(kmem_realloc(p, 0) == NULL);

	/* growth keeps the contents, through small and large sizes */
	p = NULL;
	size_t len = 0;
	for (size_t size = 1; size < 2 * 1024 * 1024; size += size / 3 + 1) {
		p = kmem_realloc(p, size);
		CHECK(p != NULL);
		for (size_t i = 0; i < len; i++)
			CHECK_EQ((unsigned char)p[i], (unsigned char)(i * 7));
		for (size_t i = len; i < size; i++)
			p[i] = (char)(i * 7);
		len = size;
	}
	/* shrinking a little stays in place; a lot moves, contents kept */
	size_t usable = kmem_malloc_usable_size(p);
	CHECK(kmem_realloc(p, usable - 1) == p);
	char *q = kmem_realloc(p, 100);
	CHECK(q != NULL);
	for (size_t i = 0; i < 100; i++)
		CHECK_EQ((unsigned char)q[i], (unsigned char)(i * 7));
	CHECK(kmem_malloc_usable_size(q) < 200);

	/* failure leaves the old buffer alone */
	errno = 0;
	CHECK(kmem_realloc(q, SIZE_MAX - 10) == NULL);
	CHECK_EQ(errno, ENOMEM);
	CHECK_EQ((unsigned char)q[99], (unsigned char)(99 * 7));

	errno = 0;
	CHECK(kmem_reallocarray(q, SIZE_MAX / 4, 8) == NULL);
	CHECK_EQ(errno, ENOMEM);
	q = kmem_reallocarray(q, 50, 4);
	CHECK(q != NULL);
	CHECK_EQ((unsigned char)q[99], (unsigned char)(99 * 7));
	kmem_malloc_free(q);
}

/*
 * realloc()'s edges, as glibc's tst-realloc, tst-malloc and
 * tst-reallocarray check them of glibc's: realloc(NULL, n) is malloc(n),
 * for 0 and for a size that fails; realloc(p, 0) frees p -- freeing it
 * again is then a double free -- whichever function made p; growing to the
 * usable size keeps the buffer where it is; reallocarray(NULL, n, m) is
 * an array malloc(), and grows and shrinks as realloc() does.
 */
static void
test_realloc_edges(void)
{
	check_catch_reports();
	void *p = kmem_realloc(NULL, 0);
	CHECK(p != NULL);
	kmem_malloc_free(p);
	errno = 0;
	CHECK(kmem_realloc(NULL, SIZE_MAX) == NULL);
	CHECK_EQ(errno, ENOMEM);

	p = kmem_malloc(0);
	CHECK(kmem_realloc(p, 0) == NULL);
	CHECK_REPORT(kmem_malloc_free(p), "double free");
	p = kmem_aligned_alloc(4096, 100);
	CHECK(kmem_realloc(p, 0) == NULL);
	CHECK_REPORT(kmem_malloc_free(p), "double free");
	p = kmem_memalign(4 * PAGE, 100);       /* a large buffer, from xalloc */
	CHECK(kmem_realloc(p, 0) == NULL);
	CHECK_REPORT(kmem_malloc_free(p), "already freed");
	p = kmem_malloc(1024 * 1024);
	CHECK(kmem_realloc(p, 0) == NULL);
	CHECK_REPORT(kmem_malloc_free(p), "already freed");

	static const size_t sizes[] = { 1, 3, 100, 1000, 2051, 40000, 130000,
	    200000, 1000000 };
	for (size_t i = 0; i < sizeof (sizes) / sizeof (sizes[0]); i++) {
		p = kmem_realloc(NULL, sizes[i]);
		CHECK(p != NULL);
		size_t usable = kmem_malloc_usable_size(p);
		CHECK(kmem_realloc(p, usable) == p);
		kmem_malloc_free(p);
	}

	unsigned char *a = kmem_reallocarray(NULL, 10, 2);
	CHECK(a != NULL);
	CHECK(kmem_malloc_usable_size(a) >= 20);
	__builtin_memset(a, 0xaf, 20);
	a = kmem_reallocarray(a, 20, 2);
	CHECK(a != NULL);
	CHECK(kmem_malloc_usable_size(a) >= 40);
	CHECK(all_bytes(a, 0xaf, 20));
	a = kmem_reallocarray(a, 5, 3);
	CHECK(a != NULL);
	CHECK(kmem_malloc_usable_size(a) >= 15);
	CHECK(all_bytes(a, 0xaf, 15));
	kmem_malloc_free(a);

	/* Overflow with no buffer: the last two wrap around to 65536. */
	const size_t wraps = SIZE_MAX / 65537 + 1;
	errno = 0;
	CHECK(kmem_reallocarray(NULL, SIZE_MAX, 2) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(kmem_reallocarray(NULL, 2, SIZE_MAX) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(kmem_reallocarray(NULL, 65537, wraps) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(kmem_reallocarray(NULL, wraps, 65537) == NULL && errno == ENOMEM);
	kmem_report_handler_set(NULL, NULL, NULL);
}

static void
test_aligned(void)
{
	for (size_t align = 1; align <= 4 * 1024 * 1024; align *= 2) {
		for (size_t size = 0; size < 200000; size = size * 2 + 1) {
			void *p = kmem_memalign(align, size);
			CHECK(p != NULL);
			CHECK_EQ((uintptr_t)p % align, 0);
			CHECK_EQ((uintptr_t)p % 16, 0);
			CHECK(kmem_malloc_usable_size(p) >= size);
			__builtin_memset(p, 1, size);
			kmem_malloc_free(p);

			void *q = NULL;
			if (align >= sizeof (void *)) {
				CHECK_EQ(kmem_posix_memalign(&q, align, size), 0);
				CHECK(q != NULL);
				CHECK_EQ((uintptr_t)q % align, 0);
				kmem_malloc_free(q);
			}
			q = kmem_aligned_alloc(align, size);
			CHECK(q != NULL);
			CHECK_EQ((uintptr_t)q % align, 0);
			kmem_malloc_free(q);
		}
	}
	/* memalign rounds a non-power-of-two alignment up, as glibc does */
	void *p = kmem_memalign(48, 10);
	CHECK(p != NULL);
	CHECK_EQ((uintptr_t)p % 64, 0);
	kmem_malloc_free(p);

	void *q = (void *)1;
	CHECK_EQ(kmem_posix_memalign(&q, 24, 10), EINVAL);
	CHECK_EQ(kmem_posix_memalign(&q, 4, 10), EINVAL);
	CHECK_EQ(kmem_posix_memalign(&q, 0, 10), EINVAL);
	CHECK_EQ(kmem_posix_memalign(&q, SIZE_MAX, PAGE), EINVAL);
	CHECK(q == (void *)1);
	errno = 0;
	CHECK_EQ(kmem_posix_memalign(&q, 64, SIZE_MAX - 100), ENOMEM);
	CHECK(q == (void *)1);
	CHECK_EQ(errno, ENOMEM);        /* as glibc's: programs look there */
	/* An alignment malloc's own already meets: a size that fails
	 * fails the same (glibc's tests ask for sizeof (void *)). */
	CHECK_EQ(kmem_posix_memalign(&q, sizeof (void *), SIZE_MAX), ENOMEM);
	CHECK(q == (void *)1);
	for (size_t align = 1; align <= 16; align *= 2) {
		errno = 0;
		CHECK(kmem_memalign(align, SIZE_MAX) == NULL);
		CHECK_EQ(errno, ENOMEM);
	}
	errno = 0;
	CHECK(kmem_aligned_alloc(48, 10) == NULL);
	CHECK_EQ(errno, EINVAL);
	/* 0 is no alignment (C17 7.22.3.1; glibc's tst-aligned-alloc). */
	errno = 0;
	CHECK(kmem_aligned_alloc(0, 64) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(kmem_aligned_alloc(SIZE_MAX / 2 + 1, 64) == NULL);
	CHECK_EQ(errno, ENOMEM);
	p = kmem_aligned_alloc(1, 64);
	CHECK(p != NULL);
	kmem_malloc_free(p);
	errno = 0;
	CHECK(kmem_memalign(SIZE_MAX, 10) == NULL);
	CHECK_EQ(errno, EINVAL);

	p = kmem_valloc(100);
	CHECK_EQ((uintptr_t)p % PAGE, 0);
	kmem_malloc_free(p);
	p = kmem_valloc(0);
	CHECK(p != NULL);
	CHECK_EQ((uintptr_t)p % PAGE, 0);
	kmem_malloc_free(p);
	p = kmem_pvalloc(0);
	CHECK_EQ((uintptr_t)p % PAGE, 0);
	CHECK(kmem_malloc_usable_size(p) >= PAGE);
	kmem_malloc_free(p);
	/* pvalloc() of a few bytes is a whole page, which may be written. */
	p = kmem_pvalloc(5);
	CHECK(p != NULL);
	CHECK_EQ((uintptr_t)p % PAGE, 0);
	CHECK(kmem_malloc_usable_size(p) >= PAGE);
	__builtin_memset(p, 7, PAGE);
	kmem_malloc_free(p);
	p = kmem_pvalloc(PAGE + 1);
	CHECK_EQ((uintptr_t)p % PAGE, 0);
	CHECK(kmem_malloc_usable_size(p) >= 2 * PAGE);
	kmem_malloc_free(p);
}

/*
 * A freed buffer goes back to the next aligned request it fits, as glibc's
 * tst-memalign-2 checks of its caches: the buffer memalign() just freed,
 * asked again for its usable size; one of a batch of malloc() buffers of
 * the same size, all freed; and most of a batch of larger aligned buffers,
 * freed between buffers that stay.  Run on a thread whose first
 * allocations these are (tst-memalign-3), then on the main thread.
 */
static void *
aligned_reuse(void *arg)
{
	(void) arg;
	static const struct { size_t size, align; } small[] = {
		{ 24, 32 }, { 24, 64 }, { 128, 128 }, { 500, 128 },
		{ 3000, 1024 }, { 100, 4096 },
	};
	for (size_t i = 0; i < sizeof (small) / sizeof (small[0]); i++) {
		void *p = kmem_memalign(small[i].align, small[i].size);
		CHECK(p != NULL);
		CHECK_EQ((uintptr_t)p % small[i].align, 0);
		size_t usable = kmem_malloc_usable_size(p);
		kmem_malloc_free(p);
		void *again = kmem_memalign(small[i].align, usable);
		CHECK(again == p);
		kmem_malloc_free(again);
	}

	void *bufs[10];
	for (int i = 0; i < 10; i++) {
		bufs[i] = i == 4 ? kmem_memalign(64, 256) : kmem_malloc(256);
		CHECK(bufs[i] != NULL);
	}
	for (int i = 0; i < 10; i++)
		kmem_malloc_free(bufs[i]);
	void *p = kmem_memalign(64, 256);
	CHECK_EQ((uintptr_t)p % 64, 0);
	bool reused = false;
	for (int i = 0; i < 10; i++)
		reused = reused || bufs[i] == p;
	CHECK(reused);
	kmem_malloc_free(p);

	enum { LARGER = 8 };
	static const size_t larger[LARGER] = { 23450, 23450, 23550, 23550,
	    23650, 23650, 33650, 33650 };
	void *first[LARGER], *second[LARGER], *between[LARGER];
	for (int i = 0; i < LARGER; i++) {
		first[i] = kmem_memalign(64, larger[i]);
		CHECK(first[i] != NULL);
		between[i] = kmem_malloc(512);
	}
	for (int i = 0; i < LARGER; i++)
		kmem_malloc_free(first[i]);
	int back = 0;
	for (int i = 0; i < LARGER; i++) {
		second[i] = kmem_memalign(64, larger[i]);
		CHECK(second[i] != NULL);
		CHECK_EQ((uintptr_t)second[i] % 64, 0);
		for (int j = 0; j < LARGER; j++)
			back += second[i] == first[j];
	}
	CHECK(back > LARGER / 2);
	for (int i = 0; i < LARGER; i++) {
		kmem_malloc_free(second[i]);
		kmem_malloc_free(between[i]);
	}
	return (NULL);
}

static void
test_aligned_reuse(void)
{
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, aligned_reuse, NULL), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	aligned_reuse(NULL);
}

/*
 * Large sizes are rounded up to eighths of their power of two, and a freed
 * large buffer is kept mapped and given to the next request of its class.
 */
static void
test_large_classes(void)
{
	void *p = kmem_malloc(1000000);         /* (2^19, 2^20]: steps of 2^16 */
	CHECK(p != NULL);
	CHECK_EQ(kmem_malloc_usable_size(p), 16 * 65536);
	kmem_malloc_free(p);
	void *q = kmem_malloc(990000);          /* the same class */
	CHECK(q == p);
	kmem_malloc_free(q);

	p = kmem_malloc(600000);
	CHECK_EQ(kmem_malloc_usable_size(p), 10 * 65536);
	kmem_malloc_free(p);
	p = kmem_malloc(131073);               /* 2^17 + 1: steps of 2^14 */
	CHECK_EQ(kmem_malloc_usable_size(p), 131072 + 16384);
	kmem_malloc_free(p);
}

/*
 * A size no object can have fails in every function with ENOMEM (EINVAL
 * never: the arguments are valid), and realloc() keeps the old buffer, as
 * glibc's tst-malloc-too-large checks of glibc's: sizes above PTRDIFF_MAX,
 * up to SIZE_MAX and near it, where adding a header, a page or an
 * alignment would wrap around.
 */
static void
check_too_large(size_t n, char *live)
{
	void *q = live;
	errno = 0;
	CHECK(kmem_malloc(n) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(kmem_calloc(n, 1) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(kmem_calloc(1, n) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(kmem_realloc(live, n) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(kmem_reallocarray(live, n, 1) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(kmem_reallocarray(live, 1, n) == NULL && errno == ENOMEM);
	CHECK(all_bytes(live, 0x5a, 64));
	for (size_t align = 64; align <= 4 * PAGE; align *= 2) {
		errno = 0;
		CHECK(kmem_memalign(align, n) == NULL && errno == ENOMEM);
		errno = 0;
		CHECK(kmem_aligned_alloc(align, n) == NULL && errno == ENOMEM);
		errno = 0;
		CHECK_EQ(kmem_posix_memalign(&q, align, n), ENOMEM);
		CHECK(q == live);
	}
	errno = 0;
	CHECK(kmem_valloc(n) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(kmem_pvalloc(n) == NULL && errno == ENOMEM);
}

static void
test_enomem(void)
{
	char *live = kmem_malloc(64);
	__builtin_memset(live, 0x5a, 64);
	const size_t above = (size_t)PTRDIFF_MAX + 1;
	const size_t sizes[] = { above, above + 1, above + PAGE,
		above + above / 2, SIZE_MAX / 4 * 3 + 7 };
	for (size_t i = 0; i < sizeof (sizes) / sizeof (sizes[0]); i++)
		check_too_large(sizes[i], live);
	for (size_t below = 0; below <= 4 * PAGE; below += 16 + below / 3)
		check_too_large(SIZE_MAX - below, live);
	/* Two factors whose product is above PTRDIFF_MAX, and wraps. */
	errno = 0;
	CHECK(kmem_calloc((size_t)1 << 32, (size_t)1 << 31) == NULL);
	CHECK_EQ(errno, ENOMEM);
	errno = 0;
	CHECK(kmem_reallocarray(live, (size_t)1 << 32, (size_t)1 << 32) ==
	    NULL && errno == ENOMEM);
	CHECK(all_bytes(live, 0x5a, 64));
	kmem_malloc_free(live);
}

/*
 * A pointer into a slab of a class cache, past its last buffer (the
 * slab's tail or header): in a slab, and no buffer.
 */
static void
bad_pointer_outside_buffers(void)
{
	char *p = kmem_malloc(64);
	const kmem_slab_t *sp = kmem_pagemap_find((uintptr_t)p);
	CHECK(sp != NULL);
	char *tail =
	    (char *)(sp->slab_first + sp->slab_cache->cache_chunks *
	    sp->slab_cache->cache_chunksize);
	CHECK(kmem_pagemap_find((uintptr_t)tail) == sp);
	const char *what = "not a buffer: the address is in a slab of cache "
	    "\"kmem_alloc_64\" but outside its buffers (colour slack, slab "
	    "header or tail)";
	CHECK_REPORT_IS(kmem_malloc_free(tail), check_fmt("free(%p): %s",
	    (void *)tail, what));
	CHECK_REPORT_IS((void)kmem_realloc(tail, 10), check_fmt("realloc(%p): "
	    "%s", (void *)tail, what));
	CHECK_REPORT_IS((void)kmem_malloc_usable_size(tail), check_fmt(
	    "malloc_usable_size(%p): %s", (void *)tail, what));
	CHECK_NO_REPORT(kmem_malloc_free(p));
}

/* A small buffer freed, then freed again after another free, realloc()ed
 * and asked its size. */
static void
bad_pointer_freed_apart(void)
{
	char *a = kmem_malloc(32), *b = kmem_malloc(32);
	const char *where = "in this thread's magazines; cache "
	    "\"kmem_alloc_32\"";
	CHECK_NO_REPORT(kmem_malloc_free(a));
	CHECK_NO_REPORT(kmem_malloc_free(b));
	CHECK_REPORT_IS(kmem_malloc_free(a), check_fmt("free(): double free of "
	    "%p: it is free already (%s)", (void *)a, where));
	CHECK_REPORT_IS((void)kmem_realloc(a, 100), check_fmt("realloc(%p): "
	    "the buffer was freed already (%s)", (void *)a, where));
	CHECK_REPORT_IS((void)kmem_malloc_usable_size(a), check_fmt(
	    "malloc_usable_size(%p): the buffer was freed already (%s)",
	    (void *)a, where));
}

/*
 * C23's sized frees: the right size frees, whatever size realloc() last
 * gave (a kept buffer's class may be larger); a size beyond the buffer, a
 * bad or unmet alignment and a pointer freed already are reported and free
 * nothing, so the buffer is neither lost nor handed out twice.
 */
static void
test_sized_free(void)
{
	check_catch_reports();
	char *p = kmem_malloc(100);
	size_t usable = kmem_malloc_usable_size(p);
	CHECK_NO_REPORT(kmem_free_sized(p, 100));
	char *q = kmem_malloc(100);
	CHECK(q == p);          /* freed: the magazine's top round again */
	q = kmem_realloc(q, 60);        /* kept: 60 still uses half of it */
	CHECK(q == p);
	CHECK_NO_REPORT(kmem_free_sized(q, 60));
	CHECK_NO_REPORT(kmem_free_sized(NULL, 5));

	p = kmem_malloc(100);
	CHECK_REPORT_IS(kmem_free_sized(p, usable + 1), check_fmt(
	    "free_sized(%p, %zu): wrong size: the buffer holds %zu bytes",
	    (void *)p, usable + 1, usable));
	memset(p, 7, usable);   /* still the program's */
	char *other = kmem_malloc(100);
	CHECK(other != p);
	kmem_malloc_free(other);
	CHECK_REPORT_IS(kmem_free_sized(p + 16, 10), check_fmt(
	    "free_sized(%p): not the start of a buffer: 16 bytes into the "
	    "buffer at %p of cache \"kmem_alloc_112\"", (void *)(p + 16),
	    (void *)p));
	CHECK_NO_REPORT(kmem_free_sized(p, usable));
	CHECK_REPORT_IS(kmem_free_sized(p, 100), check_fmt("free_sized(%p): "
	    "the buffer was freed already (in this thread's magazines; cache "
	    "\"kmem_alloc_112\")", (void *)p));

	size_t big = 3 << 20;
	char *l = kmem_malloc(big);
	CHECK_REPORT_IS(kmem_free_sized(l, 4 << 20), check_fmt(
	    "free_sized(%p, %zu): wrong size: the buffer holds %zu bytes",
	    (void *)l, (size_t)4 << 20, kmem_malloc_usable_size(l)));
	CHECK_NO_REPORT(kmem_free_sized(l, big));
	CHECK_REPORT_IS(kmem_free_sized(l, big), check_fmt("free_sized(%p): "
	    "not a pointer malloc returned, or one already freed", (void *)l));

	char *a = kmem_aligned_alloc(256, 300);
	CHECK_REPORT_IS(kmem_free_aligned_sized(a, 0, 300), check_fmt(
	    "free_aligned_sized(%p, 0, 300): the alignment is not a power of "
	    "two", (void *)a));
	CHECK_REPORT_IS(kmem_free_aligned_sized(a, 48, 300), check_fmt(
	    "free_aligned_sized(%p, 48, 300): the alignment is not a power of "
	    "two", (void *)a));
	CHECK_REPORT_IS(kmem_free_aligned_sized(a + 16, 32, 16), check_fmt(
	    "free_aligned_sized(%p, 32, 16): the buffer is not aligned to 32",
	    (void *)(a + 16)));
	CHECK_NO_REPORT(kmem_free_aligned_sized(a, 256, 300));
	CHECK_NO_REPORT(kmem_free_aligned_sized(NULL, 0, 0));
}

/*
 * The figures glibc's inspection calls give (malloc_inspect_test checks
 * them preloaded; here they run under the sanitizers too): what is
 * allocated is counted, a trim gives back the freed slabs and kept large
 * memory, and malloc_info() writes its document.
 */
static void
test_totals_and_trim(void)
{
	enum { N = 1000 };
	static void *bufs[N];
	kmem_malloc_totals_t start, full, freed, trimmed;
	kmem_malloc_totals(&start);
	for (int i = 0; i < N; i++)
		CHECK((bufs[i] = kmem_malloc(500)) != NULL);
	void *big = kmem_malloc(1 << 20);
	kmem_malloc_totals(&full);
	CHECK(full.class_inuse >= start.class_inuse + N * 500);
	CHECK(full.class_held >= full.class_inuse);
	CHECK(full.large_count == start.large_count + 1);
	CHECK(full.large_inuse >= start.large_inuse + (1 << 20));
	for (int i = 0; i < N; i++)
		kmem_malloc_free(bufs[i]);
	kmem_malloc_free(big);
	kmem_malloc_totals(&freed);
	CHECK(freed.large_count == start.large_count);
	CHECK(freed.class_cached + freed.class_free >= N * 500);
	CHECK(kmem_malloc_trim(0) == 1);
	kmem_malloc_totals(&trimmed);
	CHECK(trimmed.class_held < freed.class_held);
	CHECK(trimmed.large_kept == 0);
	CHECK(kmem_malloc_trim(SIZE_MAX) == 0);

	FILE *fp = tmpfile();
	CHECK(fp != NULL);
	CHECK(kmem_malloc_info(0, fp) == 0);
	CHECK(ftell(fp) > 0);
	errno = 0;
	CHECK(kmem_malloc_info(2, fp) == -1 && errno == EINVAL);
	fclose(fp);
}

/*
 * Pointers that are not malloc's are reported, and nothing changes: each
 * row of docs/malloc.md's table of reports for bad pointers ("How free
 * finds the owner"), committed, its report checked whole; realloc() and
 * malloc_usable_size() check their pointer the same way.
 */
static void
test_bad_pointers(void)
{
	check_catch_reports();
	int on_stack;
	CHECK_REPORT_IS(kmem_malloc_free(&on_stack), check_fmt("free(%p): not "
	    "a pointer malloc returned, or one already freed",
	    (void *)&on_stack));

	char *small = kmem_malloc(64);
	CHECK_REPORT_IS(kmem_malloc_free(small + 8), check_fmt("free(%p): not "
	    "the start of a buffer: 8 bytes into the buffer at %p of cache "
	    "\"kmem_alloc_64\"", (void *)(small + 8), (void *)small));
	CHECK_REPORT_IS(kmem_malloc_free(small + 1), check_fmt("free(%p): not "
	    "the start of a buffer: 1 bytes into the buffer at %p of cache "
	    "\"kmem_alloc_64\"", (void *)(small + 1), (void *)small));
	CHECK_REPORT_IS((void)kmem_realloc(small + 16, 200), check_fmt(
	    "realloc(%p): not the start of a buffer: 16 bytes into the buffer "
	    "at %p of cache \"kmem_alloc_64\"", (void *)(small + 16),
	    (void *)small));
	CHECK_REPORT_IS((void)kmem_malloc_usable_size(small + 16), check_fmt(
	    "malloc_usable_size(%p): not the start of a buffer: 16 bytes into "
	    "the buffer at %p of cache \"kmem_alloc_64\"", (void *)(small + 16),
	    (void *)small));

	/* freed twice in a row: the free mark sees it */
	CHECK_NO_REPORT(kmem_malloc_free(small));
	CHECK_REPORT_IS(kmem_malloc_free(small), check_fmt("free(): double "
	    "free of %p: it is free already (in this thread's magazines; cache "
	    "\"kmem_alloc_64\")", (void *)small));
	bad_pointer_freed_apart();

	char *large = kmem_malloc(1024 * 1024);
	const char *never = "not a pointer malloc returned, or one already "
	    "freed";
	CHECK_REPORT_IS(kmem_malloc_free(large + PAGE), check_fmt("free(%p): "
	    "%s", (void *)(large + PAGE), never));
	CHECK_REPORT_IS(kmem_malloc_free(large + 16), check_fmt("free(%p): %s",
	    (void *)(large + 16), never));
	CHECK_NO_REPORT(kmem_malloc_free(large));
	CHECK_REPORT_IS(kmem_malloc_free(large), check_fmt("free(%p): %s",
	    (void *)large, never));
	CHECK_REPORT_IS((void)kmem_realloc(large, 16), check_fmt("realloc(%p): "
	    "%s", (void *)large, never));
	CHECK_REPORT_IS((void)kmem_malloc_usable_size(large), check_fmt(
	    "malloc_usable_size(%p): %s", (void *)large, never));

	/* a buffer of another cache is not malloc's */
	kmem_cache_t *cp = kmem_cache_create("conn", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	void *obj = kmem_cache_alloc(cp, KM_SLEEP);
	const char *other = "wrong cache: the buffer belongs to cache "
	    "\"conn\", not to malloc";
	CHECK_REPORT_IS(kmem_malloc_free(obj), check_fmt("free(%p): %s", obj,
	    other));
	CHECK_REPORT_IS((void)kmem_realloc(obj, 100), check_fmt("realloc(%p): "
	    "%s", obj, other));
	CHECK_REPORT_IS((void)kmem_malloc_usable_size(obj), check_fmt(
	    "malloc_usable_size(%p): %s", obj, other));
	kmem_cache_free(cp, obj);
	kmem_cache_destroy(cp);

	bad_pointer_outside_buffers();
	kmem_report_handler_set(NULL, NULL, NULL);
}

/*
 * A buffer freed twice with frees between, with debugging off: the free
 * marks (kmem_cache.c) catch it, and realloc() and malloc_usable_size()
 * of it too; a buffer whose first word the program set frees fine.
 */
static void
test_freed_twice_apart(void)
{
	char msg[256];
	check_catch_reports();
	char *a = kmem_malloc(40), *b = kmem_malloc(40), *c = kmem_malloc(40);
	memset(c, 0xa5, 40);
	CHECK_NO_REPORT(kmem_malloc_free(a));
	CHECK_NO_REPORT(kmem_malloc_free(b));
	snprintf(msg, sizeof (msg), "free(): double free of %p: it is free "
	    "already (in this thread's magazines; cache \"kmem_alloc_48\")",
	    (void *)a);
	CHECK_REPORT(kmem_malloc_free(a), msg);
	snprintf(msg, sizeof (msg), "realloc(%p): the buffer was freed "
	    "already", (void *)a);
	void *moved;
	size_t usable;
	errno = 0;
	CHECK_REPORT(moved = kmem_realloc(a, 1000), msg);
	CHECK(moved == NULL && errno == EINVAL);
	CHECK_REPORT(usable = kmem_malloc_usable_size(b), "malloc_usable_size");
	CHECK(usable == 0);
	CHECK_NO_REPORT(kmem_malloc_free(c));

	/* Handed out once each, first word cleared. */
	uintptr_t *again[3];
	for (int i = 0; i < 3; i++) {
		again[i] = kmem_malloc(40);
		CHECK(again[i][0] == 0);
	}
	CHECK(again[0] != again[1] && again[1] != again[2] &&
	    again[0] != again[2]);
	/* The program's own data, even the mark, is no free buffer. */
	again[1][0] = kmem_free_mark(kmem_alloc_cache(48), again[1]);
	CHECK_EQ(kmem_malloc_usable_size(again[1]), 48);
	moved = kmem_realloc(again[1], 4000);
	CHECK(moved != NULL);
	CHECK_NO_REPORT(kmem_malloc_free(moved));
	CHECK_NO_REPORT(kmem_malloc_free(again[0]));
	CHECK_NO_REPORT(kmem_malloc_free(again[2]));

	/* A large buffer freed: vmem's hash knows it is no buffer now. */
	void *large = kmem_malloc(1024 * 1024);
	CHECK_NO_REPORT(kmem_malloc_free(large));
	CHECK_REPORT(moved = kmem_realloc(large, 16), "already freed");
	CHECK(moved == NULL);
	kmem_report_handler_set(NULL, NULL, NULL);
}

static void
abort_on_double_free_apart(void)
{
	void *a = kmem_malloc(40), *b = kmem_malloc(40);
	kmem_malloc_free(a);
	kmem_malloc_free(b);
	kmem_malloc_free(a);
}

static void
abort_on_double_free(void)
{
	void *p = kmem_malloc(40);
	kmem_malloc_free(p);
	kmem_malloc_free(p);
}

static void
abort_on_stranger(void)
{
	static char not_heap[64];
	kmem_malloc_free(not_heap + 16);
}

int
main(void)
{
	test_sizes();
	test_no_overlap();
	test_calloc();
	test_calloc_reused();
	test_realloc();
	test_realloc_edges();
	test_aligned();
	test_aligned_reuse();
	test_large_classes();
	test_enomem();
	test_bad_pointers();
	test_sized_free();
	test_totals_and_trim();
	test_freed_twice_apart();
	check_child_aborts(abort_on_double_free, "free(): double free");
	check_child_aborts(abort_on_double_free_apart, "free(): double free");
	check_child_aborts(abort_on_stranger, "not a pointer malloc returned");
	printf("malloc_api_test: ok\n");
	return (0);
}
