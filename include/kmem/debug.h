/*
 * kmem's debugging layer: libumem's UMEM_DEBUG without the debugger.  The
 * library checks every allocation and free of a debug cache, and reports
 * heap corruption itself, with stacks, in plain text (docs/debugging.md).
 *
 * Turning it on: per cache with the KMF_* flags of kmem_cache_create()
 * (include/kmem/kmem.h); for every cache with kmem_debug_configure(), or
 * with the environment variables KMEM_DEBUG and KMEM_LOGGING (or libumem's
 * UMEM_DEBUG and UMEM_LOGGING, which the KMEM_ names override), read once
 * when kmem starts.  Global settings reach the caches created after them,
 * kmem_alloc()'s and malloc's size classes among them, so they must come
 * before the first allocation.  Caches created with KMC_NODEBUG, and kmem's
 * own, are left alone.
 *
 * The debug string, libumem's option names, comma-separated:
 *	default         audit, contents and guards
 *	audit[=frames]  record each buffer's last transaction with a stack of
 *	                up to frames return addresses (15; at most 64)
 *	contents[=n]    log the first n bytes (256) of each freed buffer
 *	guards          deadbeef and redzone: freed-pattern and overrun checks
 *	verbose         reports also list the buffer's transaction log entries
 *	firewall=size   kmem_alloc() and malloc() requests of size bytes or
 *	                more end against an unmapped page
 *	lite            cheap checks only: redzone, tag, first word of a freed
 *	                buffer
 *	maxverify=size  verify at most size bytes of a freed buffer's pattern
 *	noabort         report and go on instead of aborting
 * The logging string: transaction[=size], contents[=size], fail[=size]
 * keep rings of that many bytes (64k) of the recent transactions of audited
 * caches, of freed buffers' contents, of failed allocations.
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
 * buffers kmem_alloc() and malloc() take straight from vmem, and the
 * firewalled ones (firewall=size).  Caches over
 * memory the library must not touch (KMC_NOTOUCH) and kmem's own internal
 * caches are left out.
 *
 * What a conservative scan cannot see: a pointer kept only in memory the
 * library did not hand out and that is not a data segment or a stack (an
 * mmap()ed region of the program's own, another allocator's heap), in
 * another thread's registers, in the main thread's thread-local storage,
 * or disguised (XORed, compressed, on disk); such buffers are reported
 * although they are not lost.  (The dynamic loader's own buffers, which it
 * keeps in the thread descriptors of cached thread stacks, are taken as
 * reachable when the cache keeps an audit trail, which tells them apart.)  The other way round, a word that only
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

/*
 * Set the global debug options; NULL or "" leaves that part off.  Must come
 * before kmem's first allocation; replaces what the environment said.
 * Returns 0, or -1 with a message naming the bad option in err (errlen
 * bytes) and nothing changed.
 */
KMEM_API int kmem_debug_configure(const char *debug, const char *logging,
    char *err, size_t errlen);

/* The KMF_* flags given to caches created from now on. */
KMEM_API int kmem_debug_flags(void);

/*
 * Check every buffer of every debug cache now: free buffers' patterns and
 * tags, allocated buffers' redzones.  Each problem is reported (up to 8 per
 * cache); returns how many were found.  A cache being destroyed meanwhile
 * waits until it is done (so a report handler must not destroy caches).
 */
KMEM_API unsigned kmem_debug_verify(void);

/* The logs of KMEM_LOGGING. */
typedef enum kmem_debug_log {
	KMEM_LOG_TRANSACTION,
	KMEM_LOG_CONTENTS,
	KMEM_LOG_FAIL,
	KMEM_LOG_COUNT
} kmem_debug_log_t;

typedef enum kmem_debug_op {
	KMEM_OP_ALLOC,
	KMEM_OP_FREE,
	KMEM_OP_FAIL            /* an allocation that returned NULL */
} kmem_debug_op_t;

/* One log entry, as a walk sees it (valid during the callback only). */
typedef struct kmem_debug_record {
	kmem_debug_op_t op;
	const char *cache;      /* the cache's name */
	const void *buf;        /* NULL for a failed allocation */
	size_t size;            /* bytes asked for, or the buffer size */
	uint64_t thread;
	uint64_t time_ns;       /* monotonic clock */
	unsigned depth;
	const uintptr_t *stack; /* depth return addresses, innermost first */
	size_t contents_len;    /* KMEM_LOG_CONTENTS: bytes saved */
	const void *contents;
} kmem_debug_record_t;

/*
 * Call fn for each entry of log, oldest first, until it returns non-zero;
 * returns the number of entries visited.  fn may allocate.
 */
KMEM_API size_t kmem_debug_log_walk(kmem_debug_log_t log,
    int (*fn)(void *arg, const kmem_debug_record_t *rec), void *arg);
/* ---- Leaks ---- */

#define KMEM_LEAK_STACK_DEPTH   16

/* One group of leaked buffers. */
typedef struct kmem_leak {
	const char *cache;      /* the cache's name; "kmem_oversize" for large
				 * buffers, "kmem_firewall" for firewalled
				 * kmem_alloc() and malloc() buffers,
				 * "kmem_guard" for malloc()'s sampled
				 * guarded ones (guard=N) */
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
