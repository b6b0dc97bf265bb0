/*
 * larson: a server's allocation pattern, after Larson & Krishnan, "Memory
 * Allocation for Long-Running Server Applications" (ISMM 1998), in the
 * form mimalloc-bench and Hoard run it.
 *
 * Each of T threads owns an array of SLOTS objects of random sizes
 * (16..1000 bytes).  A step frees the object in a random slot and puts a
 * new object of a new random size there.  After STEPS steps the thread
 * hands its array to a new thread and exits; the new thread goes on with
 * the same array, so most frees are of objects another thread allocated
 * (the first generation frees what the main thread allocated), and every
 * thread exit makes the allocator retire a thread's caches.  This is what
 * defeats allocators whose per-thread free lists never give memory back
 * to the thread that will use it next.
 *
 * Every object carries a tag at its start and at its end, checked when it
 * is freed: the checksum is the sum of the tags, and an allocator that
 * hands out overlapping memory fails the check.
 *
 * -n N: total replacement steps over all threads (default 20 million).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define SLOTS           5000
#define STEPS           50000   /* steps per generation */
#define MIN_SIZE        16
#define MAX_SIZE        1000

typedef struct chain {
	void **slots;
	bm_rng_t rng;
	uint64_t sum;
	long gen;               /* the generation running */
	long gens;              /* generations in all */
	long steps;             /* steps per generation */
	pthread_t *tids;        /* tids[g]: the thread of generation g */
} chain_t;

static void *
new_object(bm_rng_t *rng)
{
	size_t size = bm_rng_range(rng, MIN_SIZE, MAX_SIZE);
	uint64_t tag = bm_rng_next(rng);
	unsigned char *p = bm_xmalloc(size);
	uint32_t size32 = (uint32_t)size, tag32 = (uint32_t)tag;

	memcpy(p, &tag, sizeof (tag));
	memcpy(p + 8, &size32, sizeof (size32));
	memcpy(p + size - 4, &tag32, sizeof (tag32));
	return (p);
}

/* Check an object's tags, add its tag to the sum and free it. */
static uint64_t
free_object(void *obj)
{
	unsigned char *p = obj;
	uint64_t tag;
	uint32_t size32, tag32;

	memcpy(&tag, p, sizeof (tag));
	memcpy(&size32, p + 8, sizeof (size32));
	if (size32 < MIN_SIZE || size32 > MAX_SIZE)
		goto corrupt;
	memcpy(&tag32, p + size32 - 4, sizeof (tag32));
	if (tag32 != (uint32_t)tag)
		goto corrupt;
	free(p);
	return (tag);
corrupt:
	fprintf(stderr, "larson: object %p was overwritten\n", obj);
	exit(1);
}

static void *
generation(void *arg)
{
	chain_t *c = arg;
	long i;

	for (i = 0; i < c->steps; i++) {
		size_t slot = bm_rng_range(&c->rng, 0, SLOTS - 1);
		c->sum += free_object(c->slots[slot]);
		c->slots[slot] = new_object(&c->rng);
	}
	if (++c->gen < c->gens) {
		/* Hand the array on; main joins tids[gen] after this thread. */
		if (pthread_create(&c->tids[c->gen], NULL, generation, c) != 0) {
			fprintf(stderr, "larson: pthread_create failed\n");
			exit(1);
		}
	} else {
		for (i = 0; i < SLOTS; i++)
			c->sum += free_object(c->slots[i]);
	}
	return (NULL);
}

int
main(int argc, char **argv)
{
	bm_options_t opt;
	chain_t *chains;
	uint64_t sum = 0;
	long steps, gens;
	int t, i;

	bm_init(argc, argv, "  -n: total replacement steps (default 20e6)",
	    20000000, 200000, &opt);
	steps = opt.n / opt.threads;
	gens = steps / STEPS > 0 ? steps / STEPS : 1;
	steps /= gens;

	chains = bm_xmalloc(sizeof (chain_t) * (size_t)opt.threads);
	for (t = 0; t < opt.threads; t++) {
		chain_t *c = &chains[t];

		bm_rng_seed(&c->rng, (uint64_t)t + 1);
		c->slots = bm_xmalloc(sizeof (void *) * SLOTS);
		c->tids = bm_xmalloc(sizeof (pthread_t) * (size_t)gens);
		c->sum = 0;
		c->gen = 0;
		c->gens = gens;
		c->steps = steps;
		/* The main thread allocates what the first generation frees. */
		for (i = 0; i < SLOTS; i++)
			c->slots[i] = new_object(&c->rng);
	}
	for (t = 0; t < opt.threads; t++) {
		if (pthread_create(&chains[t].tids[0], NULL, generation,
		    &chains[t]) != 0) {
			fprintf(stderr, "larson: pthread_create failed\n");
			return (1);
		}
	}
	for (t = 0; t < opt.threads; t++) {
		long g;

		for (g = 0; g < gens; g++)
			pthread_join(chains[t].tids[g], NULL);
		sum = bm_mix(sum, chains[t].sum);
		free(chains[t].tids);
		free(chains[t].slots);
	}
	free(chains);
	bm_print_checksum(sum);
	return (0);
}
