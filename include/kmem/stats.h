/*
 * One statistics interface for every allocator in the library: a snapshot
 * of every vmem arena, kmem cache, pool, pool cache and malloc type, read
 * in-process as structures, written as JSON, printed as the library's
 * tables, and published for other processes to read (kmstat).
 * docs/statistics.md explains every figure and column.
 *
 * The snapshot's rows are the families' own statistics structures
 * (vmem.h, kmem.h, pool.h, mtype.h).  Each object is read under its own
 * locks, so a row is consistent in itself; the snapshot as a whole is not
 * one instant (a busy program moves on while it is taken).
 *
 * Publishing.  kmem_stats_publish(1) keeps a snapshot of this process in
 * the POSIX shared-memory segment "/libkmem.<pid>" (mode 0600), refreshed
 * every second and after every maintenance pass of the update thread,
 * which it starts.  It is also turned on by the "publish" option
 * (KMEM_OPTIONS, kmrun --publish).  The segment is removed at exit and by
 * kmem_stats_publish(0); a forked child does not publish (it may call
 * kmem_stats_publish(1) to publish its own).  kmem_stats_read() reads the
 * segment of any process run by the same user.  A process killed before
 * it could exit leaves its segment behind: kmem_stats_segments_walk()
 * lists the segments, and kmem_stats_remove_stale() removes one whose
 * process is gone.
 */
#ifndef KMEM_STATS_H
#define KMEM_STATS_H

#include <stddef.h>
#include <stdint.h>

#include <kmem/common.h>
#include <kmem/kmem.h>
#include <kmem/mtype.h>
#include <kmem/pool.h>
#include <kmem/vmem.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kmem_stats {
	long pid;
	char program[64];               /* the process's short name */
	uint64_t time_ns;               /* CLOCK_REALTIME when taken */
	size_t narenas;
	vmem_stats_t *arenas;           /* each followed by its importers */
	size_t ncaches;
	kmem_cache_stats_t *caches;     /* grouped by arena, arenas in
					   creation order */
	size_t npools;
	pool_stats_t *pools;            /* pools and pool caches */
	size_t ntypes;
	mtype_stats_t *types;           /* attached malloc types */
} kmem_stats_t;

/* A snapshot of this process, or NULL if memory ran out. */
KMEM_API kmem_stats_t *kmem_stats_snapshot(void);
KMEM_API void kmem_stats_free(kmem_stats_t *st);

/*
 * The snapshot as one JSON object, NUL-terminated in buf[0 .. size - 1]
 * (truncated if it does not fit); returns the length of the whole text,
 * as snprintf() does.  kmem_stats_json_fd() writes it and a newline to fd:
 * 0, or -1 with errno set.
 */
KMEM_API size_t kmem_stats_json(const kmem_stats_t *st, char *buf,
    size_t size);
KMEM_API int kmem_stats_json_fd(const kmem_stats_t *st, int fd);

/*
 * The tables kmstat prints, from a snapshot, one line per call of emit:
 * the kmem cache table (kmem_table()), the vmem arena table (vmem_table()),
 * the pool table (pool_table()) and the malloc type table (mtype_table()),
 * each followed by an empty line.  kmem_stats_print() (<kmem/malloc.h>,
 * the statistics at exit) prints all four the same way, from the live
 * objects.
 */
#define KMEM_STATS_CACHES       0x1
#define KMEM_STATS_ARENAS       0x2
#define KMEM_STATS_POOLS        0x4
#define KMEM_STATS_TYPES        0x8
#define KMEM_STATS_ALL          0xf
KMEM_API void kmem_stats_tables(const kmem_stats_t *st, int tables,
    void (*emit)(void *arg, const char *line), void *arg);

/*
 * Publish this process's statistics (enable != 0): start publishing if
 * it was not, and return once a snapshot taken after the call is in the
 * segment.  enable == 0 stops and removes the segment.  0, or -1 with
 * errno set (the segment cannot be made, the thread cannot start).
 */
KMEM_API int kmem_stats_publish(int enable);

/* What kmem_stats_read() found when it returns no snapshot. */
#define KMEM_STATS_NOPROCESS    1       /* no process with that ID */
#define KMEM_STATS_UNPUBLISHED  2       /* it does not publish */
#define KMEM_STATS_CORRUPT      3       /* the segment is not libkmem's,
					   or of another version */
#define KMEM_STATS_UNREADABLE   4       /* errno says why; EBUSY: it was
					   rewritten under every try for
					   a second */
/*
 * Read the statistics process pid publishes into *out (free it with
 * kmem_stats_free()): 0, or one of the codes above.
 */
KMEM_API int kmem_stats_read(long pid, kmem_stats_t **out);

/* A statistics segment, as kmem_stats_segments_walk() finds it. */
typedef struct kmem_stats_segment {
	long pid;                       /* the process it is named after */
	int running;                    /* that process exists */
	char name[32];                  /* "/libkmem.<pid>" */
	char program[64];               /* the process's short name, as the
					   segment holds it; "" if it cannot
					   be read or is not libkmem's */
} kmem_stats_segment_t;

/*
 * Call visit(arg, seg) for each statistics segment on this machine, of
 * every user, in the order of their pids; running and program are found
 * just before each call.  0, or -1 with errno set (the segments cannot be
 * listed, or memory ran out).  Linux only: the segments are the files of
 * /dev/shm.
 */
KMEM_API int kmem_stats_segments_walk(void (*visit)(void *arg,
    const kmem_stats_segment_t *seg), void *arg);

/*
 * Remove the segment process pid left behind, if no process pid exists:
 * 0, or -1 with errno set: EBUSY if the process exists (whoever's it is),
 * ENOENT if there is no segment (never made, or already removed), EINVAL
 * if pid cannot be a process ID, or shm_unlink()'s error.
 */
KMEM_API int kmem_stats_remove_stale(long pid);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_STATS_H */
