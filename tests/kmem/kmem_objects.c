/* What the kmem tests share (kmem_objects.h). */
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "kmem_objects.h"

kmem_cache_stats_t
stats_of(kmem_cache_t *cp)
{
	kmem_cache_stats_t st;
	CHECK_EQ(kmem_cache_stats(cp, &st), 0);
	return (st);
}

static atomic_int reports;
static char first_report[1024];
static atomic_flag first_taken = ATOMIC_FLAG_INIT;

void
any_thread_report_handler(void *arg, kmem_report_kind_t kind, const char *msg)
{
	(void) arg;
	(void) kind;
	if (!atomic_flag_test_and_set(&first_taken))
		snprintf(first_report, sizeof (first_report), "%s", msg);
	atomic_fetch_add(&reports, 1);
}

void
check_no_reports(void)
{
	if (atomic_load(&reports) != 0) {
		fprintf(stderr, "%d report(s), the first: \"%s\"\n",
		    atomic_load(&reports), first_report);
		CHECK(!"no report");
	}
}

unsigned
cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return (n < 1 ? 1 : (unsigned)n);
}

static int
o_construct(void *buf, void *private, int kmflag)
{
	ocache_t *oc = private;
	(void) kmflag;
	ohead_t *h = buf;
	atomic_store_explicit(&h->state, FREE_MARK, memory_order_relaxed);
	h->magic = oc->magic;
	atomic_fetch_add(&oc->constructed, 1);
	return (0);
}

static void
o_destruct(void *buf, void *private)
{
	ocache_t *oc = private;
	ohead_t *h = buf;
	if (atomic_load_explicit(&h->state, memory_order_relaxed) !=
	    FREE_MARK || h->magic != oc->magic)
		atomic_fetch_add(&oc->bad, 1);
	atomic_fetch_add(&oc->destructed, 1);
}

void
ocache_create(ocache_t *oc)
{
	static _Atomic uint64_t magics = 0x3a61c000;
	oc->magic = atomic_fetch_add(&magics, 1);
	atomic_store(&oc->constructed, 0);
	atomic_store(&oc->destructed, 0);
	atomic_store(&oc->bad, 0);
	atomic_store(&oc->allocs, 0);
	oc->arena = NULL;
	if (oc->private_arena) {
		oc->arena = vmem_create(oc->name, NULL, 0, 4096, vmem_alloc,
		    vmem_free, kmem_default_arena(), 0, VM_SLEEP);
		CHECK(oc->arena != NULL);
	}
	oc->cp = kmem_cache_create(oc->name, oc->size, oc->align,
	    oc->ctor ? o_construct : NULL, oc->ctor ? o_destruct : NULL, NULL,
	    oc, oc->arena, oc->cflags);
	CHECK(oc->cp != NULL);
}
