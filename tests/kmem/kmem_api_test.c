/*
 * kmem's API, one behaviour at a time: buffers and alignment, the slab
 * layouts and Bonwick's waste rule, coloring, constructed-object caching
 * (constructor and destructor counts), a failing constructor, reaping that
 * returns memory to the arena, kmem_alloc's classes, vmem quantum caches,
 * statistics and the ::kmastat table, the working-set update.
 * Bad input has its own test (kmem_errors_test.c); threads, fork and the
 * random model-based test theirs.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kmem/kmem.h>

#include "check.h"
#include "kmem/kmem_impl.h"          /* the class tables, against their rule */
#include "kmem_objects.h"

#define U(p) ((uintptr_t)(p))

/* ---- constructors that count ---- */

typedef struct counts {
	int constructed;
	int destructed;
	int reclaimed;
	bool fail;              /* the constructor fails */
} counts_t;

static int
count_construct(void *buf, void *private, int kmflag)
{
	counts_t *c = private;
	(void) kmflag;
	if (c->fail)
		return (-1);
	memset(buf, 0xc5, 16);
	c->constructed++;
	return (0);
}

static void
count_destruct(void *buf, void *private)
{
	counts_t *c = private;
	CHECK(((unsigned char *)buf)[0] == 0xc5);
	c->destructed++;
}

static void
count_reclaim(void *private)
{
	((counts_t *)private)->reclaimed++;
}

/* ---- buffers ---- */

static void
test_buffers_are_distinct_and_aligned(void)
{
	static const size_t sizes[] = { 1, 7, 8, 24, 100, 257, 1000, 4096,
	    5000, 70000 };
	static const size_t aligns[] = { 0, 8, 64, 512, 4096 };
	enum { N = 300 };
	static unsigned char *bufs[N];
	for (size_t s = 0; s < sizeof (sizes) / sizeof (sizes[0]); s++) {
		for (size_t a = 0; a < sizeof (aligns) / sizeof (aligns[0]);
		    a++) {
			size_t size = sizes[s], align = aligns[a];
			kmem_cache_t *cp = kmem_cache_create("distinct", size,
			    align, NULL, NULL, NULL, NULL, NULL, 0);
			CHECK(cp != NULL);
			for (int i = 0; i < N; i++) {
				bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
				CHECK(bufs[i] != NULL);
				CHECK_EQ(U(bufs[i]) % (align ? align : 8), 0);
				memset(bufs[i], i & 0xff, size);
			}
			for (int i = 0; i < N; i++) {
				CHECK(bufs[i][0] == (i & 0xff));
				CHECK(bufs[i][size - 1] == (i & 0xff));
			}
			for (int i = 0; i < N; i++)
				kmem_cache_free(cp, bufs[i]);
			kmem_cache_destroy(cp);
		}
	}
}

static void
test_layouts_follow_the_waste_rule(void)
{
	for (size_t size = 8; size <= 200000; size = size * 5 / 4 + 8) {
		kmem_cache_t *cp = kmem_cache_create("layout", size, 0, NULL,
		    NULL, NULL, NULL, NULL, 0);
		kmem_cache_stats_t st = stats_of(cp);
		CHECK(st.chunk_size >= size && st.chunk_size % 8 == 0);
		CHECK(st.buf_per_slab >= 1);
		size_t used = st.buf_per_slab * st.chunk_size;
		CHECK(used <= st.slab_size);
		/* At most 1/8 wasted, or at most 8 buffers per slab when even
		 * that cannot help (up to 8 buffers' worth is tried). */
		CHECK((st.slab_size - used) * 8 <= st.slab_size ||
		    st.buf_per_slab <= 8);
		/* Small buffers: one page, bookkeeping inside; large: a hash. */
		if (st.chunk_size < 512)
			CHECK(st.slab_size == 4096 && st.hash_buckets == 0);
		else
			CHECK(st.hash_buckets > 0);
		kmem_cache_destroy(cp);
	}
}

static void
test_slabs_are_colored(void)
{
	/* 600-byte buffers: 6 to a page, 440 bytes of slack. */
	kmem_cache_t *cp = kmem_cache_create("colored", 600, 0, NULL, NULL,
	    NULL, NULL, NULL, KMC_NOMAGAZINE);
	kmem_cache_stats_t st = stats_of(cp);
	CHECK_EQ(st.buf_per_slab, 6);
	enum { SLABS = 4 };
	void *bufs[6 * SLABS];
	for (int i = 0; i < 6 * SLABS; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	/* Fresh slabs fill from their first buffer, in order. */
	for (int s = 0; s < SLABS; s++)
		CHECK_EQ(U(bufs[6 * s]) % 4096, 64 * (size_t)s);
	for (int i = 0; i < 6 * SLABS; i++)
		kmem_cache_free(cp, bufs[i]);
	kmem_cache_destroy(cp);
}

/* ---- object caching ---- */

/* Allocate n objects of a count_construct cache, each constructed, then
 * free them all. */
static void
use_objects(kmem_cache_t *cp, void **bufs, int n)
{
	for (int i = 0; i < n; i++) {
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
		CHECK(((unsigned char *)bufs[i])[0] == 0xc5);
	}
	for (int i = 0; i < n; i++)
		kmem_cache_free(cp, bufs[i]);
}

static void
test_constructed_objects_are_cached(void)
{
	counts_t c = { 0 };
	kmem_cache_t *cp = kmem_cache_create("constructed", 48, 0,
	    count_construct, count_destruct, count_reclaim, &c, NULL, 0);
	enum { N = 500 };
	void *bufs[N];
	/* Constructed state survives the trips through the cache. */
	for (int round = 0; round < 3; round++)
		use_objects(cp, bufs, N);
	/* Each buffer was constructed once, however often it was used. */
	CHECK_EQ(c.constructed, N);
	CHECK_EQ(c.destructed, 0);
	kmem_cache_stats_t st = stats_of(cp);
	CHECK_EQ(st.alloc, 3 * N);
	CHECK_EQ(st.free, 3 * N);
	CHECK_EQ(st.buf_inuse, 0);
	CHECK_EQ(st.buf_constructed, N);

	/* Reaping sends them back to their slabs: destructed once each. */
	kmem_cache_reap_now(cp);
	CHECK_EQ(c.destructed, N);
	st = stats_of(cp);
	CHECK_EQ(st.buf_constructed, 0);
	CHECK_EQ(st.buf_total, 0);
	CHECK_EQ(st.mem_total, 0);
	kmem_cache_destroy(cp);
	CHECK_EQ(c.destructed, N);
}

static void
test_failing_constructor(void)
{
	counts_t c = { .fail = true };
	kmem_cache_t *cp = kmem_cache_create("failing", 64, 0, count_construct,
	    count_destruct, NULL, &c, NULL, 0);
	CHECK(kmem_cache_alloc(cp, KM_NOSLEEP) == NULL);
	CHECK(kmem_cache_alloc(cp, KM_NOSLEEP) == NULL);
	kmem_cache_stats_t st = stats_of(cp);
	CHECK_EQ(st.alloc_fail, 2);
	CHECK_EQ(st.alloc, 0);
	CHECK_EQ(st.buf_inuse, 0);
	/* Nothing leaked: the slab buffers went straight back. */
	CHECK_EQ(st.slab_alloc, st.slab_free);
	c.fail = false;
	void *buf = kmem_cache_alloc(cp, KM_NOSLEEP);
	CHECK(buf != NULL);
	kmem_cache_free(cp, buf);
	CHECK_EQ(c.destructed, 0);
	kmem_cache_destroy(cp);
	CHECK_EQ(c.destructed, 1);
}

/* ---- reaping gives memory back ---- */

static void
test_reap_returns_memory(void)
{
	/* A private arena, so its in-use size is only this cache's. */
	vmem_t *arena = vmem_create("reap_arena", NULL, 0, 4096, vmem_alloc,
	    vmem_free, kmem_default_arena(), 0, VM_SLEEP);
	static const size_t sizes[] = { 32, 700, 20000 };
	for (size_t s = 0; s < 3; s++) {
		counts_t c = { 0 };
		kmem_cache_t *cp = kmem_cache_create("reaped", sizes[s], 0,
		    count_construct, count_destruct, count_reclaim, &c, arena,
		    0);
		enum { N = 2000 };
		static void *bufs[N];
		for (int i = 0; i < N; i++)
			bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
		CHECK(vmem_size(arena, VMEM_ALLOC) >= N * sizes[s]);
		for (int i = 0; i < N; i++)
			kmem_cache_free(cp, bufs[i]);
		/* The magazines and the depot keep some (up to the depot's
		 * ceiling) until the reap. */
		CHECK(vmem_size(arena, VMEM_ALLOC) > 0);
		kmem_cache_reap_now(cp);
		CHECK_EQ(vmem_size(arena, VMEM_ALLOC), 0);
		CHECK_EQ(c.constructed, c.destructed);
		kmem_cache_destroy(cp);
	}
	vmem_destroy(arena);
}

/* Is any page of [p, p + size) resident?  An unmapped range is not. */
static bool
any_page_resident(void *p, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char vec[64];
	CHECK(size / page <= sizeof (vec));
	if (mincore(p, size, vec) != 0) {
		CHECK_EQ(errno, ENOMEM);        /* the span went back whole */
		return (false);
	}
	for (size_t i = 0; i < size / page; i++)
		if (vec[i] & 1)
			return (true);
	return (false);
}

/*
 * Pages freed inside a span that is still partly in use cannot be
 * unmapped; a reap purges them, so they leave the resident set.
 */
static void
test_reap_purges_free_pages_of_used_spans(void)
{
	enum { PAGES = 16 };    /* above kmem_default's quantum caches */
	size_t size = PAGES * (size_t)sysconf(_SC_PAGESIZE);
	vmem_t *arena = kmem_default_arena();
	char *freed = vmem_alloc(arena, size, VM_SLEEP);
	char *kept = vmem_alloc(arena, size, VM_SLEEP);
	memset(freed, 1, size);
	memset(kept, 1, size);
	vmem_free(arena, freed, size);
	kmem_reap();
	CHECK(!any_page_resident(freed, size));
	CHECK(any_page_resident(kept, size));
	vmem_free(arena, kept, size);
}

static void
test_reclaim_callbacks_run_on_reap(void)
{
	counts_t c = { 0 };
	kmem_cache_t *cp = kmem_cache_create("reclaimable", 64, 0, NULL, NULL,
	    count_reclaim, &c, NULL, 0);
	kmem_reap();
	CHECK_EQ(c.reclaimed, 1);
	CHECK(stats_of(cp).reap >= 1);
	kmem_cache_destroy(cp);
}

/* ---- layers ---- */

static void
test_no_magazine_cache_uses_slabs_only(void)
{
	kmem_cache_t *cp = kmem_cache_create("nomag", 64, 0, NULL, NULL, NULL,
	    NULL, NULL, KMC_NOMAGAZINE);
	void *a = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, a);
	kmem_cache_stats_t st = stats_of(cp);
	CHECK_EQ(st.magazine_size, 0);
	CHECK_EQ(st.slab_alloc, 1);
	CHECK_EQ(st.slab_free, 1);
	CHECK_EQ(st.buf_constructed, 0);
	kmem_cache_destroy(cp);
}

static void
test_notouch_cache_keeps_out_of_buffers(void)
{
	/* An arena of integers that are not memory at all. */
	vmem_t *ids = vmem_create("notouch_ids", (void *)0x1000, 1 << 20, 1,
	    NULL, NULL, NULL, 0, VMC_IDENTIFIER);
	kmem_cache_t *cp = kmem_cache_create("notouch", 16, 1, NULL, NULL,
	    NULL, NULL, ids, 0);
	CHECK(cp != NULL);
	enum { N = 1000 };
	static void *got[N];
	for (int i = 0; i < N; i++) {
		got[i] = kmem_cache_alloc(cp, KM_SLEEP);
		CHECK(vmem_contains(ids, got[i], 16));
	}
	for (int i = 0; i < N; i++)
		kmem_cache_free(cp, got[i]);
	kmem_cache_stats_t st = stats_of(cp);
	CHECK(st.cflags & KMC_NOTOUCH);
	CHECK(st.hash_buckets >= 16);
	kmem_cache_reap_now(cp);
	CHECK_EQ(vmem_size(ids, VMEM_ALLOC), 0);
	kmem_cache_destroy(cp);
	vmem_destroy(ids);
}

static void
test_debug_layout_adds_a_tag(void)
{
	kmem_cache_t *plain = kmem_cache_create("plain", 40, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	kmem_cache_t *tagged = kmem_cache_create("tagged", 40, 0, NULL, NULL,
	    NULL, NULL, NULL, KMF_REDZONE);
	kmem_cache_t *nodebug = kmem_cache_create("nodebug", 40, 0, NULL,
	    NULL, NULL, NULL, NULL, KMF_REDZONE | KMC_NODEBUG);
	CHECK_EQ(stats_of(plain).chunk_size, 40);
	CHECK_EQ(stats_of(tagged).chunk_size, 40 + 40);
	CHECK(stats_of(tagged).magazine_size > 0);   /* kept, checked around */
	CHECK_EQ(stats_of(nodebug).chunk_size, 40);
	void *b = kmem_cache_alloc(tagged, KM_SLEEP);
	memset(b, 0xff, 40);            /* the whole buffer, not beyond */
	kmem_cache_free(tagged, b);
	kmem_cache_destroy(plain);
	kmem_cache_destroy(tagged);
	kmem_cache_destroy(nodebug);
}

/*
 * A debug cache keeps its magazines, but they hold free buffers: destructed
 * at each free, constructed again at each allocation, and they never go
 * back to the slabs in between.
 */
static void
test_debug_cache_magazines_hold_free_buffers(void)
{
	counts_t c = { 0 };
	kmem_cache_t *cp = kmem_cache_create("debug_magazines", 48, 0,
	    count_construct, count_destruct, NULL, &c, NULL,
	    KMF_DEADBEEF | KMF_REDZONE);
	enum { N = 100 };
	void *bufs[N];
	for (int round = 0; round < 3; round++) {
		use_objects(cp, bufs, N);
		CHECK_EQ(c.constructed, (round + 1) * N);
		CHECK_EQ(c.destructed, (round + 1) * N);
	}
	kmem_cache_stats_t st = stats_of(cp);
	CHECK(st.magazine_size > 0);
	CHECK_EQ(st.alloc, 3 * N);
	CHECK_EQ(st.buf_inuse, 0);
	CHECK_EQ(st.slab_alloc, N);             /* rounds 2 and 3: magazines */
	CHECK_EQ(st.slab_free, 0);
	CHECK_EQ(st.buf_constructed, N);        /* cached, though destructed */

	/* A constructor that fails on a magazine's buffer: nothing is lost. */
	c.fail = true;
	CHECK(kmem_cache_alloc(cp, KM_NOSLEEP) == NULL);
	c.fail = false;
	st = stats_of(cp);
	CHECK_EQ(st.alloc, 3 * N);
	CHECK_EQ(st.alloc_fail, 1);
	CHECK_EQ(st.buf_inuse, 0);
	CHECK_EQ(st.slab_alloc - st.slab_free, N - 1);

	/* The reap takes them to their slabs without a second destructor. */
	kmem_cache_reap_now(cp);
	CHECK_EQ(c.destructed, 3 * N);
	st = stats_of(cp);
	CHECK_EQ(st.buf_total, 0);
	CHECK_EQ(st.slab_alloc, st.slab_free);
	kmem_cache_destroy(cp);
	CHECK_EQ(c.constructed, c.destructed);
}

/* ---- kmem_alloc ---- */

static void
test_kmem_alloc_classes(void)
{
	for (size_t size = 1; size <= 300000; size += size / 16 + 1) {
		unsigned char *p = kmem_alloc(size, KM_SLEEP);
		CHECK(p != NULL);
		CHECK_EQ(U(p) % 8, 0);
		memset(p, 0xab, size);
		kmem_free(p, size);
	}
	/* Any size of the same class frees it. */
	void *p = kmem_alloc(130, KM_SLEEP);    /* the 144-byte class */
	kmem_free(p, 144);
	p = kmem_alloc(1000, KM_SLEEP);         /* 1024 */
	kmem_free(p, 961);
}

/*
 * Every size up to KMEM_MAXBUF finds the smallest class that holds it: the
 * two tables agree, size by size, with the rule kmem_alloc_class() states.
 */
static void
test_kmem_alloc_tables_follow_the_classes(void)
{
	for (size_t size = 1; size <= KMEM_MAXBUF; size++) {
		size_t class_size;
		(void) kmem_alloc_class(size, &class_size);
		/* Made on first use; then the tables hold it. */
		const kmem_cache_t *cp = kmem_alloc_class_cache(size, KM_SLEEP);
		CHECK(cp != NULL && cp->cache_bufsize == class_size);
		CHECK(kmem_alloc_cache(size) == cp);
	}
	CHECK(kmem_alloc_cache(0) == NULL);
	CHECK(kmem_alloc_cache(KMEM_MAXBUF + 1) == NULL);
}

static void
test_kmem_zalloc_zeroes(void)
{
	for (size_t size = 8; size < 100000; size *= 3) {
		unsigned char *p = kmem_alloc(size, KM_SLEEP);
		memset(p, 0x77, size);
		kmem_free(p, size);
		p = kmem_zalloc(size, KM_SLEEP);
		for (size_t i = 0; i < size; i++)
			CHECK(p[i] == 0);
		kmem_free(p, size);
	}
}

static void
test_kmem_alloc_zero_and_free_null(void)
{
	check_catch_reports();
	CHECK_WARNING(CHECK(kmem_alloc(0, KM_SLEEP) == NULL), "size 0");
	CHECK_NO_REPORT(kmem_free(NULL, 0));
	kmem_report_handler_set(NULL, NULL, NULL);
}

/* ---- vmem quantum caches ---- */

typedef struct text {
	char buf[1 << 16];
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
test_vmem_quantum_caches(void)
{
	vmem_t *vmp = vmem_create("qc", (void *)0x100000, 1 << 24, 4096, NULL,
	    NULL, NULL, 4 * 4096, VM_SLEEP);
	vmem_stats_t vst;
	vmem_stats(vmp, &vst);
	CHECK_EQ(vst.qcache_max, 4 * 4096);

	enum { N = 500 };
	static void *segs[N];
	for (int i = 0; i < N; i++) {
		size_t size = 4096 * (1 + i % 4);
		segs[i] = vmem_alloc(vmp, size, VM_SLEEP);
		CHECK(segs[i] != NULL && U(segs[i]) % 4096 == 0);
		CHECK(vmem_contains(vmp, segs[i], size));
	}
	/* The arena saw slabs, not 500 allocations. */
	vmem_stats(vmp, &vst);
	CHECK(vst.alloc < N / 4);
	for (int i = 0; i < N; i++)
		vmem_free(vmp, segs[i], 4096 * (1 + i % 4));

	/* The caches appear in the table under their arena. */
	static text_t t;
	t.len = 0;
	kmem_table(collect_line, &t);
	CHECK(strstr(t.buf, "\nqc_4096 ") != NULL);
	CHECK(strstr(t.buf, "\nqc_16384 ") != NULL);
	CHECK(strstr(t.buf, "Total [qc]") != NULL);
	vmem_destroy(vmp);

	/* Sizes above qcache_max, and vmem_xalloc, bypass them. */
	vmp = vmem_create("qc2", (void *)0x100000, 1 << 24, 4096, NULL, NULL,
	    NULL, 4096, VM_SLEEP);
	void *big = vmem_alloc(vmp, 8192, VM_SLEEP);
	void *x = vmem_xalloc(vmp, 4096, 0, 0, 0, NULL, NULL, VM_SLEEP);
	vmem_stats(vmp, &vst);
	CHECK_EQ(vst.alloc, 2);
	vmem_free(vmp, big, 8192);
	vmem_xfree(vmp, x, 4096);
	vmem_destroy(vmp);
}

/* ---- statistics ---- */

static void
test_stats_and_table(void)
{
	kmem_cache_t *cp = kmem_cache_create("table_widget", 200, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	void *a = kmem_cache_alloc(cp, KM_SLEEP);
	void *b = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, a);
	kmem_cache_stats_t st = stats_of(cp);
	CHECK(strcmp(st.name, "table_widget") == 0);
	CHECK(strcmp(st.arena, "kmem_default") == 0);
	CHECK_EQ(st.buf_size, 200);
	CHECK_EQ(st.alloc, 2);
	CHECK_EQ(st.free, 1);
	CHECK_EQ(st.buf_inuse, 1);
	CHECK_EQ(st.buf_total, st.buf_per_slab);
	CHECK_EQ(st.mem_total, 4096);
	CHECK(st.magazine_size > 0);

	static text_t t;
	t.len = 0;
	kmem_table(collect_line, &t);
	CHECK(strncmp(t.buf, "cache ", 6) == 0);
	const char *row = strstr(t.buf, "\ntable_widget ");
	CHECK(row != NULL);
	char name[64];
	unsigned long long size, inuse, total, mem, alloc, fail;
	CHECK(sscanf(row + 1, "%63s %llu %llu %llu %llu %llu %llu", name, &size,
	    &inuse, &total, &mem, &alloc, &fail) == 7);
	CHECK_EQ(size, 200);
	CHECK_EQ(inuse, 1);
	CHECK_EQ(total, st.buf_per_slab);
	CHECK_EQ(mem, 4096);
	CHECK_EQ(alloc, 2);
	CHECK_EQ(fail, 0);
	CHECK(strstr(t.buf, "Total [kmem_default]") != NULL);
	kmem_cache_free(cp, b);
	kmem_cache_destroy(cp);
}

/* ---- the working set ---- */

static void
test_update_reaps_beyond_the_working_set(void)
{
	counts_t c = { 0 };
	kmem_cache_t *cp = kmem_cache_create("workingset", 64, 0,
	    count_construct, count_destruct, NULL, &c, NULL, 0);
	/* The batch grows the magazines to their largest size when it turns
	 * round (magazine_batch_test.c); the frees then fill 20 of them. */
	enum { N = 3000 };
	static void *bufs[N];
	for (int i = 0; i < N; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (int i = 0; i < N; i++)
		kmem_cache_free(cp, bufs[i]);
	kmem_cache_stats_t st = stats_of(cp);
	uint64_t full = st.full_magazines;
	CHECK(full > 10);
	CHECK_EQ(c.destructed, 0);

	/* Unused for a whole interval: the second update gives them back. */
	kmem_update_now();
	CHECK(stats_of(cp).full_magazines > 0);
	kmem_update_now();
	st = stats_of(cp);
	CHECK_EQ(st.full_magazines, 0);
	CHECK(c.destructed >= (int)(full * (st.magazine_size)));
	kmem_cache_destroy(cp);
}

/*
 * A thread whose working set is bigger than its two magazines trades them
 * with the depot all the time, contended or not: the cache's magazines
 * grow until the batch fits.
 */
static void
test_depot_traffic_grows_magazines(void)
{
	/* 64 bytes: magazines of 50 rounds hold less than KMEM_MAGAZINE_BYTES. */
	kmem_cache_t *cp = kmem_cache_create("traffic", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	unsigned first = stats_of(cp).magazine_size;
	CHECK(first > 0 && first < 50);
	enum { BATCH = 100 };
	void *bufs[BATCH];
	for (int round = 0; round < 100000 &&
	    stats_of(cp).magazine_size < 50; round++) {
		for (int i = 0; i < BATCH; i++)
			bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
		for (int i = 0; i < BATCH; i++)
			kmem_cache_free(cp, bufs[i]);
	}
	kmem_cache_stats_t st = stats_of(cp);
	CHECK(st.magazine_size >= 50);
	CHECK_EQ(st.depot_contention, 0);       /* one thread: traffic alone */
	kmem_cache_destroy(cp);
}

/*
 * Memory the cache holds for nobody has bounds short of the working set's
 * interval: the depots' full magazines stop at a ceiling (kmem_depot_ceiling()
 * bytes of rounds, over all caches),
 * and the slab layer keeps one empty slab.
 */
static void
test_depot_ceiling_and_one_empty_slab(void)
{
	kmem_cache_t *cp = kmem_cache_create("ceiling", 4000, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	enum { N = 1000 };      /* 4 MB */
	static void *bufs[N];
	for (int i = 0; i < N; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	unsigned magazine_size = stats_of(cp).magazine_size;
	uint64_t ceiling = kmem_depot_ceiling();        /* at the peak */
	for (int i = 0; i < N; i++)
		kmem_cache_free(cp, bufs[i]);
	kmem_cache_stats_t st = stats_of(cp);
	CHECK(st.depot_trim > 0);
	CHECK(st.full_magazines * st.magazine_size * st.chunk_size <=
	    ceiling);
	CHECK(kmem_depot_full_bytes() <= ceiling);
	CHECK(st.slab_destroy > 0);
	/* Out of the slabs: the depot's rounds, the thread's magazines and
	 * nothing else; of the slabs, only those holding them and one empty. */
	CHECK_EQ(st.buf_inuse, 0);
	/* Unless the magazines grew meanwhile (on a loaded machine the frees
	 * outlast the 10 ms between traffic checks): those of the old size
	 * wait on the stale list, which the bound does not count. */
	if (st.magazine_size == magazine_size)
		CHECK(st.buf_constructed <=
		    (st.full_magazines + 2) * st.magazine_size);
	kmem_cache_destroy(cp);

	cp = kmem_cache_create("one_empty", 100, 0, NULL, NULL, NULL, NULL,
	    NULL, KMC_NOMAGAZINE);
	unsigned per_slab = stats_of(cp).buf_per_slab;
	for (unsigned i = 0; i < 3 * per_slab; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	CHECK_EQ(stats_of(cp).slab_create, 3);
	for (unsigned i = 0; i < 3 * per_slab; i++)
		kmem_cache_free(cp, bufs[i]);
	st = stats_of(cp);
	CHECK_EQ(st.slab_destroy, 2);
	CHECK_EQ(st.buf_total, per_slab);
	kmem_cache_reap_now(cp);
	CHECK_EQ(stats_of(cp).buf_total, 0);
	kmem_cache_destroy(cp);
}

int
main(void)
{
	test_buffers_are_distinct_and_aligned();
	test_layouts_follow_the_waste_rule();
	test_slabs_are_colored();
	test_constructed_objects_are_cached();
	test_failing_constructor();
	test_reap_returns_memory();
	test_reap_purges_free_pages_of_used_spans();
	test_reclaim_callbacks_run_on_reap();
	test_no_magazine_cache_uses_slabs_only();
	test_notouch_cache_keeps_out_of_buffers();
	test_debug_layout_adds_a_tag();
	test_debug_cache_magazines_hold_free_buffers();
	test_kmem_alloc_classes();
	test_kmem_alloc_tables_follow_the_classes();
	test_kmem_zalloc_zeroes();
	test_kmem_alloc_zero_and_free_null();
	test_vmem_quantum_caches();
	test_stats_and_table();
	test_update_reaps_beyond_the_working_set();
	test_depot_traffic_grows_magazines();
	test_depot_ceiling_and_one_empty_slab();
	printf("kmem_api_test: all passed\n");
	return (0);
}
