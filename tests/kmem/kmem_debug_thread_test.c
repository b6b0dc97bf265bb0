/*
 * The debugging layer under threads: with "default" and every log on,
 * threads allocate, write, free and walk the logs at once through
 * kmem_alloc(), a debug cache and a firewall; nothing may be reported, and
 * kmem_debug_verify() finds every buffer intact.  For ThreadSanitizer (the
 * "threaded" label): the audit records, the logs' lock and the firewall's.
 * Then kmem_debug_verify() runs while another thread creates and destroys
 * debug caches, which wait for it rather than vanish under it: the locks
 * both take are checked against the rank order (KMEM_ASSERTS builds), and
 * neither side may wait forever.  (The window this closes, while verify
 * reports, is too narrow for a test to hit without the lock.)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <kmem/debug.h>
#include <kmem/kmem.h>

#include "check.h"

#define THREADS         4
#define ROUNDS          2000

static kmem_cache_t *shared;

static int
count(void *arg, const kmem_debug_record_t *rec)
{
	(*(size_t *)arg) += rec->depth > 0;
	return (0);
}

static void *
worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	for (int i = 0; i < ROUNDS; i++) {
		size_t size = 1 + (seed = seed * 1103515245 + 12345) % 9000;
		char *a = kmem_alloc(size, KM_SLEEP);
		char *b = kmem_cache_alloc(shared, KM_SLEEP);
		memset(a, 1, size);
		memset(b, 2, 72);
		kmem_cache_free(shared, b);
		kmem_free(a, size);
		if (i % 500 == 0) {
			size_t n = 0;
			kmem_debug_log_walk(KMEM_LOG_TRANSACTION, count, &n);
		}
	}
	return (NULL);
}

static atomic_bool churning;

/* Create and destroy debug caches (no buffers: verify reads only caches). */
static void *
churn(void *arg)
{
	(void) arg;
	for (int i = 0; i < ROUNDS; i++) {
		kmem_cache_t *cp = kmem_cache_create("dbg_churn", 40 + i % 64,
		    0, NULL, NULL, NULL, NULL, NULL, KMF_REDZONE);
		CHECK(cp != NULL);
		kmem_cache_destroy(cp);
	}
	atomic_store(&churning, false);
	return (NULL);
}

static void
test_verify_while_caches_go(void)
{
	atomic_store(&churning, true);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, churn, NULL) == 0);
	unsigned passes = 0;
	while (atomic_load(&churning) || passes == 0) {
		CHECK_EQ(kmem_debug_verify(), 0);
		passes++;
	}
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_EQ(check_reports.count, 0);
}

int
main(void)
{
	char err[256];
	check_catch_reports();
	CHECK(kmem_debug_configure("default,firewall=8k",
	    "transaction=128k,contents=64k,fail", err, sizeof (err)) == 0);
	shared = kmem_cache_create("dbg_shared", 72, 0, NULL, NULL, NULL, NULL,
	    NULL, 0);
	pthread_t t[THREADS];
	for (uintptr_t i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, worker, (void *)(i + 1)) == 0);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	CHECK_EQ(kmem_debug_verify(), 0);
	CHECK_EQ(check_reports.count, 0);
	kmem_cache_destroy(shared);
	test_verify_while_caches_go();
	printf("kmem_debug_thread_test: all passed\n");
	return (0);
}
