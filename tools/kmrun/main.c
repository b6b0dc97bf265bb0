/*
 * kmrun: run a program with libkmem's malloc (libkmem_malloc.so) preloaded,
 * and the malloc replacement's options passed to it in KMEM_OPTIONS
 * (<kmem/malloc.h>, docs/malloc.md).
 *
 * kmrun does three things and then becomes the program (execvp), so that
 * the program's exit status, signals and process ID are its own:
 *
 *   1. It builds KMEM_OPTIONS: what the environment already had, then its
 *      own options in the order given, comma-separated; and it checks the
 *      result with the library's own parser, kmem_options_check(), before
 *      anything runs, so that a bad value is an error here, naming the
 *      option, and not a surprise inside the program.  A relative
 *      --stats-file is made absolute here, against kmrun's directory, so
 *      that every process of the run resolves it the same way.
 *   2. It finds the library: --library, else $KMRUN_LIBRARY, else
 *      ../lib/libkmem_malloc.so from the directory kmrun itself lives in
 *      (bin/ and lib/ side by side, in the build tree as in an install),
 *      else the library directory it was installed for.
 *   3. It puts the library first in LD_PRELOAD, by its absolute path,
 *      keeping what was there (and not adding it twice).
 *
 * --debug and --logging become KMEM_DEBUG and KMEM_LOGGING (the debugging
 * layer, docs/debugging.md), checked first with kmem_debug_configure().
 *
 * The statistics at exit are printed by the library inside the program;
 * kmrun only asks for them (and empties the stats file first).  Both
 * variables are inherited, so every process the program starts runs on
 * libkmem too, with the same options, and prints its own tables under a
 * header naming it.
 *
 * kmem_options_check() applies nothing to this process's copy of the
 * library (kmem_static, linked in): kmrun starts no thread, opens no
 * statistics file and publishes no statistics of its own.  From the first
 * check on kmrun leaves by execvp() or _exit(), never by exit().
 *
 * Exit status: the program's; 1 when the library is not found; 2 for bad
 * options; 126 when the program cannot be executed, 127 when it is not
 * found (as a shell does).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kmem/debug.h>
#include <kmem/malloc.h>

#ifndef KMRUN_VERSION
#define KMRUN_VERSION "unknown"
#endif
#ifndef KMRUN_LIBDIR
#define KMRUN_LIBDIR "/usr/local/lib"
#endif

#define LIBRARY_NAME    "libkmem_malloc.so"
#define EXIT_NO_LIBRARY 1
#define EXIT_USAGE      2
#define EXIT_CANNOT_RUN 126
#define EXIT_NOT_FOUND  127

static const char usage_text[] =
    "usage: kmrun [options] [--] PROGRAM [ARGS...]\n"
    "Run PROGRAM with libkmem's malloc preloaded (" LIBRARY_NAME " in\n"
    "LD_PRELOAD), and the options below passed to it in KMEM_OPTIONS\n"
    "(docs/malloc.md).  Processes that PROGRAM starts inherit both.\n"
    "\n"
    "      --stats              print the statistics tables kmstat prints (kmem\n"
    "                           caches, vmem arenas, pools, malloc types) when\n"
    "                           the program exits (default: off)\n"
    "      --stats-file FILE    print them to FILE instead of standard error\n"
    "                           (implies --stats; relative to the current\n"
    "                           directory; emptied first; %p in FILE becomes\n"
    "                           each process's ID)\n"
    "      --reap-interval TIME how often the library gives unused memory\n"
    "                           back: a number with ns, us, ms or s, seconds\n"
    "                           if none (default 15s)\n"
    "      --reap-thread        do that on a thread of its own from the start\n"
    "                           (default: the library starts it once a\n"
    "                           thread of the program exits while others\n"
    "                           run; --options reap_thread=0: never)\n"
    "      --publish            publish the program's statistics for\n"
    "                           kmstat PID (refreshed every second; implies\n"
    "                           --reap-thread)\n"
    "      --guard N            put about one allocation in N on guard pages,\n"
    "                           to catch overflows and uses after free in\n"
    "                           production (docs/debugging.md)\n"
    "      --trace FILE         record every malloc, calloc, realloc, aligned\n"
    "                           allocation and free to FILE (docs/trace.md;\n"
    "                           replay it with kmlab --trace FILE; %p in\n"
    "                           FILE becomes each process's ID; without\n"
    "                           %p, the first process records)\n"
    "      --debug[=LIST]       find heap corruption: KMEM_DEBUG=LIST for the\n"
    "                           program (default: \"default\"; the options of\n"
    "                           libumem's UMEM_DEBUG, docs/debugging.md)\n"
    "      --logging=LIST       KMEM_LOGGING=LIST: transaction[=size],\n"
    "                           contents[=size], fail[=size]\n"
    "      --options LIST       more options, \"name[=value],...\", appended\n"
    "                           as they are (the syntax of KMEM_OPTIONS)\n"
    "      --library PATH       the library to preload (default: see below)\n"
    "  -h, --help               this text\n"
    "      --version            kmrun's version\n"
    "\n"
    "KMEM_OPTIONS already in the environment come first; kmrun's options\n"
    "follow in the order given.  The result is checked before PROGRAM runs.\n"
    "Without --library, kmrun preloads $KMRUN_LIBRARY if set, else the first\n"
    "of these that exists:\n";

static const char exit_text[] =
    "\n"
    "Exit status: PROGRAM's; 1 when the library is not found, 2 for bad\n"
    "options, 126 when PROGRAM cannot be executed, 127 when it is not found.\n";

/* The defaults' paths: beside kmrun, then the installed library. */
typedef struct candidates {
	char beside[PATH_MAX];          /* "" when /proc/self/exe is unreadable */
	const char *installed;
} candidates_t;

static void
find_candidates(candidates_t *c)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof (exe) - 1);
	c->beside[0] = '\0';
	c->installed = KMRUN_LIBDIR "/" LIBRARY_NAME;
	if (n <= 0)
		return;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash == NULL)
		return;
	*slash = '\0';
	int len = snprintf(c->beside, sizeof (c->beside), "%s/../lib/%s", exe,
	    LIBRARY_NAME);
	if (len < 0 || (size_t)len >= sizeof (c->beside))
		c->beside[0] = '\0';
}

static void
print_usage(void)
{
	candidates_t c;
	find_candidates(&c);
	fputs(usage_text, stdout);
	if (c.beside[0] != '\0')
		printf("  %s\n", c.beside);
	printf("  %s\n", c.installed);
	fputs(exit_text, stdout);
}

static void
usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "kmrun: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(kmrun --help for the options)\n");
	_exit(EXIT_USAGE);
}

static void
out_of_memory(void)
{
	fprintf(stderr, "kmrun: out of memory\n");
	_exit(1);
}

static char *
xstrdup(const char *s)
{
	char *copy = strdup(s);
	if (copy == NULL)
		out_of_memory();
	return (copy);
}

/* "a" + sep + "b" (just b when a is empty), newly allocated. */
static char *
join(const char *a, const char *sep, const char *b)
{
	size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
	if (la == 0)
		ls = 0;
	char *s = malloc(la + ls + lb + 1);
	if (s == NULL)
		out_of_memory();
	memcpy(s, a, la);
	memcpy(s + la, sep, ls);
	memcpy(s + la + ls, b, lb + 1);
	return (s);
}

/* ---- the library ---- */

/* NULL when path is a readable file, else what is wrong with it. */
static const char *
library_problem(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return (strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ("not a regular file");
	if (access(path, R_OK) != 0)
		return (strerror(errno));
	return (NULL);
}

/*
 * The absolute path of the library to preload, or exit naming the paths
 * tried.  It must be absolute, since the program may change directory
 * before it starts another; and it may not contain the characters that
 * separate LD_PRELOAD's entries.
 */
static char *
find_library(const char *option)
{
	const char *chosen = NULL, *how = NULL;
	candidates_t c;
	if (option != NULL) {
		chosen = option;
		how = "--library";
	} else if (getenv("KMRUN_LIBRARY") != NULL &&
	    getenv("KMRUN_LIBRARY")[0] != '\0') {
		chosen = getenv("KMRUN_LIBRARY");
		how = "KMRUN_LIBRARY";
	}
	if (chosen != NULL) {
		const char *problem = library_problem(chosen);
		if (problem != NULL) {
			fprintf(stderr, "kmrun: %s: cannot preload \"%s\": %s\n",
			    how, chosen, problem);
			_exit(EXIT_NO_LIBRARY);
		}
	} else {
		find_candidates(&c);
		if (c.beside[0] != '\0' && library_problem(c.beside) == NULL)
			chosen = c.beside;
		else if (library_problem(c.installed) == NULL)
			chosen = c.installed;
		else {
			fprintf(stderr, "kmrun: cannot find " LIBRARY_NAME
			    "; tried:\n");
			if (c.beside[0] != '\0')
				fprintf(stderr, "  %s: %s\n", c.beside,
				    library_problem(c.beside));
			fprintf(stderr, "  %s: %s\n", c.installed,
			    library_problem(c.installed));
			fprintf(stderr, "(use --library PATH or set "
			    "KMRUN_LIBRARY)\n");
			_exit(EXIT_NO_LIBRARY);
		}
	}
	char *path = realpath(chosen, NULL);
	if (path == NULL) {
		fprintf(stderr, "kmrun: cannot resolve \"%s\": %s\n", chosen,
		    strerror(errno));
		_exit(EXIT_NO_LIBRARY);
	}
	if (strpbrk(path, ": \t\n") != NULL) {
		fprintf(stderr, "kmrun: cannot preload \"%s\": LD_PRELOAD "
		    "cannot carry a path with a colon or a space\n", path);
		_exit(EXIT_NO_LIBRARY);
	}
	return (path);
}

/* ---- the options ---- */

/* One of kmrun's options, as it goes into KMEM_OPTIONS. */
typedef struct piece {
	const char *option;     /* as the user wrote it, for messages */
	const char *arg;        /* its value, or NULL */
	char *text;             /* "name[=value]" for KMEM_OPTIONS */
} piece_t;

typedef struct options {
	piece_t *pieces;
	size_t npieces;
	const char *library;
	const char *debug;      /* KMEM_DEBUG for the program, or NULL */
	const char *logging;    /* KMEM_LOGGING, or NULL */
	char **program;         /* argv of the program, NULL-terminated */
} options_t;

enum {
	OPT_STATS = 256, OPT_STATS_FILE, OPT_REAP_INTERVAL, OPT_REAP_THREAD,
	OPT_PUBLISH, OPT_OPTIONS, OPT_LIBRARY, OPT_VERSION, OPT_DEBUG, OPT_LOGGING,
	OPT_GUARD, OPT_TRACE
};

static const struct option long_options[] = {
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "stats-file", required_argument, NULL, OPT_STATS_FILE },
	{ "reap-interval", required_argument, NULL, OPT_REAP_INTERVAL },
	{ "reap-thread", no_argument, NULL, OPT_REAP_THREAD },
	{ "publish", no_argument, NULL, OPT_PUBLISH },
	{ "guard", required_argument, NULL, OPT_GUARD },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "options", required_argument, NULL, OPT_OPTIONS },
	{ "debug", optional_argument, NULL, OPT_DEBUG },
	{ "logging", required_argument, NULL, OPT_LOGGING },
	{ "library", required_argument, NULL, OPT_LIBRARY },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 }
};

static void
add_piece(options_t *o, const char *option, const char *arg, char *text)
{
	piece_t *p = realloc(o->pieces, (o->npieces + 1) * sizeof (*p));
	if (p == NULL)
		out_of_memory();
	o->pieces = p;
	o->pieces[o->npieces++] = (piece_t){ option, arg, text };
}

/* A value that becomes one "name=value" of KMEM_OPTIONS. */
static void
check_value(const char *option, const char *arg)
{
	if (arg[0] == '\0')
		usage_error("%s: the value is empty", option);
	if (strchr(arg, ',') != NULL)
		usage_error("%s: \"%s\" contains a comma, which cannot be "
		    "passed in KMEM_OPTIONS", option, arg);
}

/* FILE made absolute, since the program may change directory. */
static char *
absolute_path(const char *option, const char *path)
{
	if (path[0] == '/')
		return (xstrdup(path));
	char *cwd = getcwd(NULL, 0);
	if (cwd == NULL)
		usage_error("%s: cannot make \"%s\" absolute: %s", option, path,
		    strerror(errno));
	char *abs = join(cwd, "/", path);
	free(cwd);
	return (abs);
}

/*
 * Create the stats file, or empty it: the library appends, one process's
 * tables after another's, and a run starts with an empty file.  A name
 * with "%p" is one file per process, left for the library to create.
 */
static void
start_stats_file(const char *path)
{
	if (strstr(path, "%p") != NULL)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		usage_error("--stats-file: cannot write \"%s\": %s", path,
		    strerror(errno));
	close(fd);
}

static void
parse_options(int argc, char **argv, options_t *o)
{
	*o = (options_t){ 0 };
	int c;
	/* "+": stop at the program's name; ":": report missing values. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_STATS:
			add_piece(o, "--stats", NULL, xstrdup("stats"));
			break;
		case OPT_STATS_FILE: {
			check_value("--stats-file", optarg);
			char *path = absolute_path("--stats-file", optarg);
			check_value("--stats-file", path);
			start_stats_file(path);
			add_piece(o, "--stats-file", optarg,
			    join("stats_file=", "", path));
			free(path);
			break;
		}
		case OPT_TRACE: {
			check_value("--trace", optarg);
			char *path = absolute_path("--trace", optarg);
			check_value("--trace", path);
			/* A new run's trace: the library records into a file
			 * it creates (an old one would be taken over only if
			 * its writer were gone). */
			if (strstr(path, "%p") == NULL && unlink(path) != 0 &&
			    errno != ENOENT)
				usage_error("--trace: cannot replace \"%s\": %s",
				    path, strerror(errno));
			add_piece(o, "--trace", optarg, join("trace=", "", path));
			free(path);
			break;
		}
		case OPT_REAP_INTERVAL:
			check_value("--reap-interval", optarg);
			add_piece(o, "--reap-interval", optarg,
			    join("reap_interval=", "", optarg));
			break;
		case OPT_REAP_THREAD:
			add_piece(o, "--reap-thread", NULL,
			    xstrdup("reap_thread"));
			break;
		case OPT_PUBLISH:
			add_piece(o, "--publish", NULL, xstrdup("publish"));
			break;
		case OPT_GUARD:
			check_value("--guard", optarg);
			add_piece(o, "--guard", optarg,
			    join("guard=", "", optarg));
			break;
		case OPT_OPTIONS:
			if (optarg[0] != '\0')
				add_piece(o, "--options", optarg,
				    xstrdup(optarg));
			break;
		case OPT_DEBUG:
			o->debug = optarg != NULL ? optarg : "default";
			break;
		case OPT_LOGGING:
			o->logging = optarg;
			break;
		case OPT_LIBRARY:
			if (optarg[0] == '\0')
				usage_error("--library: the path is empty");
			o->library = optarg;
			break;
		case 'h':
			print_usage();
			exit(0);
		case OPT_VERSION:
			printf("kmrun (libkmem) %s\n", KMRUN_VERSION);
			exit(0);
		case ':':
			usage_error("%s needs a value", argv[optind - 1]);
			break;
		default:
			if (optopt != 0)
				usage_error("unknown option \"-%c\"", optopt);
			usage_error("unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		usage_error("no program to run");
	o->program = argv + optind;
}

/*
 * Check options with the library's parser, or exit naming what is wrong:
 * source says where the options came from.
 */
static void
check_options(const char *source, const char *options)
{
	char err[512];
	err[0] = '\0';
	if (kmem_options_check(options, err, sizeof (err)) != 0) {
		fprintf(stderr, "kmrun: %s: %s\n(kmrun --help for the "
		    "options)\n", source, err[0] != '\0' ? err :
		    "not accepted by the library");
		_exit(EXIT_USAGE);
	}
}

/*
 * The KMEM_OPTIONS for the program, checked: the environment's first, then
 * ours.  Each part is checked alone first, so that an error names the
 * option (or the environment) it came from.
 */
static char *
build_kmem_options(const options_t *o)
{
	const char *env = getenv("KMEM_OPTIONS");
	char *all = xstrdup(env != NULL ? env : "");
	if (all[0] != '\0') {
		char source[64 + PATH_MAX];
		snprintf(source, sizeof (source),
		    "KMEM_OPTIONS in the environment (\"%.*s\")", PATH_MAX,
		    all);
		check_options(source, all);
	}
	for (size_t i = 0; i < o->npieces; i++) {
		const piece_t *p = &o->pieces[i];
		char source[64 + PATH_MAX];
		if (p->arg != NULL)
			snprintf(source, sizeof (source), "%s \"%.*s\"",
			    p->option, PATH_MAX, p->arg);
		else
			snprintf(source, sizeof (source), "%s", p->option);
		check_options(source, p->text);
		char *longer = join(all, ",", p->text);
		free(all);
		all = longer;
	}
	if (all[0] != '\0')
		check_options("KMEM_OPTIONS", all);
	return (all);
}

/* ---- running the program ---- */

/*
 * LD_PRELOAD with library first, then what was there, without library
 * again (a kmrun run under kmrun); entries are separated by colons or
 * spaces.
 */
static char *
preload_list(const char *library)
{
	const char *old = getenv("LD_PRELOAD");
	char *list = xstrdup(library);
	if (old == NULL)
		return (list);
	while (*old != '\0') {
		size_t len = strcspn(old, ": ");
		if (len > 0 && (len != strlen(library) ||
		    strncmp(old, library, len) != 0)) {
			char *entry = strndup(old, len);
			if (entry == NULL)
				out_of_memory();
			char *longer = join(list, ":", entry);
			free(entry);
			free(list);
			list = longer;
		}
		old += len;
		if (*old != '\0')
			old++;
	}
	return (list);
}

/*
 * Check --debug and --logging with the library's parser (before anything
 * else starts kmrun's copy of the library) and put them in the environment.
 */
static void
set_debug(const options_t *o)
{
	char err[512];
	if (o->debug == NULL && o->logging == NULL)
		return;
	if (kmem_debug_configure(o->debug, o->logging, err, sizeof (err)) != 0)
		usage_error("%s", err);
	if ((o->debug != NULL && setenv("KMEM_DEBUG", o->debug, 1) != 0) ||
	    (o->logging != NULL && setenv("KMEM_LOGGING", o->logging, 1) != 0))
		out_of_memory();
}

static void
set_environment(const char *library, const char *kmem_options)
{
	char *preload = preload_list(library);
	if (setenv("LD_PRELOAD", preload, 1) != 0)
		out_of_memory();
	free(preload);
	if (kmem_options[0] != '\0' &&
	    setenv("KMEM_OPTIONS", kmem_options, 1) != 0)
		out_of_memory();
}

int
main(int argc, char **argv)
{
	options_t o;
	parse_options(argc, argv, &o);
	set_debug(&o);
	char *kmem_options = build_kmem_options(&o);
	char *library = find_library(o.library);
	set_environment(library, kmem_options);
	fflush(stdout);

	execvp(o.program[0], o.program);
	int error = errno;
	if (error == ENOENT && strchr(o.program[0], '/') == NULL) {
		fprintf(stderr, "kmrun: %s: command not found\n",
		    o.program[0]);
	} else {
		fprintf(stderr, "kmrun: cannot run %s: %s\n", o.program[0],
		    strerror(error));
	}
	_exit(error == ENOENT || error == ENOTDIR ? EXIT_NOT_FOUND :
	    EXIT_CANNOT_RUN);
}
