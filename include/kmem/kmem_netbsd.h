/*
 * What NetBSD's kmem(9) has beyond kmem_alloc(), kmem_zalloc() and
 * kmem_free() (<kmem/kmem.h>; this header repeats them, KM_SLEEP and
 * KM_NOSLEEP): the interrupt-context variants, string helpers and
 * temporary buffers, with NetBSD's semantics.  See docs/netbsd.md.
 *
 * Strings come from kmem_alloc() with exactly strlen + 1 bytes, so
 * kmem_strfree() can give them back with kmem_free(str, strlen(str) + 1):
 * a string shortened in place must be freed with kmem_free() and its
 * allocated size instead.
 */
#ifndef KMEM_KMEM_NETBSD_H
#define KMEM_KMEM_NETBSD_H

#include <stddef.h>

#include <kmem/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * kmem(9)'s allocation functions and flags, as <kmem/kmem.h> declares
 * them, repeated so that this header stands alone and serves C++ too.
 */
#ifndef KM_SLEEP
#define KM_SLEEP        0x0000  /* wait for memory: never returns NULL */
#define KM_NOSLEEP      0x0001  /* return NULL rather than wait */
#endif
KMEM_API void *kmem_alloc(size_t size, int kmflag);
KMEM_API void *kmem_zalloc(size_t size, int kmflag);
KMEM_API void kmem_free(void *buf, size_t size);

typedef int km_flag_t;

/* There are no interrupts in a process: these are kmem_alloc() & co. */
KMEM_API void *kmem_intr_alloc(size_t size, km_flag_t kmflags);
KMEM_API void *kmem_intr_zalloc(size_t size, km_flag_t kmflags);
KMEM_API void kmem_intr_free(void *buf, size_t size);

/* printf into a new string (KM_SLEEP); free it with kmem_strfree(). */
KMEM_API char *kmem_asprintf(const char *fmt, ...) KMEM_PRINTFLIKE(1, 2);
/* A copy of str; *lenp (when lenp is not NULL) gets its size, strlen + 1. */
KMEM_API char *kmem_strdupsize(const char *str, size_t *lenp,
    km_flag_t kmflags);
#define kmem_strdup(str, kmflags)       kmem_strdupsize((str), NULL, (kmflags))
/* A copy of at most maxlen (> 0) characters of str, NUL-terminated. */
KMEM_API char *kmem_strndup(const char *str, size_t maxlen, km_flag_t kmflags);
/* Free a string from the functions above; NULL is ignored. */
KMEM_API void kmem_strfree(char *str);

/*
 * A buffer of size bytes: stackbuf itself when size <= stackbufsize, else
 * one from kmem_alloc().  kmem_tmpbuf_free() frees it unless it is
 * stackbuf.
 */
KMEM_API void *kmem_tmpbuf_alloc(size_t size, void *stackbuf,
    size_t stackbufsize, km_flag_t kmflags);
KMEM_API void kmem_tmpbuf_free(void *buf, size_t size, void *stackbuf);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_KMEM_NETBSD_H */
