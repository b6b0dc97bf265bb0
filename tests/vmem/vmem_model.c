/*
 * The vmem reference model and operation engine (see vmem_model.h).
 *
 * The model of an arena is two sorted arrays: its spans (start, end,
 * imported) and its live allocations (start, size rounded to the quantum).
 * Free space is whatever the allocations leave of the spans; a "run" is a
 * maximal free range within one span (spans never merge).  All address
 * arithmetic in the model is done in wide_t, twice the width of an address,
 * so the model never wraps where vmem must take care not to.
 *
 * What is checked, after every operation unless said otherwise:
 * - vmem_verify() of every arena the operation touched returns 0, and
 *   vmem_size() says ALLOC = sum of live sizes, FREE = spans - that.
 * - A returned address is quantum-aligned, inside one span with its rounded
 *   size, overlaps no live allocation, and meets align/phase/nocross/
 *   minaddr/maxaddr (maxaddr exclusive).
 * - An imported span goes back to the source (the release function is
 *   called, with no live allocation in it) as soon as it is wholly free;
 *   only once VM_NEXTFIT has been used may the rotor keep one.  vmem_destroy
 *   gives back every wholly free imported span.
 * - Import happens only for requests without minaddr/maxaddr (docs/vmem.md:
 *   nocross requests do import, unlike illumos); a successful import means
 *   a successful allocation.
 * - Completeness, on arenas where VM_NEXTFIT has never been used: NULL only
 *   when no free run the policy searches fits, import only under the same
 *   condition, instant fit takes the start of a run of the lowest
 *   qualifying size class, best fit a smallest run that fits.  The NULL
 *   and import rules hold for VM_NEXTFIT requests everywhere.
 * - Walks (from time to time and after every piece of bad input): spans,
 *   allocated and free segments are exactly the model's, free segments tile
 *   the runs (split at most once per arena, by the rotor, and only after
 *   VM_NEXTFIT), and the combined walk lists each span followed by its
 *   segments.  A VMEM_REENTRANT walk may call into the arena, free what it
 *   visits and allocate more, and still visits once every allocation it
 *   started with.
 * - vmem_contains() is true exactly when the range lies in one span.
 * - Bad input (never-allocated, double and interior frees, wrong sizes,
 *   overlapping or malformed spans, invalid xalloc arguments, destroying a
 *   source) is reported exactly once and changes nothing.
 */
#include "vmem_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/vmem.h>

#include "check.h"

#if UINTPTR_MAX > UINT32_MAX
typedef unsigned __int128 wide_t;
#else
typedef uint64_t wide_t;
#endif

/* One past the highest address. */
#define ADDR_END        ((wide_t)UINTPTR_MAX + 1)
#define ADDR_BITS       ((unsigned)(sizeof (uintptr_t) * 8))

#define ARENAS_MAX      6
#define ACTIVE_MAX      16
#define LIVE_MAX        300     /* freeable allocations kept per arena */
#define ADDED_SPANS_MAX 24      /* vmem_add()ed spans per arena */
#define REGION_SHIFT    (ADDR_BITS == 64 ? 40 : 26)

enum policy { POLICY_INSTANT, POLICY_BEST, POLICY_FIRST, POLICY_NEXT };

static const int policy_flags[] = { VM_INSTANTFIT, VM_BESTFIT, VM_FIRSTFIT,
    VM_NEXTFIT };

typedef struct model_arena model_arena_t;

typedef struct model_alloc {
	uintptr_t start;
	size_t size;                    /* rounded up to the quantum */
	bool xalloc;                    /* free with vmem_xfree() */
	model_arena_t *importer;        /* the arena holding it as a span */
} model_alloc_t;

typedef struct model_span {
	uintptr_t start;
	uintptr_t end;
	bool imported;
} model_span_t;

/* A maximal free range within one span. */
typedef struct model_run {
	uintptr_t start;
	uintptr_t end;
} model_run_t;

/* One allocation request as the caller made it. */
typedef struct model_req {
	bool xalloc;                    /* vmem_xalloc(), else vmem_alloc() */
	size_t asked;
	wide_t size;                    /* asked rounded up to the quantum */
	size_t align;                   /* as passed: 0 means the quantum */
	size_t phase;
	size_t nocross;
	uintptr_t minaddr;
	uintptr_t maxaddr;              /* exclusive; 0 for no limit */
	int vmflag;
	enum policy policy;
} model_req_t;

typedef struct arena_config {
	char name[VMEM_NAMELEN];
	int source;                     /* index of the source arena, or -1 */
	bool ximport;                   /* vmem_xcreate() with model_ximport */
	size_t quantum;
	size_t qcache_max;
	int cflags;
	bool nextfit;                   /* operations may use VM_NEXTFIT */
	uintptr_t base;                 /* the span vmem_create() gets */
	size_t size;
	bool top_span;                  /* and one ending at the top */
	uintptr_t region;               /* where vmem_add() puts spans */
	size_t scale;                   /* a large span, in quanta */
	unsigned import_fail_percent;
} arena_config_t;

struct model_arena {
	arena_config_t cf;
	model_arena_t *source;
	vmem_t *vmp;                    /* NULL while destroyed */
	model_span_t *span;             /* sorted by start */
	size_t nspans;
	size_t spans_cap;
	model_alloc_t *live;            /* sorted by start */
	size_t nlive;
	size_t live_cap;
	size_t nowned;                  /* live ones held by an importer */
	size_t inuse;                   /* sum of live sizes */
	size_t total;                   /* sum of span sizes */
	size_t nadded;
	bool nextfit_used;
	bool touched;                   /* called into during this step */
	/* The allocation in progress, for the import function to judge. */
	const model_req_t *req;
	unsigned imports;
	unsigned imports_ok;
};

typedef struct seg_item {
	uintptr_t start;
	size_t size;
} seg_item_t;

typedef struct item_list {
	seg_item_t *item;
	size_t n;
	size_t cap;
} item_list_t;

struct model_world {
	const char *preset;
	char hint[160];
	uint64_t rng;
	const uint8_t *data;            /* NULL: decisions come from rng */
	size_t len;
	size_t pos;
	bool exhausted;
	uint64_t step;
	char op[320];
	model_arena_t arena[ARENAS_MAX];
	unsigned narenas;
	model_arena_t *active[ACTIVE_MAX];      /* arenas inside a vmem call */
	unsigned nactive;
	model_run_t *run;
	size_t nruns;
	size_t runs_cap;
	item_list_t walk_span;
	item_list_t walk_alloc;
	item_list_t walk_free;
	item_list_t walk_all;
	item_list_t expect;
};

/* The import and release functions have no argument: they find it here. */
static model_world_t *current_world;

static const char *const preset_names[] = {
	"plain", "nextfit", "identifiers", "imports", "tight"
};
#define NPRESETS (sizeof (preset_names) / sizeof (preset_names[0]))

/* ---- failing ---- */

static _Noreturn void model_fail(model_world_t *w, int line,
    const char *fmt, ...) KMEM_PRINTFLIKE(3, 4);

static void
model_fail(model_world_t *w, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "vmem model: check failed (vmem_model.c:%d): ", line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  world \"%s\", step %llu: %s\n  %s\n", w->preset,
	    (unsigned long long)w->step, w->op, w->hint);
	fflush(NULL);
	abort();
}

#define MODEL_CHECK(w, cond, ...) do {                                  \
	if (!(cond))                                                    \
		model_fail((w), __LINE__, __VA_ARGS__);                 \
} while (0)

/*
 * Exactly one error report containing substring since the last call, or
 * none when substring is NULL.
 */
static void
reports_expect(model_world_t *w, const char *substring)
{
	if (substring == NULL)
		MODEL_CHECK(w, check_reports.count == 0,
		    "unexpected report: \"%s\"", check_reports.last);
	else
		MODEL_CHECK(w, check_reports.count == 1 &&
		    check_reports.kind == KMEM_REPORT_ERROR &&
		    strstr(check_reports.last, substring) != NULL,
		    "expected one error report containing \"%s\"; saw %d, "
		    "last \"%s\"", substring, check_reports.count,
		    check_reports.last);
	check_reports.count = 0;
	check_reports.last[0] = '\0';
}

/*
 * An import or release function calls into the source while the caller's
 * call is still going: its reports (vmem_destroy's leak report comes before
 * the releases) wait aside until the nested call's have been checked.
 */
static check_reports_t
reports_set_aside(void)
{
	check_reports_t outer = check_reports;
	check_reports.count = 0;
	check_reports.last[0] = '\0';
	return (outer);
}

static void
reports_restore(model_world_t *w, const check_reports_t *outer)
{
	reports_expect(w, NULL);
	check_reports = *outer;
}

static void *
xrealloc(void *p, size_t n, size_t size)
{
	p = realloc(p, n * size);
	if (p == NULL) {
		fprintf(stderr, "vmem model: out of memory\n");
		abort();
	}
	return (p);
}

/* ---- decisions ---- */

/* A value in [0, bound); 0 when bound <= 1. */
static uint64_t
choose(model_world_t *w, uint64_t bound)
{
	if (bound <= 1)
		return (0);
	if (w->data == NULL)
		return (check_random(&w->rng) % bound);
	uint64_t v = 0;
	for (uint64_t left = bound - 1; left != 0; left >>= 8) {
		v <<= 8;
		if (w->pos < w->len)
			v |= w->data[w->pos++];
		else
			w->exhausted = true;
	}
	return (v % bound);
}

static bool
chance(model_world_t *w, unsigned percent)
{
	return (choose(w, 100) < percent);
}

/* ---- arithmetic ---- */

static bool
is_p2(wide_t x)
{
	return ((x & (x - 1)) == 0);
}

/* floor(log2(x)) for x > 0. */
static unsigned
log2_floor(wide_t x)
{
	uint64_t high = (uint64_t)(x >> 32 >> 32);
	if (high != 0)
		return (127 - (unsigned)__builtin_clzll(high));
	return (63 - (unsigned)__builtin_clzll((uint64_t)x));
}

/* ceil(log2(x)) for x > 0. */
static unsigned
log2_ceil(wide_t x)
{
	return (log2_floor(x) + !is_p2(x));
}

static wide_t
roundup(wide_t x, wide_t align)
{
	return ((x + align - 1) / align * align);
}

/* ---- the model's bookkeeping ---- */

/* Index of the last span starting at or below addr, or nspans if none. */
static size_t
span_index(const model_arena_t *a, wide_t addr)
{
	size_t lo = 0, hi = a->nspans;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a->span[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo == 0 ? a->nspans : lo - 1);
}

/* The span containing addr, or NULL. */
static model_span_t *
span_find(const model_arena_t *a, wide_t addr)
{
	size_t i = span_index(a, addr);
	if (i == a->nspans || addr >= a->span[i].end)
		return (NULL);
	return (&a->span[i]);
}

/* Does [start, start + size) overlap a span? */
static bool
span_overlaps(const model_arena_t *a, wide_t start, wide_t size)
{
	for (size_t i = 0; i < a->nspans; i++)
		if (start < a->span[i].end && a->span[i].start < start + size)
			return (true);
	return (false);
}

static void
span_insert(model_arena_t *a, uintptr_t start, uintptr_t end, bool imported)
{
	if (a->nspans == a->spans_cap) {
		a->spans_cap = a->spans_cap ? 2 * a->spans_cap : 16;
		a->span = xrealloc(a->span, a->spans_cap,
		    sizeof (model_span_t));
	}
	size_t i = span_index(a, start);
	i = i == a->nspans ? 0 : i + 1;
	memmove(&a->span[i + 1], &a->span[i],
	    (a->nspans - i) * sizeof (model_span_t));
	a->span[i] = (model_span_t){ start, end, imported };
	a->nspans++;
	a->total += end - start;
}

static void
span_remove(model_arena_t *a, model_span_t *sp)
{
	size_t i = (size_t)(sp - a->span);
	a->total -= sp->end - sp->start;
	memmove(&a->span[i], &a->span[i + 1],
	    (a->nspans - i - 1) * sizeof (model_span_t));
	a->nspans--;
}

/* Index of the last live allocation starting at or below addr, or nlive. */
static size_t
live_index(const model_arena_t *a, wide_t addr)
{
	size_t lo = 0, hi = a->nlive;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a->live[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo == 0 ? a->nlive : lo - 1);
}

/* The live allocation starting exactly at addr, or NULL. */
static model_alloc_t *
live_at(const model_arena_t *a, uintptr_t addr)
{
	size_t i = live_index(a, addr);
	if (i == a->nlive || a->live[i].start != addr)
		return (NULL);
	return (&a->live[i]);
}

static void
live_insert(model_arena_t *a, model_alloc_t m)
{
	if (a->nlive == a->live_cap) {
		a->live_cap = a->live_cap ? 2 * a->live_cap : 64;
		a->live = xrealloc(a->live, a->live_cap,
		    sizeof (model_alloc_t));
	}
	size_t i = live_index(a, m.start);
	i = i == a->nlive ? 0 : i + 1;
	memmove(&a->live[i + 1], &a->live[i],
	    (a->nlive - i) * sizeof (model_alloc_t));
	a->live[i] = m;
	a->nlive++;
	a->inuse += m.size;
	if (m.importer != NULL)
		a->nowned++;
}

static void
live_remove(model_arena_t *a, model_alloc_t *m)
{
	size_t i = (size_t)(m - a->live);
	a->inuse -= m->size;
	if (m->importer != NULL)
		a->nowned--;
	memmove(&a->live[i], &a->live[i + 1],
	    (a->nlive - i - 1) * sizeof (model_alloc_t));
	a->nlive--;
}

/* How many live allocations lie in [start, end)? */
static size_t
live_count_in(const model_arena_t *a, uintptr_t start, uintptr_t end)
{
	size_t i = live_index(a, start);
	i = i == a->nlive ? 0 : i + (a->live[i].start < start);
	size_t n = 0;
	for (; i < a->nlive && a->live[i].start < end; i++)
		n++;
	return (n);
}

/* Fill w->run with a's free runs, in address order. */
static void
compute_runs(model_world_t *w, const model_arena_t *a)
{
	size_t j = 0;
	w->nruns = 0;
	for (size_t i = 0; i < a->nspans; i++) {
		const model_span_t *sp = &a->span[i];
		uintptr_t cursor = sp->start;
		for (;; j++) {
			uintptr_t next = sp->end;
			if (j < a->nlive && a->live[j].start < sp->end)
				next = a->live[j].start;
			if (next > cursor) {
				if (w->nruns == w->runs_cap) {
					w->runs_cap = w->runs_cap ?
					    2 * w->runs_cap : 64;
					w->run = xrealloc(w->run, w->runs_cap,
					    sizeof (model_run_t));
				}
				w->run[w->nruns++] =
				    (model_run_t){ cursor, next };
			}
			if (next == sp->end)
				break;
			cursor = next + a->live[j].size;
		}
	}
}

/* The run containing addr (after compute_runs), or NULL. */
static const model_run_t *
run_containing(const model_world_t *w, uintptr_t addr)
{
	for (size_t i = 0; i < w->nruns; i++)
		if (w->run[i].start <= addr && addr < w->run[i].end)
			return (&w->run[i]);
	return (NULL);
}

/* ---- what fits where ---- */

/*
 * The lowest address in run that meets every constraint of r, by the
 * definition: the first address >= max(start, minaddr) with the phase,
 * moved to the next nocross boundary (plus phase) if it would cross one.
 */
static bool
run_fits(const model_arena_t *a, const model_req_t *r, const model_run_t *run,
    wide_t *addrp)
{
	wide_t align = r->align != 0 ? r->align : a->cf.quantum;
	wide_t lo = run->start > r->minaddr ? run->start : r->minaddr;
	wide_t hi = run->end;
	if (r->maxaddr != 0 && hi > r->maxaddr)
		hi = r->maxaddr;
	wide_t addr = lo + (r->phase + align - lo % align) % align;
	if (r->nocross != 0 &&
	    addr / r->nocross != (addr + r->size - 1) / r->nocross)
		addr = (addr / r->nocross + 1) * r->nocross + r->phase;
	if (addr + r->size > hi)
		return (false);
	*addrp = addr;
	return (true);
}

/*
 * Instant fit with a size that is not a power of two searches only the
 * runs of at least 2^ceil(log2 size) when there are any: the smallest run
 * size the policy searches (after compute_runs).
 */
static wide_t
searched_floor(const model_world_t *w, const model_req_t *r)
{
	if (r->policy != POLICY_INSTANT || is_p2(r->size))
		return (0);
	wide_t big = (wide_t)1 << log2_ceil(r->size);
	for (size_t i = 0; i < w->nruns; i++)
		if (w->run[i].end - w->run[i].start >= big)
			return (big);
	return (0);
}

/* A run the policy searches that fits r (after compute_runs), or NULL. */
static const model_run_t *
searched_run_that_fits(const model_world_t *w, const model_arena_t *a,
    const model_req_t *r)
{
	wide_t floor = searched_floor(w, r);
	for (size_t i = 0; i < w->nruns; i++) {
		wide_t addr;
		if (w->run[i].end - w->run[i].start >= floor &&
		    run_fits(a, r, &w->run[i], &addr))
			return (&w->run[i]);
	}
	return (NULL);
}

/*
 * Can a failure (or an import) of r be judged by the model's free runs?
 * Not for other policies once next fit has been used: the rotor may split
 * a run in two pieces that each fail.  Next fit itself scans every free
 * segment and, after a full circle, steps the rotor to join that pair.
 */
static bool
completeness_holds(const model_arena_t *a, const model_req_t *r)
{
	return (!a->nextfit_used || r->policy == POLICY_NEXT);
}

/* The source cannot be told an address range: nothing else stops import. */
static bool
import_allowed(const model_arena_t *a, const model_req_t *r)
{
	return (a->source != NULL && r->minaddr == 0 && r->maxaddr == 0);
}

/* ---- calling into vmem ---- */

static void
arena_enter(model_world_t *w, model_arena_t *a)
{
	MODEL_CHECK(w, w->nactive < ACTIVE_MAX, "calls nest too deeply");
	w->active[w->nactive++] = a;
	a->touched = true;
}

static void
arena_leave(model_world_t *w)
{
	w->nactive--;
}

/* The arena whose vmem call is calling an import or release function. */
static model_arena_t *
calling_arena(model_world_t *w, vmem_t *source)
{
	MODEL_CHECK(w, w->nactive > 0, "import or release outside any call");
	model_arena_t *a = w->active[w->nactive - 1];
	MODEL_CHECK(w, a->source != NULL && a->source->vmp == source,
	    "arena \"%s\" called an import or release function on the wrong "
	    "source", a->cf.name);
	return (a);
}

/* Check a result of vmem_alloc()/vmem_xalloc() for r against the model. */
static void
check_alloc_result(model_world_t *w, model_arena_t *a, const model_req_t *r,
    uintptr_t addr)
{
	if (addr == 0) {
		MODEL_CHECK(w, a->imports_ok == 0,
		    "NULL although the import function returned a span");
		if (!completeness_holds(a, r))
			return;
		compute_runs(w, a);
		const model_run_t *run = searched_run_that_fits(w, a, r);
		MODEL_CHECK(w, run == NULL, "NULL, but the free range [%#jx, "
		    "%#jx) fits", (uintmax_t)run->start, (uintmax_t)run->end);
		MODEL_CHECK(w, !import_allowed(a, r) || a->imports > 0 ||
		    r->size > ADDR_END / 4, "NULL without trying to import");
		return;
	}

	size_t q = a->cf.quantum;
	wide_t align = r->align != 0 ? r->align : q;
	wide_t end = (wide_t)addr + r->size;
	MODEL_CHECK(w, addr % q == 0, "%#jx is not quantum-aligned",
	    (uintmax_t)addr);
	MODEL_CHECK(w, addr % align == r->phase, "%#jx is not at phase %#zx "
	    "of %#jx", (uintmax_t)addr, r->phase, (uintmax_t)align);
	MODEL_CHECK(w, r->nocross == 0 ||
	    addr / r->nocross == (end - 1) / r->nocross,
	    "%#jx crosses a nocross boundary", (uintmax_t)addr);
	MODEL_CHECK(w, addr >= r->minaddr && (r->maxaddr == 0 ||
	    end <= r->maxaddr), "%#jx is outside [minaddr, maxaddr)",
	    (uintmax_t)addr);
	const model_span_t *sp = span_find(a, addr);
	MODEL_CHECK(w, sp != NULL && end <= sp->end,
	    "%#jx (+%#jx) is not inside one span", (uintmax_t)addr,
	    (uintmax_t)r->asked);
	size_t i = live_index(a, end - 1);
	MODEL_CHECK(w, i == a->nlive ||
	    (wide_t)a->live[i].start + a->live[i].size <= addr,
	    "%#jx overlaps the live allocation at %#jx", (uintmax_t)addr,
	    (uintmax_t)a->live[i].start);
	if (a->nextfit_used || a->imports != 0)
		return;

	/* Where the policy had to look. */
	compute_runs(w, a);
	const model_run_t *run = run_containing(w, addr);
	wide_t run_size = run->end - run->start;
	wide_t lowest_fit;
	MODEL_CHECK(w, run_fits(a, r, run, &lowest_fit) && lowest_fit <= addr,
	    "the model's fit finds no place at or below %#jx in [%#jx, %#jx)",
	    (uintmax_t)addr, (uintmax_t)run->start, (uintmax_t)run->end);
	MODEL_CHECK(w, run_size >= searched_floor(w, r), "instant fit took "
	    "%#jx from a run of %#jx, but runs of 2^%u exist",
	    (uintmax_t)addr, (uintmax_t)run_size, log2_ceil(r->size));
	if (r->policy == POLICY_BEST) {
		for (size_t k = 0; k < w->nruns; k++) {
			wide_t other;
			MODEL_CHECK(w, w->run[k].end - w->run[k].start >=
			    run_size || !run_fits(a, r, &w->run[k], &other),
			    "best fit took %#jx from a run of %#jx, but the "
			    "smaller run [%#jx, %#jx) fits", (uintmax_t)addr,
			    (uintmax_t)run_size, (uintmax_t)w->run[k].start,
			    (uintmax_t)w->run[k].end);
		}
	}
	if (r->policy == POLICY_INSTANT && !r->xalloc) {
		MODEL_CHECK(w, addr == run->start, "instant fit returned "
		    "%#jx inside the run [%#jx, %#jx), not its start",
		    (uintmax_t)addr, (uintmax_t)run->start,
		    (uintmax_t)run->end);
		unsigned want = log2_ceil(r->size), lowest = ADDR_BITS;
		for (size_t k = 0; k < w->nruns; k++) {
			unsigned c = log2_floor(w->run[k].end -
			    w->run[k].start);
			if (c >= want && c < lowest)
				lowest = c;
		}
		MODEL_CHECK(w, lowest == ADDR_BITS ||
		    log2_floor(run_size) == lowest, "instant fit took a run "
		    "of class %u, but class %u is the lowest that qualifies",
		    log2_floor(run_size), lowest);
	}
}

/* Run r on a; the result is recorded as a live allocation of importer. */
static uintptr_t
do_alloc(model_world_t *w, model_arena_t *a, const model_req_t *r,
    model_arena_t *importer)
{
	if (r->policy == POLICY_NEXT)
		a->nextfit_used = true;
	a->req = r;
	a->imports = a->imports_ok = 0;
	arena_enter(w, a);
	void *p = r->xalloc ? vmem_xalloc(a->vmp, r->asked, r->align,
	    r->phase, r->nocross, (void *)r->minaddr, (void *)r->maxaddr,
	    r->vmflag) : vmem_alloc(a->vmp, r->asked, r->vmflag);
	arena_leave(w);
	a->req = NULL;
	reports_expect(w, p == NULL && (r->vmflag & VM_PANIC) ?
	    "VM_PANIC" : NULL);
	check_alloc_result(w, a, r, (uintptr_t)p);
	if (p != NULL)
		live_insert(a, (model_alloc_t){ (uintptr_t)p, (size_t)r->size,
		    r->xalloc, importer });
	return ((uintptr_t)p);
}

/* Free the live allocation at addr, passing size (which must round to it). */
static void
do_free(model_world_t *w, model_arena_t *a, uintptr_t addr, size_t size)
{
	model_alloc_t *m = live_at(a, addr);
	MODEL_CHECK(w, m != NULL && roundup(size, a->cf.quantum) == m->size,
	    "the engine frees %#jx, which is not live", (uintmax_t)addr);
	bool xfree = m->xalloc;
	/* The model first: a release during the call must see it free. */
	live_remove(a, m);
	arena_enter(w, a);
	if (xfree)
		vmem_xfree(a->vmp, (void *)addr, size);
	else
		vmem_free(a->vmp, (void *)addr, size);
	arena_leave(w);
	reports_expect(w, NULL);
}

/* Give vmem_add() a span; why is the report expected, or NULL. */
static void
do_add(model_world_t *w, model_arena_t *a, uintptr_t start, size_t size,
    int vmflag, const char *why)
{
	arena_enter(w, a);
	void *p = vmem_add(a->vmp, (void *)start, size, vmflag);
	arena_leave(w);
	reports_expect(w, why);
	if (why != NULL) {
		MODEL_CHECK(w, p == NULL, "a refused vmem_add() returned %p",
		    p);
		return;
	}
	MODEL_CHECK(w, p == (void *)start, "vmem_add() returned %p", p);
	span_insert(a, start, start + size, false);
	a->nadded++;
}

/* ---- the import and release functions ---- */

static void *
import_common(vmem_t *source, size_t *sizep, bool grow, int vmflag)
{
	model_world_t *w = current_world;
	model_arena_t *a = calling_arena(w, source);
	const model_req_t *r = a->req;
	MODEL_CHECK(w, r != NULL, "\"%s\" imported outside an allocation",
	    a->cf.name);
	MODEL_CHECK(w, import_allowed(a, r), "\"%s\" imported for a request "
	    "with minaddr or maxaddr", a->cf.name);
	MODEL_CHECK(w, *sizep >= r->size, "\"%s\" imported %#zx for a "
	    "request of %#jx", a->cf.name, *sizep, (uintmax_t)r->asked);
	if (completeness_holds(a, r)) {
		compute_runs(w, a);
		const model_run_t *run = searched_run_that_fits(w, a, r);
		MODEL_CHECK(w, run == NULL, "\"%s\" imported although the free "
		    "range [%#jx, %#jx) fits", a->cf.name,
		    (uintmax_t)run->start, (uintmax_t)run->end);
	}
	a->imports++;
	if (chance(w, a->cf.import_fail_percent))
		return (NULL);

	model_arena_t *src = a->source;
	size_t size = *sizep;
	if (grow) {
		size_t step = src->cf.quantum > a->cf.quantum ?
		    src->cf.quantum : a->cf.quantum;
		size_t more = step * (size_t)choose(w, 4);
		if (size + more > size)
			size += more;
	}
	model_req_t sr = { .asked = size, .size = roundup(size,
	    src->cf.quantum), .vmflag = vmflag, .policy = POLICY_INSTANT };
	check_reports_t outer = reports_set_aside();
	uintptr_t addr = do_alloc(w, src, &sr, a);
	reports_restore(w, &outer);
	if (addr == 0)
		return (NULL);
	*sizep = size;
	span_insert(a, addr, addr + size, true);
	a->imports_ok++;
	return ((void *)addr);
}

static void *
model_import(vmem_t *source, size_t size, int vmflag)
{
	return (import_common(source, &size, false, vmflag));
}

static void *
model_ximport(vmem_t *source, size_t *sizep, size_t align, int vmflag)
{
	model_world_t *w = current_world;
	MODEL_CHECK(w, align != 0 && is_p2(align), "ximport with align %#zx",
	    align);
	return (import_common(source, sizep, true, vmflag));
}

static void
model_release(vmem_t *source, void *vaddr, size_t size)
{
	model_world_t *w = current_world;
	model_arena_t *a = calling_arena(w, source);
	uintptr_t addr = (uintptr_t)vaddr;
	model_span_t *sp = span_find(a, addr);
	MODEL_CHECK(w, sp != NULL && sp->imported && sp->start == addr &&
	    sp->end - sp->start == size, "\"%s\" released [%p, +%#zx), "
	    "which is not one of its imported spans", a->cf.name, vaddr, size);
	MODEL_CHECK(w, live_count_in(a, sp->start, sp->end) == 0,
	    "\"%s\" released [%p, +%#zx) with allocations in it", a->cf.name,
	    vaddr, size);
	span_remove(a, sp);
	model_alloc_t *m = live_at(a->source, addr);
	MODEL_CHECK(w, m != NULL && m->importer == a, "\"%s\" released "
	    "%p, which its source never gave it", a->cf.name, vaddr);
	check_reports_t outer = reports_set_aside();
	do_free(w, a->source, addr, size);
	reports_restore(w, &outer);
}

/* ---- consistency ---- */

/* What every step checks on each arena it touched. */
static void
check_arena(model_world_t *w, model_arena_t *a)
{
	int verified = vmem_verify(a->vmp);
	MODEL_CHECK(w, verified == 0, "vmem_verify(\"%s\"): %s", a->cf.name,
	    check_reports.last);
	reports_expect(w, NULL);
	size_t allocated = vmem_size(a->vmp, VMEM_ALLOC);
	size_t unallocated = vmem_size(a->vmp, VMEM_FREE);
	size_t both = vmem_size(a->vmp, VMEM_ALLOC | VMEM_FREE);
	MODEL_CHECK(w, allocated == a->inuse &&
	    unallocated == a->total - a->inuse && both == a->total,
	    "vmem_size(\"%s\"): alloc %#zx, free %#zx, both %#zx; the model "
	    "has %#zx in use of %#zx", a->cf.name, allocated, unallocated,
	    both, a->inuse, a->total);
	if (a->source == NULL)
		return;
	unsigned kept = 0;
	for (size_t i = 0; i < a->nspans; i++)
		kept += a->span[i].imported &&
		    live_count_in(a, a->span[i].start, a->span[i].end) == 0;
	MODEL_CHECK(w, kept <= (a->nextfit_used ? 1u : 0u), "\"%s\" keeps %u "
	    "wholly free imported spans", a->cf.name, kept);
}

static void
items_append(item_list_t *l, uintptr_t start, size_t size)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->item = xrealloc(l->item, l->cap, sizeof (seg_item_t));
	}
	l->item[l->n++] = (seg_item_t){ start, size };
}

static void
collect_item(void *arg, void *start, size_t size)
{
	items_append(arg, (uintptr_t)start, size);
}

static int
item_compare(const void *x, const void *y)
{
	const seg_item_t *a = x, *b = y;
	return ((a->start > b->start) - (a->start < b->start));
}

static void
items_sort(item_list_t *l)
{
	if (l->n > 1)   /* an empty list may have no array */
		qsort(l->item, l->n, sizeof (seg_item_t), item_compare);
}

/* Index of the first item of the sorted l starting at or after start. */
static size_t
items_lower_bound(const item_list_t *l, uintptr_t start)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->item[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

static void
walk_into(model_world_t *w, model_arena_t *a, int types, item_list_t *l)
{
	l->n = 0;
	arena_enter(w, a);
	vmem_walk(a->vmp, types, collect_item, l);
	arena_leave(w);
	reports_expect(w, NULL);
}

/* Compare everything vmem_walk() shows of a with the model. */
static void
walk_compare(model_world_t *w, model_arena_t *a)
{
	const char *name = a->cf.name;
	walk_into(w, a, VMEM_SPAN, &w->walk_span);
	walk_into(w, a, VMEM_ALLOC, &w->walk_alloc);
	walk_into(w, a, VMEM_FREE, &w->walk_free);
	walk_into(w, a, VMEM_ALLOC | VMEM_FREE | VMEM_SPAN, &w->walk_all);

	/* Spans: the model's, in any order. */
	item_list_t *e = &w->expect;
	e->n = 0;
	for (size_t i = 0; i < w->walk_span.n; i++)
		items_append(e, w->walk_span.item[i].start,
		    w->walk_span.item[i].size);
	items_sort(e);
	MODEL_CHECK(w, e->n == a->nspans, "\"%s\" walks %zu spans, the model "
	    "has %zu", name, e->n, a->nspans);
	for (size_t i = 0; i < e->n; i++)
		MODEL_CHECK(w, e->item[i].start == a->span[i].start &&
		    e->item[i].size == a->span[i].end - a->span[i].start,
		    "\"%s\" walks the span [%#jx, +%#zx), the model has "
		    "[%#jx, %#jx)", name, (uintmax_t)e->item[i].start,
		    e->item[i].size, (uintmax_t)a->span[i].start,
		    (uintmax_t)a->span[i].end);

	/* Allocated segments: exactly the live allocations. */
	item_list_t *al = &w->walk_alloc;
	items_sort(al);
	MODEL_CHECK(w, al->n == a->nlive, "\"%s\" walks %zu allocated "
	    "segments, the model has %zu", name, al->n, a->nlive);
	for (size_t i = 0; i < al->n; i++)
		MODEL_CHECK(w, al->item[i].start == a->live[i].start &&
		    al->item[i].size == a->live[i].size, "\"%s\" walks the "
		    "allocated segment [%#jx, +%#zx), the model has [%#jx, "
		    "+%#zx)", name, (uintmax_t)al->item[i].start,
		    al->item[i].size, (uintmax_t)a->live[i].start,
		    a->live[i].size);

	/* Free segments tile the runs; only the rotor may split one. */
	item_list_t *fr = &w->walk_free;
	items_sort(fr);
	compute_runs(w, a);
	size_t j = 0;
	for (size_t i = 0; i < w->nruns; i++) {
		uintptr_t cursor = w->run[i].start;
		while (cursor < w->run[i].end) {
			MODEL_CHECK(w, j < fr->n && fr->item[j].start ==
			    cursor && fr->item[j].size != 0 &&
			    fr->item[j].size <= w->run[i].end - cursor,
			    "\"%s\": the free segments do not tile the free "
			    "range [%#jx, %#jx) at %#jx", name,
			    (uintmax_t)w->run[i].start,
			    (uintmax_t)w->run[i].end, (uintmax_t)cursor);
			cursor += fr->item[j++].size;
		}
	}
	MODEL_CHECK(w, j == fr->n, "\"%s\" walks free segments the model does "
	    "not have", name);
	MODEL_CHECK(w, fr->n - w->nruns <= (a->nextfit_used ? 1u : 0u),
	    "\"%s\" has %zu free segments for %zu free ranges", name, fr->n,
	    w->nruns);

	/* All together: each span, then its segments in address order. */
	e->n = 0;
	size_t ia = 0, ifr = 0;
	while (ia < al->n || ifr < fr->n) {
		bool take_alloc = ifr == fr->n || (ia < al->n &&
		    al->item[ia].start < fr->item[ifr].start);
		seg_item_t *it = take_alloc ? &al->item[ia++] :
		    &fr->item[ifr++];
		items_append(e, it->start, it->size);
	}
	size_t k = 0;
	for (size_t i = 0; i < w->walk_span.n; i++) {
		seg_item_t sp = w->walk_span.item[i];
		size_t s = items_lower_bound(e, sp.start);
		MODEL_CHECK(w, k < w->walk_all.n &&
		    w->walk_all.item[k].start == sp.start &&
		    w->walk_all.item[k].size == sp.size, "\"%s\": the combined "
		    "walk does not show span %#jx in its place", name,
		    (uintmax_t)sp.start);
		k++;
		for (; s < e->n && e->item[s].start - sp.start < sp.size;
		    s++, k++)
			MODEL_CHECK(w, k < w->walk_all.n &&
			    w->walk_all.item[k].start == e->item[s].start &&
			    w->walk_all.item[k].size == e->item[s].size,
			    "\"%s\": the combined walk does not show segment "
			    "%#jx in its place", name,
			    (uintmax_t)e->item[s].start);
	}
	MODEL_CHECK(w, k == w->walk_all.n, "\"%s\": the combined walk shows "
	    "%zu items, the others %zu", name, w->walk_all.n, k);
}

/* ---- operations ---- */

static void
describe(model_world_t *w, const char *fmt, ...) KMEM_PRINTFLIKE(2, 3);

static void
describe(model_world_t *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->op, sizeof (w->op), fmt, ap);
	va_end(ap);
}

/* A freeable (not imported) live allocation, or NULL. */
static model_alloc_t *
pick_freeable(model_world_t *w, model_arena_t *a)
{
	if (a->nlive == a->nowned)
		return (NULL);
	size_t i = (size_t)choose(w, a->nlive);
	while (a->live[i].importer != NULL)
		i = (i + 1) % a->nlive;
	return (&a->live[i]);
}

static const model_span_t *
pick_span(model_world_t *w, const model_arena_t *a)
{
	if (a->nspans == 0)
		return (NULL);
	return (&a->span[choose(w, a->nspans)]);
}

/* Mostly a few quanta, sometimes many, rarely absurd; often unrounded. */
static size_t
random_size(model_world_t *w, const model_arena_t *a)
{
	size_t q = a->cf.quantum;
	size_t quanta;
	switch (choose(w, 50)) {
	case 0:
		return (SIZE_MAX - (size_t)choose(w, 2 * q));
	case 1:
		return ((size_t)1 << (ADDR_BITS - 1 - choose(w, 8)));
	case 2: case 3: case 4: case 5: case 6:
		quanta = 1 + (size_t)choose(w, 2 * a->cf.scale);
		break;
	case 7: case 8: case 9: case 10: case 11: case 12: case 13: case 14:
	case 15: case 16: case 17: case 18:
		quanta = 1 + (size_t)choose(w, 256);
		break;
	default:
		quanta = (size_t)1 << choose(w, 4);
		quanta += (size_t)choose(w, quanta);
		break;
	}
	return (quanta * q - (chance(w, 30) ? (size_t)choose(w, q) : 0));
}

static int
random_policy(model_world_t *w, const model_arena_t *a, enum policy *pp)
{
	enum policy p = (enum policy)choose(w, a->cf.nextfit ? 4 : 3);
	*pp = p;
	if (p == POLICY_INSTANT && chance(w, 50))
		return (0);
	return (policy_flags[p]);
}

static int
random_vmflag(model_world_t *w, const model_arena_t *a, model_req_t *r)
{
	return (VM_NOSLEEP | random_policy(w, a, &r->policy) |
	    (chance(w, 3) ? VM_PANIC : 0));
}

static void
op_alloc(model_world_t *w, model_arena_t *a)
{
	model_req_t r = { .asked = random_size(w, a) };
	r.size = roundup(r.asked, a->cf.quantum);
	r.vmflag = random_vmflag(w, a, &r);
	describe(w, "vmem_alloc(\"%s\", %#zx, %#x)", a->cf.name, r.asked,
	    (unsigned)r.vmflag);
	do_alloc(w, a, &r, NULL);
}

static void
op_xalloc(model_world_t *w, model_arena_t *a)
{
	size_t q = a->cf.quantum;
	model_req_t r = { .xalloc = true, .asked = random_size(w, a) };
	r.size = roundup(r.asked, q);
	r.vmflag = random_vmflag(w, a, &r);
	if (chance(w, 60))
		r.align = q << choose(w, 13);
	size_t align = r.align != 0 ? r.align : q;
	if (chance(w, 40))
		r.phase = q * (size_t)choose(w, align / q);
	if (chance(w, 25)) {
		unsigned shift = log2_ceil(roundup(r.phase + r.size, align)) +
		    (unsigned)choose(w, 3);
		if (shift < ADDR_BITS)
			r.nocross = (size_t)1 << shift;
	}
	const model_span_t *sp = pick_span(w, a);
	if (sp != NULL && chance(w, 25)) {
		wide_t len = (wide_t)sp->end - sp->start;
		wide_t min = sp->start + (wide_t)choose(w, (uint64_t)len);
		wide_t max = min + 1 + (wide_t)choose(w, (uint64_t)(2 * len));
		if (chance(w, 80))
			r.minaddr = (uintptr_t)min;
		if (chance(w, 70) && max < ADDR_END)
			r.maxaddr = (uintptr_t)max;
	}
	describe(w, "vmem_xalloc(\"%s\", %#zx, align %#zx, phase %#zx, "
	    "nocross %#zx, min %#jx, max %#jx, %#x)", a->cf.name, r.asked,
	    r.align, r.phase, r.nocross, (uintmax_t)r.minaddr,
	    (uintmax_t)r.maxaddr, (unsigned)r.vmflag);
	do_alloc(w, a, &r, NULL);
}

static void
op_free(model_world_t *w, model_arena_t *a)
{
	model_alloc_t *m = pick_freeable(w, a);
	if (m == NULL)
		return;
	/* Any size that rounds to the allocated one. */
	size_t size = m->size - (size_t)choose(w, a->cf.quantum);
	describe(w, "%s(\"%s\", %#jx, %#zx)", m->xalloc ? "vmem_xfree" :
	    "vmem_free", a->cf.name, (uintmax_t)m->start, size);
	do_free(w, a, m->start, size);
}

static void
op_add(model_world_t *w, model_arena_t *a)
{
	size_t q = a->cf.quantum;
	size_t quanta = chance(w, 30) ? 1 + (size_t)choose(w, 4) :
	    1 + (size_t)choose(w, a->cf.scale);
	wide_t size = (wide_t)quanta * q;
	wide_t start;
	const model_span_t *sp = pick_span(w, a);
	unsigned where = (unsigned)choose(w, 10);
	if (sp != NULL && !sp->imported && where < 3) {
		/*
		 * Right after or right before a span: they must not merge.
		 * (Not next to an imported span: the source may hand out that
		 * range later, and overlapping spans are the caller's bug.)
		 */
		start = where == 0 && sp->start > size ? sp->start - size :
		    sp->end;
	} else if (a->cf.top_span && where == 3) {
		start = ADDR_END - q - size - q * (wide_t)choose(w, 1u << 20);
	} else {
		start = a->cf.region + q * (wide_t)choose(w,
		    64 * a->cf.scale);
	}
	if (start + size >= ADDR_END)
		return;
	bool overlaps = span_overlaps(a, start, size);
	if (!overlaps && a->nadded >= ADDED_SPANS_MAX)
		return;
	describe(w, "vmem_add(\"%s\", %#jx, %#jx)", a->cf.name,
	    (uintmax_t)start, (uintmax_t)size);
	do_add(w, a, (uintptr_t)start, (size_t)size, VM_NOSLEEP,
	    overlaps ? "overlaps" : NULL);
}

static void
op_contains(model_world_t *w, model_arena_t *a)
{
	size_t q = a->cf.quantum;
	const model_span_t *sp = pick_span(w, a);
	wide_t addr = a->cf.region + (wide_t)choose(w, 64 * a->cf.scale * q);
	wide_t size = 1 + (wide_t)choose(w, a->cf.scale * q);
	if (sp != NULL && chance(w, 90)) {
		wide_t len = (wide_t)sp->end - sp->start;
		addr = (wide_t)sp->start + choose(w, (uint64_t)(len + 2 * q));
		addr = addr >= q ? addr - q : 0;
		wide_t to_end = addr < sp->end ? sp->end - addr : 1;
		switch (choose(w, 4)) {
		case 0:
			size = 1;
			break;
		case 1:
			size = to_end;
			break;
		case 2:
			size = to_end + 1;
			break;
		default:
			size = 1 + (wide_t)choose(w, (uint64_t)(2 * len));
			break;
		}
	}
	if (addr >= ADDR_END || size >= ADDR_END)
		return;
	const model_span_t *in = span_find(a, addr);
	bool expected = in != NULL && size <= in->end - addr;
	describe(w, "vmem_contains(\"%s\", %#jx, %#jx)", a->cf.name,
	    (uintmax_t)addr, (uintmax_t)size);
	arena_enter(w, a);
	int got = vmem_contains(a->vmp, (void *)(uintptr_t)addr, (size_t)size);
	arena_leave(w);
	reports_expect(w, NULL);
	MODEL_CHECK(w, (got != 0) == expected, "vmem_contains() says %d",
	    got);
}

static void
op_walk(model_world_t *w, model_arena_t *a)
{
	describe(w, "vmem_walk(\"%s\") and compare", a->cf.name);
	walk_compare(w, a);
}

/* What became of each allocation live when a reentrant walk began. */
enum walk_state { WALK_UNSEEN, WALK_SEEN, WALK_FREED };

typedef struct reentrant_walk {
	model_world_t *w;
	model_arena_t *a;
	seg_item_t *start_live;         /* the live allocations, sorted */
	enum walk_state *state;
	size_t n;
} reentrant_walk_t;

static void
reentrant_visit(void *arg, void *vstart, size_t size)
{
	reentrant_walk_t *rw = arg;
	model_world_t *w = rw->w;
	model_arena_t *a = rw->a;
	uintptr_t start = (uintptr_t)vstart;
	model_alloc_t *m = live_at(a, start);
	MODEL_CHECK(w, m != NULL && m->size == size, "the reentrant walk of "
	    "\"%s\" visits [%#jx, +%#zx), which is not a live allocation",
	    a->cf.name, (uintmax_t)start, size);
	seg_item_t key = { start, size };
	seg_item_t *it = bsearch(&key, rw->start_live, rw->n,
	    sizeof (seg_item_t), item_compare);
	/* (A freed one's address may come back, allocated anew.) */
	if (it != NULL && rw->state[it - rw->start_live] != WALK_FREED) {
		MODEL_CHECK(w, rw->state[it - rw->start_live] == WALK_UNSEEN,
		    "the reentrant walk of \"%s\" visits [%#jx, +%#zx) twice",
		    a->cf.name, (uintmax_t)start, size);
		rw->state[it - rw->start_live] = WALK_SEEN;
	}
	/* The lock is dropped: the arena answers from inside the walk. */
	size_t inuse = vmem_size(a->vmp, VMEM_ALLOC);
	MODEL_CHECK(w, inuse == a->inuse, "vmem_size() inside the walk of "
	    "\"%s\": %#zx, the model has %#zx", a->cf.name, inuse, a->inuse);
	/*
	 * Free or allocate, not both: the walker marker sits just after the
	 * visited segment, so once that is freed it may split a free run,
	 * which the completeness checks of an allocation do not allow for.
	 */
	if (m->importer == NULL && chance(w, 40)) {
		do_free(w, a, start, size);
		if (it != NULL)
			rw->state[it - rw->start_live] = WALK_FREED;
	} else if (a->nlive - a->nowned < LIVE_MAX && chance(w, 20)) {
		op_alloc(w, a);
	}
}

/*
 * A VMEM_REENTRANT walk that frees some of what it visits and allocates
 * more: it must still visit every allocation it started with once.
 */
static void
op_walk_reentrant(model_world_t *w, model_arena_t *a)
{
	describe(w, "vmem_walk(\"%s\", VMEM_ALLOC | VMEM_REENTRANT) freeing "
	    "and allocating as it goes", a->cf.name);
	reentrant_walk_t rw = { .w = w, .a = a, .n = a->nlive };
	rw.start_live = xrealloc(NULL, rw.n + 1, sizeof (seg_item_t));
	rw.state = xrealloc(NULL, rw.n + 1, sizeof (enum walk_state));
	for (size_t i = 0; i < rw.n; i++) {
		rw.start_live[i] = (seg_item_t){ a->live[i].start,
		    a->live[i].size };
		rw.state[i] = WALK_UNSEEN;
	}
	arena_enter(w, a);
	vmem_walk(a->vmp, VMEM_ALLOC | VMEM_REENTRANT, reentrant_visit, &rw);
	arena_leave(w);
	reports_expect(w, NULL);
	for (size_t i = 0; i < rw.n; i++)
		MODEL_CHECK(w, rw.state[i] != WALK_UNSEEN, "the reentrant walk "
		    "of \"%s\" missed [%#jx, +%#zx)", a->cf.name,
		    (uintmax_t)rw.start_live[i].start, rw.start_live[i].size);
	free(rw.start_live);
	free(rw.state);
}

/* ---- bad input ---- */

static void
bad_free(model_world_t *w, model_arena_t *a, uintptr_t addr, size_t size,
    bool xfree, const char *why)
{
	describe(w, "bad input: %s(\"%s\", %#jx, %#zx)", xfree ?
	    "vmem_xfree" : "vmem_free", a->cf.name, (uintmax_t)addr, size);
	arena_enter(w, a);
	if (xfree)
		vmem_xfree(a->vmp, (void *)addr, size);
	else
		vmem_free(a->vmp, (void *)addr, size);
	arena_leave(w);
	reports_expect(w, why);
}

static void
bad_xalloc(model_world_t *w, model_arena_t *a, size_t size, size_t align,
    size_t phase, size_t nocross, uintptr_t minaddr, uintptr_t maxaddr,
    int vmflag, const char *why)
{
	describe(w, "bad input: vmem_xalloc(\"%s\", %#zx, align %#zx, phase "
	    "%#zx, nocross %#zx, min %#jx, max %#jx, %#x)", a->cf.name, size,
	    align, phase, nocross, (uintmax_t)minaddr, (uintmax_t)maxaddr,
	    (unsigned)vmflag);
	arena_enter(w, a);
	void *p = vmem_xalloc(a->vmp, size, align, phase, nocross,
	    (void *)minaddr, (void *)maxaddr, vmflag);
	arena_leave(w);
	reports_expect(w, why);
	MODEL_CHECK(w, p == NULL, "bad input returned %p", p);
}

static void
bad_add(model_world_t *w, model_arena_t *a, uintptr_t start, size_t size,
    int vmflag, const char *why)
{
	describe(w, "bad input: vmem_add(\"%s\", %#jx, %#zx, %#x)", a->cf.name,
	    (uintmax_t)start, size, (unsigned)vmflag);
	do_add(w, a, start, size, vmflag, why);
}

/* A free of an address that is not a live allocation's start. */
static void
bad_free_unallocated(model_world_t *w, model_arena_t *a)
{
	size_t q = a->cf.quantum;
	wide_t addr = a->cf.region - q * (1 + (wide_t)choose(w, 1024));
	compute_runs(w, a);
	if (w->nruns != 0 && chance(w, 80)) {
		const model_run_t *run = &w->run[choose(w, w->nruns)];
		addr = run->start + q * (wide_t)choose(w,
		    (run->end - run->start) / q);
	}
	size_t i = live_index(a, addr);
	if (i != a->nlive && a->live[i].start == addr)
		return;
	bool inside = i != a->nlive &&
	    addr < (wide_t)a->live[i].start + a->live[i].size;
	bad_free(w, a, (uintptr_t)addr, q * (1 + (size_t)choose(w, 4)),
	    chance(w, 50), inside ? "inside" : "free");
}

static void
bad_input_free(model_world_t *w, model_arena_t *a, unsigned kind)
{
	size_t q = a->cf.quantum;
	model_alloc_t *m = pick_freeable(w, a);
	if (kind == 0 || m == NULL) {
		bad_free_unallocated(w, a);
		return;
	}
	model_alloc_t copy = *m;
	switch (kind) {
	case 1:
		describe(w, "free before a double free: %#jx",
		    (uintmax_t)copy.start);
		do_free(w, a, copy.start, copy.size);
		bad_free(w, a, copy.start, copy.size, copy.xalloc, "free");
		break;
	case 2: {
		size_t size = 0;
		if (chance(w, 50))
			size = copy.size + q * (1 + (size_t)choose(w, 4));
		else if (copy.size > q)
			size = copy.size - q - (size_t)choose(w, q);
		bad_free(w, a, copy.start, size, copy.xalloc, "wrong size");
		break;
	}
	default:
		if (copy.size == 1)
			return;
		bad_free(w, a, copy.start + 1 + (uintptr_t)choose(w,
		    copy.size - 1), copy.size, copy.xalloc, "inside");
		break;
	}
}

static void
bad_input_add(model_world_t *w, model_arena_t *a)
{
	size_t q = a->cf.quantum;
	const model_span_t *sp = pick_span(w, a);
	switch (choose(w, 6)) {
	case 0:
		if (sp != NULL) {
			uintptr_t start = sp->start +
			    q * (uintptr_t)choose(w, (sp->end - sp->start) / q);
			wide_t size = q * (1 + (wide_t)choose(w, a->cf.scale));
			if (start + size >= ADDR_END)
				size = sp->end - start;
			bad_add(w, a, start, (size_t)size, VM_NOSLEEP,
			    "overlaps");
		}
		break;
	case 1:
		bad_add(w, a, 0, q, VM_NOSLEEP, "address 0");
		break;
	case 2:
		if (q > 1)
			bad_add(w, a, a->cf.region + q / 2, q, VM_NOSLEEP,
			    "quantum");
		break;
	case 3:
		bad_add(w, a, (uintptr_t)(ADDR_END - q), 2 * q, VM_NOSLEEP,
		    "wraps");
		break;
	case 4:
		bad_add(w, a, a->cf.region, q, VM_NOSLEEP | VM_BESTFIT,
		    "vmflag may hold only");
		break;
	default:
		bad_add(w, a, a->cf.region, 0, VM_NOSLEEP, "size is 0");
		break;
	}
}

static bool
has_children(const model_world_t *w, const model_arena_t *a)
{
	for (unsigned i = 0; i < w->narenas; i++)
		if (w->arena[i].source == a)
			return (true);
	return (false);
}

static void
op_bad_input(model_world_t *w, model_arena_t *a)
{
	size_t q = a->cf.quantum;
	size_t size = q * (1 + (size_t)choose(w, 8));
	size_t align = q << choose(w, 8);
	unsigned kind = (unsigned)choose(w, 16);
	switch (kind) {
	case 0: case 1: case 2: case 3:
		bad_input_free(w, a, kind);
		break;
	case 4:
		bad_input_add(w, a);
		break;
	case 5:
		bad_xalloc(w, a, size, q * (3 + 2 * (size_t)choose(w, 8)), 0, 0,
		    0, 0, VM_NOSLEEP, "power of two");
		break;
	case 6:
		bad_xalloc(w, a, size, align, align + q * (size_t)choose(w,
		    align / q + 1), 0, 0, 0, VM_NOSLEEP, "phase");
		break;
	case 7:
		bad_xalloc(w, a, align + 1 + (size_t)choose(w, align), 0, 0,
		    align, 0, 0, VM_NOSLEEP, "nocross");
		break;
	case 8:
		if (chance(w, 50)) {
			bad_xalloc(w, a, 0, 0, 0, 0, 0, 0, VM_NOSLEEP,
			    "size is 0");
			break;
		}
		describe(w, "bad input: vmem_alloc(\"%s\", 0)", a->cf.name);
		arena_enter(w, a);
		void *p = vmem_alloc(a->vmp, 0, VM_NOSLEEP);
		arena_leave(w);
		reports_expect(w, "size is 0");
		MODEL_CHECK(w, p == NULL, "bad input returned %p", p);
		break;
	case 9: {
		unsigned first = (unsigned)choose(w, 4);
		unsigned second = (first + 1 + (unsigned)choose(w, 3)) % 4;
		bad_xalloc(w, a, size, 0, 0, 0, 0, 0, VM_NOSLEEP |
		    policy_flags[first] | policy_flags[second], "policy");
		break;
	}
	case 10: {
		uintptr_t min = a->cf.region + (uintptr_t)choose(w, 1u << 20);
		bad_xalloc(w, a, size, 0, 0, 0, min,
		    min - (uintptr_t)choose(w, min), VM_NOSLEEP, "empty");
		break;
	}
	case 11:
		bad_xalloc(w, a, size, 0, 0, 3 * align, 0, 0, VM_NOSLEEP,
		    "nocross is not a power of two");
		break;
	case 12:
		if (q > 1)
			bad_xalloc(w, a, size, 2 * q, q / 2, 0, 0, 0,
			    VM_NOSLEEP, "multiple of the quantum");
		break;
	case 13:
		bad_xalloc(w, a, size, 0, 0, 0, 0, 0, VM_NOSLEEP | 0x10000,
		    "not allocation flags");
		break;
	case 14:
		if (has_children(w, a)) {
			describe(w, "bad input: vmem_destroy(\"%s\") while "
			    "another arena imports from it", a->cf.name);
			arena_enter(w, a);
			vmem_destroy(a->vmp);
			arena_leave(w);
			reports_expect(w, "still imports");
		}
		break;
	default:
		describe(w, "vmem_xalloc(\"%s\", %#zx, VM_PANIC) that cannot "
		    "be met", a->cf.name, size);
		/* [minaddr, maxaddr) is one quantum wide: size cannot fit. */
		model_req_t r = { .xalloc = true, .asked = size,
		    .size = roundup(size, q), .minaddr = a->cf.region,
		    .maxaddr = a->cf.region + q,
		    .vmflag = VM_NOSLEEP | VM_PANIC };
		if (size > q)
			do_alloc(w, a, &r, NULL);
		break;
	}
	/* Whatever it was, nothing changed. */
	walk_compare(w, a);
}

/* ---- arenas ---- */

static bool
descends_from(const model_arena_t *a, const model_arena_t *ancestor)
{
	for (const model_arena_t *s = a->source; s != NULL; s = s->source)
		if (s == ancestor)
			return (true);
	return (false);
}

static void
arena_create(model_world_t *w, model_arena_t *a)
{
	const arena_config_t *cf = &a->cf;
	vmem_t *src = a->source != NULL ? a->source->vmp : NULL;
	int vmflag = cf->cflags | VM_NOSLEEP;
	if (cf->ximport)
		a->vmp = vmem_xcreate(cf->name, (void *)cf->base, cf->size,
		    cf->quantum, model_ximport, model_release, src,
		    cf->qcache_max, vmflag);
	else
		a->vmp = vmem_create(cf->name, (void *)cf->base, cf->size,
		    cf->quantum, src != NULL ? model_import : NULL,
		    src != NULL ? model_release : NULL, src, cf->qcache_max,
		    vmflag);
	reports_expect(w, NULL);
	MODEL_CHECK(w, a->vmp != NULL, "vmem_create(\"%s\") failed", cf->name);
	a->nextfit_used = false;
	a->touched = true;
	if (cf->size != 0)
		span_insert(a, cf->base, cf->base + cf->size, false);
	if (cf->top_span) {
		/* A span ending at the highest quantum-aligned address. */
		size_t size = cf->quantum << (4 + choose(w, 9));
		do_add(w, a, (uintptr_t)(ADDR_END - cf->quantum - size), size,
		    VM_NOSLEEP, NULL);
	}
}

/*
 * Destroy a (its children must be gone).  Unless leak is set, everything
 * is freed and compared first; otherwise the leak must be reported, and
 * the spans a keeps in its source become the source's own allocations.
 */
static void
arena_teardown(model_world_t *w, model_arena_t *a, bool leak)
{
	MODEL_CHECK(w, a->nowned == 0, "\"%s\" is destroyed before the arenas "
	    "importing from it", a->cf.name);
	if (!leak) {
		while (a->nlive > 0)
			do_free(w, a, a->live[a->nlive - 1].start,
			    a->live[a->nlive - 1].size);
		walk_compare(w, a);
	}
	size_t leaked = a->nlive;
	arena_enter(w, a);
	vmem_destroy(a->vmp);
	arena_leave(w);
	reports_expect(w, leaked != 0 ? "leaked" : NULL);
	for (size_t i = 0; i < a->nspans; i++) {
		const model_span_t *sp = &a->span[i];
		if (!sp->imported)
			continue;
		MODEL_CHECK(w, live_count_in(a, sp->start, sp->end) != 0,
		    "vmem_destroy(\"%s\") kept the wholly free imported span "
		    "[%#jx, %#jx)", a->cf.name, (uintmax_t)sp->start,
		    (uintmax_t)sp->end);
		model_alloc_t *m = live_at(a->source, sp->start);
		m->importer = NULL;
		a->source->nowned--;
	}
	a->vmp = NULL;
	a->touched = false;
	a->nspans = a->nlive = a->nowned = 0;
	a->inuse = a->total = 0;
	a->nadded = 0;
}

/* Destroy a (leaking, if it has no children) and its subtree; recreate. */
static void
op_recreate(model_world_t *w, model_arena_t *a, bool leak)
{
	unsigned ai = (unsigned)(a - w->arena);
	leak = leak && !has_children(w, a);
	describe(w, "destroy%s and recreate \"%s\"", leak ? " (leaking)" : "",
	    a->cf.name);
	for (unsigned i = w->narenas; i-- > ai + 1;)
		if (descends_from(&w->arena[i], a))
			arena_teardown(w, &w->arena[i], false);
	arena_teardown(w, a, leak);
	arena_create(w, a);
	for (unsigned i = ai + 1; i < w->narenas; i++)
		if (descends_from(&w->arena[i], a))
			arena_create(w, &w->arena[i]);
}

/* ---- worlds ---- */

static model_arena_t *
add_arena(model_world_t *w, const char *name, int source, size_t quantum,
    bool nextfit)
{
	model_arena_t *a = &w->arena[w->narenas];
	a->cf.source = source;
	snprintf(a->cf.name, sizeof (a->cf.name), "%s", name);
	a->cf.quantum = quantum;
	a->cf.nextfit = nextfit;
	a->cf.region = (uintptr_t)(w->narenas + 1) << REGION_SHIFT;
	a->cf.scale = 4096;
	a->source = source >= 0 ? &w->arena[source] : NULL;
	w->narenas++;
	return (a);
}

static void
build_preset(model_world_t *w, unsigned preset)
{
	static const size_t plain_quanta[] = { 1, 8, 4096 };
	model_arena_t *a;
	size_t q;
	switch (preset) {
	case 0:
	case 1:
		/* One arena of spans, one near the top of the address space. */
		q = plain_quanta[choose(w, 3)];
		a = add_arena(w, preset_names[preset], -1, q, preset == 1);
		a->cf.base = a->cf.region;
		a->cf.size = q << (8 + choose(w, 9));
		a->cf.top_span = true;
		break;
	case 2:
		/* Identifiers from 1, and a child taking them by next fit. */
		a = add_arena(w, "ids", -1, 1, false);
		a->cf.cflags = VMC_IDENTIFIER;
		a->cf.base = 1;
		a->cf.size = (size_t)1 << (10 + choose(w, 11));
		a = add_arena(w, "ids-nextfit", 0, 1, true);
		a->cf.cflags = VMC_IDENTIFIER;
		a->cf.import_fail_percent = 5;
		break;
	case 3:
		/* A source, two children (one xcreate'd), a grandchild. */
		a = add_arena(w, "source", -1, 4096, false);
		a->cf.base = a->cf.region;
		a->cf.size = (size_t)4096 << (12 + choose(w, 8));
		a->cf.top_span = true;
		a->cf.scale = 1024;
		a = add_arena(w, "child", 0, chance(w, 50) ? 1024 : 4096,
		    false);
		a->cf.import_fail_percent = 10;
		a->cf.scale = 1024;
		a = add_arena(w, "xchild", 0, chance(w, 50) ? 512 : 4096, true);
		a->cf.ximport = true;
		a->cf.scale = 1024;
		a = add_arena(w, "grandchild", 1, 64, false);
		a->cf.cflags = VMC_NO_QCACHE;
		a->cf.qcache_max = (size_t)64 << choose(w, 6);
		a->cf.scale = 256;
		break;
	default:
		/* Small spans that run out; imports that often fail. */
		q = chance(w, 50) ? 1 : 16;
		a = add_arena(w, "tight", -1, q, chance(w, 50));
		a->cf.base = a->cf.region;
		a->cf.size = q * (16 + (size_t)choose(w, 64));
		a->cf.scale = 64;
		a = add_arena(w, "tight-child", 0, q, false);
		a->cf.import_fail_percent = 30;
		a->cf.scale = 64;
		break;
	}
}

unsigned
model_preset_count(void)
{
	return (NPRESETS);
}

static model_world_t *
world_new(void)
{
	model_world_t *w = calloc(1, sizeof (*w));
	if (w == NULL) {
		fprintf(stderr, "vmem model: out of memory\n");
		abort();
	}
	current_world = w;
	check_catch_reports();
	return (w);
}

static void
world_build(model_world_t *w, unsigned preset)
{
	w->preset = preset_names[preset];
	describe(w, "creating the arenas");
	build_preset(w, preset);
	for (unsigned i = 0; i < w->narenas; i++)
		arena_create(w, &w->arena[i]);
}

model_world_t *
model_world_random(unsigned preset, uint64_t seed, const char *hint)
{
	model_world_t *w = world_new();
	w->rng = seed;
	snprintf(w->hint, sizeof (w->hint), "%s", hint);
	world_build(w, preset % NPRESETS);
	return (w);
}

model_world_t *
model_world_from_bytes(const uint8_t *data, size_t len)
{
	model_world_t *w = world_new();
	w->data = data;
	w->len = len;
	snprintf(w->hint, sizeof (w->hint), "(a fuzz input of %zu bytes)",
	    len);
	world_build(w, (unsigned)choose(w, NPRESETS));
	return (w);
}

bool
model_world_step(model_world_t *w)
{
	w->step++;
	model_arena_t *a = &w->arena[choose(w, w->narenas)];
	size_t freeable = a->nlive - a->nowned;
	uint64_t free_share = freeable >= LIVE_MAX ? 100 :
	    10 + 60 * freeable / LIVE_MAX;
	if (choose(w, 100) < free_share) {
		op_free(w, a);
	} else {
		unsigned r = (unsigned)choose(w, 10000);
		if (r < 4200)
			op_alloc(w, a);
		else if (r < 7200)
			op_xalloc(w, a);
		else if (r < 7900)
			op_bad_input(w, a);
		else if (r < 8800)
			op_contains(w, a);
		else if (r < 9300)
			op_add(w, a);
		else if (r < 9650)
			op_walk(w, a);
		else if (r < 9996)
			op_walk_reentrant(w, a);
		else
			op_recreate(w, a, r >= 9998);
	}
	for (unsigned i = 0; i < w->narenas; i++) {
		if (w->arena[i].touched) {
			w->arena[i].touched = false;
			check_arena(w, &w->arena[i]);
		}
	}
	return (!w->exhausted);
}

void
model_world_destroy(model_world_t *w)
{
	w->step++;
	describe(w, "freeing everything and destroying the arenas");
	for (unsigned i = w->narenas; i-- > 0;) {
		arena_teardown(w, &w->arena[i], false);
		if (w->arena[i].source != NULL)
			check_arena(w, w->arena[i].source);
	}
	for (unsigned i = 0; i < w->narenas; i++) {
		free(w->arena[i].span);
		free(w->arena[i].live);
	}
	free(w->run);
	free(w->walk_span.item);
	free(w->walk_alloc.item);
	free(w->walk_free.item);
	free(w->walk_all.item);
	free(w->expect.item);
	kmem_report_handler_set(NULL, NULL, NULL);
	current_world = NULL;
	free(w);
}
