/*
 * Typed malloc: NetBSD's malloc(9) with malloc types, on kmem_alloc()
 * (include/kmem/mtype.h; docs/netbsd.md).
 *
 * An allocation is one kmem_alloc() buffer: a 16-byte header, then the
 * caller's memory, so the memory is 16-byte aligned (every kmem class a
 * multiple of 16 is aligned to at least 16) and mtype_free(), which has no
 * size argument, finds the size in the header.  The header is
 *
 *	size  = bytes asked for
 *	tag   = type ^ header address ^ (size * MIX) ^ TAG_LIVE
 *
 * and mtype_free() compares the tag with the one its own type and the
 * header's size would give: one load and a compare, so a free with the
 * wrong type costs nothing to catch.  When they differ, the header is
 * decoded the other way: the type it names, if it is an attached type, is
 * the one the memory was allocated with (wrong type); the same with
 * TAG_FREED, which mtype_free() writes (without the size) before the
 * buffer goes back, is a double free (while kmem has not handed the buffer
 * out again); the tag is the second word because kmem writes its free mark
 * into the first word of a freed buffer (kmem_cache.c); anything
 * else was never ours or had its header overwritten.  Before reading a
 * header at all, kmem's page map (or the oversize arena's spans) must say
 * the header is the start of a kmem_alloc() buffer, so a wild pointer is
 * reported rather than followed.  Mixing the address into the tag means
 * a header copied elsewhere does not pass, and mixing the size means a
 * size overwritten does not either.  The header costs 16 bytes per
 * allocation; the alternative, a side table from address to type, would
 * cost a lookup and a lock on every free.
 *
 * Statistics and the limit.  Each type has a state, made on first use: a
 * lock and its counters (objects and bytes in use, memory in use -- the
 * kmem class size of the whole buffer, as NetBSD counted bucket sizes --,
 * its high-water mark, requests, failures, and per power-of-two class of
 * requested size, the objects in use and requests).  One lock round trip
 * per allocation and per free keeps every snapshot exact.  A type with a
 * limit reserves its memory under the lock before allocating: an M_WAITOK
 * allocation that would pass the limit sleeps on the type's condition
 * variable until frees make room; an M_NOWAIT one fails.
 *
 * Types live on a list in the order they were attached.  A walker pins a
 * type with ks_busy under the list lock and reads it without; detaching
 * waits until no walker holds the type.  Locks: mtype_list_lock and each
 * type's lock, both of rank KMEM_RANK_NETBSD and never held together, and
 * neither across a call into kmem or a report.
 */
#include <kmem/mtype.h>

#include <stdarg.h>
#include <string.h>

#include "base/bits.h"
#include "base/format.h"
#include "base/lock_order.h"
#include "base/poison.h"
#include "base/report.h"
#include "base/stats_tables.h"
#include "kmem/kmem_query.h"
#include "netbsd_fork.h"
#include "platform/platform.h"

#define TAG_LIVE        0x6c6976656d747970ull   /* "livemtyp" */
#define TAG_FREED       0x667265656d747970ull   /* "freemtyp" */
#define TAG_SIZE_MIX    0x9e3779b97f4a7c15ull

typedef struct mtype_header {
	uint64_t size;
	uint64_t tag;
} mtype_header_t;

_Static_assert(sizeof (mtype_header_t) == 16, "the header keeps 16-byte "
    "alignment");

struct mtype_state {
	kmem_mutex_t lock;
	kmem_cv_t cv;                   /* memory freed below the limit */
	unsigned waiters;
	size_t limit;                   /* atomic stores, under lock */
	uint64_t inuse;
	uint64_t bytes_inuse;
	uint64_t mem_inuse;
	uint64_t mem_max;
	uint64_t calls;
	uint64_t fails;
	uint64_t frees;
	uint64_t limit_hits;
	uint64_t limit_waits;
	mtype_bucket_stats_t bucket[MTYPE_BUCKETS];
};

static kmem_mutex_t mtype_list_lock = KMEM_MUTEX_INITIALIZER(KMEM_RANK_NETBSD);
static kmem_cv_t mtype_list_cv = KMEM_CV_INITIALIZER;   /* a walker let go */
static struct malloc_type *mtype_list;          /* in attach order */

MALLOC_DEFINE(M_DEVBUF, "devbuf", "device driver memory");
MALLOC_DEFINE(M_TEMP, "temp", "misc. temporary data buffers");

static uint64_t
header_tag(const struct malloc_type *type, const mtype_header_t *hdr,
    uint64_t size, uint64_t kind)
{
	return ((uint64_t)(uintptr_t)type ^ (uint64_t)(uintptr_t)hdr ^
	    (size * TAG_SIZE_MIX) ^ kind);
}

static unsigned
bucket_of(size_t size)
{
	if (size <= 16)
		return (0);
	unsigned b = highbit(size - 1) - 4;
	return (b < MTYPE_BUCKETS - 1 ? b : MTYPE_BUCKETS - 1);
}

size_t
mtype_bucket_size(unsigned bucket)
{
	if (bucket >= MTYPE_BUCKETS)
		return (0);
	return (bucket < MTYPE_BUCKETS - 1 ? (size_t)16 << bucket : SIZE_MAX);
}

/*
 * The kmem_alloc() size for size bytes and the memory it occupies (its
 * class size, or whole pages beyond the classes); false if too large.
 */
static bool
mtype_sizes(size_t size, size_t *total, size_t *mem)
{
	if (size > SIZE_MAX / 2)
		return (false);
	*total = p2_roundup(size + sizeof (mtype_header_t), 16);
	if (*total <= KMEM_MAXBUF)
		(void) kmem_alloc_class(*total, mem);
	else
		*mem = p2_roundup(*total, kmem_pagesize());
	return (true);
}

size_t
mtype_roundup(size_t size)
{
	size_t total, mem;
	if (!mtype_sizes(size, &total, &mem))
		return (0);
	return (mem - sizeof (mtype_header_t));
}

/* ---- types ---- */

static bool
type_ok(struct malloc_type *type, const char *caller)
{
	if (type == NULL || type->ks_magic != MTYPE_MAGIC) {
		kmem_report("%s: %p is not a malloc type (define one with "
		    "MALLOC_DEFINE)", caller, (void *)type);
		return (false);
	}
	return (true);
}

/* Is type on the list (mtype_list_lock held)? */
static bool
type_listed(const struct malloc_type *type)
{
	for (struct malloc_type *t = mtype_list; t != NULL; t = t->ks_next)
		if (t == type)
			return (true);
	return (false);
}

static void
type_link(struct malloc_type *type)
{
	if (type->ks_attached)
		return;
	type->ks_next = NULL;
	struct malloc_type **tail = &mtype_list;
	while (*tail != NULL)
		tail = &(*tail)->ks_next;
	*tail = type;
	__atomic_store_n(&type->ks_attached, 1, __ATOMIC_RELEASE);
}

void
mtype_attach(struct malloc_type *type)
{
	if (!type_ok(type, "mtype_attach"))
		return;
	kmem_mutex_enter(&mtype_list_lock);
	type_link(type);
	kmem_mutex_exit(&mtype_list_lock);
}

/* Make type's state (and attach it) on first use. */
static struct mtype_state *
state_create(struct malloc_type *type)
{
	struct mtype_state *ms = kmem_zalloc(sizeof (*ms), KM_SLEEP);
	kmem_mutex_init(&ms->lock, KMEM_RANK_NETBSD);
	kmem_cv_init(&ms->cv);
	ms->limit = type->ks_limit;

	kmem_mutex_enter(&mtype_list_lock);
	struct mtype_state *won = type->ks_state;
	if (won == NULL) {
		__atomic_store_n(&type->ks_state, ms, __ATOMIC_RELEASE);
		type_link(type);
	}
	kmem_mutex_exit(&mtype_list_lock);
	if (won != NULL) {
		kmem_cv_destroy(&ms->cv);
		kmem_mutex_destroy(&ms->lock);
		kmem_free(ms, sizeof (*ms));
		return (won);
	}
	return (ms);
}

static struct mtype_state *
state_of(struct malloc_type *type)
{
	struct mtype_state *ms = __atomic_load_n(&type->ks_state,
	    __ATOMIC_ACQUIRE);
	return (ms != NULL ? ms : state_create(type));
}

/* The state of a type allocations may use, or NULL (reported). */
static struct mtype_state *
live_state_of(struct malloc_type *type, const char *caller)
{
	if (!type_ok(type, caller))
		return (NULL);
	struct mtype_state *ms = __atomic_load_n(&type->ks_state,
	    __ATOMIC_ACQUIRE);
	if (ms == NULL)
		return (state_create(type));
	if (!__atomic_load_n(&type->ks_attached, __ATOMIC_ACQUIRE)) {
		kmem_report("%s: malloc type \"%s\" was detached", caller,
		    type->ks_shortdesc);
		return (NULL);
	}
	return (ms);
}

void
mtype_detach(struct malloc_type *type)
{
	if (!type_ok(type, "mtype_detach"))
		return;
	struct mtype_state *ms = __atomic_load_n(&type->ks_state,
	    __ATOMIC_ACQUIRE);
	uint64_t inuse = 0;
	if (ms != NULL) {
		kmem_mutex_enter(&ms->lock);
		inuse = ms->inuse;
		kmem_mutex_exit(&ms->lock);
	}
	if (inuse != 0) {
		kmem_report("mtype_detach(\"%s\"): %llu allocation%s still in "
		    "use", type->ks_shortdesc, (unsigned long long)inuse,
		    inuse == 1 ? "" : "s");
		return;
	}
	kmem_mutex_enter(&mtype_list_lock);
	while (type->ks_busy != 0)
		kmem_cv_wait(&mtype_list_cv, &mtype_list_lock);
	if (type->ks_attached) {
		struct malloc_type **pp = &mtype_list;
		while (*pp != type)
			pp = &(*pp)->ks_next;
		*pp = type->ks_next;
		__atomic_store_n(&type->ks_attached, 0, __ATOMIC_RELEASE);
	}
	kmem_mutex_exit(&mtype_list_lock);
}

void
mtype_setlimit(struct malloc_type *type, size_t limit)
{
	if (!type_ok(type, "mtype_setlimit"))
		return;
	struct mtype_state *ms = state_of(type);
	kmem_mutex_enter(&ms->lock);
	__atomic_store_n(&ms->limit, limit, __ATOMIC_RELAXED);
	kmem_cv_broadcast(&ms->cv);     /* a raised limit lets sleepers in */
	kmem_mutex_exit(&ms->lock);
}

/* ---- allocation ---- */

/*
 * Reserve mem bytes under the type's limit, sleeping for M_WAITOK; false
 * (counted as a failure, reported if it can never succeed) otherwise.
 */
static bool
limit_reserve(struct mtype_state *ms, struct malloc_type *type, size_t size,
    size_t mem, int flags, const char *caller)
{
	kmem_mutex_enter(&ms->lock);
	bool hit = false, waited = false;
	while (ms->limit != 0 && ms->mem_inuse + mem > ms->limit) {
		if (!hit) {
			ms->limit_hits++;
			hit = true;
		}
		if ((flags & M_NOWAIT) || mem > ms->limit) {
			size_t limit = ms->limit;
			ms->fails++;
			kmem_mutex_exit(&ms->lock);
			if (!(flags & (M_NOWAIT | M_CANFAIL)))
				kmem_report("%s(%zu, \"%s\", M_WAITOK): the "
				    "request needs %zu bytes, more than the "
				    "type's limit of %zu, so it can never be "
				    "satisfied (M_CANFAIL would return NULL)",
				    caller, size, type->ks_shortdesc, mem,
				    limit);
			return (false);
		}
		if (!waited) {
			ms->limit_waits++;
			waited = true;
		}
		ms->waiters++;
		kmem_cv_wait(&ms->cv, &ms->lock);
		ms->waiters--;
	}
	ms->mem_inuse += mem;
	kmem_mutex_exit(&ms->lock);
	return (true);
}

/* Undo what an allocation counted, or count a free (lock held). */
static void
account_release(struct mtype_state *ms, size_t mem)
{
	ms->mem_inuse -= mem;
	if (ms->waiters != 0)
		kmem_cv_broadcast(&ms->cv);
}

static void *
mtype_alloc(struct mtype_state *ms, struct malloc_type *type, size_t size,
    int flags, const char *caller)
{
	size_t total, mem;
	if (!mtype_sizes(size, &total, &mem)) {
		kmem_mutex_enter(&ms->lock);
		ms->fails++;
		kmem_mutex_exit(&ms->lock);
		if (!(flags & (M_NOWAIT | M_CANFAIL)))
			kmem_report("%s(%zu, \"%s\"): the size can never be "
			    "allocated", caller, size, type->ks_shortdesc);
		return (NULL);
	}
	bool limited = __atomic_load_n(&ms->limit, __ATOMIC_RELAXED) != 0;
	if (limited && !limit_reserve(ms, type, size, mem, flags, caller))
		return (NULL);

	mtype_header_t *hdr = kmem_alloc(total, (flags & M_NOWAIT) ?
	    KM_NOSLEEP : KM_SLEEP);
	unsigned b = bucket_of(size);
	kmem_mutex_enter(&ms->lock);
	if (hdr == NULL) {
		if (limited)
			account_release(ms, mem);
		ms->fails++;
		kmem_mutex_exit(&ms->lock);
		return (NULL);
	}
	if (!limited)
		ms->mem_inuse += mem;
	if (ms->mem_inuse > ms->mem_max)
		ms->mem_max = ms->mem_inuse;
	ms->inuse++;
	ms->bytes_inuse += size;
	ms->calls++;
	ms->bucket[b].inuse++;
	ms->bucket[b].calls++;
	kmem_mutex_exit(&ms->lock);

	hdr->size = size;
	hdr->tag = header_tag(type, hdr, size, TAG_LIVE);
	void *addr = hdr + 1;
	if (flags & M_ZERO)
		memset(addr, 0, size);
	return (addr);
}

static bool
flags_ok(int flags, const char *caller, size_t size, struct malloc_type *type)
{
	if (flags & ~(M_NOWAIT | M_ZERO | M_CANFAIL)) {
		kmem_report("%s(%zu, \"%s\", 0x%x): flags has bits that are "
		    "not M_WAITOK, M_NOWAIT, M_ZERO or M_CANFAIL", caller, size,
		    type->ks_shortdesc, (unsigned)flags);
		return (false);
	}
	return (true);
}

void *
mtype_malloc(size_t size, struct malloc_type *type, int flags)
{
	struct mtype_state *ms = live_state_of(type, "mtype_malloc");
	if (ms == NULL || !flags_ok(flags, "mtype_malloc", size, type))
		return (NULL);
	return (mtype_alloc(ms, type, size, flags, "mtype_malloc"));
}

/* ---- free ---- */

/* Is hdr the start of a kmem_alloc() buffer, so it may be read? */
static bool
header_readable(const mtype_header_t *hdr)
{
	return (kmem_alloc_readable(hdr, sizeof (*hdr)));
}

/* Is type an attached type?  For reports only: takes the list lock. */
static bool
type_known(const struct malloc_type *type)
{
	kmem_mutex_enter(&mtype_list_lock);
	bool known = type_listed(type);
	kmem_mutex_exit(&mtype_list_lock);
	return (known);
}

/* Report what is wrong with addr, given to caller with type. */
KMEM_READS_FREED static void
header_report(void *addr, struct malloc_type *type, const char *caller,
    const mtype_header_t *hdr)
{
	char where[MTYPE_NAMELEN + 64];
	kmem_snprintf(where, sizeof (where), "%s(%p, \"%s\")", caller, addr,
	    type->ks_shortdesc);
	if (addr == NULL) {
		kmem_report("%s: NULL is not an allocation (free(9) does not "
		    "take NULL)", where);
		return;
	}
	if (hdr == NULL) {
		kmem_report("%s: not memory from mtype_malloc()", where);
		return;
	}
	uint64_t mix = (uint64_t)(uintptr_t)hdr;
	const struct malloc_type *live = (const struct malloc_type *)
	    (uintptr_t)(hdr->tag ^ mix ^ (hdr->size * TAG_SIZE_MIX) ^ TAG_LIVE);
	const struct malloc_type *freed = (const struct malloc_type *)
	    (uintptr_t)(hdr->tag ^ mix ^ TAG_FREED);
	if (type_known(live))
		kmem_report("%s: wrong type: the memory was allocated with "
		    "type \"%s\"", where, live->ks_shortdesc);
	else if (freed == type || type_known(freed))
		kmem_report("%s: double free: the memory was freed already "
		    "(as type \"%s\")", where, freed->ks_shortdesc);
	else
		kmem_report("%s: not memory from mtype_malloc(), or its header "
		    "was overwritten", where);
}

/* addr's header, after checking it was allocated with type; or NULL. */
KMEM_READS_FREED static mtype_header_t *
header_check(void *addr, struct malloc_type *type, const char *caller)
{
	mtype_header_t *hdr = (mtype_header_t *)((uintptr_t)addr -
	    sizeof (mtype_header_t));
	if (addr == NULL || ((uintptr_t)addr & 15) != 0 ||
	    !header_readable(hdr)) {
		header_report(addr, type, caller, NULL);
		return (NULL);
	}
	if (hdr->tag != header_tag(type, hdr, hdr->size, TAG_LIVE)) {
		header_report(addr, type, caller, hdr);
		return (NULL);
	}
	return (hdr);
}

/* Free a checked allocation of type. */
static void
mtype_release(struct malloc_type *type, mtype_header_t *hdr)
{
	struct mtype_state *ms = state_of(type);
	size_t size = (size_t)hdr->size, total = 0, mem = 0;
	(void) mtype_sizes(size, &total, &mem);
	unsigned b = bucket_of(size);
	hdr->tag = header_tag(type, hdr, 0, TAG_FREED);

	kmem_mutex_enter(&ms->lock);
	ms->inuse--;
	ms->bytes_inuse -= size;
	ms->frees++;
	ms->bucket[b].inuse--;
	account_release(ms, mem);
	kmem_mutex_exit(&ms->lock);
	kmem_free(hdr, total);
}

void
mtype_free(void *addr, struct malloc_type *type)
{
	if (!type_ok(type, "mtype_free"))
		return;
	mtype_header_t *hdr = header_check(addr, type, "mtype_free");
	if (hdr != NULL)
		mtype_release(type, hdr);
}

void *
mtype_realloc(void *addr, size_t size, struct malloc_type *type, int flags)
{
	if (addr == NULL)
		return (mtype_malloc(size, type, flags));
	struct mtype_state *ms = live_state_of(type, "mtype_realloc");
	if (ms == NULL || !flags_ok(flags, "mtype_realloc", size, type))
		return (NULL);
	mtype_header_t *hdr = header_check(addr, type, "mtype_realloc");
	if (hdr == NULL)
		return (NULL);
	if (size == 0) {
		mtype_release(type, hdr);
		return (NULL);
	}
	size_t old = (size_t)hdr->size;
	void *moved = mtype_alloc(ms, type, size, flags & ~M_ZERO,
	    "mtype_realloc");
	if (moved == NULL)
		return (NULL);
	memcpy(moved, addr, old < size ? old : size);
	if ((flags & M_ZERO) && size > old)
		memset((char *)moved + old, 0, size - old);
	mtype_release(type, hdr);
	return (moved);
}

/* ---- statistics ---- */

static void
stats_fill(struct malloc_type *type, mtype_stats_t *st)
{
	*st = (mtype_stats_t){ 0 };
	kmem_snprintf(st->name, sizeof (st->name), "%s",
	    type->ks_shortdesc != NULL ? type->ks_shortdesc : "");
	st->attached = (int)__atomic_load_n(&type->ks_attached,
	    __ATOMIC_ACQUIRE);
	st->limit = type->ks_limit;
	struct mtype_state *ms = __atomic_load_n(&type->ks_state,
	    __ATOMIC_ACQUIRE);
	if (ms == NULL)
		return;
	kmem_mutex_enter(&ms->lock);
	st->inuse = ms->inuse;
	st->bytes_inuse = ms->bytes_inuse;
	st->mem_inuse = ms->mem_inuse;
	st->mem_max = ms->mem_max;
	st->limit = ms->limit;
	st->calls = ms->calls;
	st->fails = ms->fails;
	st->frees = ms->frees;
	st->limit_hits = ms->limit_hits;
	st->limit_waits = ms->limit_waits;
	memcpy(st->bucket, ms->bucket, sizeof (st->bucket));
	kmem_mutex_exit(&ms->lock);
}

int
mtype_stats(struct malloc_type *type, mtype_stats_t *st)
{
	if (!type_ok(type, "mtype_stats"))
		return (-1);
	stats_fill(type, st);
	return (0);
}

void
mtype_walk(void (*fn)(void *arg, const mtype_stats_t *st), void *arg)
{
	kmem_mutex_enter(&mtype_list_lock);
	for (struct malloc_type *type = mtype_list; type != NULL;) {
		type->ks_busy++;
		kmem_mutex_exit(&mtype_list_lock);

		mtype_stats_t st;
		stats_fill(type, &st);
		fn(arg, &st);

		kmem_mutex_enter(&mtype_list_lock);
		if (--type->ks_busy == 0)
			kmem_cv_broadcast(&mtype_list_cv);
		type = type->ks_next;
	}
	kmem_mutex_exit(&mtype_list_lock);
}

/* ---- the table ---- */

#define MTYPE_HEAD_FORMAT "%-20s %7s %8s %8s %8s %9s %5s %s"
#define MTYPE_ROW_FORMAT "%-20s %7llu %7lluK %7lluK %8s %9llu %5llu %s"

typedef struct mtype_table_out {
	void (*emit)(void *, const char *);
	void *arg;
} mtype_table_out_t;

static void
table_line(const mtype_table_out_t *out, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	kmem_vsnprintf(line, sizeof (line), fmt, ap);
	va_end(ap);
	out->emit(out->arg, line);
}

static unsigned long long
kilobytes(uint64_t bytes)
{
	return ((unsigned long long)((bytes + 1023) / 1024));
}

static void
table_row(void *arg, const mtype_stats_t *st)
{
	char sizes[320] = "";
	size_t len = 0;
	for (unsigned b = 0; b < MTYPE_BUCKETS && len < sizeof (sizes); b++) {
		if (st->bucket[b].calls == 0)
			continue;
		if (b < MTYPE_BUCKETS - 1)
			len += kmem_snprintf(sizes + len, sizeof (sizes) - len,
			    "%s%zu", len != 0 ? "," : "", mtype_bucket_size(b));
		else
			len += kmem_snprintf(sizes + len, sizeof (sizes) - len,
			    "%s>%zu", len != 0 ? "," : "",
			    mtype_bucket_size(b - 1));
	}
	if (len == 0)
		kmem_snprintf(sizes, sizeof (sizes), "-");
	char limit[24];
	if (st->limit == 0)
		kmem_snprintf(limit, sizeof (limit), "-");
	else
		kmem_snprintf(limit, sizeof (limit), "%lluK",
		    kilobytes(st->limit));
	table_line(arg, MTYPE_ROW_FORMAT, st->name,
	    (unsigned long long)st->inuse, kilobytes(st->mem_inuse),
	    kilobytes(st->mem_max), limit, (unsigned long long)st->calls,
	    (unsigned long long)st->fails, sizes);
}

void
mtype_table_of(mtype_rows_t *rows, void *src, kmem_emit_t *emit, void *arg)
{
	mtype_table_out_t out = { emit, arg };
	table_line(&out, "%s", "Memory statistics by type");
	table_line(&out, MTYPE_HEAD_FORMAT, "Type", "InUse", "MemUse",
	    "HighUse", "Limit", "Requests", "Fail", "Size(s)");
	rows(src, table_row, &out);
}

void
mtype_rows_live(void *src, void (*row)(void *row_arg, const mtype_stats_t *st),
    void *row_arg)
{
	(void) src;
	mtype_walk(row, row_arg);
}

void
mtype_table(void (*emit)(void *arg, const char *line), void *arg)
{
	mtype_table_of(mtype_rows_live, NULL, emit, arg);
}

/* ---- fork (kmem_fork.c) ---- */

/*
 * Take the list lock, then the lock of every type in use; fork() runs
 * between this and mtype_fork_exit().  A type's state is made under the
 * list lock, so none appears meanwhile.  Nobody holds two of these at once.
 */
void
mtype_fork_enter(void)
{
	kmem_mutex_enter_for_fork(&mtype_list_lock);
	for (struct malloc_type *t = mtype_list; t != NULL; t = t->ks_next)
		if (t->ks_state != NULL)
			kmem_mutex_enter_for_fork(&t->ks_state->lock);
}

void
mtype_fork_exit(void)
{
	for (struct malloc_type *t = mtype_list; t != NULL; t = t->ks_next)
		if (t->ks_state != NULL)
			kmem_mutex_exit_for_fork(&t->ks_state->lock);
	kmem_mutex_exit_for_fork(&mtype_list_lock);
}
