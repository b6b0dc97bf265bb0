/*
 * Bad frees as the very first call into libkmem: before anything was
 * allocated, before any cache or arena exists (kmem_oversize included),
 * every entry point that takes memory back must either initialise the
 * library or report, never crash.  Each case runs in a fresh child process
 * that has called nothing in libkmem, not even kmem_report_handler_set(),
 * so the default handler speaks: the child must abort with the one-line
 * report on standard error.  A child killed by SIGSEGV, or one that
 * returns, fails its case.
 *
 * Not here: kmem_cache_alloc() and kmem_cache_free() of a NULL or garbage
 * cache.  They dereference the cache at once (a NULL one faults at the
 * call, before anything is touched); a test for NULL on that path cost
 * about a tenth of an alloc+free pair (bench/kmem_pair), so it is not made.
 *
 *	first_call_test [case-name...]
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/kmem_netbsd.h>
#include <kmem/malloc.h>
#include <kmem/mtype.h>
#include <kmem/pool.h>
#include <kmem/umem.h>
#include <kmem/vmem.h>

#include "check.h"

/*
 * Memory libkmem never handed out, with readable memory before and after
 * it (a check may look at a header before the pointer), aligned as any
 * allocator's result would be.
 */
static char garbage_pages[3 * 65536] __attribute__((aligned(65536)));
#define GARBAGE ((void *)(garbage_pages + 65536))

/* ---- the first calls ---- */

static void
kmem_free_large(void)
{
	kmem_free(GARBAGE, 200000);
}

static void
kmem_free_large_null(void)
{
	kmem_free(NULL, 200000);
}

static void
kmem_free_small(void)
{
	kmem_free(GARBAGE, 100);
}

static void
kmem_free_class_limit(void)
{
	kmem_free(GARBAGE, 128 * 1024);     /* KMEM_MAXBUF: the largest class */
}

static void
vmem_free_default(void)
{
	vmem_free(kmem_default_arena(), GARBAGE, 1 << 20);
}

static void
vmem_xfree_default(void)
{
	vmem_xfree(kmem_default_arena(), GARBAGE, 1 << 20);
}

static void
umem_free_large(void)
{
	umem_free(GARBAGE, 200000);
}

static void
umem_free_small(void)
{
	umem_free(GARBAGE, 64);
}

static void
umem_cache_free_garbage(void)
{
	umem_cache_free((umem_cache_t *)GARBAGE, GARBAGE);
}

static void
umem_cache_destroy_garbage(void)
{
	umem_cache_destroy((umem_cache_t *)GARBAGE);
}

static void
malloc_free(void)
{
	kmem_malloc_free(GARBAGE);
}

static void
malloc_realloc(void)
{
	(void) kmem_realloc(GARBAGE, 10);
}

static void
malloc_usable_size(void)
{
	(void) kmem_malloc_usable_size(GARBAGE);
}

static void
pool_put_uninitialised(void)
{
	static struct pool pp;
	pool_put(&pp, GARBAGE);
}

static void
pool_destroy_uninitialised(void)
{
	static struct pool pp;
	pool_destroy(&pp);
}

static void
pool_cache_put_garbage(void)
{
	pool_cache_put((pool_cache_t)GARBAGE, GARBAGE);
}

static void
pool_cache_destroy_garbage(void)
{
	pool_cache_destroy((pool_cache_t)GARBAGE);
}

static void
kmem_intr_free_large(void)
{
	kmem_intr_free(GARBAGE, 200000);
}

static void
kmem_strfree_garbage(void)
{
	strcpy(GARBAGE, "never allocated");
	kmem_strfree(GARBAGE);
}

static void
kmem_tmpbuf_free_large(void)
{
	char stackbuf[64];
	kmem_tmpbuf_free(GARBAGE, 200000, stackbuf);
}

static void
kmem_cache_destroy_null(void)
{
	kmem_cache_destroy(NULL);
}

static void
kmem_cache_destroy_garbage(void)
{
	kmem_cache_destroy((kmem_cache_t *)GARBAGE);
}

static void
mtype_free_garbage(void)
{
	mtype_free(GARBAGE, M_DEVBUF);
}

static void
mtype_realloc_garbage(void)
{
	(void) mtype_realloc(GARBAGE, 10, M_TEMP, M_WAITOK);
}

/* ---- the table ---- */

typedef struct first_call {
	const char *name;
	void (*fn)(void);
	const char *expected;   /* a format with %p for GARBAGE, or none */
} first_call_t;

#define CASE(fn, expected) { #fn, fn, expected }

static const first_call_t cases[] = {
	CASE(kmem_free_large, "kmem_free(%p, 200000): not a buffer of any "
	    "cache, nor an allocated large buffer: a double free, or never "
	    "allocated"),
	CASE(kmem_free_large_null, "kmem_free(0x0, 200000): not a buffer"),
	CASE(kmem_free_small, "kmem_free(%p, 100): not a buffer of any cache"),
	CASE(kmem_free_class_limit, "kmem_free(%p, 131072): not a buffer of "
	    "any cache"),
	CASE(vmem_free_default, "vmem_free(\"kmem_default\", %p, 1048576): "
	    "the address is not in any span of the arena"),
	CASE(vmem_xfree_default, "vmem_xfree(\"kmem_default\", %p, 1048576): "
	    "the address is not in any span of the arena"),
	CASE(umem_free_large, "kmem_free(%p, 200000): not a buffer of any "
	    "cache"),
	CASE(umem_free_small, "kmem_free(%p, 64): not a buffer of any cache"),
	CASE(umem_cache_free_garbage, "umem_cache_free(%p): not a umem "
	    "cache"),
	CASE(umem_cache_destroy_garbage, "umem_cache_destroy(%p): not a "
	    "umem cache"),
	CASE(malloc_free, "free(%p): not a pointer malloc returned"),
	CASE(malloc_realloc, "realloc(%p): not a pointer malloc returned"),
	CASE(malloc_usable_size, "malloc_usable_size(%p): not a pointer malloc "
	    "returned"),
	CASE(pool_put_uninitialised, "pool_put(0x"),
	CASE(pool_destroy_uninitialised, "pool_destroy(0x"),
	CASE(pool_cache_put_garbage, "pool_cache_put(%p): not a pool cache"),
	CASE(pool_cache_destroy_garbage, "pool_cache_destroy(%p): not a pool "
	    "cache"),
	CASE(kmem_intr_free_large, "kmem_free(%p, 200000): not a buffer of "
	    "any cache"),
	CASE(kmem_strfree_garbage, "kmem_free(%p, 16): not a buffer of any "
	    "cache"),
	CASE(kmem_tmpbuf_free_large, "kmem_free(%p, 200000): not a buffer of "
	    "any cache"),
	CASE(kmem_cache_destroy_null, "kmem_cache_destroy(NULL): the cache is "
	    "NULL"),
	CASE(kmem_cache_destroy_garbage, "kmem_cache_destroy(%p): not a "
	    "cache (never created, or destroyed already)"),
	CASE(mtype_free_garbage, "mtype_free"),
	CASE(mtype_realloc_garbage, "mtype_realloc"),
};

/* The case's child must abort with its report; true when it did. */
static bool
run_case(const first_call_t *c)
{
	check_child_t child = check_run_child(c->fn);
	const char *expected = check_fmt(c->expected, GARBAGE);
	bool aborted = WIFSIGNALED(child.status) &&
	    WTERMSIG(child.status) == SIGABRT;
	bool said = strstr(child.err, expected) != NULL;
	if (aborted && said)
		return (true);
	printf("     %s: expected an abort saying \"%s\"; ", c->name, expected);
	if (WIFSIGNALED(child.status))
		printf("killed by signal %d", WTERMSIG(child.status));
	else
		printf("exited with %d", WEXITSTATUS(child.status));
	printf(", said \"%s\"\n", child.err);
	return (false);
}

int
main(int argc, char **argv)
{
	int failed = 0;
	for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++) {
		if (!check_test_selected(argc, argv, cases[i].name))
			continue;
		bool ok = run_case(&cases[i]);
		printf("%s %s\n", ok ? "ok  " : "FAIL", cases[i].name);
		fflush(stdout);
		failed += !ok;
	}
	if (failed != 0) {
		printf("first_call_test: %d case(s) failed\n", failed);
		return (1);
	}
	printf("first_call_test: all passed\n");
	return (0);
}
