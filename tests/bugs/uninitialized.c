/* A read of memory never written: under the debug options it holds
 * 0xbaddcafe, which the program prints. */
#include "bug.h"

BUG_FUNCTION
read_uninitialized(const unsigned *buf)
{
	printf("read 0x%x\n", buf[3]);
}

int
main(int argc, char **argv)
{
	bug_mode(argc, argv);
	unsigned *buf = bug_alloc(64);
	bug_show(buf);
	read_uninitialized(buf);
	bug_free(buf, 64);
	return (0);
}
