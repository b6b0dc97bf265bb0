/*
 * UMEM_NOFAIL as umem_alloc(3MALLOC)'s examples use it.
 *
 * Example 4: worker threads allocate with UMEM_NOFAIL and never check for
 * NULL; the failure handler ends the thread that ran out (pthread_exit()
 * for the man page's thr_exit()), and the main thread learns of it from
 * the join status.  One worker asks for more than any machine has.
 *
 * Example 3, in child processes because it ends the program: a handler
 * that says "out of memory" and returns UMEM_CALLBACK_EXIT(status), and
 * one that first frees an emergency reserve and retries.
 *
 * It checks what it relies on and exits 1 if any of it fails.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <umem.h>

#define VERIFY(cond) do {                                               \
	if (!(cond)) {                                                  \
		(void) fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, \
		    #cond);                                             \
		exit(1);                                                \
	}                                                               \
} while (0)

#define MB              (1024 * 1024)
#define TOO_MUCH        (SIZE_MAX / 4)  /* no machine has this much */

/* ---- Example 4: a multithreaded application ---- */

static volatile int threads_out_of_memory;

static int
thread_failure_handler(void)
{
	__sync_fetch_and_add(&threads_out_of_memory, 1);
	/* terminate the current thread with status NULL */
	pthread_exit(NULL);
}

static void *
start_func(void *the_arg)
{
	size_t *size = (size_t *)the_arg;
	char *buf = (char *)umem_alloc(*size, UMEM_NOFAIL);

	/* does not need to check for buf == NULL */
	buf[0] = 0;
	buf[*size - 1] = 1;
	umem_free(buf, *size);
	return (the_arg);
}

static void
threads(void)
{
	enum { THREADS = 5, GREEDY = 2 };
	size_t sizes[THREADS];
	pthread_t tids[THREADS];
	void *status;
	int i;

	umem_nofail_callback(thread_failure_handler);
	for (i = 0; i < THREADS; i++) {
		sizes[i] = i == GREEDY ? TOO_MUCH : (size_t)(i + 1) * MB;
		VERIFY(pthread_create(&tids[i], NULL, start_func,
		    &sizes[i]) == 0);
	}
	for (i = 0; i < THREADS; i++) {
		VERIFY(pthread_join(tids[i], &status) == 0);
		if (status == NULL)
			(void) printf("thread %d ran out of memory\n", i);
		/* Only the greedy thread ran out. */
		VERIFY((status == NULL) == (i == GREEDY));
	}
	VERIFY(threads_out_of_memory == 1);

	/* The library is still fine after a thread left it that way. */
	char *after = (char *)umem_alloc(MB, UMEM_NOFAIL);
	memset(after, 1, MB);
	umem_free(after, MB);
	umem_nofail_callback(NULL);
}

/* ---- Example 3: exiting ---- */

static int
my_failure_handler(void)
{
	(void) fprintf(stderr, "out of memory\n");
	return (UMEM_CALLBACK_EXIT(3));
}

static void
child_exits(void)
{
	int i;
	char *buf[100];

	umem_nofail_callback(my_failure_handler);
	/* The allocation code does not have to check for NULL. */
	for (i = 0; i < 100; i++)
		buf[i] = (char *)umem_alloc(MB, UMEM_NOFAIL);
	for (i = 0; i < 100; i++)
		buf[i][MB - 1] = (char)i;
	for (i = 0; i < 100; i++)
		umem_free(buf[i], MB);
	(void) umem_alloc(TOO_MUCH, UMEM_NOFAIL);
	(void) fprintf(stderr, "umem_alloc(UMEM_NOFAIL) returned\n");
	_exit(10);
}

/* An emergency reserve, given up before the handler gives up. */
static void *reserve;

static int
reserve_failure_handler(void)
{
	if (reserve != NULL) {
		(void) fprintf(stderr, "freeing the reserve\n");
		umem_free(reserve, 16 * MB);
		reserve = NULL;
		return (UMEM_CALLBACK_RETRY);
	}
	(void) fprintf(stderr, "still out of memory\n");
	return (UMEM_CALLBACK_EXIT(4));
}

static void
child_retries(void)
{
	reserve = umem_alloc(16 * MB, UMEM_NOFAIL);
	umem_nofail_callback(reserve_failure_handler);
	(void) umem_alloc(TOO_MUCH, UMEM_NOFAIL);
	_exit(10);
}

/* Run fn in a child; check its exit status and what it said. */
static void
expect_exit(void (*fn)(void), int code, const char *said)
{
	int fds[2];
	char out[512];
	size_t len = 0;
	ssize_t n;
	int status;
	pid_t pid;

	VERIFY(pipe(fds) == 0);
	(void) fflush(NULL);
	VERIFY((pid = fork()) >= 0);
	if (pid == 0) {
		(void) close(fds[0]);
		(void) dup2(fds[1], STDERR_FILENO);
		fn();
		_exit(11);
	}
	(void) close(fds[1]);
	while ((n = read(fds[0], out + len, sizeof (out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	(void) close(fds[0]);
	VERIFY(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != code ||
	    strcmp(out, said) != 0) {
		(void) fprintf(stderr, "wanted exit %d saying \"%s\"; got "
		    "status 0x%x saying \"%s\"\n", code, said, status, out);
		exit(1);
	}
}

int
main(void)
{
	threads();
	expect_exit(child_exits, 3, "out of memory\n");
	expect_exit(child_retries, 4,
	    "freeing the reserve\nstill out of memory\n");
	(void) printf("umem_ex_nofail: ok\n");
	return (0);
}
