/*
 * libkmem: what every API family shares.
 *
 * KMEM_API marks the functions the shared library exports; everything else
 * in the library is hidden.
 *
 * Reports.  When the library sees bad input (a free of an address it never
 * handed out, a double free, a wrong size, inconsistent arguments) it formats
 * a message that names the function, the arena or cache, the address and
 * what is wrong, and passes it to the report handler as KMEM_REPORT_ERROR.
 * The message is one line, except when debugging is on (include/kmem/debug.h):
 * then further lines, indented, give the stack that found the error and the
 * buffer's last transaction.  The default handler writes "libkmem:
 * <message>" to standard error and calls abort() (for the heap errors the
 * debugging layer finds, not with its option "noabort").  Warnings
 * (KMEM_REPORT_WARNING: something was lost or refused that the program may
 * live with, such as a resource map overflow) go to the same handler; the
 * default one prints "libkmem: warning: <message>" and carries on.
 *
 * A program (or a test) may install its own handler.  If the handler
 * returns, the call that detected the error gives up without touching any
 * state: a bad free is ignored, a bad allocation returns NULL.  No library
 * lock is held while the handler runs, but the handler must not longjmp out
 * of the library.
 */
#ifndef KMEM_COMMON_H
#define KMEM_COMMON_H

#if defined(__GNUC__) || defined(__clang__)
#define KMEM_API __attribute__((visibility("default")))
#define KMEM_PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define KMEM_API
#define KMEM_PRINTFLIKE(f, a)
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kmem_report_kind {
	KMEM_REPORT_ERROR,      /* bad input: the default handler aborts */
	KMEM_REPORT_WARNING     /* the default handler prints and goes on */
} kmem_report_kind_t;

/* Receives one report, without a trailing newline. */
typedef void kmem_report_handler_t(void *arg, kmem_report_kind_t kind,
    const char *message);

/*
 * Install handler (NULL restores the default) and return the previous one;
 * *prev_arg, when not NULL, receives the previous handler's argument.
 */
KMEM_API kmem_report_handler_t *kmem_report_handler_set(
    kmem_report_handler_t *handler, void *arg, void **prev_arg);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_COMMON_H */
