/*
 * pool_init() and pool_cache_init() when memory is exhausted.  The test is
 * linked with -Wl,--wrap=mmap, so the library's page source comes here and
 * fails while mmap_fails is set; exhaust() then takes every page kmem's
 * default arena still has, so no kmem allocation can be served.
 *
 * What must hold: neither call waits for memory that will not come (each
 * case runs in a child killed after 10 s, and CTest's timeout stands behind
 * that); each reports once that the pool was not set up, naming it and the
 * structure that could not be had; the pool is left as never initialised
 * (a get is reported as on a pool pool_init() never set up) and
 * pool_cache_init() returns NULL; and once memory is back, the same pool
 * initialises and works.  The kmem_cache_create() they rely on returns
 * NULL, without a report, rather than wait.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#include <kmem/kmem.h>
#include <kmem/pool.h>
#include <kmem/vmem.h>

#include "netbsd_test.h"

static atomic_bool mmap_fails;

void *__real_mmap(void *, size_t, int, int, int, off_t);
void *__wrap_mmap(void *, size_t, int, int, int, off_t);

void *
__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (atomic_load(&mmap_fails)) {
		errno = ENOMEM;
		return (MAP_FAILED);
	}
	return (__real_mmap(addr, len, prot, flags, fd, off));
}

/* What exhaust() took from the default arena, for restore(). */
enum { HELD_MAX = 4096 };
static struct {
	void *addr;
	size_t size;
} held[HELD_MAX];
static unsigned nheld;

/* No more pages from the platform, and none left in the default arena. */
static void
exhaust(void)
{
	vmem_t *vmp = kmem_default_arena();
	atomic_store(&mmap_fails, true);
	for (size_t size = (size_t)1 << 30; size >= 4096; size /= 2) {
		void *p;
		while (nheld < HELD_MAX && (p = vmem_xalloc(vmp, size, 0, 0, 0,
		    NULL, NULL, VM_NOSLEEP)) != NULL)
			held[nheld++] = (typeof(held[0])){ p, size };
	}
	CHECK(nheld < HELD_MAX);
	CHECK(kmem_alloc(64, KM_NOSLEEP) == NULL);      /* truly exhausted */
}

static void
restore(void)
{
	vmem_t *vmp = kmem_default_arena();
	while (nheld > 0) {
		nheld--;
		vmem_xfree(vmp, held[nheld].addr, held[nheld].size);
	}
	atomic_store(&mmap_fails, false);
}

/* The pool works: an item can be had, written and given back. */
static void
check_pool_works(struct pool *pp)
{
	char *item = pool_get(pp, PR_WAITOK);
	CHECK(item != NULL);
	memset(item, 0x5a, 48);
	pool_put(pp, item);
	pool_destroy(pp);
}

static void
pool_init_exhausted(void)
{
	check_catch_reports();
	static struct pool pp;
	exhaust();
	CHECK_REPORT(pool_init(&pp, 48, 0, 0, 0, "t_nomem", NULL, IPL_NONE),
	    "pool_init(\"t_nomem\", size 48, align 0, align_offset 0, flags "
	    "0x0): out of memory for the pool's state; the pool is not set up");
	CHECK_REPORT(CHECK(pool_get(&pp, PR_NOWAIT) == NULL),
	    "not a pool set up by pool_init()");
	restore();
	CHECK_NO_REPORT(pool_init(&pp, 48, 0, 0, 0, "t_nomem", NULL,
	    IPL_NONE));
	check_pool_works(&pp);
}

static void
pool_cache_init_exhausted(void)
{
	check_catch_reports();
	exhaust();
	pool_cache_t pc = NULL;
	CHECK_REPORT(pc = pool_cache_init(48, 0, 0, 0, "t_nomem_cache", NULL,
	    IPL_NONE, NULL, NULL, NULL), "pool_cache_init(\"t_nomem_cache\", "
	    "size 48, align 0, align_offset 0, flags 0x0): out of memory for "
	    "the pool cache; the pool is not set up");
	CHECK(pc == NULL);
	restore();
	CHECK_NO_REPORT(pc = pool_cache_init(48, 0, 0, 0, "t_nomem_cache",
	    NULL, IPL_NONE, NULL, NULL, NULL));
	CHECK(pc != NULL);
	void *obj = pool_cache_get(pc, PR_WAITOK);
	CHECK(obj != NULL);
	pool_cache_put(pc, obj);
	pool_cache_destroy(pc);
}

/*
 * With a page allocator, the pool's arenas come from the platform: with
 * its pages refused, they are what cannot be had, though kmem still has
 * memory for the pool's state (every small class has a slab with free
 * buffers, allocated and freed once before mmap fails).
 */
static void
pool_init_no_arena(void)
{
	check_catch_reports();
	static struct pool pp;
	test_pa_reset(4096);
	for (size_t size = 8; size <= 4096; size += 8)
		kmem_free(kmem_alloc(size, KM_SLEEP), size);
	atomic_store(&mmap_fails, true);
	CHECK_REPORT(pool_init(&pp, 48, 0, 0, 0, "t_noarena", &test_allocator,
	    IPL_NONE), "pool_init(\"t_noarena\", size 48, align 0, "
	    "align_offset 0, flags 0x0): out of memory for the pool's page "
	    "arenas; the pool is not set up");
	CHECK_EQ(test_pa.allocs, 0);
	atomic_store(&mmap_fails, false);
	CHECK_NO_REPORT(pool_init(&pp, 48, 0, 0, 0, "t_noarena",
	    &test_allocator, IPL_NONE));
	check_pool_works(&pp);
	CHECK_EQ(test_pa.allocs, test_pa.frees);
}

/*
 * What pool_setup() relies on: kmem_cache_create() returns NULL when the
 * cache structure cannot be had, rather than waiting for a free.  Caches
 * are made until the slabs of cache structures are full; then one more
 * needs a slab of the metadata arena, which cannot import.
 */
static void
kmem_cache_create_exhausted(void)
{
	check_catch_reports();
	enum { MAX = 1000 };
	static kmem_cache_t *made[MAX];
	unsigned n = 0;
	exhaust();
	while (n < MAX && (made[n] = kmem_cache_create("t_many", 64, 0, NULL,
	    NULL, NULL, NULL, NULL, 0)) != NULL)
		n++;
	CHECK(n < MAX);
	restore();
	CHECK((made[n] = kmem_cache_create("t_many", 64, 0, NULL, NULL, NULL,
	    NULL, NULL, 0)) != NULL);
	for (unsigned i = 0; i <= n; i++)
		kmem_cache_destroy(made[i]);
}

static const check_test_t tests[] = {
	CHECK_TEST(kmem_cache_create_exhausted),
	CHECK_TEST(pool_init_exhausted),
	CHECK_TEST(pool_cache_init_exhausted),
	CHECK_TEST(pool_init_no_arena),
};

int
main(int argc, char **argv)
{
	int failed = 0;
	for (size_t i = 0; i < sizeof (tests) / sizeof (tests[0]); i++) {
		if (!check_test_selected(argc, argv, tests[i].name))
			continue;
		check_child_t c = check_run_child(tests[i].fn);
		bool ok = WIFEXITED(c.status) && WEXITSTATUS(c.status) == 100;
		printf("%s %s", ok ? "ok  " : "FAIL", tests[i].name);
		if (WIFSIGNALED(c.status))
			printf(" (signal %d%s)", WTERMSIG(c.status),
			    WTERMSIG(c.status) == SIGALRM ? ": it hung" : "");
		printf("\n");
		if (!ok)
			printf("%s", c.err);
		fflush(stdout);
		failed += !ok;
	}
	if (failed != 0) {
		printf("pool_nomem_test: %d test(s) failed\n", failed);
		return (1);
	}
	printf("pool_nomem_test: all passed\n");
	return (0);
}
