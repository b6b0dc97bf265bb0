/*
 * The leak detector (kmem_leaks.c) on a program whose leaks are known.
 *
 * Leaked, their only pointers dropped inside a function that is not
 * inlined and whose stack is then overwritten: three 24-byte kmem_alloc()
 * buffers, one of 1024 bytes, a large one from kmem_oversize and two of a
 * cache of our own.  Kept, each through a different kind of root: a
 * global; a local of main(); a chain from a global through a buffer to a
 * buffer, the last link an interior pointer; a list of 100000 buffers from
 * a global (marking iterates); a local of another thread,
 * blocked meanwhile; and buffers freed again, which are no leaks at all.
 * The scan must find exactly the dropped ones, grouped by cache and size
 * (no audit trail in this build), and kmem_findleaks() must say so.  And a
 * child process that asked for a scan at exit prints one when it exits.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <kmem/debug.h>
#include <kmem/kmem.h>

#include "check.h"
#include "kmem/kmem_impl.h"      /* kmem_leaks_at_exit() */

#define LARGE_SIZE      (300 * 4096)

#define LIST_LENGTH     100000

static void *volatile kept_global;
static void **volatile long_list;       /* a list far longer than any stack */
static void **volatile chain_head;
static kmem_cache_t *test_cache;

/* ---- another thread, holding a buffer on its stack ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int stage;               /* 1: the thread holds its buffer; 2: done */

static void *
holder_main(void *arg)
{
	(void) arg;
	void *volatile held = kmem_alloc(500, KM_SLEEP);
	pthread_mutex_lock(&lock);
	stage = 1;
	pthread_cond_broadcast(&cond);
	while (stage != 2)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	kmem_free(held, 500);
	return (NULL);
}

/* ---- the leaks ---- */

__attribute__((noinline)) static void
leak_some(void)
{
	for (int i = 0; i < 3; i++)
		CHECK(kmem_alloc(24, KM_SLEEP) != NULL);
	CHECK(kmem_alloc(1024, KM_SLEEP) != NULL);
	CHECK(kmem_alloc(LARGE_SIZE, KM_SLEEP) != NULL);
	for (int i = 0; i < 2; i++)
		CHECK(kmem_cache_alloc(test_cache, KM_SLEEP) != NULL);
}

/*
 * Leak from deep below the caller's frame, so that the frames which held
 * the pointers lie where clobber_stack()'s array, not its frame header or
 * a sanitizer's redzones, will overwrite them.
 */
__attribute__((noinline)) static void
leak_deep(void)
{
	char pad[4096];
	memset(pad, 0, sizeof (pad));
	__asm__ volatile("" : : "r"(pad) : "memory");
	leak_some();
}

/* Buffers allocated and freed again: in magazines or on slab free lists. */
__attribute__((noinline)) static void
churn(void)
{
	void *bufs[200];
	for (int i = 0; i < 200; i++)
		bufs[i] = kmem_alloc(24 + (size_t)(i % 5) * 100, KM_SLEEP);
	for (int i = 0; i < 200; i++)
		kmem_free(bufs[i], 24 + (size_t)(i % 5) * 100);
	void *large = kmem_alloc(LARGE_SIZE, KM_SLEEP);
	kmem_free(large, LARGE_SIZE);
	void *obj = kmem_cache_alloc(test_cache, KM_SLEEP);
	kmem_cache_free(test_cache, obj);
}

/* Overwrite the stack below the caller, where dead frames kept pointers. */
__attribute__((noinline)) static void
clobber_stack(void)
{
	char junk[64 * 1024];
	memset(junk, 0, sizeof (junk));
	__asm__ volatile("" : : "r"(junk) : "memory");  /* keep the stores */
}

/* ---- what the walk reports ---- */

typedef struct seen {
	char cache[64];
	size_t bufsize;
	size_t count;
	size_t bytes;
	unsigned depth;
} seen_t;

typedef struct seen_list {
	seen_t groups[16];
	size_t n;
} seen_list_t;

static void
collect(void *arg, const kmem_leak_t *leak)
{
	seen_list_t *list = arg;
	CHECK(list->n < 16);
	seen_t *s = &list->groups[list->n++];
	snprintf(s->cache, sizeof (s->cache), "%s", leak->cache);
	s->bufsize = leak->bufsize;
	s->count = leak->count;
	s->bytes = leak->bytes;
	s->depth = leak->depth;
	CHECK(leak->example != NULL);
}

static const seen_t *
find_group(const seen_list_t *list, const char *cache, size_t bufsize)
{
	for (size_t i = 0; i < list->n; i++) {
		if (strcmp(list->groups[i].cache, cache) == 0 &&
		    list->groups[i].bufsize == bufsize)
			return (&list->groups[i]);
	}
	return (NULL);
}

static void
check_group(const seen_list_t *list, const char *cache, size_t bufsize,
    size_t count)
{
	const seen_t *s = find_group(list, cache, bufsize);
	CHECK(s != NULL);
	CHECK_EQ(s->count, count);
	CHECK_EQ(s->bytes, count * bufsize);
	CHECK_EQ(s->depth, 0);          /* no audit trail without KMF_AUDIT */
}

/* Two 56-byte buffers dropped, then exit() with a scan at exit asked for. */
__attribute__((noinline)) static void
leak_two_deep(void)
{
	char pad[4096];
	memset(pad, 0, sizeof (pad));
	__asm__ volatile("" : : "r"(pad) : "memory");
	for (int i = 0; i < 2; i++)
		CHECK(kmem_alloc(56, KM_SLEEP) != NULL);
}

static void
exit_with_leaks(void)
{
	kmem_leaks_at_exit(true);
	leak_two_deep();
	clobber_stack();
	exit(0);
}

static void
check_at_exit(void)
{
	check_child_t c = check_run_child(exit_with_leaks);
	CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
	CHECK(strstr(c.err, "libkmem: leak: 2 buffers, 112 bytes, cache "
	    "kmem_alloc_56, size 56") != NULL);
	CHECK(strstr(c.err, "kmem_findleaks: 2 leaked buffers, 112 bytes, in "
	    "1 group") != NULL);
}

__attribute__((noinline)) static void
check_walk(void)
{
	seen_list_t list = { .n = 0 };
	CHECK_EQ(kmem_leaks_walk(collect, &list), 7);
	CHECK_EQ(list.n, 4);
	check_group(&list, "kmem_alloc_24", 24, 3);
	check_group(&list, "kmem_alloc_1024", 1024, 1);
	check_group(&list, "kmem_oversize", LARGE_SIZE, 1);
	check_group(&list, "leak_test_cache", 40, 2);
	for (size_t i = 1; i < list.n; i++)
		CHECK(list.groups[i - 1].bytes >= list.groups[i].bytes);
	CHECK_EQ(list.groups[0].bytes, LARGE_SIZE);
}

__attribute__((noinline)) static void
check_report(void)
{
	FILE *f = tmpfile();
	CHECK(f != NULL);
	CHECK_EQ(kmem_findleaks(fileno(f)), 7);
	char text[4096];
	rewind(f);
	size_t len = fread(text, 1, sizeof (text) - 1, f);
	text[len] = '\0';
	fclose(f);
	fputs(text, stderr);
	CHECK(strstr(text, "libkmem: leak: 3 buffers, 72 bytes, cache "
	    "kmem_alloc_24, size 24") != NULL);
	CHECK(strstr(text, "libkmem: leak: 1 buffer, 1228800 bytes, cache "
	    "kmem_oversize, size 1228800") != NULL);
	CHECK(strstr(text, "libkmem: leak: 2 buffers, 80 bytes, cache "
	    "leak_test_cache, size 40") != NULL);
	CHECK(strstr(text, "kmem_findleaks: 7 leaked buffers, 1229976 bytes, "
	    "in 4 groups") != NULL);
	/* Biggest first. */
	CHECK(strstr(text, "kmem_oversize") < strstr(text, "kmem_alloc_24"));
}

int
main(void)
{
	check_at_exit();
	test_cache = kmem_cache_create("leak_test_cache", 40, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	CHECK(test_cache != NULL);

	kept_global = kmem_alloc(100, KM_SLEEP);
	void *volatile on_stack = kmem_alloc(48, KM_SLEEP);
	void *volatile kept_object = kmem_cache_alloc(test_cache, KM_SLEEP);
	/* global -> 64 bytes -> 200 bytes, by an interior pointer -> 3000. */
	chain_head = kmem_alloc(64, KM_SLEEP);
	void **middle = kmem_alloc(200, KM_SLEEP);
	chain_head[0] = (char *)middle + 8;
	middle[1] = kmem_alloc(3000, KM_SLEEP);
	middle = NULL;
	for (int i = 0; i < LIST_LENGTH; i++) {
		void **node = kmem_alloc(32, KM_SLEEP);
		node[0] = long_list;
		long_list = node;
	}

	pthread_t holder;
	CHECK(pthread_create(&holder, NULL, holder_main, NULL) == 0);
	pthread_mutex_lock(&lock);
	while (stage != 1)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);

	churn();
	leak_deep();
	clobber_stack();
	check_walk();
	clobber_stack();
	check_report();

	/* A second scan finds the same: the first changed nothing. */
	clobber_stack();
	check_walk();

	pthread_mutex_lock(&lock);
	stage = 2;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	CHECK(pthread_join(holder, NULL) == 0);

	while (long_list != NULL) {
		void **node = long_list;
		long_list = node[0];
		kmem_free(node, 32);
	}
	kmem_free(on_stack, 48);
	kmem_cache_free(test_cache, kept_object);
	printf("leak_test: ok\n");
	return (0);
}
