/*
 * Between the files of src/malloc/: what the options (malloc_options.c)
 * set in the malloc family (malloc.c).  Included only in this folder.
 */
#ifndef KMEM_MALLOC_IMPL_H
#define KMEM_MALLOC_IMPL_H

#include <stdbool.h>

/*
 * Guard about one malloc() in rate from now on, on kmem's guard pages
 * (0: none); the calling thread draws its next sample at once.  False,
 * nothing changed, when the guard pool cannot be had.
 */
bool kmem_malloc_guard(unsigned rate);

#endif /* KMEM_MALLOC_IMPL_H */
