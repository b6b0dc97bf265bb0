/*
 * Reporting bad input and broken invariants (see include/kmem/common.h for
 * the public side).
 *
 * kmem_report() is for the caller's mistakes: it formats one line and hands
 * it to the installed handler; if the handler returns, so does
 * kmem_report(), and the caller must then give up without changing state.
 * Callers release their locks first, so the handler may use the library.
 *
 * kmem_warn() is for losses the program may live with; the default handler
 * prints it and the call goes on.
 *
 * kmem_panic() is for the library's own broken invariants and for failures
 * that leave no safe way on: it reports and then aborts even if the handler
 * returns.
 *
 * KMEM_ASSERT() checks an invariant only in builds with KMEM_ASSERTS.
 */
#ifndef KMEM_REPORT_H
#define KMEM_REPORT_H

#include <stdbool.h>

#include <kmem/common.h>

void kmem_report(const char *fmt, ...) KMEM_PRINTFLIKE(1, 2);
void kmem_warn(const char *fmt, ...) KMEM_PRINTFLIKE(1, 2);
_Noreturn void kmem_panic(const char *fmt, ...) KMEM_PRINTFLIKE(1, 2);

/*
 * kmem_report() for heap errors found by the debugging layer (kmem_debug.c):
 * the default handler aborts only if may_abort (the "noabort" option says
 * not); bad arguments and KM_PANIC failures always abort.
 */
void kmem_report_heap(bool may_abort, const char *fmt, ...)
    KMEM_PRINTFLIKE(2, 3);

/* Around fork(): hold the handler's lock so the child gets it free. */
void kmem_report_fork_enter(void);
void kmem_report_fork_exit(void);

#ifdef KMEM_ASSERTS
#define KMEM_ASSERT(expr)                                               \
	((expr) ? (void)0 :                                             \
	    kmem_panic("assertion failed: %s (%s:%d)", #expr, __FILE__, __LINE__))
#else
#define KMEM_ASSERT(expr) ((void)sizeof (expr))     /* unevaluated */
#endif

#endif /* KMEM_REPORT_H */
