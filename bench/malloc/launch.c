/*
 * launch: run one program and measure it, for bench/malloc/run.
 *
 *   launch [-p PRELOAD] [-T SECONDS] [-o FILE] -- PROGRAM [ARGS...]
 *
 * Starts PROGRAM with LD_PRELOAD set to PRELOAD (or with LD_PRELOAD
 * removed when there is none, so glibc's malloc runs), waits for it with
 * wait4() and writes one line to FILE (default: stderr):
 *
 *   <wall seconds> <peak RSS in KiB> <status>
 *
 * where status is "ok", "exit:N" (a nonzero exit status), "signal:N"
 * (killed by signal N: a crash) or "timeout" (killed after SECONDS).  The
 * wall time runs from just before fork() to the return of wait4(); the
 * peak RSS is the child's ru_maxrss.  Its own exit status is 0 whenever
 * it could measure, whatever the program did, so the driver reads the
 * verdict from the line.  The launcher itself runs without the preload,
 * so that only the program's allocator changes between runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;

static void
on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: launch [-p PRELOAD] [-T SECONDS] [-o FILE] "
	    "-- PROGRAM [ARGS...]\n");
	exit(2);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
}

int
main(int argc, char **argv)
{
	const char *preload = NULL, *out_path = NULL;
	unsigned timeout = 0;
	struct sigaction sa;
	struct rusage ru;
	char status[32];
	double start, elapsed;
	FILE *out = stderr;
	pid_t pid, r;
	int opt, ws;

	while ((opt = getopt(argc, argv, "+p:T:o:")) != -1) {
		switch (opt) {
		case 'p':
			preload = optarg;
			break;
		case 'T':
			timeout = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'o':
			out_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();

	memset(&sa, 0, sizeof (sa));
	sa.sa_handler = on_alarm;       /* no SA_RESTART: wait4 returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);

	start = now();
	pid = fork();
	if (pid < 0) {
		perror("launch: fork");
		return (1);
	}
	if (pid == 0) {
		if (preload != NULL && *preload != '\0')
			setenv("LD_PRELOAD", preload, 1);
		else
			unsetenv("LD_PRELOAD");
		execvp(argv[optind], &argv[optind]);
		fprintf(stderr, "launch: %s: %s\n", argv[optind],
		    strerror(errno));
		_exit(127);
	}
	if (timeout > 0)
		alarm(timeout);
	while ((r = wait4(pid, &ws, 0, &ru)) < 0 && errno == EINTR) {
		if (timed_out)
			kill(pid, SIGKILL);
	}
	elapsed = now() - start;
	if (r < 0) {
		perror("launch: wait4");
		return (1);
	}
	if (timed_out)
		snprintf(status, sizeof (status), "timeout");
	else if (WIFSIGNALED(ws))
		snprintf(status, sizeof (status), "signal:%d", WTERMSIG(ws));
	else if (WEXITSTATUS(ws) != 0)
		snprintf(status, sizeof (status), "exit:%d", WEXITSTATUS(ws));
	else
		snprintf(status, sizeof (status), "ok");

	if (out_path != NULL && (out = fopen(out_path, "w")) == NULL) {
		perror(out_path);
		return (1);
	}
	fprintf(out, "%.6f %ld %s\n", elapsed, ru.ru_maxrss, status);
	if (out != stderr)
		fclose(out);
	return (0);
}
