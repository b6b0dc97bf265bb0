/*
 * kmstat: the statistics of a running program that uses libkmem, read
 * from the shared-memory segment it publishes (include/kmem/stats.h,
 * docs/statistics.md) without stopping it.
 *
 *	kmstat PID              the kmem cache, vmem arena, pool and malloc
 *	                        type tables (the library's own printers)
 *	kmstat --json PID       the same snapshot as JSON
 *	kmstat --top PID        a live view sorted by memory (top.c)
 *
 * A program publishes when run under `kmrun --publish`, with
 * KMEM_OPTIONS=publish and libkmem_malloc.so, or after calling
 * kmem_stats_publish(1).  Exit status: 0, 1 when the process is not
 * running, does not publish or its segment cannot be read, 2 for bad
 * arguments.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kmstat.h"

static const char usage_text[] =
    "usage: kmstat [--json] PID\n"
    "       kmstat --top PID\n"
    "Print the statistics of process PID, a program using libkmem that\n"
    "publishes them (run it under `kmrun --publish`, or with\n"
    "KMEM_OPTIONS=publish, or have it call kmem_stats_publish(1)).  The\n"
    "program goes on running; its statistics are at most a second old.\n"
    "\n"
    "  (no option)      the kmem cache table (::kmastat), the vmem arena\n"
    "                   table (::vmem), the pool and the malloc type tables\n"
    "                   (vmstat -m)\n"
    "  -j, --json       the same as one JSON object\n"
    "  -t, --top        a live view of the caches sorted by memory,\n"
    "                   refreshed every second; q quits\n"
    "  -h, --help       this text\n"
    "\n"
    "Exit status: 0; 1 when the process is not running, does not publish\n"
    "its statistics or they cannot be read; 2 for bad arguments.\n";

static void
usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "kmstat: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(kmstat --help for the options)\n");
	exit(EXIT_USAGE);
}

void
kmstat_explain(long pid, int error)
{
	switch (error) {
	case KMEM_STATS_NOPROCESS:
		fprintf(stderr, "kmstat: process %ld is not running\n", pid);
		break;
	case KMEM_STATS_UNPUBLISHED:
		fprintf(stderr, "kmstat: process %ld does not publish statistics "
		    "(start it under `kmrun --publish` or set "
		    "KMEM_OPTIONS=publish)\n", pid);
		break;
	case KMEM_STATS_CORRUPT:
		fprintf(stderr, "kmstat: the statistics segment /libkmem.%ld is "
		    "not one this kmstat can read (corrupt, or from another "
		    "version of libkmem)\n", pid);
		break;
	default:
		fprintf(stderr, "kmstat: cannot read the statistics of process "
		    "%ld: %s\n", pid, strerror(errno));
		break;
	}
}

static void
print_line(void *arg, const char *line)
{
	fprintf(arg, "%s\n", line);
}

static int
print_tables(long pid, bool json)
{
	kmem_stats_t *st;
	int error = kmem_stats_read(pid, &st);
	if (error != 0) {
		kmstat_explain(pid, error);
		return (EXIT_RUNTIME);
	}
	int status = EXIT_OK;
	if (json) {
		fflush(stdout);
		if (kmem_stats_json_fd(st, STDOUT_FILENO) != 0)
			status = EXIT_RUNTIME;
	} else {
		time_t taken = (time_t)(st->time_ns / 1000000000u);
		struct tm tm;
		char when[32];
		strftime(when, sizeof (when), "%Y-%m-%d %H:%M:%S",
		    localtime_r(&taken, &tm));
		printf("libkmem statistics: process %ld (%s) at %s\n\n", st->pid,
		    st->program, when);
		kmem_stats_tables(st, KMEM_STATS_ALL, print_line, stdout);
		if (fflush(stdout) != 0)
			status = EXIT_RUNTIME;
	}
	kmem_stats_free(st);
	return (status);
}

static long
parse_pid(const char *text)
{
	char *end;
	errno = 0;
	long pid = strtol(text, &end, 10);
	if (*text < '0' || *text > '9' || *end != '\0' || errno != 0 ||
	    pid <= 0)
		usage_error("\"%s\" is not a process ID", text);
	return (pid);
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "top", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, top = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+jth", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 't':
			top = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return (EXIT_OK);
		default:
			if (optopt != 0)
				usage_error("unknown option \"-%c\"", optopt);
			usage_error("unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (json && top)
		usage_error("--json and --top do not go together");
	if (optind == argc)
		usage_error("no process ID");
	if (optind + 1 < argc)
		usage_error("one process ID only, not \"%s\" too",
		    argv[optind + 1]);
	long pid = parse_pid(argv[optind]);
	return (top ? kmstat_top(pid) : print_tables(pid, json));
}
