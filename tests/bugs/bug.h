/*
 * What the bug programs share (tests/bugs/, run by run_bug.sh).  Each
 * program commits one class of heap bug, through kmem_alloc()/kmem_free()
 * when its first argument is "kmem" (run with KMEM_DEBUG set) or through
 * malloc()/free() when it is "malloc" (run under kmrun --debug, where the
 * preloaded libkmem_malloc.so serves malloc).  Before the bug it prints
 * "buffer <address>" on standard output, so the driver can check that the
 * report names that buffer.  The buggy function is never inlined, and the
 * programs are linked with -rdynamic, so the report's stacks name it.
 */
#ifndef BUG_H
#define BUG_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem.h>

static int bug_malloc;          /* 1: malloc()/free(), 0: kmem_alloc() */

static inline void
bug_mode(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "kmem") != 0 &&
	    strcmp(argv[1], "malloc") != 0)) {
		fprintf(stderr, "usage: %s kmem|malloc\n", argv[0]);
		exit(2);
	}
	bug_malloc = strcmp(argv[1], "malloc") == 0;
}

static inline void *
bug_alloc(size_t size)
{
	return (bug_malloc ? malloc(size) : kmem_alloc(size, KM_SLEEP));
}

static inline void
bug_free(void *buf, size_t size)
{
	if (bug_malloc)
		free(buf);
	else
		kmem_free(buf, size);
}

/* Say which buffer the bug is about (before the bug: stdio allocates). */
static inline void
bug_show(const void *buf)
{
	printf("buffer %p\n", buf);
	fflush(stdout);
}

#define BUG_FUNCTION __attribute__((noinline)) void

#endif /* BUG_H */
