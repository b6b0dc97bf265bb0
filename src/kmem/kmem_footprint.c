/*
 * kmem's footprint: the bytes its clients' memory takes, and its peak.
 *
 * The footprint is the bytes of every cache's slabs but the quantum
 * caches' (whose slabs hold other caches' slabs: counting both would
 * count those twice), less the pages given back inside them
 * (kmem_slab_purge.c), plus the bytes of the large buffers handed out
 * from kmem_oversize (kmem_alloc.c).  Its peak is the most it reached
 * since the last update pass (kmem_footprint_peak_reset(), called by the
 * pass).
 *
 * Why.  Memory kept for reuse raises a program's resident set only when
 * it is kept at a time the footprint is at its peak: below the peak, the
 * program already had that much resident, and keeping freed pages there
 * until they are taken again costs no resident memory the program did
 * not hold before, while giving them back costs a system call now and a
 * fault and a zeroing at the next use.  So the quantum cache of
 * kmem_default that holds the classes' one-page slabs keeps the pages
 * freed in its slabs while the footprint, what kmem_oversize keeps of
 * freed large buffers (vmem.c's retention, read here without its lock)
 * and what the quantum caches keep stay within the peak
 * (kmem_footprint_over_peak(); kmem_slab_purge.c, "Slack").  Large
 * buffers count: python's slabs fell 12 MiB below their peak while its
 * large buffers grew, and keeping the gap for the slabs raised its peak
 * resident set by 8 MiB.
 *
 * The peak since the last pass, not since the start: a program whose use
 * fell for a whole interval gets the pages back at the next pass's sweep.
 *
 * Invariants: footprint is the sum above; footprint_peak >= footprint
 * once a change that raised footprint has finished.  Both are atomic,
 * relaxed: hints for policy, read without locks.
 */
#include "kmem_impl.h"

#include "vmem/vmem_impl.h"

static uint64_t footprint;
static uint64_t footprint_peak;

void
kmem_footprint_add(uint64_t bytes)
{
	uint64_t now = __atomic_add_fetch(&footprint, bytes, __ATOMIC_RELAXED);
	uint64_t peak = __atomic_load_n(&footprint_peak, __ATOMIC_RELAXED);
	while (now > peak && !__atomic_compare_exchange_n(&footprint_peak,
	    &peak, now, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		continue;
}

void
kmem_footprint_sub(uint64_t bytes)
{
	__atomic_sub_fetch(&footprint, bytes, __ATOMIC_RELAXED);
}

uint64_t
kmem_footprint(void)
{
	return (__atomic_load_n(&footprint, __ATOMIC_RELAXED));
}

uint64_t
kmem_footprint_peak(void)
{
	return (__atomic_load_n(&footprint_peak, __ATOMIC_RELAXED));
}

void
kmem_footprint_peak_reset(void)
{
	__atomic_store_n(&footprint_peak, __atomic_load_n(&footprint,
	    __ATOMIC_RELAXED), __ATOMIC_RELAXED);
}

bool
kmem_footprint_over_peak(uint64_t kept)
{
	uint64_t dirty = kmem_oversize == NULL ? 0 :
	    __atomic_load_n(&kmem_oversize->vm_st.mem_dirty, __ATOMIC_RELAXED);
	return (kmem_footprint() + kept + dirty > kmem_footprint_peak());
}
