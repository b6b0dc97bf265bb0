/*
 * pool(9), one behaviour at a time: gets and puts and their counters,
 * alignment with an offset, PR_ZERO, the hard limit failing PR_NOWAIT and
 * PR_LIMITFAIL gets with its warning and the warning's rate cap, a
 * pool_allocator really supplying and taking back the pages, pool_prime()
 * and pool_setlowat() setting items aside that outlast a failing page
 * allocator, the drain hook on reclaim and at the limit, the high-water
 * mark giving pages back, and the statistics, walk and `vmstat -m` table.
 * The hard limit blocking a PR_WAITOK get is in pool_thread_test.c, bad
 * input in errors_test.c.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <kmem/pool.h>

#include "netbsd_test.h"

#define U(p) ((uintptr_t)(p))

static void
test_get_put_counts(void)
{
	struct pool pp;
	pool_init(&pp, 48, 0, 0, 0, "t_basic", NULL, IPL_NONE);
	void *items[20];
	for (int i = 0; i < 20; i++) {
		items[i] = pool_get(&pp, PR_WAITOK);
		CHECK(items[i] != NULL);
		CHECK_EQ(U(items[i]) % 8, 0);
		memset(items[i], i, 48);
		for (int j = 0; j < i; j++)
			CHECK(items[j] != items[i]);
	}
	pool_stats_t st = pool_stats_of(&pp);
	CHECK(strcmp(st.name, "t_basic") == 0);
	CHECK(strcmp(st.cache, "pool_t_basic") == 0);
	CHECK_EQ(st.size, 48);
	CHECK_EQ(st.nget, 20);
	CHECK_EQ(st.nout, 20);
	CHECK_EQ(st.nput, 0);
	CHECK_EQ(st.nfail, 0);
	CHECK_EQ(st.is_cache, 0);
	CHECK_EQ(st.has_allocator, 0);
	CHECK_EQ(st.hardlimit, UINT_MAX);
	CHECK_EQ(st.maxpages, UINT_MAX);
	CHECK(st.items_per_page >= 1);
	CHECK(st.npages >= (20 + st.items_per_page - 1) / st.items_per_page);
	CHECK_EQ(st.npagealloc, st.npages + st.npagefree);

	for (int i = 0; i < 5; i++) {
		CHECK_EQ(((unsigned char *)items[i])[47], i);
		pool_put(&pp, items[i]);
	}
	st = pool_stats_of(&pp);
	CHECK_EQ(st.nget, 20);
	CHECK_EQ(st.nput, 5);
	CHECK_EQ(st.nout, 15);
	for (int i = 5; i < 20; i++)
		pool_put(&pp, items[i]);
	st = pool_stats_of(&pp);
	CHECK_EQ(st.nput, 20);
	CHECK_EQ(st.nout, 0);
	CHECK_EQ(st.nitems, st.npages * st.items_per_page);
	pool_destroy(&pp);
}

static void
test_alignment(void)
{
	struct pool a, b;
	pool_init(&a, 40, 64, 0, 0, "t_align", NULL, IPL_NONE);
	pool_init(&b, 40, 64, 8, 0, "t_align_off", NULL, IPL_NONE);
	void *ia[10], *ib[10];
	for (int i = 0; i < 10; i++) {
		ia[i] = pool_get(&a, PR_WAITOK);
		ib[i] = pool_get(&b, PR_WAITOK);
		CHECK_EQ(U(ia[i]) % 64, 0);
		CHECK_EQ((U(ib[i]) + 8) % 64, 0);
		memset(ia[i], 0x11, 40);
		memset(ib[i], 0x22, 40);
	}
	pool_stats_t st = pool_stats_of(&b);
	CHECK_EQ(st.align, 64);
	CHECK_EQ(st.align_offset, 8);
	for (int i = 0; i < 10; i++) {
		pool_put(&a, ia[i]);
		pool_put(&b, ib[i]);
	}
	pool_destroy(&a);
	pool_destroy(&b);
}

static bool
all_zero(const void *p, size_t size)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < size; i++)
		if (c[i] != 0)
			return (false);
	return (true);
}

static void
test_pr_zero(void)
{
	struct pool pp;
	pool_init(&pp, 100, 0, 0, 0, "t_zero", NULL, IPL_NONE);
	void *p = pool_get(&pp, PR_WAITOK);
	memset(p, 0xab, 100);
	pool_put(&pp, p);
	/* The item just put comes back first, dirty unless zeroed. */
	void *q = pool_get(&pp, PR_WAITOK);
	CHECK(q == p);
	CHECK(!all_zero(q, 100));
	pool_put(&pp, q);
	q = pool_get(&pp, PR_WAITOK | PR_ZERO);
	CHECK(q == p);
	CHECK(all_zero(q, 100));
	void *r = pool_get(&pp, PR_NOWAIT | PR_ZERO);
	CHECK(r != NULL && all_zero(r, 100));
	pool_put(&pp, q);
	pool_put(&pp, r);
	pool_destroy(&pp);
}

static void
test_hardlimit_fails(void)
{
	struct pool pp;
	pool_init(&pp, 32, 0, 0, 0, "t_limit", NULL, IPL_NONE);
	pool_sethardlimit(&pp, 3, "t_limit: out of items", 3600);
	void *held[4];
	for (int i = 0; i < 3; i++)
		CHECK((held[i] = pool_get(&pp, PR_WAITOK)) != NULL);

	void *more = (void *)1;
	CHECK_WARNING(more = pool_get(&pp, PR_NOWAIT), "t_limit: out of items");
	CHECK(more == NULL);
	/* Within the rate cap: the same failure, silently. */
	CHECK_NO_REPORT(more = pool_get(&pp, PR_WAITOK | PR_LIMITFAIL));
	CHECK(more == NULL);
	CHECK_NO_REPORT(more = pool_get(&pp, PR_NOWAIT));
	CHECK(more == NULL);

	pool_stats_t st = pool_stats_of(&pp);
	CHECK_EQ(st.hardlimit, 3);
	CHECK_EQ(st.nget, 3);
	CHECK_EQ(st.nout, 3);
	CHECK_EQ(st.nfail, 3);
	CHECK_EQ(st.nlimit, 3);
	CHECK_EQ(st.nwait, 0);
	CHECK_EQ(st.maxpages, 1);       /* the limit is the high-water mark */

	/* A put makes room for exactly one. */
	pool_put(&pp, held[0]);
	CHECK((held[0] = pool_get(&pp, PR_NOWAIT)) != NULL);
	CHECK_NO_REPORT(more = pool_get(&pp, PR_NOWAIT));
	CHECK(more == NULL);

	/* A new limit: one more item, and the warning may come again. */
	pool_sethardlimit(&pp, 4, "t_limit: still out of items", 3600);
	CHECK((held[3] = pool_get(&pp, PR_NOWAIT)) != NULL);
	CHECK_WARNING(more = pool_get(&pp, PR_WAITOK | PR_LIMITFAIL),
	    "t_limit: still out of items (pool \"t_limit\": hard limit of 4 "
	    "items reached)");
	CHECK(more == NULL);
	for (int i = 0; i < 4; i++)
		pool_put(&pp, held[i]);
	pool_destroy(&pp);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) != 0)
		continue;
}

static void
test_warning_rate_cap(void)
{
	struct pool pp;
	pool_init(&pp, 16, 0, 0, 0, "t_ratecap", NULL, IPL_NONE);
	void *held = pool_get(&pp, PR_WAITOK);

	/* No rate cap: every failure warns. */
	pool_sethardlimit(&pp, 1, "t_ratecap: full", 0);
	for (int i = 0; i < 3; i++)
		CHECK_WARNING(CHECK(pool_get(&pp, PR_NOWAIT) == NULL),
		    "t_ratecap: full");

	/* One second: once, then silence until the second has passed. */
	pool_sethardlimit(&pp, 1, "t_ratecap: full again", 1);
	CHECK_WARNING(CHECK(pool_get(&pp, PR_NOWAIT) == NULL),
	    "t_ratecap: full again");
	CHECK_NO_REPORT(CHECK(pool_get(&pp, PR_NOWAIT) == NULL));
	sleep_ms(1100);
	CHECK_WARNING(CHECK(pool_get(&pp, PR_NOWAIT) == NULL),
	    "t_ratecap: full again");
	CHECK_NO_REPORT(CHECK(pool_get(&pp, PR_NOWAIT) == NULL));

	/* No message: failures are only counted. */
	pool_sethardlimit(&pp, 1, NULL, 0);
	CHECK_NO_REPORT(CHECK(pool_get(&pp, PR_NOWAIT) == NULL));
	CHECK_EQ(pool_stats_of(&pp).nfail, 8);
	pool_put(&pp, held);
	pool_destroy(&pp);
}

static void
test_allocator_supplies_pages(void)
{
	test_pa_reset(4096);
	struct pool pp;
	pool_init(&pp, 200, 0, 0, 0, "t_palloc", &test_allocator, IPL_VM);
	CHECK_EQ(test_pa.allocs, 0);
	pool_stats_t st = pool_stats_of(&pp);
	CHECK_EQ(st.has_allocator, 1);
	CHECK_EQ(st.page_size, 4096);

	void *items[100];
	for (int i = 0; i < 100; i++) {
		CHECK((items[i] = pool_get(&pp, PR_WAITOK)) != NULL);
		CHECK(test_pa_holds(items[i], 200));
		memset(items[i], 0x5a, 200);
	}
	CHECK(test_pa.last_pool == &pp);
	CHECK_EQ(test_pa.last_flags, PR_WAITOK);
	st = pool_stats_of(&pp);
	unsigned ipp = st.items_per_page;
	CHECK(ipp >= 1 && ipp <= 4096 / 200);
	CHECK_EQ(test_pa.allocs, (100 + ipp - 1) / ipp);
	CHECK_EQ(st.npagealloc, test_pa.allocs);
	CHECK_EQ(st.npages, test_pa.npages);

	/* Reclaim gives the idle pages back through pa_free. */
	for (int i = 0; i < 100; i++)
		pool_put(&pp, items[i]);
	CHECK_EQ(pool_reclaim(&pp), 1);
	CHECK(test_pa.frees >= 1);
	st = pool_stats_of(&pp);
	CHECK_EQ(st.npages, test_pa.npages);
	CHECK_EQ(st.npagefree, test_pa.frees);

	/* A PR_NOWAIT get that needs a page asks pa_alloc with PR_NOWAIT. */
	unsigned before = test_pa.allocs;
	void *all[64];
	int n = 0;
	while (test_pa.allocs == before && n < 64)
		CHECK((all[n++] = pool_get(&pp, PR_NOWAIT)) != NULL);
	CHECK_EQ(test_pa.last_flags, PR_NOWAIT);
	while (n > 0)
		pool_put(&pp, all[--n]);
	pool_destroy(&pp);
	CHECK_EQ(test_pa.npages, 0);
	CHECK_EQ(test_pa.frees, test_pa.allocs);
}

/* Items of more than 1/8 page still come one page per pa_alloc(). */
static void
test_allocator_large_items(void)
{
	test_pa_reset(4096);
	struct pool pp;
	pool_init(&pp, 1500, 0, 0, 0, "t_palloc_large", &test_allocator,
	    IPL_NONE);
	void *items[5];
	for (int i = 0; i < 5; i++) {
		CHECK((items[i] = pool_get(&pp, PR_WAITOK)) != NULL);
		CHECK(test_pa_holds(items[i], 1500));
		memset(items[i], 0x77, 1500);
	}
	pool_stats_t st = pool_stats_of(&pp);
	CHECK_EQ(st.items_per_page, 2);
	CHECK_EQ(st.page_size, 4096);
	CHECK_EQ(test_pa.allocs, 3);
	for (int i = 0; i < 5; i++)
		pool_put(&pp, items[i]);
	pool_destroy(&pp);
	CHECK_EQ(test_pa.npages, 0);

	/* Bigger pages: 3000-byte items two to an 8 KiB page. */
	test_pa_reset(8192);
	pool_init(&pp, 3000, 0, 0, 0, "t_palloc_8k", &test_allocator,
	    IPL_NONE);
	for (int i = 0; i < 5; i++) {
		CHECK((items[i] = pool_get(&pp, PR_WAITOK)) != NULL);
		CHECK(test_pa_holds(items[i], 3000));
	}
	CHECK_EQ(pool_stats_of(&pp).items_per_page, 2);
	CHECK_EQ(test_pa.allocs, 3);
	for (int i = 0; i < 5; i++)
		pool_put(&pp, items[i]);
	pool_destroy(&pp);
	CHECK_EQ(test_pa.npages, 0);
}

static void
test_prime(void)
{
	test_pa_reset(4096);
	struct pool pp;
	pool_init(&pp, 100, 0, 0, 0, "t_prime", &test_allocator, IPL_NONE);
	CHECK_EQ(pool_prime(&pp, 10), 0);
	pool_stats_t st = pool_stats_of(&pp);
	unsigned ipp = st.items_per_page;
	CHECK(ipp >= 10);
	CHECK_EQ(test_pa.allocs, 1);    /* one page holds the ten */
	CHECK_EQ(st.minpages, 1);
	CHECK_EQ(st.nreserved, ipp);    /* the whole page is set aside */
	CHECK_EQ(st.reserve_target, ipp);
	CHECK_EQ(st.nout, 0);

	/* No page can be had now, yet the primed items are there. */
	test_pa.fail = true;
	void *items[256];
	CHECK(ipp <= 256);
	for (unsigned i = 0; i < ipp; i++) {
		CHECK((items[i] = pool_get(&pp, PR_NOWAIT)) != NULL);
		CHECK(test_pa_holds(items[i], 100));
	}
	CHECK(pool_get(&pp, PR_NOWAIT) == NULL);
	st = pool_stats_of(&pp);
	CHECK_EQ(test_pa.allocs, 1);
	CHECK_EQ(st.nfail, 1);
	CHECK_EQ(st.nget, ipp);
	CHECK_EQ(st.nreserved, 0);

	/* Puts refill the reserve first. */
	test_pa.fail = false;
	for (unsigned i = 0; i < ipp; i++)
		pool_put(&pp, items[i]);
	st = pool_stats_of(&pp);
	CHECK_EQ(st.nreserved, ipp);
	CHECK_EQ(st.nout, 0);
	/* A failing allocator makes pool_prime() say ENOMEM. */
	test_pa.fail = true;
	CHECK_EQ(pool_prime(&pp, 1), ENOMEM);
	test_pa.fail = false;
	pool_destroy(&pp);
	CHECK_EQ(test_pa.npages, 0);
}

static void
test_setlowat(void)
{
	struct pool pp;
	pool_init(&pp, 64, 0, 0, 0, "t_lowat", NULL, IPL_NONE);
	pool_setlowat(&pp, 5);
	pool_stats_t st = pool_stats_of(&pp);
	CHECK_EQ(st.minitems, 5);
	CHECK_EQ(st.reserve_target, 5);
	CHECK_EQ(st.nreserved, 5);
	CHECK_EQ(st.minpages, 1);
	CHECK_EQ(st.nout, 0);
	pool_setlowat(&pp, 2);
	st = pool_stats_of(&pp);
	CHECK_EQ(st.nreserved, 2);
	CHECK_EQ(st.reserve_target, 2);
	pool_setlowat(&pp, 0);
	st = pool_stats_of(&pp);
	CHECK_EQ(st.nreserved, 0);
	CHECK_EQ(st.minpages, 0);
	pool_destroy(&pp);
}

typedef struct drain_ctx {
	struct pool *pp;
	void *give_back;                /* put this back when called */
	int calls;
	int flags;
	void *arg_seen;
} drain_ctx_t;

static void
drain_hook(void *arg, int flags)
{
	drain_ctx_t *ctx = arg;
	ctx->calls++;
	ctx->flags = flags;
	ctx->arg_seen = arg;
	if (ctx->give_back != NULL) {
		pool_put(ctx->pp, ctx->give_back);
		ctx->give_back = NULL;
	}
}

static void
test_drain_hook(void)
{
	struct pool pp;
	drain_ctx_t ctx = { &pp, NULL, 0, 0, NULL };
	pool_init(&pp, 24, 0, 0, 0, "t_drain", NULL, IPL_NONE);
	pool_set_drain_hook(&pp, drain_hook, &ctx);

	CHECK_EQ(pool_reclaim(&pp), 0);         /* nothing to give back */
	CHECK_EQ(ctx.calls, 1);
	CHECK_EQ(ctx.flags, PR_NOWAIT);
	CHECK(ctx.arg_seen == &ctx);

	/* At the hard limit the hook runs first, and what it frees is used. */
	pool_sethardlimit(&pp, 2, "t_drain: full", 0);
	void *a = pool_get(&pp, PR_WAITOK);
	void *b = pool_get(&pp, PR_WAITOK);
	ctx.give_back = a;
	void *c = NULL;
	CHECK_NO_REPORT(c = pool_get(&pp, PR_NOWAIT));
	CHECK(c != NULL);
	CHECK_EQ(ctx.calls, 2);
	CHECK_EQ(ctx.flags, PR_NOWAIT);
	/* A hook that frees nothing: the get fails after it. */
	CHECK_WARNING(CHECK(pool_get(&pp, PR_WAITOK | PR_LIMITFAIL) == NULL),
	    "t_drain: full");
	CHECK_EQ(ctx.calls, 3);
	CHECK_EQ(ctx.flags, PR_WAITOK | PR_LIMITFAIL);
	CHECK_EQ(pool_stats_of(&pp).ndrain, 3);
	pool_put(&pp, b);
	pool_put(&pp, c);
	pool_destroy(&pp);
}

static void
test_hiwat_gives_pages_back(void)
{
	enum { N = 3000 };
	static void *items[N];
	struct pool keep, trim;
	pool_init(&keep, 64, 0, 0, 0, "t_nohiwat", NULL, IPL_NONE);
	pool_init(&trim, 64, 0, 0, 0, "t_hiwat", NULL, IPL_NONE);
	pool_sethiwat(&trim, 0);
	CHECK_EQ(pool_stats_of(&trim).maxpages, 0);

	for (int round = 0; round < 2; round++) {
		struct pool *pp = round == 0 ? &keep : &trim;
		for (int i = 0; i < N; i++)
			CHECK((items[i] = pool_get(pp, PR_WAITOK)) != NULL);
		for (int i = 0; i < N; i++)
			pool_put(pp, items[i]);
	}
	pool_stats_t k = pool_stats_of(&keep), t = pool_stats_of(&trim);
	CHECK_EQ(k.npages, k.hiwat_pages);      /* kept them all */
	CHECK(t.hiwat_pages >= N / t.items_per_page);
	CHECK(t.npages < t.hiwat_pages / 2);    /* gave most back */
	CHECK(t.npagefree > 0);
	pool_destroy(&keep);
	pool_destroy(&trim);
}

static void
count_pool(void *arg, const pool_stats_t *st)
{
	if (strcmp(st->name, "t_table") == 0)
		(*(int *)arg)++;
}

static void
test_table_and_walk(void)
{
	static test_lines_t tl;
	struct pool pp;
	pool_init(&pp, 72, 0, 0, 0, "t_table", NULL, IPL_NONE);
	void *a = pool_get(&pp, PR_WAITOK);
	void *b = pool_get(&pp, PR_WAITOK);
	void *c = pool_get(&pp, PR_WAITOK);
	pool_put(&pp, b);
	pool_sethiwat(&pp, 1000);
	pool_stats_t st = pool_stats_of(&pp);

	tl.n = 0;
	pool_table(test_lines_emit, &tl);
	CHECK(tl.n >= 4);
	CHECK(strcmp(tl.line[0], "Memory resource pool statistics") == 0);
	char w[16][64];
	const char *head[] = { "Name", "Size", "Requests", "Fail", "Releases",
		"Pgreq", "Pgrel", "Npage", "Hiwat", "Minpg", "Maxpg", "Idle" };
	CHECK_EQ(test_words(tl.line[1], w, 16), 12);
	for (int i = 0; i < 12; i++)
		CHECK(strcmp(w[i], head[i]) == 0);

	const char *row = test_lines_find(&tl, "t_table ");
	CHECK(row != NULL);
	CHECK_EQ(test_words(row, w, 16), 12);
	char expect[12][64];
	snprintf(expect[0], 64, "t_table");
	snprintf(expect[1], 64, "72");
	snprintf(expect[2], 64, "3");
	snprintf(expect[3], 64, "0");
	snprintf(expect[4], 64, "1");
	snprintf(expect[5], 64, "%llu", (unsigned long long)st.npagealloc);
	snprintf(expect[6], 64, "%llu", (unsigned long long)st.npagefree);
	snprintf(expect[7], 64, "%llu", (unsigned long long)st.npages);
	snprintf(expect[8], 64, "%llu", (unsigned long long)st.hiwat_pages);
	snprintf(expect[9], 64, "0");
	snprintf(expect[10], 64, "%u", (1000 + st.items_per_page - 1) /
	    st.items_per_page);
	snprintf(expect[11], 64, "%llu", (unsigned long long)st.nidle);
	for (int i = 0; i < 12; i++)
		CHECK(strcmp(w[i], expect[i]) == 0);
	CHECK(strncmp(tl.line[tl.n - 1], "In use ", 7) == 0);
	CHECK(strstr(tl.line[tl.n - 1], "total allocated") != NULL);

	int seen = 0;
	pool_walk(count_pool, &seen);
	CHECK_EQ(seen, 1);
	pool_put(&pp, a);
	pool_put(&pp, c);
	pool_destroy(&pp);
	seen = 0;
	pool_walk(count_pool, &seen);
	CHECK_EQ(seen, 0);
}

static const check_test_t tests[] = {
	CHECK_TEST(test_get_put_counts),
	CHECK_TEST(test_alignment),
	CHECK_TEST(test_pr_zero),
	CHECK_TEST(test_hardlimit_fails),
	CHECK_TEST(test_warning_rate_cap),
	CHECK_TEST(test_allocator_supplies_pages),
	CHECK_TEST(test_allocator_large_items),
	CHECK_TEST(test_prime),
	CHECK_TEST(test_setlowat),
	CHECK_TEST(test_drain_hook),
	CHECK_TEST(test_hiwat_gives_pages_back),
	CHECK_TEST(test_table_and_walk),
};

int
main(int argc, char **argv)
{
	return (test_main(tests, sizeof (tests) / sizeof (tests[0]), argc,
	    argv));
}
