/*
 * libunwind is loaded on the first stack walk (src/platform/posix.c), not
 * with the library: a process under the preloaded malloc that walks no
 * stack has no libunwind (or its liblzma) in /proc/self/maps; one that
 * walks stacks (KMEM_DEBUG=audit) has it, when the build found it.
 *
 *	unwind_maps_test absent|present
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Is an object whose path contains name mapped in this process? */
static bool
mapped(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	CHECK(f != NULL);
	char line[4096];
	bool found = false;
	while (fgets(line, sizeof (line), f) != NULL)
		found |= strstr(line, name) != NULL;
	fclose(f);
	return (found);
}

int
main(int argc, char **argv)
{
	CHECK(argc == 2);
	bool present = strcmp(argv[1], "present") == 0;
	CHECK(present || strcmp(argv[1], "absent") == 0);
	/* Allocations of several classes, large ones, frees: no walk. */
	void *p[64];
	for (int i = 0; i < 64; i++)
		CHECK((p[i] = malloc((size_t)16 << (i % 14))) != NULL);
	for (int i = 0; i < 64; i++)
		free(p[i]);
	CHECK(mapped("libkmem_malloc"));        /* the preload is ours */
	CHECK(mapped("libunwind") == present);
	printf("unwind_maps_test %s: ok\n", argv[1]);
	return (0);
}
