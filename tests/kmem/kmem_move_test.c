/*
 * Move callbacks (kmem_move.c): bad input, what kmem does with each of the
 * five answers, the depot hunt after DONT_KNOW in the update pass, the
 * statistics, and the point of it all: after a random 90 % of the objects
 * are freed, moving gives the slabs back.
 *
 * The client is move_client.h's table of objects.  Its cache has 64-byte
 * objects: 63 to a 4 KiB slab, and a slab's buffers share its page, which
 * is how the tests tell which objects share a slab.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/debug.h>
#include <kmem/kmem.h>
#include <kmem/stats.h>

#include "check.h"
#include "move_client.h"

#define SLAB_SIZE       4096
#define PER_SLAB        56      /* 72-byte chunks: 64 and a free mark's word */

static size_t
slab_of(const void *p)
{
	return ((uintptr_t)p / SLAB_SIZE);
}

/*
 * Fill slabs whole slabs, then keep `keep' published objects in each (the
 * first slots that landed there) and free the rest back to the slabs.
 * Returns the slots kept, in kept[] (room for slabs * keep).
 */
static size_t
thin_slabs(mc_table_t *t, size_t slabs, size_t keep, size_t *kept)
{
	size_t n = slabs * PER_SLAB;
	CHECK(n <= t->n);
	for (size_t i = 0; i < n; i++)
		(void) mc_alloc(t, i, i);
	kmem_cache_stats_t st = mc_stats(t);
	CHECK_EQ(st.slab_size, SLAB_SIZE);
	CHECK_EQ(st.buf_per_slab, PER_SLAB);
	CHECK_EQ(st.mem_total, slabs * SLAB_SIZE);

	size_t nkept = 0;
	size_t *count = calloc(n, sizeof (size_t));
	size_t *slab_ids = calloc(n, sizeof (size_t));
	size_t nslabs = 0;
	for (size_t i = 0; i < n; i++) {
		size_t id = slab_of(t->slots[i]), s;
		for (s = 0; s < nslabs && slab_ids[s] != id; s++)
			continue;
		if (s == nslabs)
			slab_ids[nslabs++] = id;
		if (count[s]++ < keep)
			kept[nkept++] = i;
		else
			CHECK(mc_free(t, i));
	}
	CHECK_EQ(nslabs, slabs);
	free(count);
	free(slab_ids);
	kmem_cache_reap_now(t->cache);  /* the freed ones back to their slabs */
	st = mc_stats(t);
	CHECK_EQ(st.buf_inuse, slabs * keep);
	CHECK_EQ(st.mem_total, slabs * SLAB_SIZE);
	return (nkept);
}

/* Every slot holds its object, whole, pointing back at it. */
static size_t
check_table(mc_table_t *t)
{
	size_t live = 0;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->n; i++) {
		mc_obj_t *o = t->slots[i];
		if (o == NULL)
			continue;
		CHECK(mc_intact(o, i));
		CHECK_EQ(__atomic_load_n(&o->back, __ATOMIC_RELAXED), i + 1);
		live++;
	}
	pthread_mutex_unlock(&t->lock);
	CHECK_EQ(mc_stats(t).buf_inuse, live);
	return (live);
}

/* ---- bad input ---- */

static kmem_cache_stats_t
mc_stats_of(kmem_cache_t *cp)
{
	kmem_cache_stats_t st;
	CHECK_EQ(kmem_cache_stats(cp, &st), 0);
	return (st);
}

static void
test_bad_input_is_reported(void)
{
	check_catch_reports();
	CHECK_REPORT_IS(kmem_cache_set_move(NULL, mc_move),
	    "kmem_cache_set_move(NULL): the cache is NULL");
	kmem_cache_t *cp = kmem_cache_create("move_bad", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	CHECK_REPORT_IS(kmem_cache_set_move(cp, NULL),
	    "kmem_cache_set_move(\"move_bad\"): the callback is NULL");
	CHECK_REPORT_IS(kmem_cache_move_now(cp),
	    "kmem_cache_move_now(\"move_bad\"): the cache has no move callback "
	    "(kmem_cache_set_move)");
	void *buf = kmem_cache_alloc(cp, KM_SLEEP);
	CHECK_REPORT_IS(kmem_cache_set_move(cp, mc_move),
	    "kmem_cache_set_move(\"move_bad\"): the cache has allocated "
	    "already (set it first)");
	CHECK(!mc_stats_of(cp).movable);
	kmem_cache_free(cp, buf);
	kmem_cache_destroy(cp);

	cp = kmem_cache_create("move_twice", 64, 0, NULL, NULL, NULL, NULL,
	    NULL, 0);
	CHECK_NO_REPORT(kmem_cache_set_move(cp, mc_move));
	CHECK(mc_stats_of(cp).movable);
	CHECK_REPORT_IS(kmem_cache_set_move(cp, mc_move),
	    "kmem_cache_set_move(\"move_twice\"): the cache has a move "
	    "callback already");
	kmem_cache_destroy(cp);

	cp = kmem_cache_create("move_notouch", 64, 0, NULL, NULL, NULL, NULL,
	    NULL, KMC_NOTOUCH);
	CHECK_REPORT_IS(kmem_cache_set_move(cp, mc_move),
	    "kmem_cache_set_move(\"move_notouch\"): the cache's buffers may not "
	    "be touched (KMC_NOTOUCH)");
	kmem_cache_destroy(cp);
	CHECK_REPORT_IS(kmem_cache_move_now(NULL),
	    "kmem_cache_move_now(NULL): the cache is NULL");

	/* An answer that is none of the five: reported, taken as NO. */
	mc_table_t t;
	mc_init(&t, "move_42", 2 * PER_SLAB);
	t.answer = (kmem_cbrc_t)42;
	size_t kept[2];
	thin_slabs(&t, 2, 1, kept);
	CHECK_REPORT(kmem_cache_move_now(t.cache),
	    "the move callback answered 42");
	kmem_cache_stats_t st = mc_stats(&t);
	CHECK_EQ(st.move_callbacks, 1);
	CHECK_EQ(st.move_no, 0);
	CHECK_EQ(st.mem_total, 2 * SLAB_SIZE);
	CHECK_EQ(check_table(&t), 2);
	mc_fini(&t);
	kmem_report_handler_set(NULL, NULL, NULL);
}

/* ---- the answers ---- */

static void
test_yes_moves_and_frees_slabs(void)
{
	mc_table_t t;
	mc_init(&t, "move_yes", 40 * PER_SLAB);
	size_t kept[80];
	CHECK_EQ(thin_slabs(&t, 40, 2, kept), 80);
	size_t freed = kmem_cache_move_now(t.cache);
	kmem_cache_stats_t st = mc_stats(&t);
	/* 80 objects fit two slabs: everything else went back. */
	CHECK(st.mem_total <= 2 * SLAB_SIZE);
	CHECK_EQ(freed, 40 * SLAB_SIZE - st.mem_total);
	CHECK_EQ(st.move_slabs_freed, 40 - st.mem_total / SLAB_SIZE);
	/* The destination slabs' own objects stayed; all others moved. */
	CHECK_EQ(st.move_yes, 80 - 2 * (st.mem_total / SLAB_SIZE));
	CHECK_EQ(st.move_callbacks, st.move_yes);
	CHECK_EQ(st.move_no + st.move_later + st.move_dont_need +
	    st.move_dont_know, 0);
	CHECK_EQ(t.live_asked, st.move_yes);
	CHECK_EQ(check_table(&t), 80);
	mc_fini(&t);
}

static void
test_no_pins_the_slab(void)
{
	mc_table_t t;
	mc_init(&t, "move_no", 20 * PER_SLAB);
	t.answer = KMEM_CBRC_NO;
	size_t kept[60];
	thin_slabs(&t, 20, 3, kept);
	mc_obj_t *before[60];
	for (size_t i = 0; i < 60; i++)
		before[i] = t.slots[kept[i]];
	CHECK_EQ(kmem_cache_move_now(t.cache), 0);
	kmem_cache_stats_t st = mc_stats(&t);
	/* One NO per slab: the slab's other objects are not asked about.  The
	 * fullest slab supplies the destinations and is never a candidate. */
	CHECK_EQ(st.move_no, 19);
	CHECK_EQ(st.move_callbacks, 19);
	CHECK_EQ(st.move_slabs_freed, 0);
	CHECK_EQ(st.mem_total, 20 * SLAB_SIZE);
	for (size_t i = 0; i < 60; i++)
		CHECK(t.slots[kept[i]] == before[i]);
	CHECK_EQ(check_table(&t), 60);

	/* The update pass leaves pinned slabs alone ... */
	kmem_update_now();
	CHECK_EQ(mc_stats(&t).move_callbacks, 19);
	/* ... kmem_cache_move_now() asks again. */
	kmem_cache_move_now(t.cache);
	CHECK_EQ(mc_stats(&t).move_no, 38);
	mc_fini(&t);
}

static void
test_later_three_times_is_no(void)
{
	mc_table_t t;
	mc_init(&t, "move_later", 20 * PER_SLAB);
	t.answer = KMEM_CBRC_LATER;
	size_t kept[80];
	thin_slabs(&t, 20, 4, kept);
	CHECK_EQ(kmem_cache_move_now(t.cache), 0);
	kmem_cache_stats_t st = mc_stats(&t);
	/* Three LATERs from a slab, then it counts as pinned. */
	CHECK_EQ(st.move_later, 3 * 19);
	CHECK_EQ(st.move_callbacks, 3 * 19);
	CHECK_EQ(st.move_slabs_freed, 0);
	CHECK_EQ(check_table(&t), 80);

	/* Willing now: the objects move after all. */
	t.answer = KMEM_CBRC_YES;
	kmem_cache_move_now(t.cache);
	st = mc_stats(&t);
	CHECK(st.mem_total <= 2 * SLAB_SIZE);
	CHECK_EQ(check_table(&t), 80);
	mc_fini(&t);
}

static void
test_dont_need_frees_both(void)
{
	mc_table_t t;
	mc_init(&t, "move_dont_need", 20 * PER_SLAB);
	t.answer = KMEM_CBRC_DONT_NEED;
	size_t kept[40];
	thin_slabs(&t, 20, 2, kept);
	uint64_t constructed = t.constructed;
	CHECK(kmem_cache_move_now(t.cache) > 0);
	kmem_cache_stats_t st = mc_stats(&t);
	CHECK_EQ(st.move_dont_need, 2 * 19);
	CHECK_EQ(st.move_slabs_freed, 19);
	CHECK_EQ(st.mem_total, SLAB_SIZE);
	/* Each callback had a new, constructed buffer, freed again. */
	CHECK_EQ(t.constructed - constructed, 2 * 19);
	CHECK_EQ(check_table(&t), 2);
	mc_fini(&t);
}

static void
test_dont_know_leaves_the_object(void)
{
	mc_table_t t;
	mc_init(&t, "move_dont_know", 10 * PER_SLAB);
	size_t kept[20];
	thin_slabs(&t, 10, 2, kept);
	/* Unpublished: the client does not know them (still allocated). */
	mc_obj_t *hidden[20];
	for (size_t i = 0; i < 20; i++) {
		hidden[i] = t.slots[kept[i]];
		t.slots[kept[i]] = NULL;
		__atomic_store_n(&hidden[i]->back, 0, __ATOMIC_RELAXED);
	}
	CHECK_EQ(kmem_cache_move_now(t.cache), 0);
	kmem_cache_stats_t st = mc_stats(&t);
	CHECK_EQ(st.move_dont_know, 2 * 9);
	CHECK_EQ(st.move_hunt_found, 0);
	CHECK_EQ(st.move_slabs_freed, 0);
	CHECK_EQ(st.buf_inuse, 20);
	for (size_t i = 0; i < 20; i++) {
		CHECK(mc_intact(hidden[i], kept[i]));
		kmem_cache_free(t.cache, hidden[i]);
	}
	mc_fini(&t);
}

/*
 * A debug cache moves too: destinations pass the debug allocation checks,
 * freed buffers the debug free checks (a freed buffer is patterned, so
 * the client does not recognise it), and nothing is reported.
 */
static void
test_debug_cache_moves(void)
{
	check_catch_reports();
	mc_table_t t;
	mc_init_flags(&t, "move_debug", 2000,
	    KMF_AUDIT | KMF_DEADBEEF | KMF_REDZONE);
	for (size_t i = 0; i < 2000; i++)
		(void) mc_alloc(&t, i, i);
	for (size_t i = 0; i < 2000; i++)
		if (i % 10 != 0)
			CHECK(mc_free(&t, i));
	kmem_cache_stats_t st = mc_stats(&t);
	size_t before = st.mem_total;
	CHECK_NO_REPORT(kmem_cache_move_now(t.cache));
	st = mc_stats(&t);
	CHECK(st.move_yes > 0);
	CHECK(st.mem_total * 4 < before);
	CHECK_EQ(check_table(&t), 200);
	CHECK_NO_REPORT(kmem_debug_verify());
	mc_fini(&t);
	kmem_report_handler_set(NULL, NULL, NULL);
}

/*
 * The client may free objects from its callback.  Here each YES also lets
 * go of another object of the same slab, and without magazines it goes
 * straight back to the slab: kmem must notice and never ask about it.
 */
static kmem_cbrc_t
yes_and_free_a_neighbour(mc_table_t *t, size_t slot)
{
	mc_obj_t *o = t->slots[slot];
	for (size_t j = 0; j < t->n; j++) {
		mc_obj_t *p = t->slots[j];
		if (p == NULL || p == o || slab_of(p) != slab_of(o))
			continue;
		t->slots[j] = NULL;
		__atomic_store_n(&p->back, 0, __ATOMIC_RELEASE);
		kmem_cache_free(t->cache, p);
		break;
	}
	return (KMEM_CBRC_YES);
}

static void
test_buffers_freed_meanwhile_are_skipped(void)
{
	mc_table_t t;
	mc_init_flags(&t, "move_freed_meanwhile", 10 * PER_SLAB,
	    KMC_NOMAGAZINE);
	size_t kept[40];
	thin_slabs(&t, 10, 4, kept);
	t.choose = yes_and_free_a_neighbour;
	kmem_cache_move_now(t.cache);
	kmem_cache_stats_t st = mc_stats(&t);
	CHECK(st.move_yes > 0);
	CHECK_EQ(st.move_dont_know, 0);
	CHECK_EQ(st.move_callbacks, st.move_yes);
	check_table(&t);
	mc_fini(&t);
}

/* ---- the update pass, and the hunt in the depot ---- */

typedef struct hunt_arg {
	mc_table_t *t;
	size_t *slots;
	size_t n;
} hunt_arg_t;

static void *
free_and_exit(void *arg)
{
	hunt_arg_t *h = arg;
	for (size_t i = 0; i < h->n; i++)
		CHECK(mc_free(h->t, h->slots[i]));
	return (NULL);  /* its magazines go to the depot */
}

/*
 * 110 slabs, each with a published object and one a thread freed before
 * it exited, so its magazines wait in the depot: the slab layer counts them
 * allocated, and the depot's working set keeps them.  The update pass
 * finds the cache fragmented and empties KMEM_MOVE_SLABS_PER_PASS (4) of
 * the sparsest slabs: the published objects move (YES), the others are
 * DONT_KNOW and found in the depot.  (A second pass: see the first.)
 */
static void
test_update_pass_moves_and_hunts(void)
{
	mc_table_t t;
	mc_init(&t, "move_hunt", 110 * PER_SLAB);
	size_t kept[220];
	CHECK_EQ(thin_slabs(&t, 110, 2, kept), 220);
	/* A first pass, with the client busy: it settles the magazine size
	 * (all that freeing was depot traffic) and gets two LATERs from each
	 * of its four slabs, too few to pin them. */
	t.answer = KMEM_CBRC_LATER;
	kmem_update_now();
	kmem_cache_stats_t st = mc_stats(&t);
	CHECK_EQ(st.move_later, 8);
	CHECK_EQ(st.move_callbacks, 8);
	t.answer = KMEM_CBRC_YES;

	size_t doomed[110];
	for (size_t i = 0; i < 110; i++)
		doomed[i] = kept[2 * i + 1];
	hunt_arg_t h = { &t, doomed, 110 };
	pthread_t thread;
	CHECK_EQ(pthread_create(&thread, NULL, free_and_exit, &h), 0);
	CHECK_EQ(pthread_join(thread, NULL), 0);
	st = mc_stats(&t);
	CHECK_EQ(st.buf_inuse, 110);
	CHECK(st.full_magazines > 0);

	kmem_update_now();
	st = mc_stats(&t);
	CHECK_EQ(st.move_yes, 4);
	CHECK_EQ(st.move_dont_know, 4);
	CHECK_EQ(st.move_hunt_found, 4);
	CHECK_EQ(st.move_slabs_freed, 4);
	CHECK_EQ(st.mem_total, 106 * SLAB_SIZE);
	CHECK_EQ(check_table(&t), 110);
	mc_fini(&t);
}

/* ---- a random 90 % freed ---- */

static void
test_ninety_percent_freed_gives_slabs_back(void)
{
	const size_t slabs = 200, n = slabs * PER_SLAB;
	mc_table_t t;
	mc_init(&t, "move_ninety", n);
	for (size_t i = 0; i < n; i++)
		(void) mc_alloc(&t, i, i);
	uint64_t seed = 16;
	size_t live = n;
	for (size_t i = 0; i < n; i++) {
		if (check_random(&seed) % 10 != 0) {
			CHECK(mc_free(&t, i));
			live--;
		}
	}
	kmem_cache_reap_now(t.cache);
	kmem_cache_stats_t st = mc_stats(&t);
	size_t before = st.mem_total;
	CHECK(before >= (slabs - 2) * SLAB_SIZE);   /* a survivor in nearly all */

	size_t freed = kmem_cache_move_now(t.cache);
	st = mc_stats(&t);
	size_t need = (live + PER_SLAB - 1) / PER_SLAB;
	CHECK(st.mem_total <= (need + 1) * SLAB_SIZE);
	CHECK_EQ(freed, before - st.mem_total);
	CHECK(st.move_slabs_freed >= slabs - need - 3);
	CHECK_EQ(check_table(&t), live);
	mc_fini(&t);
}

/* ---- statistics ---- */

typedef struct text {
	char buf[1 << 16];
	size_t len;
} text_t;

static void
collect_line(void *arg, const char *line)
{
	text_t *t = arg;
	t->len += (size_t)snprintf(t->buf + t->len, sizeof (t->buf) - t->len,
	    "%s\n", line);
}

static void
test_statistics_table_and_json(void)
{
	mc_table_t t;
	mc_init(&t, "move_stats", 10 * PER_SLAB);
	size_t kept[10];
	thin_slabs(&t, 10, 1, kept);
	kmem_cache_move_now(t.cache);
	kmem_cache_stats_t st = mc_stats(&t);
	CHECK_EQ(st.move_yes, 9);
	CHECK_EQ(st.move_slabs_freed, 9);

	static text_t text;
	text.len = 0;
	kmem_table(collect_line, &text);
	CHECK(strstr(text.buf, "cache (move callbacks)") != NULL);
	CHECK(strstr(text.buf, check_fmt("%-28s %9llu %9llu %9llu %9llu %9llu "
	    "%9llu %9llu %9llu", "move_stats", 9ull, 9ull, 0ull, 0ull, 0ull,
	    0ull, 0ull, 9ull)) != NULL);

	kmem_stats_t *snap = kmem_stats_snapshot();
	CHECK(snap != NULL);
	size_t len = kmem_stats_json(snap, NULL, 0);
	char *json = malloc(len + 1);
	kmem_stats_json(snap, json, len + 1);
	const char *at = strstr(json, "\"name\": \"move_stats\"");
	CHECK(at != NULL);
	CHECK(strstr(at, "\"movable\": 1, \"move_callbacks\": 9, "
	    "\"move_yes\": 9, \"move_no\": 0, \"move_later\": 0, "
	    "\"move_dont_need\": 0, \"move_dont_know\": 0, "
	    "\"move_hunt_found\": 0, \"move_slabs_freed\": 9") != NULL);
	free(json);
	kmem_stats_free(snap);
	mc_fini(&t);

	/* Without a movable cache, the table has no such section. */
	text.len = 0;
	kmem_table(collect_line, &text);
	CHECK(strstr(text.buf, "move callbacks") == NULL);
}

int
main(void)
{
	test_bad_input_is_reported();
	test_yes_moves_and_frees_slabs();
	test_no_pins_the_slab();
	test_later_three_times_is_no();
	test_dont_need_frees_both();
	test_dont_know_leaves_the_object();
	test_debug_cache_moves();
	test_buffers_freed_meanwhile_are_skipped();
	test_update_pass_moves_and_hunts();
	test_ninety_percent_freed_gives_slabs_back();
	test_statistics_table_and_json();
	printf("kmem_move_test: all passed\n");
	return (0);
}
