/*
 * The leak detector under LD_PRELOAD=libkmem_malloc.so, in a program that
 * is not linked with libkmem and finds kmem_findleaks() with dlsym(): the
 * C library's own allocations (stdio buffers, thread bookkeeping) are all
 * reachable from its data, so only the program's dropped buffers are
 * reported -- five malloc(40)s, in the 48-byte class, and a large one --
 * while a buffer kept in a global is not.
 *
 * Run again with UMEM_DEBUG=default (leak_preload_debug_test), where every
 * buffer has its allocation stack: the threads made and joined before the
 * scan leave their stacks in the C library's cache, and with them the TLS
 * vectors the dynamic loader allocated, pointed at only from those
 * stacks' thread descriptors.  They are not the program's leaks and must
 * not be reported as such (kmem_leaks.c: the loader's buffers are
 * reachable).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void *volatile kept;

static void *
thread_main(void *arg)
{
	(void) arg;
	free(malloc(77));
	return (NULL);
}

__attribute__((noinline)) static void
leak_some(void)
{
	for (int i = 0; i < 5; i++) {
		char *p = malloc(40);
		CHECK(p != NULL);
		__asm__ volatile("" : : "r"(p) : "memory");     /* keep it */
	}
	char *big = malloc(1 << 20);
	CHECK(big != NULL);
	__asm__ volatile("" : : "r"(big) : "memory");
}

__attribute__((noinline)) static void
clobber_stack(void)
{
	char junk[64 * 1024];
	memset(junk, 0, sizeof (junk));
	__asm__ volatile("" : : "r"(junk) : "memory");
}

int
main(void)
{
	size_t (*findleaks)(int) =
	    (size_t (*)(int))dlsym(RTLD_DEFAULT, "kmem_findleaks");
	CHECK(findleaks != NULL);
	kept = malloc(1000);
	printf("kept %p\n", kept);
	fflush(stdout);
	for (int i = 0; i < 4; i++) {
		pthread_t thread;
		CHECK(pthread_create(&thread, NULL, thread_main, NULL) == 0);
		CHECK(pthread_join(thread, NULL) == 0);
	}

	leak_some();
	clobber_stack();
	FILE *report = tmpfile();
	CHECK(report != NULL);
	CHECK_EQ(findleaks(fileno(report)), 6);
	char text[4096];
	rewind(report);
	size_t len = fread(text, 1, sizeof (text) - 1, report);
	text[len] = '\0';
	fclose(report);
	fputs(text, stdout);
	/* A debug cache knows the size each malloc() asked for. */
	CHECK(strstr(text, getenv("UMEM_DEBUG") != NULL ?
	    "libkmem: leak: 5 buffers, 200 bytes, cache kmem_alloc_48, size 40" :
	    "libkmem: leak: 5 buffers, 240 bytes, cache kmem_alloc_48, size 48")
	    != NULL);
	CHECK(strstr(text, "libkmem: leak: 1 buffer, 1048576 bytes, cache "
	    "kmem_oversize, size 1048576") != NULL);
	free(kept);
	return (0);
}
