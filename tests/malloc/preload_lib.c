/*
 * The library malloc_preload_test dlopen()s: it allocates in its
 * constructor and frees in its destructor, and trades buffers with the
 * program, so both sides' malloc and free must be the same one.
 */
#include <stdlib.h>
#include <string.h>

char *preload_lib_strdup(const char *s);
void preload_lib_free(char *s);

static char *constructed;

__attribute__((constructor)) static void
preload_lib_init(void)
{
	constructed = malloc(1000);
	memset(constructed, 7, 1000);
}

__attribute__((destructor)) static void
preload_lib_fini(void)
{
	free(constructed);
}

char *
preload_lib_strdup(const char *s)
{
	return (strdup(s));
}

void
preload_lib_free(char *s)
{
	free(s);
}
