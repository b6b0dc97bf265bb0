/*
 * umem: the API of illumos's libumem -- umem_alloc(3MALLOC) and
 * umem_cache_create(3MALLOC) -- on top of libkmem's kmem layer, so that a
 * program written for libumem compiles and links unchanged.  Programs that
 * say #include <umem.h> get this header through include/kmem/compat,
 * whose umem.h includes it (pkg-config libkmem-umem).  See docs/umem.md.
 *
 * The names and values are illumos's.  Two things are wider than there:
 * umem_cache_create() takes a const name (so C++ may pass a string
 * literal), and a cache may take its memory from any vmem arena (source),
 * not only from NULL, the default.
 *
 * This header must not include <kmem/kmem.h>: programs such as OpenZFS's
 * user-space code define kmem_alloc(), KM_SLEEP and kmem_cache_t
 * themselves, on top of umem.
 */
#ifndef KMEM_UMEM_H
#define KMEM_UMEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>     /* illumos's umem.h includes it; programs rely on it */

#include <kmem/common.h>
#include <kmem/vmem.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Allocation flags. */
#define UMEM_DEFAULT    0x0000  /* may fail: NULL when out of memory */
#define UMEM_NOFAIL     0x0100  /* never NULL: the nofail callback decides */
#define UMEM_FLAGS      0xffff  /* every flag a caller may set */

KMEM_API void *umem_alloc(size_t size, int flags);
KMEM_API void *umem_zalloc(size_t size, int flags);
KMEM_API void umem_free(void *buf, size_t size);

/*
 * What to do when a UMEM_NOFAIL allocation fails: the callback returns
 * UMEM_CALLBACK_RETRY (try again) or UMEM_CALLBACK_EXIT(status) (exit the
 * process with that status).  No callback means UMEM_CALLBACK_EXIT(255).
 */
typedef int umem_nofail_callback_t(void);
#define UMEM_CALLBACK_RETRY             0
#define UMEM_CALLBACK_EXIT(status)      (0x100 | ((status) & 0xFF))

KMEM_API void umem_nofail_callback(umem_nofail_callback_t *callback);

/* Cache creation flags. */
#define UMC_NOTOUCH     0x00010000  /* never write into free buffers */
#define UMC_NODEBUG     0x00020000  /* no debugging for this cache */
#define UMC_NOMAGAZINE  0x00040000  /* no per-thread magazines */
#define UMC_NOHASH      0x00080000  /* keep slab data inside the slab */

struct umem_cache;              /* opaque to umem clients */
typedef struct umem_cache umem_cache_t;

typedef int umem_constructor_t(void *buf, void *arg, int flags);
typedef void umem_destructor_t(void *buf, void *arg);
typedef void umem_reclaim_t(void *arg);

/*
 * NULL with errno set on failure: EINVAL for a NULL name, a bufsize of 0,
 * an align that is not a power of two or exceeds the arena's quantum (the
 * page size for the default arena), unknown cflags, or UMC_NOHASH with
 * UMC_NOTOUCH; ENOMEM for a bufsize too large to lay out; EAGAIN when the
 * cache itself cannot be allocated.
 */
KMEM_API umem_cache_t *umem_cache_create(const char *debug_name,
    size_t bufsize, size_t align, umem_constructor_t *constructor,
    umem_destructor_t *destructor, umem_reclaim_t *reclaim,
    void *callback_data, vmem_t *source, int cflags);
KMEM_API void umem_cache_destroy(umem_cache_t *cache);
KMEM_API void *umem_cache_alloc(umem_cache_t *cache, int flags);
KMEM_API void umem_cache_free(umem_cache_t *cache, void *buf);

/*
 * Move callbacks: kmem_cache_set_move() for umem caches (include/kmem/
 * kmem.h has the contract; docs/umem.md).  illumos's libumem has none, so
 * the names are kmem's with umem's prefix, and the answers have kmem's
 * values.  umem_cache_set_move() must come before the cache's first
 * allocation; umem_cache_move_now() consolidates the cache now and
 * returns the bytes of slabs it gave back.
 */
typedef enum umem_cbrc {
	UMEM_CBRC_YES,
	UMEM_CBRC_NO,
	UMEM_CBRC_LATER,
	UMEM_CBRC_DONT_NEED,
	UMEM_CBRC_DONT_KNOW
} umem_cbrc_t;

typedef umem_cbrc_t umem_move_callback_t(void *old, void *newbuf,
    size_t size, void *arg);

KMEM_API void umem_cache_set_move(umem_cache_t *cache,
    umem_move_callback_t *move);
KMEM_API size_t umem_cache_move_now(umem_cache_t *cache);

/* Run every cache's reclaim callback and give back unused memory. */
KMEM_API void umem_reap(void);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_UMEM_H */
