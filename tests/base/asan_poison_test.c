/*
 * AddressSanitizer sees into our caches (src/base/poison.h); built only under
 * -DKMEM_SANITIZE=address.  Each misuse runs in a child process, which
 * ASan must stop with a report naming the poisoned access:
 *
 * - a write to a cache buffer after kmem_cache_free(), while the buffer
 *   waits in the thread's magazine;
 * - a read of a buffer after kmem_free(), on its slab's free list (a
 *   cache without magazines);
 * - a write past the 20 bytes asked of kmem_alloc(), inside the 24-byte
 *   class buffer.
 *
 * And the library's own work on free buffers trips nothing: buffers
 * cycling through magazines and slabs, constructors and destructors
 * (which run on buffers coming out of magazines at reap and destroy),
 * the whole class buffer of kmem_malloc(), a slab given back and its
 * memory reused by a cache of another size, and a leak scan.
 */
#include <string.h>

#include <kmem/debug.h>
#include <kmem/kmem.h>
#include <kmem/malloc.h>

#include "check.h"

static kmem_cache_t *
cache(const char *name, size_t size, int flags)
{
	kmem_cache_t *cp = kmem_cache_create(name, size, 0, NULL, NULL, NULL,
	    NULL, NULL, flags);
	CHECK(cp != NULL);
	return (cp);
}

static void
write_after_free(void)
{
	kmem_cache_t *cp = cache("asan_uaf", 64, 0);
	char *volatile buf = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, buf);
	buf[10] = 1;
}

static void
read_after_free_from_slab(void)
{
	kmem_cache_t *cp = cache("asan_uaf_slab", 200, KMC_NOMAGAZINE);
	char *volatile buf = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, buf);
	CHECK(buf[0] != 99);
}

static void
overrun_within_class(void)
{
	char *volatile buf = kmem_alloc(20, KM_SLEEP);
	buf[20] = 1;            /* the class buffer has 24 bytes */
}

static void
check_reported(void (*fn)(void), const char *what)
{
	check_child_t c = check_run_child(fn);
	if (!(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 100) &&
	    strstr(c.err, "AddressSanitizer: use-after-poison") != NULL)
		return;
	fprintf(stderr, "%s: ASan should report use-after-poison; status "
	    "0x%x, said \"%s\"\n", what, c.status, c.err);
	CHECK(!"ASan reports the access");
}

static int constructed, destructed;

static int
construct(void *buf, void *arg, int kmflag)
{
	(void) arg;
	(void) kmflag;
	memset(buf, 0x5a, 48);
	constructed++;
	return (0);
}

static void
destruct(void *buf, void *arg)
{
	(void) arg;
	CHECK(((unsigned char *)buf)[47] == 0x5a);
	memset(buf, 0, 48);
	destructed++;
}

static void
count_group(void *arg, const kmem_leak_t *leak)
{
	(void) leak;
	(*(size_t *)arg)++;
}

/* Correct use, through every transition, must pass silently. */
static void
correct_use(void)
{
	kmem_cache_t *cp = kmem_cache_create("asan_ctor", 48, 0, construct,
	    destruct, NULL, NULL, NULL, 0);
	CHECK(cp != NULL);
	void *objs[500];
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 500; i++) {
			objs[i] = kmem_cache_alloc(cp, KM_SLEEP);
			CHECK(((unsigned char *)objs[i])[47] == 0x5a);
		}
		for (int i = 0; i < 500; i++)
			kmem_cache_free(cp, objs[i]);
	}
	kmem_cache_reap_now(cp);
	kmem_cache_destroy(cp);
	CHECK(constructed > 0 && constructed == destructed);

	/* kmem_alloc: every byte asked for; kmem_malloc: the whole class. */
	for (size_t size = 1; size < 3000; size += 37) {
		char *buf = kmem_alloc(size, KM_SLEEP);
		memset(buf, 1, size);
		kmem_free(buf, size);
		char *m = kmem_malloc(size);
		memset(m, 2, kmem_malloc_usable_size(m));
		kmem_malloc_free(m);
	}

	/* Slabs given back, their memory reused by other sizes. */
	kmem_cache_t *a = cache("asan_a", 4000, 0);
	for (int i = 0; i < 200; i++)
		objs[i] = kmem_cache_alloc(a, KM_SLEEP);
	for (int i = 0; i < 200; i++)
		kmem_cache_free(a, objs[i]);
	kmem_cache_destroy(a);
	kmem_cache_t *b = cache("asan_b", 24, 0);
	for (int i = 0; i < 500; i++) {
		objs[i] = kmem_cache_alloc(b, KM_SLEEP);
		memset(objs[i], 3, 24);
	}
	for (int i = 0; i < 500; i++)
		kmem_cache_free(b, objs[i]);
	kmem_cache_destroy(b);

	/* The leak scan reads free links and poisoned bytes unchecked. */
	size_t groups = 0;
	CHECK_EQ(kmem_leaks_walk(count_group, &groups), 0);
	CHECK_EQ(groups, 0);
}

int
main(void)
{
	check_reported(write_after_free, "write after kmem_cache_free");
	check_reported(read_after_free_from_slab, "read after free, slab");
	check_reported(overrun_within_class, "overrun within the class");
	correct_use();
	printf("asan_poison_test: ok\n");
	return (0);
}
