/*
 * The libumem API from many threads: the nofail callback set by some
 * threads while others fail and retry (every failure runs exactly one
 * callback, whichever was set last), object caches shared by threads, and
 * several threads deciding to exit at once (in a child process: it exits
 * once, with one of their statuses, and does not hang).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kmem/umem.h>

#include "check.h"

#define HUGE_SIZE       (SIZE_MAX / 2)

/* ---- the callback, set while others fail ---- */

enum { SETTERS = 2, FAILERS = 3, ROUNDS = 4000 };

static atomic_ulong calls_a, calls_b, failures;
static atomic_int running_failers;
static __thread unsigned ctor_calls;   /* this thread's constructor calls */

static int
callback_a(void)
{
	atomic_fetch_add(&calls_a, 1);
	return (UMEM_CALLBACK_RETRY);
}

static int
callback_b(void)
{
	atomic_fetch_add(&calls_b, 1);
	return (UMEM_CALLBACK_RETRY);
}

/* Every other construction in a thread fails. */
static int
flaky_construct(void *buf, void *arg, int flags)
{
	CHECK(arg == (void *)&failures);
	CHECK_EQ(flags, UMEM_DEFAULT);
	if (ctor_calls++ % 2 == 0) {
		atomic_fetch_add(&failures, 1);
		return (1);
	}
	memset(buf, 0x77, 32);
	return (0);
}

static void *
setter(void *arg)
{
	bool a_first = (intptr_t)arg % 2 == 0;
	while (atomic_load(&running_failers) > 0) {
		umem_nofail_callback(a_first ? callback_a : callback_b);
		umem_nofail_callback(a_first ? callback_b : callback_a);
	}
	return (NULL);
}

static void *
failer(void *arg)
{
	umem_cache_t *cp = arg;
	for (int i = 0; i < ROUNDS; i++) {
		unsigned char *buf = umem_cache_alloc(cp, UMEM_NOFAIL);
		CHECK(buf != NULL);
		CHECK_EQ(buf[31], 0x77);
		umem_cache_free(cp, buf);
	}
	atomic_fetch_sub(&running_failers, 1);
	return (NULL);
}

static void
test_callback_set_while_failing(void)
{
	/* No magazines: every allocation constructs, so half of them fail. */
	umem_cache_t *cp = umem_cache_create("umem_flaky", 32, 0,
	    flaky_construct, NULL, NULL, &failures, NULL, UMC_NOMAGAZINE);
	CHECK(cp != NULL);
	umem_nofail_callback(callback_a);
	atomic_store(&running_failers, FAILERS);

	pthread_t t[SETTERS + FAILERS];
	for (int i = 0; i < SETTERS; i++)
		CHECK(pthread_create(&t[i], NULL, setter,
		    (void *)(intptr_t)i) == 0);
	for (int i = 0; i < FAILERS; i++)
		CHECK(pthread_create(&t[SETTERS + i], NULL, failer, cp) == 0);
	for (int i = 0; i < SETTERS + FAILERS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);

	CHECK_EQ(atomic_load(&failures), (unsigned long)FAILERS * ROUNDS);
	CHECK_EQ(atomic_load(&calls_a) + atomic_load(&calls_b),
	    atomic_load(&failures));
	umem_nofail_callback(NULL);
	umem_cache_destroy(cp);
}

/* ---- a shared cache of constructed objects ---- */

typedef struct counted {
	pthread_mutex_t lock;
	unsigned refs;
	uint64_t constructed;
} counted_t;

#define CONSTRUCTED     0x6f626a6563747321ull

static atomic_long live_objects;

static int
counted_construct(void *buf, void *arg, int flags)
{
	counted_t *o = buf;
	(void) arg;
	(void) flags;
	CHECK(pthread_mutex_init(&o->lock, NULL) == 0);
	o->refs = 0;
	o->constructed = CONSTRUCTED;
	atomic_fetch_add(&live_objects, 1);
	return (0);
}

static void
counted_destruct(void *buf, void *arg)
{
	counted_t *o = buf;
	(void) arg;
	CHECK_EQ(o->refs, 0);
	CHECK_EQ(o->constructed, CONSTRUCTED);
	CHECK(pthread_mutex_destroy(&o->lock) == 0);
	o->constructed = 0;
	atomic_fetch_sub(&live_objects, 1);
}

static void *
sharer(void *arg)
{
	umem_cache_t *cp = arg;
	enum { HOLD = 64 };
	counted_t *held[HOLD];
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < HOLD; i++) {
			held[i] = umem_cache_alloc(cp, UMEM_NOFAIL);
			CHECK_EQ(held[i]->constructed, CONSTRUCTED);
			CHECK(pthread_mutex_lock(&held[i]->lock) == 0);
			CHECK_EQ(held[i]->refs, 0);
			held[i]->refs++;
			CHECK(pthread_mutex_unlock(&held[i]->lock) == 0);
		}
		for (int i = 0; i < HOLD; i++) {
			held[i]->refs--;
			umem_cache_free(cp, held[i]);
		}
		if (round % 50 == 0)
			umem_reap();
	}
	return (NULL);
}

static void
test_shared_cache(void)
{
	umem_cache_t *cp = umem_cache_create("umem_shared", sizeof (counted_t),
	    0, counted_construct, counted_destruct, NULL, NULL, NULL, 0);
	CHECK(cp != NULL);
	enum { THREADS = 4 };
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, sharer, cp) == 0);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	umem_cache_destroy(cp);
	CHECK_EQ(atomic_load(&live_objects), 0);
}

/* ---- several threads exit at once ---- */

enum { EXITERS = 4 };

static pthread_barrier_t exit_barrier;
static __thread int exit_status;
static int exit_pipe = -1;

static int
exit_with_mine(void)
{
	return (UMEM_CALLBACK_EXIT(exit_status));
}

/*
 * Runs in the one thread that exits.  Were another thread to call exit()
 * meanwhile, it would find no handler left to run and end the process
 * before this one finishes: the parent would see "x" without "y".
 */
static void
at_exit_once(void)
{
	(void) write(exit_pipe, "x", 1);
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	(void) write(exit_pipe, "y", 1);
}

static void *
exiter(void *arg)
{
	exit_status = (int)(intptr_t)arg;
	pthread_barrier_wait(&exit_barrier);
	(void) umem_alloc(HUGE_SIZE, UMEM_NOFAIL);
	_exit(99);      /* umem_alloc(..., UMEM_NOFAIL) does not fail */
}

static void
test_concurrent_exits(void)
{
	int fds[2];
	CHECK(pipe(fds) == 0);
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		exit_pipe = fds[1];
		CHECK(atexit(at_exit_once) == 0);
		umem_nofail_callback(exit_with_mine);
		pthread_barrier_init(&exit_barrier, NULL, EXITERS);
		pthread_t t[EXITERS];
		for (int i = 0; i < EXITERS; i++)
			CHECK(pthread_create(&t[i], NULL, exiter,
			    (void *)(intptr_t)(40 + i)) == 0);
		for (;;)
			pause();
	}
	close(fds[1]);

	/* Wait up to 20 s: an exit that deadlocks fails the test. */
	int status = 0;
	pid_t got = 0;
	for (int i = 0; i < 2000 && got == 0; i++) {
		got = waitpid(pid, &status, WNOHANG);
		if (got == 0)
			usleep(10 * 1000);
	}
	if (got == 0) {
		kill(pid, SIGKILL);
		(void) waitpid(pid, &status, 0);
		CHECK(!"concurrent UMEM_CALLBACK_EXIT()s finish");
	}
	char said[16] = { 0 };
	size_t len = 0;
	ssize_t n;
	while ((n = read(fds[0], said + len, sizeof (said) - 1 - len)) > 0)
		len += (size_t)n;
	close(fds[0]);
	if (strcmp(said, "xy") != 0) {
		fprintf(stderr, "the exit handler said \"%s\"\n", said);
		CHECK(!"one exit, and it ran its handler to the end");
	}
	CHECK(WIFEXITED(status));
	CHECK(WEXITSTATUS(status) >= 40 && WEXITSTATUS(status) < 40 + EXITERS);
}

int
main(void)
{
	test_callback_set_while_failing();
	test_shared_cache();
	test_concurrent_exits();
	printf("umem_thread_test: ok\n");
	return (0);
}
