/*
 * The vmem demo: the two jobs the Solaris resource allocator is known for.
 *
 * 1. Process IDs from an identifier arena.  Next fit hands out IDs in
 *    increasing order and does not reuse a freed one until it wraps around,
 *    so a stale PID does not name a new process at once.
 * 2. A device's DMA window: an address-space arena, and a nested arena that
 *    imports from it and serves buffers with alignment, a boundary they
 *    must not cross, and an address range (as a 32-bit DMA engine needs).
 *
 * Then it prints the table of all arenas, nested ones under their source.
 * Nothing here touches memory: vmem manages integers.
 */
#include <stdint.h>
#include <stdio.h>

#include <kmem/vmem.h>

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

static void
print_line(void *arg, const char *line)
{
	fprintf(arg, "%s\n", line);
}

static void
demo_pids(vmem_t *pids)
{
	void *pid[8];

	printf("== process IDs: identifier arena [1, 30000), next fit ==\n");
	printf("allocated:");
	for (int i = 0; i < 8; i++) {
		pid[i] = vmem_alloc(pids, 1, VM_NEXTFIT | VM_SLEEP);
		printf(" %lu", (unsigned long)(uintptr_t)pid[i]);
	}
	vmem_free(pids, pid[2], 1);
	vmem_free(pids, pid[4], 1);
	printf("\nfreed %lu and %lu; next:", (unsigned long)(uintptr_t)pid[2],
	    (unsigned long)(uintptr_t)pid[4]);
	pid[2] = vmem_alloc(pids, 1, VM_NEXTFIT | VM_SLEEP);
	pid[4] = vmem_alloc(pids, 1, VM_NEXTFIT | VM_SLEEP);
	printf(" %lu %lu (freed IDs wait until the rotor wraps)\n\n",
	    (unsigned long)(uintptr_t)pid[2], (unsigned long)(uintptr_t)pid[4]);
	for (int i = 0; i < 8; i++)
		vmem_free(pids, pid[i], 1);
}

static void
demo_dma(vmem_t *window, vmem_t *buffers)
{
	printf("== DMA: window [0x80000000, +256 MiB), buffers nested in it ==\n");

	void *ring = vmem_xalloc(buffers, 64 * KiB, 64 * KiB, 0, 1 * MiB, NULL,
	    NULL, VM_SLEEP);
	printf("descriptor ring, 64 KiB aligned to 64 KiB, not crossing 1 MiB:"
	    " %p\n", ring);

	void *low = vmem_xalloc(window, 16 * KiB, 0, 0, 0, (void *)0x88000000,
	    (void *)0x88100000, VM_SLEEP);
	printf("16 KiB in [0x88000000, 0x88100000) for an old engine:      %p\n",
	    low);

	void *hdr = vmem_xalloc(buffers, 4 * KiB, 16 * KiB, 12 * KiB, 0, NULL,
	    NULL, VM_SLEEP);
	printf("header, 4 KiB at 12 KiB past a 16 KiB boundary:             %p\n",
	    hdr);

	void *frames[4];
	for (int i = 0; i < 4; i++)
		frames[i] = vmem_alloc(buffers, 9 * KiB, VM_BESTFIT | VM_SLEEP);
	printf("four 9 KiB frames (rounded to 12 KiB), best fit:            "
	    "%p %p %p %p\n\n", frames[0], frames[1], frames[2], frames[3]);

	vmem_table(NULL, print_line, stdout);

	for (int i = 0; i < 4; i++)
		vmem_free(buffers, frames[i], 9 * KiB);
	vmem_xfree(buffers, hdr, 4 * KiB);
	vmem_xfree(window, low, 16 * KiB);
	vmem_xfree(buffers, ring, 64 * KiB);
	printf("\nafter freeing everything, the nested arena gave its spans "
	    "back: %zu bytes imported, window in use: %zu\n",
	    vmem_size(buffers, VMEM_ALLOC | VMEM_FREE),
	    vmem_size(window, VMEM_ALLOC));
}

int
main(void)
{
	vmem_t *pids = vmem_create("pids", (void *)1, 29999, 1, NULL, NULL,
	    NULL, 0, VMC_IDENTIFIER | VM_SLEEP);
	vmem_t *window = vmem_create("dma_window", (void *)0x80000000,
	    256 * MiB, 4 * KiB, NULL, NULL, NULL, 0, VM_SLEEP);
	/* Import in chunks of at least 256 KiB (the slab the quantum caches
	 * of up to 16 pages would use) rather than one request at a time. */
	vmem_t *buffers = vmem_create("dma_buffers", NULL, 0, 4 * KiB,
	    vmem_alloc, vmem_free, window, 64 * KiB, VMC_NO_QCACHE | VM_SLEEP);
	if (pids == NULL || window == NULL || buffers == NULL) {
		fprintf(stderr, "vmem_demo: cannot create the arenas\n");
		return (1);
	}

	demo_pids(pids);
	demo_dma(window, buffers);

	vmem_destroy(buffers);
	vmem_destroy(window);
	vmem_destroy(pids);
	return (0);
}
