/*
 * An ordinary program, run with libkmem_malloc.so preloaded (CTest sets
 * LD_PRELOAD), checking that the preloaded malloc holds up where a malloc
 * replacement usually breaks: it must really be the malloc in use, threads
 * must be able to free each other's buffers and to allocate and free from
 * their TLS destructors as they exit, fork() in a threaded program must
 * leave a child whose malloc works, a fork() from a signal handler must
 * leave a child that can exit() (running the atexit handlers, which
 * allocate), a dlopen()ed library's allocations and frees must mix with
 * the program's, and atexit handlers may still allocate.  glibc's
 * __libc_malloc names must be ours too, glibc's obstacks must grow and
 * shrink on our malloc, and malloc must never move the program break,
 * nor need it (glibc's tst-malloc-random, tst-obstack and
 * tst-malloc-alternate-path).  It knows nothing of libkmem except the
 * name of the library.
 *
 * Last, child processes free a pointer malloc never returned, free a
 * buffer twice with another free between, and realloc() a freed buffer:
 * each report must name the pointer and abort the child.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <obstack.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"       /* the header only: this program has no libkmem */

static void
check_is_kmem(void *fn)
{
	Dl_info info;
	CHECK(fn != NULL);
	CHECK(dladdr(fn, &info) != 0);
	CHECK(strstr(info.dli_fname, "libkmem_malloc.so") != NULL);
}

static void
check_malloc_is_kmem(void)
{
	void *(*volatile fn)(size_t) = malloc;
	check_is_kmem((void *)fn);
}

/*
 * glibc's __libc_malloc family, which a few programs call by name (glibc's
 * tst-malloc-random preloads a malloc() that calls __libc_malloc and
 * __libc_calloc): ours, so what they return mixes with free() and
 * realloc(), and what malloc() returns with __libc_free().
 */
static void
test_libc_names(void)
{
	void *(*libc_malloc)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT,
	    "__libc_malloc");
	void (*libc_free)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT,
	    "__libc_free");
	void *(*libc_calloc)(size_t, size_t) = (void *(*)(size_t, size_t))
	    dlsym(RTLD_DEFAULT, "__libc_calloc");
	void *(*libc_realloc)(void *, size_t) = (void *(*)(void *, size_t))
	    dlsym(RTLD_DEFAULT, "__libc_realloc");
	void *(*libc_memalign)(size_t, size_t) = (void *(*)(size_t, size_t))
	    dlsym(RTLD_DEFAULT, "__libc_memalign");
	check_is_kmem((void *)libc_malloc);
	check_is_kmem((void *)libc_free);
	check_is_kmem((void *)libc_calloc);
	check_is_kmem((void *)libc_realloc);
	check_is_kmem((void *)libc_memalign);

	free(libc_malloc(100));
	libc_free(malloc(100));
	unsigned char *p = libc_calloc(100, 3);
	CHECK(p != NULL && p[0] == 0 && p[299] == 0);
	p = realloc(p, 5000);
	CHECK(p != NULL && p[299] == 0);
	p = libc_realloc(p, 100000);
	CHECK(p != NULL && p[299] == 0);
	free(p);
	p = libc_memalign(256, 10);
	CHECK(p != NULL && (uintptr_t)p % 256 == 0);
	free(p);
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

/*
 * fork() from a signal handler, and a child that leaves by exit(): the
 * atexit handlers run in it, and at_exit_allocates() allocates (glibc's
 * tst-mallocfork, whose child calls exit() from the handler).  The signal
 * comes from another process while this one waits for it, as glibc's
 * comes while its test waits for the sender: it is blocked until then,
 * so it interrupts no fork() and no malloc().  A child still running
 * after 10 s is killed, and the test fails.
 */
static volatile sig_atomic_t handler_child_status = -1;

static void
fork_and_exit_handler(int sig)
{
	(void) sig;
	int saved = errno;
	pid_t pid = fork();
	if (pid == 0)
		exit(0);
	int status = -2;
	for (int ms = 0; pid > 0 && ms < 10000; ms++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		status = -3;
		usleep(1000);
	}
	if (status == -3) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	handler_child_status = status;
	errno = saved;
}

static void
test_fork_in_handler(void)
{
	void *volatile keep = malloc(sizeof (int));
	struct sigaction sa = { .sa_handler = fork_and_exit_handler }, old;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, &old) == 0);
	sigset_t usr1, mask, waiting;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	CHECK(sigprocmask(SIG_BLOCK, &usr1, &mask) == 0);
	waiting = mask;
	sigdelset(&waiting, SIGUSR1);
	fflush(NULL);   /* or the child's exit() writes what is buffered */

	pid_t parent = getpid();
	pid_t sender = fork();
	CHECK(sender >= 0);
	if (sender == 0)
		_exit(kill(parent, SIGUSR1) == 0 ? 0 : 1);
	while (handler_child_status == -1)
		sigsuspend(&waiting);
	CHECK(sigprocmask(SIG_SETMASK, &mask, NULL) == 0);
	CHECK(sigaction(SIGUSR1, &old, NULL) == 0);
	int status;
	CHECK(waitpid(sender, &status, 0) == sender);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(WIFEXITED(handler_child_status) &&
	    WEXITSTATUS(handler_child_status) == 0);
	free(keep);
}

/* ---- glibc's obstacks, and the program break ---- */

#define obstack_chunk_alloc malloc
#define obstack_chunk_free free

/*
 * Objects of 1000 bytes, four to a chunk, at every alignment up to 64:
 * aligned, and each keeps what was written until the obstack is freed
 * (a chunk shorter than obstack asked would let the next one overwrite
 * it).  Then obstack_free() gives every chunk back to our free().
 */
static void
test_obstack(void)
{
	enum { OBJECTS = 40, SIZE = 1000 };
	for (size_t align = 1; align <= 64; align *= 2) {
		struct obstack obs;
		CHECK(obstack_init(&obs));
		obstack_alignment_mask(&obs) = (int)(align - 1);
		(void) obstack_finish(&obs);    /* so alignment applies */
		unsigned char *objects[OBJECTS];
		for (int i = 0; i < OBJECTS; i++) {
			objects[i] = obstack_alloc(&obs, SIZE);
			CHECK(objects[i] != NULL);
			CHECK_EQ((uintptr_t)objects[i] % align, 0);
			memset(objects[i], i, SIZE);
		}
		for (int i = 0; i < OBJECTS; i++)
			for (int j = 0; j < SIZE; j++)
				CHECK_EQ(objects[i][j], i);
		obstack_free(&obs, NULL);
	}
}

/*
 * malloc never takes memory from the program break, and so works when the
 * break cannot grow (glibc's tst-malloc-alternate-path): small buffers and
 * a large one leave the break where it was; then, with a page mapped just
 * above the break to block it, they are allocated and written all the
 * same, and the break has still not moved.
 */
static void
allocate_beside_break(char *brk_start)
{
	enum { SMALL = 256 };
	char *volatile small[SMALL];    /* or a compiler may drop them */
	for (int i = 0; i < SMALL; i++) {
		small[i] = malloc(16);
		CHECK(small[i] != NULL);
		memset(small[i], i, 16);
	}
	char *volatile large = malloc(10 << 20);
	CHECK(large != NULL);
	memset(large, 1, 10 << 20);
	CHECK(sbrk(0) == brk_start);
	free(large);
	for (int i = 0; i < SMALL; i++)
		free(small[i]);
	CHECK(sbrk(0) == brk_start);
}

static void
test_break_blocked(void)
{
	char *brk_start = sbrk(0);
	allocate_beside_break(brk_start);

	size_t page = (size_t)getpagesize();
	char *above = (char *)(((uintptr_t)brk_start + page - 1) &
	    ~(uintptr_t)(page - 1));
	void *block = mmap(above, page, PROT_NONE, MAP_PRIVATE |
	    MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(block == above);
	CHECK(sbrk((intptr_t)page) == (void *)-1);
	allocate_beside_break(brk_start);
	CHECK(munmap(block, page) == 0);
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
	/* a whole page, as glibc's tst-pvalloc-fortify writes past 5 bytes */
	p = pvalloc(5);
	CHECK(p != NULL && (uintptr_t)p % 4096 == 0);
	CHECK(malloc_usable_size(p) >= (size_t)getpagesize());
	memset(p, 1, (size_t)getpagesize());
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

/* Volatile, or a compiler may drop a strdup() whose copy is only freed. */
static void
at_exit_allocates(void)
{
	char *volatile s = strdup("still here at exit");
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
	test_libc_names();
	test_obstack();
	test_break_blocked();
	test_threads();
	test_fork();
	test_fork_in_handler();
	test_dlopen(argv[1]);
	test_bad_free();
	printf("malloc_preload_test: ok\n");
	return (0);
}
