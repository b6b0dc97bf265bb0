/*
 * Double frees caught with debugging off: the free marks of kmem_cache.c.
 * A buffer freed a second time with other frees between -- in the same
 * magazine, after its magazine went to the depot, on its slab's free list,
 * in another thread's magazine -- is reported once, naming the call and
 * the buffer, and refused: it is not handed out twice afterwards.  A buffer
 * whose first word the program set, even to the very mark, frees without a
 * report.  Caches of constructed objects (a constructor or destructor)
 * carry the mark in a word after each buffer, so their double frees are
 * caught the same way -- in a magazine, in the depot, on the slab -- and
 * their objects' contents are untouched by free and allocation.
 *
 * The test runs with KMEM_DEBUG unset (kmem_debug_configure() with no
 * flags), so that every cache is a plain one.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <kmem/debug.h>
#include <kmem/kmem.h>

#include "check.h"
#include "kmem/kmem_fast.h"          /* the class tables and free marks */

enum { SIZE = 64, MANY = 1000 };

/* n buffers from cp, all different. */
static void
alloc_n(kmem_cache_t *cp, void **bufs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
		CHECK(bufs[i] != NULL);
		for (unsigned j = 0; j < i; j++)
			CHECK(bufs[j] != bufs[i]);
	}
}

/* After a refused double free, the cache hands no buffer out twice. */
static void
check_handed_out_once(kmem_cache_t *cp)
{
	static void *bufs[2 * MANY];
	alloc_n(cp, bufs, 2 * MANY);    /* fails if a comes back twice */
	for (unsigned i = 0; i < 2 * MANY; i++)
		kmem_cache_free(cp, bufs[i]);
}

/* free a, free b, free a: a is in this thread's magazine. */
static void
test_apart_in_magazine(void)
{
	kmem_cache_t *cp = kmem_cache_create("apart", SIZE, 0, NULL, NULL, NULL,
	    NULL, NULL, 0);
	void *a = kmem_cache_alloc(cp, KM_SLEEP);
	void *b = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, a);
	kmem_cache_free(cp, b);
	CHECK_REPORT(kmem_cache_free(cp, a), check_fmt("kmem_cache_free(\"apart\", "
	    "%p): double free: the buffer is free already (in this thread's "
	    "magazines; cache \"apart\")", a));
	check_handed_out_once(cp);
	kmem_cache_destroy(cp);
}

/* free a, then enough frees that a's magazine goes to the depot. */
static void
test_apart_in_depot(void)
{
	static void *bufs[MANY];
	kmem_cache_t *cp = kmem_cache_create("depot", SIZE, 0, NULL, NULL, NULL,
	    NULL, NULL, 0);
	void *a = kmem_cache_alloc(cp, KM_SLEEP);
	alloc_n(cp, bufs, MANY);
	kmem_cache_free(cp, a);
	for (unsigned i = 0; i < MANY; i++)
		kmem_cache_free(cp, bufs[i]);
	CHECK_REPORT(kmem_cache_free(cp, a), check_fmt("%p): double free: the buffer "
	    "is free already (in the depot's magazines", a));
	check_handed_out_once(cp);
	kmem_cache_destroy(cp);
}

/* Without magazines a freed buffer is on its slab's free list at once. */
static void
test_apart_in_slab(void)
{
	kmem_cache_t *cp = kmem_cache_create("slab", SIZE, 0, NULL, NULL, NULL,
	    NULL, NULL, KMC_NOMAGAZINE);
	void *a = kmem_cache_alloc(cp, KM_SLEEP);
	void *b = kmem_cache_alloc(cp, KM_SLEEP);
	void *c = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, a);
	kmem_cache_free(cp, b);
	CHECK_REPORT(kmem_cache_free(cp, a), check_fmt("%p): double free: the buffer "
	    "is free already (on its slab's free list", a));
	/* The back-to-back double free, which no magazine sees here. */
	CHECK_REPORT(kmem_cache_free(cp, b), "on its slab's free list");
	kmem_cache_free(cp, c);
	check_handed_out_once(cp);
	kmem_cache_destroy(cp);
}

static int construct(void *buf, void *private, int kmflag);

/* A buffer never handed out, freed: its slab knows it never left. */
static void
test_never_allocated(void)
{
	kmem_cache_t *cp = kmem_cache_create("fresh", SIZE, 0, NULL, NULL,
	    NULL, NULL, NULL, KMC_NOMAGAZINE);
	char *a = kmem_cache_alloc(cp, KM_SLEEP);
	char *next = a + cp->cache_chunksize;   /* still on the slab */
	CHECK_REPORT(kmem_cache_free(cp, next), check_fmt("%p): never "
	    "allocated: the buffer is one of cache \"fresh\" that its slab "
	    "never handed out", next));
	kmem_cache_free(cp, a);
	check_handed_out_once(cp);
	kmem_cache_destroy(cp);

	cp = kmem_cache_create("fresh_ctor", SIZE, 0, construct, NULL, NULL,
	    NULL, NULL, 0);
	a = kmem_cache_alloc(cp, KM_SLEEP);
	next = a + cp->cache_chunksize;         /* still on the slab */
	CHECK_REPORT(kmem_cache_free(cp, next), check_fmt("%p): never "
	    "allocated: the buffer is one of cache \"fresh_ctor\" that its "
	    "slab never handed out", next));
	kmem_cache_free(cp, a);
	check_handed_out_once(cp);
	kmem_cache_destroy(cp);
}

/*
 * The whole class: a buffer that never left its slab, or sits in a
 * magazine the slab layer filled, freed by a program that computed its
 * address -- in caches of every layout (buffers in the slab with their
 * slab header, or kept by bufctls and a hash), with and without
 * magazines, with and without a constructor -- is refused, and the cache
 * hands no buffer out twice.  Before the slabs counted the buffers they
 * had handed out, the hash caches (1000 bytes and up) took such a free
 * and then handed the buffer out from the magazine and from the slab.
 */
static int
construct_first_word(void *buf, void *private, int kmflag)
{
	(void) private;
	(void) kmflag;
	*(uint64_t *)buf = 0x0123456789abcdefull;
	return (0);
}

static void
test_never_allocated_every_layout(void)
{
	static const size_t sizes[] = { 16, 64, 200, 1000, 3000, 9000, 20000 };
	for (size_t i = 0; i < sizeof (sizes) / sizeof (sizes[0]); i++) {
		for (int variant = 0; variant < 3; variant++) {
			int cflags = variant == 1 ? KMC_NOMAGAZINE : 0;
			kmem_constructor_t *ctor = variant == 2 ?
			    construct_first_word : NULL;
			kmem_cache_t *cp = kmem_cache_create("layouts",
			    sizes[i], 0, ctor, NULL, NULL, NULL, NULL, cflags);
			CHECK(cp != NULL);
			char *a = kmem_cache_alloc(cp, KM_SLEEP);
			char *next = a + cp->cache_chunksize;
			if (cp->cache_chunks < 2) {     /* no neighbour */
				kmem_cache_free(cp, a);
				kmem_cache_destroy(cp);
				continue;
			}
			CHECK_REPORT(kmem_cache_free(cp, next),
			    check_fmt("%p): ", next));
			kmem_cache_free(cp, a);
			check_handed_out_once(cp);
			kmem_cache_destroy(cp);
		}
	}
}

/*
 * Large buffers (bufctls and a hash): the hash says a buffer is free.  c
 * keeps the slab (four buffers) from going back to the arena, where the
 * page map would already tell that a is no buffer at all.
 */
static void
test_apart_large(void)
{
	kmem_cache_t *cp = kmem_cache_create("large", 1024, 0, NULL, NULL, NULL,
	    NULL, NULL, KMC_NOMAGAZINE);
	void *a = kmem_cache_alloc(cp, KM_SLEEP);
	void *b = kmem_cache_alloc(cp, KM_SLEEP);
	void *c = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, a);
	kmem_cache_free(cp, b);
	CHECK_REPORT(kmem_cache_free(cp, a), "on its slab's free list");
	kmem_cache_free(cp, c);
	kmem_cache_destroy(cp);
}

/* kmem_free() goes through the same caches. */
static void
test_kmem_free(void)
{
	void *a = kmem_alloc(SIZE, KM_SLEEP);
	void *b = kmem_alloc(SIZE, KM_SLEEP);
	kmem_free(a, SIZE);
	kmem_free(b, SIZE);
	CHECK_REPORT(kmem_free(a, SIZE), check_fmt("kmem_free(%p, %d): double free: "
	    "the buffer is free already (in this thread's magazines; cache "
	    "\"kmem_alloc_64\")", a, SIZE));
	void *c = kmem_alloc(SIZE, KM_SLEEP);
	void *d = kmem_alloc(SIZE, KM_SLEEP);
	void *e = kmem_alloc(SIZE, KM_SLEEP);
	CHECK(c != d && d != e && c != e);
	kmem_free(c, SIZE);
	kmem_free(d, SIZE);
	kmem_free(e, SIZE);
}

/* Above KMEM_MAXBUF, vmem's hash of allocated segments knows. */
static void
test_kmem_free_large(void)
{
	enum { LARGE = 256 * 1024 };
	void *a = kmem_alloc(LARGE, KM_SLEEP);
	void *b = kmem_alloc(LARGE, KM_SLEEP);
	kmem_free(a, LARGE);
	kmem_free(b, LARGE);
	CHECK_REPORT(kmem_free(a, LARGE), "double free");
	kmem_free(kmem_alloc(LARGE, KM_SLEEP), LARGE);	/* nothing broken */
}

/* ---- another thread's magazines ---- */

static pthread_mutex_t step_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t step_cv = PTHREAD_COND_INITIALIZER;
static int step;

static void
step_to(int n)
{
	pthread_mutex_lock(&step_lock);
	step = n;
	pthread_cond_broadcast(&step_cv);
	pthread_mutex_unlock(&step_lock);
}

static void
step_wait(int n)
{
	pthread_mutex_lock(&step_lock);
	while (step < n)
		pthread_cond_wait(&step_cv, &step_lock);
	pthread_mutex_unlock(&step_lock);
}

typedef struct {
	kmem_cache_t *cp;
	void *a, *b;
	bool wait;      /* stay alive until the main thread's free */
} first_free_t;

static void *
first_free(void *arg)
{
	first_free_t *f = arg;
	kmem_cache_free(f->cp, f->a);
	kmem_cache_free(f->cp, f->b);
	step_to(1);
	if (f->wait)
		step_wait(2);
	return (NULL);
}

static void
double_free_after_thread(bool wait, const char *where)
{
	kmem_cache_t *cp = kmem_cache_create("threads", SIZE, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	first_free_t f = { cp, kmem_cache_alloc(cp, KM_SLEEP),
		kmem_cache_alloc(cp, KM_SLEEP), wait };
	pthread_t t;
	step = 0;
	CHECK(pthread_create(&t, NULL, first_free, &f) == 0);
	step_wait(1);
	if (!wait)
		CHECK(pthread_join(t, NULL) == 0);
	CHECK_REPORT(kmem_cache_free(cp, f.a), check_fmt("%p): double free: the "
	    "buffer is free already (%s", f.a, where));
	step_to(2);
	if (wait)
		CHECK(pthread_join(t, NULL) == 0);
	check_handed_out_once(cp);
	kmem_cache_destroy(cp);
}

static void
test_first_free_in_live_thread(void)
{
	double_free_after_thread(true, "in another thread's magazines");
}

/* An exited thread's magazines went to the depot. */
static void
test_first_free_in_exited_thread(void)
{
	double_free_after_thread(false, "in the depot's magazines");
}

/* ---- the program's own data is not a mark ---- */

static void
test_program_data(void)
{
	kmem_cache_t *cp = kmem_cache_create("data", SIZE, 0, NULL, NULL, NULL,
	    NULL, NULL, 0);
	uintptr_t *a = kmem_cache_alloc(cp, KM_SLEEP);
	uintptr_t *b = kmem_cache_alloc(cp, KM_SLEEP);
	uintptr_t *c = kmem_cache_alloc(cp, KM_SLEEP);
	/* A live buffer never carries the mark, even one freed before. */
	CHECK(!kmem_free_marked(cp, a));
	a[0] = 0xdeadbeef;
	b[0] = UINTPTR_MAX;
	/* The very mark, written by the program into a live buffer. */
	c[0] = kmem_free_mark(cp, c);
	CHECK_NO_REPORT(kmem_cache_free(cp, a));
	CHECK_NO_REPORT(kmem_cache_free(cp, b));
	CHECK_NO_REPORT(kmem_cache_free(cp, c));
	/* Handed out again, cleared. */
	uintptr_t *again = kmem_cache_alloc(cp, KM_SLEEP);
	CHECK(again == c && again[0] == 0);
	CHECK_REPORT(kmem_cache_free(cp, b), "double free");
	kmem_cache_free(cp, again);
	kmem_cache_destroy(cp);
}

/* ---- caches that carry no marks ---- */

enum { WORDS = SIZE / sizeof (uint64_t) };
#define PATTERN 0x0123456789abcdefull

static int
construct(void *buf, void *private, int kmflag)
{
	(void) private;
	(void) kmflag;
	uint64_t *w = buf;
	for (unsigned i = 0; i < WORDS; i++)
		w[i] = PATTERN ^ i;
	return (0);
}

static bool
constructed(const void *buf)
{
	const uint64_t *w = buf;
	for (unsigned i = 0; i < WORDS; i++)
		if (w[i] != (PATTERN ^ i))
			return (false);
	return (true);
}

/* An object cached constructed keeps every word: its mark is in a word
 * after it. */
static void
test_constructed_untouched(void)
{
	static void *bufs[MANY];
	kmem_cache_t *cp = kmem_cache_create("constructed", SIZE, 0, construct,
	    NULL, NULL, NULL, NULL, 0);
	alloc_n(cp, bufs, MANY);
	for (unsigned i = 0; i < MANY; i++) {
		CHECK(constructed(bufs[i]));
		kmem_cache_free(cp, bufs[i]);
	}
	alloc_n(cp, bufs, MANY);
	for (unsigned i = 0; i < MANY; i++) {
		CHECK(constructed(bufs[i]));
		kmem_cache_free(cp, bufs[i]);
	}
	kmem_cache_destroy(cp);
}

/* A constructed object freed twice apart, in each place a free one waits:
 * refused, never handed out twice, and every object still constructed. */
static void
test_constructed_apart(void)
{
	static void *bufs[MANY];
	kmem_cache_t *cp = kmem_cache_create("ctor_apart", SIZE, 0, construct,
	    NULL, NULL, NULL, NULL, 0);
	void *a = kmem_cache_alloc(cp, KM_SLEEP);
	void *b = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, a);
	kmem_cache_free(cp, b);
	CHECK_REPORT(kmem_cache_free(cp, a), check_fmt("kmem_cache_free("
	    "\"ctor_apart\", %p): double free: the buffer is free already (in "
	    "this thread's magazines; cache \"ctor_apart\")", a));
	a = kmem_cache_alloc(cp, KM_SLEEP);
	alloc_n(cp, bufs, MANY);
	kmem_cache_free(cp, a);
	for (unsigned i = 0; i < MANY; i++)
		kmem_cache_free(cp, bufs[i]);
	CHECK_REPORT(kmem_cache_free(cp, a), check_fmt("%p): double free: the "
	    "buffer is free already (in the depot's magazines", a));
	alloc_n(cp, bufs, MANY);        /* fails if a comes back twice */
	for (unsigned i = 0; i < MANY; i++) {
		CHECK(constructed(bufs[i]));
		kmem_cache_free(cp, bufs[i]);
	}
	kmem_cache_destroy(cp);

	cp = kmem_cache_create("ctor_slab", SIZE, 0, construct, NULL, NULL,
	    NULL, NULL, KMC_NOMAGAZINE);
	a = kmem_cache_alloc(cp, KM_SLEEP);
	b = kmem_cache_alloc(cp, KM_SLEEP);
	void *c = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, a);
	kmem_cache_free(cp, b);
	CHECK_REPORT(kmem_cache_free(cp, a), check_fmt("%p): double free: the "
	    "buffer is free already (on its slab's free list", a));
	kmem_cache_free(cp, c);
	check_handed_out_once(cp);
	kmem_cache_destroy(cp);
}

/*
 * Constructed objects of several pages: a freed one's whole pages go back
 * to the system (kmem_slab_purge.c), except the page of its mark word,
 * which ends its chunk.  Each slab's last object is freed, with the
 * others allocated: the page its mark is on holds no chunk's start, and
 * given back with the rest of the object it would read 0 -- and a second
 * free would go unseen by the mark.
 */
static void
test_constructed_pages(void)
{
	enum { BIG = 3 * 4096 + 2000, N = 64 };
	static void *bufs[N], *lasts[N];
	kmem_cache_t *cp = kmem_cache_create("ctor_pages", BIG, 0, construct,
	    NULL, NULL, NULL, NULL, KMC_NOMAGAZINE);
	unsigned nlast = 0;
	for (unsigned i = 0; i < N; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (unsigned i = 0; i < N; i++) {
		const kmem_slab_t *sp = kmem_pagemap_find((uintptr_t)bufs[i]);
		CHECK(sp != NULL);
		if (((uintptr_t)bufs[i] - sp->slab_first) / cp->cache_chunksize ==
		    cp->cache_chunks - 1) {
			lasts[nlast++] = bufs[i];
			kmem_cache_free(cp, bufs[i]);
			bufs[i] = NULL;
		}
	}
	kmem_cache_stats_t st;
	CHECK(kmem_cache_stats(cp, &st) == 0);
	CHECK(nlast > 0 && st.mem_purged > 0);  /* their whole pages went */
	for (unsigned k = 0; k < nlast; k++)
		CHECK_REPORT(kmem_cache_free(cp, lasts[k]), check_fmt("%p): "
		    "double free: the buffer is free already (on its slab's "
		    "free list", lasts[k]));
	for (unsigned i = 0; i < N; i++)
		if (bufs[i] != NULL)
			kmem_cache_free(cp, bufs[i]);
	kmem_cache_destroy(cp);
}

static kmem_cbrc_t
never_move(void *old, void *new, size_t size, void *arg)
{
	(void) old;
	(void) new;
	(void) size;
	(void) arg;
	return (KMEM_CBRC_NO);
}

/* A cache with a move callback keeps marks only in the word after its
 * objects: the callback may read a freed object's own words. */
static void
test_movable(void)
{
	kmem_cache_t *plain = kmem_cache_create("move_plain", SIZE, 0, NULL,
	    NULL, NULL, NULL, NULL, 0);
	kmem_cache_t *ctor = kmem_cache_create("move_ctor", SIZE, 0, construct,
	    NULL, NULL, NULL, NULL, 0);
	kmem_cache_set_move(plain, never_move);
	kmem_cache_set_move(ctor, never_move);
	CHECK(plain->cache_free_key == 0);
	CHECK(ctor->cache_free_key != 0);
	void *a = kmem_cache_alloc(ctor, KM_SLEEP);
	void *b = kmem_cache_alloc(ctor, KM_SLEEP);
	kmem_cache_free(ctor, a);
	kmem_cache_free(ctor, b);
	CHECK_REPORT(kmem_cache_free(ctor, a), "in this thread's magazines");
	void *c = kmem_cache_alloc(ctor, KM_SLEEP);
	CHECK(constructed(c));
	kmem_cache_free(ctor, c);
	kmem_cache_destroy(ctor);
	kmem_cache_destroy(plain);
}

/* Which caches carry marks. */
static void
test_which_caches(void)
{
	kmem_cache_t *plain = kmem_cache_create("plain", SIZE, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	kmem_cache_t *ctor = kmem_cache_create("ctor", SIZE, 0, construct,
	    NULL, NULL, NULL, NULL, 0);
	kmem_cache_t *notouch = kmem_cache_create("notouch", SIZE, 0, NULL,
	    NULL, NULL, NULL, NULL, KMC_NOTOUCH);
	kmem_cache_t *debug = kmem_cache_create("debug", SIZE, 0, NULL, NULL,
	    NULL, NULL, NULL, KMF_DEADBEEF);
	CHECK(plain->cache_free_key != 0);
	CHECK(kmem_alloc_class_cache(SIZE, KM_SLEEP)->cache_free_key ==
	    plain->cache_free_key);
	CHECK(ctor->cache_free_key == plain->cache_free_key);
	CHECK(ctor->cache_mark_offset == SIZE && plain->cache_mark_offset == 0);
	CHECK(ctor->cache_chunksize == SIZE + sizeof (uintptr_t));
	CHECK(notouch->cache_free_key == 0);
	CHECK(debug->cache_free_key == 0);
	/* No mark is 0 or an address. */
	CHECK(plain->cache_free_key >> 63 == 1);
	kmem_cache_destroy(plain);
	kmem_cache_destroy(ctor);
	kmem_cache_destroy(notouch);
	kmem_cache_destroy(debug);
}

int
main(int argc, char **argv)
{
	char err[128];
	CHECK(kmem_debug_configure("", NULL, err, sizeof (err)) == 0);
	static const check_test_t tests[] = {
		CHECK_TEST(test_apart_in_magazine),
		CHECK_TEST(test_apart_in_depot),
		CHECK_TEST(test_apart_in_slab),
		CHECK_TEST(test_never_allocated),
		CHECK_TEST(test_never_allocated_every_layout),
		CHECK_TEST(test_apart_large),
		CHECK_TEST(test_kmem_free),
		CHECK_TEST(test_kmem_free_large),
		CHECK_TEST(test_first_free_in_live_thread),
		CHECK_TEST(test_first_free_in_exited_thread),
		CHECK_TEST(test_program_data),
		CHECK_TEST(test_constructed_untouched),
		CHECK_TEST(test_constructed_apart),
		CHECK_TEST(test_constructed_pages),
		CHECK_TEST(test_movable),
		CHECK_TEST(test_which_caches),
	};
	return (check_run_tests(tests, sizeof (tests) / sizeof (tests[0]),
	    argc, argv));
}
