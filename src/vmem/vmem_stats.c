/*
 * Looking at arenas: the statistics snapshot, the ::vmem-style table, and
 * vmem_verify(), which checks every invariant listed at the top of vmem.c.
 *
 * Each function takes the arena lock for a consistent view; vmem_table()
 * also holds vmem_list_lock so the set of arenas cannot change under it
 * (its emit callback must therefore not create or destroy arenas).
 * Messages are formatted under the lock and reported after it is dropped.
 * The table is printed by vmem_table_of() from a source of rows
 * (stats_tables.h): the live arenas here, a snapshot in stats.c.
 */
#include "vmem_impl.h"

#include "base/format.h"
#include "base/report.h"
#include "base/stats_tables.h"

size_t
vmem_metadata_bytes(vmem_t *vmp)
{
	vmem_stats_t vs;
	(void) vmem_stats(vmp, &vs);
	size_t bytes = sizeof (vmem_t) + (vs.segs_alloc + vs.segs_free +
	    vs.spans + vs.segs_reserved) * sizeof (vmem_seg_t);
	if (vs.hash_buckets > VMEM_HASH_INITIAL)
		bytes += vs.hash_buckets * sizeof (vmem_seg_t *);
	return (bytes);
}

int
vmem_stats(vmem_t *vmp, vmem_stats_t *st)
{
	*st = (vmem_stats_t){ 0 };
	kmem_snprintf(st->name, sizeof (st->name), "%s", vmp->vm_name);
	if (vmp->vm_source != NULL)
		kmem_snprintf(st->source, sizeof (st->source), "%s",
		    vmp->vm_source->vm_name);
	st->depth = vmp->vm_depth;
	st->cflags = vmp->vm_cflags;
	st->quantum = vmp->vm_quantum;
	st->qcache_max = vmp->vm_qcache_max;

	kmem_mutex_enter(&vmp->vm_lock);
	const vmem_counters_t *c = &vmp->vm_st;
	st->mem_inuse = c->mem_inuse;
	st->mem_total = c->mem_total;
	st->mem_import = c->mem_import;
	st->alloc = c->alloc;
	st->free = c->free;
	st->fail = c->fail;
	st->wait = c->wait;
	st->import = c->import;
	st->release = c->release;
	st->search = c->search;
	st->hash_lookup = c->hash_lookup;
	st->hash_depth = c->hash_depth;
	st->hash_rescale = c->hash_rescale;
	st->hash_buckets = vmp->vm_hash_mask + 1;
	st->hash_longest_chain = vmem_hash_longest_chain(vmp);
	st->segs_alloc = c->segs_alloc;
	st->segs_free = c->segs_free;
	st->spans = c->spans;
	st->segs_reserved = vmp->vm_nreserve;
	st->mem_dirty = c->mem_dirty;
	st->purged = c->purged;
	kmem_mutex_exit(&vmp->vm_lock);
	return (0);
}

/* ---- the table ---- */

#define TABLE_FORMAT "%-24s %7s %13s %13s %13s %10s %10s %6s %6s %8s %6s %8s %5s"
#define ROW_FORMAT "%-24s %7zu %13zu %13zu %13zu %10llu %10llu %6llu %6llu " \
	"%8zu %6zu %8zu %5zu"

typedef struct table_out {
	kmem_emit_t *emit;
	void *arg;
} table_out_t;

static void
table_row(void *arg, const vmem_stats_t *st)
{
	const table_out_t *out = arg;
	char name[VMEM_NAMELEN + 2 * 8];
	char line[256];
	unsigned indent = st->depth < 8 ? st->depth : 8;
	kmem_snprintf(name, sizeof (name), "%*s%s", (int)(2 * indent), "",
	    st->name);
	kmem_snprintf(line, sizeof (line), ROW_FORMAT, name, st->quantum,
	    st->mem_inuse, st->mem_total, st->mem_import,
	    (unsigned long long)st->alloc, (unsigned long long)st->free,
	    (unsigned long long)st->fail, (unsigned long long)st->wait,
	    st->segs_alloc + st->segs_free, st->spans, st->hash_buckets,
	    st->hash_longest_chain);
	out->emit(out->arg, line);
}

void
vmem_table_of(vmem_rows_t *rows, void *src, kmem_emit_t *emit, void *arg)
{
	table_out_t out = { emit, arg };
	char line[256];
	kmem_snprintf(line, sizeof (line), TABLE_FORMAT, "NAME", "QUANTUM",
	    "INUSE", "TOTAL", "IMPORTED", "ALLOC", "FREE", "FAIL", "WAIT",
	    "SEGS", "SPANS", "BUCKETS", "CHAIN");
	emit(arg, line);
	rows(src, table_row, &out);
}

typedef struct live_rows {
	void (*row)(void *, const vmem_stats_t *);
	void *row_arg;
} live_rows_t;

static void
live_row(const live_rows_t *lr, vmem_t *vmp)
{
	vmem_stats_t st;
	vmem_stats(vmp, &st);
	lr->row(lr->row_arg, &st);
}

/* The arenas importing from source (NULL: the roots), each with theirs. */
static void
live_subtree(const live_rows_t *lr, const vmem_t *source)
{
	for (vmem_t *vmp = vmem_list; vmp != NULL; vmp = vmp->vm_list_next) {
		if (vmp->vm_source == source) {
			live_row(lr, vmp);
			live_subtree(lr, vmp);
		}
	}
}

/* Every arena in tree order (src NULL), or the one arena src; row is
 * called with the arena list held. */
void
vmem_rows_live(void *src, void (*row)(void *row_arg, const vmem_stats_t *st),
    void *row_arg)
{
	live_rows_t lr = { row, row_arg };
	kmem_mutex_enter(&vmem_list_lock);
	if (src != NULL)
		live_row(&lr, src);
	else
		live_subtree(&lr, NULL);
	kmem_mutex_exit(&vmem_list_lock);
}

void
vmem_table(vmem_t *vmp, void (*emit)(void *arg, const char *line), void *arg)
{
	vmem_table_of(vmem_rows_live, vmp, emit, arg);
}

/* ---- verification ---- */

typedef struct verifier {
	vmem_t *vmp;
	char why[256];
	vmem_counters_t seen;
} verifier_t;

#define VIOLATION(v, ...) \
	(kmem_snprintf((v)->why, sizeof ((v)->why), __VA_ARGS__), false)

/* The arena list: spans tiled by segments, coalesced, counted. */
static bool
verify_arena_list(verifier_t *v)
{
	vmem_t *vmp = v->vmp;
	vmem_seg_t *seg0 = &vmp->vm_seg0;
	size_t limit = 2 * (vmp->vm_st.segs_alloc + vmp->vm_st.segs_free +
	    2 * vmp->vm_st.spans) + 64;
	const vmem_seg_t *span = NULL;
	uintptr_t cursor = 0;
	const vmem_seg_t *last = NULL;  /* last segment, if no marker since */
	bool span_busy = false;         /* allocated segment or marker seen */
	unsigned rotors = 0;

	if (seg0->vs_type != VMEM_SPAN)
		return (VIOLATION(v, "the list anchor is not a span marker"));
	for (vmem_seg_t *vsp = seg0->vs_anext;; vsp = vsp->vs_anext) {
		if (limit-- == 0)
			return (VIOLATION(v, "the arena list does not close"));
		if (vsp->vs_aprev->vs_anext != vsp)
			return (VIOLATION(v, "broken arena list links at %p",
			    (void *)vsp->vs_start));
		if (vsp->vs_type == VMEM_SPAN) {
			if (span != NULL && cursor != span->vs_end)
				return (VIOLATION(v, "span [%p, %p) is covered "
				    "only up to %p", (void *)span->vs_start,
				    (void *)span->vs_end, (void *)cursor));
			if (span != NULL && span->vs_imported && !span_busy &&
			    vmp->vm_release != NULL && vmp->vm_purge == NULL)
				return (VIOLATION(v, "imported span [%p, %p) is "
				    "wholly free but was not given back",
				    (void *)span->vs_start,
				    (void *)span->vs_end));
			if (vsp == seg0)
				break;
			if (vsp->vs_start >= vsp->vs_end ||
			    p2_phase(vsp->vs_start | vsp->vs_end,
			    vmp->vm_quantum) != 0)
				return (VIOLATION(v, "bad span [%p, %p)",
				    (void *)vsp->vs_start,
				    (void *)vsp->vs_end));
			span = vsp;
			cursor = vsp->vs_start;
			last = NULL;
			span_busy = false;
			v->seen.spans++;
			v->seen.mem_total += seg_size(vsp);
			if (vsp->vs_imported)
				v->seen.mem_import += seg_size(vsp);
			continue;
		}
		if (vsp->vs_type == VMEM_ROTOR || vsp->vs_type == VMEM_WALKER) {
			rotors += vsp->vs_type == VMEM_ROTOR;
			last = NULL;
			span_busy = true;
			continue;
		}
		if (vsp->vs_type != VMEM_ALLOC && vsp->vs_type != VMEM_FREE)
			return (VIOLATION(v, "segment [%p, %p) has type 0x%x",
			    (void *)vsp->vs_start, (void *)vsp->vs_end,
			    vsp->vs_type));
		if (span == NULL || vsp->vs_start != cursor ||
		    vsp->vs_end <= vsp->vs_start ||
		    vsp->vs_end > span->vs_end ||
		    p2_phase(vsp->vs_end, vmp->vm_quantum) != 0)
			return (VIOLATION(v, "segment [%p, %p) does not continue "
			    "its span at %p", (void *)vsp->vs_start,
			    (void *)vsp->vs_end, (void *)cursor));
		cursor = vsp->vs_end;
		if (vsp->vs_type == VMEM_FREE) {
			if (last != NULL && last->vs_type == VMEM_FREE &&
			    last->vs_dirty == vsp->vs_dirty)
				return (VIOLATION(v, "free segments [%p, %p) and "
				    "[%p, %p) were not coalesced",
				    (void *)last->vs_start,
				    (void *)last->vs_end,
				    (void *)vsp->vs_start,
				    (void *)vsp->vs_end));
			v->seen.segs_free++;
			if (vsp->vs_dirty && vmp->vm_purge == NULL)
				return (VIOLATION(v, "free segment [%p, %p) is "
				    "dirty in an arena that retains nothing",
				    (void *)vsp->vs_start,
				    (void *)vsp->vs_end));
			if (vsp->vs_dirty)
				v->seen.mem_dirty += seg_size(vsp);
		} else {
			if (vmem_hash_find(vmp, vsp->vs_start) != vsp)
				return (VIOLATION(v, "allocated segment [%p, %p) "
				    "is not in the hash", (void *)vsp->vs_start,
				    (void *)vsp->vs_end));
			span_busy = true;
			v->seen.segs_alloc++;
			v->seen.mem_inuse += seg_size(vsp);
		}
		last = vsp;
	}
	if (rotors != 1)
		return (VIOLATION(v, "%u rotors on the arena list", rotors));
	return (true);
}

/* The free lists and their bitmap. */
static bool
verify_freelists(verifier_t *v)
{
	vmem_t *vmp = v->vmp;
	size_t total = 0;
	for (unsigned i = 0; i < VMEM_FREELISTS; i++) {
		bool marked = (vmp->vm_freemap >> i) & 1;
		if (marked != (vmp->vm_freelist[i] != NULL))
			return (VIOLATION(v, "free list %u is %s but its bit "
			    "says otherwise", i, marked ? "empty" : "in use"));
		const vmem_seg_t *prev = NULL;
		for (const vmem_seg_t *vsp = vmp->vm_freelist[i]; vsp != NULL;
		    vsp = vsp->vs_knext) {
			if (vsp->vs_type != VMEM_FREE ||
			    vsp->vs_kprev != prev ||
			    highbit(seg_size(vsp)) - 1 != i)
				return (VIOLATION(v, "segment [%p, %p) does not "
				    "belong on free list %u",
				    (void *)vsp->vs_start,
				    (void *)vsp->vs_end, i));
			if (++total > v->seen.segs_free)
				return (VIOLATION(v, "the free lists hold more "
				    "segments than the arena"));
			prev = vsp;
		}
	}
	if (total != v->seen.segs_free)
		return (VIOLATION(v, "the free lists hold %zu of the %zu free "
		    "segments", total, v->seen.segs_free));
	return (true);
}

/* The hash holds exactly the allocated segments; spans are all listed. */
static bool
verify_hash_and_spans(verifier_t *v)
{
	vmem_t *vmp = v->vmp;
	size_t hashed = 0;
	for (size_t i = 0; i <= vmp->vm_hash_mask; i++) {
		for (const vmem_seg_t *vsp = vmp->vm_hash_table[i]; vsp != NULL;
		    vsp = vsp->vs_knext) {
			if (vsp->vs_type != VMEM_ALLOC ||
			    ++hashed > v->seen.segs_alloc)
				return (VIOLATION(v, "the hash holds a segment "
				    "that is not allocated"));
		}
	}
	if (hashed != v->seen.segs_alloc)
		return (VIOLATION(v, "the hash holds %zu of the %zu allocated "
		    "segments", hashed, v->seen.segs_alloc));

	size_t spans = 0;
	for (const vmem_seg_t *span = vmp->vm_seg0.vs_knext;
	    span != &vmp->vm_seg0;
	    span = span->vs_knext) {
		if (span->vs_type != VMEM_SPAN ||
		    span->vs_knext->vs_kprev != span || ++spans > v->seen.spans)
			return (VIOLATION(v, "the span list is broken"));
	}
	if (spans != v->seen.spans)
		return (VIOLATION(v, "the span list holds %zu of the %zu spans",
		    spans, v->seen.spans));
	return (true);
}

/*
 * No two spans overlap (an import function could return a range the arena
 * already has).  Quadratic, so only up to SPANS_COMPARED spans.
 */
#define SPANS_COMPARED 1024

static bool
verify_spans_disjoint(verifier_t *v)
{
	const vmem_seg_t *seg0 = &v->vmp->vm_seg0;
	if (v->seen.spans > SPANS_COMPARED)
		return (true);
	for (const vmem_seg_t *a = seg0->vs_knext; a != seg0; a = a->vs_knext) {
		for (const vmem_seg_t *b = a->vs_knext; b != seg0;
		    b = b->vs_knext) {
			if (a->vs_start < b->vs_end && b->vs_start < a->vs_end)
				return (VIOLATION(v, "spans [%p, %p) and [%p, %p) "
				    "overlap", (void *)a->vs_start,
				    (void *)a->vs_end,
				    (void *)b->vs_start, (void *)b->vs_end));
		}
	}
	return (true);
}

static bool
verify_counters(verifier_t *v)
{
	const vmem_counters_t *c = &v->vmp->vm_st;
	const vmem_counters_t *s = &v->seen;
	if (c->mem_inuse != s->mem_inuse || c->mem_total != s->mem_total ||
	    c->mem_import != s->mem_import || c->segs_alloc != s->segs_alloc ||
	    c->segs_free != s->segs_free || c->spans != s->spans ||
	    c->mem_dirty != s->mem_dirty)
		return (VIOLATION(v, "counters (inuse %zu, total %zu, import "
		    "%zu, %zu alloc segs, %zu free segs, %zu spans, dirty %zu) "
		    "disagree with the lists (%zu, %zu, %zu, %zu, %zu, %zu, %zu)",
		    c->mem_inuse, c->mem_total, c->mem_import, c->segs_alloc,
		    c->segs_free, c->spans, c->mem_dirty, s->mem_inuse,
		    s->mem_total, s->mem_import, s->segs_alloc, s->segs_free,
		    s->spans, s->mem_dirty));
	return (true);
}

int
vmem_verify(vmem_t *vmp)
{
	verifier_t v = { .vmp = vmp };
	kmem_mutex_enter(&vmp->vm_lock);
	bool ok = verify_arena_list(&v) && verify_freelists(&v) &&
	    verify_hash_and_spans(&v) && verify_spans_disjoint(&v) &&
	    verify_counters(&v);
	kmem_mutex_exit(&vmp->vm_lock);
	if (ok)
		return (0);
	kmem_report("vmem_verify(\"%s\"): %s", vmp->vm_name, v.why);
	return (-1);
}
