/*
 * malloc's recorder (malloc_trace.c), as malloc.c and the options see it.
 *
 * While kmem_trace_on, malloc.c records each call: a class buffer's
 * malloc() and free() reach the recorder's hooks from kmem's slow paths
 * without a test of their own (kmem_query.h, kmem_malloc_divert()), the
 * other entry points test kmem_trace_on.  A
 * call that records sets kmem_trace_inside around its work, so that the
 * malloc() and free() it makes inside (calloc's malloc, realloc's move)
 * are not recorded again.
 */
#ifndef KMEM_MALLOC_TRACE_H
#define KMEM_MALLOC_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kmem/trace.h>

extern bool kmem_trace_on;
extern __thread bool kmem_trace_inside
    __attribute__((tls_model("initial-exec")));
extern __thread void *kmem_trace_skip
    __attribute__((tls_model("initial-exec")));

/* Is this call one to record: the recorder on, and the call not made
 * from inside a recorded one? */
static inline bool
kmem_trace_recording(void)
{
	return (kmem_trace_on && !kmem_trace_inside);
}

/* An allocation's event: op and fn as in <kmem/trace.h>; a and b are
 * size, nmemb and elsize, or align and size; buf NULL when it failed. */
void kmem_trace_alloc(unsigned op, unsigned fn, size_t a, size_t b,
    const void *buf);
void kmem_trace_realloc(const void *old, size_t size, const void *buf);
void kmem_trace_free(const void *ptr);
/* The calling thread got a buffer through a shared structure (kmem's slow
 * paths, vmem, the guard pool): it may be another thread's free, which
 * its next event must follow (malloc_trace.c). */
void kmem_trace_sync(void);

/*
 * Start recording to path ("%p" becomes the process ID).  0, or -1 with a
 * message in err.  For the options (malloc_options.c); once only.
 */
int kmem_trace_start(const char *path, char *err, size_t errlen);

#endif /* KMEM_MALLOC_TRACE_H */
