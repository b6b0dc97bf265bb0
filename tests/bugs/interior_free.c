/* A free of a pointer into the middle of a buffer. */
#include "bug.h"

BUG_FUNCTION
free_interior(char *buf)
{
	bug_free(buf + 16, 64);
}

int
main(int argc, char **argv)
{
	bug_mode(argc, argv);
	char *buf = bug_alloc(64);
	bug_show(buf);
	free_interior(buf);
	puts("survived");
	return (0);
}
