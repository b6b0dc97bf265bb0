/*
 * The laboratory's operations table (kmem_lab_allocators[], in
 * <kmem/classic.h>): every row, the classic allocators and vmem's, through
 * the same random sequences of the model (classic_model.h), typed and
 * untyped requests mixed, with the table's own contract checked as it goes:
 *   - the four states' bytes add up to the region, and held() is the
 *     region less the free bytes;
 *   - the walk covers the whole region, its bytes in each state are the
 *     statistics' (kmem_lab_map), and every live block lies in ALLOCATED
 *     grains;
 *   - the largest free block is no larger than the free bytes;
 *   - once everything is freed, nothing is ALLOCATED.
 *
 * Usage: classic_ops_test [--seed N] [--ops N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/classic.h>

#include "check.h"
#include "classic_model.h"

#define BUDGET          ((size_t)1 << 20)
#define GRAINS          (BUDGET / KMEM_LAB_GRAIN)
#define MAP_EVERY       10

static const struct kmem_lab_type types[] = {
	{ "small", 48 }, { "medium", 200 }, { "page", 4096 }, { "big", 20000 },
};
#define NTYPES (sizeof (types) / sizeof (types[0]))

static const struct kmem_lab_ops *ops;
static unsigned char grain_state[GRAINS];

/* Requests whose size is a multiple of 3 go to the smallest type that fits. */
static int
type_of(size_t size)
{
	if (size % 3 != 0)
		return (KMEM_LAB_UNTYPED);
	for (size_t t = 0; t < NTYPES; t++) {
		if (types[t].size >= size)
			return ((int)t);
	}
	return (KMEM_LAB_UNTYPED);
}

static size_t
request_of(size_t size)
{
	int t = type_of(size);
	return (t == KMEM_LAB_UNTYPED ? size : types[t].size);
}

static void *
target_alloc(void *inst, size_t size)
{
	return (ops->alloc(inst, request_of(size), type_of(size)));
}

static void
target_free(void *inst, void *addr, size_t size)
{
	ops->free(inst, addr, request_of(size), type_of(size));
}

static struct kmem_lab_stats
stats_of(void *inst)
{
	struct kmem_lab_stats st;
	ops->stats(inst, &st);
	return (st);
}

static void
check_map(model_t *m, const struct kmem_lab_stats *st)
{
	CHECK_EQ(kmem_lab_map(ops, m->t->inst, grain_state, GRAINS), 0);
	size_t bytes[KMEM_LAB_STATES] = { 0 };
	for (size_t i = 0; i < GRAINS; i++)
		bytes[grain_state[i]] += KMEM_LAB_GRAIN;
	CHECK_EQ(bytes[KMEM_LAB_FREE], st->free_bytes);
	CHECK_EQ(bytes[KMEM_LAB_ALLOCATED], st->allocated_bytes);
	CHECK_EQ(bytes[KMEM_LAB_CACHED], st->cached_bytes);
	CHECK_EQ(bytes[KMEM_LAB_OVERHEAD], st->overhead_bytes);
	for (size_t i = 0; i < m->nlive; i++) {
		const model_block_t *b = &m->live[i];
		size_t first = (b->addr - m->t->base) / KMEM_LAB_GRAIN;
		size_t end = (b->addr + b->size - m->t->base +
		    KMEM_LAB_GRAIN - 1) / KMEM_LAB_GRAIN;
		for (size_t g = first; g < end; g++)
			CHECK_EQ(grain_state[g], KMEM_LAB_ALLOCATED);
	}
}

static void
target_check(model_t *m)
{
	static unsigned calls;
	struct kmem_lab_stats st = stats_of(m->t->inst);
	CHECK_EQ((uintptr_t)st.region, m->t->base);
	CHECK_EQ(st.region_bytes, BUDGET);
	CHECK_EQ(st.free_bytes + st.allocated_bytes + st.cached_bytes +
	    st.overhead_bytes, BUDGET);
	CHECK_EQ(ops->held(m->t->inst), BUDGET - st.free_bytes);
	CHECK(st.largest_free <= st.free_bytes);
	CHECK(st.metadata_bytes > 0);
	size_t live = 0;
	for (size_t i = 0; i < m->nlive; i++)
		live += request_of(m->live[i].size);
	CHECK(live <= st.allocated_bytes);
	if (calls++ % MAP_EVERY == 0)
		check_map(m, &st);
}

static void
at_end(model_t *m)
{
	struct kmem_lab_stats st = stats_of(m->t->inst);
	CHECK_EQ(st.allocated_bytes, 0);
	check_map(m, &st);
	/* Reuse is each design's own promise, checked by its own test. */
	m->npeak = 0;
}

static unsigned long warnings;

static void
count_warnings(void *arg, kmem_report_kind_t kind, const char *message)
{
	(void) arg;
	if (kind == KMEM_REPORT_ERROR) {
		fprintf(stderr, "%s: %s\n", ops->name, message);
		CHECK(!"no allocator reports an error");
	}
	warnings++;
}

static void
test_table(void)
{
	size_t n = 0;
	for (; kmem_lab_allocators[n] != NULL; n++) {
		const struct kmem_lab_ops *o = kmem_lab_allocators[n];
		CHECK(o->name != NULL && o->design != NULL);
		CHECK(o->create != NULL && o->destroy != NULL);
		CHECK(o->alloc != NULL && o->free != NULL && o->held != NULL);
		CHECK(o->stats != NULL && o->walk != NULL);
		CHECK(kmem_lab_find(o->name) == o);
	}
	CHECK_EQ(n, 11);
	CHECK(kmem_lab_find("no-such-allocator") == NULL);
	CHECK(kmem_lab_find(NULL) == NULL);
}

int
main(int argc, char **argv)
{
	uint64_t seed;
	long ops_per_allocator = 60000;
	model_args(argc, argv, "classic_ops_test", &seed, &ops_per_allocator);
	check_catch_reports();
	test_table();
	for (size_t i = 0; kmem_lab_allocators[i] != NULL; i++) {
		ops = kmem_lab_allocators[i];
		void *inst = ops->create(BUDGET, types, NTYPES);
		CHECK(inst != NULL);
		struct kmem_lab_stats st = stats_of(inst);
		char name[64];
		snprintf(name, sizeof (name), "classic_ops_test (%s)",
		    ops->name);
		model_target_t t = {
			.name = name, .inst = inst,
			.base = (uintptr_t)st.region, .size = BUDGET,
			.align = 8, .max_request = BUDGET / 16,
			.alloc = target_alloc, .free = target_free,
			.check = target_check,
		};
		/* The resource map may overflow and warn; nothing else may. */
		kmem_report_handler_set(count_warnings, NULL, NULL);
		model_test(&t, seed + i, ops_per_allocator, at_end);
		check_catch_reports();
		CHECK(warnings == 0 || strcmp(ops->name, "rmap") == 0);
		warnings = 0;
		ops->destroy(inst);
	}
	return (0);
}
