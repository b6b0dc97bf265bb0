/*
 * Power-of-two arithmetic on integers of the width of an address.
 *
 * All alignments here are powers of two.  "phase" is an offset from an
 * alignment boundary: x has phase p modulo align when x % align == p.
 * None of these functions checks for overflow; callers that work near the
 * top of the address space compare results with their inputs.
 */
#ifndef KMEM_BITS_H
#define KMEM_BITS_H

#include <stdbool.h>
#include <stdint.h>

_Static_assert(sizeof(unsigned long) == sizeof(uintptr_t),
    "the bit helpers assume unsigned long is as wide as an address");

#define KMEM_ADDR_BITS ((unsigned)(sizeof(uintptr_t) * 8))

/* Position of the highest set bit, counting from 1; 0 for 0. */
static inline unsigned
highbit(uintptr_t x)
{
	return (x == 0 ? 0 : KMEM_ADDR_BITS - (unsigned)__builtin_clzl(x));
}

/* Position of the lowest set bit, counting from 1; 0 for 0. */
static inline unsigned
lowbit(uintptr_t x)
{
	return (x == 0 ? 0 : (unsigned)__builtin_ctzl(x) + 1);
}

static inline bool
is_p2(uintptr_t x)
{
	return ((x & (x - 1)) == 0);
}

/* x rounded down to a multiple of align. */
static inline uintptr_t
p2_align(uintptr_t x, uintptr_t align)
{
	return (x & -align);
}

/* x rounded up to a multiple of align (wraps to 0 past the top). */
static inline uintptr_t
p2_roundup(uintptr_t x, uintptr_t align)
{
	return (-(-x & -align));
}

/* x modulo align. */
static inline uintptr_t
p2_phase(uintptr_t x, uintptr_t align)
{
	return (x & (align - 1));
}

/* Distance from x up to the next multiple of align (0 if x is one). */
static inline uintptr_t
p2_nphase(uintptr_t x, uintptr_t align)
{
	return (-x & (align - 1));
}

/* The smallest y >= x with y % align == phase (may wrap past the top). */
static inline uintptr_t
p2_phaseup(uintptr_t x, uintptr_t align, uintptr_t phase)
{
	return (phase - ((phase - x) & -align));
}

/* Does [x, x + size) cross a multiple of boundary?  Never when boundary is 0. */
static inline bool
p2_crosses(uintptr_t x, uintptr_t size, uintptr_t boundary)
{
	return ((x ^ (x + size - 1)) > boundary - 1);
}

/* Do a and b have the same highest set bit? */
static inline bool
p2_samehighbit(uintptr_t a, uintptr_t b)
{
	return ((a ^ b) <= (a & b));
}

#endif /* KMEM_BITS_H */
