/*
 * kmem_pair: the cost of an alloc+free pair on one thread, for object
 * sizes 16 to 4096 bytes: kmem_cache_alloc/kmem_cache_free (one cache per
 * size) and kmem_alloc/kmem_free, side by side with malloc/free of glibc,
 * jemalloc, mimalloc and tcmalloc (each in its own process, through
 * LD_PRELOAD: see peers.h).
 *
 * Two patterns, each timed by the harness in ns per pair:
 * - immediate: allocate one object and free it at once.  Every allocator
 *   serves this from its thread-local layer (kmem: the loaded magazine).
 * - batch: allocate 100 objects, then free the 100 in the order they were
 *   allocated (as in shared/research/peers.md).  This reaches past the
 *   thread-local layer wherever it holds fewer than 100 objects of a size
 *   (kmem: two magazines, of 15 rounds or fewer, then the depot).
 * - first batches: the batch pattern from the start of a fresh process
 *   (each run is one), timed as a whole over its first FIRST_BATCHES
 *   batches (about a millisecond), before anything else runs: the cost of
 *   whatever an allocator must learn or grow first (kmem: magazines sized
 *   from the batch it sees, kmem_cache.c) is in it, not warmed away.  Each
 *   column of the kmem process uses a cache of its own.
 *
 * Nothing is written into the objects.  An empty asm that takes each
 * pointer keeps the compiler from removing malloc/free pairs.  The malloc
 * calls go through the PLT to the shared library, the kmem calls are
 * direct calls into the static library.
 *
 * Usage: kmem_pair [--quick] [--markdown] [--runs N]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem.h>

#include "harness.h"
#include "peers.h"

#define BATCH   100
#define FIRST_BATCHES   1000    /* about a millisecond; --quick: 50 */

static const size_t sizes[] = { 16, 32, 64, 128, 256, 512, 1024, 2048,
	4096 };

#define NSIZES  (sizeof (sizes) / sizeof (sizes[0]))

static const char *const columns[] = { "glibc", "jemalloc", "mimalloc",
	"tcmalloc", "kmem_malloc", "kmem_cache", "kmem_alloc" };

#define NCOLUMNS (sizeof (columns) / sizeof (columns[0]))

static const peer_table_t tables[] = {
	{ "immediate", "kmem_pair: alloc then free at once, one thread",
	    "size", "median ns per alloc+free pair", NCOLUMNS, columns, true },
	{ "batch", "kmem_pair: allocate 100, then free the 100, one thread",
	    "size", "median ns per alloc+free pair", NCOLUMNS, columns, true },
	{ "first", "kmem_pair: the first batches of 100 of a fresh process",
	    "size", "median ns per alloc+free pair", NCOLUMNS, columns, true },
};

#define NTABLES (sizeof (tables) / sizeof (tables[0]))

enum api { API_MALLOC, API_CACHE, API_KMEM_ALLOC };

typedef struct pair_arg {
	enum api api;
	size_t size;
	kmem_cache_t *cache;
	void *objs[BATCH];
} pair_arg_t;

/* Keep p alive in the compiler's eyes. */
#define USE(p)  __asm__ volatile("" : : "r"(p) : "memory")

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "kmem_pair: %s\n", what);
	exit(1);
}

static void *
obj_alloc(const pair_arg_t *a)
{
	switch (a->api) {
	case API_CACHE:
		return (kmem_cache_alloc(a->cache, KM_SLEEP));
	case API_KMEM_ALLOC:
		return (kmem_alloc(a->size, KM_SLEEP));
	default:
		return (malloc(a->size));
	}
}

static void
obj_free(const pair_arg_t *a, void *p)
{
	switch (a->api) {
	case API_CACHE:
		kmem_cache_free(a->cache, p);
		break;
	case API_KMEM_ALLOC:
		kmem_free(p, a->size);
		break;
	default:
		free(p);
		break;
	}
}

/*
 * The loops are written out per API so that each is a plain sequence of
 * calls, as a program would make them.
 */
static void
immediate_pairs(void *arg, uint64_t iterations)
{
	pair_arg_t *a = arg;
	size_t size = a->size;
	kmem_cache_t *cp = a->cache;
	uint64_t i;

	switch (a->api) {
	case API_CACHE:
		for (i = 0; i < iterations; i++) {
			void *p = kmem_cache_alloc(cp, KM_SLEEP);
			USE(p);
			kmem_cache_free(cp, p);
		}
		break;
	case API_KMEM_ALLOC:
		for (i = 0; i < iterations; i++) {
			void *p = kmem_alloc(size, KM_SLEEP);
			USE(p);
			kmem_free(p, size);
		}
		break;
	default:
		for (i = 0; i < iterations; i++) {
			void *p = malloc(size);
			USE(p);
			free(p);
		}
		break;
	}
}

static void
batch_pairs(void *arg, uint64_t iterations)
{
	pair_arg_t *a = arg;
	for (uint64_t i = 0; i < iterations; i++) {
		for (int j = 0; j < BATCH; j++) {
			a->objs[j] = obj_alloc(a);
			USE(a->objs[j]);
		}
		for (int j = 0; j < BATCH; j++)
			obj_free(a, a->objs[j]);
	}
}

/*
 * The first table, measured before anything else in the process: per
 * size and column, the time of the first batches, whole (no warm-up, no
 * calibration).
 */
static void
first_batches(const peer_worker_t *w)
{
	uint64_t batches = w->quick ? 50 : FIRST_BATCHES;
	size_t napis = w->kmem ? 2 : 1;
	for (size_t s = 0; s < NSIZES; s++) {
		for (size_t k = 0; k < napis; k++) {
			const char *name = w->kind;
			pair_arg_t a = (pair_arg_t){ .api = API_MALLOC, .size = sizes[s] };
			if (w->kmem && k == 0) {
				char cname[32];
				snprintf(cname, sizeof (cname), "first_%zu",
				    sizes[s]);
				a.cache = kmem_cache_create(cname, sizes[s], 0,
				    NULL, NULL, NULL, NULL, NULL, 0);
				if (a.cache == NULL)
					die("kmem_cache_create failed");
				a.api = API_CACHE;
				name = "kmem_cache";
			} else if (w->kmem) {
				a.api = API_KMEM_ALLOC;
				name = "kmem_alloc";
			}
			uint64_t start = bench_now_ns();
			batch_pairs(&a, batches);
			uint64_t ns = bench_now_ns() - start;
			char row[32];
			snprintf(row, sizeof (row), "%zu", sizes[s]);
			peer_report("first", row, name,
			    (double)ns / (double)(batches * BATCH));
			if (a.cache != NULL)
				kmem_cache_destroy(a.cache);
		}
	}
}

static void
work(const peer_worker_t *w)
{
	first_batches(w);
	/* Per size: one case per column this process measures, per table. */
	size_t napis = w->kmem ? 2 : 1;
	size_t ncases = NSIZES * napis * 2;     /* immediate, batch */
	pair_arg_t *args = calloc(ncases, sizeof (*args));
	bench_case_t *cases = calloc(ncases, sizeof (*cases));
	const char **names = calloc(ncases, sizeof (*names));
	if (args == NULL || cases == NULL || names == NULL)
		die("out of memory");

	kmem_cache_t *caches[NSIZES] = { NULL };
	size_t n = 0;
	for (size_t t = 0; t < 2; t++) {
		for (size_t s = 0; s < NSIZES; s++) {
			for (size_t k = 0; k < napis; k++) {
				pair_arg_t *a = &args[n];
				a->size = sizes[s];
				if (!w->kmem) {
					a->api = API_MALLOC;
					names[n] = w->kind;
				} else if (k == 0) {
					char name[32];
					snprintf(name, sizeof (name),
					    "bench_%zu", sizes[s]);
					if (caches[s] == NULL)
						caches[s] = kmem_cache_create(
						    name, sizes[s], 0, NULL,
						    NULL, NULL, NULL, NULL, 0);
					if (caches[s] == NULL)
						die("kmem_cache_create failed");
					a->api = API_CACHE;
					a->cache = caches[s];
					names[n] = "kmem_cache";
				} else {
					a->api = API_KMEM_ALLOC;
					names[n] = "kmem_alloc";
				}
				cases[n] = (bench_case_t){ .name = names[n],
				    .fn = t == 0 ? immediate_pairs :
				    batch_pairs, .arg = a };
				n++;
			}
		}
	}

	bench_run_cases(cases, ncases, &w->opt);

	for (size_t i = 0; i < ncases; i++) {
		size_t t = i / (NSIZES * napis);
		char row[32];
		snprintf(row, sizeof (row), "%zu", args[i].size);
		peer_report(tables[t].id, row, names[i],
		    t == 0 ? cases[i].ns : cases[i].ns / BATCH);
	}
	for (size_t s = 0; s < NSIZES; s++) {
		if (caches[s] != NULL)
			kmem_cache_destroy(caches[s]);
	}
	free(names);
	free(cases);
	free(args);
}

/* The target: a few ns per pair, faster than every peer, at every size. */
static void
conclude(bench_table_t *const t[])
{
	for (size_t i = 0; i < NTABLES; i++) {
		for (size_t k = 4; k < NCOLUMNS; k++) {
			double worst = 0, worst_ratio = 0;
			size_t lost = 0;
			for (size_t r = 0; r < bench_table_rows(t[i]); r++) {
				double ns = bench_table_value(t[i], r, k);
				double best_peer = INFINITY;
				for (size_t c = 0; c < 4; c++) {
					double v = bench_table_value(t[i], r, c);
					if (v < best_peer)
						best_peer = v;
				}
				if (ns > worst)
					worst = ns;
				if (ns / best_peer > worst_ratio)
					worst_ratio = ns / best_peer;
				if (ns >= best_peer)
					lost++;
			}
			printf("target (%s, %s): at most %.1f ns per pair; "
			    "slower than the fastest peer at %zu of %zu sizes "
			    "(worst: %.2fx the fastest peer): %s\n",
			    tables[i].id, columns[k], worst, lost,
			    bench_table_rows(t[i]), worst_ratio,
			    worst <= 5 && lost == 0 ? "met" : "NOT met");
		}
	}
	/*
	 * Issue 19's: 64-byte batches of 100, from the first millisecond
	 * and warmed: kmem_cache at most mimalloc's time, kmem_malloc at most
	 * 1.1 times it.
	 */
	for (size_t i = 1; i < NTABLES; i++) {
		for (size_t r = 0; r < bench_table_rows(t[i]); r++) {
			if (strcmp(bench_table_label(t[i], r), "64") != 0)
				continue;
			double mi = bench_table_value(t[i], r, 2);
			double km = bench_table_value(t[i], r, 4);
			double kc = bench_table_value(t[i], r, 5);
			printf("target (%s, 64 B): kmem_cache %.2fx mimalloc "
			    "(at most 1.0: %s), kmem_malloc %.2fx mimalloc "
			    "(at most 1.1: %s)\n", tables[i].id, kc / mi,
			    kc <= mi ? "met" : "NOT met", km / mi,
			    km <= 1.1 * mi ? "met" : "NOT met");
		}
	}
}

int
main(int argc, char **argv)
{
	static const peer_program_t prog = { "kmem_pair", tables, NTABLES,
		work, conclude };
	return (peer_main(&prog, argc, argv));
}
