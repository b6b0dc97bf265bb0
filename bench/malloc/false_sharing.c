/*
 * The engine of cache_scratch and cache_thrash: see false_sharing.h, and
 * each program's opening comment for what it shows.
 *
 * -n N: repetitions in all, split among the threads as in Hoard (default
 * 300000: ITERATIONS x N / T object writes per thread).
 */
#include "false_sharing.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

#define ITERATIONS      1000
#define OBJ_SIZE        8

typedef struct worker {
	char *given;            /* the main thread's object, or NULL */
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

	free(w->given);
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
false_sharing_main(int argc, char **argv, const char *name, bool scratch)
{
	bm_options_t opt;
	worker_t *w;
	uint64_t sum = 0;
	int i;

	bm_init(argc, argv, "  -n: repetitions in all (default 300000)",
	    300000, 2000, &opt);
	w = bm_xmalloc(sizeof (worker_t) * (size_t)opt.threads);
	/* Allocated together, so they share cache lines. */
	for (i = 0; i < opt.threads; i++) {
		w[i].given = NULL;
		if (scratch) {
			w[i].given = bm_xmalloc(OBJ_SIZE);
			w[i].given[0] = (char)i;
		}
		w[i].reps = opt.n / opt.threads;
		w[i].sum = 0;
	}
	for (i = 0; i < opt.threads; i++) {
		if (pthread_create(&w[i].tid, NULL, work, &w[i]) != 0) {
			fprintf(stderr, "%s: pthread_create failed\n", name);
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
