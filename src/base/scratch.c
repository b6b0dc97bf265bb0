/*
 * Working memory for code that must not allocate from the allocators it
 * inspects (the leak scan): growable arrays in the platform's pages, and a
 * heap sort with no allocation, no recursion and no C library.
 *
 * A scratch array's elements move when it grows: hold indexes, not
 * pointers, across a push.  Its pages are whole pages from the platform
 * (zero-filled when fresh), given back by scratch_free().
 */
#include "scratch.h"

#include "bits.h"
#include "platform/platform.h"

static size_t
scratch_bytes(const scratch_t *s, size_t cap)
{
	return (p2_roundup(cap * s->elem, kmem_pagesize()));
}

/* Room for want elements in all; false when the platform has no pages. */
bool
scratch_reserve(scratch_t *s, size_t want)
{
	if (want <= s->cap)
		return (true);
	size_t cap = s->cap * 2 > want ? s->cap * 2 : want;
	char *base = kmem_pages_alloc(scratch_bytes(s, cap));
	if (base == NULL)
		return (false);
	if (s->base != NULL) {
		__builtin_memcpy(base, s->base, s->count * s->elem);
		kmem_pages_free(s->base, scratch_bytes(s, s->cap));
	}
	s->base = base;
	s->cap = scratch_bytes(s, cap) / s->elem;
	return (true);
}

void *
scratch_push(scratch_t *s)
{
	if (!scratch_reserve(s, s->count + 1))
		return (NULL);
	return (s->base + s->count++ * s->elem);
}

void
scratch_free(scratch_t *s)
{
	if (s->base != NULL)
		kmem_pages_free(s->base, scratch_bytes(s, s->cap));
	*s = (scratch_t){ .elem = s->elem };
}

static void
swap_bytes(char *a, char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char t = a[i];
		a[i] = b[i];
		b[i] = t;
	}
}

static void
sift_down(char *base, size_t size, size_t root, size_t n,
    int (*cmp)(const void *, const void *))
{
	for (size_t child; (child = 2 * root + 1) < n; root = child) {
		if (child + 1 < n &&
		    cmp(base + child * size, base + (child + 1) * size) < 0)
			child++;
		if (cmp(base + root * size, base + child * size) >= 0)
			return;
		swap_bytes(base + root * size, base + child * size, size);
	}
}

void
heap_sort(void *array, size_t n, size_t size,
    int (*cmp)(const void *, const void *))
{
	char *base = array;
	for (size_t i = n / 2; i-- > 0;)
		sift_down(base, size, i, n, cmp);
	for (size_t end = n; end-- > 1;) {
		swap_bytes(base, base + end * size, size);
		sift_down(base, size, 0, end, cmp);
	}
}
