/*
 * The report handler's lock and signals: a signal handler that enters the
 * library while the interrupted thread holds the lock around the report
 * handler (kmem_report_handler_set(), and every report, take it) must not
 * wait for that thread, which is itself.  The bug class is the one
 * platform_test checks for kmem_mutex_t, on the one library lock that is
 * not one: a spin flag, which could not tell its holder from a waiter.
 *
 * A child process swaps the handler back and forth as fast as it can,
 * so that it holds the lock a good part of the time, while an interval
 * timer's SIGALRM handler swaps it too; the parent waits with a bound and
 * a child still running then has hung.  Before the lock held signals off,
 * the child hung within milliseconds.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

#include <kmem/common.h>

#include "check.h"

#define WAIT_BOUND_S 30

static void
quiet(void *arg, kmem_report_kind_t kind, const char *message)
{
	(void) arg;
	(void) kind;
	(void) message;
}

static volatile sig_atomic_t swaps_in_handler;

static void
on_alarm(int sig)
{
	(void) sig;
	(void) kmem_report_handler_set(quiet, NULL, NULL);
	swaps_in_handler = swaps_in_handler + 1;
}

static void
swap_forever(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
	struct itimerval every = { { 0, 50 }, { 0, 50 } };
	CHECK(setitimer(ITIMER_REAL, &every, NULL) == 0);
	while (swaps_in_handler < 2000)
		(void) kmem_report_handler_set(quiet, (void *)1, NULL);
}

int
main(void)
{
	check_exits_within(swap_forever, WAIT_BOUND_S, "a signal handler "
	    "waited for the report lock its own thread held");
	printf("report_signal_test: ok\n");
	return (0);
}
