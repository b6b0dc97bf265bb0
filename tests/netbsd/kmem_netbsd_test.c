/*
 * NetBSD's kmem(9) additions: the interrupt variants, kmem_asprintf(),
 * kmem_strdupsize() and kmem_strdup(), kmem_strndup(), kmem_strfree() and
 * the size it frees, and temporary buffers.  Sizes are checked through
 * kmem's own size check: kmem_free() of a size in another class than the
 * buffer's is reported, so a buffer of 129 bytes (class 144) freed as 128
 * (class 128) is caught, and one freed as 129 is not.
 */
#include <stdint.h>
#include <string.h>

#include <kmem/kmem_netbsd.h>

#include "netbsd_test.h"

static void
test_intr_variants(void)
{
	unsigned char *p = kmem_intr_alloc(100, KM_SLEEP);
	CHECK(p != NULL);
	memset(p, 0x3c, 100);
	kmem_intr_free(p, 100);
	unsigned char *z = kmem_intr_zalloc(300, KM_NOSLEEP);
	CHECK(z != NULL);
	for (int i = 0; i < 300; i++)
		CHECK_EQ(z[i], 0);
	/* The same allocator as kmem_alloc(): either frees the other's. */
	kmem_free(z, 300);
	p = kmem_alloc(40, KM_SLEEP);
	CHECK_NO_REPORT(kmem_intr_free(p, 40));
}

static void
test_asprintf(void)
{
	char *s = kmem_asprintf("%s-%d-%x-%5.2f|%-4s|", "abc", 42, 255, 3.14159,
	    "z");
	CHECK(s != NULL);
	CHECK(strcmp(s, "abc-42-ff- 3.14|z   |") == 0);
	kmem_strfree(s);

	s = kmem_asprintf("%s", "");
	CHECK(s != NULL && s[0] == '\0');
	CHECK_NO_REPORT(kmem_free(s, 1));

	/* 128 characters: 129 bytes, class 144; freed as 129, not 128. */
	s = kmem_asprintf("%0128d", 7);
	CHECK_EQ(strlen(s), 128);
	CHECK_EQ(s[127], '7');
	CHECK_NO_REPORT(kmem_free(s, 129));
}

static void
test_strdupsize(void)
{
	size_t len = 0;
	char *s = kmem_strdupsize("hello, world", &len, KM_SLEEP);
	CHECK(s != NULL && strcmp(s, "hello, world") == 0);
	CHECK_EQ(len, 13);
	kmem_strfree(s);

	s = kmem_strdupsize("", &len, KM_NOSLEEP);
	CHECK(s != NULL && s[0] == '\0');
	CHECK_EQ(len, 1);
	kmem_strfree(s);

	s = kmem_strdup("no length asked", KM_SLEEP);
	CHECK(s != NULL && strcmp(s, "no length asked") == 0);
	kmem_strfree(s);
}

static void
test_strndup(void)
{
	char *s = kmem_strndup("abcdef", 3, KM_SLEEP);
	CHECK(strcmp(s, "abc") == 0);
	CHECK_NO_REPORT(kmem_free(s, 4));
	s = kmem_strndup("ab", 10, KM_SLEEP);
	CHECK(strcmp(s, "ab") == 0);
	kmem_strfree(s);
	s = kmem_strndup("abc", 3, KM_SLEEP);
	CHECK(strcmp(s, "abc") == 0);
	kmem_strfree(s);
	/* Not NUL-terminated within maxlen: only maxlen bytes are read. */
	char unterminated[4] = { 'w', 'x', 'y', 'z' };
	s = kmem_strndup(unterminated, 4, KM_SLEEP);
	CHECK(strcmp(s, "wxyz") == 0);
	kmem_strfree(s);
}

static void
test_strfree_size(void)
{
	char text[129];
	memset(text, 'q', 128);
	text[128] = '\0';
	char *s = kmem_strdup(text, KM_SLEEP);
	CHECK_NO_REPORT(kmem_strfree(s));

	/* strfree frees strlen + 1: a string cut short in place is caught. */
	s = kmem_strdup(text, KM_SLEEP);
	s[127] = '\0';
	CHECK_REPORT(kmem_strfree(s), "wrong size");
	CHECK_NO_REPORT(kmem_free(s, 129));

	CHECK_NO_REPORT(kmem_strfree(NULL));
}

static void
test_tmpbuf(void)
{
	char stackbuf[32];
	void *b = kmem_tmpbuf_alloc(10, stackbuf, sizeof (stackbuf), KM_SLEEP);
	CHECK(b == stackbuf);
	b = kmem_tmpbuf_alloc(32, stackbuf, sizeof (stackbuf), KM_SLEEP);
	CHECK(b == stackbuf);
	CHECK_NO_REPORT(kmem_tmpbuf_free(b, 32, stackbuf));

	b = kmem_tmpbuf_alloc(33, stackbuf, sizeof (stackbuf), KM_SLEEP);
	CHECK(b != stackbuf && b != NULL);
	memset(b, 0x99, 33);
	CHECK_NO_REPORT(kmem_tmpbuf_free(b, 33, stackbuf));

	b = kmem_tmpbuf_alloc(5000, NULL, 0, KM_NOSLEEP);
	CHECK(b != NULL);
	memset(b, 0x98, 5000);
	kmem_tmpbuf_free(b, 5000, NULL);
}

static void
test_bad_input(void)
{
	char *s = (char *)1;
	CHECK_REPORT(s = kmem_strndup("x", 0, KM_SLEEP), "maxlen is 0");
	CHECK(s == NULL);
	CHECK_REPORT(s = kmem_strndup(NULL, 5, KM_SLEEP), "the string is NULL");
	CHECK_REPORT(s = kmem_strdupsize(NULL, NULL, KM_SLEEP),
	    "kmem_strdupsize(NULL)");
	CHECK(s == NULL);
}

static const check_test_t tests[] = {
	CHECK_TEST(test_intr_variants),
	CHECK_TEST(test_asprintf),
	CHECK_TEST(test_strdupsize),
	CHECK_TEST(test_strndup),
	CHECK_TEST(test_strfree_size),
	CHECK_TEST(test_tmpbuf),
	CHECK_TEST(test_bad_input),
};

int
main(int argc, char **argv)
{
	return (test_main(tests, sizeof (tests) / sizeof (tests[0]), argc,
	    argv));
}
