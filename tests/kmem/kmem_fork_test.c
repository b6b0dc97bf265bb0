/*
 * fork() and kmem (run under ThreadSanitizer in CI):
 *
 * - the parent forks again and again while other threads allocate and free
 *   from every kind of cache, kmem_alloc and a vmem arena with quantum
 *   caches; each child, single-threaded (no thread may be started in it:
 *   ThreadSanitizer does not support that), allocates and frees from every
 *   one of them, creates and destroys a cache, reaps and updates, reads the
 *   statistics, and exits with a status the parent checks;
 * - the same with nothing else running, where the child can also check
 *   that every count balances and every buffer comes back;
 * - a fork while the update thread runs: in the child that thread does not
 *   exist, and stopping it must not wait for it.
 * The parent goes on after each fork and checks that its allocator works
 * and that, in the end, everything its threads allocated was freed.
 *
 * In the child, the buffers other threads held at the fork are nobody's:
 * an allocator that handed one of them out again would be handing out a
 * buffer some thread of the parent's image thinks it owns, which is
 * exactly what the objects' state words catch (a constructor sets "free",
 * an allocation swaps in "live"); segments of the vmem arena are claimed
 * in an owner map for the same reason.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kmem/kmem.h>

#include "check.h"
#include "kmem_objects.h"

/*
 * fork() holds every cache's and arena's locks at once (kmem_fork.c), more
 * than ThreadSanitizer's deadlock detector can track (64): it would stop
 * the test with an internal CHECK.  Races are still detected; lock order
 * is checked by the library's own lock-order assertions (KMEM_ASSERTS).
 */
const char *__tsan_default_options(void);
const char *
__tsan_default_options(void)
{
	return ("detect_deadlocks=0");
}

/* ---- the caches ---- */

static ocache_t caches[] = {
	{ .name = "fork_small_c", .size = 32, .ctor = true },
	{ .name = "fork_mid", .size = 300 },
	{ .name = "fork_big_c", .size = 6000, .ctor = true,
	    .private_arena = true },
	{ .name = "fork_nomag_c", .size = 128, .ctor = true,
	    .cflags = KMC_NOMAGAZINE },
	{ .name = "fork_notouch_c", .size = 64, .ctor = true,
	    .cflags = KMC_NOTOUCH },
	{ .name = "fork_debug_c", .size = 40, .ctor = true,
	    .cflags = KMF_REDZONE },
	{ .name = "fork_a4096", .size = 100, .align = 4096 },
};
#define NCACHES (sizeof (caches) / sizeof (caches[0]))

/* A stamp at both ends of a buffer (the whole of a small one). */
static void
stamp_write(unsigned char *p, size_t size, uint64_t stamp)
{
	for (size_t i = 0; i < 8 && i < size; i++) {
		p[i] = (unsigned char)(stamp >> (8 * i));
		if (size >= 16)
			p[size - 1 - i] = (unsigned char)(stamp >> (8 * i));
	}
}

static void
stamp_check(const unsigned char *p, size_t size, uint64_t stamp)
{
	for (size_t i = 0; i < 8 && i < size; i++) {
		CHECK(p[i] == (unsigned char)(stamp >> (8 * i)));
		if (size >= 16)
			CHECK(p[size - 1 - i] ==
			    (unsigned char)(stamp >> (8 * i)));
	}
}

static void *
o_alloc(ocache_t *oc, uint64_t stamp)
{
	unsigned char *p = kmem_cache_alloc(oc->cp, KM_SLEEP);
	CHECK(p != NULL);
	CHECK_EQ((uintptr_t)p % (oc->align != 0 ? oc->align : 8), 0);
	if (oc->ctor) {
		ohead_t *h = (ohead_t *)p;
		uint64_t expected = FREE_MARK;
		if (!atomic_compare_exchange_strong(&h->state, &expected,
		    LIVE_MARK | (stamp & 0xffffffff))) {
			fprintf(stderr, "%s: object %p handed out in state "
			    "%#jx\n", oc->name, (void *)p, (uintmax_t)expected);
			CHECK(!"an allocated object is free and constructed");
		}
		CHECK_EQ(h->magic, oc->magic);
		stamp_write(p + sizeof (ohead_t), oc->size - sizeof (ohead_t),
		    stamp);
	} else {
		stamp_write(p, oc->size, stamp);
	}
	return (p);
}

static void
o_free(ocache_t *oc, void *buf, uint64_t stamp)
{
	unsigned char *p = buf;
	if (oc->ctor) {
		ohead_t *h = buf;
		CHECK_EQ(atomic_load(&h->state),
		    LIVE_MARK | (stamp & 0xffffffff));
		stamp_check(p + sizeof (ohead_t), oc->size - sizeof (ohead_t),
		    stamp);
		atomic_store(&h->state, FREE_MARK);
	} else {
		stamp_check(p, oc->size, stamp);
	}
	kmem_cache_free(oc->cp, buf);
}

/* ---- a vmem arena with quantum caches, over made-up addresses ---- */

#define QC_BASE         ((uintptr_t)0x40000000)
#define QC_QUANTUM      64
#define QC_QUANTA       (1u << 16)
#define QC_MAX          (8 * QC_QUANTUM)

static vmem_t *qc;
static _Atomic unsigned char qc_owner[QC_QUANTA];

static bool
qc_claim(uintptr_t addr, size_t size, unsigned char me)
{
	CHECK(addr >= QC_BASE && addr % QC_QUANTUM == 0);
	uintptr_t first = (addr - QC_BASE) / QC_QUANTUM;
	uintptr_t end = (addr - QC_BASE + size + QC_QUANTUM - 1) / QC_QUANTUM;
	CHECK(end <= QC_QUANTA);
	for (uintptr_t q = first; q < end; q++) {
		unsigned char expected = 0;
		if (!atomic_compare_exchange_strong(&qc_owner[q], &expected,
		    me)) {
			fprintf(stderr, "vmem segment [%#jx, +%zu) handed out "
			    "while owner %u holds quantum %ju\n",
			    (uintmax_t)addr, size, expected, (uintmax_t)q);
			return (false);
		}
	}
	return (true);
}

static void
qc_unclaim(uintptr_t addr, size_t size, unsigned char me)
{
	uintptr_t first = (addr - QC_BASE) / QC_QUANTUM;
	uintptr_t end = (addr - QC_BASE + size + QC_QUANTUM - 1) / QC_QUANTUM;
	for (uintptr_t q = first; q < end; q++) {
		unsigned char expected = me;
		CHECK(atomic_compare_exchange_strong(&qc_owner[q], &expected,
		    0));
	}
}

/* ---- what the parent's threads do ---- */

enum kind { K_CACHE, K_KMEM, K_VMEM };

typedef struct item {
	enum kind kind;
	unsigned which;
	void *p;
	size_t size;
	uint64_t stamp;
} item_t;

static void
item_alloc(item_t *it, uint64_t *rng, unsigned char owner)
{
	uint64_t x = check_random(rng);
	it->stamp = ((uint64_t)owner << 32) | (uint32_t)x;
	switch (x % 10) {
	default:
		it->kind = K_CACHE;
		it->which = (unsigned)(x / 16 % NCACHES);
		it->p = o_alloc(&caches[it->which], it->stamp);
		atomic_fetch_add(&caches[it->which].allocs, 1);
		break;
	case 6: case 7: case 8: {
		it->kind = K_KMEM;
		it->size = x / 16 % 8 == 0 ? 1 + x / 128 % 30000 :
		    1 + x / 128 % 1024;
		unsigned char *p = kmem_alloc(it->size, KM_SLEEP);
		CHECK(p != NULL);
		stamp_write(p, it->size, it->stamp);
		it->p = p;
		break;
	}
	case 9:
		it->kind = K_VMEM;
		it->size = 1 + x / 16 % (2 * QC_MAX);
		it->p = vmem_alloc(qc, it->size, VM_SLEEP);
		CHECK(it->p != NULL);
		CHECK(qc_claim((uintptr_t)it->p, it->size, owner));
		break;
	}
}

static void
item_free(item_t *it)
{
	switch (it->kind) {
	case K_CACHE:
		o_free(&caches[it->which], it->p, it->stamp);
		break;
	case K_KMEM:
		stamp_check(it->p, it->size, it->stamp);
		kmem_free(it->p, it->size);
		break;
	case K_VMEM:
		qc_unclaim((uintptr_t)it->p, it->size,
		    (unsigned char)(it->stamp >> 32));
		vmem_free(qc, it->p, it->size);
		break;
	}
	it->p = NULL;
}

#define HELD 32

static atomic_bool workers_stop;
static atomic_ulong worker_ops;

static void *
worker(void *arg)
{
	unsigned char me = (unsigned char)(uintptr_t)arg;
	uint64_t rng = 0xf04cull * me;
	item_t held[HELD] = { { 0 } };
	unsigned long ops = 0;
	while (!atomic_load_explicit(&workers_stop, memory_order_relaxed)) {
		item_t *h = &held[check_random(&rng) % HELD];
		if (h->p != NULL)
			item_free(h);
		else
			item_alloc(h, &rng, me);
		ops++;
		if (ops % 64 == 0)
			atomic_fetch_add(&worker_ops, 64);
	}
	for (int i = 0; i < HELD; i++)
		if (held[i].p != NULL)
			item_free(&held[i]);
	return (NULL);
}

/* ---- what a child does ---- */

#define CHILD_N         600

static bool
overlap(const void *p, size_t psize, const void *q, size_t qsize)
{
	return ((uintptr_t)p < (uintptr_t)q + qsize &&
	    (uintptr_t)q < (uintptr_t)p + psize);
}

/* Allocate n from oc, all distinct and untouched by anyone, then free. */
static void
child_use_cache(ocache_t *oc, unsigned n)
{
	static void *b[CHILD_N];
	uint64_t stamp = 0xc41dull << 32;
	for (unsigned i = 0; i < n; i++) {
		b[i] = o_alloc(oc, stamp | i);
		if (!oc->ctor) {
			/* No state word: compare with every other one. */
			for (unsigned j = 0; j < i; j++)
				CHECK(!overlap(b[i], oc->size, b[j], oc->size));
		}
	}
	for (unsigned i = 0; i < n; i++)
		o_free(oc, b[i], stamp | i);
	kmem_cache_stats_t st = stats_of(oc->cp);
	CHECK_EQ(st.alloc_fail, 0);
}

static void
child_use_kmem_alloc(void)
{
	static unsigned char *b[200];
	static size_t sz[200];
	uint64_t rng = 0xc41d;
	for (int i = 0; i < 200; i++) {
		sz[i] = 1 + check_random(&rng) % (i % 10 == 0 ? 200000 : 2048);
		b[i] = i % 2 ? kmem_zalloc(sz[i], KM_SLEEP) :
		    kmem_alloc(sz[i], KM_SLEEP);
		CHECK(b[i] != NULL);
		if (i % 2)
			CHECK(b[i][0] == 0 && b[i][sz[i] - 1] == 0);
		for (int j = 0; j < i; j++)
			CHECK(!overlap(b[i], sz[i], b[j], sz[j]));
		memset(b[i], i, sz[i]);
	}
	for (int i = 0; i < 200; i++) {
		CHECK(b[i][0] == (unsigned char)i &&
		    b[i][sz[i] - 1] == (unsigned char)i);
		kmem_free(b[i], sz[i]);
	}
}

static void
child_use_vmem(void)
{
	static void *b[300];
	static size_t sz[300];
	for (int i = 0; i < 300; i++) {
		sz[i] = 1 + (size_t)(i * 37) % (2 * QC_MAX);
		b[i] = vmem_alloc(qc, sz[i], VM_SLEEP);
		CHECK(b[i] != NULL);
		CHECK(qc_claim((uintptr_t)b[i], sz[i], 255));
	}
	for (int i = 0; i < 300; i++) {
		qc_unclaim((uintptr_t)b[i], sz[i], 255);
		vmem_free(qc, b[i], sz[i]);
	}
}

static void
table_sink(void *arg, const char *line)
{
	(void) line;
	++*(unsigned *)arg;
}

/*
 * Everything a child does.  quiet: nothing else ran at the fork, so every
 * count balances and a reap gets every buffer back.
 */
static void
child_main(bool quiet)
{
	for (size_t i = 0; i < NCACHES; i++) {
		unsigned n = caches[i].size > 1000 ? CHILD_N / 4 : CHILD_N;
		child_use_cache(&caches[i], n);
		child_use_cache(&caches[i], n);
	}
	child_use_kmem_alloc();
	child_use_vmem();

	/* A cache of the child's own. */
	static ocache_t mine = { .name = "fork_child_own", .size = 72,
	    .ctor = true };
	ocache_create(&mine);
	child_use_cache(&mine, CHILD_N);
	kmem_cache_destroy(mine.cp);
	CHECK_EQ(atomic_load(&mine.constructed), atomic_load(&mine.destructed));

	/* The maintenance entry points, which take every kind of lock. */
	for (size_t i = 0; i < NCACHES; i++)
		kmem_cache_reap_now(caches[i].cp);
	kmem_reap();
	kmem_update_now();
	unsigned lines = 0;
	kmem_table(table_sink, &lines);
	CHECK(lines > NCACHES);
	vmem_stats_t vs;
	CHECK_EQ(vmem_stats(qc, &vs), 0);

	for (size_t i = 0; i < NCACHES; i++) {
		ocache_t *oc = &caches[i];
		kmem_cache_stats_t st = stats_of(oc->cp);
		CHECK_EQ(atomic_load(&oc->bad), 0);
		if (!quiet)
			continue;
		CHECK_EQ(st.alloc, st.free);
		CHECK_EQ(st.buf_total, 0);
		CHECK_EQ(atomic_load(&oc->constructed),
		    atomic_load(&oc->destructed));
		if (oc->arena != NULL)
			CHECK_EQ(vmem_size(oc->arena, VMEM_ALLOC), 0);
	}
	if (quiet) {
		for (size_t q = 0; q < QC_QUANTA; q++)
			CHECK_EQ(atomic_load(&qc_owner[q]), 0);
	}
	check_no_reports();
}

/* Fork; the child runs child_main and exits; the parent checks it. */
static void
fork_and_check(bool quiet)
{
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		child_main(quiet);
		fflush(NULL);
		_exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "child: status %#x\n", status);
		CHECK(!"the child's allocator works");
	}
}

/* The parent's own use between forks. */
static void
parent_use(void)
{
	for (size_t i = 0; i < NCACHES; i++) {
		void *b[20];
		for (int k = 0; k < 20; k++)
			b[k] = o_alloc(&caches[i], 0x9a4e47ull << 32 | (unsigned)k);
		for (int k = 0; k < 20; k++)
			o_free(&caches[i], b[k], 0x9a4e47ull << 32 | (unsigned)k);
		atomic_fetch_add(&caches[i].allocs, 20);
	}
	void *p = kmem_alloc(333, KM_SLEEP);
	kmem_free(p, 333);
}

static void
world_create(void)
{
	for (size_t i = 0; i < NCACHES; i++)
		ocache_create(&caches[i]);
	qc = vmem_create("fork_qc", (void *)QC_BASE,
	    (size_t)QC_QUANTA * QC_QUANTUM, QC_QUANTUM, NULL, NULL, NULL,
	    QC_MAX, VM_SLEEP);
	CHECK(qc != NULL);
}

/* Everything the parent's threads allocated was freed, and comes back. */
static void
world_check_and_destroy(void)
{
	for (size_t i = 0; i < NCACHES; i++) {
		ocache_t *oc = &caches[i];
		kmem_cache_stats_t st = stats_of(oc->cp);
		CHECK_EQ(st.alloc, atomic_load(&oc->allocs));
		CHECK_EQ(st.alloc, st.free);
		kmem_cache_reap_now(oc->cp);
		st = stats_of(oc->cp);
		CHECK_EQ(st.buf_total, 0);
		CHECK_EQ(atomic_load(&oc->constructed),
		    atomic_load(&oc->destructed));
		CHECK_EQ(atomic_load(&oc->bad), 0);
		kmem_cache_destroy(oc->cp);
		if (oc->arena != NULL) {
			CHECK_EQ(vmem_size(oc->arena, VMEM_ALLOC), 0);
			vmem_destroy(oc->arena);
		}
	}
	for (size_t q = 0; q < QC_QUANTA; q++)
		CHECK_EQ(atomic_load(&qc_owner[q]), 0);
	vmem_destroy(qc);
	check_no_reports();
}

static void
test_fork_while_threads_allocate(void)
{
	enum { FORKS = 24 };
	unsigned n = cpus() + 2;
	if (n > 16)
		n = 16;
	pthread_t t[16];
	atomic_store(&workers_stop, false);
	for (uintptr_t i = 0; i < n; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)(i + 1)),
		    0);
	for (int f = 0; f < FORKS; f++) {
		/* Let the workers get going between forks. */
		unsigned long ops = atomic_load(&worker_ops);
		while (atomic_load(&worker_ops) < ops + 256)
			sched_yield();
		fork_and_check(false);
		parent_use();
	}
	atomic_store(&workers_stop, true);
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	check_no_reports();
}

static void
test_fork_alone(void)
{
	/* The workers are gone; their magazines went back at exit. */
	fork_and_check(true);
	parent_use();
	fork_and_check(true);
}

static void
child_with_update_thread(void)
{
	/* The update thread does not exist here: stopping must not wait. */
	CHECK_EQ(kmem_update_thread(0), 0);
	kmem_update_now();
	child_main(false);
}

static void
test_fork_with_update_thread(void)
{
	kmem_update_interval_set(1000 * 1000);
	CHECK_EQ(kmem_update_thread(1), 0);
	parent_use();
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		child_with_update_thread();
		fflush(NULL);
		_exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	parent_use();
	CHECK_EQ(kmem_update_thread(0), 0);
	kmem_update_interval_set(3600ull * 1000 * 1000 * 1000);
}

int
main(void)
{
	kmem_report_handler_set(any_thread_report_handler, NULL, NULL);
	kmem_update_interval_set(3600ull * 1000 * 1000 * 1000);
	world_create();
	test_fork_while_threads_allocate();
	test_fork_alone();
	test_fork_with_update_thread();
	world_check_and_destroy();
	printf("kmem_fork_test: all passed\n");
	return (0);
}
