/* A free of a pointer the allocator never returned. */
#include "bug.h"

static long not_from_the_heap[16];

BUG_FUNCTION
free_wild(void *buf)
{
	bug_free(buf, 64);
}

int
main(int argc, char **argv)
{
	bug_mode(argc, argv);
	bug_show(not_from_the_heap);
	free_wild(not_from_the_heap);
	puts("survived");
	return (0);
}
