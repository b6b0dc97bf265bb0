/*
 * The report handler: where the library's complaints about bad input go.
 *
 * The handler and its argument change together, so they sit behind a tiny
 * spin lock (an atomic flag: this must work before any other library state
 * exists and inside a kernel).  A report copies the pair under the lock and
 * calls the handler outside it.  The asynchronous signals are held off
 * while the flag is held: a flag cannot tell its holder from a waiter, so
 * a signal handler that reported, or set the handler, while its thread held
 * the flag would spin for ever (tests/base/report_signal_test.c).  Messages are formatted on the stack with
 * the core's own formatter and never allocate; the debugging layer's have
 * several lines (kmem_debug.c).  The default handler aborts on an error,
 * except on a heap error when the debug option "noabort" is set.
 */
#include "report.h"

#include <stdarg.h>
#include <stdatomic.h>

#include "format.h"
#include "lock_order.h"
#include "platform/platform.h"

#define REPORT_MAX 6144

static atomic_flag handler_lock = ATOMIC_FLAG_INIT;
static kmem_signals_t holder_signals;   /* the holder's, to restore */
static kmem_report_handler_t *handler;
static void *handler_arg;

/* Counted as a library lock, for fork() from a signal handler (platform.h). */
static void
lock_handler(void)
{
	kmem_signals_t signals;
	kmem_signals_block(&signals);
	kmem_lock_note(1);
	while (atomic_flag_test_and_set_explicit(&handler_lock,
	    memory_order_acquire))
		continue;
	holder_signals = signals;
}

static void
unlock_handler(void)
{
	kmem_signals_t signals = holder_signals;
	atomic_flag_clear_explicit(&handler_lock, memory_order_release);
	kmem_lock_note(-1);
	kmem_signals_restore(&signals);
}

/* The platform's fatal errors (platform.h) are panics like ours. */
static _Noreturn void
platform_fatal(const char *message)
{
	kmem_panic("%s", message);
}

/*
 * fork() must not leave the handler's spin lock held in the child: it is
 * taken last (KMEM_RANK_REPORT), registered with the platform when the
 * library is loaded.
 */
static const kmem_fork_handlers_t report_fork_handlers = {
	.rank = KMEM_RANK_REPORT,
	.prepare = lock_handler,
	.parent = unlock_handler,
	.child = unlock_handler,
};

/* At load, before any code of the library can report or take a lock. */
KMEM_FORK_REGISTRATION static void
report_register(void)
{
	kmem_fatal_handler_set(platform_fatal);
	kmem_fork_register(&report_fork_handlers);
}

kmem_report_handler_t *
kmem_report_handler_set(kmem_report_handler_t *new_handler, void *arg,
    void **prev_arg)
{
	lock_handler();
	kmem_report_handler_t *prev = handler;
	if (prev_arg != NULL)
		*prev_arg = handler_arg;
	handler = new_handler;
	handler_arg = arg;
	unlock_handler();
	return (prev);
}

static void
write_to_console(kmem_report_kind_t kind, const char *message)
{
	char line[REPORT_MAX + 32];
	size_t n = kmem_snprintf(line, sizeof (line), "libkmem: %s%s\n",
	    kind == KMEM_REPORT_WARNING ? "warning: " : "", message);
	kmem_console_write(line, n < sizeof (line) ? n : sizeof (line) - 1);
}

/*
 * Deliver message; an error returns only if an installed handler returns,
 * or if may_abort is false.
 */
static void
deliver(kmem_report_kind_t kind, const char *message, bool may_abort)
{
	lock_handler();
	kmem_report_handler_t *h = handler;
	void *arg = handler_arg;
	unlock_handler();

	if (h != NULL) {
		h(arg, kind, message);
		return;
	}
	write_to_console(kind, message);
	if (kind == KMEM_REPORT_ERROR && may_abort)
		kmem_abort();
}

/* Format and deliver one report of the given kind. */
static void
vreport(kmem_report_kind_t kind, const char *fmt, va_list ap)
{
	char message[REPORT_MAX];
	kmem_vsnprintf(message, sizeof (message), fmt, ap);
	deliver(kind, message, true);
}

void
kmem_report(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(KMEM_REPORT_ERROR, fmt, ap);
	va_end(ap);
}

void
kmem_report_heap(bool may_abort, const char *fmt, ...)
{
	char message[REPORT_MAX];
	va_list ap;
	va_start(ap, fmt);
	kmem_vsnprintf(message, sizeof (message), fmt, ap);
	va_end(ap);
	deliver(KMEM_REPORT_ERROR, message, may_abort);
}

void
kmem_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(KMEM_REPORT_WARNING, fmt, ap);
	va_end(ap);
}

_Noreturn void
kmem_panic(const char *fmt, ...)
{
	char message[REPORT_MAX];
	va_list ap;
	va_start(ap, fmt);
	kmem_vsnprintf(message, sizeof (message), fmt, ap);
	va_end(ap);
	deliver(KMEM_REPORT_ERROR, message, true);
	/* An installed handler returned: the panic still stands. */
	write_to_console(KMEM_REPORT_ERROR, message);
	kmem_abort();
}
