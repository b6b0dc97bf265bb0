/*
 * Magazines and the depot (Bonwick & Adams 2001, section 3).
 *
 * A magazine is an array of buffer pointers ("rounds").  Each thread holds,
 * per cache, a loaded and a previously loaded magazine (kmem_thread.c);
 * the depot holds the cache's other magazines on two lists, full and
 * empty, and exchanges them with threads: a thread whose two magazines are
 * both empty trades one for a full one, a thread whose two are both full
 * trades one for an empty one.  Buffers in magazines stay constructed.
 *
 * Magazine size.  A cache starts with the magazine size its chunk size
 * calls for (kmem_magtypes[]: small buffers, more rounds).  Two things grow
 * it.  A batch: a thread that allocates (or frees) more in a row than its
 * two magazines hold makes trips to the depot, and when it turns round,
 * kmem_cache.c tells the depot how many rounds that run of trips needed
 * (kmem_depot_batch_seen()); the next check, made by that thread's slow
 * path at once, without waiting for KMEM_DEPOT_RESIZE_SPACING, moves the
 * cache straight to the smallest magazine size that holds the batch, as
 * far as the limit below allows, so a program that allocates 100 objects
 * and frees them runs without the depot from its second round, not after
 * one step per check.  Contention and traffic: when the depot
 * lock was found busy more than KMEM_DEPOT_CONTENTION times since the last
 * check, or the depot exchanged KMEM_DEPOT_TRAFFIC magazines within
 * KMEM_DEPOT_TRAFFIC_WINDOW of the last check (a thread whose working set
 * is bigger than two magazines trades them all the time, contended or
 * not), the cache moves to the next larger size, up to a limit that also
 * depends on the chunk size: bigger magazines mean fewer trips to the
 * depot.  The 2001 paper checks once per update interval (15 s); we also
 * let the slow path that finds the threshold passed check at once, at most
 * every KMEM_DEPOT_RESIZE_SPACING, so a contended cache reaches a good size
 * in milliseconds instead of minutes.  The depot's magazines are destroyed
 * at the switch -- in a cache with a constructor or destructor, the full
 * ones after their rounds were poured into magazines of the new size, so
 * constructed objects outlive it (pour_chain()); each thread notices the new size on its next slow path and
 * gives back its old magazines; an old-size magazine that reaches the
 * depot later (from a thread that exits) waits on the stale list for the
 * next update to destroy it.
 *
 * A bound.  The working set below gives back what sat unused for a whole
 * update interval (15 s by default), which is long: a program whose
 * buffers pass through a size on their way to bigger ones (strings grown
 * by realloc) would keep every class's whole turnover that long.  So the
 * full list also has a ceiling of KMEM_DEPOT_FULL_MAX bytes of rounds per
 * cache: a free that takes it past the ceiling asks for a trim, which the
 * freeing thread's slow path does once it holds no lock (kmem_depot_tend),
 * destroying the newest full magazines (their rounds go to the slabs, whose
 * empty slabs go back to the arena for any cache to use).
 *
 * The ceiling holds only where a round is nothing but memory: a cache
 * with neither constructor nor destructor (kmem_alloc's and malloc's
 * classes, the quantum caches, most clients' plain caches), where
 * destroying a round and making it again later costs two trips to the
 * slab layer.  In a cache with a constructor or a destructor a round is a
 * constructed object, and keeping those across a burst of frees is what
 * object caching is for (Bonwick 1994): destroying one runs the client's
 * destructor now and its constructor again at the next allocation.  Such
 * a cache's full list answers only to the working set, as in illumos.
 *
 * Working set.  Each list remembers the fewest magazines it held during
 * the current update interval (min).  At each update that minimum becomes
 * the reap limit: magazines that sat unused for a whole interval.  The
 * reaper destroys up to min(reaplimit, min) from each list, returning
 * their buffers (after the destructor) to the slab layer; magazines in
 * active use are never reaped.
 *
 * Locking: depot_lock protects the lists, the magazine type and the
 * counters.  It is taken with a try first so contention can be counted.
 * Destroying a magazine runs destructors and frees buffers to the slab
 * layer, so it is done with no depot lock held.
 */
#include "kmem_impl.h"

#include "base/format.h"
#include "base/report.h"

/* Contention events between checks that grow a cache's magazines. */
#define KMEM_DEPOT_CONTENTION 3
/* The shortest time between two checks made by slow paths. */
#define KMEM_DEPOT_RESIZE_SPACING       (10 * 1000 * 1000)      /* 10 ms */
/* The most bytes of rounds a cache's full magazines may hold in the depot,
 * in a cache without constructor or destructor. */
#define KMEM_DEPOT_FULL_MAX             (1u << 20)
/* Exchanges that grow a cache's magazines if they come within the window. */
#define KMEM_DEPOT_TRAFFIC              256
#define KMEM_DEPOT_TRAFFIC_WINDOW       (100 * 1000 * 1000)     /* 100 ms */

/*
 * Magazine sizes: rounds, the magazine's alignment, chunks above minbuf
 * start with it, chunks at or above maxbuf never grow past it (the values
 * of illumos's kmem_magtype table).
 */
kmem_magtype_t kmem_magtypes[] = {
	{ 1, 8, 3200, 65536, NULL },
	{ 3, 16, 256, 32768, NULL },
	{ 7, 32, 64, 16384, NULL },
	{ 15, 64, 0, 8192, NULL },
	{ 31, 64, 0, 4096, NULL },
	{ 47, 64, 0, 2048, NULL },
	{ 63, 64, 0, 1024, NULL },
	{ 95, 64, 0, 512, NULL },
	{ 143, 64, 0, 0, NULL },
};

#define NMAGTYPES (sizeof (kmem_magtypes) / sizeof (kmem_magtypes[0]))

const kmem_magtype_t *
kmem_magtype_for(size_t chunksize)
{
	const kmem_magtype_t *mtp = kmem_magtypes;
	while (chunksize <= mtp->minbuf)
		mtp++;
	return (mtp);
}

unsigned
kmem_magazine_rounds(size_t chunksize, bool grown)
{
	const kmem_magtype_t *mtp = kmem_magtype_for(chunksize);
	while (grown && chunksize < mtp->maxbuf)
		mtp++;
	return (mtp->rounds);
}

static const kmem_magtype_t *
magtype_of(const kmem_magazine_t *mp)
{
	return (&kmem_magtypes[mp->type]);
}

void
kmem_magtypes_init(void)
{
	for (size_t i = 0; i < NMAGTYPES; i++) {
		kmem_magtype_t *mtp = &kmem_magtypes[i];
		char name[VMEM_NAMELEN];
		kmem_snprintf(name, sizeof (name), "kmem_magazine_%u",
		    mtp->rounds);
		mtp->cache = kmem_cache_create_internal(name, sizeof (kmem_magazine_t) +
		    mtp->rounds * sizeof (void *), mtp->align, NULL, NULL, NULL,
		    NULL, kmem_metadata_arena(), KMC_NOHASH | KMC_NOMAGAZINE |
		    KMC_NODEBUG);
		if (mtp->cache == NULL)
			kmem_panic("kmem: cannot create %s", name);
	}
}

/* A new empty magazine of type mtp, or NULL. */
kmem_magazine_t *
kmem_magazine_alloc(const kmem_magtype_t *mtp, int kmflag)
{
	kmem_magazine_t *mp = kmem_cache_alloc(mtp->cache, kmflag);
	if (mp != NULL)
		*mp = (kmem_magazine_t){ .type = (uint32_t)(mtp - kmem_magtypes) };
	return (mp);
}

/* Take the depot lock, counting the times it was busy. */
static void
depot_enter(kmem_cache_t *cp)
{
	if (!kmem_mutex_tryenter(&cp->cache_depot_lock)) {
		kmem_mutex_enter(&cp->cache_depot_lock);
		if (++cp->cache_depot_contention -
		    cp->cache_depot_contention_prev > KMEM_DEPOT_CONTENTION)
			__atomic_store_n(&cp->cache_depot_resize_wanted, true,
			    __ATOMIC_RELAXED);
	}
}

/* The bytes of rounds on the full list (depot_lock held). */
static uint64_t
full_bytes(const kmem_cache_t *cp)
{
	return (cp->cache_full.total * cp->cache_magtype->rounds *
	    cp->cache_chunksize);
}

/* Are cp's rounds nothing but memory (no constructor, no destructor)? */
static bool
rounds_are_memory(const kmem_cache_t *cp)
{
	return (cp->cache_constructor == NULL && cp->cache_destructor == NULL);
}

/* Is cp's full list over its ceiling (depot_lock held)?  See above. */
static bool
full_over_ceiling(const kmem_cache_t *cp)
{
	return (rounds_are_memory(cp) && cp->cache_magtype != NULL &&
	    full_bytes(cp) > KMEM_DEPOT_FULL_MAX);
}

/* Count an exchange (depot_lock held); enough of them want a check. */
static void
depot_traffic(kmem_cache_t *cp)
{
	if (cp->cache_depot_alloc + cp->cache_depot_free -
	    cp->cache_depot_traffic_prev >= KMEM_DEPOT_TRAFFIC)
		__atomic_store_n(&cp->cache_depot_resize_wanted, true,
		    __ATOMIC_RELAXED);
}

kmem_magazine_t *
kmem_depot_alloc(kmem_cache_t *cp, kmem_maglist_t *mlp, unsigned rounds)
{
	depot_enter(cp);
	kmem_magazine_t *mp = NULL;
	if (cp->cache_magtype != NULL && cp->cache_magtype->rounds == rounds &&
	    (mp = mlp->list) != NULL) {
		mlp->list = mp->next;
		if (--mlp->total < mlp->min)
			mlp->min = mlp->total;
		mlp->alloc++;
		cp->cache_depot_alloc++;
		depot_traffic(cp);
	}
	kmem_mutex_exit(&cp->cache_depot_lock);
	return (mp);
}

/* Give mp, holding count rounds, to the depot; list operations only. */
void
kmem_depot_free(kmem_cache_t *cp, kmem_magazine_t *mp, unsigned count)
{
	mp->count = count;
	depot_enter(cp);
	if (cp->cache_magtype != magtype_of(mp)) {
		mp->next = cp->cache_stale;
		cp->cache_stale = mp;
	} else {
		kmem_maglist_t *mlp = count == 0 ? &cp->cache_empty :
		    &cp->cache_full;
		mp->next = mlp->list;
		mlp->list = mp;
		mlp->total++;
		cp->cache_depot_free++;
		depot_traffic(cp);
		if (count != 0 && full_over_ceiling(cp))
			__atomic_store_n(&cp->cache_depot_trim_wanted, true,
			    __ATOMIC_RELAXED);
	}
	kmem_mutex_exit(&cp->cache_depot_lock);
}

/*
 * Destroy a magazine: its rounds go back to the slab layer after the
 * destructor, the magazine to its cache.  No depot lock may be held.
 */
void
kmem_magazine_destroy(kmem_cache_t *cp, kmem_magazine_t *mp, unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		kmem_cache_free_to_slab(cp, mp->rounds[i]);
	kmem_cache_free(magtype_of(mp)->cache, mp);
}

/* Destroy a chain of magazines, each holding its count. */
static void
destroy_chain(kmem_cache_t *cp, kmem_magazine_t *mp)
{
	while (mp != NULL) {
		kmem_magazine_t *next = mp->next;
		kmem_magazine_destroy(cp, mp, mp->count);
		mp = next;
	}
}

/* Does one of the chain of magazines from mp hold buf?  depot_lock held. */
static bool
chain_holds(const kmem_magazine_t *mp, const void *buf)
{
	for (; mp != NULL; mp = mp->next)
		for (uint32_t i = 0; i < mp->count; i++)
			if (mp->rounds[i] == buf)
				return (true);
	return (false);
}

bool
kmem_depot_holds(kmem_cache_t *cp, const void *buf)
{
	kmem_mutex_enter(&cp->cache_depot_lock);
	bool held = chain_holds(cp->cache_full.list, buf) ||
	    chain_holds(cp->cache_stale, buf);
	kmem_mutex_exit(&cp->cache_depot_lock);
	return (held);
}

/*
 * Take buf out of the full magazine in cp's depot that holds it, if one
 * does, for the defragmenter (a DONT_KNOW answer, kmem_move.c); true if
 * found.  The caller gives it back to its slab, as a magazine's destruction
 * would.  A magazine left with no round moves to the empty list.
 */
bool
kmem_depot_take(kmem_cache_t *cp, const void *buf)
{
	bool found = false;
	kmem_mutex_enter(&cp->cache_depot_lock);
	for (kmem_magazine_t **pp = &cp->cache_full.list; *pp != NULL && !found;
	    pp = &(*pp)->next) {
		kmem_magazine_t *mp = *pp;
		for (uint32_t i = 0; i < mp->count && !found; i++) {
			if (mp->rounds[i] != buf)
				continue;
			mp->rounds[i] = mp->rounds[--mp->count];
			kmem_round_taken(&mp->rounds[mp->count]);
			found = true;
		}
		if (found && mp->count == 0) {
			*pp = mp->next;
			if (--cp->cache_full.total < cp->cache_full.min)
				cp->cache_full.min = cp->cache_full.total;
			mp->next = cp->cache_empty.list;
			cp->cache_empty.list = mp;
			cp->cache_empty.total++;
			break;
		}
	}
	kmem_mutex_exit(&cp->cache_depot_lock);
	return (found);
}

/* Take the stale list (depot_lock held). */
static kmem_magazine_t *
take_stale(kmem_cache_t *cp)
{
	kmem_magazine_t *stale = cp->cache_stale;
	cp->cache_stale = NULL;
	return (stale);
}

void
kmem_depot_ws_update(kmem_cache_t *cp)
{
	kmem_mutex_enter(&cp->cache_depot_lock);
	cp->cache_full.reaplimit = cp->cache_full.min;
	cp->cache_full.min = cp->cache_full.total;
	cp->cache_empty.reaplimit = cp->cache_empty.min;
	cp->cache_empty.min = cp->cache_empty.total;
	kmem_magazine_t *stale = take_stale(cp);
	kmem_mutex_exit(&cp->cache_depot_lock);
	destroy_chain(cp, stale);
}

/* Make everything in the depot reapable at once. */
void
kmem_depot_ws_zero(kmem_cache_t *cp)
{
	kmem_mutex_enter(&cp->cache_depot_lock);
	cp->cache_full.reaplimit = cp->cache_full.min = cp->cache_full.total;
	cp->cache_empty.reaplimit = cp->cache_empty.min = cp->cache_empty.total;
	kmem_mutex_exit(&cp->cache_depot_lock);
}

/* Take up to n magazines off a list, working set first (depot_lock held). */
static kmem_magazine_t *
take_reapable(kmem_maglist_t *mlp)
{
	uint64_t n = mlp->reaplimit < mlp->min ? mlp->reaplimit : mlp->min;
	kmem_magazine_t *taken = NULL;
	while (n-- > 0 && mlp->list != NULL) {
		kmem_magazine_t *mp = mlp->list;
		mlp->list = mp->next;
		mlp->total--;
		mlp->min--;
		mp->next = taken;
		taken = mp;
	}
	if (mlp->reaplimit > mlp->min)
		mlp->reaplimit = mlp->min;
	return (taken);
}

void
kmem_depot_ws_reap(kmem_cache_t *cp)
{
	kmem_mutex_enter(&cp->cache_depot_lock);
	kmem_magazine_t *full = take_reapable(&cp->cache_full);
	kmem_magazine_t *empty = take_reapable(&cp->cache_empty);
	kmem_magazine_t *stale = take_stale(cp);
	kmem_mutex_exit(&cp->cache_depot_lock);
	destroy_chain(cp, full);
	destroy_chain(cp, empty);
	destroy_chain(cp, stale);
}

/* Destroy every magazine in the depot. */
void
kmem_depot_purge(kmem_cache_t *cp)
{
	kmem_depot_ws_zero(cp);
	kmem_depot_ws_reap(cp);
}

/*
 * Pour the rounds of a chain of old-size magazines into magazines of type
 * mtp, given to the depot as they fill: constructed objects outlive a
 * resize.  Rounds no magazine can be had for are destroyed.  No lock held.
 */
static void
pour_chain(kmem_cache_t *cp, kmem_magazine_t *old,
    const kmem_magtype_t *mtp)
{
	kmem_magazine_t *to = NULL;
	while (old != NULL) {
		kmem_magazine_t *next = old->next;
		while (old->count > 0 && (to != NULL ||
		    (to = kmem_magazine_alloc(mtp, KM_NOSLEEP)) != NULL)) {
			to->rounds[to->count++] = old->rounds[--old->count];
			if (to->count == mtp->rounds) {
				kmem_depot_free(cp, to, to->count);
				to = NULL;
			}
		}
		kmem_magazine_destroy(cp, old, old->count);
		old = next;
	}
	if (to != NULL)
		kmem_depot_free(cp, to, to->count);
}

void
kmem_depot_resize_check(kmem_cache_t *cp)
{
	uint64_t now = kmem_clock_ns();
	kmem_mutex_enter(&cp->cache_depot_lock);
	const kmem_magtype_t *mtp = cp->cache_magtype;
	uint64_t traffic = cp->cache_depot_alloc + cp->cache_depot_free;
	bool busy = cp->cache_depot_contention -
	    cp->cache_depot_contention_prev > KMEM_DEPOT_CONTENTION ||
	    (traffic - cp->cache_depot_traffic_prev >= KMEM_DEPOT_TRAFFIC &&
	    now - cp->cache_depot_traffic_time < KMEM_DEPOT_TRAFFIC_WINDOW);
	unsigned batch = __atomic_exchange_n(&cp->cache_depot_batch, 0,
	    __ATOMIC_RELAXED);
	const kmem_magtype_t *to = mtp;
	while (to != NULL && cp->cache_chunksize < to->maxbuf &&
	    to + 1 < kmem_magtypes + NMAGTYPES &&
	    (to->rounds < batch || (busy && to == mtp)))
		to++;
	bool grow = to != mtp;
	cp->cache_depot_contention_prev = cp->cache_depot_contention;
	cp->cache_depot_traffic_prev = traffic;
	cp->cache_depot_traffic_time = now;
	__atomic_store_n(&cp->cache_depot_resize_wanted, false,
	    __ATOMIC_RELAXED);
	kmem_magazine_t *full = NULL, *empty = NULL;
	if (grow) {
		__atomic_store_n(&cp->cache_magtype, to, __ATOMIC_RELEASE);
		cp->cache_depot_resize++;
		full = cp->cache_full.list;
		empty = cp->cache_empty.list;
		cp->cache_full = (kmem_maglist_t){ .alloc =
		    cp->cache_full.alloc };
		cp->cache_empty = (kmem_maglist_t){ .alloc =
		    cp->cache_empty.alloc };
	}
	kmem_mutex_exit(&cp->cache_depot_lock);
	if (rounds_are_memory(cp))
		destroy_chain(cp, full);
	else
		pour_chain(cp, full, mtp + 1);
	destroy_chain(cp, empty);
}

/* Bring the full list back under its ceiling. */
static void
depot_trim(kmem_cache_t *cp)
{
	kmem_magazine_t *taken = NULL;
	kmem_mutex_enter(&cp->cache_depot_lock);
	__atomic_store_n(&cp->cache_depot_trim_wanted, false, __ATOMIC_RELAXED);
	while (full_over_ceiling(cp)) {
		kmem_magazine_t *mp = cp->cache_full.list;
		cp->cache_full.list = mp->next;
		if (--cp->cache_full.total < cp->cache_full.min)
			cp->cache_full.min = cp->cache_full.total;
		cp->cache_depot_trim++;
		mp->next = taken;
		taken = mp;
	}
	kmem_mutex_exit(&cp->cache_depot_lock);
	destroy_chain(cp, taken);
}

void
kmem_depot_batch_seen(kmem_cache_t *cp, unsigned rounds)
{
	const kmem_magtype_t *mtp = __atomic_load_n(&cp->cache_magtype,
	    __ATOMIC_RELAXED);
	unsigned seen = __atomic_load_n(&cp->cache_depot_batch,
	    __ATOMIC_RELAXED);
	if (mtp == NULL || rounds <= mtp->rounds ||
	    cp->cache_chunksize >= mtp->maxbuf)
		return;         /* they hold it already, or may not grow */
	while (seen < rounds && !__atomic_compare_exchange_n(
	    &cp->cache_depot_batch, &seen, rounds, true, __ATOMIC_RELAXED,
	    __ATOMIC_RELAXED))
		continue;
	__atomic_store_n(&cp->cache_depot_resize_wanted, true,
	    __ATOMIC_RELAXED);
}

void
kmem_depot_tend(kmem_cache_t *cp)
{
	if (__atomic_load_n(&cp->cache_depot_trim_wanted, __ATOMIC_RELAXED))
		depot_trim(cp);
	if (!__atomic_load_n(&cp->cache_depot_resize_wanted, __ATOMIC_RELAXED))
		return;
	uint64_t now = kmem_clock_ns();
	uint64_t last = __atomic_load_n(&cp->cache_depot_resize_time,
	    __ATOMIC_RELAXED);
	/* A batch seen grows the magazines now: that happens once per size. */
	bool batch = __atomic_load_n(&cp->cache_depot_batch,
	    __ATOMIC_RELAXED) != 0;
	if ((!batch && now - last < KMEM_DEPOT_RESIZE_SPACING) ||
	    !__atomic_compare_exchange_n(&cp->cache_depot_resize_time, &last,
	    now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;         /* too soon, or another thread is checking */
	kmem_depot_resize_check(cp);
}
