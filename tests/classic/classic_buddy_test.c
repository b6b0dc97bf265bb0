/*
 * The buddy system (src/classic/buddy.c): splitting and joining by hand,
 * every kind of bad input, and the model (classic_model.h) over long
 * random sequences.
 *
 * The model knows exactly when a buddy system may fail: since every free
 * joins free buddies, a request of order k fails only when no aligned
 * block of that order is entirely free.  After everything is freed the
 * region must be the blocks it started as (one block for a power-of-two
 * region), and the peak's requests must fit again.
 *
 * Usage: classic_buddy_test [--seed N] [--ops N]
 */
#include <stdio.h>
#include <stdlib.h>

#include <kmem/classic.h>

#include "check.h"
#include "classic_model.h"

#define REGION          ((size_t)1 << 20)

static size_t page;

static struct buddy_stats
stats_of(struct buddy *bp)
{
	struct buddy_stats st;
	buddy_stats(bp, &st);
	return (st);
}

static size_t
block_of(size_t size, size_t min_block)
{
	size_t b = min_block;
	while (b < size)
		b *= 2;
	return (b);
}

/* ---- by hand ---- */

static void
test_split_and_join(void)
{
	struct buddy *bp = buddy_create(NULL, 16 * page, 16);
	CHECK(bp != NULL);
	struct buddy_stats st = stats_of(bp);
	unsigned top = st.norders - 1;
	CHECK_EQ(16 << top, 16 * page);
	CHECK_EQ(st.free_blocks[top], 1);

	/* The first 16-byte block splits the region all the way down. */
	char *a = buddy_alloc(bp, 16);
	CHECK(a != NULL);
	st = stats_of(bp);
	CHECK_EQ(st.splits, top);
	for (unsigned k = 0; k < top; k++)
		CHECK_EQ(st.free_blocks[k], 1);
	CHECK_EQ(st.free_blocks[top], 0);
	CHECK_EQ(st.free_bytes, 16 * page - 16);
	CHECK_EQ(st.largest_free, 8 * page);

	/* Its buddy comes next; freeing one of the two joins nothing. */
	char *b = buddy_alloc(bp, 10);
	CHECK(b == a + 16);
	buddy_free(bp, a, 16);
	st = stats_of(bp);
	CHECK_EQ(st.merges, 0);
	CHECK_EQ(st.free_blocks[0], 1);
	/* Freeing the other joins them, and every order up to the top. */
	buddy_free(bp, b, 10);
	st = stats_of(bp);
	CHECK_EQ(st.merges, top);
	CHECK_EQ(st.free_blocks[top], 1);
	CHECK_EQ(st.free_bytes, 16 * page);

	/* Any size of the same order frees a block. */
	char *c = buddy_alloc(bp, 100);
	CHECK_EQ(stats_of(bp).allocated_blocks[3], 1);
	buddy_free(bp, c, 128);
	CHECK_EQ(stats_of(bp).free_blocks[top], 1);

	/* The whole region, then nothing more. */
	c = buddy_alloc(bp, 16 * page);
	CHECK(c != NULL);
	CHECK(buddy_alloc(bp, 1) == NULL);
	CHECK(buddy_alloc(bp, 16 * page + 1) == NULL);
	CHECK_EQ(stats_of(bp).failures, 2);
	buddy_free(bp, c, 16 * page);
	buddy_destroy(bp);
}

static void
test_odd_region(void)
{
	/* Three pages: a two-page block and a one-page block. */
	void *region = aligned_alloc(page, 3 * page);
	CHECK(region != NULL);
	struct buddy *bp = buddy_create(region, 3 * page, 64);
	CHECK(bp != NULL);
	struct buddy_stats st = stats_of(bp);
	CHECK_EQ(st.min_block, 64);
	CHECK_EQ(st.largest_free, 2 * page);
	CHECK_EQ(st.free_bytes, 3 * page);
	char *big = buddy_alloc(bp, 2 * page);
	char *one = buddy_alloc(bp, page);
	CHECK(big == region);
	CHECK(one == (char *)region + 2 * page);
	CHECK(buddy_alloc(bp, 1) == NULL);
	/* The one-page block's buddy lies beyond the region: no join. */
	buddy_free(bp, one, page);
	buddy_free(bp, big, 2 * page);
	st = stats_of(bp);
	CHECK_EQ(st.merges, 0);
	CHECK_EQ(st.largest_free, 2 * page);
	buddy_destroy(bp);
	free(region);
}

static void
test_bad_input(void)
{
	CHECK_REPORT(CHECK(buddy_create(NULL, 4 * page, 24) == NULL),
	    "min_block must be a power of two");
	CHECK_REPORT(CHECK(buddy_create(NULL, 4 * page, 8) == NULL),
	    "min_block");
	CHECK_REPORT(CHECK(buddy_create(NULL, 4 * page, 2 * page) == NULL),
	    "min_block");
	CHECK_REPORT(CHECK(buddy_create(NULL, page + 16, 16) == NULL),
	    "size is not a multiple of the page size");
	CHECK_REPORT(CHECK(buddy_create((void *)(uintptr_t)(page + 16),
	    page, 16) == NULL), "base is not aligned");
	CHECK_REPORT(CHECK(buddy_create(NULL, 0, 16) == NULL), "size is 0");

	struct buddy *bp = buddy_create(NULL, 4 * page, 16);
	CHECK(bp != NULL);
	char *a = buddy_alloc(bp, 100);         /* a 128-byte block */
	char *b = buddy_alloc(bp, 16);
	CHECK(a != NULL && b != NULL);
	struct buddy_stats before = stats_of(bp);

	CHECK_REPORT(CHECK(buddy_alloc(bp, 0) == NULL), "size is 0");
	CHECK_REPORT(buddy_free(bp, a, 16), "wrong size: the block at this "
	    "address is a 128-byte block, not a 16-byte one");
	CHECK_REPORT(buddy_free(bp, a, 200), "wrong size");
	CHECK_REPORT(buddy_free(bp, a + 32, 32), "inside the allocated block");
	CHECK_REPORT(buddy_free(bp, a + 16, 16), "inside the allocated block");
	CHECK_REPORT(buddy_free(bp, a, 0), "size is 0");
	CHECK_REPORT(buddy_free(bp, NULL, 16), "NULL");
	CHECK_REPORT(buddy_free(bp, a - 4096, 16), "outside the region");
	CHECK_REPORT(buddy_free(bp, a, 8 * page), "no block is that large");
	CHECK_REPORT(buddy_free(bp, b + 16, 16), "free block");
	buddy_free(bp, b, 16);
	CHECK_REPORT(buddy_free(bp, b, 16), "a double free");
	CHECK_REPORT(buddy_alloc(NULL, 1), "NULL");
	CHECK_REPORT(buddy_free(NULL, a, 1), "NULL");
	CHECK_REPORT(buddy_destroy(NULL), "NULL");
	struct buddy_stats st;
	CHECK_REPORT(buddy_stats(NULL, &st), "NULL");

	/* None of it changed anything but b's free. */
	struct buddy_stats after = stats_of(bp);
	CHECK_EQ(after.allocated_blocks[3], before.allocated_blocks[3]);
	CHECK_EQ(after.frees, before.frees + 1);
	buddy_free(bp, a, 128);
	CHECK_EQ(stats_of(bp).free_bytes, 4 * page);
	buddy_destroy(bp);
}

/* ---- the model ---- */

static size_t model_min_block;

static void *
target_alloc(void *inst, size_t size)
{
	return (buddy_alloc(inst, size));
}

static void
target_free(void *inst, void *addr, size_t size)
{
	buddy_free(inst, addr, size);
}

static size_t
model_block_of(size_t size)
{
	return (block_of(size, model_min_block));
}

static bool
target_may_fail(model_t *m, size_t size)
{
	return (size > m->t->size || !model_aligned_free(m,
	    model_block_of(size), model_block_of));
}

static void
target_check(model_t *m)
{
	struct buddy_stats st = stats_of(m->t->inst);
	size_t blocks = 0, bytes = 0, live = 0, free_bytes = 0;
	for (unsigned k = 0; k < st.norders; k++) {
		blocks += st.allocated_blocks[k];
		bytes += st.allocated_blocks[k] * (st.min_block << k);
		free_bytes += st.free_blocks[k] * (st.min_block << k);
	}
	for (size_t i = 0; i < m->nlive; i++)
		live += block_of(m->live[i].size, st.min_block);
	CHECK_EQ(blocks, m->nlive);
	CHECK_EQ(bytes, live);
	CHECK_EQ(free_bytes, st.free_bytes);
	CHECK_EQ(st.free_bytes + bytes, st.region_bytes);
}

static struct buddy_stats model_start;

static void
at_end(model_t *m)
{
	/* Coalesced back to the starting blocks. */
	struct buddy_stats st = stats_of(m->t->inst);
	for (unsigned k = 0; k < st.norders; k++)
		CHECK_EQ(st.free_blocks[k], model_start.free_blocks[k]);
	printf("classic_buddy_test: %zu-byte region, %zu-byte blocks: %llu "
	    "splits and as many merges\n", st.region_bytes, st.min_block,
	    (unsigned long long)st.splits);
	CHECK_EQ(st.splits, st.merges);
}

static void
run_model(size_t size, size_t min_block, uint64_t seed, long ops)
{
	void *region = aligned_alloc(page, size);
	CHECK(region != NULL);
	struct buddy *bp = buddy_create(region, size, min_block);
	CHECK(bp != NULL);
	model_start = stats_of(bp);
	model_min_block = min_block;
	model_target_t t = {
		.name = "classic_buddy_test", .inst = bp,
		.base = (uintptr_t)region, .size = size, .align = min_block,
		.max_request = size / 4, .alloc = target_alloc,
		.free = target_free, .may_fail = target_may_fail,
		.check = target_check,
	};
	model_test(&t, seed, ops, at_end);
	buddy_destroy(bp);
	free(region);
}

int
main(int argc, char **argv)
{
	uint64_t seed;
	long ops = 300000;
	model_args(argc, argv, "classic_buddy_test", &seed, &ops);
	page = (size_t)sysconf(_SC_PAGESIZE);
	check_catch_reports();
	test_split_and_join();
	test_odd_region();
	test_bad_input();
	run_model(REGION, 16, seed, ops);
	run_model(20 * page, 64, seed + 1, ops / 4);
	return (0);
}
