/*
 * kmem_threads: allocation from two threads, for kmem (kmem_cache_alloc and
 * kmem_alloc) and for malloc of glibc, jemalloc, mimalloc and tcmalloc
 * (each in its own process, through LD_PRELOAD: see peers.h).  Objects
 * are 64 bytes; the kmem_cache column uses one cache that both threads
 * share, as two threads of a program would.
 *
 * kmem grows a cache's magazines when its depot lock was found busy more
 * than a few times since the last check, checking at once from the slow
 * path (at most every 10 ms) as well as at each update: the kmem_cache
 * column starts with small magazines and grows them during the warm-up.
 * The kmem_cache_grown column is a second cache whose magazines were first
 * grown by two threads allocating from it under an update interval of 1 ms
 * (then the default interval is restored).  The "magazines" table gives both caches' magazine sizes and
 * how often their depot lock was found busy.
 *
 * Thread-private work, on 1 and then on 2 threads, each thread doing the
 * same work as the single one:
 * - pair: allocate one object and free it at once;
 * - batch: allocate 100 objects, then free the 100.
 * The throughput is all threads' alloc+free pairs over the wall-clock time
 * of a timed run; "scaling" is the 2-thread throughput over the 1-thread
 * one (2.0 would be perfect; the target for kmem is at least 1.9).
 *
 * Producer/consumer: one thread allocates objects, writes a sequence
 * number into each and passes it through a single-producer,
 * single-consumer ring of 256 slots to the other thread, which checks the
 * number and frees the object.  Every free is a free of another thread's
 * allocation.  A thread that finds the ring full or empty spins, and
 * yields the CPU after SPINS tries, so that the pair keeps going when
 * something else runs on the machine.
 *
 * Each timed run of the harness starts its threads and joins them, so
 * every run includes a thread's first use of the allocator and its exit
 * (kmem: magazines back to the depot); the runs last at least 10 ms, and
 * thread creation costs tens of microseconds.
 *
 * Usage: kmem_threads [--quick] [--markdown] [--runs N]
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <kmem/kmem.h>

#include "harness.h"
#include "peers.h"

#define OBJ_SIZE        64
#define BATCH           100
#define RING_SIZE       256     /* a power of two */
#define CACHE_LINE      64
#define SPINS           1000

static const char *const columns[] = { "glibc", "jemalloc", "mimalloc",
	"tcmalloc", "kmem_malloc", "kmem_cache", "kmem_alloc",
	"kmem_cache_grown" };

#define NCOLUMNS (sizeof (columns) / sizeof (columns[0]))

static const char *const kmem_columns[] = { "kmem_cache",
	"kmem_cache_grown" };

#define UPDATE_DEFAULT_NS       (15ull * 1000 * 1000 * 1000)
#define UPDATE_GROW_NS          (1000ull * 1000)
#define GROW_ROUNDS             100
#define GROW_BATCHES            2000    /* a few ms: the threads overlap */

static const peer_table_t tables[] = {
	{ "throughput", "kmem_threads: throughput, 64-byte objects",
	    "work", "median million alloc+free pairs per second, all threads "
	    "together (higher is better)", NCOLUMNS, columns, true },
	{ "scaling", "kmem_threads: 2 threads over 1 thread, thread-private "
	    "work", "work", "median of each run's 2-thread throughput over "
	    "its 1-thread throughput (2.00 is perfect)", NCOLUMNS, columns,
	    false },
	{ "magazines", "kmem_threads: the kmem caches' magazines", "what",
	    "rounds per magazine at the end; times the depot lock was found "
	    "busy, over the whole run", 2, kmem_columns, false },
};

#define NTABLES (sizeof (tables) / sizeof (tables[0]))

enum api { API_MALLOC, API_CACHE, API_KMEM_ALLOC };

/* The allocator one column measures. */
typedef struct allocator {
	enum api api;
	kmem_cache_t *cache;
} allocator_t;

/* Keep p alive in the compiler's eyes. */
#define USE(p)  __asm__ volatile("" : : "r"(p) : "memory")

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "kmem_threads: %s\n", what);
	exit(1);
}

static void *
obj_alloc(const allocator_t *a)
{
	void *p;
	switch (a->api) {
	case API_CACHE:
		p = kmem_cache_alloc(a->cache, KM_SLEEP);
		break;
	case API_KMEM_ALLOC:
		p = kmem_alloc(OBJ_SIZE, KM_SLEEP);
		break;
	default:
		p = malloc(OBJ_SIZE);
		break;
	}
	if (p == NULL)
		die("out of memory");
	return (p);
}

static void
obj_free(const allocator_t *a, void *p)
{
	switch (a->api) {
	case API_CACHE:
		kmem_cache_free(a->cache, p);
		break;
	case API_KMEM_ALLOC:
		kmem_free(p, OBJ_SIZE);
		break;
	default:
		free(p);
		break;
	}
}

/* ---- thread-private work ---- */

enum pattern { PATTERN_PAIR, PATTERN_BATCH };

typedef struct private_arg {
	const allocator_t *alloc;
	enum pattern pattern;
	unsigned nthreads;
} private_arg_t;

typedef struct private_thread {
	const private_arg_t *arg;
	uint64_t iterations;
	pthread_t thread;
} private_thread_t;

static void *
private_main(void *v)
{
	private_thread_t *pt = v;
	const allocator_t *a = pt->arg->alloc;
	void *objs[BATCH];

	for (uint64_t i = 0; i < pt->iterations; i++) {
		if (pt->arg->pattern == PATTERN_PAIR) {
			void *p = obj_alloc(a);
			USE(p);
			obj_free(a, p);
			continue;
		}
		for (int j = 0; j < BATCH; j++) {
			objs[j] = obj_alloc(a);
			USE(objs[j]);
		}
		for (int j = 0; j < BATCH; j++)
			obj_free(a, objs[j]);
	}
	return (NULL);
}

/* Every thread does `iterations` units (a pair, or a batch of 100). */
static void
private_run(void *arg, uint64_t iterations)
{
	const private_arg_t *pa = arg;
	private_thread_t pt[2];
	for (unsigned t = 0; t < pa->nthreads; t++) {
		pt[t] = (private_thread_t){ .arg = pa, .iterations = iterations };
		if (pthread_create(&pt[t].thread, NULL, private_main, &pt[t]) != 0)
			die("pthread_create failed");
	}
	for (unsigned t = 0; t < pa->nthreads; t++)
		pthread_join(pt[t].thread, NULL);
}

/* ---- producer/consumer ---- */

/* Wait a little longer for the other thread; tries counts the waits. */
static void
spin(unsigned *tries)
{
	if (++*tries % SPINS == 0)
		sched_yield();
}

typedef struct ring {
	_Alignas(CACHE_LINE) atomic_size_t head;        /* next to take */
	_Alignas(CACHE_LINE) atomic_size_t tail;        /* next to fill */
	_Alignas(CACHE_LINE) void *slot[RING_SIZE];
} ring_t;

typedef struct pc_arg {
	const allocator_t *alloc;
	uint64_t iterations;
	ring_t ring;
} pc_arg_t;

static void *
producer_main(void *v)
{
	pc_arg_t *pc = v;
	ring_t *r = &pc->ring;
	size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	unsigned tries = 0;
	for (uint64_t i = 0; i < pc->iterations; i++, tail++) {
		uint64_t *obj = obj_alloc(pc->alloc);
		*obj = i;
		while (tail - atomic_load_explicit(&r->head,
		    memory_order_acquire) == RING_SIZE)
			spin(&tries);
		r->slot[tail & (RING_SIZE - 1)] = obj;
		atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
	}
	return (NULL);
}

static void *
consumer_main(void *v)
{
	pc_arg_t *pc = v;
	ring_t *r = &pc->ring;
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	unsigned tries = 0;
	for (uint64_t i = 0; i < pc->iterations; i++, head++) {
		while (atomic_load_explicit(&r->tail, memory_order_acquire) ==
		    head)
			spin(&tries);
		uint64_t *obj = r->slot[head & (RING_SIZE - 1)];
		atomic_store_explicit(&r->head, head + 1, memory_order_release);
		if (*obj != i)
			die("producer/consumer: an object arrived corrupted");
		obj_free(pc->alloc, obj);
	}
	return (NULL);
}

/* `iterations` objects go from the producer to the consumer. */
static void
pc_run(void *arg, uint64_t iterations)
{
	pc_arg_t *pc = arg;
	pthread_t producer, consumer;
	pc->iterations = iterations;
	if (pthread_create(&consumer, NULL, consumer_main, pc) != 0 ||
	    pthread_create(&producer, NULL, producer_main, pc) != 0)
		die("pthread_create failed");
	pthread_join(producer, NULL);
	pthread_join(consumer, NULL);
}

/* ---- the worker ---- */

enum { CASE_PAIR1, CASE_PAIR2, CASE_BATCH1, CASE_BATCH2, CASE_PC, NCASES };

#define NAPIS_MAX       3

static kmem_cache_t *
cache_create(const char *name)
{
	kmem_cache_t *cp = kmem_cache_create(name, OBJ_SIZE, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	if (cp == NULL)
		die("kmem_cache_create failed");
	return (cp);
}

static unsigned
magazine_size(kmem_cache_t *cp)
{
	kmem_cache_stats_t st;
	kmem_cache_stats(cp, &st);
	return (st.magazine_size);
}

/*
 * Grow cp's magazines as a contended workload would over its first
 * updates: two threads allocate batches from it under a 1 ms update
 * interval until its magazine size has grown and then stayed the same for
 * 10 rounds (at most GROW_ROUNDS rounds).
 */
static void
cache_grow(kmem_cache_t *cp, bool quick)
{
	allocator_t a = { API_CACHE, cp };
	private_arg_t pa = { &a, PATTERN_BATCH, 2 };
	unsigned size = magazine_size(cp), same = 0;
	kmem_update_interval_set(UPDATE_GROW_NS);
	unsigned first = size;
	for (int i = 0; i < GROW_ROUNDS && !quick; i++) {
		private_run(&pa, GROW_BATCHES);
		unsigned now = magazine_size(cp);
		same = now == size ? same + 1 : 0;
		size = now;
		if (size > first && same >= 10)
			break;
	}
	kmem_update_interval_set(UPDATE_DEFAULT_NS);
}

static void
report_magazines(kmem_cache_t *cp, const char *col)
{
	kmem_cache_stats_t st;
	kmem_cache_stats(cp, &st);
	peer_report("magazines", "rounds per magazine", col,
	    st.magazine_size);
	peer_report("magazines", "depot lock found busy", col,
	    (double)st.depot_contention);
}

static void
work(const peer_worker_t *w)
{
	allocator_t allocs[NAPIS_MAX];
	const char *names[NAPIS_MAX];
	size_t napis = 1;
	if (w->kmem) {
		kmem_cache_t *grown = cache_create("bench_64_grown");
		cache_grow(grown, w->quick);
		allocs[0] = (allocator_t){ API_CACHE, cache_create("bench_64") };
		allocs[1] = (allocator_t){ API_KMEM_ALLOC, NULL };
		allocs[2] = (allocator_t){ API_CACHE, grown };
		names[0] = "kmem_cache";
		names[1] = "kmem_alloc";
		names[2] = "kmem_cache_grown";
		napis = 3;
	} else {
		allocs[0] = (allocator_t){ API_MALLOC, NULL };
		names[0] = w->kind;
	}

	private_arg_t pargs[NAPIS_MAX][4];
	pc_arg_t *pcargs = aligned_alloc(CACHE_LINE,
	    NAPIS_MAX * sizeof (pc_arg_t));
	bench_case_t cases[NAPIS_MAX * NCASES];
	if (pcargs == NULL)
		die("out of memory");
	for (size_t k = 0; k < napis; k++) {
		bench_case_t *c = &cases[k * NCASES];
		for (int i = 0; i < 4; i++) {
			pargs[k][i] = (private_arg_t){ &allocs[k],
			    i < 2 ? PATTERN_PAIR : PATTERN_BATCH,
			    (unsigned)(i % 2 + 1) };
			c[i] = (bench_case_t){ .name = names[k],
			    .fn = private_run, .arg = &pargs[k][i] };
		}
		pcargs[k] = (pc_arg_t){ .alloc = &allocs[k] };
		c[CASE_PC] = (bench_case_t){ .name = names[k], .fn = pc_run,
		    .arg = &pcargs[k] };
	}

	bench_run_cases(cases, napis * NCASES, &w->opt);

	for (size_t k = 0; k < napis; k++) {
		const bench_case_t *c = &cases[k * NCASES];
		/* Million pairs per second from ns per iteration. */
		double pair1 = 1e3 / c[CASE_PAIR1].ns;
		double pair2 = 2e3 / c[CASE_PAIR2].ns;
		double batch1 = BATCH * 1e3 / c[CASE_BATCH1].ns;
		double batch2 = 2 * BATCH * 1e3 / c[CASE_BATCH2].ns;
		peer_report("throughput", "pair, 1 thread", names[k], pair1);
		peer_report("throughput", "pair, 2 threads", names[k], pair2);
		peer_report("throughput", "batch, 1 thread", names[k], batch1);
		peer_report("throughput", "batch, 2 threads", names[k], batch2);
		peer_report("throughput", "producer/consumer", names[k],
		    1e3 / c[CASE_PC].ns);
		peer_report("scaling", "pair", names[k], pair2 / pair1);
		peer_report("scaling", "batch of 100", names[k],
		    batch2 / batch1);
	}
	if (w->kmem) {
		report_magazines(allocs[0].cache, "kmem_cache");
		report_magazines(allocs[2].cache, "kmem_cache_grown");
		kmem_cache_destroy(allocs[0].cache);
		kmem_cache_destroy(allocs[2].cache);
	}
	free(pcargs);
}

static void
conclude(bench_table_t *const t[])
{
	for (size_t k = 4; k < NCOLUMNS; k++) {
		for (size_t r = 0; r < bench_table_rows(t[1]); r++) {
			double s = bench_table_value(t[1], r, k);
			printf("target (scaling, %s, %s): %.2fx (target: at "
			    "least 1.9x): %s\n", columns[k],
			    bench_table_label(t[1], r), s,
			    s >= 1.9 ? "met" : "NOT met");
		}
	}
}

int
main(int argc, char **argv)
{
	static const peer_program_t prog = { "kmem_threads", tables, NTABLES,
		work, conclude };
	return (peer_main(&prog, argc, argv));
}
