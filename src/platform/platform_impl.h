/*
 * What the files of src/platform share among themselves and nothing above
 * them sees.
 */
#ifndef KMEM_PLATFORM_IMPL_H
#define KMEM_PLATFORM_IMPL_H

#include <stdbool.h>

/* Whether the calling thread holds (or is taking) a library lock. */
bool kmem_platform_locks_held(void);

#endif /* KMEM_PLATFORM_IMPL_H */
