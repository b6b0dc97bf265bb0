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
 *   that exits at once;
 * - fork while another thread is inside a lock of each rank of
 *   src/base/lock_order.h, each layer's entered through its own API: the
 *   thread stops just before it releases the lock (the test's link wraps
 *   the kmem_mutex calls: tests/kmem/CMakeLists.txt) until the fork's prepare
 *   asks for that lock; a fork that never asks -- a layer whose fork
 *   handlers are missing -- fails, and its child, which would wait for the
 *   lock when it uses the layer, is stopped by alarm().
 *
 * A hang is the failure, so every fork is waited for with a bound
 * (WAIT_BOUND_S, far beyond what any of them needs) and a child still
 * running then is killed and the test fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kmem/classic.h>
#include <kmem/debug.h>
#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/mtype.h>
#include <kmem/pool.h>
#include <kmem/stats.h>
#include <kmem/umem.h>
#include <kmem/vmem.h>

#include "check.h"
#include "base/lock_order.h"
#include "base/poison.h"     /* KMEM_ASAN */
#include "platform/platform.h"  /* kmem_mutex_t, for the wrappers */

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

/* ---- fork while another thread holds a lock of each rank ---- */

/*
 * The holder thread, about to release the first lock of hold_rank it
 * takes while it holds no other, stops there holding it (HELD) until the
 * forking thread's prepare asks for that very lock (ASKED: the holder lets
 * go and the fork takes it) or the fork has returned without asking
 * (FORKED: the bug).  Only a lock held alone: the fork would ask for a
 * lower one first, and wait for the holder.  The forking thread taking it
 * the ordinary way (kmem's unlocked prepare, which may make the thread's
 * cache) lets the holder go on too (LET_GO), and the fork's prepare must
 * still ask for it; any other thread waits.
 */
enum { HOLD_ARMED, HOLD_HELD, HOLD_LET_GO, HOLD_ASKED, HOLD_FORKED };
static _Atomic int hold_state;
static _Atomic bool holder_done;
static unsigned hold_rank;
static kmem_mutex_t *_Atomic hold_lock;
static __thread bool hold_thread;
static __thread bool fork_thread;
static __thread unsigned hold_depth;    /* kmem_mutex_t locks held */

void __real_kmem_mutex_enter(kmem_mutex_t *mp);
bool __real_kmem_mutex_tryenter(kmem_mutex_t *mp);
void __real_kmem_mutex_exit(kmem_mutex_t *mp);
void __real_kmem_mutex_enter_for_fork(kmem_mutex_t *mp);
void __wrap_kmem_mutex_enter(kmem_mutex_t *mp);
bool __wrap_kmem_mutex_tryenter(kmem_mutex_t *mp);
void __wrap_kmem_mutex_exit(kmem_mutex_t *mp);
void __wrap_kmem_mutex_enter_for_fork(kmem_mutex_t *mp);

void
__wrap_kmem_mutex_enter(kmem_mutex_t *mp)
{
	int held = HOLD_HELD;
	if (fork_thread && mp == atomic_load(&hold_lock))
		atomic_compare_exchange_strong(&hold_state, &held, HOLD_LET_GO);
	__real_kmem_mutex_enter(mp);
	hold_depth++;
}

bool
__wrap_kmem_mutex_tryenter(kmem_mutex_t *mp)
{
	bool got = __real_kmem_mutex_tryenter(mp);
	hold_depth += got;
	return (got);
}

void
__wrap_kmem_mutex_exit(kmem_mutex_t *mp)
{
	hold_depth--;
	struct timespec tick = { 0, 100 * 1000 };
	bool stopped = false;
	if (hold_thread && hold_depth == 0 && mp->rank == hold_rank &&
	    atomic_load(&hold_state) == HOLD_ARMED) {
		atomic_store(&hold_lock, mp);
		atomic_store(&hold_state, HOLD_HELD);
		while (atomic_load(&hold_state) == HOLD_HELD)
			nanosleep(&tick, NULL);
		stopped = true;
	}
	__real_kmem_mutex_exit(mp);
	/* Let go: wait out the copy here, holding nothing, rather than be
	 * inside the C library's or a sanitizer's locks at the moment. */
	while (stopped && atomic_load(&hold_state) != HOLD_FORKED)
		nanosleep(&tick, NULL);
}

void
__wrap_kmem_mutex_enter_for_fork(kmem_mutex_t *mp)
{
	if (mp == atomic_load(&hold_lock)) {
		int held = HOLD_HELD, let_go = HOLD_LET_GO;
		if (!atomic_compare_exchange_strong(&hold_state, &held,
		    HOLD_ASKED))
			atomic_compare_exchange_strong(&hold_state, &let_go,
			    HOLD_ASKED);
	}
	__real_kmem_mutex_enter_for_fork(mp);
}

/* Everything use_every_layer() does, and every other lock's layer. */
static bool
use_every_lock(void)
{
	bool ok = use_every_layer();
	struct pool pp;
	pool_init(&pp, 40, 0, 0, 0, "held", NULL, 0);
	pool_put(&pp, pool_get(&pp, PR_WAITOK));
	pool_destroy(&pp);
	mtype_free(mtype_malloc(100, M_TEMP, M_WAITOK), M_TEMP);
	struct map *map = rmallocmap(16);
	ok = ok && map != NULL;
	if (map != NULL) {
		rmfree(map, 100, 1);
		unsigned long a = rmalloc(map, 10);
		ok = ok && a != 0;
		rmfree(map, 10, a);
		rmfreemap(map);
	}
	ok = ok && kmem_debug_verify() == 0;
	kmem_update_now();
	ok = ok && kmem_update_thread(0) == 0;
	ok = ok && kmem_stats_publish(0) == 0;
	kmem_reap();
	return (ok);
}

static void
enter_update(void)
{
	kmem_update_thread(1);
	kmem_update_thread(0);
}

static void
enter_kmem(void)
{
	kmem_free(kmem_alloc(40, KM_SLEEP), 40);
}

static void
enter_verify(void)
{
	(void) kmem_debug_verify();
}

/* Caches, their thread slots, depots, slabs and pages. */
static void
enter_caches(void)
{
	static void *b[2000];
	kmem_cache_t *cp = kmem_cache_create("held", 200, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 2000; i++)
			b[i] = kmem_cache_alloc(cp, KM_SLEEP);
		for (int i = 0; i < 2000; i++)
			kmem_cache_free(cp, b[i]);
		kmem_cache_reap_now(cp);
	}
	kmem_cache_destroy(cp);
}

/* The span is added once the arena is listed, where fork() finds it. */
static void
enter_vmem(void)
{
	vmem_t *vmp = vmem_create("held", NULL, 0, 16, NULL, NULL, NULL, 0,
	    VM_SLEEP);
	vmem_add(vmp, (void *)0x10000, 1 << 20, VM_SLEEP);
	vmem_free(vmp, vmem_alloc(vmp, 4096, VM_SLEEP), 4096);
	vmem_destroy(vmp);
}

static void
enter_rmap(void)
{
	struct map *map = rmallocmap(16);
	rmfree(map, 100, 1);
	rmfree(map, 10, rmalloc(map, 10));
	rmfreemap(map);
}

static void
enter_pool(void)
{
	struct pool pp;
	pool_init(&pp, 40, 0, 0, 0, "held", NULL, 0);
	pool_put(&pp, pool_get(&pp, PR_WAITOK));
	pool_destroy(&pp);
}

static void
enter_mtype(void)
{
	mtype_free(mtype_malloc(100, M_TEMP, M_WAITOK), M_TEMP);
}

static void
enter_firewall(void)
{
	kmem_free(kmem_alloc(8192, KM_SLEEP), 8192);
}

static void
enter_publish(void)
{
	kmem_stats_publish(1);
	kmem_stats_publish(0);
}

typedef struct hold_trial {
	const char *what;
	unsigned rank;
	void (*enter)(void);    /* its first call into libkmem */
	const char *debug;      /* KMEM_DEBUG and KMEM_LOGGING, or NULL */
	const char *logging;
} hold_trial_t;

static void *
holder_main(void *arg)
{
	hold_thread = true;
	((const hold_trial_t *)arg)->enter();
	atomic_store(&holder_done, true);
	return (NULL);
}

/*
 * In a fresh process: the holder stops inside the lock; fork; the child
 * uses every layer, within CHILD_ALARM_S.  0 if the fork asked for the
 * lock and the child went on.
 */
#define CHILD_ALARM_S   20

static int
hold_trial(const hold_trial_t *trial)
{
	if (trial->debug != NULL) {
		setenv("KMEM_DEBUG", trial->debug, 1);
		setenv("KMEM_LOGGING", trial->logging, 1);
	}
	hold_rank = trial->rank;
	fork_thread = true;
	atomic_store(&hold_state, HOLD_ARMED);
	pthread_t t;
	if (pthread_create(&t, NULL, holder_main, (void *)trial) != 0)
		return (3);
	struct timespec tick = { 0, 1000 * 1000 };
	while (atomic_load(&hold_state) == HOLD_ARMED &&
	    !atomic_load(&holder_done))
		nanosleep(&tick, NULL);
	if (atomic_load(&hold_state) != HOLD_HELD) {
		fprintf(stderr, "%s: no lock of rank %u was taken\n",
		    trial->what, trial->rank);
		return (4);
	}
	pid_t pid = fork();
	if (pid == 0) {
		alarm(CHILD_ALARM_S);
		_exit(use_every_lock() ? 0 : 5);
	}
	bool asked = atomic_exchange(&hold_state, HOLD_FORKED) == HOLD_ASKED;
	int status = pid < 0 ? -2 : wait_bounded(pid);
	pthread_join(t, NULL);
	if (!asked)
		fprintf(stderr, "%s: the fork did not take the lock of rank "
		    "%u another thread held\n", trial->what, trial->rank);
	if (!exited_zero(status))
		fprintf(stderr, "%s: the child, forked while another thread "
		    "held a lock of rank %u: status %#x%s\n", trial->what,
		    trial->rank, (unsigned)status, status >= 0 &&
		    WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ?
		    " (it hung)" : "");
	return (asked && exited_zero(status) ? 0 : 6);
}

/*
 * Not under AddressSanitizer, for the reason test_fork_during_setup gives:
 * the holder goes on while the fork copies the process, and may then hold
 * the lock of ASan's allocator (the debug layer's stacks, thread creation
 * allocate there), which the child would wait for.
 */
static void
test_fork_while_a_lock_is_held(void)
{
#ifdef KMEM_ASAN
	fprintf(stderr, "skipped under AddressSanitizer\n");
	return;
#endif
	static const hold_trial_t trials[] = {
		{ "kmem_update_thread", KMEM_RANK_UPDATE, enter_update,
		    NULL, NULL },
		{ "kmem_init", KMEM_RANK_INIT, enter_kmem, NULL, NULL },
		{ "a class's first use", KMEM_RANK_CLASSES, enter_kmem, NULL,
		    NULL },
		{ "kmem_debug_verify", KMEM_RANK_VERIFY, enter_verify,
		    NULL, NULL },
		{ "kmem_cache_create", KMEM_RANK_CACHE_LIST, enter_caches,
		    NULL, NULL },
		{ "vmem_create", KMEM_RANK_VMEM_LIST, enter_vmem, NULL, NULL },
		{ "vmem_alloc", KMEM_RANK_VMEM_ARENA, enter_vmem, NULL, NULL },
		{ "vmem_add", KMEM_RANK_VMEM_SEGPOOL, enter_vmem, NULL, NULL },
		{ "rmallocmap", KMEM_RANK_CLASSIC_LIST, enter_rmap,
		    NULL, NULL },
		{ "rmalloc", KMEM_RANK_CLASSIC, enter_rmap, NULL, NULL },
		{ "pool_init", KMEM_RANK_NETBSD, enter_pool, NULL, NULL },
		{ "mtype_malloc", KMEM_RANK_NETBSD, enter_mtype, NULL, NULL },
		{ "a thread's first allocation", KMEM_RANK_THREADS,
		    enter_kmem, NULL, NULL },
		{ "kmem_cache_alloc: slots", KMEM_RANK_THREAD_CACHE,
		    enter_caches, NULL, NULL },
		{ "kmem_cache_alloc: depot", KMEM_RANK_DEPOT, enter_caches,
		    NULL, NULL },
		{ "kmem_cache_alloc: slab", KMEM_RANK_SLAB, enter_caches,
		    NULL, NULL },
		{ "kmem_cache_alloc: page map", KMEM_RANK_PAGEMAP,
		    enter_caches, NULL, NULL },
		{ "firewalled kmem_alloc", KMEM_RANK_FIREWALL, enter_firewall,
		    "firewall=4k", "" },
		{ "audited kmem_alloc", KMEM_RANK_DEBUG_LOG, enter_kmem,
		    "audit", "transaction" },
		{ "kmem_stats_publish", KMEM_RANK_PUBLISH, enter_publish,
		    NULL, NULL },
	};

	for (size_t i = 0; i < sizeof (trials) / sizeof (trials[0]); i++) {
		fflush(NULL);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			setpgid(0, 0);  /* so that a hang is killed whole */
			_exit(hold_trial(&trials[i]));
		}
		int status = wait_bounded(pid);
		if (!exited_zero(status))
			fprintf(stderr, "fork while %s held a lock of rank %u: "
			    "status %#x\n", trials[i].what, trials[i].rank,
			    (unsigned)status);
		CHECK(exited_zero(status));
	}
}

int
main(int argc, char **argv)
{
	static const check_test_t tests[] = {
		CHECK_TEST(test_fork_during_setup),
		CHECK_TEST(test_fork_in_handler_holding_lock),
		CHECK_TEST(test_fork_in_handler_at_random),
		CHECK_TEST(test_fork_while_a_lock_is_held),
	};
	return (check_run_tests(tests, sizeof (tests) / sizeof (tests[0]),
	    argc, argv));
}
