/*
 * kmem_alloc()'s class caches are made on their first use (kmem_alloc.c):
 * a fresh process has made none; the first kmem_alloc() or malloc() of a
 * class makes its cache and points every slot of the class at it, and no
 * slot of another class; threads racing for a new class make it once;
 * a fork while another thread makes classes leaves the child with each
 * class made once or not at all, every one usable.
 *
 * The tests run in this order in one process, each on classes the ones
 * before left unmade.
 */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>

#include "check.h"
#include "kmem/kmem_impl.h"          /* kmem_classes_lock, the class tables */

/*
 * kmem_mutex_enter() wrapped (-Wl,--wrap, tests/kmem/CMakeLists.txt):
 * while the racers run, a thread about to take kmem_classes_lock, that is
 * about to make a class it found unmade, waits a little first, so that
 * the other racers find the class unmade too and queue for the lock.
 */
static volatile bool racing;
void __real_kmem_mutex_enter(kmem_mutex_t *mp);
void __wrap_kmem_mutex_enter(kmem_mutex_t *mp);

void
__wrap_kmem_mutex_enter(kmem_mutex_t *mp)
{
	if (mp == &kmem_classes_lock && __atomic_load_n(&racing, __ATOMIC_RELAXED))
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	__real_kmem_mutex_enter(mp);
}

/* ---- what has been made ---- */

static void
count_class(void *arg, kmem_cache_t *cp)
{
	(void) cp;
	(*(unsigned *)arg)++;
}

/* The classes the statistics walk visits: those made. */
static unsigned
classes_made(void)
{
	unsigned n = 0;
	kmem_alloc_class_walk(count_class, &n);
	return (n);
}

typedef struct rows {
	const char *prefix;     /* "kmem_alloc_104 " or "kmem_alloc_" */
	unsigned count;
} rows_t;

static void
count_row(void *arg, const char *line)
{
	rows_t *r = arg;
	if (strncmp(line, r->prefix, strlen(r->prefix)) == 0)
		r->count++;
}

/* Rows of kmem_table() (one per cache on kmem's list) starting so. */
static unsigned
table_rows(const char *prefix)
{
	rows_t r = { prefix, 0 };
	kmem_table(count_row, &r);
	return (r.count);
}

/* The caches named for class size: 1 once made, and never 2. */
static unsigned
caches_of_class(size_t class_size)
{
	return (table_rows(check_fmt("kmem_alloc_%zu ", class_size)));
}

static bool
made(size_t size)
{
	return (!(kmem_alloc_cache(size)->cache_flags & KMF_NULL));
}

/* ---- first use ---- */

/* Every size of the class [low, high] finds one cache, of high bytes;
 * the sizes beside it find none yet. */
static void
check_class_alone(size_t low, size_t high)
{
	kmem_cache_t *cp = kmem_alloc_cache(high);
	CHECK(made(high));
	CHECK_EQ(cp->cache_bufsize, high);
	for (size_t size = low; size <= high; size++)
		CHECK(kmem_alloc_cache(size) == cp);
	CHECK(!made(low - 1));
	CHECK(!made(high + 1));
	CHECK_EQ(caches_of_class(high), 1);
}

static void
test_made_on_first_use(void)
{
	/* kmem starts, and makes no class. */
	kmem_cache_t *other = kmem_cache_create("class_test_other", 100, 0,
	    NULL, NULL, NULL, NULL, NULL, 0);
	CHECK(other != NULL);
	CHECK_EQ(classes_made(), 0);
	CHECK_EQ(table_rows("kmem_alloc_"), 0);
	CHECK(!made(100));

	void *a = kmem_alloc(100, KM_SLEEP);
	CHECK(a != NULL);
	CHECK_EQ(classes_made(), 1);
	check_class_alone(97, 104);
	CHECK(kmem_pagemap_find((uintptr_t)a)->slab_cache ==
	    kmem_alloc_cache(100));

	void *b = kmem_alloc(98, KM_SLEEP);   /* the same class */
	CHECK_EQ(classes_made(), 1);
	void *c = kmem_alloc(5000, KM_SLEEP);  /* 4609 .. 5120 */
	CHECK_EQ(classes_made(), 2);
	check_class_alone(4609, 5120);
	void *d = kmem_malloc(20);              /* malloc's 16-byte steps: 32 */
	CHECK(d != NULL);
	CHECK_EQ(classes_made(), 3);
	check_class_alone(25, 32);
	CHECK(!made(24));
	void *e = kmem_alloc(144, KM_SLEEP);   /* 129 .. 144: two slots */
	CHECK_EQ(classes_made(), 4);
	check_class_alone(129, 144);
	CHECK_EQ(table_rows("kmem_alloc_"), 4);

	kmem_free(a, 100);
	kmem_free(b, 98);
	kmem_free(c, 5000);
	kmem_malloc_free(d);
	kmem_free(e, 144);
	kmem_cache_destroy(other);
	CHECK_EQ(classes_made(), 4);    /* a made class stays */
}

/* ---- fork while another thread makes classes ---- */

/* The classes up to FORK_CLASSES_MAX are made during the fork test. */
#define FORK_CLASSES_MAX        2048
#define FORKS                   12

static volatile bool maker_done;

static void *
maker(void *arg)
{
	(void) arg;
	for (size_t size = 8; size <= FORK_CLASSES_MAX; size++) {
		if (made(size))
			continue;
		void *buf = kmem_alloc(size, KM_SLEEP);
		CHECK(buf != NULL);
		kmem_free(buf, size);
		sched_yield();
	}
	__atomic_store_n(&maker_done, true, __ATOMIC_RELEASE);
	return (NULL);
}

/* In the child: each class made once, or not yet and made now, once. */
static void
child_uses_every_class(void)
{
	for (size_t size = 8; size <= FORK_CLASSES_MAX; size += 8) {
		size_t class_size;
		(void) kmem_alloc_class(size, &class_size);
		if (class_size != size)
			continue;
		CHECK(caches_of_class(class_size) <= 1);
		void *buf = kmem_alloc(size, KM_SLEEP);
		CHECK(buf != NULL);
		CHECK(kmem_pagemap_find((uintptr_t)buf)->slab_cache ==
		    kmem_alloc_cache(size));
		kmem_free(buf, size);
		CHECK_EQ(caches_of_class(class_size), 1);
	}
}

static void
test_fork_while_classes_are_made(void)
{
	pthread_t t;
	CHECK(pthread_create(&t, NULL, maker, NULL) == 0);
	for (int i = 0; i < FORKS; i++) {
		check_exits_within(child_uses_every_class, 60,
		    "a child using every class after the fork");
		if (__atomic_load_n(&maker_done, __ATOMIC_ACQUIRE))
			break;
	}
	CHECK(pthread_join(t, NULL) == 0);
}

/* ---- threads racing for new classes ---- */

#define RACERS          8
#define RACE_CLASSES    KMEM_ALLOC_CLASSES

static pthread_barrier_t race_start;
static size_t race_sizes[RACE_CLASSES];
static kmem_cache_t *race_got[RACERS][RACE_CLASSES];

static void *
racer(void *arg)
{
	kmem_cache_t **got = arg;
	void *bufs[RACE_CLASSES];
	/* All together at each class, so they ask for it at once. */
	for (size_t i = 0; i < RACE_CLASSES; i++) {
		(void) pthread_barrier_wait(&race_start);
		bufs[i] = kmem_alloc(race_sizes[i], KM_SLEEP);
		CHECK(bufs[i] != NULL);
		got[i] = kmem_pagemap_find((uintptr_t)bufs[i])->slab_cache;
	}
	for (size_t i = 0; i < RACE_CLASSES; i++)
		kmem_free(bufs[i], race_sizes[i]);
	return (NULL);
}

static void
test_racing_threads_make_a_class_once(void)
{
	/* The classes' sizes, largest first: the tests before made the
	 * small ones, so the race starts on classes nobody made. */
	for (size_t size = 1, n = 0; size <= KMEM_MAXBUF; size++) {
		size_t class_size;
		unsigned i = kmem_alloc_class(size, &class_size);
		CHECK(i < RACE_CLASSES);
		race_sizes[RACE_CLASSES - 1 - i] = class_size;
		n += class_size == size;
		CHECK(n <= RACE_CLASSES);
	}
	CHECK(!made(race_sizes[0]));
	pthread_t t[RACERS];
	CHECK(pthread_barrier_init(&race_start, NULL, RACERS) == 0);
	racing = true;
	for (int i = 0; i < RACERS; i++)
		CHECK(pthread_create(&t[i], NULL, racer, race_got[i]) == 0);
	for (int i = 0; i < RACERS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	racing = false;
	CHECK(pthread_barrier_destroy(&race_start) == 0);
	for (size_t c = 0; c < RACE_CLASSES; c++) {
		kmem_cache_t *cp = kmem_alloc_cache(race_sizes[c]);
		CHECK_EQ(cp->cache_bufsize, race_sizes[c]);
		for (int i = 0; i < RACERS; i++)
			CHECK(race_got[i][c] == cp);
		CHECK_EQ(caches_of_class(race_sizes[c]), 1);
	}
	CHECK_EQ(classes_made(), KMEM_ALLOC_CLASSES);
	CHECK_EQ(table_rows("kmem_alloc_"), KMEM_ALLOC_CLASSES);
}

int
main(int argc, char **argv)
{
	static const check_test_t tests[] = {
		CHECK_TEST(test_made_on_first_use),
		CHECK_TEST(test_fork_while_classes_are_made),
		CHECK_TEST(test_racing_threads_make_a_class_once),
	};
	return (check_run_tests(tests, sizeof (tests) / sizeof (tests[0]),
	    argc, argv));
}
