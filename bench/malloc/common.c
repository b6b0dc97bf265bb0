/*
 * The pieces the malloc workloads share (common.h): argument parsing, the
 * BENCH_SHOW_MALLOC report and the checksum line.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static void
usage_exit(const char *prog, const char *usage)
{
	fprintf(stderr, "usage: %s [--quick] [-n N] [-t THREADS]\n%s\n", prog,
	    usage);
	exit(2);
}

static long
number(const char *prog, const char *usage, const char *s, long min)
{
	char *end;
	long v = strtol(s, &end, 0);

	if (*s == '\0' || *end != '\0' || v < min) {
		fprintf(stderr, "%s: \"%s\" is not a number >= %ld\n", prog, s,
		    min);
		usage_exit(prog, usage);
	}
	return (v);
}

/* Which object defines the malloc this process calls. */
static void
show_malloc(void)
{
	Dl_info info;
	void *sym = dlsym(RTLD_DEFAULT, "malloc");

	if (sym != NULL && dladdr(sym, &info) != 0 && info.dli_fname != NULL)
		fprintf(stderr, "malloc: %s\n", info.dli_fname);
	else
		fprintf(stderr, "malloc: unknown\n");
}

void
bm_init(int argc, char **argv, const char *usage, long default_n,
    long quick_n, bm_options_t *opt)
{
	const char *prog = argc > 0 ? argv[0] : "workload";
	const char *show = getenv("BENCH_SHOW_MALLOC");
	bool n_given = false;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int i;

	opt->quick = false;
	opt->n = default_n;
	opt->threads = cpus > 0 ? (int)cpus : 1;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			opt->quick = true;
		} else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			opt->n = number(prog, usage, argv[++i], 1);
			n_given = true;
		} else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
			opt->threads = (int)number(prog, usage, argv[++i], 1);
		} else {
			usage_exit(prog, usage);
		}
	}
	if (opt->quick && !n_given)
		opt->n = quick_n;
	if (show != NULL && strcmp(show, "1") == 0)
		show_malloc();
}

void *
bm_xmalloc(size_t size)
{
	void *p = malloc(size);

	if (p == NULL) {
		fprintf(stderr, "out of memory (%zu bytes)\n", size);
		exit(1);
	}
	return (p);
}

void
bm_print_checksum(uint64_t sum)
{
	printf("checksum %016" PRIx64 "\n", sum);
}
