/*
 * The pieces every classic allocator uses: taking or checking its region,
 * its block of bookkeeping from the page source, counting bits, the
 * wording of its reports, and the page-based designs' laboratory
 * statistics.  See classic_impl.h.
 */
#include "classic/classic_impl.h"

#include "platform/platform.h"
#include "base/report.h"

bool
classic_region_init(classic_region_t *rp, const char *caller, void *base,
    size_t size)
{
	size_t pagesize = kmem_pagesize();
	const char *why = NULL;
	if (size == 0)
		why = "size is 0";
	else if (p2_phase(size, pagesize) != 0)
		why = "size is not a multiple of the page size";
	else if (p2_phase((uintptr_t)base, pagesize) != 0)
		why = "base is not aligned to the page size";
	else if (base != NULL && (uintptr_t)base + size < (uintptr_t)base)
		why = "the region wraps past the end of the address space";
	if (why != NULL) {
		kmem_report("%s(base %p, size %zu): %s", caller, base, size, why);
		return (false);
	}
	*rp = (classic_region_t){ .base = (uintptr_t)base, .size = size };
	if (base == NULL) {
		void *pages = kmem_pages_alloc(size);
		if (pages == NULL)
			return (false);
		rp->base = (uintptr_t)pages;
		rp->owned = true;
	}
	return (true);
}

void
classic_region_fini(classic_region_t *rp)
{
	if (rp->owned)
		kmem_pages_free((void *)rp->base, rp->size);
}

size_t
classic_layout(size_t *total, size_t bytes)
{
	size_t offset = p2_roundup(*total, CLASSIC_LAYOUT_ALIGN);
	*total = offset + bytes;
	return (offset);
}

void *
classic_meta_alloc(size_t total, size_t *bytesp)
{
	*bytesp = p2_roundup(total, kmem_pagesize());
	return (kmem_pages_alloc(*bytesp));
}

size_t
classic_bits_count(const uint64_t *map, size_t from, size_t to)
{
	size_t count = 0;
	while (from < to) {
		size_t bit = from % 64;
		size_t n = 64 - bit < to - from ? 64 - bit : to - from;
		uint64_t word = map[from / 64] >> bit;
		if (n < 64)
			word &= ((uint64_t)1 << n) - 1;
		count += (size_t)__builtin_popcountll(word);
		from += n;
	}
	return (count);
}

bool
classic_null(const void *inst, const char *caller)
{
	if (inst != NULL)
		return (false);
	kmem_report("%s: the allocator is NULL", caller);
	return (true);
}

bool
classic_size_zero(const void *inst, const char *caller, size_t size)
{
	if (size != 0)
		return (false);
	kmem_report("%s(%p, size 0): size is 0", caller, inst);
	return (true);
}

void
classic_report_free(const char *caller, const void *inst, const void *addr,
    size_t size, const char *why)
{
	if (size == CLASSIC_NO_SIZE)
		kmem_report("%s(%p, %p): %s", caller, inst, addr, why);
	else
		kmem_report("%s(%p, %p, size %zu): %s", caller, inst, addr,
		    size, why);
}

void
classic_lab_pages_stats(struct kmem_lab_stats *st, const classic_region_t *rp,
    const classic_pages_t *pp)
{
	st->region = (void *)rp->base;
	st->region_bytes = rp->size;
	st->free_bytes = classic_pages_free_bytes(pp);
	st->largest_free = classic_pages_largest_run(pp);
}

/* An atomic read: Dynix changes its map without a common lock. */
static bool
block_allocated(const uint64_t *map, uintptr_t base, uintptr_t block)
{
	size_t i = (block - base) >> CLASSIC_GRAIN_SHIFT;
	return ((__atomic_load_n(&map[i / 64], __ATOMIC_RELAXED) >> (i % 64)) &
	    1);
}

void
classic_lab_walk_blocks(kmem_lab_walk_fn_t *fn, void *arg,
    const uint64_t *map, uintptr_t base, uintptr_t start, size_t nblocks,
    size_t size)
{
	size_t i = 0;
	while (i < nblocks) {
		bool allocated = block_allocated(map, base, start + i * size);
		size_t j = i + 1;
		while (j < nblocks &&
		    block_allocated(map, base, start + j * size) == allocated)
			j++;
		fn(arg, (void *)(start + i * size), (j - i) * size, allocated ?
		    KMEM_LAB_ALLOCATED : KMEM_LAB_CACHED);
		i = j;
	}
}
