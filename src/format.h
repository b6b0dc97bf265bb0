/*
 * A small, allocation-free snprintf for the core: reports and statistics
 * tables must be formatted inside a kernel, inside malloc, and in signal
 * handlers, where the C library's printf family may not be available or may
 * allocate.
 *
 * Supported: flags '-' and '0', a field width (digits or '*'), a precision
 * for strings (".N" or ".*"), the length modifiers hh h l ll z j t, and the
 * conversions d i u x X p s c %.  Like vsnprintf, the result is always
 * NUL-terminated when size > 0 and the return value is the length the whole
 * output would have had.
 */
#ifndef KMEM_FORMAT_H
#define KMEM_FORMAT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kmem/common.h>

size_t kmem_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
size_t kmem_snprintf(char *buf, size_t size, const char *fmt, ...)
    KMEM_PRINTFLIKE(3, 4);

/*
 * A size: decimal digits, then optionally k, m or g (KiB, MiB, GiB; either
 * case), in the len characters at text.  False if that is not what they
 * are or the value overflows.  Shared by every option parser.
 */
bool kmem_parse_size(const char *text, size_t len, uint64_t *out);

#endif /* KMEM_FORMAT_H */
