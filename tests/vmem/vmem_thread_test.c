/*
 * vmem under threads (run under ThreadSanitizer in CI):
 * - several threads allocate and free with every policy in a child arena
 *   that imports from a parent, while another thread walks it reentrantly;
 *   a shared owner map proves no two threads ever hold the same range;
 * - threads allocate from an arena's quantum caches and free each other's
 *   ranges, handed over through mailboxes, with the owner map again: each
 *   free is checked against the cache's hash while other threads allocate
 *   and free, and no range is ever handed out twice;
 * - VM_SLEEP waits and wakes: in an arena with no source (woken by a free),
 *   with next fit, and in an arena whose source is exhausted (retrying the
 *   import until the source has room again).
 * No timing decides an outcome: a test that needs a thread to be asleep
 * polls the arena's wait counter until it is.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <kmem/vmem.h>

#include "check.h"

#define A(x) ((void *)(uintptr_t)(x))
#define U(p) ((uintptr_t)(p))

#define QUANTUM         0x100
#define BASE            0x1000000
#define NQUANTA         (1 << 14)
#define NTHREADS        4
#define ROUNDS          20000

static _Atomic unsigned char owner[NQUANTA];
static vmem_t *parent, *child;
static atomic_bool walking_done;

static void
claim(uintptr_t addr, size_t size, unsigned char me)
{
	for (uintptr_t q = (addr - BASE) / QUANTUM;
	    q < (addr - BASE + size) / QUANTUM; q++) {
		unsigned char expected = 0;
		CHECK(atomic_compare_exchange_strong(&owner[q], &expected, me));
	}
}

static void
unclaim(uintptr_t addr, size_t size, unsigned char me)
{
	for (uintptr_t q = (addr - BASE) / QUANTUM;
	    q < (addr - BASE + size) / QUANTUM; q++) {
		unsigned char expected = me;
		CHECK(atomic_compare_exchange_strong(&owner[q], &expected, 0));
	}
}

typedef struct held {
	void *addr;
	size_t size;
	bool constrained;
} held_t;

static void *
worker(void *arg)
{
	unsigned char me = (unsigned char)(uintptr_t)arg;
	uint64_t rng = 0x9E3779B97F4A7C15ull * me;
	static const int policies[] = { 0, VM_BESTFIT, VM_FIRSTFIT, VM_NEXTFIT };
	held_t held[64] = { { 0 } };

	for (int round = 0; round < ROUNDS; round++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		held_t *h = &held[rng % 64];
		if (h->addr != NULL) {
			unclaim(U(h->addr), h->size, me);
			if (h->constrained)
				vmem_xfree(child, h->addr, h->size);
			else
				vmem_free(child, h->addr, h->size);
			h->addr = NULL;
			continue;
		}
		h->size = QUANTUM * (1 + (rng >> 8) % 8);
		h->constrained = (rng >> 16) % 4 == 0;
		int flags = policies[(rng >> 20) % 4] | VM_NOSLEEP;
		if (h->constrained)
			h->addr = vmem_xalloc(child, h->size, QUANTUM * 4,
			    QUANTUM, 0, NULL, NULL, flags);
		else
			h->addr = vmem_alloc(child, h->size, flags);
		if (h->addr != NULL)
			claim(U(h->addr), h->size, me);
	}
	for (int i = 0; i < 64; i++) {
		if (held[i].addr != NULL) {
			unclaim(U(held[i].addr), held[i].size, me);
			vmem_xfree(child, held[i].addr, held[i].size);
		}
	}
	return (NULL);
}

static void
count_segment(void *arg, void *start, size_t size)
{
	(void) start;
	*(size_t *)arg += size;
}

static void *
walker(void *arg)
{
	(void) arg;
	while (!atomic_load(&walking_done)) {
		size_t total = 0;
		vmem_walk(child, VMEM_ALLOC | VMEM_FREE | VMEM_REENTRANT,
		    count_segment, &total);
		CHECK(total <= (size_t)NQUANTA * QUANTUM);
	}
	return (NULL);
}

static void
test_many_threads_one_arena(void)
{
	parent = vmem_create("thr_parent", A(BASE), (size_t)NQUANTA * QUANTUM,
	    QUANTUM, NULL, NULL, NULL, 0, VM_SLEEP);
	child = vmem_create("thr_child", NULL, 0, QUANTUM, vmem_alloc,
	    vmem_free, parent, 0, VM_SLEEP);
	pthread_t threads[NTHREADS], walk;
	CHECK(pthread_create(&walk, NULL, walker, NULL) == 0);
	for (uintptr_t i = 0; i < NTHREADS; i++)
		CHECK(pthread_create(&threads[i], NULL, worker,
		    (void *)(i + 1)) == 0);
	for (int i = 0; i < NTHREADS; i++)
		CHECK(pthread_join(threads[i], NULL) == 0);
	atomic_store(&walking_done, true);
	CHECK(pthread_join(walk, NULL) == 0);

	CHECK_EQ(vmem_verify(child), 0);
	CHECK_EQ(vmem_verify(parent), 0);
	CHECK_EQ(vmem_size(child, VMEM_ALLOC), 0);
	/* Every imported span went back, except one the next-fit rotor may
	 * still sit in; destroying the child returns that one too. */
	vmem_stats_t st;
	vmem_stats(child, &st);
	CHECK(st.import > 0 && st.spans <= 1);
	CHECK_EQ(st.import, st.release + st.spans);
	CHECK_EQ(vmem_size(parent, VMEM_ALLOC), st.mem_total);
	vmem_destroy(child);
	CHECK_EQ(vmem_size(parent, VMEM_ALLOC), 0);
	vmem_destroy(parent);
}

/* ---- VM_SLEEP ---- */

typedef struct sleeper {
	vmem_t *vmp;
	size_t size;
	int vmflag;
	void *result;
} sleeper_t;

static void *
sleep_alloc(void *arg)
{
	sleeper_t *s = arg;
	s->result = vmem_alloc(s->vmp, s->size, s->vmflag);
	return (NULL);
}

/*
 * Start a thread allocating with VM_SLEEP and wait until it sleeps in
 * the arena watched (the one it allocates from, or that one's source).
 */
static pthread_t
start_sleeper(sleeper_t *s, vmem_t *watched)
{
	vmem_stats_t st;
	vmem_stats(watched, &st);
	uint64_t waits = st.wait;
	pthread_t t;
	CHECK(pthread_create(&t, NULL, sleep_alloc, s) == 0);
	do {
		sched_yield();
		vmem_stats(watched, &st);
	} while (st.wait == waits);
	return (t);
}

static void
test_sleep_until_free(int policy)
{
	vmem_t *vmp = vmem_create("sleepy", A(1), 4, 1, NULL, NULL, NULL, 0,
	    VMC_IDENTIFIER);
	void *ids[4];
	for (int i = 0; i < 4; i++)
		ids[i] = vmem_alloc(vmp, 1, policy | VM_SLEEP);
	CHECK(vmem_alloc(vmp, 1, policy | VM_NOSLEEP) == NULL);

	sleeper_t s = { vmp, 1, policy | VM_SLEEP, NULL };
	pthread_t t = start_sleeper(&s, vmp);
	vmem_free(vmp, ids[2], 1);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(s.result == ids[2]);

	for (int i = 0; i < 4; i++)
		vmem_free(vmp, ids[i], 1);
	vmem_destroy(vmp);
}

/* An import function that never waits, whatever the caller's flags. */
static void *
import_nosleep(vmem_t *src, size_t size, int vmflag)
{
	(void) vmflag;
	return (vmem_alloc(src, size, VM_NOSLEEP));
}

/*
 * The source is full.  With an import that sleeps, the request sleeps in
 * the source; with one that fails at once, the arena itself sleeps and
 * retries the import until the source has room again.
 */
static void
test_sleep_until_source_has_room(vmem_alloc_t *import, bool sleeps_in_source)
{
	vmem_t *src = vmem_create("tight_source", A(0x10000), 0x4000, 0x1000,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *vmp = vmem_create("starved", NULL, 0, 0x1000, import,
	    vmem_free, src, 0, VM_SLEEP);
	void *hog = vmem_alloc(src, 0x4000, VM_SLEEP);
	CHECK(vmem_alloc(vmp, 0x1000, VM_NOSLEEP) == NULL);

	sleeper_t s = { vmp, 0x1000, VM_SLEEP, NULL };
	pthread_t t = start_sleeper(&s, sleeps_in_source ? src : vmp);
	vmem_free(src, hog, 0x4000);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(s.result != NULL);
	CHECK(vmem_contains(src, s.result, 0x1000));
	vmem_free(vmp, s.result, 0x1000);
	CHECK_EQ(vmem_size(src, VMEM_ALLOC), 0);
	vmem_destroy(vmp);
	vmem_destroy(src);
}

/*
 * Ranges in transit from one thread to another: the address (a multiple of
 * QUANTUM) plus the size in quanta (1 to 8) in one word; 0 when empty.
 */
#define MAILBOXES       8
static _Atomic uintptr_t mailbox[MAILBOXES];
static vmem_t *qarena;

/* Free a range another thread left in a mailbox, if there is one. */
static void
free_from_mailbox(unsigned i)
{
	uintptr_t letter = atomic_exchange(&mailbox[i], 0);
	if (letter == 0)
		return;
	uintptr_t addr = letter & ~(uintptr_t)(QUANTUM - 1);
	size_t size = (letter & (QUANTUM - 1)) * QUANTUM;
	unclaim(addr, size, 1);
	vmem_free(qarena, A(addr), size);
}

static void *
qcache_worker(void *arg)
{
	uint64_t rng = (uintptr_t)arg;
	held_t held[32] = { { 0 } };
	for (int round = 0; round < ROUNDS; round++) {
		uint64_t r = check_random(&rng);
		held_t *h = &held[r % 32];
		if (h->addr != NULL) {
			unsigned box = (unsigned)(r >> 8) % MAILBOXES;
			if ((r >> 16) % 4 == 0) {
				uintptr_t empty = 0;
				if (atomic_compare_exchange_strong(&mailbox[box],
				    &empty, U(h->addr) | h->size / QUANTUM)) {
					h->addr = NULL;
					continue;
				}
			}
			unclaim(U(h->addr), h->size, 1);
			vmem_free(qarena, h->addr, h->size);
			h->addr = NULL;
			free_from_mailbox(box);
		} else {
			h->size = QUANTUM * (1 + (r >> 24) % 8);
			h->addr = vmem_alloc(qarena, h->size, VM_NOSLEEP);
			CHECK(h->addr != NULL);
			claim(U(h->addr), h->size, 1);
		}
	}
	for (int i = 0; i < 32; i++) {
		if (held[i].addr != NULL) {
			unclaim(U(held[i].addr), held[i].size, 1);
			vmem_free(qarena, held[i].addr, held[i].size);
		}
	}
	return (NULL);
}

static void
test_quantum_caches_shared(void)
{
	qarena = vmem_create("thr_qcache", A(BASE), (size_t)NQUANTA * QUANTUM,
	    QUANTUM, NULL, NULL, NULL, 8 * QUANTUM, VM_SLEEP);
	check_catch_reports();
	pthread_t threads[NTHREADS];
	for (uintptr_t i = 0; i < NTHREADS; i++)
		CHECK(pthread_create(&threads[i], NULL, qcache_worker,
		    (void *)(i + 7)) == 0);
	for (int i = 0; i < NTHREADS; i++)
		CHECK(pthread_join(threads[i], NULL) == 0);
	for (unsigned i = 0; i < MAILBOXES; i++)
		free_from_mailbox(i);
	CHECK_NO_REPORT(CHECK_EQ(vmem_verify(qarena), 0));
	CHECK_NO_REPORT(vmem_destroy(qarena));
	kmem_report_handler_set(NULL, NULL, NULL);
}

int
main(void)
{
	test_many_threads_one_arena();
	test_quantum_caches_shared();
	test_sleep_until_free(0);
	test_sleep_until_free(VM_NEXTFIT);
	test_sleep_until_free(VM_BESTFIT);
	test_sleep_until_source_has_room(vmem_alloc, true);
	test_sleep_until_source_has_room(import_nosleep, false);
	printf("vmem_thread_test: all passed\n");
	return (0);
}
