/*
 * pool_cache(9): constructors and destructors with NetBSD's argument
 * order, called once per object and not per get (objects stay constructed
 * while cached), a failing constructor, invalidation running the
 * destructors, destroy running the rest, the drain hook on reclaim (the
 * cache's and kmem's), the physical address, the low-water mark keeping
 * constructed objects, the hard limit, and PR_ZERO on a cache without a
 * constructor.
 */
#include <stdint.h>
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/pool.h>

#include "netbsd_test.h"

#define CTX_MAGIC       0xc0c0c0c0u
#define OBJ_CONSTRUCTED 0x600dull
#define OBJ_DESTRUCTED  0xdeadull

typedef struct object {
	uint64_t state;
	uint64_t serial;                /* which constructor call */
	uint64_t user;                  /* what the user wrote */
	char pad[40];
} object_t;

#define LOG_MAX 256

typedef struct ctx {
	uint32_t magic;
	int ctor_calls;
	int dtor_calls;
	int last_flags;
	bool fail;
	void *dtor_log[LOG_MAX];
	int drain_calls;
	int drain_flags;
} ctx_t;

/* NetBSD's order: the cache's argument first, then the object. */
static int
ctor(void *arg, void *obj, int flags)
{
	ctx_t *c = arg;
	CHECK_EQ(c->magic, CTX_MAGIC);
	c->last_flags = flags;
	if (c->fail)
		return (1);
	object_t *o = obj;
	o->state = OBJ_CONSTRUCTED;
	o->serial = (uint64_t)++c->ctor_calls;
	o->user = 0;
	return (0);
}

static void
dtor(void *arg, void *obj)
{
	ctx_t *c = arg;
	CHECK_EQ(c->magic, CTX_MAGIC);
	object_t *o = obj;
	CHECK_EQ(o->state, OBJ_CONSTRUCTED);
	o->state = OBJ_DESTRUCTED;
	CHECK(c->dtor_calls < LOG_MAX);
	c->dtor_log[c->dtor_calls++] = obj;
}

static bool
destructed(const ctx_t *c, const void *obj)
{
	for (int i = 0; i < c->dtor_calls; i++)
		if (c->dtor_log[i] == obj)
			return (true);
	return (false);
}

static pool_stats_t
cache_stats(pool_cache_t pc)
{
	pool_stats_t st;
	CHECK_EQ(pool_cache_stats(pc, &st), 0);
	return (st);
}

static void
test_constructed_once_then_cached(void)
{
	static ctx_t c = { .magic = CTX_MAGIC };
	pool_cache_t pc = pool_cache_init(sizeof (object_t), 0, 0, 0,
	    "t_pcache", NULL, IPL_NONE, ctor, dtor, &c);
	CHECK(pc != NULL);
	CHECK_EQ(c.ctor_calls, 0);

	object_t *objs[10];
	for (int i = 0; i < 10; i++) {
		objs[i] = pool_cache_get(pc, PR_WAITOK);
		CHECK(objs[i] != NULL);
		CHECK_EQ(objs[i]->state, OBJ_CONSTRUCTED);
		CHECK_EQ(objs[i]->serial, i + 1);
		objs[i]->user = 1234;
	}
	CHECK_EQ(c.ctor_calls, 10);
	CHECK_EQ(c.last_flags, PR_WAITOK);
	for (int i = 0; i < 10; i++)
		pool_cache_put(pc, objs[i]);
	CHECK_EQ(c.dtor_calls, 0);

	/* The same objects come back constructed, as the user left them. */
	object_t *again[10];
	for (int i = 0; i < 10; i++) {
		again[i] = pool_cache_get(pc, PR_WAITOK);
		CHECK_EQ(again[i]->state, OBJ_CONSTRUCTED);
		CHECK_EQ(again[i]->user, 1234);
		bool known = false;
		for (int j = 0; j < 10; j++)
			known |= again[i] == objs[j];
		CHECK(known);
	}
	CHECK_EQ(c.ctor_calls, 10);
	for (int i = 0; i < 10; i++)
		pool_cache_put(pc, again[i]);

	pool_stats_t st = cache_stats(pc);
	CHECK_EQ(st.is_cache, 1);
	CHECK_EQ(st.nget, 20);
	CHECK_EQ(st.nput, 20);
	CHECK_EQ(st.nconstruct, 10);
	CHECK_EQ(st.ndestruct, 0);
	CHECK_EQ(st.ncached, 10);

	/* Invalidation destroys every cached object. */
	pool_cache_invalidate(pc);
	CHECK_EQ(c.dtor_calls, 10);
	for (int i = 0; i < 10; i++)
		CHECK(destructed(&c, objs[i]));
	st = cache_stats(pc);
	CHECK_EQ(st.ndestruct, 10);
	CHECK_EQ(st.ncached, 0);

	/* Now a get constructs again, with the caller's flags. */
	object_t *o = pool_cache_get(pc, PR_NOWAIT);
	CHECK(o != NULL && o->serial == 11);
	CHECK_EQ(c.last_flags, PR_NOWAIT);
	pool_cache_put(pc, o);
	pool_cache_destroy(pc);
	CHECK_EQ(c.ctor_calls, 11);
	CHECK_EQ(c.dtor_calls, 11);
}

static void
test_constructor_fails(void)
{
	static ctx_t c = { .magic = CTX_MAGIC };
	pool_cache_t pc = pool_cache_init(sizeof (object_t), 0, 0, 0,
	    "t_pcache_fail", NULL, IPL_NONE, ctor, dtor, &c);
	c.fail = true;
	CHECK(pool_cache_get(pc, PR_WAITOK) == NULL);
	CHECK(pool_cache_get(pc, PR_NOWAIT) == NULL);
	pool_stats_t st = cache_stats(pc);
	CHECK_EQ(st.nfail, 2);
	CHECK_EQ(st.nget, 0);
	CHECK_EQ(st.nout, 0);
	c.fail = false;
	object_t *o = pool_cache_get(pc, PR_WAITOK);
	CHECK(o != NULL && o->state == OBJ_CONSTRUCTED);
	pool_cache_put(pc, o);
	pool_cache_destroy(pc);
	CHECK_EQ(c.ctor_calls, 1);
	CHECK_EQ(c.dtor_calls, 1);      /* never for a failed construction */
}

static void
drain(void *arg, int flags)
{
	ctx_t *c = arg;
	CHECK_EQ(c->magic, CTX_MAGIC);
	c->drain_calls++;
	c->drain_flags = flags;
}

static void
test_drain_hook_on_reclaim(void)
{
	static ctx_t c = { .magic = CTX_MAGIC };
	pool_cache_t pc = pool_cache_init(sizeof (object_t), 0, 0, 0,
	    "t_pcache_drain", NULL, IPL_NONE, ctor, dtor, &c);
	pool_cache_set_drain_hook(pc, drain, &c);
	object_t *objs[30];
	for (int i = 0; i < 30; i++)
		objs[i] = pool_cache_get(pc, PR_WAITOK);
	for (int i = 0; i < 30; i++)
		pool_cache_put(pc, objs[i]);

	CHECK_EQ(pool_cache_reclaim(pc), 1);
	CHECK_EQ(c.drain_calls, 1);
	CHECK_EQ(c.drain_flags, PR_NOWAIT);
	CHECK_EQ(c.dtor_calls, 30);     /* reclaim destructs the cache too */
	/* kmem's own reap, under memory pressure, asks the hook as well. */
	kmem_reap();
	CHECK_EQ(c.drain_calls, 2);
	CHECK_EQ(cache_stats(pc).ndrain, 2);
	pool_cache_destroy(pc);
}

static void
test_paddr(void)
{
	pool_cache_t pc = pool_cache_init(128, 64, 0, 0, "t_pcache_paddr",
	    NULL, IPL_VM, NULL, NULL, NULL);
	pool_paddr_t pa = 0;
	void *obj = pool_cache_get_paddr(pc, PR_WAITOK, &pa);
	CHECK(obj != NULL);
	CHECK_EQ(pa, (uintptr_t)obj);
	CHECK_EQ((uintptr_t)obj % 64, 0);
	pool_cache_put_paddr(pc, obj, pa);
	CHECK_EQ(cache_stats(pc).nout, 0);
	pool_cache_destroy(pc);
}

static void
test_lowat_keeps_constructed(void)
{
	static ctx_t c = { .magic = CTX_MAGIC };
	pool_cache_t pc = pool_cache_init(sizeof (object_t), 0, 0, 0,
	    "t_pcache_lowat", NULL, IPL_NONE, ctor, dtor, &c);
	pool_cache_setlowat(pc, 4);
	pool_stats_t st = cache_stats(pc);
	CHECK_EQ(st.nreserved, 4);
	CHECK_EQ(st.minitems, 4);
	CHECK_EQ(c.ctor_calls, 4);      /* set aside constructed */
	/* Invalidation renews them: four destructed, four constructed. */
	pool_cache_invalidate(pc);
	CHECK_EQ(c.dtor_calls, 4);
	CHECK_EQ(c.ctor_calls, 8);
	CHECK_EQ(cache_stats(pc).nreserved, 4);
	pool_cache_sethiwat(pc, 100);
	CHECK_EQ(cache_stats(pc).maxpages,
	    (100 + st.items_per_page - 1) / st.items_per_page);
	pool_cache_destroy(pc);
	CHECK_EQ(c.dtor_calls, 8);
}

static void
test_cache_hardlimit(void)
{
	pool_cache_t pc = pool_cache_init(32, 0, 0, 0, "t_pcache_limit", NULL,
	    IPL_NONE, NULL, NULL, NULL);
	pool_cache_sethardlimit(pc, 1, "t_pcache_limit: full", 60);
	void *a = pool_cache_get(pc, PR_WAITOK);
	CHECK(a != NULL);
	CHECK_WARNING(CHECK(pool_cache_get(pc, PR_NOWAIT) == NULL),
	    "t_pcache_limit: full");
	CHECK_NO_REPORT(CHECK(pool_cache_get(pc, PR_WAITOK | PR_LIMITFAIL) ==
	    NULL));
	pool_cache_put(pc, a);
	void *b = pool_cache_get(pc, PR_NOWAIT);
	CHECK(b == a);
	pool_stats_t st = cache_stats(pc);
	CHECK_EQ(st.nfail, 2);
	CHECK_EQ(st.hardlimit, 1);
	pool_cache_put(pc, b);
	pool_cache_destroy(pc);
}

static void
test_zero_without_constructor(void)
{
	pool_cache_t pc = pool_cache_init(200, 0, 0, 0, "t_pcache_zero", NULL,
	    IPL_NONE, NULL, NULL, NULL);
	unsigned char *p = pool_cache_get(pc, PR_WAITOK);
	memset(p, 0xee, 200);
	pool_cache_put(pc, p);
	unsigned char *q = pool_cache_get(pc, PR_WAITOK | PR_ZERO);
	CHECK(q == p);
	for (int i = 0; i < 200; i++)
		CHECK_EQ(q[i], 0);
	pool_cache_put(pc, q);
	pool_cache_destroy(pc);
}

static const check_test_t tests[] = {
	CHECK_TEST(test_constructed_once_then_cached),
	CHECK_TEST(test_constructor_fails),
	CHECK_TEST(test_drain_hook_on_reclaim),
	CHECK_TEST(test_paddr),
	CHECK_TEST(test_lowat_keeps_constructed),
	CHECK_TEST(test_cache_hardlimit),
	CHECK_TEST(test_zero_without_constructor),
};

int
main(int argc, char **argv)
{
	return (test_main(tests, sizeof (tests) / sizeof (tests[0]), argc,
	    argv));
}
