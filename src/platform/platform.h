/*
 * The platform interface: everything the allocator core needs from the
 * operating system, and nothing more.  The core (vmem, and later kmem)
 * includes only this header and the compiler's freestanding headers, so an
 * OS author drops the core into a kernel by implementing these functions;
 * tests/freestanding builds the core with -ffreestanding against a stub.
 *
 * posix.c implements it for POSIX/Linux with pthreads and mmap.
 *
 * Contracts an implementation must keep:
 * - A kmem_mutex_t or kmem_cv_t filled with zero bytes is a valid, unlocked
 *   mutex / idle condition variable, so that globals need no run-time
 *   initialisation (KMEM_MUTEX_INITIALIZER).  The storage is opaque and large
 *   enough for the platform's native objects.
 * - Mutexes carry a rank (src/base/lock_order.h).  With KMEM_ASSERTS defined the
 *   implementation checks that a thread takes locks in strictly increasing
 *   rank and that kmem_mutex_held() is true only for the owner.
 * - kmem_pages_alloc() returns zero-filled memory aligned to kmem_pagesize(),
 *   or NULL; it never calls back into the allocator.
 * - Addresses of memory the allocator manages are below 2^KMEM_VA_BITS
 *   (kmem's page map covers that much).
 * - The platform calls back into the core at three moments, through
 *   functions the core defines: kmem_thread_exiting(arg) when a thread that
 *   asked with kmem_thread_exit_notify() exits, and kmem_fork_prepare(),
 *   kmem_fork_parent(), kmem_fork_child() around every fork(), from before
 *   the core's first lock can be taken (so no fork can copy a lock the
 *   hooks do not know is held).
 * - Each thread counts the library locks it holds or is taking (every
 *   kmem_mutex_t by itself, any other lock through kmem_lock_note()), so
 *   that kmem_locks_held() can tell a fork() from a signal handler that
 *   interrupted the library in the forking thread.
 */
#ifndef KMEM_PLATFORM_H
#define KMEM_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kmem_mutex {
	_Alignas(16) unsigned char opaque[64];
	unsigned rank;
	uintptr_t owner;  /* the holding thread; kept only with KMEM_ASSERTS */
} kmem_mutex_t;

typedef struct kmem_cv {
	_Alignas(16) unsigned char opaque[64];
} kmem_cv_t;

#define KMEM_MUTEX_INITIALIZER(r) { .rank = (r) }
#define KMEM_CV_INITIALIZER { { 0 } }

void kmem_mutex_init(kmem_mutex_t *mp, unsigned rank);
void kmem_mutex_destroy(kmem_mutex_t *mp);
void kmem_mutex_enter(kmem_mutex_t *mp);
bool kmem_mutex_tryenter(kmem_mutex_t *mp);
void kmem_mutex_exit(kmem_mutex_t *mp);
/* True when the calling thread holds mp; only meaningful with KMEM_ASSERTS. */
bool kmem_mutex_held(kmem_mutex_t *mp);
/*
 * For fork(), which must hold every library lock at once: no rank check
 * and no bookkeeping beyond the owner and the count.
 */
void kmem_mutex_enter_for_fork(kmem_mutex_t *mp);
void kmem_mutex_exit_for_fork(kmem_mutex_t *mp);
/*
 * A library lock that is not a kmem_mutex_t is being taken (+1) or was
 * let go (-1) by the calling thread; does the calling thread hold (or is
 * it taking) any library lock?
 */
void kmem_lock_note(int delta);
bool kmem_locks_held(void);

void kmem_cv_init(kmem_cv_t *cvp);
void kmem_cv_destroy(kmem_cv_t *cvp);
void kmem_cv_wait(kmem_cv_t *cvp, kmem_mutex_t *mp);
/* Returns false when timeout_ns passed without a wakeup. */
bool kmem_cv_timedwait(kmem_cv_t *cvp, kmem_mutex_t *mp, uint64_t timeout_ns);
void kmem_cv_broadcast(kmem_cv_t *cvp);

size_t kmem_pagesize(void);
void *kmem_pages_alloc(size_t size);
void kmem_pages_free(void *addr, size_t size);
/* The contents of these pages (from kmem_pages_alloc(), still mapped) are
 * not needed: the platform may take the memory back.  Touched again, they
 * hold zeros or what they held; a platform may do nothing. */
void kmem_pages_purge(void *addr, size_t size);

#define KMEM_VA_BITS 47

uint64_t kmem_clock_ns(void);       /* monotonic */
/*
 * 64 bits another process cannot guess (the free mark's key, kmem_cache.c):
 * from the system's random source, else from whatever varies (clock,
 * addresses that address space randomisation moves).  Called once.
 */
uint64_t kmem_random_u64(void);
unsigned kmem_cpu_count(void);      /* online CPUs, at least 1 */

/* Start a detached thread named name (at most 15 characters, as ps and
 * debuggers show it) running fn(arg), with every signal blocked (signals
 * are the program's); false if it cannot. */
bool kmem_thread_create(void (*fn)(void *), void *arg, const char *name);
/* How many of the process's threads have not exited, or 0 if that
 * cannot be known. */
unsigned kmem_thread_count(void);
/*
 * Call kmem_thread_exiting(arg) when the calling thread exits (once per
 * call; call again to be notified again).  False if it cannot.
 */
bool kmem_thread_exit_notify(void *arg);
void kmem_thread_exiting(void *arg);            /* defined by the core */
void kmem_fork_prepare(void);                   /* defined by the core */
/*
 * Locks of the C library's that the fork hooks take before their own
 * (enter) and release after (exit, in the parent or the child): a C
 * library whose fork() takes a lock of its own after the fork handlers
 * (glibc's stdio list lock) would otherwise wait for it while holding ours,
 * for a thread that holds it and waits on a stream another thread holds
 * while it waits for us.
 */
void kmem_fork_libc_enter(void);
void kmem_fork_libc_exit(bool child);
void kmem_fork_parent(void);                    /* defined by the core */
void kmem_fork_child(void);                     /* defined by the core */

/*
 * For the debugging layer (kmem_debug*.c), which must also build without an
 * operating system: each may do nothing (no environment, no stacks, no
 * symbols, no page protection) and the layer still works, with less to say.
 * - kmem_environment(): the value of an environment variable, or NULL.
 * - kmem_backtrace(): up to max return addresses of the caller's stack,
 *   innermost first, skipping skip frames of the caller's own; 0 when the
 *   stack cannot be had, or when called again from inside itself (the
 *   unwinder may allocate, and so come back through the allocator).
 * - kmem_symbolize(): "function+0xoff (object)" for pc into buf; false,
 *   with the bare address in buf, when pc names nothing known.
 * - kmem_thread_id(): a number naming the calling thread.
 * - kmem_pages_protect(): make pages inaccessible (false) or readable and
 *   writable again (true); false if it cannot.
 */
const char *kmem_environment(const char *name);
unsigned kmem_backtrace(uintptr_t *pcs, unsigned max, unsigned skip);
bool kmem_symbolize(uintptr_t pc, char *buf, size_t len);
uint64_t kmem_thread_id(void);
bool kmem_pages_protect(void *addr, size_t size, bool accessible);

/*
 * For the leak detector (kmem_leaks.c), which reads memory it does not own:
 * - kmem_thread_stack(): the calling thread's stack, [*lo, *hi) (including
 *   its thread-local storage where the system keeps it there); false if
 *   unknown.  May allocate: call it with no library lock held.
 * - kmem_writable_segments(): fn(arg, lo, hi) for every writable segment
 *   (data and bss) of every loaded object; fn must not allocate or take
 *   library locks.
 * - kmem_fd_write(): text to a file descriptor; never allocates.
 * - kmem_at_exit(): call fn once when the process exits normally.
 */
bool kmem_thread_stack(uintptr_t *lo, uintptr_t *hi);
void kmem_writable_segments(void (*fn)(void *arg, uintptr_t lo, uintptr_t hi),
    void *arg);
void kmem_fd_write(int fd, const char *text, size_t len);
bool kmem_at_exit(void (*fn)(void));

/* Write text to the console (standard error); never allocates. */
void kmem_console_write(const char *text, size_t len);
_Noreturn void kmem_abort(void);

#endif /* KMEM_PLATFORM_H */
