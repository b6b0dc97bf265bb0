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
 * A bound on the depots.  The working set below gives back what sat
 * unused for a whole update interval (15 s by default), which is long: a
 * program whose buffers pass through a size on their way to bigger ones
 * (strings grown by realloc) would keep every class's whole turnover that
 * long.  So the full lists have a ceiling, over all the caches it applies
 * to together, not per cache, since a program's turnover spreads over as
 * many caches as it has sizes (realloc_strings' strings pass through some
 * 25 of malloc's classes, each of whose depots random-walked up to a
 * per-cache ceiling of 1 MiB: 25 MiB).  The ceiling (kmem_depot_ceiling())
 * is KMEM_DEPOT_FULL_MIN bytes of rounds, or a sixteenth of the caches'
 * slabs at their peak since the last update pass if that is more
 * (kmem_query.h, kmem_slab.c): a program with a big heap turns more over,
 * and a fixed 2 MiB sent small_objects' frees (70 MiB of objects in some
 * 20 classes) to the slabs so often that its system time doubled.  The
 * peak, not the slabs now: the trims of a burst of frees destroy slabs,
 * and a ceiling that fell with them sent more to the slabs, which fell
 * further.  depot_full_bytes counts those bytes exactly (each
 * magazine by its count), changed under the depot lock of the cache whose
 * list changes.  A free that finds the sum past the ceiling asks for a
 * trim, which the freeing thread's slow path does once it holds no lock
 * (kmem_depot_tend): it destroys its own cache's newest full magazines
 * (their rounds go to the slabs, whose empty slabs go back to the arena
 * for any cache to use) until the sum is back under the ceiling, and if
 * its list is down to one magazine first, the other caches'
 * (depot_trim()).  So the sum
 * exceeds the ceiling by at most the magazines given to depots and not
 * yet trimmed (about one per freeing thread).  The freeing cache's own
 * rounds go first because they are the cheapest to take (no global lock,
 * the newest, still in the processor's caches); the others' next, so that
 * a cache that stopped freeing does not keep the allowance from those in
 * use until the working set reaps it.
 *
 * The ceiling holds only where a round is nothing but memory: a cache
 * with neither constructor nor destructor (kmem_alloc's and malloc's
 * classes, the quantum caches, most clients' plain caches), where
 * destroying a round and making it again later costs two trips to the
 * slab layer.  In a cache with a constructor or a destructor a round is a
 * constructed object, and keeping those across a burst of frees is what
 * object caching is for (Bonwick 1994): destroying one runs the client's
 * destructor now and its constructor again at the next allocation.  Such
 * a cache's full list answers only to the working set, as in illumos, and
 * is not counted in the sum.
 *
 * A bound on the threads.  Magazines grow (above) only while a magazine
 * of the next size holds at most KMEM_MAGAZINE_BYTES (kmem_query.h) of
 * buffers, or at most KMEM_MAGAZINE_MIN_ROUNDS of them (so that a cache of
 * big buffers, which starts with magazines of one, can still grow to
 * three when its depot is contended), so that a thread's two magazines
 * of a cache hold at most twice the larger of the two: illumos's table (maxbuf) lets a magazine of 480-byte buffers grow
 * to 143 rounds, 67 KiB, and a producer and a consumer thread of
 * xmalloc, each with two such magazines in each of malloc's classes,
 * held 4.4 MiB that way.  A thread holds at most 2 * KMEM_MAGAZINE_BYTES
 * per cache it uses, or six buffers in a cache of buffers bigger than a
 * third of that.

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
 * layer, so it is done with no depot lock held.  A trim that reaches
 * other caches holds kmem_caches_lock (taken with a try, ranked before
 * every depot lock), so that none of them is destroyed meanwhile, and
 * takes their depot locks one at a time.  depot_full_bytes is changed
 * atomically under the depot lock of the cache whose list changes.
 */
#include "kmem_impl.h"

#include "base/format.h"
#include "base/report.h"

/* Contention events between checks that grow a cache's magazines. */
#define KMEM_DEPOT_CONTENTION 3
/* The shortest time between two checks made by slow paths. */
#define KMEM_DEPOT_RESIZE_SPACING       (10 * 1000 * 1000)      /* 10 ms */
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

/*
 * Bytes of rounds on the full lists of the caches under the ceiling
 * (rounds_are_memory()): changed atomically under the depot lock of the
 * cache whose list changes, read without a lock.
 */
static uint64_t depot_full_bytes;

/* May a magazine of type mtp, of chunks of chunksize, grow to the next
 * size?  See "A bound on the threads" above. */
static bool
magtype_may_grow(const kmem_magtype_t *mtp, size_t chunksize)
{
	return (mtp + 1 < kmem_magtypes + NMAGTYPES &&
	    chunksize < mtp->maxbuf &&
	    ((mtp + 1)->rounds * chunksize <= KMEM_MAGAZINE_BYTES ||
	    (mtp + 1)->rounds <= KMEM_MAGAZINE_MIN_ROUNDS));
}

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
	while (grown && magtype_may_grow(mtp, chunksize))
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

/* Are cp's rounds nothing but memory (no constructor, no destructor)? */
static bool
rounds_are_memory(const kmem_cache_t *cp)
{
	return (cp->cache_constructor == NULL && cp->cache_destructor == NULL);
}

/* The bytes of n rounds of cp. */
static uint64_t
rounds_bytes(const kmem_cache_t *cp, uint64_t n)
{
	return (n * cp->cache_chunksize);
}

/* The full list gained (gained) or lost bytes of rounds; depot_lock held. */
static void
full_bytes_add(kmem_cache_t *cp, uint64_t bytes, bool gained)
{
	/* Stored atomically: other caches' trims read it as a hint. */
	__atomic_store_n(&cp->cache_full_bytes, gained ?
	    cp->cache_full_bytes + bytes : cp->cache_full_bytes - bytes,
	    __ATOMIC_RELAXED);
	if (rounds_are_memory(cp)) {
		if (gained)
			__atomic_add_fetch(&depot_full_bytes, bytes,
			    __ATOMIC_RELAXED);
		else
			__atomic_sub_fetch(&depot_full_bytes, bytes,
			    __ATOMIC_RELAXED);
	}
}

uint64_t
kmem_depot_ceiling(void)
{
	uint64_t share = kmem_slab_peak() / KMEM_DEPOT_FULL_SHARE;
	return (share > KMEM_DEPOT_FULL_MIN ? share : KMEM_DEPOT_FULL_MIN);
}

/* Are the depots over their ceiling, cp being one under it?  See above. */
static bool
full_over_ceiling(const kmem_cache_t *cp)
{
	return (rounds_are_memory(cp) && __atomic_load_n(&depot_full_bytes,
	    __ATOMIC_RELAXED) > kmem_depot_ceiling());
}

uint64_t
kmem_depot_full_bytes(void)
{
	return (__atomic_load_n(&depot_full_bytes, __ATOMIC_RELAXED));
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
		if (mlp == &cp->cache_full)
			full_bytes_add(cp, rounds_bytes(cp, mp->count), false);
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
		if (count != 0)
			full_bytes_add(cp, rounds_bytes(cp, count), true);
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
			full_bytes_add(cp, rounds_bytes(cp, 1), false);
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

/* The rounds in a chain of magazines. */
static uint64_t
chain_rounds(const kmem_magazine_t *mp)
{
	uint64_t n = 0;
	for (; mp != NULL; mp = mp->next)
		n += mp->count;
	return (n);
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
	full_bytes_add(cp, rounds_bytes(cp, chain_rounds(full)), false);
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
	while (to != NULL && magtype_may_grow(to, cp->cache_chunksize) &&
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
		full_bytes_add(cp, cp->cache_full_bytes, false);
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

/* Take cp's newest full magazines off its list, leaving keep of them, while
 * the depots are over their ceiling; returns them, for destroy_chain(). */
static kmem_magazine_t *
trim_take(kmem_cache_t *cp, uint64_t keep)
{
	kmem_magazine_t *taken = NULL;
	kmem_mutex_enter(&cp->cache_depot_lock);
	while (cp->cache_full.total > keep && full_over_ceiling(cp)) {
		kmem_magazine_t *mp = cp->cache_full.list;
		cp->cache_full.list = mp->next;
		full_bytes_add(cp, rounds_bytes(cp, mp->count), false);
		if (--cp->cache_full.total < cp->cache_full.min)
			cp->cache_full.min = cp->cache_full.total;
		cp->cache_depot_trim++;
		mp->next = taken;
		taken = mp;
	}
	kmem_mutex_exit(&cp->cache_depot_lock);
	return (taken);
}

/*
 * Bring the depots back under their ceiling: from cp's full list first,
 * down to its newest magazine; then from the other caches' in turn;
 * then cp's last one.  Without the middle step, caches that stopped
 * freeing would keep the whole allowance until the working set reaped
 * them, and the caches in use would keep nothing.  The cache list is
 * taken with a try: a thread that holds it (a reap, whose frees reach
 * here) or waits for it leaves the others to the next trim.  Whether
 * another cache holds anything is read without its lock (a hint: its
 * list is trimmed under the lock).
 */
static void
depot_trim(kmem_cache_t *cp)
{
	__atomic_store_n(&cp->cache_depot_trim_wanted, false, __ATOMIC_RELAXED);
	destroy_chain(cp, trim_take(cp, 1));
	if (full_over_ceiling(cp) && kmem_mutex_tryenter(&kmem_caches_lock)) {
		for (kmem_cache_t *other = kmem_caches.cache_list_next;
		    other != &kmem_caches && full_over_ceiling(cp);
		    other = other->cache_list_next)
			if (other != cp && rounds_are_memory(other) &&
			    __atomic_load_n(&other->cache_full_bytes,
			    __ATOMIC_RELAXED) != 0)
				destroy_chain(other, trim_take(other, 0));
		kmem_mutex_exit(&kmem_caches_lock);
	}
	destroy_chain(cp, trim_take(cp, 0));
}

void
kmem_depot_batch_seen(kmem_cache_t *cp, unsigned rounds)
{
	const kmem_magtype_t *mtp = __atomic_load_n(&cp->cache_magtype,
	    __ATOMIC_RELAXED);
	unsigned seen = __atomic_load_n(&cp->cache_depot_batch,
	    __ATOMIC_RELAXED);
	if (mtp == NULL || rounds <= mtp->rounds ||
	    !magtype_may_grow(mtp, cp->cache_chunksize))
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
