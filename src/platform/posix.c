/*
 * The platform interface (platform.h) for POSIX systems: pthread mutexes and
 * condition variables, mmap/munmap pages, CLOCK_MONOTONIC, sysconf.
 *
 * Zero-filled pthread_mutex_t and pthread_cond_t objects are the static
 * initialisers on glibc and musl; tests/platform/platform_test.c checks it, because
 * platform.h promises it to the core.  A kmem_mutex_t holds only a
 * pointer to its pthread mutex and holder, which live in the lock table
 * (lock_table.c: so that a fork writes few pages), installed when the
 * lock is first used.
 *
 * With KMEM_ASSERTS each thread keeps the ranks of the library locks it
 * holds; taking a lock whose rank is not above every rank held is a lock
 * order violation and panics, as does releasing a lock the thread does not
 * hold.  The bookkeeping is thread-local, so it needs no lock of its own.
 * fork() takes every lock at once through the _for_fork variants, which
 * skip it.
 *
 * In every build each thread counts the library locks it holds or is
 * taking (locks_held, for fork() from a signal handler), and every mutex
 * names its holder, so that a thread asking for a lock it holds (the
 * library entered again from a signal handler) is stopped with a report,
 * never left waiting for itself.  A fork holds every lock with the
 * asynchronous signals blocked.
 *
 * Thread exit is noticed through one pthread key whose destructor calls the
 * core.  fork() is bracketed by the handlers the layers register
 * (kmem_fork_register(), platform.h), run from pthread_atfork() hooks that
 * a constructor registers when the library is loaded: before any of its
 * code can take a lock, and before the program's own fork handlers, so
 * that ours run last before the fork and first after it (the program's may
 * allocate).  The registry is a fixed table under one lock, which a
 * registration and a whole fork hold, so a fork sees every set registered
 * before it and no set half; it stands aside as a whole when the forking
 * thread was interrupted inside the library (fork_prepare()).  The
 * library's own threads start with every signal blocked; the live threads
 * are counted from /proc/self/task without allocating.  Free pages are
 * purged with madvise(MADV_DONTNEED).
 *
 * The library is no cancellation point, as POSIX allows malloc() to be
 * none and glibc's is none.  A thread cancelled inside one of its waits
 * would unwind holding a library lock (pthread_cond_wait() takes its mutex
 * back before it acts on the cancel), and one cancelled inside a write
 * under a lock (the statistics tables, a report) likewise; every other
 * thread would then wait for it for ever.  So every call made here that
 * may be a cancellation point -- the condition waits, open, read, write,
 * close -- runs with cancellation off (kmem_platform_cancel_off()), and a
 * pending cancel acts at the thread's next cancellation point outside the
 * library.
 *
 * Stacks come from libunwind's unw_backtrace() when the build found it
 * (KMEM_LIBUNWIND_SONAME: it caches each return address's frame layout,
 * about four times faster), else from glibc's backtrace(); names from the
 * objects' own symbol tables and line tables (symbolize.c).  libunwind is
 * not linked but loaded (dlopen) on the first stack walk, as glibc's
 * backtrace() loads libgcc_s: a process that never walks a stack -- no
 * debugging, no guard pages -- never maps it or the liblzma it needs
 * (about 100 KiB resident, docs/benchmarks.md "Fixed footprint").  When
 * it cannot be loaded, backtrace() serves.  Either unwinder, and the
 * loading, may allocate on the first call: a thread-local flag makes a
 * nested call return no frames instead of recursing.  The leak
 * detector's view of the process (stacks, writable segments) comes from
 * pthread_getattr_np() and dl_iterate_phdr().
 */
#define _GNU_SOURCE     /* dl_iterate_phdr, pthread_getattr_np */
#include "platform/platform.h"
#include "platform/platform_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>


/*
 * A kmem_mutex_t's storage: where its native parts are, a slot of the lock
 * table (lock_table.c says why) or inline_lock when the table was full.
 * NULL until the lock is first used: a lock filled with zero bytes (a
 * global, KMEM_MUTEX_INITIALIZER) or just made takes its place then, the
 * first of racing threads installing it for all.
 */
typedef struct {
	kmem_native_lock_t *where;
	kmem_native_lock_t inline_lock;
} posix_mutex_t;

_Static_assert(sizeof(posix_mutex_t) <= sizeof(((kmem_mutex_t *)0)->opaque),
    "kmem_mutex_t too small for the native lock");
_Static_assert(_Alignof(posix_mutex_t) <= 16, "pthread_mutex_t alignment");
_Static_assert(sizeof(pthread_cond_t) <= sizeof(((kmem_cv_t *)0)->opaque),
    "kmem_cv_t too small for pthread_cond_t");
_Static_assert(_Alignof(pthread_cond_t) <= 16, "pthread_cond_t alignment");

static posix_mutex_t *
posix_mutex(const kmem_mutex_t *mp)
{
	return ((posix_mutex_t *)(void *)mp->opaque);
}

/* The native parts, if the lock was ever used (else it is unheld). */
static kmem_native_lock_t *
native_if_used(const kmem_mutex_t *mp)
{
	return (__atomic_load_n(&posix_mutex(mp)->where, __ATOMIC_ACQUIRE));
}

static __attribute__((noinline)) kmem_native_lock_t *
native_install(posix_mutex_t *pm)
{
	kmem_native_lock_t *mine = kmem_lock_table_take();
	if (mine == NULL)
		mine = &pm->inline_lock;
	kmem_native_lock_t *installed = NULL;
	if (__atomic_compare_exchange_n(&pm->where, &installed, mine, false,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return (mine);
	if (mine != &pm->inline_lock)
		kmem_lock_table_give(mine);
	return (installed);
}

static kmem_native_lock_t *
native(const kmem_mutex_t *mp)
{
	kmem_native_lock_t *where = native_if_used(mp);
	return (where != NULL ? where : native_install(posix_mutex(mp)));
}

#define NATIVE_MUTEX(mp) (&native(mp)->mutex)
#define NATIVE_CV(cvp) ((pthread_cond_t *)(void *)(cvp)->opaque)

/*
 * The platform's own fatal errors: formatted here, with the C library's
 * formatter (on the stack; it allocates nothing for these formats), then
 * handed to the layer above through the hook it set, or, before one is
 * set, written to standard error.
 */
static void (*fatal_handler)(const char *message);

void
kmem_fatal_handler_set(void (*handler)(const char *message))
{
	__atomic_store_n(&fatal_handler, handler, __ATOMIC_RELEASE);
}

static _Noreturn void __attribute__((format(printf, 1, 2)))
posix_fatal(const char *fmt, ...)
{
	char message[256], line[sizeof (message) + 16];
	va_list ap;
	va_start(ap, fmt);
	(void) vsnprintf(message, sizeof (message), fmt, ap);
	va_end(ap);
	void (*handler)(const char *) = __atomic_load_n(&fatal_handler,
	    __ATOMIC_ACQUIRE);
	if (handler != NULL)
		handler(message);
	int n = snprintf(line, sizeof (line), "libkmem: %s\n", message);
	kmem_console_write(line, n < (int)sizeof (line) ? (size_t)n :
	    sizeof (line) - 1);
	abort();
}

static void
posix_check(int error, const char *what)
{
	if (error != 0)
		posix_fatal("%s failed: error %d", what, error);
}

/*
 * The library locks the calling thread holds or is taking.  Counted before
 * a lock is taken and after it is let go, so that a signal arriving in
 * between finds the count too high rather than too low: a fork() from its
 * handler then stands aside (kmem_fork.c), which is right for a lock held
 * and harmless for one not yet taken.  The signal fences keep the compiler
 * from moving the count across the lock calls.
 */
static __thread unsigned locks_held __attribute__((tls_model("initial-exec")));

void
kmem_lock_note(int delta)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	locks_held += (unsigned)delta;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/*
 * Every kmem_mutex_t names its holder (the address of a thread-local byte,
 * which a fork child's thread keeps), so that a thread asking for a lock
 * it holds is stopped with a report instead of waiting for itself forever:
 * that is the library entered again from a signal handler that
 * interrupted it, or from the child of a fork() in such a handler, which
 * never returns to let the lock go.
 */
static __thread char thread_identity
    __attribute__((tls_model("initial-exec")));

static uintptr_t
self(void)
{
	return ((uintptr_t)&thread_identity);
}

static void
check_not_mine(const kmem_mutex_t *mp)
{
	if (kmem_mutex_held((kmem_mutex_t *)mp))
		posix_fatal("a library lock (rank %u) wanted by the thread that "
		    "holds it: the library was entered again from a signal "
		    "handler that interrupted it, or from the child of a "
		    "fork() in such a handler", mp->rank);
}

static void
owner_set(kmem_mutex_t *mp)
{
	__atomic_store_n(&native(mp)->owner, self(), __ATOMIC_RELAXED);
}

static void
owner_clear(kmem_mutex_t *mp)
{
	__atomic_store_n(&native(mp)->owner, 0, __ATOMIC_RELAXED);
}

bool
kmem_mutex_held(kmem_mutex_t *mp)
{
	kmem_native_lock_t *where = native_if_used(mp);
	return (where != NULL &&
	    __atomic_load_n(&where->owner, __ATOMIC_RELAXED) == self());
}

#ifdef KMEM_ASSERTS

#define LOCK_DEPTH_MAX 16

static __thread unsigned held_ranks[LOCK_DEPTH_MAX];
static __thread unsigned held_count;

static void
note_acquired(kmem_mutex_t *mp)
{
	owner_set(mp);
	if (held_count == LOCK_DEPTH_MAX)
		posix_fatal("more than %d library locks held", LOCK_DEPTH_MAX);
	held_ranks[held_count++] = mp->rank;
}

static void
check_order(const kmem_mutex_t *mp)
{
	for (unsigned i = 0; i < held_count; i++) {
		if (held_ranks[i] >= mp->rank)
			posix_fatal("lock order violation: taking a lock of rank "
			    "%u while holding one of rank %u", mp->rank,
			    held_ranks[i]);
	}
}

static void
note_released(kmem_mutex_t *mp)
{
	if (!kmem_mutex_held(mp))
		posix_fatal("releasing a lock of rank %u that this thread does "
		    "not hold", mp->rank);
	owner_clear(mp);
	for (unsigned i = held_count; i-- > 0;) {
		if (held_ranks[i] == mp->rank) {
			held_ranks[i] = held_ranks[--held_count];
			return;
		}
	}
}

#else /* !KMEM_ASSERTS */

#define check_order(mp) ((void)0)
#define note_acquired(mp) owner_set(mp)
#define note_released(mp) owner_clear(mp)

#endif /* KMEM_ASSERTS */

void
kmem_mutex_init(kmem_mutex_t *mp, unsigned rank)
{
	*mp = (kmem_mutex_t)KMEM_MUTEX_INITIALIZER(rank);
}

void
kmem_mutex_destroy(kmem_mutex_t *mp)
{
	posix_mutex_t *pm = posix_mutex(mp);
	if (pm->where == NULL)
		return;
	posix_check(pthread_mutex_destroy(&pm->where->mutex),
	    "pthread_mutex_destroy");
	if (pm->where != &pm->inline_lock)
		kmem_lock_table_give(pm->where);
	pm->where = NULL;
}

void
kmem_mutex_enter(kmem_mutex_t *mp)
{
	check_not_mine(mp);
	check_order(mp);
	kmem_lock_note(1);
	posix_check(pthread_mutex_lock(NATIVE_MUTEX(mp)), "pthread_mutex_lock");
	note_acquired(mp);
}

/* A try cannot deadlock, so it is not checked against the order. */
bool
kmem_mutex_tryenter(kmem_mutex_t *mp)
{
	kmem_lock_note(1);
	int error = pthread_mutex_trylock(NATIVE_MUTEX(mp));
	if (error == EBUSY) {
		kmem_lock_note(-1);
		return (false);
	}
	posix_check(error, "pthread_mutex_trylock");
	note_acquired(mp);
	return (true);
}

void
kmem_mutex_exit(kmem_mutex_t *mp)
{
	note_released(mp);
	posix_check(pthread_mutex_unlock(NATIVE_MUTEX(mp)),
	    "pthread_mutex_unlock");
	kmem_lock_note(-1);
}

void
kmem_mutex_enter_for_fork(kmem_mutex_t *mp)
{
	check_not_mine(mp);
	kmem_lock_note(1);
	posix_check(pthread_mutex_lock(NATIVE_MUTEX(mp)), "pthread_mutex_lock");
	owner_set(mp);
}

void
kmem_mutex_exit_for_fork(kmem_mutex_t *mp)
{
	owner_clear(mp);
	posix_check(pthread_mutex_unlock(NATIVE_MUTEX(mp)),
	    "pthread_mutex_unlock");
	kmem_lock_note(-1);
}

void
kmem_cv_init(kmem_cv_t *cvp)
{
	*cvp = (kmem_cv_t)KMEM_CV_INITIALIZER;
	posix_check(pthread_cond_init(NATIVE_CV(cvp), NULL), "pthread_cond_init");
}

void
kmem_cv_destroy(kmem_cv_t *cvp)
{
	posix_check(pthread_cond_destroy(NATIVE_CV(cvp)),
	    "pthread_cond_destroy");
}

/*
 * A thread waiting on a condition variable does not hold the mutex; it
 * still counts as holding it for fork() from a signal handler (a handler
 * may run while the wait takes the mutex back).
 */
void
kmem_cv_wait(kmem_cv_t *cvp, kmem_mutex_t *mp)
{
	int cancel = kmem_platform_cancel_off();
	note_released(mp);
	posix_check(pthread_cond_wait(NATIVE_CV(cvp), NATIVE_MUTEX(mp)),
	    "pthread_cond_wait");
	note_acquired(mp);
	kmem_platform_cancel_restore(cancel);
}

bool
kmem_cv_timedwait(kmem_cv_t *cvp, kmem_mutex_t *mp, uint64_t timeout_ns)
{
	/* A zero-filled pthread_cond_t measures deadlines on CLOCK_REALTIME. */
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	uint64_t nsec = (uint64_t)deadline.tv_nsec + timeout_ns % 1000000000u;
	deadline.tv_sec += (time_t)(timeout_ns / 1000000000u + nsec / 1000000000u);
	deadline.tv_nsec = (long)(nsec % 1000000000u);

	int cancel = kmem_platform_cancel_off();
	note_released(mp);
	int error = pthread_cond_timedwait(NATIVE_CV(cvp), NATIVE_MUTEX(mp),
	    &deadline);
	note_acquired(mp);
	kmem_platform_cancel_restore(cancel);
	if (error == ETIMEDOUT)
		return (false);
	posix_check(error, "pthread_cond_timedwait");
	return (true);
}

void
kmem_cv_broadcast(kmem_cv_t *cvp)
{
	posix_check(pthread_cond_broadcast(NATIVE_CV(cvp)),
	    "pthread_cond_broadcast");
}

size_t
kmem_pagesize(void)
{
	static size_t pagesize;
	size_t size = __atomic_load_n(&pagesize, __ATOMIC_RELAXED);
	if (size == 0) {
		size = (size_t)sysconf(_SC_PAGESIZE);
		__atomic_store_n(&pagesize, size, __ATOMIC_RELAXED);
	}
	return (size);
}

void *
kmem_pages_alloc(size_t size)
{
	void *addr = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return (addr == MAP_FAILED ? NULL : addr);
}

/*
 * munmap() fails when unmapping the middle of a mapping would need one
 * more mapping than the process may have (vm.max_map_count; glibc's
 * tst-free-errno reaches it on purpose).  Then the pages are only emptied
 * (madvise never splits a mapping): the memory goes back, the addresses
 * stay reserved and unused.  free() keeps errno either way.
 */
void
kmem_pages_free(void *addr, size_t size)
{
	int saved = errno;
	if (munmap(addr, size) != 0 &&
	    madvise(addr, size, MADV_DONTNEED) != 0)
		posix_fatal("munmap(%p, %zu) and madvise failed: errno %d",
		    addr, size, errno);
	errno = saved;
}

/* MADV_DONTNEED: the pages leave the resident set now (MADV_FREE would
 * wait for memory pressure) and read as zero when next touched. */
void
kmem_pages_purge(void *addr, size_t size)
{
	(void) madvise(addr, size, MADV_DONTNEED);
}

uint64_t
kmem_clock_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec);
}

/* Mix x into h (the finaliser of splitmix64). */
static uint64_t
mix64(uint64_t h, uint64_t x)
{
	h ^= x;
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return (h ^ (h >> 31));
}

uint64_t
kmem_random_u64(void)
{
	uint64_t r = 0;
	if (getrandom(&r, sizeof (r), GRND_NONBLOCK) == (ssize_t)sizeof (r))
		return (r);
	/* No random source (an old kernel, a sandbox): what varies. */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	r = mix64(r, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec);
	r = mix64(r, kmem_clock_ns());
	r = mix64(r, (uint64_t)(uintptr_t)&now);
	r = mix64(r, (uint64_t)(uintptr_t)&kmem_random_u64);
	return (mix64(r, (uint64_t)getpid()));
}

unsigned
kmem_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return (n < 1 ? 1u : (unsigned)n);
}

typedef struct thread_start {
	void (*fn)(void *);
	void *arg;
	const char *name;       /* a string literal of the caller's */
} thread_start_t;

static void *
thread_main(void *p)
{
	thread_start_t start = *(thread_start_t *)p;
	kmem_pages_free(p, kmem_pagesize());
	(void) pthread_setname_np(pthread_self(), start.name);
	start.fn(start.arg);
	return (NULL);
}

/*
 * The thread starts with every signal blocked (it inherits the mask in
 * force at pthread_create()): a signal sent to the process must reach one
 * of the program's threads, which may be waiting for it with sigwait(),
 * never run a handler on ours (one that sleeps holding, in the count of
 * locks_held, a library lock).
 */
bool
kmem_thread_create(void (*fn)(void *), void *arg, const char *name)
{
	/* The start record comes from pages: this may run inside malloc. */
	thread_start_t *start = kmem_pages_alloc(kmem_pagesize());
	if (start == NULL)
		return (false);
	*start = (thread_start_t){ fn, arg, name };
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int error = pthread_create(&thread, &attr, thread_main, start);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (error != 0)
		kmem_pages_free(start, kmem_pagesize());
	return (error == 0);
}

/* The state letter of /proc/self/task/<name>/stat ('Z' for a zombie);
 * 'X' (dead) if it is gone already. */
static char
task_state(const char *name)
{
	char path[64], buf[512];
	snprintf(path, sizeof (path), "/proc/self/task/%s/stat", name);
	int cancel = kmem_platform_cancel_off();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof (buf) - 1);
	if (fd >= 0)
		close(fd);
	kmem_platform_cancel_restore(cancel);
	if (n <= 0)
		return ('X');
	buf[n] = '\0';
	/* After the command name in parentheses, which may hold ')'. */
	char *p = strrchr(buf, ')');
	return (p != NULL && p[1] == ' ' ? p[2] : 'X');
}

/*
 * The threads that have not exited: the entries of /proc/self/task that
 * are not zombies (a main thread that called pthread_exit() stays listed,
 * as a zombie, until the process ends).  Read with getdents64 rather than
 * opendir(), which would allocate: this may run in a thread's exit, inside
 * free().
 */
unsigned
kmem_thread_count(void)
{
	int cancel = kmem_platform_cancel_off();
	int dir = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	kmem_platform_cancel_restore(cancel);
	if (dir < 0)
		return (0);
	unsigned count = 0;
	_Alignas(8) char buf[4096];
	long n;
	while ((n = syscall(SYS_getdents64, dir, buf, sizeof (buf))) > 0) {
		for (long off = 0; off < n; ) {
			/* linux_dirent64: ino 8, off 8, reclen 2, type 1, name */
			unsigned short reclen;
			memcpy(&reclen, buf + off + 16, sizeof (reclen));
			const char *name = buf + off + 19;
			if (name[0] != '.') {
				char state = task_state(name);
				count += state != 'Z' && state != 'X';
			}
			off += reclen;
		}
	}
	cancel = kmem_platform_cancel_off();
	close(dir);
	kmem_platform_cancel_restore(cancel);
	return (n < 0 ? 0 : count);
}

/*
 * The key is made once, by the first thread cache or when the library is
 * loaded (platform_init()), whichever comes first: after the load, no
 * thread is ever inside the once, so no fork copies it half done (the
 * child's first thread cache would wait for it: ThreadSanitizer's
 * pthread_once does not start over in a child, as glibc's does).
 */
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static bool exit_key_ok;

static void
exit_key_create(void)
{
	exit_key_ok = pthread_key_create(&exit_key, kmem_thread_exiting) == 0;
}

bool
kmem_thread_exit_notify(void *arg)
{
	pthread_once(&exit_key_once, exit_key_create);
	return (exit_key_ok && pthread_setspecific(exit_key, arg) == 0);
}

/*
 * The calling thread's id, asked of the kernel once (the debug layer names
 * the thread of every transaction); 0 until then, and again in a fork
 * child, whose only thread has a new id.
 */
static __thread uint64_t thread_id;

/*
 * glibc's fork() takes its list of streams' lock after the fork handlers,
 * and holds it across the fork; getline() and friends allocate while they
 * hold a stream's lock, and fflush(NULL) takes the list's lock and then
 * each stream's.  So the hooks take the list's lock before the library's
 * locks, as glibc does for its own malloc (which it locks inside fork(),
 * after the list): the lock is recursive, so fork() takes it again, and
 * glibc resets it in the child (we do too: in a fork from a
 * single-threaded process glibc leaves it alone).  Weak, so that another C
 * library simply has none.
 */
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));
extern void _IO_list_resetlock(void) __attribute__((weak));

static void
fork_libc_enter(void)
{
	if (_IO_list_lock != NULL)
		_IO_list_lock();
}

static void
fork_libc_exit(bool child)
{
	if (_IO_list_lock == NULL)
		return;
	if (child)
		_IO_list_resetlock();
	else
		_IO_list_unlock();
}

/*
 * The registered fork handlers (platform.h), in the order they came;
 * fork_registered says how many, stored last (release), so that a child
 * whose fork stood aside while its one thread was registering reads whole
 * entries.  fork_registry_lock is held by a registration, and by a fork
 * from its prepare to its parent or child, so a fork runs the handlers of
 * the sets registered before it, every one whole.  It counts as a library
 * lock: a fork from a signal handler that interrupted either stands aside.
 */
static pthread_mutex_t fork_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static const kmem_fork_handlers_t *fork_registry[KMEM_FORK_HANDLERS_MAX];
static unsigned fork_registered;

/* The fork in progress: its handlers in rank order, the first
 * fork_unlocked of them of rank KMEM_FORK_UNLOCKED (fork_registry_lock). */
static unsigned char fork_order[KMEM_FORK_HANDLERS_MAX];
static unsigned fork_ordered;
static unsigned fork_unlocked;

/*
 * The synchronous signals stay open: blocked, a fault would kill the
 * process instead of reaching the program's handler.
 */
_Static_assert(sizeof (sigset_t) <= sizeof (kmem_signals_t),
    "kmem_signals_t holds a sigset_t");

void
kmem_signals_block(kmem_signals_t *saved)
{
	static const int synchronous[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE,
	    SIGTRAP, SIGSYS };
	sigset_t asynchronous;
	sigfillset(&asynchronous);
	for (size_t i = 0; i < sizeof (synchronous) / sizeof (*synchronous);
	    i++)
		sigdelset(&asynchronous, synchronous[i]);
	posix_check(pthread_sigmask(SIG_BLOCK, &asynchronous,
	    (sigset_t *)(void *)saved->opaque), "pthread_sigmask");
}

void
kmem_signals_restore(const kmem_signals_t *saved)
{
	posix_check(pthread_sigmask(SIG_SETMASK,
	    (const sigset_t *)(const void *)saved->opaque, NULL),
	    "pthread_sigmask");
}

/*
 * The signal mask of the thread holding a fork, from its prepare to its
 * parent or child hook, in which no handler runs, so one is enough.
 */
static __thread kmem_signals_t fork_saved_signals
    __attribute__((tls_model("initial-exec")));

/* Prepares that stood aside, in this thread, whose fork has not returned. */
static __thread unsigned forks_standing_aside
    __attribute__((tls_model("initial-exec")));

static void
fork_registry_enter(void)
{
	kmem_lock_note(1);
	posix_check(pthread_mutex_lock(&fork_registry_lock),
	    "pthread_mutex_lock");
}

static void
fork_registry_exit(void)
{
	posix_check(pthread_mutex_unlock(&fork_registry_lock),
	    "pthread_mutex_unlock");
	kmem_lock_note(-1);
}

void
kmem_fork_register(const kmem_fork_handlers_t *handlers)
{
	if (locks_held != 0)
		posix_fatal("kmem_fork_register() called holding a library "
		    "lock");
	fork_registry_enter();
	unsigned n = fork_registered;
	bool known = false;
	for (unsigned i = 0; i < n; i++)
		known = known || fork_registry[i] == handlers;
	if (!known) {
		if (n == KMEM_FORK_HANDLERS_MAX)
			posix_fatal("more fork handlers than "
			    "KMEM_FORK_HANDLERS_MAX");
		fork_registry[n] = handlers;
		__atomic_store_n(&fork_registered, n + 1, __ATOMIC_RELEASE);
	}
	fork_registry_exit();
}

/* The registered handlers' indices in order of rank, stably; how many. */
static unsigned
fork_rank_order(unsigned char *order)
{
	unsigned n = __atomic_load_n(&fork_registered, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++) {
		unsigned j = i;
		for (; j > 0 && fork_registry[order[j - 1]]->rank >
		    fork_registry[i]->rank; j--)
			order[j] = order[j - 1];
		order[j] = (unsigned char)i;
	}
	return (n);
}

static const kmem_fork_handlers_t *
fork_handlers(unsigned i)
{
	return (fork_registry[fork_order[i]]);
}

/*
 * Before a fork: the unlocked ranks' prepares, the C library's locks, and
 * the locked ranks' prepares, in rank order.
 *
 * fork() from a signal handler.  From the first prepare to the last parent
 * or child hook the forking thread holds every library lock, so a handler
 * that ran there and forked would copy them held into a child that never
 * returns to let them go: a child that exit()s from the handler (its
 * atexit handlers allocate) would wait forever.  So the hold runs with
 * the asynchronous signals blocked (kmem_signals_block()): one arriving
 * then is delivered when the parent hook ends, and the child, whose
 * pending signals are cleared, starts with the mask the program had.
 *
 * A handler may still interrupt the library outside a fork, in the
 * forking thread, which then holds (or is taking) a library lock: prepare
 * would wait for itself, or take locks out of order.  Then the hooks stand
 * aside and take nothing: the operation the signal interrupted finishes in
 * the parent and in the child alike, where its thread is the one that goes
 * on, so both see whole state.  (A child that does not return from the
 * handler keeps that lock; in a process with other threads, one of theirs
 * may be held in the child: a fork from a handler can promise no more
 * there, as glibc's own malloc promises no more.)  A handler may fork while
 * an interrupted fork runs the program's hooks, before ours or after, so
 * each thread counts the prepares it let pass, and the parent or child
 * hook after each one lets itself pass too.
 */
static void
fork_prepare(void)
{
	if (locks_held != 0) {
		forks_standing_aside++;
		return;
	}
	kmem_signals_block(&fork_saved_signals);
	fork_registry_enter();
	fork_ordered = fork_rank_order(fork_order);
	unsigned i = 0;
	for (; i < fork_ordered &&
	    fork_handlers(i)->rank == KMEM_FORK_UNLOCKED; i++) {
		if (fork_handlers(i)->prepare != NULL)
			fork_handlers(i)->prepare();
	}
	fork_unlocked = i;
	fork_libc_enter();
	for (; i < fork_ordered; i++) {
		if (fork_handlers(i)->prepare != NULL)
			fork_handlers(i)->prepare();
	}
}

static void
fork_release_one(const kmem_fork_handlers_t *h, bool child)
{
	void (*release)(void) = child ? h->child : h->parent;
	if (release != NULL)
		release();
	if (child && h->child_always != NULL)
		h->child_always();
}

/* What prepare did, undone in the exact reverse order. */
static void
fork_release(bool child)
{
	for (unsigned i = fork_ordered; i-- > fork_unlocked;)
		fork_release_one(fork_handlers(i), child);
	fork_libc_exit(child);
	for (unsigned i = fork_unlocked; i-- > 0;)
		fork_release_one(fork_handlers(i), child);
	fork_registry_exit();
}

/* Did the prepare of this fork stand aside?  Then so does its other half. */
static bool
fork_stood_aside(void)
{
	if (forks_standing_aside == 0)
		return (false);
	forks_standing_aside--;
	return (true);
}

static void
fork_parent(void)
{
	if (!fork_stood_aside()) {
		fork_release(false);
		kmem_signals_restore(&fork_saved_signals);
	}
}

/* In a child whose fork stood aside: only the child_always handlers. */
static void
fork_child_aside(void)
{
	unsigned char order[KMEM_FORK_HANDLERS_MAX];
	for (unsigned i = fork_rank_order(order); i-- > 0;) {
		const kmem_fork_handlers_t *h = fork_registry[order[i]];
		if (h->child_always != NULL)
			h->child_always();
	}
}

static void
fork_child(void)
{
	thread_id = 0;
	if (fork_stood_aside()) {
		fork_child_aside();
	} else {
		fork_release(true);
		kmem_signals_restore(&fork_saved_signals);
	}
}

/*
 * Registered first among the library's constructors (the priority of the
 * layers' registrations, platform.h): before any of its code can take a
 * lock, and before the program's own fork handlers, so that ours run last
 * before the fork and first after it (the program's may allocate).
 */
KMEM_FORK_REGISTRATION static void
platform_init(void)
{
	posix_check(pthread_atfork(fork_prepare, fork_parent, fork_child),
	    "pthread_atfork");
	pthread_once(&exit_key_once, exit_key_create);
}

/*
 * pthread_getattr_np() holds the thread's lock while it allocates (the
 * main thread's bounds come from /proc/self/maps), and that allocation may
 * make this thread's cache, which asks for the stack again: the nested
 * call says "unknown" rather than wait for the lock its caller holds.
 * (volatile: the compiler would see that nothing it knows of reads the
 * flag during the call, and drop the store; the same for kmem_backtrace.)
 */
bool
kmem_thread_stack(uintptr_t *lo, uintptr_t *hi)
{
	static __thread volatile bool asking
	    __attribute__((tls_model("initial-exec")));
	pthread_attr_t attr;
	if (asking)
		return (false);
	asking = true;
	bool ok = pthread_getattr_np(pthread_self(), &attr) == 0;
	asking = false;
	if (!ok)
		return (false);
	void *addr;
	size_t size;
	ok = pthread_attr_getstack(&attr, &addr, &size) == 0;
	pthread_attr_destroy(&attr);
	if (ok) {
		*lo = (uintptr_t)addr;
		*hi = (uintptr_t)addr + size;
	}
	return (ok);
}

typedef struct segments_walk {
	void (*fn)(void *arg, uintptr_t lo, uintptr_t hi);
	void *arg;
} segments_walk_t;

static int
segments_of_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void) size;
	segments_walk_t *walk = data;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		walk->fn(walk->arg, lo, lo + ph->p_memsz);
	}
	return (0);
}

void
kmem_writable_segments(void (*fn)(void *arg, uintptr_t lo, uintptr_t hi),
    void *arg)
{
	segments_walk_t walk = { fn, arg };
	dl_iterate_phdr(segments_of_object, &walk);
}

typedef struct code_range {
	uintptr_t base;         /* the object's load address */
	uintptr_t lo;
	uintptr_t hi;
} code_range_t;

static int
code_of_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void) size;
	code_range_t *code = data;
	if (info->dlpi_addr != code->base)
		return (0);
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (code->hi == 0 || lo < code->lo)
			code->lo = lo;
		if (lo + ph->p_memsz > code->hi)
			code->hi = lo + ph->p_memsz;
	}
	return (1);
}

bool
kmem_loader_code(uintptr_t *lo, uintptr_t *hi)
{
	/* The kernel tells a dynamically linked program where its
	 * interpreter, the dynamic loader, was loaded. */
	code_range_t code = { .base = (uintptr_t)getauxval(AT_BASE) };
	if (code.base == 0 || dl_iterate_phdr(code_of_object, &code) == 0 ||
	    code.hi == 0)
		return (false);
	*lo = code.lo;
	*hi = code.hi;
	return (true);
}

void
kmem_fd_write(int fd, const char *text, size_t len)
{
	int cancel = kmem_platform_cancel_off();
	while (len > 0) {
		ssize_t n = write(fd, text, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		text += n;
		len -= (size_t)n;
	}
	kmem_platform_cancel_restore(cancel);
}

int
kmem_platform_cancel_off(void)
{
	int state = PTHREAD_CANCEL_ENABLE;
	(void) pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
	return (state);
}

void
kmem_platform_cancel_restore(int state)
{
	(void) pthread_setcancelstate(state, NULL);
}

bool
kmem_at_exit(void (*fn)(void))
{
	return (atexit(fn) == 0);
}

void
kmem_console_write(const char *text, size_t len)
{
	kmem_fd_write(STDERR_FILENO, text, len);
}

_Noreturn void
kmem_abort(void)
{
	abort();
}

const char *
kmem_environment(const char *name)
{
	return (getenv(name));
}

#define BACKTRACE_MAX 128
#define LIBRARY_FRAMES_MAX 16   /* the most a stack can spend inside us */

/*
 * The text of the shared object this file is in, when it is a library of
 * its own (libkmem.so, libkmem_malloc.so): its frames at the top of a stack
 * are the allocator's, not the program's, and are left out.  Linked into
 * the program itself, nothing is left out.
 */
static uintptr_t library_text_lo, library_text_hi;

static int
find_library_text(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void) size;
	uintptr_t self = (uintptr_t)arg;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) &&
		    self >= lo && self < lo + ph->p_memsz) {
			if (info->dlpi_name != NULL && info->dlpi_name[0] != '\0') {
				library_text_lo = lo;
				library_text_hi = lo + ph->p_memsz;
			}
			return (1);
		}
	}
	return (0);
}

/* The unwinder: unw_backtrace() or backtrace(), whose prototype it has. */
typedef int unwinder_t(void **frames, int n);
static unwinder_t *unwinder = backtrace;

/* Before the first stack walk: what to leave out of stacks, and the
 * unwinder (see the top of this file). */
static void
backtrace_init(void)
{
	dl_iterate_phdr(find_library_text, (void *)(uintptr_t)kmem_backtrace);
#ifdef KMEM_LIBUNWIND_SONAME
	void *handle = dlopen(KMEM_LIBUNWIND_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (handle != NULL) {
		unwinder_t *fn = (unwinder_t *)dlsym(handle, "unw_backtrace");
		if (fn != NULL)
			unwinder = fn;
	}
#endif
}

unsigned
kmem_backtrace(uintptr_t *pcs, unsigned max, unsigned skip)
{
	static __thread volatile bool unwinding
	    __attribute__((tls_model("initial-exec")));
	static pthread_once_t init_once = PTHREAD_ONCE_INIT;
	void *frames[BACKTRACE_MAX];
	if (unwinding || max == 0)
		return (0);
	unwinding = true;
	pthread_once(&init_once, backtrace_init);
	unsigned want = max + skip + 1 + LIBRARY_FRAMES_MAX;
	int n = unwinder(frames, (int)(want < BACKTRACE_MAX ? want :
	    BACKTRACE_MAX));
	unwinding = false;
	int i = (int)skip + 1;
	while (i < n && (uintptr_t)frames[i] >= library_text_lo &&
	    (uintptr_t)frames[i] < library_text_hi)
		i++;
	unsigned got = 0;
	for (; i < n && got < max; i++)
		pcs[got++] = (uintptr_t)frames[i];
	return (got);
}

uint64_t
kmem_thread_id(void)
{
	if (thread_id == 0)
		thread_id = (uint64_t)syscall(SYS_gettid);
	return (thread_id);
}

bool
kmem_pages_protect(void *addr, size_t size, bool accessible)
{
	return (mprotect(addr, size, accessible ? PROT_READ | PROT_WRITE :
	    PROT_NONE) == 0);
}
