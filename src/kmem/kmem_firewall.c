/*
 * The firewall: buffers that end against an unmapped page, so an overrun
 * faults at the instruction that makes it.  It serves the caches created
 * with KMF_FIREWALL and the kmem_alloc() and malloc() requests at or above
 * the "firewall=size" option (kmem_cache.c, kmem_alloc.c, malloc.c).
 *
 * Each buffer has pages of its own, from the platform:
 *
 *	| header ... | buffer, ending at the guard | guard page (PROT_NONE) |
 *
 * The buffer starts at the highest address of its alignment that leaves
 * room for it; the few bytes between its end and the guard (alignment
 * slack) hold KMEM_REDZONE_BYTE and are checked at free.  The header says
 * what was asked for and by which cache, whose statistics count the buffer
 * from its allocation to its free: a kmem_alloc() class counts the
 * requests it sends here as its own, though they are freed by size or
 * address, not to the class (owner()).  A cache destroyed with
 * firewalled buffers outstanding forgets them (kmem_firewall_forget()):
 * they stay mapped, leaked, as a leaked slab does.
 *
 * A freed buffer's pages become inaccessible at once, so a use after free
 * faults too; the last FIREWALL_QUARANTINE freed regions stay that way (and
 * a second free of one of them is reported as a double free with the stack
 * of the first) before their pages go back to the platform.
 *
 * Locking: kmem_firewall_lock (KMEM_RANK_FIREWALL, a leaf) guards the hash
 * of live buffers and the quarantine; pages are mapped and unmapped, and
 * reports made, with no lock held.  fork() holds it (kmem_fork.c).
 */
#include "kmem_impl.h"

#include "base/format.h"
#include "base/lock_order.h"
#include "base/report.h"

#define FIREWALL_BUCKETS        1024
#define FIREWALL_QUARANTINE     64

kmem_mutex_t kmem_firewall_lock = KMEM_MUTEX_INITIALIZER(KMEM_RANK_FIREWALL);

typedef struct firewall_header {
	struct firewall_header *next;   /* hash chain */
	void *buf;
	size_t size;                    /* requested */
	size_t region_size;             /* with the guard page */
	kmem_cache_t *cache;            /* NULL: large kmem_alloc(), malloc() */
	unsigned depth;                 /* KMF_AUDIT: the allocation's stack */
	uintptr_t pcs[KMEM_AUDIT_DEPTH_MAX];
} firewall_header_t;

typedef struct quarantined {
	void *buf;
	void *region;
	size_t region_size;
	uint64_t thread;                /* of the free */
	unsigned depth;
	uintptr_t pcs[KMEM_AUDIT_DEPTH_MAX];
} quarantined_t;

static firewall_header_t *buckets[FIREWALL_BUCKETS];
static quarantined_t quarantine[FIREWALL_QUARANTINE];
static unsigned quarantine_next;

static firewall_header_t **
bucket_of(const void *buf)
{
	uintptr_t a = (uintptr_t)buf;
	return (&buckets[((a >> 4) ^ (a >> 16)) % FIREWALL_BUCKETS]);
}

void *
kmem_firewall_alloc(kmem_cache_t *cp, size_t size, size_t align)
{
	size_t page = kmem_pagesize();
	if (align == 0 || align > page)
		align = page;
	if (size > SIZE_MAX / 2)
		return (NULL);
	size_t data = p2_roundup(sizeof (firewall_header_t) + size + align,
	    page);
	size_t region_size = data + page;
	unsigned char *region = kmem_pages_alloc(region_size);
	if (region == NULL)
		return (NULL);
	(void) kmem_pages_protect(region + data, page, false);
	unsigned char *buf = (unsigned char *)p2_align(
	    (uintptr_t)region + data - size, align);
	__builtin_memset(buf + size, KMEM_REDZONE_BYTE, data - (size_t)(
	    buf - region) - size);
	if (kmem_debug_config.flags & KMF_DEADBEEF)
		for (size_t i = 0; i < size; i++)
			buf[i] = (unsigned char)(KMEM_UNINITIALIZED_PATTERN >>
			    (8 * ((uintptr_t)(buf + i) & 7)));

	firewall_header_t *h = (firewall_header_t *)region;
	h->buf = buf;
	h->size = size;
	h->region_size = region_size;
	h->cache = cp;
	h->depth = (kmem_debug_config.flags & KMF_AUDIT) ? kmem_backtrace(h->pcs,
	    kmem_debug_config.audit_depth, 0) : 0;
	kmem_mutex_enter(&kmem_firewall_lock);
	firewall_header_t **b = bucket_of(buf);
	h->next = *b;
	*b = h;
	kmem_mutex_exit(&kmem_firewall_lock);
	return (buf);
}

/* Take buf's header off the hash (lock held); NULL if buf is not live. */
static firewall_header_t *
unhash(const void *buf)
{
	for (firewall_header_t **pp = bucket_of(buf); *pp != NULL;
	    pp = &(*pp)->next) {
		if ((*pp)->buf == buf) {
			firewall_header_t *h = *pp;
			*pp = h->next;
			return (h);
		}
	}
	return (NULL);
}

static void
rehash(firewall_header_t *h)
{
	kmem_mutex_enter(&kmem_firewall_lock);
	firewall_header_t **b = bucket_of(h->buf);
	h->next = *b;
	*b = h;
	kmem_mutex_exit(&kmem_firewall_lock);
}

/* The cache h's buffer must be freed to; NULL for kmem_alloc()'s and
 * malloc()'s, which are freed by size or by address. */
static kmem_cache_t *
owner(const firewall_header_t *h)
{
	return (h->cache != NULL && !(h->cache->cache_flags & KMF_CLASS) ?
	    h->cache : NULL);
}

static const char *
cache_name(const kmem_cache_t *cp)
{
	return (cp != NULL ? cp->cache_name : "kmem_alloc/malloc");
}

/* The stack of the previous free of buf, a quarantined buffer, in a report. */
static void
report_double_free(const quarantined_t *q)
{
	char stack[1024];
	size_t len = 0;
	stack[0] = '\0';
	for (unsigned i = 0; i < q->depth && len + 1 < sizeof (stack); i++) {
		char name[160];
		(void) kmem_symbolize(q->pcs[i], name, sizeof (name));
		len += kmem_snprintf(stack + len, sizeof (stack) - len,
		    "\n      #%u %s", i, name);
	}
	kmem_debug_report(NULL, NULL, "double free: firewalled buffer %p "
	    "is already free\n  its free by thread %llu was at:%s", q->buf,
	    (unsigned long long)q->thread, stack);
}

bool
kmem_firewall_free(kmem_cache_t *cp, void *buf, size_t kmem_free_size)
{
	if (kmem_debug_config.firewall_size == 0 && (cp == NULL ||
	    !(cp->cache_flags & KMF_FIREWALL)))
		return (false);
	/* kmem_null_cache stands in for a class not made yet (kmem_alloc.c):
	 * a buffer of kmem_alloc()'s, as the classes' are. */
	if (cp != NULL && (cp->cache_flags & (KMF_CLASS | KMF_NULL)))
		cp = NULL;
	kmem_mutex_enter(&kmem_firewall_lock);
	firewall_header_t *h = unhash(buf);
	quarantined_t freed;
	bool again = false;
	for (unsigned i = 0; h == NULL && i < FIREWALL_QUARANTINE; i++) {
		if (quarantine[i].buf == buf && buf != NULL) {
			freed = quarantine[i];
			again = true;
		}
	}
	kmem_mutex_exit(&kmem_firewall_lock);
	if (again)
		report_double_free(&freed);
	if (h == NULL)
		return (again);

	if (owner(h) != cp) {
		rehash(h);
		kmem_debug_report(NULL, buf, "wrong cache: firewalled buffer %p "
		    "of %s freed to %s", buf, cache_name(owner(h)),
		    cache_name(cp));
		return (true);
	}
	if (kmem_free_size < KMEM_FREE_MALLOC && kmem_free_size != h->size) {
		rehash(h);
		kmem_debug_report(NULL, buf, "wrong size: kmem_free(%p, %zu), "
		    "but the firewalled buffer was allocated with %zu bytes",
		    buf, kmem_free_size, h->size);
		return (true);
	}
	unsigned char *region = (unsigned char *)h;
	unsigned char *end = region + h->region_size - kmem_pagesize();
	/* The caller's free announced the block gone (poison.h): ours now. */
	kmem_unpoison(buf, (size_t)(end - (unsigned char *)buf));
	for (unsigned char *p = (unsigned char *)buf + h->size; p < end; p++) {
		if (*p != KMEM_REDZONE_BYTE) {
			kmem_debug_report(NULL, buf, "buffer overrun: firewalled "
			    "buffer %p (%s, %zu bytes requested) was written "
			    "past its end, at offset %zu", buf,
			    cache_name(owner(h)), h->size,
			    (size_t)(p - (unsigned char *)buf));
			break;
		}
	}
	if (cp != NULL && cp->cache_destructor != NULL)
		cp->cache_destructor(buf, cp->cache_private);
	if (h->cache != NULL)
		__atomic_fetch_add(&h->cache->cache_slow_free, 1,
		    __ATOMIC_RELAXED);

	quarantined_t q = { .buf = buf, .region = region,
	    .region_size = h->region_size, .thread = kmem_thread_id() };
	q.depth = kmem_backtrace(q.pcs, kmem_debug_config.audit_depth, 0);
	(void) kmem_pages_protect(region, h->region_size - kmem_pagesize(),
	    false);
	kmem_mutex_enter(&kmem_firewall_lock);
	quarantined_t old = quarantine[quarantine_next];
	quarantine[quarantine_next] = q;
	quarantine_next = (quarantine_next + 1) % FIREWALL_QUARANTINE;
	kmem_mutex_exit(&kmem_firewall_lock);
	if (old.region != NULL)
		kmem_pages_free(old.region, old.region_size);
	return (true);
}

bool
kmem_firewall_walk(bool (*fn)(void *arg, void *buf, size_t size,
    kmem_cache_t *cp), void *arg)
{
	for (size_t i = 0; i < FIREWALL_BUCKETS; i++)
		for (firewall_header_t *h = buckets[i]; h != NULL; h = h->next)
			if (!fn(arg, h->buf, h->size, owner(h)))
				return (false);
	return (true);
}

unsigned
kmem_firewall_stack(const void *buf, uintptr_t *pcs, unsigned max)
{
	unsigned depth = 0;
	KMEM_ASSERT(kmem_mutex_held(&kmem_firewall_lock));
	for (const firewall_header_t *h = *bucket_of(buf); h != NULL;
	    h = h->next) {
		if (h->buf == buf) {
			depth = h->depth < max ? h->depth : max;
			__builtin_memcpy(pcs, h->pcs, depth * sizeof (pcs[0]));
			break;
		}
	}
	return (depth);
}

uint64_t
kmem_firewall_forget(const kmem_cache_t *cp)
{
	uint64_t forgotten = 0;
	kmem_mutex_enter(&kmem_firewall_lock);
	for (size_t i = 0; i < FIREWALL_BUCKETS; i++) {
		for (firewall_header_t **hp = &buckets[i]; *hp != NULL;) {
			if ((*hp)->cache == cp) {
				*hp = (*hp)->next;
				forgotten++;
			} else {
				hp = &(*hp)->next;
			}
		}
	}
	kmem_mutex_exit(&kmem_firewall_lock);
	return (forgotten);
}

void
kmem_firewall_discard(void *buf)
{
	kmem_mutex_enter(&kmem_firewall_lock);
	firewall_header_t *h = unhash(buf);
	kmem_mutex_exit(&kmem_firewall_lock);
	KMEM_ASSERT(h != NULL);
	kmem_pages_free(h, h->region_size);
}

size_t
kmem_firewall_size(const void *buf)
{
	if (kmem_debug_config.firewall_size == 0)
		return (0);
	size_t size = 0;
	kmem_mutex_enter(&kmem_firewall_lock);
	for (firewall_header_t *h = *bucket_of(buf); h != NULL; h = h->next)
		if (h->buf == buf)
			size = h->size;
	kmem_mutex_exit(&kmem_firewall_lock);
	return (size);
}
