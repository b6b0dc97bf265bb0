/*
 * Reading the binary traces libkmem_malloc.so records (<kmem/trace.h>,
 * docs/trace.md): kmlab's replay, its dump and kmlab-replay share it.  It
 * needs only the C library, so kmlab-replay runs on any malloc.
 */
#ifndef KMLAB_TRACEFILE_H
#define KMLAB_TRACEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kmem/trace.h>

/*
 * One event, its object named by a number that no later object of the
 * same address gets again: ids count allocations from 1 in the order of
 * the process's events.
 */
typedef struct trace_event {
	uint64_t t;             /* ns since the trace's start */
	uint64_t id;            /* the object allocated; 0: none (failed, or
	                         * a free) */
	uint64_t old_id;        /* the object freed or reallocated; 0: none,
	                         * or one allocated before recording began;
	                         * == id: a realloc in place */
	uint64_t old_addr;      /* its address (for a realloc of NULL: 0) */
	uint64_t size;          /* bytes asked; calloc: nmemb x elsize */
	uint64_t nmemb;         /* calloc's first argument */
	uint64_t align;         /* MEMALIGN's alignment */
	uint32_t thread;        /* 1, 2, ... as the file numbers them */
	uint8_t op;             /* enum kmem_trace_op */
	uint8_t fn;             /* enum kmem_trace_fn, for MEMALIGN */
} trace_event_t;

typedef struct trace_file {
	unsigned version;
	uint32_t pid;
	uint32_t page_size;
	uint32_t clock;
	uint32_t clock_res_ns;
	uint64_t start_ns;
	uint64_t wall_ns;
	char program[257];
	trace_event_t *events;  /* in the process's order */
	size_t nevents;
	size_t blocks;
	uint32_t threads;       /* the highest thread number seen */
	uint64_t ids;           /* objects numbered */
	uint64_t unknown_frees; /* of objects allocated before recording */
	uint64_t reused_live;   /* an address allocated again unfreed */
	/* Damage: where the file stops making sense; the events before it
	 * are read. */
	bool damaged;
	uint64_t damage_offset;
	char damage[160];
} trace_file_t;

/* Does the file start as a binary trace does? */
bool trace_file_is_binary(const void *data, size_t len);

/*
 * Read the trace in data[0 .. len - 1] into t.  0: all of it read; 1: read
 * up to t->damage_offset, where it is damaged or cut short (t->damage
 * says how, "offset N: ..."); -1: not a trace this reader knows (the
 * message in t->damage).  Never reads outside data.
 */
int trace_file_read(trace_file_t *t, const void *data, size_t len);
void trace_file_free(trace_file_t *t);

/* The name of a MEMALIGN event's function, or of an op. */
const char *trace_fn_name(unsigned fn);
const char *trace_op_name(unsigned op);

#endif /* KMLAB_TRACEFILE_H */
