/*
 * What a cache keeps and what it gives back (issue 16, parts 2 and 3):
 * - the depot's full-list ceiling holds for caches whose rounds are just
 *   memory (kmem_alloc's and malloc's classes), not for caches with a
 *   constructor, whose constructed objects survive a burst of frees;
 * - pages wholly free inside a slab still in use leave the resident set,
 *   and a buffer allocated later in such a page is fresh: its debug
 *   patterns and tags are right, its constructor runs as for any buffer
 *   taken from a slab.
 * - the depots' ceiling is one for all caches, and a thread's magazines
 *   hold a bounded number of bytes;
 * - the slack caches keep goes back at an update pass that finds them
 *   idle (what kmem_default's quantum caches keep: kmem_churn_test.c).
 * Residency is read with mincore(); the counters with kmem_cache_stats().
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kmem/debug.h>
#include <kmem/kmem.h>

#include "check.h"
#include "kmem/kmem_query.h"        /* kmem_cache_of(): a class's cache */
#include "vmem/vmem_impl.h"         /* kmem_default's quantum caches */

static kmem_cache_stats_t
stats_of(kmem_cache_t *cp)
{
	kmem_cache_stats_t st;
	CHECK_EQ(kmem_cache_stats(cp, &st), 0);
	return (st);
}

/* ---- part 2: constructed objects survive a burst of frees ---- */

typedef struct counts {
	long constructed;
	long destructed;
} counts_t;

static int
construct(void *buf, void *private, int kmflag)
{
	(void) kmflag;
	memset(buf, 0xc5, 64);
	((counts_t *)private)->constructed++;
	return (0);
}

static void
destruct(void *buf, void *private)
{
	CHECK(((unsigned char *)buf)[0] == 0xc5);
	((counts_t *)private)->destructed++;
}

/* Without a constructor a round is raw memory: nothing to check. */
static void
count_destruct(void *buf, void *private)
{
	(void) buf;
	((counts_t *)private)->destructed++;
}

enum { BURST = 20000 };
static void *bufs[BURST];

/*
 * 20,000 objects of 256 bytes (5 MB, five times the depot's ceiling),
 * all freed, all allocated again: every one comes back constructed from
 * the magazines and the depot, so no destructor runs and (but for the
 * few noted below) no constructor a second time.
 */
static void
test_constructed_objects_survive_a_burst(void)
{
	counts_t c = { 0 };
	kmem_cache_t *cp = kmem_cache_create("burst", 256, 0, construct,
	    destruct, NULL, &c, NULL, 0);
	for (int i = 0; i < BURST; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	CHECK_EQ(c.constructed, BURST);
	for (int i = 0; i < BURST; i++)
		kmem_cache_free(cp, bufs[i]);
	CHECK_EQ(c.destructed, 0);
	CHECK_EQ(stats_of(cp).depot_trim, 0);
	for (int i = 0; i < BURST; i++) {
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
		CHECK(((unsigned char *)bufs[i])[63] == 0xc5);
	}
	/* All but the few in the thread's own magazines when they grew:
	 * those wait, at the old size, for the next update to destroy them
	 * (two magazines per growth: 2 * (7 + 15 + 31 + 47 + 63 + 95) = 516
	 * objects at most, if one ran meanwhile). */
	CHECK(c.constructed - BURST <= BURST / 20);
	for (int i = 0; i < BURST; i++)
		kmem_cache_free(cp, bufs[i]);
	/* The reaper, not the ceiling, gives them back. */
	kmem_cache_reap_now(cp);
	CHECK_EQ(c.destructed, c.constructed);
	kmem_cache_destroy(cp);

	/* A destructor alone makes rounds more than memory too. */
	c = (counts_t){ 0 };
	cp = kmem_cache_create("burst_dtor", 256, 0, NULL, count_destruct,
	    NULL, &c, NULL, 0);
	for (int i = 0; i < BURST; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (int i = 0; i < BURST; i++)
		kmem_cache_free(cp, bufs[i]);
	CHECK_EQ(c.destructed, 0);
	kmem_cache_destroy(cp);
}

/*
 * kmem_alloc's classes (malloc's too) keep the ceiling: the same burst
 * leaves at most the depots' ceiling of rounds on the class's full list.
 */
static void
test_classes_obey_the_ceiling(void)
{
	size_t size = 320;      /* a class few other tests touch */
	for (int i = 0; i < BURST; i++)
		bufs[i] = kmem_alloc(size, KM_SLEEP);
	kmem_cache_t *cp = kmem_cache_of(bufs[0]);
	CHECK(cp != NULL);
	for (int i = 0; i < BURST; i++)
		kmem_free(bufs[i], size);
	kmem_cache_stats_t st = stats_of(cp);
	CHECK(st.depot_trim > 0);
	CHECK(st.full_magazines * st.magazine_size * st.chunk_size <=
	    kmem_depot_ceiling());
}

/*
 * The ceiling is one for all the caches: a burst of frees across 25
 * classes, 400 KiB each (10 MiB in all, each class well under the
 * ceiling), leaves at most the ceiling's worth of rounds in all their
 * depots together, by the caches' own statistics as by the depots' sum.
 * The ceiling is read at the peak, before the frees: it follows the
 * slabs (an eighth of them, at least KMEM_DEPOT_FULL_MIN), which the
 * frees bring down.
 */
enum { CLASSES = 25 };

static void
test_depots_share_one_ceiling(void)
{
	kmem_cache_t *caches[CLASSES];
	size_t sizes[CLASSES];
	unsigned counts[CLASSES];
	unsigned n = 0;
	for (int k = 0; k < CLASSES; k++) {
		sizes[k] = 1100 + (size_t)k * 600;      /* 1.1 .. 15.5 KiB */
		counts[k] = (unsigned)((400u << 10) / sizes[k]);
		for (unsigned i = 0; i < counts[k]; i++)
			bufs[n++] = kmem_alloc(sizes[k], KM_SLEEP);
		caches[k] = kmem_cache_of(bufs[n - 1]);
		CHECK(caches[k] != NULL);
	}
	uint64_t ceiling = kmem_depot_ceiling();
	CHECK(ceiling >= KMEM_DEPOT_FULL_MIN);
	CHECK(ceiling < (uint64_t)CLASSES * (400u << 10) / 2);
	n = 0;
	for (int k = 0; k < CLASSES; k++)
		for (unsigned i = 0; i < counts[k]; i++)
			kmem_free(bufs[n++], sizes[k]);
	uint64_t held = 0;
	for (int k = 0; k < CLASSES; k++) {
		if (k > 0 && caches[k] == caches[k - 1])
			continue;
		kmem_cache_stats_t st = stats_of(caches[k]);
		held += st.full_magazines * st.magazine_size * st.chunk_size;
	}
	CHECK(held > 0);
	CHECK(held <= ceiling);
	CHECK(kmem_depot_full_bytes() <= ceiling);
}

/*
 * A thread's magazines hold at most KMEM_MAGAZINE_BYTES each: batches
 * that would grow a class's magazines to 143 rounds (illumos's table
 * allows 67 KiB for 480-byte buffers) stop at the bound, and after the
 * batch is freed the thread holds at most two magazines' worth (the
 * update pass first destroys the old-size magazines and the depot's
 * rounds are counted out).
 */
static void
test_thread_magazines_are_bounded(void)
{
	static const size_t sizes[] = { 200, 480, 1000 };
	enum { B = 300, ROUNDS = 6 };
	for (size_t k = 0; k < sizeof (sizes) / sizeof (sizes[0]); k++) {
		for (int r = 0; r < ROUNDS; r++) {
			for (int i = 0; i < B; i++)
				bufs[i] = kmem_alloc(sizes[k], KM_SLEEP);
			for (int i = 0; i < B; i++)
				kmem_free(bufs[i], sizes[k]);
		}
		bufs[0] = kmem_alloc(sizes[k], KM_SLEEP);
		kmem_cache_t *cp = kmem_cache_of(bufs[0]);
		kmem_free(bufs[0], sizes[k]);
		kmem_update_now();
		kmem_cache_stats_t st = stats_of(cp);
		CHECK(st.magazine_resize > 0);
		CHECK(st.magazine_size * st.chunk_size <= KMEM_MAGAZINE_BYTES);
		uint64_t depot = st.full_magazines * st.magazine_size;
		CHECK(st.buf_constructed >= depot);
		CHECK((st.buf_constructed - depot) * st.chunk_size <=
		    2 * KMEM_MAGAZINE_BYTES);
	}
}

/* ---- part 3: free pages inside slabs in use go back ---- */

static size_t page_size;

/* How many of the pages of [p, p + size) are resident. */
static size_t
resident_pages(const void *p, size_t size)
{
	uintptr_t start = (uintptr_t)p & ~(page_size - 1);
	size_t n = ((uintptr_t)p + size - start + page_size - 1) / page_size;
	unsigned char vec[64];
	CHECK(n <= sizeof (vec));
	CHECK_EQ(mincore((void *)start, n * page_size, vec), 0);
	size_t resident = 0;
	for (size_t i = 0; i < n; i++)
		resident += vec[i] & 1;
	return (resident);
}

/* The whole pages inside [p, p + size) past its first: those that go. */
static size_t
inner_pages(const void *p, size_t size, uintptr_t *first)
{
	uintptr_t start = ((uintptr_t)p + page_size) & ~(page_size - 1);
	uintptr_t end = ((uintptr_t)p + size) & ~(page_size - 1);
	*first = start;
	return (end > start ? (end - start) / page_size : 0);
}

enum { SLABS = 16 };

/*
 * A cache of buffers of two and a half pages, two to a slab, no magazines (frees go
 * straight to the slabs): fill SLABS slabs, write every byte, free all
 * but the first buffer of each slab.  The pages inside the freed buffers
 * (all but the one holding a buffer's first word, which keeps its free
 * mark) leave the resident set, the cache says how much went, the kept
 * buffers keep their bytes, and buffers allocated again in those pages
 * are constructed (or, without a constructor, usable) as usual.
 */
static void
test_free_pages_in_used_slabs_go_back(bool with_constructor)
{
	counts_t c = { 0 };
	size_t size = 5 * page_size / 2;        /* two to a 5-page slab */
	kmem_cache_t *cp = kmem_cache_create("give_back", size, 0,
	    with_constructor ? construct : NULL,
	    with_constructor ? destruct : NULL, NULL, &c, NULL,
	    KMC_NOMAGAZINE);
	kmem_cache_stats_t st = stats_of(cp);
	unsigned per_slab = st.buf_per_slab;
	CHECK(per_slab >= 2 && st.slab_size > page_size);
	unsigned n = SLABS * per_slab;
	for (unsigned i = 0; i < n; i++) {
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
		/* The constructed first 64 bytes stay as they are. */
		memset((char *)bufs[i] + 64, (int)(i & 0x7f) | 1, size - 64);
	}
	CHECK_EQ(stats_of(cp).slab_create, SLABS);
	/* Buffers of one slab are neighbours: the first of each stays. */
	size_t candidates = 0;
	for (unsigned i = 0; i < n; i++) {
		if (i % per_slab == 0)
			continue;
		uintptr_t first;
		candidates += inner_pages(bufs[i], size, &first);
		kmem_cache_free(cp, bufs[i]);
	}
	st = stats_of(cp);
	CHECK_EQ(st.slab_destroy, 0);
	CHECK(st.mem_purged > 0);
	CHECK_EQ(kmem_debug_verify(), 0);
	CHECK(st.purge_count * page_size >= st.mem_purged);
	/* All but the first frees gave their inner pages back: the slab
	 * layer keeps a sixteenth of its slabs' bytes resident when free,
	 * here an eighth of what was freed. */
	size_t gone = 0;
	for (unsigned i = 0; i < n; i++) {
		uintptr_t first;
		size_t inner = inner_pages(bufs[i], size, &first);
		if (i % per_slab == 0) {
			uintptr_t at = (uintptr_t)bufs[i];
			CHECK_EQ(resident_pages(bufs[i], size),
			    ((at + size + page_size - 1) / page_size) -
			    at / page_size);
			for (size_t b = 64; b < size; b++)
				CHECK_EQ(((unsigned char *)bufs[i])[b],
				    (i & 0x7f) | 1);
		} else if (inner > 0) {
			gone += inner - resident_pages((void *)first,
			    inner * page_size);
		}
	}
	CHECK(gone * 3 >= candidates * 2);
	CHECK(st.mem_purged >= gone * page_size);

	/* Allocated again: constructed (a constructor's bytes), writable. */
	long constructed = c.constructed;
	for (unsigned i = 0; i < n; i++) {
		if (i % per_slab == 0)
			continue;
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
		if (with_constructor)
			for (size_t b = 0; b < 64; b++)
				CHECK_EQ(((unsigned char *)bufs[i])[b], 0xc5);
		memset((char *)bufs[i] + 64, 0x5a, size - 64);
	}
	if (with_constructor)
		CHECK_EQ(c.constructed - constructed, n - SLABS);
	CHECK_EQ(stats_of(cp).mem_purged, 0);
	CHECK_EQ(stats_of(cp).slab_create, SLABS);
	for (unsigned i = 0; i < n; i++)
		kmem_cache_free(cp, bufs[i]);
	kmem_cache_destroy(cp);
}

static int
by_address(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a;
	uintptr_t y = (uintptr_t)*(void *const *)b;
	return (x < y ? -1 : x > y);
}

/*
 * Free every other buffer, in address order, of n of size bytes from
 * alloc, give back what the magazines hold (kmem_reap()), and return how
 * many of the freed buffers' inner pages left the resident set; *inner
 * says how many there were.  The kept ones keep their bytes.
 */
static size_t
free_every_other(void *(*alloc)(size_t), void (*release)(void *, size_t),
    size_t size, unsigned n, size_t *inner)
{
	for (unsigned i = 0; i < n; i++) {
		bufs[i] = alloc(size);
		memset(bufs[i], 0x77, size);
	}
	qsort(bufs, n, sizeof (bufs[0]), by_address);
	*inner = 0;
	for (unsigned i = 1; i < n; i += 2) {
		uintptr_t first;
		*inner += inner_pages(bufs[i], size, &first);
		release(bufs[i], size);
	}
	kmem_reap();
	size_t gone = 0;
	for (unsigned i = 0; i < n; i++) {
		uintptr_t first;
		size_t pages = inner_pages(bufs[i], size, &first);
		if (i % 2 == 0) {
			for (size_t b = 0; b < size; b += 512)
				CHECK_EQ(((unsigned char *)bufs[i])[b], 0x77);
			release(bufs[i], size);
		} else if (pages > 0) {
			gone += pages - resident_pages((void *)first,
			    pages * page_size);
		}
	}
	return (gone);
}

static void *
class_alloc(size_t size)
{
	return (kmem_alloc(size, KM_SLEEP));
}

static void
class_free(void *buf, size_t size)
{
	kmem_free(buf, size);
}

static void *
quantum_alloc(size_t size)
{
	return (vmem_alloc(kmem_default_arena(), size, VM_SLEEP));
}

static void
quantum_free(void *buf, size_t size)
{
	vmem_free(kmem_default_arena(), buf, size);
}

/*
 * malloc's classes and kmem_default's quantum caches give back too: a
 * 9 KiB class (two buffers to a 5-page slab) and the 2-page quantum cache
 * (64 buffers to a slab), every other buffer freed and the magazines
 * reaped into the slabs.  Of the freed buffers' pages, those in the
 * thread's own magazines stay, and a sixteenth of the slabs' bytes may stay
 * resident while free (kmem_slab_purge.c): about three in four go here,
 * under valgrind (whose pace grows the magazines differently) two in five,
 * and fewer when the magazines happen to hold more: at least one in eight,
 * none without the give-back.
 */
static void
test_classes_and_quantum_caches_give_back(void)
{
	size_t inner;
	size_t gone = free_every_other(class_alloc, class_free, 9216, 512,
	    &inner);
	CHECK(inner > 0 && gone * 8 >= inner);
	gone = free_every_other(quantum_alloc, quantum_free, 2 * page_size,
	    512, &inner);
	CHECK(inner > 0 && gone * 8 >= inner);
}

/*
 * The slack a cache keeps resident for reuse goes back when no reuse
 * comes: a cache of two-and-a-half-page buffers, two to a slab, no
 * magazines, SLABS slabs written, all but the first buffer of each slab
 * freed.  The frees give back inner pages only down to the slack (a
 * sixteenth of the slabs); an update pass that finds the slab layer has
 * handed out nothing since the last one sweeps the rest.
 */
static void
test_idle_slack_goes_back_at_the_update(void)
{
	size_t size = 5 * page_size / 2;
	kmem_cache_t *cp = kmem_cache_create("idle_slack", size, 0, NULL,
	    NULL, NULL, NULL, NULL, KMC_NOMAGAZINE);
	unsigned per_slab = stats_of(cp).buf_per_slab;
	unsigned n = SLABS * per_slab;
	for (unsigned i = 0; i < n; i++) {
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
		memset(bufs[i], 0x3c, size);
	}
	for (unsigned i = 0; i < n; i++)
		if (i % per_slab != 0)
			kmem_cache_free(cp, bufs[i]);
	size_t before = 0, after = 0;
	for (unsigned i = 0; i < n; i++) {
		uintptr_t first;
		size_t inner = inner_pages(bufs[i], size, &first);
		if (i % per_slab != 0 && inner > 0)
			before += resident_pages((void *)first,
			    inner * page_size);
	}
	CHECK(before > 0);      /* the slack */
	/* The first pass opens the interval the second finds idle. */
	kmem_update_now();
	kmem_update_now();
	for (unsigned i = 0; i < n; i++) {
		uintptr_t first;
		size_t inner = inner_pages(bufs[i], size, &first);
		if (i % per_slab == 0) {
			CHECK_EQ(((unsigned char *)bufs[i])[size - 1], 0x3c);
		} else if (inner > 0) {
			after += resident_pages((void *)first,
			    inner * page_size);
		}
	}
	CHECK_EQ(after, 0);
	for (unsigned i = 0; i < n; i += per_slab)
		kmem_cache_free(cp, bufs[i]);
	kmem_cache_destroy(cp);
}

/*
 * Under KMEM_DEBUG's default checks (the freed pattern, redzone tags,
 * audit): a buffer allocated in pages given back is checked as a freed,
 * untouched one; the free buffers whose pages went pass kmem_debug_verify().
 */
static void
test_debug_caches_give_back(void)
{
	char err[128];
	CHECK_EQ(kmem_debug_configure("default", NULL, err, sizeof (err)), 0);
	CHECK(kmem_debug_flags() & KMF_DEADBEEF);
	test_free_pages_in_used_slabs_go_back(false);
	test_free_pages_in_used_slabs_go_back(true);
	CHECK_EQ(kmem_debug_verify(), 0);
}

int
main(int argc, char **argv)
{
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	if (argc > 1 && strcmp(argv[1], "debug") == 0) {
		test_debug_caches_give_back();
		printf("kmem_give_back_test debug: all passed\n");
		return (0);
	}
	/* No update pass during the test: what the caches keep is the
	 * ceiling's doing and the working set's, not the clock's. */
	kmem_update_interval_set(3600ull * 1000 * 1000 * 1000);
	kmem_update_now();      /* the first pass, due at once, is done */
	test_constructed_objects_survive_a_burst();
	test_classes_obey_the_ceiling();
	test_depots_share_one_ceiling();
	test_thread_magazines_are_bounded();
	test_free_pages_in_used_slabs_go_back(false);
	test_free_pages_in_used_slabs_go_back(true);
	test_classes_and_quantum_caches_give_back();
	test_idle_slack_goes_back_at_the_update();
	printf("kmem_give_back_test: all passed\n");
	return (0);
}
