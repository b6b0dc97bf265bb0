/*
 * Comparing kmem with the malloc implementations that replace glibc's:
 * one benchmark program, run once per allocator, several times over.
 *
 * A program built on this has two sides.  Started by the user it is the
 * driver: for each of --runs runs it starts itself once per process kind
 * -- glibc (no preload), jemalloc, mimalloc and tcmalloc (each through
 * LD_PRELOAD of its Debian library), kmem_malloc (LD_PRELOAD of this
 * build's libkmem_malloc.so: our malloc, measured as the peers are), and
 * kmem (no preload: the program calls kmem directly) -- in a rotating order, so that a slow drift of
 * the machine hits every allocator alike.  Each such worker runs the
 * measurements for its allocator and prints its results on a pipe, one
 * line per table cell; the driver takes, cell by cell, the median over the
 * runs and prints one table per benchmark, with ratios against the glibc
 * column where the table asks for them.
 *
 * A worker first checks that malloc really is the allocator it was started
 * for (the object defining malloc, by dladdr); a preload the dynamic
 * linker could not find (a library not installed) makes that column "-"
 * and the driver says so.  bench/run installs the libraries.
 *
 * Options of every such program: [--quick] [--markdown] [--runs N]
 * [--only KIND]; --quick makes a smoke run (one short run).
 */
#ifndef KMEM_BENCH_PEERS_H
#define KMEM_BENCH_PEERS_H

#include <stdbool.h>
#include <stddef.h>

#include "harness.h"

/* A table the workers fill: rows appear in the order they are reported. */
typedef struct peer_table {
	const char *id;                 /* the name workers report it under */
	const char *title;
	const char *row_heading;
	const char *unit;
	size_t ncols;
	const char *const *cols;
	bool ratios;                    /* ratios against column 0 (glibc) */
} peer_table_t;

/* What a worker is told. */
typedef struct peer_worker {
	const char *kind;               /* "glibc", "jemalloc", ..., "kmem" */
	bool kmem;                      /* the kmem process: call kmem */
	bool quick;
	bench_options_t opt;            /* timing options for the harness */
} peer_worker_t;

typedef struct peer_program {
	const char *name;
	const peer_table_t *tables;
	size_t ntables;
	/* Measure, and report every result with peer_report(). */
	void (*work)(const peer_worker_t *w);
	/* Optional: print verdicts from the finished tables (in order). */
	void (*conclude)(bench_table_t *const tables[]);
} peer_program_t;

/* In a worker: one cell's value for this run. */
void peer_report(const char *table, const char *row, const char *col,
    double value);

/* The whole program: parse argv, drive or work; returns the exit status. */
int peer_main(const peer_program_t *prog, int argc, char **argv);

/* The release call of the running malloc (for the memory benchmark). */
const char *peer_release_memory(const char *kind);

#endif /* KMEM_BENCH_PEERS_H */
