/*
 * The page-level allocator under the page-based classic designs (the
 * power-of-two lists, McKusick-Karels, zones, Dynix): the pages of a
 * region, each free or in use.
 *
 * One bit a page in a bitmap; a run of n pages is found first fit by
 * scanning words, skipping full ones, from a hint below which no page is
 * free.  So a one-page allocation costs a few word tests, and a run costs at
 * most a pass over the bitmap (a 16 MiB region of 4 KiB pages is 64 words).
 * First fit keeps the low pages busy and the high ones in long free runs,
 * which is what the designs that take runs for large requests want.
 *
 * Invariants: nfree is the number of clear bits below npages; no page
 * below hint is free; bits at and above npages in the last word stay clear
 * and are never counted.
 *
 * No lock: the owning allocator's lock covers every call.
 */
#include "classic/classic_impl.h"

#include "platform/platform.h"
#include "base/report.h"

/* The first page at or after i that is in use (used) or free (!used). */
static size_t
pages_find(const classic_pages_t *pp, size_t i, bool used)
{
	while (i < pp->npages) {
		uint64_t word = pp->used[i / 64];
		if (!used)
			word = ~word;
		word &= ~(uint64_t)0 << (i % 64);
		if (word != 0) {
			size_t j = (i & ~(size_t)63) + (size_t)__builtin_ctzll(word);
			return (j < pp->npages ? j : pp->npages);
		}
		i = (i & ~(size_t)63) + 64;
	}
	return (pp->npages);
}

/* Set or clear bits [from, to) of map. */
static void
bits_fill(uint64_t *map, size_t from, size_t to, bool value)
{
	while (from < to) {
		size_t bit = from % 64;
		size_t n = 64 - bit < to - from ? 64 - bit : to - from;
		uint64_t mask = (n == 64 ? ~(uint64_t)0 :
		    (((uint64_t)1 << n) - 1)) << bit;
		if (value)
			map[from / 64] |= mask;
		else
			map[from / 64] &= ~mask;
		from += n;
	}
}

/* Are pages [from, from + n) all used (or all free)?  For assertions. */
static __attribute__((unused)) bool
pages_all(const classic_pages_t *pp, size_t from, size_t n, bool used)
{
	return (pages_find(pp, from, !used) >= from + n);
}

void
classic_pages_init(classic_pages_t *pp, const classic_region_t *rp,
    uint64_t *map)
{
	pp->base = rp->base;
	pp->shift = lowbit(kmem_pagesize()) - 1;
	pp->npages = rp->size >> pp->shift;
	pp->nfree = pp->npages;
	pp->hint = 0;
	pp->used = map;
}

uintptr_t
classic_pages_alloc(classic_pages_t *pp, size_t n)
{
	if (n == 0 || n > pp->nfree)
		return (0);
	size_t first_free = pages_find(pp, pp->hint, false);
	size_t i = first_free;
	for (;;) {
		if (i + n > pp->npages)
			return (0);
		size_t end = pages_find(pp, i, true);
		if (end - i >= n)
			break;
		i = pages_find(pp, end, false);
	}
	bits_fill(pp->used, i, i + n, true);
	pp->nfree -= n;
	pp->hint = i == first_free ? i + n : first_free;
	return (classic_page_addr(pp, i));
}

void
classic_pages_free(classic_pages_t *pp, uintptr_t addr, size_t n)
{
	size_t i = classic_page_index(pp, addr);
	KMEM_ASSERT(i + n <= pp->npages && pages_all(pp, i, n, true));
	bits_fill(pp->used, i, i + n, false);
	pp->nfree += n;
	if (i < pp->hint)
		pp->hint = i;
}

size_t
classic_pages_largest_run(const classic_pages_t *pp)
{
	size_t largest = 0;
	size_t i = pages_find(pp, pp->hint, false);
	while (i < pp->npages) {
		size_t end = pages_find(pp, i, true);
		if (end - i > largest)
			largest = end - i;
		i = pages_find(pp, end, false);
	}
	return (largest << pp->shift);
}

void
classic_lab_pages_walk(const classic_pages_t *pp, kmem_lab_walk_fn_t *fn,
    void *arg, enum kmem_lab_state used)
{
	size_t i = 0;
	while (i < pp->npages) {
		bool in_use = classic_bit_test(pp->used, i);
		size_t end = pages_find(pp, i, !in_use);
		fn(arg, (void *)classic_page_addr(pp, i), (end - i) << pp->shift,
		    in_use ? used : KMEM_LAB_FREE);
		i = end;
	}
}
