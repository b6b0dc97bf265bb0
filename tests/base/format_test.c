/*
 * The core's formatter against the C library's snprintf: every supported
 * conversion, flag, width, precision and length modifier must give the
 * same text and the same return value, including when the buffer is too
 * small.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "base/format.h"

#define SAME(...) same_as_libc(__LINE__, __VA_ARGS__)

static void
same_as_libc(int line, const char *fmt, ...)
{
	char ours[256], theirs[256];
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	size_t n = kmem_vsnprintf(ours, sizeof (ours), fmt, ap);
	int m = vsnprintf(theirs, sizeof (theirs), fmt, ap2);
	va_end(ap2);
	va_end(ap);
	if (n != (size_t)m || strcmp(ours, theirs) != 0) {
		fprintf(stderr, "line %d: format \"%s\": ours \"%s\" (%zu), "
		    "libc \"%s\" (%d)\n", line, fmt, ours, n, theirs, m);
		CHECK(!"formatter differs from libc");
	}
}

static void
test_conversions(void)
{
	SAME("plain text");
	SAME("%d %i %d", 0, -42, INT_MIN);
	SAME("%u %x %X", 4000000000u, 0xbeefu, 0xbeefu);
	SAME("%ld %lu %lx", LONG_MIN, ULONG_MAX, ULONG_MAX);
	SAME("%lld %llu", LLONG_MIN, ULLONG_MAX);
	SAME("%zu %zx", SIZE_MAX, (size_t)4096);
	SAME("%jd %ju", INTMAX_MIN, UINTMAX_MAX);
	SAME("%td", (ptrdiff_t)-7);
	SAME("%hd %hu %hhd %hhu", -2, 65535, -3, 255);
	SAME("%c%c%c", 'a', 'b', 'c');
	SAME("%s and %s", "this", "");
	SAME("100%%");
	SAME("%p", (void *)0x1234abcd);
}

static void
test_fields(void)
{
	SAME("[%8d] [%-8d] [%08d] [%08d]", 42, 42, 42, -42);
	SAME("[%10s] [%-10s] [%.3s] [%-6.2s]", "abc", "abc", "abcdef", "xyz");
	SAME("[%*d] [%-*d] [%*d]", 6, 7, 6, 7, -6, 7);
	SAME("[%.*s]", 2, "abcdef");
	SAME("[%2d] [%1s]", 12345, "long");
	SAME("[%016lx]", 0xdeadbeefUL);
	SAME("[%-20p]", (void *)0x10);
}

static void
test_truncation(void)
{
	char buf[8];
	memset(buf, 'x', sizeof (buf));
	CHECK_EQ(kmem_snprintf(buf, sizeof (buf), "%s", "0123456789"), 10);
	CHECK(strcmp(buf, "0123456") == 0);
	CHECK_EQ(kmem_snprintf(buf, 1, "%d", 12345), 5);
	CHECK_EQ(buf[0], '\0');
	CHECK_EQ(kmem_snprintf(NULL, 0, "%d-%s", 12, "ab"), 5);
	/* a lone % at the end is printed, not read past (the format comes
	 * through a variable so the compiler does not reject it) */
	const char *lone = "ab%";
	CHECK_EQ(kmem_snprintf(buf, sizeof (buf), lone, 0), 3);
	CHECK(strcmp(buf, "ab%") == 0);
}

int
main(void)
{
	test_conversions();
	test_fields();
	test_truncation();
	printf("format_test: all passed\n");
	return (0);
}
