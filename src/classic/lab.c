/*
 * The laboratory's table (kmem_lab_allocators[], declared in
 * <kmem/classic.h>) and its vmem rows.
 *
 * Each classic allocator defines its own struct kmem_lab_ops at the end of
 * its file, where it can see its structures; this file lists them, in the
 * chapter's order, and adds vmem three times, one row per policy (instant,
 * best and next fit), each an arena over a region of the budget's size with
 * a 16-byte quantum and no quantum caches.  kmem's caches are the slab row
 * (lab_slab.c).  Adding an allocator is one more entry in the list.
 *
 * vmem keeps its boundary tags outside the region, so a vmem row's
 * metadata is its arena structure, its segment structures (allocated,
 * free, span markers and its reserve) and its hash table once it has grown
 * out of the arena.
 */
#include <kmem/classic.h>
#include <kmem/vmem.h>

#include <string.h>

#include "classic/classic_impl.h"
#include "platform/platform.h"
#include "base/report.h"
#include "vmem/vmem_query.h"

/* ---- vmem ---- */

struct vmem_lab {
	vmem_t *vmp;
	void *region;
	size_t size;
	int policy;                     /* VM_INSTANTFIT, VM_BESTFIT, ... */
};

static void *
vmem_lab_create(size_t budget, const char *name, int policy)
{
	size_t page = kmem_pagesize();
	struct vmem_lab *vl = kmem_pages_alloc(page);
	void *region = kmem_pages_alloc(budget);
	vmem_t *vmp = region == NULL ? NULL : vmem_create(name, region, budget,
	    KMEM_LAB_GRAIN, NULL, NULL, NULL, 0, VM_NOSLEEP);
	if (vl == NULL || vmp == NULL) {
		if (vl != NULL)
			kmem_pages_free(vl, page);
		if (region != NULL)
			kmem_pages_free(region, budget);
		return (NULL);
	}
	*vl = (struct vmem_lab){ .vmp = vmp, .region = region, .size = budget,
	    .policy = policy };
	return (vl);
}

static void *
vmem_lab_create_instant(size_t budget, const struct kmem_lab_type *types,
    size_t ntypes)
{
	(void) types, (void) ntypes;
	return (vmem_lab_create(budget, "kmlab-instant", VM_INSTANTFIT));
}

static void *
vmem_lab_create_best(size_t budget, const struct kmem_lab_type *types,
    size_t ntypes)
{
	(void) types, (void) ntypes;
	return (vmem_lab_create(budget, "kmlab-best", VM_BESTFIT));
}

static void *
vmem_lab_create_next(size_t budget, const struct kmem_lab_type *types,
    size_t ntypes)
{
	(void) types, (void) ntypes;
	return (vmem_lab_create(budget, "kmlab-next", VM_NEXTFIT));
}

static void
vmem_lab_destroy(void *inst)
{
	struct vmem_lab *vl = inst;
	vmem_destroy(vl->vmp);
	kmem_pages_free(vl->region, vl->size);
	kmem_pages_free(vl, kmem_pagesize());
}

static void *
vmem_lab_alloc(void *inst, size_t size, int type)
{
	(void) type;
	struct vmem_lab *vl = inst;
	return (vmem_alloc(vl->vmp, size, vl->policy | VM_NOSLEEP));
}

static void
vmem_lab_free(void *inst, void *addr, size_t size, int type)
{
	(void) type;
	vmem_free(((struct vmem_lab *)inst)->vmp, addr, size);
}

static size_t
vmem_lab_held(void *inst)
{
	return (vmem_size(((struct vmem_lab *)inst)->vmp, VMEM_ALLOC));
}

static void
vmem_lab_largest(void *arg, void *start, size_t size)
{
	(void) start;
	size_t *largest = arg;
	if (size > *largest)
		*largest = size;
}

void
classic_lab_vmem_stats(vmem_t *vmp, struct kmem_lab_stats *st)
{
	vmem_walk(vmp, VMEM_FREE, vmem_lab_largest, &st->largest_free);
	st->metadata_bytes += vmem_metadata_bytes(vmp);
}

static void
vmem_lab_stats(void *inst, struct kmem_lab_stats *st)
{
	struct vmem_lab *vl = inst;
	size_t in_use = vmem_size(vl->vmp, VMEM_ALLOC);
	*st = (struct kmem_lab_stats){
		.region = vl->region,
		.region_bytes = vl->size,
		.free_bytes = vl->size - in_use,
		.allocated_bytes = in_use,
	};
	classic_lab_vmem_stats(vl->vmp, st);
}

struct vmem_lab_walk {
	kmem_lab_walk_fn_t *fn;
	void *arg;
};

static void
vmem_lab_segment(void *arg, void *start, size_t size)
{
	const struct vmem_lab_walk *w = arg;
	w->fn(w->arg, start, size, KMEM_LAB_ALLOCATED);
}

/*
 * vmem_walk's callbacks are not told a segment's type, so: the region as
 * free, then one walk of the allocated segments over it, which stays
 * whole even while other threads allocate and free.
 */
void
classic_lab_vmem_walk(vmem_t *vmp, void *region, size_t size,
    kmem_lab_walk_fn_t *fn, void *arg)
{
	struct vmem_lab_walk w = { fn, arg };
	fn(arg, region, size, KMEM_LAB_FREE);
	vmem_walk(vmp, VMEM_ALLOC, vmem_lab_segment, &w);
}

static void
vmem_lab_walk(void *inst, kmem_lab_walk_fn_t *fn, void *arg)
{
	struct vmem_lab *vl = inst;
	classic_lab_vmem_walk(vl->vmp, vl->region, vl->size, fn, arg);
}

#define VMEM_LAB_OPS(policy, summary)                                   \
	{                                                               \
		.name = "vmem-" #policy,                                \
		.design = summary,                                      \
		.create = vmem_lab_create_##policy,                     \
		.destroy = vmem_lab_destroy,                            \
		.alloc = vmem_lab_alloc,                                \
		.free = vmem_lab_free,                                  \
		.held = vmem_lab_held,                                  \
		.stats = vmem_lab_stats,                                \
		.walk = vmem_lab_walk,                                  \
	}

const struct kmem_lab_ops kmem_lab_vmem_instant_ops = VMEM_LAB_OPS(instant,
    "vmem, instant fit: power-of-two free lists, O(1) (Bonwick & Adams)");
const struct kmem_lab_ops kmem_lab_vmem_best_ops = VMEM_LAB_OPS(best,
    "vmem, best fit: the smallest free segment that fits");
const struct kmem_lab_ops kmem_lab_vmem_next_ops = VMEM_LAB_OPS(next,
    "vmem, next fit: first fit from a rotor, for identifiers");

/* ---- the table ---- */

const struct kmem_lab_ops *const kmem_lab_allocators[] = {
	&kmem_lab_rmap_ops,
	&kmem_lab_p2list_ops,
	&kmem_lab_mk_ops,
	&kmem_lab_buddy_ops,
	&kmem_lab_lbuddy_ops,
	&kmem_lab_zone_ops,
	&kmem_lab_dynix_ops,
	&kmem_lab_slab_ops,
	&kmem_lab_vmem_instant_ops,
	&kmem_lab_vmem_best_ops,
	&kmem_lab_vmem_next_ops,
	NULL
};

const struct kmem_lab_ops *
kmem_lab_find(const char *name)
{
	for (size_t i = 0; kmem_lab_allocators[i] != NULL; i++) {
		if (name != NULL && strcmp(kmem_lab_allocators[i]->name,
		    name) == 0)
			return (kmem_lab_allocators[i]);
	}
	return (NULL);
}

/* ---- the region's map ---- */

struct lab_map {
	uintptr_t base;
	unsigned char *states;
	size_t ngrains;
};

static void
lab_map_range(void *arg, void *start, size_t size, enum kmem_lab_state state)
{
	const struct lab_map *lm = arg;
	size_t first = ((uintptr_t)start - lm->base) / KMEM_LAB_GRAIN;
	size_t end = first + size / KMEM_LAB_GRAIN;
	KMEM_ASSERT(p2_phase((uintptr_t)start - lm->base, KMEM_LAB_GRAIN) ==
	    0 && p2_phase(size, KMEM_LAB_GRAIN) == 0 && end <= lm->ngrains);
	if (end > lm->ngrains)
		end = lm->ngrains;
	for (size_t i = first; i < end; i++)
		lm->states[i] = (unsigned char)state;
}

size_t
kmem_lab_map(const struct kmem_lab_ops *ops, void *inst,
    unsigned char *states, size_t ngrains)
{
	struct kmem_lab_stats st;
	ops->stats(inst, &st);
	struct lab_map lm = { .base = (uintptr_t)st.region, .states = states,
	    .ngrains = ngrains };
	memset(states, KMEM_LAB_STATES, ngrains);
	ops->walk(inst, lab_map_range, &lm);
	size_t unmapped = 0;
	for (size_t i = 0; i < ngrains; i++)
		unmapped += states[i] == KMEM_LAB_STATES;
	return (unmapped);
}
