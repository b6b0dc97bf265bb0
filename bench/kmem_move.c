/*
 * kmem_move: kmem_memory's pattern for caches whose client can move its
 * objects (kmem_cache_set_move), against malloc of glibc, jemalloc,
 * mimalloc and tcmalloc (each in its own process: peers.h).
 *
 * The workload, the same for everyone (a fixed pseudo-random sequence):
 * allocate 200,000 objects of 32 to 384 bytes (eight sizes, evenly drawn;
 * about 30 MiB), writing every byte of each; the objects are reached
 * through one table, and each holds its table index in its first word;
 * free a random 90 % of them; give memory back.  The table comes from mmap,
 * outside every allocator.
 *
 * The kmem process has one cache per size, each with a move callback that
 * recognises a live object by its index (the table must point back at it),
 * copies it and updates the table; a freed object's index is overwritten
 * first, so a free buffer waiting in a magazine is not recognised.  Its
 * "give back" is kmem_cache_move_now() on each cache, then kmem_reap() and
 * UPDATE_PASSES update passes (what idle 15 s intervals do: the arena
 * gives wholly free spans to the page source, which unmaps them).  The
 * others' is their own call: malloc_trim(0) for glibc, and so on
 * (kmem_memory.c).  Reported: RSS before, at the peak, after freeing 90 %
 * and after giving back; the time of each phase, of the give-back, and of
 * the moves alone, with how many objects moved and slabs went back.
 *
 * Usage: kmem_move [--quick] [--markdown] [--runs N] [--only KIND]
 */
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
#define KEEP_ONE_IN     10
#define MIB             (1024.0 * 1024.0)
#define UPDATE_PASSES   2
#define NSIZES          8
#define FREED           UINT64_MAX      /* the index of a freed object */

static const uint32_t sizes[NSIZES] = { 32, 48, 64, 96, 128, 192, 256, 384 };

static const char *const columns[] = { "glibc", "jemalloc", "mimalloc",
	"tcmalloc", "kmem_malloc", "kmem_cache_move" };

#define NCOLUMNS (sizeof (columns) / sizeof (columns[0]))

static const char *const move_columns[] = { "kmem_cache_move" };

static const peer_table_t tables[] = {
	{ "memory", "kmem_move: resident memory, 200,000 objects of 32..384 "
	    "bytes, a random 90 % freed", "when",
	    "median MiB (lower is better)", NCOLUMNS, columns, true },
	{ "time", "kmem_move: time of the workload's phases", "phase",
	    "median ms (lower is better)", NCOLUMNS, columns, true },
	{ "moves", "kmem_move: the moves", "what", "median", 1, move_columns,
	    false },
};

#define NTABLES (sizeof (tables) / sizeof (tables[0]))

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "kmem_move: %s\n", what);
	exit(1);
}

/* ---- the workload and its client ---- */

typedef struct workload {
	size_t n;
	void **objs;
	uint8_t *size_index;
	kmem_cache_t *caches[NSIZES];   /* the kmem process's */
} workload_t;

static workload_t wl;

/* The client's move callback: a live object is one the table points at. */
static kmem_cbrc_t
object_move(void *old, void *newbuf, size_t size, void *arg)
{
	(void) arg;
	uint64_t index = *(uint64_t *)old;
	if (index >= wl.n || wl.objs[index] != old)
		return (KMEM_CBRC_DONT_KNOW);
	memcpy(newbuf, old, size);
	wl.objs[index] = newbuf;
	*(uint64_t *)old = FREED;
	return (KMEM_CBRC_YES);
}

static void
allocate_all(bool kmem)
{
	uint64_t state = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < wl.n; i++) {
		unsigned s = (unsigned)(bench_xorshift(&state) % NSIZES);
		void *p = kmem ? kmem_cache_alloc(wl.caches[s], KM_SLEEP) :
		    malloc(sizes[s]);
		if (p == NULL)
			die("out of memory");
		memset(p, (int)(i & 0xff), sizes[s]);
		*(uint64_t *)p = i;
		wl.objs[i] = p;
		wl.size_index[i] = (uint8_t)s;
	}
}

/* Free a random 90%: an object stays with probability 1/KEEP_ONE_IN. */
static void
free_most(bool kmem)
{
	uint64_t state = 0x2545f4914f6cdd1dull;
	for (size_t i = 0; i < wl.n; i++) {
		if (bench_xorshift(&state) % KEEP_ONE_IN == 0)
			continue;
		*(uint64_t *)wl.objs[i] = FREED;
		if (kmem)
			kmem_cache_free(wl.caches[wl.size_index[i]], wl.objs[i]);
		else
			free(wl.objs[i]);
		wl.objs[i] = NULL;
	}
}

/* The survivors are intact wherever they are now. */
static void
check_survivors(void)
{
	for (size_t i = 0; i < wl.n; i++) {
		const unsigned char *p = wl.objs[i];
		if (p == NULL)
			continue;
		if (*(const uint64_t *)p != i ||
		    p[sizes[wl.size_index[i]] - 1] != (unsigned char)(i & 0xff))
			die("an object was damaged");
	}
}

/* kmem's give-back: move, then what reaping and idle intervals do. */
static void
kmem_give_back(void)
{
	uint64_t moved = 0, slabs = 0;
	size_t bytes = 0;
	uint64_t t0 = bench_now_ns();
	for (unsigned s = 0; s < NSIZES; s++)
		bytes += kmem_cache_move_now(wl.caches[s]);
	uint64_t t1 = bench_now_ns();
	kmem_reap();
	for (int i = 0; i < UPDATE_PASSES; i++)
		kmem_update_now();
	for (unsigned s = 0; s < NSIZES; s++) {
		kmem_cache_stats_t st;
		kmem_cache_stats(wl.caches[s], &st);
		moved += st.move_yes;
		slabs += st.move_slabs_freed;
	}
	peer_report("moves", "ms moving", "kmem_cache_move",
	    (double)(t1 - t0) / 1e6);
	peer_report("moves", "objects moved", "kmem_cache_move",
	    (double)moved);
	peer_report("moves", "ns per object moved", "kmem_cache_move",
	    moved != 0 ? (double)(t1 - t0) / (double)moved : 0.0);
	peer_report("moves", "slabs given back", "kmem_cache_move",
	    (double)slabs);
	peer_report("moves", "MiB of slabs given back to the arena",
	    "kmem_cache_move", (double)bytes / MIB);
}

static void
work(const peer_worker_t *w)
{
	const char *col = w->kmem ? "kmem_cache_move" : w->kind;
	wl.n = w->quick ? QUICK_OBJECTS : OBJECTS;
	wl.objs = bench_map(wl.n * sizeof (void *));
	wl.size_index = bench_map(wl.n);
	if (w->kmem) {
		for (unsigned s = 0; s < NSIZES; s++) {
			char name[32];
			snprintf(name, sizeof (name), "movable_%u", sizes[s]);
			wl.caches[s] = kmem_cache_create(name, sizes[s], 0,
			    NULL, NULL, NULL, NULL, NULL, 0);
			if (wl.caches[s] == NULL)
				die("kmem_cache_create failed");
			kmem_cache_set_move(wl.caches[s], object_move);
		}
	}

	peer_report("memory", "RSS before", col, bench_rss_mib());
	uint64_t t0 = bench_now_ns();
	allocate_all(w->kmem);
	uint64_t t1 = bench_now_ns();
	peer_report("memory", "peak RSS", col, bench_peak_rss_mib());
	free_most(w->kmem);
	uint64_t t2 = bench_now_ns();
	peer_report("memory", "after freeing 90%", col, bench_rss_mib());
	if (w->kmem)
		kmem_give_back();
	else if (peer_release_memory(w->kind) == NULL)
		die("the allocator's release call is missing");
	uint64_t t3 = bench_now_ns();
	peer_report("memory", "after freeing 90%, give back", col,
	    bench_rss_mib());
	check_survivors();

	peer_report("time", "allocate and write all", col,
	    (double)(t1 - t0) / 1e6);
	peer_report("time", "free 90%", col, (double)(t2 - t1) / 1e6);
	peer_report("time", "give back", col, (double)(t3 - t2) / 1e6);
	munmap(wl.objs, wl.n * sizeof (void *));
	munmap(wl.size_index, wl.n);
}

int
main(int argc, char **argv)
{
	static const peer_program_t prog = { "kmem_move", tables, NTABLES,
		work, NULL };
	return (peer_main(&prog, argc, argv));
}
