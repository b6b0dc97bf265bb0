/* One byte written past the end of a 10-byte buffer (class 16). */
#include "bug.h"

BUG_FUNCTION
overrun_by_one(char *buf, size_t size)
{
	memset(buf, 'x', size + 1);
	bug_free(buf, size);
}

int
main(int argc, char **argv)
{
	bug_mode(argc, argv);
	char *buf = bug_alloc(10);
	bug_show(buf);
	overrun_by_one(buf, 10);
	puts("survived");
	return (0);
}
