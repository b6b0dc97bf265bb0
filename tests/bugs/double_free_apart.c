/* A buffer freed twice, with another buffer freed between. */
#include "bug.h"

BUG_FUNCTION
free_twice_apart(char *buf, char *other)
{
	bug_free(buf, 64);
	bug_free(other, 64);
	bug_free(buf, 64);
}

int
main(int argc, char **argv)
{
	bug_mode(argc, argv);
	char *buf = bug_alloc(64);
	char *other = bug_alloc(64);
	bug_show(buf);
	free_twice_apart(buf, other);
	puts("survived");
	return (0);
}
