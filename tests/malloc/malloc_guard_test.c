/*
 * Sampled guard pages ("guard=N", src/kmem/kmem_guard.c) through the
 * malloc family's kmem_ names: each bug the mode exists for, committed on
 * a sampled buffer, is reported with the right first line and the
 * buffer's stacks; a loop that overflows every allocation by one byte is
 * caught within the bound the rate gives; the pool running out leaves
 * malloc correct; fork and threads work with the mode on.
 *
 * The guard pages' time budget (0.5% of the run time) is lifted, so that
 * every sample is guarded (kmem_guard_budget_set()), but in test_budget.
 *
 * The report catcher returns, so the library lets each faulting access
 * through after its report (and retires the slot): the tests go on.
 * Accesses go through volatile pointers, which the compiler must make,
 * and are followed by a signal fence (SIGNAL_SEEN), so that the catcher's
 * count is read after the signal handler that reported may have run.
 */
#include <kmem/debug.h>
#include <kmem/malloc.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/poison.h"         /* KMEM_ASAN */
#include "check.h"
#include "kmem/kmem_query.h"

#define POOL_SLOTS      256     /* kmem_guard.c's GUARD_SLOTS */

#define SIGNAL_SEEN()   __atomic_signal_fence(__ATOMIC_SEQ_CST)

static size_t page;

static void
guard(unsigned rate)
{
	char err[256];
	CHECK(kmem_options_set(check_fmt("guard=%u", rate), err,
	    sizeof (err)) == 0);
}

static bool
guarded(const void *p)
{
	return (kmem_guard_holds(p));
}

static bool
left_aligned(const void *p)
{
	return (((uintptr_t)p & (page - 1)) == 0);
}

/*
 * A guarded buffer of size bytes, against the guard below it (left) or
 * above it; with guard=1, every allocation is a sample but a thread's
 * first two (made before its thread cache, and its first draw), and the
 * ends alternate.  The others are freed.
 */
static unsigned char *
guarded_malloc(size_t size, bool left)
{
	for (int i = 0; i < 8; i++) {
		unsigned char *p = kmem_malloc(size);
		CHECK(p != NULL);
		if (guarded(p) && left_aligned(p) == left)
			return (p);
		kmem_malloc_free(p);
	}
	CHECK(!"a guarded buffer of the wanted end within 8 allocations");
	return (NULL);
}

/* The last report has the stack that found it and the buffer's stacks. */
static void
check_stacks(bool freed)
{
	const char *r = check_reports.last;
	CHECK(strstr(r, "\n  detected in thread ") != NULL);
	const char *a = strstr(r, "\n  allocated by thread ");
	CHECK(a != NULL);
	CHECK(strstr(a, " s ago, at:\n      #0 ") != NULL);
	const char *f = strstr(r, "\n  freed by thread ");
	CHECK((f != NULL) == freed);
	if (freed)
		CHECK(f > a && strstr(f, " s ago, at:\n      #0 ") != NULL);
}

/* The one report just made is text, with these stacks; clear it. */
static void
check_report(const char *text, bool freed)
{
	CHECK_EQ(check_reports.count, 1);
	if (!check_first_line_is(check_reports.last, text)) {
		fprintf(stderr, "reported \"%s\",\nexpected \"%s\"\n",
		    check_reports.last, text);
		CHECK(!"the report's first line");
	}
	check_stacks(freed);
	check_reports.count = 0;
}

/* ---- the loop that overflows every allocation ---- */

/*
 * A thread's countdown is uniform in [1, 2N - 1], so a sample comes within
 * 2N - 1 allocations of the last draw (guard() draws at once), and, as
 * each buffer is freed at once, the pool has a slot for it.  A right-
 * aligned sample of 32 bytes ends at its guard page: the write faults; a
 * left-aligned one has the write in its slack, seen at its free.  Both
 * ends come, in turn.
 */
static void
test_overflow_loop(void)
{
	const unsigned rate = 50;
	guard(rate);
	unsigned long n = 0, first = 0;
	bool fault = false, at_free = false;
	while (!(fault && at_free)) {
		/* The first sample, then the next, of the other end. */
		CHECK(n < 2 * (2 * rate));
		volatile unsigned char *p = kmem_malloc(32);
		CHECK(p != NULL);
		n++;
#ifdef KMEM_ASAN
		/* AddressSanitizer reports the others itself, and stops. */
		if (guarded((void *)p))
#endif
			p[32] = 1;
		SIGNAL_SEEN();
		if (check_reports.count == 1) {
			check_report(check_fmt("buffer overflow: access at offset "
			    "32 of guarded buffer %p (32 bytes)", (void *)p),
			    false);
			fault = true;
		}
		kmem_malloc_free((void *)p);
		if (check_reports.count == 1) {
			check_report(check_fmt("buffer overrun: guarded buffer "
			    "%p (32 bytes) was written past its end, at offset 32",
			    (void *)p), true);
			at_free = true;
		}
		if ((fault || at_free) && first == 0)
			first = n;
	}
	/* A new thread's first malloc() only draws: then 2N - 1 at most. */
	CHECK(first >= 1 && first <= 2 * rate);
	guard(0);
}

/* ---- each kind of report ---- */

static void
test_overflow_read(void)
{
	guard(1);
	volatile unsigned char *p = guarded_malloc(48, false);
	CHECK(p + 48 == (unsigned char *)((uintptr_t)p | (page - 1)) + 1);
	unsigned char c = p[50];
	SIGNAL_SEEN();
	(void) c;
	check_report(check_fmt("buffer overflow: access at offset 50 of "
	    "guarded buffer %p (48 bytes)", (void *)p), false);
	kmem_malloc_free((void *)p);
	guard(0);
}

static void
test_underflow(void)
{
	guard(1);
	volatile unsigned char *p = guarded_malloc(100, true);
	unsigned char c = p[-1];
	SIGNAL_SEEN();
	(void) c;
	check_report(check_fmt("buffer underflow: access at offset -1 of "
	    "guarded buffer %p (100 bytes)", (void *)p), false);
	kmem_malloc_free((void *)p);
	/* Right-aligned, an underflow lands in the slack: seen at free. */
	p = guarded_malloc(100, false);
	p[-3] = 0;
	CHECK_EQ(check_reports.count, 0);
	kmem_malloc_free((void *)p);
	check_report(check_fmt("buffer underrun: guarded buffer %p (100 bytes) "
	    "was written before its start, at offset -3", (void *)p), true);
	guard(0);
}

static void
test_use_after_free(void)
{
	guard(1);
	volatile unsigned char *p = guarded_malloc(64, false);
	p[0] = 1;
	kmem_malloc_free((void *)p);
	CHECK_EQ(check_reports.count, 0);
	p[8] = 2;
	SIGNAL_SEEN();
	check_report(check_fmt("use after free: access at offset 8 of guarded "
	    "buffer %p (64 bytes), which is free", (void *)p), true);
	guard(0);
}

static void
test_double_free(void)
{
	guard(1);
	unsigned char *p = guarded_malloc(200, true);
	kmem_malloc_free(p);
	CHECK_EQ(check_reports.count, 0);
	kmem_malloc_free(p);
	check_report(check_fmt("double free: guarded buffer %p (200 bytes) is "
	    "already free", (void *)p), true);
	/* realloc() and malloc_usable_size() of it are refused too. */
	CHECK(kmem_realloc(p, 10) == NULL);
	check_report(check_fmt("realloc(%p): guarded buffer %p (200 bytes) was "
	    "freed already", (void *)p, (void *)p), true);
	guard(0);
}

static void
test_interior_free(void)
{
	guard(1);
	unsigned char *p = guarded_malloc(64, true);
	kmem_malloc_free(p + 16);
	check_report(check_fmt("free(%p): not a pointer malloc returned: inside "
	    "guarded buffer %p (64 bytes)", (void *)(p + 16), (void *)p), false);
	kmem_malloc_free(p);
	guard(0);
}

/* ---- the family on guarded buffers, and the pool running out ---- */

static void
test_family(void)
{
	guard(1);
	unsigned char *p = guarded_malloc(40, false);
	CHECK_EQ(kmem_malloc_usable_size(p), 40);
	memset(p, 'a', 40);
	/* Shrinking by less than half keeps the buffer; growing moves it. */
	CHECK(kmem_realloc(p, 30) == p);
	unsigned char *q = kmem_realloc(p, 3000);
	CHECK(q != NULL && q != p);
	for (int i = 0; i < 30; i++)
		CHECK_EQ(q[i], 'a');
	kmem_malloc_free(q);
	for (size_t align = 32; align <= page; align *= 2) {
		for (int i = 0; i < 4; i++) {
			void *r = kmem_aligned_alloc(align, align);
			CHECK(r != NULL && ((uintptr_t)r & (align - 1)) == 0);
			kmem_malloc_free(r);
		}
	}
	unsigned char *z = kmem_calloc(10, 10);
	for (int i = 0; i < 100; i++)
		CHECK_EQ(z[i], 0);
	kmem_malloc_free(z);
	/* Larger than a page: sampled, but not guarded. */
	void *big = kmem_malloc(page + 1);
	CHECK(big != NULL && !guarded(big));
	kmem_malloc_free(big);
	guard(0);
}

static void
test_pool_full(void)
{
	enum { N = POOL_SLOTS + 100 };
	static unsigned char *bufs[N];
	guard(1);
	unsigned got = 0;
	for (int i = 0; i < N; i++) {
		bufs[i] = kmem_malloc(24);
		CHECK(bufs[i] != NULL);
		memset(bufs[i], i & 0xff, 24);
		got += guarded(bufs[i]);
	}
	/* Every slot not in use (or retired by the tests before) was given. */
	CHECK(got > POOL_SLOTS - 16 && got <= POOL_SLOTS);
	CHECK(!guarded(bufs[N - 1]));
	for (int i = 0; i < N; i++)
		for (int j = 0; j < 24; j++)
			CHECK_EQ(bufs[i][j], i & 0xff);
	for (int i = 0; i < N; i++)
		kmem_malloc_free(bufs[i]);
	/* The freed slots serve again, and still catch a use after free. */
	unsigned again = 0;
	for (int i = 0; i < N; i++) {
		bufs[i] = kmem_malloc(24);
		again += guarded(bufs[i]);
	}
	CHECK_EQ(again, got);
	for (int i = 0; i < N; i++)
		kmem_malloc_free(bufs[i]);
	memset(bufs, 0, sizeof (bufs));         /* no stale roots for test_leaks */
	CHECK_NO_REPORT((void)0);
	guard(0);
}

/*
 * A report let an overflow through: the guard page above the buffer is
 * open for good, so neither slot beside it may serve again.  A report let
 * a use after free through: the slot stays open to the dangling pointer,
 * so no new buffer may share it.  Exhausting the pool (every unused and
 * every freed slot handed out) must not land a buffer on those pages.
 */
static void
test_retired_slots(void)
{
	enum { N = POOL_SLOTS + 100 };
	static unsigned char *bufs[N];
	guard(1);
	volatile unsigned char *a = guarded_malloc(32, false);
	uintptr_t below = (uintptr_t)a & ~(uintptr_t)(page - 1);
	uintptr_t above = below + 2 * page;
	a[40] = 1;
	SIGNAL_SEEN();
	check_report(check_fmt("buffer overflow: access at offset 40 of "
	    "guarded buffer %p (32 bytes)", (void *)a), false);
	kmem_malloc_free((void *)a);
	volatile unsigned char *b = guarded_malloc(32, true);
	kmem_malloc_free((void *)b);
	b[0] = 1;
	SIGNAL_SEEN();
	check_report(check_fmt("use after free: access at offset 0 of guarded "
	    "buffer %p (32 bytes), which is free", (void *)b), true);
	for (int i = 0; i < N; i++) {
		bufs[i] = kmem_malloc(32);
		CHECK(bufs[i] != NULL);
		uintptr_t p = (uintptr_t)bufs[i] & ~(uintptr_t)(page - 1);
		CHECK(p != below && p != above && p != (uintptr_t)b);
	}
	CHECK(!guarded(bufs[N - 1]));
	for (int i = 0; i < N; i++)
		kmem_malloc_free(bufs[i]);
	memset(bufs, 0, sizeof (bufs));
	guard(0);
}

/*
 * With a budget of one millionth of the time and no burst, the first
 * sample is guarded (nothing spent yet) and the next are not: guarding
 * took a microsecond at least, so the next would need a second to pass.
 */
static void
test_budget(void)
{
	enum { N = 20 };
	unsigned char *bufs[N];
	guard(1);
	kmem_malloc_free(kmem_malloc(64));     /* the thread has drawn */
	kmem_guard_budget_set(1, 0);
	unsigned got = 0;
	for (int i = 0; i < N; i++) {
		bufs[i] = kmem_malloc(64);
		CHECK(bufs[i] != NULL);
		got += guarded(bufs[i]);
	}
	CHECK(guarded(bufs[0]));
	CHECK_EQ(got, 1);
	for (int i = 0; i < N; i++)
		kmem_malloc_free(bufs[i]);
	guard(0);
	kmem_guard_budget_set(0, 0);
}

/* ---- the leak scan ---- */

#define HIDE    ((uintptr_t)0x5a5a5a5a5a5a5a5aULL)

static void *leak_root;                 /* a: reached from here */
static uintptr_t leak_b_hidden, leak_c_hidden;  /* not references */

/* a holds the only pointer to b; c is dropped.  Out of line, so that no
 * copy of b or c stays in the caller's frame. */
static __attribute__((noinline)) void
leak_make(void)
{
	void **a = (void **)guarded_malloc(55, true);
	unsigned char *b = guarded_malloc(66, false);
	unsigned char *c = guarded_malloc(77, true);
	a[0] = b;
	leak_root = a;
	leak_b_hidden = (uintptr_t)b ^ HIDE;
	leak_c_hidden = (uintptr_t)c ^ HIDE;
}

/* Overwrite the stack below the caller, where leak_make()'s frames left
 * copies of c that the frames of the scan would otherwise cover and read. */
static __attribute__((noinline)) void
scrub_stack(void)
{
	volatile unsigned char junk[32768];
	memset((void *)junk, 0, sizeof (junk));
	__asm__ volatile("" : : "r"(junk) : "memory");
}

typedef struct leaks_seen {
	unsigned guard_groups;
	size_t c_count;
	bool other_guarded;
} leaks_seen_t;

static void
leak_walker(void *arg, const kmem_leak_t *leak)
{
	leaks_seen_t *seen = arg;
	if (strcmp(leak->cache, "kmem_guard") != 0)
		return;
	seen->guard_groups++;
	if (leak->bufsize == 77 && (uintptr_t)leak->example ==
	    (leak_c_hidden ^ HIDE))
		seen->c_count += leak->count;
	else
		seen->other_guarded = true;
}

/*
 * The scan sees guarded buffers: it reads them (b, reached only from
 * inside a, is no leak) and reports the unreached (c, in a group named
 * kmem_guard) -- the pool's own records do not keep them alive.
 */
static void
test_leaks(void)
{
	guard(1);
	leak_make();
	scrub_stack();
	leaks_seen_t seen = { 0 };
	(void) kmem_leaks_walk(leak_walker, &seen);
	CHECK_EQ(seen.c_count, 1);
	CHECK(!seen.other_guarded);
	kmem_malloc_free(((void **)leak_root)[0]);
	kmem_malloc_free(leak_root);
	kmem_malloc_free((void *)(leak_c_hidden ^ HIDE));
	leak_root = NULL;
	guard(0);
}

/* ---- fork and threads ---- */

static unsigned char *parent_buf;

static void
child_of_fork(void)
{
	/* The parent's guarded buffer is the child's to free; a use after
	 * free of it is caught in the child too. */
	kmem_malloc_free(parent_buf);
	volatile unsigned char *p = parent_buf;
	p[0] = 1;
	SIGNAL_SEEN();
	check_report(check_fmt("use after free: access at offset 0 of guarded "
	    "buffer %p (16 bytes), which is free", (void *)p), true);
	unsigned char *q = guarded_malloc(16, true);
	kmem_malloc_free(q);
	_exit(check_reports.count == 0 ? 0 : 1);
}

static void
test_fork(void)
{
	guard(1);
	parent_buf = guarded_malloc(16, false);
	check_child_t c = check_run_child(child_of_fork);
	CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
	kmem_malloc_free(parent_buf);
	guard(0);
}

static void *
divert_alloc(void *buf, size_t requested)
{
	(void) requested;
	return (buf);
}

static void
divert_free(void *buf)
{
	(void) buf;
}

static void
divert_slow(void)
{
}

/*
 * With the class caches' fast paths off, as the recorder turns them off
 * (and debugging does), every malloc() takes malloc.c's refill path, which
 * must count it down too: with guard=1, every allocation is a sample.  In
 * a child: the switch is for good.
 */
static void
child_fast_paths_off(void)
{
	kmem_malloc_free(kmem_malloc(64));      /* the thread has its slots */
	/* Sampled but too large to guard, in a class not made yet (no slot
	 * until its first use): the plain allocation after the draw is no
	 * second sample, which drew for ever. */
	guard(1);
	for (int i = 0; i < 8; i++) {
		void *big = kmem_malloc(3 * page + 1 + (size_t)i * 64);
		CHECK(big != NULL && !guarded(big));
		kmem_malloc_free(big);
	}
	guard(0);
	kmem_malloc_divert(divert_alloc, divert_free, divert_slow);
	guard(1);
	kmem_malloc_free(kmem_malloc(64));      /* the thread's first draw */
	for (int i = 0; i < 8; i++) {
		void *p = kmem_malloc(64);
		CHECK(p != NULL);
		CHECK(guarded(p));
		kmem_malloc_free(p);
	}
	guard(0);
	void *p = kmem_malloc(64);
	CHECK(p != NULL && !guarded(p));
	kmem_malloc_free(p);
}

static void
test_fast_paths_off(void)
{
	check_exits_within(child_fast_paths_off, 60, "sampling with the "
	    "class fast paths off");
}

static void *
thread_work(void *arg)
{
	uint64_t seed = (uintptr_t)arg;
	unsigned char *held[64] = { 0 };
	size_t sizes[64] = { 0 };
	for (int i = 0; i < 20000; i++) {
		int k = (int)(check_random(&seed) % 64);
		if (held[k] != NULL) {
			if (kmem_malloc_usable_size(held[k]) < sizes[k])
				return ("too small");
			for (size_t j = 0; j < sizes[k]; j++)
				if (held[k][j] != (unsigned char)k)
					return ("corrupted");
			kmem_malloc_free(held[k]);
		}
		sizes[k] = 1 + check_random(&seed) % 300;
		held[k] = kmem_malloc(sizes[k]);
		if (held[k] == NULL)
			return ("out of memory");
		memset(held[k], k, sizes[k]);
	}
	for (int k = 0; k < 64; k++)
		kmem_malloc_free(held[k]);
	return (NULL);
}

static void
test_threads(void)
{
	guard(3);
	pthread_t t[4];
	for (uintptr_t i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, thread_work,
		    (void *)(i + 1)) == 0);
	for (int i = 0; i < 4; i++) {
		void *result;
		CHECK(pthread_join(t[i], &result) == 0);
		CHECK(result == NULL);
	}
	guard(0);
}

/* ---- the default handler aborts ---- */

static void
overflow_with_default_handler(void)
{
	kmem_report_handler_set(NULL, NULL, NULL);
	guard(1);
	volatile unsigned char *p = guarded_malloc(16, false);
	p[16] = 0;
	SIGNAL_SEEN();
}

static void
test_aborts(void)
{
	check_child_aborts(overflow_with_default_handler,
	    "buffer overflow: access at offset 16 of guarded buffer ");
}

int
main(int argc, char **argv)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
	kmem_guard_budget_set(0, 0);
	static const check_test_t tests[] = {
		CHECK_TEST(test_overflow_loop),
		CHECK_TEST(test_overflow_read),
		CHECK_TEST(test_underflow),
		CHECK_TEST(test_use_after_free),
		CHECK_TEST(test_double_free),
		CHECK_TEST(test_interior_free),
		CHECK_TEST(test_family),
		CHECK_TEST(test_pool_full),
		CHECK_TEST(test_retired_slots),
		CHECK_TEST(test_budget),
		CHECK_TEST(test_leaks),
		CHECK_TEST(test_fork),
		CHECK_TEST(test_fast_paths_off),
		CHECK_TEST(test_threads),
		CHECK_TEST(test_aborts),
	};
	return (check_run_tests(tests, sizeof (tests) / sizeof (tests[0]),
	    argc, argv));
}
