/*
 * The recorder's order of an allocation and its free by another thread
 * (malloc_trace.c: the regions' stamp tables), where it is hardest: more
 * threads running than have tables of their own, and allocating threads
 * that exit before their objects are freed.  A child process records;
 * the parent reads the trace back (tools/kmlab/tracefile.c), which
 * numbers objects by merging all threads' events by stamp.
 *
 * Each round starts allocator threads that allocate N objects each (of
 * their own size), one after the other, so that each stamps past the one
 * before, and wait until all have; some exit, the rest wait on; then a
 * thread that made no event since the last round frees every object,
 * the newest first.  The allocators stamped past the freer, so only the
 * tables put its frees after the allocations, and the newest objects
 * are stamped past every other thread's.  A third of the rounds each has
 * the newest made by a thread with a table of its own that exited (what
 * it left in the shared table), by a thread beyond TABLES_PRIVATE that
 * still runs (the shared table, raised as it allocates), and by one with
 * a table of its own that still runs.  A free stamped before its allocation
 * reads as a free of an object the reader does not know, and the object
 * as never freed.  The coarse clock would order them too if it ticked in
 * between, so each kind of round comes ROUNDS / 3 times.
 */
#include "check.h"

#include <pthread.h>

#include <kmem/malloc.h>

#include "trace_recorded.h"
#include "tracefile.h"

#define ALLOCATORS      12      /* with the freer, beyond TABLES_PRIVATE */
#define N               1000
#define ROUNDS          12
#define SIZE0           1000    /* allocator a's objects: SIZE0 + a bytes */

static void *objects[ALLOCATORS][N];
static int allocators;                  /* this round's */
static bool last_exits;                 /* the newest allocator exits */
static pthread_mutex_t turn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cv = PTHREAD_COND_INITIALIZER;
static int turn;                        /* the allocator allocating */
static pthread_barrier_t allocated;     /* allocators and main */
static pthread_barrier_t release;       /* the waiting ones and main */
static pthread_barrier_t go, done;      /* main and the freer */

/* Does allocator a exit before the frees (the half the last one is in,
 * or the other)? */
static bool
exits(int a)
{
	return ((a % 2 == (allocators - 1) % 2) == last_exits);
}

static void *
allocator(void *arg)
{
	int a = (int)(uintptr_t)arg;
	pthread_mutex_lock(&turn_lock);
	while (turn != a)
		pthread_cond_wait(&turn_cv, &turn_lock);
	pthread_mutex_unlock(&turn_lock);
	for (int i = 0; i < N; i++) {
		objects[a][i] = kmem_malloc(SIZE0 + (size_t)a);
		CHECK(objects[a][i] != NULL);
	}
	pthread_mutex_lock(&turn_lock);
	turn++;
	pthread_cond_broadcast(&turn_cv);
	pthread_mutex_unlock(&turn_lock);
	pthread_barrier_wait(&allocated);       /* all running at once */
	if (!exits(a))
		pthread_barrier_wait(&release); /* still running at the frees */
	return (NULL);
}

static void *
freer(void *arg)
{
	(void)arg;
	kmem_malloc_free(kmem_malloc(8));       /* its buffer, before round 1 */
	for (int r = 0; r < ROUNDS; r++) {
		pthread_barrier_wait(&go);
		for (int a = allocators - 1; a >= 0; a--) {
			for (int i = N - 1; i >= 0; i--)
				kmem_malloc_free(objects[a][i]);
		}
		pthread_barrier_wait(&done);
	}
	return (NULL);
}

static void
record(void)
{
	CHECK(pthread_barrier_init(&go, NULL, 2) == 0);
	CHECK(pthread_barrier_init(&done, NULL, 2) == 0);
	pthread_t f;
	CHECK(pthread_create(&f, NULL, freer, NULL) == 0);
	for (int r = 0; r < ROUNDS; r++) {
		/* The newest allocator: with a table of its own and exited
		 * (first, while no thread beyond the own tables has made the
		 * frees read the shared one); beyond them and running; with
		 * one and running. */
		int scenario = r / (ROUNDS / 3);
		allocators = scenario == 1 ? ALLOCATORS : ALLOCATORS / 2;
		last_exits = scenario == 0;
		turn = 0;
		int waiting = 0;
		for (int a = 0; a < allocators; a++)
			waiting += !exits(a);
		CHECK(pthread_barrier_init(&allocated, NULL,
		    (unsigned)allocators + 1) == 0);
		CHECK(pthread_barrier_init(&release, NULL,
		    (unsigned)waiting + 1) == 0);
		pthread_t t[ALLOCATORS];
		for (int a = 0; a < allocators; a++)
			CHECK(pthread_create(&t[a], NULL, allocator,
			    (void *)(uintptr_t)a) == 0);
		pthread_barrier_wait(&allocated);
		for (int a = 0; a < allocators; a++) {
			if (exits(a))
				CHECK(pthread_join(t[a], NULL) == 0);
		}
		pthread_barrier_wait(&go);
		pthread_barrier_wait(&done);
		pthread_barrier_wait(&release);
		for (int a = 0; a < allocators; a++) {
			if (!exits(a))
				CHECK(pthread_join(t[a], NULL) == 0);
		}
		pthread_barrier_destroy(&allocated);
		pthread_barrier_destroy(&release);
	}
	CHECK(pthread_join(f, NULL) == 0);
	exit(0);
}

static void
check_trace(const trace_file_t *tp)
{
	const trace_file_t t = *tp;
	CHECK(t.threads >= ALLOCATORS + 2);

	/* Every allocator's object freed, once, and no free unmatched. */
	unsigned char *freed = calloc(t.ids + 1, 1);
	CHECK(freed != NULL);
	for (size_t i = 0; i < t.nevents; i++) {
		const trace_event_t *e = &t.events[i];
		if (e->op == KMEM_TRACE_FREE && e->old_id != 0) {
			CHECK(!freed[e->old_id]);
			freed[e->old_id] = 1;
		}
	}
	unsigned allocated_n = 0, freed_n = 0;
	for (size_t i = 0; i < t.nevents; i++) {
		const trace_event_t *e = &t.events[i];
		if (e->op != KMEM_TRACE_MALLOC || e->size < SIZE0 ||
		    e->size >= SIZE0 + ALLOCATORS)
			continue;
		allocated_n++;
		freed_n += freed[e->id];
	}
	CHECK_EQ(t.unknown_frees, 0);
	/* A third of the rounds with ALLOCATORS, the others with half. */
	unsigned expected = ROUNDS / 3 * (ALLOCATORS + 2 * (ALLOCATORS / 2)) * N;
	CHECK_EQ(allocated_n, expected);
	CHECK_EQ(freed_n, expected);
	free(freed);
}

int
main(void)
{
	return (trace_recorded("trace_tables_test", record, check_trace));
}
