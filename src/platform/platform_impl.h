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

/*
 * Cancellation off, and back as it was: around every call the platform
 * makes that POSIX lets be a cancellation point (a wait, open, read,
 * write, close), since the library is none (posix.c says why).
 */
int kmem_platform_cancel_off(void);
void kmem_platform_cancel_restore(int state);

#endif /* KMEM_PLATFORM_IMPL_H */
