/*
 * The libumem API (include/kmem/umem.h), one behaviour at a time: the
 * header's values, umem_alloc/umem_zalloc/umem_free and their edge cases,
 * object caches with constructors, destructors and reclaim, the UMC_*
 * flags seen through the ::kmastat table, umem_cache_create's errors,
 * UMEM_DEFAULT failures, and UMEM_NOFAIL: the callback's retries, its exit
 * statuses (in child processes), bad return values and the recursive exit.
 * Failures are made by constructors that fail and by caches on small
 * private arenas that run dry; umem_alloc's by sizes nothing can map.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/umem.h>

#include "check.h"

/* No arena can hand out this much. */
#define HUGE_SIZE       (SIZE_MAX / 2)

static size_t
page_size(void)
{
	return ((size_t)sysconf(_SC_PAGESIZE));
}

/* ---- the header ---- */

static void
test_header_values(void)
{
	CHECK_EQ(UMEM_DEFAULT, 0x0000);
	CHECK_EQ(UMEM_NOFAIL, 0x0100);
	CHECK_EQ(UMEM_FLAGS, 0xffff);
	CHECK_EQ(UMEM_CALLBACK_RETRY, 0);
	CHECK_EQ(UMEM_CALLBACK_EXIT(0), 0x100);
	CHECK_EQ(UMEM_CALLBACK_EXIT(42), 0x12a);
	CHECK_EQ(UMEM_CALLBACK_EXIT(0x1ff), 0x1ff);     /* the low byte only */
	CHECK_EQ(UMC_NOTOUCH, 0x00010000);
	CHECK_EQ(UMC_NODEBUG, 0x00020000);
	CHECK_EQ(UMC_NOMAGAZINE, 0x00040000);
	CHECK_EQ(UMC_NOHASH, 0x00080000);

	/* The callback types are the man page's. */
	umem_constructor_t *ctor = NULL;
	umem_destructor_t *dtor = NULL;
	umem_reclaim_t *reclaim = NULL;
	umem_nofail_callback_t *nofail = NULL;
	int (*ctor_as_declared)(void *, void *, int) = ctor;
	void (*dtor_as_declared)(void *, void *) = dtor;
	void (*reclaim_as_declared)(void *) = reclaim;
	int (*nofail_as_declared)(void) = nofail;
	CHECK(ctor_as_declared == NULL && dtor_as_declared == NULL &&
	    reclaim_as_declared == NULL && nofail_as_declared == NULL);
}

/* ---- umem_alloc, umem_zalloc, umem_free ---- */

static void
test_alloc_free(void)
{
	static const size_t sizes[] = { 1, 7, 8, 24, 100, 1024, 4000, 4096,
	    20000, 131072, 131073, 300000, 1 << 21 };
	enum { N = sizeof (sizes) / sizeof (sizes[0]) };
	unsigned char *bufs[N];

	for (int i = 0; i < N; i++) {
		int flags = i % 2 == 0 ? UMEM_DEFAULT : UMEM_NOFAIL;
		bufs[i] = umem_alloc(sizes[i], flags);
		CHECK(bufs[i] != NULL);
		CHECK_EQ((uintptr_t)bufs[i] % 8, 0);
		memset(bufs[i], i, sizes[i]);
	}
	for (int i = 0; i < N; i++) {
		CHECK_EQ(bufs[i][0], i);
		CHECK_EQ(bufs[i][sizes[i] - 1], i);
		for (int j = 0; j < i; j++)
			CHECK(bufs[i] != bufs[j]);
	}
	for (int i = 0; i < N; i++)
		umem_free(bufs[i], sizes[i]);
}

static void
test_zero_sizes_and_null(void)
{
	check_catch_reports();
	/* umem_alloc(0, ...) always returns NULL, without complaint. */
	CHECK_NO_REPORT(CHECK(umem_alloc(0, UMEM_DEFAULT) == NULL));
	CHECK_NO_REPORT(CHECK(umem_alloc(0, UMEM_NOFAIL) == NULL));
	CHECK_NO_REPORT(CHECK(umem_zalloc(0, UMEM_DEFAULT) == NULL));
	CHECK_NO_REPORT(CHECK(umem_zalloc(0, UMEM_NOFAIL) == NULL));
	/* Freeing NULL is allowed, whatever the size. */
	CHECK_NO_REPORT(umem_free(NULL, 0));
	CHECK_NO_REPORT(umem_free(NULL, 1000));
	kmem_report_handler_set(NULL, NULL, NULL);
}

static void
test_zalloc_zeroes_reused_memory(void)
{
	static const size_t sizes[] = { 8, 40, 512, 3000, 70000, 200000 };
	for (size_t s = 0; s < sizeof (sizes) / sizeof (sizes[0]); s++) {
		size_t size = sizes[s];
		/* Dirty buffers of this class, free them, then zalloc. */
		enum { N = 64 };
		unsigned char *dirty[N];
		for (int i = 0; i < N; i++) {
			dirty[i] = umem_alloc(size, UMEM_DEFAULT);
			CHECK(dirty[i] != NULL);
			memset(dirty[i], 0xa5, size);
		}
		for (int i = 0; i < N; i++)
			umem_free(dirty[i], size);
		for (int i = 0; i < N; i++) {
			int flags = i % 2 ? UMEM_NOFAIL : UMEM_DEFAULT;
			dirty[i] = umem_zalloc(size, flags);
			CHECK(dirty[i] != NULL);
			for (size_t b = 0; b < size; b++)
				CHECK_EQ(dirty[i][b], 0);
		}
		for (int i = 0; i < N; i++)
			umem_free(dirty[i], size);
	}
}

static void
test_default_failure_returns_null(void)
{
	check_catch_reports();
	CHECK_NO_REPORT(CHECK(umem_alloc(HUGE_SIZE, UMEM_DEFAULT) == NULL));
	CHECK_NO_REPORT(CHECK(umem_zalloc(HUGE_SIZE, UMEM_DEFAULT) == NULL));
	kmem_report_handler_set(NULL, NULL, NULL);
}

static void
test_bad_input_is_reported(void)
{
	check_catch_reports();
	char local;
	CHECK_REPORT(CHECK(umem_cache_alloc(NULL, UMEM_DEFAULT) == NULL),
	    "umem_cache_alloc(NULL)");
	CHECK_REPORT(umem_cache_free(NULL, &local), "umem_cache_free(NULL)");
	CHECK_REPORT(umem_cache_destroy(NULL), "umem_cache_destroy(NULL)");
	/* Not a cache: a zeroed record of the right size. */
	static uint64_t fake[8];
	CHECK_REPORT(CHECK(umem_cache_alloc((umem_cache_t *)fake,
	    UMEM_DEFAULT) == NULL), "not a umem cache");

	void *buf = umem_alloc(64, UMEM_DEFAULT);
	CHECK_REPORT(umem_free(buf, 0), "umem_free");
	CHECK_NO_REPORT(umem_free(buf, 64));
	kmem_report_handler_set(NULL, NULL, NULL);
}

/* ---- object caches ---- */

typedef struct obj {
	uint64_t state;         /* CONSTRUCTED while cached */
	void *self;
	char payload[48];
} obj_t;

#define CONSTRUCTED     0xc0c0c0c0c0c0c0c0ull
#define IN_USE          0x1111111111111111ull

typedef struct counts {
	int constructed;
	int destructed;
	int reclaimed;
	int bad_flags;          /* a constructor saw flags but UMEM_DEFAULT */
	int bad_state;          /* a destructor saw an unconstructed object */
	int fail_next;          /* constructor failures still to make */
} counts_t;

static int
obj_construct(void *buf, void *arg, int flags)
{
	counts_t *c = arg;
	obj_t *o = buf;
	if (flags != UMEM_DEFAULT)
		c->bad_flags++;
	if (c->fail_next > 0) {
		c->fail_next--;
		return (1);
	}
	o->state = CONSTRUCTED;
	o->self = o;
	c->constructed++;
	return (0);
}

static void
obj_destruct(void *buf, void *arg)
{
	counts_t *c = arg;
	obj_t *o = buf;
	if (o->state != CONSTRUCTED || o->self != o)
		c->bad_state++;
	o->state = 0;
	c->destructed++;
}

static void
obj_reclaim(void *arg)
{
	((counts_t *)arg)->reclaimed++;
}

static void
test_cache_constructed_objects(void)
{
	counts_t c = { 0 };
	umem_cache_t *cp = umem_cache_create("umem_test_obj", sizeof (obj_t),
	    0, obj_construct, obj_destruct, obj_reclaim, &c, NULL, 0);
	CHECK(cp != NULL);

	enum { N = 500 };
	static obj_t *objs[N];
	for (int i = 0; i < N; i++) {
		objs[i] = umem_cache_alloc(cp, i % 2 ? UMEM_NOFAIL :
		    UMEM_DEFAULT);
		CHECK(objs[i] != NULL);
		CHECK_EQ((uintptr_t)objs[i] % 8, 0);
		/* Every object comes out constructed. */
		CHECK_EQ(objs[i]->state, CONSTRUCTED);
		CHECK(objs[i]->self == objs[i]);
		memset(objs[i]->payload, i, sizeof (objs[i]->payload));
	}
	CHECK_EQ(c.constructed, N);
	CHECK_EQ(c.bad_flags, 0);
	for (int i = 0; i < N; i++)
		umem_cache_free(cp, objs[i]);
	CHECK_EQ(c.bad_state, 0);

	/* Cached objects come back without another constructor call. */
	int before = c.constructed;
	obj_t *again = umem_cache_alloc(cp, UMEM_DEFAULT);
	CHECK(again != NULL && again->state == CONSTRUCTED);
	CHECK_EQ(c.constructed, before);
	umem_cache_free(cp, again);

	/* umem_reap() runs the reclaim callback with callback_data. */
	int reclaimed = c.reclaimed;
	umem_reap();
	CHECK(c.reclaimed > reclaimed);

	/* Every object constructed is destructed by the time it is gone. */
	umem_cache_destroy(cp);
	CHECK_EQ(c.destructed, c.constructed);
	CHECK_EQ(c.bad_state, 0);
}

static void
test_cache_without_callbacks(void)
{
	umem_cache_t *cp = umem_cache_create("umem_test_plain", 100, 64,
	    NULL, NULL, NULL, NULL, NULL, 0);
	CHECK(cp != NULL);
	void *a = umem_cache_alloc(cp, UMEM_DEFAULT);
	void *b = umem_cache_alloc(cp, UMEM_NOFAIL);
	CHECK(a != NULL && b != NULL && a != b);
	CHECK_EQ((uintptr_t)a % 64, 0);
	CHECK_EQ((uintptr_t)b % 64, 0);
	memset(a, 1, 100);
	memset(b, 2, 100);
	umem_cache_free(cp, a);
	umem_cache_free(cp, b);
	umem_cache_destroy(cp);
}

static void
test_cache_create_errors(void)
{
	check_catch_reports();
	/* Each bad argument: NULL, errno as the man page says, no report. */
	struct {
		const char *name;
		size_t bufsize, align;
		int cflags;
		int error;
	} bad[] = {
		{ NULL, 64, 0, 0, EINVAL },
		{ "umem_bad", 0, 0, 0, EINVAL },
		{ "umem_bad", 64, 3, 0, EINVAL },
		{ "umem_bad", 64, 24, 0, EINVAL },
		{ "umem_bad", 64, 2 * page_size(), 0, EINVAL },
		{ "umem_bad", 64, 0, 0x1, EINVAL },
		{ "umem_bad", 64, 0, 0x00100000, EINVAL },  /* KMC_QCACHE */
		{ "umem_bad", 64, 0, UMC_NOHASH | UMC_NOTOUCH, EINVAL },
		{ "umem_bad", SIZE_MAX, 0, 0, ENOMEM },
		{ "umem_bad", SIZE_MAX / 16, 0, 0, ENOMEM },
	};
	for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++) {
		errno = 0;
		CHECK_NO_REPORT(CHECK(umem_cache_create(bad[i].name,
		    bad[i].bufsize, bad[i].align, NULL, NULL, NULL, NULL, NULL,
		    bad[i].cflags) == NULL));
		CHECK_EQ(errno, bad[i].error);
	}
	/* A page of alignment is still fine on the default arena. */
	umem_cache_t *cp;
	CHECK_NO_REPORT(cp = umem_cache_create("umem_page_aligned", 100,
	    page_size(), NULL, NULL, NULL, NULL, NULL, 0));
	CHECK(cp != NULL);
	void *buf = umem_cache_alloc(cp, UMEM_DEFAULT);
	CHECK(buf != NULL);
	CHECK_EQ((uintptr_t)buf % page_size(), 0);
	umem_cache_free(cp, buf);
	umem_cache_destroy(cp);
	kmem_report_handler_set(NULL, NULL, NULL);
}

/* ---- UMC_* flags, seen through the ::kmastat table ---- */

typedef struct row {
	const char *name;       /* the cache to find */
	bool found;
	size_t buf_size;
	unsigned long long inuse, total;
	unsigned mag_size;
} row_t;

static void
row_emit(void *arg, const char *line)
{
	row_t *r = arg;
	char name[64];
	size_t mem;
	unsigned long long alloc, fail, contention;
	row_t got = { 0 };
	if (sscanf(line, "%63s %zu %llu %llu %zu %llu %llu %u %llu", name,
	    &got.buf_size, &got.inuse, &got.total, &mem, &alloc, &fail,
	    &got.mag_size, &contention) == 9 && strcmp(name, r->name) == 0) {
		CHECK(!r->found);       /* cache names here are unique */
		got.name = r->name;
		got.found = true;
		*r = got;
	}
}

static row_t
row_of(const char *name)
{
	row_t r = { .name = name };
	kmem_table(row_emit, &r);
	CHECK(r.found);
	return (r);
}

static void
test_nomagazine(void)
{
	umem_cache_t *mag = umem_cache_create("umem_flags_mag", 64, 0, NULL,
	    NULL, NULL, NULL, NULL, 0);
	umem_cache_t *nomag = umem_cache_create("umem_flags_nomag", 64, 0,
	    NULL, NULL, NULL, NULL, NULL, UMC_NOMAGAZINE);
	CHECK(mag != NULL && nomag != NULL);
	CHECK(row_of("umem_flags_mag").mag_size > 0);
	CHECK_EQ(row_of("umem_flags_nomag").mag_size, 0);

	void *a = umem_cache_alloc(nomag, UMEM_DEFAULT);
	CHECK(a != NULL);
	CHECK_EQ(row_of("umem_flags_nomag").inuse, 1);
	umem_cache_free(nomag, a);
	CHECK_EQ(row_of("umem_flags_nomag").inuse, 0);
	umem_cache_destroy(mag);
	umem_cache_destroy(nomag);
}

/*
 * UMC_NOTOUCH: the allocator keeps its free-list links out of free
 * buffers.  A buffer filled with a pattern, freed to its slab (no
 * magazines) and allocated again keeps the pattern whole with the flag;
 * without it the slab layer writes its link into the buffer.
 */
static bool
pattern_survives_free(int cflags)
{
	enum { SIZE = 64 };
	umem_cache_t *cp = umem_cache_create("umem_flags_touch", SIZE, 0,
	    NULL, NULL, NULL, NULL, NULL, cflags | UMC_NOMAGAZINE);
	CHECK(cp != NULL);
	/* Two buffers, so the freed one's link points somewhere. */
	unsigned char *keep = umem_cache_alloc(cp, UMEM_DEFAULT);
	unsigned char *buf = umem_cache_alloc(cp, UMEM_DEFAULT);
	CHECK(keep != NULL && buf != NULL);
	memset(buf, 0x5a, SIZE);
	umem_cache_free(cp, buf);
	unsigned char *again = umem_cache_alloc(cp, UMEM_DEFAULT);
	CHECK(again == buf);            /* the slab hands it out first */
	bool intact = true;
	for (int i = 0; i < SIZE; i++)
		intact &= again[i] == 0x5a;
	umem_cache_free(cp, again);
	umem_cache_free(cp, keep);
	umem_cache_destroy(cp);
	return (intact);
}

static void
test_notouch(void)
{
	CHECK(!pattern_survives_free(0));
	CHECK(pattern_survives_free(UMC_NOTOUCH));
}

/*
 * UMC_NOHASH: large buffers keep their slab data in the slab instead of
 * in a hash of external records, which changes how many fit in a slab.
 */
static unsigned long long
buffers_per_slab(int cflags)
{
	umem_cache_t *cp = umem_cache_create("umem_flags_hash", 2048, 0, NULL,
	    NULL, NULL, NULL, NULL, cflags);
	CHECK(cp != NULL);
	void *buf = umem_cache_alloc(cp, UMEM_DEFAULT);
	CHECK(buf != NULL);
	unsigned long long total = row_of("umem_flags_hash").total;
	umem_cache_free(cp, buf);
	umem_cache_destroy(cp);
	return (total);
}

static void
test_nohash(void)
{
	unsigned long long hashed = buffers_per_slab(0);
	unsigned long long inband = buffers_per_slab(UMC_NOHASH);
	CHECK(hashed > 0 && inband > 0);
	/* 2048-byte buffers fill whole pages only without a slab header. */
	CHECK_EQ(hashed * 2048 % page_size(), 0);
	CHECK(inband * 2048 % page_size() != 0);
}

static void
test_nodebug(void)
{
	/* No debugging is on by default; the flag is accepted and works. */
	umem_cache_t *cp = umem_cache_create("umem_flags_nodebug", 40, 0,
	    NULL, NULL, NULL, NULL, NULL, UMC_NODEBUG);
	CHECK(cp != NULL);
	void *buf = umem_cache_alloc(cp, UMEM_DEFAULT);
	CHECK(buf != NULL);
	CHECK_EQ(row_of("umem_flags_nodebug").buf_size, 40);
	umem_cache_free(cp, buf);
	umem_cache_destroy(cp);
}

/* ---- caches on a small private arena, and failures ---- */

#define SMALL_PAGES     4

typedef struct small {
	void *mem;
	vmem_t *arena;
	umem_cache_t *cp;
	void *bufs[256];
	int n;                  /* buffers the arena held */
} small_t;

/* A cache of 1 KiB buffers on an arena of SMALL_PAGES pages, emptied. */
static void
small_create(small_t *s, int cflags)
{
	size_t page = page_size();
	s->mem = aligned_alloc(page, SMALL_PAGES * page);
	CHECK(s->mem != NULL);
	s->arena = vmem_create("umem_small", s->mem, SMALL_PAGES * page, page,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	CHECK(s->arena != NULL);
	s->cp = umem_cache_create("umem_small_1k", 1024, 0, NULL, NULL, NULL,
	    NULL, s->arena, cflags);
	CHECK(s->cp != NULL);
	for (s->n = 0; s->n < 256; s->n++) {
		s->bufs[s->n] = umem_cache_alloc(s->cp, UMEM_DEFAULT);
		if (s->bufs[s->n] == NULL)
			break;
		CHECK(vmem_contains(s->arena, s->bufs[s->n], 1024));
	}
	CHECK(s->n > 0 && s->n < 256);
	CHECK(s->n <= (int)(SMALL_PAGES * page / 1024));
}

static void
small_destroy(small_t *s)
{
	for (int i = 0; i < s->n; i++)
		if (s->bufs[i] != NULL)
			umem_cache_free(s->cp, s->bufs[i]);
	umem_cache_destroy(s->cp);
	vmem_destroy(s->arena);
	free(s->mem);
}

static void
test_default_fails_on_empty_arena(void)
{
	small_t s;
	small_create(&s, 0);
	CHECK(umem_cache_alloc(s.cp, UMEM_DEFAULT) == NULL);
	CHECK(umem_cache_alloc(s.cp, UMEM_DEFAULT) == NULL);
	small_destroy(&s);
}

/* A callback that frees one buffer of the small cache and retries. */
static small_t *retry_small;
static int retry_calls;

static int
free_one_and_retry(void)
{
	retry_calls++;
	small_t *s = retry_small;
	s->n--;
	umem_cache_free(s->cp, s->bufs[s->n]);
	s->bufs[s->n] = NULL;
	return (UMEM_CALLBACK_RETRY);
}

static void
test_nofail_retry_on_empty_arena(void)
{
	for (int nomag = 0; nomag < 2; nomag++) {
		small_t s;
		small_create(&s, nomag ? UMC_NOMAGAZINE : 0);
		retry_small = &s;
		retry_calls = 0;
		umem_nofail_callback(free_one_and_retry);
		void *freed = s.bufs[s.n - 1];
		void *buf = umem_cache_alloc(s.cp, UMEM_NOFAIL);
		CHECK(buf != NULL);
		CHECK_EQ(retry_calls, 1);
		CHECK(buf == freed);            /* the one the callback freed */
		umem_nofail_callback(NULL);
		umem_cache_free(s.cp, buf);
		small_destroy(&s);
	}
}

/* A constructor that fails makes a failure too; NOFAIL retries it. */
static int ctor_retry_calls;

static int
count_and_retry(void)
{
	ctor_retry_calls++;
	return (UMEM_CALLBACK_RETRY);
}

static void
test_nofail_retry_on_failing_constructor(void)
{
	counts_t c = { 0 };
	umem_cache_t *cp = umem_cache_create("umem_test_failing", sizeof (obj_t),
	    0, obj_construct, obj_destruct, NULL, &c, NULL, 0);
	CHECK(cp != NULL);

	/* UMEM_DEFAULT: the failure comes back as NULL. */
	c.fail_next = 1;
	CHECK(umem_cache_alloc(cp, UMEM_DEFAULT) == NULL);
	CHECK_EQ(c.constructed, 0);

	/* UMEM_NOFAIL: one callback per failure, then an object. */
	umem_nofail_callback(count_and_retry);
	c.fail_next = 3;
	ctor_retry_calls = 0;
	obj_t *o = umem_cache_alloc(cp, UMEM_NOFAIL);
	CHECK(o != NULL && o->state == CONSTRUCTED);
	CHECK_EQ(ctor_retry_calls, 3);
	CHECK_EQ(c.constructed, 1);
	CHECK_EQ(c.bad_flags, 0);       /* every call saw UMEM_DEFAULT */
	umem_nofail_callback(NULL);

	umem_cache_free(cp, o);
	umem_cache_destroy(cp);
	CHECK_EQ(c.destructed, 1);
}

/* ---- UMEM_NOFAIL's exits, in child processes ---- */

static void
check_exited(const check_child_t *c, int code)
{
	if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != code) {
		fprintf(stderr, "child should exit with %d; status 0x%x, said "
		    "\"%s\"\n", code, c->status, c->err);
		CHECK(!"the child exits with the expected status");
	}
}

static int callback_calls;

static int
exit_42(void)
{
	callback_calls++;
	return (UMEM_CALLBACK_EXIT(42));
}

static void
child_alloc_exit_42(void)
{
	umem_nofail_callback(exit_42);
	(void) umem_alloc(HUGE_SIZE, UMEM_NOFAIL);
}

static void
child_zalloc_exit_42(void)
{
	umem_nofail_callback(exit_42);
	(void) umem_zalloc(HUGE_SIZE, UMEM_NOFAIL);
}

static void
child_no_callback(void)
{
	(void) umem_alloc(HUGE_SIZE, UMEM_NOFAIL);
}

static void
child_callback_reset(void)
{
	umem_nofail_callback(exit_42);
	umem_nofail_callback(NULL);
	(void) umem_alloc(HUGE_SIZE, UMEM_NOFAIL);
}

static int
retry_twice_then_exit_7(void)
{
	return (++callback_calls <= 2 ? UMEM_CALLBACK_RETRY :
	    UMEM_CALLBACK_EXIT(7));
}

static void
child_retry_then_exit(void)
{
	callback_calls = 0;
	umem_nofail_callback(retry_twice_then_exit_7);
	(void) umem_alloc(HUGE_SIZE, UMEM_NOFAIL);
}

static int
exit_300(void)
{
	return (UMEM_CALLBACK_EXIT(300));
}

static void
child_exit_status_low_byte(void)
{
	umem_nofail_callback(exit_300);
	(void) umem_alloc(HUGE_SIZE, UMEM_NOFAIL);
}

static int
returns_garbage(void)
{
	return (7);
}

static void
child_bad_callback_value(void)
{
	umem_nofail_callback(returns_garbage);
	(void) umem_alloc(HUGE_SIZE, UMEM_NOFAIL);
}

static int
exit_3(void)
{
	return (UMEM_CALLBACK_EXIT(3));
}

static void
child_cache_exit_3(void)
{
	static small_t s;       /* reachable at exit, for LeakSanitizer */
	small_create(&s, 0);
	umem_nofail_callback(exit_3);
	(void) umem_cache_alloc(s.cp, UMEM_NOFAIL);
}

static void
child_constructor_exit_3(void)
{
	static counts_t c = { .fail_next = 1000000 };
	umem_cache_t *cp = umem_cache_create("umem_test_never", sizeof (obj_t),
	    0, obj_construct, obj_destruct, NULL, &c, NULL, 0);
	umem_nofail_callback(exit_3);
	(void) umem_cache_alloc(cp, UMEM_NOFAIL);
}

/* The exit handler allocates with UMEM_NOFAIL, fails, and exits again. */
static void
nofail_in_atexit(void)
{
	(void) umem_alloc(HUGE_SIZE, UMEM_NOFAIL);
}

static void
child_recursive_exit(void)
{
	CHECK(atexit(nofail_in_atexit) == 0);
	umem_nofail_callback(exit_42);
	(void) umem_alloc(HUGE_SIZE, UMEM_NOFAIL);
}

static void
child_recursive_exit_in_time(void)
{
	alarm(10);              /* a hang is a failure too */
	child_recursive_exit();
}

static void
test_nofail_exits(void)
{
	check_child_t c;

	c = check_run_child(child_alloc_exit_42);
	check_exited(&c, 42);
	c = check_run_child(child_zalloc_exit_42);
	check_exited(&c, 42);
	/* No callback, or a NULL one: UMEM_CALLBACK_EXIT(255). */
	c = check_run_child(child_no_callback);
	check_exited(&c, 255);
	c = check_run_child(child_callback_reset);
	check_exited(&c, 255);
	/* RETRY runs the callback again on the next failure. */
	c = check_run_child(child_retry_then_exit);
	check_exited(&c, 7);
	c = check_run_child(child_exit_status_low_byte);
	check_exited(&c, 300 & 0xff);
	/* Neither RETRY nor EXIT(): a warning, then exit(255). */
	c = check_run_child(child_bad_callback_value);
	check_exited(&c, 255);
	CHECK(strstr(c.err, "returned 0x7") != NULL);
	/* Caches: an empty arena, and a constructor that always fails. */
	c = check_run_child(child_cache_exit_3);
	check_exited(&c, 3);
	c = check_run_child(child_constructor_exit_3);
	check_exited(&c, 3);

	check_child_aborts(child_recursive_exit_in_time,
	    "recursive UMEM_CALLBACK_EXIT()");
}

int
main(void)
{
	test_header_values();
	test_alloc_free();
	test_zero_sizes_and_null();
	test_zalloc_zeroes_reused_memory();
	test_default_failure_returns_null();
	test_bad_input_is_reported();
	test_cache_constructed_objects();
	test_cache_without_callbacks();
	test_cache_create_errors();
	test_nomagazine();
	test_notouch();
	test_nohash();
	test_nodebug();
	test_default_fails_on_empty_arena();
	test_nofail_retry_on_empty_arena();
	test_nofail_retry_on_failing_constructor();
	test_nofail_exits();
	printf("umem_api_test: ok\n");
	return (0);
}
