/*
 * Drives the core built with -ffreestanding against the stub platform: an
 * arena, a nested arena, every policy, a bad free caught by a handler, the
 * table, and a clean teardown; then kmem on the same core: a cache with a
 * constructor, kmem_alloc, an arena with quantum caches, reaping.
 */
#include <stdio.h>
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/vmem.h>

#include "check.h"

extern size_t stub_pages_in_use;

static size_t table_lines;

static void
count_line(void *arg, const char *line)
{
	(void) arg;
	(void) line;
	table_lines++;
}

static int constructed;

static int
construct(void *buf, void *private, int kmflag)
{
	(void) private;
	(void) kmflag;
	memset(buf, 0x11, 24);
	constructed++;
	return (0);
}

static void
run_kmem(void)
{
	kmem_cache_t *cp = kmem_cache_create("freestanding", 24, 0, construct,
	    NULL, NULL, NULL, NULL, 0);
	CHECK(cp != NULL);
	void *bufs[100];
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 100; i++) {
			bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
			CHECK(((unsigned char *)bufs[i])[23] == 0x11);
		}
		for (int i = 0; i < 100; i++)
			kmem_cache_free(cp, bufs[i]);
	}
	CHECK_EQ(constructed, 100);
	kmem_cache_reap_now(cp);
	kmem_cache_destroy(cp);

	char *p = kmem_zalloc(3000, KM_SLEEP);
	CHECK(p != NULL && p[2999] == 0);
	kmem_free(p, 3000);

	vmem_t *ids = vmem_create("ids", (void *)1, 100000, 1, NULL, NULL,
	    NULL, 8, VMC_IDENTIFIER);
	void *id = vmem_alloc(ids, 3, VM_SLEEP);
	CHECK(id != NULL);
	vmem_free(ids, id, 3);
	vmem_destroy(ids);
}

int
main(void)
{
	check_catch_reports();
	vmem_t *heap = vmem_create("heap", (void *)0x100000, 0x100000, 0x1000,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *nested = vmem_create("nested", NULL, 0, 0x1000, vmem_alloc,
	    vmem_free, heap, 0, VM_SLEEP);
	CHECK(heap != NULL && nested != NULL);

	const int policies[] = { VM_INSTANTFIT, VM_BESTFIT, VM_FIRSTFIT,
	    VM_NEXTFIT };
	void *p[4];
	for (int i = 0; i < 4; i++) {
		p[i] = vmem_alloc(nested, 0x3000, policies[i] | VM_NOSLEEP);
		CHECK(p[i] != NULL);
	}
	void *x = vmem_xalloc(heap, 0x2000, 0x10000, 0x1000, 0, NULL, NULL,
	    VM_NOSLEEP);
	CHECK(x != NULL && (unsigned long)x % 0x10000 == 0x1000);
	CHECK_REPORT(vmem_free(heap, (char *)x + 0x1000, 0x1000), "inside");
	CHECK_EQ(vmem_verify(heap), 0);
	CHECK_EQ(vmem_verify(nested), 0);
	vmem_table(NULL, count_line, NULL);
	CHECK_EQ(table_lines, 3);

	vmem_xfree(heap, x, 0x2000);
	for (int i = 0; i < 4; i++)
		vmem_free(nested, p[i], 0x3000);
	vmem_destroy(nested);
	CHECK_EQ(vmem_size(heap, VMEM_ALLOC), 0);
	vmem_destroy(heap);
	run_kmem();
	printf("freestanding core: all passed (%zu stub pages still hold "
	    "segment structures)\n", stub_pages_in_use);
	return (0);
}
