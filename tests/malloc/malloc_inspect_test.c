/*
 * An ordinary program, run with libkmem_malloc.so preloaded: the C
 * library's malloc names beyond malloc() itself must be the preloaded
 * library's, and glibc's inspection calls must speak of its memory.
 *
 * - __libc_valloc() and __libc_pvalloc(), cfree() and C23's free_sized()
 *   and free_aligned_sized() are libkmem's: what they hand out free()
 *   takes, and what malloc() hands out they free (left to glibc, free()
 *   aborted on __libc_valloc()'s page: not a pointer malloc returned).
 * - mallinfo2() counts what the program allocates (uordblks, hblks,
 *   hblkhd) and gives it back when freed; mallinfo() says the same in int.
 * - malloc_trim(0) gives back: the freed classes' slabs and the freed
 *   large memory kept for reuse (arena and keepcost fall) and returns 1;
 *   with nothing held free it returns 0.
 * - malloc_stats() prints glibc's lines with these figures on stderr, and
 *   malloc_info() glibc's XML, refusing options it does not know;
 *   malloc_stats() is no cancellation point (glibc's
 *   tst-malloc-stats-cancellation).
 * - A trim gives back no byte still in use: glibc's tst-trim1 (random
 *   sizes up to 16 KiB, all but every 13th freed, trimmed) with the
 *   survivors' contents checked, and threads that keep allocating,
 *   checking and freeing while the main thread trims and asks for
 *   malloc_info() over and over (glibc's tst-malloc_info asks while
 *   threads hold their allocations).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"       /* the header only: this program has no libkmem */

static void *
ours(const char *name)
{
	void *fn = dlsym(RTLD_DEFAULT, name);
	Dl_info info;
	CHECK(fn != NULL);
	CHECK(dladdr(fn, &info) != 0);
	if (strstr(info.dli_fname, "libkmem_malloc.so") == NULL) {
		fprintf(stderr, "%s is %s's\n", name, info.dli_fname);
		CHECK(!"a malloc name is not libkmem_malloc.so's");
	}
	return (fn);
}

static void
test_names(void)
{
	void *(*libc_valloc)(size_t) = (void *(*)(size_t))ours("__libc_valloc");
	void *(*libc_pvalloc)(size_t) = (void *(*)(size_t))ours(
	    "__libc_pvalloc");
	void (*cfree_fn)(void *) = (void (*)(void *))ours("cfree");
	void (*sized)(void *, size_t) = (void (*)(void *, size_t))ours(
	    "free_sized");
	void (*aligned_sized)(void *, size_t, size_t) =
	    (void (*)(void *, size_t, size_t))ours("free_aligned_sized");
	(void) ours("__libc_mallinfo");
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	char *v = libc_valloc(100);
	CHECK(v != NULL && (uintptr_t)v % page == 0);
	memset(v, 1, 100);
	free(v);
	char *pv = libc_pvalloc(page + 1);
	CHECK(pv != NULL && (uintptr_t)pv % page == 0);
	CHECK(malloc_usable_size(pv) >= 2 * page);
	free(pv);
	cfree_fn(malloc(40));
	sized(malloc(300), 300);
	sized(calloc(10, 30), 300);
	aligned_sized(aligned_alloc(64, 640), 64, 640);
	aligned_sized(libc_valloc(10), page, 10);
}

static struct mallinfo2
info(void)
{
	return (mallinfo2());
}

static void
test_mallinfo(void)
{
	enum { N = 2000, SIZE = 200, BIG = 8 << 20 };
	static void *bufs[N];
	struct mallinfo2 start = info();
	for (int i = 0; i < N; i++)
		CHECK((bufs[i] = malloc(SIZE)) != NULL);
	struct mallinfo2 full = info();
	CHECK(full.uordblks >= start.uordblks + (size_t)N * SIZE);
	CHECK(full.arena >= full.uordblks);
	CHECK(full.fordblks == full.arena - full.uordblks);

	char *volatile big = malloc(BIG);     /* kept: GCC may drop a pair */
	memset(big, 1, BIG);
	struct mallinfo2 large = info();
	CHECK(large.hblks == full.hblks + 1);
	CHECK(large.hblkhd >= full.hblkhd + BIG);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	struct mallinfo small = mallinfo();     /* deprecated, still called */
#pragma GCC diagnostic pop
	CHECK(small.hblks == (int)large.hblks);
	CHECK(small.uordblks == (int)large.uordblks);

	free(big);
	for (int i = 0; i < N; i++)
		free(bufs[i]);
	struct mallinfo2 freed = info();
	CHECK(freed.hblks == full.hblks);
	CHECK(freed.uordblks <= start.uordblks + 4096);
	CHECK(freed.fsmblks + freed.keepcost > 0);      /* held for reuse */

	CHECK(malloc_trim(0) == 1);
	struct mallinfo2 trimmed = info();
	CHECK(trimmed.arena < freed.arena);
	CHECK(trimmed.keepcost == 0);
	CHECK(trimmed.fsmblks < freed.fsmblks);
	CHECK(malloc_trim(SIZE_MAX) == 0);      /* nothing beyond the pad */
}

static bool
filled(const unsigned char *p, size_t size, unsigned char byte)
{
	for (size_t i = 0; i < size; i++)
		if (p[i] != byte)
			return (false);
	return (true);
}

static void
test_trim_keeps_data(void)
{
	enum { N = 10000 };
	static unsigned char *arr[N];
	static size_t sizes[N];
	srandom(1);
	for (int i = 0; i < N; i++) {
		sizes[i] = (size_t)random() % 16384;
		CHECK((arr[i] = malloc(sizes[i])) != NULL);
		memset(arr[i], i & 0xff, sizes[i]);
	}
	for (int i = 0; i < N; i++)
		if (i % 13 != 0)
			free(arr[i]);
	(void) malloc_trim(0);
	for (int i = 0; i < N; i += 13) {
		CHECK(filled(arr[i], sizes[i], (unsigned char)i));
		free(arr[i]);
	}
}

enum { CHURN_THREADS = 2, CHURN_LIVE = 64 };
static bool churn_stop;

static void *
churn(void *arg)
{
	unsigned char *live[CHURN_LIVE] = { 0 };
	size_t sizes[CHURN_LIVE] = { 0 };
	unsigned seed = (unsigned)(uintptr_t)arg;
	for (unsigned n = 0; !__atomic_load_n(&churn_stop, __ATOMIC_RELAXED) || n < 20000; n++) {
		unsigned k = (seed = seed * 1103515245 + 12345) >> 16;
		unsigned slot = k % CHURN_LIVE;
		if (live[slot] != NULL) {
			CHECK(filled(live[slot], sizes[slot], (unsigned char)slot));
			free(live[slot]);
		}
		sizes[slot] = (k >> 6) % 3 == 0 ? 40000 + k % 300000 : k % 3000;
		CHECK((live[slot] = malloc(sizes[slot])) != NULL);
		memset(live[slot], (int)slot, sizes[slot]);
	}
	for (unsigned slot = 0; slot < CHURN_LIVE; slot++) {
		if (live[slot] != NULL)
			CHECK(filled(live[slot], sizes[slot], (unsigned char)slot));
		free(live[slot]);
	}
	return (NULL);
}

static void
test_trim_while_threads_allocate(void)
{
	pthread_t threads[CHURN_THREADS];
	for (uintptr_t i = 0; i < CHURN_THREADS; i++)
		CHECK(pthread_create(&threads[i], NULL, churn, (void *)(i + 1))
		    == 0);
	FILE *null = fopen("/dev/null", "w");
	CHECK(null != NULL);
	for (int i = 0; i < 200; i++) {
		(void) malloc_trim(0);
		CHECK(malloc_info(0, null) == 0);
		(void) mallinfo2();
	}
	fclose(null);
	__atomic_store_n(&churn_stop, true, __ATOMIC_RELAXED);
	for (int i = 0; i < CHURN_THREADS; i++)
		CHECK(pthread_join(threads[i], NULL) == 0);
}

/* stderr into a file while fn runs; its text, which the caller frees. */
static char *
stderr_of(void (*fn)(void))
{
	FILE *tmp = tmpfile();
	CHECK(tmp != NULL);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	CHECK(saved >= 0 && dup2(fileno(tmp), STDERR_FILENO) >= 0);
	fn();
	fflush(stderr);
	CHECK(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	off_t len = lseek(fileno(tmp), 0, SEEK_END);
	CHECK(len > 0);
	char *text = calloc(1, (size_t)len + 1);
	CHECK(pread(fileno(tmp), text, (size_t)len, 0) == (ssize_t)len);
	fclose(tmp);
	return (text);
}

static void
test_stats(void)
{
	void *volatile keep = malloc(5000);
	size_t hblks = info().hblks;
	char *text = stderr_of(malloc_stats);
	size_t system, inuse, all_system, all_inuse, large, large_bytes;
	int n = sscanf(text, "Arena 0:\nsystem bytes     = %zu\n"
	    "in use bytes     = %zu\nTotal (incl. mmap):\n"
	    "system bytes     = %zu\nin use bytes     = %zu\n"
	    "large buffers    = %zu\nlarge bytes      = %zu\n", &system,
	    &inuse, &all_system, &all_inuse, &large, &large_bytes);
	if (n != 6) {
		fprintf(stderr, "malloc_stats printed:\n%s", text);
		CHECK(!"malloc_stats' lines");
	}
	CHECK(inuse >= 5000 && system >= inuse);
	CHECK(all_system >= system && all_inuse == inuse + large_bytes);
	CHECK(large == hblks);
	free(text);
	free(keep);
}

/* glibc's tst-malloc-stats-cancellation: a thread with a cancel pending
 * prints the whole summary, and is cancelled at its next write. */
static pthread_barrier_t gate;

static void *
stats_then_print(void *arg)
{
	(void) arg;
	pthread_barrier_wait(&gate);
	static const char after[] = "printed after malloc_stats\n";
	malloc_stats();
	/* write(), not stdio: a thread cancelled inside fputs() keeps
	 * stderr's lock here, and the main thread's fflush() waits. */
	(void) !write(STDERR_FILENO, after, sizeof (after) - 1);
	return (NULL);
}

static void
stats_with_cancel_pending(void)
{
	pthread_t thread;
	void *result;
	CHECK(pthread_barrier_init(&gate, NULL, 2) == 0);
	CHECK(pthread_create(&thread, NULL, stats_then_print, NULL) == 0);
	CHECK(pthread_cancel(thread) == 0);
	pthread_barrier_wait(&gate);
	CHECK(pthread_join(thread, &result) == 0);
	CHECK(result == PTHREAD_CANCELED);
	pthread_barrier_destroy(&gate);
}

static void
test_stats_cancellation(void)
{
	char *text = stderr_of(stats_with_cancel_pending);
	CHECK(strstr(text, "large bytes      = ") != NULL);
	CHECK(strstr(text, "printed after") == NULL);
	free(text);
}

static void
test_info(void)
{
	void *volatile big = malloc(1 << 20);
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	CHECK(fp != NULL);
	CHECK(malloc_info(0, fp) == 0);
	errno = 0;
	CHECK(malloc_info(1, fp) == -1 && errno == EINVAL);
	fclose(fp);
	CHECK(strncmp(text, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n",
	    42) == 0);
	CHECK(strstr(text, "<size from=\"") != NULL);
	CHECK(strstr(text, "<total type=\"mmap\" count=\"") != NULL);
	CHECK(strcmp(text + len - 10, "</malloc>\n") == 0);
	free(text);
	free(big);
}

int
main(void)
{
	test_names();
	test_mallinfo();
	test_stats();
	test_stats_cancellation();
	test_info();
	test_trim_keeps_data();
	test_trim_while_threads_allocate();
	printf("malloc_inspect_test: ok\n");
	return (0);
}
