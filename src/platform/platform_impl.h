/*
 * What the files of src/platform share among themselves and nothing above
 * them sees.
 */
#ifndef KMEM_PLATFORM_IMPL_H
#define KMEM_PLATFORM_IMPL_H

#include <stdbool.h>

/* Whether the calling thread holds (or is taking) a library lock. */
bool kmem_platform_locks_held(void);

/* Whether the calling thread is inside the fault handler (posix_fault.c):
 * a signal handler, where nothing may call malloc(). */
bool kmem_platform_in_fault(void);

#endif /* KMEM_PLATFORM_IMPL_H */
