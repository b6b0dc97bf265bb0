/*
 * kmlab-replay TRACE: replay a recorded trace (<kmem/trace.h>) through
 * whatever malloc the process has -- the C library's, or one preloaded
 * with LD_PRELOAD -- and print what it cost.  kmlab --mallocs runs it once
 * per malloc and round (mallocs.c).
 *
 * Every event is replayed with the function the program called and its
 * arguments: malloc, calloc, realloc, memalign and its kin, free; in the
 * time order of the trace, on one thread (the recorded threads'
 * interleaving, not their parallelism).  Each new block gets a byte
 * written in each of its pages, as a program that uses its memory would,
 * so the resident set means something.  Frees of objects allocated before
 * recording began are left out.
 *
 * The time is the replay loop's alone.  The peak resident set is the
 * replay's: the kernel's high-water mark is reset (/proc/self/clear_refs)
 * once the trace is loaded, and the trace's own memory, resident before,
 * is subtracted.
 *
 * Output, one line: "replay <seconds> <peak KiB> <events>"; exit status 1
 * and a message when the trace cannot be read (a damaged one is replayed
 * up to the damage, with a warning).
 */
#define _GNU_SOURCE
#include "tracefile.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A line of /proc/self/status, in KiB; 0 if not there. */
static long
status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return (0);
	char line[256];
	long kib = 0;
	size_t n = strlen(field);
	while (fgets(line, sizeof (line), f) != NULL) {
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			kib = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return (kib);
}

static void
touch(void *p, size_t size, size_t page)
{
	volatile char *c = p;
	for (size_t off = 0; off < size; off += page)
		c[off] = 1;
}

static void
replay(const trace_file_t *t, void **obj, size_t page)
{
	for (size_t i = 0; i < t->nevents; i++) {
		const trace_event_t *e = &t->events[i];
		void *p = NULL;
		switch (e->op) {
		case KMEM_TRACE_MALLOC:
			p = malloc(e->size);
			break;
		case KMEM_TRACE_CALLOC:
			p = calloc(e->nmemb, e->nmemb == 0 ? 0 :
			    e->size / e->nmemb);
			break;
		case KMEM_TRACE_MEMALIGN:
			switch (e->fn) {
			case KMEM_TRACE_FN_POSIX_MEMALIGN:
				if (posix_memalign(&p, e->align, e->size) != 0)
					p = NULL;
				break;
			case KMEM_TRACE_FN_ALIGNED_ALLOC:
				p = aligned_alloc(e->align, e->size);
				break;
			case KMEM_TRACE_FN_VALLOC:
				p = valloc(e->size);
				break;
			case KMEM_TRACE_FN_PVALLOC:
				p = pvalloc(e->size);
				break;
			default:
				p = memalign(e->align, e->size);
				break;
			}
			break;
		case KMEM_TRACE_REALLOC:
			if (e->id == 0 && e->size != 0)
				continue;       /* it failed when recorded */
			p = realloc(e->old_id != 0 ? obj[e->old_id] : NULL,
			    e->size);
			if (e->old_id != 0)
				obj[e->old_id] = NULL;
			if (e->id == 0)
				continue;       /* realloc(p, 0): freed */
			break;
		case KMEM_TRACE_FREE:
			if (e->old_id != 0) {
				free(obj[e->old_id]);
				obj[e->old_id] = NULL;
			}
			continue;
		}
		if (e->id != 0) {
			obj[e->id] = p;
			if (p != NULL)
				touch(p, e->size, page);
		} else {
			free(p);        /* it failed when recorded */
		}
	}
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: kmlab-replay TRACE\n");
		return (2);
	}
	int fd = open(argv[1], O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "kmlab-replay: %s: %s\n", argv[1],
		    strerror(errno));
		return (1);
	}
	size_t len = (size_t)st.st_size;
	void *data = len == 0 ? NULL : mmap(NULL, len, PROT_READ, MAP_PRIVATE,
	    fd, 0);
	close(fd);
	if (data == MAP_FAILED) {
		fprintf(stderr, "kmlab-replay: %s: %s\n", argv[1],
		    strerror(errno));
		return (1);
	}
	trace_file_t t;
	int status = trace_file_read(&t, data, len);
	if (data != NULL)
		munmap(data, len);
	if (status < 0) {
		fprintf(stderr, "kmlab-replay: %s: %s\n", argv[1], t.damage);
		return (1);
	}
	if (status > 0)
		fprintf(stderr, "kmlab-replay: %s: %s (replaying the %zu "
		    "events before it)\n", argv[1], t.damage, t.nevents);
	void **obj = calloc(t.ids + 1, sizeof (void *));
	if (obj == NULL) {
		fprintf(stderr, "kmlab-replay: out of memory\n");
		return (1);
	}
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	/* Reset the high-water mark: the replay's own from here. */
	int cr = open("/proc/self/clear_refs", O_WRONLY);
	if (cr >= 0) {
		(void) !write(cr, "5", 1);
		close(cr);
	}
	long base = status_kib("VmRSS");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	replay(&t, obj, page);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long peak = status_kib("VmHWM") - base;
	double seconds = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("replay %.6f %ld %zu\n", seconds, peak > 0 ? peak : 0,
	    t.nevents);
	return (0);
}
