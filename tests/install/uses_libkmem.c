/*
 * A program of a libkmem user, built by install_test.sh against the
 * installed headers and library with pkg-config: an object cache,
 * kmem_alloc, the malloc family under its kmem_ names, and a statistics
 * snapshot.
 */
#include <stdio.h>
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/stats.h>

int
main(void)
{
	kmem_cache_t *cp = kmem_cache_create("installed", 48, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	void *obj = kmem_cache_alloc(cp, KM_SLEEP);
	void *buf = kmem_alloc(100, KM_SLEEP);
	char *s = kmem_malloc(32);
	if (cp == NULL || obj == NULL || buf == NULL || s == NULL)
		return (1);
	kmem_stats_t *st = kmem_stats_snapshot();
	if (st == NULL || st->ncaches == 0)
		return (1);
	kmem_stats_free(st);
	strcpy(s, "linked against libkmem");
	printf("%s\n", s);
	kmem_malloc_free(s);
	kmem_free(buf, 100);
	kmem_cache_free(cp, obj);
	kmem_cache_destroy(cp);
	return (0);
}
