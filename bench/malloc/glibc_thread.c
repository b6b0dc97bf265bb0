/*
 * glibc_thread: many threads, each replacing random blocks of its own
 * working set, after the GNU C library's benchtests/bench-malloc-thread
 * (the "glibc-bench thread" of mimalloc-bench).
 *
 * Each of T threads keeps WORKING_SET blocks and, N / T times, picks one
 * at random, frees it and allocates a block of a new random size in its
 * place, writing the block's first and last bytes.  Sizes run from
 * MIN_SIZE to MAX_SIZE with an inverse-square density (most below 16
 * bytes, a few of kilobytes), drawn from a table built once, so that
 * drawing costs no floating point in the loop.  No block is shared: each
 * thread's allocations and frees are its own, so what is measured is
 * the allocator's thread-local fast path under a working set larger than
 * its per-thread caches, and whatever it shares between threads on the
 * way (arenas, depots, locks), with T threads running at once.
 *
 * Unlike glibc's, which counts iterations in a fixed time, it does a
 * fixed amount of work and the driver times it (common.h).
 *
 * -n N: replacements in all (default 40 million); -t T: threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

#define WORKING_SET     1024
#define MIN_SIZE        4
#define MAX_SIZE        32768
#define SIZE_TABLE      4096    /* a power of two: drawn by a mask */

static unsigned size_table[SIZE_TABLE];

/*
 * The table: entry i is the size whose inverse-square distribution
 * function reaches (i + 0.5) / SIZE_TABLE.  With density c / s^2 on
 * [MIN_SIZE, MAX_SIZE], F(s) = (1/MIN - 1/s) / (1/MIN - 1/MAX), so
 * s = 1 / (1/MIN - u (1/MIN - 1/MAX)).
 */
static void
size_table_init(void)
{
	double lo = 1.0 / MIN_SIZE, span = lo - 1.0 / MAX_SIZE;
	for (unsigned i = 0; i < SIZE_TABLE; i++) {
		double u = (i + 0.5) / SIZE_TABLE;
		size_table[i] = (unsigned)(1.0 / (lo - u * span));
	}
}

typedef struct worker {
	long iterations;
	uint64_t seed;
	uint64_t sum;
	pthread_t thread;
} worker_t;

static void *
work(void *arg)
{
	worker_t *w = arg;
	unsigned char *block[WORKING_SET] = { NULL };
	size_t size[WORKING_SET] = { 0 };
	bm_rng_t rng;
	uint64_t sum = 0;

	bm_rng_seed(&rng, w->seed);
	for (long i = 0; i < w->iterations; i++) {
		uint64_t r = bm_rng_next(&rng);
		unsigned slot = (unsigned)(r >> 20) % WORKING_SET;
		size_t n = size_table[(r >> 40) & (SIZE_TABLE - 1)];

		if (block[slot] != NULL)
			sum = bm_mix(sum, (uint64_t)block[slot][0] +
			    block[slot][size[slot] - 1]);
		free(block[slot]);
		block[slot] = bm_xmalloc(n);
		block[slot][0] = (unsigned char)i;
		block[slot][n - 1] = (unsigned char)n;
		size[slot] = n;
	}
	for (unsigned s = 0; s < WORKING_SET; s++)
		free(block[s]);
	w->sum = sum;
	return (NULL);
}

int
main(int argc, char **argv)
{
	bm_options_t opt;
	uint64_t sum = 0;

	bm_init(argc, argv, "  -n: replacements in all (default 40e6); "
	    "-t: threads", 40000000, 200000, &opt);
	size_table_init();
	worker_t *w = bm_xmalloc(sizeof (worker_t) * (size_t)opt.threads);
	for (int i = 0; i < opt.threads; i++) {
		w[i].iterations = opt.n / opt.threads;
		w[i].seed = (uint64_t)i + 1;
		w[i].sum = 0;
		if (pthread_create(&w[i].thread, NULL, work, &w[i]) != 0) {
			fprintf(stderr, "glibc_thread: pthread_create failed\n");
			return (1);
		}
	}
	for (int i = 0; i < opt.threads; i++) {
		pthread_join(w[i].thread, NULL);
		sum = bm_mix(sum, w[i].sum);
	}
	free(w);
	bm_print_checksum(sum);
	return (0);
}
