/*
 * Telling AddressSanitizer and valgrind's memcheck which of our memory the
 * program may touch.  Both see only mmap()ed pages from us, so without
 * these calls a use after free inside a cache, or an overrun within a
 * kmem_alloc() class, is an ordinary access to them.
 *
 * Two kinds of calls, at the layer boundaries:
 *
 * - Poisoning (ASan: __asan_poison_memory_region; memcheck: NOACCESS), by
 *   the layer that holds free buffers: a buffer entering a magazine or a
 *   slab's free list is poisoned, one leaving it is unpoisoned (the slab
 *   layer unpoisons a buffer before reading its free link, and a slab as
 *   a whole before it goes back to its arena, so the memory is clean for
 *   whoever the arena gives it to next).  Whoever else touches a free
 *   buffer unpoisons it first: the destructor's caller.  Only the first
 *   bufsize bytes are poisoned, never a debug tag after them, and never
 *   the buffers of KMC_NOTOUCH caches, which may not be memory at all.
 *   kmem_alloc() poisons the tail of a class buffer beyond the size asked
 *   for, so an overrun within the class is seen too.
 * - Blocks (memcheck only: MALLOCLIKE_BLOCK / FREELIKE_BLOCK), at the
 *   outermost level the program called -- kmem_cache_alloc/free,
 *   kmem_alloc/free, the malloc family -- once per allocation, so that
 *   memcheck's reports (invalid reads, leaks, invalid frees) name the
 *   program's allocations.  A block is freed on entry to the free call:
 *   from then on the library touches the buffer only through the
 *   unpoisoning rule above.
 *
 * Without __SANITIZE_ADDRESS__ (or clang's address_sanitizer feature) and
 * without KMEM_VALGRIND every function here is empty, so the fast paths
 * compile exactly as they would without this file.
 */
#ifndef KMEM_POISON_H
#define KMEM_POISON_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define KMEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KMEM_ASAN 1
#endif
#endif

#ifdef KMEM_ASAN
void __asan_poison_memory_region(void const volatile *addr, size_t size);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif

#ifdef KMEM_VALGRIND
#include <valgrind/memcheck.h>
#endif

/*
 * On a function that reads memory which may be free on purpose, to tell a
 * misuse (a double free, a destroyed pool cache) from good input: the
 * library, not AddressSanitizer, must report it.
 */
#ifdef KMEM_ASAN
#define KMEM_READS_FREED __attribute__((no_sanitize("address")))
#else
#define KMEM_READS_FREED
#endif

/* The word at addr: a free buffer's link, or a buffer's first word, which
 * holds a free mark while the buffer is free (kmem_cache.c). */
KMEM_READS_FREED static inline void *
kmem_free_word(const void *addr)
{
#ifdef KMEM_VALGRIND
	VALGRIND_DISABLE_ADDR_ERROR_REPORTING_IN_RANGE(addr, sizeof (void *));
	void *word = *(void *const *)addr;
	VALGRIND_ENABLE_ADDR_ERROR_REPORTING_IN_RANGE(addr, sizeof (void *));
	/* The allocator wrote it (a link, or a free mark, or 0 when it
	 * handed the buffer out), whatever memcheck says of the buffer. */
	VALGRIND_MAKE_MEM_DEFINED(&word, sizeof (word));
	return (word);
#else
	return (*(void *const *)addr);
#endif
}

/*
 * Around code that reads whatever memory holds, free or uninitialised (the
 * leak scan): memcheck keeps quiet meanwhile.  (AddressSanitizer is told
 * per function, with no_sanitize.)
 */
static inline void
kmem_memcheck_quiet(bool quiet)
{
#ifdef KMEM_VALGRIND
	if (quiet)
		VALGRIND_DISABLE_ERROR_REPORTING;
	else
		VALGRIND_ENABLE_ERROR_REPORTING;
#endif
	(void) quiet;
}

/* [addr, addr + size) is free memory of ours: no access. */
static inline void
kmem_poison(const void *addr, size_t size)
{
#ifdef KMEM_ASAN
	__asan_poison_memory_region(addr, size);
#endif
#ifdef KMEM_VALGRIND
	VALGRIND_MAKE_MEM_NOACCESS(addr, size);
#endif
	(void) addr;
	(void) size;
}

/* [addr, addr + size) may be touched again, with its contents. */
static inline void
kmem_unpoison(const void *addr, size_t size)
{
#ifdef KMEM_ASAN
	__asan_unpoison_memory_region(addr, size);
#endif
#ifdef KMEM_VALGRIND
	VALGRIND_MAKE_MEM_DEFINED(addr, size);
#endif
	(void) addr;
	(void) size;
}

/* A block of size bytes the program now owns; defined: its contents
 * are meaningful (a constructed object), else uninitialised. */
static inline void
kmem_block_allocated(const void *addr, size_t size, bool defined)
{
#ifdef KMEM_VALGRIND
	VALGRIND_MALLOCLIKE_BLOCK(addr, size, 0, defined);
#endif
	(void) addr;
	(void) size;
	(void) defined;
}

/* The block at addr, which the program gives back. */
static inline void
kmem_block_freed(const void *addr)
{
#ifdef KMEM_VALGRIND
	VALGRIND_FREELIKE_BLOCK(addr, 0);
#endif
	(void) addr;
}

/*
 * A magazine round just taken out: memcheck's leak check would take the
 * stale copy for a pointer to the buffer, so it is cleared for memcheck.
 */
static inline void
kmem_round_taken(void **round)
{
#ifdef KMEM_VALGRIND
	*round = NULL;
#endif
	(void) round;
}

#endif /* KMEM_POISON_H */
