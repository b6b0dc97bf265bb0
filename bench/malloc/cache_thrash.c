/*
 * cache-thrash: active false sharing, after the benchmark of the same
 * name in Hoard (Berger, McKinley, Blumofe & Wilson, "Hoard: A Scalable
 * Memory Allocator for Multithreaded Applications", ASPLOS 2000).
 *
 * T threads each ITERATIONS times allocate a small object, write every
 * byte of it REPS times and free it.  Nothing is shared by the program;
 * but an allocator that serves concurrent threads from one free list or
 * one slab can give two threads neighbouring objects in one cache line,
 * and then every write makes the line bounce between the CPUs.  An
 * allocator with per-thread (or per-CPU) memory runs this at the speed of
 * the writes, and two threads take half the time of one.
 *
 * -n N: repetitions in all, split among the threads as in Hoard (default
 * 300000: ITERATIONS x N / T object writes per thread).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

#define ITERATIONS      1000
#define OBJ_SIZE        8

typedef struct worker {
	long reps;
	uint64_t sum;
	pthread_t tid;
} worker_t;

static void *
work(void *arg)
{
	worker_t *w = arg;
	long reps = w->reps;
	uint64_t sum = 0;	/* locals: w->sum would share a line */
	long i, j;
	int k;

	for (i = 0; i < ITERATIONS; i++) {
		volatile char *obj = bm_xmalloc(OBJ_SIZE);

		for (j = 0; j < reps; j++) {
			for (k = 0; k < OBJ_SIZE; k++) {
				obj[k] = (char)(k + j);
				sum += (unsigned char)obj[k];
			}
		}
		free((void *)obj);
	}
	w->sum = sum;
	return (NULL);
}

int
main(int argc, char **argv)
{
	bm_options_t opt;
	worker_t *w;
	uint64_t sum = 0;
	int i;

	bm_init(argc, argv, "  -n: repetitions in all (default 300000)",
	    300000, 2000, &opt);
	w = bm_xmalloc(sizeof (worker_t) * (size_t)opt.threads);
	for (i = 0; i < opt.threads; i++) {
		w[i].reps = opt.n / opt.threads;
		w[i].sum = 0;
	}
	for (i = 0; i < opt.threads; i++) {
		if (pthread_create(&w[i].tid, NULL, work, &w[i]) != 0) {
			fprintf(stderr, "cache_thrash: pthread_create failed\n");
			return (1);
		}
	}
	for (i = 0; i < opt.threads; i++) {
		pthread_join(w[i].tid, NULL);
		sum = bm_mix(sum, w[i].sum);
	}
	free(w);
	bm_print_checksum(sum);
	return (0);
}
