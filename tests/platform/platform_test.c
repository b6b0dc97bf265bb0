/*
 * The POSIX platform layer keeps the promises platform.h makes to the core:
 * zero bytes are an unlocked mutex and an idle condition variable; pages
 * are aligned and zero-filled; a timed wait times out; a thread that asks
 * for a lock it holds -- entering the library again from a signal handler,
 * or from the child of a fork() in one -- is stopped with a clear message
 * instead of waiting for itself; and, in builds with KMEM_ASSERTS, taking
 * locks against the rank order or releasing a lock the thread does not
 * hold stops the program with a clear message.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "platform/platform.h"

static void
test_zero_is_initialised(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	static const unsigned char zeros[sizeof (pthread_cond_t)];
	CHECK(memcmp(&m, zeros, sizeof (m)) == 0);
	CHECK(memcmp(&c, zeros, sizeof (c)) == 0);

	static kmem_mutex_t lock = KMEM_MUTEX_INITIALIZER(5);
	static kmem_cv_t cv = KMEM_CV_INITIALIZER;
	kmem_mutex_enter(&lock);
	CHECK(kmem_mutex_held(&lock));
	CHECK(!kmem_cv_timedwait(&cv, &lock, 1000));
	CHECK(kmem_mutex_held(&lock));
	kmem_mutex_exit(&lock);
	CHECK(kmem_mutex_tryenter(&lock));
	kmem_mutex_exit(&lock);
}

static void
test_pages(void)
{
	size_t pagesize = kmem_pagesize();
	CHECK(pagesize >= 4096 && (pagesize & (pagesize - 1)) == 0);
	unsigned char *p = kmem_pages_alloc(3 * pagesize);
	CHECK(p != NULL);
	CHECK_EQ((uintptr_t)p % pagesize, 0);
	for (size_t i = 0; i < 3 * pagesize; i++)
		CHECK(p[i] == 0);
	memset(p, 0xa5, 3 * pagesize);
	kmem_pages_free(p, 3 * pagesize);
}

static void
test_clock_and_cpus(void)
{
	uint64_t a = kmem_clock_ns();
	uint64_t b = kmem_clock_ns();
	CHECK(b >= a);
	CHECK(kmem_cpu_count() >= 1);
}

/* Random words: two in a row equal, or one 0, once in 2^64. */
static void
test_random(void)
{
	uint64_t a = kmem_random_u64(), b = kmem_random_u64();
	CHECK(a != b);
	CHECK(a != 0 && b != 0);
}

/* ---- what the debugging layer asks of the platform ---- */

static void *
thread_id_of(void *arg)
{
	*(uint64_t *)arg = kmem_thread_id();
	return (NULL);
}

static __attribute__((noinline)) unsigned
stack_here(uintptr_t *pcs, unsigned max)
{
	return (kmem_backtrace(pcs, max, 0));
}

static unsigned char *protected_page;

static void
write_protected_page(void)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigaction(SIGSEGV, &sa, NULL);
	protected_page[0] = 1;
}

/* In a child, whose one thread's id is its process id. */
static void
child_checks_its_thread_id(void)
{
	_exit(kmem_thread_id() == (uint64_t)getpid() ? 0 : 1);
}

static void
test_debugging_support(void)
{
	CHECK(setenv("KMEM_PLATFORM_TEST", "here", 1) == 0);
	CHECK(strcmp(kmem_environment("KMEM_PLATFORM_TEST"), "here") == 0);
	CHECK(unsetenv("KMEM_PLATFORM_TEST") == 0);
	CHECK(kmem_environment("KMEM_PLATFORM_TEST") == NULL);

	uintptr_t pcs[8];
	unsigned depth = stack_here(pcs, 8);
	CHECK(depth >= 2);              /* test_debugging_support, main, ... */
	CHECK_EQ(stack_here(pcs, 1), 1);
	CHECK_EQ(stack_here(pcs, 0), 0);
	char name[256];
	CHECK(kmem_symbolize(pcs[0], name, sizeof (name)));
	CHECK(strstr(name, "platform_test") != NULL);
	CHECK(!kmem_symbolize(0, name, sizeof (name)));

	uint64_t mine = kmem_thread_id(), other = 0;
	CHECK_EQ(kmem_thread_id(), mine);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, thread_id_of, &other) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(other != 0 && other != mine);
	/* The id is kept per thread; a fork child's one thread gets its own. */
	check_child_t child = check_run_child(child_checks_its_thread_id);
	CHECK(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0);

	size_t page = kmem_pagesize();
	protected_page = kmem_pages_alloc(page);
	CHECK(kmem_pages_protect(protected_page, page, false));
	check_child_t c = check_run_child(write_protected_page);
	CHECK(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGSEGV);
	CHECK(kmem_pages_protect(protected_page, page, true));
	protected_page[0] = 1;
	kmem_pages_free(protected_page, page);
}

static kmem_mutex_t low = KMEM_MUTEX_INITIALIZER(10);

#define TAKEN_TWICE "a library lock (rank 10) wanted by the thread that " \
	"holds it"

static void
take_twice(void)
{
	kmem_mutex_enter(&low);
	kmem_mutex_enter(&low);
}

static void
take_low(int sig)
{
	(void) sig;
	kmem_mutex_enter(&low);
}

/* A handler enters the library while the code it interrupted holds low. */
static void
take_again_in_handler(void)
{
	signal(SIGUSR1, take_low);
	kmem_mutex_enter(&low);
	raise(SIGUSR1);
}

/*
 * A handler forks while the code it interrupted holds low: the fork
 * stands aside, and the child, which never returns from the handler, asks
 * for low.  This child (of check_run_child) exits with 42 when its own
 * child was stopped with the report, as the parent checks.
 */
static void
fork_and_take_low(int sig)
{
	(void) sig;
	pid_t pid = fork();
	if (pid == 0) {
		kmem_mutex_enter(&low);
		_exit(0);
	}
	int status = 0;
	for (int ms = 0; waitpid(pid, &status, WNOHANG) != pid; ms++) {
		if (ms == 5000) {       /* waiting for itself: the failure */
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			_exit(1);
		}
		usleep(1000);
	}
	_exit(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT ? 42 : 2);
}

static void
fork_in_handler_then_take(void)
{
	signal(SIGUSR1, fork_and_take_low);
	kmem_mutex_enter(&low);
	raise(SIGUSR1);
}

static void
test_taking_a_held_lock(void)
{
	check_child_aborts(take_twice, TAKEN_TWICE);
	check_child_aborts(take_again_in_handler, TAKEN_TWICE);
	check_child_t c = check_run_child(fork_in_handler_then_take);
	CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 42);
	CHECK(strstr(c.err, TAKEN_TWICE) != NULL);
}

#ifdef KMEM_ASSERTS
static kmem_mutex_t high = KMEM_MUTEX_INITIALIZER(20);

static void
take_in_wrong_order(void)
{
	kmem_mutex_enter(&high);
	kmem_mutex_enter(&low);
}

static void
release_unheld(void)
{
	kmem_mutex_exit(&high);
}

static void
test_lock_order_checks(void)
{
	kmem_mutex_enter(&low);
	kmem_mutex_enter(&high);
	kmem_mutex_exit(&high);
	kmem_mutex_exit(&low);
	check_child_aborts(take_in_wrong_order, "lock order violation: taking "
	    "a lock of rank 10 while holding one of rank 20");
	check_child_aborts(release_unheld, "not hold");
}
#endif

int
main(void)
{
	test_zero_is_initialised();
	test_pages();
	test_clock_and_cpus();
	test_random();
	test_debugging_support();
	test_taking_a_held_lock();
#ifdef KMEM_ASSERTS
	test_lock_order_checks();
#endif
	printf("platform_test: all passed\n");
	return (0);
}
