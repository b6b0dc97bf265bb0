/*
 * The leak detector: kmem_findleaks() and kmem_leaks_walk() (what they
 * find and what they cannot see: include/kmem/debug.h).  A scan, all in
 * the calling thread:
 *
 * 1. With no library lock held, the calling thread's stack bounds and the
 *    writable segments of the loaded objects are fetched from the platform
 *    (both may allocate or take the C library's locks, which must not
 *    happen under ours).
 * 2. The locks, in the order of lock_order.h, as fork() takes them: the
 *    cache list, kmem_oversize's arena, the thread list, every thread
 *    cache, every depot, every slab layer, the firewall's hash, the guard
 *    pool's slots.  Other threads keep running
 *    their fast paths, but no slab is created or destroyed, no magazine
 *    changes hands and no large buffer is freed until the scan is over, so
 *    every address read below stays mapped.
 * 3. The candidates: every chunk of every slab that is not on the slab's
 *    free list, less the rounds of every magazine (the threads' loaded and
 *    previous ones, the depot's full, empty and stale lists), plus the
 *    allocated segments of kmem_oversize (large kmem_alloc() and malloc()
 *    buffers), the live firewalled buffers (kmem_firewall.c) and the live
 *    guarded ones (kmem_guard.c).  They are sorted by address, so a word is looked up by
 *    binary search; any word inside [addr, addr + size) hits.
 * 4. Marking: the roots -- the writable segments, the other threads'
 *    stacks (recorded in their thread caches), and the calling thread's
 *    stack from the entry point's frame up, where the entry point spilled
 *    the callee-saved registers (__builtin_unwind_init) -- are scanned word
 *    by word; a hit on an unmarked candidate marks it and pushes it on the
 *    mark stack, which is then drained, scanning each buffer's contents in
 *    turn: iteration, not recursion, however long a list is.  Then the
 *    buffers the dynamic loader allocated (their audit trail's first
 *    frame is in its code), and what they reach: the loader keeps the TLS
 *    vector of each thread whose stack the C library caches for reuse in
 *    that stack's thread descriptor, which no root covers, and frees it
 *    itself (AddressSanitizer's leak checker takes the same rule).  Without
 *    an audit trail they cannot be told apart and are reported.
 * 5. Still under the locks, so that a leaked buffer's tag stays mapped:
 *    the unmarked candidates are grouped by allocation stack
 *    (kmem_audit_stack(), or a firewalled buffer's header, or a guarded
 *    buffer's slot), or by cache
 *    and size without an audit trail, in a hash table; the groups are
 *    sorted by bytes.  Then unlock, and hand the groups to the walker.
 *
 * Invariants: the scan's own memory (candidates, mark stack, groups) comes
 * from the platform's pages, never from the allocators being scanned, and
 * lies outside every root, so the buffer addresses it holds are never
 * taken as references; so do kmem's internal caches (cache structures,
 * slabs, bufctls, magazines, thread caches), whose contents point at
 * buffers only as the allocator's bookkeeping (the bufctl hash in
 * particular): they are neither candidates nor scanned.  The readers of
 * memory the program owns (free links inside free buffers, buffers'
 * contents, other threads' stacks) are LEAKS_UNCHECKED: that memory may be
 * poisoned for AddressSanitizer or written concurrently by its owner; for
 * memcheck, error reports are off while the scan reads.
 */
#include "kmem_impl.h"

#include <kmem/debug.h>

#include "base/format.h"
#include "base/scratch.h"
#include "base/report.h"
#include "vmem/vmem_impl.h"

#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 8)
#define LEAKS_UNCHECKED __attribute__((no_sanitize("address", "thread")))
#else
#define LEAKS_UNCHECKED
#endif

/* A buffer that may have leaked. */
typedef struct candidate {
	uintptr_t addr;
	size_t size;
	kmem_cache_t *cache;    /* NULL: kmem_alloc()'s or malloc()'s */
	bool firewalled;        /* on pages of its own (kmem_firewall.c,
				 * kmem_guard.c) */
	bool marked;            /* reached from a root */
} candidate_t;

typedef struct root {
	uintptr_t lo;
	uintptr_t hi;
} root_t;

typedef struct scan {
	scratch_t candidates;   /* candidate_t, sorted by addr for marking */
	scratch_t rounds;       /* uintptr_t: one cache's magazine rounds */
	scratch_t free_map;     /* uint64_t: one slab's free chunks */
	scratch_t marks;        /* size_t: candidates to scan */
	scratch_t roots;        /* root_t: writable segments */
	uintptr_t candidates_end;       /* above every candidate, once sorted */
	bool failed;            /* out of scratch pages: no result */
} scan_t;

static int
candidate_compare(const void *a, const void *b)
{
	uintptr_t x = ((const candidate_t *)a)->addr;
	uintptr_t y = ((const candidate_t *)b)->addr;
	return (x < y ? -1 : x > y);
}

static int
word_compare(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return (x < y ? -1 : x > y);
}

static bool
add_candidate(scan_t *s, uintptr_t addr, size_t size, kmem_cache_t *cp)
{
	candidate_t *c = scratch_push(&s->candidates);
	if (c == NULL)
		return (false);
	*c = (candidate_t){ .addr = addr, .size = size, .cache = cp };
	return (true);
}

/* Is cp's memory the program's buffers, readable as memory? */
static bool
cache_is_scanned(const kmem_cache_t *cp)
{
	return (!(cp->cache_flags & (KMC_NOTOUCH | KMC_QCACHE)) &&
	    cp->cache_arena != kmem_metadata_arena());
}

/* The chunks of sp not on its free list become candidates. */
LEAKS_UNCHECKED static bool
collect_slab(scan_t *s, kmem_cache_t *cp, kmem_slab_t *sp)
{
	size_t words = (cp->cache_chunks + 63) / 64;
	if (!scratch_reserve(&s->free_map, words))
		return (false);
	uint64_t *free_map = (uint64_t *)s->free_map.base;
	__builtin_memset(free_map, 0, words * sizeof (uint64_t));
	if (cp->cache_flags & KMF_HASH) {
		for (kmem_bufctl_t *bcp = sp->slab_head; bcp != NULL;
		    bcp = bcp->next) {
			size_t i = (bcp->addr - sp->slab_first) /
			    cp->cache_chunksize;
			free_map[i / 64] |= (uint64_t)1 << (i % 64);
		}
	} else {
		for (uintptr_t buf = (uintptr_t)sp->slab_head; buf != 0;
		    buf = *(uintptr_t *)(buf + cp->cache_link_offset)) {
			size_t i = (buf - sp->slab_first) / cp->cache_chunksize;
			free_map[i / 64] |= (uint64_t)1 << (i % 64);
		}
	}
	for (size_t i = 0; i < cp->cache_chunks; i++) {
		if (!(free_map[i / 64] & ((uint64_t)1 << (i % 64))) &&
		    !add_candidate(s, sp->slab_first + i * cp->cache_chunksize,
		    cp->cache_bufsize, cp))
			return (false);
	}
	return (true);
}

static bool
add_rounds(scan_t *s, const kmem_magazine_t *mp, int count)
{
	for (int i = 0; i < count; i++) {
		uintptr_t *round = scratch_push(&s->rounds);
		if (round == NULL)
			return (false);
		*round = (uintptr_t)mp->rounds[i];
	}
	return (true);
}

static bool
add_magazine_list(scan_t *s, const kmem_magazine_t *mp)
{
	for (; mp != NULL; mp = mp->next) {
		if (!add_rounds(s, mp, (int)mp->count))
			return (false);
	}
	return (true);
}

/* Every round of cp's magazines, in the threads' slots and the depot. */
LEAKS_UNCHECKED static bool
collect_rounds(scan_t *s, kmem_cache_t *cp)
{
	for (kmem_thread_cache_t *tc = kmem_threads.next; tc != &kmem_threads;
	    tc = tc->next) {
		if (cp->cache_index >= tc->nslots)
			continue;
		kmem_slot_t *cc = &tc->slots[cp->cache_index];
		if ((cc->cc_loaded != NULL && !add_rounds(s, cc->cc_loaded,
		    __atomic_load_n(&cc->cc_rounds, __ATOMIC_RELAXED))) ||
		    (cc->cc_ploaded != NULL && !add_rounds(s, cc->cc_ploaded,
		    cc->cc_prounds)))
			return (false);
	}
	return (add_magazine_list(s, cp->cache_full.list) &&
	    add_magazine_list(s, cp->cache_empty.list) &&
	    add_magazine_list(s, cp->cache_stale));
}

static bool
is_round(const scan_t *s, uintptr_t addr)
{
	const uintptr_t *rounds = (const uintptr_t *)s->rounds.base;
	size_t lo = 0, hi = s->rounds.count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rounds[mid] < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo < s->rounds.count && rounds[lo] == addr);
}

/* cp's allocated buffers become candidates (all locks held). */
static bool
collect_cache(scan_t *s, kmem_cache_t *cp)
{
	size_t first = s->candidates.count;
	for (kmem_slab_t *sp = cp->cache_slabs.slab_next;
	    sp != &cp->cache_slabs; sp = sp->slab_next) {
		if (sp->slab_refcnt != 0 && !collect_slab(s, cp, sp))
			return (false);
	}
	if (cp->cache_magtype == NULL && cp->cache_stale == NULL)
		return (true);
	s->rounds.count = 0;
	if (!collect_rounds(s, cp))
		return (false);
	heap_sort(s->rounds.base, s->rounds.count, sizeof (uintptr_t),
	    word_compare);
	candidate_t *c = (candidate_t *)s->candidates.base;
	size_t kept = first;
	for (size_t i = first; i < s->candidates.count; i++) {
		if (!is_round(s, c[i].addr))
			c[kept++] = c[i];
	}
	s->candidates.count = kept;
	return (true);
}

static bool
add_firewalled(void *arg, void *buf, size_t size, kmem_cache_t *cp)
{
	scan_t *s = arg;
	candidate_t *c = scratch_push(&s->candidates);
	if (c == NULL)
		return (false);
	*c = (candidate_t){ .addr = (uintptr_t)buf, .size = size, .cache = cp,
	    .firewalled = true };
	return (true);
}

/* The large buffers: kmem_oversize's allocated segments (its lock held). */
static bool
collect_oversize(scan_t *s)
{
	vmem_seg_t *anchor = &kmem_oversize->vm_seg0;
	for (vmem_seg_t *vsp = anchor->vs_anext; vsp != anchor;
	    vsp = vsp->vs_anext) {
		if (vsp->vs_type == VMEM_ALLOC &&
		    !add_candidate(s, vsp->vs_start, seg_size(vsp), NULL))
			return (false);
	}
	return (true);
}

static void
lock_everything(void)
{
	kmem_mutex_enter(&kmem_caches_lock);
	kmem_mutex_enter(&kmem_oversize->vm_lock);
	kmem_mutex_enter(&kmem_threads_lock);
	kmem_caches_hold_all();
	kmem_mutex_enter(&kmem_firewall_lock);
	kmem_mutex_enter(&kmem_guard_lock);
}

static void
unlock_everything(void)
{
	kmem_mutex_exit(&kmem_guard_lock);
	kmem_mutex_exit(&kmem_firewall_lock);
	kmem_caches_release_all();
	kmem_mutex_exit(&kmem_threads_lock);
	kmem_mutex_exit(&kmem_oversize->vm_lock);
	kmem_mutex_exit(&kmem_caches_lock);
}

/* The candidate holding addr, or NULL (candidates sorted). */
static candidate_t *
candidate_find(const scan_t *s, uintptr_t addr)
{
	candidate_t *c = (candidate_t *)s->candidates.base;
	size_t lo = 0, hi = s->candidates.count;
	if (hi == 0 || addr < c[0].addr || addr >= s->candidates_end)
		return (NULL);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	c = &c[lo - 1];
	return (addr - c->addr < c->size ? c : NULL);
}

/* Mark every candidate a word of [lo, hi) points into. */
LEAKS_UNCHECKED static void
scan_range(scan_t *s, uintptr_t lo, uintptr_t hi)
{
	candidate_t *base = (candidate_t *)s->candidates.base;
	lo = p2_roundup(lo, sizeof (uintptr_t));
	for (uintptr_t p = lo; p + sizeof (uintptr_t) <= hi;
	    p += sizeof (uintptr_t)) {
		candidate_t *c = candidate_find(s, *(const uintptr_t *)p);
		if (c == NULL || c->marked)
			continue;
		c->marked = true;
		size_t *mark = scratch_push(&s->marks);
		if (mark == NULL) {
			s->failed = true;
			return;
		}
		*mark = (size_t)(c - base);
	}
}

static void
mark_reachable(scan_t *s)
{
	while (s->marks.count > 0 && !s->failed) {
		size_t i = ((size_t *)s->marks.base)[--s->marks.count];
		const candidate_t *c = &((candidate_t *)s->candidates.base)[i];
		scan_range(s, c->addr, c->addr + c->size);
	}
}

static void
add_segment(void *arg, uintptr_t lo, uintptr_t hi)
{
	scan_t *s = arg;
	root_t *r = scratch_push(&s->roots);
	if (r == NULL)
		s->failed = true;
	else
		*r = (root_t){ lo, hi };
}

/* Scan the roots and everything they reach (all locks held). */
static void
mark_from_roots(scan_t *s, uintptr_t stack_lo, uintptr_t stack_hi)
{
	const root_t *roots = (const root_t *)s->roots.base;
	for (size_t i = 0; i < s->roots.count; i++) {
		scan_range(s, roots[i].lo, roots[i].hi);
		mark_reachable(s);
	}
	scan_range(s, stack_lo, stack_hi);
	mark_reachable(s);
	for (kmem_thread_cache_t *tc = kmem_threads.next; tc != &kmem_threads;
	    tc = tc->next) {
		if (tc != kmem_self) {
			scan_range(s, tc->stack_lo, tc->stack_hi);
			mark_reachable(s);
		}
	}
}

/*
 * Mark the candidates the dynamic loader allocated, [lo, hi) being its
 * code, and everything they reach (all locks held).
 */
static void
mark_loader_buffers(scan_t *s, uintptr_t lo, uintptr_t hi)
{
	candidate_t *base = (candidate_t *)s->candidates.base;
	for (size_t i = 0; i < s->candidates.count && !s->failed; i++) {
		candidate_t *c = &base[i];
		uintptr_t caller;
		if (c->marked || c->cache == NULL || c->firewalled ||
		    kmem_audit_stack(c->cache, (void *)c->addr, &caller, 1) == 0 ||
		    caller < lo || caller >= hi)
			continue;
		c->marked = true;
		scan_range(s, c->addr, c->addr + c->size);
		mark_reachable(s);
	}
}

/* One group being built: the public record and its hash. */
typedef struct group {
	kmem_leak_t leak;
	uint64_t hash;
} group_t;

static uint64_t
group_hash(const kmem_leak_t *key)
{
	uint64_t h = (uintptr_t)key->cache * 0x9e3779b97f4a7c15ULL ^ key->bufsize;
	for (unsigned i = 0; i < key->depth; i++)
		h = (h ^ key->stack[i]) * 0x100000001b3ULL;
	return (h ^ (h >> 29));
}

static bool
group_matches(const group_t *g, const kmem_leak_t *key, uint64_t hash)
{
	if (g->hash != hash || g->leak.cache != key->cache ||
	    g->leak.bufsize != key->bufsize || g->leak.depth != key->depth)
		return (false);
	for (unsigned i = 0; i < key->depth; i++) {
		if (g->leak.stack[i] != key->stack[i])
			return (false);
	}
	return (true);
}

static int
group_compare(const void *a, const void *b)
{
	size_t x = ((const group_t *)a)->leak.bytes;
	size_t y = ((const group_t *)b)->leak.bytes;
	return (x > y ? -1 : x < y);    /* the most bytes first */
}

/*
 * Was c allocated, in a cache with an audit trail, while its thread walked
 * a stack, so that it has an empty one?  Then the unwinder or the dynamic
 * loader allocated it for itself (platform.h, kmem_backtrace()): libunwind,
 * loaded on the first walk, has its thread-local storage allocated so, and
 * reached only through the C library's thread vector, which is no root.
 * Not the program's leak: not reported.
 */
static bool
unwinder_own(const candidate_t *c)
{
	uintptr_t pc;
	return (c->cache != NULL && !c->firewalled &&
	    (c->cache->cache_flags & KMF_AUDIT) &&
	    kmem_audit_stack(c->cache, (void *)c->addr, &pc, 1) == 0);
}

/*
 * Group the unmarked candidates into groups (no lock held); *leaked gets
 * how many there are.  The hash table holds group indices plus one.
 */
static bool
group_leaks(scan_t *s, scratch_t *groups, size_t *leaked)
{
	const candidate_t *c = (const candidate_t *)s->candidates.base;
	size_t n = 0;
	for (size_t i = 0; i < s->candidates.count; i++)
		n += !c[i].marked && !unwinder_own(&c[i]);
	*leaked = n;
	scratch_t table = { .elem = sizeof (size_t) };
	size_t slots = 16;
	while (slots < 2 * n)
		slots *= 2;
	if (!scratch_reserve(&table, slots))
		return (false);
	size_t *slot = (size_t *)table.base;    /* zero-filled pages */
	for (size_t i = 0; i < s->candidates.count; i++) {
		if (c[i].marked || unwinder_own(&c[i]))
			continue;
		kmem_leak_t key = {
			.cache = c[i].cache != NULL ? c[i].cache->cache_name :
			    !c[i].firewalled ? "kmem_oversize" :
			    kmem_guard_holds((void *)c[i].addr) ? "kmem_guard" :
			    "kmem_firewall",
			.bufsize = c[i].size,
		};
		/* A debug cache's buffer knows the size it was asked for. */
		if (c[i].cache != NULL && !c[i].firewalled &&
		    (c[i].cache->cache_flags & KMF_BUFTAG))
			key.bufsize = kmem_debug_requested(c[i].cache,
			    (void *)c[i].addr);
		/* A firewalled buffer keeps its stack in its own header. */
		if (c[i].firewalled)
			key.depth = kmem_firewall_stack((void *)c[i].addr,
			    key.stack, KMEM_LEAK_STACK_DEPTH) +
			    kmem_guard_stack((void *)c[i].addr, key.stack,
			    KMEM_LEAK_STACK_DEPTH);
		else if (c[i].cache != NULL)
			key.depth = kmem_audit_stack(c[i].cache,
			    (void *)c[i].addr, key.stack, KMEM_LEAK_STACK_DEPTH);
		uint64_t hash = group_hash(&key);
		size_t h = hash & (slots - 1);
		group_t *g = NULL;
		for (; slot[h] != 0; h = (h + 1) & (slots - 1)) {
			g = &((group_t *)groups->base)[slot[h] - 1];
			if (group_matches(g, &key, hash))
				break;
			g = NULL;
		}
		if (g == NULL) {
			if ((g = scratch_push(groups)) == NULL) {
				scratch_free(&table);
				return (false);
			}
			*g = (group_t){ .leak = key, .hash = hash };
			g->leak.example = (const void *)c[i].addr;
			slot[h] = groups->count;
		}
		g->leak.count++;
		g->leak.bytes += key.bufsize;
	}
	scratch_free(&table);
	heap_sort(groups->base, groups->count, sizeof (group_t), group_compare);
	return (true);
}

/*
 * Steps 1 to 5 of the theory above.  stack_lo is the caller's frame, which
 * holds the registers the entry point spilled; this frame and those below
 * it, which hold candidates' addresses, are not scanned.
 */
__attribute__((noinline)) static size_t
leaks_run(kmem_leak_walker_t *walker, void *arg)
{
	uintptr_t stack_lo = (uintptr_t)__builtin_frame_address(0);
	uintptr_t stack_bottom, stack_hi;
	kmem_init();
	if (!kmem_thread_stack(&stack_bottom, &stack_hi))
		stack_hi = stack_lo;
	scan_t s = {
		.candidates = { .elem = sizeof (candidate_t) },
		.rounds = { .elem = sizeof (uintptr_t) },
		.free_map = { .elem = sizeof (uint64_t) },
		.marks = { .elem = sizeof (size_t) },
		.roots = { .elem = sizeof (root_t) },
	};
	kmem_writable_segments(add_segment, &s);
	uintptr_t loader_lo, loader_hi;
	bool have_loader = kmem_loader_code(&loader_lo, &loader_hi);

	lock_everything();
	kmem_memcheck_quiet(true);
	for (kmem_cache_t *cp = kmem_caches.cache_list_next;
	    cp != &kmem_caches && !s.failed; cp = cp->cache_list_next) {
		if (cache_is_scanned(cp) && !collect_cache(&s, cp))
			s.failed = true;
	}
	if (!s.failed && (!collect_oversize(&s) ||
	    !kmem_firewall_walk(add_firewalled, &s) ||
	    !kmem_guard_walk(add_firewalled, &s)))
		s.failed = true;
	if (!s.failed) {
		heap_sort(s.candidates.base, s.candidates.count,
		    sizeof (candidate_t), candidate_compare);
		if (s.candidates.count > 0) {
			const candidate_t *last = &((candidate_t *)
			    s.candidates.base)[s.candidates.count - 1];
			s.candidates_end = last->addr + last->size;
		}
		mark_from_roots(&s, stack_lo, stack_hi);
		if (have_loader)
			mark_loader_buffers(&s, loader_lo, loader_hi);
	}
	/* Grouped under the locks too: a leaked buffer's tag and audit
	 * record stay mapped only while no slab can go away. */
	scratch_t groups = { .elem = sizeof (group_t) };
	size_t leaked = SIZE_MAX;
	if (!s.failed && !group_leaks(&s, &groups, &leaked))
		leaked = SIZE_MAX;
	kmem_memcheck_quiet(false);
	unlock_everything();

	scratch_free(&s.candidates);
	scratch_free(&s.rounds);
	scratch_free(&s.free_map);
	scratch_free(&s.marks);
	scratch_free(&s.roots);
	if (leaked != SIZE_MAX) {
		for (size_t i = 0; i < groups.count; i++)
			walker(arg, &((group_t *)groups.base)[i].leak);
	}
	scratch_free(&groups);
	return (leaked);
}

/*
 * The entry points: spill the callee-saved registers, which may hold the
 * caller's only pointer to a buffer, into this frame, which leaks_run()
 * scans; the barrier after the call keeps it from becoming a tail call
 * that would give the frame up.
 */
size_t
kmem_leaks_walk(kmem_leak_walker_t *walker, void *arg)
{
	__builtin_unwind_init();
	size_t leaked = leaks_run(walker, arg);
	__asm__ volatile("" ::: "memory");
	return (leaked);
}

typedef struct leak_report {
	int fd;
	size_t buffers;
	size_t bytes;
	size_t groups;
} leak_report_t;

static void
report_line(int fd, const char *fmt, ...) KMEM_PRINTFLIKE(2, 3);

static void
report_line(int fd, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	size_t len = kmem_vsnprintf(line, sizeof (line) - 1, fmt, ap);
	va_end(ap);
	if (len > sizeof (line) - 2)
		len = sizeof (line) - 2;
	line[len++] = '\n';
	kmem_fd_write(fd, line, len);
}

static void
report_group(void *arg, const kmem_leak_t *leak)
{
	leak_report_t *r = arg;
	r->buffers += leak->count;
	r->bytes += leak->bytes;
	r->groups++;
	report_line(r->fd, "libkmem: leak: %zu buffer%s, %zu bytes, cache %s, "
	    "size %zu (e.g. %p)", leak->count, leak->count == 1 ? "" : "s",
	    leak->bytes, leak->cache, leak->bufsize, leak->example);
	if (leak->depth == 0)
		report_line(r->fd, "  (no allocation stack: the cache keeps no "
		    "audit trail)");
	else
		report_line(r->fd, "  allocated at:");
	for (unsigned i = 0; i < leak->depth; i++) {
		char symbol[256];
		(void) kmem_symbolize(leak->stack[i], symbol, sizeof (symbol));
		report_line(r->fd, "      #%u %s", i, symbol);
	}
}

/* The report of kmem_findleaks(); its summary only when always or leaks. */
static size_t
report_leaks(int fd, bool always)
{
	__builtin_unwind_init();
	leak_report_t r = { .fd = fd };
	size_t leaked = leaks_run(report_group, &r);
	__asm__ volatile("" ::: "memory");
	if (leaked == SIZE_MAX)
		report_line(fd, "libkmem: kmem_findleaks: out of memory for "
		    "the scan");
	else if (always || leaked != 0)
		report_line(fd, "libkmem: kmem_findleaks: %zu leaked buffer%s, "
		    "%zu bytes, in %zu group%s", r.buffers, r.buffers == 1 ? "" : "s",
		    r.bytes, r.groups, r.groups == 1 ? "" : "s");
	return (leaked);
}

size_t
kmem_findleaks(int fd)
{
	return (report_leaks(fd, true));
}

static bool leaks_at_exit;

static void
leaks_exit_scan(void)
{
	if (__atomic_load_n(&leaks_at_exit, __ATOMIC_RELAXED))
		(void) report_leaks(2, false);     /* a clean exit says nothing */
}

void
kmem_leaks_at_exit(bool on)
{
	static bool registered;
	__atomic_store_n(&leaks_at_exit, on, __ATOMIC_RELAXED);
	if (on && !__atomic_exchange_n(&registered, true, __ATOMIC_ACQ_REL) &&
	    !kmem_at_exit(leaks_exit_scan))
		kmem_warn("kmem: cannot scan for leaks at exit");
}
