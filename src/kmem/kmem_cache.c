/*
 * kmem: object caches (Bonwick, "The Slab Allocator", USENIX 1994) with
 * the magazine and depot layers of Bonwick & Adams ("Magazines and Vmem",
 * USENIX 2001).  docs/kmem.md is the long version of this comment.
 *
 * Layers.  An allocation or free goes as far down as it must:
 *
 *	the thread's magazines (kmem_thread.c)    no lock, no atomic RMW
 *	the depot of full and empty magazines     depot_lock (kmem_depot.c)
 *	the slabs                                 slab_lock (kmem_slab.c)
 *	the cache's vmem arena                    the arena's lock
 *
 * Object caching.  Buffers in magazines are constructed: the constructor
 * runs when a buffer leaves the slab layer, the destructor when it goes
 * back (kmem_cache_free_to_slab()), never in between.  A constructor that
 * fails sends its buffer straight back to its slab and the allocation
 * returns NULL.  Debug caches (KMF_BUFTAG) are the exception: their
 * magazines hold free buffers, destructed and checked as in the slabs, and
 * every allocation and free takes the slow paths, which run the checks
 * (kmem_debug.c) around the same magazines.
 *
 * The fast paths (kmem_fast.h): allocation pops the thread's loaded
 * magazine; free first checks through the page map that the buffer is the
 * start of a buffer of this cache (caches in touchable memory), then
 * pushes it.  The slow paths run the algorithm of the 2001 paper: if the
 * loaded magazine cannot serve, swap it with the previously loaded one if
 * that one can (full for an allocation, empty for a free); else trade
 * with the depot (a full magazine for the empty previous one, or an empty
 * one for the full previous one, allocating a new empty magazine when the
 * depot has none); else go to the slab layer.  After a trade the thread
 * holds one full and one empty magazine, so at least a magazine's worth of
 * allocations and of frees proceed without the depot: the depot sees at
 * most one in M operations.  Fast and slow paths pop and push with the
 * same inlines (kmem_magazine_pop() and kmem_magazine_push(), kmem_fast.h).
 *
 * Caches that may not touch their buffers (KMC_NOTOUCH: vmem's quantum
 * caches, identifier arenas) cannot mark a buffer as free, and without a
 * check a bad free would wait in a magazine to be handed out twice; so
 * with magazines, the bufctl of each buffer out of its slab says whether a
 * client holds it or a magazine does.  kmem_cache_free() (and vmem_free())
 * looks the buffer up in the cache's hash under slab_lock and refuses one
 * that no client holds (never allocated, another cache's, a double free)
 * before the fast path may push it; kmem_cache_alloc() marks what the fast
 * path popped as held again.  Both sit in the branch those functions
 * already take for KMC_NOTOUCH, so other caches pay nothing; these pay a
 * locked lookup per operation (docs/benchmarks.md).  A quantum cache's
 * refusal is reported by its arena, as vmem_free() would
 * (vmem_qcache_bad_free()).
 *
 * Free marks: double frees caught without debugging.  A buffer freed
 * twice, with other frees between (free a, free b, free a), sits in a
 * magazine twice and is then handed out twice: the magazine layer's own
 * check sees only the buffer freed last.  So the free paths of a cache
 * with marks (cp->cache_free_key, kmem_cache_mark_frees()) write the mark
 * key ^ address into the first word of every buffer they take, and the
 * allocation paths clear that word to 0 in every buffer they hand out: a
 * free buffer carries its mark, a live one carries it only if the program
 * wrote that very value, and the key is drawn at random per process
 * (kmem_random_u64(), with the top bit set so that no mark is 0 or an
 * address).  A free that finds the mark already there asks where the
 * buffer is (kmem_free_where(), out of line): the calling thread's
 * magazines, the depot's, every other thread's (under each thread
 * cache's lock, reading rounds their owners store atomically), then its
 * slab's free list.  Found: a double free, reported and refused, nothing
 * changed.  Not found: the mark was the program's data, and the free goes
 * on.  The search is not atomic across layers, so a magazine moving
 * between a thread and the depot while it looks can hide a double free
 * (a miss), never invent one.  The common free pays one load, a compare
 * and a store to a line it is about to own anyway; allocation pays a
 * store (docs/benchmarks.md).  The first word is the one the slab layer
 * leaves alone: a free buffer's slab link is at link_offset, the last
 * word, which is the first only in 8-byte buffers; those carry the mark in
 * magazines, where frees go, but lose it when they go back to their slab,
 * so a second free of one that sits in its slab is missed.
 *
 * A cache of constructed objects (a constructor or a destructor) cannot
 * lend a word of the buffer: an object in a magazine keeps its state in
 * every word.  kmem_cache_create() gives each of its buffers a word of its
 * own after it (KMF_MARKWORD: cache_mark_offset is the buffer size
 * rounded up to a word, and the chunk grows by a word before it is rounded
 * to the alignment), and the mark goes there: 8 bytes an object (72-byte
 * chunks for 64-byte objects) for the same double-free check, and the
 * object's bytes untouched.
 *
 * Which caches: those whose buffers hold nothing of ours while free and
 * may be written, or that have the word after them -- not KMC_NOTOUCH or
 * vmem's quantum caches (their buffers stand for addresses, not memory),
 * not a cache with a move callback (kmem_move.c), not
 * debug caches (KMF_BUFTAG, KMF_FIREWALL: their tags and guard pages do
 * it better), only caches in the page map (which vouches that a freed
 * pointer is a buffer before its word is read), and not kmem's own
 * caches (slab structures, bufctls, magazines, thread caches): only kmem
 * frees their buffers, never twice, and a lock-free page-map lookup that
 * races a slab's removal may still read the first word (the cache) of the
 * slab structure just freed.  The search takes the thread list's, a
 * thread cache's, the depot's and the slab layer's locks, so a free that
 * may need it must hold none of kmem's locks: kmem_cache_create()'s and
 * kmem_alloc()'s users do not.  So: kmem_alloc()'s and malloc's classes
 * and kmem_cache_create()'s caches, with or without a constructor.
 *
 * Layout (cache_layout()).  chunksize is the buffer size rounded up to the
 * alignment, plus a tag when debug flags ask for one.  Small buffers in
 * touchable memory get slabs that carry their own bookkeeping; large
 * buffers, and caches that may not touch their memory (KMC_NOTOUCH,
 * identifier arenas, vmem quantum caches), get bufctls and a hash.  A slab
 * is the smallest multiple of the arena's quantum, holding up to 8 buffers,
 * that wastes at most 1/8 of itself (Bonwick's rule), else the least
 * wasteful of those.
 *
 * Locking: kmem_move_lock (a move pass, kmem_move.c), kmem_caches_lock
 * (the list of caches; reap and update passes hold it), kmem_threads_lock,
 * a thread cache's lock, a depot lock, a slab lock.  No depot or slab
 * lock is held across a call into vmem, a constructor or a destructor.
 * Constructors, destructors and reclaim callbacks may allocate and free,
 * but must not create or destroy caches.
 */
#include "kmem_impl.h"

#include "base/format.h"
#include "base/lock_order.h"
#include "base/report.h"
#include "vmem/vmem_impl.h"

kmem_mutex_t kmem_caches_lock = KMEM_MUTEX_INITIALIZER(KMEM_RANK_CACHE_LIST);
kmem_cache_t kmem_caches = { .cache_list_next = &kmem_caches,
	.cache_list_prev = &kmem_caches };

/* kmem_alloc()'s tables point here until kmem is initialised. */
kmem_cache_t kmem_null_cache = { .cache_fast_offset = UINT32_MAX,
	.cache_index = UINT32_MAX, .cache_flags = KMF_NULL,
	.cache_name = "kmem_null_cache" };

/* ---- creation ---- */

/* The free marks' key (see above): 0 until kmem_init() draws it. */
static uintptr_t free_mark_key;

void
kmem_free_marks_init(void)
{
	free_mark_key = (uintptr_t)kmem_random_u64() | ((uintptr_t)1 << 63);
}

void
kmem_cache_mark_frees(kmem_cache_t *cp)
{
	const int unmarked = KMC_NOTOUCH | KMC_QCACHE | KMF_BUFTAG |
	    KMF_FIREWALL;
	bool word_free = (cp->cache_flags & KMF_MARKWORD) ||
	    (cp->cache_constructor == NULL && cp->cache_destructor == NULL &&
	    cp->cache_bufsize >= sizeof (uintptr_t));
	if (word_free && !(cp->cache_flags & unmarked) &&
	    (cp->cache_flags & KMF_PAGEMAP))
		cp->cache_free_key = free_mark_key;
}

/* The modular inverse of odd modulo 2^64 (Newton's iteration). */
static uint64_t
inverse_of(uint64_t odd)
{
	uint64_t inv = odd;             /* right to 3 bits */
	for (int i = 0; i < 5; i++)
		inv *= 2 - odd * inv;   /* each step doubles the bits */
	return (inv);
}

/*
 * Choose the slab size: the smallest that holds n buffers (n = 1..8) and
 * wastes at most 1/KMEM_VOID_FRACTION, else the one wasting least.
 */
static void
cache_size_slabs(kmem_cache_t *cp, size_t quantum, size_t header)
{
	size_t best_size = 0, best_waste = 0;
	for (size_t n = 1; n <= KMEM_VOID_FRACTION; n++) {
		size_t size =
		    p2_roundup(n * cp->cache_chunksize + header, quantum);
		size_t chunks = (size - header) / cp->cache_chunksize;
		size_t waste = size - header - chunks * cp->cache_chunksize;
		if (best_size == 0 || waste * best_size < best_waste * size) {
			best_size = size;
			best_waste = waste;
		}
		if (waste * KMEM_VOID_FRACTION <= size)
			break;
	}
	cp->cache_slabsize = best_size;
}

/* Lay the cache out (see the top of this file); NULL or what is wrong. */
static const char *
cache_layout(kmem_cache_t *cp, size_t align)
{
	vmem_t *vmp = cp->cache_arena;
	size_t quantum = vmp->vm_quantum;
	size_t page = kmem_pagesize();

	if (vmp->vm_cflags & VMC_IDENTIFIER)
		cp->cache_flags |= KMC_NOTOUCH;
	if (align == 0)
		align = KMEM_ALIGN;
	else if (align < KMEM_ALIGN)
		cp->cache_flags |= KMC_NOTOUCH;
	if (align > quantum)
		return ("align is larger than the arena's quantum");
	if ((cp->cache_flags & KMC_NOHASH) && (cp->cache_flags & KMC_NOTOUCH))
		return ("KMC_NOHASH and KMC_NOTOUCH exclude each other");
	if (!(cp->cache_flags & (KMC_NODEBUG | KMC_QCACHE)))
		cp->cache_flags |= kmem_debug_config.flags;
	if (cp->cache_flags & KMC_NODEBUG)
		cp->cache_flags &= ~KMF_DEBUG_FLAGS;
	if (cp->cache_flags & KMC_NOTOUCH)
		cp->cache_flags &= ~(KMF_BUFTAG | KMF_FIREWALL);
	if (cp->cache_flags & KMF_FIREWALL)
		cp->cache_flags |= KMF_NOMAGAZINE;

	bool pagemap = !(cp->cache_flags & KMC_NOTOUCH) && quantum >= page;
	if (!pagemap || (cp->cache_flags & (KMC_QCACHE | KMF_BUFTAG |
	    KMF_FIREWALL)))
		cp->cache_flags &= ~KMF_MARKWORD;
	cp->cache_align = align;
	cp->cache_chunksize = p2_roundup(cp->cache_bufsize, align);
	if (cp->cache_flags & KMF_MARKWORD) {
		cp->cache_mark_offset =
		    p2_roundup(cp->cache_bufsize, sizeof (uintptr_t));
		cp->cache_chunksize = p2_roundup(cp->cache_mark_offset +
		    sizeof (uintptr_t), align);
	}
	cp->cache_link_offset =
	    p2_align(cp->cache_bufsize - 1, sizeof (void *));
	if (cp->cache_flags & KMF_BUFTAG) {
		cp->cache_buftag_offset =
		    p2_roundup(cp->cache_bufsize, sizeof (uint64_t));
		cp->cache_link_offset = cp->cache_buftag_offset +
		    offsetof(kmem_buftag_t, link);
		size_t tag = sizeof (kmem_buftag_t);
		if (cp->cache_flags & KMF_AUDIT) {
			cp->cache_audit_depth = kmem_debug_config.audit_depth;
			tag += sizeof (kmem_audit_t) +
			    cp->cache_audit_depth * sizeof (uintptr_t);
		}
		cp->cache_chunksize =
		    p2_roundup(cp->cache_buftag_offset + tag, align);
	}

	bool inband = pagemap && ((cp->cache_flags & KMC_NOHASH) ||
	    cp->cache_chunksize < page / KMEM_VOID_FRACTION);
	if ((cp->cache_flags & KMC_NOHASH) && !pagemap)
		return ("KMC_NOHASH needs an arena of whole pages");
	if (pagemap)
		cp->cache_flags |= KMF_PAGEMAP;
	if (!inband)
		cp->cache_flags |= KMF_HASH;

	size_t header = inband ? sizeof (kmem_slab_t) : 0;
	if (cp->cache_flags & KMC_QCACHE) {
		if (vmp->vm_qcache_slab < cp->cache_chunksize)
			return ("KMC_QCACHE is for vmem's own quantum caches");
		cp->cache_slabsize = vmp->vm_qcache_slab;
	} else {
		cache_size_slabs(cp, quantum, header);
	}
	cp->cache_chunks =
	    (unsigned)((cp->cache_slabsize - header) / cp->cache_chunksize);
	cp->cache_mincolor = 0;
	cp->cache_maxcolor = cp->cache_slabsize - header - cp->cache_chunks *
	    cp->cache_chunksize;

	cp->cache_slab_span = (uint64_t)cp->cache_chunks * cp->cache_chunksize;
	cp->cache_chunk_shift = lowbit(cp->cache_chunksize) - 1;
	cp->cache_chunk_inverse =
	    inverse_of(cp->cache_chunksize >> cp->cache_chunk_shift);

	if (!(cp->cache_flags & (KMC_NOMAGAZINE | KMF_NOMAGAZINE)))
		cp->cache_magtype = kmem_magtype_for(cp->cache_chunksize);
	return (NULL);
}

/*
 * Set up the cache in the storage cp and make it visible; reports and
 * returns NULL on bad input.  The bootstrap uses it on static storage.
 */
kmem_cache_t *
kmem_cache_create_in(kmem_cache_t *cp, const char *name, size_t bufsize,
    size_t align, kmem_constructor_t *constructor,
    kmem_destructor_t *destructor, kmem_reclaim_t *reclaim, void *private,
    vmem_t *vmp, int cflags)
{
	const int known = KMC_NOTOUCH | KMC_NODEBUG | KMC_NOMAGAZINE |
	    KMC_NOHASH | KMC_QCACHE | KMF_DEBUG_FLAGS | KMF_MARKWORD;
	const char *why = NULL;

	*cp = (kmem_cache_t){ .cache_bufsize = bufsize, .cache_flags = cflags,
	    .cache_constructor = constructor, .cache_destructor = destructor,
	    .cache_reclaim = reclaim, .cache_private = private,
	    .cache_arena = vmp != NULL ? vmp : kmem_default };
	if (name == NULL)
		why = "name is NULL";
	else if (bufsize == 0)
		why = "bufsize is 0";
	else if (bufsize > SIZE_MAX / (4 * KMEM_VOID_FRACTION))
		why = "bufsize is too large";
	else if (!is_p2(align))
		why = "align is not a power of two";
	else if (cflags & ~known)
		why = "cflags has bits that are not KMC_* or KMF_* flags";
	else
		why = cache_layout(cp, align);
	if (why != NULL) {
		kmem_report("kmem_cache_create(\"%s\", bufsize %zu, align %zu, "
		    "cflags 0x%x): %s", name != NULL ? name : "(null)", bufsize,
		    align, (unsigned)cflags, why);
		return (NULL);
	}

	size_t i;
	for (i = 0; i + 1 < sizeof (cp->cache_name) && name[i] != '\0'; i++)
		cp->cache_name[i] = name[i];
	cp->cache_name[i] = '\0';
	kmem_mutex_init(&cp->cache_depot_lock, KMEM_RANK_DEPOT);
	kmem_mutex_init(&cp->cache_slab_lock, KMEM_RANK_SLAB);
	kmem_slab_init(cp);

	kmem_mutex_enter(&kmem_caches_lock);
	cp->cache_index = kmem_index_get(cp);
	cp->cache_fast_offset = (cp->cache_flags & KMF_BUFTAG) ? UINT32_MAX :
	    cp->cache_index * (unsigned)sizeof (kmem_slot_t);
	if (cp->cache_index < KMEM_CACHES_MAX) {
		cp->cache_list_next = &kmem_caches;
		cp->cache_list_prev = kmem_caches.cache_list_prev;
		kmem_caches.cache_list_prev->cache_list_next = cp;
		kmem_caches.cache_list_prev = cp;
	}
	kmem_mutex_exit(&kmem_caches_lock);
	if (cp->cache_index >= KMEM_CACHES_MAX) {
		/* vmem goes on without quantum caches, and warns itself. */
		if (!(cp->cache_flags & KMC_QCACHE))
			kmem_report("kmem_cache_create(\"%s\"): already %d "
			    "caches, the most there can be", cp->cache_name,
			    KMEM_CACHES_MAX);
		kmem_mutex_destroy(&cp->cache_depot_lock);
		kmem_mutex_destroy(&cp->cache_slab_lock);
		return (NULL);
	}
	return (cp);
}

kmem_cache_t *
kmem_cache_create(const char *name, size_t bufsize, size_t align,
    kmem_constructor_t *constructor, kmem_destructor_t *destructor,
    kmem_reclaim_t *reclaim, void *private, vmem_t *vmp, int cflags)
{
	kmem_init();
	/* A constructed object owns every word of its buffer: its free
	 * mark goes in a word after it. */
	if (constructor != NULL || destructor != NULL)
		cflags |= KMF_MARKWORD;
	kmem_cache_t *cp = kmem_cache_create_internal(name, bufsize, align,
	    constructor, destructor, reclaim, private, vmp, cflags);
	if (cp != NULL)
		kmem_cache_mark_frees(cp);
	return (cp);
}

kmem_cache_t *
kmem_cache_create_internal(const char *name, size_t bufsize, size_t align,
    kmem_constructor_t *constructor, kmem_destructor_t *destructor,
    kmem_reclaim_t *reclaim, void *private, vmem_t *vmp, int cflags)
{
	/* NULL rather than a wait when memory is exhausted: the caller can
	 * fail (pool_init() relies on it), and no free may ever come. */
	kmem_cache_t *cp = kmem_cache_alloc(kmem_cache_cache, KM_NOSLEEP);
	if (cp == NULL)
		return (NULL);
	if (kmem_cache_create_in(cp, name, bufsize, align, constructor,
	    destructor, reclaim, private, vmp, cflags) == NULL) {
		kmem_cache_free(kmem_cache_cache, cp);
		return (NULL);
	}
	return (cp);
}

const char *
kmem_cache_name(const kmem_cache_t *cp)
{
	return (cp->cache_name);
}

/*
 * Is cp on the list of caches, i.e. made by kmem_cache_create() and not
 * destroyed?  Compares pointers only, so garbage may be asked about
 * (kmem_caches_lock held).
 */
static bool
cache_listed(const kmem_cache_t *cp)
{
	for (const kmem_cache_t *c = kmem_caches.cache_list_next;
	    c != &kmem_caches;
	    c = c->cache_list_next)
		if (c == cp)
			return (true);
	return (false);
}

/*
 * Destroy cp; the number of its buffers never freed, reported first when
 * report_leaks says so.
 */
static size_t
cache_destroy(kmem_cache_t *cp, bool report_leaks)
{
	/* Off the list, so no reap, update, verify or move pass reaches it
	 * any more (a verify or move pass in progress finishes first). */
	kmem_move_cache_leaving(cp);
	kmem_mutex_enter(&kmem_debug_verify_lock);
	kmem_mutex_enter(&kmem_caches_lock);
	bool listed = cp != NULL && cache_listed(cp);
	if (listed) {
		cp->cache_list_prev->cache_list_next = cp->cache_list_next;
		cp->cache_list_next->cache_list_prev = cp->cache_list_prev;
	}
	kmem_mutex_exit(&kmem_caches_lock);
	kmem_mutex_exit(&kmem_debug_verify_lock);
	kmem_move_cache_gone(listed ? cp : NULL);
	if (cp == NULL) {
		kmem_report("kmem_cache_destroy(NULL): the cache is NULL");
		return (0);
	}
	if (!listed) {
		kmem_report("kmem_cache_destroy(%p): not a cache (never "
		    "created, or destroyed already)", (void *)cp);
		return (0);
	}

	kmem_thread_flush_cache(cp);
	kmem_depot_purge(cp);
	uint64_t leaked = kmem_slab_destroy_all(cp);
	if (cp->cache_flags & KMF_FIREWALL)
		leaked += kmem_firewall_forget(cp);
	if (leaked != 0 && report_leaks)
		kmem_report("kmem_cache_destroy(\"%s\"): %llu buffer%s never "
		    "freed; leaked", cp->cache_name, (unsigned long long)leaked,
		    leaked == 1 ? "" : "s");

	kmem_mutex_enter(&kmem_caches_lock);
	kmem_index_put(cp->cache_index);
	kmem_mutex_exit(&kmem_caches_lock);
	kmem_mutex_destroy(&cp->cache_depot_lock);
	kmem_mutex_destroy(&cp->cache_slab_lock);
	kmem_cache_free(kmem_cache_cache, cp);
	return ((size_t)leaked);
}

void
kmem_cache_destroy(kmem_cache_t *cp)
{
	(void) cache_destroy(cp, true);
}

size_t
kmem_cache_destroy_leaked(kmem_cache_t *cp)
{
	return (cache_destroy(cp, false));
}

/* ---- allocation ---- */

static void
cc_reload(kmem_slot_t *cc, kmem_magazine_t *mp, int rounds)
{
	cc->cc_ploaded = cc->cc_loaded;
	cc->cc_prounds = cc->cc_rounds;
	cc->cc_loaded = mp;
	__atomic_store_n(&cc->cc_rounds, rounds, __ATOMIC_RELAXED);
}

/*
 * Whether cp has a magazine layer.  The depot may grow cp->cache_magtype at any
 * time (kmem_depot_resize_check), but never between NULL and not NULL.
 */
static bool
has_magazines(const kmem_cache_t *cp)
{
	return (__atomic_load_n(&cp->cache_magtype, __ATOMIC_RELAXED) != NULL);
}

/* Make the slot hold magazines of the cache's size; false if none. */
static bool
cc_current(kmem_cache_t *cp, kmem_slot_t *cc)
{
	const kmem_magtype_t *mtp = __atomic_load_n(&cp->cache_magtype,
	    __ATOMIC_ACQUIRE);
	if (mtp == NULL)
		return (false);
	if ((unsigned)cc->cc_magsize != mtp->rounds) {
		/* The cache's magazines grew: give the old ones back. */
		kmem_thread_slot_to_depot(cp, cc);
		cc->cc_magsize = (int)mtp->rounds;
		cc->cc_run = 0;
	}
	return (true);
}

/*
 * The magazine layer's slow paths change the calling thread's slot under
 * its thread cache's lock.  No other thread wants that lock in normal use,
 * but fork() takes every one (kmem_fork.c), so a child never inherits a
 * slot halfway through a magazine exchange, with a magazine in two places
 * or in none.
 */

/* The most trips a run counts (its sign is its direction). */
#define KMEM_RUN_MAX    (1 << 20)

/*
 * Magazine size from the traffic seen.  A thread whose two magazines are
 * both empty when it allocates (both full when it frees) makes a trip to
 * the depot, for a full magazine or from the slabs (or for an empty one).
 * Trips in a row in one direction, ended by a trip in the other, measured
 * a batch: the thread allocated (or freed) what its two magazines held and
 * a magazine per trip, at most (trips + 2) * magsize rounds, without
 * turning round.  Magazines that hold that much serve the next such batch
 * and its return with no trip at all, so the depot is told
 * (kmem_depot_batch_seen()) and grows them in one step.  A single trip
 * tells too little (the slot may just have been empty: its first use, or
 * the magazines it gave back when their size changed, which also starts
 * the count afresh), and a batch that needs only one trip per direction
 * is cheap enough.  dir: 1 for an allocation's trip, -1 for a free's; the
 * slot's lock held.
 */
static void
depot_trip(kmem_cache_t *cp, kmem_slot_t *cc, int dir)
{
	int run = cc->cc_run;
	if (run != 0 && (run > 0) == (dir > 0)) {
		if (run < KMEM_RUN_MAX && run > -KMEM_RUN_MAX)
			cc->cc_run = run + dir;
		return;
	}
	cc->cc_run = dir;
	unsigned trips = (unsigned)(run < 0 ? -run : run);
	if (trips >= 2 && cc->cc_magsize > 0)
		kmem_depot_batch_seen(cp, (trips + 2) * (unsigned)cc->cc_magsize);
}

/* The allocation slow path (lock held); NULL sends us to the slabs. */
static void *
magazine_alloc(kmem_cache_t *cp, kmem_slot_t *cc)
{
	for (;;) {
		if (cc->cc_rounds > 0)
			return (kmem_magazine_pop(cp, cc, cc->cc_rounds));
		if (cc->cc_prounds > 0) {
			cc_reload(cc, cc->cc_ploaded, cc->cc_prounds);
			continue;
		}
		depot_trip(cp, cc, 1);
		if (!cc_current(cp, cc))
			return (NULL);
		kmem_magazine_t *fmp = kmem_depot_alloc(cp, &cp->cache_full,
		    (unsigned)cc->cc_magsize);
		if (fmp == NULL)
			return (NULL);
		if (cc->cc_ploaded != NULL)
			kmem_depot_free(cp, cc->cc_ploaded, 0);
		cc_reload(cc, fmp, (int)fmp->count);
	}
}

/*
 * The free slow path (lock held); false if there is no magazine layer or no
 * empty magazine in the depot.  trip: count a trip to the depot (a free's,
 * the first time it tries; not a load of buffers from the slabs).
 */
static bool
magazine_free(kmem_cache_t *cp, kmem_slot_t *cc, void *buf, bool trip)
{
	for (;;) {
		if ((unsigned)cc->cc_rounds < (unsigned)cc->cc_magsize) {
			kmem_magazine_push(cp, cc, cc->cc_rounds, buf);
			return (true);
		}
		if (cc->cc_prounds == 0) {
			cc_reload(cc, cc->cc_ploaded, cc->cc_prounds);
			continue;
		}
		if (trip) {
			depot_trip(cp, cc, -1);
			trip = false;
		}
		if (!cc_current(cp, cc))
			return (false);
		kmem_magazine_t *emp = kmem_depot_alloc(cp, &cp->cache_empty,
		    (unsigned)cc->cc_magsize);
		if (emp != NULL) {
			if (cc->cc_ploaded != NULL)
				kmem_depot_free(cp, cc->cc_ploaded,
				    (unsigned)cc->cc_prounds);
			cc_reload(cc, emp, 0);
			continue;
		}
		return (false);
	}
}

static void *
thread_magazine_alloc(kmem_cache_t *cp)
{
	kmem_slot_t *cc = kmem_thread_slot(cp);
	if (cc == NULL)
		return (NULL);
	kmem_mutex_enter(&kmem_self->lock);
	void *buf = magazine_alloc(cp, cc);
	kmem_mutex_exit(&kmem_self->lock);
	kmem_depot_tend(cp);
	return (buf);
}

/*
 * Free into the thread's magazines; when the depot has no empty magazine,
 * make one (no lock held: that may reach vmem) and try once more.
 */
static bool
thread_magazine_free(kmem_cache_t *cp, void *buf)
{
	kmem_slot_t *cc = kmem_thread_slot(cp);
	if (cc == NULL)
		return (false);
	for (bool retried = false;; retried = true) {
		kmem_mutex_enter(&kmem_self->lock);
		bool kept = magazine_free(cp, cc, buf, !retried);
		kmem_mutex_exit(&kmem_self->lock);
		kmem_depot_tend(cp);
		if (kept || retried)
			return (kept);
		kmem_magazine_t *emp = kmem_magazine_alloc(__atomic_load_n(
		    &cp->cache_magtype, __ATOMIC_ACQUIRE), KM_NOSLEEP);
		if (emp == NULL)
			return (false);
		kmem_depot_free(cp, emp, 0);
	}
}

/* Count the slow paths of a thread, and let every 64th run the update. */
static void
pace_update(void)
{
	kmem_thread_cache_t *tc = kmem_self;
	if (tc->nslots != 0 && (++tc->slow_calls & 63) == 0)
		kmem_update_maybe();
}

/* Construct a free buffer; false if that failed and it went back to its
 * slab. */
static bool
buffer_construct(kmem_cache_t *cp, void *buf, int kmflag)
{
	if (cp->cache_constructor == NULL ||
	    cp->cache_constructor(buf, cp->cache_private, kmflag & ~KM_PANIC) ==
	    0)
		return (true);
	if (cp->cache_flags & KMF_BUFTAG)
		kmem_buftag_init(cp, buf);
	kmem_slab_free(cp, buf);
	return (false);
}

/*
 * Make a free buffer ready for a caller: check its debug tag, construct it.
 * False if it cannot be had (a damaged one is reported and kept out of
 * use; a failing constructor's goes back to its slab).
 */
static bool
slab_buffer_ready(kmem_cache_t *cp, void *buf, int kmflag, size_t requested)
{
	if ((cp->cache_flags & KMF_BUFTAG) &&
	    !kmem_debug_alloc(cp, buf, requested))
		return (false);
	return (buffer_construct(cp, buf, kmflag));
}

/*
 * A buffer from the thread's magazines, ready for the caller, or NULL.  A
 * debug cache's rounds are free buffers, as in its slabs, so they are
 * checked and constructed here, each as it is handed out.
 */
static void *
magazine_buffer(kmem_cache_t *cp, int kmflag, size_t requested)
{
	void *buf = thread_magazine_alloc(cp);
	pace_update();
	if (buf == NULL || !(cp->cache_flags & KMF_BUFTAG))
		return (buf);
	if (!kmem_debug_alloc(cp, buf, requested))
		return (NULL);  /* reported; kept out of use, as allocated */
	if (buffer_construct(cp, buf, kmflag))
		return (buf);
	/* Back in its slab: the magazine's count of it is taken back. */
	kmem_slot_t *cc = kmem_thread_slot(cp);
	__atomic_store_n(&cc->cc_alloc, cc->cc_alloc - 1, __ATOMIC_RELAXED);
	return (NULL);
}

/*
 * Put n constructed buffers, fresh from the slabs, into the thread's
 * magazines; returns how many they took.  They were never allocated, so
 * they are not counted as frees.
 */
static unsigned
thread_magazine_load(kmem_cache_t *cp, void **bufs, unsigned n)
{
	kmem_slot_t *cc = kmem_thread_slot(cp);
	unsigned done = 0;
	if (cc == NULL)
		return (0);
	for (bool retried = false;; retried = true) {
		kmem_mutex_enter(&kmem_self->lock);
		uint64_t frees = cc->cc_free;
		while (done < n && magazine_free(cp, cc, bufs[done], false))
			done++;
		__atomic_store_n(&cc->cc_free, frees, __ATOMIC_RELAXED);
		kmem_mutex_exit(&kmem_self->lock);
		if (done == n || retried)
			return (done);
		kmem_magazine_t *emp = kmem_magazine_alloc(__atomic_load_n(
		    &cp->cache_magtype, __ATOMIC_ACQUIRE), KM_NOSLEEP);
		if (emp == NULL)
			return (done);
		kmem_depot_free(cp, emp, 0);
	}
}

/*
 * The thread's magazines and the depot are empty: take a magazine's worth
 * of buffers from the slabs at once, return one and load the others.  One
 * trip to the slab layer instead of one per allocation, and the thread gets
 * a run of neighbouring buffers of its own, rather than buffers interleaved
 * with other threads' that would share their cache lines.  Only for caches
 * without a constructor: an object is constructed when someone asks for
 * one, never ahead; nor for debug caches, whose buffers are checked one by
 * one as they are handed out.  NULL when the slabs gave nothing (the caller
 * tries the one-buffer path).
 */
/* The largest magazine's rounds (143, kmem_depot.c) and one to return. */
#define KMEM_FILL_MAX   144

static void *
magazine_fill(kmem_cache_t *cp, int kmflag)
{
	void *bufs[KMEM_FILL_MAX];
	const kmem_magtype_t *mtp = __atomic_load_n(&cp->cache_magtype,
	    __ATOMIC_ACQUIRE);
	unsigned want = mtp->rounds + 1;        /* one to return */
	if (want <= 2 || cp->cache_constructor != NULL ||
	    (cp->cache_flags & KMF_BUFTAG))
		return (NULL);
	if (want > KMEM_FILL_MAX)
		want = KMEM_FILL_MAX;
	unsigned got = kmem_slab_alloc_many(cp, bufs, want, kmflag);
	unsigned ready = 0;
	for (unsigned i = 0; i < got; i++)
		if (slab_buffer_ready(cp, bufs[i], kmflag, cp->cache_bufsize))
			bufs[ready++] = bufs[i];
	if (ready == 0)
		return (NULL);
	if (cp->cache_flags & KMC_NOTOUCH)
		kmem_slab_set_cached(cp, bufs + 1, ready - 1);
	/* Every round carries the mark, so a free of one is refused. */
	for (unsigned i = 1; i < ready; i++)
		kmem_free_mark_set(cp, bufs[i], false);
	unsigned loaded = thread_magazine_load(cp, bufs + 1, ready - 1);
	for (unsigned i = 1 + loaded; i < ready; i++)
		kmem_cache_free_to_slab(cp, bufs[i]);
	return (bufs[0]);
}

/*
 * A firewalled buffer (kmem_firewall.c) for a KMF_FIREWALL cache: every
 * buffer of a cache created with the flag, the requests at or above the
 * firewall size of one of kmem_alloc()'s classes.
 */
static void *
firewall_buffer(kmem_cache_t *cp, int kmflag, size_t requested)
{
	bool class = cp->cache_flags & KMF_CLASS;
	/*
	 * A class promises its alignment only to requests that are multiples
	 * of it (memalign() asks for those): the others end nearer the guard.
	 */
	size_t align = cp->cache_align;
	size_t lowest_bit = requested & (0 - requested);
	if (class && lowest_bit < align)
		align = lowest_bit > 16 ? lowest_bit : 16;
	void *buf = kmem_firewall_alloc(cp, requested, align);
	if (buf != NULL && !class && cp->cache_constructor != NULL &&
	    cp->cache_constructor(buf, cp->cache_private, kmflag & ~KM_PANIC) !=
	    0) {
		kmem_firewall_discard(buf);
		buf = NULL;
	}
	return (buf);
}

/*
 * A class cache while malloc's recorder diverts it (kmem_query.h): the
 * thread's loaded magazine, by the cache's real index, when its fast path
 * would have used it (not a debug cache's: cache_fast_offset keeps those
 * on the slow path in any case).  Only the owner changes its slot, so no
 * lock, as on the fast path.
 */
static kmem_slot_t *
diverted_slot(const kmem_cache_t *cp)
{
	kmem_thread_cache_t *tc = kmem_self;
	if ((cp->cache_flags & KMF_BUFTAG) || cp->cache_index >= tc->nslots)
		return (NULL);
	return (&tc->slots[cp->cache_index]);
}

static __attribute__((noinline)) void *alloc_slow(kmem_cache_t *cp,
    int kmflag, size_t requested);

/* A diverted allocation the loaded magazine cannot serve. */
static __attribute__((noinline)) void *
diverted_alloc_slow(kmem_cache_t *cp, int kmflag, size_t requested)
{
	void *buf = alloc_slow(cp, kmflag, requested);
	if (buf != NULL) {
		kmem_malloc_slow_hook();
		if (kmflag & KM_MALLOC_ENTRY)
			buf = kmem_malloc_alloc_hook(buf, requested);
	}
	return (buf);
}

/*
 * An allocation from a diverted class cache; malloc()'s are recorded.
 * From the loaded magazine, the hook comes last, as a tail call: nothing
 * of this frame's lives across a call, so the path stores no more than
 * the pop and the recorder do (every store waits behind the program's
 * pending cache misses; larson, a loop of them, counts each).
 */
static void *
diverted_alloc(kmem_cache_t *cp, int kmflag, size_t requested)
{
	kmem_slot_t *cc = diverted_slot(cp);
	if (cc == NULL || cc->cc_rounds <= 0)
		return (diverted_alloc_slow(cp, kmflag, requested));
	void *buf = kmem_magazine_pop(cp, cc, cc->cc_rounds);
	kmem_free_mark_clear(cp, buf, false);
	if (kmflag & KM_MALLOC_ENTRY)
		return (kmem_malloc_alloc_hook(buf, requested));
	return (buf);
}

void *
kmem_cache_alloc_slow(kmem_cache_t *cp, int kmflag, size_t requested)
{
	if (cp->cache_flags & KMF_NULL)
		return (NULL);
	if ((cp->cache_flags & KMF_CLASS) &&
	    __atomic_load_n(&kmem_malloc_diverted, __ATOMIC_ACQUIRE))
		return (diverted_alloc(cp, kmflag, requested));
	return (alloc_slow(cp, kmflag, requested));
}

/* Out of line, so that the diverted allocations pay for no stack frame of
 * this one's. */
static void *
alloc_slow(kmem_cache_t *cp, int kmflag, size_t requested)
{
	if (requested == 0)
		requested = cp->cache_bufsize;
	void *buf = NULL;
	bool firewalled = (cp->cache_flags & KMF_FIREWALL) &&
	    (!(cp->cache_flags & KMF_CLASS) || kmem_firewall_wants(requested));
	if (firewalled) {
		buf = firewall_buffer(cp, kmflag, requested);
	} else if (has_magazines(cp)) {
		buf = magazine_buffer(cp, kmflag, requested);
		if (buf != NULL) {
			kmem_free_mark_clear(cp, buf, false);
			return (buf);
		}
		buf = magazine_fill(cp, kmflag);
	}

	if (buf == NULL && !firewalled) {
		buf = kmem_slab_alloc(cp, kmflag);
		if (buf == NULL) {
			/* The arena ran dry: ask every cache to give back. */
			kmem_reap_soon();
			buf = kmem_slab_alloc(cp, kmflag);
		}
		if (buf != NULL && !slab_buffer_ready(cp, buf, kmflag,
		    requested))
			buf = NULL;
	}
	if (buf == NULL) {
		__atomic_fetch_add(&cp->cache_alloc_fail, 1, __ATOMIC_RELAXED);
		kmem_debug_alloc_failed(cp, requested);
		if (kmflag & KM_PANIC)
			kmem_report("kmem_cache_alloc(\"%s\"): cannot satisfy "
			    "mandatory allocation (KM_PANIC)", cp->cache_name);
		return (NULL);
	}
	__atomic_fetch_add(&cp->cache_slow_alloc, 1, __ATOMIC_RELAXED);
	kmem_free_mark_clear(cp, buf, false);
	return (buf);
}

void *
kmem_cache_alloc(kmem_cache_t *cp, int kmflag)
{
	void *buf = kmem_cache_alloc_inline(cp, kmflag, 0);
	if (buf == NULL)
		return (NULL);
	/* Not a quantum cache's: its buffers hold other caches' blocks. */
	if (!(cp->cache_flags & KMC_NOTOUCH))
		kmem_block_allocated(buf, cp->cache_bufsize,
		    cp->cache_constructor != NULL);
	else if (has_magazines(cp))
		kmem_slab_set_held(cp, buf);    /* it may come from a magazine */
	return (buf);
}

/* ---- free ---- */

/*
 * A cached buffer goes back to its slab: destructor first, but never on a
 * buffer the slab layer would refuse.  kmem_cache_free_slow() has already
 * checked the buffers of a cache without magazines, and of a debug cache,
 * whose buffers it also destructed, and kmem_notouch_free() those of a
 * KMC_NOTOUCH cache; a hash cache with magazines outside the page map (on
 * an arena of less than a page) may bring a buffer nobody checked, so it
 * is asked here.
 */
void
kmem_cache_free_to_slab(kmem_cache_t *cp, void *buf)
{
	if (cp->cache_destructor != NULL && !(cp->cache_flags & KMF_BUFTAG)) {
		if (has_magazines(cp) && !kmem_slab_accepts(cp, buf))
			return;
		/* It may come from a magazine, or the caller's free. */
		kmem_buffer_unpoison(cp, buf);
		cp->cache_destructor(buf, cp->cache_private);
	}
	kmem_slab_free(cp, buf);
}

/* ---- for the defragmenter (kmem_move.c) ---- */

void *
kmem_cache_move_dest(kmem_cache_t *cp, const kmem_slab_t *avoid)
{
	void *buf = kmem_slab_alloc_move(cp, avoid);
	if (buf == NULL)
		return (NULL);
	if (!slab_buffer_ready(cp, buf, KM_NOSLEEP, cp->cache_bufsize)) {
		__atomic_fetch_add(&cp->cache_alloc_fail, 1, __ATOMIC_RELAXED);
		return (NULL);
	}
	__atomic_fetch_add(&cp->cache_slow_alloc, 1, __ATOMIC_RELAXED);
	kmem_free_mark_clear(cp, buf, false);
	kmem_block_allocated(buf, cp->cache_bufsize,
	    cp->cache_constructor != NULL);
	return (buf);
}

void
kmem_cache_move_release(kmem_cache_t *cp, void *buf)
{
	kmem_block_freed(buf);
	if (cp->cache_flags & KMF_BUFTAG) {
		if (!kmem_debug_free(cp, buf, KMEM_FREE_UNSIZED))
			return;         /* reported: a damaged buffer stays out */
		if (cp->cache_destructor != NULL)
			cp->cache_destructor(buf, cp->cache_private);
		kmem_debug_freed(cp, buf);
	}
	__atomic_fetch_add(&cp->cache_slow_free, 1, __ATOMIC_RELAXED);
	kmem_free_mark_set(cp, buf, false);
	kmem_cache_free_to_slab(cp, buf);
}

/*
 * A free to a KMC_NOTOUCH cache that its hash refused (state, as
 * kmem_slab_cache_buffer() said): a quantum cache's is vmem_free()'s bad
 * free, reported by its arena (kmem_free_size is the size vmem_free()
 * got); another cache's is kmem_cache_free()'s.  Before anything changed.
 */
static void
notouch_refuse(kmem_cache_t *cp, void *buf, size_t kmem_free_size,
    kmem_buf_state_t state)
{
	if (cp->cache_flags & KMC_QCACHE)
		vmem_qcache_bad_free(cp->cache_arena, buf, kmem_free_size);
	else if (state == KMEM_BUF_CACHED)
		kmem_debug_report(cp, buf, "kmem_cache_free(\"%s\", %p): double "
		    "free: the buffer is already free, in the cache's "
		    "magazines", cp->cache_name, buf);
	else
		kmem_slab_refuse(cp, buf);
}

static void free_slow(kmem_cache_t *cp, void *buf, size_t kmem_free_size);

/* A diverted free the loaded magazine does not take (or a double free):
 * the hook first, since another thread may take the buffer at once. */
static __attribute__((noinline)) void
diverted_free_other(kmem_cache_t *cp, void *buf, size_t kmem_free_size)
{
	kmem_slot_t *cc = diverted_slot(cp);
	if (cc != NULL && cp->cache_free_key == 0 && cc->cc_rounds > 0 &&
	    kmem_magazine_top_is(cc->cc_loaded, cc->cc_rounds, buf)) {
		kmem_double_free(cp, buf, kmem_free_size,
		    "the buffer freed last");
		return;
	}
	if (kmem_free_size == KMEM_FREE_MALLOC)
		kmem_malloc_free_hook(buf);
	free_slow(cp, buf, kmem_free_size);
}

/*
 * A free to a diverted class cache: the fast path's check of a cache
 * without free marks (a bad free is no event), then the fast path's push
 * and the recorder's hook (kmem_query.h).  Pushed to the thread's loaded
 * magazine, the buffer is the thread's until its next call, so the hook
 * may come after, as a tail call that keeps nothing of this frame's
 * (diverted_alloc() says why).
 */
static void
diverted_free(kmem_cache_t *cp, void *buf, size_t kmem_free_size)
{
	kmem_slot_t *cc = diverted_slot(cp);
	if (cc == NULL || (unsigned)cc->cc_rounds >= (unsigned)cc->cc_magsize ||
	    (cp->cache_free_key == 0 && cc->cc_rounds > 0 &&
	    kmem_magazine_top_is(cc->cc_loaded, cc->cc_rounds, buf))) {
		diverted_free_other(cp, buf, kmem_free_size);
		return;
	}
	kmem_magazine_push(cp, cc, cc->cc_rounds, buf);
	if (kmem_free_size == KMEM_FREE_MALLOC)
		kmem_malloc_free_hook(buf);
}

void
kmem_cache_free_slow(kmem_cache_t *cp, void *buf, size_t kmem_free_size)
{
	if (cp->cache_flags & KMF_NULL) {
		/* Nothing was allocated yet; start kmem for the debug settings. */
		kmem_init();
		kmem_bad_free(cp, buf, kmem_free_size);
		return;
	}
	if ((cp->cache_flags & KMF_CLASS) &&
	    __atomic_load_n(&kmem_malloc_diverted, __ATOMIC_ACQUIRE))
		diverted_free(cp, buf, kmem_free_size);
	else
		free_slow(cp, buf, kmem_free_size);
}

/* Out of line, so that the diverted frees above pay for no stack frame
 * of this one's. */
static __attribute__((noinline)) void
free_slow(kmem_cache_t *cp, void *buf, size_t kmem_free_size)
{
	/*
	 * Without magazines the buffer goes to its slab now, and a debug
	 * cache's tag is read now, so a bad free is refused before it is
	 * counted or a tag touched: a hash cache asks its hash.  When the page
	 * map has already vouched that buf is one of cp's buffers, a debug tag
	 * is the better witness (it tells a double free from a stranger) and
	 * is asked instead.
	 */
	bool debug = cp->cache_flags & KMF_BUFTAG;
	bool tag_decides = debug && (cp->cache_flags & KMF_PAGEMAP);
	if ((!has_magazines(cp) || debug) && !tag_decides &&
	    !kmem_slab_accepts(cp, buf))
		return;
	if (debug) {
		if (!kmem_debug_free(cp, buf, kmem_free_size))
			return;
		/*
		 * A debug cache caches free buffers, not objects: destructed
		 * and patterned now, the buffer is what its slab would hold,
		 * in a magazine or not.
		 */
		if (cp->cache_destructor != NULL)
			cp->cache_destructor(buf, cp->cache_private);
		kmem_debug_freed(cp, buf);
	}
	if (has_magazines(cp)) {
		bool kept = thread_magazine_free(cp, buf);
		pace_update();
		if (kept)
			return;
	}
	__atomic_fetch_add(&cp->cache_slow_free, 1, __ATOMIC_RELAXED);
	kmem_cache_free_to_slab(cp, buf);
}

void
kmem_report_not_buffer_start(const char *where, const kmem_slab_t *sp,
    const void *buf)
{
	kmem_cache_t *cp = sp->slab_cache;
	if ((uintptr_t)buf < sp->slab_first ||
	    (uintptr_t)buf - sp->slab_first >=
	    (uintptr_t)cp->cache_chunks * cp->cache_chunksize) {
		kmem_debug_report(NULL, NULL, "%s: not a buffer: the address "
		    "is in a slab of cache \"%s\" but outside its buffers "
		    "(colour slack, slab header or tail)", where,
		    cp->cache_name);
	} else if (kmem_slab_holds(cp, sp, buf)) {
		kmem_debug_report(cp, buf, "%s: never allocated: the buffer "
		    "is one of cache \"%s\" that its slab never handed out",
		    where, cp->cache_name);
	} else {
		uintptr_t off = (uintptr_t)buf - sp->slab_first;
		void *start =
		    (void *)(sp->slab_first + off / cp->cache_chunksize *
		    cp->cache_chunksize);
		kmem_debug_report(sp->slab_cache, start,
		    "%s: not the start of a "
		    "buffer: %zu bytes into the buffer at %p of cache \"%s\"",
		    where, (size_t)(off % cp->cache_chunksize), start,
		    cp->cache_name);
	}
}

/* Name the call that freed buf to cp, as reports begin. */
static void
free_call(char *out, size_t len, const kmem_cache_t *cp, const void *buf,
    size_t kmem_free_size)
{
	if (kmem_free_size == KMEM_FREE_UNSIZED)
		kmem_snprintf(out, len, "kmem_cache_free(\"%s\", %p)",
		    cp->cache_name, buf);
	else if (kmem_free_size == KMEM_FREE_MALLOC)
		kmem_snprintf(out, len, "free(%p)", buf);
	else
		kmem_snprintf(out, len, "kmem_free(%p, %zu)", buf,
		    kmem_free_size);
}

/*
 * Report a large kmem_alloc() buffer given to kmem_free() with a size of a
 * class, or of another number of pages; false if buf is no large buffer.
 */
static bool
report_large_wrong_size(const char *where, void *buf)
{
	size_t pages = kmem_oversize != NULL ?
	    vmem_alloc_size(kmem_oversize, buf) : 0;
	if (pages == 0)
		return (false);
	size_t least = pages - kmem_pagesize() + 1;
	if (least <= KMEM_MAXBUF)
		least = KMEM_MAXBUF + 1;
	kmem_debug_report(NULL, buf, "%s: wrong size: the buffer was allocated "
	    "from kmem_oversize (a large buffer of %zu to %zu bytes)", where,
	    least, pages);
	return (true);
}

/*
 * cp is NULL for kmem_free() above KMEM_MAXBUF, when buf was no large
 * buffer of that size (kmem_alloc.c).
 */
void
kmem_bad_free(kmem_cache_t *cp, void *buf, size_t kmem_free_size)
{
	if (cp != NULL && kmem_firewall_free(cp, buf, kmem_free_size))
		return;
	bool by_size = cp == NULL || kmem_free_size < KMEM_FREE_MALLOC;
	char where[64];
	free_call(where, sizeof (where), cp, buf, kmem_free_size);

	const kmem_slab_t *sp = kmem_pagemap_find((uintptr_t)buf);
	if (sp == NULL) {
		if (!by_size || !report_large_wrong_size(where, buf))
			kmem_debug_report(NULL, buf, "%s: not a buffer of any "
			    "cache%s", where, cp == NULL ? ", nor an allocated "
			    "large buffer: a double free, or never allocated" :
			    " (never allocated, or not memory of this "
			    "allocator)");
	} else if (sp->slab_cache != cp) {
		kmem_cache_t *owner = sp->slab_cache;
		if (!kmem_slab_holds(owner, sp, buf))
			kmem_report_not_buffer_start(where, sp, buf);
		else if (!by_size)
			kmem_debug_report(owner, buf, "%s: wrong cache: the "
			    "buffer belongs to cache \"%s\"", where,
			    owner->cache_name);
		else
			kmem_debug_report(owner, buf, "%s: wrong size: the "
			    "buffer was allocated from cache \"%s\" (buffers "
			    "of %zu bytes)", where, owner->cache_name,
			    owner->cache_bufsize);
	} else {
		kmem_report_not_buffer_start(where, sp, buf);
	}
}

size_t
kmem_cache_usable_size(kmem_cache_t *cp, const void *buf)
{
	if (cp->cache_flags & KMF_BUFTAG)
		return (kmem_debug_requested(cp, buf));
	return (cp->cache_bufsize);
}

/* Never inlined into kmem_cache_free(): its buffer would cost every free
 * a stack frame. */
__attribute__((noinline, cold)) void
kmem_double_free(kmem_cache_t *cp, void *buf, size_t kmem_free_size,
    const char *where)
{
	if (kmem_free_size == KMEM_FREE_MALLOC) {
		/* glibc's words, which people search for. */
		kmem_debug_report(cp, buf, "free(): double free of %p: it is "
		    "free already (%s; cache \"%s\")", buf, where,
		    cp->cache_name);
		return;
	}
	char call[64];
	free_call(call, sizeof (call), cp, buf, kmem_free_size);
	kmem_debug_report(cp, buf, "%s: double free: the buffer is free "
	    "already (%s; cache \"%s\")", call, where, cp->cache_name);
}

const char *
kmem_free_where(kmem_cache_t *cp, const void *buf)
{
	switch (kmem_thread_magazines_hold(cp, buf)) {
	case KMEM_HELD_BY_CALLER:
		return ("in this thread's magazines");
	case KMEM_HELD_BY_OTHER:
		return ("in another thread's magazines");
	case KMEM_HELD_BY_NONE:
		break;
	}
	if (kmem_depot_holds(cp, buf))
		return ("in the depot's magazines");
	if (kmem_slab_buffer_free(cp, buf))
		return ("on its slab's free list");
	return (NULL);
}

/* Never inlined into kmem_cache_free(), for the same reason. */
__attribute__((noinline, cold)) void
kmem_cache_free_marked(kmem_cache_t *cp, void *buf, size_t kmem_free_size)
{
	const char *where = kmem_free_where(cp, buf);
	if (where != NULL)
		kmem_double_free(cp, buf, kmem_free_size, where);
	else
		kmem_cache_free_slow(cp, buf, kmem_free_size);  /* marked */
}

void
kmem_notouch_free(kmem_cache_t *cp, void *buf, size_t kmem_free_size)
{
	if (has_magazines(cp)) {
		kmem_buf_state_t state = kmem_slab_cache_buffer(cp, buf);
		if (state != KMEM_BUF_ALLOCATED) {
			notouch_refuse(cp, buf, kmem_free_size, state);
			return;
		}
	}
	kmem_cache_free_inline(cp, buf, kmem_free_size);
}

void
kmem_cache_free(kmem_cache_t *cp, void *buf)
{
	if (cp->cache_flags & KMC_NOTOUCH) {
		kmem_notouch_free(cp, buf, KMEM_FREE_UNSIZED);
		return;
	}
	kmem_block_freed(buf);
	kmem_cache_free_inline(cp, buf, KMEM_FREE_UNSIZED);
}
