/*
 * Move callbacks against a model: random allocations, frees and move
 * passes (kmem_cache_move_now() and the update pass), with the client
 * answering at random.  The model says which slots hold a live object and
 * with which key; after every pass each live object must be whole, where
 * its slot says, pointing back at it, no two slots may share a buffer, and
 * the cache must count exactly the live objects as in use: nothing lost,
 * nothing duplicated, nothing leaked.
 */
#include <stdio.h>
#include <stdlib.h>

#include <kmem/kmem.h>

#include "check.h"
#include "move_client.h"

#define SLOTS   3000
#define STEPS   40000

static uint64_t seed = 1994;
static uint64_t model[SLOTS];           /* key of the live object, 0: none */
static uint64_t answered[5];

/* The client's answer for the object of slot: at random, and a DONT_NEED
 * lets the object go, which the model learns here. */
static kmem_cbrc_t
choose(mc_table_t *t, size_t slot)
{
	(void) t;
	uint64_t r = check_random(&seed) % 100;
	kmem_cbrc_t answer = r < 70 ? KMEM_CBRC_YES : r < 75 ? KMEM_CBRC_NO :
	    r < 88 ? KMEM_CBRC_LATER : r < 94 ? KMEM_CBRC_DONT_NEED :
	    KMEM_CBRC_DONT_KNOW;
	if (answer == KMEM_CBRC_DONT_NEED)
		model[slot] = 0;
	answered[answer]++;
	return (answer);
}

static int
by_address(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return (x < y ? -1 : x > y);
}

static void
check_against_model(mc_table_t *t)
{
	static uintptr_t seen[SLOTS];
	size_t live = 0;
	for (size_t i = 0; i < SLOTS; i++) {
		mc_obj_t *o = t->slots[i];
		CHECK_EQ(o != NULL, model[i] != 0);
		if (o == NULL)
			continue;
		CHECK(mc_intact(o, model[i]));
		CHECK_EQ(__atomic_load_n(&o->back, __ATOMIC_RELAXED), i + 1);
		seen[live++] = (uintptr_t)o;
	}
	qsort(seen, live, sizeof (seen[0]), by_address);
	for (size_t i = 1; i < live; i++)
		CHECK(seen[i - 1] + sizeof (mc_obj_t) <= seen[i]);
	kmem_cache_stats_t st = mc_stats(t);
	CHECK_EQ(st.buf_inuse, live);
	/* kmem counted each answer the client gave; the callbacks about
	 * objects the client did not know were DONT_KNOWs too. */
	CHECK_EQ(st.move_yes, answered[KMEM_CBRC_YES]);
	CHECK_EQ(st.move_no, answered[KMEM_CBRC_NO]);
	CHECK_EQ(st.move_later, answered[KMEM_CBRC_LATER]);
	CHECK_EQ(st.move_dont_need, answered[KMEM_CBRC_DONT_NEED]);
	CHECK_EQ(st.move_dont_know, answered[KMEM_CBRC_DONT_KNOW] +
	    st.move_callbacks - t->live_asked);
}

int
main(void)
{
	mc_table_t t;
	mc_init(&t, "move_model", SLOTS);
	t.choose = choose;
	uint64_t next_key = 1, passes = 0;
	for (unsigned step = 0; step < STEPS; step++) {
		uint64_t r = check_random(&seed);
		size_t slot = (size_t)(r >> 32) % SLOTS;
		/* The population grows and shrinks in turns: shrinking
		 * leaves the sparse slabs moves are for. */
		unsigned op = (unsigned)(r % 100);
		unsigned grow = (step / 5000) % 2 == 0 ? 70 : 28;
		if (op < grow && model[slot] == 0) {
			(void) mc_alloc(&t, slot, next_key);
			model[slot] = next_key++;
		} else if (op >= grow && op < 98 && model[slot] != 0) {
			CHECK(mc_free(&t, slot));
			model[slot] = 0;
		} else if (op >= 98) {
			if (op == 98)
				kmem_cache_move_now(t.cache);
			else
				kmem_update_now();
			passes++;
			check_against_model(&t);
		}
	}
	kmem_cache_move_now(t.cache);
	check_against_model(&t);
	kmem_cache_stats_t st = mc_stats(&t);
	/* Every answer was given, and moving freed slabs. */
	for (unsigned a = 0; a < 5; a++)
		CHECK(answered[a] > 0);
	CHECK(st.move_yes > 0 && st.move_slabs_freed > 0);
	printf("kmem_move_model_test: %llu passes, %llu callbacks (%llu yes, "
	    "%llu no, %llu later, %llu dont_need, %llu dont_know), %llu slabs "
	    "freed; all passed\n", (unsigned long long)passes,
	    (unsigned long long)st.move_callbacks,
	    (unsigned long long)st.move_yes, (unsigned long long)st.move_no,
	    (unsigned long long)st.move_later,
	    (unsigned long long)st.move_dont_need,
	    (unsigned long long)st.move_dont_know,
	    (unsigned long long)st.move_slabs_freed);
	mc_fini(&t);
	return (0);
}
