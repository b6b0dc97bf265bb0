/*
 * The tests' tiny harness: assertions that say where and what, and a report
 * catcher for the library's bad-input reports.
 *
 *	CHECK(cond);                    fail the test unless cond holds
 *	CHECK_EQ(a, b);                 ... unless a == b (as integers)
 *	CHECK_REPORT(stmt, "substring"); stmt must report exactly once, and the
 *	                                message must contain the substring
 *	CHECK_WARNING(stmt, "substring"); the same for a warning
 *	CHECK_REPORT_IS(stmt, "message"); stmt must report exactly once, and
 *					the message's first line (a debugging
 *					report adds stacks below it) must be
 *					exactly the text
 *	CHECK_WARNING_IS(stmt, "message"); the same for a warning
 *	CHECK_NO_REPORT(stmt);
 *	check_run_child(fn)		fn, run in a child process: its status
 *					and standard error (check_child_t)
 *	check_child_aborts(fn, "text");	fn, run in a child process, must abort
 *					with the text on standard error
 *	check_exits_within(fn, seconds, "what")
 *					fn, run in a child process, must exit 0
 *					within the bound; a child still running
 *					then has hung (what), and is killed
 *	check_random(&state)            the next of a seeded pseudo-random
 *					sequence (splitmix64)
 *	check_fmt(format, ...)		printf into one of a few static
 *					buffers: for expected messages
 *	CHECK_TEST(fn), check_run_tests(tests, n, argc, argv)
 *					a table of test functions, run in
 *					order (or those named by the
 *					arguments), each with the report
 *					catcher installed
 *
 * A failed check prints file, line, the expression and the values, then
 * exits 1 (CTest counts the test as failed).  The report catcher is
 * installed by check_catch_reports(); while it is installed, a report that
 * no CHECK_REPORT expects fails the test at the next check of the catcher.
 */
#ifndef KMEM_TESTS_CHECK_H
#define KMEM_TESTS_CHECK_H

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kmem/common.h>

static inline void
check_failed(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	fflush(NULL);
	exit(1);
}

#define CHECK(cond) do {                                                \
	if (!(cond))                                                    \
		check_failed(__FILE__, __LINE__, #cond);                \
} while (0)

#define CHECK_EQ(a, b) do {                                             \
	uintmax_t check_a_ = (uintmax_t)(a), check_b_ = (uintmax_t)(b); \
	if (check_a_ != check_b_) {                                     \
		char check_msg_[512];                                   \
		snprintf(check_msg_, sizeof (check_msg_),               \
		    "%s == %s (0x%jx != 0x%jx, %ju != %ju)", #a, #b,    \
		    check_a_, check_b_, check_a_, check_b_);            \
		check_failed(__FILE__, __LINE__, check_msg_);           \
	}                                                               \
} while (0)

/* ---- catching reports ---- */

typedef struct check_reports {
	int count;
	kmem_report_kind_t kind;        /* of the last report */
	char last[8192];
} check_reports_t;

static check_reports_t check_reports;

static inline void
check_report_handler(void *arg, kmem_report_kind_t kind, const char *message)
{
	check_reports_t *r = arg;
	r->count++;
	r->kind = kind;
	snprintf(r->last, sizeof (r->last), "%s", message);
}

static inline void
check_catch_reports(void)
{
	check_reports.count = 0;
	kmem_report_handler_set(check_report_handler, &check_reports, NULL);
}

static inline void
check_report_expected(const char *file, int line, const char *stmt,
    kmem_report_kind_t kind, const char *substring)
{
	char msg[8192 + 512];
	if (check_reports.count != 1 || check_reports.kind != kind ||
	    strstr(check_reports.last, substring) == NULL) {
		snprintf(msg, sizeof (msg), "%s should %s once with \"%s\"; "
		    "saw %d report(s), last: \"%s\"", stmt,
		    kind == KMEM_REPORT_ERROR ? "report an error" : "warn",
		    substring, check_reports.count, check_reports.last);
		check_failed(file, line, msg);
	}
	check_reports.count = 0;
	check_reports.last[0] = '\0';
}

/* Is the first line of message exactly text? */
static inline int
check_first_line_is(const char *message, const char *text)
{
	size_t n = strlen(text);
	return (strncmp(message, text, n) == 0 &&
	    (message[n] == '\0' || message[n] == '\n'));
}

/* As check_report_expected(), and the first line must be exactly text. */
static inline void
check_report_is(const char *file, int line, const char *stmt,
    kmem_report_kind_t kind, const char *text)
{
	char msg[2 * 8192 + 512];
	if (check_reports.count == 1 && check_reports.kind == kind &&
	    !check_first_line_is(check_reports.last, text)) {
		snprintf(msg, sizeof (msg), "%s should report exactly \"%s\"; "
		    "reported \"%s\"", stmt, text, check_reports.last);
		check_failed(file, line, msg);
	}
	check_report_expected(file, line, stmt, kind, text);
}

/* stmt, then check (check_report_expected or check_report_is) its report. */
#define CHECK_REPORT_WITH(check, stmt, kind, text) do {                 \
	if (check_reports.count != 0)                                   \
		check_failed(__FILE__, __LINE__, "an unexpected report "  \
		    "came before this check");                          \
	stmt;                                                           \
	check(__FILE__, __LINE__, #stmt, kind, text);                   \
} while (0)

#define CHECK_REPORT_KIND(stmt, kind, substring) \
	CHECK_REPORT_WITH(check_report_expected, stmt, kind, substring)
#define CHECK_REPORT(stmt, substring) \
	CHECK_REPORT_KIND(stmt, KMEM_REPORT_ERROR, substring)
#define CHECK_WARNING(stmt, substring) \
	CHECK_REPORT_KIND(stmt, KMEM_REPORT_WARNING, substring)
#define CHECK_REPORT_IS(stmt, text) \
	CHECK_REPORT_WITH(check_report_is, stmt, KMEM_REPORT_ERROR, text)
#define CHECK_WARNING_IS(stmt, text) \
	CHECK_REPORT_WITH(check_report_is, stmt, KMEM_REPORT_WARNING, text)

#define CHECK_NO_REPORT(stmt) do {                                      \
	stmt;                                                           \
	if (check_reports.count != 0) {                                 \
		char check_msg_[8192 + 256];                                  \
		snprintf(check_msg_, sizeof (check_msg_),               \
		    "%s reported \"%s\"", #stmt, check_reports.last);   \
		check_failed(__FILE__, __LINE__, check_msg_);           \
	}                                                               \
} while (0)

/* ---- other helpers ---- */

/* What a child process did: its wait status and its standard error. */
typedef struct check_child {
	int status;
	char err[8192];
} check_child_t;

/*
 * Run fn in a child process and wait for it; a child that hangs is killed
 * after 10 s, one whose fn returns exits with 100.
 */
static inline check_child_t
check_run_child(void (*fn)(void))
{
	check_child_t c = { 0 };
	int fds[2];
	CHECK(pipe(fds) == 0);
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		alarm(10);
		fn();
		_exit(100);
	}
	close(fds[1]);
	size_t len = 0;
	ssize_t n;
	while ((n = read(fds[0], c.err + len, sizeof (c.err) - 1 - len)) > 0)
		len += (size_t)n;
	close(fds[0]);
	CHECK(waitpid(pid, &c.status, 0) == pid);
	return (c);
}

/* Run fn in a child process: it must abort, saying expected on stderr. */
static inline void
check_child_aborts(void (*fn)(void), const char *expected)
{
	check_child_t c = check_run_child(fn);
	if (!WIFSIGNALED(c.status) || WTERMSIG(c.status) != SIGABRT ||
	    strstr(c.err, expected) == NULL) {
		fprintf(stderr, "child should abort saying \"%s\"; status 0x%x, "
		    "said \"%s\"\n", expected, c.status, c.err);
		CHECK(!"the child aborts with the expected message");
	}
}

/* Run fn in a child process: it must exit 0 within seconds; still running
 * then, it hung (hang says how), and it is killed. */
static inline void
check_exits_within(void (*fn)(void), int seconds, const char *hang)
{
	fflush(NULL);
	pid_t child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		fn();
		_exit(0);
	}
	int status;
	pid_t done = 0;
	for (int waited = 0; waited < seconds * 100 && done == 0; waited++) {
		done = waitpid(child, &status, WNOHANG);
		if (done == 0)
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	if (done == 0) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		fprintf(stderr, "hung: %s\n", hang);
		CHECK(!"the child exits within its bound");
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static inline const char *
check_fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static inline const char *
check_fmt(const char *f, ...)
{
	static char bufs[8][512];
	static unsigned next;
	char *b = bufs[next++ % 8];
	va_list ap;
	va_start(ap, f);
	vsnprintf(b, sizeof (bufs[0]), f, ap);
	va_end(ap);
	return (b);
}

/* splitmix64: the tests' seeded pseudo-random numbers. */
static inline uint64_t
check_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (z ^ (z >> 31));
}

/* ---- a table of tests ---- */

typedef struct check_test {
	const char *name;
	void (*fn)(void);
} check_test_t;

#define CHECK_TEST(fn) { #fn, fn }

/* Is name chosen by the arguments (all tests when none names one)? */
static inline int
check_test_selected(int argc, char **argv, const char *name)
{
	int any = 0;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		any = 1;
		if (strcmp(argv[i], name) == 0)
			return (1);
	}
	return (!any);
}

/* One test, with the report catcher: a report no check expected fails it. */
static inline void
check_run_test(const check_test_t *t)
{
	check_catch_reports();
	t->fn();
	if (check_reports.count != 0) {
		fprintf(stderr, "%s: unexpected report: \"%s\"\n", t->name,
		    check_reports.last);
		exit(1);
	}
}

/* The selected tests of the table, in order; 0 when all passed. */
static inline int
check_run_tests(const check_test_t *tests, size_t n, int argc, char **argv)
{
	for (size_t i = 0; i < n; i++) {
		if (!check_test_selected(argc, argv, tests[i].name))
			continue;
		check_run_test(&tests[i]);
		printf("ok   %s\n", tests[i].name);
	}
	return (0);
}

#endif /* KMEM_TESTS_CHECK_H */
