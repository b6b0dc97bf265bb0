/*
 * libkmem_malloc.so's reason to exist: the C library's malloc names, so
 * that preloading the library (LD_PRELOAD, or kmrun) puts kmem under every
 * malloc of a program -- including C++'s operator new, which calls malloc,
 * and the C library's own allocations.  glibc's __libc_* entry points are
 * covered too, for programs that call them directly.
 *
 * Each name is a thin function over its kmem_ counterpart in malloc.c; the
 * library is linked with -Bsymbolic-functions, so the call inside binds
 * within the library and is a direct jump, not a trip through the PLT.
 *
 * A constructor reads KMEM_OPTIONS once, before main; allocations that come
 * earlier (the dynamic linker's, the C library's start-up) run with the
 * defaults, which need no set-up: kmem initialises itself on its first
 * allocation, from whichever thread makes it.  A bad KMEM_OPTIONS is
 * reported, and the default report handler aborts.
 *
 * Before the options, the constructor asks for the update thread to start
 * by itself when the process needs it (kmem_update.c): a program that
 * stops allocating gets its idle memory back without calling anything.
 * reap_thread=0 turns that off, reap_thread=1 starts the thread at once.
 * The linked library does not do this (docs/malloc.md says why).
 */
#include <kmem/malloc.h>

#include <malloc.h>
#include <stdlib.h>

#include "base/report.h"
#include "kmem/kmem_query.h"

#define SHIM __attribute__((visibility("default")))

/* glibc's internal names, which a few programs call directly. */
SHIM void *__libc_malloc(size_t size);
SHIM void __libc_free(void *ptr);
SHIM void *__libc_calloc(size_t nmemb, size_t size);
SHIM void *__libc_realloc(void *ptr, size_t size);
SHIM void *__libc_memalign(size_t align, size_t size);

SHIM void *
malloc(size_t size)
{
	return (kmem_malloc(size));
}

SHIM void
free(void *ptr)
{
	kmem_malloc_free(ptr);
}

SHIM void *
calloc(size_t nmemb, size_t size)
{
	return (kmem_calloc(nmemb, size));
}

SHIM void *
realloc(void *ptr, size_t size)
{
	return (kmem_realloc(ptr, size));
}

SHIM void *
reallocarray(void *ptr, size_t nmemb, size_t size)
{
	return (kmem_reallocarray(ptr, nmemb, size));
}

SHIM void *
memalign(size_t align, size_t size)
{
	return (kmem_memalign(align, size));
}

SHIM int
posix_memalign(void **ptrp, size_t align, size_t size)
{
	return (kmem_posix_memalign(ptrp, align, size));
}

SHIM void *
aligned_alloc(size_t align, size_t size)
{
	return (kmem_aligned_alloc(align, size));
}

SHIM void *
valloc(size_t size)
{
	return (kmem_valloc(size));
}

SHIM void *
pvalloc(size_t size)
{
	return (kmem_pvalloc(size));
}

SHIM size_t
malloc_usable_size(void *ptr)
{
	return (kmem_malloc_usable_size(ptr));
}

SHIM void *
__libc_malloc(size_t size)
{
	return (kmem_malloc(size));
}

SHIM void
__libc_free(void *ptr)
{
	kmem_malloc_free(ptr);
}

SHIM void *
__libc_calloc(size_t nmemb, size_t size)
{
	return (kmem_calloc(nmemb, size));
}

SHIM void *
__libc_realloc(void *ptr, size_t size)
{
	return (kmem_realloc(ptr, size));
}

SHIM void *
__libc_memalign(size_t align, size_t size)
{
	return (kmem_memalign(align, size));
}

__attribute__((constructor)) static void
shim_options(void)
{
	kmem_update_thread_auto();
	const char *options = getenv("KMEM_OPTIONS");
	char err[256];
	if (options != NULL && kmem_options_set(options, err, sizeof (err)) != 0)
		kmem_report("KMEM_OPTIONS: %s", err);
}
