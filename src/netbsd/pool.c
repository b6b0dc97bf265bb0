/*
 * pool(9): NetBSD's resource-pool manager on top of kmem object caches
 * (include/kmem/pool.h; docs/netbsd.md is the long version).
 *
 * A pool is a kmem cache.  pool_get() is kmem_cache_alloc() and
 * pool_put() kmem_cache_free(), so a thread's gets and puts are served by
 * its magazines and the pool's pages are the cache's slabs.  Around that
 * sit what pool(9) adds:
 *
 * - Pages from a pool_allocator.  A pool given one gets a vmem arena of its
 *   own, with quantum pa_pagesz, that imports through pa_alloc and gives
 *   back through pa_free; its cache takes slabs from that arena.  vmem
 *   hands the import function only the source arena, so the source is an
 *   empty arena made for the purpose, page_key, and the import function
 *   finds the pool by it on the list of pools.  Items of such a pool are
 *   padded so that kmem's layout puts exactly one pa_pagesz page in each
 *   slab, as NetBSD does; then one slab is one pa_alloc() call.
 * - The hard limit.  nout counts the items callers hold; a get raises it
 *   by compare-and-swap only while it is below the limit.  At the limit
 *   the drain hook runs, then a PR_WAITOK get sleeps on the pool's
 *   condition variable until a put lowers nout, and a PR_NOWAIT or
 *   PR_LIMITFAIL get fails and prints the limit's warning, at most once per
 *   rate cap.  Sleepers announce themselves in waiters before they look at
 *   nout, and puts look at waiters after they lower nout (both sequentially
 *   consistent), so a put either sees the sleeper or the sleeper sees the
 *   put: no wakeup is lost.
 * - The reserve.  pool_prime() and pool_setlowat() set items aside, held
 *   by the pool rather than by kmem, so kmem never reclaims their pages.
 *   A get takes one only when kmem cannot give an item without waiting for
 *   a page; puts and gets top the reserve up to its target.
 * - Checks.  A put must bring an item of this pool (the page map or the
 *   cache's hash says so), not the item this thread put last (the top of
 *   its magazine), and never more items than are out.
 * - Setting up never waits for memory.  NetBSD's pool_init() sleeps and
 *   cannot fail; here nothing may ever be freed, so the state, the
 *   arenas and the kmem cache are all asked for without sleeping, and a
 *   refusal is reported (the default handler aborts) with the pool left
 *   not set up, its magic never written.
 *
 * Counting.  A get and a put each make one atomic read-modify-write, the
 * compare-and-swap of nout, and take no lock unless the hard limit is
 * reached or the reserve is used.  Gets and puts are not counted again:
 * kmem's per-thread counters already count the cache's allocations and
 * frees, and the statistics subtract those the reserve made and add those
 * it served (kmem_cache_stats() and the reserve's counters).
 *
 * Locking: pool_list_lock (the list of live pools, and the busy counts of
 * walkers), and each pool's lock (sleepers at the limit, the warning, the
 * reserve).  Both have rank KMEM_RANK_NETBSD and are never held together;
 * neither is held across a call into kmem, vmem, a drain hook, a
 * constructor or a report.  A walker pins a pool with busy under the list
 * lock, so pool_destroy() waits for it before tearing the pool down.
 */
#include "pool_impl.h"
#include "netbsd_fork.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "base/bits.h"
#include "base/format.h"
#include "base/lock_order.h"
#include "base/report.h"
#include "base/stats_tables.h"

struct pool_allocator pool_allocator_kmem = { NULL, NULL, 0 };
struct pool_allocator pool_allocator_nointr = { NULL, NULL, 0 };

static kmem_mutex_t pool_list_lock = KMEM_MUTEX_INITIALIZER(KMEM_RANK_NETBSD);
static kmem_cv_t pool_list_cv = KMEM_CV_INITIALIZER;  /* a walker let go */
static pool_state_t pool_list = { .list_next = &pool_list,
	.list_prev = &pool_list };

#define POOL_TRIM_EVERY 64      /* puts between high-water checks */

static uint64_t
difference(uint64_t a, uint64_t b)
{
	return (a > b ? a - b : 0);
}

static unsigned
pages_for(uint64_t items, unsigned per_page)
{
	uint64_t pages = (items + per_page - 1) / per_page;
	return (pages > UINT_MAX ? UINT_MAX : (unsigned)pages);
}

/* "caller(\"wchan\")" or "caller(\"wchan\", item)", for reports. */
static void
pool_where(char *buf, size_t size, const char *caller, const char *wchan,
    const void *item)
{
	if (item != NULL)
		kmem_snprintf(buf, size, "%s(\"%s\", %p)", caller, wchan, item);
	else
		kmem_snprintf(buf, size, "%s(\"%s\")", caller, wchan);
}

pool_state_t *
pool_state_of(struct pool *pp, const char *caller, const void *item)
{
	if (pp == NULL) {
		kmem_report("%s(NULL): the pool is NULL", caller);
		return (NULL);
	}
	uint32_t magic = __atomic_load_n(&pp->pr_magic, __ATOMIC_ACQUIRE);
	if (magic == POOL_MAGIC_LIVE && pp->pr_state != NULL)
		return (pp->pr_state);
	char where[POOL_NAMELEN + 64];
	if (magic == POOL_MAGIC_DEAD) {
		pool_where(where, sizeof (where), caller, pp->pr_wchan, item);
		kmem_report("%s: the pool was destroyed", where);
	} else {
		kmem_report("%s(%p): not a pool set up by pool_init()", caller,
		    (void *)pp);
	}
	return (NULL);
}

/* ---- the list of pools, and page allocators ---- */

static void
list_insert(pool_state_t *ps)
{
	ps->list_next = &pool_list;
	ps->list_prev = pool_list.list_prev;
	pool_list.list_prev->list_next = ps;
	pool_list.list_prev = ps;
}

static void
list_remove(pool_state_t *ps)
{
	ps->list_prev->list_next = ps->list_next;
	ps->list_next->list_prev = ps->list_prev;
}

/* The pool whose arena imports from key (pool_list_lock held). */
static pool_state_t *
pool_of_page_key(vmem_t *key)
{
	for (pool_state_t *ps = pool_list.list_next; ps != &pool_list;
	    ps = ps->list_next)
		if (ps->page_key == key)
			return (ps);
	return (NULL);
}

static pool_state_t *
page_key_owner(vmem_t *key)
{
	kmem_mutex_enter(&pool_list_lock);
	pool_state_t *ps = pool_of_page_key(key);
	kmem_mutex_exit(&pool_list_lock);
	if (ps == NULL)
		kmem_panic("pool: no pool imports from arena %p", (void *)key);
	return (ps);
}

/*
 * The arena's import function: one page from pa_alloc.  The slab layout
 * (pool_setup) makes every import exactly one page.
 */
static void *
pool_page_import(vmem_t *key, size_t size, int vmflag)
{
	pool_state_t *ps = page_key_owner(key);
	if (size != ps->pagesz)
		return (NULL);
	return (ps->palloc->pa_alloc(ps->pool,
	    (vmflag & VM_NOSLEEP) ? PR_NOWAIT : PR_WAITOK));
}

static void
pool_page_release(vmem_t *key, void *page, size_t size)
{
	pool_state_t *ps = page_key_owner(key);
	for (size_t off = 0; off < size; off += ps->pagesz)
		ps->palloc->pa_free(ps->pool, (char *)page + off);
}

/* kmem's reclaim callback: memory is short, so ask the drain hook. */
static void
pool_kmem_reclaim(void *private)
{
	pool_state_t *ps = private;
	void (*hook)(void *, int) = __atomic_load_n(&ps->drain_hook,
	    __ATOMIC_ACQUIRE);
	if (hook != NULL) {
		__atomic_fetch_add(&ps->ndrain, 1, __ATOMIC_RELAXED);
		hook(__atomic_load_n(&ps->drain_arg, __ATOMIC_RELAXED),
		    PR_NOWAIT);
	}
}

/* ---- setting up and tearing down ---- */

static bool
is_default_allocator(const struct pool_allocator *pa)
{
	return (pa == NULL || pa == &pool_allocator_kmem ||
	    pa == &pool_allocator_nointr ||
	    (pa->pa_alloc == NULL && pa->pa_free == NULL));
}

static bool
pool_is_live(const struct pool *pp)
{
	bool live = false;
	kmem_mutex_enter(&pool_list_lock);
	for (pool_state_t *ps = pool_list.list_next; ps != &pool_list;
	    ps = ps->list_next)
		if (ps->pool == pp)
			live = true;
	kmem_mutex_exit(&pool_list_lock);
	return (live);
}

/*
 * What is wrong with pool_init()'s arguments, or NULL.  *kalign and
 * *bufsize receive the kmem cache's alignment and buffer size, *pagesz the
 * allocator's page size (0 for the default allocator).
 */
static const char *
pool_check_args(struct pool *pp, size_t size, unsigned int align,
    unsigned int align_offset, int flags, const char *wchan,
    struct pool_allocator *palloc, size_t *shift, size_t *kalign,
    size_t *bufsize, size_t *pagesz)
{
	const int known = PR_NOTOUCH | PR_LARGECACHE | PR_PSERIALIZE;
	bool custom = !is_default_allocator(palloc);

	if (pp == NULL)
		return ("the pool is NULL");
	if (wchan == NULL)
		return ("wchan is NULL");
	if (!is_p2(align))
		return ("align is not a power of two");
	if (flags & ~known)
		return ("flags has bits that are not PR_NOTOUCH, PR_LARGECACHE "
		    "or PR_PSERIALIZE");
	if (size > SIZE_MAX / 16)
		return ("size is too large");
	if (custom && (palloc->pa_alloc == NULL || palloc->pa_free == NULL))
		return ("the pool_allocator needs both pa_alloc and pa_free");
	if (custom && palloc->pa_pagesz != 0 && (!is_p2(palloc->pa_pagesz) ||
	    palloc->pa_pagesz < 64))
		return ("the pool_allocator's pa_pagesz is not a power of two "
		    "of at least 64");
	if (pool_is_live(pp))
		return ("the pool is already initialised");

	size_t effective = align != 0 ? align : KMEM_ALIGN;
	*shift = p2_phase(align_offset, effective) != 0 ?
	    effective - p2_phase(align_offset, effective) : 0;
	*kalign = effective > KMEM_ALIGN ? effective : KMEM_ALIGN;
	*bufsize = size + *shift;
	if (*bufsize < sizeof (void *))
		*bufsize = sizeof (void *);
	*pagesz = 0;
	if (!custom) {
		if (*kalign > kmem_pagesize())
			return ("align is larger than a page");
		return (NULL);
	}

	size_t page = palloc->pa_pagesz != 0 ? palloc->pa_pagesz :
	    kmem_pagesize();
	size_t chunk = p2_roundup(*bufsize, *kalign);
	if (*kalign > page)
		return ("align is larger than the allocator's page");
	if (chunk > page)
		return ("items are larger than the allocator's page");
	/*
	 * kmem puts an item of more than 1/8 of the slab into a slab of
	 * several pages when that wastes less; spread the items that fit in
	 * one page over all of it instead, so one page it is.
	 */
	if (chunk * KMEM_VOID_FRACTION > page)
		*bufsize = p2_align(page / (page / chunk), *kalign);
	*pagesz = page;
	return (NULL);
}

static void
pool_state_free(pool_state_t *ps)
{
	if (ps->cache != NULL)
		kmem_cache_destroy(ps->cache);
	if (ps->arena != NULL)
		vmem_destroy(ps->arena);
	kmem_mutex_enter(&pool_list_lock);
	if (ps->list_next != NULL)
		list_remove(ps);
	kmem_mutex_exit(&pool_list_lock);
	if (ps->page_key != NULL)
		vmem_destroy(ps->page_key);
	kmem_cv_destroy(&ps->cv);
	kmem_mutex_destroy(&ps->lock);
	kmem_free(ps, sizeof (*ps));
}

void
pool_setup_report(const char *caller, const char *wchan, size_t size,
    unsigned int align, unsigned int align_offset, int flags,
    const char *why)
{
	kmem_report("%s(\"%s\", size %zu, align %u, align_offset %u, flags "
	    "0x%x): %s", caller, wchan != NULL ? wchan : "(null)", size, align,
	    align_offset, (unsigned)flags, why);
}

/*
 * The pool's arenas for a page allocator: page_key, and the arena that
 * imports through it.  ps goes on the list first, so that the import
 * function finds it.  False when an arena cannot be had.
 */
static bool
pool_arenas_create(pool_state_t *ps, const char *wchan, const char *name,
    struct pool_allocator *palloc, size_t pagesz)
{
	char key_name[VMEM_NAMELEN];
	kmem_snprintf(key_name, sizeof (key_name), "pool_%s.pa", wchan);
	ps->palloc = palloc;
	ps->pagesz = pagesz;
	ps->page_key = vmem_create(key_name, NULL, 0, pagesz, NULL, NULL, NULL,
	    0, VM_NOSLEEP);
	kmem_mutex_enter(&pool_list_lock);
	ps->dying = true;               /* not for walkers yet */
	list_insert(ps);
	kmem_mutex_exit(&pool_list_lock);
	if (ps->page_key != NULL)
		ps->arena = vmem_create(name, NULL, 0, pagesz, pool_page_import,
		    pool_page_release, ps->page_key, 0, VM_NOSLEEP);
	return (ps->arena != NULL);
}

bool
pool_setup(struct pool *pp, size_t size, unsigned int align,
    unsigned int align_offset, int flags, const char *wchan,
    struct pool_allocator *palloc, const char *caller,
    struct pool_cache *pcache, kmem_constructor_t *kctor,
    kmem_destructor_t *kdtor, int (*ctor)(void *, void *, int),
    void (*dtor)(void *, void *), void *ctor_arg)
{
	size_t shift = 0, kalign = 0, bufsize = 0, pagesz = 0;
	const char *why = pool_check_args(pp, size, align, align_offset,
	    flags, wchan, palloc, &shift, &kalign, &bufsize, &pagesz);
	if (why != NULL) {
		pool_setup_report(caller, wchan, size, align, align_offset,
		    flags, why);
		return (false);
	}

	kmem_init();
	pool_state_t *ps = kmem_zalloc(sizeof (*ps), KM_NOSLEEP);
	if (ps == NULL) {
		pool_setup_report(caller, wchan, size, align, align_offset,
		    flags, "out of memory for the pool's state; the pool is "
		    "not set up");
		return (false);
	}
	kmem_mutex_init(&ps->lock, KMEM_RANK_NETBSD);
	kmem_cv_init(&ps->cv);
	ps->pool = pp;
	ps->pcache = pcache;
	ps->flags = flags;
	ps->size = size;
	ps->align = align;
	ps->align_offset = align_offset;
	ps->shift = shift;
	ps->ctor = ctor;
	ps->dtor = dtor;
	ps->ctor_arg = ctor_arg;
	ps->hardlimit = UINT_MAX;
	ps->maxpages = UINT_MAX;

	char name[VMEM_NAMELEN];
	kmem_snprintf(name, sizeof (name), "pool_%s", wchan);
	if (pagesz != 0 &&
	    !pool_arenas_create(ps, wchan, name, palloc, pagesz)) {
		pool_state_free(ps);
		pool_setup_report(caller, wchan, size, align, align_offset,
		    flags, "out of memory for the pool's page arenas; the pool "
		    "is not set up");
		return (false);
	}
	int cflags = (flags & (PR_NOTOUCH | PR_PSERIALIZE)) ? KMC_NOTOUCH : 0;
	/* A page allocator's pool needs slabs of exactly one page, which a
	 * debug tag after each item would change (KMEM_DEBUG). */
	if (pagesz != 0)
		cflags |= KMC_NODEBUG;
	ps->cache = kmem_cache_create(name, bufsize, kalign, kctor, kdtor,
	    pool_kmem_reclaim, ps, ps->arena, cflags);
	if (ps->cache == NULL) {
		pool_state_free(ps);
		pool_setup_report(caller, wchan, size, align, align_offset,
		    flags, "out of memory for the pool's kmem cache; the pool "
		    "is not set up");
		return (false);
	}
	kmem_cache_stats_t ks;
	kmem_cache_stats(ps->cache, &ks);
	if (pagesz != 0 && ks.slab_size != pagesz) {
		kmem_report("%s(\"%s\", size %zu, align %u): kmem lays the "
		    "items out in slabs of %zu bytes, not in pages of %zu",
		    caller, wchan, size, align, ks.slab_size, pagesz);
		pool_state_free(ps);
		return (false);
	}
	ps->pagesz = ks.slab_size;
	ps->items_per_page = ks.buf_per_slab;

	size_t i;
	for (i = 0; i + 1 < sizeof (pp->pr_wchan) && wchan[i] != '\0'; i++)
		pp->pr_wchan[i] = wchan[i];
	pp->pr_wchan[i] = '\0';
	pp->pr_state = ps;
	__atomic_store_n(&pp->pr_magic, POOL_MAGIC_LIVE, __ATOMIC_RELEASE);

	kmem_mutex_enter(&pool_list_lock);
	if (ps->list_next == NULL)
		list_insert(ps);
	ps->dying = false;
	kmem_mutex_exit(&pool_list_lock);
	return (true);
}

/* Give reserved items back to kmem until at most keep are left. */
static void
reserve_trim_to(pool_state_t *ps, unsigned keep)
{
	for (;;) {
		void *buf = NULL;
		kmem_mutex_enter(&ps->lock);
		if (ps->nreserve > keep) {
			buf = ps->reserve[ps->nreserve - 1];
			__atomic_store_n(&ps->nreserve, ps->nreserve - 1,
			    __ATOMIC_RELAXED);
		}
		kmem_mutex_exit(&ps->lock);
		if (buf == NULL)
			break;
		__atomic_fetch_add(&ps->reserve_frees, 1, __ATOMIC_RELAXED);
		kmem_cache_free(ps->cache, buf);
	}
}

bool
pool_teardown(struct pool *pp, const char *caller)
{
	pool_state_t *ps = pool_state_of(pp, caller, NULL);
	if (ps == NULL)
		return (false);
	uint64_t out = __atomic_load_n(&ps->nout, __ATOMIC_SEQ_CST);
	if (out != 0) {
		kmem_report("%s(\"%s\"): %llu item%s still out", caller,
		    pp->pr_wchan, (unsigned long long)out, out == 1 ? " is" :
		    "s are");
		return (false);
	}

	kmem_mutex_enter(&pool_list_lock);
	ps->dying = true;
	while (ps->busy != 0)
		kmem_cv_wait(&pool_list_cv, &pool_list_lock);
	kmem_mutex_exit(&pool_list_lock);

	reserve_trim_to(ps, 0);
	kmem_mutex_enter(&ps->lock);
	void **reserve = ps->reserve;
	size_t cap = ps->reserve_cap;
	ps->reserve = NULL;
	ps->reserve_cap = 0;
	kmem_mutex_exit(&ps->lock);
	if (reserve != NULL)
		kmem_free(reserve, cap * sizeof (void *));

	__atomic_store_n(&pp->pr_magic, POOL_MAGIC_DEAD, __ATOMIC_RELEASE);
	pp->pr_state = NULL;
	pool_state_free(ps);
	return (true);
}

void
pool_init(struct pool *pp, size_t size, unsigned int align,
    unsigned int align_offset, int flags, const char *wchan,
    struct pool_allocator *palloc, int ipl)
{
	(void) ipl;
	(void) pool_setup(pp, size, align, align_offset, flags, wchan, palloc,
	    "pool_init", NULL, NULL, NULL, NULL, NULL, NULL);
}

static pool_state_t *
plain_pool_of(struct pool *pp, const char *caller, const void *item)
{
	pool_state_t *ps = pool_state_of(pp, caller, item);
	if (ps != NULL && ps->pcache != NULL) {
		kmem_report("%s(\"%s\"): the pool belongs to a pool cache; use "
		    "the pool_cache_*() functions", caller, pp->pr_wchan);
		return (NULL);
	}
	return (ps);
}

void
pool_destroy(struct pool *pp)
{
	if (plain_pool_of(pp, "pool_destroy", NULL) != NULL)
		(void) pool_teardown(pp, "pool_destroy");
}

/* ---- the hard limit ---- */

/* The limit's warning, at most once per rate cap (NetBSD's ratecheck()). */
static void
limit_warn(pool_state_t *ps)
{
	char message[256];
	bool print = false;
	kmem_mutex_enter(&ps->lock);
	if (ps->warnmess != NULL) {
		uint64_t now = kmem_clock_ns();
		if (!ps->warned || now - ps->warned_at >= ps->ratecap_ns) {
			ps->warned = true;
			ps->warned_at = now;
			print = true;
			kmem_snprintf(message, sizeof (message), "%s (pool "
			    "\"%s\": hard limit of %u items reached)",
			    ps->warnmess, ps->pool->pr_wchan,
			    __atomic_load_n(&ps->hardlimit, __ATOMIC_RELAXED));
		}
	}
	kmem_mutex_exit(&ps->lock);
	if (print)
		kmem_warn("%s", message);
}

/* Sleep until nout is below the hard limit (or the limit rose). */
static void
limit_wait(pool_state_t *ps)
{
	kmem_mutex_enter(&ps->lock);
	__atomic_fetch_add(&ps->waiters, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&ps->nout, __ATOMIC_SEQ_CST) >=
	    __atomic_load_n(&ps->hardlimit, __ATOMIC_SEQ_CST))
		kmem_cv_wait(&ps->cv, &ps->lock);
	__atomic_fetch_sub(&ps->waiters, 1, __ATOMIC_SEQ_CST);
	kmem_mutex_exit(&ps->lock);
}

static void
limit_wakeup(pool_state_t *ps)
{
	if (__atomic_load_n(&ps->waiters, __ATOMIC_SEQ_CST) != 0) {
		kmem_mutex_enter(&ps->lock);
		kmem_cv_broadcast(&ps->cv);
		kmem_mutex_exit(&ps->lock);
	}
}

/* Count an item out, within the hard limit; false: the get fails. */
static bool
limit_enter(pool_state_t *ps, int flags)
{
	bool drained = false, counted = false;
	for (;;) {
		uint64_t out = __atomic_load_n(&ps->nout, __ATOMIC_SEQ_CST);
		if (out < __atomic_load_n(&ps->hardlimit, __ATOMIC_SEQ_CST)) {
			if (__atomic_compare_exchange_n(&ps->nout, &out,
			    out + 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
				return (true);
			continue;
		}
		if (!counted) {
			__atomic_fetch_add(&ps->nlimit, 1, __ATOMIC_RELAXED);
			counted = true;
		}
		void (*hook)(void *, int) = __atomic_load_n(&ps->drain_hook,
		    __ATOMIC_ACQUIRE);
		if (hook != NULL && !drained) {
			/* It may put items back; look again after it. */
			drained = true;
			__atomic_fetch_add(&ps->ndrain, 1, __ATOMIC_RELAXED);
			hook(__atomic_load_n(&ps->drain_arg, __ATOMIC_RELAXED),
			    flags);
			continue;
		}
		if ((flags & PR_WAITOK) && !(flags & PR_LIMITFAIL)) {
			__atomic_fetch_add(&ps->nwait, 1, __ATOMIC_RELAXED);
			limit_wait(ps);
			drained = false;
			continue;
		}
		limit_warn(ps);
		return (false);
	}
}

static void
limit_exit(pool_state_t *ps)
{
	__atomic_fetch_sub(&ps->nout, 1, __ATOMIC_SEQ_CST);
	limit_wakeup(ps);
}

/* ---- the reserve ---- */

static void *
reserve_take(pool_state_t *ps)
{
	void *buf = NULL;
	kmem_mutex_enter(&ps->lock);
	if (ps->nreserve > 0) {
		buf = ps->reserve[ps->nreserve - 1];
		__atomic_store_n(&ps->nreserve, ps->nreserve - 1,
		    __ATOMIC_RELAXED);
		__atomic_fetch_add(&ps->reserve_takes, 1, __ATOMIC_RELAXED);
	}
	kmem_mutex_exit(&ps->lock);
	return (buf);
}

/* Keep buf in the reserve if it is short; false: it is not. */
static bool
reserve_keep(pool_state_t *ps, void *buf)
{
	bool kept = false;
	kmem_mutex_enter(&ps->lock);
	if (ps->nreserve < ps->reserve_target &&
	    ps->nreserve < ps->reserve_cap) {
		ps->reserve[ps->nreserve] = buf;
		__atomic_store_n(&ps->nreserve, ps->nreserve + 1,
		    __ATOMIC_RELAXED);
		kept = true;
	}
	kmem_mutex_exit(&ps->lock);
	return (kept);
}

static bool
reserve_short(pool_state_t *ps)
{
	/* reserve_target is read racily on purpose: a hint, checked later. */
	return (__atomic_load_n(&ps->nreserve, __ATOMIC_RELAXED) <
	    __atomic_load_n(&ps->reserve_target, __ATOMIC_RELAXED));
}

/* Top the reserve up without waiting; false if memory ran out. */
static bool
reserve_fill(pool_state_t *ps)
{
	while (reserve_short(ps)) {
		void *buf = kmem_cache_alloc(ps->cache, KM_NOSLEEP);
		if (buf == NULL)
			return (false);
		__atomic_fetch_add(&ps->reserve_allocs, 1, __ATOMIC_RELAXED);
		if (!reserve_keep(ps, buf)) {
			__atomic_fetch_add(&ps->reserve_frees, 1,
			    __ATOMIC_RELAXED);
			kmem_cache_free(ps->cache, buf);
			break;
		}
	}
	return (true);
}

/*
 * Make the reserve's target primed + minitems, its array big enough and its
 * content fit; then fill it.  False when memory ran out (an array too big
 * to have leaves everything as it was).
 */
static bool
reserve_retarget(pool_state_t *ps, unsigned primed, unsigned minitems)
{
	uint64_t want = (uint64_t)primed + minitems;
	unsigned target = want > UINT_MAX / 2 ? UINT_MAX / 2 : (unsigned)want;
	void **array = NULL;
	if (target != 0) {
		array = kmem_zalloc((size_t)target * sizeof (void *),
		    KM_NOSLEEP);
		if (array == NULL)
			return (false);
	}

	kmem_mutex_enter(&ps->lock);
	ps->primed = primed;
	ps->minitems = minitems;
	__atomic_store_n(&ps->reserve_target, target, __ATOMIC_RELAXED);
	__atomic_store_n(&ps->minpages, pages_for(target, ps->items_per_page),
	    __ATOMIC_RELAXED);
	void **old = NULL;
	size_t old_cap = 0;
	if (target > ps->reserve_cap) {
		if (ps->nreserve != 0)
			memcpy(array, ps->reserve, ps->nreserve *
			    sizeof (void *));
		old = ps->reserve;
		old_cap = ps->reserve_cap;
		ps->reserve = array;
		ps->reserve_cap = target;
		array = NULL;
	}
	kmem_mutex_exit(&ps->lock);
	if (old != NULL)
		kmem_free(old, old_cap * sizeof (void *));
	if (array != NULL)
		kmem_free(array, (size_t)target * sizeof (void *));

	/* Beyond a lowered target: back to kmem. */
	reserve_trim_to(ps, target);
	return (reserve_fill(ps));
}

/* ---- get and put ---- */

bool
pool_get_flags_ok(pool_state_t *ps, int flags, const char *caller)
{
	const int known = PR_WAITOK | PR_NOWAIT | PR_LIMITFAIL | PR_ZERO;
	const char *why = NULL;
	if (flags & ~known)
		why = "flags has bits that are not PR_WAITOK, PR_NOWAIT, "
		    "PR_LIMITFAIL or PR_ZERO";
	else if (!(flags & PR_WAITOK) == !(flags & PR_NOWAIT))
		why = "flags must have exactly one of PR_WAITOK and PR_NOWAIT";
	else if ((flags & PR_ZERO) && ps->ctor != NULL)
		why = "PR_ZERO would wipe a constructed object";
	if (why != NULL) {
		kmem_report("%s(\"%s\", 0x%x): %s", caller, ps->pool->pr_wchan,
		    (unsigned)flags, why);
		return (false);
	}
	return (true);
}

void *
pool_take(pool_state_t *ps, int flags)
{
	if (!limit_enter(ps, flags)) {
		__atomic_fetch_add(&ps->nfail, 1, __ATOMIC_RELAXED);
		return (NULL);
	}
	int kmflag = (flags & PR_NOWAIT) ? KM_NOSLEEP : KM_SLEEP;
	void *buf;
	if (__atomic_load_n(&ps->nreserve, __ATOMIC_RELAXED) == 0) {
		buf = kmem_cache_alloc(ps->cache, kmflag);
	} else {
		/*
		 * The reserve serves a get that kmem cannot serve without
		 * waiting for a page: ask kmem not to wait first (a
		 * constructor then sees PR_NOWAIT), then the reserve, then,
		 * for PR_WAITOK, kmem again.
		 */
		buf = kmem_cache_alloc(ps->cache, KM_NOSLEEP);
		if (buf == NULL)
			buf = reserve_take(ps);
		if (buf == NULL && kmflag == KM_SLEEP)
			buf = kmem_cache_alloc(ps->cache, KM_SLEEP);
	}
	if (buf == NULL) {
		limit_exit(ps);
		__atomic_fetch_add(&ps->nfail, 1, __ATOMIC_RELAXED);
		return (NULL);
	}
	if (reserve_short(ps))
		(void) reserve_fill(ps);
	return ((char *)buf + ps->shift);
}

static void
report_stranger(pool_state_t *ps, void *item, const char *caller)
{
	char where[POOL_NAMELEN + 64];
	pool_where(where, sizeof (where), caller, ps->pool->pr_wchan, item);
	kmem_cache_t *owner = kmem_cache_of((void *)((uintptr_t)item -
	    ps->shift));
	if (owner != NULL && owner != ps->cache)
		kmem_report("%s: not an item of this pool: it belongs to kmem "
		    "cache \"%s\"", where, kmem_cache_name(owner));
	else if (owner != NULL)
		kmem_report("%s: not the start of an item of this pool", where);
	else
		kmem_report("%s: not an item of this pool (never allocated, "
		    "or not memory of this allocator)", where);
}

/* Count an item back in; false (reported) when none is out. */
static bool
count_in(pool_state_t *ps, void *item, const char *caller)
{
	uint64_t out = __atomic_load_n(&ps->nout, __ATOMIC_SEQ_CST);
	do {
		if (out == 0) {
			char where[POOL_NAMELEN + 64];
			pool_where(where, sizeof (where), caller,
			    ps->pool->pr_wchan, item);
			kmem_report("%s: more puts than gets: no item of the "
			    "pool is out (a double put?)", where);
			return (false);
		}
	} while (!__atomic_compare_exchange_n(&ps->nout, &out, out - 1, false,
	    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	return (true);
}

/* With a high-water mark, give back what is beyond it now and then. */
static void
pool_trim(pool_state_t *ps)
{
	unsigned maxpages = __atomic_load_n(&ps->maxpages, __ATOMIC_RELAXED);
	if (maxpages == UINT_MAX || (__atomic_fetch_add(&ps->puts, 1,
	    __ATOMIC_RELAXED) % POOL_TRIM_EVERY) != POOL_TRIM_EVERY - 1)
		return;
	kmem_cache_stats_t ks;
	kmem_cache_stats(ps->cache, &ks);
	if (ks.slab_create - ks.slab_destroy > maxpages)
		kmem_cache_reap_now(ps->cache);
}

void
pool_give(pool_state_t *ps, void *item, const char *caller)
{
	void *buf = (void *)((uintptr_t)item - ps->shift);
	if (item == NULL || !kmem_cache_knows(ps->cache, buf)) {
		report_stranger(ps, item, caller);
		return;
	}
	if (kmem_cache_freed_last(ps->cache, buf)) {
		char where[POOL_NAMELEN + 64];
		pool_where(where, sizeof (where), caller, ps->pool->pr_wchan,
		    item);
		kmem_report("%s: put twice: it is the item this thread put "
		    "back last", where);
		return;
	}
	if (!count_in(ps, item, caller))
		return;
	limit_wakeup(ps);
	if (reserve_short(ps) && reserve_keep(ps, buf))
		__atomic_fetch_add(&ps->reserve_keeps, 1, __ATOMIC_RELAXED);
	else
		kmem_cache_free(ps->cache, buf);
	pool_trim(ps);
}

void *
pool_get(struct pool *pp, int flags)
{
	pool_state_t *ps = plain_pool_of(pp, "pool_get", NULL);
	if (ps == NULL || !pool_get_flags_ok(ps, flags, "pool_get"))
		return (NULL);
	void *item = pool_take(ps, flags);
	if (item != NULL && (flags & PR_ZERO))
		memset(item, 0, ps->size);
	return (item);
}

void
pool_put(struct pool *pp, void *item)
{
	pool_state_t *ps = plain_pool_of(pp, "pool_put", item);
	if (ps != NULL)
		pool_give(ps, item, "pool_put");
}

/* ---- watermarks, limits, hooks ---- */

static bool
count_ok(struct pool *pp, int n, const char *caller)
{
	if (n < 0) {
		kmem_report("%s(\"%s\", %d): the count is negative", caller,
		    pp->pr_wchan, n);
		return (false);
	}
	return (true);
}

int
pool_prime(struct pool *pp, int n)
{
	pool_state_t *ps = pool_state_of(pp, "pool_prime", NULL);
	if (ps == NULL || !count_ok(pp, n, "pool_prime"))
		return (EINVAL);
	unsigned pages = pages_for((unsigned)n, ps->items_per_page);
	uint64_t items = (uint64_t)pages * ps->items_per_page;
	kmem_mutex_enter(&ps->lock);
	uint64_t primed = ps->primed + items;
	unsigned minitems = ps->minitems;
	kmem_mutex_exit(&ps->lock);
	if (primed > UINT_MAX / 2)
		primed = UINT_MAX / 2;
	if (!reserve_retarget(ps, (unsigned)primed, minitems))
		return (ENOMEM);
	/* As NetBSD: the claim of pages stays below the high-water mark. */
	unsigned minpages = __atomic_load_n(&ps->minpages, __ATOMIC_RELAXED);
	if (minpages >= __atomic_load_n(&ps->maxpages, __ATOMIC_RELAXED))
		__atomic_store_n(&ps->maxpages, minpages + 1, __ATOMIC_RELAXED);
	return (0);
}

void
pool_setlowat(struct pool *pp, int n)
{
	pool_state_t *ps = pool_state_of(pp, "pool_setlowat", NULL);
	if (ps == NULL || !count_ok(pp, n, "pool_setlowat"))
		return;
	kmem_mutex_enter(&ps->lock);
	unsigned primed = ps->primed;
	kmem_mutex_exit(&ps->lock);
	(void) reserve_retarget(ps, primed, (unsigned)n);
}

void
pool_sethiwat(struct pool *pp, int n)
{
	pool_state_t *ps = pool_state_of(pp, "pool_sethiwat", NULL);
	if (ps == NULL || !count_ok(pp, n, "pool_sethiwat"))
		return;
	__atomic_store_n(&ps->maxpages, pages_for((unsigned)n,
	    ps->items_per_page), __ATOMIC_RELAXED);
}

void
pool_sethardlimit(struct pool *pp, int n, const char *warnmess, int ratecap)
{
	pool_state_t *ps = pool_state_of(pp, "pool_sethardlimit", NULL);
	if (ps == NULL || !count_ok(pp, n, "pool_sethardlimit") ||
	    !count_ok(pp, ratecap, "pool_sethardlimit"))
		return;
	kmem_mutex_enter(&ps->lock);
	ps->warnmess = warnmess;
	ps->ratecap_ns = (uint64_t)ratecap * 1000000000ull;
	ps->warned = false;
	__atomic_store_n(&ps->hardlimit, (unsigned)n, __ATOMIC_SEQ_CST);
	/* As NetBSD: the limit is the high-water mark too. */
	__atomic_store_n(&ps->maxpages, pages_for((unsigned)n,
	    ps->items_per_page), __ATOMIC_RELAXED);
	kmem_cv_broadcast(&ps->cv);     /* a raised limit lets sleepers in */
	kmem_mutex_exit(&ps->lock);
}

void
pool_set_drain_hook(struct pool *pp, void (*fn)(void *, int), void *arg)
{
	pool_state_t *ps = pool_state_of(pp, "pool_set_drain_hook", NULL);
	if (ps == NULL)
		return;
	if (__atomic_load_n(&ps->drain_hook, __ATOMIC_ACQUIRE) != NULL) {
		kmem_report("pool_set_drain_hook(\"%s\"): the pool has a drain "
		    "hook already", pp->pr_wchan);
		return;
	}
	__atomic_store_n(&ps->drain_arg, arg, __ATOMIC_RELAXED);
	__atomic_store_n(&ps->drain_hook, fn, __ATOMIC_RELEASE);
}

int
pool_reclaim_state(pool_state_t *ps)
{
	pool_kmem_reclaim(ps);
	kmem_cache_stats_t before, after;
	kmem_cache_stats(ps->cache, &before);
	kmem_cache_reap_now(ps->cache);
	kmem_cache_stats(ps->cache, &after);
	return (after.slab_destroy > before.slab_destroy);
}

int
pool_reclaim(struct pool *pp)
{
	pool_state_t *ps = pool_state_of(pp, "pool_reclaim", NULL);
	return (ps != NULL ? pool_reclaim_state(ps) : 0);
}

void
pool_invalidate_state(pool_state_t *ps)
{
	reserve_trim_to(ps, 0);
	kmem_cache_reap_now(ps->cache);
	(void) reserve_fill(ps);
}

/* ---- statistics ---- */

void
pool_stats_fill(pool_state_t *ps, pool_stats_t *st)
{
	*st = (pool_stats_t){ 0 };
	kmem_cache_stats_t ks;
	kmem_cache_stats(ps->cache, &ks);

	kmem_snprintf(st->name, sizeof (st->name), "%s", ps->pool->pr_wchan);
	kmem_snprintf(st->cache, sizeof (st->cache), "%s", ks.name);
	st->is_cache = ps->pcache != NULL;
	st->has_allocator = ps->palloc != NULL;
	st->flags = ps->flags;
	st->size = ps->size;
	st->item_size = ks.chunk_size;
	st->align = ps->align;
	st->align_offset = ps->align_offset;
	st->page_size = ks.slab_size;
	st->items_per_page = ks.buf_per_slab;

	/*
	 * Gets and puts are kmem's allocations and frees, less those of the
	 * reserve, plus those the reserve served: no counter of their own on
	 * the fast paths.
	 */
	st->nout = __atomic_load_n(&ps->nout, __ATOMIC_SEQ_CST);
	st->nget = difference(ks.alloc, __atomic_load_n(&ps->reserve_allocs,
	    __ATOMIC_RELAXED)) + __atomic_load_n(&ps->reserve_takes,
	    __ATOMIC_RELAXED);
	st->nput = difference(ks.free, __atomic_load_n(&ps->reserve_frees,
	    __ATOMIC_RELAXED)) + __atomic_load_n(&ps->reserve_keeps,
	    __ATOMIC_RELAXED);
	st->nfail = __atomic_load_n(&ps->nfail, __ATOMIC_RELAXED);
	st->nlimit = __atomic_load_n(&ps->nlimit, __ATOMIC_RELAXED);
	st->nwait = __atomic_load_n(&ps->nwait, __ATOMIC_RELAXED);
	st->ndrain = __atomic_load_n(&ps->ndrain, __ATOMIC_RELAXED);
	st->nconstruct = __atomic_load_n(&ps->nconstruct, __ATOMIC_RELAXED);
	st->ndestruct = __atomic_load_n(&ps->ndestruct, __ATOMIC_RELAXED);

	st->npagealloc = ks.slab_create;
	st->npagefree = ks.slab_destroy;
	st->npages = difference(ks.slab_create, ks.slab_destroy);
	st->hiwat_pages = ks.buf_per_slab != 0 ? ks.buf_max /
	    ks.buf_per_slab : 0;
	st->nidle = kmem_cache_empty_slabs(ps->cache);
	st->nitems = difference(ks.buf_total, st->nout);
	st->ncached = ks.buf_constructed;
	st->minpages = __atomic_load_n(&ps->minpages, __ATOMIC_RELAXED);
	st->maxpages = __atomic_load_n(&ps->maxpages, __ATOMIC_RELAXED);
	st->hardlimit = __atomic_load_n(&ps->hardlimit, __ATOMIC_RELAXED);

	kmem_mutex_enter(&ps->lock);
	st->nreserved = ps->nreserve;
	st->reserve_target = ps->reserve_target;
	st->minitems = ps->minitems;
	kmem_mutex_exit(&ps->lock);
}

int
pool_stats(struct pool *pp, pool_stats_t *st)
{
	pool_state_t *ps = pool_state_of(pp, "pool_stats", NULL);
	if (ps == NULL)
		return (-1);
	pool_stats_fill(ps, st);
	return (0);
}

void
pool_walk(void (*fn)(void *arg, const pool_stats_t *st), void *arg)
{
	kmem_mutex_enter(&pool_list_lock);
	pool_state_t *ps = pool_list.list_next;
	while (ps != &pool_list) {
		if (ps->dying) {
			ps = ps->list_next;
			continue;
		}
		ps->busy++;
		kmem_mutex_exit(&pool_list_lock);

		pool_stats_t st;
		pool_stats_fill(ps, &st);
		fn(arg, &st);

		kmem_mutex_enter(&pool_list_lock);
		if (--ps->busy == 0 && ps->dying)
			kmem_cv_broadcast(&pool_list_cv);
		ps = ps->list_next;
	}
	kmem_mutex_exit(&pool_list_lock);
}

/* ---- the table ---- */

#define POOL_HEAD_FORMAT \
	"%-20s %6s %9s %5s %9s %6s %6s %6s %6s %5s %5s %5s"
#define POOL_ROW_FORMAT \
	"%-20s %6zu %9llu %5llu %9llu %6llu %6llu %6llu %6llu %5u %5s %5llu"

typedef struct pool_table_out {
	void (*emit)(void *, const char *);
	void *arg;
	uint64_t inuse;                 /* bytes of items out */
	uint64_t total;                 /* bytes of pages */
} pool_table_out_t;

static void
table_line(const pool_table_out_t *out, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	kmem_vsnprintf(line, sizeof (line), fmt, ap);
	va_end(ap);
	out->emit(out->arg, line);
}

static void
table_row(void *arg, const pool_stats_t *st)
{
	pool_table_out_t *out = arg;
	char maxpg[16];
	if (st->maxpages == UINT_MAX)
		kmem_snprintf(maxpg, sizeof (maxpg), "inf");
	else
		kmem_snprintf(maxpg, sizeof (maxpg), "%u", st->maxpages);
	table_line(out, POOL_ROW_FORMAT, st->name, st->size,
	    (unsigned long long)st->nget, (unsigned long long)st->nfail,
	    (unsigned long long)st->nput, (unsigned long long)st->npagealloc,
	    (unsigned long long)st->npagefree, (unsigned long long)st->npages,
	    (unsigned long long)st->hiwat_pages, st->minpages, maxpg,
	    (unsigned long long)st->nidle);
	out->inuse += st->nout * st->size;
	out->total += st->npages * st->page_size;
}

void
pool_table_of(pool_rows_t *rows, void *src, kmem_emit_t *emit, void *arg)
{
	pool_table_out_t out = { emit, arg, 0, 0 };
	table_line(&out, "%s", "Memory resource pool statistics");
	table_line(&out, POOL_HEAD_FORMAT, "Name", "Size", "Requests", "Fail",
	    "Releases", "Pgreq", "Pgrel", "Npage", "Hiwat", "Minpg", "Maxpg",
	    "Idle");
	rows(src, table_row, &out);
	uint64_t permille = out.total != 0 ? out.inuse * 1000 / out.total : 0;
	table_line(&out, "In use %lluK, total allocated %lluK; utilization "
	    "%llu.%llu%%", (unsigned long long)((out.inuse + 1023) / 1024),
	    (unsigned long long)((out.total + 1023) / 1024),
	    (unsigned long long)(permille / 10),
	    (unsigned long long)(permille % 10));
}

void
pool_rows_live(void *src, void (*row)(void *row_arg, const pool_stats_t *st),
    void *row_arg)
{
	(void) src;
	pool_walk(row, row_arg);
}

void
pool_table(void (*emit)(void *arg, const char *line), void *arg)
{
	pool_table_of(pool_rows_live, NULL, emit, arg);
}

/* ---- fork (kmem_fork.c) ---- */

/*
 * Take the list lock, then every pool's lock; fork() runs between this and
 * pool_fork_exit(), so the child never inherits one held halfway through
 * a change.  Nobody holds two of these at once, so taking them all cannot
 * deadlock with a thread that holds one.
 */
void
pool_fork_enter(void)
{
	kmem_mutex_enter_for_fork(&pool_list_lock);
	for (pool_state_t *ps = pool_list.list_next; ps != &pool_list;
	    ps = ps->list_next)
		kmem_mutex_enter_for_fork(&ps->lock);
}

void
pool_fork_exit(void)
{
	for (pool_state_t *ps = pool_list.list_next; ps != &pool_list;
	    ps = ps->list_next)
		kmem_mutex_exit_for_fork(&ps->lock);
	kmem_mutex_exit_for_fork(&pool_list_lock);
}
