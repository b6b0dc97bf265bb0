/*
 * The hash from a buffer's address to its bufctl, for caches whose slabs
 * keep their bookkeeping outside (KMF_HASH: large buffers, and caches that
 * may not touch their memory).  The slab layer uses it when a buffer comes
 * back, and it is where a buffer that is not allocated from the cache is
 * caught in such caches.
 *
 * Chains are singly linked through the bufctl's next (free bufctls use the
 * same link on their slab's free list).  The index is a multiplicative hash
 * of the address divided by the largest power of two in the chunk size.
 * The table starts with the buckets inside the cache; it doubles (or more)
 * when there are more than two buffers per bucket and shrinks when there
 * are fewer than one per eight, so chains stay short and each resize is
 * paid for by the operations that caused it.  Larger tables come from the
 * page source; when it fails, the old table stays and chains grow longer.
 *
 * Every function runs under the cache's slab_lock.
 */
#include "kmem_impl.h"

static size_t
table_bytes(size_t buckets)
{
	return (p2_roundup(buckets * sizeof (kmem_bufctl_t *), kmem_pagesize()));
}

static size_t
hash_index(const kmem_hash_t *h, uintptr_t addr)
{
	uint64_t key = (uint64_t)(addr >> h->shift);
	return ((size_t)((key * 0x9E3779B97F4A7C15ull) >>
	    (64 - highbit(h->mask))));
}

void
kmem_hash_init(kmem_hash_t *h, size_t chunksize)
{
	*h = (kmem_hash_t){ .shift = lowbit(chunksize) - 1 };
	h->table = h->table0;
	h->mask = KMEM_HASH_INITIAL - 1;
}

void
kmem_hash_fini(kmem_hash_t *h)
{
	if (h->table != h->table0)
		kmem_pages_free(h->table, table_bytes(h->mask + 1));
	h->table = h->table0;
	h->mask = KMEM_HASH_INITIAL - 1;
}

/* Rehash into a table of buckets buckets (a power of two). */
static void
hash_resize(kmem_hash_t *h, size_t buckets)
{
	/* The embedded table is empty whenever it is not in use. */
	kmem_bufctl_t **table = h->table0;
	if (buckets > KMEM_HASH_INITIAL) {
		table = kmem_pages_alloc(table_bytes(buckets));
		if (table == NULL)
			return;
	}

	kmem_bufctl_t *all = NULL;
	for (size_t i = 0; i <= h->mask; i++) {
		while (h->table[i] != NULL) {
			kmem_bufctl_t *bcp = h->table[i];
			h->table[i] = bcp->next;
			bcp->next = all;
			all = bcp;
		}
	}
	if (h->table != h->table0)
		kmem_pages_free(h->table, table_bytes(h->mask + 1));
	h->table = table;
	h->mask = buckets - 1;
	while (all != NULL) {
		kmem_bufctl_t *bcp = all;
		all = bcp->next;
		size_t i = hash_index(h, bcp->addr);
		bcp->next = h->table[i];
		h->table[i] = bcp;
	}
}

/* The table size for n entries: the embedded one, or whole pages. */
static size_t
buckets_for(size_t n)
{
	size_t page = kmem_pagesize() / sizeof (kmem_bufctl_t *);
	size_t want = n <= 1 ? 1 : (size_t)1 << highbit(n - 1);
	if (want <= KMEM_HASH_INITIAL)
		return (KMEM_HASH_INITIAL);
	return (want > page ? want : page);
}

void
kmem_hash_insert(kmem_hash_t *h, kmem_bufctl_t *bcp)
{
	size_t i = hash_index(h, bcp->addr);
	bcp->next = h->table[i];
	h->table[i] = bcp;
	if (++h->count > 2 * (h->mask + 1)) {
		size_t buckets = buckets_for(h->count);
		if (buckets > h->mask + 1)
			hash_resize(h, buckets);
	}
}

/* The link that points at addr's bufctl, or at the NULL ending its chain. */
static kmem_bufctl_t **
hash_slot(kmem_hash_t *h, uintptr_t addr)
{
	kmem_bufctl_t **slot = &h->table[hash_index(h, addr)];
	h->lookup++;
	while (*slot != NULL) {
		h->depth++;
		if ((*slot)->addr == addr)
			break;
		slot = &(*slot)->next;
	}
	return (slot);
}

bool
kmem_hash_contains(kmem_hash_t *h, uintptr_t addr)
{
	return (kmem_hash_find(h, addr) != NULL);
}

kmem_bufctl_t *
kmem_hash_find(kmem_hash_t *h, uintptr_t addr)
{
	return (*hash_slot(h, addr));
}

kmem_bufctl_t *
kmem_hash_remove(kmem_hash_t *h, uintptr_t addr)
{
	kmem_bufctl_t **slot = hash_slot(h, addr);
	kmem_bufctl_t *bcp = *slot;
	if (bcp == NULL)
		return (NULL);
	*slot = bcp->next;
	if (--h->count < (h->mask + 1) / 8) {
		size_t buckets = buckets_for(2 * h->count);
		if (buckets < h->mask + 1)
			hash_resize(h, buckets);
	}
	return (bcp);
}
