/*
 * What the files of src/platform share among themselves and nothing above
 * them sees.
 */
#ifndef KMEM_PLATFORM_IMPL_H
#define KMEM_PLATFORM_IMPL_H

/*
 * Cancellation off, and back as it was: around every call the platform
 * makes that POSIX lets be a cancellation point (a wait, open, read,
 * write, close), since the library is none (posix.c says why).
 */
int kmem_platform_cancel_off(void);
void kmem_platform_cancel_restore(int state);

#endif /* KMEM_PLATFORM_IMPL_H */
