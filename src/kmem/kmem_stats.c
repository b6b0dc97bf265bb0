/*
 * kmem statistics: one cache's counters (kmem_cache_stats()) and the table
 * of every cache with the columns of illumos's ::kmastat (kmem_table()).
 *
 * The counters live in three places and are read one layer at a time,
 * each under its own lock, so a snapshot of a busy cache is consistent
 * within a layer and approximately so across them:
 * - threads' slots (allocations and frees served by magazines), summed
 *   under kmem_threads_lock and each thread cache's lock, plus the
 *   counters of slots already retired;
 * - the depot (magazines, contention), under depot_lock;
 * - the slab layer (slabs, buffers, slow-path counts), under slab_lock.
 * Derived: buffers in use = allocations - frees; buffers constructed in
 * magazines = buffers out of the slabs - buffers in use.
 *
 * After it, the caches with move callbacks get a second table of their
 * callbacks' answers (kmem_move.c).
 * The table is printed by kmem_table_of() from a source of rows
 * (stats_tables.h): the live caches here, a snapshot in stats.c.
 */
#include "kmem_impl.h"

#include <stdarg.h>

#include "base/format.h"
#include "base/stats_tables.h"
#include "vmem/vmem_impl.h"

static uint64_t
difference(uint64_t a, uint64_t b)
{
	return (a > b ? a - b : 0);
}

int
kmem_cache_stats(kmem_cache_t *cp, kmem_cache_stats_t *st)
{
	*st = (kmem_cache_stats_t){ 0 };
	kmem_snprintf(st->name, sizeof (st->name), "%s", cp->cache_name);
	kmem_snprintf(st->arena, sizeof (st->arena), "%s",
	    cp->cache_arena->vm_name);
	st->cflags = cp->cache_flags &
	    (KMC_NOTOUCH | KMC_NODEBUG | KMC_NOMAGAZINE |
	    KMC_NOHASH | KMC_QCACHE | KMF_DEBUG_FLAGS);
	st->buf_size = cp->cache_bufsize;
	st->chunk_size = cp->cache_chunksize;
	st->align = cp->cache_align;
	st->slab_size = cp->cache_slabsize;
	st->buf_per_slab = cp->cache_chunks;

	uint64_t thread_alloc, thread_free;
	kmem_thread_counts(cp, &thread_alloc, &thread_free);

	kmem_mutex_enter(&cp->cache_depot_lock);
	st->depot_alloc = cp->cache_depot_alloc;
	st->depot_free = cp->cache_depot_free;
	st->depot_contention = cp->cache_depot_contention;
	st->depot_trim = cp->cache_depot_trim;
	st->full_magazines = cp->cache_full.total;
	st->empty_magazines = cp->cache_empty.total;
	st->magazine_size = cp->cache_magtype != NULL ?
	    cp->cache_magtype->rounds : 0;
	st->magazine_resize = cp->cache_depot_resize;
	kmem_mutex_exit(&cp->cache_depot_lock);

	kmem_mutex_enter(&cp->cache_slab_lock);
	st->slab_create = cp->cache_slab_create;
	st->slab_destroy = cp->cache_slab_destroy;
	st->slab_alloc = cp->cache_slab_alloc;
	st->slab_free = cp->cache_slab_free;
	st->buf_total = cp->cache_buf_total;
	st->buf_max = cp->cache_buf_max;
	st->mem_total =
	    (size_t)(cp->cache_slab_create - cp->cache_slab_destroy) *
	    cp->cache_slabsize;
	st->mem_purged = (size_t)cp->cache_purged * cp->cache_purge_granule;
	st->purge_count = cp->cache_purge_count;
	if (cp->cache_flags & KMF_HASH) {
		st->hash_buckets = cp->cache_hash.mask + 1;
		st->hash_lookup = cp->cache_hash.lookup;
		st->hash_depth = cp->cache_hash.depth;
	}
	kmem_mutex_exit(&cp->cache_slab_lock);

	st->alloc = thread_alloc + __atomic_load_n(&cp->cache_dead_alloc,
	    __ATOMIC_RELAXED) + __atomic_load_n(&cp->cache_slow_alloc,
	    __ATOMIC_RELAXED);
	st->free = thread_free + __atomic_load_n(&cp->cache_dead_free,
	    __ATOMIC_RELAXED) + __atomic_load_n(&cp->cache_slow_free,
	    __ATOMIC_RELAXED);
	st->alloc_fail =
	    __atomic_load_n(&cp->cache_alloc_fail, __ATOMIC_RELAXED);
	st->reap = __atomic_load_n(&cp->cache_reap, __ATOMIC_RELAXED);
	st->movable =
	    __atomic_load_n(&cp->cache_move, __ATOMIC_ACQUIRE) != NULL;
	st->move_callbacks = __atomic_load_n(&cp->cache_move_callbacks,
	    __ATOMIC_RELAXED);
	st->move_yes = __atomic_load_n(&cp->cache_move_yes, __ATOMIC_RELAXED);
	st->move_no = __atomic_load_n(&cp->cache_move_no, __ATOMIC_RELAXED);
	st->move_later = __atomic_load_n(&cp->cache_move_later,
	    __ATOMIC_RELAXED);
	st->move_dont_need = __atomic_load_n(&cp->cache_move_dont_need,
	    __ATOMIC_RELAXED);
	st->move_dont_know = __atomic_load_n(&cp->cache_move_dont_know,
	    __ATOMIC_RELAXED);
	st->move_hunt_found = __atomic_load_n(&cp->cache_move_hunt_found,
	    __ATOMIC_RELAXED);
	st->move_slabs_freed = __atomic_load_n(&cp->cache_move_slabs_freed,
	    __ATOMIC_RELAXED);
	st->buf_inuse = difference(st->alloc, st->free);
	st->buf_constructed = difference(difference(st->slab_alloc,
	    st->slab_free), st->buf_inuse);
	return (0);
}

/* ---- the table ---- */

#define HEAD_FORMAT "%-28s %7s %9s %9s %11s %11s %6s %4s %10s"
#define ROW_FORMAT "%-28s %7zu %9llu %9llu %11zu %11llu %6llu %4u %10llu"

/* The printer's state: the arena whose caches are being listed, and their
 * sums for its total line. */
typedef struct table_out {
	kmem_emit_t *emit;
	void *arg;
	char arena[VMEM_NAMELEN];
	bool any;
	bool moves;             /* the move callbacks' heading is out */
	size_t mem;
	uint64_t alloc, fail;
} table_out_t;

static void
emit_line(const table_out_t *out, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	kmem_vsnprintf(line, sizeof (line), fmt, ap);
	va_end(ap);
	out->emit(out->arg, line);
}

/* The total of the arena group that ends here, if it had caches. */
static void
table_arena_total(table_out_t *out)
{
	if (!out->any)
		return;
	char total[VMEM_NAMELEN + 16];
	kmem_snprintf(total, sizeof (total), "Total [%s]", out->arena);
	emit_line(out, "%-28s %7s %9s %9s %11zu %11llu %6llu", total, "", "",
	    "", out->mem, (unsigned long long)out->alloc,
	    (unsigned long long)out->fail);
	emit_line(out, "");
	out->any = false;
	out->mem = 0;
	out->alloc = out->fail = 0;
}

static bool
same_name(const char *a, const char *b)
{
	for (size_t i = 0; i < VMEM_NAMELEN; i++) {
		if (a[i] != b[i])
			return (false);
		if (a[i] == '\0')
			break;
	}
	return (true);
}

static void
table_row(void *arg, const kmem_cache_stats_t *st)
{
	table_out_t *out = arg;
	if (out->any && !same_name(out->arena, st->arena))
		table_arena_total(out);
	kmem_snprintf(out->arena, sizeof (out->arena), "%s", st->arena);
	emit_line(out, ROW_FORMAT, st->name, st->buf_size,
	    (unsigned long long)st->buf_inuse,
	    (unsigned long long)st->buf_total, st->mem_total,
	    (unsigned long long)st->alloc,
	    (unsigned long long)st->alloc_fail, st->magazine_size,
	    (unsigned long long)st->depot_contention);
	out->mem += st->mem_total;
	out->alloc += st->alloc;
	out->fail += st->alloc_fail;
	out->any = true;
}

/*
 * After the table, the caches with move callbacks, if any, with what their
 * callbacks answered (illumos shows these in ::kmem_slabs and kstats).
 */
#define MOVE_HEAD_FORMAT "%-28s %9s %9s %9s %9s %9s %9s %9s %9s"
#define MOVE_ROW_FORMAT "%-28s %9llu %9llu %9llu %9llu %9llu %9llu %9llu %9llu"

static void
table_move_row(void *arg, const kmem_cache_stats_t *st)
{
	table_out_t *out = arg;
	if (!st->movable)
		return;
	if (!out->moves) {
		emit_line(out, MOVE_HEAD_FORMAT, "cache (move callbacks)",
		    "asked", "yes", "no", "later", "dont_need", "dont_know",
		    "hunted", "slabs");
		emit_line(out, "%s", "---------------------------- --------- "
		    "--------- --------- --------- --------- --------- "
		    "--------- ---------");
		out->moves = true;
	}
	emit_line(out, MOVE_ROW_FORMAT, st->name,
	    (unsigned long long)st->move_callbacks,
	    (unsigned long long)st->move_yes, (unsigned long long)st->move_no,
	    (unsigned long long)st->move_later,
	    (unsigned long long)st->move_dont_need,
	    (unsigned long long)st->move_dont_know,
	    (unsigned long long)st->move_hunt_found,
	    (unsigned long long)st->move_slabs_freed);
}

void
kmem_table_of(kmem_cache_rows_t *rows, void *src, kmem_emit_t *emit,
    void *arg)
{
	table_out_t out = { .emit = emit, .arg = arg };
	emit_line(&out, HEAD_FORMAT, "cache", "buf", "buf", "buf", "memory",
	    "alloc", "alloc", "mag", "depot");
	emit_line(&out, HEAD_FORMAT, "name", "size", "in use", "total",
	    "in use", "succeed", "fail", "size", "contention");
	emit_line(&out, "%s", "---------------------------- ------- --------- "
	    "--------- ----------- ----------- ------ ---- ----------");
	rows(src, table_row, &out);
	table_arena_total(&out);
	rows(src, table_move_row, &out);
}

/*
 * Every cache, arena by arena in creation order, each arena's caches in
 * creation order; row is called with the cache list and arena list held.
 */
void
kmem_cache_rows_live(void *src,
    void (*row)(void *row_arg, const kmem_cache_stats_t *st), void *row_arg)
{
	(void) src;
	kmem_init();
	kmem_mutex_enter(&kmem_caches_lock);
	kmem_mutex_enter(&vmem_list_lock);
	for (vmem_t *vmp = vmem_list; vmp != NULL; vmp = vmp->vm_list_next) {
		for (kmem_cache_t *cp = kmem_caches.cache_list_next;
		    cp != &kmem_caches; cp = cp->cache_list_next) {
			if (cp->cache_arena != vmp)
				continue;
			kmem_cache_stats_t st;
			kmem_cache_stats(cp, &st);
			row(row_arg, &st);
		}
	}
	kmem_mutex_exit(&vmem_list_lock);
	kmem_mutex_exit(&kmem_caches_lock);
}

void
kmem_table(void (*emit)(void *arg, const char *line), void *arg)
{
	kmem_table_of(kmem_cache_rows_live, NULL, emit, arg);
}
