/*
 * Running one benchmark once per allocator (see peers.h for the scheme).
 *
 * The driver starts each worker as /proc/self/exe --worker KIND, with
 * LD_PRELOAD set to the allocator's library (a bare soname, which the
 * dynamic linker looks up like a DT_NEEDED entry) or removed, and reads
 * its results from a pipe on the worker's standard output, one cell per
 * line: table, row, column and value, separated by tabs.  A worker that
 * finds itself running another malloc than asked exits with
 * EXIT_UNAVAILABLE; any other failure stops the driver.
 */
#define _GNU_SOURCE
#include "peers.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_UNAVAILABLE        3
#define RUNS_MAX                32
#define LABEL_MAX               48

typedef struct kind {
	const char *name;
	const char *preload;            /* soname for LD_PRELOAD, or NULL */
	const char *malloc_in;          /* part of the name of malloc's object */
} kind_t;

/* The preload of kmem_malloc: our libkmem_malloc.so, found at run time. */
#define KMEM_MALLOC_PRELOAD     "libkmem_malloc.so"

static const kind_t kinds[] = {
	{ "glibc", NULL, "libc.so" },
	{ "jemalloc", "libjemalloc.so.2", "libjemalloc" },
	{ "mimalloc", "libmimalloc.so.2", "libmimalloc" },
	{ "tcmalloc", "libtcmalloc_minimal.so.4", "libtcmalloc" },
	{ "kmem_malloc", KMEM_MALLOC_PRELOAD, "libkmem_malloc" },
	{ "kmem", NULL, "libc.so" },
};

/*
 * What to put in LD_PRELOAD for k: its soname, or for kmem_malloc the
 * library of this build, $KMEM_MALLOC or ../lib/libkmem_malloc.so beside
 * the directory of the program (build-bench/bench/ and build-bench/lib/).
 */
static const char *
preload_of(const kind_t *k, char *buf, size_t size)
{
	if (k->preload == NULL || strcmp(k->preload, KMEM_MALLOC_PRELOAD) != 0)
		return (k->preload);
	const char *env = getenv("KMEM_MALLOC");
	if (env != NULL && env[0] != '\0')
		return (env);
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof (exe) - 1);
	if (n <= 0)
		return (k->preload);
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash == NULL)
		return (k->preload);
	*slash = '\0';
	snprintf(buf, size, "%s/../lib/" KMEM_MALLOC_PRELOAD, exe);
	return (buf);
}

#define NKINDS (sizeof (kinds) / sizeof (kinds[0]))

static _Noreturn void
die(const char *prog, const char *what)
{
	fprintf(stderr, "%s: %s\n", prog, what);
	exit(1);
}

static void *
xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (p == NULL)
		die("peers", "out of memory");
	return (p);
}

/* ---- the worker's side ---- */

void
peer_report(const char *table, const char *row, const char *col,
    double value)
{
	printf("%s\t%s\t%s\t%.17g\n", table, row, col, value);
}

/* Is malloc defined by the object the kind names? */
static bool
malloc_is(const kind_t *k)
{
	Dl_info info;
	void *sym = dlsym(RTLD_DEFAULT, "malloc");
	return (sym != NULL && dladdr(sym, &info) != 0 &&
	    info.dli_fname != NULL && strstr(info.dli_fname, k->malloc_in) !=
	    NULL);
}

const char *
peer_release_memory(const char *kind)
{
	if (strcmp(kind, "jemalloc") == 0) {
		int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
		    (int (*)(const char *, void *, size_t *, void *, size_t))
		    dlsym(RTLD_DEFAULT, "mallctl");
		/* 4096 is MALLCTL_ARENAS_ALL. */
		if (mallctl != NULL &&
		    mallctl("arena.4096.purge", NULL, NULL, NULL, 0) == 0)
			return ("mallctl(\"arena.<all>.purge\")");
	} else if (strcmp(kind, "mimalloc") == 0) {
		void (*collect)(bool) = (void (*)(bool))dlsym(RTLD_DEFAULT,
		    "mi_collect");
		if (collect != NULL) {
			collect(true);
			return ("mi_collect(true)");
		}
	} else if (strcmp(kind, "tcmalloc") == 0) {
		void (*release)(void) = (void (*)(void))dlsym(RTLD_DEFAULT,
		    "MallocExtension_ReleaseFreeMemory");
		if (release != NULL) {
			release();
			return ("MallocExtension_ReleaseFreeMemory()");
		}
	} else if (strcmp(kind, "kmem_malloc") == 0) {
		/* kmem_reap() of the preloaded library, not of this program's
		 * own copy of libkmem: look it up in malloc's object. */
		Dl_info info;
		void *h = NULL;
		if (dladdr(dlsym(RTLD_DEFAULT, "malloc"), &info) != 0)
			h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
		void (*reap)(void) = h != NULL ?
		    (void (*)(void))dlsym(h, "kmem_reap") : NULL;
		if (reap != NULL) {
			reap();
			return ("kmem_reap()");
		}
	} else {
		malloc_trim(0);
		return ("malloc_trim(0)");
	}
	return (NULL);
}

static int
worker_main(const peer_program_t *prog, const char *name, bool quick)
{
	const kind_t *k = NULL;
	for (size_t i = 0; i < NKINDS; i++) {
		if (strcmp(kinds[i].name, name) == 0)
			k = &kinds[i];
	}
	if (k == NULL)
		die(prog->name, "--worker: no such allocator");
	if (!malloc_is(k))
		return (EXIT_UNAVAILABLE);

	peer_worker_t w = { .kind = k->name, .kmem = strcmp(k->name, "kmem") ==
	    0, .quick = quick, .opt = { .target_ns = 10 * 1000 * 1000,
	    .rounds = 3 } };
	if (quick)
		w.opt = (bench_options_t){ .target_ns = 200 * 1000, .rounds = 1 };
	prog->work(&w);
	if (fflush(stdout) != 0)
		die(prog->name, "cannot write the results");
	return (0);
}

/* ---- the driver's side ---- */

/* The values of one cell, one per run. */
typedef struct cell {
	double v[RUNS_MAX];
	unsigned n;
} cell_t;

typedef struct table_data {
	const peer_table_t *def;
	size_t nrows;
	char (*labels)[LABEL_MAX];
	cell_t *cells;                  /* nrows x def->ncols */
} table_data_t;

static cell_t *
cell_of(table_data_t *td, const char *row, const char *col)
{
	size_t c;
	for (c = 0; c < td->def->ncols; c++) {
		if (strcmp(td->def->cols[c], col) == 0)
			break;
	}
	if (c == td->def->ncols)
		return (NULL);
	size_t r;
	for (r = 0; r < td->nrows; r++) {
		if (strcmp(td->labels[r], row) == 0)
			break;
	}
	if (r == td->nrows) {
		td->nrows++;
		td->labels = xrealloc(td->labels, td->nrows * LABEL_MAX);
		td->cells = xrealloc(td->cells,
		    td->nrows * td->def->ncols * sizeof (cell_t));
		snprintf(td->labels[r], LABEL_MAX, "%s", row);
		memset(&td->cells[r * td->def->ncols], 0,
		    td->def->ncols * sizeof (cell_t));
	}
	return (&td->cells[r * td->def->ncols + c]);
}

/* Store one result line of a worker. */
static void
take_line(const peer_program_t *prog, table_data_t *tds, char *line)
{
	char *fields[4];
	char *save = NULL;
	for (int i = 0; i < 4; i++) {
		fields[i] = strtok_r(i == 0 ? line : NULL, "\t\n", &save);
		if (fields[i] == NULL)
			die(prog->name, "a worker printed a malformed line");
	}
	for (size_t t = 0; t < prog->ntables; t++) {
		if (strcmp(tds[t].def->id, fields[0]) != 0)
			continue;
		cell_t *cell = cell_of(&tds[t], fields[1], fields[2]);
		if (cell == NULL)
			die(prog->name, "a worker reported an unknown column");
		if (cell->n < RUNS_MAX)
			cell->v[cell->n++] = strtod(fields[3], NULL);
		return;
	}
	die(prog->name, "a worker reported an unknown table");
}

/* Run one worker and take its results; false if its malloc is missing. */
static bool
run_worker(const peer_program_t *prog, table_data_t *tds, const kind_t *k,
    bool quick)
{
	int fd[2];
	if (pipe(fd) != 0)
		die(prog->name, "pipe failed");
	pid_t pid = fork();
	if (pid < 0)
		die(prog->name, "fork failed");
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		close(fd[1]);
		char path[4096 + 64];
		const char *preload = preload_of(k, path, sizeof (path));
		if (preload != NULL)
			setenv("LD_PRELOAD", preload, 1);
		else
			unsetenv("LD_PRELOAD");
		execl("/proc/self/exe", prog->name, "--worker", k->name,
		    quick ? "--quick" : (char *)NULL, (char *)NULL);
		fprintf(stderr, "%s: cannot run itself: errno %d\n",
		    prog->name, errno);
		_exit(1);
	}
	close(fd[1]);
	FILE *in = fdopen(fd[0], "r");
	if (in == NULL)
		die(prog->name, "fdopen failed");
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, in) > 0)
		take_line(prog, tds, line);
	free(line);
	fclose(in);

	int status;
	if (waitpid(pid, &status, 0) != pid)
		die(prog->name, "waitpid failed");
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_UNAVAILABLE)
		return (false);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "%s: the %s worker failed\n", prog->name,
		    k->name);
		exit(1);
	}
	return (true);
}

static bench_table_t *
median_table(table_data_t *td)
{
	const peer_table_t *def = td->def;
	bench_table_t *t = bench_table_create(def->title, def->row_heading,
	    def->unit, def->ncols, def->cols);
	double *values = xrealloc(NULL, def->ncols * sizeof (double));
	for (size_t r = 0; r < td->nrows; r++) {
		for (size_t c = 0; c < def->ncols; c++) {
			cell_t *cell = &td->cells[r * def->ncols + c];
			values[c] = cell->n == 0 ? NAN :
			    bench_median(cell->v, cell->n);
		}
		bench_table_add_row(t, td->labels[r], values);
	}
	free(values);
	if (def->ratios)
		bench_table_set_baseline_column(t, 0);
	return (t);
}

static void
usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--quick] [--markdown] [--runs N]\n", prog);
	exit(2);
}

int
peer_main(const peer_program_t *prog, int argc, char **argv)
{
	bool quick = false, markdown = false;
	unsigned runs = 5;
	const char *worker = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else if (strcmp(argv[i], "--markdown") == 0)
			markdown = true;
		else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--worker") == 0 && i + 1 < argc)
			worker = argv[++i];
		else
			usage(prog->name);
	}
	if (worker != NULL)
		return (worker_main(prog, worker, quick));
	if (quick)
		runs = 1;
	if (runs < 1 || runs > RUNS_MAX)
		die(prog->name, "--runs: from 1 to 32");

	table_data_t *tds = xrealloc(NULL, prog->ntables * sizeof (*tds));
	for (size_t t = 0; t < prog->ntables; t++)
		tds[t] = (table_data_t){ .def = &prog->tables[t] };
	bool missing[NKINDS] = { false };
	for (unsigned r = 0; r < runs; r++) {
		for (size_t i = 0; i < NKINDS; i++) {
			const kind_t *k = &kinds[(i + r) % NKINDS];
			if (missing[k - kinds])
				continue;
			if (!run_worker(prog, tds, k, quick)) {
				missing[k - kinds] = true;
				fprintf(stderr, "%s: %s is not installed (no %s): "
				    "its column is left empty; bench/run "
				    "installs it\n", prog->name, k->name,
				    k->preload != NULL ? k->preload : "libc");
			}
		}
		fprintf(stderr, "%s: run %u of %u done\n", prog->name, r + 1,
		    runs);
	}

	printf("%s: the median of %u run%s of each allocator's process\n\n",
	    prog->name, runs, runs == 1 ? "" : "s");
	bench_table_t **tables = xrealloc(NULL,
	    prog->ntables * sizeof (*tables));
	for (size_t t = 0; t < prog->ntables; t++) {
		tables[t] = median_table(&tds[t]);
		bench_table_print_text(tables[t], stdout);
	}
	if (prog->conclude != NULL)
		prog->conclude(tables);
	if (markdown) {
		printf("\n");
		for (size_t t = 0; t < prog->ntables; t++)
			bench_table_print_markdown(tables[t], stdout);
	}
	for (size_t t = 0; t < prog->ntables; t++) {
		bench_table_destroy(tables[t]);
		free(tds[t].labels);
		free(tds[t].cells);
	}
	free(tables);
	free(tds);
	return (0);
}
