/*
 * kmem_memory: the memory a workload holds, for kmem_alloc and for malloc
 * of glibc, jemalloc, mimalloc and tcmalloc (each in its own process,
 * through LD_PRELOAD: see peers.h), and what each gives back.
 *
 * The workload, the same for everyone (a fixed pseudo-random sequence):
 * allocate 200,000 objects of sizes spread evenly on a log scale from 16
 * to 4096 bytes (about 140 MiB), writing every byte of each; free a random
 * 90% of them; then free the rest.  The pointer and size arrays come from
 * mmap, outside every allocator.
 *
 * Measured, from /proc/self: resident memory (RSS) before the workload;
 * the peak (VmHWM); RSS after freeing 90%; RSS after the allocator's own
 * call to give memory back -- malloc_trim(0) for glibc, the
 * "arena.<all>.purge" mallctl for jemalloc, mi_collect(true) for
 * mimalloc, MallocExtension_ReleaseFreeMemory() for tcmalloc; kmem has
 * no call that empties every cache at once, so for kmem: kmem_reap(), then
 * UPDATE_PASSES update passes (kmem_update_now(), each what one idle 15 s
 * update interval does: the depot's unused magazines and the empty slabs
 * go back); and RSS after freeing the rest and giving back again.  The
 * times of the three phases go to a second table.
 *
 * The kmem process also records each step of its reaper on its own: RSS
 * and the size of kmem_pages, the arena that takes pages from the system
 * (mmap) and gives wholly free spans back (munmap).  kmem_pages is not
 * public; its line in vmem_table() gives its in-use and total sizes.
 *
 * Usage: kmem_memory [--quick] [--markdown] [--runs N]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kmem/kmem.h>

#include "harness.h"
#include "peers.h"

#define OBJECTS         200000
#define QUICK_OBJECTS   2000
#define MIN_SIZE        16
#define MAX_SIZE        4096
#define KEEP_ONE_IN     10
#define MIB             (1024.0 * 1024.0)
#define UPDATE_PASSES   6

static const char *const columns[] = { "glibc", "jemalloc", "mimalloc",
	"tcmalloc", "kmem_malloc", "kmem_alloc" };

#define NCOLUMNS (sizeof (columns) / sizeof (columns[0]))

static const char *const reaper_columns[] = { "RSS", "kmem_pages total",
	"kmem_pages in use" };

static const peer_table_t tables[] = {
	{ "memory", "kmem_memory: resident memory, 200,000 objects of 16..4096 "
	    "bytes", "when", "median MiB (lower is better)", NCOLUMNS, columns,
	    true },
	{ "time", "kmem_memory: time of the workload's phases", "phase",
	    "median ms (lower is better)", NCOLUMNS, columns, true },
	{ "reaper", "kmem_memory: kmem's reaper step by step", "step",
	    "median MiB", 3, reaper_columns, false },
};

#define NTABLES (sizeof (tables) / sizeof (tables[0]))

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "kmem_memory: %s\n", what);
	exit(1);
}

typedef struct pages {
	double inuse;
	double total;
} pages_t;

static void
pages_line(void *arg, const char *line)
{
	pages_t *p = arg;
	char name[VMEM_NAMELEN];
	size_t quantum, inuse, total;
	if (sscanf(line, "%31s %zu %zu %zu", name, &quantum, &inuse,
	    &total) == 4 && strcmp(name, "kmem_pages") == 0) {
		p->inuse = (double)inuse / MIB;
		p->total = (double)total / MIB;
	}
}

static pages_t
kmem_pages(void)
{
	pages_t p = { NAN, NAN };
	vmem_table(NULL, pages_line, &p);
	return (p);
}

/* ---- the workload ---- */

typedef struct workload {
	size_t n;
	void **objs;
	uint32_t *sizes;
	bool kmem;
} workload_t;

static void
obj_free(const workload_t *wl, size_t i)
{
	if (wl->kmem)
		kmem_free(wl->objs[i], wl->sizes[i]);
	else
		free(wl->objs[i]);
	wl->objs[i] = NULL;
}

static void
allocate_all(workload_t *wl)
{
	uint64_t state = 0x9e3779b97f4a7c15ull;
	double span = log((double)MAX_SIZE / MIN_SIZE);
	for (size_t i = 0; i < wl->n; i++) {
		double u = (double)(bench_xorshift(&state) >> 11) * 0x1p-53;
		size_t size = (size_t)(MIN_SIZE * exp(u * span));
		void *p = wl->kmem ? kmem_alloc(size, KM_SLEEP) : malloc(size);
		if (p == NULL)
			die("out of memory");
		memset(p, (int)(i & 0xff), size);
		wl->objs[i] = p;
		wl->sizes[i] = (uint32_t)size;
	}
}

/* Free a random 90%: an object stays with probability 1/KEEP_ONE_IN. */
static void
free_most(workload_t *wl)
{
	uint64_t state = 0x2545f4914f6cdd1dull;
	for (size_t i = 0; i < wl->n; i++) {
		if (bench_xorshift(&state) % KEEP_ONE_IN != 0)
			obj_free(wl, i);
	}
}

static void
free_rest(workload_t *wl)
{
	for (size_t i = 0; i < wl->n; i++) {
		if (wl->objs[i] != NULL)
			obj_free(wl, i);
	}
}

static void
reaper_step(const char *when, const char *step)
{
	char row[64];
	pages_t p = kmem_pages();
	snprintf(row, sizeof (row), "%s%s", when, step);
	peer_report("reaper", row, "RSS", bench_rss_mib());
	peer_report("reaper", row, "kmem_pages total", p.total);
	peer_report("reaper", row, "kmem_pages in use", p.inuse);
}

/* Give memory back the allocator's way; kmem's steps are reported. */
static void
give_back(const peer_worker_t *w, const char *when)
{
	if (!w->kmem) {
		if (peer_release_memory(w->kind) == NULL)
			die("the allocator's release call is missing");
		return;
	}
	reaper_step(when, "");
	kmem_reap();
	reaper_step(when, ", kmem_reap()");
	for (int i = 1; i <= UPDATE_PASSES; i++) {
		char step[32];
		kmem_update_now();
		snprintf(step, sizeof (step), ", update pass %d", i);
		reaper_step(when, step);
	}
}

static void
work(const peer_worker_t *w)
{
	const char *col = w->kmem ? "kmem_alloc" : w->kind;
	workload_t wl = { .n = w->quick ? QUICK_OBJECTS : OBJECTS,
	    .kmem = w->kmem };
	wl.objs = bench_map(wl.n * sizeof (void *));
	wl.sizes = bench_map(wl.n * sizeof (uint32_t));
	if (w->kmem)
		(void) kmem_default_arena();    /* initialise kmem first */

	peer_report("memory", "RSS before", col, bench_rss_mib());
	uint64_t t0 = bench_now_ns();
	allocate_all(&wl);
	uint64_t t1 = bench_now_ns();
	peer_report("memory", "peak RSS", col, bench_peak_rss_mib());
	free_most(&wl);
	uint64_t t2 = bench_now_ns();
	peer_report("memory", "after freeing 90%", col, bench_rss_mib());
	give_back(w, "freed 90%");
	peer_report("memory", "after freeing 90%, give back", col,
	    bench_rss_mib());
	uint64_t t3 = bench_now_ns();
	free_rest(&wl);
	uint64_t t4 = bench_now_ns();
	give_back(w, "freed all");
	peer_report("memory", "after freeing all, give back", col,
	    bench_rss_mib());

	peer_report("time", "allocate and write all", col,
	    (double)(t1 - t0) / 1e6);
	peer_report("time", "free 90%", col, (double)(t2 - t1) / 1e6);
	peer_report("time", "free the rest", col, (double)(t4 - t3) / 1e6);
	munmap(wl.objs, wl.n * sizeof (void *));
	munmap(wl.sizes, wl.n * sizeof (uint32_t));
}

int
main(int argc, char **argv)
{
	static const peer_program_t prog = { "kmem_memory", tables, NTABLES,
		work, NULL };
	return (peer_main(&prog, argc, argv));
}
