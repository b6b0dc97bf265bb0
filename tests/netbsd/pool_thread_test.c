/*
 * pool(9), pool_cache(9) and malloc(9) limits with threads: a PR_WAITOK
 * get at the hard limit sleeps until another thread puts an item back (or
 * the limit rises), never more items out than the limit under contention,
 * constructed objects shared between threads with every constructor
 * matched by a destructor, an M_WAITOK allocation at a malloc type's
 * limit sleeping until a free, and fork() while other threads use pools.  Labelled "threaded": it runs under TSan.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <kmem/mtype.h>
#include <kmem/pool.h>

#include "netbsd_test.h"

#define THREADS 4

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) != 0)
		continue;
}

/* Wait (up to ten seconds) until the pool has counted `waits` sleepers. */
static void
await_sleepers(struct pool *pp, uint64_t waits)
{
	for (int i = 0; pool_stats_of(pp).nwait < waits; i++) {
		CHECK(i < 10000);
		sleep_ms(1);
	}
}

typedef struct getter {
	struct pool *pp;
	void *item;
	int done;
} getter_t;

static void *
get_waitok(void *arg)
{
	getter_t *g = arg;
	void *item = pool_get(g->pp, PR_WAITOK);
	__atomic_store_n(&g->item, item, __ATOMIC_RELEASE);
	__atomic_store_n(&g->done, 1, __ATOMIC_RELEASE);
	return (NULL);
}

static void
test_hardlimit_blocks_until_put(void)
{
	struct pool pp;
	pool_init(&pp, 64, 0, 0, 0, "t_block", NULL, IPL_NONE);
	pool_sethardlimit(&pp, 2, "t_block: full", 0);
	void *a = pool_get(&pp, PR_WAITOK);
	void *b = pool_get(&pp, PR_WAITOK);

	getter_t g = { &pp, NULL, 0 };
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, get_waitok, &g), 0);
	await_sleepers(&pp, 1);
	sleep_ms(50);
	/* Still asleep: no item, and no warning for a waiting get. */
	CHECK_EQ(__atomic_load_n(&g.done, __ATOMIC_ACQUIRE), 0);
	CHECK_EQ(pool_stats_of(&pp).nout, 2);

	pool_put(&pp, a);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(g.done, 1);
	CHECK(g.item != NULL);
	pool_stats_t st = pool_stats_of(&pp);
	CHECK_EQ(st.nout, 2);
	CHECK_EQ(st.nwait, 1);
	CHECK_EQ(st.nfail, 0);
	CHECK_EQ(st.nget, 3);

	/* Raising the limit lets a sleeper in too. */
	getter_t h = { &pp, NULL, 0 };
	CHECK_EQ(pthread_create(&t, NULL, get_waitok, &h), 0);
	await_sleepers(&pp, 2);
	sleep_ms(20);
	CHECK_EQ(__atomic_load_n(&h.done, __ATOMIC_ACQUIRE), 0);
	pool_sethardlimit(&pp, 3, "t_block: full", 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK(h.item != NULL);
	CHECK_EQ(pool_stats_of(&pp).nout, 3);

	pool_put(&pp, b);
	pool_put(&pp, g.item);
	pool_put(&pp, h.item);
	pool_destroy(&pp);
}

/* ---- many threads against a small limit ---- */

#define LIMIT 2
#define ROUNDS 20000

static struct pool stress_pool;
static unsigned held_now;               /* items held, all threads */
static unsigned held_most;

static void *
stress_thread(void *arg)
{
	uint64_t seed = (uintptr_t)arg;
	for (int i = 0; i < ROUNDS; i++) {
		unsigned char *item = pool_get(&stress_pool, PR_WAITOK);
		CHECK(item != NULL);
		unsigned now = __atomic_add_fetch(&held_now, 1,
		    __ATOMIC_SEQ_CST);
		CHECK(now <= LIMIT);
		unsigned most = __atomic_load_n(&held_most, __ATOMIC_RELAXED);
		while (now > most && !__atomic_compare_exchange_n(&held_most,
		    &most, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			continue;
		unsigned char mark = (unsigned char)check_random(&seed);
		memset(item, mark, 48);
		for (int j = 0; j < 48; j++)
			CHECK_EQ(item[j], mark);
		__atomic_sub_fetch(&held_now, 1, __ATOMIC_SEQ_CST);
		pool_put(&stress_pool, item);
	}
	return (NULL);
}

static void
test_limit_under_contention(void)
{
	pool_init(&stress_pool, 48, 0, 0, 0, "t_stress", NULL, IPL_NONE);
	pool_sethardlimit(&stress_pool, LIMIT, "t_stress: full", 0);
	pthread_t t[THREADS];
	for (uintptr_t i = 0; i < THREADS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, stress_thread,
		    (void *)(i + 1)), 0);
	for (int i = 0; i < THREADS; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	pool_stats_t st = pool_stats_of(&stress_pool);
	CHECK_EQ(st.nout, 0);
	CHECK_EQ(st.nget, THREADS * ROUNDS);
	CHECK_EQ(st.nput, THREADS * ROUNDS);
	CHECK_EQ(st.nfail, 0);
	CHECK(held_most <= LIMIT);
	pool_destroy(&stress_pool);
}

/* ---- constructed objects across threads ---- */

#define OBJ_MAGIC 0x0b1ec7edu

static unsigned constructed, destructed;
static int ctor_arg_marker;

static int
obj_ctor(void *arg, void *obj, int flags)
{
	CHECK(arg == &ctor_arg_marker);
	CHECK(flags == PR_WAITOK || flags == PR_NOWAIT);
	*(uint32_t *)obj = OBJ_MAGIC;
	__atomic_fetch_add(&constructed, 1, __ATOMIC_RELAXED);
	return (0);
}

static void
obj_dtor(void *arg, void *obj)
{
	CHECK(arg == &ctor_arg_marker);
	CHECK_EQ(*(uint32_t *)obj, OBJ_MAGIC);
	*(uint32_t *)obj = 0;
	__atomic_fetch_add(&destructed, 1, __ATOMIC_RELAXED);
}

static pool_cache_t shared_cache;

static void *
cache_thread(void *arg)
{
	uint64_t seed = (uintptr_t)arg;
	void *held[16];
	int n = 0;
	for (int i = 0; i < ROUNDS; i++) {
		if (n < 16 && (n == 0 || check_random(&seed) % 2 == 0)) {
			void *obj = pool_cache_get(shared_cache, PR_WAITOK);
			CHECK(obj != NULL);
			CHECK_EQ(*(uint32_t *)obj, OBJ_MAGIC);
			held[n++] = obj;
		} else {
			pool_cache_put(shared_cache, held[--n]);
		}
	}
	while (n > 0)
		pool_cache_put(shared_cache, held[--n]);
	return (NULL);
}

static void
test_cache_shared_by_threads(void)
{
	shared_cache = pool_cache_init(96, 32, 0, 0, "t_shared", NULL,
	    IPL_NONE, obj_ctor, obj_dtor, &ctor_arg_marker);
	CHECK(shared_cache != NULL);
	pthread_t t[THREADS];
	for (uintptr_t i = 0; i < THREADS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, cache_thread,
		    (void *)(i + 7)), 0);
	for (int i = 0; i < THREADS; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	pool_stats_t st;
	CHECK_EQ(pool_cache_stats(shared_cache, &st), 0);
	CHECK_EQ(st.nout, 0);
	CHECK_EQ(st.nget, st.nput);
	CHECK_EQ(st.nconstruct, constructed);
	CHECK(constructed >= 16);
	pool_cache_destroy(shared_cache);
	CHECK_EQ(destructed, constructed);
}

/* ---- malloc(9): M_WAITOK at a type's limit ---- */

MALLOC_DEFINE_LIMIT(M_TLIMIT, "t_limit_wait", "thread test", 4096);

typedef struct allocator_thread {
	void *mem;
	int done;
} allocator_thread_t;

static void *
malloc_waitok(void *arg)
{
	allocator_thread_t *a = arg;
	void *mem = mtype_malloc(1000, M_TLIMIT, M_WAITOK);
	__atomic_store_n(&a->mem, mem, __ATOMIC_RELEASE);
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return (NULL);
}

static void
test_malloc_limit_waits_for_free(void)
{
	void *held[4];
	for (int i = 0; i < 4; i++)
		CHECK((held[i] = mtype_malloc(1000, M_TLIMIT, M_WAITOK)) !=
		    NULL);
	mtype_stats_t st;
	CHECK_EQ(mtype_stats(M_TLIMIT, &st), 0);
	CHECK_EQ(st.mem_inuse, 4096);

	allocator_thread_t a = { NULL, 0 };
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, malloc_waitok, &a), 0);
	for (int i = 0; st.limit_waits == 0; i++) {
		CHECK(i < 10000);
		sleep_ms(1);
		CHECK_EQ(mtype_stats(M_TLIMIT, &st), 0);
	}
	sleep_ms(50);
	CHECK_EQ(__atomic_load_n(&a.done, __ATOMIC_ACQUIRE), 0);
	mtype_free(held[0], M_TLIMIT);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK(a.mem != NULL);
	CHECK_EQ(mtype_stats(M_TLIMIT, &st), 0);
	CHECK_EQ(st.inuse, 4);
	CHECK_EQ(st.mem_inuse, 4096);
	CHECK_EQ(st.mem_max, 4096);
	CHECK_EQ(st.limit_hits, 1);
	CHECK_EQ(st.limit_waits, 1);
	CHECK_EQ(st.fails, 0);
	mtype_free(a.mem, M_TLIMIT);
	for (int i = 1; i < 4; i++)
		mtype_free(held[i], M_TLIMIT);
}

/* ---- fork while other threads use pools and malloc types ---- */

MALLOC_DEFINE(M_FORKED, "forked", "the fork test");

static int fork_stop;

static void *
churn(void *arg)
{
	struct pool *pp = arg;
	while (!__atomic_load_n(&fork_stop, __ATOMIC_ACQUIRE)) {
		void *item = pool_get(pp, PR_WAITOK);
		void *mem = mtype_malloc(100, M_FORKED, M_WAITOK);
		pool_put(pp, item);
		mtype_free(mem, M_FORKED);
	}
	return (NULL);
}

/*
 * fork() takes every pool's and malloc type's lock (kmem_fork.c), so a child
 * forked while other threads hold them finds them free: it gets, puts,
 * allocates and frees, and exits.  A child that hangs on an inherited lock
 * is killed by its alarm and fails the test.
 */
static void
test_fork_while_threads_use_pools(void)
{
	struct pool pp;
	pool_init(&pp, 64, 0, 0, 0, "t_fork", NULL, IPL_NONE);
	pthread_t t[THREADS];
	__atomic_store_n(&fork_stop, 0, __ATOMIC_RELEASE);
	for (int i = 0; i < THREADS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, churn, &pp), 0);
	for (int round = 0; round < 20; round++) {
		fflush(NULL);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			alarm(10);
			for (int i = 0; i < 1000; i++) {
				void *item = pool_get(&pp, PR_WAITOK);
				void *mem = mtype_malloc(64, M_FORKED, M_WAITOK);
				if (item == NULL || mem == NULL)
					_exit(2);
				pool_put(&pp, item);
				mtype_free(mem, M_FORKED);
			}
			_exit(0);
		}
		int status;
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	__atomic_store_n(&fork_stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < THREADS; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	pool_destroy(&pp);
}

static const check_test_t tests[] = {
	CHECK_TEST(test_hardlimit_blocks_until_put),
	CHECK_TEST(test_limit_under_contention),
	CHECK_TEST(test_cache_shared_by_threads),
	CHECK_TEST(test_malloc_limit_waits_for_free),
	CHECK_TEST(test_fork_while_threads_use_pools),
};

int
main(int argc, char **argv)
{
	return (test_main(tests, sizeof (tests) / sizeof (tests[0]), argc,
	    argv));
}
