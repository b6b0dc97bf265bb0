/* kmem_free() told another size than the allocation asked for (kmem only:
 * free() takes no size). */
#include "bug.h"

BUG_FUNCTION
free_with_wrong_size(void *buf)
{
	kmem_free(buf, 40);
}

int
main(int argc, char **argv)
{
	bug_mode(argc, argv);
	void *buf = bug_alloc(48);
	bug_show(buf);
	free_with_wrong_size(buf);
	puts("survived");
	return (0);
}
