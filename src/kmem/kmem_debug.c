/*
 * The debugging layer: the checks made on the buffers of debug caches and
 * the reports that name what went wrong (docs/debugging.md).
 *
 * A debug cache (KMF_BUFTAG) tags each buffer (kmem_debug_impl.h) and
 * takes no fast path (its fast offset matches no slot), so every allocation
 * and free of its buffers passes here while the fast paths of all other
 * caches pay nothing.  Its magazines hold free buffers: a free is checked,
 * destructed and patterned before it reaches a magazine or a slab, and an
 * allocation checked and constructed after it leaves one
 * (kmem_cache.c).  What the tag and the flags buy:
 * - state: the buffer's address XORed with ALLOC or FREE (BUSY between the
 *   two, while the checks, patterns and destructor run).  A double free,
 *   a free of a pointer that is not a buffer's start or of another cache's
 *   buffer are caught at free time (the page map finds the slab, the state
 *   word tells allocated from free);
 * - redzone and requested size (KMF_REDZONE): a word of
 *   KMEM_REDZONE_PATTERN after the buffer, and KMEM_REDZONE_BYTE in the
 *   bytes between the size asked for and the buffer's end, checked at
 *   free: an overrun is caught even inside the size class's slack;
 *   kmem_free() of another size than was asked for is "wrong size";
 * - freed pattern (KMF_DEADBEEF): free buffers hold 0xdeadbeef, verified
 *   when the buffer is handed out again (up to maxverify bytes; only the
 *   first word with KMF_LITE), so a write after free is reported with the
 *   stack of the free; buffers handed out hold 0xbaddcafe until written;
 * - audit (KMF_AUDIT): the last transaction of each buffer (thread, time,
 *   stack) in a record after the tag, also copied into the transaction log;
 *   KMF_CONTENTS copies the first bytes of each freed buffer into the
 *   contents log (kmem_debug_log.c).
 *
 * Reports are multi-line: the error kind, the buffer, its cache, what is
 * wrong; then the stack that found it and the buffer's last transaction,
 * with symbol names (kmem_symbolize()).  They go through kmem_report(), so
 * the default handler aborts unless the "noabort" option was given.
 *
 * The checks touch only the buffer and its tag, which the caller owns (an
 * allocated buffer) or the slab layer handed over (a free one); no lock is
 * taken here but the log's (kmem_debug_log.c), a leaf.  kmem_debug_verify()
 * reads buffers other threads own: it takes kmem_debug_verify_lock, then
 * the cache list and one slab lock at a time, and reports with only the
 * verify lock held, which keeps kmem_cache_destroy() from taking a cache
 * off the list meanwhile.
 */
#include "kmem_impl.h"

#include <stdarg.h>

#include "base/format.h"
#include "base/lock_order.h"
#include "base/report.h"

#define DEBUG_REPORT_MAX        6144
#define DETECT_DEPTH            16

static kmem_buftag_t *
buftag_of(const kmem_cache_t *cp, const void *buf)
{
	return ((kmem_buftag_t *)((uintptr_t)buf + cp->cache_buftag_offset));
}

/*
 * The state word is written with release and read with acquire stores, so
 * that kmem_debug_verify(), from another thread, sees a buffer's other tag
 * fields and patterns as they were when the state was set.
 */
static void
state_set(kmem_buftag_t *bt, const void *buf, uintptr_t state)
{
	__atomic_store_n(&bt->state, (uintptr_t)buf ^ state, __ATOMIC_RELEASE);
}

static bool
state_is(const kmem_buftag_t *bt, const void *buf, uintptr_t state)
{
	return (__atomic_load_n(&bt->state, __ATOMIC_ACQUIRE) ==
	    ((uintptr_t)buf ^ state));
}

static bool
check_lite(const kmem_cache_t *cp)
{
	return (cp->cache_flags & KMF_LITE);
}

static bool
checks_pattern(const kmem_cache_t *cp)
{
	return (cp->cache_flags & (KMF_DEADBEEF | KMF_LITE));
}

static bool
checks_redzone(const kmem_cache_t *cp)
{
	return (cp->cache_flags & (KMF_REDZONE | KMF_LITE));
}

/* How many of a free buffer's bytes carry the freed pattern. */
static size_t
pattern_length(const kmem_cache_t *cp)
{
	if (check_lite(cp))
		return (sizeof (uint64_t));
	size_t len = cp->cache_buftag_offset;
	return (len < kmem_debug_config.maxverify ? len :
	    p2_align(kmem_debug_config.maxverify, sizeof (uint64_t)));
}

static void
fill(void *buf, size_t len, uint64_t pattern)
{
	uint64_t *p = buf;
	for (size_t i = 0; i < len / sizeof (uint64_t); i++)
		p[i] = pattern;
}

/* ---- report text ---- */

typedef struct text {
	char *buf;
	size_t len;
	size_t cap;
} text_t;

static void
text_vadd(text_t *t, const char *fmt, va_list ap)
{
	if (t->len + 1 >= t->cap)
		return;
	size_t n = kmem_vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	t->len = t->len + n < t->cap ? t->len + n : t->cap - 1;
}

static void
text_add(text_t *t, const char *fmt, ...) KMEM_PRINTFLIKE(2, 3);

static void
text_add(text_t *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	text_vadd(t, fmt, ap);
	va_end(ap);
}

static void
text_stack(text_t *t, const uintptr_t *pcs, unsigned depth)
{
	if (depth == 0)
		text_add(t, "\n      (no stack)");
	for (unsigned i = 0; i < depth; i++) {
		char name[192];
		(void) kmem_symbolize(pcs[i], name, sizeof (name));
		text_add(t, "\n      #%u %s", i, name);
	}
}

static bool
debugging(const kmem_cache_t *cp)
{
	return (kmem_debug_config.flags != 0 ||
	    kmem_debug_config.firewall_size != 0 ||
	    (cp != NULL && (cp->cache_flags & (KMF_BUFTAG | KMF_FIREWALL))));
}

/* Is buf the start of one of cp's buffers (so its tag can be read)? */
static bool
is_buffer_of(const kmem_cache_t *cp, const void *buf)
{
	if (cp == NULL || !(cp->cache_flags & KMF_PAGEMAP))
		return (false);
	const kmem_slab_t *sp = kmem_pagemap_find((uintptr_t)buf);
	return (sp != NULL && sp->slab_cache == cp &&
	    kmem_slab_holds(cp, sp, buf));
}

static void
text_transaction(text_t *t, const kmem_audit_t *ap)
{
	uint64_t now = kmem_clock_ns();
	uint64_t ago = now > ap->time_ns ? now - ap->time_ns : 0;
	text_add(t, "\n  last transaction: %s by thread %llu, %llu.%06llu s "
	    "ago, at:", ap->op == KMEM_OP_FREE ? "free" : "allocation",
	    (unsigned long long)ap->thread,
	    (unsigned long long)(ago / 1000000000u),
	    (unsigned long long)(ago % 1000000000u / 1000u));
	text_stack(t, ap->pcs, ap->depth);
}

/* The message of fmt, then the stacks, into t. */
static void
text_report(text_t *t, kmem_cache_t *cp, const void *buf, const char *fmt,
    va_list ap)
{
	text_vadd(t, fmt, ap);
	if (!debugging(cp))
		return;
	uintptr_t pcs[DETECT_DEPTH];
	unsigned depth = kmem_backtrace(pcs, DETECT_DEPTH, 0);
	text_add(t, "\n  detected in thread %llu at:",
	    (unsigned long long)kmem_thread_id());
	text_stack(t, pcs, depth);
	if (buf != NULL && cp != NULL && (cp->cache_flags & KMF_AUDIT) &&
	    (cp->cache_flags & KMF_BUFTAG) && is_buffer_of(cp, buf)) {
		const kmem_audit_t *audit = buftag_of(cp, buf)->audit;
		if (audit != NULL && audit->time_ns != 0)
			text_transaction(t, audit);
	}
	if (buf != NULL && kmem_debug_config.verbose)
		t->len += kmem_debug_log_history(buf, t->buf + t->len,
		    t->cap - t->len);
}

void
kmem_debug_report(kmem_cache_t *cp, const void *buf, const char *fmt, ...)
{
	char buffer[DEBUG_REPORT_MAX];
	text_t t = { buffer, 0, sizeof (buffer) };
	buffer[0] = '\0';
	va_list ap;
	va_start(ap, fmt);
	text_report(&t, cp, buf, fmt, ap);
	va_end(ap);
	kmem_report_heap(!kmem_debug_config.noabort, "%s", buffer);
}

/*
 * A report about buf that always shows the stack that found it (a guarded
 * buffer's, debugging on or off), then its history: what tx[0 .. n)
 * say, each under its heading.
 */
void
kmem_debug_report_history(const void *buf, const kmem_transaction_t *tx,
    const char *const *headings, unsigned n, const char *fmt, ...)
{
	char buffer[DEBUG_REPORT_MAX];
	text_t t = { buffer, 0, sizeof (buffer) };
	buffer[0] = '\0';
	va_list ap;
	va_start(ap, fmt);
	text_vadd(&t, fmt, ap);
	va_end(ap);
	uintptr_t pcs[DETECT_DEPTH];
	unsigned depth = kmem_backtrace(pcs, DETECT_DEPTH, 0);
	text_add(&t, "\n  detected in thread %llu at:",
	    (unsigned long long)kmem_thread_id());
	text_stack(&t, pcs, depth);
	uint64_t now = kmem_clock_ns();
	for (unsigned i = 0; i < n; i++) {
		uint64_t ago = now > tx[i].time_ns ? now - tx[i].time_ns : 0;
		text_add(&t, "\n  %s by thread %llu, %llu.%06llu s ago, at:",
		    headings[i], (unsigned long long)tx[i].thread,
		    (unsigned long long)(ago / 1000000000u),
		    (unsigned long long)(ago % 1000000000u / 1000u));
		text_stack(&t, tx[i].pcs, tx[i].depth);
	}
	if (buf != NULL && kmem_debug_config.verbose)
		t.len += kmem_debug_log_history(buf, t.buf + t.len,
		    t.cap - t.len);
	kmem_report_heap(!kmem_debug_config.noabort, "%s", buffer);
}

/* ---- audit ---- */

/* The calling thread's transaction now, its stack into pcs[max]. */
static kmem_transaction_t
transaction_now(kmem_debug_op_t op, uintptr_t *pcs, unsigned max)
{
	return ((kmem_transaction_t){ .op = op, .thread = kmem_thread_id(),
	    .time_ns = kmem_clock_ns(), .pcs = pcs,
	    .depth = kmem_backtrace(pcs, max, 0) });
}

static void
audit_record(kmem_cache_t *cp, const void *buf, kmem_buftag_t *bt,
    kmem_debug_op_t op)
{
	kmem_audit_t *ap = bt->audit;
	if (ap == NULL)
		return;
	kmem_transaction_t tx =
	    transaction_now(op, ap->pcs, cp->cache_audit_depth);
	ap->thread = tx.thread;
	ap->time_ns = tx.time_ns;
	ap->op = op;
	ap->depth = tx.depth;
	kmem_debug_log_append(KMEM_LOG_TRANSACTION, cp, buf,
	    (size_t)bt->requested, &tx, 0);
}

/* Keep the first bytes of a buffer being freed in the contents log. */
static void
contents_record(kmem_cache_t *cp, const void *buf, kmem_buftag_t *bt)
{
	uintptr_t pcs[KMEM_AUDIT_DEPTH_MAX];
	size_t n = kmem_debug_config.contents_bytes;
	if (n > bt->requested)
		n = (size_t)bt->requested;
	kmem_transaction_t tx = transaction_now(KMEM_OP_FREE, pcs,
	    kmem_debug_config.audit_depth);
	kmem_debug_log_append(KMEM_LOG_CONTENTS, cp, buf,
	    (size_t)bt->requested, &tx, n);
}

unsigned
kmem_audit_stack(kmem_cache_t *cp, void *buf, uintptr_t *pcs, unsigned max)
{
	if (!(cp->cache_flags & KMF_BUFTAG) || !(cp->cache_flags & KMF_AUDIT))
		return (0);
	const kmem_audit_t *ap = buftag_of(cp, buf)->audit;
	if (ap == NULL || ap->time_ns == 0)
		return (0);
	unsigned n = ap->depth < max ? ap->depth : max;
	for (unsigned i = 0; i < n; i++)
		pcs[i] = ap->pcs[i];
	return (n);
}

void
kmem_debug_alloc_failed(kmem_cache_t *cp, size_t size)
{
	if (kmem_debug_config.log_size[KMEM_LOG_FAIL] == 0)
		return;
	uintptr_t pcs[KMEM_AUDIT_DEPTH_MAX];
	kmem_transaction_t tx = transaction_now(KMEM_OP_FAIL, pcs,
	    kmem_debug_config.audit_depth);
	kmem_debug_log_append(KMEM_LOG_FAIL, cp, NULL, size, &tx, 0);
}

/* ---- the checks ---- */

void
kmem_buftag_init(kmem_cache_t *cp, void *buf)
{
	kmem_buftag_t *bt = buftag_of(cp, buf);
	bt->redzone = KMEM_REDZONE_PATTERN;
	bt->requested = 0;
	bt->audit = NULL;
	if (cp->cache_flags & KMF_AUDIT) {
		bt->audit = (kmem_audit_t *)(bt + 1);
		bt->audit->time_ns = 0;
		bt->audit->depth = 0;
	}
	if (checks_pattern(cp))
		fill(buf, pattern_length(cp), KMEM_FREE_PATTERN);
	state_set(bt, buf, KMEM_BUFTAG_FREE);
}

size_t
kmem_debug_requested(kmem_cache_t *cp, const void *buf)
{
	return ((size_t)buftag_of(cp, buf)->requested);
}

/* The offset of the first word of buf that lost the freed pattern, or -1. */
KMEM_READS_FREED static size_t
pattern_damage(const kmem_cache_t *cp, const void *buf)
{
	const uint64_t *p = buf;
	size_t words = pattern_length(cp) / sizeof (uint64_t);
	for (size_t i = 0; i < words; i++)
		if (p[i] != KMEM_FREE_PATTERN)
			return (i * sizeof (uint64_t));
	return (SIZE_MAX);
}

bool
kmem_debug_alloc(kmem_cache_t *cp, void *buf, size_t requested)
{
	kmem_buftag_t *bt = buftag_of(cp, buf);
	if (!state_is(bt, buf, KMEM_BUFTAG_FREE)) {
		kmem_debug_report(cp, buf, "buffer overrun or write after free: "
		    "the free buffer %p of cache \"%s\" (%zu bytes) has a "
		    "damaged tag: something wrote past the end of the buffer "
		    "before it, or into it after it was freed", buf,
		    cp->cache_name, cp->cache_bufsize);
		return (false);
	}
	size_t off = checks_pattern(cp) ? pattern_damage(cp, buf) : SIZE_MAX;
	if (off != SIZE_MAX) {
		kmem_debug_report(cp, buf, "write after free: buffer %p "
		    "(cache \"%s\", %zu bytes) modified at offset %zu after it "
		    "was freed (0x%llx instead of 0x%llx)", buf, cp->cache_name,
		    cp->cache_bufsize, off,
		    (unsigned long long)*(uint64_t *)((uintptr_t)buf + off),
		    (unsigned long long)KMEM_FREE_PATTERN);
		/* The program goes on (noabort): hand out a clean buffer. */
	}
	state_set(bt, buf, KMEM_BUFTAG_BUSY);
	bt->requested = requested;
	if ((cp->cache_flags & KMF_DEADBEEF) && !check_lite(cp))
		fill(buf, cp->cache_buftag_offset, KMEM_UNINITIALIZED_PATTERN);
	if (checks_redzone(cp))
		__builtin_memset((char *)buf + requested, KMEM_REDZONE_BYTE,
		    cp->cache_buftag_offset - requested);
	audit_record(cp, buf, bt, KMEM_OP_ALLOC);
	state_set(bt, buf, KMEM_BUFTAG_ALLOC);
	return (true);
}

/* The offset of the first byte past the requested size that was written. */
KMEM_READS_FREED static size_t
overrun_offset(const kmem_cache_t *cp, const void *buf,
    const kmem_buftag_t *bt)
{
	const unsigned char *p = buf;
	for (size_t i = (size_t)bt->requested; i < cp->cache_buftag_offset; i++)
		if (p[i] != KMEM_REDZONE_BYTE)
			return (i);
	if (bt->redzone == KMEM_REDZONE_PATTERN)
		return (SIZE_MAX);
	const unsigned char *rz = (const unsigned char *)&bt->redzone;
	for (size_t i = 0; i < sizeof (bt->redzone); i++)
		if (rz[i] != ((const unsigned char *)&(uint64_t){
		    KMEM_REDZONE_PATTERN })[i])
			return (cp->cache_buftag_offset + i);
	return (SIZE_MAX);
}

bool
kmem_debug_free(kmem_cache_t *cp, void *buf, size_t kmem_free_size)
{
	kmem_buftag_t *bt = buftag_of(cp, buf);
	if (state_is(bt, buf, KMEM_BUFTAG_FREE)) {
		kmem_debug_report(cp, buf, "double free: buffer %p (cache "
		    "\"%s\", %zu bytes) is already free", buf, cp->cache_name,
		    cp->cache_bufsize);
		return (false);
	}
	if (!state_is(bt, buf, KMEM_BUFTAG_ALLOC) ||
	    bt->requested > cp->cache_bufsize) {
		kmem_debug_report(cp, buf, "buffer overrun: buffer %p (cache "
		    "\"%s\", %zu bytes): its tag is damaged: something wrote "
		    "past the end of the buffer, or it is no allocated buffer",
		    buf, cp->cache_name, cp->cache_bufsize);
		return (false);
	}
	if (kmem_free_size < KMEM_FREE_MALLOC && kmem_free_size != bt->requested) {
		kmem_debug_report(cp, buf, "wrong size: kmem_free(%p, %zu), "
		    "but the buffer (cache \"%s\") was allocated with "
		    "%llu bytes", buf, kmem_free_size, cp->cache_name,
		    (unsigned long long)bt->requested);
		return (false);
	}
	/* kmem_alloc() poisoned the slack, the caller's free the rest. */
	kmem_unpoison(buf, cp->cache_bufsize);
	size_t off = checks_redzone(cp) ? overrun_offset(cp, buf, bt) :
	    SIZE_MAX;
	if (off != SIZE_MAX) {
		/* Report the overrun; the buffer itself can still be freed. */
		kmem_debug_report(cp, buf, "buffer overrun: buffer %p (cache "
		    "\"%s\", %llu bytes requested) was written past its end, "
		    "at offset %zu", buf, cp->cache_name,
		    (unsigned long long)bt->requested, off);
		bt->redzone = KMEM_REDZONE_PATTERN;
	}
	state_set(bt, buf, KMEM_BUFTAG_BUSY);
	if (cp->cache_flags & KMF_CONTENTS)
		contents_record(cp, buf, bt);
	audit_record(cp, buf, bt, KMEM_OP_FREE);
	return (true);
}

void
kmem_debug_freed(kmem_cache_t *cp, void *buf)
{
	if (checks_pattern(cp))
		fill(buf, pattern_length(cp), KMEM_FREE_PATTERN);
	state_set(buftag_of(cp, buf), buf, KMEM_BUFTAG_FREE);
}

/* ---- verifying on demand ---- */

#define VERIFY_BATCH    8

kmem_mutex_t kmem_debug_verify_lock = KMEM_MUTEX_INITIALIZER(KMEM_RANK_VERIFY);

/* The problem with buf, a buffer of a slab of cp, or NULL. */
static const char *
buffer_problem(const kmem_cache_t *cp, const void *buf)
{
	const kmem_buftag_t *bt = buftag_of(cp, buf);
	const char *problem = NULL;
	uintptr_t state = __atomic_load_n(&bt->state, __ATOMIC_ACQUIRE);
	if (state == ((uintptr_t)buf ^ KMEM_BUFTAG_BUSY))
		return (NULL);
	if (state == ((uintptr_t)buf ^ KMEM_BUFTAG_FREE)) {
		if (checks_pattern(cp) && pattern_damage(cp, buf) != SIZE_MAX)
			problem = "write after free";
	} else if (state != ((uintptr_t)buf ^ KMEM_BUFTAG_ALLOC) ||
	    bt->requested > cp->cache_bufsize) {
		problem = "buffer overrun (damaged tag)";
	} else if (checks_redzone(cp) &&
	    overrun_offset(cp, buf, bt) != SIZE_MAX) {
		problem = "buffer overrun";
	}
	/* Its owner may have freed or allocated it meanwhile: not a problem. */
	if (__atomic_load_n(&bt->state, __ATOMIC_ACQUIRE) != state)
		return (NULL);
	return (problem);
}

/*
 * Check cp's buffers from the start of its slab list, noting up to
 * VERIFY_BATCH problems (reported by the caller, with no lock held).
 */
static unsigned
verify_cache(kmem_cache_t *cp, const void **bufs, const char **why)
{
	unsigned found = 0;
	kmem_mutex_enter(&cp->cache_slab_lock);
	for (kmem_slab_t *sp = cp->cache_slabs.slab_next;
	    sp != &cp->cache_slabs &&
	    found < VERIFY_BATCH; sp = sp->slab_next) {
		for (unsigned i = 0; i < cp->cache_chunks &&
		    found < VERIFY_BATCH; i++) {
			const void *buf = (const void *)(sp->slab_first +
			    i * cp->cache_chunksize);
			if (kmem_slab_purged_over(cp, sp, (uintptr_t)buf))
				continue;       /* free, its pages given back */
			const char *problem = buffer_problem(cp, buf);
			if (problem != NULL) {
				bufs[found] = buf;
				why[found++] = problem;
			}
		}
	}
	kmem_mutex_exit(&cp->cache_slab_lock);
	return (found);
}

unsigned
kmem_debug_verify(void)
{
	unsigned total = 0;
	/*
	 * The cache list's lock is dropped while the reports run the handler;
	 * the verify lock keeps every cache on the list meanwhile.
	 */
	kmem_mutex_enter(&kmem_debug_verify_lock);
	kmem_mutex_enter(&kmem_caches_lock);
	for (kmem_cache_t *cp = kmem_caches.cache_list_next; cp != &kmem_caches;
	    cp = cp->cache_list_next) {
		if (!(cp->cache_flags & KMF_BUFTAG))
			continue;
		const void *bufs[VERIFY_BATCH];
		const char *why[VERIFY_BATCH];
		/* Free buffers and allocated ones' slack are poisoned. */
		kmem_memcheck_quiet(true);
		unsigned found = verify_cache(cp, bufs, why);
		kmem_memcheck_quiet(false);
		/* Reports run the handler: not under the cache list's lock. */
		kmem_mutex_exit(&kmem_caches_lock);
		for (unsigned i = 0; i < found; i++)
			kmem_debug_report(cp, bufs[i], "%s: buffer %p (cache "
			    "\"%s\", %zu bytes) found by kmem_debug_verify()",
			    why[i], bufs[i], cp->cache_name, cp->cache_bufsize);
		total += found;
		kmem_mutex_enter(&kmem_caches_lock);
	}
	kmem_mutex_exit(&kmem_caches_lock);
	kmem_mutex_exit(&kmem_debug_verify_lock);
	return (total);
}
