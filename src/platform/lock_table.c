/*
 * Where the library's locks live, so that fork() is cheap.
 *
 * fork() holds every library lock across the copy (kmem_fork.c) and lets
 * them all go on both sides afterwards.  After the copy every page is
 * shared copy-on-write, so letting go of a lock costs a page fault in the
 * parent and another in the child for each page that holds one.  Embedded
 * in the structures they guard -- each cache's depot and slab locks, each
 * arena's, each thread cache's -- the locks of a malloc process sat on
 * some fifty pages: fifty faults on each side of every fork, which made a
 * fork several times dearer than under the C library's malloc.
 *
 * So every lock takes its native mutex and owner from this table, packed
 * one per cache line: the few pages of the table are all a fork writes,
 * however many caches, arenas and threads the program has.  A lock that
 * finds the table full keeps them inline, in its kmem_mutex_t.  Untouched
 * slots cost nothing: the table is zero-filled data that no page backs
 * until used, and a zero-filled slot is an unlocked mutex.
 *
 * A lock takes its slot when it is first used (posix.c), so the globals,
 * which are never made, live here too; kmem_mutex_destroy() gives it
 * back.  A lock made anew without being destroyed -- in a fork child, a
 * lock whose holder did not come along (kmem_move.c) -- leaves its old
 * slot behind, one per such lock and child.
 *
 * Invariants: a slot is handed to one lock at a time.  Slots below
 * table_used have been handed out at least once; those given back are on
 * a free list whose head carries a tag, changed by every push and pop,
 * so a pop that read a stale link fails its compare-and-swap (ABA).  No
 * lock is taken here, so a signal handler or a fork at any instant finds
 * the table whole (a slot in the middle of being given back is lost to
 * the child, never handed out twice).
 */
#include "platform/platform.h"
#include "platform/platform_impl.h"

#include <string.h>

#define LOCK_TABLE_SLOTS 4096   /* 256 KiB of zero-filled data */

typedef union {
	kmem_native_lock_t lock;
	unsigned char line[64];
} __attribute__((aligned(64))) lock_slot_t;

_Static_assert(sizeof (kmem_native_lock_t) <= 64,
    "a native lock fits one cache line");

static lock_slot_t lock_table[LOCK_TABLE_SLOTS];
static uint32_t free_link[LOCK_TABLE_SLOTS];    /* next free slot + 1 */
static uint64_t free_head;      /* tag << 32 | (first free slot + 1) */
static uint32_t table_used;

static uint64_t
head_of(uint64_t old_head, uint32_t first_plus_one)
{
	return ((((old_head >> 32) + 1) << 32) | first_plus_one);
}

kmem_native_lock_t *
kmem_lock_table_take(void)
{
	uint64_t head = __atomic_load_n(&free_head, __ATOMIC_ACQUIRE);
	while ((uint32_t)head != 0) {
		uint32_t slot = (uint32_t)head - 1;
		uint32_t next = __atomic_load_n(&free_link[slot],
		    __ATOMIC_RELAXED);
		if (__atomic_compare_exchange_n(&free_head, &head,
		    head_of(head, next), false, __ATOMIC_ACQUIRE,
		    __ATOMIC_ACQUIRE))
			return (&lock_table[slot].lock);
	}
	uint32_t slot = __atomic_fetch_add(&table_used, 1, __ATOMIC_RELAXED);
	if (slot >= LOCK_TABLE_SLOTS) {
		__atomic_fetch_sub(&table_used, 1, __ATOMIC_RELAXED);
		return (NULL);
	}
	return (&lock_table[slot].lock);
}

void
kmem_lock_table_give(kmem_native_lock_t *lock)
{
	uint32_t slot = (uint32_t)((lock_slot_t *)(void *)lock - lock_table);
	memset(&lock_table[slot], 0, sizeof (lock_table[slot]));
	uint64_t head = __atomic_load_n(&free_head, __ATOMIC_RELAXED);
	do {
		__atomic_store_n(&free_link[slot], (uint32_t)head,
		    __ATOMIC_RELAXED);
	} while (!__atomic_compare_exchange_n(&free_head, &head,
	    head_of(head, slot + 1), false, __ATOMIC_RELEASE,
	    __ATOMIC_RELAXED));
}
