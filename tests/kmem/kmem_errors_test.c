/*
 * Every kind of bad input kmem detects.  Each case must produce exactly one
 * report, with the words that tell the programmer what went wrong (cache,
 * address, the buffer it really is), and must change nothing: the caches'
 * counters are the same before and after, constructors and destructors do
 * not run, and the buffers involved can still be used and freed properly
 * with no further report.
 *
 *	kmem_errors_test [--inline] [test-name...]
 *
 * Each test runs in a child process of its own, so that one failure does not
 * hide the others and no test inherits damage from another; --inline runs
 * them in this process instead (for a debugger).  The last test checks the
 * default handler: the message on standard error, then abort().
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem.h>

#include "check.h"
#include "kmem/kmem_impl.h"          /* kmem_oversize, KMEM_MAXBUF */
#include "kmem_objects.h"

#define U(p)    ((uintptr_t)(p))
#define P(x)    ((void *)(uintptr_t)(x))

/* kmem_alloc(200000) takes whole pages of kmem_oversize. */
#define PAGE            kmem_pagesize()
#define BIG_PAGES       ((200000 + PAGE - 1) / PAGE * PAGE)

/* ---- helpers ---- */

/* The counters of cp must be those of before (line: the caller's). */
static void
check_unchanged_at(int line, kmem_cache_t *cp, const kmem_cache_stats_t *b)
{
	kmem_cache_stats_t a = stats_of(cp);
	const struct {
		const char *name;
		uint64_t before, after;
	} f[] = {
		{ "alloc", b->alloc, a.alloc },
		{ "free", b->free, a.free },
		{ "alloc_fail", b->alloc_fail, a.alloc_fail },
		{ "buf_inuse", b->buf_inuse, a.buf_inuse },
		{ "buf_total", b->buf_total, a.buf_total },
		{ "buf_constructed", b->buf_constructed, a.buf_constructed },
		{ "slab_alloc", b->slab_alloc, a.slab_alloc },
		{ "slab_free", b->slab_free, a.slab_free },
	};
	for (size_t i = 0; i < sizeof (f) / sizeof (f[0]); i++) {
		if (f[i].before != f[i].after) {
			char msg[256];
			snprintf(msg, sizeof (msg), "cache \"%s\": %s changed "
			    "from %ju to %ju (checked at line %d)", a.name,
			    f[i].name, (uintmax_t)f[i].before,
			    (uintmax_t)f[i].after, line);
			check_failed(__FILE__, __LINE__, msg);
		}
	}
}

#define CHECK_UNCHANGED(cp, before) check_unchanged_at(__LINE__, cp, &(before))

/* Constructors that count, and destructors that notice strangers. */
typedef struct counts {
	uint32_t magic;         /* written at the start of each object */
	int constructed;
	int destructed;
	int foreign;            /* destructed objects without our magic */
	bool fail;              /* the constructor fails */
	int last_kmflag;        /* what the constructor was given */
} counts_t;

static int
construct(void *buf, void *private, int kmflag)
{
	counts_t *c = private;
	c->last_kmflag = kmflag;
	if (c->fail)
		return (-1);
	memcpy(buf, &c->magic, sizeof (c->magic));
	c->constructed++;
	return (0);
}

static void
destruct(void *buf, void *private)
{
	counts_t *c = private;
	uint32_t m;
	memcpy(&m, buf, sizeof (m));
	if (m != c->magic)
		c->foreign++;
	c->destructed++;
}

static kmem_cache_t *
create(const char *name, size_t size, size_t align, counts_t *c, vmem_t *vmp,
    int cflags)
{
	kmem_cache_t *cp = kmem_cache_create(name, size, align,
	    c != NULL ? construct : NULL, c != NULL ? destruct : NULL, NULL, c,
	    vmp, cflags);
	CHECK(cp != NULL);
	return (cp);
}

/* The "in use" column of a cache's row in kmem_table(), or -1. */
typedef struct row_query {
	const char *name;
	long long inuse;
} row_query_t;

static void
row_line(void *arg, const char *line)
{
	row_query_t *q = arg;
	size_t n = strlen(q->name);
	char name[64];
	unsigned long long size, inuse;
	if (strncmp(line, q->name, n) == 0 && line[n] == ' ' &&
	    sscanf(line, "%63s %llu %llu", name, &size, &inuse) == 3)
		q->inuse = (long long)inuse;
}

static long long
table_inuse(const char *name)
{
	row_query_t q = { name, -1 };
	kmem_table(row_line, &q);
	return (q.inuse);
}

/* An arena of its own over kmem's default one, so its size is ours alone. */
static vmem_t *
private_arena(const char *name, size_t quantum)
{
	vmem_t *vmp = vmem_create(name, NULL, 0, quantum, vmem_alloc,
	    vmem_free, kmem_default_arena(), 0, VM_SLEEP);
	CHECK(vmp != NULL);
	return (vmp);
}

/* ---- frees to the wrong cache ---- */

static void
test_wrong_cache(void)
{
	counts_t ca = { .magic = 0xaaaa0001 }, cb = { .magic = 0xbbbb0002 };
	kmem_cache_t *a = create("err_a", 64, 0, &ca, NULL, 0);
	kmem_cache_t *b = create("err_b", 64, 0, &cb, NULL, 0);
	kmem_cache_t *big = create("err_big", 5000, 0, NULL, NULL, 0);
	kmem_cache_t *nomag = create("err_nomag", 64, 0, NULL, NULL,
	    KMC_NOMAGAZINE);
	void *x = kmem_cache_alloc(a, KM_SLEEP);
	void *y = kmem_cache_alloc(big, KM_SLEEP);
	void *k = kmem_alloc(64, KM_SLEEP);
	void *n = kmem_cache_alloc(nomag, KM_SLEEP);
	kmem_cache_stats_t sa = stats_of(a), sb = stats_of(b);
	kmem_cache_stats_t sbig = stats_of(big), snomag = stats_of(nomag);

	CHECK_REPORT(kmem_cache_free(b, x), check_fmt("kmem_cache_free(\"err_b\", "
	    "%p): wrong cache: the buffer belongs to cache \"err_a\"", x));
	CHECK_REPORT(kmem_cache_free(a, y), check_fmt("kmem_cache_free(\"err_a\", "
	    "%p): wrong cache: the buffer belongs to cache \"err_big\"", y));
	CHECK_REPORT(kmem_cache_free(big, x), "belongs to cache \"err_a\"");
	CHECK_REPORT(kmem_cache_free(b, k),
	    "belongs to cache \"kmem_alloc_64\"");
	CHECK_REPORT(kmem_cache_free(nomag, x), "belongs to cache \"err_a\"");
	CHECK_REPORT(kmem_cache_free(a, n), "belongs to cache \"err_nomag\"");
	/* The same buffer, again: still refused, still only reported. */
	CHECK_REPORT(kmem_cache_free(b, x), "belongs to cache \"err_a\"");

	CHECK_UNCHANGED(a, sa);
	CHECK_UNCHANGED(b, sb);
	CHECK_UNCHANGED(big, sbig);
	CHECK_UNCHANGED(nomag, snomag);
	CHECK_EQ(cb.destructed, 0);
	CHECK_EQ(cb.constructed, 0);

	/* Nothing was taken: each buffer goes home without a word. */
	uint32_t m;
	memcpy(&m, x, sizeof (m));
	CHECK_EQ(m, ca.magic);
	CHECK_NO_REPORT(kmem_cache_free(a, x));
	CHECK_NO_REPORT(kmem_cache_free(big, y));
	CHECK_NO_REPORT(kmem_free(k, 64));
	CHECK_NO_REPORT(kmem_cache_free(nomag, n));
	/* And b hands out only its own. */
	void *z = kmem_cache_alloc(b, KM_SLEEP);
	memcpy(&m, z, sizeof (m));
	CHECK_EQ(m, cb.magic);
	kmem_cache_free(b, z);
	CHECK_EQ(stats_of(a).buf_inuse, 0);
	CHECK_EQ(stats_of(b).buf_inuse, 0);

	kmem_cache_destroy(a);
	kmem_cache_destroy(b);
	kmem_cache_destroy(big);
	kmem_cache_destroy(nomag);
	CHECK_EQ(ca.constructed, ca.destructed);
	CHECK_EQ(cb.constructed, cb.destructed);
	CHECK_EQ(ca.foreign + cb.foreign, 0);
}

/* ---- interior pointers ---- */

static void
check_interior(const char *name, size_t size, size_t align, int cflags)
{
	kmem_cache_t *cp = create(name, size, align, NULL, NULL, cflags);
	kmem_cache_stats_t st = stats_of(cp);
	size_t chunk = st.chunk_size;
	enum { N = 3 };
	unsigned char *bufs[N];
	for (int i = 0; i < N; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_stats_t before = stats_of(cp);

	for (int i = 0; i < N; i++) {
		/* Every offset of small chunks; a sample of large ones. */
		size_t step = chunk <= 1024 ? 1 : chunk / 97 + 1;
		for (size_t off = 1; off < chunk; off += step) {
			CHECK_REPORT(kmem_cache_free(cp, bufs[i] + off),
			    check_fmt("kmem_cache_free(\"%s\", %p): not the start of "
			    "a buffer: %zu bytes into the buffer at %p", name,
			    (void *)(bufs[i] + off), off, (void *)bufs[i]));
		}
		for (size_t off = chunk - 8; off < chunk; off++)
			CHECK_REPORT(kmem_cache_free(cp, bufs[i] + off),
			    check_fmt("%zu bytes into the buffer at %p", off,
			    (void *)bufs[i]));
	}
	CHECK_UNCHANGED(cp, before);
	for (int i = 0; i < N; i++)
		CHECK_NO_REPORT(kmem_cache_free(cp, bufs[i]));
	CHECK_EQ(stats_of(cp).buf_inuse, 0);
	kmem_cache_destroy(cp);
}

static void
test_interior_pointers(void)
{
	check_interior("int_24", 24, 0, 0);
	check_interior("int_40", 40, 0, 0);
	check_interior("int_100", 100, 0, 0);           /* chunk 104 */
	check_interior("int_72_a8", 72, 8, KMC_NOMAGAZINE);
	check_interior("int_1000", 1000, 0, 0);
	check_interior("int_3000_nohash", 3000, 0, KMC_NOHASH);
	check_interior("int_5000", 5000, 0, 0);
	check_interior("int_1_a4096", 1, 4096, 0);
	check_interior("int_70000_a512", 70000, 512, 0);
	check_interior("int_debug", 40, 0, KMF_REDZONE | KMF_AUDIT);

	/* kmem_free's caches too, with the kmem_free wording. */
	unsigned char *p = kmem_alloc(200, KM_SLEEP);
	CHECK_REPORT(kmem_free(p + 8, 200), check_fmt("kmem_free(%p, 200): not the "
	    "start of a buffer: 8 bytes into the buffer at %p", (void *)(p + 8),
	    (void *)p));
	CHECK_NO_REPORT(kmem_free(p, 200));
}

/*
 * Addresses inside a slab that are in no buffer at all: the slack before a
 * colored slab's first buffer and the end of a slab past its last buffer.
 * They must be refused; and if the report names "the buffer at" some
 * address, that must be a buffer of the slab, with the offset inside it.
 */
static void
check_named_buffer(const char *msg, uintptr_t first, size_t chunk,
    unsigned chunks)
{
	const char *at = strstr(msg, "bytes into the buffer at 0x");
	if (at == NULL)
		return;
	uintptr_t named = (uintptr_t)strtoull(at + strlen("bytes into the "
	    "buffer at "), NULL, 16);
	const char *num = at;
	while (num > msg && num[-1] == ' ')
		num--;
	while (num > msg && num[-1] >= '0' && num[-1] <= '9')
		num--;
	unsigned long long off = strtoull(num, NULL, 10);
	if (named < first || named >= first + (uintptr_t)chunks * chunk ||
	    (named - first) % chunk != 0 || off >= chunk) {
		fprintf(stderr, "report: \"%s\"\nslab buffers: %#jx + k * %zu, "
		    "k < %u\n", msg, (uintmax_t)first, chunk, chunks);
		CHECK(!"the report names a buffer the slab does not have");
	}
}

static void
test_slab_slack_is_no_buffer(void)
{
	/* 600-byte buffers: 6 to a page, 440 bytes of slack, colored. */
	kmem_cache_t *cp = create("slack", 600, 0, NULL, NULL, KMC_NOMAGAZINE);
	kmem_cache_stats_t st = stats_of(cp);
	CHECK_EQ(st.buf_per_slab, 6);
	CHECK_EQ(st.slab_size, 4096);
	unsigned char *b[12];
	for (int i = 0; i < 12; i++)
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_stats_t before = stats_of(cp);

	for (int s = 0; s < 2; s++) {
		uintptr_t first = U(b[6 * s]);
		uintptr_t base = first & ~(uintptr_t)4095;
		uintptr_t bad[] = {
			base,                           /* colour slack */
			first + 6 * 600,                /* past the last */
			first + 6 * 600 + 8,
			base + 4096 - 8,                /* the slab's end */
		};
		for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++) {
			if (bad[i] == first)
				continue;       /* slab 0 has no colour */
			CHECK_EQ(check_reports.count, 0);
			kmem_cache_free(cp, P(bad[i]));
			char msg[sizeof (check_reports.last)];
			snprintf(msg, sizeof (msg), "%s", check_reports.last);
			check_report_expected(__FILE__, __LINE__,
			    "kmem_cache_free(cp, slack)", KMEM_REPORT_ERROR,
			    check_fmt("kmem_cache_free(\"slack\", %p): ",
			    P(bad[i])));
			check_named_buffer(msg, first, 600, 6);
		}
	}
	CHECK_UNCHANGED(cp, before);
	for (int i = 0; i < 12; i++)
		CHECK_NO_REPORT(kmem_cache_free(cp, b[i]));
	kmem_cache_destroy(cp);
}

/* ---- pointers kmem never handed out ---- */

static void
test_never_allocated(void)
{
	kmem_cache_t *cp = create("never", 64, 0, NULL, NULL, 0);
	kmem_cache_t *big = create("never_big", 5000, 0, NULL, NULL, 0);
	void *live = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_stats_t before = stats_of(cp);
	uint64_t on_stack[8];
	static uint64_t in_data[8];
	void *from_malloc = malloc(64);

	void *bad[] = { on_stack, in_data, from_malloc, P(0x1000),
	    P((uintptr_t)1 << 60), P(UINTPTR_MAX & ~(uintptr_t)7) };
	for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++) {
		CHECK_REPORT(kmem_cache_free(cp, bad[i]),
		    check_fmt("kmem_cache_free(\"never\", %p): not a buffer of any "
		    "cache", bad[i]));
		CHECK_REPORT(kmem_cache_free(big, bad[i]),
		    "not a buffer of any cache");
		CHECK_REPORT(kmem_free(bad[i], 64), check_fmt("kmem_free(%p, 64): "
		    "not a buffer of any cache", bad[i]));
	}
	CHECK_REPORT(kmem_cache_free(cp, NULL), "not a buffer of any cache");
	CHECK_REPORT(kmem_free(NULL, 8), "not a buffer of any cache");

	/* A buffer whose slab has gone back to the arena. */
	void *gone = kmem_cache_alloc(big, KM_SLEEP);
	kmem_cache_free(big, gone);
	kmem_cache_reap_now(big);
	CHECK_EQ(stats_of(big).buf_total, 0);
	kmem_cache_stats_t bbefore = stats_of(big);
	CHECK_REPORT(kmem_cache_free(big, gone), "not a buffer of any cache");
	CHECK_UNCHANGED(big, bbefore);

	CHECK_UNCHANGED(cp, before);
	free(from_malloc);
	CHECK_NO_REPORT(kmem_cache_free(cp, live));
	kmem_cache_destroy(cp);
	kmem_cache_destroy(big);
}

/* ---- kmem_free with a wrong size ---- */

static void
test_kmem_free_wrong_size(void)
{
	void *p = kmem_alloc(100, KM_SLEEP);            /* kmem_alloc_104 */
	void *q = kmem_alloc(5000, KM_SLEEP);           /* kmem_alloc_5120 */
	void *big = kmem_alloc(200000, KM_SLEEP);       /* kmem_oversize */
	long long in104 = table_inuse("kmem_alloc_104");
	long long in5120 = table_inuse("kmem_alloc_5120");
	CHECK(in104 >= 1 && in5120 >= 1);

	CHECK_REPORT(kmem_free(p, 300), check_fmt("kmem_free(%p, 300): wrong size: "
	    "the buffer was allocated from cache \"kmem_alloc_104\" (buffers "
	    "of 104 bytes)", p));
	CHECK_REPORT(kmem_free(p, 8), "from cache \"kmem_alloc_104\"");
	CHECK_REPORT(kmem_free(p, 96), "from cache \"kmem_alloc_104\"");
	CHECK_REPORT(kmem_free(p, 105), "from cache \"kmem_alloc_104\"");
	CHECK_REPORT(kmem_free(q, 4000), check_fmt("kmem_free(%p, 4000): wrong "
	    "size: the buffer was allocated from cache \"kmem_alloc_5120\"", q));
	CHECK_REPORT(kmem_free(q, 100), "from cache \"kmem_alloc_5120\"");
	/* Beyond the caches, kmem_oversize's hash checks the size. */
	CHECK_REPORT(kmem_free(big, 300000), check_fmt("kmem_free(%p, 300000): wrong "
	    "size: the buffer was allocated from kmem_oversize (a large buffer "
	    "of %zu to %zu bytes)", big, BIG_PAGES - PAGE + 1, BIG_PAGES));
	CHECK_EQ(table_inuse("kmem_alloc_104"), in104);
	CHECK_EQ(table_inuse("kmem_alloc_5120"), in5120);

	/* Any size of the right class frees. */
	CHECK_NO_REPORT(kmem_free(p, 97));
	CHECK_NO_REPORT(kmem_free(q, 5120));
	CHECK_NO_REPORT(kmem_free(big, 200000));
	CHECK_EQ(table_inuse("kmem_alloc_104"), in104 - 1);
	CHECK_EQ(table_inuse("kmem_alloc_5120"), in5120 - 1);
}

/*
 * A size on the other side of KMEM_MAXBUF from the allocation's: still a
 * wrong size, naming what the buffer really is, and nothing is freed.
 */
static void
test_kmem_free_wrong_side_of_maxbuf(void)
{
	unsigned char *p = kmem_alloc(100, KM_SLEEP);           /* a class */
	unsigned char *big = kmem_alloc(200000, KM_SLEEP);      /* large */
	unsigned char *edge = kmem_alloc(KMEM_MAXBUF, KM_SLEEP); /* a class */
	memset(p, 0x11, 100);
	memset(big, 0x22, 200000);
	long long in104 = table_inuse("kmem_alloc_104");
	vmem_stats_t before;
	vmem_stats(kmem_oversize, &before);

	CHECK_REPORT(kmem_free(p, 200000), check_fmt("kmem_free(%p, 200000): wrong "
	    "size: the buffer was allocated from cache \"kmem_alloc_104\" "
	    "(buffers of 104 bytes)", (void *)p));
	CHECK_REPORT(kmem_free(edge, KMEM_MAXBUF + 1), check_fmt("kmem_free(%p, "
	    "%d): wrong size: the buffer was allocated from cache "
	    "\"kmem_alloc_%d\"", (void *)edge, KMEM_MAXBUF + 1, KMEM_MAXBUF));
	CHECK_REPORT(kmem_free(big, 100), check_fmt("kmem_free(%p, 100): wrong size: "
	    "the buffer was allocated from kmem_oversize (a large buffer of "
	    "%zu to %zu bytes)", (void *)big, BIG_PAGES - PAGE + 1, BIG_PAGES));
	CHECK_REPORT(kmem_free(big, KMEM_MAXBUF), "wrong size: the buffer was "
	    "allocated from kmem_oversize");
	/* Interior pointers on either side are not buffers at all. */
	CHECK_REPORT(kmem_free(p + 8, 200000), "not the start of a buffer");
	CHECK_REPORT(kmem_free(big + PAGE, 100), "not a buffer of any cache");

	/* Nothing was freed: the counters stand, the contents are intact. */
	vmem_stats_t after;
	vmem_stats(kmem_oversize, &after);
	CHECK_EQ(after.mem_inuse, before.mem_inuse);
	CHECK_EQ(after.free, before.free);
	CHECK_EQ(table_inuse("kmem_alloc_104"), in104);
	for (size_t i = 0; i < 100; i++)
		CHECK_EQ(p[i], 0x11);
	for (size_t i = 0; i < 200000; i += 997)
		CHECK_EQ(big[i], 0x22);
	/* Still the caller's: a fresh allocation gets neither. */
	void *again = kmem_alloc(100, KM_SLEEP);
	void *big_again = kmem_alloc(200000, KM_SLEEP);
	CHECK(again != p && big_again != big);
	memset(p, 0x33, 100);
	memset(big, 0x44, 200000);
	CHECK_NO_REPORT(kmem_free(p, 100));
	CHECK_NO_REPORT(kmem_free(big, 200000));
	CHECK_NO_REPORT(kmem_free(edge, KMEM_MAXBUF));
	CHECK_NO_REPORT(kmem_free(again, 100));
	CHECK_NO_REPORT(kmem_free(big_again, 200000));
	CHECK_EQ(table_inuse("kmem_alloc_104"), in104 - 1);
}

static void
test_kmem_free_size_zero(void)
{
	void *p = kmem_alloc(8, KM_SLEEP);
	long long in8 = table_inuse("kmem_alloc_8");
	CHECK_REPORT(kmem_free(p, 0), check_fmt("kmem_free(%p, 0): size 0", p));
	CHECK_EQ(table_inuse("kmem_alloc_8"), in8);
	CHECK_NO_REPORT(kmem_free(NULL, 0));
	CHECK_NO_REPORT(kmem_free(p, 8));
	CHECK_EQ(table_inuse("kmem_alloc_8"), in8 - 1);
}

/* ---- debug caches: double free and redzone ---- */

static void
check_double_free(const char *name, size_t size, int cflags)
{
	counts_t c = { .magic = 0xdb1ef4ee };
	kmem_cache_t *cp = create(name, size, 0, &c, NULL, cflags);
	/* Caught through the magazines, which debug caches keep. */
	CHECK(stats_of(cp).magazine_size > 0);
	void *keep = kmem_cache_alloc(cp, KM_SLEEP);
	void *b = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, b);
	kmem_cache_stats_t before = stats_of(cp);
	int destructed = c.destructed;

	CHECK_REPORT(kmem_cache_free(cp, b), check_fmt("double free: buffer %p "
	    "(cache \"%s\"", b, name));
	CHECK_REPORT(kmem_cache_free(cp, b), "double free");
	CHECK_UNCHANGED(cp, before);
	CHECK_EQ(c.destructed, destructed);

	/* The buffer is free exactly once: allocated again, freed again. */
	void *again = kmem_cache_alloc(cp, KM_SLEEP);
	void *other = kmem_cache_alloc(cp, KM_SLEEP);
	CHECK(again != other);
	CHECK_NO_REPORT(kmem_cache_free(cp, again));
	CHECK_NO_REPORT(kmem_cache_free(cp, other));
	CHECK_NO_REPORT(kmem_cache_free(cp, keep));
	CHECK_EQ(stats_of(cp).buf_inuse, 0);
	kmem_cache_destroy(cp);
	CHECK_EQ(c.constructed, c.destructed);
	CHECK_EQ(c.foreign, 0);
}

static void
test_debug_double_free(void)
{
	check_double_free("dbl_redzone", 40, KMF_REDZONE);
	check_double_free("dbl_audit", 100, KMF_AUDIT | KMF_DEADBEEF);
	check_double_free("dbl_lite", 8, KMF_LITE);
	check_double_free("dbl_big", 5000, KMF_REDZONE);
	check_double_free("dbl_nohash", 3000, KMF_REDZONE | KMC_NOHASH);
}

static void
check_redzone(const char *name, size_t size, size_t poke)
{
	kmem_cache_t *cp = create(name, size, 0, NULL, NULL, KMF_REDZONE);
	unsigned char *b = kmem_cache_alloc(cp, KM_SLEEP);
	memset(b, 0x5a, size);          /* the whole buffer is fine */
	CHECK_NO_REPORT(kmem_cache_free(cp, b));
	b = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_stats_t before = stats_of(cp);
	b[poke] ^= 0xff;
	CHECK_REPORT(kmem_cache_free(cp, b), check_fmt("buffer overrun: buffer %p "
	    "(cache \"%s\", %zu bytes requested) was written past its end",
	    (void *)b, name, size));
	/*
	 * The free itself was valid, so it went through (kmem_debug.c) and the
	 * redzone was repaired: the buffer is free, and comes back clean.
	 */
	kmem_cache_stats_t after = stats_of(cp);
	CHECK_EQ(after.free, before.free + 1);
	CHECK_EQ(after.buf_inuse, 0);
	unsigned char *again = kmem_cache_alloc(cp, KM_SLEEP);
	CHECK(again == b);
	CHECK_NO_REPORT(kmem_cache_free(cp, again));
	CHECK_REPORT(kmem_cache_free(cp, again), "double free");
	kmem_cache_destroy(cp);
}

static void
test_redzone_overrun(void)
{
	check_redzone("rz_40", 40, 40);
	check_redzone("rz_40_far", 40, 47);
	check_redzone("rz_37", 37, 40);         /* the tag starts at 40 */
	check_redzone("rz_5000", 5000, 5000);

	/*
	 * Overrunning the redzone into the state word: the tag no longer says
	 * "allocated", so the free is refused and the buffer stays out.
	 */
	kmem_cache_t *cp = create("rz_smash", 40, 0, NULL, NULL, KMF_REDZONE);
	unsigned char *b = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_stats_t before = stats_of(cp);
	memset(b + 40, 0, 16);
	CHECK_REPORT(kmem_cache_free(cp, b), "tag is damaged");
	CHECK_UNCHANGED(cp, before);
	CHECK_REPORT(kmem_cache_destroy(cp), "1 buffer never freed");
}

/* ---- caches that find buffers through the hash ---- */

static void
test_hash_double_free(void)
{
	counts_t c = { .magic = 0x4a54cafe };
	kmem_cache_t *cp = create("hash_nomag", 64, 0, &c, NULL,
	    KMC_NOTOUCH | KMC_NOMAGAZINE);
	kmem_cache_stats_t st = stats_of(cp);
	CHECK(st.hash_buckets > 0);
	CHECK_EQ(st.magazine_size, 0);
	void *keep = kmem_cache_alloc(cp, KM_SLEEP);
	void *b = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, b);
	kmem_cache_stats_t before = stats_of(cp);
	counts_t cbefore = c;

	/* Reported at once: no magazine stands in between. */
	CHECK_REPORT(kmem_cache_free(cp, b), check_fmt("kmem_cache_free("
	    "\"hash_nomag\", %p): not a buffer allocated from this cache", b));
	/* Changing nothing: no destructor ran, no free was counted. */
	CHECK_EQ(c.destructed, cbefore.destructed);
	CHECK_UNCHANGED(cp, before);

	void *again = kmem_cache_alloc(cp, KM_SLEEP);
	CHECK_NO_REPORT(kmem_cache_free(cp, again));
	CHECK_NO_REPORT(kmem_cache_free(cp, keep));
	kmem_cache_destroy(cp);
	CHECK_EQ(c.constructed, c.destructed);
}

/* A buffer of one hash cache freed to another that has no magazines. */
static void
test_hash_wrong_cache(void)
{
	counts_t ca = { .magic = 0x0a0a0a0a }, cb = { .magic = 0x0b0b0b0b };
	kmem_cache_t *a = create("hash_a", 64, 0, &ca, NULL, KMC_NOTOUCH);
	kmem_cache_t *b = create("hash_b", 64, 0, &cb, NULL,
	    KMC_NOTOUCH | KMC_NOMAGAZINE);
	void *x = kmem_cache_alloc(a, KM_SLEEP);
	kmem_cache_stats_t sb = stats_of(b);

	CHECK_REPORT(kmem_cache_free(b, x), check_fmt("kmem_cache_free(\"hash_b\", "
	    "%p): not a buffer allocated from this cache", x));
	/* b's destructor must not have run on a's live object. */
	CHECK_EQ(cb.destructed, 0);
	CHECK_EQ(cb.foreign, 0);
	CHECK_UNCHANGED(b, sb);
	uint32_t m;
	memcpy(&m, x, sizeof (m));
	CHECK_EQ(m, ca.magic);
	CHECK_NO_REPORT(kmem_cache_free(a, x));
	kmem_cache_destroy(a);
	kmem_cache_destroy(b);
}

/*
 * Many allocations from cp must all be distinct from each other and from
 * the n buffers in held; they are freed again without a report.
 */
static void
check_no_buffer_twice(kmem_cache_t *cp, void *const *held, size_t n)
{
	enum { MANY = 600 };
	static void *got[MANY];
	for (size_t i = 0; i < MANY; i++) {
		CHECK_NO_REPORT(got[i] = kmem_cache_alloc(cp, KM_SLEEP));
		for (size_t j = 0; j < n; j++)
			CHECK(got[i] != held[j]);
		for (size_t j = 0; j < i; j++)
			CHECK(got[i] != got[j]);
	}
	for (size_t i = 0; i < MANY; i++)
		CHECK_NO_REPORT(kmem_cache_free(cp, got[i]));
}

/*
 * A cache with magazines that may not touch its buffers: its bufctls say
 * which buffers its clients hold, so every bad free is refused at once,
 * before the buffer reaches a magazine, and nothing is handed out twice.
 */
static void
test_notouch_bad_frees(void)
{
	counts_t c = { .magic = 0x7e7e7e7e };
	kmem_cache_t *nt = create("nt", 64, 0, &c, NULL, KMC_NOTOUCH);
	kmem_cache_t *other = create("nt_other", 64, 0, NULL, NULL, 0);
	CHECK(stats_of(nt).magazine_size > 0);
	void *held[3];
	for (size_t i = 0; i < 3; i++)
		held[i] = kmem_cache_alloc(nt, KM_SLEEP);
	void *x = kmem_cache_alloc(other, KM_SLEEP);
	kmem_cache_stats_t before = stats_of(nt);
	counts_t cbefore = c;

	CHECK_REPORT(kmem_cache_free(nt, x), check_fmt("kmem_cache_free(\"nt\", "
	    "%p): not a buffer allocated from this cache", x));
	CHECK_REPORT(kmem_cache_free(nt, (char *)held[0] + 8), "not a buffer "
	    "allocated from this cache");
	CHECK_REPORT(kmem_cache_free(nt, P(0x900000)), "not a buffer "
	    "allocated from this cache");
	CHECK_UNCHANGED(nt, before);
	check_no_buffer_twice(nt, held, 3);

	/* Double frees, not back to back and back to back. */
	CHECK_NO_REPORT(kmem_cache_free(nt, held[1]));
	CHECK_NO_REPORT(kmem_cache_free(nt, held[2]));
	before = stats_of(nt);
	CHECK_REPORT(kmem_cache_free(nt, held[1]), check_fmt("kmem_cache_free("
	    "\"nt\", %p): double free: the buffer is already free, in the "
	    "cache's magazines", held[1]));
	CHECK_REPORT(kmem_cache_free(nt, held[2]), "double free");
	CHECK_UNCHANGED(nt, before);
	CHECK_EQ(c.destructed, cbefore.destructed);
	check_no_buffer_twice(nt, held, 1);

	CHECK_NO_REPORT(kmem_cache_free(nt, held[0]));
	CHECK_NO_REPORT(kmem_cache_reap_now(nt));
	CHECK_NO_REPORT(kmem_cache_destroy(nt));
	CHECK_EQ(c.constructed, c.destructed);
	CHECK_EQ(c.foreign, 0);
	CHECK_NO_REPORT(kmem_cache_free(other, x));
	kmem_cache_destroy(other);
}

/* The same for a cache of identifiers, with magazines. */
static void
test_identifier_cache_with_magazines(void)
{
	vmem_t *ids = vmem_create("mag_ids", P(0x1000), 1 << 16, 8, NULL,
	    NULL, NULL, 0, VMC_IDENTIFIER);
	kmem_cache_t *ic = create("mag_idc", 8, 8, NULL, ids, 0);
	CHECK(stats_of(ic).magazine_size > 0);
	void *held[2] = { kmem_cache_alloc(ic, KM_SLEEP),
		kmem_cache_alloc(ic, KM_SLEEP) };
	void *gone = kmem_cache_alloc(ic, KM_SLEEP);
	CHECK_NO_REPORT(kmem_cache_free(ic, gone));
	CHECK_NO_REPORT(kmem_cache_free(ic, held[1]));
	kmem_cache_stats_t before = stats_of(ic);
	CHECK_REPORT(kmem_cache_free(ic, gone), check_fmt("kmem_cache_free("
	    "\"mag_idc\", %p): double free", gone));
	CHECK_REPORT(kmem_cache_free(ic, P(0x20000)), "not a buffer allocated "
	    "from this cache");
	CHECK_UNCHANGED(ic, before);
	check_no_buffer_twice(ic, held, 1);
	CHECK_NO_REPORT(kmem_cache_free(ic, held[0]));
	CHECK_NO_REPORT(kmem_cache_destroy(ic));
	CHECK_EQ(vmem_size(ids, VMEM_ALLOC), 0);
	vmem_destroy(ids);
}

/*
 * A cache on an identifier arena, whose "buffers" are integers, with no
 * magazines: every bad free is caught at once by the hash.
 */
static void
test_identifier_cache_bad_frees(void)
{
	vmem_t *ids = vmem_create("late_ids", P(0x1000), 1 << 16, 8, NULL,
	    NULL, NULL, 0, VMC_IDENTIFIER);
	CHECK(ids != NULL);
	kmem_cache_t *ic = create("late_idc", 24, 8, NULL, ids,
	    KMC_NOMAGAZINE);
	void *id = kmem_cache_alloc(ic, KM_SLEEP);
	CHECK(vmem_contains(ids, id, 24));
	kmem_cache_stats_t before = stats_of(ic);
	CHECK_REPORT(kmem_cache_free(ic, P(U(id) + 8)),
	    "not a buffer allocated from this cache");
	CHECK_REPORT(kmem_cache_free(ic, P(0x900000)),
	    "not a buffer allocated from this cache");
	CHECK_UNCHANGED(ic, before);
	CHECK_NO_REPORT(kmem_cache_free(ic, id));
	CHECK_REPORT(kmem_cache_free(ic, id),
	    "not a buffer allocated from this cache");
	kmem_cache_destroy(ic);
	CHECK_EQ(vmem_size(ids, VMEM_ALLOC), 0);
	vmem_destroy(ids);
}

/*
 * Debug caches on an arena of less than a page find their buffers through
 * the hash, not the page map; a free to the wrong one of two such caches
 * must be refused without marking the other cache's buffer free.
 */
static void
test_debug_hash_wrong_cache(void)
{
	vmem_t *sub = private_arena("dbg_sub", 64);
	kmem_cache_t *d1 = create("dbg_sub_1", 64, 0, NULL, sub, KMF_REDZONE);
	kmem_cache_t *d2 = create("dbg_sub_2", 64, 0, NULL, sub, KMF_REDZONE);
	CHECK(stats_of(d1).hash_buckets > 0);
	void *a = kmem_cache_alloc(d1, KM_SLEEP);
	kmem_cache_stats_t s1 = stats_of(d1), s2 = stats_of(d2);

	CHECK_REPORT(kmem_cache_free(d2, a), check_fmt("kmem_cache_free("
	    "\"dbg_sub_2\", %p): not a buffer allocated from this cache", a));
	CHECK_UNCHANGED(d1, s1);
	/* a is still d1's, and still allocated: its tag must say so. */
	CHECK_NO_REPORT(kmem_cache_free(d1, a));
	CHECK_EQ(stats_of(d1).buf_inuse, 0);
	CHECK_UNCHANGED(d2, s2);
	kmem_cache_destroy(d1);
	kmem_cache_destroy(d2);
	CHECK_EQ(vmem_size(sub, VMEM_ALLOC), 0);
	vmem_destroy(sub);
}

/* ---- kmem_cache_create's arguments ---- */

static void
test_bad_creates(void)
{
	vmem_t *ids = vmem_create("bad_ids", P(0x1000), 1 << 16, 8, NULL,
	    NULL, NULL, 0, VMC_IDENTIFIER);
	vmem_t *sub = private_arena("bad_sub", 64);
	const struct {
		const char *name;
		size_t size, align;
		vmem_t *vmp;
		int cflags;
		const char *why;
	} bad[] = {
		{ NULL, 64, 0, NULL, 0, "kmem_cache_create(\"(null)\", bufsize "
		    "64, align 0, cflags 0x0): name is NULL" },
		{ "bad_size", 0, 0, NULL, 0, "kmem_cache_create(\"bad_size\", "
		    "bufsize 0, align 0, cflags 0x0): bufsize is 0" },
		{ "bad_huge", SIZE_MAX / 2, 0, NULL, 0, "bufsize is too large" },
		{ "bad_align3", 64, 3, NULL, 0, "kmem_cache_create(\"bad_align3\","
		    " bufsize 64, align 3, cflags 0x0): align is not a power of "
		    "two" },
		{ "bad_align24", 64, 24, NULL, 0, "align is not a power of two" },
		{ "bad_excl", 64, 0, NULL, KMC_NOHASH | KMC_NOTOUCH,
		    "KMC_NOHASH and KMC_NOTOUCH exclude each other" },
		{ "bad_excl_ids", 24, 8, ids, KMC_NOHASH,
		    "KMC_NOHASH and KMC_NOTOUCH exclude each other" },
		{ "bad_bit10", 64, 0, NULL, 0x10,
		    "cflags has bits that are not KMC_* or KMF_* flags" },
		{ "bad_internal", 64, 0, NULL, 0x200, "cflags has bits" },
		{ "bad_high", 64, 0, NULL, (int)0x40000000, "cflags has bits" },
		{ "bad_sign", 64, 0, NULL, INT32_MIN, "cflags has bits" },
		{ "bad_bigalign", 64, 8192, NULL, 0,
		    "align is larger than the arena's quantum" },
		{ "bad_ids_align", 24, 16, ids, 0,
		    "align is larger than the arena's quantum" },
		{ "bad_sub_align", 64, 128, sub, 0,
		    "align is larger than the arena's quantum" },
		{ "bad_sub_nohash", 64, 0, sub, KMC_NOHASH,
		    "KMC_NOHASH needs an arena of whole pages" },
		{ "bad_qcache", 64, 0, sub, KMC_QCACHE,
		    "KMC_QCACHE is for vmem's own quantum caches" },
	};
	for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++) {
		kmem_cache_t *cp = (kmem_cache_t *)1;
		CHECK_REPORT(cp = kmem_cache_create(bad[i].name, bad[i].size,
		    bad[i].align, NULL, NULL, NULL, NULL, bad[i].vmp,
		    bad[i].cflags), bad[i].why);
		CHECK(cp == NULL);
		if (bad[i].name != NULL)
			CHECK_EQ(table_inuse(bad[i].name), -1);
	}

	/* Failed creations use up nothing: a full table of caches is still
	 * there to be had, and no more. */
	enum { MAX = 4096 };
	static kmem_cache_t *made[MAX];
	size_t n = 0;
	for (;;) {
		CHECK(n < MAX);
		kmem_cache_t *cp = NULL;
		check_reports.count = 0;
		cp = kmem_cache_create("many", 8, 0, NULL, NULL, NULL, NULL,
		    NULL, 0);
		if (cp == NULL)
			break;
		CHECK_EQ(check_reports.count, 0);
		made[n++] = cp;
	}
	check_report_expected(__FILE__, __LINE__, "the 4097th cache",
	    KMEM_REPORT_ERROR, "kmem_cache_create(\"many\"): already 4096 "
	    "caches, the most there can be");
	CHECK(n > MAX / 2);
	/* Each of them works, and they all go away. */
	for (size_t i = 0; i < n; i += 97) {
		void *b = kmem_cache_alloc(made[i], KM_SLEEP);
		CHECK(b != NULL);
		kmem_cache_free(made[i], b);
	}
	for (size_t i = 0; i < n; i++)
		CHECK_NO_REPORT(kmem_cache_destroy(made[i]));
	kmem_cache_t *cp = create("after_many", 64, 0, NULL, NULL, 0);
	kmem_cache_destroy(cp);
	vmem_destroy(sub);
	vmem_destroy(ids);
}

/* ---- destroying a cache with buffers outstanding ---- */

static void
check_leaky_destroy(const char *name, size_t size, int cflags)
{
	vmem_t *arena = private_arena(check_fmt("%s_arena", name), 4096);
	counts_t c = { .magic = 0x1eaced };
	kmem_cache_t *cp = create(name, size, 0, &c, arena, cflags);
	enum { N = 40, KEEP = 3 };
	unsigned char *b[N];
	for (int i = 0; i < N; i++)
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
	/* Free all but KEEP; some of them stay in this thread's magazines. */
	for (int i = KEEP; i < N; i++)
		kmem_cache_free(cp, b[i]);
	kmem_cache_stats_t st = stats_of(cp);
	CHECK_EQ(st.buf_inuse, KEEP);

	CHECK_REPORT(kmem_cache_destroy(cp), check_fmt("kmem_cache_destroy(\"%s\"): "
	    "%d buffers never freed; leaked", name, KEEP));
	/* The freed ones were destructed, the leaked ones were not. */
	CHECK_EQ(c.destructed, c.constructed - KEEP);
	CHECK_EQ(c.foreign, 0);
	/* Their memory stays allocated: still ours to write ... */
	CHECK(vmem_size(arena, VMEM_ALLOC) >= st.slab_size);
	CHECK(vmem_size(arena, VMEM_ALLOC) <= KEEP * st.slab_size);
	for (int i = 0; i < KEEP; i++)
		memset(b[i], 0x11, size);
	/* ... and no cache will take them back or hand them out. */
	for (int i = 0; i < KEEP; i++)
		CHECK_REPORT(kmem_free(b[i], size), "not a buffer of any cache");
	CHECK_REPORT(vmem_destroy(arena), "never freed");
}

static void
test_destroy_with_outstanding_buffers(void)
{
	check_leaky_destroy("leaky_small", 100, 0);
	check_leaky_destroy("leaky_big", 5000, 0);
	check_leaky_destroy("leaky_nomag", 64, KMC_NOMAGAZINE);
	check_leaky_destroy("leaky_debug", 64, KMF_REDZONE);

	kmem_cache_t *cp = create("leaky_one", 64, 0, NULL, NULL, 0);
	void *b = kmem_cache_alloc(cp, KM_SLEEP);
	(void) b;
	CHECK_REPORT(kmem_cache_destroy(cp), "kmem_cache_destroy(\"leaky_one\"): "
	    "1 buffer never freed; leaked");
}

/* ---- KM_PANIC ---- */

static void
check_panic(const char *name, size_t size, int cflags)
{
	counts_t c = { .magic = 0x9a41c, .fail = true };
	kmem_cache_t *cp = create(name, size, 0, &c, NULL, cflags);
	void *b = NULL;
	CHECK_NO_REPORT(b = kmem_cache_alloc(cp, KM_NOSLEEP));
	CHECK(b == NULL);
	CHECK_REPORT(b = kmem_cache_alloc(cp, KM_PANIC), check_fmt("kmem_cache_alloc("
	    "\"%s\"): cannot satisfy mandatory allocation (KM_PANIC)", name));
	CHECK(b == NULL);
	/* The constructor never sees KM_PANIC. */
	CHECK_EQ(c.last_kmflag & KM_PANIC, 0);
	CHECK_REPORT(b = kmem_cache_alloc(cp, KM_PANIC | KM_NOSLEEP),
	    "(KM_PANIC)");
	CHECK(b == NULL);
	CHECK_EQ(c.last_kmflag, KM_NOSLEEP);

	kmem_cache_stats_t st = stats_of(cp);
	CHECK_EQ(st.alloc_fail, 3);
	CHECK_EQ(st.alloc, 0);
	CHECK_EQ(st.buf_inuse, 0);
	CHECK_EQ(st.slab_alloc, st.slab_free);
	CHECK_EQ(c.constructed, 0);
	CHECK_EQ(c.destructed, 0);

	/* Once the constructor works again, so does the cache. */
	c.fail = false;
	CHECK_NO_REPORT(b = kmem_cache_alloc(cp, KM_PANIC));
	CHECK(b != NULL);
	kmem_cache_free(cp, b);
	CHECK_NO_REPORT(kmem_cache_destroy(cp));
	CHECK_EQ(c.constructed, 1);
	CHECK_EQ(c.destructed, 1);
}

static void
test_km_panic(void)
{
	check_panic("panicky", 64, 0);
	check_panic("panicky_nomag", 64, KMC_NOMAGAZINE);
	check_panic("panicky_big", 5000, 0);
	check_panic("panicky_debug", 64, KMF_REDZONE);
}

/* kmem_alloc beyond what the system can give: one failure, one report. */
static void
test_km_panic_oversize(void)
{
	void *p = (void *)1;
	size_t huge = (size_t)1 << 60;
	CHECK_NO_REPORT(p = kmem_alloc(huge, KM_NOSLEEP));
	CHECK(p == NULL);
	CHECK_REPORT(p = kmem_alloc(huge, KM_NOSLEEP | KM_PANIC),
	    "cannot satisfy mandatory");
	CHECK(p == NULL);
}

/* ---- the update interval ---- */

static void
test_update_interval_zero(void)
{
	CHECK_REPORT(kmem_update_interval_set(0), "kmem_update_interval_set(0): "
	    "the interval must be at least 1 ns");
	CHECK_NO_REPORT(kmem_update_interval_set(1000000000));
	CHECK_NO_REPORT(kmem_update_now());
}

/* ---- the default handler ---- */

static void
free_to_wrong_cache(void)
{
	kmem_report_handler_set(NULL, NULL, NULL);
	kmem_cache_t *a = kmem_cache_create("abort_a", 32, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	kmem_cache_t *b = kmem_cache_create("abort_b", 32, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	kmem_cache_free(b, kmem_cache_alloc(a, KM_SLEEP));
}

static void
test_default_handler_aborts(void)
{
	check_child_aborts(free_to_wrong_cache, "libkmem: kmem_cache_free("
	    "\"abort_b\", ");
	check_child_aborts(free_to_wrong_cache, "the buffer belongs to cache "
	    "\"abort_a\"");
}

/* ---- the runner ---- */

static const check_test_t tests[] = {
	CHECK_TEST(test_wrong_cache),
	CHECK_TEST(test_interior_pointers),
	CHECK_TEST(test_slab_slack_is_no_buffer),
	CHECK_TEST(test_never_allocated),
	CHECK_TEST(test_kmem_free_wrong_size),
	CHECK_TEST(test_kmem_free_wrong_side_of_maxbuf),
	CHECK_TEST(test_kmem_free_size_zero),
	CHECK_TEST(test_debug_double_free),
	CHECK_TEST(test_redzone_overrun),
	CHECK_TEST(test_hash_double_free),
	CHECK_TEST(test_hash_wrong_cache),
	CHECK_TEST(test_notouch_bad_frees),
	CHECK_TEST(test_identifier_cache_with_magazines),
	CHECK_TEST(test_identifier_cache_bad_frees),
	CHECK_TEST(test_debug_hash_wrong_cache),
	CHECK_TEST(test_bad_creates),
	CHECK_TEST(test_destroy_with_outstanding_buffers),
	CHECK_TEST(test_km_panic),
	CHECK_TEST(test_km_panic_oversize),
	CHECK_TEST(test_update_interval_zero),
	CHECK_TEST(test_default_handler_aborts),
};

int
main(int argc, char **argv)
{
	bool inline_run = false;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--inline") == 0)
			inline_run = true;

	int failed = 0;
	for (size_t i = 0; i < sizeof (tests) / sizeof (tests[0]); i++) {
		const check_test_t *t = &tests[i];
		if (!check_test_selected(argc, argv, t->name))
			continue;
		if (inline_run) {
			check_run_test(t);
			printf("ok   %s\n", t->name);
			continue;
		}
		fflush(NULL);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			check_run_test(t);
			fflush(NULL);
			_exit(0);
		}
		int status;
		CHECK(waitpid(pid, &status, 0) == pid);
		bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		printf("%s %s", ok ? "ok  " : "FAIL", t->name);
		if (!ok && WIFSIGNALED(status))
			printf(" (signal %d)", WTERMSIG(status));
		printf("\n");
		fflush(stdout);
		failed += !ok;
	}
	if (failed != 0) {
		printf("kmem_errors_test: %d test(s) failed\n", failed);
		return (1);
	}
	printf("kmem_errors_test: all passed\n");
	return (0);
}
