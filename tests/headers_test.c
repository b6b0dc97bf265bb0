/*
 * Every public header (but the NetBSD ones, which tests/netbsd checks the
 * same way), included together from C and from C++: this file is compiled
 * both ways (CMakeLists.txt copies it to a .cpp), so it keeps to what both
 * languages accept.  Each family is called once, to show it links.
 */
#include <stdio.h>
#include <stdlib.h>

#include <kmem/classic.h>
#include <kmem/common.h>
#include <kmem/debug.h>
#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/umem.h>
#include <kmem/vmem.h>

#define REQUIRE(cond) do {                                              \
	if (!(cond)) {                                                  \
		fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); \
		exit(1);                                                \
	}                                                               \
} while (0)

static int
construct(void *buf, void *arg, int kmflag)
{
	(void) arg;
	(void) kmflag;
	*(int *)buf = 7;
	return (0);
}

int
main(void)
{
	vmem_t *ids = vmem_create("headers_ids", (void *)1, 100, 1, NULL, NULL,
	    NULL, 0, VMC_IDENTIFIER | VM_SLEEP);
	REQUIRE(ids != NULL);
	void *id = vmem_alloc(ids, 1, VM_SLEEP);
	REQUIRE(id == (void *)1);
	vmem_free(ids, id, 1);
	vmem_destroy(ids);

	kmem_cache_t *cp = kmem_cache_create("headers", sizeof (int), 0,
	    construct, NULL, NULL, NULL, NULL, 0);
	int *obj = (int *)kmem_cache_alloc(cp, KM_SLEEP);
	REQUIRE(obj != NULL && *obj == 7);
	kmem_cache_free(cp, obj);
	kmem_cache_destroy(cp);

	char *s = (char *)kmem_malloc(10);
	REQUIRE(s != NULL);
	kmem_malloc_free(s);

	void *u = umem_alloc(10, UMEM_DEFAULT);
	REQUIRE(u != NULL);
	umem_free(u, 10);

	REQUIRE(kmem_debug_flags() == 0);
	REQUIRE(kmem_debug_verify() == 0);

	printf("headers_test: ok\n");
	return (0);
}
