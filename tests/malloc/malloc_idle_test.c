/*
 * An ordinary program under libkmem_malloc.so (CTest sets LD_PRELOAD and
 * KMEM_OPTIONS=reap_interval=100ms), checking that idle memory goes back
 * without being asked: threads allocate, free and exit, the main thread
 * then calls no malloc at all, and what kmem's caches hold must drop to
 * what is in use.  The library's update thread that does it must block
 * signals, survive fork() in a loop (each child that lives and allocates
 * gets its own), and never keep the process alive when main calls
 * pthread_exit().
 *
 * With "off" as its argument (and reap_thread=0 in KMEM_OPTIONS) it checks
 * instead that there is no such thread.
 *
 * The caches are read through kmem's own vmem_size(), looked up with
 * dlsym(): it allocates nothing, so the waiting thread takes no slow path
 * that could run the lazy update in the thread's stead.  Waits are for a
 * state, with a generous bound, never for a time.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kmem/vmem.h>  /* VMEM_ALLOC; the functions come from dlsym() */

#include "check.h"      /* the header only: this program has no libkmem */

#define WAIT_BOUND_MS   60000   /* for states that come within a second */
#define IDLE_MAX        (4u << 20)      /* held once idle, beyond the start */

static size_t (*kmem_vmem_size)(vmem_t *, int);
static vmem_t *(*kmem_default_arena_fn)(void);

static void
find_kmem(void)
{
	kmem_vmem_size = (size_t (*)(vmem_t *, int))dlsym(RTLD_DEFAULT,
	    "vmem_size");
	kmem_default_arena_fn = (vmem_t *(*)(void))dlsym(RTLD_DEFAULT,
	    "kmem_default_arena");
	CHECK(kmem_vmem_size != NULL && kmem_default_arena_fn != NULL);
}

/* The memory kmem's caches hold in slabs: kmem_default's allocated bytes. */
static size_t
caches_bytes(void)
{
	return (kmem_vmem_size(kmem_default_arena_fn(), VMEM_ALLOC));
}

static void
nap(void)
{
	struct timespec t = { 0, 10 * 1000 * 1000 };
	nanosleep(&t, NULL);
}

/* The process's threads, counted in /proc/self/task (no malloc: getdents). */
static int
thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	CHECK(d != NULL);
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL; )
		n += e->d_name[0] != '.';
	closedir(d);
	return (n);
}

/* The id of the thread named kmem_update, or 0. */
static long
update_thread_id(void)
{
	DIR *d = opendir("/proc/self/task");
	CHECK(d != NULL);
	long found = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL && found == 0; ) {
		if (e->d_name[0] == '.')
			continue;
		char path[300], comm[32] = "";
		snprintf(path, sizeof (path), "/proc/self/task/%s/comm",
		    e->d_name);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(comm, sizeof (comm), f) != NULL &&
		    strcmp(comm, "kmem_update\n") == 0)
			found = atol(e->d_name);
		fclose(f);
	}
	closedir(d);
	return (found);
}

/* ---- threads that allocate, free and exit; then the caches drain ---- */

enum { WAVES = 8, WAVE = 4, OBJECTS = 6000 };

static void *
worker(void *arg)
{
	size_t seed = (size_t)(uintptr_t)arg;
	void **objs = malloc(OBJECTS * sizeof (void *));
	CHECK(objs != NULL);
	for (size_t i = 0; i < OBJECTS; i++) {
		size_t size = 16 + (i * 7919 + seed * 104729) % (i % 10 == 0 ?
		    16384 : 400);
		objs[i] = malloc(size);
		CHECK(objs[i] != NULL);
		memset(objs[i], (int)i, size);
	}
	for (size_t i = 0; i < OBJECTS; i++)
		free(objs[(i * 7) % OBJECTS]);  /* 7 is prime to OBJECTS */
	free(objs);
	return (NULL);
}

static void
run_waves(void)
{
	for (int w = 0; w < WAVES; w++) {
		pthread_t tids[WAVE];
		for (int i = 0; i < WAVE; i++)
			CHECK(pthread_create(&tids[i], NULL, worker,
			    (void *)(uintptr_t)(w * WAVE + i + 1)) == 0);
		for (int i = 0; i < WAVE; i++)
			CHECK(pthread_join(tids[i], NULL) == 0);
	}
}

static void
test_idle_return(void)
{
	size_t before = caches_bytes();
	run_waves();
	size_t after = caches_bytes();
	/* The threads' freed buffers are in the depots and slabs now. */
	CHECK(after > before + (4u << 20));
	CHECK(update_thread_id() != 0);
	/*
	 * Nothing here allocates: only the update thread can give it back,
	 * a working set per pass.  It settles at about 0.5 MiB (slabs with a
	 * buffer still in use, and the quantum-cache slabs of kmem_default
	 * that those slabs pin), against the 25 to 30 MiB the threads left;
	 * the wait ends below IDLE_MAX, so the passes still draining and a
	 * loaded machine have room.
	 */
	size_t now = after;
	for (int ms = 0; ms < WAIT_BOUND_MS && now > before + IDLE_MAX;
	    ms += 10) {
		nap();
		now = caches_bytes();
	}
	printf("caches: %zu KiB before the threads, %zu KiB after, "
	    "%zu KiB idle\n", before >> 10, after >> 10, now >> 10);
	if (now > before + IDLE_MAX) {          /* what holds it, by cache */
		fflush(stdout);
		void (*print)(int) = (void (*)(int))dlsym(RTLD_DEFAULT,
		    "kmem_stats_print");
		if (print != NULL)
			print(STDERR_FILENO);
	}
	CHECK(now <= before + IDLE_MAX);
}

/* Signals are the program's: the update thread blocks them all. */
static void
test_signals_blocked(void)
{
	long tid = update_thread_id();
	CHECK(tid != 0);
	char path[64], line[128];
	snprintf(path, sizeof (path), "/proc/self/task/%ld/status", tid);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	unsigned long long blocked = 0;
	while (fgets(line, sizeof (line), f) != NULL)
		if (sscanf(line, "SigBlk: %llx", &blocked) == 1)
			break;
	fclose(f);
	int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGCHLD, SIGALRM };
	for (size_t i = 0; i < sizeof (sigs) / sizeof (sigs[0]); i++)
		CHECK(blocked & (1ull << (sigs[i] - 1)));
}

/* ---- fork in a loop with the update thread running ---- */

/* Work that takes the slow paths (magazines to and from the depot), where
 * the update is paced, as any program that builds up and frees data does. */
static void
child_work(void)
{
	enum { HELD = 4000 };
	static char *held[HELD];
	for (int i = 0; i < HELD; i++) {
		held[i] = malloc(16 + (size_t)(i * 37) % 600);
		CHECK(held[i] != NULL);
		held[i][0] = (char)i;
	}
	for (int i = 0; i < HELD; i++)
		free(held[i]);
}

static void *
child_worker(void *arg)
{
	(void) arg;
	child_work();
	return (NULL);
}

/* In a child: a thread works and exits, so the child gets its own. */
static int
child_waits_for_its_thread(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, child_worker, NULL) != 0 ||
	    pthread_join(t, NULL) != 0)
		return (4);
	for (int ms = 0; ms < WAIT_BOUND_MS; ms += 10) {
		if (update_thread_id() != 0)
			return (thread_count() == 2 ? 0 : 3);
		nap();
	}
	return (2);
}

static void
test_fork_loop(void)
{
	for (int i = 0; i < 100; i++) {
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			/* The parent's thread did not come along (checked
			 * before anything here could start the child's). */
			if (thread_count() != 1)
				_exit(1);
			child_work();
			_exit(i % 10 == 0 ? child_waits_for_its_thread() : 0);
		}
		int status;
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFEXITED(status));
		CHECK_EQ(WEXITSTATUS(status), 0);
	}
	CHECK(update_thread_id() != 0);
}

/* ---- main's pthread_exit(): the process ends with its last thread ---- */

static void *
late_worker(void *arg)
{
	(void) arg;
	struct timespec t = { 0, 200 * 1000 * 1000 };
	nanosleep(&t, NULL);    /* outlive main; the end comes regardless */
	child_work();
	return (NULL);
}

static void
test_pthread_exit(void)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		run_waves();            /* the child starts its own thread */
		for (int ms = 0; ms < WAIT_BOUND_MS && update_thread_id() == 0;
		    ms += 10) {
			child_work();
			nap();
		}
		if (update_thread_id() == 0)
			_exit(2);
		pthread_t tid;
		CHECK(pthread_create(&tid, NULL, late_worker, NULL) == 0);
		pthread_exit(NULL);
	}
	int status = 0;
	pid_t got = 0;
	for (int ms = 0; ms < WAIT_BOUND_MS && got == 0; ms += 10) {
		got = waitpid(pid, &status, WNOHANG);
		if (got == 0)
			nap();
	}
	if (got == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	CHECK(got == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
}

/* ---- reap_thread=0 ---- */

static void
test_off(void)
{
	run_waves();
	/* Long enough for several intervals of 100 ms while allocating: the
	 * automatic start would have come. */
	for (int i = 0; i < 50; i++) {
		child_work();
		nap();
	}
	CHECK_EQ(thread_count(), 1);
	CHECK(update_thread_id() == 0);
}

/*
 * ---- threads joined while the update thread may start ----
 *
 * pthread_join() frees the joined thread's TLS holding glibc's list of
 * stacks, which pthread_create() takes too: a start of the update thread
 * from inside that free() waited for itself (glibc's
 * tst-malloc-thread-exit).  In a fresh child, outer threads create and
 * join inner ones, from the process's start (argument "join": the start
 * comes with the first slow path that sees a second thread); a hang ends
 * it by alarm().
 */
#define INNER   4

/*
 * Half allocate before the barrier and free after it, half the reverse;
 * every allocation must succeed.  (The pointer is volatile, or a compiler
 * may drop a malloc() whose buffer is only freed.)
 */
static void *
inner_thread(void *arg)
{
	pthread_barrier_t *barrier = arg;
	void *volatile p = malloc(32);
	CHECK(p != NULL);
	int error = pthread_barrier_wait(barrier);
	CHECK(error == 0 || error == PTHREAD_BARRIER_SERIAL_THREAD);
	free(p);
	p = malloc(32);
	CHECK(p != NULL);
	free(p);
	return (NULL);
}

static void *
outer_thread(void *arg)
{
	(void) arg;
	for (int round = 0; round < 300; round++) {
		pthread_barrier_t barrier;
		pthread_t inner[INNER];
		CHECK(pthread_barrier_init(&barrier, NULL, INNER + 1) == 0);
		for (int i = 0; i < INNER; i++)
			CHECK(pthread_create(&inner[i], NULL, inner_thread,
			    &barrier) == 0);
		int error = pthread_barrier_wait(&barrier);
		CHECK(error == 0 || error == PTHREAD_BARRIER_SERIAL_THREAD);
		for (int i = 0; i < INNER; i++)
			CHECK(pthread_join(inner[i], NULL) == 0);
		CHECK(pthread_barrier_destroy(&barrier) == 0);
	}
	return (NULL);
}

static void
test_join_loop(void)
{
	alarm(WAIT_BOUND_MS / 1000);
	pthread_t outer[2];
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&outer[i], NULL, outer_thread, NULL) == 0);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_join(outer[i], NULL) == 0);
	alarm(0);
}

int
main(int argc, char **argv)
{
	find_kmem();
	if (argc > 1 && strcmp(argv[1], "off") == 0) {
		test_off();
		printf("malloc_idle_test off: ok\n");
		return (0);
	}
	if (argc > 1 && strcmp(argv[1], "join") == 0) {
		test_join_loop();
		printf("malloc_idle_test join: ok\n");
		return (0);
	}
	test_idle_return();
	test_signals_blocked();
	test_fork_loop();
	test_pthread_exit();
	printf("malloc_idle_test: ok\n");
	return (0);
}
