/*
 * The benchmark harness (see harness.h for what it offers).
 *
 * Cells are formatted once, into strings, by the same rules for both
 * output forms; the text form pads every column to its widest cell, the
 * Markdown form leaves alignment to the renderer (numbers right-aligned).
 * Printed columns are the label, the value columns, then the ratio
 * columns: one per value column against a baseline row, or one per value
 * column but the baseline against a baseline column.
 */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

uint64_t
bench_now_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec);
}

static _Noreturn void
bench_fail(const char *what)
{
	fprintf(stderr, "bench: %s\n", what);
	exit(1);
}

double
bench_rss_mib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size, resident;
	if (f == NULL || fscanf(f, "%lu %lu", &size, &resident) != 2)
		bench_fail("cannot read /proc/self/statm");
	fclose(f);
	return ((double)resident * (double)sysconf(_SC_PAGESIZE) /
	    (1024.0 * 1024.0));
}

double
bench_peak_rss_mib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long kb = 0;
	if (f == NULL)
		bench_fail("cannot read /proc/self/status");
	while (fgets(line, sizeof (line), f) != NULL) {
		if (sscanf(line, "VmHWM: %lu kB", &kb) == 1)
			break;
	}
	fclose(f);
	if (kb == 0)
		bench_fail("no VmHWM in /proc/self/status");
	return ((double)kb / 1024.0);
}

uint64_t
bench_xorshift(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return (*state = x);
}

void *
bench_map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		bench_fail("mmap failed");
	return (p);
}

double
bench_time(bench_fn_t *fn, void *arg, uint64_t iterations)
{
	uint64_t start = bench_now_ns();
	fn(arg, iterations);
	uint64_t elapsed = bench_now_ns() - start;
	return ((double)elapsed / (double)iterations);
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (p == NULL) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	return (p);
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a;
	double y = *(const double *)b;
	return ((x > y) - (x < y));
}

double
bench_median(double *values, size_t n)
{
	qsort(values, n, sizeof (values[0]), compare_doubles);
	if (n % 2 == 1)
		return (values[n / 2]);
	return ((values[n / 2 - 1] + values[n / 2]) / 2);
}

/*
 * Warm up with one untimed iteration (it absorbs one-time costs such as
 * page faults or a first long search), then double the iterations until
 * one run lasts target_ns (or the cap).
 */
static void
calibrate(bench_case_t *c, uint64_t target_ns)
{
	uint64_t n = 1;
	c->fn(c->arg, 1);
	c->total_iterations++;
	for (;;) {
		double ns = bench_time(c->fn, c->arg, n);
		c->total_iterations += n;
		if (ns * (double)n >= (double)target_ns ||
		    (c->max_iterations != 0 && n >= c->max_iterations))
			break;
		n *= 2;
		if (c->max_iterations != 0 && n > c->max_iterations)
			n = c->max_iterations;
	}
	c->iterations = n;
}

void
bench_run_cases(bench_case_t *cases, size_t ncases, const bench_options_t *opt)
{
	unsigned rounds = opt->rounds > 0 ? opt->rounds : 1;
	double *samples = xcalloc((size_t)rounds * ncases, sizeof (double));

	for (size_t i = 0; i < ncases; i++) {
		cases[i].total_iterations = 0;
		calibrate(&cases[i], opt->target_ns);
	}
	for (unsigned r = 0; r < rounds; r++) {
		for (size_t i = 0; i < ncases; i++) {
			bench_case_t *c = &cases[i];
			samples[i * rounds + r] = bench_time(c->fn, c->arg,
			    c->iterations);
			c->total_iterations += c->iterations;
		}
	}
	for (size_t i = 0; i < ncases; i++)
		cases[i].ns = bench_median(&samples[i * rounds], rounds);
	free(samples);
}

/* ---- tables ---- */

#define CELL_MAX 48

struct bench_table {
	const char *title;
	const char *row_heading;
	const char *unit;
	size_t ncols;
	const char *const *cols;
	size_t nrows;
	size_t capacity;
	char (*labels)[CELL_MAX];
	double *values;                 /* nrows x ncols */
	enum { BASELINE_NONE, BASELINE_ROW, BASELINE_COLUMN } baseline_kind;
	size_t baseline;                /* the row or column */
};

bench_table_t *
bench_table_create(const char *title, const char *row_heading,
    const char *unit, size_t ncols, const char *const cols[])
{
	bench_table_t *t = xcalloc(1, sizeof (*t));
	t->title = title;
	t->row_heading = row_heading;
	t->unit = unit;
	t->ncols = ncols;
	t->cols = cols;
	return (t);
}

void
bench_table_destroy(bench_table_t *t)
{
	free(t->labels);
	free(t->values);
	free(t);
}

void
bench_table_add_row(bench_table_t *t, const char *label, const double values[])
{
	if (t->nrows == t->capacity) {
		size_t capacity = t->capacity == 0 ? 8 : 2 * t->capacity;
		char (*labels)[CELL_MAX] = xcalloc(capacity, CELL_MAX);
		double *v = xcalloc(capacity * t->ncols, sizeof (double));
		if (t->nrows > 0) {
			memcpy(labels, t->labels, t->nrows * CELL_MAX);
			memcpy(v, t->values,
			    t->nrows * t->ncols * sizeof (double));
		}
		free(t->labels);
		free(t->values);
		t->labels = labels;
		t->values = v;
		t->capacity = capacity;
	}
	snprintf(t->labels[t->nrows], CELL_MAX, "%s", label);
	memcpy(&t->values[t->nrows * t->ncols], values,
	    t->ncols * sizeof (double));
	t->nrows++;
}

void
bench_table_set_baseline(bench_table_t *t, size_t row)
{
	t->baseline = row;
	t->baseline_kind = BASELINE_ROW;
}

void
bench_table_set_baseline_column(bench_table_t *t, size_t col)
{
	t->baseline = col;
	t->baseline_kind = BASELINE_COLUMN;
}

size_t
bench_table_rows(const bench_table_t *t)
{
	return (t->nrows);
}

const char *
bench_table_label(const bench_table_t *t, size_t row)
{
	return (t->labels[row]);
}

double
bench_table_value(const bench_table_t *t, size_t row, size_t col)
{
	return (t->values[row * t->ncols + col]);
}

double
bench_table_ratio(const bench_table_t *t, size_t row, size_t col)
{
	if (t->baseline_kind == BASELINE_COLUMN)
		return (bench_table_value(t, row, col) /
		    bench_table_value(t, row, t->baseline));
	return (bench_table_value(t, row, col) /
	    bench_table_value(t, t->baseline, col));
}

/* Enough significant digits for timings from 1 ns to seconds. */
static void
format_value(char *buf, double v)
{
	if (isnan(v))
		snprintf(buf, CELL_MAX, "-");
	else if (fabs(v) < 10)
		snprintf(buf, CELL_MAX, "%.2f", v);
	else if (fabs(v) < 1000)
		snprintf(buf, CELL_MAX, "%.1f", v);
	else
		snprintf(buf, CELL_MAX, "%.0f", v);
}

static size_t
table_width(const bench_table_t *t)
{
	switch (t->baseline_kind) {
	case BASELINE_ROW:
		return (1 + 2 * t->ncols);
	case BASELINE_COLUMN:
		return (2 * t->ncols);
	default:
		return (1 + t->ncols);
	}
}

/* The value column shown in printed column col >= 1; *ratio if a ratio. */
static size_t
printed_column(const bench_table_t *t, size_t col, int *ratio)
{
	size_t c = col - 1;
	*ratio = c >= t->ncols;
	if (!*ratio)
		return (c);
	c -= t->ncols;
	if (t->baseline_kind == BASELINE_COLUMN && c >= t->baseline)
		c++;            /* the baseline has no ratio column */
	return (c);
}

/* Cell (row, col) of the printed table; row 0 is the header. */
static void
format_cell(const bench_table_t *t, size_t row, size_t col, char *buf)
{
	if (col == 0) {
		snprintf(buf, CELL_MAX, "%s",
		    row == 0 ? t->row_heading : t->labels[row - 1]);
		return;
	}
	int ratio;
	size_t c = printed_column(t, col, &ratio);
	if (row == 0) {
		snprintf(buf, CELL_MAX, "%s%s", t->cols[c], ratio ? " ratio" : "");
		return;
	}
	double v = ratio ? bench_table_ratio(t, row - 1, c) :
	    bench_table_value(t, row - 1, c);
	if (ratio && !isnan(v))
		snprintf(buf, CELL_MAX, "%.2f", v);
	else
		format_value(buf, v);
}

static void
print_notes(const bench_table_t *t, FILE *out)
{
	fprintf(out, "Values: %s.", t->unit);
	if (t->baseline_kind == BASELINE_ROW)
		fprintf(out, "  Ratio: the value over the same column's value "
		    "in row %s = %s.", t->row_heading,
		    t->labels[t->baseline]);
	else if (t->baseline_kind == BASELINE_COLUMN)
		fprintf(out, "  Ratio: the value over the same row's value "
		    "in column %s.", t->cols[t->baseline]);
	fprintf(out, "\n");
}

void
bench_table_print_text(const bench_table_t *t, FILE *out)
{
	size_t width = table_width(t);
	size_t *w = xcalloc(width, sizeof (size_t));
	char cell[CELL_MAX];
	for (size_t row = 0; row <= t->nrows; row++) {
		for (size_t col = 0; col < width; col++) {
			format_cell(t, row, col, cell);
			if (strlen(cell) > w[col])
				w[col] = strlen(cell);
		}
	}
	fprintf(out, "%s\n", t->title);
	for (size_t row = 0; row <= t->nrows; row++) {
		for (size_t col = 0; col < width; col++) {
			format_cell(t, row, col, cell);
			fprintf(out, col == 0 ? "%-*s" : "  %*s", (int)w[col],
			    cell);
		}
		fprintf(out, "\n");
	}
	print_notes(t, out);
	fprintf(out, "\n");
	free(w);
}

void
bench_table_print_markdown(const bench_table_t *t, FILE *out)
{
	size_t width = table_width(t);
	char cell[CELL_MAX];
	fprintf(out, "**%s**\n\n", t->title);
	for (size_t row = 0; row <= t->nrows; row++) {
		for (size_t col = 0; col < width; col++) {
			format_cell(t, row, col, cell);
			fprintf(out, "| %s ", cell);
		}
		fprintf(out, "|\n");
		if (row == 0) {
			for (size_t col = 0; col < width; col++)
				fprintf(out, "|%s", col == 0 ? ":---" : "---:");
			fprintf(out, "|\n");
		}
	}
	fprintf(out, "\n");
	print_notes(t, out);
	fprintf(out, "\n");
}
