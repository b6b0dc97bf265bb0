/*
 * xmalloc: producers allocate, consumers free, after the xmalloc-test of
 * Lever & Boreham, "malloc() Performance in a Multithreaded Linux
 * Environment" (USENIX 2000), as mimalloc-bench runs it.
 *
 * T/2 producer threads (at least one) each feed their own consumer
 * thread.  A producer allocates a batch of BATCH objects of random sizes
 * (8..512 bytes), writes a value into each, and passes the batch (itself
 * a malloc'd array) through a bounded queue; the consumer reads the
 * values and frees the objects and the array.  Every free is of memory
 * another thread allocated, so an allocator's per-thread caches fill on
 * the consumer's side and run dry on the producer's: what counts is how
 * cheaply freed memory travels back to the allocating thread.  The queue
 * is passed a batch at a time so that its lock is not what is measured.
 *
 * -n N: objects in all (default 10 million).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

#define BATCH           100
#define QDEPTH          32      /* batches in flight per pair */
#define MIN_SIZE        8
#define MAX_SIZE        512

typedef struct batch {
	size_t n;
	uint64_t *obj[BATCH];
} batch_t;

typedef struct pair {
	pthread_mutex_t lock;
	pthread_cond_t nonempty;
	pthread_cond_t nonfull;
	batch_t *queue[QDEPTH];
	size_t head, count;
	long batches;           /* the producer's, in all */
	uint64_t seed;
	uint64_t sum;           /* the consumer's */
	pthread_t producer, consumer;
} pair_t;

static void
put(pair_t *p, batch_t *b)
{
	pthread_mutex_lock(&p->lock);
	while (p->count == QDEPTH)
		pthread_cond_wait(&p->nonfull, &p->lock);
	p->queue[(p->head + p->count) % QDEPTH] = b;
	p->count++;
	pthread_cond_signal(&p->nonempty);
	pthread_mutex_unlock(&p->lock);
}

static batch_t *
get(pair_t *p)
{
	batch_t *b;

	pthread_mutex_lock(&p->lock);
	while (p->count == 0)
		pthread_cond_wait(&p->nonempty, &p->lock);
	b = p->queue[p->head];
	p->head = (p->head + 1) % QDEPTH;
	p->count--;
	pthread_cond_signal(&p->nonfull);
	pthread_mutex_unlock(&p->lock);
	return (b);
}

static void *
producer(void *arg)
{
	pair_t *p = arg;
	bm_rng_t rng;
	long i;
	size_t j;

	bm_rng_seed(&rng, p->seed);
	for (i = 0; i < p->batches; i++) {
		batch_t *b = bm_xmalloc(sizeof (*b));

		b->n = BATCH;
		for (j = 0; j < BATCH; j++) {
			size_t size = bm_rng_range(&rng, MIN_SIZE, MAX_SIZE);

			b->obj[j] = bm_xmalloc(size);
			b->obj[j][0] = bm_rng_next(&rng);
		}
		put(p, b);
	}
	put(p, NULL);
	return (NULL);
}

static void *
consumer(void *arg)
{
	pair_t *p = arg;
	batch_t *b;
	size_t j;

	while ((b = get(p)) != NULL) {
		for (j = 0; j < b->n; j++) {
			p->sum += b->obj[j][0];
			free(b->obj[j]);
		}
		free(b);
	}
	return (NULL);
}

int
main(int argc, char **argv)
{
	bm_options_t opt;
	pair_t *pairs;
	uint64_t sum = 0;
	int npairs, i;

	bm_init(argc, argv, "  -n: objects in all (default 10e6); "
	    "-t: threads (half produce, half consume)", 10000000, 100000, &opt);
	npairs = opt.threads / 2 > 0 ? opt.threads / 2 : 1;
	pairs = bm_xmalloc(sizeof (pair_t) * (size_t)npairs);
	for (i = 0; i < npairs; i++) {
		pair_t *p = &pairs[i];

		pthread_mutex_init(&p->lock, NULL);
		pthread_cond_init(&p->nonempty, NULL);
		pthread_cond_init(&p->nonfull, NULL);
		p->head = p->count = 0;
		p->batches = opt.n / npairs / BATCH;
		if (p->batches == 0)
			p->batches = 1;
		p->seed = (uint64_t)i + 1;
		p->sum = 0;
	}
	for (i = 0; i < npairs; i++) {
		if (pthread_create(&pairs[i].consumer, NULL, consumer,
		    &pairs[i]) != 0 || pthread_create(&pairs[i].producer, NULL,
		    producer, &pairs[i]) != 0) {
			fprintf(stderr, "xmalloc: pthread_create failed\n");
			return (1);
		}
	}
	for (i = 0; i < npairs; i++) {
		pthread_join(pairs[i].producer, NULL);
		pthread_join(pairs[i].consumer, NULL);
		sum = bm_mix(sum, pairs[i].sum);
	}
	free(pairs);
	bm_print_checksum(sum);
	return (0);
}
