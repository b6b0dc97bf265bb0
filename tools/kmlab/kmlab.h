/*
 * kmlab, the allocator laboratory: what its files share (and what
 * tests/classic/classic_lab_test.c drives).
 *
 *   workload.c   the synthetic workloads, and traces: reading and writing
 *   run.c        one allocator through one workload: the measurements
 *   output.c     the results as a table, CSV and SVG
 *   tracefile.c  reading the binary traces libkmem_malloc.so records
 *   dump.c       a trace as text (--dump)
 *   mallocs.c    a trace replayed on malloc implementations (--mallocs),
 *                by kmlab-replay (replay.c)
 *   main.c       the options
 *
 * A workload is a list of events over "slots": an allocation puts an
 * object of some size (and object type, or none) in a slot, a free empties
 * it.  Every allocator runs the very same list on a region of the same
 * size (the budget), through the operations table of <kmem/classic.h>.
 * docs/classic.md defines every measurement.
 *
 * The laboratory is a program, not part of the library: it uses the C
 * library freely.
 */
#ifndef KMLAB_H
#define KMLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <kmem/classic.h>

/* ---- workloads ---- */

enum lab_kind {
	LAB_FIXED,
	LAB_UNIFORM,
	LAB_EXPONENTIAL,
	LAB_KERNEL,
	LAB_FRAG,
	LAB_TRACE
};

typedef struct lab_event {
	uint32_t slot;
	uint32_t size;                  /* alloc: the bytes asked */
	int32_t type;                   /* alloc: a type, or KMEM_LAB_UNTYPED */
	bool alloc;                     /* false: free the slot's object */
} lab_event_t;

typedef struct lab_workload {
	char name[64];                  /* "kernel", or the trace's file */
	lab_event_t *events;
	size_t nevents;
	size_t capacity;
	size_t nslots;                  /* slots used (objects live at once) */
	size_t allocs;                  /* allocation events */
	struct kmem_lab_type *types;    /* names owned by the workload */
	size_t ntypes;
	size_t types_capacity;
	/* A trace with times: each event's, in ns from its start (NULL:
	 * none), and the last one's. */
	uint64_t *times;
	size_t ntimes;
	size_t times_capacity;
	uint64_t duration_ns;
	/* A binary trace: its events, those too large for the lab, and
	 * where it is damaged or cut short ("": nowhere). */
	size_t recorded_ops;
	size_t skipped;
	char damage[200];
} lab_workload_t;

typedef struct lab_params {
	enum lab_kind kind;
	size_t budget;
	size_t allocs;                  /* 0: the workload's default */
	uint64_t seed;
	size_t size;                    /* fixed */
	size_t min;                     /* uniform, exponential */
	size_t max;
	size_t mean;                    /* exponential */
	double fill;                    /* live bytes aimed at, of the budget */
} lab_params_t;

/* The name of a workload kind, and the kind a name names (-1: none). */
const char *lab_kind_name(enum lab_kind kind);
int lab_kind_parse(const char *name);

/* Build the synthetic workload p describes.  False, with err, on failure. */
bool lab_workload_make(lab_workload_t *w, const lab_params_t *p, char *err,
    size_t errlen);
/*
 * Read a trace from f, named fname in messages: the text format
 * (docs/classic.md), or a binary one recorded by libkmem_malloc.so
 * (docs/trace.md), told apart by its magic.  False, with "fname:line:
 * what" (text) or "fname: offset N: what" (binary) in err, on the first
 * error; a binary trace damaged after its header is read up to the
 * damage, which w->damage names.
 */
bool lab_workload_read(lab_workload_t *w, FILE *f, const char *fname,
    char *err, size_t errlen);
/* Write w as a trace that lab_workload_read() reads back the same. */
void lab_workload_write(const lab_workload_t *w, FILE *out);
void lab_workload_free(lab_workload_t *w);

/* The live requested bytes at their highest, replaying w (0 as 1 byte). */
size_t lab_workload_peak(const lab_workload_t *w);

/* ---- runs ---- */

#define LAB_SERIES      600             /* utilization samples per run */
#define LAB_CELLS       4096            /* cells in a region's picture */

/* What the bytes of a cell of the region's picture hold. */
enum lab_cell {
	LAB_CELL_REQUESTED,             /* bytes asked for by live objects */
	LAB_CELL_WASTE,                 /* allocated beyond the request */
	LAB_CELL_CACHED,
	LAB_CELL_OVERHEAD,
	LAB_CELL_FREE,
	LAB_CELL_KINDS
};

typedef struct lab_result {
	const struct kmem_lab_ops *ops;
	size_t budget;
	uint64_t allocs;                /* that succeeded */
	uint64_t frees;
	uint64_t failures;
	uint64_t early_failures;        /* failed with the budget not used up */
	uint64_t warnings;              /* reports of the kind "warning" */
	uint64_t errors;                /* reports of bad input: a lab bug */
	size_t peak_requested;
	size_t peak_held;
	double utilization;             /* peak_requested / peak_held */
	struct kmem_lab_stats end;      /* after the last event */
	size_t requested_end;
	double external_fragmentation;  /* 1 - largest free / free, at end */
	size_t metadata_peak;
	double seconds;                 /* the median timed pass */
	double ops_per_second;
	size_t nseries;
	float series[LAB_SERIES];       /* requested / held; NaN: nothing held */
	size_t ncells;
	float cell[LAB_CELLS][LAB_CELL_KINDS];  /* the share of each kind */
} lab_result_t;

/*
 * Run w through ops on a budget-byte region: one measured pass, then
 * rounds timed passes (at least 1).  False, with err, if the allocator
 * cannot be created.
 */
bool lab_run(const struct kmem_lab_ops *ops, const lab_workload_t *w,
    size_t budget, unsigned rounds, lab_result_t *r, char *err,
    size_t errlen);

/* ---- output ---- */

/* "8 MiB", "12 KiB", "1000 bytes": the largest exact unit. */
void lab_format_bytes(char *buf, size_t len, size_t bytes);

void lab_print_table(FILE *out, const lab_result_t *r, size_t n,
    bool markdown);
void lab_write_csv(FILE *out, const lab_workload_t *w, const lab_result_t *r,
    size_t n);
void lab_write_svg(FILE *out, const lab_workload_t *w, const lab_result_t *r,
    size_t n);

/* ---- recorded traces ---- */

/* kmlab --dump (dump.c): the trace in f as text; the exit status. */
int lab_trace_dump(FILE *in, const char *fname, FILE *out);
/* kmlab --mallocs (mallocs.c): trace replayed on each malloc; the exit
 * status. */
int lab_mallocs(const char *trace, char **libs, size_t nlibs,
    unsigned rounds, bool markdown);

#endif /* KMLAB_H */
