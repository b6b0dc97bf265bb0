/*
 * Bad input to pool(9) and pool_cache(9): each mistake is reported once,
 * with a message that names the call, the pool and what is wrong, and
 * changes nothing (the report handler returns here); with the default
 * handler the program aborts with the message.  Typed malloc's bad frees
 * are in mtype_test.c, kmem(9)'s in kmem_netbsd_test.c.
 */
#include <stdint.h>
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/mtype.h>
#include <kmem/pool.h>

#include "netbsd_test.h"

static void
test_init_bad_alignment(void)
{
	struct pool pp;
	memset(&pp, 0, sizeof (pp));
	CHECK_REPORT(pool_init(&pp, 64, 3, 0, 0, "t_bad_align", NULL,
	    IPL_NONE), "pool_init(\"t_bad_align\", size 64, align 3, "
	    "align_offset 0, flags 0x0): align is not a power of two");
	/* The pool was not set up: using it is reported too. */
	CHECK_REPORT(CHECK(pool_get(&pp, PR_WAITOK) == NULL),
	    "not a pool set up by pool_init()");
	CHECK_REPORT(pool_cache_init(64, 24, 0, 0, "t_bad_align_cache", NULL,
	    IPL_NONE, NULL, NULL, NULL), "align is not a power of two");
}

static void
test_init_bad_arguments(void)
{
	struct pool pp;
	CHECK_REPORT(pool_init(&pp, 64, 0, 0, 0x4, "t_bad_flags", NULL,
	    IPL_NONE), "flags has bits that are not PR_NOTOUCH");
	CHECK_REPORT(pool_init(&pp, 64, 0, 0, 0, NULL, NULL, IPL_NONE),
	    "wchan is NULL");
	CHECK_REPORT(pool_init(NULL, 64, 0, 0, 0, "t_null", NULL, IPL_NONE),
	    "the pool is NULL");

	struct pool_allocator half = { test_pa_alloc, NULL, 4096 };
	CHECK_REPORT(pool_init(&pp, 64, 0, 0, 0, "t_half", &half, IPL_NONE),
	    "needs both pa_alloc and pa_free");
	struct pool_allocator odd = { test_pa_alloc, test_pa_free, 3000 };
	CHECK_REPORT(pool_init(&pp, 64, 0, 0, 0, "t_odd", &odd, IPL_NONE),
	    "pa_pagesz is not a power of two");
	test_pa_reset(4096);
	CHECK_REPORT(pool_init(&pp, 5000, 0, 0, 0, "t_huge", &test_allocator,
	    IPL_NONE), "items are larger than the allocator's page");
	CHECK_EQ(test_pa.allocs, 0);

	pool_init(&pp, 64, 0, 0, 0, "t_twice", NULL, IPL_NONE);
	CHECK_REPORT(pool_init(&pp, 64, 0, 0, 0, "t_twice", NULL, IPL_NONE),
	    "already initialised");
	CHECK_REPORT(pool_sethardlimit(&pp, -1, NULL, 0),
	    "pool_sethardlimit(\"t_twice\", -1): the count is negative");
	CHECK_REPORT(pool_setlowat(&pp, -5), "the count is negative");
	CHECK_EQ(pool_stats_of(&pp).hardlimit, UINT_MAX);
	pool_destroy(&pp);
}

static void
test_get_bad_flags(void)
{
	struct pool pp;
	pool_init(&pp, 32, 0, 0, 0, "t_flags", NULL, IPL_NONE);
	CHECK_REPORT(CHECK(pool_get(&pp, 0) == NULL),
	    "exactly one of PR_WAITOK and PR_NOWAIT");
	CHECK_REPORT(CHECK(pool_get(&pp, PR_WAITOK | PR_NOWAIT) == NULL),
	    "exactly one of PR_WAITOK and PR_NOWAIT");
	CHECK_REPORT(CHECK(pool_get(&pp, PR_WAITOK | 0x40) == NULL),
	    "flags has bits that are not PR_WAITOK");
	CHECK_EQ(pool_stats_of(&pp).nget, 0);
	pool_destroy(&pp);
}

static void
test_put_foreign_item(void)
{
	struct pool a, b;
	pool_init(&a, 64, 0, 0, 0, "t_mine", NULL, IPL_NONE);
	pool_init(&b, 64, 0, 0, 0, "t_other", NULL, IPL_NONE);
	void *ia = pool_get(&a, PR_WAITOK);
	void *ib = pool_get(&b, PR_WAITOK);

	CHECK_REPORT(pool_put(&a, ib), "not an item of this pool: it belongs "
	    "to kmem cache \"pool_t_other\"");
	CHECK_REPORT(pool_put(&a, (char *)ia + 8),
	    "not the start of an item of this pool");
	char on_stack[64];
	CHECK_REPORT(pool_put(&a, on_stack), "pool_put(\"t_mine\", ");
	void *k = kmem_alloc(64, KM_SLEEP);
	CHECK_REPORT(pool_put(&a, k),
	    "belongs to kmem cache \"kmem_alloc_64\"");
	kmem_free(k, 64);
	CHECK_REPORT(pool_put(&a, NULL), "not an item of this pool");

	/* Nothing changed: both items are still out. */
	CHECK_EQ(pool_stats_of(&a).nout, 1);
	CHECK_EQ(pool_stats_of(&b).nout, 1);
	pool_put(&a, ia);
	pool_put(&b, ib);
	pool_destroy(&a);
	pool_destroy(&b);
}

static void
test_put_foreign_large_and_notouch(void)
{
	/* Large items (a hash behind the page map) and PR_NOTOUCH (a hash). */
	struct pool big, nt, other;
	pool_init(&big, 2000, 0, 0, 0, "t_big", NULL, IPL_NONE);
	pool_init(&nt, 48, 0, 0, PR_NOTOUCH, "t_notouch", NULL, IPL_NONE);
	pool_init(&other, 48, 0, 0, PR_NOTOUCH, "t_notouch2", NULL, IPL_NONE);
	void *ib = pool_get(&big, PR_WAITOK);
	void *in = pool_get(&nt, PR_WAITOK);
	void *io = pool_get(&other, PR_WAITOK);
	CHECK_REPORT(pool_put(&big, (char *)ib + 1000), "pool_put(\"t_big\"");
	CHECK_REPORT(pool_put(&nt, io), "not an item of this pool");
	CHECK_REPORT(pool_put(&nt, (char *)in + 16),
	    "not an item of this pool");
	pool_put(&big, ib);
	pool_put(&nt, in);
	pool_put(&other, io);
	CHECK_EQ(pool_stats_of(&nt).nout, 0);
	pool_destroy(&big);
	pool_destroy(&nt);
	pool_destroy(&other);
}

static void
test_double_put(void)
{
	struct pool pp;
	pool_init(&pp, 40, 0, 0, 0, "t_double", NULL, IPL_NONE);
	void *a = pool_get(&pp, PR_WAITOK);
	void *b = pool_get(&pp, PR_WAITOK);
	pool_put(&pp, a);
	char expect[128];
	snprintf(expect, sizeof (expect), "pool_put(\"t_double\", %p): put "
	    "twice: it is the item this thread put back last", a);
	CHECK_REPORT(pool_put(&pp, a), expect);
	CHECK_EQ(pool_stats_of(&pp).nout, 1);
	pool_put(&pp, b);
	/* b was put last, but no item is out: a put of a is one too many. */
	CHECK_REPORT(pool_put(&pp, a), "more puts than gets: no item of the "
	    "pool is out (a double put?)");
	pool_stats_t st = pool_stats_of(&pp);
	CHECK_EQ(st.nout, 0);
	CHECK_EQ(st.nput, 2);
	pool_destroy(&pp);
}

static int
cache_ctor(void *arg, void *obj, int flags)
{
	(void) arg;
	(void) flags;
	memset(obj, 0x44, 8);
	return (0);
}

static void
test_cache_bad_input(void)
{
	pool_cache_t pc = pool_cache_init(64, 0, 0, 0, "t_cache_bad", NULL,
	    IPL_NONE, cache_ctor, NULL, NULL);
	void *a = pool_cache_get(pc, PR_WAITOK);
	void *b = pool_cache_get(pc, PR_WAITOK);
	pool_cache_put(pc, a);
	CHECK_REPORT(pool_cache_put(pc, a), "pool_cache_put(\"t_cache_bad\", ");
	CHECK_REPORT(CHECK(pool_cache_get(pc, PR_WAITOK | PR_ZERO) == NULL),
	    "PR_ZERO would wipe a constructed object");
	CHECK_REPORT(pool_cache_put(pc, NULL), "not an item of this pool");
	pool_stats_t st;
	CHECK_EQ(pool_cache_stats(pc, &st), 0);
	CHECK_EQ(st.nout, 1);
	CHECK_REPORT(pool_cache_destroy(pc), "1 item is still out");
	pool_cache_put(pc, b);
	pool_cache_destroy(pc);
	CHECK_REPORT(pool_cache_put(pc, b), "the pool cache was destroyed");
	CHECK_REPORT(pool_cache_get(NULL, PR_WAITOK), "the pool cache is NULL");
}

static void
test_put_to_destroyed_pool(void)
{
	struct pool pp, other;
	pool_init(&pp, 56, 0, 0, 0, "t_gone", NULL, IPL_NONE);
	pool_init(&other, 56, 0, 0, 0, "t_alive", NULL, IPL_NONE);
	void *a = pool_get(&pp, PR_WAITOK);
	void *x = pool_get(&other, PR_WAITOK);
	CHECK_REPORT(pool_destroy(&pp), "pool_destroy(\"t_gone\"): 1 item is "
	    "still out");
	pool_put(&pp, a);
	pool_destroy(&pp);
	CHECK_REPORT(pool_put(&pp, x), "pool_put(\"t_gone\", ");
	CHECK_REPORT(pool_put(&pp, x), "the pool was destroyed");
	CHECK_REPORT(CHECK(pool_get(&pp, PR_WAITOK) == NULL),
	    "pool_get(\"t_gone\"): the pool was destroyed");
	CHECK_REPORT(pool_destroy(&pp), "the pool was destroyed");
	pool_stats_t st;
	int rc = 0;
	CHECK_REPORT(rc = pool_stats(&pp, &st), "the pool was destroyed");
	CHECK_EQ(rc, -1);
	pool_put(&other, x);
	pool_destroy(&other);
}

static void *
misaligned_alloc(struct pool *pp, int flags)
{
	char *page = test_pa_alloc(pp, flags);
	return (page != NULL ? page + 64 : NULL);
}

static void
misaligned_free(struct pool *pp, void *page)
{
	test_pa_free(pp, (char *)page - 64);
}

static void
test_allocator_breaks_contract(void)
{
	test_pa_reset(4096);
	struct pool_allocator bad = { misaligned_alloc, misaligned_free, 4096 };
	struct pool pp;
	pool_init(&pp, 64, 0, 0, 0, "t_misaligned", &bad, IPL_NONE);
	/* vmem refuses the page, and kmem tries once more after a reap. */
	CHECK(pool_get(&pp, PR_NOWAIT) == NULL);
	CHECK(check_reports.count >= 1);
	CHECK(strstr(check_reports.last, "misaligned") != NULL);
	CHECK_EQ(test_pa.allocs, check_reports.count);
	CHECK_EQ(test_pa.frees, test_pa.allocs);  /* given back by pa_free */
	check_reports.count = 0;
	CHECK_EQ(pool_stats_of(&pp).nfail, 1);
	pool_destroy(&pp);
}

/* ---- with the default handler, a bad put aborts the program ---- */

static void
foreign_put_aborts(void)
{
	kmem_report_handler_set(NULL, NULL, NULL);
	struct pool a, b;
	pool_init(&a, 64, 0, 0, 0, "t_abort_a", NULL, IPL_NONE);
	pool_init(&b, 64, 0, 0, 0, "t_abort_b", NULL, IPL_NONE);
	pool_put(&a, pool_get(&b, PR_WAITOK));
}

static void
wrong_type_aborts(void)
{
	kmem_report_handler_set(NULL, NULL, NULL);
	void *p = mtype_malloc(10, M_DEVBUF, M_WAITOK);
	mtype_free(p, M_TEMP);
}

static void
test_default_handler_aborts(void)
{
	check_child_aborts(foreign_put_aborts,
	    "libkmem: pool_put(\"t_abort_a\"");
	check_child_aborts(foreign_put_aborts, "belongs to kmem cache "
	    "\"pool_t_abort_b\"");
	check_child_aborts(wrong_type_aborts, "mtype_free(");
	check_child_aborts(wrong_type_aborts, "wrong type: the memory was "
	    "allocated with type \"devbuf\"");
}

static const check_test_t tests[] = {
	CHECK_TEST(test_init_bad_alignment),
	CHECK_TEST(test_init_bad_arguments),
	CHECK_TEST(test_get_bad_flags),
	CHECK_TEST(test_put_foreign_item),
	CHECK_TEST(test_put_foreign_large_and_notouch),
	CHECK_TEST(test_double_put),
	CHECK_TEST(test_cache_bad_input),
	CHECK_TEST(test_put_to_destroyed_pool),
	CHECK_TEST(test_allocator_breaks_contract),
	CHECK_TEST(test_default_handler_aborts),
};

int
main(int argc, char **argv)
{
	return (test_main(tests, sizeof (tests) / sizeof (tests[0]), argc,
	    argv));
}
