/*
 * pool_cache(9): NetBSD's cache of constructed objects on top of a pool
 * (include/kmem/pool.h; the pool itself is pool.c).
 *
 * NetBSD layers per-CPU groups of constructed objects over a pool; kmem
 * caches already are exactly that (per-thread magazines over a depot over
 * slabs, objects constructed when they leave a slab and destructed when
 * they go back), so a pool cache is a pool whose kmem cache has a
 * constructor and a destructor.  Those are the two adapters below: kmem
 * calls constructor(buffer, private, kmflag), NetBSD's take
 * (arg, object, flags), with the object at the pool's offset into the
 * buffer and KM_NOSLEEP turned into PR_NOWAIT.  Everything else -- the
 * hard limit, watermarks, the reserve, the checks on put, statistics -- is
 * the pool's.
 *
 * Invalidation destroys what the calling thread's magazines and the depot
 * hold (kmem_cache_reap_now()); objects in other threads' magazines stay
 * until those threads exit or the cache is destroyed, because another
 * thread's magazines can only be reached while it is not using them.
 *
 * Invariant: pc_magic is PCACHE_MAGIC_LIVE exactly while pc_pool is live;
 * pool_cache_destroy() sets PCACHE_MAGIC_DEAD before the memory goes back
 * to kmem, so a late put is reported while the memory has not been reused.
 * No locks of its own: the pool's and kmem's.
 */
#include "pool_impl.h"

#include <string.h>

#include "base/poison.h"
#include "base/report.h"

#define PCACHE_MAGIC_LIVE 0x70636163u   /* "pcac" */
#define PCACHE_MAGIC_DEAD 0x64656164u   /* "dead" */

/* pc_magic is read after pool_cache_destroy() freed the structure, so it
 * is not the first word, where kmem writes its free mark (kmem_cache.c). */
struct pool_cache {
	struct pool pc_pool;
	uint32_t pc_magic;
};

static int
pool_cache_construct(void *buf, void *private, int kmflag)
{
	pool_state_t *ps = private;
	__atomic_fetch_add(&ps->nconstruct, 1, __ATOMIC_RELAXED);
	return (ps->ctor(ps->ctor_arg, (char *)buf + ps->shift,
	    (kmflag & KM_NOSLEEP) ? PR_NOWAIT : PR_WAITOK));
}

static void
pool_cache_destruct(void *buf, void *private)
{
	pool_state_t *ps = private;
	__atomic_fetch_add(&ps->ndestruct, 1, __ATOMIC_RELAXED);
	ps->dtor(ps->ctor_arg, (char *)buf + ps->shift);
}

/*
 * The cache's pool state, or NULL (reported).  kmem_free()d memory stays
 * mapped, so a pool cache destroyed a moment ago still says so.
 */
KMEM_READS_FREED static pool_state_t *
pool_cache_state(pool_cache_t pc, const char *caller, const void *object)
{
	if (pc == NULL) {
		kmem_report("%s(NULL): the pool cache is NULL", caller);
		return (NULL);
	}
	uint32_t magic = __atomic_load_n(&pc->pc_magic, __ATOMIC_ACQUIRE);
	if (magic == PCACHE_MAGIC_LIVE)
		return (pool_state_of(&pc->pc_pool, caller, object));
	if (magic == PCACHE_MAGIC_DEAD)
		kmem_report("%s(%p, %p): the pool cache was destroyed", caller,
		    (void *)pc, object);
	else
		kmem_report("%s(%p): not a pool cache made by "
		    "pool_cache_init()", caller, (void *)pc);
	return (NULL);
}

pool_cache_t
pool_cache_init(size_t size, unsigned int align, unsigned int align_offset,
    int flags, const char *wchan, struct pool_allocator *palloc, int ipl,
    int (*ctor)(void *arg, void *object, int flags),
    void (*dtor)(void *arg, void *object), void *arg)
{
	(void) ipl;
	/* As pool_setup(): never wait for memory, report and fail. */
	pool_cache_t pc = kmem_zalloc(sizeof (*pc), KM_NOSLEEP);
	if (pc == NULL) {
		pool_setup_report("pool_cache_init", wchan, size, align,
		    align_offset, flags, "out of memory for the pool cache; "
		    "the pool is not set up");
		return (NULL);
	}
	if (!pool_setup(&pc->pc_pool, size, align, align_offset, flags, wchan,
	    palloc, "pool_cache_init", pc,
	    ctor != NULL ? pool_cache_construct : NULL,
	    dtor != NULL ? pool_cache_destruct : NULL, ctor, dtor, arg)) {
		kmem_free(pc, sizeof (*pc));
		return (NULL);
	}
	__atomic_store_n(&pc->pc_magic, PCACHE_MAGIC_LIVE, __ATOMIC_RELEASE);
	return (pc);
}

void
pool_cache_destroy(pool_cache_t pc)
{
	if (pool_cache_state(pc, "pool_cache_destroy", NULL) == NULL ||
	    !pool_teardown(&pc->pc_pool, "pool_cache_destroy"))
		return;
	__atomic_store_n(&pc->pc_magic, PCACHE_MAGIC_DEAD, __ATOMIC_RELEASE);
	kmem_free(pc, sizeof (*pc));
}

void *
pool_cache_get_paddr(pool_cache_t pc, int flags, pool_paddr_t *pap)
{
	pool_state_t *ps = pool_cache_state(pc, "pool_cache_get", NULL);
	void *object = NULL;
	if (ps != NULL && pool_get_flags_ok(ps, flags, "pool_cache_get"))
		object = pool_take(ps, flags);
	if (object != NULL && (flags & PR_ZERO))
		memset(object, 0, ps->size);
	if (pap != NULL)
		*pap = object != NULL ? (pool_paddr_t)object :
		    POOL_PADDR_INVALID;
	return (object);
}

void *
pool_cache_get(pool_cache_t pc, int flags)
{
	return (pool_cache_get_paddr(pc, flags, NULL));
}

void
pool_cache_put_paddr(pool_cache_t pc, void *object, pool_paddr_t pa)
{
	(void) pa;
	pool_state_t *ps = pool_cache_state(pc, "pool_cache_put", object);
	if (ps != NULL)
		pool_give(ps, object, "pool_cache_put");
}

void
pool_cache_put(pool_cache_t pc, void *object)
{
	pool_cache_put_paddr(pc, object, POOL_PADDR_INVALID);
}

void
pool_cache_invalidate(pool_cache_t pc)
{
	pool_state_t *ps = pool_cache_state(pc, "pool_cache_invalidate", NULL);
	if (ps != NULL)
		pool_invalidate_state(ps);
}

int
pool_cache_reclaim(pool_cache_t pc)
{
	pool_state_t *ps = pool_cache_state(pc, "pool_cache_reclaim", NULL);
	return (ps != NULL ? pool_reclaim_state(ps) : 0);
}

void
pool_cache_set_drain_hook(pool_cache_t pc, void (*fn)(void *, int),
    void *arg)
{
	if (pool_cache_state(pc, "pool_cache_set_drain_hook", NULL) != NULL)
		pool_set_drain_hook(&pc->pc_pool, fn, arg);
}

void
pool_cache_setlowat(pool_cache_t pc, int n)
{
	if (pool_cache_state(pc, "pool_cache_setlowat", NULL) != NULL)
		pool_setlowat(&pc->pc_pool, n);
}

void
pool_cache_sethiwat(pool_cache_t pc, int n)
{
	if (pool_cache_state(pc, "pool_cache_sethiwat", NULL) != NULL)
		pool_sethiwat(&pc->pc_pool, n);
}

void
pool_cache_sethardlimit(pool_cache_t pc, int n, const char *warnmess,
    int ratecap)
{
	if (pool_cache_state(pc, "pool_cache_sethardlimit", NULL) != NULL)
		pool_sethardlimit(&pc->pc_pool, n, warnmess, ratecap);
}

int
pool_cache_stats(pool_cache_t pc, pool_stats_t *st)
{
	pool_state_t *ps = pool_cache_state(pc, "pool_cache_stats", NULL);
	if (ps == NULL)
		return (-1);
	pool_stats_fill(ps, st);
	return (0);
}
