/*
 * The benchmark harness: what every program in bench/ shares.
 *
 * Measuring.  A case is a function that performs `iterations` units of
 * work (an alloc+free pair, say).  bench_run_cases() runs several cases
 * side by side: it first warms each one up with a single untimed
 * iteration and calibrates it (doubling the iteration count until one run
 * lasts at least the target time), then repeats rounds in which every case runs once, in turn, so that slow
 * drifts of a noisy machine hit all cases alike.  Each case's result is the
 * median over the rounds of the time per iteration.
 *
 * Reporting.  A table has labelled rows of numbers (nanoseconds, say) and
 * an optional baseline, either a row or a column.  With a baseline row,
 * printing adds, for each column, a ratio column: the value divided by the
 * same column's value in the baseline row.  With a baseline column (one
 * allocator that the others are compared with, say), it adds a ratio
 * column for each other column: the value divided by the baseline
 * column's value in the same row.  Tables print as aligned text or as
 * Markdown.
 *
 * The harness runs outside the library, so it uses the C library freely.
 */
#ifndef KMEM_BENCH_HARNESS_H
#define KMEM_BENCH_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);

/* The process's resident set now, and its peak (VmHWM), in MiB; a
 * program that cannot read them exits with a message. */
double bench_rss_mib(void);
double bench_peak_rss_mib(void);

/* The next number of a xorshift64 sequence (*state not 0). */
uint64_t bench_xorshift(uint64_t *state);

/* bytes of fresh anonymous memory for a benchmark's own tables; a program
 * that cannot have them exits with a message. */
void *bench_map(size_t bytes);

/* Do `iterations` units of the measured work. */
typedef void bench_fn_t(void *arg, uint64_t iterations);

typedef struct bench_case {
	const char *name;
	bench_fn_t *fn;
	void *arg;
	uint64_t max_iterations;        /* calibration stops here; 0: no cap */
	/* Filled in by bench_run_cases(): */
	uint64_t iterations;            /* per timed run, after calibration */
	uint64_t total_iterations;      /* all runs, calibration included */
	double ns;                      /* median ns per iteration */
} bench_case_t;

typedef struct bench_options {
	uint64_t target_ns;             /* the least time of one timed run */
	unsigned rounds;                /* timed runs of each case */
} bench_options_t;

/* Time one run of fn; returns ns per iteration. */
double bench_time(bench_fn_t *fn, void *arg, uint64_t iterations);

/* Calibrate, then run the cases side by side and fill in their results. */
void bench_run_cases(bench_case_t *cases, size_t ncases,
    const bench_options_t *opt);

/* The median of n values (reorders them). */
double bench_median(double *values, size_t n);

/* ---- result tables ---- */

typedef struct bench_table bench_table_t;

/*
 * A table titled title whose rows are labelled under row_heading and which
 * has ncols value columns named by cols[]; unit describes the values
 * ("ns per pair").  Exits with a message when out of memory.
 */
bench_table_t *bench_table_create(const char *title, const char *row_heading,
    const char *unit, size_t ncols, const char *const cols[]);
void bench_table_destroy(bench_table_t *t);

/* Append a row; values[] has ncols entries. */
void bench_table_add_row(bench_table_t *t, const char *label,
    const double values[]);

/* Add ratio columns against row (counted from 0 in the order added). */
void bench_table_set_baseline(bench_table_t *t, size_t row);

/* Add ratio columns against column col instead (counted from 0). */
void bench_table_set_baseline_column(bench_table_t *t, size_t col);

/* Rows added so far, and the label of one. */
size_t bench_table_rows(const bench_table_t *t);
const char *bench_table_label(const bench_table_t *t, size_t row);

/*
 * The value of column col in row, and its ratio to the baseline: the same
 * column's value in the baseline row, or the same row's value in the
 * baseline column.
 */
double bench_table_value(const bench_table_t *t, size_t row, size_t col);
double bench_table_ratio(const bench_table_t *t, size_t row, size_t col);

void bench_table_print_text(const bench_table_t *t, FILE *out);
void bench_table_print_markdown(const bench_table_t *t, FILE *out);

#endif /* KMEM_BENCH_HARNESS_H */
