/*
 * kmlab --trace FILE --mallocs [LIB...]: the recorded trace replayed
 * against malloc implementations, each in a process of its own
 * (kmlab-replay, preloaded with the library), side by side: the C
 * library's malloc, libkmem_malloc.so, and every library named.
 *
 * kmlab-replay and libkmem_malloc.so are looked for beside kmlab's own
 * executable, as the build and the install lay them out (bin/ and
 * ../lib/); KMLAB_REPLAY and KMLAB_KMEM_MALLOC name them elsewhere.  Each
 * malloc runs rounds times, the rounds interleaved (glibc, kmem, ..., then
 * again) so that a machine busy with something else slows them alike; the
 * median time and the largest peak count.  KMEM_OPTIONS is cleared in the
 * replays, so a trace option set for kmlab records nothing there.
 */
#define _GNU_SOURCE
#include "kmlab.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MALLOCS_MAX     16
#define ROUNDS_MAX      1000

typedef struct contender {
	const char *name;
	const char *preload;    /* NULL: the C library's */
	double seconds[ROUNDS_MAX];
	long peak_kib;
	size_t events;
	bool failed;
} contender_t;

/* The file name beside kmlab's executable, dir relative to it. */
static bool
beside_self(const char *rel, char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof (self) - 1);
	if (n <= 0)
		return (false);
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (slash == NULL)
		return (false);
	*slash = '\0';
	int len = snprintf(out, size, "%s/%s", self, rel);
	return (len > 0 && (size_t)len < size && access(out, R_OK) == 0);
}

/* One replay; false with a message if it did not report. */
static bool
run_one(const char *replay, const char *trace, contender_t *c, unsigned k)
{
	int pipefd[2];
	if (pipe(pipefd) != 0)
		return (false);
	pid_t pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return (false);
	}
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		unsetenv("KMEM_OPTIONS");
		if (c->preload != NULL)
			setenv("LD_PRELOAD", c->preload, 1);
		else
			unsetenv("LD_PRELOAD");
		execl(replay, replay, trace, (char *)NULL);
		fprintf(stderr, "kmlab: cannot run %s: %s\n", replay,
		    strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	char line[128] = "";
	FILE *f = fdopen(pipefd[0], "r");
	if (f != NULL) {
		if (fgets(line, sizeof (line), f) == NULL)
			line[0] = '\0';
		fclose(f);
	} else {
		close(pipefd[0]);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	double seconds;
	long peak;
	size_t events;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    sscanf(line, "replay %lf %ld %zu", &seconds, &peak, &events) != 3) {
		fprintf(stderr, "kmlab: the replay with %s failed (%s %d)\n",
		    c->name, WIFEXITED(status) ? "exit status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return (false);
	}
	c->seconds[k] = seconds;
	if (peak > c->peak_kib)
		c->peak_kib = peak;
	c->events = events;
	return (true);
}

static int
double_compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x < y ? -1 : x > y);
}

static double
median(double *v, unsigned n)
{
	qsort(v, n, sizeof (*v), double_compare);
	return (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

int
lab_mallocs(const char *trace, char **libs, size_t nlibs, unsigned rounds,
    bool markdown)
{
	char replay[PATH_MAX], kmem[PATH_MAX];
	const char *env = getenv("KMLAB_REPLAY");
	if (env != NULL)
		snprintf(replay, sizeof (replay), "%s", env);
	else if (!beside_self("kmlab-replay", replay, sizeof (replay))) {
		fprintf(stderr, "kmlab: kmlab-replay is not beside kmlab "
		    "(set KMLAB_REPLAY)\n");
		return (2);
	}
	env = getenv("KMLAB_KMEM_MALLOC");
	if (env != NULL)
		snprintf(kmem, sizeof (kmem), "%s", env);
	else if (!beside_self("../lib/libkmem_malloc.so", kmem, sizeof (kmem))) {
		fprintf(stderr, "kmlab: libkmem_malloc.so is not in ../lib "
		    "beside kmlab (set KMLAB_KMEM_MALLOC)\n");
		return (2);
	}
	if (nlibs + 2 > MALLOCS_MAX || rounds > ROUNDS_MAX) {
		fprintf(stderr, "kmlab: --mallocs: at most %d libraries\n",
		    MALLOCS_MAX - 2);
		return (2);
	}
	static contender_t c[MALLOCS_MAX];
	size_t n = 0;
	c[n++] = (contender_t){ .name = "glibc" };
	c[n++] = (contender_t){ .name = "libkmem_malloc.so", .preload = kmem };
	for (size_t i = 0; i < nlibs; i++) {
		if (access(libs[i], R_OK) != 0) {
			fprintf(stderr, "kmlab: --mallocs: cannot read \"%s\": "
			    "%s\n", libs[i], strerror(errno));
			return (2);
		}
		const char *base = strrchr(libs[i], '/');
		c[n++] = (contender_t){ .name = base != NULL ? base + 1 :
		    libs[i], .preload = libs[i] };
	}
	for (unsigned k = 0; k < rounds; k++) {
		for (size_t i = 0; i < n; i++) {
			if (!c[i].failed && !run_one(replay, trace, &c[i], k))
				c[i].failed = true;
		}
	}
	double base_s = c[0].failed ? 0 : median(c[0].seconds, rounds);
	long base_kib = c[0].peak_kib;
	if (markdown)
		printf("| malloc | time (s) | vs glibc | peak RSS (KiB) | "
		    "vs glibc |\n|---|--:|--:|--:|--:|\n");
	else
		printf("%-24s %10s %9s %15s %9s\n", "malloc", "time (s)",
		    "vs glibc", "peak RSS (KiB)", "vs glibc");
	int status = 0;
	for (size_t i = 0; i < n; i++) {
		if (c[i].failed) {
			if (markdown)
				printf("| %s | failed | | | |\n", c[i].name);
			else
				printf("%-24s failed\n", c[i].name);
			status = 1;
			continue;
		}
		double s = median(c[i].seconds, rounds);
		double rt = base_s > 0 ? s / base_s : 0;
		double rm = base_kib > 0 ? (double)c[i].peak_kib /
		    (double)base_kib : 0;
		if (markdown)
			printf("| %s | %.4f | %.2f | %ld | %.2f |\n", c[i].name,
			    s, rt, c[i].peak_kib, rm);
		else
			printf("%-24s %10.4f %9.2f %15ld %9.2f\n", c[i].name,
			    s, rt, c[i].peak_kib, rm);
	}
	printf("\n%zu events, median of %u rounds, one process per round\n",
	    c[0].events, rounds);
	return (status);
}
