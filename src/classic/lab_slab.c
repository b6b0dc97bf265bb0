/*
 * The laboratory's slab row: kmem's object caches (kmem_cache.c) serving
 * the same workload as the classic allocators, on a region of the same
 * budget.
 *
 * The instance is a vmem arena over the region, with a page quantum as
 * kmem's default arena has, and caches created on it: one per object type
 * of the workload, as a kernel has one per structure, and, created on
 * first use, one per kmem_alloc size class for untyped requests; untyped
 * requests beyond the largest class take pages from the arena directly, as
 * kmem_alloc's kmem_oversize does.  It is the slab layer of Bonwick (1994),
 * the design the chapter ends with: the caches have no magazines
 * (KMC_NOMAGAZINE), so every buffer is in its slab, where the walk can see
 * it, and no thread holds memory the lab cannot account for.  The magazine
 * layer's speed is bench/kmem_pair's subject.
 *
 * The laboratory's grain is 16 bytes, so every cache here aligns to 16:
 * kmem_alloc's 8-byte steps below 128 become 16-byte steps.
 *
 * States: a slab's buffers are ALLOCATED or CACHED (free in the slab,
 * constructed, kept for its cache); the rest of a slab -- colour, in-slab
 * header, the tail too small for a buffer -- is OVERHEAD.  Slab headers
 * and bufctls of large-buffer caches live outside the region and count as
 * metadata, with the caches and the arena's segments.
 *
 * Locking: none of its own.  A class cache is published with a
 * compare-and-swap (two threads that race to create one keep the first and
 * destroy the other); the walk and the statistics see each cache's slabs
 * through kmem_cache_walk_slabs(), under that cache's slab lock in turn.
 */
#include <kmem/classic.h>
#include <kmem/kmem.h>
#include <kmem/vmem.h>

#include "base/bits.h"
#include "base/format.h"
#include "classic/classic_impl.h"
#include "kmem/kmem_query.h"
#include "platform/platform.h"

struct slab_lab {
	vmem_t *arena;
	void *region;
	size_t size;
	size_t bytes;                   /* of this structure */
	kmem_cache_t *classes[KMEM_ALLOC_CLASSES];
	size_t ntypes;
	kmem_cache_t *types[];
};

static kmem_cache_t *
slab_lab_cache_create(struct slab_lab *sl, const char *name, size_t size)
{
	return (kmem_cache_create(name, size, KMEM_LAB_GRAIN, NULL, NULL, NULL,
	    NULL, sl->arena, KMC_NOMAGAZINE));
}

static void slab_lab_destroy(void *inst);

static void *
slab_lab_create(size_t budget, const struct kmem_lab_type *types,
    size_t ntypes)
{
	size_t bytes;
	struct slab_lab *sl = classic_meta_alloc(sizeof (*sl) + ntypes *
	    sizeof (kmem_cache_t *), &bytes);
	if (sl == NULL)
		return (NULL);
	sl->bytes = bytes;
	sl->size = budget;
	sl->region = kmem_pages_alloc(budget);
	if (sl->region != NULL)
		sl->arena = vmem_create("kmlab-slab", sl->region, budget,
		    kmem_pagesize(), NULL, NULL, NULL, 0, VM_NOSLEEP);
	if (sl->arena == NULL) {
		slab_lab_destroy(sl);
		return (NULL);
	}
	for (size_t t = 0; t < ntypes; t++) {
		sl->types[t] = slab_lab_cache_create(sl, types[t].name,
		    types[t].size);
		if (sl->types[t] == NULL) {
			slab_lab_destroy(sl);
			return (NULL);
		}
		sl->ntypes = t + 1;
	}
	return (sl);
}

static void
slab_lab_destroy(void *inst)
{
	struct slab_lab *sl = inst;
	for (size_t t = 0; t < sl->ntypes; t++)
		kmem_cache_destroy(sl->types[t]);
	for (size_t c = 0; c < KMEM_ALLOC_CLASSES; c++) {
		if (sl->classes[c] != NULL)
			kmem_cache_destroy(sl->classes[c]);
	}
	if (sl->arena != NULL)
		vmem_destroy(sl->arena);
	if (sl->region != NULL)
		kmem_pages_free(sl->region, sl->size);
	kmem_pages_free(sl, sl->bytes);
}

/* Is (size, type) served by the arena itself rather than by a cache? */
static bool
slab_lab_large(const struct slab_lab *sl, size_t size, int type)
{
	return ((type < 0 || (size_t)type >= sl->ntypes) && size > KMEM_MAXBUF);
}

/* The cache that serves (size, type), not large; NULL if it cannot be made. */
static kmem_cache_t *
slab_lab_cache(struct slab_lab *sl, size_t size, int type)
{
	if (type >= 0 && (size_t)type < sl->ntypes)
		return (sl->types[type]);
	size_t class_size;
	unsigned c = kmem_alloc_class(size == 0 ? KMEM_LAB_GRAIN :
	    p2_roundup(size, KMEM_LAB_GRAIN), &class_size);
	kmem_cache_t *cp = __atomic_load_n(&sl->classes[c], __ATOMIC_ACQUIRE);
	if (cp != NULL)
		return (cp);
	char name[VMEM_NAMELEN];
	kmem_snprintf(name, sizeof (name), "kmlab_alloc_%zu", class_size);
	kmem_cache_t *mine = slab_lab_cache_create(sl, name, class_size);
	if (mine == NULL)
		return (NULL);
	if (__atomic_compare_exchange_n(&sl->classes[c], &cp, mine, false,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return (mine);
	kmem_cache_destroy(mine);       /* another thread's came first */
	return (cp);
}

/* Call fn(arg, cp) for every cache of the instance. */
static void
slab_lab_each_cache(struct slab_lab *sl,
    void (*fn)(void *arg, kmem_cache_t *cp), void *arg)
{
	for (size_t t = 0; t < sl->ntypes; t++)
		fn(arg, sl->types[t]);
	for (size_t c = 0; c < KMEM_ALLOC_CLASSES; c++) {
		kmem_cache_t *cp = __atomic_load_n(&sl->classes[c],
		    __ATOMIC_ACQUIRE);
		if (cp != NULL)
			fn(arg, cp);
	}
}

static void
slab_lab_reap_cache(void *arg, kmem_cache_t *cp)
{
	(void) arg;
	kmem_cache_reap_now(cp);
}

static void *
slab_lab_try(struct slab_lab *sl, size_t size, int type)
{
	if (slab_lab_large(sl, size, type))
		return (vmem_alloc(sl->arena, size, VM_NOSLEEP));
	kmem_cache_t *cp = slab_lab_cache(sl, size, type);
	return (cp != NULL ? kmem_cache_alloc(cp, KM_NOSLEEP) : NULL);
}

/*
 * When the region runs dry, the row's caches give their empty slabs back
 * and the request is tried again, as the zone row collects garbage: kmem's
 * own reap on a dry arena is spaced 100 ms apart for the whole process,
 * which would make the row's result depend on the machine's speed.
 */
static void *
slab_lab_alloc(void *inst, size_t size, int type)
{
	struct slab_lab *sl = inst;
	void *buf = slab_lab_try(sl, size, type);
	if (buf == NULL) {
		slab_lab_each_cache(sl, slab_lab_reap_cache, NULL);
		buf = slab_lab_try(sl, size, type);
	}
	return (buf);
}

static void
slab_lab_free(void *inst, void *addr, size_t size, int type)
{
	struct slab_lab *sl = inst;
	if (slab_lab_large(sl, size, type))
		vmem_free(sl->arena, addr, size);
	else    /* the cache exists: the allocation made it */
		kmem_cache_free(slab_lab_cache(sl, size, type), addr);
}

static size_t
slab_lab_held(void *inst)
{
	return (vmem_size(((struct slab_lab *)inst)->arena, VMEM_ALLOC));
}

static void
slab_lab_slab_stats(void *arg, const kmem_slab_info_t *slab)
{
	struct kmem_lab_stats *st = arg;
	size_t buffers = slab->chunks * slab->chunk_size;
	st->allocated_bytes += slab->allocated * slab->chunk_size;
	st->cached_bytes += (slab->chunks - slab->allocated) *
	    slab->chunk_size;
	st->overhead_bytes += slab->size - buffers;
	st->metadata_bytes += slab->metadata;
}

static void
slab_lab_cache_stats(void *arg, kmem_cache_t *cp)
{
	struct kmem_lab_stats *st = arg;
	st->metadata_bytes += kmem_cache_metadata_bytes(cp);
	kmem_cache_walk_slabs(cp, slab_lab_slab_stats, NULL, st);
}

static void
slab_lab_stats(void *inst, struct kmem_lab_stats *st)
{
	struct slab_lab *sl = inst;
	*st = (struct kmem_lab_stats){
		.region = sl->region,
		.region_bytes = sl->size,
		.metadata_bytes = sl->bytes,
	};
	slab_lab_each_cache(sl, slab_lab_cache_stats, st);
	size_t in_use = vmem_size(sl->arena, VMEM_ALLOC);
	size_t in_slabs = st->allocated_bytes + st->cached_bytes +
	    st->overhead_bytes;
	st->allocated_bytes += in_use - in_slabs;       /* from the arena */
	st->free_bytes = sl->size - in_use;
	classic_lab_vmem_stats(sl->arena, st);
}

struct slab_lab_walk {
	kmem_lab_walk_fn_t *fn;
	void *arg;
};

/* A slab: all overhead, then its buffers allocated, then its free ones. */
static void
slab_lab_walk_slab(void *arg, const kmem_slab_info_t *slab)
{
	const struct slab_lab_walk *w = arg;
	w->fn(w->arg, (void *)slab->base, slab->size, KMEM_LAB_OVERHEAD);
	w->fn(w->arg, (void *)slab->first, slab->chunks * slab->chunk_size,
	    KMEM_LAB_ALLOCATED);
}

static void
slab_lab_walk_free(void *arg, void *buf, size_t chunk_size)
{
	const struct slab_lab_walk *w = arg;
	w->fn(w->arg, buf, chunk_size, KMEM_LAB_CACHED);
}

static void
slab_lab_walk_cache(void *arg, kmem_cache_t *cp)
{
	kmem_cache_walk_slabs(cp, slab_lab_walk_slab, slab_lab_walk_free, arg);
}

/* The arena's allocations (slabs and large blocks), then the slabs. */
static void
slab_lab_walk(void *inst, kmem_lab_walk_fn_t *fn, void *arg)
{
	struct slab_lab *sl = inst;
	struct slab_lab_walk w = { fn, arg };
	classic_lab_vmem_walk(sl->arena, sl->region, sl->size, fn, arg);
	slab_lab_each_cache(sl, slab_lab_walk_cache, &w);
}

const struct kmem_lab_ops kmem_lab_slab_ops = {
	.name = "slab",
	.design = "kmem object caches: one per type, size classes for the "
	    "rest (Bonwick 1994)",
	.create = slab_lab_create,
	.destroy = slab_lab_destroy,
	.alloc = slab_lab_alloc,
	.free = slab_lab_free,
	.held = slab_lab_held,
	.stats = slab_lab_stats,
	.walk = slab_lab_walk,
};
