/*
 * kmem_alloc(), kmem_zalloc(), kmem_free(): general-purpose allocation from
 * a table of size-class caches, "kmem_alloc_<size>", and from the
 * kmem_oversize arena above KMEM_MAXBUF.
 *
 * Size classes: every multiple of 8 up to 128, then eight classes for each
 * power of two up to 128 KiB (144, 160, ... 256, 288, ... 512, ...), so a
 * request never gets more than 1/8 more than it asked for, beyond the
 * 8-byte rounding of the smallest classes.  A size up to 1024 finds its
 * cache in one table lookup indexed by (size + 7) / 8, a larger one in
 * another indexed by (size - 1) / 128 (kmem_fast.h).
 * A class's buffers are aligned to the largest power of two that divides
 * its size, up to a page: 16 for 48, 64 for 192, a page for 12 KiB.
 *
 * Both tables start out pointing at kmem_null_cache, which allocates
 * nothing, and each class's slots keep pointing there until the class is
 * first asked for: a process that uses 20 of the 96 classes pays for 20
 * cache structures (about a KiB each), not 96, and its threads' slot
 * arrays hold as many slots as it has caches.  The first kmem_alloc() or
 * malloc() of a class falls into the slow path through the placeholder,
 * whose magazines are always empty -- the fast path has no test for it --
 * and the slow path (kmem_alloc_class_cache()) starts kmem if it must,
 * makes the class's cache and publishes it in all its slots, then
 * retries.  Other threads may read the tables meanwhile: a slot is
 * published with a release store once its cache is complete, and read
 * with an acquire load (a plain load on x86).
 *
 * Class creation holds kmem_classes_lock, so two threads asking for a new
 * class at once make it once (the second finds it made), fork() never
 * copies a half-made class (kmem_fork.c takes that lock), and
 * kmem_malloc_divert() sees every class either made already or making
 * itself with the recorder's switch set.  Asynchronous signals are
 * blocked meanwhile, as in the bootstrap: a handler that mallocs a new
 * class would wait for itself.  Frees find their cache through the page
 * map, and a buffer's class exists before any of its buffers does; a
 * kmem_free() naming a class not yet made reaches kmem_null_cache's slow
 * path, which reports it as the bad free it is.  The statistics walk
 * (kmem_alloc_class_walk()) visits the classes made so far.  The lock
 * ranks below the move pass's, which allocates with it held, and above
 * the bootstrap's, which may make classes.

 * kmem_free() must be given the size that was allocated (any size of the
 * same class will do, or of the same number of pages above KMEM_MAXBUF).
 * The cache's ownership check (kmem_cache.c) turns a size of another class
 * into a report naming the class the buffer really came from; above
 * KMEM_MAXBUF, kmem_oversize's hash checks the size.  Either side's check
 * asks the other when it does not know the buffer, so a size on the wrong
 * side of KMEM_MAXBUF is reported as a wrong size, naming the class or the
 * large buffer's size (kmem_bad_free()).
 */
#include "kmem_impl.h"

#include "base/format.h"
#include "base/lock_order.h"
#include "base/report.h"
#include "vmem/vmem_impl.h"

#define CLASSES_PER_P2  8
#define LARGE_SLOTS     (KMEM_MAXBUF >> KMEM_ALLOC_LARGE_SHIFT)

_Static_assert(KMEM_ALLOC_SMALL / CLASSES_PER_P2 ==
    (1 << KMEM_ALLOC_LARGE_SHIFT), "large classes fill whole slots");

kmem_cache_t *kmem_alloc_small[KMEM_ALLOC_SMALL / 8 + 1] = {
	[0 ... KMEM_ALLOC_SMALL / 8] = &kmem_null_cache
};
kmem_cache_t *kmem_alloc_large[LARGE_SLOTS] = {
	[0 ... LARGE_SLOTS - 1] = &kmem_null_cache
};

/* The largest power of two dividing size, up to a page. */
static size_t
class_align(size_t size)
{
	size_t align = (size_t)1 << (lowbit(size) - 1);
	return (align < kmem_pagesize() ? align : kmem_pagesize());
}

/*
 * Make the cache of class size (kmem_classes_lock held), allocating its
 * structure as kmflag says; NULL when memory ran out, or kmem has the most
 * caches it can have (reported by kmem_cache_create_in()).
 */
static kmem_cache_t *
class_create(size_t size, int kmflag)
{
	char name[VMEM_NAMELEN];
	kmem_snprintf(name, sizeof (name), "kmem_alloc_%zu", size);
	kmem_cache_t *cp = kmem_cache_alloc(kmem_cache_cache, kmflag & KM_VMFLAGS);
	if (cp == NULL)
		return (NULL);
	if (kmem_cache_create_in(cp, name, size, class_align(size), NULL, NULL,
	    NULL, NULL, kmem_default,
	    kmem_firewall_wants(size) ? KMF_FIREWALL : 0) == NULL) {
		kmem_cache_free(kmem_cache_cache, cp);
		return (NULL);
	}
	cp->cache_flags |= KMF_CLASS;
	kmem_cache_mark_frees(cp);
	KMEM_ASSERT(cp->cache_mark_offset == 0);  /* kmem_mark_word() */
	if (kmem_malloc_diverted)
		cp->cache_fast_offset = UINT32_MAX;
	return (cp);
}

/* The size of the class below class_size's (0 below the first). */
static size_t
class_below(size_t class_size)
{
	if (class_size <= 128)
		return (class_size - 8);
	return (class_size - ((size_t)1 << (highbit(class_size - 1) - 4)));
}

/* Point every slot of class class_size's sizes at cp, its new cache. */
static void
class_publish(kmem_cache_t *cp, size_t class_size)
{
	size_t below = class_below(class_size);
	if (class_size <= KMEM_ALLOC_SMALL) {
		for (size_t slot = below / 8 + 1; slot <= class_size / 8; slot++)
			__atomic_store_n(&kmem_alloc_small[slot], cp,
			    __ATOMIC_RELEASE);
	} else {
		for (size_t slot = kmem_alloc_large_index(below + 1);
		    slot <= kmem_alloc_large_index(class_size); slot++)
			__atomic_store_n(&kmem_alloc_large[slot], cp,
			    __ATOMIC_RELEASE);
	}
	KMEM_ASSERT(kmem_alloc_cache(below + 1) == cp &&
	    kmem_alloc_cache(class_size) == cp);
}

/*
 * The slow path of a class's first use: make its cache unless another
 * thread did meanwhile (see the top of this file).
 */
kmem_mutex_t kmem_classes_lock = KMEM_MUTEX_INITIALIZER(KMEM_RANK_CLASSES);

static kmem_cache_t *
class_make(size_t size, int kmflag)
{
	size_t class_size;
	(void) kmem_alloc_class(size, &class_size);
	kmem_signals_t signals;
	kmem_signals_block(&signals);
	kmem_mutex_enter(&kmem_classes_lock);
	kmem_cache_t *cp = kmem_alloc_cache(class_size);
	if (cp == &kmem_null_cache) {
		cp = class_create(class_size, kmflag);
		if (cp != NULL)
			class_publish(cp, class_size);
	}
	kmem_mutex_exit(&kmem_classes_lock);
	kmem_signals_restore(&signals);
	return (cp);
}

kmem_cache_t *
kmem_alloc_class_cache(size_t size, int kmflag)
{
	kmem_cache_t *cp = kmem_alloc_cache(size);
	if (cp != &kmem_null_cache)
		return (cp);
	kmem_init();
	return (class_make(size, kmflag));
}

/*
 * The recorder's switch (kmem_query.h).  Only the class caches change:
 * they serve kmem_alloc() too, whose calls then take the slow paths as
 * well (a call longer, not different: they carry no KM_MALLOC_ENTRY and
 * no KMEM_FREE_MALLOC, so no hook records them).
 */
bool kmem_malloc_diverted;
void *(*kmem_malloc_alloc_hook)(void *buf, size_t requested);
void (*kmem_malloc_free_hook)(void *buf);
void (*kmem_malloc_slow_hook)(void);

void
kmem_malloc_divert(void *(*alloc_hook)(void *buf, size_t requested),
    void (*free_hook)(void *buf), void (*slow_hook)(void))
{
	kmem_malloc_alloc_hook = alloc_hook;
	kmem_malloc_free_hook = free_hook;
	kmem_malloc_slow_hook = slow_hook;
	/* Under class creation's lock: a class made from now on sees the
	 * switch, one made before is in the tables (see the top). */
	kmem_signals_t signals;
	kmem_signals_block(&signals);
	kmem_mutex_enter(&kmem_classes_lock);
	__atomic_store_n(&kmem_malloc_diverted, true, __ATOMIC_RELEASE);
	for (size_t i = 0; i <= KMEM_ALLOC_SMALL / 8; i++)
		__atomic_store_n(&__atomic_load_n(&kmem_alloc_small[i],
		    __ATOMIC_ACQUIRE)->cache_fast_offset, UINT32_MAX,
		    __ATOMIC_RELAXED);
	for (size_t i = 0; i < LARGE_SLOTS; i++)
		__atomic_store_n(&__atomic_load_n(&kmem_alloc_large[i],
		    __ATOMIC_ACQUIRE)->cache_fast_offset, UINT32_MAX,
		    __ATOMIC_RELAXED);
	kmem_mutex_exit(&kmem_classes_lock);
	kmem_signals_restore(&signals);
}

unsigned
kmem_alloc_class(size_t size, size_t *class_size)
{
	KMEM_ASSERT(size - 1 < KMEM_MAXBUF);
	if (size <= 128) {
		*class_size = (size + 7) & ~(size_t)7;
		return ((unsigned)(size + 7) / 8 - 1);
	}
	unsigned hb = highbit(size - 1);        /* 8 for 129 .. 256 */
	size_t eighth = (size - 1) >> (hb - 4);  /* 8 .. 15 */
	*class_size = (eighth + 1) << (hb - 4);
	return (16 + (hb - 8) * CLASSES_PER_P2 + (unsigned)(eighth - 8));
}

void
kmem_alloc_class_walk(void (*visit)(void *arg, kmem_cache_t *cp), void *arg)
{
	if (!kmem_initialized())
		return;
	kmem_cache_t *last = NULL;
	for (size_t i = 1; i <= KMEM_ALLOC_SMALL / 8; i++) {
		kmem_cache_t *cp = __atomic_load_n(&kmem_alloc_small[i],
		    __ATOMIC_ACQUIRE);
		if (cp != last && cp != &kmem_null_cache)
			visit(arg, cp);
		last = cp;
	}
	for (size_t slot = kmem_alloc_large_index(KMEM_ALLOC_SMALL + 1);
	    slot < LARGE_SLOTS; slot++) {
		kmem_cache_t *cp = __atomic_load_n(&kmem_alloc_large[slot],
		    __ATOMIC_ACQUIRE);
		if (cp != last && cp != &kmem_null_cache)
			visit(arg, cp);
		last = cp;
	}
}

/* The bytes a large buffer of size takes of kmem_oversize (its quantum is
 * a page), as kmem's footprint counts them (kmem_footprint.c). */
static uint64_t
oversize_bytes(size_t size)
{
	return (p2_roundup(size, kmem_pagesize()));
}

/* Out of line, so that kmem_alloc() keeps no registers for it. */
static __attribute__((noinline)) void *
oversize_alloc(size_t size, int kmflag)
{
	if (size == 0) {
		kmem_warn("kmem_alloc(0): a request of size 0 returns NULL");
		return (NULL);
	}
	kmem_init();
	bool firewall = kmem_firewall_wants(size);
	void *buf = firewall ? kmem_firewall_alloc(NULL, size, KMEM_ALIGN) :
	    vmem_alloc(kmem_oversize, size, kmflag & KM_VMFLAGS);
	if (buf == NULL) {
		kmem_debug_alloc_failed(NULL, size);
		return (NULL);
	}
	if (!firewall) {
		kmem_slab_purge_footprint_grows(oversize_bytes(size));
		kmem_footprint_add(oversize_bytes(size));
	}
	kmem_block_allocated(buf, size, false);
	return (buf);
}

void *
kmem_alloc(size_t size, int kmflag)
{
	kmem_cache_t *cp = kmem_alloc_cache(size);
	if (cp == NULL)
		return (oversize_alloc(size, kmflag));
	void *buf = kmem_cache_alloc_inline(cp, kmflag, size);
	if (__builtin_expect(buf == NULL, 0)) {
		/* The class's first use (or kmem's): make it, and retry. */
		if (cp != &kmem_null_cache ||
		    kmem_alloc_class_cache(size, kmflag) == NULL)
			return (NULL);
		return (kmem_alloc(size, kmflag));
	}
	/* Only what was asked for may be touched (poison.h); a firewalled
	 * buffer ends before the class size does, against its guard page. */
	if (!(cp->cache_flags & KMF_FIREWALL))
		kmem_poison((char *)buf + size, cp->cache_bufsize - size);
	kmem_block_allocated(buf, size, false);
	return (buf);
}

void *
kmem_zalloc(size_t size, int kmflag)
{
	void *buf = kmem_alloc(size, kmflag);
	if (buf != NULL)
		__builtin_memset(buf, 0, size);
	return (buf);
}

/*
 * Out of line, so that kmem_free() keeps no registers for it.  It may be
 * the first call into kmem, before kmem_oversize exists, so it starts kmem
 * (the debug settings, the arena); then buf must be a large buffer of this
 * size, or kmem_bad_free() says what it is: a class buffer (wrong size), a
 * large one of another size, or nothing of ours.
 */
static __attribute__((noinline)) void
oversize_free(void *buf, size_t size)
{
	if (size == 0) {
		if (buf != NULL)
			kmem_report("kmem_free(%p, 0): size 0, but kmem_alloc(0) "
			    "never returns a buffer", buf);
		return;
	}
	kmem_init();
	if (kmem_firewall_free(NULL, buf, size))
		return;
	if (vmem_free_if_allocated(kmem_oversize, buf, size))
		kmem_footprint_sub(oversize_bytes(size));
	else
		kmem_bad_free(NULL, buf, size);
}

void
kmem_free(void *buf, size_t size)
{
	if (buf != NULL)
		kmem_block_freed(buf);
	kmem_cache_t *cp = kmem_alloc_cache(size);
	if (cp != NULL)
		kmem_cache_free_inline(cp, buf, size);
	else
		oversize_free(buf, size);
}

/* ---- for typed malloc and malloc (kmem_query.h) ---- */

bool
kmem_alloc_readable(const void *buf, size_t len)
{
	const kmem_slab_t *sp = kmem_pagemap_find((uintptr_t)buf);
	if (sp != NULL)
		return ((sp->slab_cache->cache_flags & KMF_CLASS) &&
		    kmem_cache_owns(sp->slab_cache, buf));
	return (kmem_oversize != NULL &&
	    vmem_contains(kmem_oversize, (void *)(uintptr_t)buf, len));
}

void *
kmem_large_alloc(size_t size, size_t align)
{
	kmem_init();
	void *buf;
	bool firewall = false;
	if (align > kmem_pagesize())
		buf = vmem_xalloc(kmem_oversize, size, align, 0, 0, NULL, NULL,
		    VM_NOSLEEP);
	else if ((firewall = kmem_firewall_wants(size)))
		buf = kmem_firewall_alloc(NULL, size, kmem_pagesize());
	else
		buf = vmem_alloc(kmem_oversize, size, VM_NOSLEEP | VM_BESTFIT);
	if (buf == NULL) {
		kmem_debug_alloc_failed(NULL, size);
		return (NULL);
	}
	if (!firewall) {
		kmem_slab_purge_footprint_grows(oversize_bytes(size));
		kmem_footprint_add(oversize_bytes(size));
	}
	kmem_block_allocated(buf, size, false);
	return (buf);
}

/* The size of buf, a large buffer of kmem_oversize's, or 0. */
static size_t
oversize_size(const void *buf)
{
	if (((uintptr_t)buf & (kmem_pagesize() - 1)) != 0 ||
	    kmem_oversize == NULL)
		return (0);
	return (vmem_alloc_size(kmem_oversize, buf));
}

size_t
kmem_large_size(const void *buf)
{
	size_t size = kmem_firewall_size(buf);
	return (size != 0 ? size : oversize_size(buf));
}

bool
kmem_large_stats(vmem_stats_t *st)
{
	if (!kmem_initialized())
		return (false);
	return (vmem_stats(kmem_oversize, st) == 0);
}

bool
kmem_large_free(void *buf)
{
	if (kmem_firewall_free(NULL, buf, KMEM_FREE_MALLOC))
		return (true);
	size_t size = oversize_size(buf);
	if (size == 0)
		return (false);
	vmem_free(kmem_oversize, buf, size);
	kmem_footprint_sub(oversize_bytes(size));
	return (true);
}
