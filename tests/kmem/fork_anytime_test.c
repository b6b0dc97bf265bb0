/*
 * fork() at any moment: whatever libkmem is doing when a process forks, the
 * child must be able to allocate and the parent must go on.  The bug class
 * is "the child inherits a library lock held by a thread it does not have",
 * and each case below is a way to get there:
 *
 * - fork during libkmem's first-time setup: a fresh process (a child of
 *   this one, which never calls libkmem) starts a thread whose first call
 *   is one of the entry points that set libkmem up -- a cache, an arena
 *   with quantum caches, kmem_alloc, a large kmem_alloc, a pool, umem,
 *   malloc -- and forks while that call runs, after a delay that sweeps
 *   0..63 us; the grandchild allocates from every layer and exits;
 * - fork from a signal handler while the interrupted thread holds a
 *   library lock: a reclaim callback (run under the cache list's lock)
 *   raises a signal whose handler forks; in the child the same thread
 *   returns from the handler, finishes the reap and allocates, so the
 *   library's state must be whole in both processes;
 * - fork from a signal handler at random moments (glibc's
 *   malloc/tst-mallocfork2 checks this of malloc): other processes send
 *   signals while this one, single-threaded, allocates and frees through
 *   every layer and forks now and then itself; the handler forks a child
 *   that exits at once.
 *
 * A hang is the failure, so every fork is waited for with a bound
 * (WAIT_BOUND_S, far beyond what any of them needs) and a child still
 * running then is killed and the test fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/pool.h>
#include <kmem/umem.h>
#include <kmem/vmem.h>

#include "check.h"
#include "base/poison.h"     /* KMEM_ASAN */

#define WAIT_BOUND_S    60

/* A sanitizer's fork is slow: fewer rounds of allocation under signals. */
#if defined(KMEM_ASAN) || defined(__SANITIZE_THREAD__)
#define SIGNALLED_ROUNDS 5000
#else
#define SIGNALLED_ROUNDS 20000
#endif

/*
 * ThreadSanitizer: fork holds more locks at once than its deadlock detector
 * tracks (tests/tsan_options.c), and a child forked while another thread
 * runs would report that thread, which it does not have, as leaked.
 */
const char *__tsan_default_options(void);
const char *
__tsan_default_options(void)
{
	return ("detect_deadlocks=0:report_thread_leaks=0");
}
#define SETUP_TRIALS    32

/*
 * Wait for pid for at most WAIT_BOUND_S seconds; its exit status, or -1
 * (after killing it and its process group) if it was still running.
 */
static int
wait_bounded(pid_t pid)
{
	struct timespec tick = { 0, 1000 * 1000 };
	for (long waited = 0; waited < WAIT_BOUND_S * 1000L; waited++) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return (status);
		if (r < 0 && errno != EINTR)
			return (-2);
		nanosleep(&tick, NULL);
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	(void) waitpid(pid, NULL, 0);
	return (-1);
}

static bool
exited_zero(int status)
{
	return (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* fn in a child of its own process group: did it return within the bound? */
static bool
run_bounded(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);  /* so that a hang is killed whole */
		fn();
		_exit(0);
	}
	return (exited_zero(wait_bounded(pid)));
}

/* Allocate and free through every layer; false if anything failed. */
static bool
use_every_layer(void)
{
	bool ok = true;
	void *small = kmem_alloc(100, KM_SLEEP);
	void *large = kmem_alloc(1 << 20, KM_SLEEP);
	ok = ok && small != NULL && large != NULL;
	kmem_free(small, 100);
	kmem_free(large, 1 << 20);

	kmem_cache_t *cp = kmem_cache_create("anytime", 48, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	ok = ok && cp != NULL;
	if (cp != NULL) {
		void *b = kmem_cache_alloc(cp, KM_SLEEP);
		ok = ok && b != NULL;
		kmem_cache_free(cp, b);
		kmem_cache_destroy(cp);
	}

	vmem_t *vmp = vmem_create("anytime", (void *)0x10000, 1 << 20, 16,
	    NULL, NULL, NULL, 64, VM_SLEEP);
	ok = ok && vmp != NULL;
	if (vmp != NULL) {
		void *a = vmem_alloc(vmp, 32, VM_SLEEP);
		void *b = vmem_alloc(vmp, 4096, VM_SLEEP);
		ok = ok && a != NULL && b != NULL;
		vmem_free(vmp, a, 32);
		vmem_free(vmp, b, 4096);
		vmem_destroy(vmp);
	}

	void *m = kmem_malloc(200);
	void *u = umem_alloc(300, UMEM_DEFAULT);
	ok = ok && m != NULL && u != NULL;
	kmem_malloc_free(m);
	umem_free(u, 300);
	return (ok);
}

/* ---- fork during first-time setup ---- */

static void
first_cache(void)
{
	kmem_cache_t *cp = kmem_cache_create("first", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	kmem_cache_free(cp, kmem_cache_alloc(cp, KM_SLEEP));
}

static void
first_arena(void)
{
	vmem_t *vmp = vmem_create("first", (void *)0x1000, 1 << 16, 8, NULL,
	    NULL, NULL, 64, VM_SLEEP);
	vmem_free(vmp, vmem_alloc(vmp, 24, VM_SLEEP), 24);
}

static void
first_kmem_alloc(void)
{
	kmem_free(kmem_alloc(40, KM_SLEEP), 40);
}

static void
first_large_kmem_alloc(void)
{
	kmem_free(kmem_alloc(300000, KM_SLEEP), 300000);
}

static struct pool first_pool_storage;

static void
first_pool(void)
{
	pool_init(&first_pool_storage, 72, 0, 0, 0, "first", NULL, 0);
	pool_put(&first_pool_storage, pool_get(&first_pool_storage, PR_WAITOK));
}

static void
first_umem(void)
{
	umem_free(umem_alloc(56, UMEM_DEFAULT), 56);
}

static void
first_malloc(void)
{
	kmem_malloc_free(kmem_malloc(88));
}

typedef struct setup_trial {
	void (*first_call)(void);
	unsigned delay_ns;
} setup_trial_t;

static void *
first_call_thread(void *arg)
{
	((setup_trial_t *)arg)->first_call();
	return (NULL);
}

static void
spin_ns(unsigned ns)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((uint64_t)(t.tv_sec - t0.tv_sec) * 1000000000u +
	    (uint64_t)t.tv_nsec - (uint64_t)t0.tv_nsec < ns);
}

/* In a fresh process: fork while another thread makes the first call. */
static int
setup_trial(setup_trial_t *trial)
{
	pthread_t t;
	if (pthread_create(&t, NULL, first_call_thread, trial) != 0)
		return (3);
	spin_ns(trial->delay_ns);
	pid_t pid = fork();
	if (pid == 0)
		_exit(use_every_layer() ? 0 : 4);
	if (pid < 0)
		return (5);
	int status = wait_bounded(pid);
	pthread_join(t, NULL);
	if (status == -1) {
		fprintf(stderr, "the child forked %u ns into the first call "
		    "hung\n", trial->delay_ns);
		return (6);
	}
	return (exited_zero(status) && use_every_layer() ? 0 : 7);
}

static void
fork_during(const char *what, void (*first_call)(void))
{
	for (unsigned i = 0; i < SETUP_TRIALS; i++) {
		setup_trial_t trial = { first_call, (i % 64) * 1000 };
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			setpgid(0, 0);  /* so that a hang is killed whole */
			_exit(setup_trial(&trial));
		}
		int status = wait_bounded(pid);
		if (!exited_zero(status))
			fprintf(stderr, "fork during the first %s: trial %u: "
			    "status %d\n", what, i, status);
		CHECK(exited_zero(status));
	}
}

/*
 * This process must reach none of the entry points before these tests:
 * each trial is a fresh copy of it.
 *
 * Not under AddressSanitizer: its allocator (GCC 12's) keeps a lock another
 * thread held at the copy, and a child's first thread cache asks libc for
 * the thread's stack bounds, which allocates (pthread_getattr_np()), so the
 * child would wait forever for ASan, not for libkmem.
 */
static void
test_fork_during_setup(void)
{
#ifdef KMEM_ASAN
	fprintf(stderr, "skipped under AddressSanitizer\n");
	return;
#endif
	fork_during("kmem_cache_create", first_cache);
	fork_during("vmem_create", first_arena);
	fork_during("kmem_alloc", first_kmem_alloc);
	fork_during("large kmem_alloc", first_large_kmem_alloc);
	fork_during("pool_init", first_pool);
	fork_during("umem_alloc", first_umem);
	fork_during("kmem_malloc", first_malloc);
}

/* ---- fork from a signal handler ---- */

/* Forks the handler made: in shared memory, so the sender can pace itself. */
static volatile sig_atomic_t *handler_forks;
static volatile sig_atomic_t handler_failed;

static void
fork_and_reap_handler(int sig)
{
	(void) sig;
	int saved = errno;
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0) {
		handler_failed = 1;
	} else {
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			continue;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			handler_failed = 1;
		(*handler_forks)++;
	}
	errno = saved;
}

/*
 * The handler forks a child that goes on as the interrupted thread would:
 * it returns from the handler into the library.
 */
static pid_t forked_in_handler = -1;

static void
fork_and_return_handler(int sig)
{
	(void) sig;
	forked_in_handler = fork();
}

static bool raise_once = true;

static void
raise_in_reclaim(void *arg)
{
	(void) arg;
	if (raise_once) {
		raise_once = false;
		raise(SIGUSR1);
	}
}

static void
fork_holding_cache_list_lock(void)
{
	struct sigaction sa = { .sa_handler = fork_and_return_handler };
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	kmem_cache_t *cp = kmem_cache_create("reclaim_raises", 64, 0, NULL,
	    NULL, raise_in_reclaim, NULL, NULL, 0);
	CHECK(cp != NULL);
	kmem_cache_free(cp, kmem_cache_alloc(cp, KM_SLEEP));

	kmem_reap();            /* the callback forks, under the list lock */
	bool child = forked_in_handler == 0;
	CHECK(forked_in_handler >= 0);
	bool ok = use_every_layer();
	kmem_reap();            /* and again, in both processes */
	ok = ok && use_every_layer();
	if (child)
		_exit(ok ? 0 : 1);
	CHECK(ok);
	CHECK(exited_zero(wait_bounded(forked_in_handler)));
	kmem_cache_destroy(cp);
}

static void
test_fork_in_handler_holding_lock(void)
{
	CHECK(run_bounded(fork_holding_cache_list_lock));
}

/*
 * Send SIGUSR1 to the parent at a random moment up to a millisecond after
 * its handler finished with the last one (so the parent, however slow its
 * forks, spends most of its time allocating), until it is gone.
 */
static pid_t
start_sender(unsigned seed)
{
	pid_t pid = fork();
	if (pid != 0)
		return (pid);
	pid_t target = getppid();
	uint64_t rng = seed;
	struct timespec poll = { 0, 50 * 1000 };
	while (getppid() == target) {
		struct timespec pause = { 0,
		    (long)(check_random(&rng) % 1000000) };
		nanosleep(&pause, NULL);
		sig_atomic_t seen = *handler_forks;
		if (kill(target, SIGUSR1) != 0)
			break;
		while (*handler_forks == seen && getppid() == target)
			nanosleep(&poll, NULL);
	}
	_exit(0);
}

#define OBJECTS 509

static void
signals_while_allocating(void)
{
	handler_forks = mmap(NULL, sizeof (*handler_forks),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(handler_forks != MAP_FAILED);
	struct sigaction sa = { .sa_handler = fork_and_reap_handler };
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	kmem_cache_t *cp = kmem_cache_create("signalled", 200, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	vmem_t *vmp = vmem_create("signalled", (void *)0x100000, 1 << 24, 16,
	    NULL, NULL, NULL, 128, VM_SLEEP);
	CHECK(cp != NULL && vmp != NULL);

	pid_t sender = start_sender(1);

	struct { void *p; size_t size; int kind; } obj[OBJECTS] = { 0 };
	uint64_t rng = 42;
	for (unsigned i = 0; i < SIGNALLED_ROUNDS; i++) {
		unsigned slot = (unsigned)(check_random(&rng) % OBJECTS);
		switch (obj[slot].kind) {
		case 1: kmem_free(obj[slot].p, obj[slot].size); break;
		case 2: kmem_cache_free(cp, obj[slot].p); break;
		case 3: vmem_free(vmp, obj[slot].p, obj[slot].size); break;
		case 4: kmem_malloc_free(obj[slot].p); break;
		}
		size_t size = 1 + check_random(&rng) % 70000;
		int kind = 1 + (int)(check_random(&rng) % 4);
		void *p = NULL;
		switch (kind) {
		case 1: p = kmem_alloc(size, KM_SLEEP); break;
		case 2: p = kmem_cache_alloc(cp, KM_SLEEP); break;
		case 3: size = 1 + size % 2000;
			p = vmem_alloc(vmp, size, VM_SLEEP); break;
		case 4: p = kmem_malloc(size); break;
		}
		CHECK(p != NULL);
		obj[slot].p = p;
		obj[slot].size = size;
		obj[slot].kind = kind;
		if (check_random(&rng) % 1024 == 0) {
			pid_t pid = fork();
			if (pid == 0)
				_exit(use_every_layer() ? 0 : 1);
			CHECK(exited_zero(wait_bounded(pid)));
		}
		CHECK(!handler_failed);
	}
	kill(sender, SIGKILL);
	waitpid(sender, NULL, 0);
	fprintf(stderr, "forks from the signal handler: %d\n",
	    (int)*handler_forks);
	CHECK(*handler_forks > 0);
}

static void
test_fork_in_handler_at_random(void)
{
	CHECK(run_bounded(signals_while_allocating));
}

int
main(int argc, char **argv)
{
	static const check_test_t tests[] = {
		CHECK_TEST(test_fork_during_setup),
		CHECK_TEST(test_fork_in_handler_holding_lock),
		CHECK_TEST(test_fork_in_handler_at_random),
	};
	return (check_run_tests(tests, sizeof (tests) / sizeof (tests[0]),
	    argc, argv));
}
