/* The shared library of the symbols test (symbols_lib.c). */
#ifndef SYMBOLS_LIB_H
#define SYMBOLS_LIB_H

#include <stddef.h>

/* size bytes from malloc() (use_malloc) or kmem_alloc(), through a static. */
void *symbols_lib_alloc(size_t size, int use_malloc);

#endif /* SYMBOLS_LIB_H */
