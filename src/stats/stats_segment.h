/*
 * The shared-memory statistics segment "/libkmem.<pid>": written by the
 * publishing process (stats_publish.c), read by others (stats_read.c),
 * which also list the segments and remove those whose process is gone.
 *
 *   header | arenas | caches | pools | malloc types
 *
 * The rows are the statistics structures as they are in memory, so a
 * reader must be the same version of the library on the same machine:
 * the header's version and row sizes say so, and a reader refuses a
 * segment whose do not match its own.
 *
 * One writer.  A reader may read while it writes, so the header carries a
 * sequence count, odd while a snapshot is being written, and a checksum
 * of everything after it: a reader copies the segment out, and keeps the
 * copy only if the count was even and the same before and after and the
 * checksum matches.  The segment only grows (the writer truncates it
 * larger and maps it again); capacity is its current size, so a reader
 * that mapped it smaller maps it again.
 */
#ifndef KMEM_STATS_SEGMENT_H
#define KMEM_STATS_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/format.h"

#define STATS_SEGMENT_MAGIC     0x7461747326656d6bull   /* "kme&stat" */
#define STATS_SEGMENT_VERSION   1
#define STATS_SEGMENT_FAMILIES  4       /* arenas, caches, pools, types */
#define STATS_SEGMENT_NAME_MAX  32
/* Every segment's name is the prefix and the pid, in decimal. */
#define STATS_SEGMENT_PREFIX    "/libkmem."
/* Where Linux shows the POSIX shared-memory objects, each as a file. */
#define STATS_SEGMENT_DIR       "/dev/shm"

typedef struct stats_segment {
	uint64_t magic;                 /* written last when made */
	uint32_t version;
	uint32_t header_size;
	uint64_t seq;                   /* odd while being written */
	uint64_t capacity;              /* bytes in the segment */
	uint64_t checksum;              /* of pid .. the end of the rows */
	/* what the checksum covers: */
	int64_t pid;
	char program[64];
	uint64_t time_ns;
	uint64_t row_size[STATS_SEGMENT_FAMILIES];
	uint64_t count[STATS_SEGMENT_FAMILIES];
} stats_segment_t;

#define STATS_SEGMENT_CHECKED_OFFSET    offsetof(stats_segment_t, pid)

/* "/libkmem.<pid>" */
static inline void
stats_segment_name(char *buf, size_t size, long pid)
{
	kmem_snprintf(buf, size, STATS_SEGMENT_PREFIX "%ld", pid);
}

/* FNV-1a, continued from hash (start with STATS_CHECKSUM_START). */
#define STATS_CHECKSUM_START    0xcbf29ce484222325ull

static inline uint64_t
stats_checksum(uint64_t hash, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++)
		hash = (hash ^ p[i]) * 0x100000001b3ull;
	return (hash);
}

#endif /* KMEM_STATS_SEGMENT_H */
