/*
 * The page map: from an address to the slab that holds it, for every slab
 * of a cache in touchable memory (KMF_PAGEMAP).  kmem_cache_free() asks it
 * before a buffer reaches a magazine, so a buffer freed to the wrong cache,
 * an interior pointer or a pointer that was never a buffer is caught at
 * once, without reading memory the pointer may not own; and a cache of
 * small buffers finds the slab header of a buffer through it.
 *
 * Two levels over the 4 KiB granules below 2^KMEM_VA_BITS: a root of leaf
 * pointers in .bss (2^17 entries; only the pages of it that are touched
 * cost memory) and leaves of 2^18 slab pointers (2 MiB each, one per GiB
 * of address space) taken from the page source on first use and kept.
 * Slabs are multiples of the page size, itself a multiple of the granule,
 * so a granule belongs to at most one slab.
 *
 * Lookups (kmem_pagemap_find() in kmem_fast.h) take no lock: a leaf is
 * published with a release store, and a slab is entered before any of its
 * buffers is handed out, so before anyone can free one.  Insertions and
 * removals take kmem_pagemap_lock, a leaf lock (KMEM_RANK_PAGEMAP).
 */
#include "kmem_impl.h"

#include "base/lock_order.h"
#include "base/report.h"

#define GRANULE         ((uintptr_t)1 << KMEM_PAGEMAP_GRANULE_SHIFT)
#define LEAF_ENTRIES    ((size_t)1 << KMEM_PAGEMAP_LEAF_BITS)
#define LEAF_BYTES      (LEAF_ENTRIES * sizeof (kmem_slab_t *))

kmem_slab_t **kmem_pagemap_root[1u << KMEM_PAGEMAP_ROOT_BITS];
kmem_mutex_t kmem_pagemap_lock = KMEM_MUTEX_INITIALIZER(KMEM_RANK_PAGEMAP);

/* The entry for addr, making its leaf if need be; NULL if out of memory. */
static kmem_slab_t **
pagemap_entry(uintptr_t addr)
{
	kmem_slab_t ***rootp = &kmem_pagemap_root[addr >> KMEM_PAGEMAP_LEAF_SHIFT];
	kmem_slab_t **leaf = *rootp;
	if (leaf == NULL) {
		leaf = kmem_pages_alloc(LEAF_BYTES);
		if (leaf == NULL)
			return (NULL);
		__atomic_store_n(rootp, leaf, __ATOMIC_RELEASE);
	}
	return (&leaf[(addr >> KMEM_PAGEMAP_GRANULE_SHIFT) & (LEAF_ENTRIES - 1)]);
}

static void
pagemap_set(uintptr_t start, uintptr_t end, kmem_slab_t *sp)
{
	for (uintptr_t a = start; a < end; a += GRANULE)
		__atomic_store_n(pagemap_entry(a), sp, __ATOMIC_RELAXED);
}

bool
kmem_pagemap_insert(uintptr_t start, size_t size, kmem_slab_t *sp)
{
	uintptr_t end = start + size;
	KMEM_ASSERT(p2_phase(start | size, GRANULE) == 0);
	if (end < start || ((end - 1) >> KMEM_VA_BITS) != 0)
		return (false);

	kmem_mutex_enter(&kmem_pagemap_lock);
	for (uintptr_t a = start; a < end; a += GRANULE) {
		if (pagemap_entry(a) == NULL) {
			pagemap_set(start, a, NULL);
			kmem_mutex_exit(&kmem_pagemap_lock);
			return (false);
		}
	}
	pagemap_set(start, end, sp);
	kmem_mutex_exit(&kmem_pagemap_lock);
	return (true);
}

void
kmem_pagemap_remove(uintptr_t start, size_t size)
{
	kmem_mutex_enter(&kmem_pagemap_lock);
	pagemap_set(start, start + size, NULL);
	kmem_mutex_exit(&kmem_pagemap_lock);
}
