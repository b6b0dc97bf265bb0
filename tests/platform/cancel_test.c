/*
 * The library is no cancellation point: a thread cancelled while it waits
 * inside the library, or writes under a library lock, must not leave the
 * lock held.  Before the platform turned cancellation off around those
 * calls, pthread_cond_wait() acted on the cancel with the arena's mutex
 * taken back, the thread unwound holding it, and the next vmem_free() of
 * any other thread waited for ever; kmem_stats_print() was cancelled in
 * its first write with the cache list's lock held.
 *
 * Each case runs in a child process, waited for with a bound: a hang is
 * the failure.
 *
 * - sleeping allocation: a thread's vmem_alloc(VM_SLEEP) waits on a full
 *   arena; it is cancelled while it waits, then memory is freed: it must
 *   get its segment, return, and be cancelled at its next cancellation
 *   point (pthread_testcancel()); the arena must serve the next caller;
 * - tables with a cancel pending: a thread whose cancel is pending prints
 *   the statistics tables whole, and is cancelled after them; the next
 *   print, by another thread, finds no lock held.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/vmem.h>

#include "check.h"

#define WAIT_BOUND_S 30

static vmem_t *arena;
static void *volatile got;
static volatile int returned;

static void *
sleeper(void *arg)
{
	(void) arg;
	got = vmem_alloc(arena, 1, VM_SLEEP);
	returned = 1;
	pthread_testcancel();
	return (NULL);
}

static void
sleeping_allocation(void)
{
	arena = vmem_create("cancel", (void *)0x1000, 1, 1, NULL, NULL, NULL,
	    0, VM_SLEEP);
	CHECK(arena != NULL);
	void *only = vmem_alloc(arena, 1, VM_NOSLEEP);
	CHECK(only != NULL);
	pthread_t thread;
	CHECK(pthread_create(&thread, NULL, sleeper, NULL) == 0);
	nanosleep(&(struct timespec){ 0, 50000000 }, NULL);    /* waiting */
	CHECK(pthread_cancel(thread) == 0);
	nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
	vmem_free(arena, only, 1);
	void *result;
	CHECK(pthread_join(thread, &result) == 0);
	CHECK(result == PTHREAD_CANCELED);
	CHECK(returned && got == only);
	vmem_free(arena, got, 1);
	CHECK(vmem_alloc(arena, 1, VM_NOSLEEP) == only);
	vmem_free(arena, only, 1);
	vmem_destroy(arena);
}

static int tables_fd;

static void *
print_with_cancel_pending(void *arg)
{
	pthread_barrier_t *gate = arg;
	pthread_barrier_wait(gate);     /* no cancellation point */
	kmem_stats_print(tables_fd);
	pthread_testcancel();
	return (NULL);
}

static void
tables_with_cancel_pending(void)
{
	kmem_cache_t *cp = kmem_cache_create("cancel_cache", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	kmem_cache_free(cp, kmem_cache_alloc(cp, KM_SLEEP));
	FILE *tmp = tmpfile();
	CHECK(tmp != NULL);
	tables_fd = fileno(tmp);
	pthread_barrier_t gate;
	CHECK(pthread_barrier_init(&gate, NULL, 2) == 0);
	pthread_t thread;
	CHECK(pthread_create(&thread, NULL, print_with_cancel_pending, &gate)
	    == 0);
	CHECK(pthread_cancel(thread) == 0);
	pthread_barrier_wait(&gate);
	void *result;
	CHECK(pthread_join(thread, &result) == 0);
	CHECK(result == PTHREAD_CANCELED);
	off_t printed = lseek(tables_fd, 0, SEEK_END);
	kmem_stats_print(tables_fd);    /* the locks are free */
	off_t twice = lseek(tables_fd, 0, SEEK_END);
	CHECK(printed > 0 && twice > printed);
	/* The cancelled print wrote every table: the same length, give or
	 * take the counters' digits, as the second one. */
	CHECK(printed > (twice - printed) / 2);
	fclose(tmp);
	kmem_cache_destroy(cp);
}

int
main(void)
{
	check_exits_within(sleeping_allocation, WAIT_BOUND_S, "sleeping "
	    "allocation: a cancelled thread kept the arena's lock");
	check_exits_within(tables_with_cancel_pending, WAIT_BOUND_S, "tables "
	    "with a cancel pending: a cancelled thread kept a lock");
	printf("cancel_test: ok\n");
	return (0);
}
