/*
 * A stub platform for the freestanding build of the allocator core: what an
 * OS author writes to drop vmem into a kernel, reduced to the minimum.  It
 * is compiled with -ffreestanding and no system headers, like the core.
 *
 * Single-threaded: locks only track their holder so the core's assertions
 * hold, no thread is ever created or exits, and there is no fork(); "pages"
 * come from a static array by bumping a pointer, and freed pages are not
 * reused; the console is a buffer the test reads.
 */
#include "platform/platform.h"

#include "base/format.h"

#define STUB_PAGE 4096
#define STUB_PAGES 4096

static _Alignas(STUB_PAGE) unsigned char stub_memory[STUB_PAGES * STUB_PAGE];
static size_t stub_next_page;
static uint64_t stub_ticks;

/* A lock's holder: 1 or 0, in the first byte of its opaque storage. */
#define HOLDER(mp) ((mp)->opaque[0])

char stub_console[4096];
size_t stub_console_len;
size_t stub_pages_in_use;

void
kmem_mutex_init(kmem_mutex_t *mp, unsigned rank)
{
	mp->rank = rank;
	HOLDER(mp) = 0;
}

void
kmem_mutex_destroy(kmem_mutex_t *mp)
{
	(void) mp;
}

void
kmem_mutex_enter(kmem_mutex_t *mp)
{
	if (HOLDER(mp) != 0)
		__builtin_trap();       /* one thread: it would deadlock */
	HOLDER(mp) = 1;
}

bool
kmem_mutex_tryenter(kmem_mutex_t *mp)
{
	if (HOLDER(mp) != 0)
		return (false);
	HOLDER(mp) = 1;
	return (true);
}

void
kmem_mutex_exit(kmem_mutex_t *mp)
{
	HOLDER(mp) = 0;
}

bool
kmem_mutex_held(kmem_mutex_t *mp)
{
	return (HOLDER(mp) != 0);
}

void
kmem_mutex_enter_for_fork(kmem_mutex_t *mp)
{
	kmem_mutex_enter(mp);
}

void
kmem_mutex_exit_for_fork(kmem_mutex_t *mp)
{
	kmem_mutex_exit(mp);
}

void
kmem_cv_init(kmem_cv_t *cvp)
{
	(void) cvp;
}

void
kmem_cv_destroy(kmem_cv_t *cvp)
{
	(void) cvp;
}

void
kmem_cv_wait(kmem_cv_t *cvp, kmem_mutex_t *mp)
{
	/* Nobody else can ever wake a single thread. */
	(void) cvp;
	(void) mp;
	__builtin_trap();
}

bool
kmem_cv_timedwait(kmem_cv_t *cvp, kmem_mutex_t *mp, uint64_t timeout_ns)
{
	(void) cvp;
	(void) mp;
	stub_ticks += timeout_ns;
	return (false);
}

void
kmem_cv_broadcast(kmem_cv_t *cvp)
{
	(void) cvp;
}

size_t
kmem_pagesize(void)
{
	return (STUB_PAGE);
}

void *
kmem_pages_alloc(size_t size)
{
	size_t pages = (size + STUB_PAGE - 1) / STUB_PAGE;
	if (pages > STUB_PAGES - stub_next_page)
		return ((void *)0);
	void *p = &stub_memory[stub_next_page * STUB_PAGE];
	stub_next_page += pages;
	stub_pages_in_use += pages;
	return (p);     /* static memory starts zeroed and is never reused */
}

void
kmem_pages_free(void *addr, size_t size)
{
	(void) addr;
	stub_pages_in_use -= (size + STUB_PAGE - 1) / STUB_PAGE;
}

uint64_t
kmem_clock_ns(void)
{
	return (++stub_ticks);
}

uint64_t
kmem_random_u64(void)
{
	return (0x9e3779b97f4a7c15ull);
}

unsigned
kmem_cpu_count(void)
{
	return (1);
}

bool
kmem_thread_create(void (*fn)(void *), void *arg, const char *name)
{
	(void) fn;
	(void) arg;
	(void) name;
	return (false);         /* one thread only */
}

void
kmem_pages_purge(void *addr, size_t size)
{
	(void) addr;
	(void) size;            /* nothing to give back to */
}

unsigned
kmem_thread_count(void)
{
	return (1);
}

bool
kmem_thread_exit_notify(void *arg)
{
	(void) arg;
	return (true);          /* the one thread never exits */
}

/* The stub never fails: nothing to hand a fatal error to. */
void
kmem_fatal_handler_set(void (*handler)(const char *message))
{
	(void) handler;
}

/* No fork(): nothing to run the handlers around. */
void
kmem_fork_register(const kmem_fork_handlers_t *handlers)
{
	(void) handlers;
}

/* One thread, no signals: nothing ever interrupts the library. */
void
kmem_lock_note(int delta)
{
	(void) delta;
}

void
kmem_signals_block(kmem_signals_t *saved)
{
	(void) saved;
}

void
kmem_signals_restore(const kmem_signals_t *saved)
{
	(void) saved;
}

void
kmem_console_write(const char *text, size_t len)
{
	for (size_t i = 0; i < len && stub_console_len + 1 < sizeof (stub_console);
	    i++)
		stub_console[stub_console_len++] = text[i];
}

bool
kmem_thread_stack(uintptr_t *lo, uintptr_t *hi)
{
	(void) lo;
	(void) hi;
	return (false);
}

void
kmem_writable_segments(void (*fn)(void *arg, uintptr_t lo, uintptr_t hi),
    void *arg)
{
	(void) fn;
	(void) arg;
}

bool
kmem_loader_code(uintptr_t *lo, uintptr_t *hi)
{
	(void) lo;
	(void) hi;
	return (false);
}

void
kmem_fd_write(int fd, const char *text, size_t len)
{
	(void) fd;
	kmem_console_write(text, len);
}

bool
kmem_at_exit(void (*fn)(void))
{
	(void) fn;
	return (false);
}

_Noreturn void
kmem_abort(void)
{
	__builtin_trap();
}

/* No environment, stacks, symbols or page protection in this "kernel". */
const char *
kmem_environment(const char *name)
{
	(void) name;
	return (0);
}

unsigned
kmem_backtrace(uintptr_t *pcs, unsigned max, unsigned skip)
{
	(void) pcs;
	(void) max;
	(void) skip;
	return (0);
}

bool
kmem_symbolize(uintptr_t pc, char *buf, size_t len)
{
	kmem_snprintf(buf, len, "0x%zx", (size_t)pc);
	return (false);
}

uint64_t
kmem_thread_id(void)
{
	return (1);
}

bool
kmem_pages_protect(void *addr, size_t size, bool accessible)
{
	(void) addr;
	(void) size;
	(void) accessible;
	return (false);
}

bool
kmem_fault_hook_set(bool (*hook)(uintptr_t addr))
{
	(void) hook;
	return (false);
}
