/*
 * cpu_identity: what it costs the CPU layer to find "its" cache in user
 * space, and what the per-thread alternative costs in memory.
 *
 * A kernel gives each CPU its magazines and disables preemption around
 * them.  A process can either give each thread its own magazines, found
 * through a thread-local pointer, or keep per-CPU magazines, found through
 * the CPU number and protected by a restartable sequence (rseq) or by a
 * lock or atomic instruction.  The first table times, on one thread, in a
 * loop the harness calibrates, one of each:
 * - a read of an initial-exec __thread pointer (what kmem_self costs);
 * - sched_getcpu();
 * - a read of the cpu_id field of the rseq area that glibc (2.35 and
 *   later) registers for every thread, found at __rseq_offset from the
 *   thread pointer ("-" when glibc registered none);
 * - an uncontended pthread mutex lock+unlock pair;
 * - an uncontended atomic compare-and-swap;
 * and, for scale, kmem_cache_alloc+kmem_cache_free of 64 bytes, also in a
 * cache created with KMC_NOTOUCH, whose free skips the page-map check that
 * the buffer belongs to the cache.  Each loop body is kept from being
 * hoisted or merged by an empty asm with a memory clobber; "loop alone" is
 * that loop with nothing in it.
 *
 * The second table is the memory a thread's magazines can hold for one
 * cache: a loaded and a previous magazine, full, of the cache's magazine
 * size, times the chunk size -- at the start (the sizes of
 * src/kmem/kmem_depot.c's kmem_magtypes[] for the chunk size, read back from
 * the cache's statistics) and once contention has grown the magazines to
 * their largest for that chunk size.  The last row adds up every
 * kmem_alloc() size class (8-byte steps to 128, then eight classes per
 * power of two to 128 KiB): what one thread that used them all could hold.
 *
 * Usage: cpu_identity [--quick] [--markdown] [--rounds R]
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/rseq.h>

#include <kmem/kmem.h>

#include "harness.h"
#include "kmem/kmem_query.h"

/* Keep the compiler from hoisting or merging the measured operation. */
#define USE(x)  __asm__ volatile("" : : "r"(x) : "memory")

#define KIB     1024.0
#define RSEQ_ROW "rseq cpu_id read"

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "cpu_identity: %s\n", what);
	exit(1);
}

/* ---- the operations ---- */

static __thread void *tls_word __attribute__((tls_model("initial-exec")));

static void
loop_alone(void *arg, uint64_t iterations)
{
	(void) arg;
	for (uint64_t i = 0; i < iterations; i++)
		USE(i);
}

static void
tls_read(void *arg, uint64_t iterations)
{
	(void) arg;
	for (uint64_t i = 0; i < iterations; i++) {
		void *p = tls_word;
		USE(p);
	}
}

static void
getcpu_call(void *arg, uint64_t iterations)
{
	(void) arg;
	for (uint64_t i = 0; i < iterations; i++) {
		int cpu = sched_getcpu();
		USE(cpu);
	}
}

static void
rseq_read(void *arg, uint64_t iterations)
{
	const volatile struct rseq *rs = arg;
	for (uint64_t i = 0; i < iterations; i++) {
		uint32_t cpu = rs->cpu_id;
		USE(cpu);
	}
}

static void
mutex_pair(void *arg, uint64_t iterations)
{
	pthread_mutex_t *m = arg;
	for (uint64_t i = 0; i < iterations; i++) {
		pthread_mutex_lock(m);
		USE(m);
		pthread_mutex_unlock(m);
	}
}

static void
cas(void *arg, uint64_t iterations)
{
	uint64_t *word = arg;
	for (uint64_t i = 0; i < iterations; i++) {
		uint64_t expected = i;
		__atomic_compare_exchange_n(word, &expected, i + 1, false,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	}
}

static void
cache_pair(void *arg, uint64_t iterations)
{
	kmem_cache_t *cp = arg;
	for (uint64_t i = 0; i < iterations; i++) {
		void *p = kmem_cache_alloc(cp, KM_SLEEP);
		USE(p);
		kmem_cache_free(cp, p);
	}
}

static kmem_cache_t *
cache_create(const char *name, size_t size, int cflags)
{
	kmem_cache_t *cp = kmem_cache_create(name, size, 0, NULL, NULL, NULL,
	    NULL, NULL, cflags);
	if (cp == NULL)
		die("kmem_cache_create failed");
	return (cp);
}

/* This thread's rseq area, or NULL when glibc registered none. */
static void *
rseq_area(void)
{
	if (__rseq_size == 0)
		return (NULL);
	return ((char *)__builtin_thread_pointer() + __rseq_offset);
}

static bench_table_t *
measure_costs(const bench_options_t *opt)
{
	static const char *const cols[] = { "ns" };
	pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
	uint64_t word = 0;
	kmem_cache_t *cp = cache_create("bench_64", 64, 0);
	kmem_cache_t *notouch = cache_create("bench_64_notouch", 64,
	    KMC_NOTOUCH);
	void *rs = rseq_area();
	tls_word = &word;       /* a value the compiler cannot fold */

	bench_case_t cases[8];
	size_t n = 0;
	cases[n++] = (bench_case_t){ .name = "loop alone", .fn = loop_alone };
	cases[n++] = (bench_case_t){ .name = "__thread pointer read "
	    "(initial-exec)", .fn = tls_read };
	cases[n++] = (bench_case_t){ .name = "sched_getcpu()",
	    .fn = getcpu_call };
	if (rs != NULL)
		cases[n++] = (bench_case_t){ .name = RSEQ_ROW, .fn = rseq_read,
		    .arg = rs };
	cases[n++] = (bench_case_t){ .name = "pthread mutex lock+unlock, "
	    "uncontended", .fn = mutex_pair, .arg = &mutex };
	cases[n++] = (bench_case_t){ .name = "atomic compare-and-swap, "
	    "uncontended", .fn = cas, .arg = &word };
	cases[n++] = (bench_case_t){ .name = "kmem_cache_alloc+free, 64 B",
	    .fn = cache_pair, .arg = cp };
	cases[n++] = (bench_case_t){ .name = "the same, KMC_NOTOUCH (no free "
	    "check)", .fn = cache_pair, .arg = notouch };
	bench_run_cases(cases, n, opt);

	bench_table_t *t = bench_table_create("cpu_identity: one operation, "
	    "one thread", "operation", "median ns per operation, loop "
	    "included", 1, cols);
	for (size_t i = 0; i < n; i++) {
		bench_table_add_row(t, cases[i].name, &cases[i].ns);
		if (rs == NULL && cases[i].fn == getcpu_call) {
			double none = NAN;      /* printed as "-" */
			bench_table_add_row(t, RSEQ_ROW, &none);
		}
	}
	kmem_cache_destroy(cp);
	kmem_cache_destroy(notouch);
	return (t);
}

/* ---- memory held by a thread's magazines ---- */

static bench_table_t *
magazine_memory(void)
{
	static const size_t sizes[] = { 16, 32, 64, 128, 256, 512, 1024,
		2048, 4096, 16384, 131072 };
	static const char *const cols[] = { "chunk", "rounds",
		"KiB held", "rounds grown", "KiB held grown" };
	bench_table_t *t = bench_table_create("cpu_identity: memory one "
	    "thread's magazines can hold, per cache", "buffer size",
	    "bytes of a chunk; rounds per magazine; KiB in the thread's two "
	    "full magazines (2 x rounds x chunk), at the start and after "
	    "the magazines have grown to their largest", 5, cols);
	char label[32];

	for (size_t i = 0; i < sizeof (sizes) / sizeof (sizes[0]); i++) {
		kmem_cache_t *cp = cache_create("bench_size", sizes[i], 0);
		kmem_cache_stats_t st;
		kmem_cache_stats(cp, &st);
		kmem_cache_destroy(cp);
		double chunk = (double)st.chunk_size;
		unsigned grown = kmem_magazine_rounds(st.chunk_size, true);
		double row[] = { chunk, st.magazine_size,
			2 * st.magazine_size * chunk / KIB, grown,
			2 * grown * chunk / KIB };
		snprintf(label, sizeof (label), "%zu", sizes[i]);
		bench_table_add_row(t, label, row);
	}

	/* kmem_alloc's classes, as src/kmem/kmem_alloc.c makes them. */
	double start = 0, most = 0;
	size_t step = 8;
	for (size_t size = 8; size <= KMEM_MAXBUF; size += step) {
		start += 2.0 * kmem_magazine_rounds(size, false) * (double)size;
		most += 2.0 * kmem_magazine_rounds(size, true) * (double)size;
		if (size >= 128 && (size & (size - 1)) == 0)
			step = size / 8;
	}
	double all[] = { NAN, NAN, start / KIB, NAN, most / KIB };
	bench_table_add_row(t, "all kmem_alloc classes", all);
	return (t);
}

static void
usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--quick] [--markdown] [--rounds R]\n",
	    prog);
	exit(2);
}

int
main(int argc, char **argv)
{
	bool markdown = false;
	bench_options_t opt = { .target_ns = 20 * 1000 * 1000, .rounds = 5 };

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			opt = (bench_options_t){ .target_ns = 200 * 1000,
			    .rounds = 1 };
		else if (strcmp(argv[i], "--markdown") == 0)
			markdown = true;
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			opt.rounds = (unsigned)strtoul(argv[++i], NULL, 0);
		else
			usage(argv[0]);
	}

	bench_table_t *costs = measure_costs(&opt);
	bench_table_t *memory = magazine_memory();
	bench_table_print_text(costs, stdout);
	bench_table_print_text(memory, stdout);
	if (markdown) {
		printf("\n");
		bench_table_print_markdown(costs, stdout);
		bench_table_print_markdown(memory, stdout);
	}
	bench_table_destroy(costs);
	bench_table_destroy(memory);
	return (0);
}
