/*
 * NetBSD's kmem(9) beyond kmem_alloc(): the interrupt variants, string
 * helpers and temporary buffers (include/kmem/kmem_netbsd.h).
 *
 * Everything here is a thin layer over kmem_alloc() and kmem_free(); the
 * one invariant is NetBSD's: a string made here occupies exactly
 * strlen + 1 bytes, which is what kmem_strfree() gives back, so kmem's
 * size check (a size of another class is reported) also checks that the
 * string was not shortened in place.  kmem_asprintf() formats with the C
 * library's vsnprintf() (this file is not part of the freestanding core),
 * so every conversion NetBSD's kernel printf has, and more, works.
 *
 * No locks are taken here beyond kmem's own.
 */
#include <kmem/kmem_netbsd.h>
#include <kmem/kmem.h>      /* so the compiler sees both declarations agree */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/report.h"

void *
kmem_intr_alloc(size_t size, km_flag_t kmflags)
{
	return (kmem_alloc(size, kmflags));
}

void *
kmem_intr_zalloc(size_t size, km_flag_t kmflags)
{
	return (kmem_zalloc(size, kmflags));
}

void
kmem_intr_free(void *buf, size_t size)
{
	kmem_free(buf, size);
}

char *
kmem_asprintf(const char *fmt, ...)
{
	if (fmt == NULL) {
		kmem_report("kmem_asprintf(NULL): the format is NULL");
		return (NULL);
	}
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0) {
		kmem_report("kmem_asprintf(\"%s\"): the format cannot be "
		    "printed (vsnprintf failed)", fmt);
		return (NULL);
	}

	size_t size = (size_t)len + 1;
	char *str = kmem_alloc(size, KM_SLEEP);
	if (str == NULL)
		return (NULL);
	va_start(ap, fmt);
	int again = vsnprintf(str, size, fmt, ap);
	va_end(ap);
	if (again != len) {
		/* An argument changed under us (another thread's string). */
		kmem_free(str, size);
		kmem_report("kmem_asprintf(\"%s\"): the output changed length "
		    "between two formattings (%d, then %d bytes)", fmt, len,
		    again);
		return (NULL);
	}
	return (str);
}

char *
kmem_strdupsize(const char *str, size_t *lenp, km_flag_t kmflags)
{
	if (str == NULL) {
		kmem_report("kmem_strdupsize(NULL): the string is NULL");
		return (NULL);
	}
	size_t size = strlen(str) + 1;
	char *copy = kmem_alloc(size, kmflags);
	if (copy == NULL)
		return (NULL);
	memcpy(copy, str, size);
	if (lenp != NULL)
		*lenp = size;
	return (copy);
}

char *
kmem_strndup(const char *str, size_t maxlen, km_flag_t kmflags)
{
	if (str == NULL || maxlen == 0) {
		kmem_report("kmem_strndup(%p, %zu): %s", (const void *)str,
		    maxlen, str == NULL ? "the string is NULL" :
		    "maxlen is 0 (NetBSD requires at least 1)");
		return (NULL);
	}
	size_t len = strnlen(str, maxlen);
	char *copy = kmem_alloc(len + 1, kmflags);
	if (copy == NULL)
		return (NULL);
	memcpy(copy, str, len);
	copy[len] = '\0';
	return (copy);
}

void
kmem_strfree(char *str)
{
	if (str != NULL)
		kmem_free(str, strlen(str) + 1);
}

void *
kmem_tmpbuf_alloc(size_t size, void *stackbuf, size_t stackbufsize,
    km_flag_t kmflags)
{
	if (size <= stackbufsize)
		return (stackbuf);
	return (kmem_alloc(size, kmflags));
}

void
kmem_tmpbuf_free(void *buf, size_t size, void *stackbuf)
{
	if (buf != stackbuf)
		kmem_free(buf, size);
}
