/*
 * vmem's API, one behaviour at a time: each policy's choice, every
 * vmem_xalloc constraint, import, release and retention, vmem_add, walk, size,
 * contains, statistics, the table, and hash growth.  The bad-input reports
 * have their own test (vmem_errors_test.c); the random model-based test
 * (vmem_model_test.c) checks the same rules over millions of operations.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <kmem/vmem.h>

#include "check.h"
#include "vmem/vmem_impl.h"      /* vmem_retain_set, vmem_release_idle */

#define A(x) ((void *)(uintptr_t)(x))
#define U(p) ((uintptr_t)(p))
#define KMEM_ADDR_BITS_TEST ((unsigned)(sizeof (uintptr_t) * 8))

/* An arena of quantum 1 whose free segments are spans of the given sizes. */
static vmem_t *
arena_of_spans(const char *name, const size_t *sizes, int n)
{
	vmem_t *vmp = vmem_create(name, NULL, 0, 1, NULL, NULL, NULL, 0,
	    VM_SLEEP);
	CHECK(vmp != NULL);
	for (int i = 0; i < n; i++)
		CHECK(vmem_add(vmp, A(1000 * (i + 1)), sizes[i], VM_SLEEP) ==
		    A(1000 * (i + 1)));
	return (vmp);
}

static void
test_identifier_arena(void)
{
	vmem_t *ids = vmem_create("ids", A(1), 100, 1, NULL, NULL, NULL, 0,
	    VMC_IDENTIFIER | VM_SLEEP);
	CHECK(ids != NULL);
	CHECK_EQ(vmem_size(ids, VMEM_ALLOC | VMEM_FREE), 100);
	CHECK_EQ(vmem_size(ids, VMEM_FREE), 100);
	void *a = vmem_alloc(ids, 1, VM_SLEEP);
	void *b = vmem_alloc(ids, 1, VM_SLEEP);
	CHECK(a != NULL && b != NULL && a != b);
	CHECK(U(a) >= 1 && U(a) <= 100 && U(b) >= 1 && U(b) <= 100);
	CHECK_EQ(vmem_size(ids, VMEM_ALLOC), 2);
	CHECK_EQ(vmem_size(ids, VMEM_FREE), 98);
	vmem_free(ids, a, 1);
	vmem_free(ids, b, 1);
	CHECK_EQ(vmem_size(ids, VMEM_ALLOC), 0);
	CHECK_EQ(vmem_verify(ids), 0);
	vmem_destroy(ids);
}

static void
test_instant_fit_takes_a_list_that_surely_fits(void)
{
	/* Free segments of 3 and 8: a request of 3 goes to the list of
	 * [8, 16), whose members all fit, not to the 3 in [2, 4). */
	const size_t sizes[] = { 3, 8 };
	vmem_t *vmp = arena_of_spans("instant", sizes, 2);
	CHECK_EQ(U(vmem_alloc(vmp, 3, VM_NOSLEEP)), 2000);
	/* A power of two is sure to fit its own list: 4 from the 5 left. */
	CHECK_EQ(U(vmem_alloc(vmp, 4, VM_NOSLEEP)), 2003);
	/* Only the list that might fit is left: instant fit searches it. */
	CHECK_EQ(U(vmem_alloc(vmp, 3, VM_NOSLEEP)), 1000);
	CHECK(vmem_alloc(vmp, 2, VM_NOSLEEP) == NULL);
	CHECK_EQ(vmem_verify(vmp), 0);
	vmem_free(vmp, A(2000), 3);
	vmem_free(vmp, A(2003), 4);
	vmem_free(vmp, A(1000), 3);
	vmem_destroy(vmp);
}

static void
test_first_and_best_fit(void)
{
	const size_t sizes[] = { 9, 5, 6, 3 };
	vmem_t *vmp = arena_of_spans("bestfirst", sizes, 4);

	/* First fit starts in the list that might fit ([4, 8) for 5) and
	 * takes the first member that does: 6 was added after 5, and lists
	 * are last in, first out. */
	CHECK_EQ(U(vmem_alloc(vmp, 5, VM_FIRSTFIT | VM_NOSLEEP)), 3000);
	/* Instant fit goes to [8, 16), whose members surely fit. */
	CHECK_EQ(U(vmem_alloc(vmp, 5, VM_NOSLEEP)), 1000);
	vmem_free(vmp, A(1000), 5);
	vmem_free(vmp, A(3000), 5);

	/* Best fit: the smallest segment that holds the request, even when
	 * a bigger one comes first in its list. */
	CHECK_EQ(U(vmem_alloc(vmp, 5, VM_BESTFIT | VM_NOSLEEP)), 2000);
	CHECK_EQ(U(vmem_alloc(vmp, 2, VM_BESTFIT | VM_NOSLEEP)), 4000);
	CHECK_EQ(vmem_verify(vmp), 0);
	vmem_free(vmp, A(2000), 5);
	vmem_free(vmp, A(4000), 2);
	vmem_destroy(vmp);
}

static void
test_next_fit_does_not_reuse_at_once(void)
{
	vmem_t *pids = vmem_create("pids", A(1), 10, 1, NULL, NULL, NULL, 0,
	    VMC_IDENTIFIER | VM_SLEEP);
	for (uintptr_t i = 1; i <= 5; i++)
		CHECK_EQ(U(vmem_alloc(pids, 1, VM_NEXTFIT | VM_SLEEP)), i);
	vmem_free(pids, A(3), 1);
	/* 3 is free, but the rotor is past it. */
	CHECK_EQ(U(vmem_alloc(pids, 1, VM_NEXTFIT | VM_SLEEP)), 6);
	for (uintptr_t i = 7; i <= 10; i++)
		CHECK_EQ(U(vmem_alloc(pids, 1, VM_NEXTFIT | VM_SLEEP)), i);
	/* Wrap around to the only free one. */
	CHECK_EQ(U(vmem_alloc(pids, 1, VM_NEXTFIT | VM_SLEEP)), 3);
	CHECK(vmem_alloc(pids, 1, VM_NEXTFIT | VM_NOSLEEP) == NULL);
	CHECK_EQ(vmem_verify(pids), 0);
	for (uintptr_t i = 1; i <= 10; i++)
		vmem_free(pids, A(i), 1);
	CHECK_EQ(vmem_size(pids, VMEM_ALLOC), 0);
	CHECK_EQ(vmem_verify(pids), 0);
	vmem_destroy(pids);
}

static void
test_next_fit_sees_past_the_rotor(void)
{
	/* The rotor sits between the two free halves [1, 3) and [3, 5):
	 * a request for 4 fits only once they coalesce. */
	vmem_t *vmp = vmem_create("rotor", A(1), 4, 1, NULL, NULL, NULL, 0,
	    VM_SLEEP);
	void *a = vmem_alloc(vmp, 2, VM_NEXTFIT | VM_SLEEP);
	void *b = vmem_alloc(vmp, 2, VM_NEXTFIT | VM_SLEEP);
	CHECK_EQ(U(a), 1);
	CHECK_EQ(U(b), 3);
	vmem_free(vmp, a, 2);
	CHECK_EQ(U(vmem_alloc(vmp, 2, VM_NEXTFIT | VM_SLEEP)), 1);
	vmem_free(vmp, a, 2);
	vmem_free(vmp, b, 2);
	CHECK_EQ(U(vmem_alloc(vmp, 4, VM_NEXTFIT | VM_NOSLEEP)), 1);
	vmem_free(vmp, A(1), 4);
	CHECK_EQ(vmem_verify(vmp), 0);
	vmem_destroy(vmp);
}

static void
test_xalloc_constraints(void)
{
	const uintptr_t base = 0x100000;
	vmem_t *vmp = vmem_create("x", A(base), 0x100000, 0x100, NULL, NULL,
	    NULL, 0, VM_SLEEP);

	/* align and phase */
	void *p = vmem_xalloc(vmp, 0x300, 0x10000, 0x200, 0, NULL, NULL,
	    VM_NOSLEEP);
	CHECK(p != NULL);
	CHECK_EQ(U(p) % 0x10000, 0x200);
	/* size rounds up to the quantum, and free takes either size */
	void *q = vmem_xalloc(vmp, 0x101, 0, 0, 0, NULL, NULL, VM_NOSLEEP);
	CHECK_EQ(vmem_size(vmp, VMEM_ALLOC), 0x300 + 0x200);
	vmem_xfree(vmp, q, 0x1ff);

	/* nocross: a 0x800 segment that may not cross a 0x1000 boundary,
	 * in a range starting 0x100 before one */
	void *r = vmem_xalloc(vmp, 0x800, 0, 0, 0x1000, A(base + 0x1f00),
	    NULL, VM_NOSLEEP);
	CHECK_EQ(U(r), base + 0x2000);
	/* nocross with a phase: the segment starts at the boundary + phase */
	void *s = vmem_xalloc(vmp, 0x400, 0x200, 0x100, 0x1000,
	    A(base + 0x5f00), NULL, VM_NOSLEEP);
	CHECK_EQ(U(s), base + 0x6100);

	/* [minaddr, maxaddr) with maxaddr exclusive */
	void *t = vmem_xalloc(vmp, 0x100, 0, 0, 0, A(base + 0x80000),
	    A(base + 0x80100), VM_NOSLEEP);
	CHECK_EQ(U(t), base + 0x80000);
	CHECK(vmem_xalloc(vmp, 0x100, 0, 0, 0, A(base + 0x90000),
	    A(base + 0x900ff), VM_NOSLEEP) == NULL);
	/* a range partly outside the arena */
	void *u = vmem_xalloc(vmp, 0x100, 0, 0, 0, A(base + 0xfff00),
	    A(base + 0x200000), VM_NOSLEEP);
	CHECK_EQ(U(u), base + 0xfff00);
	CHECK(vmem_xalloc(vmp, 0x100, 0, 0, 0, A(base + 0x100000),
	    A(base + 0x200000), VM_NOSLEEP) == NULL);

	/* every policy honours the constraints */
	int policies[] = { VM_BESTFIT, VM_FIRSTFIT, VM_NEXTFIT, VM_INSTANTFIT };
	for (int i = 0; i < 4; i++) {
		void *v = vmem_xalloc(vmp, 0x200, 0x1000, 0x300, 0x2000,
		    A(base + 0x40000), A(base + 0x50000),
		    policies[i] | VM_NOSLEEP);
		CHECK(v != NULL);
		CHECK_EQ(U(v) % 0x1000, 0x300);
		CHECK(U(v) >= base + 0x40000 && U(v) + 0x200 <= base + 0x50000);
		CHECK_EQ(U(v) / 0x2000, (U(v) + 0x1ff) / 0x2000);
		vmem_xfree(vmp, v, 0x200);
	}

	CHECK_EQ(vmem_verify(vmp), 0);
	vmem_xfree(vmp, p, 0x300);
	vmem_xfree(vmp, r, 0x800);
	vmem_xfree(vmp, s, 0x400);
	vmem_xfree(vmp, t, 0x100);
	vmem_xfree(vmp, u, 0x100);
	CHECK_EQ(vmem_size(vmp, VMEM_ALLOC), 0);
	vmem_destroy(vmp);
}

static void
test_top_of_address_space(void)
{
	const uintptr_t q = 0x1000;
	const uintptr_t end = UINTPTR_MAX - q + 1;      /* last aligned end */
	const uintptr_t lo = end - 16 * q;
	vmem_t *vmp = vmem_create("top", A(lo), 16 * q, q, NULL, NULL, NULL, 0,
	    VM_SLEEP);
	CHECK(vmp != NULL);
	CHECK(vmem_contains(vmp, A(end - q), q));

	/* The next address with this alignment lies past the top: no wrap. */
	CHECK(vmem_xalloc(vmp, q, (uintptr_t)1 << (KMEM_ADDR_BITS_TEST - 4), 0,
	    0, NULL, NULL, VM_NOSLEEP) == NULL);
	/* lo is 7 pages into an 8-page alignment; phase 4 is 5 pages on. */
	void *b = vmem_xalloc(vmp, 4 * q, 8 * q, 4 * q, 0, NULL, NULL,
	    VM_NOSLEEP);
	CHECK_EQ(U(b), lo + 5 * q);
	void *c = vmem_xalloc(vmp, 2 * q, 0, 0, 16 * q, NULL, NULL, VM_NOSLEEP);
	CHECK(c != NULL);
	CHECK_EQ(U(c) / (16 * q), (U(c) + 2 * q - 1) / (16 * q));
	void *d = vmem_xalloc(vmp, q, 0, 0, 0, A(end - q), NULL, VM_NOSLEEP);
	CHECK_EQ(U(d), end - q);
	vmem_xfree(vmp, b, 4 * q);
	vmem_xfree(vmp, c, 2 * q);
	vmem_xfree(vmp, d, q);
	CHECK_EQ(vmem_verify(vmp), 0);
	CHECK_EQ(vmem_size(vmp, VMEM_FREE), 16 * q);
	vmem_destroy(vmp);
}

/* ---- import and release ---- */

typedef struct source_log {
	int imports;
	int releases;
	size_t imported;
	size_t last_import;
} source_log_t;

static source_log_t slog;

static void *
logged_import(vmem_t *src, size_t size, int vmflag)
{
	void *p = vmem_alloc(src, size, vmflag);
	if (p != NULL) {
		slog.imports++;
		slog.imported += size;
		slog.last_import = size;
	}
	return (p);
}

static void
logged_release(vmem_t *src, void *addr, size_t size)
{
	slog.releases++;
	slog.imported -= size;
	vmem_free(src, addr, size);
}

static void *
growing_ximport(vmem_t *src, size_t *sizep, size_t align, int vmflag)
{
	(void) align;
	*sizep += 3 * 0x1000;   /* give more than asked */
	return (logged_import(src, *sizep, vmflag));
}

static void
test_import_and_release(void)
{
	slog = (source_log_t){ 0 };
	vmem_t *parent = vmem_create("parent", A(0x10000000), 0x1000000, 0x1000,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *child = vmem_create("child", NULL, 0, 0x1000, logged_import,
	    logged_release, parent, 0, VM_SLEEP);
	CHECK(child != NULL);
	CHECK_EQ(vmem_size(child, VMEM_ALLOC | VMEM_FREE), 0);

	void *a = vmem_alloc(child, 0x3000, VM_SLEEP);
	CHECK(a != NULL);
	CHECK_EQ(slog.imports, 1);
	CHECK_EQ(vmem_size(parent, VMEM_ALLOC), slog.imported);
	CHECK(vmem_contains(parent, a, 0x3000));

	/* An aligned request imports enough to reach the alignment. */
	void *b = vmem_xalloc(child, 0x2000, 0x100000, 0x1000, 0, NULL, NULL,
	    VM_SLEEP);
	CHECK(b != NULL);
	CHECK_EQ(U(b) % 0x100000, 0x1000);
	CHECK_EQ(slog.imports, 2);

	vmem_stats_t st;
	vmem_stats(child, &st);
	CHECK_EQ(st.import, 2);
	CHECK_EQ(st.mem_import, slog.imported);
	CHECK_EQ(st.spans, 2);
	CHECK(strcmp(st.source, "parent") == 0);
	CHECK_EQ(st.depth, 1);

	/* Wholly free imported spans go back at once. */
	vmem_free(child, a, 0x3000);
	CHECK_EQ(slog.releases, 1);
	vmem_xfree(child, b, 0x2000);
	CHECK_EQ(slog.releases, 2);
	CHECK_EQ(slog.imported, 0);
	CHECK_EQ(vmem_size(parent, VMEM_ALLOC), 0);
	CHECK_EQ(vmem_size(child, VMEM_ALLOC | VMEM_FREE), 0);

	/* A span added by hand stays even when free. */
	CHECK(vmem_add(child, A(0x40000000), 0x4000, VM_SLEEP) != NULL);
	void *c = vmem_alloc(child, 0x1000, VM_SLEEP);
	CHECK_EQ(U(c), 0x40000000);
	CHECK_EQ(slog.imports, 2);
	vmem_free(child, c, 0x1000);
	CHECK_EQ(vmem_size(child, VMEM_ALLOC | VMEM_FREE), 0x4000);

	/* Constrained requests never import. */
	CHECK(vmem_xalloc(child, 0x8000, 0, 0, 0, A(0x10000000), NULL,
	    VM_NOSLEEP) == NULL);
	CHECK_EQ(slog.imports, 2);

	/* A source that is exhausted makes NOSLEEP requests fail. */
	CHECK(vmem_alloc(child, 0x2000000, VM_NOSLEEP) == NULL);
	vmem_stats(child, &st);
	CHECK_EQ(st.fail, 2);

	CHECK_EQ(vmem_verify(child), 0);
	CHECK_EQ(vmem_verify(parent), 0);
	vmem_destroy(child);
	vmem_destroy(parent);
}

/* The purge function of the retaining arenas below: it logs. */
static struct {
	int calls;
	size_t bytes;
} plog;

static void
logged_purge(void *addr, size_t size)
{
	(void) addr;
	plog.calls++;
	plog.bytes += size;
}

static size_t
dirty_of(vmem_t *vmp)
{
	vmem_stats_t st;
	vmem_stats(vmp, &st);
	return (st.mem_dirty);
}

/*
 * Retention (vmem_retain_set, internal): what is freed stays dirty for
 * reuse, within a bound that follows the recent peak; a new peak purges
 * the smallest dirty segments; each decay pass lowers the allowance until,
 * idle, everything goes back; vmem_release_idle() and vmem_destroy() give
 * it all back at once.  Driven by calls, never by time.
 */
static void
test_retention(void)
{
	slog = (source_log_t){ 0 };
	plog.calls = 0;
	plog.bytes = 0;
	vmem_t *parent = vmem_create("rparent", A(0x10000000), 0x1000000,
	    0x1000, NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *child = vmem_create("rchild", NULL, 0, 0x1000, logged_import,
	    logged_release, parent, 0, VM_SLEEP);
	/* Floor 0x1000; spans of at least 0x40000, shared by the buffers. */
	vmem_retain_set(child, 0x1000, 0x40000, logged_purge);

	void *b[8];
	for (int i = 0; i < 8; i++)
		b[i] = vmem_alloc(child, 0x4000, VM_SLEEP);
	CHECK_EQ(slog.imports, 1);
	CHECK_EQ(slog.last_import, 0x40000);
	CHECK_EQ(dirty_of(child), 0);           /* an import is clean */

	/* A freed buffer stays, dirty, and is what the next request gets,
	 * though the clean rest of the span would fit too. */
	vmem_free(child, b[3], 0x4000);
	CHECK_EQ(dirty_of(child), 0x4000);
	void *again = vmem_alloc(child, 0x4000, VM_SLEEP);
	CHECK(again == b[3]);
	b[3] = again;
	CHECK_EQ(slog.imports, 1);
	CHECK_EQ(slog.releases, 0);
	CHECK_EQ(plog.calls, 0);
	CHECK_EQ(dirty_of(child), 0);
	CHECK_EQ(vmem_verify(child), 0);

	/* Within the bound (peak - inuse + a quarter of the peak), what is
	 * freed stays; b[0..2] coalesce, b[4] stays apart. */
	vmem_free(child, b[0], 0x4000);
	vmem_free(child, b[1], 0x4000);
	vmem_free(child, b[2], 0x4000);
	vmem_free(child, b[4], 0x4000);
	CHECK_EQ(dirty_of(child), 0x10000);
	CHECK_EQ(plog.calls, 0);
	CHECK_EQ(vmem_verify(child), 0);

	/* A new peak (0x30000, from the clean rest of the span) leaves the
	 * slack, 0xc000: the smallest dirty segment, b[4]'s, is purged, and
	 * that is enough. */
	void *big = vmem_alloc(child, 0x20000, VM_SLEEP);
	vmem_stats_t st;
	vmem_stats(child, &st);
	CHECK_EQ(slog.imports, 1);
	CHECK_EQ(st.mem_inuse, 0x30000);
	CHECK_EQ(plog.calls, 1);
	CHECK_EQ(plog.bytes, 0x4000);
	CHECK_EQ(st.purged, 0x4000);
	CHECK_EQ(dirty_of(child), 0xc000);
	CHECK_EQ(vmem_verify(child), 0);

	/* Everything freed: the bound (peak - inuse + slack) keeps it all. */
	vmem_free(child, big, 0x20000);
	vmem_free(child, b[3], 0x4000);
	for (int i = 5; i < 8; i++)
		vmem_free(child, b[i], 0x4000);
	CHECK_EQ(vmem_size(child, VMEM_ALLOC), 0);
	CHECK_EQ(dirty_of(child), 0x3c000);
	CHECK_EQ(slog.releases, 0);
	CHECK_EQ(vmem_verify(child), 0);

	/* Decay, idle: after pass p (from 0), at most (D - p) / D of the last
	 * peak stays (D = VMEM_DECAY_PASSES), smallest first; after D + 1
	 * passes nothing is kept and the span has gone back. */
	size_t before = dirty_of(child);
	for (int pass = 0; pass <= VMEM_DECAY_PASSES; pass++) {
		(void) vmem_decay(child);
		size_t now = dirty_of(child);
		CHECK(now <= before);
		CHECK(now <= (size_t)0x30000 / VMEM_DECAY_PASSES *
		    (size_t)(VMEM_DECAY_PASSES - pass));
		before = now;
		CHECK_EQ(vmem_verify(child), 0);
	}
	CHECK_EQ(dirty_of(child), 0);
	CHECK_EQ(slog.imported, 0);
	CHECK_EQ(slog.releases, 1);
	CHECK_EQ(vmem_decay(child), 0);

	/* vmem_release_idle() gives back at once; vmem_destroy() too. */
	void *a = vmem_alloc(child, 0x4000, VM_SLEEP);
	void *c = vmem_alloc(child, 0x4000, VM_SLEEP);
	vmem_free(child, a, 0x4000);
	CHECK_EQ(dirty_of(child), 0x4000);
	CHECK_EQ(vmem_release_idle(child), 0x4000);     /* purged in place */
	CHECK_EQ(dirty_of(child), 0);
	vmem_free(child, c, 0x4000);
	CHECK_EQ(slog.imported, 0x40000);
	CHECK_EQ(vmem_release_idle(child), 0x40000);    /* the span goes */
	CHECK_EQ(slog.imported, 0);
	CHECK_EQ(vmem_release_idle(child), 0);
	a = vmem_alloc(child, 0x4000, VM_SLEEP);
	vmem_free(child, a, 0x4000);
	CHECK_EQ(slog.imported, 0x40000);
	CHECK_EQ(vmem_verify(child), 0);
	vmem_destroy(child);
	CHECK_EQ(slog.imported, 0);
	CHECK_EQ(vmem_size(parent, VMEM_ALLOC), 0);
	vmem_destroy(parent);
}

/*
 * Dirty first: a freed range is handed out before a clean one, even when
 * the clean one is the better fit (its pages would fault).
 */
static void
test_retention_dirty_first(void)
{
	slog = (source_log_t){ 0 };
	vmem_t *parent = vmem_create("dparent", A(0x10000000), 0x1000000,
	    0x1000, NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *child = vmem_create("dchild", NULL, 0, 0x1000, logged_import,
	    logged_release, parent, 0, VM_SLEEP);
	vmem_retain_set(child, 0x100000, 0x40000, logged_purge);
	void *x = vmem_alloc(child, 0x8000, VM_SLEEP);
	void *y = vmem_alloc(child, 0x34000, VM_SLEEP);    /* 0x4000 left */
	vmem_free(child, x, 0x8000);
	void *z = vmem_alloc(child, 0x4000, VM_SLEEP);
	CHECK(z == x);
	void *w = vmem_alloc(child, 0x4000, VM_SLEEP);
	CHECK(w == (char *)x + 0x4000);
	CHECK_EQ(vmem_verify(child), 0);
	vmem_free(child, z, 0x4000);
	vmem_free(child, w, 0x4000);
	vmem_free(child, y, 0x34000);
	vmem_destroy(child);
	vmem_destroy(parent);
}

/*
 * A retaining arena's big minimum import falls back to what the request
 * needs when the source cannot give the minimum, and gives such a span
 * back once it is free.
 */
static void
test_retention_import_fallback(void)
{
	slog = (source_log_t){ 0 };
	vmem_t *parent = vmem_create("fparent", A(0x10000000), 0x20000,
	    0x1000, NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *child = vmem_create("fchild", NULL, 0, 0x1000, logged_import,
	    logged_release, parent, 0, VM_SLEEP);
	vmem_retain_set(child, 0, 0x100000, logged_purge);
	void *a = vmem_alloc(child, 0x8000, VM_NOSLEEP);
	CHECK(a != NULL);
	CHECK_EQ(slog.last_import, 0x8000);
	/* Such a span goes back as soon as it is free: the source is short. */
	vmem_free(child, a, 0x8000);
	CHECK_EQ(slog.releases, 1);
	CHECK_EQ(slog.imported, 0);
	vmem_destroy(child);
	vmem_destroy(parent);
}

static void
test_ximport_may_grow(void)
{
	slog = (source_log_t){ 0 };
	vmem_t *parent = vmem_create("xparent", A(0x10000000), 0x100000, 0x1000,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *child = vmem_xcreate("xchild", NULL, 0, 0x1000, growing_ximport,
	    logged_release, parent, 0, VM_SLEEP);
	void *a = vmem_alloc(child, 0x1000, VM_SLEEP);
	CHECK(a != NULL);
	CHECK_EQ(slog.last_import, 0x4000);
	CHECK_EQ(vmem_size(child, VMEM_ALLOC | VMEM_FREE), 0x4000);
	void *b = vmem_alloc(child, 0x3000, VM_NOSLEEP);
	CHECK(b != NULL);
	CHECK_EQ(slog.imports, 1);
	vmem_free(child, a, 0x1000);
	vmem_free(child, b, 0x3000);
	CHECK_EQ(slog.releases, 1);
	vmem_destroy(child);
	vmem_destroy(parent);
}

static void
test_no_qcache_imports_slabs(void)
{
	slog = (source_log_t){ 0 };
	vmem_t *parent = vmem_create("slabparent", A(0x10000000), 0x1000000,
	    0x1000, NULL, NULL, NULL, 0, VM_SLEEP);
	/* qcache_max of 4 pages: imports are at least the slab the quantum
	 * caches would have used, the power of two above 3 * 4 pages. */
	vmem_t *child = vmem_create("slabchild", NULL, 0, 0x1000, logged_import,
	    logged_release, parent, 4 * 0x1000, VMC_NO_QCACHE | VM_SLEEP);
	vmem_stats_t st;
	vmem_stats(child, &st);
	CHECK_EQ(st.qcache_max, 0);
	void *a = vmem_alloc(child, 0x1000, VM_SLEEP);
	CHECK_EQ(slog.last_import, 0x10000);
	void *b = vmem_alloc(child, 0x1000, VM_SLEEP);
	CHECK_EQ(slog.imports, 1);
	vmem_free(child, a, 0x1000);
	vmem_free(child, b, 0x1000);
	vmem_destroy(child);

	/* Without VMC_NO_QCACHE the limit is kept (the caches come with
	 * kmem), rounded down to quanta and capped at 16 of them. */
	child = vmem_create("qchild", NULL, 0, 0x1000, logged_import,
	    logged_release, parent, 40 * 0x1000 + 5, VM_SLEEP);
	vmem_stats(child, &st);
	CHECK_EQ(st.qcache_max, 16 * 0x1000);
	vmem_destroy(child);
	vmem_destroy(parent);
}

static void
test_spans_and_contains(void)
{
	vmem_t *vmp = vmem_create("spans", A(0x1000), 0x1000, 0x10, NULL, NULL,
	    NULL, 0, VM_SLEEP);
	/* Adjacent spans stay separate: no segment crosses them. */
	CHECK(vmem_add(vmp, A(0x2000), 0x1000, VM_SLEEP) == A(0x2000));
	CHECK(vmem_contains(vmp, A(0x1000), 0x1000));
	CHECK(vmem_contains(vmp, A(0x2ff0), 0x10));
	CHECK(!vmem_contains(vmp, A(0x1ff0), 0x20));
	CHECK(!vmem_contains(vmp, A(0x3000), 1));
	CHECK(!vmem_contains(vmp, A(0xff0), 0x10));
	CHECK(vmem_alloc(vmp, 0x1800, VM_NOSLEEP) == NULL);
	void *a = vmem_alloc(vmp, 0x1000, VM_NOSLEEP);
	void *b = vmem_alloc(vmp, 0x1000, VM_NOSLEEP);
	CHECK(a != NULL && b != NULL);
	CHECK_EQ(vmem_size(vmp, VMEM_FREE), 0);
	vmem_free(vmp, a, 0x1000);
	vmem_free(vmp, b, 0x1000);
	vmem_destroy(vmp);
}

/* ---- walking ---- */

typedef struct walk_log {
	int n;
	uintptr_t start[16];
	size_t size[16];
	vmem_t *vmp;            /* for the reentrant walk */
} walk_log_t;

static void
log_segment(void *arg, void *start, size_t size)
{
	walk_log_t *w = arg;
	CHECK(w->n < 16);
	w->start[w->n] = U(start);
	w->size[w->n] = size;
	w->n++;
}

static void
free_while_walking(void *arg, void *start, size_t size)
{
	walk_log_t *w = arg;
	log_segment(arg, start, size);
	vmem_free(w->vmp, start, size);
}

static void
test_walk(void)
{
	vmem_t *vmp = vmem_create("walk", A(0x100), 0x100, 0x10, NULL, NULL,
	    NULL, 0, VM_SLEEP);
	void *a = vmem_xalloc(vmp, 0x20, 0, 0, 0, A(0x120), NULL, VM_NOSLEEP);
	void *b = vmem_xalloc(vmp, 0x10, 0, 0, 0, A(0x180), NULL, VM_NOSLEEP);
	CHECK_EQ(U(a), 0x120);
	CHECK_EQ(U(b), 0x180);

	walk_log_t w = { 0 };
	vmem_walk(vmp, VMEM_ALLOC, log_segment, &w);
	CHECK_EQ(w.n, 2);
	CHECK_EQ(w.start[0], 0x120);
	CHECK_EQ(w.size[0], 0x20);
	CHECK_EQ(w.start[1], 0x180);
	CHECK_EQ(w.size[1], 0x10);

	w = (walk_log_t){ 0 };
	vmem_walk(vmp, VMEM_FREE, log_segment, &w);
	CHECK_EQ(w.n, 3);
	CHECK_EQ(w.start[0], 0x100);
	CHECK_EQ(w.size[0], 0x20);
	CHECK_EQ(w.start[1], 0x140);
	CHECK_EQ(w.size[1], 0x40);
	CHECK_EQ(w.start[2], 0x190);
	CHECK_EQ(w.size[2], 0x70);

	w = (walk_log_t){ 0 };
	vmem_walk(vmp, VMEM_SPAN, log_segment, &w);
	CHECK_EQ(w.n, 1);
	CHECK_EQ(w.start[0], 0x100);
	CHECK_EQ(w.size[0], 0x100);

	/* A reentrant walk may call into the arena. */
	w = (walk_log_t){ .vmp = vmp };
	vmem_walk(vmp, VMEM_ALLOC | VMEM_REENTRANT, free_while_walking, &w);
	CHECK_EQ(w.n, 2);
	CHECK_EQ(vmem_size(vmp, VMEM_ALLOC), 0);
	CHECK_EQ(vmem_verify(vmp), 0);
	w = (walk_log_t){ 0 };
	vmem_walk(vmp, VMEM_FREE, log_segment, &w);
	CHECK_EQ(w.n, 1);
	vmem_destroy(vmp);
}

/* ---- statistics, table, hash ---- */

typedef struct text {
	char buf[8192];
	size_t len;
} text_t;

static void
collect_line(void *arg, const char *line)
{
	text_t *t = arg;
	t->len += (size_t)snprintf(t->buf + t->len, sizeof (t->buf) - t->len,
	    "%s\n", line);
	CHECK(t->len < sizeof (t->buf));
}

static void
test_stats_and_table(void)
{
	vmem_t *root = vmem_create("table_root", A(0x10000), 0x10000, 0x100,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *kid = vmem_create("table_kid", NULL, 0, 0x100, vmem_alloc,
	    vmem_free, root, 0, VM_SLEEP);
	void *a = vmem_alloc(kid, 0x300, VM_SLEEP);
	CHECK(vmem_alloc(root, 0x20000, VM_NOSLEEP) == NULL);

	vmem_stats_t st;
	vmem_stats(root, &st);
	CHECK(strcmp(st.name, "table_root") == 0);
	CHECK_EQ(st.source[0], '\0');
	CHECK_EQ(st.quantum, 0x100);
	CHECK_EQ(st.mem_total, 0x10000);
	CHECK_EQ(st.mem_inuse, 0x300);
	CHECK_EQ(st.alloc, 1);
	CHECK_EQ(st.fail, 1);
	CHECK_EQ(st.segs_alloc, 1);
	CHECK_EQ(st.segs_free, 1);
	CHECK_EQ(st.spans, 1);
	CHECK_EQ(st.hash_buckets, 16);

	text_t t = { .len = 0 };
	vmem_table(NULL, collect_line, &t);
	CHECK(strstr(t.buf, "NAME") == t.buf);
	CHECK(strstr(t.buf, "\ntable_root ") != NULL);
	CHECK(strstr(t.buf, "\n  table_kid ") != NULL);
	CHECK(strstr(t.buf, "table_root") < strstr(t.buf, "table_kid"));

	t = (text_t){ .len = 0 };
	vmem_table(kid, collect_line, &t);
	CHECK(strstr(t.buf, "table_kid") != NULL);
	CHECK(strstr(t.buf, "table_root") == NULL);

	vmem_free(kid, a, 0x300);
	vmem_destroy(kid);
	vmem_destroy(root);
}

static void
test_hash_grows_and_shrinks(void)
{
	enum { N = 20000 };
	static void *ids[N];
	vmem_t *vmp = vmem_create("hashgrow", A(1), 10 * N, 1, NULL, NULL,
	    NULL, 0, VMC_IDENTIFIER | VM_SLEEP);
	for (int i = 0; i < N; i++)
		CHECK((ids[i] = vmem_alloc(vmp, 1, VM_NOSLEEP)) != NULL);
	vmem_stats_t st;
	vmem_stats(vmp, &st);
	CHECK(st.hash_buckets >= N / 2);
	CHECK(st.hash_longest_chain <= 12);
	CHECK(st.hash_rescale >= 1);
	CHECK_EQ(vmem_verify(vmp), 0);
	for (int i = 0; i < N; i++)
		vmem_free(vmp, ids[i], 1);
	vmem_stats(vmp, &st);
	CHECK_EQ(st.hash_buckets, 16);
	CHECK_EQ(st.hash_lookup, N);
	CHECK(st.hash_depth >= N && st.hash_depth <= 3 * N);
	CHECK_EQ(vmem_verify(vmp), 0);
	vmem_destroy(vmp);
}

static void
test_name_is_truncated(void)
{
	vmem_t *vmp = vmem_create("a name much longer than the thirty-one "
	    "characters kept", NULL, 0, 1, NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_stats_t st;
	vmem_stats(vmp, &st);
	CHECK_EQ(strlen(st.name), VMEM_NAMELEN - 1);
	CHECK(strncmp(st.name, "a name much longer", 18) == 0);
	vmem_destroy(vmp);
}

int
main(void)
{
	test_identifier_arena();
	test_instant_fit_takes_a_list_that_surely_fits();
	test_first_and_best_fit();
	test_next_fit_does_not_reuse_at_once();
	test_next_fit_sees_past_the_rotor();
	test_xalloc_constraints();
	test_top_of_address_space();
	test_import_and_release();
	test_ximport_may_grow();
	test_retention();
	test_retention_dirty_first();
	test_retention_import_fallback();
	test_no_qcache_imports_slabs();
	test_spans_and_contains();
	test_walk();
	test_stats_and_table();
	test_hash_grows_and_shrinks();
	test_name_is_truncated();
	printf("vmem_api_test: all passed\n");
	return (0);
}
