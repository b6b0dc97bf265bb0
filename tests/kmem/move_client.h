/*
 * A client of move callbacks for the tests: the dentry/inode case.  Objects
 * ("inodes") of one cache are referenced from a table ("the dentries"),
 * one slot each; an object keeps a back-pointer to its slot, so the move
 * callback can tell a live, published object from anything else (a buffer
 * free in a magazine, one just allocated or being freed) without trusting
 * its contents: it reads the back-pointer (atomically, as another thread
 * may be changing it), and only under the table's lock checks that the
 * slot really points back at the object.  This is the recognition protocol
 * of illumos's kmem.c, with a slot index for the container pointer.
 *
 * Every object carries a payload derived from a key, so a test can check
 * that moved objects arrived whole.  A thread using an object outside the
 * lock takes a hold first; the callback answers LATER for a held object.
 * The answer to give for live objects is the table's `answer' (YES unless a
 * test says otherwise), or what its `choose' function picks.
 */
#ifndef KMEM_TESTS_MOVE_CLIENT_H
#define KMEM_TESTS_MOVE_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <kmem/kmem.h>

#include "check.h"

#define MC_MAGIC        0x6d6f7665u     /* "move": set by the constructor */
#define MC_WORDS        5

typedef struct mc_obj {
	uint64_t back;          /* slot + 1 while published, else 0 (atomic) */
	uint32_t magic;
	uint32_t holds;         /* the table's lock */
	uint64_t key;
	uint64_t words[MC_WORDS];       /* a function of key */
} mc_obj_t;

typedef struct mc_table {
	pthread_mutex_t lock;
	size_t n;
	mc_obj_t **slots;
	kmem_cache_t *cache;
	kmem_cbrc_t answer;     /* for live, unheld objects ... */
	/* ... unless this says otherwise, for the object of slot (lock held) */
	kmem_cbrc_t (*choose)(struct mc_table *t, size_t slot);
	uint64_t constructed;   /* the constructor's calls (atomic) */
	uint64_t asked;         /* callbacks (atomic) */
	uint64_t live_asked;    /* of which about published objects */
	bool check_newbuf;      /* newbuf must be constructed and unpublished */
} mc_table_t;

static inline uint64_t
mc_word(uint64_t key, unsigned i)
{
	uint64_t x = key * 0x9e3779b97f4a7c15ull + i;
	x ^= x >> 31;
	return (x * 0xbf58476d1ce4e5b9ull);
}

static inline void
mc_fill(mc_obj_t *o, uint64_t key)
{
	o->key = key;
	for (unsigned i = 0; i < MC_WORDS; i++)
		o->words[i] = mc_word(key, i);
}

static inline bool
mc_intact(const mc_obj_t *o, uint64_t key)
{
	if (o->magic != MC_MAGIC || o->key != key)
		return (false);
	for (unsigned i = 0; i < MC_WORDS; i++)
		if (o->words[i] != mc_word(key, i))
			return (false);
	return (true);
}

static int
mc_construct(void *buf, void *arg, int kmflag)
{
	mc_table_t *t = arg;
	(void) kmflag;
	mc_obj_t *o = buf;
	__atomic_store_n(&o->back, 0, __ATOMIC_RELAXED);
	o->magic = MC_MAGIC;
	o->holds = 0;
	__atomic_fetch_add(&t->constructed, 1, __ATOMIC_RELAXED);
	return (0);
}

/* The slot of o if it is published there (lock held), else SIZE_MAX. */
static inline size_t
mc_slot_of(mc_table_t *t, const mc_obj_t *o)
{
	uint64_t back = __atomic_load_n(&o->back, __ATOMIC_ACQUIRE);
	if (back == 0 || back > t->n || t->slots[back - 1] != o)
		return (SIZE_MAX);
	return ((size_t)(back - 1));
}

static kmem_cbrc_t
mc_move(void *old, void *newbuf, size_t size, void *arg)
{
	mc_table_t *t = arg;
	mc_obj_t *o = old, *n = newbuf;
	__atomic_fetch_add(&t->asked, 1, __ATOMIC_RELAXED);
	CHECK_EQ(size, sizeof (mc_obj_t));
	CHECK(old != newbuf);
	/* Unlocked first look, as a real client's: 0 means "not mine". */
	uint64_t back = __atomic_load_n(&o->back, __ATOMIC_ACQUIRE);
	if (back == 0 || back > t->n)
		return (KMEM_CBRC_DONT_KNOW);
	pthread_mutex_lock(&t->lock);
	if (t->check_newbuf) {
		CHECK_EQ(n->magic, MC_MAGIC);
		CHECK_EQ(__atomic_load_n(&n->back, __ATOMIC_RELAXED), 0);
	}
	size_t slot = mc_slot_of(t, o);
	if (slot == SIZE_MAX) {
		pthread_mutex_unlock(&t->lock);
		return (KMEM_CBRC_DONT_KNOW);
	}
	t->live_asked++;
	kmem_cbrc_t answer = o->holds != 0 ? KMEM_CBRC_LATER :
	    t->choose != NULL ? t->choose(t, slot) : t->answer;
	if (answer == KMEM_CBRC_YES) {
		memcpy(n, o, sizeof (*n));
		t->slots[slot] = n;
		__atomic_store_n(&o->back, 0, __ATOMIC_RELEASE);
	} else if (answer == KMEM_CBRC_DONT_NEED) {
		t->slots[slot] = NULL;          /* the client lets it go */
		__atomic_store_n(&o->back, 0, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&t->lock);
	return (answer);
}

static inline void
mc_init_flags(mc_table_t *t, const char *name, size_t n, int cflags)
{
	memset(t, 0, sizeof (*t));
	pthread_mutex_init(&t->lock, NULL);
	t->n = n;
	t->slots = calloc(n, sizeof (mc_obj_t *));
	CHECK(t->slots != NULL);
	t->answer = KMEM_CBRC_YES;
	t->check_newbuf = true;
	t->cache = kmem_cache_create(name, sizeof (mc_obj_t), 0, mc_construct,
	    NULL, NULL, t, NULL, cflags);
	CHECK(t->cache != NULL);
	kmem_cache_set_move(t->cache, mc_move);
}

static inline void
mc_init(mc_table_t *t, const char *name, size_t n)
{
	mc_init_flags(t, name, n, 0);
}

/* Allocate an object with key into the empty slot i and publish it. */
static inline mc_obj_t *
mc_alloc(mc_table_t *t, size_t i, uint64_t key)
{
	mc_obj_t *o = kmem_cache_alloc(t->cache, KM_SLEEP);
	CHECK(o != NULL);
	CHECK_EQ(o->magic, MC_MAGIC);
	mc_fill(o, key);
	pthread_mutex_lock(&t->lock);
	CHECK(t->slots[i] == NULL);
	t->slots[i] = o;
	__atomic_store_n(&o->back, i + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&t->lock);
	return (o);
}

/* Unpublish the object of slot i and free it; false if the slot was empty. */
static inline bool
mc_free(mc_table_t *t, size_t i)
{
	pthread_mutex_lock(&t->lock);
	mc_obj_t *o = t->slots[i];
	if (o == NULL || o->holds != 0) {
		pthread_mutex_unlock(&t->lock);
		return (false);
	}
	t->slots[i] = NULL;
	__atomic_store_n(&o->back, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&t->lock);
	kmem_cache_free(t->cache, o);
	return (true);
}

static inline void
mc_fini(mc_table_t *t)
{
	for (size_t i = 0; i < t->n; i++)
		(void) mc_free(t, i);
	kmem_cache_destroy(t->cache);
	free(t->slots);
	pthread_mutex_destroy(&t->lock);
}

static inline kmem_cache_stats_t
mc_stats(const mc_table_t *t)
{
	kmem_cache_stats_t st;
	CHECK_EQ(kmem_cache_stats(t->cache, &st), 0);
	return (st);
}

#endif /* KMEM_TESTS_MOVE_CLIENT_H */
