/*
 * The power-of-two free lists (src/classic/p2list.c): rounding with the
 * header, pages cut per list, memory stranded in a list, bad input, and the
 * model (classic_model.h) over long random sequences.
 *
 * The design promises no coalescing, so the model checks what it does
 * promise: a request fails only when its list is empty and the page level
 * cannot give it a page (or run); the lists' counts match the live blocks;
 * and once everything is freed every block is back on its list, so the
 * peak's requests fit again without taking a single new page.
 *
 * Usage: classic_p2list_test [--seed N] [--ops N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/classic.h>

#include "check.h"
#include "classic_model.h"

#define REGION          ((size_t)1 << 20)
#define HEADER          sizeof (uintptr_t)

static size_t page;

static struct p2list_stats
stats_of(struct p2list *pl)
{
	struct p2list_stats st;
	p2list_stats(pl, &st);
	return (st);
}

/* The list a request of size bytes takes its block from. */
static unsigned
class_of(size_t size)
{
	unsigned c = 0;
	while (((size_t)16 << c) < size + HEADER)
		c++;
	return (c);
}

static void
test_rounding(void)
{
	struct p2list *pl = p2list_create(NULL, 8 * page);
	CHECK(pl != NULL);
	char *a = p2list_alloc(pl, 8);          /* 8 + 8: a 16-byte block */
	char *b = p2list_alloc(pl, 8);
	CHECK(a != NULL && b == a + 16);
	CHECK_EQ((uintptr_t)(a - HEADER) % page, 0);
	CHECK_EQ((uintptr_t)a % 8, 0);
	char *c = p2list_alloc(pl, 9);          /* 32-byte block */
	CHECK(c != NULL);
	/* A power of two takes twice its size: 1024 + 8 needs 2048. */
	char *d = p2list_alloc(pl, 1024);
	struct p2list_stats st = stats_of(pl);
	CHECK_EQ(st.cls[0].blocks, page / 16);
	CHECK_EQ(st.cls[0].free, page / 16 - 2);
	CHECK_EQ(st.cls[1].blocks - st.cls[1].free, 1);
	CHECK_EQ(st.cls[7].block_size, 2048);
	CHECK_EQ(st.cls[7].blocks - st.cls[7].free, 1);
	CHECK_EQ(st.free_pages, 8 - 3);
	/* A page less its header is one page; a page is two. */
	char *e = p2list_alloc(pl, page - HEADER);
	char *f = p2list_alloc(pl, page);
	CHECK(e != NULL && f != NULL);
	CHECK_EQ(stats_of(pl).free_pages, 8 - 3 - 1 - 2);
	/* Freed blocks come back first. */
	p2list_free(pl, b);
	CHECK(p2list_alloc(pl, 1) == b);
	p2list_free(pl, a);
	p2list_free(pl, b);
	p2list_free(pl, c);
	p2list_free(pl, d);
	p2list_free(pl, e);
	p2list_free(pl, f);
	CHECK_EQ(stats_of(pl).frees, 7);
	p2list_destroy(pl);
}

static void
test_stranded(void)
{
	/* Every page cut into 16-byte blocks, all freed: nothing else fits. */
	struct p2list *pl = p2list_create(NULL, 4 * page);
	CHECK(pl != NULL);
	size_t n = 4 * page / 16;
	void **blocks = calloc(n, sizeof (*blocks));
	CHECK(blocks != NULL);
	for (size_t i = 0; i < n; i++)
		CHECK((blocks[i] = p2list_alloc(pl, 8)) != NULL);
	CHECK(p2list_alloc(pl, 8) == NULL);
	for (size_t i = 0; i < n; i++)
		p2list_free(pl, blocks[i]);
	struct p2list_stats st = stats_of(pl);
	CHECK_EQ(st.free_pages, 0);
	CHECK_EQ(st.cls[0].free, n);
	CHECK(p2list_alloc(pl, 9) == NULL);
	CHECK_EQ(stats_of(pl).failures, 2);
	CHECK(p2list_alloc(pl, 8) != NULL);
	p2list_destroy(pl);
	free(blocks);
}

static void
test_bad_input(void)
{
	CHECK_REPORT(CHECK(p2list_create(NULL, 100) == NULL),
	    "p2list_create(base 0x0, size 100): size is not a multiple of "
	    "the page size");
	void *region = aligned_alloc(page, 4 * page);
	CHECK(region != NULL);
	memset(region, 0xa5, 4 * page);         /* not zero: any header */
	struct p2list *pl = p2list_create(region, 4 * page);
	CHECK(pl != NULL);
	char *a = p2list_alloc(pl, 200);        /* a 256-byte block */
	char *b = p2list_alloc(pl, 200);
	CHECK(a != NULL && b != NULL);
	memset(a, 0, 200);
	CHECK_REPORT(CHECK(p2list_alloc(pl, 0) == NULL), "size is 0");
	CHECK_REPORT(p2list_free(pl, NULL), "the address is NULL");
	CHECK_REPORT(p2list_free(pl, a + 1), "not the address of a block's "
	    "data");
	CHECK_REPORT(p2list_free(pl, (char *)region + 4 * page + 8),
	    "not the address of a block's data");
	CHECK_REPORT(p2list_free(pl, a + 16), "names no free list");
	CHECK_REPORT(p2list_free(pl, (char *)region + 3 * page + 8),
	    "in a page no list has taken");
	p2list_free(pl, b);
	CHECK_REPORT(p2list_free(pl, b), "a double free");
	CHECK_REPORT(p2list_alloc(NULL, 1), "NULL");
	CHECK_REPORT(p2list_free(NULL, a), "NULL");
	CHECK_REPORT(p2list_destroy(NULL), "NULL");
	struct p2list_stats st = stats_of(pl);
	CHECK_EQ(st.frees, 1);
	CHECK_EQ(st.cls[4].blocks - st.cls[4].free, 1);
	p2list_free(pl, a);
	p2list_destroy(pl);
	free(region);
}

/* ---- the model ---- */

static void *
target_alloc(void *inst, size_t size)
{
	return (p2list_alloc(inst, size));
}

static void
target_free(void *inst, void *addr, size_t size)
{
	(void) size;
	p2list_free(inst, addr);
}

static bool
target_may_fail(model_t *m, size_t size)
{
	struct p2list_stats st = stats_of(m->t->inst);
	unsigned c = class_of(size);
	if (c >= st.nclasses)
		return (true);
	size_t block = st.cls[c].block_size;
	bool no_pages = block < page ? st.free_pages == 0 :
	    st.largest_free_run < block;
	return (st.cls[c].free == 0 && no_pages);
}

static void
target_check(model_t *m)
{
	struct p2list_stats st = stats_of(m->t->inst);
	size_t live[KMEM_CLASSIC_CLASSES] = { 0 };
	for (size_t i = 0; i < m->nlive; i++)
		live[class_of(m->live[i].size)]++;
	size_t carved = 0;
	for (unsigned c = 0; c < st.nclasses; c++) {
		CHECK_EQ(st.cls[c].blocks - st.cls[c].free, live[c]);
		carved += st.cls[c].blocks * st.cls[c].block_size;
	}
	CHECK_EQ(carved + st.free_pages * page, st.region_bytes);
}

static struct p2list_stats at_end_stats;

static void
at_end(model_t *m)
{
	at_end_stats = stats_of(m->t->inst);
	for (unsigned c = 0; c < at_end_stats.nclasses; c++)
		CHECK_EQ(at_end_stats.cls[c].free, at_end_stats.cls[c].blocks);
}

int
main(int argc, char **argv)
{
	uint64_t seed;
	long ops = 300000;
	model_args(argc, argv, "classic_p2list_test", &seed, &ops);
	page = (size_t)sysconf(_SC_PAGESIZE);
	check_catch_reports();
	test_rounding();
	test_stranded();
	test_bad_input();

	void *region = aligned_alloc(page, REGION);
	CHECK(region != NULL);
	struct p2list *pl = p2list_create(region, REGION);
	CHECK(pl != NULL);
	model_target_t t = {
		.name = "classic_p2list_test", .inst = pl,
		.base = (uintptr_t)region, .size = REGION, .align = HEADER,
		.max_request = REGION / 16, .alloc = target_alloc,
		.free = target_free, .may_fail = target_may_fail,
		.check = target_check,
	};
	model_test(&t, seed, ops, at_end);
	/* The peak fitted again in the blocks already on the lists. */
	struct p2list_stats st = stats_of(pl);
	CHECK_EQ(st.free_pages, at_end_stats.free_pages);
	for (unsigned c = 0; c < st.nclasses; c++)
		CHECK_EQ(st.cls[c].refills, at_end_stats.cls[c].refills);
	p2list_destroy(pl);
	free(region);
	return (0);
}
