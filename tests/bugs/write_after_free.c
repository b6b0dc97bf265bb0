/* A write into a freed buffer, found when the buffer is handed out again. */
#include "bug.h"

BUG_FUNCTION
write_after_free(long *buf)
{
	bug_free(buf, 64);
	buf[1] = 42;
}

int
main(int argc, char **argv)
{
	bug_mode(argc, argv);
	long *buf = bug_alloc(64);
	bug_show(buf);
	write_after_free(buf);
	void *again = bug_alloc(64);    /* the same buffer: the report */
	bug_free(again, 64);
	puts("survived");
	return (0);
}
