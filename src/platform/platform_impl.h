/*
 * What the files of src/platform share among themselves and nothing above
 * them sees.
 */
#ifndef KMEM_PLATFORM_IMPL_H
#define KMEM_PLATFORM_IMPL_H

#include <pthread.h>
#include <stdint.h>

/*
 * Cancellation off, and back as it was: around every call the platform
 * makes that POSIX lets be a cancellation point (a wait, open, read,
 * write, close), since the library is none (posix.c says why).
 */
int kmem_platform_cancel_off(void);
void kmem_platform_cancel_restore(int state);

/*
 * A kmem_mutex_t's native parts: in a slot of the lock table
 * (lock_table.c, which says why) or, for a lock never made or made when
 * the table was full, inline in the kmem_mutex_t (posix.c).
 */
typedef struct kmem_native_lock {
	pthread_mutex_t mutex;
	uintptr_t owner;        /* the holding thread, or 0 */
} kmem_native_lock_t;

/* A zero-filled slot, or NULL when the table is full; and back. */
kmem_native_lock_t *kmem_lock_table_take(void);
void kmem_lock_table_give(kmem_native_lock_t *lock);

#endif /* KMEM_PLATFORM_IMPL_H */
