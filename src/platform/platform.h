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
 * - The platform calls back into the core by name at one moment:
 *   kmem_thread_exiting(arg) when a thread that asked with
 *   kmem_thread_exit_notify() exits.
 * - fork() is the platform's: every layer with locks registers its fork
 *   handlers (kmem_fork_register(), below), and the platform runs them
 *   around every fork(), from before any library lock can be taken, so
 *   that no fork copies a lock its holder's layer does not know is held.
 * - Each thread counts the library locks it holds or is taking (every
 *   kmem_mutex_t by itself, any other lock through kmem_lock_note()), so
 *   that the platform can tell a fork() from a signal handler that
 *   interrupted the library in the forking thread.
 * - A thread that asks for a kmem_mutex_t it already holds -- the library
 *   entered again from a signal handler that interrupted it, or from the
 *   child of a fork() in such a handler -- is reported and stopped
 *   (fatal), never left waiting for itself.
 */
#ifndef KMEM_PLATFORM_H
#define KMEM_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kmem_mutex {
	_Alignas(16) unsigned char opaque[64]; /* the native lock and holder */
	unsigned rank;
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
/* True when the calling thread holds mp. */
bool kmem_mutex_held(kmem_mutex_t *mp);
/*
 * For fork(), which must hold every library lock at once: no rank check
 * and no bookkeeping beyond the owner and the count.
 */
void kmem_mutex_enter_for_fork(kmem_mutex_t *mp);
void kmem_mutex_exit_for_fork(kmem_mutex_t *mp);
/*
 * A library lock that is not a kmem_mutex_t is being taken (+1) or was
 * let go (-1) by the calling thread.
 */
void kmem_lock_note(int delta);

/*
 * The asynchronous signals held off, and let in again, around work done
 * once per process or per thread (the bootstrap, a thread's cache): a
 * handler that entered the library, or forked and exit()ed in the child,
 * would find it half done and wait for itself.  Synchronous signals (a
 * fault) stay open.
 */
typedef struct kmem_signals {
	_Alignas(8) unsigned char opaque[128];
} kmem_signals_t;

void kmem_signals_block(kmem_signals_t *saved);
void kmem_signals_restore(const kmem_signals_t *saved);

void kmem_cv_init(kmem_cv_t *cvp);
void kmem_cv_destroy(kmem_cv_t *cvp);
/* No wait, and no write of kmem_fd_write(), is a cancellation point: a
 * thread cancelled there would unwind with the mutex held. */
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

/*
 * fork() handlers.  A layer whose locks a fork() must not copy while
 * another thread holds them registers one set of handlers per run of
 * ranks it takes (src/base/lock_order.h), with the rank of the first lock
 * prepare takes:
 * - prepare takes the layer's locks, with the _for_fork calls;
 * - parent releases them in the parent, child in the child (where it may
 *   also mend what the threads the child lacks left behind);
 * - child_always runs after child, and in the child of a fork that stood
 *   aside too (below): it forgets the layer's own threads, which no child
 *   has.
 * Any of them may be NULL.  The platform calls the prepare handlers in
 * rank order (equal ranks in the order they were registered), the parent
 * or child handlers in the exact reverse.  Handlers of rank
 * KMEM_FORK_UNLOCKED hold no lock across the fork: their prepare runs
 * first, with nothing held, and may take and release locks and call the
 * C library; the C library's locks its fork() takes after the handlers
 * (glibc's list of streams) are taken next, then the locked ranks.
 *
 * A fork() from a signal handler that interrupted the library in the
 * forking thread (which holds or is taking a library lock) would wait for
 * itself: then no prepare, parent or child handler runs, only the
 * child_always ones.
 *
 * kmem_fork_register() keeps the pointer (the handlers stay in static
 * storage), allocates nothing, ignores a set it has already, and must be
 * called with no library lock held.  It waits for a fork in progress, so
 * a fork never runs half a set.  Each layer registers from a constructor
 * of priority KMEM_FORK_REGISTRATION, when the library is loaded: before
 * any of its code, including its other constructors, can take a lock.  A
 * platform without fork() may ignore the registrations.
 */
typedef struct kmem_fork_handlers {
	unsigned rank;
	void (*prepare)(void);
	void (*parent)(void);
	void (*child)(void);
	void (*child_always)(void);
} kmem_fork_handlers_t;

#define KMEM_FORK_UNLOCKED      0
#define KMEM_FORK_HANDLERS_MAX  16
#define KMEM_FORK_REGISTRATION  __attribute__((constructor(101)))

void kmem_fork_register(const kmem_fork_handlers_t *handlers);

/*
 * For the debugging layer (kmem_debug*.c), which must also build without an
 * operating system: each may do nothing (no environment, no stacks, no
 * symbols, no page protection) and the layer still works, with less to say.
 * - kmem_environment(): the value of an environment variable, or NULL.
 * - kmem_backtrace(): up to max return addresses of the caller's stack,
 *   innermost first, skipping skip frames of the caller's own; 0 when the
 *   stack cannot be had, or when called again from inside itself (the
 *   unwinder may allocate, and so come back through the allocator).
 * - kmem_symbolize(): the frame of return address pc into buf, as a
 *   person reads it: "function+0xoff at file.c:line (object)",
 *   "function+0xoff (object)" or "object+0xoff", as the object allows
 *   (docs/debugging.md); false, with the bare address in buf, when pc is
 *   in no loaded object.  Called only to print a report: it may map
 *   files, never allocates from the heap, and may be called holding any
 *   library lock or from the fault handler (symbolize.c).
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
 * For the sampled guard pages (kmem_guard.c): from now on, a fault on an
 * inaccessible page (SIGSEGV, SIGBUS) first asks hook(addr), with addr the
 * address touched.  hook returns true when it made the access possible,
 * and the instruction runs again; false, and the fault goes where it went
 * before (the handler installed earlier, or the default: the process
 * dies).  hook runs in a signal handler.  False if faults cannot be
 * caught; set once, later calls change nothing.
 */
bool kmem_fault_hook_set(bool (*hook)(uintptr_t addr));

/*
 * For the leak detector (kmem_leaks.c), which reads memory it does not own:
 * - kmem_thread_stack(): the calling thread's stack, [*lo, *hi) (including
 *   its thread-local storage where the system keeps it there); false if
 *   unknown.  May allocate: call it with no library lock held.
 * - kmem_writable_segments(): fn(arg, lo, hi) for every writable segment
 *   (data and bss) of every loaded object; fn must not allocate or take
 *   library locks.
 * - kmem_loader_code(): the dynamic loader's code, [*lo, *hi); false when
 *   the program has none (linked statically) or it cannot be found.  The
 *   loader keeps some of what it allocates where no root reaches: the
 *   TLS vector of every thread whose stack the C library keeps for reuse
 *   is pointed at only from that stack's thread descriptor.
 * - kmem_fd_write(): text to a file descriptor; never allocates.
 * - kmem_at_exit(): call fn once when the process exits normally.
 */
bool kmem_thread_stack(uintptr_t *lo, uintptr_t *hi);
void kmem_writable_segments(void (*fn)(void *arg, uintptr_t lo, uintptr_t hi),
    void *arg);
bool kmem_loader_code(uintptr_t *lo, uintptr_t *hi);
void kmem_fd_write(int fd, const char *text, size_t len);
bool kmem_at_exit(void (*fn)(void));

/*
 * The platform's fatal errors (a failed system call it cannot go on
 * without; with KMEM_ASSERTS, a lock order violation) go to handler, which
 * must not return: the report layer sets it when the library is loaded,
 * so that they reach the report handler as any panic does.  Without one,
 * the platform writes the message to the console and aborts.
 */
void kmem_fatal_handler_set(void (*handler)(const char *message));

/* Write text to the console (standard error); never allocates. */
void kmem_console_write(const char *text, size_t len);
_Noreturn void kmem_abort(void);

#endif /* KMEM_PLATFORM_H */
