/*
 * Every kind of bad input vmem detects: each case must produce exactly one
 * report that names the arena, the address and what is wrong, and must
 * leave the arena exactly as it was (vmem_verify, sizes, and the next
 * operations still work).  The last case checks the default handler: the
 * message on standard error, then abort().
 */
#include <stdint.h>
#include <string.h>

#include <kmem/vmem.h>

#include "check.h"

#define A(x) ((void *)(uintptr_t)(x))
#define U(p) ((uintptr_t)(p))

/* The arena must still hold exactly inuse bytes and pass verification. */
static void
check_intact(vmem_t *vmp, size_t inuse)
{
	CHECK_NO_REPORT(CHECK_EQ(vmem_verify(vmp), 0));
	CHECK_EQ(vmem_size(vmp, VMEM_ALLOC), inuse);
}

static void
test_bad_frees(void)
{
	vmem_t *vmp = vmem_create("frees", A(0x1000), 0x1000, 0x10, NULL, NULL,
	    NULL, 0, VM_SLEEP);
	void *a = vmem_alloc(vmp, 0x40, VM_SLEEP);
	void *b = vmem_alloc(vmp, 0x20, VM_SLEEP);
	CHECK(a != NULL && b != NULL);

	CHECK_REPORT(vmem_free(vmp, A(0x1800), 0x10),
	    "vmem_free(\"frees\", 0x1800, 16): the address is free");
	CHECK_REPORT(vmem_free(vmp, A(0x5000), 0x10),
	    "not in any span of the arena");
	CHECK_REPORT(vmem_free(vmp, NULL, 0x10), "not in any span");
	CHECK_REPORT(vmem_free(vmp, a, 0x20),
	    "wrong size: the segment at this address was allocated with "
	    "size 64");
	CHECK_REPORT(vmem_xfree(vmp, a, 0), "vmem_xfree(\"frees\"");
	CHECK_REPORT(vmem_free(vmp, (char *)a + 0x10, 0x10),
	    "inside the allocated segment");
	check_intact(vmp, 0x60);

	/* A size that rounds to the same quantum is the same size. */
	CHECK_NO_REPORT(vmem_free(vmp, a, 0x3f));
	CHECK_REPORT(vmem_free(vmp, a, 0x40), "double free");
	check_intact(vmp, 0x20);
	vmem_free(vmp, b, 0x20);
	vmem_destroy(vmp);
}

static void
test_bad_adds(void)
{
	vmem_t *vmp = vmem_create("adds", A(0x1000), 0x1000, 0x10, NULL, NULL,
	    NULL, 0, VM_SLEEP);
	CHECK_REPORT(CHECK(vmem_add(vmp, A(0x1800), 0x1000, VM_SLEEP) == NULL),
	    "vmem_add(\"adds\", 0x1800, 4096): the range overlaps a span");
	CHECK_REPORT(vmem_add(vmp, A(0x800), 0x900, VM_SLEEP),
	    "overlaps");
	CHECK_REPORT(vmem_add(vmp, NULL, 0x100, VM_SLEEP), "address 0");
	CHECK_REPORT(vmem_add(vmp, A(0x4000), 0, VM_SLEEP), "size is 0");
	CHECK_REPORT(vmem_add(vmp, A(0x4008), 0x10, VM_SLEEP),
	    "not a multiple of the quantum");
	CHECK_REPORT(vmem_add(vmp, A(UINTPTR_MAX - 0xf), 0x20, VM_SLEEP),
	    "wraps");
	CHECK_REPORT(vmem_add(vmp, A(0x4000), 0x10, VM_BESTFIT), "vmflag");
	CHECK_EQ(vmem_size(vmp, VMEM_FREE), 0x1000);
	check_intact(vmp, 0);
	/* Adjacent, not overlapping: fine. */
	CHECK_NO_REPORT(CHECK(vmem_add(vmp, A(0x2000), 0x10, VM_SLEEP) ==
	    A(0x2000)));
	vmem_destroy(vmp);
}

static void
test_bad_requests(void)
{
	vmem_t *vmp = vmem_create("requests", A(0x10000), 0x10000, 0x100, NULL,
	    NULL, NULL, 0, VM_SLEEP);
	void *keep = vmem_alloc(vmp, 0x100, VM_SLEEP);

	CHECK_REPORT(CHECK(vmem_alloc(vmp, 0, VM_SLEEP) == NULL), "size is 0");
	CHECK_REPORT(vmem_xalloc(vmp, 0, 0, 0, 0, NULL, NULL, VM_SLEEP),
	    "size is 0");
	CHECK_REPORT(vmem_xalloc(vmp, 0x100, 0x300, 0, 0, NULL, NULL, VM_SLEEP),
	    "align is not a power of two");
	CHECK_REPORT(vmem_xalloc(vmp, 0x100, 0x80, 0, 0, NULL, NULL, VM_SLEEP),
	    "not a multiple of the quantum");
	CHECK_REPORT(vmem_xalloc(vmp, 0x100, 0x1000, 0x1000, 0, NULL, NULL,
	    VM_SLEEP), "phase is not smaller than align");
	CHECK_REPORT(vmem_xalloc(vmp, 0x100, 0x1000, 0x80, 0, NULL, NULL,
	    VM_SLEEP), "not a multiple of the quantum");
	CHECK_REPORT(vmem_xalloc(vmp, 0x800, 0, 0, 0x400, NULL, NULL, VM_SLEEP),
	    "nocross");
	CHECK_REPORT(vmem_xalloc(vmp, 0x300, 0x400, 0x200, 0x400, NULL, NULL,
	    VM_SLEEP), "cannot fit between two nocross boundaries");
	CHECK_REPORT(vmem_xalloc(vmp, 0x100, 0, 0, 0x3000, NULL, NULL,
	    VM_SLEEP), "nocross is not a power of two");
	CHECK_REPORT(vmem_xalloc(vmp, 0x100, 0, 0, 0, A(0x12000), A(0x12000),
	    VM_SLEEP), "[minaddr, maxaddr) is empty");
	CHECK_REPORT(vmem_alloc(vmp, 0x100, VM_BESTFIT | VM_NEXTFIT),
	    "more than one allocation policy");
	CHECK_REPORT(vmem_alloc(vmp, 0x100, VM_INSTANTFIT | VM_FIRSTFIT),
	    "more than one allocation policy");
	CHECK_REPORT(vmem_alloc(vmp, 0x100, VMC_IDENTIFIER),
	    "not allocation flags");
	CHECK_REPORT(vmem_alloc(vmp, 0x100000, VM_NOSLEEP | VM_PANIC),
	    "vmem_alloc(\"requests\", 1048576): cannot satisfy mandatory "
	    "allocation");
	check_intact(vmp, 0x100);

	/* Failures without VM_PANIC are silent: NULL and a counter. */
	CHECK_NO_REPORT(CHECK(vmem_alloc(vmp, 0x100000, VM_NOSLEEP) == NULL));
	/* A size so large it cannot be rounded to the quantum never fits. */
	CHECK_NO_REPORT(CHECK(vmem_alloc(vmp, SIZE_MAX, VM_SLEEP) == NULL));
	vmem_stats_t st;
	vmem_stats(vmp, &st);
	CHECK_EQ(st.fail, 3);
	vmem_free(vmp, keep, 0x100);
	vmem_destroy(vmp);
}

static void *
misaligned_import(vmem_t *src, size_t size, int vmflag)
{
	char *p = vmem_alloc(src, size + 0x1000, vmflag);
	return (p == NULL ? NULL : p + 8);
}

/* Quantum-aligned for a 1 KiB child, but not for its 4 KiB source. */
static void *
off_by_1k_import(vmem_t *src, size_t size, int vmflag)
{
	char *p = vmem_alloc(src, size + 0x1000, vmflag);
	return (p == NULL ? NULL : p + 0x400);
}

static int off_by_1k_releases;

static void
off_by_1k_release(vmem_t *src, void *addr, size_t size)
{
	off_by_1k_releases++;
	vmem_free(src, (char *)addr - 0x400, size + 0x1000);
}

static void
test_broken_import_is_given_back(void)
{
	vmem_t *src = vmem_create("src4k", A(0x100000), 0x100000, 0x1000, NULL,
	    NULL, NULL, 0, VM_SLEEP);
	vmem_t *child = vmem_create("child1k", NULL, 0, 0x400, off_by_1k_import,
	    off_by_1k_release, src, 0, VM_SLEEP);
	CHECK_REPORT(CHECK(vmem_xalloc(child, 0x1000, 0x1000, 0, 0, NULL, NULL,
	    VM_NOSLEEP) == NULL), "not aligned to the source's quantum");
	CHECK_EQ(off_by_1k_releases, 1);
	check_intact(child, 0);
	CHECK_EQ(vmem_size(child, VMEM_ALLOC | VMEM_FREE), 0);
	CHECK_EQ(vmem_size(src, VMEM_ALLOC), 0);
	vmem_destroy(child);
	vmem_destroy(src);
}

static void
test_bad_creates(void)
{
	CHECK_REPORT(CHECK(vmem_create(NULL, NULL, 0, 1, NULL, NULL, NULL, 0,
	    VM_SLEEP) == NULL), "name is NULL");
	CHECK_REPORT(vmem_create("q0", NULL, 0, 0, NULL, NULL, NULL, 0,
	    VM_SLEEP), "vmem_create(\"q0\", base 0x0, size 0, quantum 0): "
	    "quantum is not a power of two");
	CHECK_REPORT(vmem_create("q3", NULL, 0, 3, NULL, NULL, NULL, 0,
	    VM_SLEEP), "quantum is not a power of two");
	CHECK_REPORT(vmem_create("base0", NULL, 100, 1, NULL, NULL, NULL, 0,
	    VM_SLEEP), "base is NULL but size is not 0");
	CHECK_REPORT(vmem_create("flags", NULL, 0, 1, NULL, NULL, NULL, 0,
	    VM_BESTFIT), "vmflag");
	CHECK_REPORT(vmem_create("misaligned", A(0x1001), 0x1000, 0x1000, NULL,
	    NULL, NULL, 0, VM_SLEEP), "not a multiple of the quantum");

	vmem_t *ids = vmem_create("idsource", A(1), 1000, 1, NULL, NULL, NULL,
	    0, VMC_IDENTIFIER);
	vmem_t *mem = vmem_create("memsource", A(0x1000), 0x1000, 1, NULL,
	    NULL, NULL, 0, VM_SLEEP);
	CHECK_REPORT(vmem_create("nofunc", NULL, 0, 1, NULL, NULL, ids, 0,
	    VMC_IDENTIFIER), "a source arena needs an import function");
	CHECK_REPORT(vmem_create("mixed", NULL, 0, 1, vmem_alloc, vmem_free,
	    ids, 0, VM_SLEEP), "must both be identifier arenas");
	CHECK_REPORT(vmem_create("mixed", NULL, 0, 1, vmem_alloc, vmem_free,
	    mem, 0, VMC_IDENTIFIER), "must both be identifier arenas");
	CHECK_NO_REPORT(vmem_destroy(ids));

	/* An import function that breaks its contract is reported, and the
	 * request fails even under VM_SLEEP instead of retrying forever. */
	vmem_t *src = vmem_create("bigsource", A(0x100000), 0x100000, 0x1000,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *bad = vmem_create("badimport", NULL, 0, 0x10, misaligned_import,
	    NULL, src, 0, VM_SLEEP);
	CHECK_REPORT(CHECK(vmem_alloc(bad, 0x100, VM_SLEEP) == NULL),
	    "the import function returned");
	CHECK_NO_REPORT(vmem_destroy(bad));
	CHECK_REPORT(vmem_destroy(src), "never freed");
	vmem_destroy(mem);
}

static void
test_destroy_reports(void)
{
	vmem_t *ids = vmem_create("leaky_ids", A(1), 100, 1, NULL, NULL, NULL,
	    0, VMC_IDENTIFIER);
	CHECK(vmem_alloc(ids, 3, VM_SLEEP) != NULL);
	CHECK(vmem_alloc(ids, 1, VM_SLEEP) != NULL);
	CHECK_REPORT(vmem_destroy(ids), "vmem_destroy(\"leaky_ids\"): 2 "
	    "allocations (4 identifiers) never freed");

	vmem_t *parent = vmem_create("busy_parent", A(0x10000), 0x10000, 0x100,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *child = vmem_create("busy_child", NULL, 0, 0x100, vmem_alloc,
	    vmem_free, parent, 0, VM_SLEEP);
	void *a = vmem_alloc(child, 0x100, VM_SLEEP);
	CHECK_REPORT(vmem_destroy(parent), "vmem_destroy(\"busy_parent\"): "
	    "arena \"busy_child\" still imports from it");
	/* Refused: both arenas still work. */
	check_intact(parent, 0x100);
	check_intact(child, 0x100);
	CHECK_REPORT(vmem_destroy(child), "1 allocation (256 bytes) never freed");
	/* The leaked span stays allocated in the parent: no reuse of memory
	 * that someone may still be using. */
	CHECK_EQ(vmem_size(parent, VMEM_ALLOC), 0x100);
	CHECK(vmem_contains(parent, a, 0x100));
	CHECK_REPORT(vmem_destroy(parent), "1 allocation (256 bytes) never freed");
}

static void
test_handler_set_returns_previous(void)
{
	void *prev_arg = NULL;
	kmem_report_handler_t *prev = kmem_report_handler_set(NULL, NULL,
	    &prev_arg);
	CHECK(prev == check_report_handler);
	CHECK(prev_arg == &check_reports);
	CHECK(kmem_report_handler_set(prev, prev_arg, NULL) == NULL);
}

/* Without a handler: the message goes to stderr and the process aborts. */
static void
double_free_without_handler(void)
{
	kmem_report_handler_set(NULL, NULL, NULL);
	vmem_t *vmp = vmem_create("doomed", A(0x1000), 0x1000, 1, NULL, NULL,
	    NULL, 0, VM_SLEEP);
	void *a = vmem_alloc(vmp, 8, VM_SLEEP);
	vmem_free(vmp, a, 8);
	vmem_free(vmp, a, 8);
}

static void
test_default_handler_aborts(void)
{
	check_child_aborts(double_free_without_handler, "libkmem: vmem_free("
	    "\"doomed\", 0x1000, 8): the address is free: a double free");
}

int
main(void)
{
	check_catch_reports();
	test_bad_frees();
	test_bad_adds();
	test_bad_requests();
	test_bad_creates();
	test_broken_import_is_given_back();
	test_destroy_reports();
	test_handler_set_returns_previous();
	test_default_handler_aborts();
	printf("vmem_errors_test: all passed\n");
	return (0);
}
