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
 * cache); returns how many were found.  No cache may be destroyed while it
 * runs.
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

#ifdef __cplusplus
}
#endif

#endif /* KMEM_DEBUG_H */
