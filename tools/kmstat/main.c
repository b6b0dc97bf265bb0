/*
 * kmstat: the statistics of a running program that uses libkmem, read
 * from the shared-memory segment it publishes (include/kmem/stats.h,
 * docs/statistics.md) without stopping it.
 *
 *	kmstat PID              the kmem cache, vmem arena, pool and malloc
 *	                        type tables (the library's own printers)
 *	kmstat --json PID       the same snapshot as JSON
 *	kmstat --top PID        a live view sorted by memory (top.c)
 *	kmstat --list           the processes that publish, running or gone
 *	kmstat --clean          remove the segments of processes that are gone
 *
 * A program publishes when run under `kmrun --publish`, with
 * KMEM_OPTIONS=publish and libkmem_malloc.so, or after calling
 * kmem_stats_publish(1); a program killed before it exits leaves its
 * segment behind, which --clean removes (kmem_stats_segments_walk() and
 * kmem_stats_remove_stale() do the work).  Exit status: 0, 1 when the
 * process is not running, does not publish or its segment cannot be read,
 * or when the segments cannot be listed or a stale one cannot be removed,
 * 2 for bad arguments.
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
    "       kmstat --list | --clean\n"
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
    "  -l, --list       the processes that publish: PID, whether it is\n"
    "                   running or gone, and the program's name\n"
    "  -c, --clean      remove the statistics of processes that are gone\n"
    "                   (killed before they could remove them); print\n"
    "                   each one removed\n"
    "  -h, --help       this text\n"
    "\n"
    "Exit status: 0; 1 when the process is not running, does not publish\n"
    "its statistics or they cannot be read, or when the statistics cannot\n"
    "be listed or those of a process gone cannot be removed; 2 for bad\n"
    "arguments.\n";

/* What to do; the option that asks for it, for the messages. */
typedef enum kmstat_mode {
	MODE_TABLES,
	MODE_JSON,
	MODE_TOP,
	MODE_LIST,
	MODE_CLEAN,
} kmstat_mode_t;

static const char *const mode_option[] = {
	[MODE_TABLES] = "",
	[MODE_JSON] = "--json",
	[MODE_TOP] = "--top",
	[MODE_LIST] = "--list",
	[MODE_CLEAN] = "--clean",
};

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

static void
list_one(void *arg, const kmem_stats_segment_t *seg)
{
	(void) arg;
	printf("%7ld  %-7s  %s\n", seg->pid, seg->running ? "running" : "gone",
	    seg->program[0] != '\0' ? seg->program : "-");
}

static int
list_segments(void)
{
	printf("%7s  %-7s  %s\n", "PID", "STATE", "PROGRAM");
	if (kmem_stats_segments_walk(list_one, NULL) != 0) {
		fprintf(stderr, "kmstat: cannot list the statistics segments: "
		    "%s\n", strerror(errno));
		return (EXIT_RUNTIME);
	}
	return (fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME);
}

/*
 * Remove the segment of a process that is gone.  It may have been removed
 * since it was listed (ENOENT), or its pid given to a new process (EBUSY):
 * then there is nothing to do.
 */
static void
clean_one(void *arg, const kmem_stats_segment_t *seg)
{
	int *status = arg;
	if (seg->running)
		return;
	if (kmem_stats_remove_stale(seg->pid) == 0) {
		if (seg->program[0] != '\0')
			printf("removed %s (%s)\n", seg->name, seg->program);
		else
			printf("removed %s\n", seg->name);
	} else if (errno != ENOENT && errno != EBUSY) {
		fprintf(stderr, "kmstat: cannot remove %s, the statistics of "
		    "process %ld, which is gone: %s\n", seg->name, seg->pid,
		    strerror(errno));
		*status = EXIT_RUNTIME;
	}
}

static int
clean_segments(void)
{
	int status = EXIT_OK;
	if (kmem_stats_segments_walk(clean_one, &status) != 0) {
		fprintf(stderr, "kmstat: cannot list the statistics segments: "
		    "%s\n", strerror(errno));
		return (EXIT_RUNTIME);
	}
	if (fflush(stdout) != 0)
		status = EXIT_RUNTIME;
	return (status);
}

/* Ask for mode to: --json, --top, --list and --clean exclude each other. */
static void
set_mode(kmstat_mode_t *mode, kmstat_mode_t to)
{
	if (*mode != MODE_TABLES && *mode != to)
		usage_error("%s and %s do not go together", mode_option[*mode],
		    mode_option[to]);
	*mode = to;
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
		{ "list", no_argument, NULL, 'l' },
		{ "clean", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	kmstat_mode_t mode = MODE_TABLES;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+jtlch", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			set_mode(&mode, MODE_JSON);
			break;
		case 't':
			set_mode(&mode, MODE_TOP);
			break;
		case 'l':
			set_mode(&mode, MODE_LIST);
			break;
		case 'c':
			set_mode(&mode, MODE_CLEAN);
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
	if (mode == MODE_LIST || mode == MODE_CLEAN) {
		if (optind < argc)
			usage_error("%s takes no process ID", mode_option[mode]);
		return (mode == MODE_LIST ? list_segments() :
		    clean_segments());
	}
	if (optind == argc)
		usage_error("no process ID");
	if (optind + 1 < argc)
		usage_error("one process ID only, not \"%s\" too",
		    argv[optind + 1]);
	long pid = parse_pid(argv[optind]);
	return (mode == MODE_TOP ? kmstat_top(pid) :
	    print_tables(pid, mode == MODE_JSON));
}
