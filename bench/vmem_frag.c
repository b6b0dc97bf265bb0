/*
 * vmem_frag: the cost of an alloc+free pair as the number of free segments
 * in an arena grows from 10 to 10^6, for vmem's instant fit, best fit and
 * next fit, side by side with a classic first-fit resource map (rmalloc).
 *
 * The layout, built the same way for every allocator: 2N + 1 one-quantum
 * blocks allocated from the bottom of a large range, then every other one
 * freed.  That leaves N one-quantum holes between allocated blocks and one
 * big free range above them (the tail):
 *
 *	A h A h A ... h A [tail ...........................]
 *
 * Two requests are timed as pairs (allocate, then free what was returned):
 * - "larger than every hole" (2 quanta): a first-fit scan must walk past
 *   all N holes to reach the tail.  This is the case of Bonwick & Adams's
 *   claim: vmem's power-of-two free lists find the tail at once, the
 *   resource map's scan grows linearly.
 * - "fits a hole" (1 quantum): the first hole fits, so the search is short
 *   for everyone, but the resource map removes the hole's entry from the
 *   front of its array and the free inserts it back, shifting all N.
 *
 * vmem arenas have no quantum caches here (qcache_max 0), so every request
 * reaches the segment lists being measured.  Each vmem policy has its own
 * arena, built identically.  Besides the times, the allocators' own
 * counters give the work per pair, which does not depend on noise.
 *
 * Usage: vmem_frag [--quick] [--markdown] [--rounds R]
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/classic.h>
#include <kmem/vmem.h>

#include "harness.h"

#define QUANTUM         16
#define ARENA_BASE      ((uintptr_t)1 << 20)
#define TAIL_QUANTA     ((size_t)1 << 36)      /* next fit never wraps */
#define MAP_BASE        1ul

enum column { COL_INSTANT, COL_BEST, COL_NEXT, COL_RMAP, NCOLUMNS };

static const char *const column_names[NCOLUMNS] = {
	"instant", "best", "next", "rmap"
};

static const int column_policy[] = {
	[COL_INSTANT] = VM_INSTANTFIT,
	[COL_BEST] = VM_BESTFIT,
	[COL_NEXT] = VM_NEXTFIT,
};

/* The arenas and the map for one N, all with the same layout. */
typedef struct fragmented {
	size_t n;
	vmem_t *arena[COL_RMAP];
	struct map *map;
} fragmented_t;

/* What one measured case allocates and frees. */
typedef struct pair_arg {
	vmem_t *vmp;
	struct map *mp;
	int vmflag;
	size_t quanta;
} pair_arg_t;

static void
die(const char *what)
{
	fprintf(stderr, "vmem_frag: %s\n", what);
	exit(1);
}

static void
vmem_pairs(void *arg, uint64_t iterations)
{
	const pair_arg_t *a = arg;
	size_t size = a->quanta * QUANTUM;
	for (uint64_t i = 0; i < iterations; i++) {
		void *p = vmem_alloc(a->vmp, size, a->vmflag);
		if (p == NULL)
			die("vmem_alloc failed");
		vmem_free(a->vmp, p, size);
	}
}

static void
rmap_pairs(void *arg, uint64_t iterations)
{
	const pair_arg_t *a = arg;
	for (uint64_t i = 0; i < iterations; i++) {
		unsigned long u = rmalloc(a->mp, a->quanta);
		if (u == 0)
			die("rmalloc failed");
		rmfree(a->mp, a->quanta, u);
	}
}

/* ---- building and tearing down the layout ---- */

static void *
block(size_t i)
{
	return ((void *)(ARENA_BASE + i * QUANTUM));
}

static vmem_t *
fragmented_arena(const char *name, size_t n)
{
	vmem_t *vmp = vmem_create(name, block(0), (2 * n + 1 + TAIL_QUANTA) *
	    QUANTUM, QUANTUM, NULL, NULL, NULL, 0, VM_NOSLEEP);
	if (vmp == NULL)
		die("vmem_create failed");
	for (size_t i = 0; i < 2 * n + 1; i++) {
		if (vmem_alloc(vmp, QUANTUM, VM_NOSLEEP) != block(i))
			die("the arena did not allocate from the bottom up");
	}
	for (size_t i = 1; i < 2 * n + 1; i += 2)
		vmem_free(vmp, block(i), QUANTUM);

	vmem_stats_t st;
	vmem_stats(vmp, &st);
	if (st.segs_free != n + 1 || st.segs_alloc != n + 1)
		die("the arena does not hold N holes and a tail");
	return (vmp);
}

static void
arena_destroy(vmem_t *vmp, size_t n)
{
	for (size_t i = 0; i < 2 * n + 1; i += 2)
		vmem_free(vmp, block(i), QUANTUM);
	vmem_destroy(vmp);
}

static struct map *
fragmented_map(size_t n)
{
	struct map *mp = rmallocmap(n + 2);
	if (mp == NULL)
		die("rmallocmap failed");
	rmfree(mp, 2 * n + 1 + TAIL_QUANTA, MAP_BASE);
	for (size_t i = 0; i < 2 * n + 1; i++) {
		if (rmalloc(mp, 1) != MAP_BASE + i)
			die("the map did not allocate from the bottom up");
	}
	for (size_t i = 1; i < 2 * n + 1; i += 2)
		rmfree(mp, 1, MAP_BASE + i);

	struct rmap_stats st;
	rmstats(mp, &st);
	if (st.entries != n + 1 || st.lost_ranges != 0)
		die("the map does not hold N holes and a tail");
	return (mp);
}

static void
fragmented_build(fragmented_t *f, size_t n)
{
	f->n = n;
	f->arena[COL_INSTANT] = fragmented_arena("frag_instant", n);
	f->arena[COL_BEST] = fragmented_arena("frag_best", n);
	f->arena[COL_NEXT] = fragmented_arena("frag_next", n);
	f->map = fragmented_map(n);
}

static void
fragmented_destroy(fragmented_t *f)
{
	for (int c = 0; c < COL_RMAP; c++)
		arena_destroy(f->arena[c], f->n);
	rmfreemap(f->map);
}

/* ---- the work counters ---- */

enum work_column { WORK_INSTANT, WORK_BEST, WORK_NEXT, WORK_RMAP,
	WORK_RMAP_MOVED, NWORK };

static const char *const work_names[NWORK] = {
	"instant", "best", "next", "rmap", "moved"
};

/* Free segments (ranges) examined so far, and ranges the map shifted. */
static void
work_snapshot(const fragmented_t *f, double work[NWORK])
{
	for (int c = 0; c < COL_RMAP; c++) {
		vmem_stats_t st;
		vmem_stats(f->arena[c], &st);
		work[c] = (double)st.search;
	}
	struct rmap_stats rst;
	rmstats(f->map, &rst);
	work[WORK_RMAP] = (double)rst.search_steps;
	work[WORK_RMAP_MOVED] = (double)rst.entries_moved;
}

/* ---- one request size at one N ---- */

typedef struct result {
	double ns[NCOLUMNS];
	double work[NWORK];             /* per pair */
} result_t;

static void
measure(const fragmented_t *f, size_t quanta, const bench_options_t *opt,
    result_t *res)
{
	pair_arg_t args[NCOLUMNS];
	bench_case_t cases[NCOLUMNS];
	for (int c = 0; c < NCOLUMNS; c++) {
		args[c] = (pair_arg_t){ .quanta = quanta };
		cases[c] = (bench_case_t){ .name = column_names[c], .arg =
		    &args[c] };
		if (c == COL_RMAP) {
			args[c].mp = f->map;
			cases[c].fn = rmap_pairs;
		} else {
			args[c].vmp = f->arena[c];
			args[c].vmflag = column_policy[c] | VM_NOSLEEP;
			cases[c].fn = vmem_pairs;
		}
	}

	double before[NWORK], after[NWORK];
	work_snapshot(f, before);
	bench_run_cases(cases, NCOLUMNS, opt);
	work_snapshot(f, after);

	for (int c = 0; c < NCOLUMNS; c++)
		res->ns[c] = cases[c].ns;
	for (int w = 0; w < NWORK; w++) {
		int c = w == WORK_RMAP_MOVED ? COL_RMAP : w;
		res->work[w] = (after[w] - before[w]) /
		    (double)cases[c].total_iterations;
	}
}

/* ---- the program ---- */

typedef struct request {
	const char *title;
	const char *work_title;
	size_t quanta;
	bench_table_t *times;
	bench_table_t *work;
} request_t;

static void
report_target(const char *what, const bench_table_t *t, size_t last,
    const char *last_label)
{
	double r = bench_table_ratio(t, last, COL_INSTANT);
	printf("target (%s): instant fit at N=%s costs %.2fx its cost at "
	    "N=10 (target: within 1.5x): %s\n", what, last_label, r,
	    r <= 1.5 ? "met" : "NOT met");
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
	static const size_t full_ns[] = { 10, 100, 1000, 10000, 100000,
		1000000 };
	static const size_t quick_ns[] = { 10, 100, 1000 };
	bool quick = false, markdown = false;
	bench_options_t opt = { .target_ns = 20 * 1000 * 1000, .rounds = 5 };

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else if (strcmp(argv[i], "--markdown") == 0)
			markdown = true;
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			opt.rounds = (unsigned)strtoul(argv[++i], NULL, 0);
		else
			usage(argv[0]);
	}
	const size_t *ns = quick ? quick_ns : full_ns;
	size_t count = quick ? sizeof (quick_ns) / sizeof (quick_ns[0]) :
	    sizeof (full_ns) / sizeof (full_ns[0]);
	if (quick) {
		opt.target_ns = 1000 * 1000;
		opt.rounds = 1;
	}

	request_t req[] = {
		{ "vmem_frag: alloc+free pair, request larger than every "
		    "hole (2 quanta)", "vmem_frag: work per pair, request "
		    "larger than every hole (2 quanta)", 2, NULL, NULL },
		{ "vmem_frag: alloc+free pair, request that fits a hole "
		    "(1 quantum)", "vmem_frag: work per pair, request that "
		    "fits a hole (1 quantum)", 1, NULL, NULL },
	};
	size_t nreq = sizeof (req) / sizeof (req[0]);
	for (size_t r = 0; r < nreq; r++) {
		req[r].times = bench_table_create(req[r].title, "N",
		    "median ns per alloc+free pair", NCOLUMNS, column_names);
		bench_table_set_baseline(req[r].times, 0);
		req[r].work = bench_table_create(req[r].work_title, "N",
		    "free segments (vmem) or ranges (rmap) examined per pair; "
		    "moved: ranges the map shifted in its array per pair",
		    NWORK, work_names);
	}

	char label[32];
	for (size_t i = 0; i < count; i++) {
		fragmented_t f;
		fragmented_build(&f, ns[i]);
		snprintf(label, sizeof (label), "%zu", ns[i]);
		for (size_t r = 0; r < nreq; r++) {
			result_t res;
			measure(&f, req[r].quanta, &opt, &res);
			bench_table_add_row(req[r].times, label, res.ns);
			bench_table_add_row(req[r].work, label, res.work);
		}
		fragmented_destroy(&f);
		fprintf(stderr, "vmem_frag: N=%zu done\n", ns[i]);
	}

	for (size_t r = 0; r < nreq; r++) {
		bench_table_print_text(req[r].times, stdout);
		bench_table_print_text(req[r].work, stdout);
	}
	report_target("larger than every hole", req[0].times, count - 1, label);
	report_target("fits a hole", req[1].times, count - 1, label);
	if (markdown) {
		printf("\n");
		for (size_t r = 0; r < nreq; r++) {
			bench_table_print_markdown(req[r].times, stdout);
			bench_table_print_markdown(req[r].work, stdout);
		}
	}
	for (size_t r = 0; r < nreq; r++) {
		bench_table_destroy(req[r].times);
		bench_table_destroy(req[r].work);
	}
	return (0);
}
