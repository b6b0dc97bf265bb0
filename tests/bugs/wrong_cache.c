/* A buffer of one cache freed to another (kmem only: malloc has no
 * caches). */
#include "bug.h"

BUG_FUNCTION
free_to_wrong_cache(kmem_cache_t *other, void *buf)
{
	kmem_cache_free(other, buf);
}

int
main(int argc, char **argv)
{
	bug_mode(argc, argv);
	kmem_cache_t *mine = kmem_cache_create("bug_mine", 100, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	kmem_cache_t *other = kmem_cache_create("bug_other", 100, 0, NULL,
	    NULL, NULL, NULL, NULL, 0);
	void *buf = kmem_cache_alloc(mine, KM_SLEEP);
	bug_show(buf);
	free_to_wrong_cache(other, buf);
	puts("survived");
	return (0);
}
