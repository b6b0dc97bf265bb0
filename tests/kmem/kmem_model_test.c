/*
 * kmem_model_test: kmem's caches, kmem_alloc and vmem's quantum caches
 * against a reference model, over a million and more random operations.
 *
 *	kmem_model_test [--ops N] [--seed S]
 *
 * The seed is printed first; the same seed and N replay the same run.  A
 * failed check prints the seed, the step and the operation, then fails.
 *
 * The world: some twenty caches of fixed shapes chosen to reach every
 * layout (sizes 1 to 70000, alignments up to 4096, in-slab and hashed
 * slabs, KMC_NOHASH for large buffers, KMC_NOMAGAZINE, KMC_NOTOUCH in
 * memory and on an identifier arena, debug caches with a tag, caches on
 * private arenas of a page and of less than a page, with and without
 * constructors) plus a few of random shape that are reshaped each time
 * they are destroyed and created again; kmem_alloc/kmem_zalloc/kmem_free
 * of random sizes up to beyond the largest class; vmem_alloc/vmem_xalloc
 * on an arena with quantum caches.  Now and then: kmem_cache_reap_now,
 * kmem_reap, kmem_update_now, destroying and recreating a cache (or the
 * vmem arena), and draining everything.
 *
 * The model knows every live buffer.  What is checked:
 * - no buffer is handed out while it (or any byte of it) is live: one
 *   interval set per address space (memory, identifiers, the vmem arena);
 * - alignment (the cache's; kmem_alloc's 8, 64 or a page by class; the
 *   arena quantum), identifiers inside their arena;
 * - contents survive: a pattern written after the allocation is intact at
 *   the free; objects of caches with a constructor arrive in their
 *   constructed state, which the destructor finds again; kmem_zalloc zeroes;
 * - constructors and destructors balance: constructed - destructed equals
 *   the buffers outside their slabs (live + cached in magazines; only the
 *   live ones for a debug cache, whose magazines hold destructed buffers),
 *   and after kmem_cache_reap_now of a cache with nothing live they are
 *   equal;
 * - statistics: alloc and free counts, buf_inuse = live, no failures, the
 *   layout (chunk size, magazine size) documented in docs/kmem.md, slabs
 *   and memory agree, a private arena holds exactly the cache's slabs, and
 *   after a reap or an update no empty slab is left;
 * - kmem_table's "in use" of every kmem_alloc class is the model's count;
 * - after freeing everything and reaping, every buffer is back: the cache
 *   has no slab, its private arena has nothing allocated, and destroying
 *   the vmem arena reports no leak;
 * - reclaim callbacks run once per kmem_reap; no operation reports anything.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kmem/kmem.h>

#include "check.h"
#include "base/poison.h"

#define DEFAULT_OPS     1200000
#define PHASE_OPS       20000   /* operations between grow and shrink */
#define CHECK_EVERY     50000   /* full statistics check */
#define DRAINS          3       /* times everything is freed, per run */

#define NFIXED          17
#define NRANDOM         8
#define NCACHES         (NFIXED + NRANDOM)

#define CACHE_BYTES     (2u << 20)      /* live bytes per cache, at most */
#define CACHE_LIVE      1500
#define KA_LIVE         3000
#define KA_BYTES        (24u << 20)
#define QC_LIVE         4000

#define IDS_BASE        0x100000
#define IDS_SIZE        (1u << 22)
#define QC_BASE         ((uintptr_t)0x40000000)
#define QC_SIZE         ((size_t)1 << 28)
#define QC_QUANTUM      64
#define QC_MAX          (16 * QC_QUANTUM)

#define SAMPLE_EDGE     64      /* bytes checked at each end of a buffer */
#define SAMPLE_STEP     509     /* and one in this many between */

/* ---- failing with context ---- */

static uint64_t g_seed;
static uint64_t g_step;
static char g_op[160];

static void
model_failed(const char *file, int line, const char *what)
{
	fprintf(stderr, "kmem_model_test: seed %" PRIu64 ", step %" PRIu64
	    ", operation: %s\n", g_seed, g_step, g_op);
	check_failed(file, line, what);
}

#define MCHECK(cond) do {                                               \
	if (!(cond))                                                    \
		model_failed(__FILE__, __LINE__, #cond);                \
} while (0)

#define MCHECK_EQ(a, b) do {                                            \
	uintmax_t m_a_ = (uintmax_t)(a), m_b_ = (uintmax_t)(b);         \
	if (m_a_ != m_b_) {                                             \
		char m_msg_[512];                                       \
		snprintf(m_msg_, sizeof (m_msg_), "%s == %s (%ju != %ju)", \
		    #a, #b, m_a_, m_b_);                                \
		model_failed(__FILE__, __LINE__, m_msg_);               \
	}                                                               \
} while (0)

static void
set_op(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	vsnprintf(g_op, sizeof (g_op), f, ap);
	va_end(ap);
}

/* Nothing may be reported unless a check expects it. */
static void
check_quiet(void)
{
	if (check_reports.count != 0) {
		char msg[8192 + 64];
		snprintf(msg, sizeof (msg), "unexpected report: \"%s\"",
		    check_reports.last);
		model_failed(__FILE__, __LINE__, msg);
	}
}

static uint64_t rng;

static uint64_t
rnd(uint64_t n)
{
	return (check_random(&rng) % n);
}

static size_t
roundup(size_t x, size_t a)
{
	return ((x + a - 1) / a * a);
}

/* A size from 1 to max, log-uniform. */
static size_t
rnd_size(size_t max)
{
	unsigned bits = 0;
	while (((size_t)1 << bits) < max)
		bits++;
	size_t top = (size_t)1 << rnd(bits + 1);
	size_t s = 1 + rnd(top);
	return (s > max ? max : s);
}

/* ---- interval sets: a treap of disjoint [start, end) by start ---- */

typedef struct inode {
	uintptr_t start;
	uintptr_t end;
	uint64_t prio;
	int left;
	int right;
} inode_t;

typedef struct iset {
	const char *name;
	inode_t *node;
	int cap;
	int root;
	int free_head;
	size_t count;
} iset_t;

static int
iset_new_node(iset_t *s, uintptr_t start, uintptr_t end)
{
	if (s->free_head < 0) {
		int old = s->cap;
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->node = realloc(s->node, (size_t)s->cap * sizeof (inode_t));
		CHECK(s->node != NULL);
		for (int i = s->cap - 1; i >= old; i--) {
			s->node[i].left = s->free_head;
			s->free_head = i;
		}
	}
	int n = s->free_head;
	s->free_head = s->node[n].left;
	s->node[n] = (inode_t){ start, end, check_random(&rng), -1, -1 };
	return (n);
}

/* Split t into starts < key (*l) and starts >= key (*r). */
static void
iset_split(iset_t *s, int t, uintptr_t key, int *l, int *r)
{
	if (t < 0) {
		*l = *r = -1;
	} else if (s->node[t].start < key) {
		iset_split(s, s->node[t].right, key, &s->node[t].right, r);
		*l = t;
	} else {
		iset_split(s, s->node[t].left, key, l, &s->node[t].left);
		*r = t;
	}
}

static int
iset_merge(iset_t *s, int l, int r)
{
	if (l < 0)
		return (r);
	if (r < 0)
		return (l);
	if (s->node[l].prio > s->node[r].prio) {
		s->node[l].right = iset_merge(s, s->node[l].right, r);
		return (l);
	}
	s->node[r].left = iset_merge(s, l, s->node[r].left);
	return (r);
}

/* The interval with the greatest start below key, or -1. */
static int
iset_below(const iset_t *s, uintptr_t key)
{
	int t = s->root, best = -1;
	while (t >= 0) {
		if (s->node[t].start < key) {
			best = t;
			t = s->node[t].right;
		} else {
			t = s->node[t].left;
		}
	}
	return (best);
}

/* Add [start, end), which must overlap nothing live. */
static void
iset_add(iset_t *s, uintptr_t start, size_t len, const char *what)
{
	uintptr_t end = start + len;
	MCHECK(end > start);
	int b = iset_below(s, end);
	if (b >= 0 && s->node[b].end > start) {
		char msg[256];
		snprintf(msg, sizeof (msg), "%s: [%#jx, %#jx) handed out while "
		    "[%#jx, %#jx) is live in %s", what, (uintmax_t)start,
		    (uintmax_t)end, (uintmax_t)s->node[b].start,
		    (uintmax_t)s->node[b].end, s->name);
		model_failed(__FILE__, __LINE__, msg);
	}
	int l, r;
	iset_split(s, s->root, start, &l, &r);
	s->root = iset_merge(s, iset_merge(s, l, iset_new_node(s, start, end)),
	    r);
	s->count++;
}

static void
iset_remove(iset_t *s, uintptr_t start, size_t len)
{
	int l, m, r;
	iset_split(s, s->root, start, &l, &r);
	iset_split(s, r, start + 1, &m, &r);
	MCHECK(m >= 0 && s->node[m].left < 0 && s->node[m].right < 0);
	MCHECK(s->node[m].end == start + len);
	s->node[m].left = s->free_head;
	s->free_head = m;
	s->root = iset_merge(s, l, r);
	s->count--;
}

static iset_t mem_set = { .name = "memory", .root = -1, .free_head = -1 };
static iset_t ids_set = { .name = "identifiers", .root = -1,
	.free_head = -1 };
static iset_t qc_set = { .name = "the vmem arena", .root = -1,
	.free_head = -1 };

/* ---- patterns ---- */

/* The next byte to look at after i in a buffer of size bytes. */
static size_t
sample_next(size_t i, size_t size)
{
	if (i + 1 < SAMPLE_EDGE || i + 1 + SAMPLE_EDGE >= size)
		return (i + 1);
	size_t j = i + SAMPLE_STEP;
	return (j + SAMPLE_EDGE >= size ? size - SAMPLE_EDGE : j);
}

static uint8_t
pattern_byte(uint32_t seed, size_t i)
{
	return ((uint8_t)((seed >> ((i & 3) * 8)) + i + (i >> 8)));
}

static void
pattern_write(void *buf, size_t size, uint32_t seed)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < size; i = sample_next(i, size))
		p[i] = pattern_byte(seed, i);
}

static void
pattern_check(const void *buf, size_t size, uint32_t seed, const char *what)
{
	const uint8_t *p = buf;
	for (size_t i = 0; i < size; i = sample_next(i, size)) {
		if (p[i] != pattern_byte(seed, i)) {
			char msg[256];
			snprintf(msg, sizeof (msg), "%s %p: byte %zu of %zu is "
			    "%#x, written as %#x", what, buf, i, size, p[i],
			    pattern_byte(seed, i));
			model_failed(__FILE__, __LINE__, msg);
		}
	}
}

static void
fill_check(const void *buf, size_t size, uint8_t byte, const char *what)
{
	const uint8_t *p = buf;
	for (size_t i = 0; i < size; i = sample_next(i, size)) {
		if (p[i] != byte) {
			char msg[256];
			snprintf(msg, sizeof (msg), "%s %p: byte %zu of %zu is "
			    "%#x, not %#x", what, buf, i, size, p[i], byte);
			model_failed(__FILE__, __LINE__, msg);
		}
	}
}

static void
fill_write(void *buf, size_t size, uint8_t byte)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < size; i = sample_next(i, size))
		p[i] = byte;
}

/* ---- the caches ---- */

enum arena_kind {
	ARENA_DEFAULT,          /* kmem_default_arena() */
	ARENA_PRIVATE,          /* of its own, quantum a page */
	ARENA_SUBPAGE,          /* of its own, quantum 32: hashed, no page map */
	ARENA_IDS               /* the identifier arena */
};

typedef struct mbuf {
	uintptr_t addr;
	uint32_t seed;
} mbuf_t;

typedef struct mcache {
	/* The shape. */
	char name[VMEM_NAMELEN];
	size_t size;
	size_t align;
	int cflags;
	bool ctor;
	bool reclaim;
	enum arena_kind arena_kind;
	bool random_shape;

	/* What the shape means (docs/kmem.md). */
	bool touch;             /* ours to write (not identifiers) */
	bool debug;             /* a tag after each buffer */
	bool magazines;
	size_t chunk;
	unsigned magsize;
	uint8_t sig;            /* the constructed state */

	kmem_cache_t *cp;
	vmem_t *arena;          /* a private one, or NULL */

	mbuf_t *live;
	size_t nlive;
	size_t live_cap;
	uint64_t allocs;
	uint64_t frees;
	uint64_t constructed;
	uint64_t destructed;
	uint64_t reclaimed;
} mcache_t;

static mcache_t caches[NCACHES];
static vmem_t *ids_arena;
static unsigned ncreated;

static iset_t *
domain_of(const mcache_t *mc)
{
	return (mc->arena_kind == ARENA_IDS ? &ids_set : &mem_set);
}

static int
model_construct(void *buf, void *private, int kmflag)
{
	mcache_t *mc = private;
	MCHECK_EQ(kmflag & KM_PANIC, 0);
	if (mc->touch)
		memset(buf, mc->sig, mc->size);
	mc->constructed++;
	return (0);
}

static void
model_destruct(void *buf, void *private)
{
	mcache_t *mc = private;
	if (mc->touch)
		fill_check(buf, mc->size, mc->sig, "destructor: object");
	mc->destructed++;
	MCHECK(mc->destructed <= mc->constructed);
}

static void
model_reclaim(void *private)
{
	((mcache_t *)private)->reclaimed++;
}

static unsigned
magazine_rounds(size_t chunk)
{
	if (chunk <= 64)
		return (15);
	if (chunk <= 256)
		return (7);
	if (chunk <= 3200)
		return (3);
	return (1);
}

/* Is n one of the magazine sizes (kmem_depot.c's kmem_magtypes[])? */
static bool
is_magazine_size(unsigned n)
{
	static const unsigned sizes[] = { 1, 3, 7, 15, 31, 47, 63, 95, 143 };
	for (size_t i = 0; i < sizeof (sizes) / sizeof (sizes[0]); i++)
		if (sizes[i] == n)
			return (true);
	return (false);
}

/* The shapes everyone gets; then random ones. */
static const struct fixed_shape {
	const char *name;
	size_t size;
	size_t align;
	int cflags;
	bool ctor;
	bool reclaim;
	enum arena_kind arena;
} fixed[NFIXED] = {
	{ "m_8", 8, 0, 0, false, false, ARENA_DEFAULT },
	{ "m_1", 1, 0, 0, false, true, ARENA_DEFAULT },
	{ "m_24c", 24, 0, 0, true, false, ARENA_DEFAULT },
	{ "m_100a32c", 100, 32, 0, true, true, ARENA_DEFAULT },
	{ "m_200nm", 200, 0, KMC_NOMAGAZINE, true, false, ARENA_DEFAULT },
	{ "m_3000nh", 3000, 0, KMC_NOHASH, true, false, ARENA_DEFAULT },
	{ "m_5000c", 5000, 0, 0, true, false, ARENA_DEFAULT },
	{ "m_70000a4096", 70000, 4096, 0, false, false, ARENA_DEFAULT },
	{ "m_1a4096", 1, 4096, 0, false, false, ARENA_DEFAULT },
	{ "m_700a64p", 700, 64, 0, true, true, ARENA_PRIVATE },
	{ "m_40p", 40, 0, 0, false, false, ARENA_PRIVATE },
	{ "m_ids", 24, 8, 0, true, false, ARENA_IDS },
	{ "m_nt48c", 48, 0, KMC_NOTOUCH, true, false, ARENA_DEFAULT },
	{ "m_dbg37c", 37, 0, KMF_REDZONE | KMF_DEADBEEF | KMF_AUDIT, true,
	    false, ARENA_DEFAULT },
	{ "m_dbg9000", 9000, 0, KMF_REDZONE, false, false, ARENA_PRIVATE },
	{ "m_sub96c", 96, 0, 0, true, false, ARENA_SUBPAGE },
	{ "m_ntnm20000", 20000, 0, KMC_NOTOUCH | KMC_NOMAGAZINE, true, false,
	    ARENA_DEFAULT },
};

static void
random_shape(mcache_t *mc)
{
	static const size_t aligns[] = { 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64,
	    128, 256, 512, 1024, 2048, 4096 };
	mc->size = rnd_size(70000);
	mc->align = aligns[rnd(sizeof (aligns) / sizeof (aligns[0]))];
	unsigned a = (unsigned)rnd(8);
	mc->arena_kind = a < 5 ? ARENA_DEFAULT : a < 7 ? ARENA_PRIVATE :
	    ARENA_SUBPAGE;
	if (mc->arena_kind == ARENA_SUBPAGE && mc->align > 32)
		mc->align = 32;
	mc->cflags = 0;
	bool notouch = mc->align != 0 && mc->align < 8;
	if (rnd(5) == 0)
		mc->cflags |= KMC_NOMAGAZINE;
	if (!notouch && rnd(6) == 0) {
		mc->cflags |= KMC_NOTOUCH;
		notouch = true;
	}
	if (!notouch && mc->arena_kind != ARENA_SUBPAGE && rnd(6) == 0)
		mc->cflags |= KMC_NOHASH;
	if (rnd(8) == 0)
		mc->cflags |= KMF_REDZONE | KMF_AUDIT;
	if (rnd(10) == 0)
		mc->cflags |= KMC_NODEBUG;
	mc->ctor = rnd(2) == 0;
	mc->reclaim = rnd(4) == 0;
}

/* Derive what the shape means, as docs/kmem.md says. */
static void
derive(mcache_t *mc)
{
	bool notouch = (mc->cflags & KMC_NOTOUCH) ||
	    mc->arena_kind == ARENA_IDS || (mc->align != 0 && mc->align < 8);
	mc->touch = mc->arena_kind != ARENA_IDS;
	mc->debug = (mc->cflags & (KMF_REDZONE | KMF_AUDIT | KMF_DEADBEEF)) &&
	    !(mc->cflags & KMC_NODEBUG) && !notouch;
	mc->magazines = !(mc->cflags & KMC_NOMAGAZINE);
	size_t align = mc->align == 0 ? 8 : mc->align;
	/* The tag (40 bytes) and, with KMF_AUDIT, a record of 15 frames. */
	size_t tag = 40 + ((mc->cflags & KMF_AUDIT) ? 24 + 15 * 8 : 0);
	/* A constructed object's free mark goes in a word after it, in the
	 * caches of the page map (arenas of whole pages). */
	bool markword = mc->ctor && !notouch && !mc->debug &&
	    mc->arena_kind != ARENA_SUBPAGE;
	mc->chunk = mc->debug ? roundup(roundup(mc->size, 8) + tag, align) :
	    markword ? roundup(roundup(mc->size, 8) + 8, align) :
	    roundup(mc->size, align);
	mc->magsize = mc->magazines ? magazine_rounds(mc->chunk) : 0;
	size_t cap = CACHE_BYTES / mc->size;
	mc->live_cap = cap < 4 ? 4 : cap > CACHE_LIVE ? CACHE_LIVE : cap;
}

static kmem_cache_stats_t
stats_of(const mcache_t *mc)
{
	kmem_cache_stats_t st;
	MCHECK_EQ(kmem_cache_stats(mc->cp, &st), 0);
	return (st);
}

static void
cache_create(mcache_t *mc)
{
	set_op("create %s: size %zu align %zu cflags %#x ctor %d arena %d",
	    mc->name, mc->size, mc->align, (unsigned)mc->cflags, mc->ctor,
	    (int)mc->arena_kind);
	derive(mc);
	mc->sig = (uint8_t)(0x11 + 29 * ncreated++);
	if (mc->sig == 0)
		mc->sig = 0xa5;
	vmem_t *vmp = NULL;
	mc->arena = NULL;
	if (mc->arena_kind == ARENA_IDS) {
		vmp = ids_arena;
	} else if (mc->arena_kind != ARENA_DEFAULT) {
		char name[VMEM_NAMELEN];
		snprintf(name, sizeof (name), "%.20s_arena", mc->name);
		mc->arena = vmem_create(name, NULL, 0,
		    mc->arena_kind == ARENA_PRIVATE ? 4096 : 32, vmem_alloc,
		    vmem_free, kmem_default_arena(), 0, VM_SLEEP);
		MCHECK(mc->arena != NULL);
		vmp = mc->arena;
	}
	mc->cp = kmem_cache_create(mc->name, mc->size, mc->align,
	    mc->ctor ? model_construct : NULL,
	    mc->ctor ? model_destruct : NULL,
	    mc->reclaim ? model_reclaim : NULL, mc, vmp, mc->cflags);
	check_quiet();
	MCHECK(mc->cp != NULL);
	mc->nlive = 0;
	mc->allocs = mc->frees = 0;
	mc->constructed = mc->destructed = mc->reclaimed = 0;
	mc->live = realloc(mc->live, mc->live_cap * sizeof (mbuf_t));
	MCHECK(mc->live != NULL);

	kmem_cache_stats_t st = stats_of(mc);
	MCHECK(strcmp(st.name, mc->name) == 0);
	MCHECK_EQ(st.buf_size, mc->size);
	MCHECK_EQ(st.chunk_size, mc->chunk);
	MCHECK_EQ(st.magazine_size, mc->magsize);
	MCHECK_EQ(st.buf_total, 0);
	MCHECK(st.buf_per_slab >= 1);
	MCHECK(st.slab_size >= st.buf_per_slab * st.chunk_size);
}

static void
cache_alloc(mcache_t *mc)
{
	set_op("kmem_cache_alloc(%s) with %zu live", mc->name, mc->nlive);
	uint64_t constructed = mc->constructed;
	void *buf = kmem_cache_alloc(mc->cp, rnd(4) ? KM_SLEEP : KM_NOSLEEP);
	check_quiet();
	MCHECK(buf != NULL);
	uintptr_t a = (uintptr_t)buf;
	size_t align = mc->align == 0 ? 8 : mc->align;
	MCHECK_EQ(a % align, 0);
	iset_add(domain_of(mc), a, mc->size, mc->name);
	if (mc->arena_kind == ARENA_IDS)
		MCHECK(vmem_contains(ids_arena, buf, mc->size));
	MCHECK(mc->constructed - constructed <= 1);
	mbuf_t *b = &mc->live[mc->nlive++];
	b->addr = a;
	b->seed = (uint32_t)check_random(&rng);
	mc->allocs++;
	if (mc->touch) {
		if (mc->ctor)
			fill_check(buf, mc->size, mc->sig, "constructed object");
		pattern_write(buf, mc->size, b->seed);
	}
}

static void
cache_free_at(mcache_t *mc, size_t i)
{
	mbuf_t b = mc->live[i];
	set_op("kmem_cache_free(%s, %#jx) with %zu live", mc->name,
	    (uintmax_t)b.addr, mc->nlive);
	void *buf = (void *)b.addr;
	if (mc->touch) {
		pattern_check(buf, mc->size, b.seed, mc->name);
		if (mc->ctor)
			fill_write(buf, mc->size, mc->sig);
	}
	mc->live[i] = mc->live[--mc->nlive];
	iset_remove(domain_of(mc), b.addr, mc->size);
	kmem_cache_free(mc->cp, buf);
	check_quiet();
	mc->frees++;
}

static void
cache_free_all(mcache_t *mc)
{
	while (mc->nlive > 0)
		cache_free_at(mc, rnd(mc->nlive));
}

/*
 * The statistics against the model.  After a reap or an update, no empty
 * slab may be left: every slab holds a buffer out of the slab layer.
 */
static void
cache_check(mcache_t *mc, bool reaped)
{
	set_op("check %s%s", mc->name, reaped ? " after a reap" : "");
	kmem_cache_stats_t st = stats_of(mc);
	MCHECK_EQ(st.alloc, mc->allocs);
	MCHECK_EQ(st.free, mc->frees);
	MCHECK_EQ(st.buf_inuse, mc->nlive);
	MCHECK_EQ(st.alloc_fail, 0);
	/* Magazines grow with depot traffic, when the clock says so: the
	 * size may only move up the table of sizes. */
	if (mc->magazines) {
		MCHECK(is_magazine_size(st.magazine_size));
		MCHECK(st.magazine_size >= mc->magsize);
		mc->magsize = st.magazine_size;
	} else {
		MCHECK_EQ(st.magazine_size, 0);
	}
	uint64_t out = st.slab_alloc - st.slab_free;   /* out of the slabs */
	MCHECK(st.slab_alloc >= st.slab_free);
	MCHECK(out >= mc->nlive);
	MCHECK_EQ(st.buf_constructed, out - mc->nlive);
	if (!mc->magazines)
		MCHECK_EQ(st.buf_constructed, 0);
	if (mc->ctor)
		MCHECK_EQ(mc->constructed - mc->destructed,
		    mc->debug ? mc->nlive : out);
	uint64_t slabs = st.slab_create - st.slab_destroy;
	MCHECK_EQ(st.buf_total, slabs * st.buf_per_slab);
	MCHECK_EQ(st.mem_total, slabs * st.slab_size);
	MCHECK(st.buf_total >= out);
	MCHECK(st.buf_max >= st.buf_total);
	if (mc->arena != NULL)
		MCHECK_EQ(vmem_size(mc->arena, VMEM_ALLOC), st.mem_total);
	if (reaped)
		MCHECK(slabs <= out);
}

/* kmem_cache_reap_now: the depot, our magazines and empty slabs go. */
static void
cache_reap(mcache_t *mc)
{
	set_op("kmem_cache_reap_now(%s) with %zu live", mc->name, mc->nlive);
	kmem_cache_reap_now(mc->cp);
	check_quiet();
	cache_check(mc, true);
	kmem_cache_stats_t st = stats_of(mc);
	MCHECK_EQ(st.buf_constructed, 0);
	MCHECK_EQ(st.full_magazines, 0);
	MCHECK_EQ(st.empty_magazines, 0);
	MCHECK(st.buf_total / st.buf_per_slab <= mc->nlive);
	if (mc->ctor)
		MCHECK_EQ(mc->constructed - mc->destructed, mc->nlive);
	if (mc->nlive == 0) {
		MCHECK_EQ(st.buf_total, 0);
		MCHECK_EQ(st.mem_total, 0);
		MCHECK_EQ(mc->constructed, mc->destructed);
		if (mc->arena != NULL)
			MCHECK_EQ(vmem_size(mc->arena, VMEM_ALLOC), 0);
	}
}

static void
cache_destroy(mcache_t *mc, bool reap_first)
{
	cache_free_all(mc);
	if (reap_first)
		cache_reap(mc);
	set_op("kmem_cache_destroy(%s)", mc->name);
	kmem_cache_destroy(mc->cp);
	check_quiet();
	mc->cp = NULL;
	MCHECK_EQ(mc->constructed, mc->destructed);
	if (mc->arena != NULL) {
		MCHECK_EQ(vmem_size(mc->arena, VMEM_ALLOC), 0);
		vmem_destroy(mc->arena);
		check_quiet();
		mc->arena = NULL;
	}
}

static mcache_t *
random_cache(void)
{
	return (&caches[rnd(NCACHES)]);
}

/* ---- kmem_alloc ---- */

typedef struct kbuf {
	uintptr_t addr;
	size_t size;            /* as asked */
	uint32_t seed;
} kbuf_t;

#define NCLASSES        128

static kbuf_t ka_live[KA_LIVE];
static size_t ka_nlive;
static size_t ka_bytes;
static size_t class_size[NCLASSES];
static uint64_t class_live[NCLASSES];
static bool class_used[NCLASSES];       /* so its cache exists */
static size_t nclasses;

/* kmem_alloc's class for size (docs/kmem.md), or 0 beyond 128 KiB. */
static size_t
class_of(size_t size)
{
	if (size <= 128)
		return (roundup(size, 8));
	if (size > 128 * 1024)
		return (0);
	size_t p2 = 128;
	while (p2 * 2 < size)
		p2 *= 2;
	return (roundup(size, p2 / 8));
}

/* The smallest size of the class c. */
static size_t
class_low(size_t c)
{
	if (c <= 128)
		return (c - 7);
	size_t p2 = 128;
	while (p2 * 2 < c)
		p2 *= 2;
	return (c - p2 / 8 + 1);
}

static size_t
class_index(size_t c)
{
	for (size_t i = 0; i < nclasses; i++)
		if (class_size[i] == c)
			return (i);
	MCHECK(!"a class kmem_alloc does not have");
	return (0);
}

static void
classes_init(void)
{
	for (size_t s = 1; s <= 128 * 1024; s++) {
		size_t c = class_of(s);
		if (nclasses == 0 || class_size[nclasses - 1] != c) {
			CHECK(nclasses < NCLASSES);
			class_size[nclasses++] = c;
		}
	}
}

static size_t
ka_random_size(void)
{
	unsigned r = (unsigned)rnd(100);
	if (r < 70)
		return (1 + rnd(1024));
	if (r < 96)
		return (1025 + rnd(128 * 1024 - 1024));
	return (128 * 1024 + 1 + rnd(300000));
}

/*
 * The bytes of a kmem_alloc(size) buffer the test writes: the whole class,
 * which is the caller's -- except under AddressSanitizer, where kmem_alloc
 * poisons the class beyond size so an overrun is caught (src/base/poison.h).
 */
static size_t
ka_usable(size_t size)
{
#ifdef KMEM_ASAN
	return (size);
#else
	size_t c = class_of(size);
	return (c != 0 ? c : size);
#endif
}

static void
ka_alloc(void)
{
	size_t size = ka_random_size();
	bool zero = rnd(3) == 0;
	set_op("%s(%zu) with %zu live", zero ? "kmem_zalloc" : "kmem_alloc",
	    size, ka_nlive);
	if (ka_nlive == KA_LIVE || ka_bytes + size > KA_BYTES)
		return;
	uint8_t *p = zero ? kmem_zalloc(size, KM_SLEEP) :
	    kmem_alloc(size, KM_SLEEP);
	check_quiet();
	MCHECK(p != NULL);
	uintptr_t a = (uintptr_t)p;
	size_t c = class_of(size);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t align = c == 0 || c % page == 0 ? page : c % 64 == 0 ? 64 : 8;
	MCHECK_EQ(a % align, 0);
	/* The whole class is the caller's, not only what it asked. */
	iset_add(&mem_set, a, c != 0 ? c : size, "kmem_alloc");
	if (zero)
		fill_check(p, size, 0, "kmem_zalloc");
	kbuf_t *b = &ka_live[ka_nlive++];
	*b = (kbuf_t){ a, size, (uint32_t)check_random(&rng) };
	pattern_write(p, ka_usable(size), b->seed);
	ka_bytes += size;
	if (c != 0) {
		class_live[class_index(c)]++;
		class_used[class_index(c)] = true;
	}
}

static void
ka_free_at(size_t i)
{
	kbuf_t b = ka_live[i];
	size_t c = class_of(b.size);
	/* Any size of the same class will do (docs/kmem.md). */
	size_t size = c != 0 ? class_low(c) + rnd(c - class_low(c) + 1) :
	    b.size;
	set_op("kmem_free(%#jx, %zu), allocated with %zu", (uintmax_t)b.addr,
	    size, b.size);
	MCHECK_EQ(class_of(size), c);
	pattern_check((void *)b.addr, ka_usable(b.size), b.seed,
	    "kmem_alloc buffer");
	ka_live[i] = ka_live[--ka_nlive];
	iset_remove(&mem_set, b.addr, c != 0 ? c : b.size);
	kmem_free((void *)b.addr, size);
	check_quiet();
	ka_bytes -= b.size;
	if (c != 0)
		class_live[class_index(c)]--;
}

/*
 * Every class's "in use" in kmem_table() must be the model's, and every
 * class the model used has its row (a class's cache is made on its first
 * use; others may have used more).
 */
typedef struct table_scan {
	size_t used_rows;
} table_scan_t;

static void
table_line(void *arg, const char *line)
{
	table_scan_t *t = arg;
	unsigned long long csize, bufsize, inuse;
	char rest;
	if (sscanf(line, "kmem_alloc_%llu%c %llu %llu", &csize, &rest, &bufsize,
	    &inuse) != 4 || rest != ' ')
		return;
	set_op("kmem_table: %s", line);
	MCHECK_EQ(csize, bufsize);
	MCHECK_EQ(inuse, class_live[class_index((size_t)csize)]);
	if (class_used[class_index((size_t)csize)])
		t->used_rows++;
}

static void
ka_check_table(void)
{
	table_scan_t t = { 0 };
	kmem_table(table_line, &t);
	check_quiet();
	set_op("kmem_table");
	size_t used = 0;
	for (size_t i = 0; i < nclasses; i++)
		used += class_used[i];
	MCHECK_EQ(t.used_rows, used);
}

/* ---- vmem with quantum caches ---- */

typedef struct qbuf {
	uintptr_t addr;
	size_t size;
	bool x;                 /* vmem_xalloc'd */
} qbuf_t;

static vmem_t *qc_arena;
static qbuf_t qc_live[QC_LIVE];
static size_t qc_nlive;
static size_t qc_inuse;         /* rounded to the quantum */
static unsigned qc_generation;

static void
qc_create(void)
{
	char name[VMEM_NAMELEN];
	snprintf(name, sizeof (name), "model_qc%u", qc_generation++);
	set_op("vmem_create(%s)", name);
	qc_arena = vmem_create(name, (void *)QC_BASE, QC_SIZE, QC_QUANTUM,
	    NULL, NULL, NULL, QC_MAX, VM_SLEEP);
	check_quiet();
	MCHECK(qc_arena != NULL);
	vmem_stats_t vs;
	vmem_stats(qc_arena, &vs);
	MCHECK_EQ(vs.qcache_max, QC_MAX);
}

static void
qc_alloc(void)
{
	if (qc_nlive == QC_LIVE)
		return;
	bool x = rnd(5) == 0;
	size_t size = rnd(8) == 0 ? 1 + rnd(16 * QC_MAX) : 1 + rnd(QC_MAX);
	size_t align = x ? (size_t)QC_QUANTUM << rnd(6) : QC_QUANTUM;
	set_op("%s(%zu, align %zu) with %zu live", x ? "vmem_xalloc" :
	    "vmem_alloc", size, align, qc_nlive);
	void *p = x ? vmem_xalloc(qc_arena, size, align, 0, 0, NULL, NULL,
	    VM_SLEEP) : vmem_alloc(qc_arena, size, VM_SLEEP);
	check_quiet();
	MCHECK(p != NULL);
	uintptr_t a = (uintptr_t)p;
	size_t rsize = roundup(size, QC_QUANTUM);
	MCHECK_EQ(a % align, 0);
	MCHECK(a >= QC_BASE && a + rsize <= QC_BASE + QC_SIZE);
	iset_add(&qc_set, a, rsize, "vmem_alloc");
	qc_live[qc_nlive++] = (qbuf_t){ a, size, x };
	qc_inuse += rsize;
}

static void
qc_free_at(size_t i)
{
	qbuf_t b = qc_live[i];
	set_op("%s(%#jx, %zu)", b.x ? "vmem_xfree" : "vmem_free",
	    (uintmax_t)b.addr, b.size);
	qc_live[i] = qc_live[--qc_nlive];
	size_t rsize = roundup(b.size, QC_QUANTUM);
	iset_remove(&qc_set, b.addr, rsize);
	if (b.x)
		vmem_xfree(qc_arena, (void *)b.addr, b.size);
	else
		vmem_free(qc_arena, (void *)b.addr, b.size);
	check_quiet();
	qc_inuse -= rsize;
}

static void
qc_check(void)
{
	set_op("check the vmem arena");
	/* Segments held by quantum caches count as allocated. */
	MCHECK(vmem_size(qc_arena, VMEM_ALLOC) >= qc_inuse);
	MCHECK_EQ(vmem_size(qc_arena, VMEM_ALLOC | VMEM_FREE), QC_SIZE);
}

/* Free everything, destroy the arena (no leak report), make a new one. */
static void
qc_recreate(void)
{
	while (qc_nlive > 0)
		qc_free_at(rnd(qc_nlive));
	set_op("vmem_destroy of the quantum-cached arena");
	vmem_destroy(qc_arena);
	check_quiet();
	qc_create();
}

/* ---- the run ---- */

typedef struct tally {
	uint64_t cache_alloc, cache_free, ka_alloc, ka_free, qc_alloc, qc_free;
	uint64_t reap_now, kmem_reap, update, recreate, drain;
} tally_t;

static tally_t tally;

static void
check_all(bool reaped)
{
	for (size_t i = 0; i < NCACHES; i++)
		cache_check(&caches[i], reaped);
	qc_check();
	ka_check_table();
}

static void
do_kmem_reap(void)
{
	uint64_t before[NCACHES];
	for (size_t i = 0; i < NCACHES; i++)
		before[i] = caches[i].reclaimed;
	set_op("kmem_reap");
	kmem_reap();
	check_quiet();
	for (size_t i = 0; i < NCACHES; i++)
		MCHECK_EQ(caches[i].reclaimed, before[i] +
		    (caches[i].reclaim ? 1 : 0));
	check_all(true);
}

static void
do_update(void)
{
	set_op("kmem_update_now");
	kmem_update_now();
	check_quiet();
	check_all(true);
}

static void
do_recreate(void)
{
	mcache_t *mc = random_cache();
	cache_destroy(mc, rnd(2) == 0);
	if (mc->random_shape)
		random_shape(mc);
	cache_create(mc);
}

/* Everything goes back; every cache and arena must be empty. */
static void
drain(void)
{
	for (size_t i = 0; i < NCACHES; i++)
		cache_free_all(&caches[i]);
	while (ka_nlive > 0)
		ka_free_at(rnd(ka_nlive));
	for (size_t i = 0; i < NCACHES; i++)
		cache_reap(&caches[i]);
	set_op("drained");
	MCHECK_EQ(vmem_size(ids_arena, VMEM_ALLOC), 0);
	ka_check_table();
	qc_recreate();
	MCHECK_EQ(mem_set.count, 0);
	MCHECK_EQ(ids_set.count, 0);
	MCHECK_EQ(qc_set.count, 0);
}

static void
step(bool grow)
{
	unsigned r = (unsigned)rnd(1000);
	unsigned alloc_end = grow ? 450 : 250;
	if (r < alloc_end) {
		mcache_t *mc = random_cache();
		if (mc->nlive < mc->live_cap) {
			cache_alloc(mc);
			tally.cache_alloc++;
		} else {
			cache_free_at(mc, rnd(mc->nlive));
			tally.cache_free++;
		}
	} else if (r < 700) {
		mcache_t *mc = random_cache();
		if (mc->nlive > 0) {
			cache_free_at(mc, rnd(mc->nlive));
			tally.cache_free++;
		}
	} else if (r < (grow ? 790u : 760u)) {
		ka_alloc();
		tally.ka_alloc++;
	} else if (r < 860) {
		if (ka_nlive > 0) {
			ka_free_at(rnd(ka_nlive));
			tally.ka_free++;
		}
	} else if (r < (grow ? 930u : 910u)) {
		qc_alloc();
		tally.qc_alloc++;
	} else if (r < 998) {
		if (qc_nlive > 0) {
			qc_free_at(rnd(qc_nlive));
			tally.qc_free++;
		}
	} else {
		unsigned r2 = (unsigned)rnd(1000);
		if (r2 < 500) {
			cache_reap(random_cache());
			tally.reap_now++;
		} else if (r2 < 620) {
			do_update();
			tally.update++;
		} else if (r2 < 740) {
			do_kmem_reap();
			tally.kmem_reap++;
		} else if (r2 < 980) {
			do_recreate();
			tally.recreate++;
		} else {
			qc_recreate();
			tally.recreate++;
		}
	}
}

int
main(int argc, char **argv)
{
	uint64_t ops = DEFAULT_OPS;
	g_seed = check_random(&(uint64_t){ (uint64_t)time(NULL) ^
	    ((uint64_t)getpid() << 32) });
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			g_seed = strtoull(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
			ops = strtoull(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: kmem_model_test [--ops N] "
			    "[--seed S]\n");
			return (2);
		}
	}
	printf("seed: %" PRIu64 "\n", g_seed);
	fflush(stdout);
	rng = g_seed;

	check_catch_reports();
	classes_init();
	ids_arena = vmem_create("model_ids", (void *)IDS_BASE, IDS_SIZE, 8,
	    NULL, NULL, NULL, 0, VMC_IDENTIFIER);
	CHECK(ids_arena != NULL);
	qc_create();
	for (size_t i = 0; i < NCACHES; i++) {
		mcache_t *mc = &caches[i];
		if (i < NFIXED) {
			const struct fixed_shape *f = &fixed[i];
			snprintf(mc->name, sizeof (mc->name), "%s", f->name);
			mc->size = f->size;
			mc->align = f->align;
			mc->cflags = f->cflags;
			mc->ctor = f->ctor;
			mc->reclaim = f->reclaim;
			mc->arena_kind = f->arena;
		} else {
			snprintf(mc->name, sizeof (mc->name), "m_random%zu",
			    i - NFIXED);
			mc->random_shape = true;
			random_shape(mc);
		}
		cache_create(mc);
	}

	uint64_t drain_every = ops / DRAINS + 1;
	for (g_step = 0; g_step < ops; g_step++) {
		step((g_step / PHASE_OPS) % 2 == 0);
		if (g_step % CHECK_EVERY == CHECK_EVERY - 1)
			check_all(false);
		if (g_step % drain_every == drain_every - 1) {
			drain();
			tally.drain++;
		}
	}

	/* The end: everything back, then everything destroyed. */
	drain();
	for (size_t i = 0; i < NCACHES; i++) {
		cache_destroy(&caches[i], false);
		free(caches[i].live);
	}
	set_op("the end");
	vmem_destroy(qc_arena);
	MCHECK_EQ(vmem_size(ids_arena, VMEM_ALLOC), 0);
	vmem_destroy(ids_arena);
	check_quiet();
	free(mem_set.node);
	free(ids_set.node);
	free(qc_set.node);

	printf("kmem_model_test: %" PRIu64 " operations: %" PRIu64 " cache "
	    "allocs, %" PRIu64 " cache frees, %" PRIu64 " kmem_allocs, %"
	    PRIu64 " kmem_frees, %" PRIu64 " vmem allocs, %" PRIu64 " vmem "
	    "frees, %" PRIu64 " reap_now, %" PRIu64 " kmem_reap, %" PRIu64
	    " updates, %" PRIu64 " recreations, %" PRIu64 " drains\n", ops,
	    tally.cache_alloc, tally.cache_free, tally.ka_alloc, tally.ka_free,
	    tally.qc_alloc, tally.qc_free, tally.reap_now, tally.kmem_reap,
	    tally.update, tally.recreate, tally.drain);
	printf("kmem_model_test: all passed\n");
	return (0);
}
