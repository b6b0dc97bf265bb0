/*
 * valgrind's memcheck sees into our caches (src/base/poison.h); built with
 * -DKMEM_VALGRIND=ON and run under valgrind by CTest:
 *
 *	valgrind_poison_test clean	correct use of every API and a leak
 *					scan (which reads free memory): no
 *					error
 *	valgrind_poison_test uaf	a write to a cache buffer after
 *					kmem_cache_free(): memcheck reports
 *					the invalid write inside a freed block
 *	valgrind_poison_test overrun	a write past the 20 bytes asked of
 *					kmem_alloc(), inside its class buffer
 *	valgrind_poison_test leak	a kmem_alloc() buffer dropped:
 *					memcheck's leak check counts it lost
 */
#include <stdio.h>
#include <string.h>

#include <kmem/debug.h>
#include <kmem/kmem.h>
#include <kmem/malloc.h>

static int
construct(void *buf, void *arg, int kmflag)
{
	(void) arg;
	(void) kmflag;
	memset(buf, 0x5a, 64);
	return (0);
}

static void
destruct(void *buf, void *arg)
{
	(void) arg;
	if (((unsigned char *)buf)[63] != 0x5a)
		printf("destructor: object damaged\n");
}

static int
clean(void)
{
	kmem_cache_t *cp = kmem_cache_create("vg_ctor", 64, 0, construct,
	    destruct, NULL, NULL, NULL, 0);
	void *objs[300];
	int bad = 0;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 300; i++) {
			objs[i] = kmem_cache_alloc(cp, KM_SLEEP);
			/* A constructed object's bytes are defined. */
			bad += ((unsigned char *)objs[i])[10] != 0x5a;
		}
		for (int i = 0; i < 300; i++)
			kmem_cache_free(cp, objs[i]);
	}
	kmem_cache_reap_now(cp);
	kmem_cache_destroy(cp);
	for (size_t size = 1; size < 300000; size = size * 3 + 1) {
		char *buf = kmem_zalloc(size, KM_SLEEP);
		bad += buf[size - 1] != 0;
		kmem_free(buf, size);
		char *m = kmem_malloc(size);
		memset(m, 1, kmem_malloc_usable_size(m));
		m = kmem_realloc(m, size + 10);
		kmem_malloc_free(m);
	}
	bad += kmem_findleaks(1) != 0;
	return (bad);
}

static int
use_after_free(void)
{
	kmem_cache_t *cp = kmem_cache_create("vg_uaf", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	char *volatile buf = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, buf);
	buf[10] = 1;
	return (0);
}

static int
overrun(void)
{
	char *volatile buf = kmem_alloc(20, KM_SLEEP);
	buf[20] = 1;
	kmem_free(buf, 20);
	return (0);
}

static void *volatile kept, *volatile dropped;

/* Not the first buffer of its slab: the slab's header records that one. */
static int
leak(void)
{
	kept = kmem_alloc(200, KM_SLEEP);
	dropped = kmem_alloc(200, KM_SLEEP);
	dropped = NULL;
	return (0);
}

int
main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "clean";
	if (strcmp(what, "uaf") == 0)
		return (use_after_free());
	if (strcmp(what, "overrun") == 0)
		return (overrun());
	if (strcmp(what, "leak") == 0)
		return (leak());
	return (clean());
}
