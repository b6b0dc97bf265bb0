/*
 * The Mach zone allocator (src/classic/zone.c): zones, chunks, the zone
 * limit, garbage collection (by hand and under pressure), kalloc, bad
 * input, and the model (classic_model.h) over long random sequences, once
 * through kalloc and once through a single zone.
 *
 * The model checks the design's promises: an allocation fails only when
 * the zone has no free element and, after garbage collection, no chunk of
 * pages is left; the zones' counts match the live objects; and once every
 * object is freed, zone_gc() gives every page back, so the region is one
 * free run again.
 *
 * Usage: classic_zone_test [--seed N] [--ops N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/classic.h>

#include "check.h"
#include "classic_model.h"

#define REGION          ((size_t)1 << 20)
#define ZONE_OBJECT     1000

static size_t page;

static struct zone_stats
zstats(struct zone *z)
{
	struct zone_stats st;
	zone_stats(z, &st);
	return (st);
}

static struct zone_arena_stats
astats(struct zone_arena *za)
{
	struct zone_arena_stats st;
	zone_arena_stats(za, &st);
	return (st);
}

static void
test_zone_and_gc(void)
{
	struct zone_arena *za = zone_arena_create(NULL, 16 * page);
	CHECK(za != NULL);
	struct zone *z = zinit(za, 100, 0, 0, "proc");
	CHECK(z != NULL);
	struct zone_stats st = zstats(z);
	CHECK_EQ(st.elem_size, 112);
	CHECK_EQ(st.alloc_size, page);          /* the tail is under 1/16 */
	CHECK(strcmp(st.name, "proc") == 0);
	size_t per = page / 112;
	char **e = calloc(per + 1, sizeof (*e));
	CHECK(e != NULL);
	for (size_t i = 0; i <= per; i++)
		CHECK((e[i] = zalloc(z)) != NULL);
	CHECK(e[1] == e[0] + 112);
	st = zstats(z);
	CHECK_EQ(st.count, per + 1);
	CHECK_EQ(st.cur_size, 2 * page);
	CHECK_EQ(st.chunks_taken, 2);
	/* The first chunk empties; garbage collection takes it. */
	for (size_t i = 0; i < per; i++)
		zfree(z, e[i]);
	CHECK_EQ(zone_gc(za), page);
	st = zstats(z);
	CHECK_EQ(st.cur_size, page);
	CHECK_EQ(st.free, per - 1);
	CHECK_EQ(st.chunks_collected, 1);
	CHECK_EQ(astats(za).free_pages, 15);
	/* Nothing more to collect while the second chunk has an element. */
	CHECK_EQ(zone_gc(za), 0);
	zfree(z, e[per]);
	CHECK_EQ(zone_gc(za), page);
	CHECK_EQ(astats(za).free_pages, 16);
	CHECK_EQ(astats(za).gc_runs, 3);
	zone_arena_destroy(za);
	free(e);
}

static void
test_limit_and_pressure(void)
{
	struct zone_arena *za = zone_arena_create(NULL, 4 * page);
	CHECK(za != NULL);
	/* A zone that may hold one page. */
	struct zone *small = zinit(za, 64, page, 0, "small");
	CHECK(small != NULL);
	for (size_t i = 0; i < page / 64; i++)
		CHECK(zalloc(small) != NULL);
	CHECK(zalloc(small) == NULL);
	CHECK_EQ(zstats(small).failures, 1);

	/* One zone takes the other pages, then frees them all. */
	struct zone *a = zinit(za, 2 * page, 0, 0, "a");
	struct zone *b = zinit(za, 3 * page, 0, 0, "b");
	CHECK(a != NULL && b != NULL);
	CHECK_EQ(zstats(a).alloc_size, 2 * page);
	void *x = zalloc(a);
	CHECK(x != NULL);
	CHECK(zalloc(b) == NULL);               /* one page left */
	CHECK_EQ(astats(za).gc_runs, 0);        /* nothing freed: no gc */
	zfree(a, x);
	/* b finds no pages, collects garbage, and takes a's pages. */
	CHECK(zalloc(b) != NULL);
	CHECK_EQ(astats(za).gc_runs, 1);
	CHECK_EQ(zstats(a).cur_size, 0);
	CHECK_EQ(zstats(a).chunks_collected, 1);
	zone_arena_destroy(za);
}

static void
test_kalloc(void)
{
	struct zone_arena *za = zone_arena_create(NULL, 16 * page);
	CHECK(za != NULL);
	char *p = zone_kalloc(za, 100);
	char *q = zone_kalloc(za, 128);
	CHECK(p != NULL && q == p + 128);
	CHECK_EQ(astats(za).nzones, 1);         /* kalloc.128 */
	char *big = zone_kalloc(za, 2 * page + 1);
	CHECK(big != NULL);
	CHECK_EQ(astats(za).large_pages, 3);
	CHECK_REPORT(zone_kfree(za, big, page * 4), "wrong size");
	CHECK_REPORT(zone_kfree(za, big + page, 2 * page + 1), "not the start "
	    "of a large kalloc block");
	CHECK_REPORT(zone_kfree(za, p, 300), "no kalloc zone of this size");
	CHECK(zone_kalloc_zone(za, 300) == NULL);
	CHECK(zone_kalloc(za, 300) != NULL);    /* now kalloc.512 exists */
	CHECK_EQ(zstats(zone_kalloc_zone(za, 257)).elem_size, 512);
	CHECK_REPORT(zone_kfree(za, p, 300), "belongs to zone \"kalloc.128\", "
	    "not \"kalloc.512\"");
	CHECK_REPORT(zone_kfree(za, p, 0), "size is 0");
	CHECK_REPORT(CHECK(zone_kalloc(za, 0) == NULL), "size is 0");
	zone_kfree(za, big, 2 * page + 1);
	zone_kfree(za, p, 100);
	zone_kfree(za, q, 65);
	CHECK_EQ(astats(za).large_pages, 0);
	CHECK(zone_kalloc(za, 17 * page) == NULL);
	zone_arena_destroy(za);
}

static void
test_bad_input(void)
{
	struct zone_arena *za = zone_arena_create(NULL, 8 * page);
	CHECK(za != NULL);
	CHECK_REPORT(CHECK(zinit(za, 0, 0, 0, "z") == NULL), "size is 0");
	CHECK_REPORT(CHECK(zinit(za, 64, 0, 0, NULL) == NULL), "name is NULL");
	CHECK_REPORT(CHECK(zinit(za, 9 * page, 0, 0, "z") == NULL),
	    "larger than the arena's region");
	CHECK_REPORT(CHECK(zinit(za, 2 * page, 0, page, "z") == NULL),
	    "alloc is smaller than an element");
	CHECK_REPORT(CHECK(zinit(NULL, 64, 0, 0, "z") == NULL), "NULL");
	struct zone *z = zinit(za, 48, 0, 0, "vnode");
	struct zone *other = zinit(za, 48, 0, 0, "inode");
	CHECK(z != NULL && other != NULL);
	char *a = zalloc(z);
	char *b = zalloc(z);
	char *c = zalloc(other);
	CHECK(a != NULL && b != NULL && c != NULL);
	CHECK_REPORT(zfree(z, NULL), "the address is NULL");
	CHECK_REPORT(zfree(z, a + 16), "not at the start of an element");
	CHECK_REPORT(zfree(z, c), "belongs to zone \"inode\", not \"vnode\"");
	CHECK_REPORT(zfree(z, a + 4 * page), "not in any zone's chunk");
	CHECK_REPORT(zfree(z, a - 64 * page), "outside the arena's region");
	CHECK_REPORT(zfree(z, a + 48 * 3), "the element is free");
	zfree(z, b);
	CHECK_REPORT(zfree(z, b), "a double free");
	CHECK_REPORT(zalloc(NULL), "NULL");
	CHECK_REPORT(zfree(NULL, a), "NULL");
	CHECK_REPORT(zone_gc(NULL), "NULL");
	struct zone_stats st = zstats(z);
	CHECK_EQ(st.count, 1);
	CHECK_EQ(st.frees, 1);
	/* The table holds ZONE_MAX zones. */
	size_t n = astats(za).nzones;
	for (; n < ZONE_MAX; n++)
		CHECK(zinit(za, 16, 0, 0, "filler") != NULL);
	CHECK_NO_REPORT(CHECK(zinit(za, 16, 0, 0, "one too many") == NULL));
	zone_arena_destroy(za);
}

/* ---- the model ---- */

static void *
kalloc_alloc(void *inst, size_t size)
{
	return (zone_kalloc(inst, size));
}

static void
kalloc_free(void *inst, void *addr, size_t size)
{
	zone_kfree(inst, addr, size);
}

/* The arena of the model's target (the kalloc one, or the zone's). */
static struct zone_arena *model_arena;
static struct zone *model_zone;

static bool
kalloc_may_fail(model_t *m, size_t size)
{
	(void) m;
	struct zone_arena_stats st = astats(model_arena);
	if (size > page)
		return (st.largest_free_run < (size + page - 1) / page * page);
	struct zone *z = zone_kalloc_zone(model_arena, size);
	CHECK(z != NULL);
	struct zone_stats zs = zstats(z);
	return (zs.free == 0 && st.largest_free_run < zs.alloc_size);
}

static void
kalloc_check(model_t *m)
{
	size_t small = 0, large_pages = 0, count = 0;
	for (size_t i = 0; i < m->nlive; i++) {
		if (m->live[i].size <= page)
			small++;
		else
			large_pages += (m->live[i].size + page - 1) / page;
	}
	for (size_t size = 16; size <= page; size *= 2) {
		struct zone *z = zone_kalloc_zone(model_arena, size);
		if (z != NULL)
			count += zstats(z).count;
	}
	CHECK_EQ(count, small);
	CHECK_EQ(astats(model_arena).large_pages, large_pages);
}

static void
at_end_gc(model_t *m)
{
	(void) m;
	zone_gc(model_arena);
	struct zone_arena_stats st = astats(model_arena);
	CHECK_EQ(st.free_pages, REGION / page);
	CHECK_EQ(st.largest_free_run, REGION);
	CHECK_EQ(st.large_pages, 0);
}

static void *
zone_target_alloc(void *inst, size_t size)
{
	return (size <= ZONE_OBJECT ? zalloc(inst) : NULL);
}

static void
zone_target_free(void *inst, void *addr, size_t size)
{
	(void) size;
	zfree(inst, addr);
}

static bool
zone_may_fail(model_t *m, size_t size)
{
	(void) m;
	struct zone_stats st = zstats(model_zone);
	return (size > ZONE_OBJECT || (st.free == 0 &&
	    astats(model_arena).largest_free_run < st.alloc_size));
}

static void
zone_check(model_t *m)
{
	struct zone_stats st = zstats(model_zone);
	CHECK_EQ(st.count, m->nlive);
	CHECK_EQ(st.cur_size, (st.count + st.free) / (st.alloc_size /
	    st.elem_size) * st.alloc_size);
}

int
main(int argc, char **argv)
{
	uint64_t seed;
	long ops = 300000;
	model_args(argc, argv, "classic_zone_test", &seed, &ops);
	page = (size_t)sysconf(_SC_PAGESIZE);
	check_catch_reports();
	test_zone_and_gc();
	test_limit_and_pressure();
	test_kalloc();
	test_bad_input();

	void *region = aligned_alloc(page, REGION);
	CHECK(region != NULL);
	model_arena = zone_arena_create(region, REGION);
	CHECK(model_arena != NULL);
	model_target_t t = {
		.name = "classic_zone_test (kalloc)", .inst = model_arena,
		.base = (uintptr_t)region, .size = REGION, .align = 16,
		.max_request = REGION / 16, .alloc = kalloc_alloc,
		.free = kalloc_free, .may_fail = kalloc_may_fail,
		.check = kalloc_check,
	};
	model_test(&t, seed, ops, at_end_gc);
	zone_arena_destroy(model_arena);

	model_arena = zone_arena_create(region, REGION);
	model_zone = zinit(model_arena, ZONE_OBJECT, 0, 0, "objects");
	CHECK(model_arena != NULL && model_zone != NULL);
	t = (model_target_t){
		.name = "classic_zone_test (one zone)", .inst = model_zone,
		.base = (uintptr_t)region, .size = REGION, .align = 16,
		.max_request = ZONE_OBJECT, .alloc = zone_target_alloc,
		.free = zone_target_free, .may_fail = zone_may_fail,
		.check = zone_check,
	};
	model_test(&t, seed + 1, ops / 2, at_end_gc);
	zone_arena_destroy(model_arena);
	free(region);
	return (0);
}
