/*
 * Linked into the threaded tests that fork or scan for leaks.  fork() holds
 * every cache's, arena's and pool's locks at once (src/kmem/kmem_fork.c), and so
 * does the leak scan (src/kmem/kmem_leaks.c), more than ThreadSanitizer's
 * deadlock detector can track (64): it would stop the test with an
 * internal CHECK.  Races are still detected; the library checks its lock
 * order itself (KMEM_ASSERTS).  Without ThreadSanitizer nothing reads this.
 */
const char *__tsan_default_options(void);

const char *
__tsan_default_options(void)
{
	return ("detect_deadlocks=0");
}
