/*
 * The resource map (src/classic/rmap.c) against a model.
 *
 * The model is one byte per unit of a small managed region: free,
 * allocated, or lost (dropped by a map overflow).  Long random sequences of
 * rmalloc, rmget and rmfree (of whole allocations or pieces of them) run on
 * a map and on the model; after every operation the map must agree with
 * the model on what it returned, and its statistics on the number of free
 * runs, free units, the largest run and the losses.  Because touching free
 * ranges always merge, "number of free runs" pins down the map's entries.
 *
 * The deterministic tests cover rmget's exact ranges, overflow (the warning,
 * the loss, and that nothing else is lost) and every kind of bad input.
 *
 * Usage: rmap_test [--seed N] [--ops N]
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kmem/classic.h>

#include "check.h"

/* ---- a small deterministic random generator (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t
rng_next(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (z ^ (z >> 31));
}

/* Uniform in [0, n). */
static size_t
rng_below(size_t n)
{
	return ((size_t)(rng_next() % n));
}

/* ---- the model ---- */

#define REGION_BASE     1ul             /* unit 0 cannot be managed */
#define REGION_UNITS    2048
#define MAX_LIVE        REGION_UNITS

enum unit_state { UNIT_FREE, UNIT_ALLOC, UNIT_LOST };

typedef struct live {
	unsigned long addr;
	size_t size;
} live_t;

typedef struct model {
	struct map *mp;
	size_t capacity;
	unsigned char unit[REGION_UNITS];
	live_t live[MAX_LIVE];          /* allocations not yet freed */
	size_t nlive;
	uint64_t lost_ranges;
	uint64_t lost_units;
} model_t;

static unsigned char *
unit_at(model_t *m, unsigned long addr)
{
	CHECK(addr >= REGION_BASE && addr < REGION_BASE + REGION_UNITS);
	return (&m->unit[addr - REGION_BASE]);
}

static void
mark(model_t *m, unsigned long addr, size_t size, enum unit_state from,
    enum unit_state to)
{
	for (size_t i = 0; i < size; i++) {
		unsigned char *u = unit_at(m, addr + i);
		CHECK_EQ(*u, from);
		*u = (unsigned char)to;
	}
}

static bool
all_free(model_t *m, unsigned long addr, size_t size)
{
	if (addr < REGION_BASE || addr + size > REGION_BASE + REGION_UNITS)
		return (false);
	for (size_t i = 0; i < size; i++) {
		if (*unit_at(m, addr + i) != UNIT_FREE)
			return (false);
	}
	return (true);
}

static bool
is_free(model_t *m, unsigned long addr)
{
	return (addr >= REGION_BASE && addr < REGION_BASE + REGION_UNITS &&
	    *unit_at(m, addr) == UNIT_FREE);
}

/* The lowest address of a free run of size units, or 0: first fit. */
static unsigned long
model_first_fit(model_t *m, size_t size)
{
	size_t run = 0;
	for (size_t i = 0; i < REGION_UNITS; i++) {
		run = m->unit[i] == UNIT_FREE ? run + 1 : 0;
		if (run == size)
			return (REGION_BASE + i + 1 - size);
	}
	return (0);
}

typedef struct runs {
	size_t count;
	unsigned long units;
	unsigned long largest;
} runs_t;

static runs_t
model_runs(const model_t *m)
{
	runs_t r = { 0, 0, 0 };
	unsigned long run = 0;
	for (size_t i = 0; i <= REGION_UNITS; i++) {
		if (i < REGION_UNITS && m->unit[i] == UNIT_FREE) {
			run++;
			continue;
		}
		if (run > 0) {
			r.count++;
			r.units += run;
			if (run > r.largest)
				r.largest = run;
		}
		run = 0;
	}
	return (r);
}

/* The map's statistics must describe the model's free set and losses. */
static void
model_compare(const model_t *m)
{
	struct rmap_stats st;
	runs_t r = model_runs(m);
	rmstats(m->mp, &st);
	CHECK_EQ(st.capacity, m->capacity);
	CHECK_EQ(st.entries, r.count);
	CHECK_EQ(st.free_units, r.units);
	CHECK_EQ(st.largest_free, r.largest);
	CHECK_EQ(st.lost_ranges, m->lost_ranges);
	CHECK_EQ(st.lost_units, m->lost_units);
	CHECK_EQ(st.waiters, 0);
}

static void
model_init(model_t *m, size_t capacity)
{
	memset(m, 0, sizeof (*m));
	m->capacity = capacity;
	m->mp = rmallocmap(capacity);
	CHECK(m->mp != NULL);
	memset(m->unit, UNIT_ALLOC, sizeof (m->unit));
	CHECK_NO_REPORT(rmfree(m->mp, REGION_UNITS, REGION_BASE));
	mark(m, REGION_BASE, REGION_UNITS, UNIT_ALLOC, UNIT_FREE);
	model_compare(m);
}

static void
live_add(model_t *m, unsigned long addr, size_t size)
{
	CHECK(m->nlive < MAX_LIVE);
	m->live[m->nlive++] = (live_t){ addr, size };
}

/* ---- operations, each on the map and the model ---- */

/* What the random operations did, printed at the end. */
static struct {
	long allocs, gets, frees, lost, double_frees;
} tally;

static size_t
random_size(void)
{
	switch (rng_below(8)) {
	case 0:
		return (1 + rng_below(64));
	case 1:
		return (1 + rng_below(2 * REGION_UNITS));   /* may not fit */
	default:
		return (1 + rng_below(8));
	}
}

static void
op_rmalloc(model_t *m)
{
	size_t size = random_size();
	unsigned long expect = model_first_fit(m, size);
	unsigned long got;
	CHECK_NO_REPORT(got = rmalloc(m->mp, size));
	CHECK_EQ(got, expect);
	if (got == 0)
		return;
	CHECK(got >= REGION_BASE && got + size <= REGION_BASE + REGION_UNITS);
	mark(m, got, size, UNIT_FREE, UNIT_ALLOC);
	live_add(m, got, size);
	tally.allocs++;
}

/*
 * Would taking [addr, addr + size) out of its free run split the run in
 * two?  Then the map needs one more entry.
 */
static bool
splits_run(model_t *m, unsigned long addr, size_t size)
{
	return (is_free(m, addr - 1) && is_free(m, addr + size));
}

static void
op_rmget(model_t *m)
{
	size_t size = 1 + rng_below(16);
	unsigned long addr = REGION_BASE + rng_below(REGION_UNITS);
	bool possible = all_free(m, addr, size);
	if (possible && splits_run(m, addr, size) &&
	    model_runs(m).count == m->capacity)
		possible = false;
	unsigned long got;
	CHECK_NO_REPORT(got = rmget(m->mp, size, addr));
	CHECK_EQ(got, possible ? addr : 0);
	if (got == 0)
		return;
	mark(m, addr, size, UNIT_FREE, UNIT_ALLOC);
	live_add(m, addr, size);
	tally.gets++;
}

/* Free all of an allocation or a piece of it (the map allows both). */
static void
op_rmfree(model_t *m)
{
	if (m->nlive == 0)
		return;
	size_t k = rng_below(m->nlive);
	live_t a = m->live[k];
	size_t off = 0, size = a.size;
	if (a.size > 1 && rng_below(3) == 0) {
		off = rng_below(a.size);
		size = 1 + rng_below(a.size - off);
	}
	unsigned long addr = a.addr + off;

	m->live[k] = m->live[--m->nlive];
	if (off > 0)
		live_add(m, a.addr, off);
	if (off + size < a.size)
		live_add(m, addr + size, a.size - off - size);

	bool needs_entry = !is_free(m, addr - 1) && !is_free(m, addr + size);
	if (needs_entry && model_runs(m).count == m->capacity) {
		CHECK_WARNING(rmfree(m->mp, size, addr), "is lost");
		mark(m, addr, size, UNIT_ALLOC, UNIT_LOST);
		m->lost_ranges++;
		m->lost_units += size;
		tally.lost++;
		return;
	}
	CHECK_NO_REPORT(rmfree(m->mp, size, addr));
	mark(m, addr, size, UNIT_ALLOC, UNIT_FREE);
	tally.frees++;
}

/* Free a range that overlaps free space: reported, and nothing changes. */
static void
op_double_free(model_t *m)
{
	runs_t r = model_runs(m);
	if (r.units == 0)
		return;
	unsigned long addr;
	do
		addr = REGION_BASE + rng_below(REGION_UNITS);
	while (!is_free(m, addr));
	size_t back = rng_below(3);
	if (addr < REGION_BASE + back)
		back = 0;
	CHECK_REPORT(rmfree(m->mp, 1 + back + rng_below(3), addr - back),
	    "double free");
	tally.double_frees++;
}

static void
model_free_all(model_t *m)
{
	while (m->nlive > 0)
		op_rmfree(m);
	model_compare(m);
}

/*
 * One epoch: a fresh map, ops random operations, then everything freed.
 * With room for every possible run nothing can be lost, and the map must
 * end as the one range it started with, all of it reusable.
 */
static void
run_epoch(size_t capacity, long ops)
{
	static model_t m;
	model_init(&m, capacity);
	for (long i = 0; i < ops; i++) {
		unsigned op = (unsigned)rng_below(100);
		if (op < 40)
			op_rmalloc(&m);
		else if (op < 50)
			op_rmget(&m);
		else if (op < 98)
			op_rmfree(&m);
		else
			op_double_free(&m);
		model_compare(&m);
	}
	model_free_all(&m);

	if (m.lost_units == 0) {
		struct rmap_stats st;
		rmstats(m.mp, &st);
		CHECK_EQ(st.entries, 1);
		CHECK_EQ(rmalloc(m.mp, REGION_UNITS), REGION_BASE);
		CHECK_EQ(rmalloc(m.mp, 1), 0);
		rmfree(m.mp, REGION_UNITS, REGION_BASE);
	}
	rmfreemap(m.mp);
}

/* Run epochs until at least ops operations are done; returns how many. */
static long
test_model(long ops)
{
	long done = 0;
	while (done < ops) {
		/* Mostly maps that never overflow, sometimes tiny ones. */
		size_t capacity = rng_below(4) == 0 ? 1 + rng_below(32) :
		    REGION_UNITS / 2 + 1;
		long epoch = 5000 + (long)rng_below(20000);
		run_epoch(capacity, epoch);
		done += epoch;
	}
	return (done);
}

/* ---- deterministic cases ---- */

static struct map *
map_with(size_t capacity, size_t size, unsigned long addr)
{
	struct map *mp = rmallocmap(capacity);
	CHECK(mp != NULL);
	CHECK_NO_REPORT(rmfree(mp, size, addr));
	return (mp);
}

static struct rmap_stats
stats_of(struct map *mp)
{
	struct rmap_stats st;
	rmstats(mp, &st);
	return (st);
}

static void
test_first_fit(void)
{
	struct map *mp = map_with(8, 100, 100);        /* [100, 200) */
	CHECK_EQ(rmalloc(mp, 10), 100);
	CHECK_EQ(rmalloc(mp, 10), 110);
	CHECK_EQ(rmalloc(mp, 10), 120);
	rmfree(mp, 10, 100);                    /* [100,110) [130,200) */
	CHECK_EQ(stats_of(mp).entries, 2);
	CHECK_EQ(rmalloc(mp, 20), 130);         /* does not fit below */
	CHECK_EQ(rmalloc(mp, 5), 100);          /* the lowest that fits */
	rmfree(mp, 10, 120);                    /* [105,110) [120,130) [150,200) */
	rmfree(mp, 10, 110);                    /* merges both sides */
	CHECK_EQ(stats_of(mp).entries, 2);
	CHECK_EQ(rmalloc(mp, 25), 105);
	CHECK_EQ(rmalloc(mp, 1000), 0);
	CHECK_EQ(stats_of(mp).failures, 1);
	/* A map may be freed with units still allocated. */
	CHECK_NO_REPORT(rmfreemap(mp));
}

static void
test_rmget(void)
{
	struct map *mp = map_with(2, 100, 100);        /* [100, 200) */
	CHECK_EQ(rmget(mp, 10, 100), 100);      /* the front */
	CHECK_EQ(rmget(mp, 10, 100), 0);        /* not free any more */
	CHECK_EQ(rmget(mp, 10, 190), 190);      /* the back */
	CHECK_EQ(rmget(mp, 20, 180), 0);        /* half of it is taken */
	CHECK_EQ(rmget(mp, 10, 50), 0);         /* outside the map */
	CHECK_EQ(rmget(mp, 10, 140), 140);      /* the middle: a second entry */
	struct rmap_stats st = stats_of(mp);
	CHECK_EQ(st.entries, 2);                /* [110,140) [150,190) */
	CHECK_EQ(st.free_units, 70);
	CHECK_EQ(st.largest_free, 40);
	/* The map is full: a middle piece would need a third entry. */
	CHECK_EQ(rmget(mp, 5, 160), 0);
	CHECK_EQ(stats_of(mp).failures, 4);
	CHECK_EQ(rmget(mp, 40, 150), 150);      /* a whole range */
	CHECK_EQ(stats_of(mp).entries, 1);
	CHECK_EQ(rmget(mp, 5, 120), 120);       /* room again for the split */
	CHECK_EQ(stats_of(mp).entries, 2);
	/* Everything back: one range again. */
	rmfree(mp, 5, 120);
	rmfree(mp, 40, 150);
	rmfree(mp, 10, 140);
	rmfree(mp, 10, 190);
	rmfree(mp, 10, 100);
	st = stats_of(mp);
	CHECK_EQ(st.entries, 1);
	CHECK_EQ(st.free_units, 100);
	CHECK_EQ(rmalloc(mp, 100), 100);
	rmfreemap(mp);
}

static void
test_overflow(void)
{
	struct map *mp = rmallocmap(2);
	CHECK(mp != NULL);
	CHECK_NO_REPORT(rmfree(mp, 10, 100));
	CHECK_NO_REPORT(rmfree(mp, 10, 200));
	char expect[128];
	snprintf(expect, sizeof (expect), "rmfree(map %p): the map is full (2 "
	    "free ranges); [0x12c, 0x136) (10 units) is lost", (void *)mp);
	CHECK_WARNING(rmfree(mp, 10, 300), expect);

	struct rmap_stats st = stats_of(mp);
	CHECK_EQ(st.lost_ranges, 1);
	CHECK_EQ(st.lost_units, 10);
	CHECK_EQ(st.entries, 2);
	CHECK_EQ(st.free_units, 20);
	CHECK_EQ(rmget(mp, 10, 300), 0);        /* the lost range is gone */

	/* Frees that merge need no entry: nothing more is lost. */
	CHECK_NO_REPORT(rmfree(mp, 10, 110));   /* joins [100,110) */
	CHECK_NO_REPORT(rmfree(mp, 10, 190));   /* joins [200,210) */
	CHECK_NO_REPORT(rmfree(mp, 70, 120));   /* joins both: one entry */
	st = stats_of(mp);
	CHECK_EQ(st.entries, 1);
	CHECK_EQ(st.free_units, 110);
	CHECK_EQ(st.lost_ranges, 1);
	CHECK_EQ(rmalloc(mp, 110), 100);
	CHECK_EQ(st.frees, 6);

	/* A full map loses every free that merges with nothing. */
	CHECK_NO_REPORT(rmfree(mp, 10, 100));
	CHECK_NO_REPORT(rmfree(mp, 10, 150));
	CHECK_WARNING(rmfree(mp, 10, 130), "is lost");
	CHECK_NO_REPORT(rmfree(mp, 10, 140));   /* merges */
	st = stats_of(mp);
	CHECK_EQ(st.lost_units, 20);
	CHECK_EQ(st.free_units, 30);
	rmfreemap(mp);
}

static void
test_bad_input(void)
{
	struct map *mp = map_with(4, 100, 100);        /* [100, 200) */
	CHECK_EQ(rmalloc(mp, 10), 100);                 /* [110, 200) free */
	struct rmap_stats before = stats_of(mp);

	CHECK_REPORT(rmalloc(mp, 0), "size is 0");
	CHECK_REPORT(rmalloc_wait(mp, 0), "size is 0");
	CHECK_REPORT(rmget(mp, 0, 150), "size is 0");
	CHECK_REPORT(rmget(mp, 10, 0), "unit 0");
	CHECK_REPORT(rmget(mp, 10, ULONG_MAX - 4), "wraps");
	CHECK_REPORT(rmfree(mp, 0, 100), "size is 0");
	CHECK_REPORT(rmfree(mp, 10, 0), "unit 0");
	CHECK_REPORT(rmfree(mp, 10, ULONG_MAX - 4), "wraps");
	CHECK_REPORT(rmfree(mp, 1, ULONG_MAX), "wraps");
	CHECK_REPORT(rmfree(mp, 10, 150), "double free");       /* inside */
	CHECK_REPORT(rmfree(mp, 10, 110), "double free");       /* at its start */
	CHECK_REPORT(rmfree(mp, 20, 95), "double free");        /* straddles */
	CHECK_REPORT(rmfree(mp, 10, 195), "free range [0x6e, 0xc8)"); /* its end */
	CHECK_REPORT(rmfree(mp, 300, 50), "overlaps");          /* covers it */
	CHECK_REPORT(rmalloc(NULL, 1), "NULL");
	CHECK_REPORT(rmalloc_wait(NULL, 1), "NULL");
	CHECK_REPORT(rmget(NULL, 1, 1), "NULL");
	CHECK_REPORT(rmfree(NULL, 1, 1), "NULL");
	CHECK_REPORT(rmfreemap(NULL), "NULL");
	struct rmap_stats st;
	CHECK_REPORT(rmstats(NULL, &st), "NULL");
	CHECK_REPORT(CHECK(rmallocmap(0) == NULL), "rmallocmap(0)");

	/* None of it changed the map. */
	struct rmap_stats after = stats_of(mp);
	CHECK_EQ(after.entries, before.entries);
	CHECK_EQ(after.free_units, before.free_units);
	CHECK_EQ(after.allocs, before.allocs);
	CHECK_EQ(after.frees, before.frees);
	CHECK_EQ(after.failures, before.failures);
	CHECK_EQ(after.lost_ranges, 0);
	CHECK_EQ(rmalloc(mp, 90), 110);
	rmfreemap(mp);
}

static void
test_huge_map(void)
{
	CHECK(rmallocmap(SIZE_MAX) == NULL);
	CHECK(rmallocmap(SIZE_MAX / 16) == NULL);
}

int
main(int argc, char **argv)
{
	uint64_t seed = (uint64_t)time(NULL);
	long ops = 200000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
			ops = strtol(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: %s [--seed N] [--ops N]\n",
			    argv[0]);
			return (2);
		}
	}
	printf("rmap_test: seed %llu (rerun with --seed %llu)\n",
	    (unsigned long long)seed, (unsigned long long)seed);
	fflush(stdout);
	rng_state = seed;

	check_catch_reports();
	test_first_fit();
	test_rmget();
	test_overflow();
	test_bad_input();
	test_huge_map();
	ops = test_model(ops);
	printf("rmap_test: %ld random operations agree with the model: %ld "
	    "rmalloc and %ld rmget succeeded, %ld rmfree merged or inserted, "
	    "%ld lost, %ld double frees reported\n", ops, tally.allocs,
	    tally.gets, tally.frees, tally.lost, tally.double_frees);
	return (0);
}
