/*
 * The Dynix/ptx hierarchical allocator (src/classic/dynix.c) in one
 * thread: the CPU layer's main and aux lists and how whole lists move to
 * the global layer, the coalesce-to-page layer giving pages back,
 * reclaiming, large blocks, bad input, and the model (classic_model.h) over
 * long random sequences.  classic_thread_test runs it from many threads.
 *
 * The model checks the design's promises: an allocation fails only when,
 * after every cached block went back to its page, its class has no free
 * block in a page and no page is left (or, for a large one, no run of
 * pages fits); the classes' counts match the live blocks; and once
 * everything is freed and reclaimed, every page is back.
 *
 * Usage: classic_dynix_test [--seed N] [--ops N]
 */
#include <stdio.h>
#include <stdlib.h>

#include <kmem/classic.h>

#include "check.h"
#include "classic_model.h"

#define REGION          ((size_t)1 << 20)

static size_t page;

static struct dynix_stats
stats_of(struct dynix *dx)
{
	struct dynix_stats st;
	dynix_stats(dx, &st);
	return (st);
}

static unsigned
class_of(size_t size)
{
	unsigned c = 0;
	while (((size_t)16 << c) < size)
		c++;
	return (c);
}

static void
test_layers(void)
{
	struct dynix *dx = dynix_create(NULL, 16 * page);
	CHECK(dx != NULL);
	struct dynix_stats st = stats_of(dx);
	CHECK_EQ(st.ncpus, (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	CHECK_EQ(st.cls[st.nclasses - 1].block_size, page / 2);
	const unsigned c = 2;                   /* 64-byte blocks */
	unsigned target = st.cls[c].target;
	CHECK_EQ(target, 16);

	/* Three lists' worth: each refill builds a list from the page. */
	void *b[48];
	for (int i = 0; i < 48; i++)
		CHECK((b[i] = dynix_alloc(dx, 64)) != NULL);
	st = stats_of(dx);
	CHECK_EQ(st.cls[c].page_refills, 3);
	CHECK_EQ(st.cls[c].cpu_allocs, 45);     /* all but the refills */
	CHECK_EQ(st.cls[c].pages, 1);
	CHECK_EQ(st.cls[c].page_free, page / 64 - 48);
	CHECK_EQ(st.cls[c].allocated, 48);
	CHECK_EQ(st.cls[c].cpu_free, 0);

	/* Freeing fills main, then aux, then sends a full list up. */
	for (int i = 0; i < 16; i++)
		dynix_free(dx, b[i], 64);
	CHECK_EQ(stats_of(dx).cls[c].cpu_free, 16);
	dynix_free(dx, b[16], 64);              /* main -> aux */
	st = stats_of(dx);
	CHECK_EQ(st.cls[c].cpu_free, 17);
	CHECK_EQ(st.cls[c].global_spills, 0);
	for (int i = 17; i < 33; i++)
		dynix_free(dx, b[i], 64);       /* the 33rd: aux goes up */
	st = stats_of(dx);
	CHECK_EQ(st.cls[c].global_spills, 1);
	CHECK_EQ(st.cls[c].global_free, 16);
	CHECK_EQ(st.cls[c].cpu_free, 17);
	/* The last freed comes back first. */
	CHECK(dynix_alloc(dx, 64) == b[32]);
	dynix_free(dx, b[32], 64);
	for (int i = 33; i < 48; i++)
		dynix_free(dx, b[i], 64);
	st = stats_of(dx);
	CHECK_EQ(st.cls[c].allocated, 0);
	CHECK_EQ(st.cls[c].pages, 1);           /* cached: not yet home */
	CHECK_EQ(st.free_pages, 15);

	/* Reclaiming sends every block home, and the page back. */
	dynix_reclaim(dx);
	st = stats_of(dx);
	CHECK_EQ(st.cls[c].pages, 0);
	CHECK_EQ(st.cls[c].cpu_free + st.cls[c].global_free, 0);
	CHECK_EQ(st.free_pages, 16);
	CHECK_EQ(st.reclaims, 1);

	/* Above half a page: whole pages. */
	char *big = dynix_alloc(dx, page / 2 + 1);
	CHECK(big != NULL);
	CHECK_EQ((uintptr_t)big % page, 0);
	CHECK_EQ(stats_of(dx).large_pages, 1);
	dynix_free(dx, big, page / 2 + 1);
	CHECK_EQ(stats_of(dx).free_pages, 16);
	dynix_destroy(dx);
}

static void
test_pressure(void)
{
	/* Blocks cached in the layers above the pages come home on demand. */
	struct dynix *dx = dynix_create(NULL, 2 * page);
	CHECK(dx != NULL);
	size_t n = 2 * page / 32;
	void **b = calloc(n, sizeof (*b));
	CHECK(b != NULL);
	for (size_t i = 0; i < n; i++)
		CHECK((b[i] = dynix_alloc(dx, 32)) != NULL);
	CHECK(dynix_alloc(dx, 16) == NULL);
	for (size_t i = 0; i < n; i++)
		dynix_free(dx, b[i], 32);
	CHECK(stats_of(dx).free_pages < 2);     /* the layers hold blocks */
	char *two = dynix_alloc(dx, 2 * page);
	CHECK(two != NULL);
	struct dynix_stats st = stats_of(dx);
	CHECK_EQ(st.reclaims, 2);               /* the failure's, and this */
	CHECK_EQ(st.failures, 1);
	dynix_free(dx, two, 2 * page);
	dynix_destroy(dx);
	free(b);
}

static void
test_bad_input(void)
{
	struct dynix *dx = dynix_create(NULL, 8 * page);
	CHECK(dx != NULL);
	char *a = dynix_alloc(dx, 100);         /* a 128-byte block */
	char *b = dynix_alloc(dx, 100);
	char *big = dynix_alloc(dx, 3 * page);
	CHECK(a != NULL && b != NULL && big != NULL);
	CHECK_REPORT(CHECK(dynix_alloc(dx, 0) == NULL), "size is 0");
	CHECK_REPORT(dynix_free(dx, a, 0), "size is 0");
	CHECK_REPORT(dynix_free(dx, NULL, 100), "NULL");
	CHECK_REPORT(dynix_free(dx, a, 64), "wrong size: the page holds "
	    "128-byte blocks, and this size takes 64-byte ones");
	CHECK_REPORT(dynix_free(dx, a + 16, 100), "not at the start of a "
	    "block");
	CHECK_REPORT(dynix_free(dx, a + 4 * 128, 100), "the block is free");
	CHECK_REPORT(dynix_free(dx, a - 64 * page, 100), "outside");
	CHECK_REPORT(dynix_free(dx, big + 64, 100), "not in a page of small "
	    "blocks");
	CHECK_REPORT(dynix_free(dx, big, page), "wrong size: the block at this "
	    "address has another number of pages");
	CHECK_REPORT(dynix_free(dx, a, 3 * page), "not the start of a large "
	    "block");
	dynix_free(dx, b, 100);
	CHECK_REPORT(dynix_free(dx, b, 128), "a double free");
	dynix_free(dx, big, 3 * page);
	CHECK_REPORT(dynix_free(dx, big, 3 * page), "not the start of a large "
	    "block");
	CHECK_REPORT(dynix_alloc(NULL, 1), "NULL");
	CHECK_REPORT(dynix_free(NULL, a, 1), "NULL");
	CHECK_REPORT(dynix_reclaim(NULL), "NULL");
	CHECK_EQ(stats_of(dx).cls[3].allocated, 1);
	dynix_free(dx, a, 128);
	dynix_destroy(dx);
}

/* ---- the model ---- */

static void *
target_alloc(void *inst, size_t size)
{
	return (dynix_alloc(inst, size));
}

static void
target_free(void *inst, void *addr, size_t size)
{
	dynix_free(inst, addr, size);
}

static bool
target_may_fail(model_t *m, size_t size)
{
	struct dynix_stats st = stats_of(m->t->inst);
	if (size > page / 2)
		return (st.largest_free_run < (size + page - 1) / page * page);
	const struct dynix_class_stats *cs = &st.cls[class_of(size)];
	return (cs->page_free + cs->cpu_free + cs->global_free == 0 &&
	    st.free_pages == 0);
}

static void
target_check(model_t *m)
{
	struct dynix_stats st = stats_of(m->t->inst);
	size_t live[KMEM_CLASSIC_CLASSES] = { 0 };
	size_t large_pages = 0, pages = 0;
	for (size_t i = 0; i < m->nlive; i++) {
		size_t size = m->live[i].size;
		if (size > page / 2)
			large_pages += (size + page - 1) / page;
		else
			live[class_of(size)]++;
	}
	for (unsigned c = 0; c < st.nclasses; c++) {
		CHECK_EQ(st.cls[c].allocated, live[c]);
		pages += st.cls[c].pages;
	}
	CHECK_EQ(st.large_pages, large_pages);
	CHECK_EQ(pages + large_pages + st.free_pages, REGION / page);
}

static void
at_end(model_t *m)
{
	dynix_reclaim(m->t->inst);
	struct dynix_stats st = stats_of(m->t->inst);
	CHECK_EQ(st.free_pages, REGION / page);
	CHECK_EQ(st.largest_free_run, REGION);
}

int
main(int argc, char **argv)
{
	uint64_t seed;
	long ops = 300000;
	model_args(argc, argv, "classic_dynix_test", &seed, &ops);
	page = (size_t)sysconf(_SC_PAGESIZE);
	check_catch_reports();
	test_layers();
	test_pressure();
	test_bad_input();

	void *region = aligned_alloc(page, REGION);
	CHECK(region != NULL);
	struct dynix *dx = dynix_create(region, REGION);
	CHECK(dx != NULL);
	model_target_t t = {
		.name = "classic_dynix_test", .inst = dx,
		.base = (uintptr_t)region, .size = REGION, .align = 16,
		.max_request = REGION / 16, .alloc = target_alloc,
		.free = target_free, .may_fail = target_may_fail,
		.check = target_check,
	};
	model_test(&t, seed, ops, at_end);
	dynix_destroy(dx);
	free(region);
	return (0);
}
