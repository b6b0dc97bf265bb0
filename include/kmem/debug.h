/*
 * libkmem: debugging the program's use of memory.
 *
 * Leaks.  kmem_findleaks() looks for allocated buffers that nothing points
 * to, the way illumos mdb's ::findleaks does, in the running process: it
 * scans conservatively the writable data and bss of every loaded object,
 * the stacks of the threads that have used the library, the calling
 * thread's registers and, transitively, every buffer reached that way; any
 * word holding an address inside an allocated buffer (its start or an
 * interior address) keeps that buffer alive.  What stays unreached is
 * reported, grouped by the stack that allocated it when the cache keeps an
 * audit trail (KMF_AUDIT), else by cache and buffer size, biggest first.
 *
 * Buffers considered: those of every kmem cache (kmem_alloc()'s and
 * malloc()'s classes, umem, pool and mtype caches included) that are
 * neither on their slab's free list nor in a magazine, and the large
 * buffers kmem_alloc() and malloc() take straight from vmem.  Caches over
 * memory the library must not touch (KMC_NOTOUCH) and kmem's own internal
 * caches are left out.
 *
 * What a conservative scan cannot see: a pointer kept only in memory the
 * library did not hand out and that is not a data segment or a stack (an
 * mmap()ed region of the program's own, another allocator's heap), in
 * another thread's registers, in the main thread's thread-local storage,
 * or disguised (XORed, compressed, on disk); such buffers are reported
 * although they are not lost.  The other way round, a word that only
 * happens to look like an address hides a leak.  Other threads may go on
 * running during the scan: the library's locks keep its structures
 * consistent, but buffers they allocate or free meanwhile may be seen
 * either way, so call it at a quiet moment (or at exit) for exact counts.
 */
#ifndef KMEM_DEBUG_H
#define KMEM_DEBUG_H

#include <stddef.h>
#include <stdint.h>

#include <kmem/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Leaks ---- */

#define KMEM_LEAK_STACK_DEPTH   16

/* One group of leaked buffers. */
typedef struct kmem_leak {
	const char *cache;      /* the cache's name, "kmem_oversize" for large buffers */
	size_t bufsize;         /* the size of each buffer */
	size_t count;           /* buffers in the group */
	size_t bytes;           /* count * bufsize */
	const void *example;    /* one of them */
	unsigned depth;         /* frames in stack[]; 0 without an audit trail */
	uintptr_t stack[KMEM_LEAK_STACK_DEPTH]; /* allocation, innermost first */
} kmem_leak_t;

typedef void kmem_leak_walker_t(void *arg, const kmem_leak_t *leak);

/*
 * Scan for leaks and call walker(arg, group) for each group of leaked
 * buffers, the group with the most bytes first, with no library lock
 * held.  Returns the number of leaked buffers, or SIZE_MAX if the scan
 * could not get the memory it works in.
 */
KMEM_API size_t kmem_leaks_walk(kmem_leak_walker_t *walker, void *arg);

/*
 * Scan for leaks and write the report to the file descriptor fd: one
 * paragraph per group ("N buffers, B bytes, cache X, size S" and the
 * allocation's stack with symbol names when known), then a summary line.
 * Returns what kmem_leaks_walk() returns.
 */
KMEM_API size_t kmem_findleaks(int fd);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_DEBUG_H */
