/*
 * Publishing this process's statistics in the shared-memory segment
 * "/libkmem.<pid>" (include/kmem/stats.h; the layout in stats_segment.h).
 *
 * One publisher thread writes the segment: it takes a snapshot and copies
 * it in, then sleeps for a second or until woken -- by the end of each
 * maintenance pass (kmem_update.c calls the hook it was given with
 * kmem_update_done_hook_set(), with no lock held) or by
 * kmem_stats_publish(1), which waits until a snapshot taken after its call
 * is in.  So the pass itself never formats or copies
 * anything, and no kmem lock is held while the segment is written.
 *
 * State, under publish_lock (rank KMEM_RANK_PUBLISH, a leaf: nothing is
 * taken or allocated while it is held, so the end of a pass may take it
 * whatever it holds): whether publishing is wanted, whether the thread
 * runs, whether the process is exiting, and two generation counts, asked
 * and published.  The segment's mapping and descriptor belong to the
 * publisher thread while it runs and to kmem_stats_publish() otherwise;
 * the segment is made (shm_open) under publish_lock, so that the exit
 * handler, which sets exiting under it, either sees the segment and
 * unlinks it or keeps it from being made: none is left behind.
 *
 * Publishing implies the update thread (kmem_update_thread(1)).  At exit
 * the segment is unlinked; fork() takes publish_lock like every library
 * lock (kmem_fork.c), and the child, whose pid is not the segment's and
 * which has no publisher thread, forgets it all without unlinking.
 */
#include <kmem/stats.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/lock_order.h"
#include "kmem/kmem_query.h"
#include "platform/platform.h"
#include "stats_publish.h"
#include "stats_segment.h"

#define PUBLISH_PERIOD_NS       (1000ull * 1000 * 1000)

static kmem_mutex_t publish_lock = KMEM_MUTEX_INITIALIZER(KMEM_RANK_PUBLISH);
static kmem_cv_t publish_cv = KMEM_CV_INITIALIZER;
static bool wanted;                     /* publish_lock */
static bool running;                    /* publish_lock: the thread exists */
static uint64_t asked;                  /* publish_lock: generations asked */
static uint64_t published;              /* publish_lock: ... and written */
static int publish_error;               /* publish_lock: errno of the last */
static bool exit_handler_registered;    /* publish_lock */
static bool exiting;                    /* publish_lock: exit() has begun */

/* The segment; see above for who owns it. */
static long segment_pid;                /* 0: none; atomic (the exit
					   handler reads it) */
static int segment_fd = -1;
static stats_segment_t *segment;
static size_t segment_size;

static void
segment_remove(void)
{
	if (segment != NULL)
		munmap(segment, segment_size);
	if (segment_fd >= 0)
		close(segment_fd);
	long pid = __atomic_load_n(&segment_pid, __ATOMIC_RELAXED);
	if (pid == (long)getpid()) {
		char name[STATS_SEGMENT_NAME_MAX];
		stats_segment_name(name, sizeof (name), pid);
		shm_unlink(name);
	}
	segment = NULL;
	segment_size = 0;
	segment_fd = -1;
	__atomic_store_n(&segment_pid, 0, __ATOMIC_RELAXED);
}

/* Make the segment at least size bytes; false with errno set. */
static bool
segment_reserve(size_t size)
{
	if (segment_pid == 0) {
		char name[STATS_SEGMENT_NAME_MAX];
		long pid = (long)getpid();
		stats_segment_name(name, sizeof (name), pid);
		kmem_mutex_enter(&publish_lock);
		if (!exiting) {
			shm_unlink(name);       /* a dead process's, same pid */
			segment_fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL |
			    O_CLOEXEC, 0600);
		}
		if (segment_fd >= 0)
			__atomic_store_n(&segment_pid, pid, __ATOMIC_RELAXED);
		else if (exiting)
			errno = ECANCELED;
		kmem_mutex_exit(&publish_lock);
		if (segment_fd < 0)
			return (false);
	}
	if (size <= segment_size)
		return (true);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t grown = (size + size / 2 + page - 1) / page * page;
	if (ftruncate(segment_fd, (off_t)grown) != 0)
		return (false);
	void *p = mmap(NULL, grown, PROT_READ | PROT_WRITE, MAP_SHARED,
	    segment_fd, 0);
	if (p == MAP_FAILED)
		return (false);
	if (segment != NULL)
		munmap(segment, segment_size);  /* p maps the same object */
	segment = p;
	segment_size = grown;
	__atomic_store_n(&segment->capacity, grown, __ATOMIC_RELEASE);
	return (true);
}

/* Copy one family's rows in after the last; add them to the checksum. */
static char *
put_rows(char *at, unsigned family, const void *rows, size_t n,
    size_t row_size, uint64_t *sum)
{
	segment->row_size[family] = row_size;
	segment->count[family] = n;
	memcpy(at, rows, n * row_size);
	*sum = stats_checksum(*sum, at, n * row_size);
	return (at + n * row_size);
}

/* Write one snapshot into the segment; false with errno set. */
static bool
publish_once(void)
{
	kmem_stats_t *st = kmem_stats_snapshot();
	if (st == NULL)
		return (false);
	size_t size = sizeof (stats_segment_t) +
	    st->narenas * sizeof (vmem_stats_t) +
	    st->ncaches * sizeof (kmem_cache_stats_t) +
	    st->npools * sizeof (pool_stats_t) +
	    st->ntypes * sizeof (mtype_stats_t);
	bool ok = segment_reserve(size);
	if (ok) {
		stats_segment_t *s = segment;
		uint64_t seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
		__atomic_store_n(&s->seq, seq | 1, __ATOMIC_SEQ_CST);
		s->version = STATS_SEGMENT_VERSION;
		s->header_size = sizeof (*s);
		s->pid = st->pid;
		memcpy(s->program, st->program, sizeof (s->program));
		s->time_ns = st->time_ns;
		char *at = (char *)(s + 1);
		uint64_t sum = STATS_CHECKSUM_START;
		at = put_rows(at, 0, st->arenas, st->narenas,
		    sizeof (vmem_stats_t), &sum);
		at = put_rows(at, 1, st->caches, st->ncaches,
		    sizeof (kmem_cache_stats_t), &sum);
		at = put_rows(at, 2, st->pools, st->npools,
		    sizeof (pool_stats_t), &sum);
		put_rows(at, 3, st->types, st->ntypes, sizeof (mtype_stats_t),
		    &sum);
		s->checksum = stats_checksum(sum,
		    (char *)s + STATS_SEGMENT_CHECKED_OFFSET,
		    sizeof (*s) - STATS_SEGMENT_CHECKED_OFFSET);
		__atomic_store_n(&s->magic, STATS_SEGMENT_MAGIC,
		    __ATOMIC_RELEASE);
		__atomic_store_n(&s->seq, (seq | 1) + 1, __ATOMIC_RELEASE);
	}
	kmem_stats_free(st);
	return (ok);
}

static void
publisher_main(void *arg)
{
	(void) arg;
	kmem_mutex_enter(&publish_lock);
	while (wanted) {
		uint64_t generation = asked;
		kmem_mutex_exit(&publish_lock);
		bool ok = publish_once();
		int error = errno;
		kmem_mutex_enter(&publish_lock);
		publish_error = ok ? 0 : error;
		published = generation;
		kmem_cv_broadcast(&publish_cv);
		if (wanted && asked == published)
			(void) kmem_cv_timedwait(&publish_cv, &publish_lock,
			    PUBLISH_PERIOD_NS);
	}
	running = false;
	kmem_cv_broadcast(&publish_cv);
	kmem_mutex_exit(&publish_lock);
}

/* After each maintenance pass: publish now. */
static void
update_done(void)
{
	kmem_mutex_enter(&publish_lock);
	kmem_cv_broadcast(&publish_cv);
	kmem_mutex_exit(&publish_lock);
}

static void
unpublish_at_exit(void)
{
	kmem_mutex_enter(&publish_lock);
	exiting = true;
	kmem_mutex_exit(&publish_lock);
	long pid = __atomic_load_n(&segment_pid, __ATOMIC_RELAXED);
	if (pid == (long)getpid()) {
		char name[STATS_SEGMENT_NAME_MAX];
		stats_segment_name(name, sizeof (name), pid);
		shm_unlink(name);
	}
}

static int
publish_stop(void)
{
	kmem_mutex_enter(&publish_lock);
	wanted = false;
	kmem_cv_broadcast(&publish_cv);
	while (running)
		kmem_cv_wait(&publish_cv, &publish_lock);
	kmem_mutex_exit(&publish_lock);
	segment_remove();
	return (0);
}

/* Start publishing; with wait, return after a fresh snapshot is in. */
static int
publish_start(bool wait)
{
	kmem_init();
	if (kmem_update_thread(1) != 0)
		return (-1);
	kmem_update_done_hook_set(update_done);
	kmem_mutex_enter(&publish_lock);
	bool register_exit = !exit_handler_registered;
	exit_handler_registered = true;
	wanted = true;
	uint64_t generation = ++asked;
	bool start = !running;
	running = true;
	kmem_cv_broadcast(&publish_cv);
	kmem_mutex_exit(&publish_lock);

	if (register_exit)
		atexit(unpublish_at_exit);
	if (start && !kmem_thread_create(publisher_main, NULL, "kmem_publish")) {
		kmem_mutex_enter(&publish_lock);
		running = false;
		wanted = false;
		kmem_mutex_exit(&publish_lock);
		errno = EAGAIN;
		return (-1);
	}
	if (!wait)
		return (0);
	kmem_mutex_enter(&publish_lock);
	while (running && published < generation)
		kmem_cv_wait(&publish_cv, &publish_lock);
	int error = publish_error;
	kmem_mutex_exit(&publish_lock);
	if (error != 0) {
		errno = error;
		return (-1);
	}
	return (0);
}

int
kmem_stats_publish(int enable)
{
	return (enable ? publish_start(true) : publish_stop());
}

/* The "publish" option (malloc_options.c): no waiting inside a constructor. */
int
kmem_stats_publish_start(void)
{
	return (publish_start(false));
}

/* ---- fork (kmem_fork.c) ---- */

void
stats_publish_fork_enter(void)
{
	kmem_mutex_enter_for_fork(&publish_lock);
}

void
stats_publish_fork_exit(void)
{
	kmem_mutex_exit_for_fork(&publish_lock);
}

/*
 * In the child: no thread, and the segment is the parent's.  The condition
 * variable may have had the parent's publisher waiting on it: made anew.
 */
void
stats_publish_fork_child(void)
{
	kmem_cv_init(&publish_cv);
	wanted = false;
	running = false;
	if (segment != NULL)
		munmap(segment, segment_size);
	if (segment_fd >= 0)
		close(segment_fd);
	segment = NULL;
	segment_size = 0;
	segment_fd = -1;
	__atomic_store_n(&segment_pid, 0, __ATOMIC_RELAXED);
}
