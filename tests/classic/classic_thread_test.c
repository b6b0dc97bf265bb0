/*
 * Every row of the laboratory's table used from several threads at once
 * (run under ThreadSanitizer in CI): each thread allocates blocks, fills
 * them with its own pattern and hands half of them to the next thread,
 * which checks and frees them, so blocks cross CPUs (Dynix's per-CPU
 * layers trade lists through the global layer); an observer thread reads
 * the statistics and the region's map meanwhile.  More threads than CPUs
 * run, so Dynix's layers are shared as documented.  At the end nothing is
 * allocated, no report was made, and Dynix, once reclaimed, has every page
 * back.
 *
 * Usage: classic_thread_test [--seed N] [--ops N]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/classic.h>

#include "check.h"
#include "classic_model.h"

#define BUDGET          ((size_t)1 << 20)
#define NTHREADS        5
#define HELD            64
#define QUEUE           256

static const struct kmem_lab_type types[] = {
	{ "small", 48 }, { "large", 6000 },
};

typedef struct block {
	unsigned char *addr;
	size_t size;
	int type;
	unsigned char fill;
} block_t;

/* What a thread hands to the next one. */
typedef struct inbox {
	pthread_mutex_t lock;
	block_t block[QUEUE];
	size_t n;
} inbox_t;

typedef struct worker {
	pthread_t thread;
	unsigned id;
	uint64_t rng;
	long ops;
} worker_t;

static const struct kmem_lab_ops *ops;
static void *inst;
static inbox_t inbox[NTHREADS];
static atomic_bool done;
static atomic_ulong warnings;

/* Reports come from any thread: errors fail, warnings are counted. */
static void
report_handler(void *arg, kmem_report_kind_t kind, const char *message)
{
	(void) arg;
	if (kind == KMEM_REPORT_ERROR) {
		fprintf(stderr, "%s: %s\n", ops->name, message);
		CHECK(!"no allocator reports an error");
	}
	atomic_fetch_add(&warnings, 1);
}

static block_t
block_new(worker_t *w)
{
	uint64_t r = check_random(&w->rng);
	block_t b = { .type = KMEM_LAB_UNTYPED, .fill = (unsigned char)r };
	switch (r % 8) {
	case 0:
		b.type = 0;
		b.size = types[0].size;
		break;
	case 1:
		b.type = 1;
		b.size = types[1].size;
		break;
	case 2:
		b.size = 1 + (r >> 8) % 20000;
		break;
	default:
		b.size = 1 + (r >> 8) % 600;
		break;
	}
	b.addr = ops->alloc(inst, b.size, b.type);
	if (b.addr != NULL)
		memset(b.addr, b.fill, b.size);
	return (b);
}

static void
block_free(const block_t *b)
{
	for (size_t i = 0; i < b->size; i++)
		CHECK_EQ(b->addr[i], b->fill);
	ops->free(inst, b->addr, b->size, b->type);
}

/* Hand b to the next thread; false if its inbox is full. */
static bool
give(unsigned to, const block_t *b)
{
	inbox_t *in = &inbox[to];
	pthread_mutex_lock(&in->lock);
	bool ok = in->n < QUEUE;
	if (ok)
		in->block[in->n++] = *b;
	pthread_mutex_unlock(&in->lock);
	return (ok);
}

static void
free_inbox(unsigned id)
{
	inbox_t *in = &inbox[id];
	pthread_mutex_lock(&in->lock);
	while (in->n > 0)
		block_free(&in->block[--in->n]);
	pthread_mutex_unlock(&in->lock);
}

static void *
worker_main(void *arg)
{
	worker_t *w = arg;
	block_t held[HELD] = { { 0 } };
	for (long i = 0; i < w->ops; i++) {
		size_t k = check_random(&w->rng) % HELD;
		if (held[k].addr == NULL) {
			held[k] = block_new(w);
		} else if (k % 2 == 0 ||
		    !give((w->id + 1) % NTHREADS, &held[k])) {
			block_free(&held[k]);
			held[k].addr = NULL;
		} else {
			held[k].addr = NULL;
		}
		if (i % 16 == 0)
			free_inbox(w->id);
	}
	for (size_t k = 0; k < HELD; k++) {
		if (held[k].addr != NULL)
			block_free(&held[k]);
	}
	return (NULL);
}

static void *
observer_main(void *arg)
{
	(void) arg;
	unsigned char *states = malloc(BUDGET / KMEM_LAB_GRAIN);
	CHECK(states != NULL);
	while (!atomic_load(&done)) {
		struct kmem_lab_stats st;
		ops->stats(inst, &st);
		CHECK_EQ(st.region_bytes, BUDGET);
		CHECK_EQ(kmem_lab_map(ops, inst, states,
		    BUDGET / KMEM_LAB_GRAIN), 0);
		(void) ops->held(inst);
	}
	free(states);
	return (NULL);
}

static void
run_allocator(uint64_t seed, long ops_per_thread)
{
	inst = ops->create(BUDGET, types, sizeof (types) / sizeof (types[0]));
	CHECK(inst != NULL);
	atomic_store(&done, false);
	pthread_t observer;
	CHECK_EQ(pthread_create(&observer, NULL, observer_main, NULL), 0);
	worker_t w[NTHREADS];
	for (unsigned i = 0; i < NTHREADS; i++) {
		w[i] = (worker_t){ .id = i, .rng = seed + i,
		    .ops = ops_per_thread };
		CHECK_EQ(pthread_create(&w[i].thread, NULL, worker_main,
		    &w[i]), 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_join(w[i].thread, NULL), 0);
	for (unsigned i = 0; i < NTHREADS; i++)
		free_inbox(i);
	atomic_store(&done, true);
	CHECK_EQ(pthread_join(observer, NULL), 0);

	struct kmem_lab_stats st;
	ops->stats(inst, &st);
	CHECK_EQ(st.allocated_bytes, 0);
	/* Only a resource map may warn: it overflows and loses ranges. */
	CHECK(atomic_load(&warnings) == 0 || strcmp(ops->name, "rmap") == 0);
	atomic_store(&warnings, 0);
	ops->destroy(inst);
	printf("classic_thread_test: %s: %d threads, %ld operations each, "
	    "all freed\n", ops->name, NTHREADS, ops_per_thread);
}

/* Dynix: blocks that crossed CPUs all come home. */
static void
test_dynix_home(uint64_t seed, long ops_per_thread)
{
	struct dynix *dx = dynix_create(NULL, BUDGET);
	CHECK(dx != NULL);
	inst = dx;
	ops = kmem_lab_find("dynix");
	worker_t w[NTHREADS];
	for (unsigned i = 0; i < NTHREADS; i++) {
		w[i] = (worker_t){ .id = i, .rng = seed + 100 + i,
		    .ops = ops_per_thread };
		CHECK_EQ(pthread_create(&w[i].thread, NULL, worker_main,
		    &w[i]), 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_join(w[i].thread, NULL), 0);
	for (unsigned i = 0; i < NTHREADS; i++)
		free_inbox(i);
	dynix_reclaim(dx);
	struct dynix_stats st;
	dynix_stats(dx, &st);
	CHECK_EQ(st.free_pages * (size_t)sysconf(_SC_PAGESIZE), BUDGET);
	uint64_t spills = 0, refills = 0;
	for (unsigned c = 0; c < st.nclasses; c++) {
		spills += st.cls[c].global_spills;
		refills += st.cls[c].global_refills;
	}
	CHECK(spills > 0 && refills > 0);
	CHECK_EQ(atomic_load(&warnings), 0);
	printf("classic_thread_test: dynix on %u CPUs: %llu lists went to the "
	    "global layer and %llu came back; every page is home\n", st.ncpus,
	    (unsigned long long)spills, (unsigned long long)refills);
	dynix_destroy(dx);
}

int
main(int argc, char **argv)
{
	uint64_t seed;
	long ops_per_thread = 6000;
	model_args(argc, argv, "classic_thread_test", &seed, &ops_per_thread);
	for (unsigned i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_mutex_init(&inbox[i].lock, NULL), 0);
	kmem_report_handler_set(report_handler, NULL, NULL);
	for (size_t i = 0; kmem_lab_allocators[i] != NULL; i++) {
		ops = kmem_lab_allocators[i];
		run_allocator(seed, ops_per_thread);
	}
	test_dynix_home(seed, ops_per_thread);
	return (0);
}
