/*
 * Moves while other threads use and free the objects: the dentry/inode
 * case of move_client.h under load.  Worker threads each own a share of the
 * table's slots, allocate into them and free them at random, and read any
 * slot under a hold (a held object must not move: the client answers
 * LATER); one thread runs kmem_cache_move_now() and the update pass over
 * and over meanwhile.  Each worker checks, under the table's lock, that
 * its own objects still carry the keys it gave them, wherever they moved;
 * at the end every live object is whole and counted, and objects did move.
 */
#include <stdio.h>
#include <stdlib.h>

#include <kmem/kmem.h>

#include "check.h"
#include "move_client.h"

#define WORKERS 3
#define SLOTS   6000
#define STEPS   200000

static mc_table_t table;
static uint64_t keys[SLOTS];    /* a slot's owner's record of its key */
static int workers_done;        /* atomic */

typedef struct worker {
	unsigned id;
	pthread_t thread;
} worker_t;

/* Read the object of any slot under a hold, outside the lock. */
static void
read_held(size_t slot)
{
	pthread_mutex_lock(&table.lock);
	mc_obj_t *o = table.slots[slot];
	if (o != NULL)
		o->holds++;
	pthread_mutex_unlock(&table.lock);
	if (o == NULL)
		return;
	CHECK(mc_intact(o, o->key));            /* it cannot move or go now */
	pthread_mutex_lock(&table.lock);
	CHECK(table.slots[slot] == o);
	o->holds--;
	pthread_mutex_unlock(&table.lock);
}

static void *
worker_main(void *arg)
{
	worker_t *w = arg;
	uint64_t seed = 0x5eed + w->id;
	for (unsigned step = 0; step < STEPS; step++) {
		uint64_t r = check_random(&seed);
		/* Slots id, id + WORKERS, ...: this worker's own. */
		size_t slot = (size_t)((r >> 32) % (SLOTS / WORKERS)) *
		    WORKERS + w->id;
		unsigned grow = (step / 20000) % 2 == 0 ? 60 : 30;
		unsigned op = (unsigned)(r % 100);
		if (op < grow && keys[slot] == 0) {
			keys[slot] = ((uint64_t)step << 16) | slot;
			(void) mc_alloc(&table, slot, keys[slot]);
		} else if (op >= grow && op < 90 && keys[slot] != 0) {
			if (mc_free(&table, slot))      /* not while held */
				keys[slot] = 0;
		} else if (op >= 90 && op < 97) {
			read_held((size_t)(r >> 40) % SLOTS);
		} else if (keys[slot] != 0) {
			pthread_mutex_lock(&table.lock);
			CHECK(mc_intact(table.slots[slot], keys[slot]));
			pthread_mutex_unlock(&table.lock);
		}
	}
	__atomic_fetch_add(&workers_done, 1, __ATOMIC_RELEASE);
	return (NULL);
}

static void *
mover_main(void *arg)
{
	uint64_t *passes = arg;
	while (__atomic_load_n(&workers_done, __ATOMIC_ACQUIRE) < WORKERS) {
		if (++*passes % 8 == 0)
			kmem_update_now();
		else
			kmem_cache_move_now(table.cache);
	}
	return (NULL);
}

int
main(void)
{
	mc_init(&table, "move_threads", SLOTS);
	worker_t workers[WORKERS];
	pthread_t mover;
	uint64_t passes = 0;
	CHECK_EQ(pthread_create(&mover, NULL, mover_main, &passes), 0);
	for (unsigned i = 0; i < WORKERS; i++) {
		workers[i].id = i;
		CHECK_EQ(pthread_create(&workers[i].thread, NULL, worker_main,
		    &workers[i]), 0);
	}
	for (unsigned i = 0; i < WORKERS; i++)
		CHECK_EQ(pthread_join(workers[i].thread, NULL), 0);
	CHECK_EQ(pthread_join(mover, NULL), 0);

	kmem_cache_move_now(table.cache);
	size_t live = 0;
	for (size_t i = 0; i < SLOTS; i++) {
		mc_obj_t *o = table.slots[i];
		CHECK_EQ(o != NULL, keys[i] != 0);
		if (o == NULL)
			continue;
		CHECK(mc_intact(o, keys[i]));
		CHECK_EQ(o->back, i + 1);
		CHECK_EQ(o->holds, 0);
		live++;
	}
	kmem_cache_stats_t st = mc_stats(&table);
	CHECK_EQ(st.buf_inuse, live);
	CHECK(st.move_yes > 0);
	printf("kmem_move_thread_test: %llu passes, %llu moved, %llu later, "
	    "%llu dont_know (%llu found in the depot), %llu slabs freed; all "
	    "passed\n", (unsigned long long)passes,
	    (unsigned long long)st.move_yes, (unsigned long long)st.move_later,
	    (unsigned long long)st.move_dont_know,
	    (unsigned long long)st.move_hunt_found,
	    (unsigned long long)st.move_slabs_freed);
	mc_fini(&table);
	return (0);
}
