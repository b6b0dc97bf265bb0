/*
 * Move callbacks for umem caches (umem_cache_set_move, umem_cache_move_now):
 * the callback gets the client's own argument and buffer size, its answers
 * reach kmem unchanged, bad input is reported, and moving gives slabs back
 * after most objects are freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/umem.h>

#include "check.h"

#define OBJS    4000

typedef struct node {
	struct node **ref;      /* the one pointer to it; NULL while unknown */
	uint64_t value;
	char pad[48];
} node_t;

static node_t *refs[OBJS];
static int client_arg;
static umem_cbrc_t answer = UMEM_CBRC_YES;
static unsigned asked;

static int
node_construct(void *buf, void *arg, int flags)
{
	CHECK(arg == &client_arg);
	CHECK_EQ(flags, UMEM_DEFAULT);
	((node_t *)buf)->ref = NULL;
	return (0);
}

static umem_cbrc_t
node_move(void *old, void *newbuf, size_t size, void *arg)
{
	node_t *o = old, *n = newbuf;
	CHECK(arg == &client_arg);
	CHECK_EQ(size, sizeof (node_t));
	asked++;
	if (o->ref == NULL || *o->ref != o)
		return (UMEM_CBRC_DONT_KNOW);
	if (answer == UMEM_CBRC_YES) {
		memcpy(n, o, sizeof (*n));
		*n->ref = n;
		o->ref = NULL;
	}
	return (answer);
}

static umem_cache_t *
make_cache(const char *name)
{
	umem_cache_t *cp = umem_cache_create(name, sizeof (node_t), 0,
	    node_construct, NULL, NULL, &client_arg, NULL, 0);
	CHECK(cp != NULL);
	umem_cache_set_move(cp, node_move);
	return (cp);
}

/* Fill the table, then keep every tenth node; returns how many are kept. */
static size_t
fill_and_thin(umem_cache_t *cp)
{
	for (size_t i = 0; i < OBJS; i++) {
		node_t *n = umem_cache_alloc(cp, UMEM_DEFAULT);
		CHECK(n != NULL && n->ref == NULL);
		n->value = i * 7;
		n->ref = &refs[i];
		refs[i] = n;
	}
	size_t kept = 0;
	for (size_t i = 0; i < OBJS; i++) {
		if (i % 10 == 0) {
			kept++;
			continue;
		}
		refs[i]->ref = NULL;
		umem_cache_free(cp, refs[i]);
		refs[i] = NULL;
	}
	return (kept);
}

static void
free_all(umem_cache_t *cp)
{
	for (size_t i = 0; i < OBJS; i++) {
		if (refs[i] == NULL)
			continue;
		CHECK_EQ(refs[i]->value, i * 7);
		CHECK(refs[i]->ref == &refs[i]);
		refs[i]->ref = NULL;
		umem_cache_free(cp, refs[i]);
		refs[i] = NULL;
	}
	umem_cache_destroy(cp);
}

static void
test_moves_give_slabs_back(void)
{
	umem_cache_t *cp = make_cache("umem_move");
	size_t kept = fill_and_thin(cp);
	node_t *before[OBJS];
	memcpy(before, refs, sizeof (before));
	asked = 0;
	size_t freed = umem_cache_move_now(cp);
	/* 4000 nodes filled 64 slabs of 63; the 400 kept fit 7. */
	CHECK(freed >= (64 - 8) * (size_t)4096);
	CHECK(asked > 0);
	size_t moved = 0;
	for (size_t i = 0; i < OBJS; i++)
		moved += refs[i] != before[i];
	CHECK(moved > kept / 2);
	free_all(cp);
}

static void
test_answers_pass_through(void)
{
	umem_cache_t *cp = make_cache("umem_move_no");
	answer = UMEM_CBRC_NO;
	fill_and_thin(cp);
	node_t *before[OBJS];
	memcpy(before, refs, sizeof (before));
	asked = 0;
	CHECK_EQ(umem_cache_move_now(cp), 0);
	CHECK(asked > 0);
	CHECK(memcmp(before, refs, sizeof (before)) == 0);
	answer = UMEM_CBRC_YES;
	free_all(cp);
}

static void
test_bad_input_is_reported(void)
{
	check_catch_reports();
	umem_cache_t *cp = umem_cache_create("umem_move_bad", 64, 0, NULL,
	    NULL, NULL, NULL, NULL, 0);
	CHECK_REPORT_IS(umem_cache_set_move(cp, NULL),
	    check_fmt("umem_cache_set_move(%p, NULL): the callback is NULL",
	    (void *)cp));
	CHECK_REPORT_IS(umem_cache_move_now(cp),
	    "kmem_cache_move_now(\"umem_move_bad\"): the cache has no move "
	    "callback (kmem_cache_set_move)");
	void *buf = umem_cache_alloc(cp, UMEM_DEFAULT);
	CHECK_REPORT_IS(umem_cache_set_move(cp, node_move),
	    "kmem_cache_set_move(\"umem_move_bad\"): the cache has allocated "
	    "already (set it first)");
	umem_cache_free(cp, buf);
	umem_cache_destroy(cp);

	cp = umem_cache_create("umem_move_twice", 64, 0, NULL, NULL, NULL,
	    NULL, NULL, 0);
	CHECK_NO_REPORT(umem_cache_set_move(cp, node_move));
	CHECK_REPORT_IS(umem_cache_set_move(cp, node_move),
	    "umem_cache_set_move(\"umem_move_twice\"): the cache has a move "
	    "callback already");
	umem_cache_destroy(cp);
	CHECK_REPORT_IS(umem_cache_move_now(NULL),
	    "umem_cache_move_now(NULL): the cache is NULL");
	kmem_report_handler_set(NULL, NULL, NULL);
}

int
main(void)
{
	test_moves_give_slabs_back();
	test_answers_pass_through();
	test_bad_input_is_reported();
	printf("umem_move_test: all passed\n");
	return (0);
}
