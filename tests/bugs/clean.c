/* No bug: allocations of many sizes, written in full, freed with the right
 * size; nothing may be reported. */
#include "bug.h"

int
main(int argc, char **argv)
{
	bug_mode(argc, argv);
	void *bufs[300];
	for (size_t i = 0; i < 300; i++) {
		size_t size = 1 + i * 37;
		bufs[i] = bug_alloc(size);
		memset(bufs[i], (int)i, size);
	}
	for (size_t i = 0; i < 300; i++)
		bug_free(bufs[i], 1 + i * 37);
	puts("clean");
	return (0);
}
