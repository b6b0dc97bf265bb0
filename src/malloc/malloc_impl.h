/*
 * Between the files of src/malloc/: what the options (malloc_options.c)
 * set in the malloc family (malloc.c), and what they share with the
 * recorder (malloc_trace.c).  Included only in this folder.
 */
#ifndef KMEM_MALLOC_IMPL_H
#define KMEM_MALLOC_IMPL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Guard about one malloc() in rate from now on, on kmem's guard pages
 * (0: none); the calling thread draws its next sample at once.  False,
 * nothing changed, when the guard pool cannot be had.
 */
bool kmem_malloc_guard(unsigned rate);

/*
 * pattern with each "%p" replaced by the process ID, into out (size
 * bytes); false if it does not fit.  For the stats file and the trace.
 */
bool kmem_malloc_path_expand(const char *pattern, char *out, size_t size);

#endif /* KMEM_MALLOC_IMPL_H */
