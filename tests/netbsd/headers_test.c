/*
 * The NetBSD headers from C and from C++: this file is compiled both ways
 * (CMakeLists.txt copies it to a .cpp), so it keeps to what both languages
 * accept -- no designated initialisers, casts from void *.  It checks that
 * MALLOC_DEFINE attaches before main() and that each interface links and
 * answers.  kmem/stats.h, which includes all the families' headers, is
 * checked here too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem_netbsd.h>
#include <kmem/mtype.h>
#include <kmem/pool.h>
#include <kmem/stats.h>

MALLOC_DEFINE(M_HEADERS, "headers", "the headers test");

#define REQUIRE(cond) do {                                              \
	if (!(cond)) {                                                  \
		fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); \
		exit(1);                                                \
	}                                                               \
} while (0)

static int constructed;

static int
construct(void *arg, void *object, int flags)
{
	(void) flags;
	REQUIRE(arg == (void *)&constructed);
	memset(object, 0, 16);
	constructed++;
	return (0);
}

static void
see_type(void *arg, const mtype_stats_t *st)
{
	if (strcmp(st->name, "headers") == 0)
		*(int *)arg = 1;
}

int
main(void)
{
	int attached = 0;
	mtype_walk(see_type, &attached);
	REQUIRE(attached);
	kmem_stats_t *snapshot = kmem_stats_snapshot();
	REQUIRE(snapshot != NULL && snapshot->ntypes > 0);
	kmem_stats_free(snapshot);

	struct pool pp;
	pool_init(&pp, 32, 0, 0, 0, "headers_pool", NULL, IPL_NONE);
	void *item = pool_get(&pp, PR_WAITOK | PR_ZERO);
	REQUIRE(item != NULL);
	pool_put(&pp, item);
	pool_destroy(&pp);

	pool_cache_t pc = pool_cache_init(64, 0, 0, 0, "headers_cache", NULL,
	    IPL_NONE, construct, NULL, &constructed);
	void *object = pool_cache_get(pc, PR_WAITOK);
	REQUIRE(object != NULL && constructed == 1);
	pool_cache_put(pc, object);
	pool_cache_destroy(pc);

	char *s = kmem_asprintf("%d", 42);
	REQUIRE(strcmp(s, "42") == 0);
	kmem_strfree(s);

	char *m = (char *)mtype_malloc(10, M_HEADERS, M_WAITOK | M_ZERO);
	REQUIRE(m != NULL && m[9] == 0);
	mtype_free(m, M_HEADERS);
	mtype_stats_t st;
	REQUIRE(mtype_stats(M_HEADERS, &st) == 0 && st.calls == 1);
	printf("headers: ok\n");
	return (0);
}
