/*
 * kmem_vsnprintf: the core's own formatter (see format.h for what it
 * supports and why it exists).
 *
 * Output goes through a cursor that counts every character it is offered
 * and stores only those that fit, leaving room for the terminating NUL; so
 * truncation is handled in one place and the return value is the untruncated
 * length.
 *
 * After it, what every option parser shares (format.h): kmem_option_next()
 * splits a "name[=value],..." string into its options, kmem_option_is()
 * matches their names, kmem_parse_size() reads a size.
 */
#include "format.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct cursor {
	char *buf;
	size_t size;
	size_t len;     /* characters offered so far */
} cursor_t;

static void
put(cursor_t *c, char ch)
{
	if (c->len + 1 < c->size)
		c->buf[c->len] = ch;
	c->len++;
}

static void
pad(cursor_t *c, char ch, size_t n)
{
	while (n-- > 0)
		put(c, ch);
}

typedef struct spec {
	bool left;          /* '-' */
	bool zero;          /* '0' */
	size_t width;
	bool has_precision;
	size_t precision;
} spec_t;

/* Emit text of length len inside a field described by sp. */
static void
put_field(cursor_t *c, const spec_t *sp, const char *prefix, const char *text,
    size_t len)
{
	size_t plen = 0;
	while (prefix[plen] != '\0')
		plen++;
	size_t fill = sp->width > len + plen ? sp->width - len - plen : 0;

	if (!sp->left && !sp->zero)
		pad(c, ' ', fill);
	for (size_t i = 0; i < plen; i++)
		put(c, prefix[i]);
	if (!sp->left && sp->zero)
		pad(c, '0', fill);
	for (size_t i = 0; i < len; i++)
		put(c, text[i]);
	if (sp->left)
		pad(c, ' ', fill);
}

static void
put_unsigned(cursor_t *c, const spec_t *sp, uintmax_t value, unsigned base,
    bool upper, const char *prefix)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char text[sizeof(uintmax_t) * 8];
	size_t n = sizeof(text);

	do {
		text[--n] = digits[value % base];
		value /= base;
	} while (value != 0);
	put_field(c, sp, prefix, text + n, sizeof(text) - n);
}

enum length { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE,
    LEN_MAX, LEN_PTRDIFF };

static intmax_t
signed_arg(va_list *ap, enum length len)
{
	switch (len) {
	case LEN_CHAR: return ((signed char)va_arg(*ap, int));
	case LEN_SHORT: return ((short)va_arg(*ap, int));
	case LEN_LONG: return (va_arg(*ap, long));
	case LEN_LLONG: return (va_arg(*ap, long long));
	case LEN_SIZE: return ((intmax_t)va_arg(*ap, size_t));
	case LEN_MAX: return (va_arg(*ap, intmax_t));
	case LEN_PTRDIFF: return (va_arg(*ap, ptrdiff_t));
	default: return (va_arg(*ap, int));
	}
}

static uintmax_t
unsigned_arg(va_list *ap, enum length len)
{
	switch (len) {
	case LEN_CHAR: return ((unsigned char)va_arg(*ap, unsigned));
	case LEN_SHORT: return ((unsigned short)va_arg(*ap, unsigned));
	case LEN_LONG: return (va_arg(*ap, unsigned long));
	case LEN_LLONG: return (va_arg(*ap, unsigned long long));
	case LEN_SIZE: return (va_arg(*ap, size_t));
	case LEN_MAX: return (va_arg(*ap, uintmax_t));
	case LEN_PTRDIFF: return ((uintmax_t)va_arg(*ap, ptrdiff_t));
	default: return (va_arg(*ap, unsigned));
	}
}

static size_t
parse_number(const char **fmtp)
{
	size_t n = 0;
	while (**fmtp >= '0' && **fmtp <= '9')
		n = n * 10 + (size_t)(*(*fmtp)++ - '0');
	return (n);
}

static enum length
parse_length(const char **fmtp)
{
	switch (*(*fmtp)++) {
	case 'h':
		if (**fmtp == 'h') {
			(*fmtp)++;
			return (LEN_CHAR);
		}
		return (LEN_SHORT);
	case 'l':
		if (**fmtp == 'l') {
			(*fmtp)++;
			return (LEN_LLONG);
		}
		return (LEN_LONG);
	case 'z': return (LEN_SIZE);
	case 'j': return (LEN_MAX);
	case 't': return (LEN_PTRDIFF);
	default:
		(*fmtp)--;
		return (LEN_INT);
	}
}

size_t
kmem_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap_in)
{
	cursor_t c = { buf, size, 0 };
	va_list ap;
	va_copy(ap, ap_in);

	while (*fmt != '\0') {
		if (*fmt != '%') {
			put(&c, *fmt++);
			continue;
		}
		fmt++;

		spec_t sp = { 0 };
		for (;; fmt++) {
			if (*fmt == '-')
				sp.left = true;
			else if (*fmt == '0')
				sp.zero = true;
			else
				break;
		}
		if (*fmt == '*') {
			int w = va_arg(ap, int);
			sp.left |= w < 0;
			sp.width = (size_t)(w < 0 ? -(long)w : w);
			fmt++;
		} else {
			sp.width = parse_number(&fmt);
		}
		if (*fmt == '.') {
			fmt++;
			sp.has_precision = true;
			if (*fmt == '*') {
				int p = va_arg(ap, int);
				sp.precision = p < 0 ? 0 : (size_t)p;
				fmt++;
			} else {
				sp.precision = parse_number(&fmt);
			}
		}
		enum length len = parse_length(&fmt);

		switch (*fmt) {
		case 'd':
		case 'i': {
			intmax_t v = signed_arg(&ap, len);
			uintmax_t mag = v < 0 ? -(uintmax_t)v : (uintmax_t)v;
			put_unsigned(&c, &sp, mag, 10, false, v < 0 ? "-" : "");
			break;
		}
		case 'u':
			put_unsigned(&c, &sp, unsigned_arg(&ap, len), 10, false, "");
			break;
		case 'x':
		case 'X':
			put_unsigned(&c, &sp, unsigned_arg(&ap, len), 16,
			    *fmt == 'X', "");
			break;
		case 'p':
			put_unsigned(&c, &sp, (uintptr_t)va_arg(ap, void *), 16,
			    false, "0x");
			break;
		case 'c': {
			char ch = (char)va_arg(ap, int);
			put_field(&c, &sp, "", &ch, 1);
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (s == NULL)
				s = "(null)";
			size_t n = 0;
			while (s[n] != '\0' && (!sp.has_precision ||
			    n < sp.precision))
				n++;
			sp.zero = false;
			put_field(&c, &sp, "", s, n);
			break;
		}
		case '%':
			put(&c, '%');
			break;
		case '\0':
			/* A lone '%' at the end: print it and stop. */
			put(&c, '%');
			fmt--;
			break;
		default:
			/* Unknown conversion: show it as written. */
			put(&c, '%');
			put(&c, *fmt);
			break;
		}
		fmt++;
	}
	va_end(ap);

	if (size > 0)
		buf[c.len < size ? c.len : size - 1] = '\0';
	return (c.len);
}

size_t
kmem_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = kmem_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return (n);
}

bool
kmem_option_next(const char **textp, kmem_option_t *option)
{
	const char *p = *textp;
	if (p == NULL)
		return (false);
	while (*p == ',')
		p++;
	if (*p == '\0') {
		*textp = p;
		return (false);
	}
	size_t len = 0;
	while (p[len] != '\0' && p[len] != ',')
		len++;
	*option = (kmem_option_t){ .name = p };
	while (option->name_len < len && p[option->name_len] != '=')
		option->name_len++;
	if (option->name_len < len) {
		option->value = p + option->name_len + 1;
		option->value_len = len - option->name_len - 1;
	}
	*textp = p + len;
	return (true);
}

bool
kmem_option_is(const kmem_option_t *option, const char *name)
{
	size_t i = 0;
	for (; i < option->name_len && name[i] != '\0'; i++)
		if (name[i] != option->name[i])
			return (false);
	return (i == option->name_len && name[i] == '\0');
}

bool
kmem_parse_size(const char *text, size_t len, uint64_t *out)
{
	uint64_t n = 0;
	size_t i = 0;
	for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
		unsigned digit = (unsigned)(text[i] - '0');
		if (n > (UINT64_MAX - digit) / 10)
			return (false);
		n = n * 10 + digit;
	}
	if (i == 0)
		return (false);
	unsigned shift = 0;
	if (i + 1 == len) {
		switch (text[i]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: return (false);
		}
	} else if (i != len) {
		return (false);
	}
	if (n > (UINT64_MAX >> shift))
		return (false);
	*out = n << shift;
	return (true);
}
