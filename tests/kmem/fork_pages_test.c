/*
 * What a fork() costs must not grow with the program's caches and arenas.
 *
 * fork() holds every library lock across the copy and lets them all go on
 * both sides (kmem_fork.c).  Each page written after the copy is a page
 * fault (the page is shared copy-on-write) in the parent and another in
 * the child, so a fork's cost is the number of pages its handlers write.
 * With the locks embedded in the caches and arenas they guard, that was a
 * page or so per cache: fifty faults on each side of every fork in a
 * plain malloc process, hundreds in a program with many caches.  The
 * locks now live together in a table (src/platform/lock_table.c), and the
 * child handlers write only what they change.
 *
 * The test forks a few times with the caches and arenas the library makes
 * for itself, then again after making 200 more caches (used, so their
 * magazines and slabs exist) and 50 arenas, and compares the page faults
 * per fork on each side: the parent's from getrusage() around the forks,
 * the child's from getrusage() in the child the moment fork() returns
 * there (its handlers have run by then).  The growth allowed, 24 pages,
 * is what 450 more locks at 64 bytes each need, with room to spare; one
 * page per cache would be 50 and more.  Fault counts, not time: the
 * machine's load does not change them.
 *
 * Before the 200 caches, 3000 caches are made, used and destroyed: more
 * locks than the table has slots (4096), so a destroyed lock that did not
 * give its slot back would leave the 200 caches' locks without one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/vmem.h>

#include "check.h"

#define FORKS 16
#define MORE_CACHES 200
#define MORE_ARENAS 50
#define CHURNED_CACHES 3000
#define GROWTH_ALLOWED 24.0

typedef struct {
	double parent;  /* minor faults per fork */
	double child;
} fork_faults_t;

static long
minor_faults(void)
{
	struct rusage usage;
	CHECK(getrusage(RUSAGE_SELF, &usage) == 0);
	return (usage.ru_minflt);
}

static fork_faults_t
measure_forks(void)
{
	long child_total = 0;
	long before = minor_faults();
	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			long faults = minor_faults();
			_exit(faults > 250 ? 250 : (int)faults);
		}
		int status;
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFEXITED(status));
		child_total += WEXITSTATUS(status);
	}
	long after = minor_faults();
	return ((fork_faults_t){
		.parent = (double)(after - before) / FORKS,
		.child = (double)child_total / FORKS,
	});
}

int
main(void)
{
	/* The library's own caches made and used, as in any program. */
	void *warm = kmem_alloc(100, KM_SLEEP);
	kmem_free(warm, 100);
	(void) measure_forks();         /* the first fork's one-time work */
	fork_faults_t plain = measure_forks();

	for (int i = 0; i < CHURNED_CACHES; i++) {
		kmem_cache_t *cp = kmem_cache_create("fork_pages_churn", 64, 0,
		    NULL, NULL, NULL, NULL, NULL, 0);
		CHECK(cp != NULL);
		kmem_cache_free(cp, kmem_cache_alloc(cp, KM_SLEEP));
		kmem_cache_destroy(cp);
	}

	static kmem_cache_t *caches[MORE_CACHES];
	static vmem_t *arenas[MORE_ARENAS];
	for (int i = 0; i < MORE_CACHES; i++) {
		char name[32];
		snprintf(name, sizeof (name), "fork_pages_%d", i);
		size_t size = 16 + 8 * (size_t)i;
		caches[i] = kmem_cache_create(name, size, 0, NULL, NULL, NULL,
		    NULL, NULL, 0);
		CHECK(caches[i] != NULL);
		void *buf = kmem_cache_alloc(caches[i], KM_SLEEP);
		CHECK(buf != NULL);
		kmem_cache_free(caches[i], buf);
	}
	for (int i = 0; i < MORE_ARENAS; i++) {
		char name[32];
		snprintf(name, sizeof (name), "fork_pages_arena_%d", i);
		arenas[i] = vmem_create(name, (void *)(uintptr_t)0x10000,
		    0x10000, 16, NULL, NULL, NULL, 0, VM_SLEEP);
		CHECK(arenas[i] != NULL);
		void *seg = vmem_alloc(arenas[i], 64, VM_SLEEP);
		CHECK(seg != NULL);
		vmem_free(arenas[i], seg, 64);
	}
	(void) measure_forks();
	fork_faults_t many = measure_forks();

	printf("page faults per fork: parent %.1f -> %.1f, child %.1f -> %.1f "
	    "(%d more caches, %d more arenas)\n", plain.parent, many.parent,
	    plain.child, many.child, MORE_CACHES, MORE_ARENAS);
	CHECK(many.parent - plain.parent <= GROWTH_ALLOWED);
	CHECK(many.child - plain.child <= GROWTH_ALLOWED);

	for (int i = 0; i < MORE_ARENAS; i++)
		vmem_destroy(arenas[i]);
	for (int i = 0; i < MORE_CACHES; i++)
		kmem_cache_destroy(caches[i]);
	return (0);
}
