/*
 * Options: "name[=value],..." strings, as KMEM_OPTIONS carries them to
 * libkmem_malloc.so and kmrun passes them on (include/kmem/malloc.h lists
 * them), and the statistics printed at exit.
 *
 * kmem_options_set() parses the whole string into a pending set first and
 * applies it only when every option and value is good, so a bad string
 * changes nothing; the error names the option and says what was expected.
 * The string is split by kmem_option_next() (format.c), which the debugging
 * layer's options share.
 * kmem_options_check() only parses (kmrun checks what it passes on).
 * Applying "stats" registers one atexit() handler (once), which prints a
 * header naming the process and the tables kmstat prints (kmem caches,
 * vmem arenas, pools and pool caches, malloc types: kmem_stats_print()) to
 * standard error or to the stats file.  The options travel in the
 * environment, so every process a program starts prints its own tables:
 * the header tells them apart, the file is opened for appending (one
 * process does not overwrite another's tables) and "%p" in its name
 * becomes the process ID (one file per process).  A relative stats file is
 * made absolute when the option is set, so a program that changes
 * directory still writes where it was asked; standard error is duplicated
 * then too, since many programs close it on their way out.
 *
 * "trace" starts malloc's recorder (malloc_trace.c) before the rest is
 * applied, the first time it is named; if its file cannot be opened,
 * nothing is applied.
 *
 * Applying "publish" starts publishing the statistics for kmstat
 * (stats_publish.c) without waiting for the first snapshot.
 *
 * Applying "guard=N" samples about one malloc() in N for kmem's guard
 * pages (malloc.c, kmem_guard.c); guard=0 stops sampling.
 *
 * The options are set before threads exist (from a constructor or early in
 * main), so their state takes no lock; the exit handler only reads it.
 */
#define _GNU_SOURCE             /* program_invocation_short_name */
#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/stats.h>

#include "base/format.h"
#include "base/report.h"
#include "malloc/malloc_impl.h"
#include "malloc_trace.h"
#include "stats/stats_publish.h"
#include "base/stats_tables.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct options {
	bool stats;
	char stats_file[PATH_MAX];      /* "" for standard error */
	uint64_t reap_interval_ns;      /* 0: leave as it is */
	int reap_thread;                /* -1: leave as it is */
	bool publish;                   /* publish statistics (stats_publish.c) */
	unsigned guard;                 /* guard one malloc() in this; 0: none */
	char trace_file[PATH_MAX];      /* record to it (malloc_trace.c); "" not */
} options_t;

#define GUARD_MAX       (1u << 30)

static options_t applied = { .reap_thread = -1 };
static bool exit_handler_registered;
/* A copy of standard error taken when "stats" is set, for programs that
 * close theirs before they exit (coreutils do). */
static int stats_stderr = -1;

/* ---- values ---- */

static bool
parse_bool(const char *value, int *out)
{
	if (value == NULL || strcmp(value, "1") == 0 ||
	    strcmp(value, "yes") == 0 || strcmp(value, "true") == 0) {
		*out = 1;
		return (true);
	}
	if (strcmp(value, "0") == 0 || strcmp(value, "no") == 0 ||
	    strcmp(value, "false") == 0) {
		*out = 0;
		return (true);
	}
	return (false);
}

/* A duration: a positive number followed by ns, us, ms or s (s if none). */
static bool
parse_duration(const char *value, uint64_t *out)
{
	static const struct { const char *suffix; uint64_t ns; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 },
		{ "s", 1000000000 }, { "", 1000000000 },
	};
	if (value == NULL || *value < '0' || *value > '9')
		return (false);
	char *end;
	unsigned long long n = strtoull(value, &end, 10);
	for (size_t i = 0; i < sizeof (units) / sizeof (units[0]); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (n == 0 || n > UINT64_MAX / units[i].ns)
				return (false);
			*out = n * units[i].ns;
			return (true);
		}
	}
	return (false);
}

static bool
parse_path(const char *value, char *out, size_t size)
{
	if (value == NULL || *value == '\0')
		return (false);
	size_t len = 0;
	if (value[0] != '/') {
		if (getcwd(out, size) == NULL)
			return (false);
		len = strlen(out);
		if (len + 1 >= size)
			return (false);
		out[len++] = '/';
	}
	if (len + strlen(value) >= size)
		return (false);
	strcpy(out + len, value);
	return (true);
}

/* ---- the table of options ---- */

/* Parse one option's value into *o; false if the value is bad. */
typedef bool option_parser_t(const char *value, options_t *o);

static bool
opt_stats(const char *value, options_t *o)
{
	int on;
	if (!parse_bool(value, &on))
		return (false);
	o->stats = on;
	return (true);
}

static bool
opt_stats_file(const char *value, options_t *o)
{
	o->stats = true;
	return (parse_path(value, o->stats_file, sizeof (o->stats_file)));
}

static bool
opt_reap_interval(const char *value, options_t *o)
{
	return (parse_duration(value, &o->reap_interval_ns));
}

static bool
opt_reap_thread(const char *value, options_t *o)
{
	return (parse_bool(value, &o->reap_thread));
}

static bool
opt_publish(const char *value, options_t *o)
{
	int on;
	if (!parse_bool(value, &on))
		return (false);
	o->publish = on;
	return (true);
}

static bool
opt_guard(const char *value, options_t *o)
{
	if (value == NULL || *value < '0' || *value > '9')
		return (false);
	char *end;
	unsigned long long n = strtoull(value, &end, 10);
	if (*end != '\0' || n > GUARD_MAX)
		return (false);
	o->guard = (unsigned)n;
	return (true);
}

static bool
opt_trace(const char *value, options_t *o)
{
	return (parse_path(value, o->trace_file, sizeof (o->trace_file)));
}

static const struct option_spec {
	const char *name;
	const char *expects;            /* for the error message */
	option_parser_t *parse;
} option_specs[] = {
	{ "stats", "nothing, or 0 or 1", opt_stats },
	{ "stats_file", "a file name", opt_stats_file },
	{ "reap_interval", "a time such as 500ms or 15s", opt_reap_interval },
	{ "reap_thread", "nothing, or 0 or 1", opt_reap_thread },
	{ "publish", "nothing, or 0 or 1", opt_publish },
	{ "guard", "a number of allocations, 0 to 2^30", opt_guard },
	{ "trace", "a file name", opt_trace },
};

static const struct option_spec *
option_lookup(const kmem_option_t *o)
{
	for (size_t i = 0; i < sizeof (option_specs) / sizeof (option_specs[0]);
	    i++) {
		if (kmem_option_is(o, option_specs[i].name))
			return (&option_specs[i]);
	}
	return (NULL);
}

/* ---- statistics at exit ---- */

static void
emit_line(void *arg, const char *line)
{
	int fd = *(int *)arg;
	size_t len = strlen(line);
	while (len > 0) {
		ssize_t n = write(fd, line, len);
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
	(void) !write(fd, "\n", 1);
}

/*
 * The tables kmstat prints, by the same code (stats.c), from the live
 * objects: a snapshot would allocate, at exit and perhaps from the caches
 * it reports on.  This allocates nothing, and writes each line as it comes
 * -- under the locks of the objects it reads, so with cancellation off: a
 * thread cancelled in one of the writes would keep them for ever.
 */
void
kmem_stats_print(int fd)
{
	int cancel;
	(void) pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	kmem_stats_tables_live(KMEM_STATS_ALL, emit_line, &fd);
	(void) pthread_setcancelstate(cancel, NULL);
}

bool
kmem_malloc_path_expand(const char *pattern, char *out, size_t size)
{
	char pid[24];
	kmem_snprintf(pid, sizeof (pid), "%ld", (long)getpid());
	size_t len = 0;
	for (const char *p = pattern; *p != '\0'; p++) {
		const char *piece = p;
		size_t n = 1;
		if (p[0] == '%' && p[1] == 'p') {
			piece = pid;
			n = strlen(pid);
			p++;
		}
		if (len + n >= size)
			return (false);
		memcpy(out + len, piece, n);
		len += n;
	}
	out[len] = '\0';
	return (true);
}

static void
stats_at_exit(void)
{
	if (!applied.stats)
		return;
	int fd = stats_stderr;
	char name[PATH_MAX + 24];
	if (applied.stats_file[0] != '\0') {
		if (!kmem_malloc_path_expand(applied.stats_file, name,
		    sizeof (name)))
			return;
		fd = open(name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0644);
	}
	if (fd < 0)
		return;
	char header[96];
	kmem_snprintf(header, sizeof (header), "libkmem statistics: "
	    "process %ld (%s) at exit", (long)getpid(),
	    program_invocation_short_name);
	emit_line(&fd, header);
	emit_line(&fd, "");
	kmem_stats_print(fd);
	if (fd != stats_stderr)
		close(fd);
}

/* ---- parsing and applying ---- */

static void
apply(const options_t *o)
{
	bool was_publishing = applied.publish;
	unsigned was_guard = applied.guard;
	applied = *o;
	if (o->guard != was_guard && !kmem_malloc_guard(o->guard)) {
		kmem_warn("guard=%u: the guard pages cannot be had; no "
		    "allocation is guarded", o->guard);
		applied.guard = was_guard;
	}
	if (o->stats && stats_stderr < 0)
		stats_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (o->stats && !exit_handler_registered &&
	    atexit(stats_at_exit) == 0)
		exit_handler_registered = true;
	if (o->reap_interval_ns != 0)
		kmem_update_interval_set(o->reap_interval_ns);
	if (o->reap_thread >= 0)
		kmem_update_thread(o->reap_thread);
	if (o->publish && !was_publishing)
		kmem_stats_publish_start();
	else if (!o->publish && was_publishing)
		kmem_stats_publish(0);
}

/* Parse options into *pending; 0, or -1 with the message in err. */
static int
parse_options(const char *options, options_t *pending, char *err,
    size_t errlen)
{
	kmem_option_t o;
	while (kmem_option_next(&options, &o)) {
		const struct option_spec *spec = option_lookup(&o);
		if (spec == NULL) {
			kmem_snprintf(err, errlen, "unknown option '%.*s' "
			    "(known: stats, stats_file, reap_interval, "
			    "reap_thread, publish, guard, trace)", (int)o.name_len,
			    o.name);
			return (-1);
		}
		/* The value, NUL-terminated for the value parsers. */
		char value[PATH_MAX];
		if (o.value_len >= sizeof (value)) {
			kmem_snprintf(err, errlen, "option '%s': value too long",
			    spec->name);
			return (-1);
		}
		if (o.value != NULL)
			memcpy(value, o.value, o.value_len);
		value[o.value_len] = '\0';
		if (!spec->parse(o.value != NULL ? value : NULL, pending)) {
			kmem_snprintf(err, errlen, "option '%s': bad value "
			    "'%s' (expected %s)", spec->name, value,
			    spec->expects);
			return (-1);
		}
	}
	return (0);
}

int
kmem_options_set(const char *options, char *err, size_t errlen)
{
	/* The stats and publish options are state and carry over from earlier
	 * calls; the reap options are actions, taken only when this call
	 * names them. */
	options_t pending = applied;
	pending.reap_interval_ns = 0;
	pending.reap_thread = -1;
	if (parse_options(options, &pending, err, errlen) != 0)
		return (-1);
	/* The recorder starts once, the first time it is named. */
	if (pending.trace_file[0] != '\0' && !kmem_trace_on &&
	    kmem_trace_start(pending.trace_file, err, errlen) != 0)
		return (-1);
	apply(&pending);
	return (0);
}

int
kmem_options_check(const char *options, char *err, size_t errlen)
{
	options_t pending = applied;
	return (parse_options(options, &pending, err, errlen));
}
