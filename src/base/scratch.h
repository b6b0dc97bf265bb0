/* Scratch arrays and a heap sort that allocate nothing (scratch.c). */
#ifndef KMEM_SCRATCH_H
#define KMEM_SCRATCH_H

#include <stdbool.h>
#include <stddef.h>

/* A growable array of elem-byte elements in the platform's pages. */
typedef struct scratch {
	char *base;
	size_t count;
	size_t cap;
	size_t elem;
} scratch_t;

/* Room for want elements in all; false when the platform has no pages. */
bool scratch_reserve(scratch_t *s, size_t want);
/* A new element at the end, or NULL when there is no room. */
void *scratch_push(scratch_t *s);
/* Give the pages back; the array is empty again (same elem). */
void scratch_free(scratch_t *s);

/* Sort n elements of size bytes with cmp, in place. */
void heap_sort(void *array, size_t n, size_t size,
    int (*cmp)(const void *, const void *));

#endif /* KMEM_SCRATCH_H */
