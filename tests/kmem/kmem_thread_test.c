/*
 * kmem under threads (run under ThreadSanitizer in CI):
 *
 * - producer/consumer: buffers of several caches, of kmem_alloc and of a
 *   vmem arena with quantum caches are allocated on one thread and freed on
 *   another, through a queue;
 * - many threads, more than there are CPUs, hammer shared caches with
 *   random sizes while one more reads the statistics and the ::kmastat
 *   table; threads come and go, exiting with magazines in hand;
 * - threads that exit while holding magazines: everything they freed is
 *   counted, and a reap or a destroy from another thread sees no leak;
 * - a cache destroyed after its users exited, and one destroyed while its
 *   users are alive but idle, followed by a new cache they then use;
 * - magazines grow when the depot lock is contended;
 * - the update thread, on a short interval, while threads allocate;
 * - a thread's exit runs the update when it is due, and the linked library
 *   never starts the update thread by itself.
 *
 * Every object carries a state word: a constructor sets it to "free"; an
 * allocation must find "free" and swaps in "live, thread t" (so no object
 * is handed to two threads at once); the free sets it back.  Objects of
 * caches without a constructor, and kmem_alloc buffers, carry a stamp of
 * their owner at both ends, checked before the free.  The payload is
 * written with plain stores, so ThreadSanitizer sees any hand-off between
 * threads that the allocator does not order.
 *
 * No sleeps: joins, barriers, and polling of counters (with a generous
 * bound measured on the clock, never a timing that decides an outcome).
 */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <kmem/kmem.h>

#include "check.h"
#include "kmem/kmem_query.h"         /* kmem_update_done_hook_set() */
#include "kmem_objects.h"

#define POLL_LIMIT_NS   (120ull * 1000 * 1000 * 1000)

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

/* ---- objects that know their owner ---- */

/* A stamp at both ends of a buffer: whose it is, and which use. */
typedef struct stamp {
	uint32_t owner;
	uint32_t seq;
} stamp_t;

static void
stamp_write(unsigned char *p, size_t size, stamp_t s)
{
	unsigned char b[sizeof (s)];
	memcpy(b, &s, sizeof (s));
	for (size_t i = 0; i < sizeof (b) && i < size; i++) {
		p[i] = b[i];
		if (size >= 2 * sizeof (b))
			p[size - 1 - i] = b[i];
	}
}

static void
stamp_check(const unsigned char *p, size_t size, stamp_t s)
{
	unsigned char b[sizeof (s)];
	memcpy(b, &s, sizeof (s));
	for (size_t i = 0; i < sizeof (b) && i < size; i++) {
		CHECK(p[i] == b[i]);
		if (size >= 2 * sizeof (b))
			CHECK(p[size - 1 - i] == b[i]);
	}
}

/* Take a fresh object of oc: it must be free, and now it is ours. */
static void *
o_alloc(ocache_t *oc, stamp_t s)
{
	unsigned char *p = kmem_cache_alloc(oc->cp, KM_SLEEP);
	CHECK(p != NULL);
	if (oc->align != 0)
		CHECK_EQ((uintptr_t)p % oc->align, 0);
	if (oc->ctor) {
		ohead_t *h = (ohead_t *)p;
		uint64_t expected = FREE_MARK;
		if (!atomic_compare_exchange_strong(&h->state, &expected,
		    LIVE_MARK | s.owner)) {
			fprintf(stderr, "%s: object %p handed out in state "
			    "%#jx\n", oc->name, (void *)p, (uintmax_t)expected);
			CHECK(!"an allocated object is free and constructed");
		}
		CHECK_EQ(h->magic, oc->magic);
		stamp_write(p + sizeof (ohead_t), oc->size - sizeof (ohead_t),
		    s);
	} else {
		stamp_write(p, oc->size, s);
	}
	return (p);
}

static void
o_free(ocache_t *oc, void *buf, stamp_t s)
{
	unsigned char *p = buf;
	if (oc->ctor) {
		ohead_t *h = buf;
		CHECK_EQ(atomic_load(&h->state), LIVE_MARK | s.owner);
		stamp_check(p + sizeof (ohead_t), oc->size - sizeof (ohead_t),
		    s);
		atomic_store(&h->state, FREE_MARK);
	} else {
		stamp_check(p, oc->size, s);
	}
	kmem_cache_free(oc->cp, buf);
}

/*
 * After everyone who used oc has exited or freed everything: every
 * allocation was freed, and a reap from here gives back every buffer.
 */
static void
ocache_check_drained(ocache_t *oc, uint64_t expect_allocs)
{
	kmem_cache_stats_t st = stats_of(oc->cp);
	if (expect_allocs != UINT64_MAX)
		CHECK_EQ(st.alloc, expect_allocs);
	CHECK_EQ(st.alloc, st.free);
	CHECK_EQ(st.buf_inuse, 0);
	CHECK_EQ(st.alloc_fail, 0);
	/* Cached buffers are constructed, but a debug cache's are free. */
	bool debug = oc->cflags & (KMF_AUDIT | KMF_DEADBEEF | KMF_REDZONE |
	    KMF_CONTENTS | KMF_LITE);
	if (oc->ctor)
		CHECK_EQ(atomic_load(&oc->constructed) -
		    atomic_load(&oc->destructed),
		    debug ? 0 : st.slab_alloc - st.slab_free);
	kmem_cache_reap_now(oc->cp);
	st = stats_of(oc->cp);
	CHECK_EQ(st.buf_constructed, 0);
	CHECK_EQ(st.buf_total, 0);
	CHECK_EQ(st.mem_total, 0);
	CHECK_EQ(st.slab_alloc, st.slab_free);
	CHECK_EQ(atomic_load(&oc->constructed), atomic_load(&oc->destructed));
	CHECK_EQ(atomic_load(&oc->bad), 0);
	if (oc->arena != NULL)
		CHECK_EQ(vmem_size(oc->arena, VMEM_ALLOC), 0);
	check_no_reports();
}

static void
ocache_destroy(ocache_t *oc)
{
	kmem_cache_destroy(oc->cp);
	check_no_reports();
	CHECK_EQ(atomic_load(&oc->constructed), atomic_load(&oc->destructed));
	CHECK_EQ(atomic_load(&oc->bad), 0);
	if (oc->arena != NULL) {
		CHECK_EQ(vmem_size(oc->arena, VMEM_ALLOC), 0);
		vmem_destroy(oc->arena);
		check_no_reports();
	}
}

/* Every kmem_alloc class has nothing in use (after all threads freed). */
static void
kmastat_line(void *arg, const char *line)
{
	unsigned long long csize, bufsize, inuse;
	char sp;
	(void) arg;
	if (sscanf(line, "kmem_alloc_%llu%c %llu %llu", &csize, &sp, &bufsize,
	    &inuse) == 4 && sp == ' ' && inuse != 0) {
		fprintf(stderr, "%s\n", line);
		CHECK(!"every kmem_alloc buffer was freed");
	}
}

static void
check_kmem_alloc_drained(void)
{
	kmem_table(kmastat_line, NULL);
}

/* ---- the shared world ---- */

static ocache_t shared[] = {
	{ .name = "thr_small_c", .size = 48, .ctor = true },
	{ .name = "thr_mid_p", .size = 700, .private_arena = true },
	{ .name = "thr_big_c", .size = 5000, .ctor = true },
	{ .name = "thr_nomag_c", .size = 200, .ctor = true,
	    .cflags = KMC_NOMAGAZINE },
	{ .name = "thr_notouch_c", .size = 96, .ctor = true,
	    .cflags = KMC_NOTOUCH },
	{ .name = "thr_debug_c", .size = 64, .ctor = true,
	    .cflags = KMF_REDZONE | KMF_AUDIT },
	{ .name = "thr_a512", .size = 1500, .align = 512 },
};
#define NSHARED (sizeof (shared) / sizeof (shared[0]))

/* A vmem arena with quantum caches over made-up addresses. */
#define QC_BASE         ((uintptr_t)0x40000000)
#define QC_QUANTUM      64
#define QC_QUANTA       (1u << 16)
#define QC_MAX          (8 * QC_QUANTUM)

static vmem_t *qc;
static _Atomic unsigned char qc_owner[QC_QUANTA];

static void
qc_claim(uintptr_t addr, size_t size, unsigned char me)
{
	CHECK(addr >= QC_BASE && addr % QC_QUANTUM == 0);
	for (uintptr_t q = (addr - QC_BASE) / QC_QUANTUM;
	    q < (addr - QC_BASE + size + QC_QUANTUM - 1) / QC_QUANTUM; q++) {
		unsigned char expected = 0;
		CHECK(q < QC_QUANTA);
		CHECK(atomic_compare_exchange_strong(&qc_owner[q], &expected,
		    me));
	}
}

static void
qc_unclaim(uintptr_t addr, size_t size, unsigned char me)
{
	for (uintptr_t q = (addr - QC_BASE) / QC_QUANTUM;
	    q < (addr - QC_BASE + size + QC_QUANTUM - 1) / QC_QUANTUM; q++) {
		unsigned char expected = me;
		CHECK(atomic_compare_exchange_strong(&qc_owner[q], &expected,
		    0));
	}
}

static void
world_create(void)
{
	for (size_t i = 0; i < NSHARED; i++)
		ocache_create(&shared[i]);
	qc = vmem_create("thr_qc", (void *)QC_BASE,
	    (size_t)QC_QUANTA * QC_QUANTUM, QC_QUANTUM, NULL, NULL, NULL,
	    QC_MAX, VM_SLEEP);
	CHECK(qc != NULL);
}

static void
world_check_drained(uint64_t *allocs)
{
	for (size_t i = 0; i < NSHARED; i++)
		ocache_check_drained(&shared[i],
		    allocs != NULL ? allocs[i] : UINT64_MAX);
	check_kmem_alloc_drained();
	for (size_t q = 0; q < QC_QUANTA; q++)
		CHECK_EQ(atomic_load(&qc_owner[q]), 0);
}

static void
world_destroy(void)
{
	for (size_t i = 0; i < NSHARED; i++)
		ocache_destroy(&shared[i]);
	vmem_destroy(qc);
	check_no_reports();
}

/* ---- one held thing: a cache object, a kmem_alloc buffer, a segment ---- */

enum kind { K_CACHE, K_KMEM, K_VMEM };

typedef struct item {
	enum kind kind;
	unsigned which;         /* the cache */
	void *p;
	size_t size;
	stamp_t stamp;
} item_t;

static item_t
item_alloc(uint64_t *rng, uint32_t owner, uint32_t seq)
{
	item_t it = { .stamp = { owner, seq } };
	unsigned r = (unsigned)(check_random(rng) % 10);
	if (r < 6) {
		it.kind = K_CACHE;
		it.which = (unsigned)(check_random(rng) % NSHARED);
		it.p = o_alloc(&shared[it.which], it.stamp);
	} else if (r < 9) {
		it.kind = K_KMEM;
		uint64_t x = check_random(rng);
		it.size = x % 8 == 0 ? 1 + x / 8 % 40000 : 1 + x / 8 % 1024;
		unsigned char *p = x % 3 == 0 ? kmem_zalloc(it.size, KM_SLEEP) :
		    kmem_alloc(it.size, KM_SLEEP);
		CHECK(p != NULL);
		CHECK_EQ((uintptr_t)p % 8, 0);
		if (x % 3 == 0)
			CHECK(p[0] == 0 && p[it.size - 1] == 0);
		stamp_write(p, it.size, it.stamp);
		it.p = p;
	} else {
		it.kind = K_VMEM;
		it.size = 1 + check_random(rng) % (2 * QC_MAX);
		it.p = vmem_alloc(qc, it.size, VM_SLEEP);
		CHECK(it.p != NULL);
		qc_claim((uintptr_t)it.p, it.size, (unsigned char)(owner % 250
		    + 1));
	}
	return (it);
}

static void
item_free(item_t *it)
{
	switch (it->kind) {
	case K_CACHE:
		o_free(&shared[it->which], it->p, it->stamp);
		break;
	case K_KMEM:
		stamp_check(it->p, it->size, it->stamp);
		kmem_free(it->p, it->size);
		break;
	case K_VMEM:
		qc_unclaim((uintptr_t)it->p, it->size,
		    (unsigned char)(it->stamp.owner % 250 + 1));
		vmem_free(qc, it->p, it->size);
		break;
	}
	it->p = NULL;
}

/* ---- producer/consumer ---- */

#define QUEUE_LEN       256
#define PRODUCERS       3
#define CONSUMERS       3
#define PER_PRODUCER    30000

typedef struct queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	item_t items[QUEUE_LEN];
	unsigned head, count;
	unsigned producers_left;
} queue_t;

static queue_t queue = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.not_empty = PTHREAD_COND_INITIALIZER,
	.not_full = PTHREAD_COND_INITIALIZER,
};

static atomic_ulong pc_allocs[NSHARED];

static void *
producer(void *arg)
{
	uint32_t me = (uint32_t)(uintptr_t)arg;
	uint64_t rng = 0x5eed0000ull + me;
	for (uint32_t seq = 0; seq < PER_PRODUCER; seq++) {
		item_t it = item_alloc(&rng, me, seq);
		if (it.kind == K_CACHE)
			atomic_fetch_add(&pc_allocs[it.which], 1);
		pthread_mutex_lock(&queue.lock);
		while (queue.count == QUEUE_LEN)
			pthread_cond_wait(&queue.not_full, &queue.lock);
		queue.items[(queue.head + queue.count++) % QUEUE_LEN] = it;
		pthread_cond_signal(&queue.not_empty);
		pthread_mutex_unlock(&queue.lock);
	}
	pthread_mutex_lock(&queue.lock);
	queue.producers_left--;
	pthread_cond_broadcast(&queue.not_empty);
	pthread_mutex_unlock(&queue.lock);
	return (NULL);
}

static void *
consumer(void *arg)
{
	(void) arg;
	for (;;) {
		pthread_mutex_lock(&queue.lock);
		while (queue.count == 0 && queue.producers_left > 0)
			pthread_cond_wait(&queue.not_empty, &queue.lock);
		if (queue.count == 0) {
			pthread_mutex_unlock(&queue.lock);
			return (NULL);
		}
		item_t it = queue.items[queue.head];
		queue.head = (queue.head + 1) % QUEUE_LEN;
		queue.count--;
		pthread_cond_signal(&queue.not_full);
		pthread_mutex_unlock(&queue.lock);
		item_free(&it);
	}
}

static void
test_producer_consumer(void)
{
	world_create();
	queue.producers_left = PRODUCERS;
	pthread_t p[PRODUCERS], c[CONSUMERS];
	for (uintptr_t i = 0; i < CONSUMERS; i++)
		CHECK_EQ(pthread_create(&c[i], NULL, consumer, NULL), 0);
	for (uintptr_t i = 0; i < PRODUCERS; i++)
		CHECK_EQ(pthread_create(&p[i], NULL, producer,
		    (void *)(i + 1)), 0);
	for (int i = 0; i < PRODUCERS; i++)
		CHECK_EQ(pthread_join(p[i], NULL), 0);
	for (int i = 0; i < CONSUMERS; i++)
		CHECK_EQ(pthread_join(c[i], NULL), 0);
	check_no_reports();

	uint64_t allocs[NSHARED];
	for (size_t i = 0; i < NSHARED; i++) {
		allocs[i] = atomic_load(&pc_allocs[i]);
		CHECK(allocs[i] > 0);
	}
	world_check_drained(allocs);
	world_destroy();
}

/* ---- many threads ---- */

#define HELD            48

static atomic_bool stats_stop;
static atomic_uint next_owner = 1000;

static void *
hammer(void *arg)
{
	unsigned rounds = (unsigned)(uintptr_t)arg;
	uint32_t me = atomic_fetch_add(&next_owner, 1);
	uint64_t rng = 0xba5eull * me;
	item_t held[HELD] = { { 0 } };
	for (uint32_t i = 0; i < rounds; i++) {
		item_t *h = &held[check_random(&rng) % HELD];
		if (h->p != NULL)
			item_free(h);
		else
			*h = item_alloc(&rng, me, i);
	}
	/* Give back what is held; the magazines leave with the thread. */
	for (int i = 0; i < HELD; i++)
		if (held[i].p != NULL)
			item_free(&held[i]);
	return (NULL);
}

static void
table_sink(void *arg, const char *line)
{
	(void) line;
	++*(unsigned *)arg;
}

static void *
stats_reader(void *arg)
{
	(void) arg;
	unsigned lines = 0;
	while (!atomic_load(&stats_stop)) {
		for (size_t i = 0; i < NSHARED; i++) {
			kmem_cache_stats_t st = stats_of(shared[i].cp);
			CHECK_EQ(st.alloc_fail, 0);
			CHECK(st.buf_total >= st.slab_alloc - st.slab_free);
		}
		kmem_table(table_sink, &lines);
	}
	CHECK(lines > 0);
	return (NULL);
}

static void
test_many_threads(void)
{
	world_create();
	unsigned n = 2 * cpus() + 4;
	if (n < 8)
		n = 8;
	enum { GENERATIONS = 3, ROUNDS = 12000 };
	pthread_t reader;
	atomic_store(&stats_stop, false);
	CHECK_EQ(pthread_create(&reader, NULL, stats_reader, NULL), 0);
	pthread_t *t = calloc(n, sizeof (pthread_t));
	CHECK(t != NULL);
	/* Generations overlap: each thread is replaced as soon as it exits. */
	for (unsigned g = 0; g < GENERATIONS; g++) {
		for (unsigned i = 0; i < n; i++) {
			if (g > 0)
				CHECK_EQ(pthread_join(t[i], NULL), 0);
			uintptr_t rounds = ROUNDS / 2 + (i * 7919u) % ROUNDS;
			CHECK_EQ(pthread_create(&t[i], NULL, hammer,
			    (void *)rounds), 0);
		}
	}
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	atomic_store(&stats_stop, true);
	CHECK_EQ(pthread_join(reader, NULL), 0);
	free(t);
	check_no_reports();
	world_check_drained(NULL);
	world_destroy();
}

/* ---- threads that exit while holding magazines ---- */

typedef struct exiter {
	ocache_t *oc;
	unsigned allocs;        /* allocate this many, free them all but keep */
	unsigned keep;          /* these live ones, handed to the joiner */
	void *kept[8];
} exiter_t;

static void *
exit_with_magazines(void *arg)
{
	exiter_t *e = arg;
	void **b = calloc(e->allocs, sizeof (void *));
	CHECK(b != NULL);
	stamp_t s = { 7, 0 };
	for (unsigned i = 0; i < e->allocs; i++)
		b[i] = o_alloc(e->oc, s);
	for (unsigned i = 0; i < e->keep; i++)
		e->kept[i] = b[i];
	for (unsigned i = e->keep; i < e->allocs; i++)
		o_free(e->oc, b[i], s);
	free(b);
	return (NULL);
}

static void
test_exit_holding_magazines(void)
{
	static const unsigned counts[] = { 1, 7, 15, 16, 31, 200, 1000 };
	static ocache_t oc = { .name = "thr_exiting", .size = 64,
	    .ctor = true, .private_arena = true };
	ocache_create(&oc);
	uint64_t total = 0;
	for (size_t i = 0; i < sizeof (counts) / sizeof (counts[0]); i++) {
		exiter_t e = { &oc, counts[i], counts[i] % 3, { 0 } };
		pthread_t t;
		CHECK_EQ(pthread_create(&t, NULL, exit_with_magazines, &e), 0);
		CHECK_EQ(pthread_join(t, NULL), 0);
		total += counts[i];
		/* Everything the thread freed is counted, nothing is lost. */
		kmem_cache_stats_t st = stats_of(oc.cp);
		CHECK_EQ(st.alloc, total);
		CHECK_EQ(st.buf_inuse, e.keep);
		CHECK_EQ(st.alloc, st.free + e.keep);
		CHECK_EQ(atomic_load(&oc.constructed) -
		    atomic_load(&oc.destructed), st.slab_alloc - st.slab_free);
		stamp_t s = { 7, 0 };
		for (unsigned k = 0; k < e.keep; k++)
			o_free(&oc, e.kept[k], s);
		CHECK_EQ(stats_of(oc.cp).buf_inuse, 0);
		/*
		 * What the thread freed sits in magazines it gave the depot
		 * when it exited: a reap from here (which gives back the
		 * depot and this thread's own magazines, not other threads')
		 * gets every buffer back.
		 */
		if (i % 2 == 1)
			ocache_check_drained(&oc, total);
	}
	kmem_cache_stats_t st = stats_of(oc.cp);
	CHECK(st.full_magazines > 0);
	CHECK(st.buf_constructed > 0);
	ocache_check_drained(&oc, total);
	ocache_destroy(&oc);
}

/* ---- caches destroyed after, or under, their users ---- */

static ocache_t dying = { .name = "thr_dying", .size = 128, .ctor = true,
	.private_arena = true };
static pthread_barrier_t barrier;

static void *
use_exit(void *arg)
{
	uint64_t rng = (uintptr_t)arg;
	void *b[64];
	stamp_t s = { (uint32_t)(uintptr_t)arg, 1 };
	for (int round = 0; round < 50; round++) {
		unsigned n = 1 + (unsigned)(check_random(&rng) % 64);
		for (unsigned i = 0; i < n; i++)
			b[i] = o_alloc(&dying, s);
		for (unsigned i = 0; i < n; i++)
			o_free(&dying, b[i], s);
	}
	return (NULL);
}

static void *
use_idle_use(void *arg)
{
	stamp_t s = { (uint32_t)(uintptr_t)arg, 2 };
	void *b[40];
	for (int i = 0; i < 40; i++)
		b[i] = o_alloc(&dying, s);
	for (int i = 0; i < 40; i++)
		o_free(&dying, b[i], s);
	/* Idle, magazines in hand, while the cache is destroyed ... */
	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier);
	/* ... and a new one (in the same slot, most likely) is made. */
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 40; i++)
			b[i] = o_alloc(&dying, s);
		for (int i = 0; i < 40; i++)
			o_free(&dying, b[i], s);
	}
	return (NULL);
}

static void
test_destroy_after_users(void)
{
	enum { N = 4 };
	pthread_t t[N];

	/* Destroyed after its users exited: nothing leaked, all destructed. */
	ocache_create(&dying);
	for (uintptr_t i = 0; i < N; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, use_exit, (void *)(i + 1)),
		    0);
	for (int i = 0; i < N; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	kmem_cache_stats_t st = stats_of(dying.cp);
	CHECK_EQ(st.buf_inuse, 0);
	CHECK(st.buf_constructed > 0);
	ocache_destroy(&dying);

	/* Destroyed while its users are alive and idle. */
	CHECK_EQ(pthread_barrier_init(&barrier, NULL, N + 1), 0);
	ocache_create(&dying);
	for (uintptr_t i = 0; i < N; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, use_idle_use,
		    (void *)(i + 1)), 0);
	pthread_barrier_wait(&barrier);
	st = stats_of(dying.cp);
	CHECK_EQ(st.buf_inuse, 0);
	CHECK_EQ(st.alloc, N * 40);
	ocache_destroy(&dying);
	ocache_create(&dying);
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < N; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	ocache_check_drained(&dying, N * 40 * 200);
	ocache_destroy(&dying);
	pthread_barrier_destroy(&barrier);
}

/* ---- magazines grow under contention ---- */

static ocache_t growing = { .name = "thr_growing", .size = 5000,
	.ctor = true };
static atomic_bool burst_stop;
static atomic_ulong burst_allocs;

static void *
burst(void *arg)
{
	stamp_t s = { (uint32_t)(uintptr_t)arg, 3 };
	void *b[4];
	unsigned long n = 0;
	while (!atomic_load_explicit(&burst_stop, memory_order_relaxed)) {
		for (int i = 0; i < 4; i++)
			b[i] = o_alloc(&growing, s);
		for (int i = 0; i < 4; i++)
			o_free(&growing, b[i], s);
		n += 4;
	}
	atomic_fetch_add(&burst_allocs, n);
	return (NULL);
}

static void
test_magazines_grow(void)
{
	ocache_create(&growing);
	CHECK_EQ(stats_of(growing.cp).magazine_size, 1);
	unsigned n = cpus() + 2;
	if (n < 4)
		n = 4;
	pthread_t t[16];
	if (n > 16)
		n = 16;
	atomic_store(&burst_stop, false);
	for (uintptr_t i = 0; i < n; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, burst, (void *)(i + 1)), 0);

	/* Run updates while they contend, until the magazines grow. */
	uint64_t deadline = now_ns() + POLL_LIMIT_NS;
	unsigned updates = 0;
	kmem_cache_stats_t st;
	do {
		kmem_update_now();
		updates++;
		for (int i = 0; i < 100; i++)
			sched_yield();
		st = stats_of(growing.cp);
	} while (st.magazine_size == 1 && now_ns() < deadline);
	atomic_store(&burst_stop, true);
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);

	st = stats_of(growing.cp);
	printf("magazines of %s: %u rounds after %u updates, depot "
	    "contention %ju\n", growing.name, st.magazine_size, updates,
	    (uintmax_t)st.depot_contention);
	CHECK(st.magazine_size > 1);
	/* The sizes of the table, in order: 1, 3, 7, 15, ... */
	CHECK(st.magazine_size == 3 || st.magazine_size == 7 ||
	    st.magazine_size == 15 || st.magazine_size == 31);
	/* Contention grows them, and so does the traffic it comes with
	 * (kmem_depot.c): either may have come first. */
	ocache_check_drained(&growing, atomic_load(&burst_allocs));
	ocache_destroy(&growing);
}

/* ---- the update thread ---- */

static void
test_update_thread(void)
{
	world_create();
	static ocache_t ws = { .name = "thr_workingset", .size = 64,
	    .ctor = true };
	ocache_create(&ws);

	/* Fill the depot: these magazines then sit unused. */
	enum { N = 3000 };
	static void *b[N];
	stamp_t s = { 9, 9 };
	for (int i = 0; i < N; i++)
		b[i] = o_alloc(&ws, s);
	for (int i = 0; i < N; i++)
		o_free(&ws, b[i], s);
	/*
	 * Each freed buffer is either still constructed in a magazine, most
	 * of them in the depot's full ones, or went back to its slab through
	 * the destructor: the depot traffic of these very frees may grow the
	 * magazines, and a growth destroys the magazines of the old size
	 * (kmem_depot.c), in the depot at once and in the threads' hands
	 * later, from the stale list.
	 */
	kmem_cache_stats_t filled = stats_of(ws.cp);
	uint64_t destructed_filling = atomic_load(&ws.destructed);
	CHECK(filled.full_magazines > 0);
	CHECK_EQ(filled.buf_constructed + destructed_filling, N);

	kmem_update_interval_set(2 * 1000 * 1000);
	CHECK_EQ(kmem_update_thread(1), 0);
	CHECK_EQ(kmem_update_thread(1), 0);             /* already running */

	/* The thread's passes give the unused magazines back. */
	uint64_t deadline = now_ns() + POLL_LIMIT_NS;
	while (stats_of(ws.cp).full_magazines != 0 && now_ns() < deadline)
		sched_yield();
	CHECK_EQ(stats_of(ws.cp).full_magazines, 0);
	CHECK(atomic_load(&ws.destructed) > destructed_filling);

	/* Its passes run among threads allocating and freeing. */
	unsigned n = cpus() + 2;
	pthread_t t[16];
	if (n > 16)
		n = 16;
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, hammer,
		    (void *)(uintptr_t)8000), 0);
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);

	CHECK_EQ(kmem_update_thread(0), 0);
	CHECK_EQ(kmem_update_thread(0), 0);             /* already stopped */
	kmem_update_interval_set(3600ull * 1000 * 1000 * 1000);
	check_no_reports();
	world_check_drained(NULL);
	ocache_check_drained(&ws, N);
	ocache_destroy(&ws);
	world_destroy();

	/* And it starts again after being stopped. */
	CHECK_EQ(kmem_update_thread(1), 0);
	CHECK_EQ(kmem_update_thread(0), 0);
}

/* ---- a thread's run of buffers ---- */

static kmem_cache_t *run_cache;
static pthread_barrier_t run_barrier;

/* Take a buffer, and stay until the other thread has taken its own (an
 * exiting thread's magazines would go to the depot for it). */
static void *
take_one(void *arg)
{
	*(void **)arg = kmem_cache_alloc(run_cache, KM_SLEEP);
	pthread_barrier_wait(&run_barrier);
	return (NULL);
}

/*
 * Threads that find their magazines and the depot empty take a magazine's
 * worth of neighbouring buffers from the slabs at once (kmem_cache.c), so
 * two threads' first buffers of a fresh cache are a run apart, not on one
 * cache line; the buffers loaded ahead are neither allocations nor frees.
 */
static void
test_threads_get_runs_of_their_own(void)
{
	run_cache = kmem_cache_create("runs", 16, 16, NULL, NULL, NULL, NULL,
	    NULL, 0);
	unsigned rounds = stats_of(run_cache).magazine_size;
	CHECK(rounds >= 3);
	void *first = NULL, *second = NULL;
	pthread_t t1, t2;
	CHECK_EQ(pthread_barrier_init(&run_barrier, NULL, 2), 0);
	CHECK_EQ(pthread_create(&t1, NULL, take_one, &first), 0);
	CHECK_EQ(pthread_create(&t2, NULL, take_one, &second), 0);
	CHECK_EQ(pthread_join(t1, NULL), 0);
	CHECK_EQ(pthread_join(t2, NULL), 0);
	CHECK_EQ(pthread_barrier_destroy(&run_barrier), 0);
	uintptr_t a = (uintptr_t)first, b = (uintptr_t)second;
	CHECK_EQ(b > a ? b - a : a - b, (uintptr_t)16 * (rounds + 1));

	kmem_cache_stats_t st = stats_of(run_cache);
	CHECK_EQ(st.alloc, 2);
	CHECK_EQ(st.free, 0);
	CHECK_EQ(st.buf_inuse, 2);
	CHECK_EQ(st.buf_constructed, 2 * rounds);       /* in the magazines */
	kmem_cache_free(run_cache, first);
	kmem_cache_free(run_cache, second);
	kmem_cache_destroy(run_cache);
}

/* ---- the update at a thread's exit; no thread unasked ---- */

static atomic_uint passes;

static void
count_pass(void)
{
	atomic_fetch_add(&passes, 1);
}

static void *
alloc_one_and_exit(void *arg)
{
	/* One allocation: a handful of slow paths, never the 64th that
	 * would run the update on the way. */
	kmem_free(kmem_alloc(100, KM_SLEEP), 100);
	return (arg);
}

/*
 * A thread's exit runs the update when it is due: a program whose threads
 * come and go, and whose remaining threads only take fast paths, still
 * gets its passes.
 */
static void
test_thread_exit_runs_a_due_pass(void)
{
	atomic_store(&passes, 0);
	kmem_update_done_hook_set(count_pass);
	kmem_update_interval_set(1);    /* due at once */
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, alloc_one_and_exit, NULL), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	kmem_update_interval_set(3600ull * 1000 * 1000 * 1000);
	kmem_update_done_hook_set(NULL);
	CHECK(atomic_load(&passes) >= 1);
}

/* Has this process a thread named kmem_update (/proc/self/task)? */
static bool
update_thread_exists(void)
{
	DIR *d = opendir("/proc/self/task");
	CHECK(d != NULL);
	bool found = false;
	for (struct dirent *e; !found && (e = readdir(d)) != NULL; ) {
		char path[300], comm[32] = "";
		snprintf(path, sizeof (path), "/proc/self/task/%s/comm",
		    e->d_name);
		FILE *f = e->d_name[0] != '.' ? fopen(path, "r") : NULL;
		if (f == NULL)
			continue;
		found = fgets(comm, sizeof (comm), f) != NULL &&
		    strcmp(comm, "kmem_update\n") == 0;
		fclose(f);
	}
	closedir(d);
	return (found);
}

/* Linked, the library starts no thread unless asked (docs/malloc.md):
 * threads came and went above, and none of them made one. */
static void
test_linked_library_starts_no_thread(void)
{
	CHECK(!update_thread_exists());
}

int
main(void)
{
	kmem_report_handler_set(any_thread_report_handler, NULL, NULL);
	/* No lazy update may reap behind a test's back (but the one that
	 * tests the update thread). */
	kmem_update_interval_set(3600ull * 1000 * 1000 * 1000);
	test_producer_consumer();
	test_many_threads();
	test_exit_holding_magazines();
	test_destroy_after_users();
	test_magazines_grow();
	test_threads_get_runs_of_their_own();
	test_thread_exit_runs_a_due_pass();
	test_linked_library_starts_no_thread();
	test_update_thread();
	check_no_reports();
	printf("kmem_thread_test: all passed\n");
	return (0);
}
