/*
 * large_blocks: large allocations, 64 KiB to 8 MiB, each touched and
 * most soon freed -- the buffers of a file or image processor, and the
 * "large" tests of mimalloc-bench.
 *
 * SLOTS slots hold live blocks; each step frees the block in a random
 * slot and allocates a new one of a random size (uniform in log2 between
 * 64 KiB and 8 MiB, so the small end is as common as the large one),
 * writing one byte in every page of it as a program filling a buffer
 * would.  What it measures is mostly page faults: an allocator that
 * returns freed blocks to the kernel at once (munmap, or madvise
 * DONTNEED) pays a fault per page the next time; one that keeps them for
 * reuse does not, but holds more memory.  The peak RSS column shows the
 * other side of that trade.
 *
 * -n N: blocks allocated (default 10000).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define SLOTS           16
#define PAGE            4096
#define MIN_LOG         16      /* 64 KiB */
#define MAX_LOG         23      /* 8 MiB */

typedef struct block {
	unsigned char *p;
	size_t size;
	unsigned char mark;
} block_t;

static void
fill(bm_rng_t *rng, block_t *b)
{
	double lg = MIN_LOG + (double)(bm_rng_next(rng) >> 11) /
	    (double)(1ULL << 53) * (MAX_LOG - MIN_LOG);
	size_t off;

	b->size = (size_t)exp2(lg);
	b->mark = (unsigned char)bm_rng_next(rng);
	b->p = bm_xmalloc(b->size);
	for (off = 0; off < b->size; off += PAGE)
		b->p[off] = (unsigned char)(b->mark + off / PAGE);
	b->p[b->size - 1] = b->mark;
}

static uint64_t
drop(block_t *b)
{
	uint64_t sum = b->size;
	size_t off;

	/* Read back a few pages: the first, the last, one in the middle. */
	sum = bm_mix(sum, b->p[0]);
	off = (b->size / 2) & ~(size_t)(PAGE - 1);
	sum = bm_mix(sum, b->p[off]);
	sum = bm_mix(sum, b->p[b->size - 1]);
	free(b->p);
	return (sum);
}

int
main(int argc, char **argv)
{
	bm_options_t opt;
	bm_rng_t rng;
	block_t blocks[SLOTS];
	uint64_t sum = 0;
	long step;
	int i;

	bm_init(argc, argv, "  -n: blocks allocated (default 10000)", 10000,
	    200, &opt);
	bm_rng_seed(&rng, 3);
	for (i = 0; i < SLOTS; i++)
		fill(&rng, &blocks[i]);
	for (step = 0; step < opt.n; step++) {
		block_t *b = &blocks[bm_rng_range(&rng, 0, SLOTS - 1)];

		sum = bm_mix(sum, drop(b));
		fill(&rng, b);
	}
	for (i = 0; i < SLOTS; i++)
		sum = bm_mix(sum, drop(&blocks[i]));
	bm_print_checksum(sum);
	return (0);
}
