/*
 * vmem when the page source fails (mmap returns MAP_FAILED).  The test is
 * linked with -Wl,--wrap=mmap, so the library's calls to mmap come here
 * first and fail while mmap_fails is set.
 *
 * What must hold: creating an arena fails cleanly; existing arenas keep
 * working from the segment reserve (at least the reserve's worth of new
 * segments); when the reserve is gone, VM_NOSLEEP requests fail with NULL
 * and nothing else changes; hash tables that cannot grow just get longer
 * chains; frees always work; and a VM_SLEEP request waits for the page
 * source to come back instead of failing.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#include <kmem/vmem.h>

#include "check.h"

#define A(x) ((void *)(uintptr_t)(x))

static atomic_bool mmap_fails;
static atomic_ulong mmap_refused;

void *__real_mmap(void *, size_t, int, int, int, off_t);
void *__wrap_mmap(void *, size_t, int, int, int, off_t);

void *
__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (atomic_load(&mmap_fails)) {
		atomic_fetch_add(&mmap_refused, 1);
		errno = ENOMEM;
		return (MAP_FAILED);
	}
	return (__real_mmap(addr, len, prot, flags, fd, off));
}

static void
test_create_fails_cleanly(void)
{
	atomic_store(&mmap_fails, true);
	CHECK(vmem_create("nomem", A(0x1000), 0x1000, 1, NULL, NULL, NULL, 0,
	    VM_SLEEP) == NULL);
	atomic_store(&mmap_fails, false);
}

enum { MAXHELD = 1 << 16 };
static void *held[MAXHELD];

static void
test_reserve_then_clean_failure(void)
{
	/* Every other quantum: each allocation leaves a hole, so each new
	 * one costs segment structures. */
	vmem_t *vmp = vmem_create("pressure", A(0x10000000), 4 * MAXHELD, 2,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	CHECK(vmp != NULL);
	atomic_store(&mmap_fails, true);

	int n = 0;
	while (n < MAXHELD) {
		void *p = vmem_xalloc(vmp, 2, 0, 0, 0, A(0x10000000 + 4 * n),
		    NULL, VM_NOSLEEP);
		if (p == NULL)
			break;
		CHECK(p == A(0x10000000 + 4 * n));
		held[n++] = p;
	}
	CHECK(n < MAXHELD);             /* the reserve ran out at some point */
	CHECK(n >= 256);                /* ... but not before the promise */
	CHECK(atomic_load(&mmap_refused) > 0);
	CHECK_EQ(vmem_verify(vmp), 0);
	CHECK_EQ(vmem_size(vmp, VMEM_ALLOC), 2 * (size_t)n);

	vmem_stats_t st;
	vmem_stats(vmp, &st);
	CHECK(st.fail >= 1);
	/* The hash could not grow past what it had: chains are long, but
	 * every lookup still finds its segment. */
	for (int i = 0; i < n; i++)
		vmem_xfree(vmp, held[i], 2);
	CHECK_EQ(vmem_size(vmp, VMEM_ALLOC), 0);
	CHECK_EQ(vmem_verify(vmp), 0);

	atomic_store(&mmap_fails, false);
	void *p = vmem_alloc(vmp, 2, VM_NOSLEEP);
	CHECK(p != NULL);
	vmem_free(vmp, p, 2);
	vmem_destroy(vmp);
}

/* ---- VM_SLEEP waits for the page source ---- */

typedef struct sleeper {
	vmem_t *vmp;
	int count;
} sleeper_t;

static void *
allocate_until_done(void *arg)
{
	sleeper_t *s = arg;
	for (int i = 0; i < s->count; i++)
		held[i] = vmem_xalloc(s->vmp, 2, 0, 0, 0,
		    A(0x20000000 + 4 * i), NULL, VM_SLEEP);
	return (NULL);
}

static void
test_sleep_waits_for_pages(void)
{
	vmem_t *vmp = vmem_create("patient", A(0x20000000), 4 * MAXHELD, 2,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	atomic_store(&mmap_fails, true);

	/* Several times the segments the pool holds (64 KiB of them): it must
	 * sleep at some point. */
	sleeper_t s = { vmp, 4096 };
	pthread_t t;
	CHECK(pthread_create(&t, NULL, allocate_until_done, &s) == 0);
	vmem_stats_t st;
	do {
		sched_yield();
		vmem_stats(vmp, &st);
	} while (st.wait == 0);
	atomic_store(&mmap_fails, false);
	CHECK(pthread_join(t, NULL) == 0);

	for (int i = 0; i < s.count; i++) {
		CHECK(held[i] == A(0x20000000 + 4 * i));
		vmem_xfree(vmp, held[i], 2);
	}
	vmem_stats(vmp, &st);
	CHECK_EQ(st.fail, 0);
	CHECK_EQ(vmem_verify(vmp), 0);
	vmem_destroy(vmp);
}

int
main(void)
{
	test_create_fails_cleanly();
	test_reserve_then_clean_failure();
	test_sleep_waits_for_pages();
	printf("vmem_pagefail_test: all passed\n");
	return (0);
}
