/*
 * The symbols test's program (run_symbols.sh): built with -g, without
 * -rdynamic, its buggy functions static, so that a report can name them
 * only from the program's own symbol table, and give their lines only
 * from its DWARF.  Usage: symbols_prog kmem|malloc BUG, BUG one of leak,
 * double_free, overrun, write_after_free, verify (a write after free
 * found by kmem_debug_verify(), whose report is made under its lock) or
 * guard_overflow (reads past the end of buffers, one of which a guard
 * page catches in the fault handler under kmrun --guard 1); "kmem" runs it
 * through kmem_alloc() (KMEM_DEBUG), "malloc" through malloc() (kmrun
 * --debug).
 * Before the bug it prints "buffer <address>" (guard_overflow before each
 * read: the last one printed is the buffer that faulted).  The "LINE:" comments mark
 * the lines run_symbols.sh expects in the reports.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kmem/debug.h>
#include <kmem/kmem.h>

#include "symbols_lib.h"

static int use_malloc;

static void *
get(size_t size)
{
	return (use_malloc ? malloc(size) : kmem_alloc(size, KM_SLEEP)); /* LINE:get */
}

static void
put(void *buf, size_t size)
{
	use_malloc ? free(buf) : kmem_free(buf, size); /* LINE:put */
}

static void
show(const void *buf)
{
	printf("buffer %p\n", buf);
	fflush(stdout);
}

/* Two buffers lost: one of 100 bytes here, one of 300 in the library. */
static __attribute__((noinline)) void
lose_it(void)
{
	void *buf = use_malloc ? malloc(100) : kmem_alloc(100, KM_SLEEP); /* LINE:lose_it */
	show(buf);
	buf = symbols_lib_alloc(300, use_malloc); /* LINE:lose_in_library */
	(void) buf;
}

/*
 * Clear the stack below the caller's frame, where lose_it() and the calls
 * it made left copies of the lost pointers, which the leak scan at exit
 * could find there (it is conservative) under some compilers.
 */
static __attribute__((noinline)) void
scrub_stack(void)
{
	volatile char pad[32768];
	for (size_t i = 0; i < sizeof (pad); i++)
		pad[i] = 0;
}

static __attribute__((noinline)) void
free_twice(char *buf)
{
	put(buf, 64);   /* LINE:first_free */
	put(buf, 64);   /* LINE:second_free */
}

static __attribute__((noinline)) void
overrun_by_one(char *buf)
{
	buf[10] = 'x';
	put(buf, 10);   /* LINE:overrun_free */
}

static __attribute__((noinline)) void
write_after_free(char *buf)
{
	put(buf, 64);   /* LINE:waf_free */
	buf[8] = 42;
}

static __attribute__((noinline)) int
read_past_end(const volatile char *buf, size_t size)
{
	return (buf[size]);     /* LINE:guard_read */
}

int
main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "kmem") != 0 &&
	    strcmp(argv[1], "malloc") != 0)) {
		fprintf(stderr, "usage: %s kmem|malloc BUG\n", argv[0]);
		return (2);
	}
	use_malloc = strcmp(argv[1], "malloc") == 0;
	const char *bug = argv[2];
	if (strcmp(bug, "leak") == 0) {
		lose_it();      /* LINE:main_leak */
		scrub_stack();
	} else if (strcmp(bug, "double_free") == 0) {
		char *buf = get(64);
		show(buf);
		free_twice(buf);        /* LINE:main_double_free */
	} else if (strcmp(bug, "overrun") == 0) {
		char *buf = get(10);    /* LINE:overrun_alloc */
		show(buf);
		overrun_by_one(buf);    /* LINE:main_overrun */
	} else if (strcmp(bug, "write_after_free") == 0) {
		char *buf = get(64);
		show(buf);
		write_after_free(buf);
		buf = get(64);  /* LINE:waf_found */
		put(buf, 64);
	} else if (strcmp(bug, "verify") == 0) {
		char *buf = get(64);
		show(buf);
		write_after_free(buf);
		printf("found %u\n", kmem_debug_verify());     /* LINE:main_verify */
	} else if (strcmp(bug, "guard_overflow") == 0) {
		/*
		 * Not every allocation is guarded: a thread's first is not,
		 * guarded ones alternate between the slot's two ends, and
		 * guarding is held to a time budget of wall time, which a
		 * busy machine may have spent at the first (then it comes
		 * back at 0.5% of the time that passes): the first read
		 * past a right-aligned one faults, within 30 s at worst.
		 */
		for (int i = 0; i < 15000; i++) {
			char *buf = get(32);    /* LINE:guard_alloc */
			show(buf);
			(void) read_past_end(buf, 32);  /* LINE:main_guard */
			if (i >= 16)
				(void) nanosleep(&(struct timespec){
				    .tv_nsec = 2000000 }, NULL);
		}
		printf("no fault\n");
	} else {
		fprintf(stderr, "%s: unknown bug %s\n", argv[0], bug);
		return (2);
	}
	return (0);
}
