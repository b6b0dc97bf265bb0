/*
 * The allocation trace format, version 2: what libkmem_malloc.so writes
 * with the "trace=FILE" option (kmrun --trace) and kmlab reads.
 * docs/trace.md describes it in prose; this header is the same description
 * as constants, for any program that wants to read a trace itself.
 *
 * All integers are little-endian.  A file is a header, then blocks:
 *
 *   header   magic "KMTRACE\n" (8 bytes), u16 version, u16 header bytes
 *            (all of it, program name included), u32 pid, u32 page size,
 *            u32 clock (KMEM_TRACE_CLOCK_*), u32 its resolution in ns,
 *            u32 0, u64 start time on that clock in ns, u64 wall-clock
 *            start in ns since 1970, u16 program name length, the name
 *            (no NUL)
 *   block    u32 KMEM_TRACE_BLOCK_MAGIC, u32 payload bytes, u32 events,
 *            u32 thread (1, 2, ... in order of first event), u32 the
 *            thread's system id, u32 checksum of the payload
 *            (kmem_trace_checksum(), below), u64 the time the block was
 *            started (on the header's clock), u64 the base stamp; then
 *            the payload: the events, each one op byte and unsigned
 *            LEB128 varints
 *
 * One thread writes each block, with one write(2) to a file opened for
 * appending, so blocks of different threads never interleave, and a
 * process killed at any moment leaves whole blocks before at most one
 * cut-short block.  Every event has a stamp, larger than the thread's
 * previous event's; within a block, stamps are deltas from the previous
 * event's (the first event's from the block's base stamp; never 0), and
 * addresses zigzag deltas from the previous address of the block
 * (starting at 0):
 *
 *   MALLOC    dstamp size addr
 *   CALLOC    dstamp nmemb elsize addr
 *   REALLOC   dstamp old size addr     (old 0: realloc(NULL, size);
 *                                       addr 0 with size 0: the old one
 *                                       freed)
 *   MEMALIGN  dstamp align size addr   (which function: op byte bits
 *                                       4..6)
 *   FREE      dstamp old
 *
 * MALLOC and FREE also have a short form, one 64-bit word whose low byte
 * is the op byte with bit 7 (KMEM_TRACE_SHORT) set: bits 8..15 dstamp;
 * for MALLOC bits 16..31 size and bits 32..63 the address, for FREE bits
 * 16..63 the address -- an address as the zigzag delta from the previous
 * one divided by 16 (the delta a multiple of 16).  Writers use it when
 * the numbers fit; the long form is always allowed.
 *
 * addr 0 is a failed allocation.  A stamp is the event's time since the
 * header's start, in ns shifted left by KMEM_TRACE_STAMP_SHIFT, made
 * larger where the order needs it: two events on one address that
 * happened one after the other (a free and the next allocation there, in
 * any threads; an allocation and the free of its object) have stamps in
 * that order.  Merging all threads' events by stamp (stamps of different
 * threads may be equal: those events are independent) orders every
 * address's allocations and frees as they happened: an object's identity
 * is its address from one allocation to the free that follows, which a
 * reader numbers.  An event's time is the header's start plus its stamp
 * shifted right by KMEM_TRACE_STAMP_SHIFT.
 */
#ifndef KMEM_TRACE_H
#define KMEM_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KMEM_TRACE_MAGIC        "KMTRACE\n"
#define KMEM_TRACE_MAGIC_LEN    8
#define KMEM_TRACE_VERSION      2
#define KMEM_TRACE_HEADER_FIXED 50      /* bytes before the program name */
#define KMEM_TRACE_BLOCK_MAGIC  0x42544d4bu     /* "KMTB" */
#define KMEM_TRACE_BLOCK_HEADER 40
#define KMEM_TRACE_CLOCK_MONOTONIC 1    /* CLOCK_MONOTONIC, ns */
#define KMEM_TRACE_CLOCK_MONOTONIC_COARSE 2     /* ..._COARSE, ns */

/* The op byte: the operation in bits 0..3, the function in bits 4..6. */
#define KMEM_TRACE_OP_MASK      0x0f
#define KMEM_TRACE_FN_SHIFT     4
enum kmem_trace_op {
	KMEM_TRACE_MALLOC = 1,
	KMEM_TRACE_CALLOC = 2,
	KMEM_TRACE_REALLOC = 3,
	KMEM_TRACE_MEMALIGN = 4,
	KMEM_TRACE_FREE = 5,
};
/* Which aligned allocation a MEMALIGN event was. */
enum kmem_trace_fn {
	KMEM_TRACE_FN_MEMALIGN = 0,
	KMEM_TRACE_FN_POSIX_MEMALIGN = 1,
	KMEM_TRACE_FN_ALIGNED_ALLOC = 2,
	KMEM_TRACE_FN_VALLOC = 3,
	KMEM_TRACE_FN_PVALLOC = 4,
};
#define KMEM_TRACE_EVENT_MAX    (1 + 4 * 10)    /* op byte, 4 varints */
/* The short form's op byte bit (MALLOC and FREE only): see above. */
#define KMEM_TRACE_SHORT        0x80
/* A stamp's time part: ns since the start, shifted left this much (room
 * for 256 ordered events per ns). */
#define KMEM_TRACE_STAMP_SHIFT  8

/*
 * A block payload's checksum: FNV-1a over its 64-bit little-endian words
 * (the last one padded with zero bytes), folded to 32 bits -- eight times
 * fewer multiplications than bytewise FNV-1a, on every block written.
 */
static inline uint32_t
kmem_trace_checksum(const unsigned char *p, size_t n)
{
	uint64_t h = 14695981039346656037ull, w;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {    /* whole words: fixed-size copies */
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 1099511628211ull;
	}
	if (i < n) {
		w = 0;
		memcpy(&w, p + i, n - i);
		h = (h ^ w) * 1099511628211ull;
	}
	return ((uint32_t)(h ^ (h >> 32)));
}

#endif /* KMEM_TRACE_H */
