/*
 * A program for the recorder's tests (trace_test.sh), run with
 * libkmem_malloc.so preloaded and KMEM_OPTIONS=trace=...: it knows what it
 * allocated, so the test can hold the trace, its replay and libkmem's
 * statistics against it.  No stdio (its buffers would be allocations the
 * program did not count): results go out with write(2).
 *
 *   basic     every function the recorder tells apart -- malloc, calloc,
 *             realloc (NULL, growing, moving, in place, to 0), memalign,
 *             posix_memalign, aligned_alloc, valloc, pvalloc, large
 *             blocks, one failed allocation -- on one thread; prints
 *             "peak B inplace K": the live bytes it asked for at their
 *             highest (a realloc that moves counting old and new at
 *             once, as the laboratory's replay allocates before it
 *             frees; one in place the new size only), and how many
 *             reallocs stayed in place
 *   threads   four threads allocating and freeing, each its own sizes
 *             (1000 + thread), one freeing what another allocated
 *   fork      the parent allocates 55555 bytes, the child 77777
 *   forever   allocate and free until killed
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t live, peak;

static void
grew(size_t n)
{
	live += n;
	if (live > peak)
		peak = live;
}

static void
say(const char *fmt, unsigned long a, unsigned long b)
{
	char line[128];
	int n = snprintf(line, sizeof (line), fmt, a, b);
	if (n > 0)
		(void) !write(STDOUT_FILENO, line, (size_t)n);
}

static void
fail(const char *what)
{
	(void) !write(STDERR_FILENO, "trace_program: ", 15);
	(void) !write(STDERR_FILENO, what, strlen(what));
	(void) !write(STDERR_FILENO, " failed\n", 8);
	exit(1);
}

#define NBUF 4000

static int
basic(void)
{
	static void *p[NBUF];
	static size_t sz[NBUF];
	unsigned long inplace = 0;
	uint64_t x = 88172645463325252ull;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < NBUF; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t n = 1 + x % (i % 50 == 0 ? 300000 : 2000);
			switch (i % 5) {
			case 0:
				p[i] = malloc(n);
				break;
			case 1:
				p[i] = calloc(n, 1);
				break;
			case 2:
				p[i] = memalign(64, n);
				break;
			case 3:
				if (posix_memalign(&p[i], 128, n) != 0)
					p[i] = NULL;
				break;
			default:
				p[i] = realloc(NULL, n);
				break;
			}
			if (p[i] == NULL)
				fail("an allocation");
			memset(p[i], 1, n);
			sz[i] = n;
			grew(n);
		}
		/* Reallocs: grow (moves), shrink a little (in place), shrink
		 * a lot (moves). */
		for (int i = 0; i < NBUF; i += 3) {
			size_t n = i % 2 ? sz[i] * 3 : sz[i] - sz[i] / 4;
			if (n == 0)
				n = 1;
			void *q = realloc(p[i], n);
			if (q == NULL)
				fail("realloc");
			if (q == p[i]) {
				/* Replayed as the free, then the allocation. */
				inplace++;
				live -= sz[i];
				grew(n);
			} else {
				grew(n);
				live -= sz[i];
			}
			p[i] = q;
			sz[i] = n;
		}
		for (int i = 0; i < NBUF; i += 2) {
			free(p[i]);
			live -= sz[i];
			p[i] = NULL;
		}
		for (int i = 1; i < NBUF; i += 2) {
			if (i % 7 == 0) {
				if (realloc(p[i], 0) != NULL)
					fail("realloc to 0");
			} else {
				free(p[i]);
			}
			live -= sz[i];
			p[i] = NULL;
		}
	}
	void *a = aligned_alloc(4096, 8192), *v = valloc(100);
	void *pv = pvalloc(5000);
	if (a == NULL || v == NULL || pv == NULL)
		fail("aligned_alloc, valloc or pvalloc");
	grew(8192 + 100 + 5000);
	free(a);
	free(v);
	free(pv);
	live -= 8192 + 100 + 5000;
	/* A failure is recorded as one, and replayed as nothing. */
	volatile size_t huge = SIZE_MAX / 2 + 1;   /* not a constant to gcc */
	if (malloc(huge) != NULL)
		fail("the huge malloc");
	say("peak %lu inplace %lu\n", (unsigned long)peak, inplace);
	return (0);
}

static void *
thread_main(void *arg)
{
	uintptr_t t = (uintptr_t)arg;
	void **mine = malloc(1000 * sizeof (void *));
	if (mine == NULL)
		return (NULL);
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 1000; i++)
			mine[i] = malloc(1000 + t);
		for (int i = 0; i < 1000; i++)
			free(mine[i]);
	}
	free(mine);
	return (malloc(1000 + t));     /* freed by main */
}

static int
threads(void)
{
	pthread_t tid[4];
	for (uintptr_t t = 0; t < 4; t++)
		if (pthread_create(&tid[t], NULL, thread_main, (void *)t) != 0)
			fail("pthread_create");
	for (int t = 0; t < 4; t++) {
		void *r;
		pthread_join(tid[t], &r);
		free(r);
	}
	return (0);
}

static int
forked(void)
{
	void *mine = malloc(55555);
	pid_t pid = fork();
	if (pid < 0)
		fail("fork");
	if (pid == 0) {
		void *c = malloc(77777);
		free(c);
		free(mine);
		exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	free(mine);
	return (WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1);
}

static __attribute__((noreturn)) void
forever(void)
{
	for (unsigned long i = 0;; i++) {
		void *q = malloc(16 + i % 1000);
		free(q);
	}
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "basic") == 0)
		return (basic());
	if (argc == 2 && strcmp(argv[1], "threads") == 0)
		return (threads());
	if (argc == 2 && strcmp(argv[1], "fork") == 0)
		return (forked());
	if (argc == 2 && strcmp(argv[1], "forever") == 0)
		forever();
	(void) !write(STDERR_FILENO, "usage: trace_program basic|threads|fork|"
	    "forever\n", 46);
	return (2);
}
