/*
 * The statistics snapshot (include/kmem/stats.h): every arena, cache, pool
 * and malloc type of this process, and the tables printed from it.
 *
 * The rows come from the same row sources the live tables use
 * (stats_tables.h), so a snapshot holds exactly what the tables show, in
 * their order.  The cache and arena sources call back with the list locks
 * held, where nothing may allocate; so each family is collected into an
 * array allocated beforehand, sized from the family's count in the last
 * snapshot; if more rows came than it holds (the first snapshot, or objects
 * were created meanwhile) the array grows and the family is read again.
 * No lock is held while memory is allocated.
 *
 * The four tables are printed by tables_print(), from a snapshot
 * (kmem_stats_tables(): kmstat) or from the live objects
 * (kmem_stats_tables_live(): kmem_stats_print() and the statistics at
 * exit), so what a program prints at exit and what kmstat prints for it
 * cannot drift apart.  The live tables allocate nothing.
 */
#define _GNU_SOURCE             /* program_invocation_short_name */
#include <kmem/stats.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/format.h"
#include "base/stats_tables.h"

/* Rows of one family, collected by a row callback that never allocates. */
typedef struct collector {
	size_t row_size;
	size_t *last;                   /* the rows of the last snapshot */
	void *rows;
	size_t cap;
	size_t n;                       /* rows seen; beyond cap not kept */
} collector_t;

static size_t last_caches, last_arenas, last_pools, last_types;

static void
collect(collector_t *c, const void *row)
{
	if (c->n < c->cap)
		memcpy((char *)c->rows + c->n * c->row_size, row, c->row_size);
	c->n++;
}

static void
collect_cache(void *c, const kmem_cache_stats_t *st)
{
	collect(c, st);
}

static void
collect_arena(void *c, const vmem_stats_t *st)
{
	collect(c, st);
}

static void
collect_pool(void *c, const pool_stats_t *st)
{
	collect(c, st);
}

static void
collect_type(void *c, const mtype_stats_t *st)
{
	collect(c, st);
}

/*
 * A family's rows read by read_rows(c); the array of them, or false.  The
 * room for the last snapshot's count and some more, so that a process
 * whose objects come and go a little is read once per snapshot.
 */
static bool
collect_all(collector_t *c, void (*read_rows)(collector_t *c))
{
	size_t last = __atomic_load_n(c->last, __ATOMIC_RELAXED);
	for (size_t cap = last + last / 4 + 16;; cap = c->n + c->n / 4 + 8) {
		free(c->rows);
		c->rows = calloc(cap, c->row_size);
		if (c->rows == NULL)
			return (false);
		c->cap = cap;
		c->n = 0;
		read_rows(c);
		if (c->n <= c->cap) {
			__atomic_store_n(c->last, c->n, __ATOMIC_RELAXED);
			return (true);
		}
	}
}

static void
read_caches(collector_t *c)
{
	kmem_cache_rows_live(NULL, collect_cache, c);
}

static void
read_arenas(collector_t *c)
{
	vmem_rows_live(NULL, collect_arena, c);
}

static void
read_pools(collector_t *c)
{
	pool_rows_live(NULL, collect_pool, c);
}

static void
read_types(collector_t *c)
{
	mtype_rows_live(NULL, collect_type, c);
}

kmem_stats_t *
kmem_stats_snapshot(void)
{
	kmem_stats_t *st = calloc(1, sizeof (*st));
	if (st == NULL)
		return (NULL);
	st->pid = (long)getpid();
	kmem_snprintf(st->program, sizeof (st->program), "%s",
	    program_invocation_short_name);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	st->time_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;

	collector_t caches = { .row_size = sizeof (kmem_cache_stats_t),
	    .last = &last_caches };
	collector_t arenas = { .row_size = sizeof (vmem_stats_t),
	    .last = &last_arenas };
	collector_t pools = { .row_size = sizeof (pool_stats_t),
	    .last = &last_pools };
	collector_t types = { .row_size = sizeof (mtype_stats_t),
	    .last = &last_types };
	bool ok = collect_all(&caches, read_caches) &&
	    collect_all(&arenas, read_arenas) &&
	    collect_all(&pools, read_pools) && collect_all(&types, read_types);
	st->caches = caches.rows;
	st->ncaches = caches.n;
	st->arenas = arenas.rows;
	st->narenas = arenas.n;
	st->pools = pools.rows;
	st->npools = pools.n;
	st->types = types.rows;
	st->ntypes = types.n;
	if (!ok) {
		kmem_stats_free(st);
		errno = ENOMEM;
		return (NULL);
	}
	return (st);
}

void
kmem_stats_free(kmem_stats_t *st)
{
	if (st == NULL)
		return;
	free(st->caches);
	free(st->arenas);
	free(st->pools);
	free(st->types);
	free(st);
}

/* ---- tables ---- */

/* A snapshot's rows of one family as a row source. */
typedef struct snapshot_rows {
	const void *rows;
	size_t n;
} snapshot_rows_t;

#define SNAPSHOT_ROW_SOURCE(name, type)                                 \
static void                                                             \
name(void *src, void (*row)(void *, const type *), void *row_arg)      \
{                                                                       \
	const snapshot_rows_t *s = src;                                 \
	for (size_t i = 0; i < s->n; i++)                               \
		row(row_arg, (const type *)s->rows + i);                \
}
SNAPSHOT_ROW_SOURCE(snapshot_caches, kmem_cache_stats_t)
SNAPSHOT_ROW_SOURCE(snapshot_arenas, vmem_stats_t)
SNAPSHOT_ROW_SOURCE(snapshot_pools, struct pool_stats)
SNAPSHOT_ROW_SOURCE(snapshot_types, struct mtype_stats)

/* The tables' lines, passed on; a table that already ends with an empty
 * line (the cache table does) gets no second one after it. */
typedef struct tables_out {
	void (*emit)(void *arg, const char *line);
	void *arg;
	bool blank;                     /* the last line was empty */
} tables_out_t;

static void
tables_line(void *arg, const char *line)
{
	tables_out_t *out = arg;
	out->blank = line[0] == '\0';
	out->emit(out->arg, line);
}

static void
tables_end(tables_out_t *out)
{
	if (!out->blank)
		tables_line(out, "");
}

/* Where the four families' rows come from: a snapshot, or the live objects. */
typedef struct table_sources {
	kmem_cache_rows_t *caches;
	void *caches_src;
	vmem_rows_t *arenas;
	void *arenas_src;
	pool_rows_t *pools;
	void *pools_src;
	mtype_rows_t *types;
	void *types_src;
} table_sources_t;

/*
 * Every copy of the tables is printed here: kmstat's (a snapshot read from
 * another process), the snapshot's in-process and the live ones printed at
 * exit (kmem_stats_print()).  The table printers use no memory but the
 * stack, so neither does this.
 */
static void
tables_print(const table_sources_t *s, int tables,
    void (*emit)(void *arg, const char *line), void *arg)
{
	tables_out_t out = { emit, arg, false };
	if (tables & KMEM_STATS_CACHES) {
		kmem_table_of(s->caches, s->caches_src, tables_line, &out);
		tables_end(&out);
	}
	if (tables & KMEM_STATS_ARENAS) {
		vmem_table_of(s->arenas, s->arenas_src, tables_line, &out);
		tables_end(&out);
	}
	if (tables & KMEM_STATS_POOLS) {
		pool_table_of(s->pools, s->pools_src, tables_line, &out);
		tables_end(&out);
	}
	if (tables & KMEM_STATS_TYPES) {
		mtype_table_of(s->types, s->types_src, tables_line, &out);
		tables_end(&out);
	}
}

void
kmem_stats_tables(const kmem_stats_t *st, int tables,
    void (*emit)(void *arg, const char *line), void *arg)
{
	snapshot_rows_t caches = { st->caches, st->ncaches };
	snapshot_rows_t arenas = { st->arenas, st->narenas };
	snapshot_rows_t pools = { st->pools, st->npools };
	snapshot_rows_t types = { st->types, st->ntypes };
	table_sources_t s = {
		snapshot_caches, &caches, snapshot_arenas, &arenas,
		snapshot_pools, &pools, snapshot_types, &types,
	};
	tables_print(&s, tables, emit, arg);
}

void
kmem_stats_tables_live(int tables, void (*emit)(void *arg, const char *line),
    void *arg)
{
	table_sources_t s = {
		kmem_cache_rows_live, NULL, vmem_rows_live, NULL,
		pool_rows_live, NULL, mtype_rows_live, NULL,
	};
	tables_print(&s, tables, emit, arg);
}
