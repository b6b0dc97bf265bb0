/*
 * Faults on inaccessible pages, for the sampled guard pages (kmem_guard.c):
 * kmem_fault_hook_set() installs one handler for SIGSEGV and SIGBUS that
 * asks the hook about the address touched before anyone else does.
 *
 * The handler chains: a fault the hook does not claim goes to the handler
 * that was installed before ours, as that handler asked to be called
 * (with or without siginfo); if there was none (or SIG_IGN, which the
 * kernel does not honour for a fault), the default action is put back
 * and the handler returns, so the instruction faults again and the
 * process dies of the signal as it would have without us.  A program
 * that installs its own handler later takes the faults from us: then
 * guard pages kill the process without a report (docs/debugging.md).
 *
 * SA_ONSTACK: a thread with an alternate signal stack runs the handler
 * there.  errno is kept across the hook, which makes system calls.  The
 * report the hook prints is symbolized without the heap (symbolize.c), so
 * it names its frames' lines from here too.
 */
#include "platform/platform.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

static bool (*fault_hook)(uintptr_t addr);
static struct sigaction previous[2];    /* SIGSEGV's, SIGBUS's */

static void
fault_handler(int sig, siginfo_t *info, void *context)
{
	int saved_errno = errno;
	bool handled = fault_hook((uintptr_t)info->si_addr);
	errno = saved_errno;
	if (handled)
		return;
	const struct sigaction *prev = &previous[sig == SIGBUS];
	if (prev->sa_flags & SA_SIGINFO) {
		prev->sa_sigaction(sig, info, context);
	} else if (prev->sa_handler == SIG_DFL || prev->sa_handler == SIG_IGN) {
		struct sigaction dfl;
		memset(&dfl, 0, sizeof (dfl));
		dfl.sa_handler = SIG_DFL;
		(void) sigaction(sig, &dfl, NULL);
	} else {
		prev->sa_handler(sig);
	}
}

bool
kmem_fault_hook_set(bool (*hook)(uintptr_t addr))
{
	static const int signals[2] = { SIGSEGV, SIGBUS };
	if (fault_hook != NULL)
		return (true);
	fault_hook = hook;
	struct sigaction sa;
	memset(&sa, 0, sizeof (sa));
	sa.sa_sigaction = fault_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	(void) sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 2; i++)
		if (sigaction(signals[i], &sa, &previous[i]) != 0)
			return (false);
	return (true);
}
