/*
 * malloc's recorder: every malloc, calloc, realloc, aligned allocation and
 * free of the process, written to a trace file in the format of
 * <kmem/trace.h> (docs/trace.md).  The "trace=FILE" option starts it.
 *
 * Per-thread buffers, no lock per event.  Each thread appends its events
 * to a buffer of its own (BUFFER_BYTES, mapped with mmap so the recorder
 * never calls malloc), reached through an initial-exec TLS pointer, and
 * writes the buffer as one block with one writev(2) when it is nearly full,
 * when the thread exits (a pthread key's destructor) and at process exit.
 * An event is encoded as it comes into the buffer's 4 KiB staging area,
 * nearly always as one short-form word (a few shifts and a store, no
 * loop), and the area is copied onto the block's payload when full.
 * Every store of the recorder's waits behind the program's pending cache
 * misses (larson, a loop of them), so an event makes few: the word, the
 * block's last address, the thread's stamp and the staged length (with
 * the count of events in the same word), all on lines the cache holds.
 * Staging the events' numbers raw and encoding them in a second pass, as
 * version 2's first recorder did, cost some 45 instructions an event
 * more; encoding with varints per call, or into the 60 KiB payload
 * directly (stores that stream through the cache), cost more still.
 * The file is opened O_APPEND, so the blocks of different threads never
 * interleave, and a process killed with SIGKILL leaves every block written
 * before: a reader reads them all, and at most one block cut short at the
 * end.
 *
 * Order without a shared counter.  Each event gets a stamp, a hybrid
 * logical clock: the thread's last stamp plus one, at least the time
 * since the trace's start shifted left by KMEM_TRACE_STAMP_SHIFT (so the
 * order follows the time wherever threads do not meet), and after
 * whatever must come before it.  Two events on one address need ordered
 * stamps when one happened before the other in another thread:
 *   - the allocation of an object, and its free (or realloc) by another
 *     thread, which the program ordered: the allocation raises its
 *     address's region (64 KiB, hashed into 512 words) in its thread's
 *     table of stamp_tables[] to its stamp -- a plain store, each table
 *     has one writer -- and a free reads the region in the other running
 *     threads' tables and in the shared one (the exited threads' and
 *     those beyond TABLES_PRIVATE, raised with a compare-and-swap), and
 *     stamps after them: a load per running thread, no atomic write;
 *   - the free of a buffer, and its reuse by another thread, which the
 *     allocator ordered: kmem hands a buffer one thread freed to another
 *     only through its slow paths (the depot, the slabs, vmem), and after
 *     those (kmem's slow hook, and malloc.c for large and guarded
 *     buffers) the thread stamps after every thread's last stamp
 *     (kmem_trace_sync(): each thread publishes its last stamp in its
 *     buffer, threads gone leave theirs in retired_stamp; the thread's
 *     floor is raised past them).  Buffers the thread
 *     takes from its own loaded magazine are its own frees or came
 *     through such a slow path, so they need nothing.
 * Merged by stamp, every address's allocations and frees come in the
 * order they happened, which is all a reader needs to number objects.
 * No locked instruction per event for up to TABLES_PRIVATE threads, which
 * would wait for the program's pending stores (larson lost half its speed
 * to one on a free, a quarter to one on an allocation), and no cache line
 * that every thread writes.
 *
 * Invariants: a buffer's committed fill (staged bytes and events, one
 * word) covers whole events only, and is stored with release order after
 * each event, so the exit handler may write another thread's staged
 * events up to it while that thread appends beyond.  The block's payload
 * (out, pos) changes only under buffers_lock, and always has room for a
 * whole staging area.  The thread's last stamp (stamp) is its last
 * staged event's: the stamp deltas of the staged events are from it, so
 * what raises the next stamp without an event (kmem_trace_sync(), the
 * clock) raises floor instead.  After the exit handler nothing more is
 * written (closed), so no event is written twice; events of threads
 * still running then are lost, as are a thread's unflushed events when
 * the process is killed.
 *
 * Buffers live on a list (buffers_lock: taken when a thread makes,
 * retires, encodes or writes its buffer, when it syncs its stamp, and at
 * exit, never per event); a
 * retired buffer is kept for the next thread, so programs that make
 * threads all the time do not map and unmap.  Lock order: buffers_lock is
 * a leaf (nothing is taken under it, nothing allocated); it may be taken
 * under a kmem lock, if kmem ever allocates from the C library while
 * holding one, so fork() does not take it: the child drops every buffer
 * but its own and makes the lock anew, and a list another thread was
 * changing at the fork is dropped with it.
 *
 * fork: the child keeps none of the parent's unwritten events (the parent
 * writes them).  With "%p" in the path, the child opens its own file and
 * records on; without, the child records nothing (its events would land
 * in its parent's file as the parent's).  A program started with exec
 * reads KMEM_OPTIONS again: with "%p" it gets its own file; without, it
 * takes over the file only if the process that wrote it no longer runs
 * (or is itself, before exec), so the first process of a tree keeps it.
 */
#define _GNU_SOURCE             /* program_invocation_name, syscall */
#include "malloc/malloc_impl.h"
#include "malloc_trace.h"

#include "base/format.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <kmem/malloc.h>

#include "kmem/kmem_query.h"

#define BUFFER_BYTES    (64 * 1024)

/*
 * The staging area: events encoded as the block's payload has them, a
 * short-form word for nearly every malloc and free, appended with a store
 * or two to 4 KiB the cache holds.  An event is staged at a length of at
 * most STAGE_LIMIT, so that the longest fits.
 */
#define STAGE_BYTES     4096
#define STAGE_LIMIT     (STAGE_BYTES - KMEM_TRACE_EVENT_MAX)
/* Staged bytes per event at least: the clock's schedule (clock_read())
 * counts events in them. */
#define EVENT_MIN_BYTES 8

typedef struct trace_buffer {
	struct trace_buffer *next;      /* on buffers, or on spare */
	uint32_t thread;                /* 1, 2, ...: this process's order */
	uint32_t tid;
	/* What each event reads and writes, on one line, the owner's. */
	uint64_t stamp;                 /* the thread's last event's stamp
	                                 * (atomic: kmem_trace_sync() reads
	                                 * it); the block's stamp deltas are
	                                 * from it */
	uint64_t floor;                 /* the next event's least stamp: the
	                                 * clock's, or after other threads'
	                                 * (kmem_trace_sync()) */
	uint64_t last_addr;             /* the block's last address */
	uint64_t fill;                  /* staged bytes | events << 32, stored
	                                 * with release order after each
	                                 * event: whole events */
	uint32_t limit;                 /* at this many staged bytes, the
	                                 * next event prepares (event_ready) */
	uint32_t clock_every;           /* events between clock readings */
	uint64_t clock_seen;            /* the clock's last reading, a stamp */
	uint64_t *table;                /* its regions' stamps (bucket_raise) */
	unsigned table_own;             /* its bit in tables_read, if the
	                                 * table is its own; 0: shared */
	/* The block being made (buffers_lock). */
	uint32_t pos;                   /* payload bytes in out[] */
	uint32_t nevents;
	uint64_t base_ns;               /* when the block was started */
	uint64_t base_stamp;            /* the stamp before its first event */
	unsigned char stage[STAGE_BYTES] __attribute__((aligned(8)));
	unsigned char out[];
} trace_buffer_t;

#define OUT_BYTES       (BUFFER_BYTES - sizeof (trace_buffer_t))

bool kmem_trace_on;
__thread bool kmem_trace_inside __attribute__((tls_model("initial-exec")));
__thread void *kmem_trace_skip __attribute__((tls_model("initial-exec")));

static __thread trace_buffer_t *self
    __attribute__((tls_model("initial-exec")));
/* Set while the thread makes its buffer: calls meanwhile are not
 * recorded (pthread_setspecific() may allocate). */
static __thread bool making __attribute__((tls_model("initial-exec")));

static pthread_mutex_t buffers_lock = PTHREAD_MUTEX_INITIALIZER;
static trace_buffer_t *buffers;         /* in use */
static trace_buffer_t *spare;           /* retired, for the next thread */
static uint32_t threads_seen;
static pthread_key_t exit_key;
static int trace_fd = -1;
static bool recording;                  /* this process writes its file */
static bool closed;                     /* the exit handler has run */
static char trace_path[PATH_MAX];       /* as given, "%p" and all */

/* ---- stamps ---- */

/*
 * The events' times: CLOCK_MONOTONIC_COARSE (the last tick, a read of
 * memory), since a precise clock costs a system call on some virtual
 * machines (390 ns on the one docs/benchmarks.md was measured on) and the
 * order comes from the stamps' logic, not from the clock.  Its resolution
 * goes in the header; stamp_start is the header's start time, the zero of
 * the stamps' time.
 */
#define TRACE_CLOCK     CLOCK_MONOTONIC_COARSE

static uint64_t stamp_start;

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(TRACE_CLOCK, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

/*
 * The regions' stamps (the theory above): 64 KiB of address space each,
 * hashed by their number into a table of STAMP_BUCKETS words, 4 KiB that
 * the cache keeps, as it would not 32 KiB (4 KiB regions in 4096 words
 * made more misses, for fewer collisions than it was worth).  A region's
 * word in a table is at least the stamp of every allocation in it that a
 * thread writing that table made.  Up to TABLES_PRIVATE running threads
 * have a table each, which only they write, with a plain store (a
 * thread's stamps only grow, and a table another thread left holds only
 * stamps below its next owner's: buffer_make() syncs).  The shared table
 * is raised with a compare-and-swap by the threads beyond, and by a
 * thread that exits, with its own table's words (table_give()), so that
 * a free needs to read only the tables of running threads and the
 * shared one: a load each, and no atomic read-modify-write, which would
 * wait for the program's pending stores (a quarter of larson's recording
 * time went to the compare-and-swap of a table all threads shared).
 * Collisions only make a free's stamp later than it need be.
 */
#define STAMP_REGION_SHIFT      16
#define STAMP_BUCKETS           512     /* 4 KiB, 32 MiB of address space */
#define TABLES_PRIVATE          8
#define TABLE_SHARED            TABLES_PRIVATE

static uint64_t stamp_tables[TABLES_PRIVATE + 1][STAMP_BUCKETS]
    __attribute__((aligned(64)));
/* Bit t: frees read stamp_tables[t], a running thread's or (TABLE_SHARED)
 * the shared one, once used.  Changed under buffers_lock, with release
 * order after what the tables got. */
static unsigned tables_read;
static unsigned tables_touched;         /* ever taken (fork_child() clears) */

static size_t
bucket_index(const void *addr)
{
	return (((uintptr_t)addr >> STAMP_REGION_SHIFT) & (STAMP_BUCKETS - 1));
}

/* s, or the first stamp after the region of addr's, if that is later,
 * for b's thread (its own table it need not read: its own allocations
 * came before in its order). */
static inline __attribute__((always_inline)) uint64_t
bucket_after(trace_buffer_t *b, uint64_t s, const void *addr)
{
	size_t i = bucket_index(addr);
	unsigned m = __atomic_load_n(&tables_read, __ATOMIC_ACQUIRE) &
	    ~b->table_own;
	while (m != 0) {
		unsigned t = (unsigned)__builtin_ctz(m);
		uint64_t v = __atomic_load_n(&stamp_tables[t][i],
		    __ATOMIC_RELAXED);
		if (v >= s)
			s = v + 1;
		m &= m - 1;
	}
	return (s);
}

/* Raise the word at p to s: only ever up, so a later reader (one the
 * program orders after this) sees s or more, whoever else raises it. */
static void
word_raise(uint64_t *p, uint64_t s)
{
	uint64_t v = __atomic_load_n(p, __ATOMIC_RELAXED);
	while (v < s && !__atomic_compare_exchange_n(p, &v, s, true,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* Raise addr's region in b's table to s, the thread's latest stamp. */
static inline __attribute__((always_inline)) void
bucket_raise(trace_buffer_t *b, const void *addr, uint64_t s)
{
	uint64_t *p = &b->table[bucket_index(addr)];
	if (__builtin_expect(b->table_own != 0, 1))
		__atomic_store_n(p, s, __ATOMIC_RELAXED);
	else
		word_raise(p, s);
}

/* A table for b's new thread: one of its own while any is free, else the
 * shared one; buffers_lock held. */
static void
table_take(trace_buffer_t *b)
{
	unsigned free = ~tables_read & ((1u << TABLES_PRIVATE) - 1);
	unsigned t = free != 0 ? (unsigned)__builtin_ctz(free) : TABLE_SHARED;
	b->table = stamp_tables[t];
	b->table_own = t != TABLE_SHARED ? 1u << t : 0;
	tables_touched |= 1u << t;
	__atomic_store_n(&tables_read, tables_read | 1u << t,
	    __ATOMIC_RELEASE);
}

/* b's thread exits: its table's stamps into the shared one, which frees
 * read from now on, and its table free for another thread; buffers_lock
 * held. */
static void
table_give(trace_buffer_t *b)
{
	if (b->table_own != 0) {
		uint64_t *shared = stamp_tables[TABLE_SHARED];
		for (size_t i = 0; i < STAMP_BUCKETS; i++)
			word_raise(&shared[i], b->table[i]);
		tables_touched |= 1u << TABLE_SHARED;
		__atomic_store_n(&tables_read, (tables_read & ~b->table_own) |
		    1u << TABLE_SHARED, __ATOMIC_RELEASE);
	}
	b->table = NULL;
	b->table_own = 0;
}

/*
 * Read the clock for b's thread, as a stamp, with len bytes staged, and
 * set when the next event prepares (b->limit): at the stage's end, or
 * when the clock is due.  A thread that finds the clock where it was (the
 * coarse clock ticks every few ms) reads it half as often next time, down
 * to every CLOCK_EVERY_MAX events; one that finds it moved reads it at
 * every event again.  The schedule counts events as EVENT_MIN_BYTES each,
 * so a reading comes no later than that.  So a busy thread pays for a
 * reading every 16 events, and an event's time is that of the thread's
 * last reading: the same tick for a busy thread, and no more than 15 of
 * its events late when it slows down.  The order does not depend on it.
 */
#define CLOCK_EVERY_MAX 16

/* The most time a stamp carries, so that stamps stay below 2^59: 2^51
 * ns, 26 days; a recording longer than that has later events at that
 * time, in their order. */
#define STAMP_TIME_MAX  (1ull << 51)

static void
clock_read(trace_buffer_t *b, uint32_t len)
{
	uint64_t now = now_ns(), t = now > stamp_start ? now - stamp_start : 0;
	uint64_t cs = (t < STAMP_TIME_MAX ? t : STAMP_TIME_MAX) <<
	    KMEM_TRACE_STAMP_SHIFT;
	if (cs != b->clock_seen)
		b->clock_every = 1;
	else if (b->clock_every < CLOCK_EVERY_MAX)
		b->clock_every *= 2;
	b->clock_seen = cs;
	if (cs > b->floor)
		b->floor = cs;
	uint32_t due = len + b->clock_every * EVENT_MIN_BYTES;
	b->limit = due < STAGE_LIMIT + 1 ? due : STAGE_LIMIT + 1;
}

/*
 * The stamp of b's thread's next event, which leaves an object live at
 * live and ends the one at ended (NULL: none): after the thread's last,
 * at least its floor, after ended's region; live's region raised to it.
 * event_commit() makes it the thread's last.
 */
static inline __attribute__((always_inline)) uint64_t
stamp_take(trace_buffer_t *b, const void *live, const void *ended)
{
	uint64_t s = b->stamp + 1;
	if (b->floor > s)
		s = b->floor;
	if (ended != NULL)
		s = bucket_after(b, s, ended);
	if (live != NULL)
		bucket_raise(b, live, s);
	return (s);
}

/* The stamps of threads gone (buffers_lock). */
static uint64_t retired_stamp;

/* Every thread's last stamp, and those of threads gone; buffers_lock
 * held. */
static uint64_t
stamps_max_locked(void)
{
	uint64_t m = retired_stamp;
	for (trace_buffer_t *o = buffers; o != NULL; o = o->next) {
		uint64_t v = __atomic_load_n(&o->stamp, __ATOMIC_RELAXED);
		if (v > m)
			m = v;
	}
	return (m);
}

/* ---- encoding ---- */

static unsigned char *
put_varint(unsigned char *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char)v;
	return (p);
}

static uint64_t
zigzag(int64_t d)
{
	return (((uint64_t)d << 1) ^ (uint64_t)(d >> 63));
}

/* An address as a zigzag delta from the block's previous one, *last. */
static unsigned char *
put_addr(unsigned char *p, uint64_t a, uint64_t *last)
{
	int64_t d = (int64_t)(a - *last);
	*last = a;
	return (put_varint(p, zigzag(d)));
}

/* The event of bytes just staged, stamped s: committed, s the thread's
 * last stamp (published for kmem_trace_sync()). */
static inline __attribute__((always_inline)) void
event_commit(trace_buffer_t *b, uint64_t s, uint32_t bytes)
{
	__atomic_store_n(&b->stamp, s, __ATOMIC_RELAXED);
	__atomic_store_n(&b->fill, b->fill + bytes + ((uint64_t)1 << 32),
	    __ATOMIC_RELEASE);
}

/*
 * A malloc or a free stamped s, staged in the short form (<kmem/trace.h>)
 * if it fits: one 64-bit word, the op byte with bit 7 set, the stamp's
 * delta in a byte, then for a malloc the size in 16 bits and the address
 * in 32, for a free the address in 48, an address as the zigzag delta
 * from the previous one in 16-byte units.  false if it does not fit (the
 * long form then: event_long()).  A few shifts and one store, and no
 * second pass over the event: encoding as the event comes costs less than
 * staging its numbers and encoding them later (issue 18's measurements,
 * docs/benchmarks.md).
 */
static inline __attribute__((always_inline)) bool
short_put(trace_buffer_t *b, unsigned op, uint64_t s, uint64_t size,
    uint64_t a)
{
	uint64_t ds = s - b->stamp, d = a - b->last_addr;
	uint64_t dz = zigzag((int64_t)d >> 4);
	unsigned addr_shift = op == KMEM_TRACE_FREE ? 16 : 32;
	if (ds > 0xff || (d & 15) != 0 || dz >> (64 - addr_shift) != 0 ||
	    size > 0xffff)
		return (false);
	uint64_t w = (KMEM_TRACE_SHORT | op) | ds << 8 | dz << addr_shift;
	if (op == KMEM_TRACE_MALLOC)
		w |= size << 16;
	/* little-endian hosts only (docs/trace.md) */
	memcpy(b->stage + (uint32_t)b->fill, &w, 8);
	b->last_addr = a;
	return (true);
}

/*
 * Any event stamped s in the long form, staged and committed: the op byte
 * (with a memalign's function fn), the stamp's delta, then the op's
 * numbers x, y, z in the order of docs/trace.md (a free: x, the address;
 * a malloc: x, y, the size and the address; a realloc: the old address,
 * the size and the new; a calloc or memalign: two numbers and the
 * address).  At most KMEM_TRACE_EVENT_MAX bytes.
 */
static __attribute__((noinline)) void
event_long(trace_buffer_t *b, uint64_t s, unsigned op, unsigned fn,
    uint64_t x, uint64_t y, uint64_t z)
{
	unsigned char *p0 = b->stage + (uint32_t)b->fill, *p = p0;
	*p = (unsigned char)(op | fn << KMEM_TRACE_FN_SHIFT);
	p = put_varint(p + 1, s - b->stamp);
	switch (op) {
	case KMEM_TRACE_FREE:
		p = put_addr(p, x, &b->last_addr);
		break;
	case KMEM_TRACE_MALLOC:
		p = put_varint(p, x);
		p = put_addr(p, y, &b->last_addr);
		break;
	case KMEM_TRACE_REALLOC:
		p = put_addr(p, x, &b->last_addr);
		p = put_varint(p, y);
		p = put_addr(p, z, &b->last_addr);
		break;
	default:        /* CALLOC, MEMALIGN: two numbers, an address */
		p = put_varint(p, x);
		p = put_varint(p, y);
		p = put_addr(p, z, &b->last_addr);
		break;
	}
	event_commit(b, s, (uint32_t)(p - p0));
}

static void
put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);       /* little-endian hosts only (docs/trace.md) */
}

static void
put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* ---- writing ---- */

/* Write all of iov, in one writev(2) unless the system cuts it short. */
static void
write_all(struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(trace_fd, iov, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++, n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
}

/* Write b's block; buffers_lock held. */
static void
block_write(trace_buffer_t *b)
{
	if (b->pos == 0 || !recording || closed)
		return;
	unsigned char hdr[KMEM_TRACE_BLOCK_HEADER];
	put32(hdr, KMEM_TRACE_BLOCK_MAGIC);
	put32(hdr + 4, b->pos);
	put32(hdr + 8, b->nevents);
	put32(hdr + 12, b->thread);
	put32(hdr + 16, b->tid);
	put32(hdr + 20, kmem_trace_checksum(b->out, b->pos));
	put64(hdr + 24, b->base_ns);
	put64(hdr + 32, b->base_stamp);
	struct iovec iov[2] = { { hdr, sizeof (hdr) }, { b->out, b->pos } };
	write_all(iov, 2);
}

/* Start b's next block: empty, its stamps deltas from the thread's last
 * (all staged events are in the block before); by the owner, or for it,
 * with buffers_lock held. */
static void
block_reset(trace_buffer_t *b)
{
	b->base_ns = now_ns();
	b->base_stamp = b->stamp;
	b->last_addr = 0;
	b->pos = 0;
	b->nevents = 0;
}

/* Append the staged events fill (bytes | events << 32, whole events) to
 * b's block; buffers_lock held.  It has room for a whole stage. */
static void
stage_copy(trace_buffer_t *b, uint64_t fill)
{
	memcpy(b->out + b->pos, b->stage, (uint32_t)fill);
	b->pos += (uint32_t)fill;
	b->nevents += (uint32_t)(fill >> 32);
}

/* The owner's staged events to its block; then, if the block has no room
 * for another stage, write it and start the next; buffers_lock held.
 * After the exit handler, nothing: the exit handler wrote what was
 * committed, and events after it are lost (thread_exit() too). */
static void
stage_flush_locked(trace_buffer_t *b)
{
	if (closed)
		return;
	stage_copy(b, b->fill);
	if (OUT_BYTES - b->pos < STAGE_BYTES) {
		block_write(b);
		block_reset(b);
	}
}

/* The stage full, between two events of the program: errno as the
 * program left it. */
static __attribute__((noinline, cold)) void
stage_flush(trace_buffer_t *b)
{
	int saved = errno;
	pthread_mutex_lock(&buffers_lock);
	stage_flush_locked(b);
	__atomic_store_n(&b->fill, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&buffers_lock);
	errno = saved;
}

/* The thread exits: its events to the file, its buffer to the spares. */
static void
thread_exit(void *arg)
{
	trace_buffer_t *b = arg;
	bool was_inside = kmem_trace_inside;
	kmem_trace_inside = true;       /* the calls below are not events */
	pthread_mutex_lock(&buffers_lock);
	stage_flush_locked(b);
	block_write(b);
	block_reset(b);
	b->fill = 0;
	if (b->stamp > retired_stamp)
		retired_stamp = b->stamp;
	table_give(b);
	for (trace_buffer_t **pp = &buffers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	}
	b->next = spare;
	spare = b;
	pthread_mutex_unlock(&buffers_lock);
	self = NULL;
	/* Events of later TLS destructors are lost: no buffer again. */
	making = true;
	kmem_trace_inside = was_inside;
}

/* A buffer's event state from the start: stamps after *stamp, the clock
 * read at the first event. */
static void
buffer_start(trace_buffer_t *b, uint64_t stamp)
{
	b->stamp = stamp;
	b->floor = 0;
	b->clock_seen = 0;
	b->clock_every = 1;
	b->limit = 0;
	b->fill = 0;
	block_reset(b);
}

/* The calling thread's buffer, made on its first event; NULL if it cannot
 * have one (being made, exiting, or no memory).  errno as it was. */
static __attribute__((noinline, cold)) trace_buffer_t *
buffer_make(void)
{
	if (making)
		return (NULL);
	int saved = errno;
	making = true;
	pthread_mutex_lock(&buffers_lock);
	trace_buffer_t *b = spare;
	if (b != NULL)
		spare = b->next;
	pthread_mutex_unlock(&buffers_lock);
	if (b == NULL) {
		void *m = mmap(NULL, BUFFER_BYTES, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) {
			errno = saved;
			return (NULL);  /* making stays set: no retry storm */
		}
		b = m;
	}
	b->tid = (uint32_t)syscall(SYS_gettid);
	pthread_mutex_lock(&buffers_lock);
	table_take(b);
	/* Its buffers may be other threads' frees: after all of them. */
	buffer_start(b, stamps_max_locked());
	b->thread = ++threads_seen;
	b->next = buffers;
	buffers = b;
	pthread_mutex_unlock(&buffers_lock);
	(void) pthread_setspecific(exit_key, b);
	self = b;
	making = false;
	errno = saved;
	return (b);
}

/*
 * The calling thread's buffer if it can take an event with nothing slow
 * to do first: made, and neither its stage's end nor its clock reading
 * due (one test: b->limit); else NULL, and event_prepare() does it.
 */
static inline __attribute__((always_inline)) trace_buffer_t *
event_ready(void)
{
	trace_buffer_t *b = self;
	if (__builtin_expect(b == NULL || (uint32_t)b->fill >= b->limit, 0))
		return (NULL);
	return (b);
}

/* The calling thread's buffer made ready for an event; NULL when the
 * event cannot be recorded. */
static __attribute__((noinline)) trace_buffer_t *
event_prepare(void)
{
	trace_buffer_t *b = self;
	if (b == NULL && (b = buffer_make()) == NULL)
		return (NULL);
	uint32_t len = (uint32_t)b->fill;
	if (len > STAGE_LIMIT) {
		stage_flush(b);
		len = 0;
	}
	clock_read(b, len);
	return (b);
}

/* ---- events (malloc_trace.h) ---- */

/*
 * The events' bodies, given a ready buffer.  Each entry inlines its body
 * twice: after event_ready(), with no call (so no register is saved: a
 * store less, and every store waits behind the program's pending cache
 * misses), and in a cold copy after event_prepare().  The hooks kmem
 * calls for every class buffer's malloc() and free() are such entries.
 */
static inline __attribute__((always_inline)) void
alloc_body(trace_buffer_t *b, unsigned op, unsigned fn, size_t a,
    size_t size, const void *buf)
{
	uint64_t s = stamp_take(b, buf, NULL);
	if (op != KMEM_TRACE_MALLOC)
		event_long(b, s, op, fn, a, size, (uintptr_t)buf);
	else if (short_put(b, op, s, size, (uintptr_t)buf))
		event_commit(b, s, 8);
	else
		event_long(b, s, op, 0, size, (uintptr_t)buf, 0);
}

static __attribute__((noinline, cold)) void
alloc_prepared(unsigned op, unsigned fn, size_t a, size_t size,
    const void *buf)
{
	trace_buffer_t *b = event_prepare();
	if (b != NULL)
		alloc_body(b, op, fn, a, size, buf);
}

static inline __attribute__((always_inline)) void
record_alloc(unsigned op, unsigned fn, size_t a, size_t size,
    const void *buf)
{
	trace_buffer_t *b = event_ready();
	if (__builtin_expect(b == NULL, 0))
		alloc_prepared(op, fn, a, size, buf);
	else
		alloc_body(b, op, fn, a, size, buf);
}

static inline __attribute__((always_inline)) void
free_body(trace_buffer_t *b, const void *ptr)
{
	uint64_t s = stamp_take(b, NULL, ptr);
	if (short_put(b, KMEM_TRACE_FREE, s, 0, (uintptr_t)ptr))
		event_commit(b, s, 8);
	else
		event_long(b, s, KMEM_TRACE_FREE, 0, (uintptr_t)ptr, 0, 0);
}

static __attribute__((noinline, cold)) void
free_prepared(const void *ptr)
{
	trace_buffer_t *b = event_prepare();
	if (b != NULL)
		free_body(b, ptr);
}

static inline __attribute__((always_inline)) void
record_free(const void *ptr)
{
	trace_buffer_t *b = event_ready();
	if (__builtin_expect(b == NULL, 0))
		free_prepared(ptr);
	else
		free_body(b, ptr);
}

void
kmem_trace_alloc(unsigned op, unsigned fn, size_t a, size_t size,
    const void *buf)
{
	record_alloc(op, fn, a, size, buf);
}

void
kmem_trace_realloc(const void *old, size_t size, const void *buf)
{
	trace_buffer_t *b = event_ready();
	if (b == NULL && (b = event_prepare()) == NULL)
		return;
	/* What lives on: the new buffer, or the old one if it failed. */
	uint64_t s = stamp_take(b, buf != NULL ? buf : size != 0 ? old : NULL,
	    old);
	event_long(b, s, KMEM_TRACE_REALLOC, 0, (uintptr_t)old, size,
	    (uintptr_t)buf);
}

void
kmem_trace_free(const void *ptr)
{
	record_free(ptr);
}

/*
 * The calling thread may hold buffers other threads freed: its next
 * stamps after all of theirs (the theory above).  Once per slow path of
 * kmem's, and for every large or guarded buffer.
 */
void
kmem_trace_sync(void)
{
	trace_buffer_t *b = self;
	if (b == NULL)
		return;         /* buffer_make() syncs */
	pthread_mutex_lock(&buffers_lock);
	uint64_t m = stamps_max_locked();
	pthread_mutex_unlock(&buffers_lock);
	if (m >= b->floor)
		b->floor = m + 1;
}

/* The rest of alloc_hook(), in calls it returns from with buf: so its
 * hot path keeps nothing across a call (no register saved: a store
 * less). */
static __attribute__((noinline, cold)) void *
alloc_hook_prepared(void *buf, size_t size)
{
	alloc_prepared(KMEM_TRACE_MALLOC, 0, 0, size, buf);
	return (buf);
}

static __attribute__((noinline)) void *
alloc_hook_long(trace_buffer_t *b, uint64_t s, void *buf, size_t size)
{
	event_long(b, s, KMEM_TRACE_MALLOC, 0, size, (uintptr_t)buf, 0);
	return (buf);
}

/* kmem's hooks (kmem_query.h): a class buffer's malloc() and free(). */
static void *
alloc_hook(void *buf, size_t size)
{
	if (kmem_trace_inside)
		return (buf);
	trace_buffer_t *b = event_ready();
	if (__builtin_expect(b == NULL, 0))
		return (alloc_hook_prepared(buf, size));
	uint64_t s = stamp_take(b, buf, NULL);
	if (!short_put(b, KMEM_TRACE_MALLOC, s, size, (uintptr_t)buf))
		return (alloc_hook_long(b, s, buf, size));
	event_commit(b, s, 8);
	return (buf);
}

static void
free_hook(void *buf)
{
	if (!kmem_trace_inside && buf != kmem_trace_skip)
		record_free(buf);
}

/* ---- the file ---- */

/*
 * May this process take over the existing trace file fd?  Only if the
 * process that wrote it is gone, or is this one (which wrote it before an
 * exec), or it is no trace at all.
 */
static bool
may_take_over(int fd)
{
	unsigned char h[16];
	if (pread(fd, h, sizeof (h), 0) != (ssize_t)sizeof (h) ||
	    memcmp(h, KMEM_TRACE_MAGIC, KMEM_TRACE_MAGIC_LEN) != 0)
		return (true);
	uint32_t pid;
	memcpy(&pid, h + 12, 4);
	if ((pid_t)pid == getpid())
		return (true);
	return (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

static void
header_write(void)
{
	unsigned char h[KMEM_TRACE_HEADER_FIXED + 256];
	char exe[PATH_MAX];
	const char *name = program_invocation_name;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof (exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		name = exe;
	}
	size_t len = strlen(name);
	if (len > 256)
		name += len - 256, len = 256;   /* the end says the most */
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	memcpy(h, KMEM_TRACE_MAGIC, KMEM_TRACE_MAGIC_LEN);
	uint16_t v16 = KMEM_TRACE_VERSION;
	memcpy(h + 8, &v16, 2);
	v16 = (uint16_t)(KMEM_TRACE_HEADER_FIXED + len);
	memcpy(h + 10, &v16, 2);
	put32(h + 12, (uint32_t)getpid());
	put32(h + 16, (uint32_t)sysconf(_SC_PAGESIZE));
	struct timespec res;
	if (clock_getres(TRACE_CLOCK, &res) != 0)
		res.tv_sec = res.tv_nsec = 0;
	put32(h + 20, KMEM_TRACE_CLOCK_MONOTONIC_COARSE);
	put32(h + 24, (uint32_t)((uint64_t)res.tv_sec * 1000000000u +
	    (uint64_t)res.tv_nsec));
	put32(h + 28, 0);
	stamp_start = now_ns();
	put64(h + 32, stamp_start);
	put64(h + 40, (uint64_t)wall.tv_sec * 1000000000u +
	    (uint64_t)wall.tv_nsec);
	v16 = (uint16_t)len;
	memcpy(h + 48, &v16, 2);
	memcpy(h + KMEM_TRACE_HEADER_FIXED, name, len);
	struct iovec iov = { h, KMEM_TRACE_HEADER_FIXED + len };
	write_all(&iov, 1);
}

/* Open this process's file and write its header; false, with err, if it
 * cannot be opened.  Not taking over another live process's file is no
 * error: this process just records nothing. */
static bool
file_open(char *err, size_t errlen)
{
	char name[PATH_MAX];
	if (!kmem_malloc_path_expand(trace_path, name, sizeof (name))) {
		kmem_snprintf(err, errlen, "trace file name too long");
		return (false);
	}
	int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC,
	    0644);
	if (fd < 0 && errno == EEXIST) {
		fd = open(name, O_RDWR | O_APPEND | O_CLOEXEC);
		if (fd >= 0 && !may_take_over(fd)) {
			close(fd);
			recording = false;
			return (true);
		}
		if (fd >= 0 && ftruncate(fd, 0) != 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		kmem_snprintf(err, errlen, "cannot open trace file %s: %s",
		    name, strerror(errno));
		return (false);
	}
	trace_fd = fd;
	recording = true;
	header_write();
	return (true);
}

static void
at_exit(void)
{
	kmem_trace_inside = true;
	pthread_mutex_lock(&buffers_lock);
	/* Another thread may be appending: its events up to its committed
	 * length are whole. */
	for (trace_buffer_t *b = buffers; b != NULL; b = b->next) {
		stage_copy(b, __atomic_load_n(&b->fill, __ATOMIC_ACQUIRE));
		block_write(b);
	}
	closed = true;
	pthread_mutex_unlock(&buffers_lock);
}

/* The child: the parent's unwritten events are the parent's to write. */
static void
fork_child(void)
{
	pthread_mutex_init(&buffers_lock, NULL);
	buffers = NULL;
	spare = NULL;
	threads_seen = 0;
	trace_buffer_t *b = self;
	if (trace_fd >= 0)
		close(trace_fd);
	trace_fd = -1;
	recording = false;
	/* The parent's stamps are of its file: the child's, if it has one,
	 * count from its own start (file_open()).  The other threads'
	 * buffers are gone, and their tables with them. */
	for (unsigned t = 0; t <= TABLE_SHARED; t++) {
		if (tables_touched & 1u << t)
			memset(stamp_tables[t], 0, sizeof (stamp_tables[t]));
	}
	tables_read = tables_touched = 0;
	retired_stamp = 0;
	if (strstr(trace_path, "%p") != NULL) {
		char err[128];
		(void) file_open(err, sizeof (err));
	}
	if (b != NULL) {
		b->tid = (uint32_t)syscall(SYS_gettid);
		b->thread = ++threads_seen;
		b->next = NULL;
		buffers = b;
		table_take(b);
		buffer_start(b, 0);     /* the new file's stamps */
	}
}

int
kmem_trace_start(const char *path, char *err, size_t errlen)
{
	if (kmem_trace_on) {
		kmem_snprintf(err, errlen, "trace: already recording");
		return (-1);
	}
	if (strlen(path) >= sizeof (trace_path)) {
		kmem_snprintf(err, errlen, "trace file name too long");
		return (-1);
	}
	strcpy(trace_path, path);
	kmem_trace_inside = true;       /* what the calls below allocate */
	bool ok = file_open(err, errlen) &&
	    pthread_key_create(&exit_key, thread_exit) == 0;
	if (ok) {
		(void) pthread_atfork(NULL, NULL, fork_child);
		(void) atexit(at_exit);
		__atomic_store_n(&kmem_trace_on, true, __ATOMIC_RELEASE);
		kmem_malloc_divert(alloc_hook, free_hook, kmem_trace_sync);
	}
	kmem_trace_inside = false;
	return (ok ? 0 : -1);
}
