/*
 * McKusick-Karels (src/classic/mkmalloc.c): buckets without headers,
 * kmemsizes, the two-page cutoff, large blocks that give their pages back,
 * bad input, and the model (classic_model.h) over long random sequences.
 *
 * The model checks the design's promises: a small request fails only when
 * its bucket is empty and no page (or two) is left; a large one only when
 * no run of pages fits; the buckets' counts match the live blocks; and once
 * everything is freed, the large blocks' pages are all back and every
 * bucket block is on its list, so the peak's small requests fit again
 * without a new page.
 *
 * Usage: classic_mk_test [--seed N] [--ops N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/classic.h>

#include "check.h"
#include "classic_model.h"

#define REGION          ((size_t)1 << 20)

static size_t page;

static struct mk_stats
stats_of(struct mk_arena *mk)
{
	struct mk_stats st;
	mk_stats(mk, &st);
	return (st);
}

static unsigned
bucket_of(size_t size)
{
	unsigned b = 0;
	while (((size_t)16 << b) < size)
		b++;
	return (b);
}

static size_t
pages_of(size_t size)
{
	return ((size + page - 1) / page);
}

static void
test_buckets(void)
{
	struct mk_arena *mk = mk_create(NULL, 16 * page);
	CHECK(mk != NULL);
	struct mk_stats st = stats_of(mk);
	CHECK_EQ(st.bucket[st.nbuckets - 1].block_size, 2 * page);
	/* No header: 16 bytes take 16 and 1024 take 1024, page aligned. */
	char *a = mk_malloc(mk, 16);
	char *b = mk_malloc(mk, 16);
	CHECK(a != NULL && b == a + 16);
	CHECK_EQ((uintptr_t)a % page, 0);
	char *k = mk_malloc(mk, 1024);
	CHECK_EQ((uintptr_t)k % 1024, 0);
	st = stats_of(mk);
	CHECK_EQ(st.bucket[6].blocks, page / 1024);
	CHECK_EQ(st.bucket[6].free, page / 1024 - 1);
	CHECK_EQ(st.free_pages, 16 - 2);
	/* Two pages is the largest bucket; one byte more is large. */
	char *two = mk_malloc(mk, 2 * page);
	char *large = mk_malloc(mk, 2 * page + 1);
	CHECK(two != NULL && large != NULL);
	st = stats_of(mk);
	CHECK_EQ(st.free_pages, 16 - 2 - 2 - 3);
	CHECK_EQ(st.large_pages, 3);
	CHECK_EQ(st.large_allocs, 1);
	/* A large block's pages go back; a bucket's never do. */
	mk_free(mk, large);
	mk_free(mk, two);
	mk_free(mk, k);
	mk_free(mk, a);
	mk_free(mk, b);
	st = stats_of(mk);
	CHECK_EQ(st.free_pages, 16 - 2 - 2);
	CHECK_EQ(st.large_pages, 0);
	CHECK_EQ(st.frees, 5);
	CHECK(mk_malloc(mk, 16) == b);
	mk_destroy(mk);
}

static void
test_bad_input(void)
{
	CHECK_REPORT(CHECK(mk_create((void *)(uintptr_t)8, page) == NULL),
	    "base is not aligned");
	struct mk_arena *mk = mk_create(NULL, 16 * page);
	CHECK(mk != NULL);
	char *a = mk_malloc(mk, 64);
	char *b = mk_malloc(mk, 64);
	char *large = mk_malloc(mk, 3 * page);
	char *two = mk_malloc(mk, 2 * page);
	CHECK(a != NULL && b != NULL && large != NULL && two != NULL);
	CHECK_REPORT(CHECK(mk_malloc(mk, 0) == NULL), "size is 0");
	CHECK_REPORT(mk_free(mk, NULL), "the address is NULL");
	CHECK_REPORT(mk_free(mk, a - page), "outside the arena's region");
	CHECK_REPORT(mk_free(mk, a + 8), "not at the start of a block");
	CHECK_REPORT(mk_free(mk, a + 128), "the block is free: a double free, "
	    "or it was never allocated");
	CHECK_REPORT(mk_free(mk, large + 16), "inside a large block");
	CHECK_REPORT(mk_free(mk, large + page), "starts on an earlier page");
	CHECK_REPORT(mk_free(mk, two + page), "starts on an earlier page");
	mk_free(mk, b);
	CHECK_REPORT(mk_free(mk, b), "a double free");
	mk_free(mk, large);
	CHECK_REPORT(mk_free(mk, large), "in a free page");
	CHECK_REPORT(mk_malloc(NULL, 1), "NULL");
	CHECK_REPORT(mk_free(NULL, a), "NULL");
	struct mk_stats st = stats_of(mk);
	CHECK_EQ(st.frees, 2);
	CHECK_EQ(st.bucket[2].blocks - st.bucket[2].free, 1);
	mk_destroy(mk);
}

/* ---- the model ---- */

static void *
target_alloc(void *inst, size_t size)
{
	return (mk_malloc(inst, size));
}

static void
target_free(void *inst, void *addr, size_t size)
{
	(void) size;
	mk_free(inst, addr);
}

static bool
target_may_fail(model_t *m, size_t size)
{
	struct mk_stats st = stats_of(m->t->inst);
	if (size > 2 * page)
		return (st.largest_free_run < pages_of(size) * page);
	const struct mk_bucket_stats *bs = &st.bucket[bucket_of(size)];
	return (bs->free == 0 && st.largest_free_run <
	    pages_of(bs->block_size) * page);
}

static void
target_check(model_t *m)
{
	struct mk_stats st = stats_of(m->t->inst);
	size_t live[KMEM_CLASSIC_CLASSES] = { 0 };
	size_t large = 0, large_pages = 0;
	for (size_t i = 0; i < m->nlive; i++) {
		size_t size = m->live[i].size;
		if (size > 2 * page) {
			large++;
			large_pages += pages_of(size);
		} else {
			live[bucket_of(size)]++;
		}
	}
	size_t bucket_pages = 0;
	for (unsigned b = 0; b < st.nbuckets; b++) {
		const struct mk_bucket_stats *bs = &st.bucket[b];
		CHECK_EQ(bs->blocks - bs->free, live[b]);
		bucket_pages += bs->blocks * bs->block_size / page;
	}
	CHECK_EQ(st.large_allocs, large);
	CHECK_EQ(st.large_pages, large_pages);
	CHECK_EQ(bucket_pages + large_pages + st.free_pages, REGION / page);
}

static struct mk_stats at_end_stats;

static void
at_end(model_t *m)
{
	at_end_stats = stats_of(m->t->inst);
	CHECK_EQ(at_end_stats.large_pages, 0);
	for (unsigned b = 0; b < at_end_stats.nbuckets; b++)
		CHECK_EQ(at_end_stats.bucket[b].free,
		    at_end_stats.bucket[b].blocks);
	/*
	 * Only the peak's small requests are sure to fit again: pages cut for
	 * buckets after the peak may stand where its large blocks were.
	 */
	size_t n = 0;
	for (size_t i = 0; i < m->npeak; i++) {
		if (m->peak[i].size <= 2 * page)
			m->peak[n++] = m->peak[i];
	}
	m->npeak = n;
}

int
main(int argc, char **argv)
{
	uint64_t seed;
	long ops = 300000;
	model_args(argc, argv, "classic_mk_test", &seed, &ops);
	page = (size_t)sysconf(_SC_PAGESIZE);
	check_catch_reports();
	test_buckets();
	test_bad_input();

	void *region = aligned_alloc(page, REGION);
	CHECK(region != NULL);
	struct mk_arena *mk = mk_create(region, REGION);
	CHECK(mk != NULL);
	model_target_t t = {
		.name = "classic_mk_test", .inst = mk,
		.base = (uintptr_t)region, .size = REGION, .align = 16,
		.max_request = REGION / 16, .alloc = target_alloc,
		.free = target_free, .may_fail = target_may_fail,
		.check = target_check,
	};
	model_test(&t, seed, ops, at_end);
	/* Small blocks came from the buckets; large ones may take pages. */
	struct mk_stats st = stats_of(mk);
	for (unsigned b = 0; b < st.nbuckets; b++)
		CHECK_EQ(st.bucket[b].blocks, at_end_stats.bucket[b].blocks);
	mk_destroy(mk);
	free(region);
	return (0);
}
