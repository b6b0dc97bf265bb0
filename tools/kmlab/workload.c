/*
 * kmlab's workloads: the synthetic ones, and traces.
 *
 * Synthetic workloads but "frag" are streams of objects with lifetimes.
 * Time counts allocations: at each step the objects whose time is up are
 * freed (a heap orders them by death), then one object is allocated, its
 * size (and type) drawn from the workload's distribution and its lifetime
 * from an exponential distribution whose mean makes the expected live bytes
 * fill x budget.  What is still alive at the end stays alive: the picture
 * of the region shows the steady state.  The default length is five mean
 * lifetimes of the longest-lived kind, so the steady state is reached.
 *
 *   fixed        one size (--size), one object type
 *   uniform      sizes uniform in [--min, --max], no type
 *   exponential  sizes --min plus an exponential with mean --mean - --min,
 *                at most --max, no type
 *   kernel       twelve object types of a 4.3BSD-like kernel with their
 *                sizes and shares of the allocations: short-lived buffers
 *                (namei, mbufs, clusters, exec arguments), medium-lived
 *                (files, sockets, pipes) and long-lived (vnodes, inodes,
 *                credentials, processes, eight times longer)
 *   frag         three rounds of: fill 60% of the budget with small
 *                objects, free three of every four, then ask for 45% of
 *                the budget in large objects (which fit only where freed
 *                small ones coalesced), then free everything; the last
 *                round stops before that last free
 *
 * Traces: one event a line,
 *	a <id> <size> [<type>]	allocate size bytes as object id
 *	f <id>			free object id
 *	r <old> <new> <size>	realloc: allocate new, then free old ("-"
 *				for either: realloc(NULL, size), or the old
 *				object freed by realloc(old, 0)); new equal
 *				to old is a realloc in place, replayed as
 *				the free, then the allocation
 * with '#' comments and blank lines.  An id is an unsigned integer naming a
 * live object; it may be used again once freed.  A type is a name; its
 * first allocation fixes its size.  Size 0 (malloc(0)) is replayed as 1
 * byte.  Words "key=value" after an event carry what a recorded trace
 * knows beyond it (kmlab --dump writes them): t=NS, its time since the
 * start; th=N, its thread; op=NAME, the function when not malloc; al=N,
 * the alignment; n=N, calloc's count.  The laboratory uses the time (the
 * utilization chart's axis) and reads the rest without using it.
 *
 * Binary traces (<kmem/trace.h>, recorded by libkmem_malloc.so) are told
 * apart by their magic and read by tracefile.c; their events become the
 * same lab events: an allocation of any kind, a realloc as the allocation
 * of the new object and the free of the old, frees of objects allocated
 * before recording began left out.
 */
#include "kmlab.h"
#include "tracefile.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
	[LAB_FIXED] = "fixed",
	[LAB_UNIFORM] = "uniform",
	[LAB_EXPONENTIAL] = "exponential",
	[LAB_KERNEL] = "kernel",
	[LAB_FRAG] = "frag",
	[LAB_TRACE] = "trace",
};

#define DEFAULT_ALLOCS_MIN      50000
#define DEFAULT_ALLOCS_MAX      2000000
#define LIFETIMES               5       /* default length, in lifetimes */

const char *
lab_kind_name(enum lab_kind kind)
{
	return (kind_names[kind]);
}

int
lab_kind_parse(const char *name)
{
	for (int k = 0; k < LAB_TRACE; k++) {
		if (strcmp(name, kind_names[k]) == 0)
			return (k);
	}
	return (-1);
}

static void
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void *
xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (p == NULL) {
		fprintf(stderr, "kmlab: out of memory\n");
		exit(1);
	}
	return (p);
}

/* Make room in array, holding n of capacity items, for one more. */
#define GROW(array, n, capacity) do {                                   \
	if ((n) == (capacity)) {                                        \
		(capacity) = (capacity) == 0 ? 1024 : 2 * (capacity);   \
		(array) = xrealloc((array), (capacity) * sizeof (*(array))); \
	}                                                               \
} while (0)

static void
push(lab_workload_t *w, lab_event_t e)
{
	GROW(w->events, w->nevents, w->capacity);
	w->events[w->nevents++] = e;
	if (e.alloc) {
		w->allocs++;
		if (e.slot >= w->nslots)
			w->nslots = e.slot + 1;
	}
}

static int
add_type(lab_workload_t *w, const char *name, size_t size)
{
	GROW(w->types, w->ntypes, w->types_capacity);
	char *copy = strdup(name);
	if (copy == NULL) {
		fprintf(stderr, "kmlab: out of memory\n");
		exit(1);
	}
	w->types[w->ntypes] = (struct kmem_lab_type){ copy, size };
	return ((int)w->ntypes++);
}

size_t
lab_workload_peak(const lab_workload_t *w)
{
	uint32_t *size = calloc(w->nslots != 0 ? w->nslots : 1,
	    sizeof (uint32_t));
	if (size == NULL) {
		fprintf(stderr, "kmlab: out of memory\n");
		exit(1);
	}
	size_t live = 0, peak = 0;
	for (size_t i = 0; i < w->nevents; i++) {
		const lab_event_t *e = &w->events[i];
		if (e->alloc) {
			size[e->slot] = e->size;
			live += e->size;
			if (live > peak)
				peak = live;
		} else {
			live -= size[e->slot];
			size[e->slot] = 0;
		}
	}
	free(size);
	return (peak);
}

void
lab_workload_free(lab_workload_t *w)
{
	for (size_t t = 0; t < w->ntypes; t++)
		free((char *)w->types[t].name);
	free(w->types);
	free(w->events);
	free(w->times);
	memset(w, 0, sizeof (*w));
}

/* ---- random numbers (splitmix64) ---- */

static uint64_t
rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (z ^ (z >> 31));
}

/* Uniform in (0, 1]. */
static double
rng_unit(uint64_t *state)
{
	return ((double)((rng_next(state) >> 11) + 1) / 9007199254740992.0);
}

/* Exponential with the given mean, at least 1. */
static uint64_t
rng_exponential(uint64_t *state, double mean)
{
	double x = -mean * log(rng_unit(state));
	return (x < 1 ? 1 : (uint64_t)x);
}

/* ---- objects with lifetimes ---- */

typedef struct death {
	uint64_t time;
	uint32_t slot;
} death_t;

typedef struct lifetimes {
	lab_workload_t *w;
	death_t *heap;                  /* a min-heap by time */
	size_t nheap;
	size_t heap_capacity;
	uint32_t *free_slots;
	size_t nfree;
	size_t free_capacity;
	uint32_t next_slot;
} lifetimes_t;

static void
heap_push(lifetimes_t *lt, death_t d)
{
	GROW(lt->heap, lt->nheap, lt->heap_capacity);
	size_t i = lt->nheap++;
	while (i > 0 && lt->heap[(i - 1) / 2].time > d.time) {
		lt->heap[i] = lt->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	lt->heap[i] = d;
}

static death_t
heap_pop(lifetimes_t *lt)
{
	death_t top = lt->heap[0];
	death_t last = lt->heap[--lt->nheap];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= lt->nheap)
			break;
		if (c + 1 < lt->nheap && lt->heap[c + 1].time < lt->heap[c].time)
			c++;
		if (last.time <= lt->heap[c].time)
			break;
		lt->heap[i] = lt->heap[c];
		i = c;
	}
	if (lt->nheap > 0)
		lt->heap[i] = last;
	return (top);
}

static uint32_t
slot_take(lifetimes_t *lt)
{
	return (lt->nfree > 0 ? lt->free_slots[--lt->nfree] : lt->next_slot++);
}

static void
slot_give(lifetimes_t *lt, uint32_t slot)
{
	GROW(lt->free_slots, lt->nfree, lt->free_capacity);
	lt->free_slots[lt->nfree++] = slot;
}

static void
emit_free(lifetimes_t *lt, uint32_t slot)
{
	push(lt->w, (lab_event_t){ .slot = slot, .alloc = false });
	slot_give(lt, slot);
}

/* At time now: free what died, then allocate one object. */
static void
lifetimes_step(lifetimes_t *lt, uint64_t now, size_t size, int type,
    uint64_t life)
{
	while (lt->nheap > 0 && lt->heap[0].time <= now)
		emit_free(lt, heap_pop(lt).slot);
	uint32_t slot = slot_take(lt);
	push(lt->w, (lab_event_t){ .slot = slot, .size = (uint32_t)size,
	    .type = type, .alloc = true });
	heap_push(lt, (death_t){ now + life, slot });
}

static void
lifetimes_fini(lifetimes_t *lt)
{
	free(lt->heap);
	free(lt->free_slots);
}

static size_t
default_allocs(const lab_params_t *p, double longest_life)
{
	if (p->allocs != 0)
		return (p->allocs);
	double n = LIFETIMES * longest_life;
	return (n < DEFAULT_ALLOCS_MIN ? DEFAULT_ALLOCS_MIN :
	    n > DEFAULT_ALLOCS_MAX ? DEFAULT_ALLOCS_MAX : (size_t)n);
}

/* fixed, uniform, exponential: one distribution of sizes. */
static void
make_sized(lab_workload_t *w, const lab_params_t *p)
{
	double mean_size = p->kind == LAB_FIXED ? (double)p->size :
	    p->kind == LAB_UNIFORM ? (p->min + p->max) / 2.0 : (double)p->mean;
	double life = p->fill * (double)p->budget / mean_size;
	int type = p->kind == LAB_FIXED ? add_type(w, "fixed", p->size) :
	    KMEM_LAB_UNTYPED;
	uint64_t rng = p->seed;
	lifetimes_t lt = { .w = w };
	size_t n = default_allocs(p, life);
	for (size_t i = 0; i < n; i++) {
		size_t size = p->size;
		if (p->kind == LAB_UNIFORM) {
			size = p->min + rng_next(&rng) % (p->max - p->min + 1);
		} else if (p->kind == LAB_EXPONENTIAL) {
			size = p->min + rng_exponential(&rng,
			    (double)(p->mean - p->min)) - 1;
			if (size > p->max)
				size = p->max;
		}
		lifetimes_step(&lt, i, size, type, rng_exponential(&rng, life));
	}
	lifetimes_fini(&lt);
}

/* The kernel's object types. */
enum life_class { LIFE_SHORT, LIFE_MEDIUM, LIFE_LONG };

static const struct kernel_type {
	const char *name;
	size_t size;
	unsigned share;                 /* allocations per thousand */
	enum life_class life;
	double short_life;              /* LIFE_SHORT: mean, in allocations */
} kernel_types[] = {
	{ "namei", 1024, 120, LIFE_SHORT, 4 },
	{ "mbuf", 256, 280, LIFE_SHORT, 32 },
	{ "mcluster", 2048, 60, LIFE_SHORT, 32 },
	{ "callout", 48, 90, LIFE_SHORT, 16 },
	{ "exec_args", 65536, 5, LIFE_SHORT, 8 },
	{ "file", 80, 80, LIFE_MEDIUM, 0 },
	{ "socket", 560, 50, LIFE_MEDIUM, 0 },
	{ "pipe", 16384, 10, LIFE_MEDIUM, 0 },
	{ "cred", 96, 40, LIFE_LONG, 0 },
	{ "vnode", 248, 120, LIFE_LONG, 0 },
	{ "inode", 184, 115, LIFE_LONG, 0 },
	{ "proc", 1248, 30, LIFE_LONG, 0 },
};
#define KERNEL_TYPES    (sizeof (kernel_types) / sizeof (kernel_types[0]))
#define LONG_OVER_MEDIUM 8.0

static void
make_kernel(lab_workload_t *w, const lab_params_t *p)
{
	/*
	 * Live bytes = sum over types of share * size * mean life: solve for
	 * the medium lifetime M (long ones live LONG_OVER_MEDIUM * M).
	 */
	double fixed = 0, per_medium = 0;
	for (size_t t = 0; t < KERNEL_TYPES; t++) {
		const struct kernel_type *kt = &kernel_types[t];
		double weight = kt->share / 1000.0 * (double)kt->size;
		add_type(w, kt->name, kt->size);
		if (kt->life == LIFE_SHORT)
			fixed += weight * kt->short_life;
		else
			per_medium += weight * (kt->life == LIFE_LONG ?
			    LONG_OVER_MEDIUM : 1);
	}
	double medium = (p->fill * (double)p->budget - fixed) / per_medium;
	if (medium < 1)
		medium = 1;
	uint64_t rng = p->seed;
	lifetimes_t lt = { .w = w };
	size_t n = default_allocs(p, LONG_OVER_MEDIUM * medium);
	for (size_t i = 0; i < n; i++) {
		unsigned pick = (unsigned)(rng_next(&rng) % 1000);
		size_t t = 0;
		while (pick >= kernel_types[t].share) {
			pick -= kernel_types[t].share;
			t++;
		}
		const struct kernel_type *kt = &kernel_types[t];
		double life = kt->life == LIFE_SHORT ? kt->short_life :
		    kt->life == LIFE_MEDIUM ? medium : LONG_OVER_MEDIUM * medium;
		lifetimes_step(&lt, i, kt->size, (int)t,
		    rng_exponential(&rng, life));
	}
	lifetimes_fini(&lt);
}

/* frag: see the theory comment. */
static const struct frag_round {
	size_t small;
	size_t large;
} frag_rounds[] = { { 64, 4096 }, { 256, 16384 }, { 48, 1024 } };
#define FRAG_ROUNDS     (sizeof (frag_rounds) / sizeof (frag_rounds[0]))

static void
make_frag(lab_workload_t *w, const lab_params_t *p)
{
	uint32_t slot_base = 0;
	for (size_t r = 0; r < FRAG_ROUNDS; r++) {
		size_t small = frag_rounds[r].small;
		size_t nsmall = p->budget / 10 * 6 / small;
		size_t nlarge = p->budget / 20 * 9 / frag_rounds[r].large;
		for (size_t i = 0; i < nsmall; i++)
			push(w, (lab_event_t){ .slot = slot_base + (uint32_t)i,
			    .size = (uint32_t)small, .type = KMEM_LAB_UNTYPED,
			    .alloc = true });
		for (size_t i = 0; i < nsmall; i++) {
			if (i % 4 != 0)
				push(w, (lab_event_t){ .slot = slot_base +
				    (uint32_t)i });
		}
		for (size_t i = 0; i < nlarge; i++)
			push(w, (lab_event_t){ .slot = slot_base +
			    (uint32_t)(nsmall + i),
			    .size = (uint32_t)frag_rounds[r].large,
			    .type = KMEM_LAB_UNTYPED, .alloc = true });
		if (r + 1 == FRAG_ROUNDS)
			break;
		for (size_t i = 0; i < nsmall + nlarge; i++) {
			if (i >= nsmall || i % 4 == 0)
				push(w, (lab_event_t){ .slot = slot_base +
				    (uint32_t)i });
		}
		slot_base += (uint32_t)(nsmall + nlarge);
	}
}

bool
lab_workload_make(lab_workload_t *w, const lab_params_t *p, char *err,
    size_t errlen)
{
	memset(w, 0, sizeof (*w));
	snprintf(w->name, sizeof (w->name), "%s", kind_names[p->kind]);
	if ((p->kind == LAB_UNIFORM || p->kind == LAB_EXPONENTIAL) &&
	    p->min > p->max) {
		fail(err, errlen, "--min %zu is larger than --max %zu", p->min,
		    p->max);
		return (false);
	}
	if (p->kind == LAB_EXPONENTIAL && (p->mean <= p->min ||
	    p->mean > p->max)) {
		fail(err, errlen, "--mean %zu must be above --min %zu and at "
		    "most --max %zu", p->mean, p->min, p->max);
		return (false);
	}
	switch (p->kind) {
	case LAB_FIXED:
	case LAB_UNIFORM:
	case LAB_EXPONENTIAL:
		make_sized(w, p);
		break;
	case LAB_KERNEL:
		make_kernel(w, p);
		break;
	case LAB_FRAG:
		make_frag(w, p);
		break;
	case LAB_TRACE:
		fail(err, errlen, "a trace is read, not made");
		return (false);
	}
	return (true);
}

/* ---- traces ---- */

/* Trace ids to slots: open addressing, linear probing. */
typedef struct id_map {
	uint64_t *id;
	uint32_t *slot;
	bool *used;
	size_t mask;
	size_t count;
} id_map_t;

static size_t
id_hash(const id_map_t *m, uint64_t id)
{
	return ((size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & m->mask);
}

static void id_put(id_map_t *m, uint64_t id, uint32_t slot);

static void
id_grow(id_map_t *m)
{
	id_map_t old = *m;
	size_t size = old.mask == 0 ? 1024 : 2 * (old.mask + 1);
	m->id = calloc(size, sizeof (uint64_t));
	m->slot = calloc(size, sizeof (uint32_t));
	m->used = calloc(size, sizeof (bool));
	if (m->id == NULL || m->slot == NULL || m->used == NULL) {
		fprintf(stderr, "kmlab: out of memory\n");
		exit(1);
	}
	m->mask = size - 1;
	m->count = 0;
	for (size_t i = 0; old.mask != 0 && i <= old.mask; i++) {
		if (old.used[i])
			id_put(m, old.id[i], old.slot[i]);
	}
	free(old.id);
	free(old.slot);
	free(old.used);
}

/* The index of id in the table, or of the empty place it would take. */
static size_t
id_find(const id_map_t *m, uint64_t id)
{
	size_t i = id_hash(m, id);
	while (m->used[i] && m->id[i] != id)
		i = (i + 1) & m->mask;
	return (i);
}

static void
id_put(id_map_t *m, uint64_t id, uint32_t slot)
{
	if (2 * (m->count + 1) > m->mask + 1)
		id_grow(m);
	size_t i = id_find(m, id);
	m->id[i] = id;
	m->slot[i] = slot;
	m->used[i] = true;
	m->count++;
}

/* Remove the entry at i, shifting later ones of its run back. */
static void
id_remove(id_map_t *m, size_t i)
{
	m->used[i] = false;
	m->count--;
	for (size_t j = (i + 1) & m->mask; m->used[j]; j = (j + 1) & m->mask) {
		size_t home = id_hash(m, m->id[j]);
		/* Move j back to i unless its home lies in (i, j]. */
		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->id[i] = m->id[j];
			m->slot[i] = m->slot[j];
			m->used[i] = true;
			m->used[j] = false;
			i = j;
		}
	}
}

static void
id_map_fini(id_map_t *m)
{
	free(m->id);
	free(m->slot);
	free(m->used);
}

/* Parse an unsigned decimal that fills the whole word; false if not one. */
static bool
parse_u64(const char *word, uint64_t *value)
{
	if (!isdigit((unsigned char)word[0]))
		return (false);
	char *end;
	errno = 0;
	unsigned long long v = strtoull(word, &end, 10);
	if (errno != 0 || *end != '\0')
		return (false);
	*value = v;
	return (true);
}

static int
type_find(const lab_workload_t *w, const char *name)
{
	for (size_t t = 0; t < w->ntypes; t++) {
		if (strcmp(w->types[t].name, name) == 0)
			return ((int)t);
	}
	return (-1);
}

#define TRACE_LINE_MAX  1024
#define TRACE_WORDS     10

/* One line's words; returns how many (up to TRACE_WORDS, more = too many). */
static size_t
split_words(char *line, char *words[TRACE_WORDS])
{
	size_t n = 0;
	for (char *s = strtok(line, " \t\r\n"); s != NULL;
	    s = strtok(NULL, " \t\r\n")) {
		if (n < TRACE_WORDS)
			words[n] = s;
		n++;
	}
	return (n);
}

typedef struct trace_reader {
	lab_workload_t *w;
	bool timed;                     /* the events carry t= */
	uint64_t last_t;
	id_map_t ids;
	uint32_t *free_slots;
	size_t nfree;
	size_t free_capacity;
	uint32_t next_slot;
} trace_reader_t;

static bool text_read(lab_workload_t *w, FILE *f, const char *fname,
    char *err, size_t errlen);

static void
push_time(trace_reader_t *tr, uint64_t t)
{
	lab_workload_t *w = tr->w;
	if (!tr->timed)
		return;
	GROW(w->times, w->ntimes, w->times_capacity);
	w->times[w->ntimes++] = t;
}

/* Allocate size bytes (0 as 1) as object id; NULL, or what is wrong. */
static const char *
reader_alloc(trace_reader_t *tr, uint64_t id, uint64_t size, int type,
    uint64_t t)
{
	if (tr->ids.mask != 0 && tr->ids.used[id_find(&tr->ids, id)])
		return ("the id is already live: free it first");
	uint32_t slot = tr->nfree > 0 ? tr->free_slots[--tr->nfree] :
	    tr->next_slot++;
	id_put(&tr->ids, id, slot);
	push(tr->w, (lab_event_t){ .slot = slot,
	    .size = size == 0 ? 1 : (uint32_t)size, .type = type,
	    .alloc = true });
	push_time(tr, t);
	return (NULL);
}

/* Free object id; NULL, or what is wrong. */
static const char *
reader_free(trace_reader_t *tr, uint64_t id, uint64_t t)
{
	size_t i = tr->ids.mask == 0 ? 0 : id_find(&tr->ids, id);
	if (tr->ids.mask == 0 || !tr->ids.used[i])
		return ("the id is not live: never allocated, or "
		    "freed already");
	uint32_t slot = tr->ids.slot[i];
	id_remove(&tr->ids, i);
	GROW(tr->free_slots, tr->nfree, tr->free_capacity);
	tr->free_slots[tr->nfree++] = slot;
	push(tr->w, (lab_event_t){ .slot = slot });
	push_time(tr, t);
	return (NULL);
}

/*
 * Take the "key=value" words off the end of words[0 .. *n - 1]: the time
 * into *t (the first event's says whether the trace is timed: all its
 * events must then say it).  NULL, or what is wrong.
 */
static const char *
trace_fields(trace_reader_t *tr, char **words, size_t *n, uint64_t *t)
{
	static const char *const known[] = { "t", "th", "op", "al", "n" };
	bool has_t = false;
	while (*n > 1 && strchr(words[*n - 1], '=') != NULL) {
		char *word = words[--*n];
		char *eq = strchr(word, '=');
		*eq = '\0';
		size_t k;
		for (k = 0; k < sizeof (known) / sizeof (known[0]); k++) {
			if (strcmp(word, known[k]) == 0)
				break;
		}
		if (k == sizeof (known) / sizeof (known[0]))
			return ("unknown field: the fields are t=, th=, op=, "
			    "al= and n=");
		if (k == 0) {
			if (!parse_u64(eq + 1, t))
				return ("t= is not an unsigned integer (ns)");
			has_t = true;
		}
	}
	if (tr->w->nevents == 0)
		tr->timed = has_t;
	else if (tr->timed != has_t)
		return ("t= on some events and not on others");
	if (has_t && *t < tr->last_t)
		return ("t= goes back in time");
	if (has_t)
		tr->last_t = *t;
	return (NULL);
}

/* "-" or an id; false if neither. */
static bool
parse_id_or_none(const char *word, uint64_t *id, bool *none)
{
	*none = strcmp(word, "-") == 0;
	return (*none || parse_u64(word, id));
}

/* One event from its words; NULL, or what is wrong with them. */
static const char *
trace_event(trace_reader_t *tr, char **words, size_t n, char *why,
    size_t whylen)
{
	uint64_t id = 0, size = 0, t = 0;
	const char *bad = trace_fields(tr, words, &n, &t);
	if (bad != NULL)
		return (bad);
	if (strcmp(words[0], "a") == 0) {
		if (n < 3 || n > 4)
			return ("an allocation is \"a <id> <size> [<type>]\"");
		if (!parse_u64(words[1], &id))
			return ("the id is not an unsigned integer");
		if (!parse_u64(words[2], &size) || size > UINT32_MAX)
			return ("the size is not an integer from 0 to "
			    "4294967295");
		int type = KMEM_LAB_UNTYPED;
		if (n == 4) {
			type = type_find(tr->w, words[3]);
			if (type < 0) {
				type = add_type(tr->w, words[3], size);
			} else if (tr->w->types[type].size != size) {
				snprintf(why, whylen, "type \"%s\" has size %zu, "
				    "not %llu", words[3],
				    tr->w->types[type].size,
				    (unsigned long long)size);
				return (why);
			}
		}
		return (reader_alloc(tr, id, size, type, t));
	}
	if (strcmp(words[0], "f") == 0) {
		if (n != 2)
			return ("a free is \"f <id>\"");
		if (!parse_u64(words[1], &id))
			return ("the id is not an unsigned integer");
		return (reader_free(tr, id, t));
	}
	if (strcmp(words[0], "r") == 0) {
		uint64_t old = 0;
		bool no_old, no_new;
		if (n != 4)
			return ("a realloc is \"r <old> <new> <size>\"");
		if (!parse_id_or_none(words[1], &old, &no_old) ||
		    !parse_id_or_none(words[2], &id, &no_new))
			return ("an id is not an unsigned integer or \"-\"");
		if (!parse_u64(words[3], &size) || size > UINT32_MAX)
			return ("the size is not an integer from 0 to "
			    "4294967295");
		if (!no_old && !no_new && old == id) {
			/* In place: the object freed and allocated again at
			 * its new size (a lab allocator cannot resize). */
			if ((bad = reader_free(tr, old, t)) != NULL)
				return (bad);
			return (reader_alloc(tr, id, size, KMEM_LAB_UNTYPED, t));
		}
		if (!no_new && (bad = reader_alloc(tr, id, size,
		    KMEM_LAB_UNTYPED, t)) != NULL)
			return (bad);
		return (no_old ? NULL : reader_free(tr, old, t));
	}
	snprintf(why, whylen, "unknown event \"%.40s\": an event is \"a\" "
	    "(allocate), \"f\" (free) or \"r\" (realloc)", words[0]);
	return (why);
}

/*
 * The workload of a binary trace: its events as lab events (the file's
 * comment says how).  Objects larger than a lab size (4 GiB) are left
 * out, with their frees, and counted.
 */
static bool
workload_from_binary(lab_workload_t *w, const trace_file_t *t,
    const char *fname, char *err, size_t errlen)
{
	trace_reader_t tr = { .w = w, .timed = true };
	const char *bad = NULL;
	for (size_t i = 0; i < t->nevents && bad == NULL; i++) {
		const trace_event_t *e = &t->events[i];
		bool fits = e->size <= UINT32_MAX;
		if (e->id != 0 && !fits)
			w->skipped++;
		if (e->op == KMEM_TRACE_REALLOC && e->id != 0 &&
		    e->id == e->old_id) {
			/* In place, as the text reader replays it. */
			if (tr.ids.mask != 0 &&
			    tr.ids.used[id_find(&tr.ids, e->id)])
				bad = reader_free(&tr, e->id, e->t);
			if (bad == NULL && fits)
				bad = reader_alloc(&tr, e->id, e->size,
				    KMEM_LAB_UNTYPED, e->t);
			continue;
		}
		if (e->id != 0 && fits)
			bad = reader_alloc(&tr, e->id, e->size,
			    KMEM_LAB_UNTYPED, e->t);
		bool frees = e->op == KMEM_TRACE_FREE ||
		    (e->op == KMEM_TRACE_REALLOC && (e->id != 0 || e->size == 0));
		if (bad == NULL && frees && e->old_id != 0 &&
		    tr.ids.mask != 0 && tr.ids.used[id_find(&tr.ids, e->old_id)])
			bad = reader_free(&tr, e->old_id, e->t);
	}
	id_map_fini(&tr.ids);
	free(tr.free_slots);
	if (bad != NULL) {
		/* The reader numbers objects so that this cannot happen. */
		fail(err, errlen, "%s: %s", fname, bad);
		return (false);
	}
	w->duration_ns = t->nevents > 0 ? t->events[t->nevents - 1].t : 0;
	return (true);
}

/* The whole of f, in memory (NUL-terminated); NULL if it cannot be read. */
static char *
read_all(FILE *f, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	while (buf != NULL) {
		n += fread(buf + n, 1, cap - n - 1, f);
		if (n + 1 < cap)
			break;
		cap *= 2;
		char *more = realloc(buf, cap);
		if (more == NULL)
			free(buf);
		buf = more;
	}
	if (buf == NULL || ferror(f)) {
		free(buf);
		return (NULL);
	}
	buf[n] = '\0';
	*len = n;
	return (buf);
}

bool
lab_workload_read(lab_workload_t *w, FILE *f, const char *fname, char *err,
    size_t errlen)
{
	size_t len;
	char *data = read_all(f, &len);
	memset(w, 0, sizeof (*w));
	if (data == NULL) {
		fail(err, errlen, "%s: cannot read it", fname);
		return (false);
	}
	const char *base = strrchr(fname, '/');
	snprintf(w->name, sizeof (w->name), "%s", base != NULL ? base + 1 :
	    fname);
	bool ok;
	if (trace_file_is_binary(data, len)) {
		trace_file_t t;
		int status = trace_file_read(&t, data, len);
		if (status < 0) {
			fail(err, errlen, "%s: %s", fname, t.damage);
			ok = false;
		} else {
			if (status > 0)
				snprintf(w->damage, sizeof (w->damage), "%s",
				    t.damage);
			w->recorded_ops = t.nevents;
			ok = workload_from_binary(w, &t, fname, err, errlen);
		}
		trace_file_free(&t);
	} else {
		FILE *mem = fmemopen(data, len == 0 ? 1 : len, "r");
		ok = mem != NULL && text_read(w, mem, fname, err, errlen);
		if (mem == NULL)
			fail(err, errlen, "%s: cannot read it", fname);
		else
			fclose(mem);
	}
	free(data);
	if (ok && w->allocs == 0) {
		fail(err, errlen, "%s: the trace allocates nothing", fname);
		ok = false;
	}
	if (!ok)
		lab_workload_free(w);
	return (ok);
}

/* A text trace, into w (named already). */
static bool
text_read(lab_workload_t *w, FILE *f, const char *fname, char *err,
    size_t errlen)
{
	trace_reader_t tr = { .w = w };
	char line[TRACE_LINE_MAX];
	char why[160];
	const char *bad = NULL;
	size_t lineno = 0;
	while (bad == NULL && fgets(line, sizeof (line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			bad = "the line is too long";
			break;
		}
		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		char *words[TRACE_WORDS];
		size_t n = split_words(line, words);
		if (n > TRACE_WORDS)
			bad = "too many words";
		else if (n > 0)
			bad = trace_event(&tr, words, n, why, sizeof (why));
	}
	if (bad == NULL && ferror(f)) {
		bad = "cannot read it";
		lineno = 0;
	}
	id_map_fini(&tr.ids);
	free(tr.free_slots);
	if (bad != NULL) {
		fail(err, errlen, "%s:%zu: %s", fname, lineno, bad);
		return (false);
	}
	if (w->ntimes > 0)
		w->duration_ns = tr.last_t;
	return (true);
}

void
lab_workload_write(const lab_workload_t *w, FILE *out)
{
	fprintf(out, "# kmlab trace: workload %s, %zu allocations, %zu "
	    "events\n# a <id> <size> [<type>] allocates; f <id> frees\n",
	    w->name, w->allocs, w->nevents);
	for (size_t i = 0; i < w->nevents; i++) {
		const lab_event_t *e = &w->events[i];
		if (!e->alloc)
			fprintf(out, "f %u", e->slot);
		else if (e->type == KMEM_LAB_UNTYPED)
			fprintf(out, "a %u %u", e->slot, e->size);
		else
			fprintf(out, "a %u %u %s", e->slot, e->size,
			    w->types[e->type].name);
		if (w->times != NULL)
			fprintf(out, " t=%llu", (unsigned long long)w->times[i]);
		fputc('\n', out);
	}
}
