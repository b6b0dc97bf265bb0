/*
 * kmem's bootstrap: the arenas kmem takes memory from and the internal
 * caches every other cache needs.
 *
 *	kmem_pages      pages from the platform (mmap), imported at least
 *	                256 KiB at a time; spans go back (munmap) when wholly
 *	                free, and every update or reap pass purges the free
 *	                pages of the others (madvise MADV_DONTNEED)
 *	kmem_metadata   kmem's own structures: the internal caches' slabs and
 *	                the threads' slot arrays
 *	kmem_default    the slabs of caches created with vmp == NULL, with
 *	                quantum caches for slabs of 1 to 8 pages
 *	kmem_oversize   kmem_alloc() and malloc() beyond KMEM_MAXBUF, in spans
 *	                of at least KMEM_OVERSIZE_CHUNK; what is freed stays
 *	                mapped and faulted in for reuse, within a bound that
 *	                follows the recent peak of its use (plus
 *	                KMEM_OVERSIZE_SLACK), and decays at every update pass
 *	                (vmem.c, "Retention"); a reap gives it all back
 *
 * The internal caches -- cache structures (kmem_cache, itself in static
 * storage), external slab structures, bufctls, thread caches and
 * magazines -- have no magazine layer and keep their slab bookkeeping
 * inside their slabs, so they need nothing but the slab layer and the page
 * map: nothing they do comes back to them.  Order matters: arenas without
 * quantum caches, the cache of caches, the other internal caches, the
 * magazine caches, kmem_default's quantum caches.  kmem_alloc's classes
 * are made later, each on its first use (kmem_alloc.c).  (The fork handlers need no installing here: they are registered when
 * the library is loaded (kmem_fork.c), so a fork while this runs waits
 * for it.)
 *
 * The bootstrap runs with the asynchronous signals blocked: a handler that
 * allocated, or forked and exit()ed in the child, would find it half done
 * (platform.h, kmem_signals_block()).
 *
 * kmem_init() is idempotent and thread-safe, and cheap once done; every
 * entry point that can come first calls it (kmem_cache_create(), the first
 * kmem_alloc(), a kmem_free() of a class or of a large size, vmem_create()
 * of an arena with quantum caches, ...), so that even a bad free as the
 * first call finds kmem_oversize and the page map to be reported against.
 */
#include "kmem_impl.h"

#include "base/lock_order.h"
#include "base/report.h"
#include "vmem/vmem_impl.h"

vmem_t *kmem_default;
vmem_t *kmem_oversize;
static vmem_t *kmem_pages;
static vmem_t *kmem_metadata;

kmem_cache_t *kmem_cache_cache;
kmem_cache_t *kmem_slab_cache;
kmem_cache_t *kmem_bufctl_cache;
kmem_cache_t *kmem_thread_cache_cache;
static kmem_cache_t kmem_cache_cache_storage;

kmem_mutex_t kmem_init_lock = KMEM_MUTEX_INITIALIZER(KMEM_RANK_INIT);
static bool kmem_begun;         /* a thread has started the bootstrap */
static bool kmem_ready;         /* and it is done */

#define INTERNAL_FLAGS  (KMC_NOHASH | KMC_NOMAGAZINE | KMC_NODEBUG)
/*
 * Freed large-buffer memory kmem_oversize may keep beyond its recent peak
 * between passes: a program that frees and allocates large buffers in turn
 * then reuses pages already mapped and faulted in, rather than paying
 * munmap, mmap and a fault per page every time (docs/malloc.md), even when
 * it reaches a new peak.
 */
#define KMEM_OVERSIZE_SLACK     (32u << 20)
/*
 * The smallest span kmem_oversize imports: large buffers share spans, so
 * the frees of neighbours coalesce into room for a bigger buffer.  Only
 * address space: a page costs memory once it is touched.
 */
#define KMEM_OVERSIZE_CHUNK     (sizeof (void *) >= 8 ? 256u << 20 : 16u << 20)

static void *
page_import(vmem_t *source, size_t size, int vmflag)
{
	(void) source;
	(void) vmflag;
	return (kmem_pages_alloc(size));
}

static void
page_release(vmem_t *source, void *addr, size_t size)
{
	(void) source;
	kmem_pages_free(addr, size);
}

static vmem_t *
kmem_arena(const char *name, vmem_t *source)
{
	vmem_t *vmp = vmem_create(name, NULL, 0, kmem_pagesize(), vmem_alloc,
	    vmem_free, source, 0, VM_SLEEP);
	if (vmp == NULL)
		kmem_panic("kmem: cannot create the %s arena", name);
	return (vmp);
}

static kmem_cache_t *
internal_cache(const char *name, size_t size, size_t align)
{
	kmem_cache_t *cp = kmem_cache_create_internal(name, size, align, NULL,
	    NULL, NULL, NULL, kmem_metadata, INTERNAL_FLAGS);
	if (cp == NULL)
		kmem_panic("kmem: cannot create %s", name);
	return (cp);
}

static void
bootstrap(void)
{
	size_t page = kmem_pagesize();
	kmem_free_marks_init();
	kmem_pages = vmem_create("kmem_pages", NULL, 0, page, page_import,
	    page_release, NULL, 16 * page, VMC_NO_QCACHE | VM_SLEEP);
	if (kmem_pages == NULL)
		kmem_panic("kmem: cannot create the kmem_pages arena");
	kmem_metadata = kmem_arena("kmem_metadata", kmem_pages);
	kmem_default = kmem_arena("kmem_default", kmem_pages);
	kmem_oversize = kmem_arena("kmem_oversize", kmem_pages);
	vmem_retain_set(kmem_oversize, KMEM_OVERSIZE_SLACK, KMEM_OVERSIZE_CHUNK,
	    kmem_pages_purge);

	kmem_cache_cache = kmem_cache_create_in(&kmem_cache_cache_storage,
	    "kmem_cache", sizeof (kmem_cache_t), 64, NULL, NULL, NULL, NULL,
	    kmem_metadata, INTERNAL_FLAGS);
	if (kmem_cache_cache == NULL)
		kmem_panic("kmem: cannot create kmem_cache");
	kmem_slab_cache = internal_cache("kmem_slab_cache",
	    sizeof (kmem_slab_t), 8);
	kmem_bufctl_cache = internal_cache("kmem_bufctl_cache",
	    sizeof (kmem_bufctl_t), 8);
	kmem_thread_cache_cache = internal_cache("kmem_thread_cache",
	    sizeof (kmem_thread_cache_t), 64);
	kmem_magtypes_init();
	kmem_debug_logs_init();

	vmem_qcache_create(kmem_default, 8 * page);
}

/*
 * The debug settings of the environment are read first, so that every
 * cache made from then on (kmem_alloc's classes, made on first use) gets
 * them, and they never change after (kmem_debug_options.c); a bad
 * setting is reported once the lock is dropped, and kmem starts without.
 * The scan for leaks at exit is registered then too, outside the lock
 * (atexit() may allocate).
 */
void
kmem_init(void)
{
	char err[256];
	bool debug_ok = true, started = false;
	if (__atomic_load_n(&kmem_ready, __ATOMIC_ACQUIRE))
		return;
	kmem_signals_t signals;
	kmem_signals_block(&signals);
	kmem_mutex_enter(&kmem_init_lock);
	if (!kmem_ready) {
		__atomic_store_n(&kmem_begun, true, __ATOMIC_RELAXED);
		debug_ok = kmem_debug_from_environment(err, sizeof (err));
		bootstrap();
		__atomic_store_n(&kmem_ready, true, __ATOMIC_RELEASE);
		started = true;
	}
	kmem_mutex_exit(&kmem_init_lock);
	kmem_signals_restore(&signals);
	if (!debug_ok)
		kmem_report("%s", err);
	/* With allocation stacks to group them by, leaks are told at exit. */
	if (started && (kmem_debug_config.flags & KMF_AUDIT))
		kmem_leaks_at_exit(true);
}

bool
kmem_initialized(void)
{
	return (__atomic_load_n(&kmem_ready, __ATOMIC_ACQUIRE));
}

bool
kmem_init_begun(void)
{
	return (__atomic_load_n(&kmem_begun, __ATOMIC_RELAXED));
}

static void
page_purge(void *arg, void *start, size_t size)
{
	(void) arg;
	kmem_pages_purge(start, size);
}

/*
 * What kmem_oversize kept goes back (beyond its allowance, or all of it),
 * and the free pages of kmem_pages' spans that are still partly in use
 * leave the resident set: slabs freed one by one leave holes that a
 * span-at-a-time release never sees.
 */
void
kmem_release_idle(bool everything)
{
	if (!__atomic_load_n(&kmem_ready, __ATOMIC_ACQUIRE))
		return;
	if (everything)
		(void) vmem_release_idle(kmem_oversize);
	else
		(void) vmem_decay(kmem_oversize);
	vmem_walk(kmem_pages, VMEM_FREE, page_purge, NULL);
}

vmem_t *
kmem_metadata_arena(void)
{
	return (kmem_metadata);
}

vmem_t *
kmem_default_arena(void)
{
	kmem_init();
	return (kmem_default);
}
