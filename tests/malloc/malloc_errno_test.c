/*
 * free() keeps errno (POSIX.1-2024; glibc's malloc/tst-free-errno checks
 * it), run under the preloaded library: for NULL, for large blocks, and
 * for a large block whose unmapping fails because the process has as many
 * mappings as it may (vm.max_map_count), when giving back the middle of a
 * mapping would need one more.  The allocator must not abort there either.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"

#define LARGE   (48u << 20)     /* beyond what the allocator keeps for reuse */

/* Opaque to the compiler, which could otherwise assume free() keeps it. */
int errno_now(void);
__attribute__((noinline, weak)) int
errno_now(void)
{
	return (errno);
}

static void
free_keeps_errno(void *p)
{
	errno = 1789;
	free(p);
	CHECK_EQ(errno_now(), 1789);
}

/* Map one page of a file until the kernel refuses: how many were made. */
static int
use_up_mappings(void)
{
	char path[] = "/tmp/malloc_errno_test.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	CHECK(ftruncate(fd, getpagesize()) == 0);
	int n = 0;
	while (n < 1 << 20 && mmap(NULL, (size_t)getpagesize(), PROT_READ,
	    MAP_PRIVATE, fd, 0) != MAP_FAILED)
		n++;
	close(fd);
	return (n);
}

int
main(void)
{
	free_keeps_errno(NULL);
	free_keeps_errno(malloc(5318153));

	/* Three large blocks, likely in one mapping; free the middle one. */
	char *blocks[3];
	for (int i = 0; i < 3; i++) {
		blocks[i] = malloc(LARGE);
		CHECK(blocks[i] != NULL);
		blocks[i][0] = (char)i;
	}
	printf("mappings made until the limit: %d\n", use_up_mappings());
	free_keeps_errno(blocks[1]);
	free_keeps_errno(blocks[0]);
	free_keeps_errno(blocks[2]);
	printf("malloc_errno_test: ok\n");
	return (0);
}
