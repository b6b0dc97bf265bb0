/*
 * The statistics tables, printed from a source of rows.  Each family has
 * one printer (kmem_stats.c, vmem_stats.c, pool.c, mtype.c); it asks its
 * row source to call back once per row, in table order, with that row's
 * counters.  The library's own tables (kmem_table() and the others) pass
 * a source that reads the live objects; kmem_stats_tables() passes one
 * that reads a snapshot (stats.c), which may come from another process
 * (kmstat).  So every copy of a table is formatted by the same code; and
 * the four tables together are printed by one function in stats.c, from
 * a snapshot (kmstat) or live (kmem_stats_tables_live(): at exit).
 *
 * Row orders: caches grouped by arena (a total follows each group);
 * arenas in tree order, each followed by the arenas importing from it,
 * depth giving the indent; pools and malloc types in creation order.
 */
#ifndef KMEM_STATS_TABLES_H
#define KMEM_STATS_TABLES_H

#include <kmem/kmem.h>
#include <kmem/vmem.h>

/* pool.h and mtype.h need system headers the freestanding core lacks. */
struct pool_stats;
struct mtype_stats;

typedef void kmem_emit_t(void *arg, const char *line);

typedef void kmem_cache_rows_t(void *src,
    void (*row)(void *row_arg, const kmem_cache_stats_t *st), void *row_arg);
typedef void vmem_rows_t(void *src,
    void (*row)(void *row_arg, const vmem_stats_t *st), void *row_arg);
typedef void pool_rows_t(void *src,
    void (*row)(void *row_arg, const struct pool_stats *st), void *row_arg);
typedef void mtype_rows_t(void *src,
    void (*row)(void *row_arg, const struct mtype_stats *st), void *row_arg);

void kmem_table_of(kmem_cache_rows_t *rows, void *src, kmem_emit_t *emit,
    void *arg);
void vmem_table_of(vmem_rows_t *rows, void *src, kmem_emit_t *emit,
    void *arg);
void pool_table_of(pool_rows_t *rows, void *src, kmem_emit_t *emit,
    void *arg);
void mtype_table_of(mtype_rows_t *rows, void *src, kmem_emit_t *emit,
    void *arg);

/* The live row sources, in the order above (they take the list locks);
 * src is NULL for every object (vmem_rows_live() takes one arena too). */
void kmem_cache_rows_live(void *src,
    void (*row)(void *row_arg, const kmem_cache_stats_t *st), void *row_arg);
void vmem_rows_live(void *src,
    void (*row)(void *row_arg, const vmem_stats_t *st), void *row_arg);
void pool_rows_live(void *src,
    void (*row)(void *row_arg, const struct pool_stats *st), void *row_arg);
void mtype_rows_live(void *src,
    void (*row)(void *row_arg, const struct mtype_stats *st), void *row_arg);

/*
 * The tables kmem_stats_tables() prints from a snapshot (tables: the
 * KMEM_STATS_* bits of <kmem/stats.h>), printed by the same code from the
 * live objects instead.  It allocates nothing, so kmem_stats_print() and
 * the statistics at exit can use it.
 */
void kmem_stats_tables_live(int tables,
    void (*emit)(void *arg, const char *line), void *arg);

#endif /* KMEM_STATS_TABLES_H */
