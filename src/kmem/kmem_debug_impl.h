/*
 * The debugging layer's internals: the tag after each buffer of a debug
 * cache and its patterns, the global debug settings, and the functions of
 * kmem_debug.c, kmem_debug_options.c, kmem_debug_log.c, kmem_firewall.c
 * and kmem_leaks.c.
 *
 * Who includes it: kmem_impl.h, so every file of src/kmem/: the debugging
 * files themselves, and the cache layer, which lays the tags out and
 * calls the checks from its slow paths.  docs/debugging.md is the long
 * version.
 */
#ifndef KMEM_KMEM_DEBUG_IMPL_H
#define KMEM_KMEM_DEBUG_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kmem/debug.h>
#include <kmem/kmem.h>

#include "platform/platform.h"

/*
 * The tag after each buffer of a debug cache (KMF_BUFTAG; kmem_debug.c).
 * state is the buffer's address XORed with KMEM_BUFTAG_ALLOC or
 * KMEM_BUFTAG_FREE, so a tag copied from elsewhere or overwritten is told
 * apart from a genuine state; redzone holds KMEM_REDZONE_PATTERN;
 * requested is what the allocation asked for (the bytes between it and
 * the redzone hold KMEM_REDZONE_BYTE while allocated); while the debugging
 * layer works on a buffer being allocated or freed its state says BUSY,
 * so kmem_debug_verify() skips it; link is the slab free list's link
 * (cache->cache_link_offset), so a free buffer's own bytes hold nothing
 * but the freed pattern.  With KMF_AUDIT the buffer's last
 * transaction follows the tag, and audit points at it.
 */
typedef struct kmem_audit {
	uint64_t thread;
	uint64_t time_ns;
	uint32_t op;            /* KMEM_OP_ALLOC or KMEM_OP_FREE */
	uint32_t depth;
	uintptr_t pcs[];        /* cache->cache_audit_depth slots */
} kmem_audit_t;

typedef struct kmem_buftag {
	uint64_t redzone;
	uintptr_t state;
	uint64_t requested;
	void *link;
	kmem_audit_t *audit;
} kmem_buftag_t;

#define KMEM_BUFTAG_ALLOC       0xa110c8edUL
#define KMEM_BUFTAG_FREE        0xf4eef4eeUL
#define KMEM_BUFTAG_BUSY        0xb5b5b5b5UL    /* being allocated or freed */
#define KMEM_REDZONE_PATTERN    0xfeedfacefeedfaceULL
#define KMEM_REDZONE_BYTE       0xbb
#define KMEM_FREE_PATTERN       0xdeadbeefdeadbeefULL
#define KMEM_UNINITIALIZED_PATTERN 0xbaddcafebaddcafeULL
#define KMEM_AUDIT_DEPTH_MAX    64
#define KMEM_CONTENTS_MAX       4096

/*
 * The global debug settings (kmem_debug_options.c): set before kmem
 * starts, read-only after.  log_size[] is 0 for a log that is off.
 */
typedef struct kmem_debug_config {
	int flags;                      /* KMF_* for caches created later */
	unsigned audit_depth;
	size_t contents_bytes;
	size_t firewall_size;           /* 0: no firewall */
	size_t maxverify;
	bool verbose;
	bool noabort;
	size_t log_size[3];             /* by kmem_debug_log_t */
} kmem_debug_config_t;

/* ---- kmem_debug.c ---- */
/* The tag of a fresh (or given back) free buffer, its freed pattern. */
void kmem_buftag_init(kmem_cache_t *cp, void *buf);
/* buf leaves the slab layer for an allocation of requested bytes: check
 * its pattern and tag, mark it allocated; false if it must not be used. */
bool kmem_debug_alloc(kmem_cache_t *cp, void *buf, size_t requested);
/* buf is freed (kmem_free_size as for kmem_bad_free()): check its tag and
 * redzone, mark it free; false if the free must be refused. */
bool kmem_debug_free(kmem_cache_t *cp, void *buf, size_t kmem_free_size);
/* After the destructor: paint the freed pattern. */
void kmem_debug_freed(kmem_cache_t *cp, void *buf);
/* The stack of buf's last transaction (KMF_AUDIT), 0 when none. */
unsigned kmem_audit_stack(kmem_cache_t *cp, void *buf, uintptr_t *pcs,
    unsigned max);
/* The size the allocation of buf, a debug cache's buffer, asked for. */
size_t kmem_debug_requested(kmem_cache_t *cp, const void *buf);
/* An allocation from cp (NULL: kmem_alloc) of size bytes failed. */
void kmem_debug_alloc_failed(kmem_cache_t *cp, size_t size);

/* ---- kmem_debug_options.c ---- */
extern kmem_debug_config_t kmem_debug_config;

/* Does a request of size bytes get pages of its own (firewall=size)? */
static inline bool
kmem_firewall_wants(size_t size)
{
	size_t firewall = kmem_debug_config.firewall_size;
	return (firewall != 0 && size >= firewall);
}
/* Parse into *c (from the defaults); 0, or -1 with err naming the option. */
int kmem_debug_parse(const char *debug, const char *logging,
    kmem_debug_config_t *c, char *err, size_t errlen);
/* Apply KMEM_DEBUG / UMEM_DEBUG etc. unless kmem_debug_configure() ran;
 * false with err set when they are bad. */
bool kmem_debug_from_environment(char *err, size_t errlen);

/* Held by kmem_debug_verify() throughout, and by kmem_cache_destroy()
 * while it takes the cache off the list, so none goes while it is checked. */
extern kmem_mutex_t kmem_debug_verify_lock;

/* ---- kmem_debug_log.c ---- */
extern kmem_mutex_t kmem_debug_log_lock;
/* Allocate the rings kmem_debug_config asks for (bootstrap). */
void kmem_debug_logs_init(void);
/*
 * A transaction as the logs and reports see it: the stack is pcs[0 ..
 * depth - 1], innermost first.
 */
typedef struct kmem_transaction {
	kmem_debug_op_t op;
	uint64_t thread;
	uint64_t time_ns;
	unsigned depth;
	const uintptr_t *pcs;
} kmem_transaction_t;
/* Append a record of buf (contents: how many of its bytes to keep). */
void kmem_debug_log_append(int log, const kmem_cache_t *cp, const void *buf,
    size_t size, const kmem_transaction_t *tx, size_t contents);
/* Format the transaction log's entries for buf into out (verbose). */
size_t kmem_debug_log_history(const void *buf, char *out, size_t len);

/*
 * Report an error about buf, a guarded buffer (kmem_guard.c): the message,
 * the stack that found it, then tx[0 .. n), each under headings[i]
 * ("allocated", "freed").  kmem_debug.c; needs kmem_transaction_t.
 */
void kmem_debug_report_history(const void *buf, const kmem_transaction_t *tx,
    const char *const *headings, unsigned n, const char *fmt, ...)
    KMEM_PRINTFLIKE(5, 6);

/* ---- kmem_firewall.c ---- */
extern kmem_mutex_t kmem_firewall_lock;
/* A firewalled buffer of size bytes, counted as cp's (a kmem_alloc() class
 * for the requests it sends; NULL for large ones). */
void *kmem_firewall_alloc(kmem_cache_t *cp, size_t size, size_t align);
/* Free buf if it is a firewalled buffer (reports a bad size or cache, a
 * double free); false if it is none of the firewall's. */
bool kmem_firewall_free(kmem_cache_t *cp, void *buf, size_t kmem_free_size);
/* fn(arg, buffer, requested size, cache) for every live firewalled buffer,
 * until it returns false (the leak scan; kmem_firewall_lock held). */
bool kmem_firewall_walk(bool (*fn)(void *arg, void *buf, size_t size,
    kmem_cache_t *cp), void *arg);
/* The allocation stack of buf, a live firewalled buffer (KMF_AUDIT), into
 * pcs[0 .. max): how many frames; 0 when none or buf is not live.  For the
 * leak scan, which holds kmem_firewall_lock. */
unsigned kmem_firewall_stack(const void *buf, uintptr_t *pcs, unsigned max);
/* cp is being destroyed: forget its live firewalled buffers, which stay
 * mapped; how many there were. */
uint64_t kmem_firewall_forget(const kmem_cache_t *cp);
/* Unmap buf, a firewalled buffer never handed out (its constructor
 * failed), with no checks. */
void kmem_firewall_discard(void *buf);
/* The requested size of a live firewalled buffer, or 0. */
size_t kmem_firewall_size(const void *buf);

/* ---- kmem_guard.c (the rest is in kmem_query.h, for malloc) ---- */
extern kmem_mutex_t kmem_guard_lock;
/* fn(arg, buffer, requested size, NULL) for every live guarded buffer,
 * until it returns false (the leak scan; kmem_guard_lock held). */
bool kmem_guard_walk(bool (*fn)(void *arg, void *buf, size_t size,
    kmem_cache_t *cp), void *arg);
/* The allocation stack of buf, a live guarded buffer, as
 * kmem_firewall_stack() (kmem_guard_lock held). */
unsigned kmem_guard_stack(const void *buf, uintptr_t *pcs, unsigned max);

/* ---- kmem_leaks.c ---- */
/* Scan for leaks when the process exits (true), or no longer (false). */
void kmem_leaks_at_exit(bool on);

#endif /* KMEM_KMEM_DEBUG_IMPL_H */
