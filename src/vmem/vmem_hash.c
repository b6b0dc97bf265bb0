/*
 * The hash of allocated segments: how vmem_free() finds a segment from its
 * address in constant time, and how it notices an address that was never
 * allocated.
 *
 * Chains are singly linked through knext.  The index is a multiplicative
 * (Fibonacci) hash of the address in quanta, so sequential identifiers and
 * page-aligned addresses spread evenly.
 *
 * Invariants:
 * - Every VMEM_ALLOC segment of the arena is on exactly one chain, and
 *   st.segs_alloc counts them.
 * - The table starts as the 16 buckets embedded in the arena.  It doubles
 *   (at least) when the arena holds more than two segments per bucket and
 *   shrinks when it holds fewer than one per eight buckets, so the mean
 *   chain stays between 1/8 and 2 and the cost of the occasional rehash is
 *   amortised over the operations that caused it.  Larger tables come
 *   straight from the platform's page source (never from an arena, so the
 *   hash cannot recurse into vmem); if that fails the old table stays and
 *   chains just grow longer.
 *
 * All functions run under the arena lock.
 */
#include "vmem_impl.h"

#include "base/report.h"

static size_t
table_bytes(size_t buckets)
{
	return (p2_roundup(buckets * sizeof (vmem_seg_t *), kmem_pagesize()));
}

static size_t
hash_index(const vmem_t *vmp, uintptr_t addr)
{
	uint64_t key = (uint64_t)(addr >> vmp->vm_qshift);
	return ((size_t)((key * 0x9E3779B97F4A7C15ull) >>
	    (64 - vmp->vm_hash_bits)));
}

static void
use_table(vmem_t *vmp, vmem_seg_t **table, size_t buckets)
{
	vmp->vm_hash_table = table;
	vmp->vm_hash_mask = buckets - 1;
	vmp->vm_hash_bits = highbit(buckets) - 1;
}

void
vmem_hash_init(vmem_t *vmp)
{
	for (size_t i = 0; i < VMEM_HASH_INITIAL; i++)
		vmp->vm_hash0[i] = NULL;
	use_table(vmp, vmp->vm_hash0, VMEM_HASH_INITIAL);
}

void
vmem_hash_fini(vmem_t *vmp)
{
	if (vmp->vm_hash_table != vmp->vm_hash0)
		kmem_pages_free(vmp->vm_hash_table,
		    table_bytes(vmp->vm_hash_mask + 1));
	vmem_hash_init(vmp);
}

/*
 * The table size to use for want buckets: the embedded table when want fits
 * in it, else a power of two that fills at least one whole page.
 */
static size_t
table_buckets(size_t want)
{
	if (want <= VMEM_HASH_INITIAL)
		return (VMEM_HASH_INITIAL);
	size_t page_buckets = kmem_pagesize() / sizeof (vmem_seg_t *);
	return (want > page_buckets ? want : page_buckets);
}

static size_t
next_p2(size_t n)
{
	return (n <= 1 ? 1 : (size_t)1 << highbit(n - 1));
}

/* Rehash into a table of buckets (a value from table_buckets()). */
static void
hash_rescale(vmem_t *vmp, size_t buckets)
{
	vmem_seg_t **table = vmp->vm_hash0;
	if (buckets > VMEM_HASH_INITIAL) {
		table = kmem_pages_alloc(table_bytes(buckets));
		if (table == NULL)
			return;
	}

	vmem_seg_t **old = vmp->vm_hash_table;
	size_t old_buckets = vmp->vm_hash_mask + 1;
	vmem_seg_t *all = NULL;
	for (size_t i = 0; i < old_buckets; i++) {
		while (old[i] != NULL) {
			vmem_seg_t *vsp = old[i];
			old[i] = vsp->vs_knext;
			vsp->vs_knext = all;
			all = vsp;
		}
	}
	if (old != vmp->vm_hash0)
		kmem_pages_free(old, table_bytes(old_buckets));
	if (table == vmp->vm_hash0)
		vmem_hash_init(vmp);
	else
		use_table(vmp, table, buckets);   /* fresh pages are zeroed */

	while (all != NULL) {
		vmem_seg_t *vsp = all;
		all = vsp->vs_knext;
		size_t i = hash_index(vmp, vsp->vs_start);
		vsp->vs_knext = vmp->vm_hash_table[i];
		vmp->vm_hash_table[i] = vsp;
	}
	vmp->vm_st.hash_rescale++;
}

void
vmem_hash_insert(vmem_t *vmp, vmem_seg_t *vsp)
{
	KMEM_ASSERT(kmem_mutex_held(&vmp->vm_lock));
	size_t i = hash_index(vmp, vsp->vs_start);
	vsp->vs_knext = vmp->vm_hash_table[i];
	vmp->vm_hash_table[i] = vsp;
	if (++vmp->vm_st.segs_alloc > 2 * (vmp->vm_hash_mask + 1)) {
		size_t buckets = table_buckets(next_p2(vmp->vm_st.segs_alloc));
		if (buckets > vmp->vm_hash_mask + 1)
			hash_rescale(vmp, buckets);
	}
}

vmem_seg_t **
vmem_hash_slot(vmem_t *vmp, uintptr_t addr)
{
	KMEM_ASSERT(kmem_mutex_held(&vmp->vm_lock));
	vmem_seg_t **slot = &vmp->vm_hash_table[hash_index(vmp, addr)];
	vmp->vm_st.hash_lookup++;
	while (*slot != NULL) {
		vmp->vm_st.hash_depth++;
		if ((*slot)->vs_start == addr)
			break;
		slot = &(*slot)->vs_knext;
	}
	return (slot);
}

void
vmem_hash_unlink(vmem_t *vmp, vmem_seg_t **slot)
{
	KMEM_ASSERT(kmem_mutex_held(&vmp->vm_lock));
	vmem_seg_t *vsp = *slot;
	*slot = vsp->vs_knext;
	vsp->vs_knext = NULL;
	size_t buckets = vmp->vm_hash_mask + 1;
	if (--vmp->vm_st.segs_alloc < buckets / 8) {
		size_t smaller =
		    table_buckets(next_p2(2 * vmp->vm_st.segs_alloc));
		if (smaller < buckets)
			hash_rescale(vmp, smaller);
	}
}

vmem_seg_t *
vmem_hash_find(const vmem_t *vmp, uintptr_t addr)
{
	vmem_seg_t *vsp = vmp->vm_hash_table[hash_index(vmp, addr)];
	while (vsp != NULL && vsp->vs_start != addr)
		vsp = vsp->vs_knext;
	return (vsp);
}

size_t
vmem_hash_longest_chain(const vmem_t *vmp)
{
	size_t longest = 0;
	for (size_t i = 0; i <= vmp->vm_hash_mask; i++) {
		size_t n = 0;
		for (const vmem_seg_t *vsp = vmp->vm_hash_table[i]; vsp != NULL;
		    vsp = vsp->vs_knext)
			n++;
		if (n > longest)
			longest = n;
	}
	return (longest);
}
