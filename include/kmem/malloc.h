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
#include <stdint.h>
#include <stdio.h>

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
 * C23's sized frees: ptr, from kmem_malloc(), kmem_calloc() or
 * kmem_realloc() (kmem_free_sized) or from an aligned allocation
 * (kmem_free_aligned_sized), with the size it was asked for, and the
 * alignment.  The buffer is found as kmem_malloc_free() finds it, so a
 * wrong size frees nothing else; a size larger than the buffer, or an
 * alignment the pointer does not have, is reported and nothing is freed.
 */
KMEM_API void kmem_free_sized(void *ptr, size_t size);
KMEM_API void kmem_free_aligned_sized(void *ptr, size_t align, size_t size);

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

/*
 * What the malloc family holds, for glibc's mallinfo2(), malloc_stats()
 * and malloc_info(), which libkmem_malloc.so answers from these figures
 * (docs/malloc.md maps them field by field).  The classes are kmem_alloc()'s,
 * which kmem_alloc() shares; "large" is every buffer above KMEM_MAXBUF.
 * Bytes are resident estimates: pages given back inside slabs and free
 * large memory already purged are not counted.
 */
typedef struct kmem_malloc_totals {
	size_t class_held;       /* bytes of the classes' slabs */
	size_t class_inuse;      /* bytes of class buffers allocated */
	size_t class_cached;     /* bytes of free buffers in magazines */
	uint64_t class_cached_count;
	size_t class_free;       /* bytes of free buffers on slabs */
	uint64_t class_free_count;
	size_t large_inuse;      /* bytes of large buffers allocated */
	uint64_t large_count;    /* large buffers allocated */
	size_t large_kept;       /* freed large bytes kept for reuse */
} kmem_malloc_totals_t;

KMEM_API void kmem_malloc_totals(kmem_malloc_totals_t *t);
/*
 * malloc_trim(): when more than pad bytes are held free, give back
 * everything held beyond what is allocated (the calling thread's own
 * magazines, every depot and free slab, the kept large memory); returns 1
 * when the held memory went down, else 0.  Other threads' own magazines
 * stay theirs.
 */
KMEM_API int kmem_malloc_trim(size_t pad);
/*
 * malloc_info(): the totals and each class's free buffers as XML on fp,
 * in glibc's element names; options must be 0 (else EINVAL).  Returns 0,
 * or -1 with errno set.
 */
KMEM_API int kmem_malloc_info(int options, FILE *fp);
/* malloc_stats(): glibc's summary lines, with these totals, on stderr. */
KMEM_API void kmem_malloc_stats(void);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_MALLOC_H */
