/*
 * The recorder in a program linked with libkmem (not preloaded), so that
 * it runs under the sanitizers too: a child process turns it on with
 * kmem_options_set("trace=..."), runs four threads through the kmem_
 * malloc family -- each freeing half of what the next one allocated --
 * and exits while a fifth thread is still allocating; the parent reads
 * the trace back (tools/kmlab/tracefile.c) and checks it event by event:
 *
 *   - no damage, and every worker's events on a thread of their own;
 *   - each worker's allocations all there: N mallocs of its own size, N
 *     callocs, N reallocs that move, N memaligns;
 *   - the frees of another thread's objects matched to those objects, and
 *     every object freed at most once;
 *   - the still-running thread's events, written by the exit handler, are
 *     whole events (the reader accepts the block).
 */
#include "check.h"

#include <pthread.h>

#include <kmem/malloc.h>

#include "trace_recorded.h"
#include "tracefile.h"

#define WORKERS 4
#define N       1000

static void *handoff[WORKERS][N];
static pthread_barrier_t barrier;
static volatile int stop;

static void *
worker(void *arg)
{
	uintptr_t w = (uintptr_t)arg;
	size_t size = 200 + w;
	for (int i = 0; i < N; i++) {
		void *p = kmem_malloc(size);
		CHECK(p != NULL);
		kmem_malloc_free(p);
		void *c = kmem_calloc(3, size);
		CHECK(c != NULL);
		c = kmem_realloc(c, 4000 + w);  /* moves to another class */
		CHECK(c != NULL);
		handoff[w][i] = c;
		void *m = kmem_memalign(256, size);
		CHECK(m != NULL);
		kmem_malloc_free(m);
	}
	pthread_barrier_wait(&barrier);
	/* Half of the next worker's objects, the other half its own. */
	uintptr_t next = (w + 1) % WORKERS;
	for (int i = 0; i < N; i += 2)
		kmem_malloc_free(handoff[next][i]);
	for (int i = 1; i < N; i += 2)
		kmem_malloc_free(handoff[w][i]);
	return (NULL);
}

static void *
spinner(void *arg)
{
	(void)arg;
	while (!stop) {
		void *p = kmem_malloc(24);
		kmem_malloc_free(p);
	}
	return (NULL);
}

static void
record(void)
{
	CHECK(pthread_barrier_init(&barrier, NULL, WORKERS) == 0);
	pthread_t t[WORKERS], spin;
	CHECK(pthread_create(&spin, NULL, spinner, NULL) == 0);
	for (uintptr_t w = 0; w < WORKERS; w++)
		CHECK(pthread_create(&t[w], NULL, worker, (void *)w) == 0);
	for (int w = 0; w < WORKERS; w++)
		CHECK(pthread_join(t[w], NULL) == 0);
	/* exit() with the spinner running: its buffer is written by the
	 * exit handler, up to its last whole event. */
	exit(0);
}

static void
check_trace(const trace_file_t *tp)
{
	const trace_file_t t = *tp;
	CHECK(t.threads >= WORKERS + 1);

	/* Per worker (by its malloc size): its thread, and its counts. */
	uint32_t thread_of[WORKERS] = { 0 };
	unsigned mallocs[WORKERS] = { 0 }, callocs[WORKERS] = { 0 };
	unsigned moves[WORKERS] = { 0 }, aligned[WORKERS] = { 0 };
	unsigned char *freed = calloc(t.ids + 1, 1);
	CHECK(freed != NULL);
	unsigned handed_freed = 0;
	for (size_t i = 0; i < t.nevents; i++) {
		const trace_event_t *e = &t.events[i];
		if (e->old_id != 0 && (e->op == KMEM_TRACE_FREE ||
		    (e->op == KMEM_TRACE_REALLOC && e->id != e->old_id))) {
			CHECK(!freed[e->old_id]);
			freed[e->old_id] = 1;
		}
		unsigned w = 0;
		switch (e->op) {
		case KMEM_TRACE_MALLOC:
			if (e->size < 200 || e->size >= 200 + WORKERS)
				continue;
			w = (unsigned)(e->size - 200);
			mallocs[w]++;
			break;
		case KMEM_TRACE_CALLOC:
			CHECK_EQ(e->nmemb, 3);
			w = (unsigned)(e->size / 3 - 200);
			CHECK(w < WORKERS);
			callocs[w]++;
			break;
		case KMEM_TRACE_REALLOC:
			w = (unsigned)(e->size - 4000);
			CHECK(w < WORKERS);
			CHECK(e->id != 0 && e->old_id != 0 && e->id != e->old_id);
			moves[w]++;
			break;
		case KMEM_TRACE_MEMALIGN:
			CHECK_EQ(e->align, 256);
			w = (unsigned)(e->size - 200);
			CHECK(w < WORKERS);
			aligned[w]++;
			break;
		default:
			continue;
		}
		if (thread_of[w] == 0)
			thread_of[w] = e->thread;
		CHECK_EQ(e->thread, thread_of[w]);
	}
	/* Every realloc'd object freed, by its own thread or the next. */
	for (size_t i = 0; i < t.nevents; i++) {
		const trace_event_t *e = &t.events[i];
		if (e->op == KMEM_TRACE_REALLOC && freed[e->id])
			handed_freed++;
	}
	CHECK_EQ(handed_freed, WORKERS * N);
	for (int w = 0; w < WORKERS; w++) {
		CHECK_EQ(mallocs[w], N);
		CHECK_EQ(callocs[w], N);
		CHECK_EQ(moves[w], N);
		CHECK_EQ(aligned[w], N);
		for (int v = 0; v < w; v++)
			CHECK(thread_of[v] != thread_of[w]);
	}
	free(freed);
}

int
main(void)
{
	return (trace_recorded("trace_linked_test", record, check_trace));
}
