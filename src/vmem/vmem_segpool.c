/*
 * Segment structures (vmem_seg_t) for every arena.
 *
 * vmem never allocates its boundary tags from an arena it serves: that would
 * recurse, and an allocation could fail halfway for want of a tag.  Instead
 * segments are carved from pages taken straight from the platform into one
 * global pool, and each arena keeps a small private reserve in front of it.
 *
 * Invariants:
 * - An operation that may create segments first calls vmem_reserve_fill()
 *   for VMEM_SEGS_PER_OP of them under the arena lock; once that succeeds the
 *   operation cannot run out of segments before it drops the lock.
 * - The pool grows by POOL_CHUNK whenever it falls below POOL_LOW segments,
 *   and segments never go back to the platform (they are small and reused).
 *   So when the page source fails, POOL_LOW segments remain for arenas that
 *   cannot wait: tag starvation needs the page source to fail *and* that
 *   reserve to be used up.
 * - An arena's reserve holds at most RESERVE_MAX segments; the excess goes
 *   back to the pool.
 *
 * Lock order: an arena's lock, then vmem_segpool_lock (never the reverse).
 */
#include "vmem_impl.h"

#include "base/lock_order.h"
#include "base/report.h"

#define POOL_CHUNK      (64 * 1024)
#define POOL_LOW        256
#define RESERVE_BATCH   16
#define RESERVE_MAX     64

kmem_mutex_t vmem_segpool_lock =
    KMEM_MUTEX_INITIALIZER(KMEM_RANK_VMEM_SEGPOOL);
static vmem_seg_t *segpool;             /* linked through knext */
static size_t segpool_count;

/* Add a chunk of fresh pages to the pool; quietly does nothing on failure. */
static void
segpool_grow(void)
{
	size_t pagesize = kmem_pagesize();
	size_t size = POOL_CHUNK > pagesize ? POOL_CHUNK : pagesize;
	vmem_seg_t *segs = kmem_pages_alloc(size);
	if (segs == NULL)
		return;
	for (size_t i = 0; i < size / sizeof (vmem_seg_t); i++) {
		segs[i].vs_knext = segpool;
		segpool = &segs[i];
		segpool_count++;
	}
}

bool
vmem_reserve_fill(vmem_t *vmp, unsigned want)
{
	KMEM_ASSERT(kmem_mutex_held(&vmp->vm_lock));
	if (vmp->vm_nreserve >= want)
		return (true);

	kmem_mutex_enter(&vmem_segpool_lock);
	if (segpool_count < POOL_LOW + RESERVE_BATCH)
		segpool_grow();
	while (vmp->vm_nreserve < RESERVE_BATCH && segpool != NULL) {
		vmem_seg_t *vsp = segpool;
		segpool = vsp->vs_knext;
		segpool_count--;
		vsp->vs_knext = vmp->vm_reserve;
		vmp->vm_reserve = vsp;
		vmp->vm_nreserve++;
	}
	kmem_mutex_exit(&vmem_segpool_lock);
	return (vmp->vm_nreserve >= want);
}

vmem_seg_t *
vmem_reserve_take(vmem_t *vmp)
{
	KMEM_ASSERT(kmem_mutex_held(&vmp->vm_lock));
	vmem_seg_t *vsp = vmp->vm_reserve;
	if (vsp == NULL)
		kmem_panic("vmem arena \"%s\": segment reserve exhausted",
		    vmp->vm_name);
	vmp->vm_reserve = vsp->vs_knext;
	vmp->vm_nreserve--;
	*vsp = (vmem_seg_t){ 0 };
	return (vsp);
}

/* Move all but keep segments of vmp's reserve back to the pool. */
static void
reserve_trim(vmem_t *vmp, unsigned keep)
{
	kmem_mutex_enter(&vmem_segpool_lock);
	while (vmp->vm_nreserve > keep) {
		vmem_seg_t *vsp = vmp->vm_reserve;
		vmp->vm_reserve = vsp->vs_knext;
		vmp->vm_nreserve--;
		vsp->vs_knext = segpool;
		segpool = vsp;
		segpool_count++;
	}
	kmem_mutex_exit(&vmem_segpool_lock);
}

void
vmem_reserve_give(vmem_t *vmp, vmem_seg_t *vsp)
{
	KMEM_ASSERT(kmem_mutex_held(&vmp->vm_lock));
	vsp->vs_type = 0;
	vsp->vs_knext = vmp->vm_reserve;
	vmp->vm_reserve = vsp;
	if (++vmp->vm_nreserve > RESERVE_MAX)
		reserve_trim(vmp, RESERVE_BATCH);
}

void
vmem_reserve_drain(vmem_t *vmp)
{
	reserve_trim(vmp, 0);
}
