/*
 * Reading another process's statistics segment (include/kmem/stats.h;
 * the layout and the protocol in stats_segment.h).
 *
 * The segment is written while we read, and its content is not trusted: a
 * read copies the header and rows out, then keeps the copy only if the
 * sequence count was even and unchanged across the copy and the checksum
 * matches; otherwise it tries again, after a pause short next to a
 * publication (so that some try falls in a gap between the writes of even
 * a writer that publishes without pause), for up to READ_PATIENCE_NS.
 * Then a segment that changed under every try is busy (EBUSY), one that
 * never did is not libkmem's or was left half made (corrupt).  Before
 * anything is copied the header must name this layout (magic, version,
 * header and row sizes) and its rows must fit in the segment, so a
 * corrupt or foreign segment is refused, never followed.  Names are cut
 * at their arrays' ends.  The reader takes no library lock.
 *
 * Listing and removing segments.  Linux shows the POSIX shared-memory
 * objects as the files of /dev/shm, so the segments are its entries whose
 * name is exactly one stats_segment_name() makes.  Whether the process
 * exists is kill(pid, 0)'s answer: only ESRCH means it does not (EPERM is
 * another user's process).  The program's name is read from the header
 * without the sequence count: the magic, version, header size, pid and
 * name are the same at every write, so no torn copy of them can differ,
 * even from a process killed while it wrote.  A stale
 * segment is removed by its name, after kill() says the process is gone:
 * a new process given that pid in between, and publishing already, would
 * lose its segment, but pids are not reused that fast.
 */
#include <kmem/stats.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "stats_segment.h"

#define READ_PATIENCE_NS        (1000ull * 1000 * 1000)
#define RETRY_NS                (100 * 1000)

static const uint64_t row_sizes[STATS_SEGMENT_FAMILIES] = {
	sizeof (vmem_stats_t), sizeof (kmem_cache_stats_t),
	sizeof (pool_stats_t), sizeof (mtype_stats_t),
};

typedef enum attempt {
	ATTEMPT_DONE,
	ATTEMPT_AGAIN,                  /* being written: try again */
	ATTEMPT_TORN,                   /* written during the copy: again */
	ATTEMPT_REMAP,                  /* the segment grew */
	ATTEMPT_CORRUPT,
} attempt_t;

/* The bytes of rows the header announces, or 0 if it is not our layout. */
static size_t
rows_size(const stats_segment_t *h, long pid)
{
	if (h->magic != STATS_SEGMENT_MAGIC ||
	    h->version != STATS_SEGMENT_VERSION ||
	    h->header_size != sizeof (*h) || h->pid != pid)
		return (0);
	uint64_t total = 0;
	for (unsigned f = 0; f < STATS_SEGMENT_FAMILIES; f++) {
		if (h->row_size[f] != row_sizes[f] ||
		    h->count[f] > (UINT64_MAX / 2 - total) / row_sizes[f])
			return (0);
		total += h->count[f] * row_sizes[f];
	}
	return (total != 0 ? (size_t)total : 1);
}

/* One try at copying a whole snapshot out of the mapping. */
static attempt_t
read_once(const stats_segment_t *seg, size_t mapped, long pid,
    stats_segment_t *header, char **rows)
{
	uint64_t seq = __atomic_load_n(&seg->seq, __ATOMIC_ACQUIRE);
	if (__atomic_load_n(&seg->magic, __ATOMIC_ACQUIRE) == 0 || (seq & 1))
		return (ATTEMPT_AGAIN);
	memcpy(header, seg, sizeof (*header));
	size_t size = rows_size(header, pid);
	if (size == 0)
		return (__atomic_load_n(&seg->seq, __ATOMIC_ACQUIRE) == seq ?
		    ATTEMPT_CORRUPT : ATTEMPT_TORN);
	if (size == 1)
		size = 0;
	if (size > mapped - sizeof (*header))
		return (ATTEMPT_REMAP);
	char *copy = malloc(size + 1);
	if (copy == NULL)
		return (ATTEMPT_CORRUPT);
	memcpy(copy, seg + 1, size);
	uint64_t sum = stats_checksum(STATS_CHECKSUM_START, copy, size);
	sum = stats_checksum(sum, (char *)header + STATS_SEGMENT_CHECKED_OFFSET,
	    sizeof (*header) - STATS_SEGMENT_CHECKED_OFFSET);
	if (__atomic_load_n(&seg->seq, __ATOMIC_ACQUIRE) != seq) {
		free(copy);
		return (ATTEMPT_TORN);
	}
	if (sum != header->checksum) {
		free(copy);
		return (ATTEMPT_AGAIN);
	}
	*rows = copy;
	return (ATTEMPT_DONE);
}

/* One family's rows, copied out of the rows read; false if out of memory. */
static bool
take_rows(void **out, size_t *n, const char **at, const stats_segment_t *h,
    unsigned family)
{
	size_t bytes = h->count[family] * row_sizes[family];
	*n = h->count[family];
	*out = malloc(bytes != 0 ? bytes : 1);
	if (*out == NULL)
		return (false);
	memcpy(*out, *at, bytes);
	*at += bytes;
	return (true);
}

#define TERMINATE(a)    ((a)[sizeof (a) - 1] = '\0')

static kmem_stats_t *
snapshot_of(const stats_segment_t *h, const char *rows)
{
	kmem_stats_t *st = calloc(1, sizeof (*st));
	if (st == NULL)
		return (NULL);
	st->pid = (long)h->pid;
	memcpy(st->program, h->program, sizeof (st->program));
	TERMINATE(st->program);
	st->time_ns = h->time_ns;
	const char *at = rows;
	if (!take_rows((void **)&st->arenas, &st->narenas, &at, h, 0) ||
	    !take_rows((void **)&st->caches, &st->ncaches, &at, h, 1) ||
	    !take_rows((void **)&st->pools, &st->npools, &at, h, 2) ||
	    !take_rows((void **)&st->types, &st->ntypes, &at, h, 3)) {
		kmem_stats_free(st);
		return (NULL);
	}
	for (size_t i = 0; i < st->narenas; i++) {
		TERMINATE(st->arenas[i].name);
		TERMINATE(st->arenas[i].source);
	}
	for (size_t i = 0; i < st->ncaches; i++) {
		TERMINATE(st->caches[i].name);
		TERMINATE(st->caches[i].arena);
	}
	for (size_t i = 0; i < st->npools; i++) {
		TERMINATE(st->pools[i].name);
		TERMINATE(st->pools[i].cache);
	}
	for (size_t i = 0; i < st->ntypes; i++)
		TERMINATE(st->types[i].name);
	return (st);
}

/* Map the whole segment as it is now; NULL (errno set) if it cannot. */
static const stats_segment_t *
map_segment(int fd, size_t *size)
{
	struct stat sb;
	if (fstat(fd, &sb) != 0)
		return (NULL);
	*size = (size_t)sb.st_size;
	if (*size < sizeof (stats_segment_t)) {
		errno = EAGAIN;         /* being made */
		return (NULL);
	}
	void *p = mmap(NULL, *size, PROT_READ, MAP_SHARED, fd, 0);
	return (p != MAP_FAILED ? p : NULL);
}

/* Can pid name a process (a positive pid_t)? */
static bool
is_pid(long pid)
{
	return (pid > 0 && (long)(pid_t)pid == pid);
}

/* Whether pid is a process that exists, whoever's (kill(pid, 0) fails with
 * ESRCH if not). */
static bool
process_exists(long pid)
{
	return (is_pid(pid) && (kill((pid_t)pid, 0) == 0 || errno != ESRCH));
}

static uint64_t
monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

/* Pause before the next try; false when the patience is spent. */
static bool
pause_before_retry(uint64_t deadline)
{
	struct timespec ts = { 0, RETRY_NS };
	nanosleep(&ts, NULL);
	return (monotonic_ns() < deadline);
}

int
kmem_stats_read(long pid, kmem_stats_t **out)
{
	*out = NULL;
	if (!process_exists(pid))
		return (KMEM_STATS_NOPROCESS);
	char name[STATS_SEGMENT_NAME_MAX];
	stats_segment_name(name, sizeof (name), pid);
	int fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return (errno == ENOENT ? KMEM_STATS_UNPUBLISHED :
		    KMEM_STATS_UNREADABLE);

	int result = KMEM_STATS_CORRUPT, error = 0;
	bool torn = false;
	const stats_segment_t *seg = NULL;
	size_t mapped = 0;
	uint64_t deadline = monotonic_ns() + READ_PATIENCE_NS;
	for (;;) {
		if (seg == NULL && (seg = map_segment(fd, &mapped)) == NULL) {
			if (errno != EAGAIN) {
				result = KMEM_STATS_UNREADABLE;
				error = errno;
				break;
			}
			if (!pause_before_retry(deadline))
				break;
			continue;
		}
		stats_segment_t header;
		char *rows = NULL;
		attempt_t a = read_once(seg, mapped, pid, &header, &rows);
		if (a == ATTEMPT_DONE) {
			*out = snapshot_of(&header, rows);
			free(rows);
			result = 0;
			if (*out == NULL) {
				result = KMEM_STATS_UNREADABLE;
				error = ENOMEM;
			}
			break;
		}
		if (a == ATTEMPT_CORRUPT)
			break;
		if (a == ATTEMPT_REMAP) {
			munmap((void *)seg, mapped);
			seg = NULL;
			continue;
		}
		torn |= a == ATTEMPT_TORN;
		if (!pause_before_retry(deadline)) {
			if (torn) {
				result = KMEM_STATS_UNREADABLE;
				error = EBUSY;
			}
			break;
		}
	}
	if (seg != NULL)
		munmap((void *)seg, mapped);
	close(fd);
	if (result == KMEM_STATS_UNREADABLE)
		errno = error;
	return (result);
}

/* ---- listing and removing segments ---- */

/* The pid a directory entry is the segment of, or 0 if it is not one. */
static long
segment_pid_of(const char *entry)
{
	const char *file = &STATS_SEGMENT_PREFIX[1];   /* without the '/' */
	size_t len = strlen(file);
	if (strncmp(entry, file, len) != 0)
		return (0);
	const char *digits = entry + len;
	if (*digits < '1' || *digits > '9')
		return (0);
	char *end;
	errno = 0;
	long pid = strtol(digits, &end, 10);
	if (*end != '\0' || errno != 0 || !is_pid(pid))
		return (0);
	return (pid);
}

/* The program name in segment seg->name of process seg->pid, or "". */
static void
segment_program(kmem_stats_segment_t *seg)
{
	seg->program[0] = '\0';
	int fd = shm_open(seg->name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	size_t mapped;
	const stats_segment_t *map = map_segment(fd, &mapped);
	close(fd);
	if (map == NULL)
		return;
	stats_segment_t h;
	memcpy(&h, map, sizeof (h));
	munmap((void *)map, mapped);
	if (h.magic == STATS_SEGMENT_MAGIC &&
	    h.version == STATS_SEGMENT_VERSION &&
	    h.header_size == sizeof (h) && h.pid == seg->pid) {
		memcpy(seg->program, h.program, sizeof (seg->program));
		TERMINATE(seg->program);
	}
}

static int
compare_pids(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return ((x > y) - (x < y));
}

/* The pids of the segments in STATS_SEGMENT_DIR, sorted; false, errno. */
static bool
segment_pids(long **pids, size_t *n)
{
	*pids = NULL;
	*n = 0;
	DIR *dir = opendir(STATS_SEGMENT_DIR);
	if (dir == NULL)
		return (false);
	size_t room = 0;
	struct dirent *d;
	for (;;) {
		errno = 0;
		if ((d = readdir(dir)) == NULL)
			break;
		long pid = segment_pid_of(d->d_name);
		if (pid == 0)
			continue;
		if (*n == room) {
			room = room != 0 ? 2 * room : 16;
			long *grown = realloc(*pids, room * sizeof (long));
			if (grown == NULL)
				break;
			*pids = grown;
		}
		(*pids)[(*n)++] = pid;
	}
	int error = errno;
	closedir(dir);
	if (error != 0) {
		free(*pids);
		*pids = NULL;
		errno = error;
		return (false);
	}
	qsort(*pids, *n, sizeof (long), compare_pids);
	return (true);
}

int
kmem_stats_segments_walk(void (*visit)(void *arg,
    const kmem_stats_segment_t *seg), void *arg)
{
	long *pids;
	size_t n;
	if (!segment_pids(&pids, &n))
		return (-1);
	for (size_t i = 0; i < n; i++) {
		kmem_stats_segment_t seg;
		seg.pid = pids[i];
		seg.running = process_exists(seg.pid);
		stats_segment_name(seg.name, sizeof (seg.name), seg.pid);
		segment_program(&seg);
		visit(arg, &seg);
	}
	free(pids);
	return (0);
}

int
kmem_stats_remove_stale(long pid)
{
	if (!is_pid(pid)) {
		errno = EINVAL;
		return (-1);
	}
	if (process_exists(pid)) {
		errno = EBUSY;
		return (-1);
	}
	char name[STATS_SEGMENT_NAME_MAX];
	stats_segment_name(name, sizeof (name), pid);
	return (shm_unlink(name));
}
