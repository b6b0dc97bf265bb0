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
 *
 * Also what every option parser shares, the C library's and the
 * freestanding core's: splitting "name[=value],..." strings into options,
 * matching their names, and reading sizes.
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
 * One option of a "name[=value],name[=value],..." string: the name runs to
 * the first "=" (it may be empty, as in "=x"), the value is the rest of
 * the option (it may be empty, as in "name=", or hold "=").
 */
typedef struct kmem_option {
	const char *name;
	size_t name_len;
	const char *value;      /* NULL when there is no "=" */
	size_t value_len;
} kmem_option_t;

/*
 * The next option of the string at *textp into *option, moving *textp past
 * it; false at the end.  Empty options (",,", a leading or trailing comma)
 * are skipped, and a NULL string holds none.  Shared by every option
 * parser, as is kmem_parse_size().
 */
bool kmem_option_next(const char **textp, kmem_option_t *option);

/* Whether the option's name is name. */
bool kmem_option_is(const kmem_option_t *option, const char *name);

/*
 * A size: decimal digits, then optionally k, m or g (KiB, MiB, GiB; either
 * case), in the len characters at text.  False if that is not what they
 * are or the value overflows.  Shared by every option parser.
 */
bool kmem_parse_size(const char *text, size_t len, uint64_t *out);

#endif /* KMEM_FORMAT_H */
