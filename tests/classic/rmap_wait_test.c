/*
 * The resource map with threads: rmalloc_wait() sleeps until rmfree() makes
 * its request possible, and a map stays consistent under concurrent use.
 *
 * No sleeps for synchronisation: the main thread polls the map's waiter
 * count (rmstats) until the waiting thread is asleep inside rmalloc_wait(),
 * and only then frees.  Each step below therefore happens in one order.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>

#include <kmem/classic.h>

#include "check.h"

typedef struct waiter {
	pthread_t thread;
	struct map *mp;
	size_t size;
	unsigned long got;
} waiter_t;

static void *
waiter_main(void *arg)
{
	waiter_t *w = arg;
	w->got = rmalloc_wait(w->mp, w->size);
	return (NULL);
}

static void
waiter_start(waiter_t *w, struct map *mp, size_t size)
{
	*w = (waiter_t){ .mp = mp, .size = size };
	CHECK_EQ(pthread_create(&w->thread, NULL, waiter_main, w), 0);
}

static struct rmap_stats
stats_of(struct map *mp)
{
	struct rmap_stats st;
	rmstats(mp, &st);
	return (st);
}

/* Wait until waiters threads are asleep and waits sleeps have begun. */
static void
await_sleepers(struct map *mp, unsigned waiters, uint64_t waits)
{
	for (;;) {
		struct rmap_stats st = stats_of(mp);
		if (st.waiters == waiters && st.waits >= waits)
			return;
		sched_yield();
	}
}

static void
test_wakeup(void)
{
	struct map *mp = rmallocmap(4);
	CHECK(mp != NULL);
	rmfree(mp, 10, 1);                      /* [1, 11) */
	CHECK_EQ(rmalloc(mp, 10), 1);           /* all of it */

	waiter_t w;
	waiter_start(&w, mp, 4);
	await_sleepers(mp, 1, 1);

	/* A map with a sleeper in it may not be freed. */
	CHECK_REPORT(rmfreemap(mp), "asleep in rmalloc_wait");

	/* Two units are not enough: the waiter wakes and sleeps again. */
	rmfree(mp, 2, 1);
	await_sleepers(mp, 1, 2);
	CHECK_EQ(w.got, 0);

	/* Two more next to them are. */
	rmfree(mp, 2, 3);
	CHECK_EQ(pthread_join(w.thread, NULL), 0);
	CHECK_EQ(w.got, 1);
	struct rmap_stats st = stats_of(mp);
	CHECK_EQ(st.waiters, 0);
	CHECK_EQ(st.free_units, 0);
	rmfreemap(mp);
}

static void
test_two_waiters(void)
{
	struct map *mp = rmallocmap(4);
	CHECK(mp != NULL);
	waiter_t a, b;
	waiter_start(&a, mp, 5);
	waiter_start(&b, mp, 5);
	await_sleepers(mp, 2, 2);

	rmfree(mp, 10, 100);                    /* one free serves both */
	CHECK_EQ(pthread_join(a.thread, NULL), 0);
	CHECK_EQ(pthread_join(b.thread, NULL), 0);
	CHECK((a.got == 100 && b.got == 105) || (a.got == 105 && b.got == 100));
	CHECK_EQ(stats_of(mp).free_units, 0);
	rmfreemap(mp);
}

/* ---- concurrent use ---- */

#define STRESS_UNITS    4096
#define STRESS_OPS      20000
#define STRESS_HELD     32

typedef struct stresser {
	pthread_t thread;
	struct map *mp;
	uint64_t rng;
	int failed;
} stresser_t;

static void *
stresser_main(void *arg)
{
	stresser_t *s = arg;
	unsigned long addr[STRESS_HELD] = { 0 };
	size_t size[STRESS_HELD] = { 0 };
	for (int i = 0; i < STRESS_OPS; i++) {
		s->rng = s->rng * 6364136223846793005ull + 1442695040888963407ull;
		unsigned k = (unsigned)(s->rng >> 59) % STRESS_HELD;
		if (addr[k] != 0) {
			rmfree(s->mp, size[k], addr[k]);
			addr[k] = 0;
		} else {
			size[k] = 1 + (size_t)((s->rng >> 40) % 32);
			addr[k] = rmalloc(s->mp, size[k]);
		}
	}
	for (unsigned k = 0; k < STRESS_HELD; k++) {
		if (addr[k] != 0)
			rmfree(s->mp, size[k], addr[k]);
	}
	return (NULL);
}

static void
test_concurrent(void)
{
	/* Room for every possible run: nothing may be lost. */
	struct map *mp = rmallocmap(STRESS_UNITS / 2 + 1);
	CHECK(mp != NULL);
	rmfree(mp, STRESS_UNITS, 1);
	stresser_t s[2];
	for (unsigned i = 0; i < 2; i++) {
		s[i] = (stresser_t){ .mp = mp, .rng = 12345 + i };
		CHECK_EQ(pthread_create(&s[i].thread, NULL, stresser_main,
		    &s[i]), 0);
	}
	for (unsigned i = 0; i < 2; i++)
		CHECK_EQ(pthread_join(s[i].thread, NULL), 0);

	struct rmap_stats st = stats_of(mp);
	CHECK_EQ(st.entries, 1);
	CHECK_EQ(st.free_units, STRESS_UNITS);
	CHECK_EQ(st.lost_ranges, 0);
	CHECK_EQ(st.allocs, st.frees - 1);      /* the first free filled it */
	rmfreemap(mp);
}

int
main(void)
{
	check_catch_reports();
	test_wakeup();
	test_two_waiters();
	test_concurrent();
	printf("rmap_wait_test: ok\n");
	return (0);
}
