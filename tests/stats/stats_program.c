/*
 * The program kmstat_test.sh looks at: it allocates what stats_fixture.h
 * lists, publishes its statistics (unless told "quiet"), writes its
 * process ID to READY (written whole: a temporary file renamed), then
 * waits until its standard input ends, and exits 0.  KMEM_OPTIONS, if
 * set, is applied first with kmem_options_set(), as the preloaded library
 * would (so "stats_file=F" has the tables printed to F at exit).
 *
 *	stats_program publish|quiet READY
 */
#include <stdio.h>
#include <stdlib.h>

#include <kmem/malloc.h>

#include "stats_fixture.h"

int
main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "publish") != 0 &&
	    strcmp(argv[1], "quiet") != 0)) {
		fprintf(stderr, "usage: stats_program publish|quiet READY\n");
		return (2);
	}
	const char *options = getenv("KMEM_OPTIONS");
	char err[256];
	if (options != NULL && kmem_options_set(options, err,
	    sizeof (err)) != 0) {
		fprintf(stderr, "stats_program: KMEM_OPTIONS: %s\n", err);
		return (2);
	}
	stats_fixture_make();
	if (strcmp(argv[1], "publish") == 0)
		CHECK_EQ(kmem_stats_publish(1), 0);

	char temporary[4096];
	snprintf(temporary, sizeof (temporary), "%s.tmp", argv[2]);
	FILE *f = fopen(temporary, "w");
	CHECK(f != NULL);
	fprintf(f, "%ld\n", (long)getpid());
	CHECK_EQ(fclose(f), 0);
	CHECK_EQ(rename(temporary, argv[2]), 0);

	char buf[256];
	while (fread(buf, 1, sizeof (buf), stdin) > 0)
		continue;
	return (0);
}
