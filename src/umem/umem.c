/*
 * umem: illumos's libumem API -- umem_alloc(3MALLOC) and
 * umem_cache_create(3MALLOC) -- as a thin layer over kmem's public API.
 * docs/umem.md is the long version of this comment.
 *
 * What maps to what:
 *
 *	umem_alloc, umem_zalloc     kmem_alloc, kmem_zalloc (KM_NOSLEEP)
 *	umem_free                   kmem_free
 *	umem_cache_create           kmem_cache_create, through trampolines
 *	umem_cache_alloc, _free     kmem_cache_alloc (KM_NOSLEEP), _free
 *	umem_cache_destroy          kmem_cache_destroy
 *	umem_reap                   kmem_reap
 *	UMC_NOTOUCH, UMC_NODEBUG,   KMC_NOTOUCH, KMC_NODEBUG,
 *	UMC_NOMAGAZINE, UMC_NOHASH  KMC_NOMAGAZINE, KMC_NOHASH, bit by bit
 *
 * Allocation flags.  kmem is always asked with KM_NOSLEEP, so a request
 * comes back at once, filled or NULL.  UMEM_DEFAULT hands the NULL to the
 * caller.  UMEM_NOFAIL is not KM_SLEEP: KM_SLEEP waits for a free that
 * may never come (an exhausted private arena) and asks no one; umem's
 * contract is to ask the process-wide nofail callback instead.  So a
 * UMEM_NOFAIL request loops here: try, and on failure run the callback,
 * which answers UMEM_CALLBACK_RETRY (try again), UMEM_CALLBACK_EXIT(n)
 * (exit(n)), or anything else (a warning, then exit(255)); no callback
 * counts as UMEM_CALLBACK_EXIT(255).  Before a request fails, kmem has
 * already reaped its caches (kmem_reap_soon(), which runs the reclaim
 * callbacks), as libumem does before it gives up.
 *
 * Constructor flags.  A umem constructor receives umem flags, a kmem one
 * kmem flags, and the values differ (KM_NOSLEEP is 1; UMEM_DEFAULT is 0).
 * Every kmem request made here is KM_NOSLEEP, so the trampoline passes
 * UMEM_DEFAULT, always -- as illumos does: a constructor's own
 * allocations may fail, and the constructor then fails, which fails the
 * umem_cache_alloc() that the UMEM_NOFAIL loop above retries.
 *
 * Caches.  A umem_cache_t is a small record holding the kmem cache and
 * the caller's three callbacks and their argument; the kmem cache gets
 * trampolines (only for the callbacks the caller gave) with the record as
 * their argument.  The record is allocated before the kmem cache and freed
 * after it is destroyed, so a callback never sees it half made or gone.
 * A magic number catches a NULL or stale cache pointer with a report
 * instead of a wild dereference.
 *
 * umem_cache_create() returns NULL with errno set for the bad input its
 * man page lists (EINVAL, ENOMEM, EAGAIN) rather than letting kmem report
 * it: a libumem program expects to see the error, not an abort.  The
 * checks mirror those in kmem_cache_create(); anything subtler (such as
 * UMC_NOHASH on an arena whose quantum is below a page) is left to kmem,
 * which reports it.
 *
 * Exiting.  exit() runs once: the first thread to exit takes
 * umem_exit_lock and never lets go, so any other thread that decides to
 * exit blocks on it until the process ends.  If the exiting thread itself
 * comes back here (an atexit() handler whose UMEM_NOFAIL allocation fails
 * and whose callback says exit again), it cannot exit twice and cannot
 * wait for itself: that is reported as a panic.  No library lock is held
 * while the callback runs, so it may free memory, allocate, or leave the
 * thread with pthread_exit(), as the man page allows.
 *
 * The callback pointer is read and written atomically: any thread may set
 * it at any time, and a failing request runs whichever was set last.
 */
#include <kmem/kmem.h>
#include <kmem/umem.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "base/report.h"

/* The cache flags; umem_cflags_to_kmem() maps each to its KMC_* twin. */
#define UMC_KNOWN       (UMC_NOTOUCH | UMC_NODEBUG | UMC_NOMAGAZINE | \
	UMC_NOHASH)

/* Larger buffers get ENOMEM; below kmem's limit, so it never reports. */
#define UMEM_BUFSIZE_MAX        (SIZE_MAX / 64)

#define UMEM_CACHE_MAGIC        0x756d656d63616368ull   /* "umemcach" */

struct umem_cache {
	uint64_t uc_magic;
	kmem_cache_t *uc_cache;
	umem_constructor_t *uc_constructor;
	umem_destructor_t *uc_destructor;
	umem_reclaim_t *uc_reclaim;
	umem_move_callback_t *uc_move;  /* set once, before any allocation */
	void *uc_arg;
};

static umem_nofail_callback_t *umem_nofail_cb;  /* atomic; NULL: exit(255) */

static pthread_mutex_t umem_exit_lock = PTHREAD_MUTEX_INITIALIZER;
static bool umem_exit_started;                  /* atomic */
static pthread_t umem_exit_thread;              /* set before the above */

/* ---- UMEM_NOFAIL ---- */

void
umem_nofail_callback(umem_nofail_callback_t *callback)
{
	__atomic_store_n(&umem_nofail_cb, callback, __ATOMIC_RELEASE);
}

_Noreturn static void
umem_exit(int status)
{
	if (__atomic_load_n(&umem_exit_started, __ATOMIC_ACQUIRE) &&
	    pthread_equal(umem_exit_thread, pthread_self()))
		kmem_panic("umem: a UMEM_NOFAIL allocation failed while its "
		    "thread was already exiting for UMEM_CALLBACK_EXIT() "
		    "(recursive UMEM_CALLBACK_EXIT())");
	(void) pthread_mutex_lock(&umem_exit_lock);
	umem_exit_thread = pthread_self();
	__atomic_store_n(&umem_exit_started, true, __ATOMIC_RELEASE);
	exit(status);
}

/*
 * A UMEM_NOFAIL request failed: returns if the request is to be retried,
 * else exits.
 */
static void
umem_nofail_failed(void)
{
	umem_nofail_callback_t *cb = __atomic_load_n(&umem_nofail_cb,
	    __ATOMIC_ACQUIRE);
	int result = cb != NULL ? cb() : UMEM_CALLBACK_EXIT(255);

	if (result == UMEM_CALLBACK_RETRY)
		return;
	if ((result & ~0xFF) != UMEM_CALLBACK_EXIT(0)) {
		kmem_warn("umem: the UMEM_NOFAIL callback returned 0x%x, "
		    "neither UMEM_CALLBACK_RETRY nor UMEM_CALLBACK_EXIT(); "
		    "exiting with status 255", (unsigned)result);
		result = UMEM_CALLBACK_EXIT(255);
	}
	umem_exit(result & 0xFF);
}

/* ---- umem_alloc ---- */

void *
umem_alloc(size_t size, int flags)
{
	if (size == 0)
		return (NULL);
	for (;;) {
		void *buf = kmem_alloc(size, KM_NOSLEEP);
		if (buf != NULL || !(flags & UMEM_NOFAIL))
			return (buf);
		umem_nofail_failed();
	}
}

void *
umem_zalloc(size_t size, int flags)
{
	if (size == 0)
		return (NULL);
	for (;;) {
		void *buf = kmem_zalloc(size, KM_NOSLEEP);
		if (buf != NULL || !(flags & UMEM_NOFAIL))
			return (buf);
		umem_nofail_failed();
	}
}

void
umem_free(void *buf, size_t size)
{
	if (buf == NULL)
		return;
	if (size == 0) {
		kmem_report("umem_free(%p, 0): size 0, but umem_alloc(0) never "
		    "returns a buffer", buf);
		return;
	}
	kmem_free(buf, size);
}

/* ---- object caches ---- */

static int
umem_construct(void *buf, void *arg, int kmflag)
{
	umem_cache_t *cp = arg;
	KMEM_ASSERT(kmflag & KM_NOSLEEP);
	(void) kmflag;
	return (cp->uc_constructor(buf, cp->uc_arg, UMEM_DEFAULT));
}

static void
umem_destruct(void *buf, void *arg)
{
	umem_cache_t *cp = arg;
	cp->uc_destructor(buf, cp->uc_arg);
}

static void
umem_reclaim(void *arg)
{
	umem_cache_t *cp = arg;
	cp->uc_reclaim(cp->uc_arg);
}

/* The answers are kmem's, value for value (umem.h). */
_Static_assert((int)UMEM_CBRC_YES == (int)KMEM_CBRC_YES &&
    (int)UMEM_CBRC_NO == (int)KMEM_CBRC_NO &&
    (int)UMEM_CBRC_LATER == (int)KMEM_CBRC_LATER &&
    (int)UMEM_CBRC_DONT_NEED == (int)KMEM_CBRC_DONT_NEED &&
    (int)UMEM_CBRC_DONT_KNOW == (int)KMEM_CBRC_DONT_KNOW,
    "umem_cbrc_t and kmem_cbrc_t differ");

static kmem_cbrc_t
umem_move(void *old, void *newbuf, size_t size, void *arg)
{
	umem_cache_t *cp = arg;
	return ((kmem_cbrc_t)cp->uc_move(old, newbuf, size, cp->uc_arg));
}

/* Translate UMC_* into KMC_*; false if cflags has other bits. */
static bool
umem_cflags_to_kmem(int cflags, int *kmflagsp)
{
	int kmflags = 0;

	if (cflags & ~UMC_KNOWN)
		return (false);
	if (cflags & UMC_NOTOUCH)
		kmflags |= KMC_NOTOUCH;
	if (cflags & UMC_NODEBUG)
		kmflags |= KMC_NODEBUG;
	if (cflags & UMC_NOMAGAZINE)
		kmflags |= KMC_NOMAGAZINE;
	if (cflags & UMC_NOHASH)
		kmflags |= KMC_NOHASH;
	*kmflagsp = kmflags;
	return (true);
}

/* Whether cp is a live cache; reports it if not. */
static bool
umem_cache_ok(const umem_cache_t *cp, const char *func)
{
	if (cp == NULL) {
		kmem_report("%s(NULL): the cache is NULL", func);
		return (false);
	}
	if (cp->uc_magic != UMEM_CACHE_MAGIC) {
		kmem_report("%s(%p): not a umem cache, or one already "
		    "destroyed", func, (const void *)cp);
		return (false);
	}
	return (true);
}

umem_cache_t *
umem_cache_create(const char *debug_name, size_t bufsize, size_t align,
    umem_constructor_t *constructor, umem_destructor_t *destructor,
    umem_reclaim_t *reclaim, void *callback_data, vmem_t *source,
    int cflags)
{
	int kmflags;

	if (debug_name == NULL || bufsize == 0 || (align & (align - 1)) != 0 ||
	    !umem_cflags_to_kmem(cflags, &kmflags) ||
	    ((cflags & UMC_NOHASH) && (cflags & UMC_NOTOUCH))) {
		errno = EINVAL;
		return (NULL);
	}
	vmem_stats_t vs;
	(void) vmem_stats(source != NULL ? source : kmem_default_arena(), &vs);
	if (align > vs.quantum) {
		errno = EINVAL;
		return (NULL);
	}
	if (bufsize > UMEM_BUFSIZE_MAX) {
		errno = ENOMEM;
		return (NULL);
	}

	umem_cache_t *cp = kmem_alloc(sizeof (*cp), KM_NOSLEEP);
	if (cp == NULL) {
		errno = EAGAIN;
		return (NULL);
	}
	*cp = (umem_cache_t){ .uc_constructor = constructor,
	    .uc_destructor = destructor, .uc_reclaim = reclaim,
	    .uc_arg = callback_data };
	cp->uc_cache = kmem_cache_create(debug_name, bufsize, align,
	    constructor != NULL ? umem_construct : NULL,
	    destructor != NULL ? umem_destruct : NULL,
	    reclaim != NULL ? umem_reclaim : NULL, cp, source, kmflags);
	if (cp->uc_cache == NULL) {
		kmem_free(cp, sizeof (*cp));
		errno = EAGAIN;
		return (NULL);
	}
	cp->uc_magic = UMEM_CACHE_MAGIC;
	return (cp);
}

void
umem_cache_destroy(umem_cache_t *cp)
{
	if (!umem_cache_ok(cp, "umem_cache_destroy"))
		return;
	/* Destructors and reclaim may run until this returns: keep cp. */
	kmem_cache_destroy(cp->uc_cache);
	cp->uc_magic = 0;
	kmem_free(cp, sizeof (*cp));
}

void *
umem_cache_alloc(umem_cache_t *cp, int flags)
{
	if (!umem_cache_ok(cp, "umem_cache_alloc"))
		return (NULL);
	for (;;) {
		void *buf = kmem_cache_alloc(cp->uc_cache, KM_NOSLEEP);
		if (buf != NULL || !(flags & UMEM_NOFAIL))
			return (buf);
		umem_nofail_failed();
	}
}

void
umem_cache_free(umem_cache_t *cp, void *buf)
{
	if (!umem_cache_ok(cp, "umem_cache_free"))
		return;
	kmem_cache_free(cp->uc_cache, buf);
}

/*
 * Moves (umem.h): the record keeps the client's callback, and the kmem
 * cache a trampoline that calls it with the client's argument.  kmem
 * checks and reports the rest (a second callback, a cache that has
 * allocated); the record's callback is set only when kmem took it.
 */
void
umem_cache_set_move(umem_cache_t *cp, umem_move_callback_t *move)
{
	if (!umem_cache_ok(cp, "umem_cache_set_move"))
		return;
	if (move == NULL) {
		kmem_report("umem_cache_set_move(%p, NULL): the callback is "
		    "NULL", (void *)cp);
		return;
	}
	kmem_cache_stats_t before, after;
	(void) kmem_cache_stats(cp->uc_cache, &before);
	if (before.movable) {
		kmem_report("umem_cache_set_move(\"%s\"): the cache has a "
		    "move callback already", before.name);
		return;
	}
	cp->uc_move = move;
	kmem_cache_set_move(cp->uc_cache, umem_move);
	(void) kmem_cache_stats(cp->uc_cache, &after);
	if (!after.movable)
		cp->uc_move = NULL;     /* refused, and reported */
}

size_t
umem_cache_move_now(umem_cache_t *cp)
{
	if (!umem_cache_ok(cp, "umem_cache_move_now"))
		return (0);
	return (kmem_cache_move_now(cp->uc_cache));
}

void
umem_reap(void)
{
	kmem_reap();
}
