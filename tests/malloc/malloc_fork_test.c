/*
 * fork() under the preloaded library, where the C library itself allocates
 * from it (what glibc's malloc/tst-malloc-fork-deadlock and
 * tst-mallocfork2 check of glibc's own malloc):
 *
 *	malloc_fork_test stdio     threads fork in a loop while others read
 *	                           a long line with getline() (which
 *	                           allocates while it holds its stream's
 *	                           lock) and one calls fflush(NULL) (which
 *	                           takes the list of streams, then each
 *	                           stream): glibc's fork() takes that list
 *	                           after the fork handlers, so handlers that
 *	                           held the allocator's locks first waited
 *	                           for it forever
 *	malloc_fork_test signals   one thread mallocs and frees (and forks
 *	                           now and then) while another process
 *	                           sends it signals whose handler forks
 *	malloc_fork_test threads   the same in a process with threads,
 *	                           which allocate too and send the main
 *	                           thread the signals; the handler forks
 *	                           with _Fork(), which runs no fork handlers
 *	                           (what glibc's tst-mallocfork3 checks):
 *	                           the child only exits, and the parent's
 *	                           malloc must go on, whatever the signal
 *	                           interrupted; the main thread also forks
 *	                           with fork() and with _Fork()
 *
 *	malloc_fork_test exit_in_handler
 *	                           signals whose handler forks, arriving
 *	                           while the main thread forks; the
 *	                           handler's child exit()s from the
 *	                           handler, and its atexit handler allocates
 *
 * Every child must exit with the status it was given, and the program must
 * finish: a hang is the failure (alarm() ends it, and CTest's timeout).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define WATCHDOG_S      150

/* ---- stdio ---- */

#define FORK_THREADS    4
#define READ_THREADS    8
#define FORKS_EACH      10

static char line_file[] = "/tmp/malloc_fork_test.XXXXXX";
static bool stop;

static void *
fork_loop(void *arg)
{
	(void) arg;
	for (int i = 0; i < FORKS_EACH; i++) {
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0)
			_exit(17);
		int status;
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 17);
	}
	return (NULL);
}

static void *
read_loop(void *arg)
{
	(void) arg;
	FILE *f = fopen(line_file, "r");
	CHECK(f != NULL);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		rewind(f);
		char *line = NULL;
		size_t cap = 0;
		CHECK(getline(&line, &cap, f) == 50001);
		free(line);
	}
	fclose(f);
	return (NULL);
}

/* With a pause, or it would keep the list of streams from the forks. */
static void *
flush_loop(void *arg)
{
	(void) arg;
	struct timespec pause = { 0, 20 * 1000 };
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		CHECK(fflush(NULL) == 0);
		nanosleep(&pause, NULL);
	}
	return (NULL);
}

static void
fork_while_streams_allocate(void)
{
	int fd = mkstemp(line_file);
	CHECK(fd >= 0);
	FILE *f = fdopen(fd, "w");
	CHECK(f != NULL);
	for (int i = 0; i < 50000; i++)
		fputc('x', f);
	fputc('\n', f);
	CHECK(fclose(f) == 0);

	pthread_t forkers[FORK_THREADS], readers[READ_THREADS], flusher;
	for (int i = 0; i < READ_THREADS; i++)
		CHECK(pthread_create(&readers[i], NULL, read_loop, NULL) == 0);
	CHECK(pthread_create(&flusher, NULL, flush_loop, NULL) == 0);
	for (int i = 0; i < FORK_THREADS; i++)
		CHECK(pthread_create(&forkers[i], NULL, fork_loop, NULL) == 0);
	for (int i = 0; i < FORK_THREADS; i++)
		CHECK(pthread_join(forkers[i], NULL) == 0);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	for (int i = 0; i < READ_THREADS; i++)
		CHECK(pthread_join(readers[i], NULL) == 0);
	CHECK(pthread_join(flusher, NULL) == 0);
	unlink(line_file);
}

/* ---- signals ---- */

#define OBJECTS         1009
#define MAX_SIZE        70000
#define ROUNDS          20000

static volatile sig_atomic_t *handled;  /* shared with the sender */
static volatile sig_atomic_t handler_failed;

static void
fork_in_handler(int sig)
{
	(void) sig;
	int saved = errno;
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		handler_failed = 1;
	(*handled)++;
	errno = saved;
}

/* Signal the parent up to a millisecond after its last handler finished. */
static pid_t
start_sender(void)
{
	pid_t pid = fork();
	if (pid != 0)
		return (pid);
	pid_t parent = getppid();
	uint64_t rng = 7;
	struct timespec poll = { 0, 50 * 1000 };
	while (getppid() == parent) {
		struct timespec pause = { 0,
		    (long)(check_random(&rng) % 1000000) };
		nanosleep(&pause, NULL);
		sig_atomic_t seen = *handled;
		if (kill(parent, SIGUSR1) != 0)
			break;
		while (*handled == seen && getppid() == parent)
			nanosleep(&poll, NULL);
	}
	_exit(0);
}

static void
fork_in_handlers_while_allocating(void)
{
	handled = mmap(NULL, sizeof (*handled), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(handled != MAP_FAILED);
	struct sigaction sa = { .sa_handler = fork_in_handler };
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	pid_t sender = start_sender();

	static void *objects[OBJECTS];
	uint64_t rng = 1;
	for (int i = 0; i < ROUNDS; i++) {
		unsigned slot = (unsigned)(check_random(&rng) % OBJECTS);
		free(objects[slot]);
		objects[slot] = malloc(check_random(&rng) % MAX_SIZE);
		CHECK(objects[slot] != NULL);
		if (check_random(&rng) % 512 == 0) {
			pid_t pid = fork();
			if (pid == 0) {
				free(malloc(100));
				_exit(0);
			}
			int status;
			while (waitpid(pid, &status, 0) < 0)
				CHECK(errno == EINTR);
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		}
		CHECK(!handler_failed);
	}
	kill(sender, SIGKILL);
	waitpid(sender, NULL, 0);
	for (int i = 0; i < OBJECTS; i++)
		free(objects[i]);
	printf("forks from the signal handler: %d\n", (int)*handled);
	CHECK(*handled > 0);
}

/* ---- signals from threads, _Fork() ---- */

#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
#define HAVE_UNDERSCORE_FORK    1       /* _Fork(), glibc 2.34 */
#endif

#define SENDERS         2
#define THREADED_ROUNDS 10000

#ifdef HAVE_UNDERSCORE_FORK
static pthread_t main_thread;
static volatile sig_atomic_t underscore_forks;

static void
underscore_fork_in_handler(int sig)
{
	(void) sig;
	int saved = errno;
	pid_t pid = _Fork();
	if (pid == 0)
		_exit(0);
	int status = 0;
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		continue;
	if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		handler_failed = 1;
	underscore_forks++;
	errno = saved;
}

/*
 * In the child of fork(): allocate and free, in the sizes the other threads
 * use, more than a magazine holds, so the depot and slab locks are needed
 * (the threads may have held them at the fork).
 */
static void
child_allocates(uint64_t rng)
{
	enum { HELD = 500 };
	static void *held[HELD];
	for (int i = 0; i < HELD; i++) {
		held[i] = malloc(check_random(&rng) % 4000);
		CHECK(held[i] != NULL);
	}
	for (int i = 0; i < HELD; i++)
		free(held[i]);
}

/* Allocate and free, and signal the main thread once the last is handled. */
static void *
signal_sender(void *arg)
{
	uint64_t rng = (uintptr_t)arg;
	void *keep[16] = { 0 };
	sig_atomic_t seen = -1;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned slot = (unsigned)(check_random(&rng) % 16);
		free(keep[slot]);
		keep[slot] = malloc(check_random(&rng) % 4000);
		CHECK(keep[slot] != NULL);
		if (underscore_forks != seen && check_random(&rng) % 64 == 0) {
			seen = underscore_forks;
			CHECK(pthread_kill(main_thread, SIGUSR1) == 0);
		}
	}
	for (int i = 0; i < 16; i++)
		free(keep[i]);
	return (NULL);
}

static void
fork_in_handlers_of_threaded_process(void)
{
	main_thread = pthread_self();
	struct sigaction sa = { .sa_handler = underscore_fork_in_handler };
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	pthread_t senders[SENDERS];
	for (uintptr_t i = 0; i < SENDERS; i++)
		CHECK(pthread_create(&senders[i], NULL, signal_sender,
		    (void *)(i + 1)) == 0);

	static void *objects[OBJECTS];
	uint64_t rng = 1;
	for (int i = 0; i < THREADED_ROUNDS; i++) {
		unsigned slot = (unsigned)(check_random(&rng) % OBJECTS);
		free(objects[slot]);
		objects[slot] = malloc(check_random(&rng) % MAX_SIZE);
		CHECK(objects[slot] != NULL);
		if (i % 64 == 0) {
			bool handlers = i % 128 == 0;
			pid_t pid = handlers ? fork() : _Fork();
			if (pid == 0) {
				if (handlers)
					child_allocates(rng);
				_exit(0);
			}
			CHECK(pid > 0);
			int status;
			while (waitpid(pid, &status, 0) < 0)
				CHECK(errno == EINTR);
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		}
		CHECK(!handler_failed);
	}
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	for (int i = 0; i < SENDERS; i++)
		CHECK(pthread_join(senders[i], NULL) == 0);
	for (int i = 0; i < OBJECTS; i++)
		free(objects[i]);
	printf("forks from the signal handler: %d\n", (int)underscore_forks);
	CHECK(underscore_forks > 0);
	CHECK(!handler_failed);
}
#else
static void
fork_in_handlers_of_threaded_process(void)
{
	printf("no _Fork() in this C library: skipped\n");
}
#endif

/* ---- a child that exit()s from the handler ---- */

/*
 * glibc's tst-mallocfork, where the child of the handler's fork() calls
 * exit(), with an atexit handler that allocates, and with the signal
 * arriving while fork() runs: with 64 MiB resident, fork() takes long
 * enough that a signal every 2 ms mostly arrives while the library's fork
 * handlers hold its locks.  Were the handler to run there, its fork()
 * would stand aside, and its child, which never returns to finish the
 * interrupted fork(), would find those locks held: its atexit handler's
 * malloc() would wait forever.  The library keeps the signal out of that
 * window (posix.c, fork_prepare()).  A child still running after 2 s
 * counts as stuck.
 */
#define RESIDENT        (64u << 20)
#define EXIT_ROUNDS     100

static volatile sig_atomic_t child_stuck;
static volatile sig_atomic_t *exit_handled;     /* shared with the sender */

/* Volatile, or a compiler may drop a strdup() whose copy is only freed. */
static void
exit_allocates(void)
{
	char *volatile copy = strdup("at exit");
	free(copy);
}

static void
fork_and_exit_in_handler(int sig)
{
	(void) sig;
	if (child_stuck)
		return;
	int saved = errno;
	pid_t pid = fork();
	if (pid == 0)
		exit(0);
	int status;
	for (int ms = 0; pid > 0 && waitpid(pid, &status, WNOHANG) != pid;
	    ms++) {
		if (ms == 2000) {
			child_stuck = 1;
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		usleep(1000);
	}
	(*exit_handled)++;
	errno = saved;
}

static void
exit_from_handler_while_forking(void)
{
	CHECK(atexit(exit_allocates) == 0);
	exit_handled = mmap(NULL, sizeof (*exit_handled), PROT_READ |
	    PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(exit_handled != MAP_FAILED);
	char *resident = mmap(NULL, RESIDENT, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(resident != MAP_FAILED);
	memset(resident, 1, RESIDENT);
	struct sigaction sa = { .sa_handler = fork_and_exit_in_handler };
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);

	fflush(NULL);
	pid_t parent = getpid();
	pid_t sender = fork();
	CHECK(sender >= 0);
	if (sender == 0) {      /* one signal at a time, 2 ms apart */
		struct timespec pause = { 0, 2 * 1000 * 1000 };
		while (getppid() == parent) {
			nanosleep(&pause, NULL);
			sig_atomic_t seen = *exit_handled;
			if (kill(parent, SIGUSR1) != 0)
				break;
			while (*exit_handled == seen && getppid() == parent)
				nanosleep(&pause, NULL);
		}
		_exit(0);
	}
	int round;
	for (round = 0; round < EXIT_ROUNDS && !child_stuck; round++) {
		void *volatile buffer = malloc(100);
		free(buffer);
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		CHECK(pid > 0);
		int status;
		while (waitpid(pid, &status, 0) < 0)
			CHECK(errno == EINTR);
	}
	kill(sender, SIGKILL);
	waitpid(sender, NULL, 0);
	printf("%d rounds, %d forks from the handler\n", round,
	    (int)*exit_handled);
	bool child_exited_from_handler = !child_stuck;
	CHECK(child_exited_from_handler);
}

int
main(int argc, char **argv)
{
	alarm(WATCHDOG_S);
	if (argc == 2 && strcmp(argv[1], "stdio") == 0)
		fork_while_streams_allocate();
	else if (argc == 2 && strcmp(argv[1], "signals") == 0)
		fork_in_handlers_while_allocating();
	else if (argc == 2 && strcmp(argv[1], "threads") == 0)
		fork_in_handlers_of_threaded_process();
	else if (argc == 2 && strcmp(argv[1], "exit_in_handler") == 0)
		exit_from_handler_while_forking();
	else
		CHECK(!"usage: malloc_fork_test stdio|signals|threads|"
		    "exit_in_handler");
	printf("malloc_fork_test %s: ok\n", argv[1]);
	return (0);
}
