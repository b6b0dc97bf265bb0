/*
 * Every kind of bad input vmem detects: each case must produce exactly one
 * report that names the arena, the address and what is wrong, and must
 * leave the arena exactly as it was (vmem_verify, sizes, and the next
 * operations still work).  Each report is checked whole, as the table in
 * docs/vmem.md ("Errors") shows it, with the addresses the test knows.
 * The last case checks the default handler: the message on standard
 * error, then abort().
 *
 *	vmem_errors_test [test-name...]
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/vmem.h>

#include "check.h"

#define A(x) ((void *)(uintptr_t)(x))
#define U(p) ((uintptr_t)(p))

/* The arena must still hold exactly inuse bytes and pass verification. */
static void
check_intact(vmem_t *vmp, size_t inuse)
{
	CHECK_NO_REPORT(CHECK_EQ(vmem_verify(vmp), 0));
	CHECK_EQ(vmem_size(vmp, VMEM_ALLOC), inuse);
}

static void
test_bad_frees(void)
{
	vmem_t *vmp = vmem_create("frees", A(0x1000), 0x1000, 0x10, NULL, NULL,
	    NULL, 0, VM_SLEEP);
	void *a = vmem_alloc(vmp, 0x40, VM_SLEEP);
	void *b = vmem_alloc(vmp, 0x20, VM_SLEEP);
	/* Instant fit takes the start of the one free segment. */
	CHECK(a == A(0x1000) && b == A(0x1040));

	CHECK_REPORT_IS(vmem_free(vmp, A(0x1800), 0x10), "vmem_free(\"frees\", "
	    "0x1800, 16): the address is free: a double free, or it was never "
	    "allocated");
	CHECK_REPORT_IS(vmem_free(vmp, A(0x5000), 0x10), "vmem_free(\"frees\", "
	    "0x5000, 16): the address is not in any span of the arena");
	CHECK_REPORT_IS(vmem_free(vmp, NULL, 0x10), "vmem_free(\"frees\", 0x0, "
	    "16): the address is not in any span of the arena");
	CHECK_REPORT_IS(vmem_free(vmp, a, 0x20), "vmem_free(\"frees\", 0x1000, "
	    "32): wrong size: the segment at this address was allocated with "
	    "size 64");
	CHECK_REPORT_IS(vmem_xfree(vmp, a, 0), "vmem_xfree(\"frees\", 0x1000, "
	    "0): wrong size: the segment at this address was allocated with "
	    "size 64");
	CHECK_REPORT_IS(vmem_free(vmp, (char *)a + 0x10, 0x10), "vmem_free("
	    "\"frees\", 0x1010, 16): the address is inside the allocated "
	    "segment [0x1000, 0x1040), not at its start");
	check_intact(vmp, 0x60);

	/* A size that rounds to the same quantum is the same size. */
	CHECK_NO_REPORT(vmem_free(vmp, a, 0x3f));
	CHECK_REPORT_IS(vmem_free(vmp, a, 0x40), "vmem_free(\"frees\", 0x1000, "
	    "64): the address is free: a double free, or it was never "
	    "allocated");
	check_intact(vmp, 0x20);
	vmem_free(vmp, b, 0x20);
	vmem_destroy(vmp);
}

/* ---- quantum caches ---- */

/*
 * Allocations handed out and not freed: a test's view of what a client
 * holds, checked for overlap.
 */
#define LIVE_MAX 4096

typedef struct live {
	uintptr_t start[LIVE_MAX];
	size_t size[LIVE_MAX];
	size_t n;
} live_t;

static live_t live;

static void
live_add(void *p, size_t size)
{
	CHECK(p != NULL && live.n < LIVE_MAX);
	live.start[live.n] = U(p);
	live.size[live.n++] = size;
}

static void
live_remove(void *p)
{
	for (size_t i = 0; i < live.n; i++) {
		if (live.start[i] == U(p)) {
			live.start[i] = live.start[--live.n];
			live.size[i] = live.size[live.n];
			return;
		}
	}
	CHECK(!"freed a range the test does not hold");
}

/* Does a range the test holds start at addr? */
static bool
live_holds(uintptr_t addr)
{
	for (size_t i = 0; i < live.n; i++)
		if (live.start[i] == addr)
			return (true);
	return (false);
}

static void
live_check_disjoint(void)
{
	for (size_t i = 0; i < live.n; i++)
		for (size_t j = i + 1; j < live.n; j++)
			CHECK(live.start[i] + live.size[i] <= live.start[j] ||
			    live.start[j] + live.size[j] <= live.start[i]);
}

/*
 * After a refused free: the arena verifies, holds what it held, and many
 * allocations of every cached size (and one above) overlap nothing the
 * client holds; they are freed again.
 */
static void
check_refused(vmem_t *vmp, size_t inuse, size_t qcache_max, size_t quantum)
{
	CHECK_NO_REPORT(CHECK_EQ(vmem_verify(vmp), 0));
	CHECK_EQ(vmem_size(vmp, VMEM_ALLOC), inuse);
	size_t first = live.n;
	for (unsigned i = 0; i < 400; i++) {
		size_t size = (i % (qcache_max / quantum + 1) + 1) * quantum;
		void *p;
		CHECK_NO_REPORT(p = vmem_alloc(vmp, size, VM_NOSLEEP));
		live_add(p, size);
	}
	live_check_disjoint();
	while (live.n > first) {
		live.n--;
		CHECK_NO_REPORT(vmem_free(vmp, A(live.start[live.n]),
		    live.size[live.n]));
	}
	CHECK_NO_REPORT(CHECK_EQ(vmem_verify(vmp), 0));
}

/*
 * stmt, a bad free, must report exactly text once and be refused
 * (check_refused).
 */
#define CHECK_REFUSED(vmp, qcache_max, quantum, stmt, text) do {        \
	size_t inuse_ = vmem_size(vmp, VMEM_ALLOC);                     \
	CHECK_REPORT_IS(stmt, text);                                    \
	check_refused(vmp, inuse_, qcache_max, quantum);                \
} while (0)

/* vmem_walk(): the allocated segment (a slab, for a cached size) holding
 * the address in *(uintptr_t *)arg, into arg[1] and arg[2]. */
static void
find_segment(void *arg, void *start, size_t size)
{
	uintptr_t *want = arg;
	if (want[0] - U(start) < size) {
		want[1] = U(start);
		want[2] = size;
	}
}

static void
test_qcache_bad_frees(void)
{
	vmem_t *vmp = vmem_create("qc", A(0x100000), 0x100000, 8, NULL, NULL,
	    NULL, 64, VM_SLEEP);
	void *a = vmem_alloc(vmp, 24, VM_SLEEP);
	void *b = vmem_alloc(vmp, 24, VM_SLEEP);
	void *big = vmem_alloc(vmp, 128, VM_SLEEP);
	live.n = 0;
	live_add(a, 24);
	live_add(b, 24);
	live_add(big, 128);

	/* Wrong sizes: smaller and larger cached ones, one beyond. */
	CHECK_REFUSED(vmp, 64, 8, vmem_free(vmp, a, 16), check_fmt(
	    "vmem_free(\"qc\", %p, 16): wrong size: the segment at this "
	    "address was allocated with size 24", a));
	CHECK_REFUSED(vmp, 64, 8, vmem_free(vmp, a, 40), check_fmt(
	    "vmem_free(\"qc\", %p, 40): wrong size: the segment at this "
	    "address was allocated with size 24", a));
	CHECK_REFUSED(vmp, 64, 8, vmem_free(vmp, a, 128), check_fmt(
	    "vmem_free(\"qc\", %p, 128): wrong size: the segment at this "
	    "address was allocated with size 24", a));
	CHECK_REFUSED(vmp, 64, 8, vmem_free(vmp, big, 32), check_fmt(
	    "vmem_free(\"qc\", %p, 32): wrong size: the segment at this "
	    "address was allocated with size 128", big));

	/* A segment of a cached size from vmem_xalloc is not the caches'. */
	void *x = vmem_xalloc(vmp, 24, 0, 0, 0, NULL, NULL, VM_SLEEP);
	live_add(x, 24);
	CHECK_REFUSED(vmp, 64, 8, vmem_free(vmp, x, 24), check_fmt(
	    "vmem_free(\"qc\", %p, 24): the segment at this address was "
	    "allocated by vmem_xalloc, not from the quantum caches: free it "
	    "with vmem_xfree", x));
	CHECK_NO_REPORT(vmem_xfree(vmp, x, 24));
	live_remove(x);

	/*
	 * a's slab is the arena's segment, but only its cache may free it:
	 * the free is explained by the buffer at the slab's start, one the
	 * test holds (of size 24) or a free one.
	 */
	uintptr_t slab[3] = { U(a), 0, 0 };
	vmem_walk(vmp, VMEM_ALLOC, find_segment, slab);
	CHECK(slab[2] > 64);
	const char *why = live_holds(slab[1]) ? "wrong size: the segment at "
	    "this address was allocated with size 24" : "the address is free: "
	    "a double free, or it was never allocated";
	CHECK_REFUSED(vmp, 64, 8, vmem_free(vmp, A(slab[1]), slab[2]),
	    check_fmt("vmem_free(\"qc\", %p, %zu): %s", A(slab[1]),
	    (size_t)slab[2], why));
	CHECK_REFUSED(vmp, 64, 8, vmem_xfree(vmp, A(slab[1]), slab[2]),
	    check_fmt("vmem_xfree(\"qc\", %p, %zu): %s", A(slab[1]),
	    (size_t)slab[2], why));

	/* Never allocated: in no slab, and in a's slab. */
	CHECK_REFUSED(vmp, 64, 8, vmem_free(vmp, A(0x1c0000), 24),
	    "vmem_free(\"qc\", 0x1c0000, 24): the address is free: a double "
	    "free, or it was never allocated");
	void *spare = U(a) + 24 == U(b) ? (char *)b + 24 : (char *)a + 24;
	CHECK_REFUSED(vmp, 64, 8, vmem_free(vmp, spare, 24), check_fmt(
	    "vmem_free(\"qc\", %p, 24): the address is free: a double free, "
	    "or it was never allocated", spare));
	CHECK_REFUSED(vmp, 64, 8, vmem_free(vmp, A(0x300000), 24),
	    "vmem_free(\"qc\", 0x300000, 24): the address is not in any span "
	    "of the arena");

	/* Interior addresses, freed with a cached size and a larger one. */
	CHECK_REFUSED(vmp, 64, 8, vmem_free(vmp, (char *)a + 8, 16), check_fmt(
	    "vmem_free(\"qc\", %p, 16): the address is inside the allocated "
	    "segment [%p, %p), not at its start", (char *)a + 8, a,
	    (char *)a + 24));
	CHECK_REFUSED(vmp, 64, 8, vmem_free(vmp, (char *)big + 8, 8), check_fmt(
	    "vmem_free(\"qc\", %p, 8): the address is inside the allocated "
	    "segment [%p, %p), not at its start", (char *)big + 8, big,
	    (char *)big + 128));

	/* Double frees, not back to back and back to back. */
	CHECK_NO_REPORT(vmem_free(vmp, a, 24));
	CHECK_NO_REPORT(vmem_free(vmp, b, 24));
	live_remove(a);
	live_remove(b);
	CHECK_REFUSED(vmp, 64, 8, vmem_free(vmp, a, 24), check_fmt(
	    "vmem_free(\"qc\", %p, 24): the address is free: a double free, "
	    "or it was never allocated", a));
	CHECK_REFUSED(vmp, 64, 8, vmem_free(vmp, b, 20), check_fmt(
	    "vmem_free(\"qc\", %p, 20): the address is free: a double free, "
	    "or it was never allocated", b));
	/* Freed with another cached size, it is still no wrong size. */
	CHECK_REFUSED(vmp, 64, 8, vmem_free(vmp, a, 32), check_fmt(
	    "vmem_free(\"qc\", %p, 32): the address is free: a double free, "
	    "or it was never allocated", a));
	/* a's slab again, none of its buffers held now. */
	CHECK_REFUSED(vmp, 64, 8, vmem_free(vmp, A(slab[1]), slab[2]),
	    check_fmt("vmem_free(\"qc\", %p, %zu): the address is free: a "
	    "double free, or it was never allocated", A(slab[1]),
	    (size_t)slab[2]));

	CHECK_NO_REPORT(vmem_free(vmp, big, 128));
	live.n = 0;
	CHECK_NO_REPORT(vmem_destroy(vmp));
}

/* An identifier arena's quantum caches: integers, never touched. */
static void
test_identifier_qcache_bad_frees(void)
{
	vmem_t *ids = vmem_create("qids", A(1), 100000, 1, NULL, NULL, NULL,
	    8, VMC_IDENTIFIER);
	void *x = vmem_alloc(ids, 1, VM_SLEEP);
	void *y = vmem_alloc(ids, 1, VM_SLEEP);
	void *z = vmem_alloc(ids, 3, VM_SLEEP);
	live.n = 0;
	live_add(x, 1);
	live_add(y, 1);
	live_add(z, 3);

	CHECK_REFUSED(ids, 8, 1, vmem_free(ids, x, 2), check_fmt(
	    "vmem_free(\"qids\", %p, 2): wrong size: the segment at this "
	    "address was allocated with size 1", x));
	CHECK_REFUSED(ids, 8, 1, vmem_free(ids, (char *)z + 1, 1), check_fmt(
	    "vmem_free(\"qids\", %p, 1): the address is inside the allocated "
	    "segment [%p, %p), not at its start", (char *)z + 1, z,
	    (char *)z + 3));
	CHECK_REFUSED(ids, 8, 1, vmem_free(ids, A(90000), 1),
	    "vmem_free(\"qids\", 0x15f90, 1): the address is free: a double "
	    "free, or it was never allocated");

	CHECK_NO_REPORT(vmem_free(ids, x, 1));
	CHECK_NO_REPORT(vmem_free(ids, y, 1));
	live_remove(x);
	live_remove(y);
	CHECK_REFUSED(ids, 8, 1, vmem_free(ids, x, 1), check_fmt(
	    "vmem_free(\"qids\", %p, 1): the address is free: a double free, "
	    "or it was never allocated", x));
	CHECK_REFUSED(ids, 8, 1, vmem_free(ids, y, 1), check_fmt(
	    "vmem_free(\"qids\", %p, 1): the address is free: a double free, "
	    "or it was never allocated", y));

	CHECK_NO_REPORT(vmem_free(ids, z, 3));
	live.n = 0;
	CHECK_NO_REPORT(vmem_destroy(ids));
}

/*
 * Random good and bad operations on an arena with quantum caches: every
 * bad free reports once and changes nothing, and no allocation overlaps a
 * range the test holds.
 */
static void
random_qcache_run(vmem_t *vmp, size_t quantum, size_t qcache_max,
    uint64_t seed)
{
	enum { STEPS = 6000, FREED = 64 };
	uintptr_t freed[FREED] = { 0 };
	size_t freed_size[FREED] = { 0 };
	unsigned nfreed = 0;
	const char *prefix = "vmem_free(\"rq\", ";
	live.n = 0;
	for (unsigned step = 0; step < STEPS; step++) {
		uint64_t r = check_random(&seed);
		size_t quanta = 1 + (size_t)(r >> 8) % (qcache_max / quantum + 2);
		size_t size = quanta * quantum;
		if (live.n == 0 || (r % 8 < 3 && live.n < 1000)) {
			void *p;
			CHECK_NO_REPORT(p = vmem_alloc(vmp, size, VM_NOSLEEP));
			for (size_t i = 0; i < live.n; i++)
				CHECK(U(p) + size <= live.start[i] ||
				    live.start[i] + live.size[i] <= U(p));
			live_add(p, size);
			continue;
		}
		size_t i = (size_t)(r >> 20) % live.n;
		uintptr_t addr = live.start[i];
		size_t held = live.size[i];
		size_t inuse = vmem_size(vmp, VMEM_ALLOC);
		switch (r % 8) {
		case 3:         /* wrong size */
			if (size == held)
				size += quantum;
			CHECK_REPORT(vmem_free(vmp, A(addr), size), prefix);
			break;
		case 4:         /* interior */
			if (held == quantum)
				continue;
			CHECK_REPORT(vmem_free(vmp, A(addr + quantum),
			    held - quantum), prefix);
			break;
		case 5:         /* a double free, unless handed out again */
			if (nfreed == 0 || live_holds(freed[(r >> 40) %
			    nfreed]))
				continue;
			CHECK_REPORT(vmem_free(vmp, A(freed[(r >> 40) % nfreed]),
			    freed_size[(r >> 40) % nfreed]), prefix);
			break;
		default:        /* a good free */
			CHECK_NO_REPORT(vmem_free(vmp, A(addr), held));
			live_remove(A(addr));
			freed[nfreed % FREED] = addr;
			freed_size[nfreed % FREED] = held;
			if (nfreed < FREED)
				nfreed++;
			continue;
		}
		CHECK_EQ(vmem_size(vmp, VMEM_ALLOC), inuse);
		if (step % 64 == 0)
			CHECK_NO_REPORT(CHECK_EQ(vmem_verify(vmp), 0));
	}
	CHECK_NO_REPORT(CHECK_EQ(vmem_verify(vmp), 0));
	while (live.n > 0) {
		live.n--;
		CHECK_NO_REPORT(vmem_free(vmp, A(live.start[live.n]),
		    live.size[live.n]));
	}
	CHECK_NO_REPORT(vmem_destroy(vmp));
}

static void
test_qcache_random_bad_frees(void)
{
	uint64_t seed = 0x9c0ffee;
	random_qcache_run(vmem_create("rq", A(0x100000), 0x400000, 8, NULL,
	    NULL, NULL, 64, VM_SLEEP), 8, 64, check_random(&seed));
	random_qcache_run(vmem_create("rq", A(1), 1 << 20, 1, NULL, NULL,
	    NULL, 16, VMC_IDENTIFIER), 1, 16, check_random(&seed));
}

/*
 * With the cache table full, an arena goes on without quantum caches and
 * says so once; a user's kmem_cache_create() still reports.
 */
static void
test_qcaches_when_table_full(void)
{
	static kmem_cache_t *fill[8192];
	size_t n = 0;
	for (;;) {
		CHECK(n < sizeof (fill) / sizeof (fill[0]));
		check_reports.count = 0;
		fill[n] = kmem_cache_create("filler", 64, 0, NULL, NULL, NULL,
		    NULL, NULL, 0);
		if (fill[n] == NULL)
			break;
		n++;
	}
	CHECK_EQ(check_reports.count, 1);
	CHECK(strstr(check_reports.last, "kmem_cache_create(\"filler\"): "
	    "already 4096 caches") != NULL);
	check_reports.count = 0;

	vmem_t *vmp;
	CHECK_WARNING_IS(vmp = vmem_create("full", A(0x100000), 0x10000, 8,
	    NULL, NULL, NULL, 64, VM_SLEEP), "vmem_create(\"full\"): no "
	    "quantum caches: cannot create cache full_8 (4096 caches alive at "
	    "most)");
	CHECK(vmp != NULL);
	/* No quantum cache: a cached size is the arena's own segment. */
	void *a;
	CHECK_NO_REPORT(a = vmem_alloc(vmp, 24, VM_SLEEP));
	CHECK_EQ(vmem_size(vmp, VMEM_ALLOC), 24);
	CHECK_NO_REPORT(vmem_free(vmp, a, 24));
	CHECK_REPORT_IS(vmem_free(vmp, a, 24), check_fmt("vmem_free(\"full\", "
	    "%p, 24): the address is free: a double free, or it was never "
	    "allocated", a));
	CHECK_EQ(vmem_verify(vmp), 0);
	CHECK_NO_REPORT(vmem_destroy(vmp));

	/* Room for a few, not all eight: none are kept, and the room is
	 * there again afterwards. */
	for (size_t i = 0; i < 3; i++)
		kmem_cache_destroy(fill[--n]);
	CHECK_WARNING_IS(vmp = vmem_create("nearly", A(0x100000), 0x10000, 8,
	    NULL, NULL, NULL, 64, VM_SLEEP), "vmem_create(\"nearly\"): no "
	    "quantum caches: cannot create cache nearly_32 (4096 caches alive "
	    "at most)");
	CHECK_NO_REPORT(a = vmem_alloc(vmp, 8, VM_SLEEP));
	CHECK_EQ(vmem_size(vmp, VMEM_ALLOC), 8);
	vmem_free(vmp, a, 8);
	vmem_destroy(vmp);
	for (size_t i = 0; i < 3; i++)
		CHECK_NO_REPORT(CHECK((fill[n++] = kmem_cache_create("refill",
		    64, 0, NULL, NULL, NULL, NULL, NULL, 0)) != NULL));

	while (n > 0)
		kmem_cache_destroy(fill[--n]);
	/* The table has room again: an arena gets its quantum caches. */
	CHECK_NO_REPORT(vmp = vmem_create("roomy", A(0x100000), 0x10000, 8,
	    NULL, NULL, NULL, 64, VM_SLEEP));
	CHECK_NO_REPORT(a = vmem_alloc(vmp, 24, VM_SLEEP));
	CHECK(vmem_size(vmp, VMEM_ALLOC) > 24);        /* a slab */
	vmem_free(vmp, a, 24);
	vmem_destroy(vmp);
}

static void
test_bad_adds(void)
{
	vmem_t *vmp = vmem_create("adds", A(0x1000), 0x1000, 0x10, NULL, NULL,
	    NULL, 0, VM_SLEEP);
	CHECK_REPORT_IS(CHECK(vmem_add(vmp, A(0x1800), 0x1000, VM_SLEEP) ==
	    NULL), "vmem_add(\"adds\", 0x1800, 4096): the range overlaps a "
	    "span of the arena");
	CHECK_REPORT_IS(vmem_add(vmp, A(0x800), 0x900, VM_SLEEP),
	    "vmem_add(\"adds\", 0x800, 2304): the range overlaps a span of "
	    "the arena");
	CHECK_REPORT_IS(vmem_add(vmp, NULL, 0x100, VM_SLEEP), "vmem_add("
	    "\"adds\", 0x0, 256): a span may not start at address 0 (NULL "
	    "means failure)");
	CHECK_REPORT_IS(vmem_add(vmp, A(0x4000), 0, VM_SLEEP), "vmem_add("
	    "\"adds\", 0x4000, 0): size is 0");
	CHECK_REPORT_IS(vmem_add(vmp, A(0x4008), 0x10, VM_SLEEP), "vmem_add("
	    "\"adds\", 0x4008, 16): address or size is not a multiple of the "
	    "quantum");
	CHECK_REPORT_IS(vmem_add(vmp, A(0x4000), 0x18, VM_SLEEP), "vmem_add("
	    "\"adds\", 0x4000, 24): address or size is not a multiple of the "
	    "quantum");
	CHECK_REPORT_IS(vmem_add(vmp, A(UINTPTR_MAX - 0xf), 0x20, VM_SLEEP),
	    check_fmt("vmem_add(\"adds\", %p, 32): the range wraps past the "
	    "end of the address space", A(UINTPTR_MAX - 0xf)));
	CHECK_REPORT_IS(vmem_add(vmp, A(0x4000), 0x10, VM_BESTFIT), "vmem_add("
	    "\"adds\", 0x4000, 16): vmflag may hold only VM_SLEEP, VM_NOSLEEP "
	    "and VM_PANIC");
	CHECK_EQ(vmem_size(vmp, VMEM_FREE), 0x1000);
	check_intact(vmp, 0);
	/* Adjacent, not overlapping: fine. */
	CHECK_NO_REPORT(CHECK(vmem_add(vmp, A(0x2000), 0x10, VM_SLEEP) ==
	    A(0x2000)));
	vmem_destroy(vmp);
}

/*
 * The report of a bad request to "requests" (quantum 0x100) by caller,
 * with its arguments as vmem_req_init() shows them.
 */
static const char *
request_report(const char *caller, size_t size, size_t align, size_t phase,
    size_t nocross, uintptr_t minaddr, uintptr_t maxaddr, int vmflag,
    const char *why)
{
	return (check_fmt("%s(\"requests\", size %zu, align %zu, phase %zu, "
	    "nocross %zu, minaddr 0x%jx, maxaddr 0x%jx, vmflag 0x%x): %s",
	    caller, size, align, phase, nocross, (uintmax_t)minaddr,
	    (uintmax_t)maxaddr, (unsigned)vmflag, why));
}

static void
test_bad_requests(void)
{
	vmem_t *vmp = vmem_create("requests", A(0x10000), 0x10000, 0x100, NULL,
	    NULL, NULL, 0, VM_SLEEP);
	void *keep = vmem_alloc(vmp, 0x100, VM_SLEEP);

	/* Align 0 is the quantum, and is shown as such. */
	CHECK_REPORT_IS(CHECK(vmem_alloc(vmp, 0, VM_SLEEP) == NULL),
	    request_report("vmem_alloc", 0, 0x100, 0, 0, 0, 0, 0,
	    "size is 0"));
	CHECK_REPORT_IS(vmem_xalloc(vmp, 0, 0, 0, 0, NULL, NULL, VM_SLEEP),
	    request_report("vmem_xalloc", 0, 0x100, 0, 0, 0, 0, 0,
	    "size is 0"));
	CHECK_REPORT_IS(vmem_xalloc(vmp, 0x100, 0x300, 0, 0, NULL, NULL,
	    VM_SLEEP), "vmem_xalloc(\"requests\", size 256, align 768, phase "
	    "0, nocross 0, minaddr 0x0, maxaddr 0x0, vmflag 0x0): align is not "
	    "a power of two");
	CHECK_REPORT_IS(vmem_xalloc(vmp, 0x100, 0x80, 0, 0, NULL, NULL,
	    VM_SLEEP), request_report("vmem_xalloc", 0x100, 0x80, 0, 0, 0, 0,
	    0, "align, phase or nocross is not a multiple of the quantum"));
	CHECK_REPORT_IS(vmem_xalloc(vmp, 0x100, 0x1000, 0x1000, 0, NULL, NULL,
	    VM_SLEEP), request_report("vmem_xalloc", 0x100, 0x1000, 0x1000, 0,
	    0, 0, 0, "phase is not smaller than align"));
	CHECK_REPORT_IS(vmem_xalloc(vmp, 0x100, 0x1000, 0x80, 0, NULL, NULL,
	    VM_SLEEP), request_report("vmem_xalloc", 0x100, 0x1000, 0x80, 0,
	    0, 0, 0, "align, phase or nocross is not a multiple of the "
	    "quantum"));
	CHECK_REPORT_IS(vmem_xalloc(vmp, 0x100, 0x100, 0, 0x4080, NULL, NULL,
	    VM_SLEEP), request_report("vmem_xalloc", 0x100, 0x100, 0, 0x4080,
	    0, 0, 0, "nocross is not a power of two"));
	CHECK_REPORT_IS(vmem_xalloc(vmp, 0x100, 0, 0, 0x80, NULL, NULL,
	    VM_SLEEP), request_report("vmem_xalloc", 0x100, 0x100, 0, 0x80,
	    0, 0, 0, "align, phase or nocross is not a multiple of the "
	    "quantum"));
	CHECK_REPORT_IS(vmem_xalloc(vmp, 0x800, 0, 0, 0x400, NULL, NULL,
	    VM_SLEEP), request_report("vmem_xalloc", 0x800, 0x100, 0, 0x400,
	    0, 0, 0, "the segment cannot fit between two nocross boundaries"));
	CHECK_REPORT_IS(vmem_xalloc(vmp, 0x300, 0x400, 0x200, 0x400, NULL,
	    NULL, VM_SLEEP), request_report("vmem_xalloc", 0x300, 0x400, 0x200,
	    0x400, 0, 0, 0, "the segment cannot fit between two nocross "
	    "boundaries"));
	CHECK_REPORT_IS(vmem_xalloc(vmp, 0x100, 0, 0, 0x3000, NULL, NULL,
	    VM_SLEEP), request_report("vmem_xalloc", 0x100, 0x100, 0, 0x3000,
	    0, 0, 0, "nocross is not a power of two"));
	CHECK_REPORT_IS(vmem_xalloc(vmp, 0x100, 0, 0, 0, A(0x12000), A(0x12000),
	    VM_SLEEP), request_report("vmem_xalloc", 0x100, 0x100, 0, 0,
	    0x12000, 0x12000, 0, "the range [minaddr, maxaddr) is empty"));
	CHECK_REPORT_IS(vmem_xalloc(vmp, 0x100, 0, 0, 0, A(0x13000), A(0x12000),
	    VM_SLEEP), request_report("vmem_xalloc", 0x100, 0x100, 0, 0,
	    0x13000, 0x12000, 0, "the range [minaddr, maxaddr) is empty"));
	CHECK_REPORT_IS(vmem_alloc(vmp, 0x100, VM_BESTFIT | VM_NEXTFIT),
	    request_report("vmem_alloc", 0x100, 0x100, 0, 0, 0, 0,
	    VM_BESTFIT | VM_NEXTFIT, "vmflag names more than one allocation "
	    "policy"));
	CHECK_REPORT_IS(vmem_alloc(vmp, 0x100, VM_INSTANTFIT | VM_FIRSTFIT),
	    request_report("vmem_alloc", 0x100, 0x100, 0, 0, 0, 0,
	    VM_INSTANTFIT | VM_FIRSTFIT, "vmflag names more than one "
	    "allocation policy"));
	CHECK_REPORT_IS(vmem_xalloc(vmp, 0x100, 0, 0, 0, NULL, NULL,
	    VM_FIRSTFIT | VM_NEXTFIT), request_report("vmem_xalloc", 0x100,
	    0x100, 0, 0, 0, 0, VM_FIRSTFIT | VM_NEXTFIT, "vmflag names more "
	    "than one allocation policy"));
	CHECK_REPORT_IS(vmem_alloc(vmp, 0x100, VMC_IDENTIFIER),
	    request_report("vmem_alloc", 0x100, 0x100, 0, 0, 0, 0,
	    VMC_IDENTIFIER, "vmflag has bits that are not allocation flags"));
	CHECK_REPORT_IS(vmem_alloc(vmp, 0x100000, VM_NOSLEEP | VM_PANIC),
	    "vmem_alloc(\"requests\", 1048576): cannot satisfy mandatory "
	    "allocation (VM_PANIC)");
	CHECK_REPORT_IS(vmem_xalloc(vmp, 0x100, 0, 0, 0, A(0x30000), NULL,
	    VM_NOSLEEP | VM_PANIC), "vmem_xalloc(\"requests\", 256): cannot "
	    "satisfy mandatory allocation (VM_PANIC)");
	check_intact(vmp, 0x100);

	/* Failures without VM_PANIC are silent: NULL and a counter. */
	CHECK_NO_REPORT(CHECK(vmem_alloc(vmp, 0x100000, VM_NOSLEEP) == NULL));
	/* A size so large it cannot be rounded to the quantum never fits. */
	CHECK_NO_REPORT(CHECK(vmem_alloc(vmp, SIZE_MAX, VM_SLEEP) == NULL));
	vmem_stats_t st;
	vmem_stats(vmp, &st);
	CHECK_EQ(st.fail, 4);
	vmem_free(vmp, keep, 0x100);
	vmem_destroy(vmp);
}

static void *
misaligned_import(vmem_t *src, size_t size, int vmflag)
{
	char *p = vmem_alloc(src, size + 0x1000, vmflag);
	return (p == NULL ? NULL : p + 8);
}

/* Quantum-aligned for a 1 KiB child, but not for its 4 KiB source. */
static void *
off_by_1k_import(vmem_t *src, size_t size, int vmflag)
{
	char *p = vmem_alloc(src, size + 0x1000, vmflag);
	return (p == NULL ? NULL : p + 0x400);
}

static int off_by_1k_releases;

static void
off_by_1k_release(vmem_t *src, void *addr, size_t size)
{
	off_by_1k_releases++;
	vmem_free(src, (char *)addr - 0x400, size + 0x1000);
}

static void
test_broken_import_is_given_back(void)
{
	vmem_t *src = vmem_create("src4k", A(0x100000), 0x100000, 0x1000, NULL,
	    NULL, NULL, 0, VM_SLEEP);
	vmem_t *child = vmem_create("child1k", NULL, 0, 0x400, off_by_1k_import,
	    off_by_1k_release, src, 0, VM_SLEEP);
	CHECK_REPORT_IS(CHECK(vmem_xalloc(child, 0x1000, 0x1000, 0, 0, NULL,
	    NULL, VM_NOSLEEP) == NULL), "vmem_xalloc(\"child1k\", 4096): the "
	    "import function returned [0x100400, +4096) for a request of 4096 "
	    "bytes aligned to 4096: not aligned to the source's quantum");
	CHECK_EQ(off_by_1k_releases, 1);
	check_intact(child, 0);
	CHECK_EQ(vmem_size(child, VMEM_ALLOC | VMEM_FREE), 0);
	CHECK_EQ(vmem_size(src, VMEM_ALLOC), 0);
	vmem_destroy(child);
	vmem_destroy(src);
}

static void
test_bad_creates(void)
{
	CHECK_REPORT_IS(CHECK(vmem_create(NULL, NULL, 0, 1, NULL, NULL, NULL, 0,
	    VM_SLEEP) == NULL), "vmem_create(\"(null)\", base 0x0, size 0, "
	    "quantum 1): name is NULL");
	CHECK_REPORT_IS(vmem_create("q0", NULL, 0, 0, NULL, NULL, NULL, 0,
	    VM_SLEEP), "vmem_create(\"q0\", base 0x0, size 0, quantum 0): "
	    "quantum is not a power of two");
	CHECK_REPORT_IS(vmem_create("q3", NULL, 0, 3, NULL, NULL, NULL, 0,
	    VM_SLEEP), "vmem_create(\"q3\", base 0x0, size 0, quantum 3): "
	    "quantum is not a power of two");
	CHECK_REPORT_IS(vmem_xcreate("xq3", NULL, 0, 3, NULL, NULL, NULL, 0,
	    VM_SLEEP), "vmem_xcreate(\"xq3\", base 0x0, size 0, quantum 3): "
	    "quantum is not a power of two");
	CHECK_REPORT_IS(vmem_create("base0", NULL, 100, 1, NULL, NULL, NULL, 0,
	    VM_SLEEP), "vmem_create(\"base0\", base 0x0, size 100, quantum "
	    "1): base is NULL but size is not 0 (spans may not start at "
	    "address 0)");
	CHECK_REPORT_IS(vmem_create("flags", NULL, 0, 1, NULL, NULL, NULL, 0,
	    VM_BESTFIT), "vmem_create(\"flags\", base 0x0, size 0, quantum "
	    "1): vmflag has bits that are not VM_SLEEP, VM_NOSLEEP, VM_PANIC "
	    "or VMC_* creation flags");
	/* The initial span is checked by the vmem_add() that adds it. */
	CHECK_REPORT_IS(CHECK(vmem_create("misaligned", A(0x1001), 0x1000,
	    0x1000, NULL, NULL, NULL, 0, VM_SLEEP) == NULL), "vmem_add("
	    "\"misaligned\", 0x1001, 4096): address or size is not a multiple "
	    "of the quantum");
	CHECK_REPORT_IS(CHECK(vmem_create("wrapping", A(UINTPTR_MAX - 0xf),
	    0x20, 0x10, NULL, NULL, NULL, 0, VM_SLEEP) == NULL), check_fmt(
	    "vmem_add(\"wrapping\", %p, 32): the range wraps past the end of "
	    "the address space", A(UINTPTR_MAX - 0xf)));
	CHECK_REPORT_IS(CHECK(vmem_create("empty", A(0x1000), 0, 0x10, NULL,
	    NULL, NULL, 0, VM_SLEEP) == NULL), "vmem_add(\"empty\", 0x1000, "
	    "0): size is 0");

	vmem_t *ids = vmem_create("idsource", A(1), 1000, 1, NULL, NULL, NULL,
	    0, VMC_IDENTIFIER);
	vmem_t *mem = vmem_create("memsource", A(0x1000), 0x1000, 1, NULL,
	    NULL, NULL, 0, VM_SLEEP);
	CHECK_REPORT_IS(vmem_create("nofunc", NULL, 0, 1, NULL, NULL, ids, 0,
	    VMC_IDENTIFIER), "vmem_create(\"nofunc\", base 0x0, size 0, "
	    "quantum 1): a source arena needs an import function");
	CHECK_REPORT_IS(vmem_create("memchild", NULL, 0, 1, vmem_alloc,
	    vmem_free, ids, 0, VM_SLEEP), "vmem_create(\"memchild\", base "
	    "0x0, size 0, quantum 1): an identifier arena and its source must "
	    "both be identifier arenas (VMC_IDENTIFIER)");
	CHECK_REPORT_IS(vmem_create("idchild", NULL, 0, 1, vmem_alloc,
	    vmem_free, mem, 0, VMC_IDENTIFIER), "vmem_create(\"idchild\", "
	    "base 0x0, size 0, quantum 1): an identifier arena and its source "
	    "must both be identifier arenas (VMC_IDENTIFIER)");
	CHECK_NO_REPORT(vmem_destroy(ids));

	/* An import function that breaks its contract is reported, and the
	 * request fails even under VM_SLEEP instead of retrying forever. */
	vmem_t *src = vmem_create("bigsource", A(0x100000), 0x100000, 0x1000,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *bad = vmem_create("badimport", NULL, 0, 0x10, misaligned_import,
	    NULL, src, 0, VM_SLEEP);
	CHECK_REPORT_IS(CHECK(vmem_alloc(bad, 0x100, VM_SLEEP) == NULL),
	    "vmem_alloc(\"badimport\", 256): the import function returned "
	    "[0x100008, +4096) for a request of 4096 bytes aligned to 4096: "
	    "short, misaligned or wrapping");
	CHECK_NO_REPORT(vmem_destroy(bad));
	/* Without a release function, the broken span stays the source's. */
	CHECK_REPORT_IS(vmem_destroy(src), "vmem_destroy(\"bigsource\"): 1 "
	    "allocation (8192 bytes) never freed; leaked");
	vmem_destroy(mem);
}

static void
test_destroy_reports(void)
{
	vmem_t *ids = vmem_create("leaky_ids", A(1), 100, 1, NULL, NULL, NULL,
	    0, VMC_IDENTIFIER);
	CHECK(vmem_alloc(ids, 3, VM_SLEEP) != NULL);
	CHECK(vmem_alloc(ids, 1, VM_SLEEP) != NULL);
	CHECK_REPORT_IS(vmem_destroy(ids), "vmem_destroy(\"leaky_ids\"): 2 "
	    "allocations (4 identifiers) never freed; leaked");

	vmem_t *parent = vmem_create("busy_parent", A(0x10000), 0x10000, 0x100,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *child = vmem_create("busy_child", NULL, 0, 0x100, vmem_alloc,
	    vmem_free, parent, 0, VM_SLEEP);
	void *a = vmem_alloc(child, 0x100, VM_SLEEP);
	CHECK_REPORT_IS(vmem_destroy(parent), "vmem_destroy(\"busy_parent\"): "
	    "arena \"busy_child\" still imports from it");
	/* Refused: both arenas still work. */
	check_intact(parent, 0x100);
	check_intact(child, 0x100);
	CHECK_REPORT_IS(vmem_destroy(child), "vmem_destroy(\"busy_child\"): 1 "
	    "allocation (256 bytes) never freed; leaked");
	/* The leaked span stays allocated in the parent: no reuse of memory
	 * that someone may still be using. */
	CHECK_EQ(vmem_size(parent, VMEM_ALLOC), 0x100);
	CHECK(vmem_contains(parent, a, 0x100));
	CHECK_REPORT_IS(vmem_destroy(parent), "vmem_destroy(\"busy_parent\"): "
	    "1 allocation (256 bytes) never freed; leaked");
}

static void
test_handler_set_returns_previous(void)
{
	void *prev_arg = NULL;
	kmem_report_handler_t *prev = kmem_report_handler_set(NULL, NULL,
	    &prev_arg);
	CHECK(prev == check_report_handler);
	CHECK(prev_arg == &check_reports);
	CHECK(kmem_report_handler_set(prev, prev_arg, NULL) == NULL);
}

/* Without a handler: the message goes to stderr and the process aborts. */
static void
double_free_without_handler(void)
{
	kmem_report_handler_set(NULL, NULL, NULL);
	vmem_t *vmp = vmem_create("doomed", A(0x1000), 0x1000, 1, NULL, NULL,
	    NULL, 0, VM_SLEEP);
	void *a = vmem_alloc(vmp, 8, VM_SLEEP);
	vmem_free(vmp, a, 8);
	vmem_free(vmp, a, 8);
}

static void
test_default_handler_aborts(void)
{
	check_child_aborts(double_free_without_handler, "libkmem: vmem_free("
	    "\"doomed\", 0x1000, 8): the address is free: a double free, or "
	    "it was never allocated\n");
}

/* ---- the quantum caches' mistakes in vmem's own terms ---- */

/*
 * vmem_xfree() of a segment vmem_alloc() took from a quantum cache, with
 * its size: the mirror of vmem_free() of a vmem_xalloc() segment, and
 * explained as such (it once said "wrong size: ... allocated with size 24"
 * to a caller who gave 24).
 */
static void
test_xfree_of_cached_segment(void)
{
	vmem_t *vmp = vmem_create("xq", A(0x100000), 0x100000, 8, NULL, NULL,
	    NULL, 64, VM_SLEEP);
	void *a = vmem_alloc(vmp, 24, VM_SLEEP);
	CHECK_REPORT_IS(vmem_xfree(vmp, a, 24), check_fmt("vmem_xfree(\"xq\", "
	    "%p, 24): the segment at this address was allocated by vmem_alloc "
	    "from the quantum caches: free it with vmem_free", a));
	CHECK_NO_REPORT(vmem_free(vmp, a, 24));
	CHECK_NO_REPORT(vmem_destroy(vmp));
}

/*
 * vmem_destroy() of an arena whose quantum caches hold allocations: one
 * report, of what the client allocated, as for any other size (there were
 * two: the cache's, naming a cache the client never made, then the
 * arena's, counting the cache's slab as one allocation of 256 bytes).
 */
static void
test_destroy_with_cached_leaks(void)
{
	vmem_t *vmp = vmem_create("lq", A(0x100000), 0x100000, 8, NULL, NULL,
	    NULL, 64, VM_SLEEP);
	CHECK(vmem_alloc(vmp, 24, VM_SLEEP) != NULL);
	CHECK(vmem_alloc(vmp, 24, VM_SLEEP) != NULL);
	CHECK_REPORT_IS(vmem_destroy(vmp), "vmem_destroy(\"lq\"): 2 "
	    "allocations (48 bytes) never freed; leaked");
}

int
main(int argc, char **argv)
{
	static const check_test_t tests[] = {
		CHECK_TEST(test_bad_frees),
		CHECK_TEST(test_qcache_bad_frees),
		CHECK_TEST(test_identifier_qcache_bad_frees),
		CHECK_TEST(test_qcache_random_bad_frees),
		CHECK_TEST(test_qcaches_when_table_full),
		CHECK_TEST(test_bad_adds),
		CHECK_TEST(test_bad_requests),
		CHECK_TEST(test_bad_creates),
		CHECK_TEST(test_broken_import_is_given_back),
		CHECK_TEST(test_destroy_reports),
		CHECK_TEST(test_handler_set_returns_previous),
		CHECK_TEST(test_xfree_of_cached_segment),
		CHECK_TEST(test_destroy_with_cached_leaks),
		CHECK_TEST(test_default_handler_aborts),
	};
	check_run_tests(tests, sizeof (tests) / sizeof (tests[0]), argc, argv);
	printf("vmem_errors_test: all passed\n");
	return (0);
}
