/*
 * Sampled guard pages ("guard=N": docs/debugging.md): about one malloc() in
 * N, drawn at random by malloc.c, gets a page of its own between two
 * inaccessible pages, so that the heap errors of a program in production
 * are caught at a cost it can keep paying -- the design tcmalloc and
 * Android call GWP-ASan, on the firewall's tools (kmem_firewall.c): pages
 * from the platform, their protection, a quarantine of freed ones, the
 * debugging layer's stacks and reports.
 *
 * The pool is one range of address space, mapped once when the rate is
 * first set, so that free() knows a guarded buffer by a range check on
 * its slow path (malloc.c: no slab in the page map) and the fast paths pay
 * nothing for it:
 *
 *	| guard | slot 0 | guard | slot 1 | ... | guard | slot S-1 | guard |
 *
 * Every even page is a guard page, inaccessible for good; slot i is page
 * 2i + 1.  A slot holds one buffer of at most a page.  Guarded buffers
 * alternate between the two ends of their slot: a right-aligned one ends
 * at the guard above (as near as malloc's alignment allows: fewer than 16
 * bytes of slack, or none for a multiple of 16), so reading or writing
 * past its end faults at once; a left-aligned one starts at the guard
 * below, so an underflow faults at once.  The bytes of the slot around the
 * buffer hold KMEM_REDZONE_BYTE, checked at free, so an overrun or
 * underrun that stayed within the slot is reported then.
 *
 * A slot's life: UNUSED (accessible, never handed out) -> LIVE -> FREED
 * (made inaccessible, so a use after free faults; its stacks kept for the
 * reports) -> LIVE again when reused.  Unused slots are taken first, then
 * the freed ones, oldest first (a FIFO: the quarantine), so a freed slot
 * stays protected as long as the pool allows.  When no slot is unused or
 * freed the sample is simply not guarded.  The pool's memory is bounded:
 * GUARD_SLOTS pages resident at most (a freed slot's page is not given
 * back: reusing it costs one mprotect() instead of two system calls and a
 * fault), plus the slots' records.
 *
 * Each guarded buffer costs system calls (an mprotect() at its free, and
 * one when its slot is reused: each a TLB flush across the process's
 * threads, tens of microseconds on some virtual machines) and two stack
 * walks, thousands of times a malloc().  So that guard=N can stay on in a
 * program that allocates millions of times a second, the guard pages'
 * work is held to a budget: the time spent guarding and freeing guarded
 * buffers may not exceed GUARD_BURST_NS plus GUARD_BUDGET_PPM millionths
 * of the time since the rate was set (0.5%); a sample that comes when it is
 * spent is not guarded, as when the pool is full.  The time is read only
 * on a sample's path.
 *
 * A fault in the pool (platform's fault hook) or a bad free is reported
 * with the allocation's stack and, for a freed buffer, the free's; the
 * default report handler aborts.  If the handler returns, the access is
 * let through: the page touched is made accessible for good, and the
 * slots beside it (or the slot itself) retired -- never used again, so no
 * later buffer sits against an open guard or in an open freed slot.
 *
 * Locking: kmem_guard_lock (KMEM_RANK_GUARD, a leaf) guards the slots and
 * the queue; protections change under it (mprotect() calls nothing of
 * ours), stacks are taken and reports made without it (the unwinder may
 * allocate).  The pool's bounds are written once, before the rate that
 * lets malloc.c sample, and read without the lock.  fork() holds the lock
 * (kmem_fork.c); the child inherits the pool as it was.
 */
#include "kmem_impl.h"

#include <stdarg.h>

#include "base/format.h"
#include "base/lock_order.h"
#include "base/report.h"

#define GUARD_SLOTS     256
#define GUARD_DEPTH     32
#define NO_SLOT         UINT32_MAX
#define GUARD_BUDGET_PPM 5000                   /* 0.5% of the run time */
#define GUARD_BURST_NS  (5 * 1000000ULL)        /* ... plus 5 ms */

typedef enum slot_state {
	SLOT_UNUSED = 0,
	SLOT_TAKEN,             /* being handed out: not yet a buffer */
	SLOT_LIVE,
	SLOT_FREED,
} slot_state_t;

typedef struct guard_stack {
	uint64_t thread;
	uint64_t time_ns;
	unsigned depth;
	uintptr_t pcs[GUARD_DEPTH];
} guard_stack_t;

/*
 * A slot's record.  It holds its buffer's offset in the slot's page, not
 * its address: the records are in the library's data, which the leak
 * scan reads as roots, and must not keep the buffers they describe alive.
 */
typedef struct guard_slot {
	uint32_t index;
	uint32_t offset;        /* of the buffer in the slot's page */
	size_t size;            /* what malloc() asked for (at least 1) */
	slot_state_t state;
	bool retired;           /* a report let an access through: keep out */
	guard_stack_t alloc;
	guard_stack_t free;     /* while FREED */
} guard_slot_t;

kmem_mutex_t kmem_guard_lock = KMEM_MUTEX_INITIALIZER(KMEM_RANK_GUARD);

static uintptr_t pool_lo;       /* the pool: [pool_lo, pool_lo + pool_size) */
static size_t pool_size;
static unsigned guard_rate;     /* guard=N; 0: off */
static guard_slot_t slots[GUARD_SLOTS];
static uint32_t unused_next;    /* slots from here on were never used */
static uint32_t queue[GUARD_SLOTS];     /* freed slots, oldest first */
static uint32_t queue_head;
static uint32_t queue_count;
static bool right_next;         /* the next buffer's end: alternates */
/* The budget (atomics): what may be spent, from when, and what was. */
static uint32_t budget_ppm = GUARD_BUDGET_PPM;  /* 0: no budget */
static uint64_t budget_burst_ns = GUARD_BURST_NS;
static uint64_t budget_start_ns;
static uint64_t budget_spent_ns;

static size_t
page_size(void)
{
	return (kmem_pagesize());
}

static uintptr_t
slot_page(uint32_t i)
{
	return (pool_lo + (2 * (size_t)i + 1) * page_size());
}

/* The buffer of slot s (or of a copy of it). */
static uintptr_t
buf_of(const guard_slot_t *s)
{
	return (slot_page(s->index) + s->offset);
}

static void
stack_take(guard_stack_t *st)
{
	st->thread = kmem_thread_id();
	st->time_ns = kmem_clock_ns();
	st->depth = kmem_backtrace(st->pcs, GUARD_DEPTH, 0);
}

/* ---- the budget ---- */

static void
budget_restart(void)
{
	__atomic_store_n(&budget_spent_ns, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&budget_start_ns, kmem_clock_ns(), __ATOMIC_RELAXED);
}

/* May a buffer be guarded at now? */
static bool
budget_allows(uint64_t now)
{
	uint64_t ppm = __atomic_load_n(&budget_ppm, __ATOMIC_RELAXED);
	if (ppm == 0)
		return (true);
	uint64_t start = __atomic_load_n(&budget_start_ns, __ATOMIC_RELAXED);
	uint64_t elapsed = now > start ? now - start : 0;
	uint64_t allowance = __atomic_load_n(&budget_burst_ns,
	    __ATOMIC_RELAXED) + elapsed / 1000000 * ppm +
	    elapsed % 1000000 * ppm / 1000000;
	return (__atomic_load_n(&budget_spent_ns, __ATOMIC_RELAXED) <=
	    allowance);
}

/* The work that began at since is done: count it. */
static void
budget_charge(uint64_t since)
{
	uint64_t now = kmem_clock_ns();
	(void) __atomic_fetch_add(&budget_spent_ns, now > since ? now - since :
	    0, __ATOMIC_RELAXED);
}

void
kmem_guard_budget_set(uint32_t ppm, uint64_t burst_ns)
{
	__atomic_store_n(&budget_ppm, ppm, __ATOMIC_RELAXED);
	__atomic_store_n(&budget_burst_ns, burst_ns, __ATOMIC_RELAXED);
	budget_restart();
}

/* ---- the rate and the pool ---- */

static bool guard_fault(uintptr_t addr);

/* Map the pool, all inaccessible but the slots (lock held). */
static bool
pool_create(void)
{
	size_t page = page_size();
	size_t size = (2 * (size_t)GUARD_SLOTS + 1) * page;
	unsigned char *lo = kmem_pages_alloc(size);
	if (lo == NULL)
		return (false);
	for (size_t i = 0; i <= GUARD_SLOTS; i++) {
		if (!kmem_pages_protect(lo + 2 * i * page, page, false)) {
			kmem_pages_free(lo, size);
			return (false);
		}
	}
	if (!kmem_fault_hook_set(guard_fault)) {
		kmem_pages_free(lo, size);
		return (false);
	}
	__atomic_store_n(&pool_size, size, __ATOMIC_RELAXED);
	__atomic_store_n(&pool_lo, (uintptr_t)lo, __ATOMIC_RELEASE);
	return (true);
}

bool
kmem_guard_rate_set(unsigned rate)
{
	bool ok = true;
	kmem_mutex_enter(&kmem_guard_lock);
	if (rate != 0 && pool_lo == 0)
		ok = pool_create();
	if (ok && rate != 0 && guard_rate == 0)
		budget_restart();
	if (ok)
		__atomic_store_n(&guard_rate, rate, __ATOMIC_RELEASE);
	kmem_mutex_exit(&kmem_guard_lock);
	return (ok);
}

unsigned
kmem_guard_rate(void)
{
	return (__atomic_load_n(&guard_rate, __ATOMIC_ACQUIRE));
}

bool
kmem_guard_holds(const void *buf)
{
	uintptr_t lo = __atomic_load_n(&pool_lo, __ATOMIC_ACQUIRE);
	return ((uintptr_t)buf - lo <
	    __atomic_load_n(&pool_size, __ATOMIC_RELAXED));
}

/* ---- allocation ---- */

/* A slot to use, taken (lock held); NO_SLOT when the pool is full. */
static uint32_t
slot_take(void)
{
	uint32_t i = NO_SLOT;
	while (unused_next < GUARD_SLOTS && i == NO_SLOT)
		if (!slots[unused_next++].retired)
			i = unused_next - 1;
	if (i == NO_SLOT) {
		while (queue_count > 0 && i == NO_SLOT) {
			uint32_t q = queue[queue_head];
			queue_head = (queue_head + 1) % GUARD_SLOTS;
			queue_count--;
			if (!slots[q].retired)
				i = q;
		}
		if (i != NO_SLOT)
			(void) kmem_pages_protect((void *)slot_page(i),
			    page_size(), true);
	}
	if (i != NO_SLOT)
		slots[i].state = SLOT_TAKEN;
	return (i);
}

void *
kmem_guard_alloc(size_t size, size_t align)
{
	size_t page = page_size();
	if (size == 0)
		size = 1;
	if (size > page || align > page || kmem_guard_rate() == 0)
		return (NULL);
	uint64_t begun = kmem_clock_ns();
	if (!budget_allows(begun))
		return (NULL);
	kmem_mutex_enter(&kmem_guard_lock);
	uint32_t i = slot_take();
	bool right = right_next;
	right_next = !right_next;
	kmem_mutex_exit(&kmem_guard_lock);
	if (i == NO_SLOT)
		return (NULL);

	guard_stack_t st;
	stack_take(&st);
	unsigned char *lo = (unsigned char *)slot_page(i);
	unsigned char *buf = right ? (unsigned char *)p2_align(
	    (uintptr_t)lo + page - size, align) : lo;
	/* A reused slot holds its last buffer's bytes: the slack gets the
	 * pattern again, and the buffer, as malloc's own, whatever it held. */
	__builtin_memset(lo, KMEM_REDZONE_BYTE, (size_t)(buf - lo));
	__builtin_memset(buf + size, KMEM_REDZONE_BYTE,
	    (size_t)(lo + page - buf) - size);

	kmem_mutex_enter(&kmem_guard_lock);
	guard_slot_t *s = &slots[i];
	s->index = i;
	s->offset = (uint32_t)(buf - lo);
	s->size = size;
	s->alloc = st;
	s->state = SLOT_LIVE;
	kmem_mutex_exit(&kmem_guard_lock);
	budget_charge(begun);
	return (buf);
}

/* ---- reports ---- */

static const char *const headings[2] = { "allocated", "freed" };

/* Report about the buffer of s (a copy), with its stacks. */
static void
report_slot(const guard_slot_t *s, const char *fmt, ...)
    KMEM_PRINTFLIKE(2, 3);

static void
report_slot(const guard_slot_t *s, const char *fmt, ...)
{
	char message[256];
	va_list ap;
	va_start(ap, fmt);
	(void) kmem_vsnprintf(message, sizeof (message), fmt, ap);
	va_end(ap);
	kmem_transaction_t tx[2] = {
		{ .op = KMEM_OP_ALLOC, .thread = s->alloc.thread,
		    .time_ns = s->alloc.time_ns, .depth = s->alloc.depth,
		    .pcs = s->alloc.pcs },
		{ .op = KMEM_OP_FREE, .thread = s->free.thread,
		    .time_ns = s->free.time_ns, .depth = s->free.depth,
		    .pcs = s->free.pcs },
	};
	kmem_debug_report_history((void *)buf_of(s), tx, headings,
	    s->state == SLOT_FREED ? 2 : 1, "%s", message);
}

/* ---- free ---- */

/*
 * The slot whose buffer starts at buf, a pointer in the pool, LIVE or
 * FREED (lock held); NO_SLOT when buf starts none.
 */
static uint32_t
slot_of(const void *buf)
{
	size_t page_index = ((uintptr_t)buf - pool_lo) / page_size();
	if (page_index % 2 == 0)
		return (NO_SLOT);
	uint32_t i = (uint32_t)(page_index / 2);
	if ((slots[i].state == SLOT_LIVE || slots[i].state == SLOT_FREED) &&
	    buf_of(&slots[i]) == (uintptr_t)buf)
		return (i);
	return (NO_SLOT);
}

/* Do the n bytes at p all hold the slack's pattern?  A word at a time
 * where they are aligned: a free scans up to a page of slack. */
static bool
slack_whole(const unsigned char *p, size_t n)
{
	const uint64_t pattern = 0x0101010101010101ULL * KMEM_REDZONE_BYTE;
	while (n > 0 && ((uintptr_t)p & 7) != 0) {
		if (*p++ != KMEM_REDZONE_BYTE)
			return (false);
		n--;
	}
	for (; n >= 8; p += 8, n -= 8)
		if (*(const uint64_t *)(const void *)p != pattern)
			return (false);
	for (; n > 0; p++, n--)
		if (*p != KMEM_REDZONE_BYTE)
			return (false);
	return (true);
}

/*
 * The byte of the slack around s's buffer that lost the pattern nearest
 * the buffer's end, else nearest its start: its offset from the buffer
 * (negative before it) in *offset; false when the slack is whole.
 */
static bool
slack_damaged(const guard_slot_t *s, ptrdiff_t *offset)
{
	const unsigned char *lo = (const unsigned char *)slot_page(s->index);
	const unsigned char *buf = lo + s->offset;
	const unsigned char *end = buf + s->size;
	const unsigned char *hi = lo + page_size();
	if (!slack_whole(end, (size_t)(hi - end))) {
		const unsigned char *p = end;
		while (*p == KMEM_REDZONE_BYTE)
			p++;
		*offset = p - buf;
		return (true);
	}
	if (!slack_whole(lo, (size_t)(buf - lo))) {
		const unsigned char *p = buf - 1;
		while (*p == KMEM_REDZONE_BYTE)
			p--;
		*offset = p - buf;
		return (true);
	}
	return (false);
}

/* buf, in the pool, is no buffer to free or ask about: say why. */
static void
report_stranger(const void *buf, const char *caller)
{
	kmem_mutex_enter(&kmem_guard_lock);
	uint32_t i = NO_SLOT;
	size_t page_index = ((uintptr_t)buf - pool_lo) / page_size();
	if (page_index % 2 == 1 && slots[page_index / 2].state == SLOT_LIVE)
		i = (uint32_t)(page_index / 2);
	guard_slot_t s;
	if (i != NO_SLOT)
		s = slots[i];
	kmem_mutex_exit(&kmem_guard_lock);
	if (i != NO_SLOT)
		report_slot(&s, "%s(%p): not a pointer malloc returned: inside "
		    "guarded buffer %p (%zu bytes)", caller, buf,
		    (void *)buf_of(&s), s.size);
	else
		kmem_debug_report_history(buf, NULL, NULL, 0, "%s(%p): not a "
		    "pointer malloc returned (in the guard pages' pool)",
		    caller, buf);
}

void
kmem_guard_free(void *buf)
{
	uint64_t begun = kmem_clock_ns();
	guard_stack_t st;
	stack_take(&st);
	kmem_mutex_enter(&kmem_guard_lock);
	uint32_t i = slot_of(buf);
	if (i == NO_SLOT || slots[i].state == SLOT_FREED) {
		guard_slot_t s;
		if (i != NO_SLOT)
			s = slots[i];
		kmem_mutex_exit(&kmem_guard_lock);
		if (i == NO_SLOT)
			report_stranger(buf, "free");
		else
			report_slot(&s, "double free: guarded buffer %p "
			    "(%zu bytes) is already free", buf, s.size);
		return;
	}
	guard_slot_t *s = &slots[i];
	/* The caller's free announced the block gone (poison.h): ours now. */
	kmem_unpoison((void *)slot_page(i), page_size());
	ptrdiff_t offset;
	bool damaged = slack_damaged(s, &offset);
	s->free = st;
	s->state = SLOT_FREED;
	(void) kmem_pages_protect((void *)slot_page(i), page_size(), false);
	if (!s->retired) {
		queue[(queue_head + queue_count) % GUARD_SLOTS] = i;
		queue_count++;
	}
	guard_slot_t copy = *s;
	kmem_mutex_exit(&kmem_guard_lock);
	budget_charge(begun);
	if (damaged && offset >= 0)
		report_slot(&copy, "buffer overrun: guarded buffer %p (%zu "
		    "bytes) was written past its end, at offset %zu", buf,
		    copy.size, (size_t)offset);
	else if (damaged)
		report_slot(&copy, "buffer underrun: guarded buffer %p (%zu "
		    "bytes) was written before its start, at offset -%zu", buf,
		    copy.size, (size_t)-offset);
}

size_t
kmem_guard_size(const void *buf, const char *caller)
{
	kmem_mutex_enter(&kmem_guard_lock);
	uint32_t i = slot_of(buf);
	guard_slot_t s;
	if (i != NO_SLOT)
		s = slots[i];
	kmem_mutex_exit(&kmem_guard_lock);
	if (i == NO_SLOT) {
		report_stranger(buf, caller);
		return (0);
	}
	if (s.state == SLOT_FREED) {
		report_slot(&s, "%s(%p): guarded buffer %p (%zu bytes) was "
		    "freed already", caller, buf, buf, s.size);
		return (0);
	}
	return (s.size);
}

/* ---- faults ---- */

/* What a fault at addr, in the pool, touched (lock held). */
typedef struct fault {
	uint32_t slot;          /* whose buffer it is blamed on, or NO_SLOT */
	uintptr_t page;         /* the page touched */
} fault_t;

/* The LIVE (else FREED) neighbour of a guard page nearest to addr. */
static uint32_t
nearest(uintptr_t addr, size_t page_index)
{
	uint32_t best = NO_SLOT;
	size_t best_distance = SIZE_MAX;
	slot_state_t best_state = SLOT_UNUSED;
	for (int side = 0; side < 2; side++) {
		if ((side == 0 && page_index == 0) ||
		    (side == 1 && page_index / 2 >= GUARD_SLOTS))
			continue;
		uint32_t i = (uint32_t)(page_index / 2) - (side == 0);
		const guard_slot_t *s = &slots[i];
		if (s->state != SLOT_LIVE && s->state != SLOT_FREED)
			continue;
		uintptr_t buf = buf_of(s);
		size_t distance = side == 0 ? addr - (buf + s->size) :
		    buf - addr;
		bool better = best == NO_SLOT ||
		    (s->state == SLOT_LIVE && best_state == SLOT_FREED) ||
		    (s->state == best_state && distance < best_distance);
		if (better) {
			best = i;
			best_distance = distance;
			best_state = s->state;
		}
	}
	return (best);
}

static bool
guard_fault(uintptr_t addr)
{
	if (!kmem_guard_holds((void *)addr))
		return (false);
	size_t page_index = (addr - pool_lo) / page_size();
	fault_t f = { .page = pool_lo + page_index * page_size() };
	kmem_mutex_enter(&kmem_guard_lock);
	if (page_index % 2 == 0)
		f.slot = nearest(addr, page_index);
	else if (slots[page_index / 2].state == SLOT_FREED)
		f.slot = (uint32_t)(page_index / 2);
	else
		f.slot = NO_SLOT;
	guard_slot_t s;
	uintptr_t buf = 0;
	if (f.slot != NO_SLOT) {
		s = slots[f.slot];
		buf = buf_of(&s);
	}
	/* The page is opened below, if the report handler returns: no slot
	 * beside it may take a buffer again. */
	if (page_index % 2 == 1) {
		slots[page_index / 2].retired = true;
	} else {
		if (page_index > 0)
			slots[page_index / 2 - 1].retired = true;
		if (page_index / 2 < GUARD_SLOTS)
			slots[page_index / 2].retired = true;
	}
	kmem_mutex_exit(&kmem_guard_lock);

	if (f.slot == NO_SLOT) {
		kmem_debug_report_history(NULL, NULL, NULL, 0, "wild access: "
		    "%p is in the guard pages' pool, near no guarded buffer",
		    (void *)addr);
	} else if (s.state == SLOT_FREED) {
		bool before = addr < buf;
		report_slot(&s, "use after free: access at offset %s%zu of "
		    "guarded buffer %p (%zu bytes), which is free",
		    before ? "-" : "", before ? buf - addr : addr - buf,
		    (void *)buf, s.size);
	} else if (addr >= buf) {
		report_slot(&s, "buffer overflow: access at offset %zu of "
		    "guarded buffer %p (%zu bytes)", addr - buf, (void *)buf,
		    s.size);
	} else {
		report_slot(&s, "buffer underflow: access at offset -%zu of "
		    "guarded buffer %p (%zu bytes)", buf - addr, (void *)buf,
		    s.size);
	}
	/* The report handler returned: let the access through. */
	kmem_mutex_enter(&kmem_guard_lock);
	(void) kmem_pages_protect((void *)f.page, page_size(), true);
	kmem_mutex_exit(&kmem_guard_lock);
	return (true);
}

/* ---- for the leak scan ---- */

bool
kmem_guard_walk(bool (*fn)(void *arg, void *buf, size_t size,
    kmem_cache_t *cp), void *arg)
{
	KMEM_ASSERT(kmem_mutex_held(&kmem_guard_lock));
	for (uint32_t i = 0; i < GUARD_SLOTS; i++)
		if (slots[i].state == SLOT_LIVE &&
		    !fn(arg, (void *)buf_of(&slots[i]), slots[i].size, NULL))
			return (false);
	return (true);
}

unsigned
kmem_guard_stack(const void *buf, uintptr_t *pcs, unsigned max)
{
	KMEM_ASSERT(kmem_mutex_held(&kmem_guard_lock));
	if (!kmem_guard_holds(buf))
		return (0);
	uint32_t i = slot_of(buf);
	if (i == NO_SLOT || slots[i].state != SLOT_LIVE)
		return (0);
	unsigned depth = slots[i].alloc.depth < max ? slots[i].alloc.depth :
	    max;
	__builtin_memcpy(pcs, slots[i].alloc.pcs, depth * sizeof (pcs[0]));
	return (depth);
}
