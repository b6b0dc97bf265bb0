/*
 * The malloc family on kmem, under names of its own, and the options of
 * the malloc replacement.
 *
 * libkmem_malloc.so exports these same functions under the C library's
 * names (malloc, free, ...) so it can be preloaded; a program linked with
 * libkmem can call them directly beside the C library's malloc.  Their
 * behaviour is glibc's documented one: 16-byte alignment, errno ENOMEM
 * (or EINVAL for a bad alignment) on failure, overflow checks in calloc and
 * reallocarray, realloc(p, 0) frees p and returns NULL.  A pointer that
 * did not come from them, a misaligned or interior pointer and the double
 * frees that are cheap to see are reported and abort (docs/malloc.md).
 */
#ifndef KMEM_MALLOC_H
#define KMEM_MALLOC_H

#include <stddef.h>

#include <kmem/common.h>

#ifdef __cplusplus
extern "C" {
#endif

KMEM_API void *kmem_malloc(size_t size);
KMEM_API void kmem_malloc_free(void *ptr);
KMEM_API void *kmem_calloc(size_t nmemb, size_t size);
KMEM_API void *kmem_realloc(void *ptr, size_t size);
KMEM_API void *kmem_reallocarray(void *ptr, size_t nmemb, size_t size);
KMEM_API void *kmem_memalign(size_t align, size_t size);
KMEM_API int kmem_posix_memalign(void **ptrp, size_t align, size_t size);
KMEM_API void *kmem_aligned_alloc(size_t align, size_t size);
KMEM_API void *kmem_valloc(size_t size);
KMEM_API void *kmem_pvalloc(size_t size);
KMEM_API size_t kmem_malloc_usable_size(void *ptr);

/*
 * Options, as "name[=value],name[=value],..." -- the syntax of the
 * KMEM_OPTIONS environment variable, which libkmem_malloc.so reads at its
 * first allocation (kmrun sets it):
 *
 *	stats                   print the statistics tables at exit (those
 *	                        kmem_stats_print() prints)
 *	stats_file=PATH         ... to PATH instead of standard error,
 *	                        appending; "%p" in PATH becomes the process ID
 *	reap_interval=TIME      the maintenance interval (default 15s); TIME
 *	                        is a number with ns, us, ms or s
 *	reap_thread[=0|1]       1: run maintenance on a background thread
 *	                        from now on; 0: never.  Unset, the
 *	                        preloaded library starts the thread when a
 *	                        thread exits while another allocating one
 *	                        lives on, so an idle program gives back what
 *	                        its exited threads held (docs/malloc.md)
 *	publish[=0|1]           publish the statistics for kmstat, refreshed
 *	                        every second (kmem/stats.h); implies
 *	                        reap_thread
 *	guard=N                 put about one malloc() in N, drawn at
 *	                        random, on a page of its own between
 *	                        guard pages (a pool of 256, within a
 *	                        time budget of 0.5%; 0: none), so
 *	                        that overflows, underflows, uses after
 *	                        free and double frees of it are reported
 *	                        with its stacks (docs/debugging.md)
 *	trace=PATH              record every malloc, calloc, realloc,
 *	                        aligned allocation and free to PATH ("%p":
 *	                        the process ID), in the format of
 *	                        <kmem/trace.h> (docs/trace.md); from then on,
 *	                        once per process
 *
 * Returns 0, or -1 with a message naming the bad option or value in
 * err[0 .. errlen - 1]; nothing is applied then.
 */
KMEM_API int kmem_options_set(const char *options, char *err, size_t errlen);
/* The same check, applying nothing. */
KMEM_API int kmem_options_check(const char *options, char *err,
    size_t errlen);

/*
 * Print the tables kmstat prints (<kmem/stats.h>), by the same code, to
 * file descriptor fd: the kmem cache table, the vmem arena table, the pool
 * table and the malloc type table, each followed by an empty line (a
 * table with no rows keeps its heading).  The "stats" option prints them
 * at exit.  It allocates no memory.
 */
KMEM_API void kmem_stats_print(int fd);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_MALLOC_H */
