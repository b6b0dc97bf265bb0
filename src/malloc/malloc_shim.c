/*
 * libkmem_malloc.so's reason to exist: the C library's malloc names, so
 * that preloading the library (LD_PRELOAD, or kmrun) puts kmem under every
 * malloc of a program -- including C++'s operator new, which calls malloc,
 * and the C library's own allocations.  glibc's __libc_* entry points are
 * covered too, for programs that call them directly, and so is every other
 * allocation or free of the C library's malloc family (cfree, C23's sized
 * frees): a name left to glibc would hand out glibc's memory to our free,
 * or free ours into glibc's heap.  glibc's inspection calls (mallinfo2,
 * malloc_stats, malloc_info, malloc_trim) answer for kmem's memory
 * (malloc_inspect.c).  What stays glibc's, and why, is the list in
 * tests/malloc/libc_names_test.sh, which checks it against the C library
 * the tests run on.
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
SHIM void *__libc_valloc(size_t size);
SHIM void *__libc_pvalloc(size_t size);
SHIM struct mallinfo __libc_mallinfo(void);
/* Old names and new ones the installed headers may not declare. */
SHIM void cfree(void *ptr);
SHIM void free_sized(void *ptr, size_t size);
SHIM void free_aligned_sized(void *ptr, size_t align, size_t size);

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

SHIM void *
__libc_valloc(size_t size)
{
	return (kmem_valloc(size));
}

SHIM void *
__libc_pvalloc(size_t size)
{
	return (kmem_pvalloc(size));
}

SHIM void
cfree(void *ptr)
{
	kmem_malloc_free(ptr);
}

SHIM void
free_sized(void *ptr, size_t size)
{
	kmem_free_sized(ptr, size);
}

SHIM void
free_aligned_sized(void *ptr, size_t align, size_t size)
{
	kmem_free_aligned_sized(ptr, align, size);
}

/*
 * glibc's fields (docs/malloc.md): arena and uordblks/fordblks are the
 * classes' slabs, used and free; smblks/fsmblks the free buffers in
 * magazines (glibc's fast bins); ordblks the free buffers on slabs;
 * hblks/hblkhd the large buffers; keepcost the freed large memory kept for
 * reuse, which malloc_trim() gives back.
 */
SHIM struct mallinfo2
mallinfo2(void)
{
	kmem_malloc_totals_t t;
	kmem_malloc_totals(&t);
	return ((struct mallinfo2){
		.arena = t.class_held,
		.ordblks = t.class_free_count,
		.smblks = t.class_cached_count,
		.hblks = t.large_count,
		.hblkhd = t.large_inuse,
		.usmblks = 0,
		.fsmblks = t.class_cached,
		.uordblks = t.class_inuse,
		.fordblks = t.class_held - t.class_inuse,
		.keepcost = t.large_kept,
	});
}

/* The same in int, cut to its low bits as glibc's is. */
static struct mallinfo
mallinfo_int(void)
{
	struct mallinfo2 m = mallinfo2();
	return ((struct mallinfo){
		.arena = (int)m.arena,
		.ordblks = (int)m.ordblks,
		.smblks = (int)m.smblks,
		.hblks = (int)m.hblks,
		.hblkhd = (int)m.hblkhd,
		.usmblks = (int)m.usmblks,
		.fsmblks = (int)m.fsmblks,
		.uordblks = (int)m.uordblks,
		.fordblks = (int)m.fordblks,
		.keepcost = (int)m.keepcost,
	});
}

SHIM struct mallinfo
mallinfo(void)
{
	return (mallinfo_int());
}

SHIM struct mallinfo
__libc_mallinfo(void)
{
	return (mallinfo_int());
}

SHIM int
malloc_trim(size_t pad)
{
	return (kmem_malloc_trim(pad));
}

SHIM void
malloc_stats(void)
{
	kmem_malloc_stats();
}

SHIM int
malloc_info(int options, FILE *fp)
{
	return (kmem_malloc_info(options, fp));
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
