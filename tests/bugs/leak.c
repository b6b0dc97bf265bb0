/* A buffer never freed: the leak report at exit names it. */
#include "bug.h"

BUG_FUNCTION
leak_a_buffer(void)
{
	void *buf = bug_alloc(200);
	bug_show(buf);
}

int
main(int argc, char **argv)
{
	bug_mode(argc, argv);
	leak_a_buffer();
	return (0);
}
