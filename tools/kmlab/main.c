/*
 * kmlab: run one workload through every allocator of the laboratory's
 * table (<kmem/classic.h>) on the same memory budget, and report how each
 * did, as a table, CSV and SVG.  See kmlab.h for the files and
 * docs/classic.md for the measurements, the workloads and the trace
 * format.
 *
 * Exit status: 0, 1 when a run fails (no memory, or the library reported
 * an error), 2 for bad options.
 */
#include "kmlab.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_BUDGET  ((size_t)8 << 20)

static const char usage_text[] =
    "usage: kmlab [options]\n"
    "Run one workload through every classic allocator and vmem on the same\n"
    "memory budget; report utilization, fragmentation, failures, speed and\n"
    "metadata as a table, CSV and SVG (docs/classic.md).\n"
    "\n"
    "  -w, --workload NAME    fixed, uniform, exponential, kernel or frag\n"
    "                         (default kernel)\n"
    "  -t, --trace FILE       replay the trace FILE instead (- for stdin):\n"
    "                         text, or binary as kmrun --trace records\n"
    "      --mallocs [LIB...] with --trace: replay it on the C library's\n"
    "                         malloc, libkmem_malloc.so and each LIB, each\n"
    "                         in its own process: time and peak RSS\n"
    "      --dump FILE        print the trace FILE as text and exit\n"
    "  -b, --budget SIZE      bytes each allocator manages, a multiple of\n"
    "                         the page size (default 8M; for a trace, grown\n"
    "                         to a power of two at least twice its peak)\n"
    "  -n, --allocs N         allocations in a synthetic workload (default:\n"
    "                         five lifetimes of its longest-lived objects)\n"
    "  -s, --seed N           the workload's random seed (default 1)\n"
    "      --size SIZE        fixed: the object size (default 64)\n"
    "      --min SIZE         uniform, exponential: smallest size (default 16)\n"
    "      --max SIZE         uniform, exponential: largest size (default 4096)\n"
    "      --mean SIZE        exponential: the mean size (default 256)\n"
    "      --fill F           live bytes aimed at, as a fraction of the\n"
    "                         budget, above 0 and at most 1 (default 0.5)\n"
    "  -a, --allocators LIST  comma-separated names (default: all; see --list)\n"
    "  -r, --rounds N         timed passes per allocator; the median counts\n"
    "                         (default 3)\n"
    "      --csv FILE         write the results as CSV (- for stdout)\n"
    "      --svg FILE         write the utilization chart and region maps\n"
    "      --write-trace FILE write the workload as a trace (- for stdout)\n"
    "      --markdown         print the table as Markdown\n"
    "  -q, --quiet            print no table\n"
    "  -l, --list             list the allocators and workloads\n"
    "  -h, --help             this text\n"
    "SIZE takes a K, M or G suffix (powers of 1024).\n";

static void
usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "kmlab: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(kmlab --help for the options)\n");
	exit(2);
}

/* A count or SIZE (with suffixes when sized) in [lo, hi], or exit. */
static uint64_t
parse_number(const char *option, const char *arg, bool sized, uint64_t lo,
    uint64_t hi)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	unsigned shift = 0;
	if (sized && *end != '\0' && end[1] == '\0') {
		const char *suffixes = "KMG";
		const char *s = strchr(suffixes, *end & ~0x20);
		if (s != NULL) {
			shift = 10 * (unsigned)(s - suffixes + 1);
			end++;
		}
	}
	if (arg[0] < '0' || arg[0] > '9' || errno != 0 || *end != '\0' ||
	    v > (UINT64_MAX >> shift))
		usage_error("%s: \"%s\" is not a %s", option, arg, sized ?
		    "size (a number with an optional K, M or G suffix)" :
		    "non-negative integer");
	uint64_t value = (uint64_t)v << shift;
	if (value < lo || value > hi)
		usage_error("%s: %s is out of range: it must be from %llu to "
		    "%llu", option, arg, (unsigned long long)lo,
		    (unsigned long long)hi);
	return (value);
}

static double
parse_fraction(const char *option, const char *arg)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(v > 0 && v <= 1))
		usage_error("%s: \"%s\" is not a number above 0 and at most 1",
		    option, arg);
	return (v);
}

static FILE *
open_output(const char *option, const char *path)
{
	if (strcmp(path, "-") == 0)
		return (stdout);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		usage_error("%s: cannot write \"%s\": %s", option, path,
		    strerror(errno));
	return (f);
}

static void
close_output(FILE *f, const char *path)
{
	if (f == stdout) {
		fflush(f);
		return;
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "kmlab: writing \"%s\" failed: %s\n", path,
		    strerror(errno));
		exit(1);
	}
}

static void
list_everything(void)
{
	printf("allocators:\n");
	for (size_t i = 0; kmem_lab_allocators[i] != NULL; i++)
		printf("  %-16s %s\n", kmem_lab_allocators[i]->name,
		    kmem_lab_allocators[i]->design);
	printf("workloads:\n");
	for (int k = 0; k < LAB_TRACE; k++)
		printf("  %s\n", lab_kind_name((enum lab_kind)k));
}

/* The allocators named in list (comma-separated), into chosen; count. */
static size_t
choose_allocators(const char *list, const struct kmem_lab_ops **chosen,
    size_t max)
{
	size_t n = 0;
	if (list == NULL) {
		for (; kmem_lab_allocators[n] != NULL && n < max; n++)
			chosen[n] = kmem_lab_allocators[n];
		return (n);
	}
	char *copy = strdup(list);
	if (copy == NULL) {
		fprintf(stderr, "kmlab: out of memory\n");
		exit(1);
	}
	for (char *name = strtok(copy, ","); name != NULL;
	    name = strtok(NULL, ",")) {
		const struct kmem_lab_ops *ops = kmem_lab_find(name);
		if (ops == NULL)
			usage_error("--allocators: \"%s\" is not an allocator "
			    "(kmlab --list names them)", name);
		if (n == max)
			usage_error("--allocators: more than %zu names", max);
		chosen[n++] = ops;
	}
	free(copy);
	if (n == 0)
		usage_error("--allocators: the list is empty");
	return (n);
}

enum {
	OPT_SIZE = 256, OPT_MIN, OPT_MAX, OPT_MEAN, OPT_FILL, OPT_CSV,
	OPT_SVG, OPT_WRITE_TRACE, OPT_MARKDOWN, OPT_MALLOCS, OPT_DUMP
};

static const struct option long_options[] = {
	{ "workload", required_argument, NULL, 'w' },
	{ "trace", required_argument, NULL, 't' },
	{ "budget", required_argument, NULL, 'b' },
	{ "allocs", required_argument, NULL, 'n' },
	{ "seed", required_argument, NULL, 's' },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "min", required_argument, NULL, OPT_MIN },
	{ "max", required_argument, NULL, OPT_MAX },
	{ "mean", required_argument, NULL, OPT_MEAN },
	{ "fill", required_argument, NULL, OPT_FILL },
	{ "allocators", required_argument, NULL, 'a' },
	{ "rounds", required_argument, NULL, 'r' },
	{ "csv", required_argument, NULL, OPT_CSV },
	{ "svg", required_argument, NULL, OPT_SVG },
	{ "write-trace", required_argument, NULL, OPT_WRITE_TRACE },
	{ "markdown", no_argument, NULL, OPT_MARKDOWN },
	{ "mallocs", no_argument, NULL, OPT_MALLOCS },
	{ "dump", required_argument, NULL, OPT_DUMP },
	{ "quiet", no_argument, NULL, 'q' },
	{ "list", no_argument, NULL, 'l' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

typedef struct options {
	lab_params_t params;
	const char *trace;
	const char *allocators;
	unsigned rounds;
	const char *csv;
	const char *svg;
	const char *write_trace;
	bool markdown;
	bool quiet;
	bool budget_given;
	bool mallocs;
	char **libs;                    /* --mallocs' libraries */
	size_t nlibs;
	const char *dump;
} options_t;

static void
parse_options(int argc, char **argv, options_t *o)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	*o = (options_t){
		.params = { .kind = LAB_KERNEL, .budget = DEFAULT_BUDGET,
		    .seed = 1, .size = 64, .min = 16, .max = 4096, .mean = 256,
		    .fill = 0.5 },
		.rounds = 3,
	};
	int c;
	while ((c = getopt_long(argc, argv, "w:t:b:n:s:a:r:qlh", long_options,
	    NULL)) != -1) {
		lab_params_t *p = &o->params;
		switch (c) {
		case 'w': {
			int kind = lab_kind_parse(optarg);
			if (kind < 0)
				usage_error("--workload: \"%s\" is not a "
				    "workload (fixed, uniform, exponential, "
				    "kernel or frag)", optarg);
			p->kind = (enum lab_kind)kind;
			break;
		}
		case 't':
			o->trace = optarg;
			break;
		case 'b':
			p->budget = parse_number("--budget", optarg, true, page,
			    SIZE_MAX / 2);
			if (p->budget % page != 0)
				usage_error("--budget: %s is not a multiple of "
				    "the page size (%zu)", optarg, page);
			o->budget_given = true;
			break;
		case 'n':
			p->allocs = parse_number("--allocs", optarg, false, 1,
			    UINT32_MAX / 4);
			break;
		case 's':
			p->seed = parse_number("--seed", optarg, false, 0,
			    UINT64_MAX);
			break;
		case OPT_SIZE:
			p->size = parse_number("--size", optarg, true, 1,
			    UINT32_MAX);
			break;
		case OPT_MIN:
			p->min = parse_number("--min", optarg, true, 1,
			    UINT32_MAX);
			break;
		case OPT_MAX:
			p->max = parse_number("--max", optarg, true, 1,
			    UINT32_MAX);
			break;
		case OPT_MEAN:
			p->mean = parse_number("--mean", optarg, true, 1,
			    UINT32_MAX);
			break;
		case OPT_FILL:
			p->fill = parse_fraction("--fill", optarg);
			break;
		case 'a':
			o->allocators = optarg;
			break;
		case 'r':
			o->rounds = (unsigned)parse_number("--rounds", optarg,
			    false, 1, 1000);
			break;
		case OPT_CSV:
			o->csv = optarg;
			break;
		case OPT_SVG:
			o->svg = optarg;
			break;
		case OPT_WRITE_TRACE:
			o->write_trace = optarg;
			break;
		case OPT_MARKDOWN:
			o->markdown = true;
			break;
		case OPT_MALLOCS:
			o->mallocs = true;
			break;
		case OPT_DUMP:
			o->dump = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'l':
			list_everything();
			exit(0);
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			usage_error("unknown option or missing value");
		}
	}
	if (o->mallocs) {
		if (o->trace == NULL || strcmp(o->trace, "-") == 0)
			usage_error("--mallocs replays a trace file: give "
			    "--trace FILE");
		o->libs = argv + optind;
		o->nlibs = (size_t)(argc - optind);
	} else if (optind < argc) {
		usage_error("unexpected argument \"%s\"", argv[optind]);
	}
}

/*
 * A trace's budget, unless one was given: a power of two at least twice
 * the trace's peak of live bytes (the buddy systems round each block up to
 * a power of two), and at least the default.
 */
static size_t
trace_budget(const lab_workload_t *w)
{
	size_t peak = lab_workload_peak(w), budget = DEFAULT_BUDGET;
	while (budget < 2 * peak && budget <= SIZE_MAX / 4)
		budget *= 2;
	return (budget);
}

static void
load_workload(const options_t *o, lab_workload_t *w)
{
	char err[512];
	bool ok;
	if (o->trace != NULL) {
		bool stdin_trace = strcmp(o->trace, "-") == 0;
		FILE *f = stdin_trace ? stdin : fopen(o->trace, "r");
		if (f == NULL)
			usage_error("--trace: cannot read \"%s\": %s", o->trace,
			    strerror(errno));
		ok = lab_workload_read(w, f, stdin_trace ? "<stdin>" : o->trace,
		    err, sizeof (err));
		if (!stdin_trace)
			fclose(f);
	} else {
		ok = lab_workload_make(w, &o->params, err, sizeof (err));
	}
	if (!ok) {
		fprintf(stderr, "kmlab: %s\n", err);
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	options_t o;
	parse_options(argc, argv, &o);
	if (o.dump != NULL) {
		bool stdin_trace = strcmp(o.dump, "-") == 0;
		FILE *f = stdin_trace ? stdin : fopen(o.dump, "r");
		if (f == NULL)
			usage_error("--dump: cannot read \"%s\": %s", o.dump,
			    strerror(errno));
		int status = lab_trace_dump(f, stdin_trace ? "<stdin>" : o.dump,
		    stdout);
		if (!stdin_trace)
			fclose(f);
		return (status);
	}
	if (o.mallocs)
		return (lab_mallocs(o.trace, o.libs, o.nlibs, o.rounds,
		    o.markdown));
	const struct kmem_lab_ops *chosen[64];
	size_t n = choose_allocators(o.allocators, chosen, 64);
	lab_workload_t w;
	load_workload(&o, &w);
	if (w.damage[0] != '\0')
		fprintf(stderr, "kmlab: %s: %s (replaying the %zu events "
		    "before it)\n", o.trace, w.damage, w.recorded_ops);
	if (w.skipped != 0)
		fprintf(stderr, "kmlab: %s: %zu allocations above 4 GiB left "
		    "out\n", o.trace, w.skipped);
	if (o.trace != NULL && !o.budget_given)
		o.params.budget = trace_budget(&w);
	if (o.write_trace != NULL) {
		FILE *f = open_output("--write-trace", o.write_trace);
		lab_workload_write(&w, f);
		close_output(f, o.write_trace);
	}

	lab_result_t *results = calloc(n, sizeof (*results));
	if (results == NULL) {
		fprintf(stderr, "kmlab: out of memory\n");
		return (1);
	}
	int status = 0;
	size_t done = 0;
	for (size_t i = 0; i < n; i++) {
		char err[512];
		if (lab_run(chosen[i], &w, o.params.budget, o.rounds,
		    &results[done], err, sizeof (err))) {
			done++;
		} else {
			fprintf(stderr, "kmlab: %s\n", err);
			status = 1;
		}
	}
	if (!o.quiet) {
		char budget[32];
		lab_format_bytes(budget, sizeof (budget), o.params.budget);
		printf("%sworkload %s: %zu allocations, %zu events, %zu object "
		    "types; each allocator manages %s%s\n\n",
		    o.markdown ? "" : "kmlab: ", w.name, w.allocs, w.nevents,
		    w.ntypes, budget, o.markdown ? "." : "");
		lab_print_table(stdout, results, done, o.markdown);
		for (size_t i = 0; i < done; i++) {
			if (results[i].warnings > 0)
				printf("\n%s: %llu warnings from the library "
				    "(a resource map warns when it is full and "
				    "loses a freed range: overhead from then "
				    "on)",
				    results[i].ops->name,
				    (unsigned long long)results[i].warnings);
		}
		printf("\n");
	}
	if (o.csv != NULL) {
		FILE *f = open_output("--csv", o.csv);
		lab_write_csv(f, &w, results, done);
		close_output(f, o.csv);
	}
	if (o.svg != NULL) {
		FILE *f = open_output("--svg", o.svg);
		lab_write_svg(f, &w, results, done);
		close_output(f, o.svg);
	}
	free(results);
	lab_workload_free(&w);
	return (status);
}
