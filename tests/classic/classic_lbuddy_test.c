/*
 * The SVR4 lazy buddy system (src/classic/lazybuddy.c): the slack rule's
 * three states step by step, the drain before a failure, bad input, and
 * the model (classic_model.h) over long random sequences.
 *
 * The model checks what the design promises: L <= A in every class at all
 * times; an allocation fails only when, with every delayed block
 * coalesced, no aligned block of its order is free (the drain makes that
 * the buddy system's condition); and once everything is freed nothing is
 * locally free and the region is coalesced back to its starting blocks.
 *
 * Usage: classic_lbuddy_test [--seed N] [--ops N]
 */
#include <stdio.h>
#include <stdlib.h>

#include <kmem/classic.h>

#include "check.h"
#include "classic_model.h"

#define REGION          ((size_t)1 << 20)

static size_t page;

static struct lbuddy_stats
stats_of(struct lbuddy *lb)
{
	struct lbuddy_stats st;
	lbuddy_stats(lb, &st);
	return (st);
}

static size_t
block_of(size_t size)
{
	size_t b = 16;
	while (b < size)
		b *= 2;
	return (b);
}

/* Class 0 (16-byte blocks) must show A allocated and L locally free. */
static void
check_class(struct lbuddy *lb, size_t a, size_t l)
{
	struct lbuddy_stats st = stats_of(lb);
	CHECK_EQ(st.cls[0].allocated, a);
	CHECK_EQ(st.cls[0].locally_free, l);
	CHECK_EQ(st.locally_free_bytes, 16 * l);
}

static void
test_slack_states(void)
{
	struct lbuddy *lb = lbuddy_create(NULL, page, 16);
	CHECK(lb != NULL);
	void *b[4];
	for (int i = 0; i < 4; i++)
		CHECK((b[i] = lbuddy_alloc(lb, 16)) != NULL);
	check_class(lb, 4, 0);

	lbuddy_free(lb, b[0], 16);      /* slack 4: lazy */
	check_class(lb, 3, 1);
	lbuddy_free(lb, b[1], 16);      /* slack 2: lazy */
	check_class(lb, 2, 2);
	/* A lazy block comes back first, with no splitting. */
	uint64_t splits = stats_of(lb).buddy.splits;
	void *again = lbuddy_alloc(lb, 16);
	CHECK(again == b[1]);
	CHECK_EQ(stats_of(lb).buddy.splits, splits);
	check_class(lb, 3, 1);
	lbuddy_free(lb, again, 16);     /* slack 2: lazy */
	check_class(lb, 2, 2);
	lbuddy_free(lb, b[2], 16);      /* slack 0: accelerated */
	check_class(lb, 1, 1);
	lbuddy_free(lb, b[3], 16);      /* slack 0: accelerated */
	check_class(lb, 0, 0);
	struct lbuddy_stats st = stats_of(lb);
	CHECK_EQ(st.cls[0].lazy_frees, 3);
	CHECK_EQ(st.cls[0].reclaiming_frees, 0);
	CHECK_EQ(st.cls[0].accelerated_frees, 2);
	CHECK_EQ(st.buddy.free_bytes, page);
	CHECK_EQ(st.buddy.free_blocks[st.buddy.norders - 1], 1);

	/* Three blocks: lazy, reclaiming, accelerated. */
	for (int i = 0; i < 3; i++)
		CHECK((b[i] = lbuddy_alloc(lb, 16)) != NULL);
	lbuddy_free(lb, b[0], 16);      /* slack 3: lazy */
	check_class(lb, 2, 1);
	lbuddy_free(lb, b[1], 16);      /* slack 1: reclaiming */
	check_class(lb, 1, 1);
	lbuddy_free(lb, b[2], 16);      /* slack 0: accelerated */
	check_class(lb, 0, 0);
	st = stats_of(lb);
	CHECK_EQ(st.cls[0].reclaiming_frees, 1);
	CHECK_EQ(st.buddy.free_blocks[st.buddy.norders - 1], 1);
	lbuddy_destroy(lb);
}

static void
test_drain(void)
{
	struct lbuddy *lb = lbuddy_create(NULL, page, 16);
	CHECK(lb != NULL);
	size_t n = page / 16;
	char **b = calloc(n, sizeof (*b));
	CHECK(b != NULL);
	for (size_t i = 0; i < n; i++)
		CHECK((b[i] = lbuddy_alloc(lb, 16)) != NULL);
	CHECK(lbuddy_alloc(lb, 16) == NULL);
	/*
	 * Free the lowest 200 by address: the first n / 2 frees are lazy, the
	 * rest accelerated, each taking back one lazy block, so blocks 0 .. 55
	 * stay locally free and the lower half of the page cannot coalesce.
	 */
	for (size_t i = 0; i < 200; i++) {
		CHECK(b[i] == b[0] + 16 * i);   /* a fresh region fills upward */
		lbuddy_free(lb, b[i], 16);
	}
	check_class(lb, n - 200, n - 200);
	CHECK_EQ(stats_of(lb).drains, 0);
	/* Half a page fits only once the delayed blocks coalesce. */
	char *half = lbuddy_alloc(lb, page / 2);
	CHECK(half == b[0]);
	struct lbuddy_stats st = stats_of(lb);
	CHECK_EQ(st.drains, 1);
	CHECK_EQ(st.locally_free_bytes, 0);
	lbuddy_destroy(lb);
	free(b);
}

static void
test_bad_input(void)
{
	CHECK_REPORT(CHECK(lbuddy_create(NULL, page, 48) == NULL), "min_block");
	CHECK_REPORT(CHECK(lbuddy_create(NULL, page / 2, 16) == NULL),
	    "not a multiple of the page size");
	struct lbuddy *lb = lbuddy_create(NULL, 4 * page, 16);
	CHECK(lb != NULL);
	char *a = lbuddy_alloc(lb, 64);
	char *b = lbuddy_alloc(lb, 64);
	char *c = lbuddy_alloc(lb, 64);
	CHECK(a != NULL && b != NULL && c != NULL);
	CHECK_REPORT(CHECK(lbuddy_alloc(lb, 0) == NULL), "size is 0");
	CHECK_REPORT(lbuddy_free(lb, a, 16), "wrong size");
	CHECK_REPORT(lbuddy_free(lb, a + 16, 16), "inside the allocated block");
	CHECK_REPORT(lbuddy_free(lb, NULL, 64), "NULL");
	CHECK_REPORT(lbuddy_free(lb, a, 0), "size is 0");
	CHECK_REPORT(lbuddy_free(lb, a + 8 * page, 64), "outside the region");
	lbuddy_free(lb, a, 64);                 /* slack 3: lazy */
	CHECK_EQ(stats_of(lb).cls[2].locally_free, 1);
	CHECK_REPORT(lbuddy_free(lb, a, 64), "locally free already: a double "
	    "free");
	CHECK_REPORT(lbuddy_free(lb, a, 32), "wrong size");
	lbuddy_free(lb, b, 64);                 /* slack 1: reclaiming */
	CHECK_REPORT(lbuddy_free(lb, b, 64), "a double free");
	CHECK_REPORT(lbuddy_alloc(NULL, 1), "NULL");
	CHECK_REPORT(lbuddy_free(NULL, c, 64), "NULL");
	lbuddy_free(lb, c, 64);                 /* slack 0: accelerated */
	struct lbuddy_stats st = stats_of(lb);
	CHECK_EQ(st.buddy.free_bytes, 4 * page);
	CHECK_EQ(st.buddy.frees, 3);
	lbuddy_destroy(lb);
}

/* ---- the model ---- */

static void *
target_alloc(void *inst, size_t size)
{
	return (lbuddy_alloc(inst, size));
}

static void
target_free(void *inst, void *addr, size_t size)
{
	lbuddy_free(inst, addr, size);
}

static bool
target_may_fail(model_t *m, size_t size)
{
	return (size > m->t->size || !model_aligned_free(m, block_of(size),
	    block_of));
}

static void
target_check(model_t *m)
{
	struct lbuddy_stats st = stats_of(m->t->inst);
	size_t a = 0, l = 0, bytes = 0, live = 0;
	for (unsigned k = 0; k < st.buddy.norders; k++) {
		CHECK(st.cls[k].locally_free <= st.cls[k].allocated);
		CHECK_EQ(st.cls[k].globally_free, st.buddy.free_blocks[k]);
		CHECK_EQ(st.buddy.allocated_blocks[k], st.cls[k].allocated +
		    st.cls[k].locally_free);
		a += st.cls[k].allocated;
		l += st.cls[k].locally_free * ((size_t)16 << k);
		bytes += st.cls[k].allocated * ((size_t)16 << k);
	}
	for (size_t i = 0; i < m->nlive; i++)
		live += block_of(m->live[i].size);
	CHECK_EQ(a, m->nlive);
	CHECK_EQ(bytes, live);
	CHECK_EQ(l, st.locally_free_bytes);
	CHECK_EQ(st.buddy.free_bytes + bytes + l, st.buddy.region_bytes);
}

static void
at_end(model_t *m)
{
	struct lbuddy_stats st = stats_of(m->t->inst);
	CHECK_EQ(st.locally_free_bytes, 0);
	CHECK_EQ(st.buddy.free_blocks[st.buddy.norders - 1], 1);
	CHECK_EQ(st.buddy.largest_free, REGION);
	uint64_t lazy = 0, reclaiming = 0, accelerated = 0;
	for (unsigned k = 0; k < st.buddy.norders; k++) {
		lazy += st.cls[k].lazy_frees;
		reclaiming += st.cls[k].reclaiming_frees;
		accelerated += st.cls[k].accelerated_frees;
	}
	printf("classic_lbuddy_test: frees %llu lazy, %llu reclaiming, %llu "
	    "accelerated; %llu drains, %llu splits\n",
	    (unsigned long long)lazy, (unsigned long long)reclaiming,
	    (unsigned long long)accelerated, (unsigned long long)st.drains,
	    (unsigned long long)st.buddy.splits);
}

static void
run_model(uint64_t seed, long ops)
{
	void *region = aligned_alloc(page, REGION);
	CHECK(region != NULL);
	struct lbuddy *lb = lbuddy_create(region, REGION, 16);
	CHECK(lb != NULL);
	model_target_t t = {
		.name = "classic_lbuddy_test", .inst = lb,
		.base = (uintptr_t)region, .size = REGION, .align = 16,
		.max_request = REGION / 4, .alloc = target_alloc,
		.free = target_free, .may_fail = target_may_fail,
		.check = target_check,
	};
	model_test(&t, seed, ops, at_end);
	lbuddy_destroy(lb);
	free(region);
}

int
main(int argc, char **argv)
{
	uint64_t seed;
	long ops = 300000;
	model_args(argc, argv, "classic_lbuddy_test", &seed, &ops);
	page = (size_t)sysconf(_SC_PAGESIZE);
	check_catch_reports();
	test_slack_states();
	test_drain();
	test_bad_input();
	run_model(seed, ops);
	return (0);
}
