/*
 * The tag after each buffer of a cache with debug flags (KMF_BUFTAG; the
 * layout is set by cache_layout() in kmem_cache.c).  Caches with a tag have
 * no magazine layer, so every allocation and free of theirs passes here and
 * the fast paths of all other caches pay nothing for it.
 *
 * For now the tag keeps two things:
 * - a state word, the buffer's address XORed with KMEM_BUFTAG_ALLOC or
 *   KMEM_BUFTAG_FREE: a second free of a buffer, or a free of something
 *   whose tag does not say "allocated here", is caught at free time;
 * - a redzone after the buffer holding KMEM_REDZONE_PATTERN: a write past
 *   the end of the buffer is caught when the buffer is freed.
 * The debugging layer builds its patterns, audit trail and reports on it.
 */
#include "kmem_impl.h"

#include "report.h"

static kmem_buftag_t *
buftag_of(const kmem_cache_t *cp, void *buf)
{
	return ((kmem_buftag_t *)((uintptr_t)buf + cp->buftag_offset));
}

void
kmem_buftag_init(kmem_cache_t *cp, void *buf)
{
	kmem_buftag_t *bt = buftag_of(cp, buf);
	bt->redzone = KMEM_REDZONE_PATTERN;
	bt->state = (uintptr_t)buf ^ KMEM_BUFTAG_FREE;
	bt->audit = NULL;
}

bool
kmem_debug_alloc(kmem_cache_t *cp, void *buf)
{
	kmem_buftag_t *bt = buftag_of(cp, buf);
	if (bt->state != ((uintptr_t)buf ^ KMEM_BUFTAG_FREE)) {
		kmem_report("kmem_cache_alloc(\"%s\"): the free buffer %p has a "
		    "damaged tag: something wrote to it after it was freed, or "
		    "past the end of the buffer before it", cp->name, buf);
		return (false);
	}
	bt->state = (uintptr_t)buf ^ KMEM_BUFTAG_ALLOC;
	return (true);
}

bool
kmem_debug_free(kmem_cache_t *cp, void *buf)
{
	kmem_buftag_t *bt = buftag_of(cp, buf);
	if (bt->state == ((uintptr_t)buf ^ KMEM_BUFTAG_FREE)) {
		kmem_report("kmem_cache_free(\"%s\", %p): double free", cp->name,
		    buf);
		return (false);
	}
	if (bt->state != ((uintptr_t)buf ^ KMEM_BUFTAG_ALLOC)) {
		kmem_report("kmem_cache_free(\"%s\", %p): the buffer's tag is "
		    "damaged: a write past the end of the buffer, or not an "
		    "allocated buffer", cp->name, buf);
		return (false);
	}
	if (bt->redzone != KMEM_REDZONE_PATTERN) {
		/* Report the overrun; the buffer itself can still be freed. */
		kmem_report("kmem_cache_free(\"%s\", %p): redzone overrun: "
		    "something wrote past the end of the %zu-byte buffer",
		    cp->name, buf, cp->bufsize);
		bt->redzone = KMEM_REDZONE_PATTERN;
	}
	bt->state = (uintptr_t)buf ^ KMEM_BUFTAG_FREE;
	return (true);
}

unsigned
kmem_audit_stack(kmem_cache_t *cp, void *buf, uintptr_t *pcs, unsigned max)
{
	(void) cp;
	(void) buf;
	(void) pcs;
	(void) max;
	return (0);
}
