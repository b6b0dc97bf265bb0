/*
 * Running out of memory in several threads at once, under the preloaded
 * library (what glibc's malloc/tst-malloc-thread-fail checks of glibc's):
 * with the address space limited (RLIMIT_AS), four threads each allocate
 * with one function until it fails, then free everything.  For every
 * allocation function, in a child process of its own:
 *
 * - a failure is NULL (posix_memalign: ENOMEM) with errno ENOMEM, never a
 *   crash, a wait or an abort;
 * - realloc grows a 16-byte buffer, as glibc's test does: what it returns
 *   starts with the small buffer's bytes, and when it fails the small
 *   buffer is still there as it was, and is freed;
 * - every buffer handed out is aligned as the function promises, calloc's
 *   are zero, and no two overlap (each has its owner's tag in its first
 *   256 and last 64 bytes, checked before it is freed);
 * - after everything is freed, the same allocations succeed again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define THREADS         4
#define LIMIT           (160ul << 20)
#define ALIGN           128

enum fn { F_MALLOC, F_CALLOC, F_REALLOC, F_MEMALIGN, F_POSIX_MEMALIGN,
	F_ALIGNED_ALLOC, F_VALLOC, F_PVALLOC, F_COUNT };
static const char *const fn_names[F_COUNT] = { "malloc", "calloc",
	"realloc", "memalign", "posix_memalign", "aligned_alloc", "valloc",
	"pvalloc" };

static enum fn fn;
static size_t size;
static pthread_barrier_t start;

typedef struct node {
	struct node *next;
	size_t size;
	unsigned char tag;
} node_t;

/* realloc() of a 16-byte buffer to n bytes; failing, it keeps the buffer. */
static void *
grow(size_t n)
{
	unsigned char *small = realloc(NULL, 16);
	if (small == NULL)
		return (NULL);
	memset(small, 0x3c, 16);
	unsigned char *p = realloc(small, n);
	int error = errno;
	unsigned char *kept = p != NULL ? p : small;
	for (int i = 0; i < 16; i++)
		CHECK_EQ(kept[i], 0x3c);
	if (p == NULL)
		free(small);
	errno = error;
	return (p);
}

/* One allocation of size bytes with fn; NULL only with errno ENOMEM. */
static void *
allocate(size_t n)
{
	void *p = NULL;
	errno = 0;
	switch (fn) {
	case F_MALLOC: p = malloc(n); break;
	case F_CALLOC: p = calloc(1, n); break;
	case F_REALLOC: p = grow(n); break;
	case F_MEMALIGN: p = memalign(ALIGN, n); break;
	case F_POSIX_MEMALIGN: {
		int error = posix_memalign(&p, ALIGN, n);
		CHECK(error == 0 || error == ENOMEM);
		if (error != 0)
			p = NULL;
		break;
	}
	case F_ALIGNED_ALLOC: p = aligned_alloc(ALIGN, n); break;
	case F_VALLOC: p = valloc(n); break;
	case F_PVALLOC: p = pvalloc(n); break;
	case F_COUNT: break;
	}
	if (p == NULL) {
		CHECK_EQ(errno, ENOMEM);
		return (NULL);
	}
	size_t align = fn == F_VALLOC || fn == F_PVALLOC ?
	    (size_t)getpagesize() : fn >= F_MEMALIGN ? ALIGN : 16;
	CHECK_EQ((uintptr_t)p % align, 0);
	if (fn == F_CALLOC)
		for (size_t i = 0; i < n; i++)
			CHECK_EQ(((unsigned char *)p)[i], 0);
	return (p);
}

/* Allocate until the first failure; how many. */
static size_t
allocate_until_failure(unsigned char tag)
{
	node_t *head = NULL;
	size_t count = 0;
	for (;;) {
		node_t *e = allocate(size);
		if (e == NULL)
			break;
		memset(e, tag, size < 256 ? size : 256);
		if (size > 256)
			memset((char *)e + size - 64, tag, 64);
		e->next = head;
		e->size = size;
		e->tag = tag;
		head = e;
		count++;
	}
	while (head != NULL) {
		node_t *next = head->next;
		unsigned char *bytes = (unsigned char *)head;
		for (size_t i = sizeof (node_t); i < head->size && i < 256; i++)
			CHECK_EQ(bytes[i], tag);
		for (size_t i = head->size - 64; head->size > 256 &&
		    i < head->size; i++)
			CHECK_EQ(bytes[i], tag);
		free(head);
		head = next;
	}
	return (count);
}

static void *
thread_main(void *arg)
{
	int error = pthread_barrier_wait(&start);
	CHECK(error == 0 || error == PTHREAD_BARRIER_SERIAL_THREAD);
	/* A thread the others outran may find the memory gone at once. */
	return ((void *)(uintptr_t)allocate_until_failure(
	    (unsigned char)(uintptr_t)arg));
}

/* In a child: THREADS threads run out of memory together, twice. */
static void
run_out(void)
{
	struct rlimit limit = { LIMIT, LIMIT };
	CHECK(setrlimit(RLIMIT_AS, &limit) == 0);
	for (int round = 0; round < 2; round++) {
		pthread_t threads[THREADS];
		CHECK(pthread_barrier_init(&start, NULL, THREADS) == 0);
		for (uintptr_t i = 0; i < THREADS; i++)
			CHECK(pthread_create(&threads[i], NULL, thread_main,
			    (void *)(i + 1)) == 0);
		size_t allocated = 0;
		for (int i = 0; i < THREADS; i++) {
			void *count;
			CHECK(pthread_join(threads[i], &count) == 0);
			allocated += (uintptr_t)count;
		}
		CHECK(allocated > 0);
		CHECK(pthread_barrier_destroy(&start) == 0);
	}
	void *p = allocate(size);      /* everything went back */
	CHECK(p != NULL);
	free(p);
	_exit(0);
}

int
main(void)
{
	static const size_t sizes[] = { 48, 1000, 20000, 300000 };
	for (fn = 0; fn < F_COUNT; fn++) {
		for (size_t s = 0; s < sizeof (sizes) / sizeof (sizes[0]); s++) {
			size = sizes[s];
			fflush(NULL);
			pid_t pid = fork();
			CHECK(pid >= 0);
			if (pid == 0)
				run_out();
			int status;
			CHECK(waitpid(pid, &status, 0) == pid);
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				fprintf(stderr, "%s of %zu bytes: status 0x%x\n",
				    fn_names[fn], size, status);
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		}
	}
	printf("malloc_fail_test: ok\n");
	return (0);
}
