/*
 * vmem_qcache: vmem_alloc() and vmem_free() of the sizes an arena's
 * quantum caches serve, with and without those caches, side by side.
 *
 * Two arenas, built alike (quantum 16, one large span, no source): "qcache"
 * has quantum caches up to 256 bytes, "segments" (VMC_NO_QCACHE) serves
 * the same sizes from its segment lists.  Two patterns per size:
 * - pair: allocate and free at once, the thread's magazine round trip;
 * - batch: allocate 64, then free them, so the magazines fill and empty
 *   and the depot (and for "segments" the free lists) take part.
 * Every free into a quantum cache is checked against what the cache
 * handed out (kmem_cache.c: a locked hash lookup per free and per
 * allocation from a magazine); the ratio column says what the quantum
 * caches still buy over the segment path.
 *
 * --pairs N does nothing but N pairs of 64 bytes in the "qcache" arena,
 * untimed: for counting instructions under valgrind, which this noisy
 * machine's timings cannot replace (docs/benchmarks.md).
 *
 * Usage: vmem_qcache [--quick] [--markdown] [--rounds R] [--pairs N]
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/vmem.h>

#include "harness.h"

#define QUANTUM         16
#define QCACHE_MAX      256
#define ARENA_BASE      ((uintptr_t)1 << 20)
#define ARENA_SIZE      ((size_t)1 << 30)
#define BATCH           64

enum column { COL_SEGMENTS, COL_QCACHE, NCOLUMNS };

static const char *const column_names[NCOLUMNS] = { "segments", "qcache" };

typedef struct work_arg {
	vmem_t *vmp;
	size_t size;
} work_arg_t;

static void
die(const char *what)
{
	fprintf(stderr, "vmem_qcache: %s\n", what);
	exit(1);
}

static void
pairs(void *arg, uint64_t iterations)
{
	const work_arg_t *a = arg;
	for (uint64_t i = 0; i < iterations; i++) {
		void *p = vmem_alloc(a->vmp, a->size, VM_NOSLEEP);
		if (p == NULL)
			die("vmem_alloc failed");
		vmem_free(a->vmp, p, a->size);
	}
}

/* One iteration: BATCH allocations, then their frees (per operation
 * pair, the table divides by BATCH). */
static void
batches(void *arg, uint64_t iterations)
{
	const work_arg_t *a = arg;
	void *held[BATCH];
	for (uint64_t i = 0; i < iterations; i++) {
		for (size_t j = 0; j < BATCH; j++)
			if ((held[j] = vmem_alloc(a->vmp, a->size,
			    VM_NOSLEEP)) == NULL)
				die("vmem_alloc failed");
		for (size_t j = 0; j < BATCH; j++)
			vmem_free(a->vmp, held[j], a->size);
	}
}

static vmem_t *
arena(const char *name, int cflags)
{
	vmem_t *vmp = vmem_create(name, (void *)ARENA_BASE, ARENA_SIZE,
	    QUANTUM, NULL, NULL, NULL, QCACHE_MAX, cflags | VM_NOSLEEP);
	if (vmp == NULL)
		die("vmem_create failed");
	return (vmp);
}

/* ns per alloc+free pair of size in each arena, with pattern fn. */
static void
measure(vmem_t *const arenas[NCOLUMNS], size_t size, bench_fn_t *fn,
    unsigned per_iteration, const bench_options_t *opt, double ns[NCOLUMNS])
{
	work_arg_t args[NCOLUMNS];
	bench_case_t cases[NCOLUMNS];
	for (int c = 0; c < NCOLUMNS; c++) {
		args[c] = (work_arg_t){ .vmp = arenas[c], .size = size };
		cases[c] = (bench_case_t){ .name = column_names[c], .fn = fn,
		    .arg = &args[c] };
	}
	bench_run_cases(cases, NCOLUMNS, opt);
	for (int c = 0; c < NCOLUMNS; c++)
		ns[c] = cases[c].ns / per_iteration;
}

int
main(int argc, char **argv)
{
	static const size_t sizes[] = { 16, 64, 256 };
	bool quick = false, markdown = false;
	uint64_t count_pairs = 0;
	bench_options_t opt = { .target_ns = 20 * 1000 * 1000, .rounds = 5 };
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else if (strcmp(argv[i], "--markdown") == 0)
			markdown = true;
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			opt.rounds = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--pairs") == 0 && i + 1 < argc)
			count_pairs = strtoull(argv[++i], NULL, 0);
		else
			die("usage: vmem_qcache [--quick] [--markdown] "
			    "[--rounds R] [--pairs N]");
	}
	if (count_pairs != 0) {
		work_arg_t a = { .vmp = arena("qbench_count", 0), .size = 64 };
		pairs(&a, count_pairs);
		vmem_destroy(a.vmp);
		return (0);
	}
	if (quick)
		opt = (bench_options_t){ .target_ns = 100 * 1000, .rounds = 1 };

	vmem_t *arenas[NCOLUMNS] = {
		[COL_SEGMENTS] = arena("qbench_segments", VMC_NO_QCACHE),
		[COL_QCACHE] = arena("qbench_qcache", 0),
	};
	bench_table_t *t = bench_table_create("vmem_alloc + vmem_free of "
	    "quantum-cached sizes (quantum 16, qcache_max 256)", "size, "
	    "pattern", "ns per pair", NCOLUMNS, column_names);
	bench_table_set_baseline_column(t, COL_SEGMENTS);
	for (size_t i = 0; i < sizeof (sizes) / sizeof (sizes[0]); i++) {
		char label[64];
		double ns[NCOLUMNS];
		measure(arenas, sizes[i], pairs, 1, &opt, ns);
		snprintf(label, sizeof (label), "%zu B, pair", sizes[i]);
		bench_table_add_row(t, label, ns);
		measure(arenas, sizes[i], batches, BATCH, &opt, ns);
		snprintf(label, sizeof (label), "%zu B, batch of %d", sizes[i],
		    BATCH);
		bench_table_add_row(t, label, ns);
	}
	if (markdown)
		bench_table_print_markdown(t, stdout);
	else
		bench_table_print_text(t, stdout);
	bench_table_destroy(t);
	for (int c = 0; c < NCOLUMNS; c++)
		vmem_destroy(arenas[c]);
	return (0);
}
