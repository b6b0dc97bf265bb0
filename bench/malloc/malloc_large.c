/*
 * malloc_large: blocks of 5 to 25 MiB, allocated, zero-filled and freed in
 * a loop -- the "malloc-large" program of mimalloc-bench, the pattern of
 * a program that builds big buffers (images, decompressed files, matrices)
 * one after another.
 *
 * SLOTS slots hold live blocks, about 300 MiB between them.  Each step
 * frees the block in a random slot and allocates one of a size uniform in
 * [5 MiB, 25 MiB] in its place, and fills it with zeros as C++'s
 * make_unique<char[]>(n) does.  An allocator that gives a freed block's
 * pages back to the system at once pays a page fault for every page of the
 * next block (several thousand per step); one that keeps freed blocks and
 * carves the next from them pays only the memset.  The peak RSS column is
 * what keeping costs.
 *
 * -n N: blocks allocated after the first SLOTS (default 2000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define SLOTS           20
#define MIN_SIZE        (5u << 20)
#define MAX_SIZE        (25u << 20)
#define QUICK_MAX       (1u << 20)      /* --quick: 128 KiB .. 1 MiB */

int
main(int argc, char **argv)
{
	bm_options_t opt;
	bm_rng_t rng;
	unsigned char *blocks[SLOTS] = { NULL };
	size_t sizes[SLOTS] = { 0 };
	uint64_t sum = 0;
	size_t lo = MIN_SIZE, hi = MAX_SIZE;
	long step;
	int i;

	bm_init(argc, argv, "  -n: blocks allocated (default 2000)", 2000, 50,
	    &opt);
	if (opt.quick) {
		lo = QUICK_MAX / 8;
		hi = QUICK_MAX;
	}
	bm_rng_seed(&rng, 42);
	for (step = 0; step < opt.n + SLOTS; step++) {
		int slot = step < SLOTS ? (int)step :
		    (int)bm_rng_range(&rng, 0, SLOTS - 1);
		size_t size = bm_rng_range(&rng, lo, hi);

		if (blocks[slot] != NULL) {
			/* Read back what the block was given: its last byte. */
			sum = bm_mix(sum, blocks[slot][sizes[slot] - 1]);
			free(blocks[slot]);
		}
		blocks[slot] = bm_xmalloc(size);
		memset(blocks[slot], 0, size);
		blocks[slot][size - 1] = (unsigned char)step;
		sizes[slot] = size;
		sum = bm_mix(sum, size);
	}
	for (i = 0; i < SLOTS; i++) {
		sum = bm_mix(sum, blocks[i][sizes[i] - 1]);
		free(blocks[i]);
	}
	bm_print_checksum(sum);
	return (0);
}
