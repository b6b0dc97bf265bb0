/* A buffer freed twice. */
#include "bug.h"

BUG_FUNCTION
free_twice(char *buf)
{
	bug_free(buf, 64);
	bug_free(buf, 64);
}

int
main(int argc, char **argv)
{
	bug_mode(argc, argv);
	char *buf = bug_alloc(64);
	bug_show(buf);
	free_twice(buf);
	puts("survived");
	return (0);
}
