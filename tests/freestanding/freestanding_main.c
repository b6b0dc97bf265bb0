/*
 * Drives the core built with -ffreestanding against the stub platform: an
 * arena, a nested arena, every policy, a bad free caught by a handler, the
 * table, and a clean teardown that gives every stub page back.
 */
#include <stdio.h>
#include <string.h>

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
	printf("freestanding core: all passed (%zu stub pages still hold "
	    "segment structures)\n", stub_pages_in_use);
	return (0);
}
