/*
 * Publishing (kmem_stats_publish) and reading (kmem_stats_read) the
 * shared-memory statistics segment, within one process and across fork():
 * - a read shows what the test allocated, and after kmem_stats_publish(1)
 *   returns, what it allocated since;
 * - reads while the publisher rewrites the segment as fast as it can never
 *   return a torn snapshot (every read's figures are ones the test had);
 * - a forked child does not publish, does not remove its parent's segment
 *   when it exits, and can publish its own;
 * - no process, not publishing, and a segment that is not libkmem's are
 *   told apart;
 * - the walk of the segments finds ours, running, with our name, and one
 *   a process that is gone left behind, which kmem_stats_remove_stale()
 *   removes, refusing to remove ours;
 * - kmem_stats_publish(0) removes the segment.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>

#include "stats_fixture.h"

/* ThreadSanitizer does not start threads after a multi-threaded fork. */
#if defined(__SANITIZE_THREAD__)
#define THREADS_AFTER_FORK 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define THREADS_AFTER_FORK 0
#endif
#endif
#ifndef THREADS_AFTER_FORK
#define THREADS_AFTER_FORK 1
#endif

static kmem_stats_t *
read_self(void)
{
	kmem_stats_t *st;
	CHECK_EQ(kmem_stats_read((long)getpid(), &st), 0);
	CHECK(st != NULL);
	return (st);
}

static volatile int stop_publishing;

static void *
publish_repeatedly(void *arg)
{
	(void) arg;
	while (!__atomic_load_n(&stop_publishing, __ATOMIC_RELAXED))
		CHECK_EQ(kmem_stats_publish(1), 0);
	return (NULL);
}

/* Readers racing the publisher only ever see whole snapshots. */
static void
check_no_torn_reads(void)
{
	pthread_t thread;
	CHECK_EQ(pthread_create(&thread, NULL, publish_repeatedly, NULL), 0);
	for (int i = 0; i < 200; i++) {
		kmem_stats_t *st = read_self();
		stats_fixture_check(st);
		kmem_stats_free(st);
	}
	__atomic_store_n(&stop_publishing, 1, __ATOMIC_RELAXED);
	CHECK_EQ(pthread_join(thread, NULL), 0);
}

static void
check_fork(void)
{
	long parent = (long)getpid();
	pid_t child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		/* The parent's segment is readable; this process has none. */
		kmem_stats_t *st;
		CHECK_EQ(kmem_stats_read(parent, &st), 0);
		stats_fixture_check(st);
		kmem_stats_free(st);
		CHECK_EQ(kmem_stats_read((long)getpid(), &st),
		    KMEM_STATS_UNPUBLISHED);
#if THREADS_AFTER_FORK
		/* Its own, after one more of each. */
		stats_fixture_grow();
		CHECK_EQ(kmem_stats_publish(1), 0);
		st = read_self();
		stats_fixture_check(st);
		kmem_stats_free(st);
#endif
		exit(0);
	}
	int status;
	CHECK_EQ(waitpid(child, &status, 0), child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The child's exit removed its segment, not ours. */
	kmem_stats_t *st;
	CHECK_EQ(kmem_stats_read((long)child, &st), KMEM_STATS_NOPROCESS);
	char name[64];
	snprintf(name, sizeof (name), "/libkmem.%ld", (long)child);
	CHECK(shm_open(name, O_RDONLY, 0) < 0 && errno == ENOENT);
	st = read_self();
	stats_fixture_check(st);
	kmem_stats_free(st);
}

typedef struct found {
	long last;                      /* the pids come in order */
	long stale;                     /* the stale segment's pid */
	int ours, stales;               /* times each was visited */
} found_t;

static void
visit_segment(void *arg, const kmem_stats_segment_t *seg)
{
	found_t *found = arg;
	CHECK(seg->pid > found->last);
	found->last = seg->pid;
	char name[64];
	snprintf(name, sizeof (name), "/libkmem.%ld", seg->pid);
	CHECK(strcmp(seg->name, name) == 0);
	if (seg->pid == (long)getpid()) {
		CHECK(seg->running);
		CHECK(strcmp(seg->program, "stats_publish_test") == 0);
		found->ours++;
	} else if (seg->pid == found->stale) {
		CHECK(!seg->running);
		CHECK(strcmp(seg->program, "") == 0);  /* never written */
		found->stales++;
	}
}

/*
 * The segment of a process that is gone: a child that exited at once (and
 * was waited for), under its pid, made by us.
 */
static void
check_stale(void)
{
	pid_t child = fork();
	CHECK(child >= 0);
	if (child == 0)
		_exit(0);
	CHECK_EQ(waitpid(child, NULL, 0), child);
	char name[64];
	snprintf(name, sizeof (name), "/libkmem.%ld", (long)child);
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	close(fd);

	found_t found = { 0, (long)child, 0, 0 };
	CHECK_EQ(kmem_stats_segments_walk(visit_segment, &found), 0);
	CHECK_EQ(found.ours, 1);
	CHECK_EQ(found.stales, 1);

	/* Ours, and init's, are not stale. */
	CHECK_EQ(kmem_stats_remove_stale((long)getpid()), -1);
	CHECK_EQ(errno, EBUSY);
	CHECK_EQ(kmem_stats_remove_stale(1), -1);
	CHECK_EQ(errno, EBUSY);
	CHECK_EQ(kmem_stats_remove_stale(0), -1);
	CHECK_EQ(errno, EINVAL);
	kmem_stats_t *st = read_self();         /* ours is still there */
	kmem_stats_free(st);

	CHECK_EQ(kmem_stats_remove_stale((long)child), 0);
	CHECK(shm_open(name, O_RDONLY, 0) < 0 && errno == ENOENT);
	CHECK_EQ(kmem_stats_remove_stale((long)child), -1);
	CHECK_EQ(errno, ENOENT);
	found = (found_t){ 0, (long)child, 0, 0 };
	CHECK_EQ(kmem_stats_segments_walk(visit_segment, &found), 0);
	CHECK_EQ(found.ours, 1);
	CHECK_EQ(found.stales, 0);
}

/* A segment of our name that libkmem did not write. */
static void
check_corrupt(void)
{
	char name[64];
	snprintf(name, sizeof (name), "/libkmem.%ld", (long)getpid());
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	char garbage[4096];
	memset(garbage, 0x5a, sizeof (garbage));
	CHECK_EQ(write(fd, garbage, sizeof (garbage)), sizeof (garbage));
	kmem_stats_t *st;
	CHECK_EQ(kmem_stats_read((long)getpid(), &st), KMEM_STATS_CORRUPT);
	CHECK(st == NULL);
	/* Too short to hold a header: never filled in. */
	CHECK_EQ(ftruncate(fd, 16), 0);
	CHECK_EQ(kmem_stats_read((long)getpid(), &st), KMEM_STATS_CORRUPT);
	close(fd);
	shm_unlink(name);
}

int
main(void)
{
	stats_fixture_make();
	kmem_stats_t *st;
	CHECK_EQ(kmem_stats_read((long)getpid(), &st), KMEM_STATS_UNPUBLISHED);
	CHECK_EQ(kmem_stats_read(0, &st), KMEM_STATS_NOPROCESS);
	/* Not a pid_t: not taken for the process its low bits name. */
	CHECK_EQ(kmem_stats_read(((long)1 << 40) + getpid(), &st),
	    KMEM_STATS_NOPROCESS);

	CHECK_EQ(kmem_stats_publish(1), 0);
	st = read_self();
	CHECK_EQ(st->pid, getpid());
	CHECK(strcmp(st->program, "stats_publish_test") == 0);
	stats_fixture_check(st);
	kmem_stats_free(st);

	/* What was allocated since is in once publish(1) returns. */
	stats_fixture_grow();
	CHECK_EQ(kmem_stats_publish(1), 0);
	st = read_self();
	stats_fixture_check(st);
	kmem_stats_free(st);

	check_no_torn_reads();
	check_fork();
	check_stale();

	CHECK_EQ(kmem_stats_publish(0), 0);
	CHECK_EQ(kmem_stats_read((long)getpid(), &st), KMEM_STATS_UNPUBLISHED);
	check_corrupt();
	CHECK_EQ(kmem_stats_publish(0), 0);     /* stopping twice is harmless */
	printf("stats_publish_test: ok\n");
	return (0);
}
