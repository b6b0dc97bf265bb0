/*
 * What the NetBSD-interface tests share: a page allocator for pools that
 * counts its calls, remembers its pages and fails on demand, and a
 * collector for the table printers' lines.
 */
#ifndef KMEM_TESTS_NETBSD_TEST_H
#define KMEM_TESTS_NETBSD_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/pool.h>

#include "check.h"

/* A pool's statistics, which must be readable. */
static inline pool_stats_t
pool_stats_of(struct pool *pp)
{
	pool_stats_t st;
	CHECK_EQ(pool_stats(pp, &st), 0);
	return (st);
}

#define TEST_PAGES_MAX 1024

static __attribute__((unused)) struct {
	unsigned pagesz;
	unsigned allocs;                /* pa_alloc calls that gave a page */
	unsigned frees;                 /* pa_free calls */
	unsigned refused;               /* pa_alloc calls told to fail */
	bool fail;                      /* make pa_alloc fail */
	int last_flags;                 /* pa_alloc's flags, last call */
	struct pool *last_pool;
	void *pages[TEST_PAGES_MAX];    /* pages out */
	unsigned npages;
} test_pa;

static inline void *
test_pa_alloc(struct pool *pp, int flags)
{
	test_pa.last_flags = flags;
	test_pa.last_pool = pp;
	if (test_pa.fail || test_pa.npages == TEST_PAGES_MAX) {
		test_pa.refused++;
		return (NULL);
	}
	void *page = aligned_alloc(test_pa.pagesz, test_pa.pagesz);
	CHECK(page != NULL);
	test_pa.pages[test_pa.npages++] = page;
	test_pa.allocs++;
	return (page);
}

static inline void
test_pa_free(struct pool *pp, void *page)
{
	test_pa.last_pool = pp;
	for (unsigned i = 0; i < test_pa.npages; i++) {
		if (test_pa.pages[i] == page) {
			test_pa.pages[i] = test_pa.pages[--test_pa.npages];
			test_pa.frees++;
			free(page);
			return;
		}
	}
	CHECK(!"pa_free got a page pa_alloc never gave");
}

/* Is [p, p + size) inside one of the pages pa_alloc gave? */
static inline bool
test_pa_holds(const void *p, size_t size)
{
	uintptr_t a = (uintptr_t)p;
	for (unsigned i = 0; i < test_pa.npages; i++) {
		uintptr_t page = (uintptr_t)test_pa.pages[i];
		if (a >= page && a + size <= page + test_pa.pagesz)
			return (true);
	}
	return (false);
}

static __attribute__((unused)) struct pool_allocator test_allocator = {
	test_pa_alloc, test_pa_free, 0
};

static inline void
test_pa_reset(unsigned pagesz)
{
	CHECK_EQ(test_pa.npages, 0);
	memset(&test_pa, 0, sizeof (test_pa));
	test_pa.pagesz = pagesz;
	test_allocator.pa_pagesz = pagesz;
}

/* ---- table lines ---- */

#define TEST_LINES_MAX 512

typedef struct test_lines {
	int n;
	char line[TEST_LINES_MAX][512];
} test_lines_t;

static inline void
test_lines_emit(void *arg, const char *line)
{
	test_lines_t *tl = arg;
	CHECK(tl->n < TEST_LINES_MAX);
	snprintf(tl->line[tl->n++], sizeof (tl->line[0]), "%s", line);
}

/* The first line that starts with prefix, or NULL. */
static inline const char *
test_lines_find(const test_lines_t *tl, const char *prefix)
{
	for (int i = 0; i < tl->n; i++)
		if (strncmp(tl->line[i], prefix, strlen(prefix)) == 0)
			return (tl->line[i]);
	return (NULL);
}

/* Split a line into whitespace-separated words; returns their number. */
static inline int
test_words(const char *line, char words[][64], int max)
{
	int n = 0;
	const char *p = line;
	while (*p != '\0' && n < max) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		int len = 0;
		while (p[len] != '\0' && p[len] != ' ' && len < 63)
			len++;
		memcpy(words[n], p, (size_t)len);
		words[n][len] = '\0';
		n++;
		p += len;
		while (*p != '\0' && *p != ' ')
			p++;
	}
	return (n);
}

/* ---- the runner ---- */

/*
 * check_run_tests(), with kmem's lazy update put off for an hour first, so
 * that no working-set reap moves cached objects while a test counts
 * constructors.
 */
static inline int
test_main(const check_test_t *tests, size_t n, int argc, char **argv)
{
	kmem_update_interval_set(3600ull * 1000 * 1000 * 1000);
	return (check_run_tests(tests, n, argc, argv));
}

#endif /* KMEM_TESTS_NETBSD_TEST_H */
