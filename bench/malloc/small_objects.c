/*
 * small_objects: millions of small objects of mixed sizes, built up and
 * torn down in random order -- what a compiler, an interpreter or a
 * document model does to malloc, and the pattern of the "alloc-test" and
 * "mstress" programs of mimalloc-bench, reduced to one thread.
 *
 * Each round allocates N objects of 8..256 bytes (sizes skewed to the
 * small end, as in real programs: a power of two from 8 to 256 is picked
 * first, then a size up to it), writes a key into each, then frees a
 * random half of them in random order, allocates that half again with new
 * sizes (into the holes the frees left), and finally frees all N in
 * random order, checking each key.  This measures the allocator's
 * small-size fast paths, the cost of freeing in an order unrelated to
 * the allocation order (cache misses on the allocator's metadata), how
 * well it reuses scattered free space, and its per-object overhead in
 * peak RSS.
 *
 * -n N: objects per round (default 1 million; 4 rounds).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define ROUNDS          4

static void *
new_object(bm_rng_t *rng, uint64_t key)
{
	size_t limit = (size_t)8 << bm_rng_range(rng, 0, 5);
	size_t size = bm_rng_range(rng, 8, limit);
	unsigned char *p = bm_xmalloc(size);

	memcpy(p, &key, sizeof (key));
	p[size - 1] = (unsigned char)key;
	return (p);
}

static uint64_t
free_object(void *obj)
{
	uint64_t key;

	memcpy(&key, obj, sizeof (key));
	free(obj);
	return (key);
}

static void
shuffle(bm_rng_t *rng, void **a, size_t n)
{
	size_t i;

	for (i = n - 1; i > 0; i--) {
		size_t j = bm_rng_range(rng, 0, i);
		void *t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
}

int
main(int argc, char **argv)
{
	bm_options_t opt;
	bm_rng_t rng;
	void **obj;
	uint64_t sum = 0, key = 0;
	size_t n, half, i;
	int round;

	bm_init(argc, argv, "  -n: objects per round (default 1e6)",
	    1000000, 20000, &opt);
	n = (size_t)opt.n;
	half = n / 2;
	bm_rng_seed(&rng, 42);
	obj = bm_xmalloc(sizeof (void *) * n);
	for (round = 0; round < ROUNDS; round++) {
		for (i = 0; i < n; i++)
			obj[i] = new_object(&rng, key++);
		shuffle(&rng, obj, n);
		for (i = 0; i < half; i++)
			sum = bm_mix(sum, free_object(obj[i]));
		for (i = 0; i < half; i++)
			obj[i] = new_object(&rng, key++);
		shuffle(&rng, obj, n);
		for (i = 0; i < n; i++)
			sum = bm_mix(sum, free_object(obj[i]));
	}
	free(obj);
	bm_print_checksum(sum);
	return (0);
}
