/*
 * An ordinary program, run with libkmem_malloc.so preloaded (CTest sets
 * LD_PRELOAD), checking that the preloaded malloc holds up where a malloc
 * replacement usually breaks: it must really be the malloc in use, threads
 * must be able to free each other's buffers and to allocate and free from
 * their TLS destructors as they exit, fork() in a threaded program must
 * leave a child whose malloc works, a dlopen()ed library's allocations and
 * frees must mix with the program's, and atexit handlers may still
 * allocate.  It knows nothing of libkmem except the name of the library.
 *
 * Last, child processes free a pointer malloc never returned, free a
 * buffer twice with another free between, and realloc() a freed buffer:
 * each report must name the pointer and abort the child.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"       /* the header only: this program has no libkmem */

static void
check_malloc_is_kmem(void)
{
	Dl_info info;
	void *(*volatile fn)(size_t) = malloc;
	CHECK(dladdr((void *)fn, &info) != 0);
	CHECK(strstr(info.dli_fname, "libkmem_malloc.so") != NULL);
}

/* ---- threads that free each other's buffers, and exit ---- */

enum { THREADS = 4, PER_THREAD = 20000 };
static void *handoff[THREADS][PER_THREAD];
static pthread_key_t exit_key;
static pthread_barrier_t barrier;

static void
exit_destructor(void *value)
{
	free(value);
	/* a destructor may allocate and free after the thread cache left */
	void *again = malloc(100);
	CHECK(again != NULL);
	free(again);
}

static void *
thread_main(void *arg)
{
	uintptr_t me = (uintptr_t)arg;
	for (int i = 0; i < PER_THREAD; i++) {
		handoff[me][i] = malloc(16 + (size_t)(i % 50) * 24);
		CHECK(handoff[me][i] != NULL);
		memset(handoff[me][i], (int)me, 16);
	}
	pthread_barrier_wait(&barrier);
	uintptr_t other = (me + 1) % THREADS;
	for (int i = 0; i < PER_THREAD; i++) {
		CHECK(((unsigned char *)handoff[other][i])[15] == other);
		free(handoff[other][i]);
	}
	CHECK(pthread_setspecific(exit_key, malloc(64)) == 0);
	return (NULL);
}

static void
test_threads(void)
{
	pthread_t tids[THREADS];
	CHECK(pthread_key_create(&exit_key, exit_destructor) == 0);
	CHECK(pthread_barrier_init(&barrier, NULL, THREADS) == 0);
	for (uintptr_t i = 0; i < THREADS; i++)
		CHECK(pthread_create(&tids[i], NULL, thread_main, (void *)i) == 0);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(tids[i], NULL) == 0);
	pthread_barrier_destroy(&barrier);
}

/* ---- fork while other threads allocate ---- */

static volatile int churn_stop;

static void *
churn_main(void *arg)
{
	(void) arg;
	void *keep[64] = { 0 };
	for (unsigned i = 0; !churn_stop; i++) {
		free(keep[i % 64]);
		keep[i % 64] = malloc(8 + i % 3000);
	}
	for (int i = 0; i < 64; i++)
		free(keep[i]);
	return (NULL);
}

static void
test_fork(void)
{
	pthread_t tids[2];
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&tids[i], NULL, churn_main, NULL) == 0);
	for (int round = 0; round < 20; round++) {
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			for (int i = 0; i < 10000; i++)
				free(malloc(8 + (size_t)i % 5000));
			void *big = malloc(1 << 20);
			memset(big, 1, 1 << 20);
			free(big);
			_exit(0);
		}
		int status;
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	churn_stop = 1;
	for (int i = 0; i < 2; i++)
		CHECK(pthread_join(tids[i], NULL) == 0);
}

/* ---- a dlopen()ed library ---- */

static void
test_dlopen(const char *lib)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	CHECK(h != NULL);
	char *(*make)(const char *) = (char *(*)(const char *))dlsym(h,
	    "preload_lib_strdup");
	void (*take)(char *) = (void (*)(char *))dlsym(h, "preload_lib_free");
	CHECK(make != NULL && take != NULL);
	char *s = make("from the library");
	CHECK(strcmp(s, "from the library") == 0);
	free(s);                        /* the library's buffer, our free */
	take(strdup("to the library")); /* our buffer, the library's free */
	CHECK(dlclose(h) == 0);
}

/* ---- the rest of the family, by their C library names ---- */

static void
test_family(void)
{
	void *p = NULL;
	CHECK(posix_memalign(&p, 4096, 100) == 0 && (uintptr_t)p % 4096 == 0);
	free(p);
	p = aligned_alloc(256, 512);
	CHECK(p != NULL && (uintptr_t)p % 256 == 0);
	CHECK(malloc_usable_size(p) >= 512);
	free(p);
	p = memalign(64, 10);
	CHECK(p != NULL && (uintptr_t)p % 64 == 0);
	free(p);
	p = valloc(10);
	CHECK(p != NULL && (uintptr_t)p % 4096 == 0);
	free(p);
	char *s = calloc(1000, 3);
	for (int i = 0; i < 3000; i++)
		CHECK(s[i] == 0);
	s = realloc(s, 100000);
	CHECK(s != NULL && s[2999] == 0);
	s = reallocarray(s, 10, 10);
	CHECK(s != NULL);
	free(s);
	/* strdup, asprintf and getline are the C library's, calling ours */
	char *line = NULL;
	CHECK(asprintf(&line, "%d-%s", 42, "x") == 4);
	free(line);
}

/* ---- a bad free is reported and aborts ---- */

static char never_allocated[64];

static void
free_a_stranger(void)
{
	char *volatile stranger = never_allocated + 16;
	free(stranger);
}

/* Freed twice with a free between, and realloc()ed after its free. */
static void *volatile freed;

static void
free_twice_apart(void)
{
	void *other = malloc(100);
	free(freed);
	free(other);
	free(freed);
}

static void
realloc_freed(void)
{
	free(freed);
	void *volatile moved = realloc(freed, 5000);
	(void) moved;
}

static void
test_bad_free(void)
{
	char expected[128];
	snprintf(expected, sizeof (expected), "free(%p): not a pointer malloc "
	    "returned", (void *)(never_allocated + 16));
	check_child_aborts(free_a_stranger, expected);

	freed = malloc(100);
	snprintf(expected, sizeof (expected), "free(): double free of %p",
	    freed);
	check_child_aborts(free_twice_apart, expected);
	snprintf(expected, sizeof (expected), "realloc(%p): the buffer was "
	    "freed already", freed);
	check_child_aborts(realloc_freed, expected);
	free(freed);
}

static void
at_exit_allocates(void)
{
	char *s = strdup("still here at exit");
	CHECK(s != NULL);
	free(s);
}

int
main(int argc, char **argv)
{
	CHECK(argc == 2);
	check_malloc_is_kmem();
	CHECK(atexit(at_exit_allocates) == 0);
	test_family();
	test_threads();
	test_fork();
	test_dlopen(argv[1]);
	test_bad_free();
	printf("malloc_preload_test: ok\n");
	return (0);
}
