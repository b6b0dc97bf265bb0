/*
 * glibc's heap-inspection calls answered from kmem's figures: mallinfo2()
 * and mallinfo(), malloc_stats(), malloc_info() and malloc_trim()
 * (libkmem_malloc.so gives them the C library's names, malloc_shim.c).
 * Left to glibc, they would report on glibc's heap, which holds nothing
 * once libkmem is preloaded, and malloc_trim() would give back nothing of
 * ours.
 *
 * The figures are summed over kmem_alloc()'s class caches, read one at a
 * time with kmem_cache_stats() (each cache's own locks), and kmem_oversize,
 * the large buffers' arena: they are a consistent sum only in a program
 * that is not allocating meanwhile, as glibc's are.  Nothing here
 * allocates, except the stdio calls of malloc_info() on the caller's
 * stream; no library lock is held while they run.
 *
 * malloc_trim() gives back everything beyond what is allocated
 * (kmem_give_back_all()), the way the update pass gives back an idle
 * process's memory, only at once and all of it.
 */
#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/vmem.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "base/format.h"
#include "kmem/kmem_query.h"

static void
add_class(void *arg, kmem_cache_t *cp)
{
	kmem_malloc_totals_t *t = arg;
	kmem_cache_stats_t st;
	if (kmem_cache_stats(cp, &st) != 0)
		return;
	uint64_t free_count = st.buf_total - st.buf_inuse - st.buf_constructed;
	t->class_held += st.mem_total - st.mem_purged;
	t->class_inuse += st.buf_inuse * st.buf_size;
	t->class_cached += st.buf_constructed * st.buf_size;
	t->class_cached_count += st.buf_constructed;
	t->class_free += free_count * st.buf_size;
	t->class_free_count += free_count;
}

void
kmem_malloc_totals(kmem_malloc_totals_t *t)
{
	*t = (kmem_malloc_totals_t){ 0 };
	kmem_alloc_class_walk(add_class, t);
	vmem_stats_t vs;
	if (kmem_large_stats(&vs)) {
		t->large_inuse = vs.mem_inuse;
		t->large_count = vs.segs_alloc;
		t->large_kept = vs.mem_dirty;
	}
}

/* The bytes held that are not allocated, and all that is resident. */
static size_t
held_free(const kmem_malloc_totals_t *t)
{
	return (t->class_held - t->class_inuse + t->large_kept);
}

static size_t
held(const kmem_malloc_totals_t *t)
{
	return (t->class_held + t->large_inuse + t->large_kept);
}

int
kmem_malloc_trim(size_t pad)
{
	kmem_malloc_totals_t before, after;
	kmem_malloc_totals(&before);
	if (held_free(&before) <= pad)
		return (0);
	kmem_give_back_all();
	kmem_malloc_totals(&after);
	return (held(&after) < held(&before));
}

/* ---- malloc_stats() ---- */

static void
stats_line(const char *label, size_t value)
{
	char line[80];
	size_t len = kmem_snprintf(line, sizeof (line), "%-16s = %10zu\n",
	    label, value);
	if (len >= sizeof (line))
		len = sizeof (line) - 1;
	(void) !write(STDERR_FILENO, line, len);
}

/*
 * glibc's lines: "Arena 0" is the classes, "Total (incl. mmap)" adds the
 * large buffers; its two mmap maxima, which kmem does not keep, give way
 * to the large buffers' count and bytes now.  As glibc's, it is no
 * cancellation point: a cancel pending at the call takes effect at the
 * thread's next one, after the whole summary is out.
 */
void
kmem_malloc_stats(void)
{
	kmem_malloc_totals_t t;
	int cancel;
	kmem_malloc_totals(&t);
	(void) pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	static const char arena[] = "Arena 0:\n";
	static const char total[] = "Total (incl. mmap):\n";
	(void) !write(STDERR_FILENO, arena, sizeof (arena) - 1);
	stats_line("system bytes", t.class_held);
	stats_line("in use bytes", t.class_inuse);
	(void) !write(STDERR_FILENO, total, sizeof (total) - 1);
	stats_line("system bytes", held(&t));
	stats_line("in use bytes", t.class_inuse + t.large_inuse);
	stats_line("large buffers", t.large_count);
	stats_line("large bytes", t.large_inuse);
	(void) pthread_setcancelstate(cancel, NULL);
}

/* ---- malloc_info() ---- */

static void
info_class(void *arg, kmem_cache_t *cp)
{
	FILE *fp = arg;
	kmem_cache_stats_t st;
	if (kmem_cache_stats(cp, &st) != 0)
		return;
	uint64_t free_count = st.buf_total - st.buf_inuse;
	if (free_count != 0)
		fprintf(fp, "<size from=\"%zu\" to=\"%zu\" total=\"%llu\" "
		    "count=\"%llu\"/>\n", st.buf_size, st.buf_size,
		    (unsigned long long)(free_count * st.buf_size),
		    (unsigned long long)free_count);
}

/*
 * glibc's document, one heap: each class with free buffers as a <size>
 * (free buffers in magazines and on slabs), the magazines as the "fast"
 * total, the slabs' free buffers as "rest", the large buffers as "mmap".
 * glibc's maxima and mprotect figures, which kmem does not keep, are left
 * out rather than guessed.
 */
int
kmem_malloc_info(int options, FILE *fp)
{
	if (options != 0) {
		errno = EINVAL;
		return (-1);
	}
	kmem_malloc_totals_t t;
	kmem_malloc_totals(&t);
	fputs("<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n", fp);
	kmem_alloc_class_walk(info_class, fp);
	fprintf(fp, "</sizes>\n"
	    "<total type=\"fast\" count=\"%llu\" size=\"%zu\"/>\n"
	    "<total type=\"rest\" count=\"%llu\" size=\"%zu\"/>\n"
	    "<system type=\"current\" size=\"%zu\"/>\n"
	    "</heap>\n"
	    "<total type=\"fast\" count=\"%llu\" size=\"%zu\"/>\n"
	    "<total type=\"rest\" count=\"%llu\" size=\"%zu\"/>\n"
	    "<total type=\"mmap\" count=\"%llu\" size=\"%zu\"/>\n"
	    "<system type=\"current\" size=\"%zu\"/>\n"
	    "</malloc>\n",
	    (unsigned long long)t.class_cached_count, t.class_cached,
	    (unsigned long long)t.class_free_count, t.class_free,
	    t.class_held,
	    (unsigned long long)t.class_cached_count, t.class_cached,
	    (unsigned long long)t.class_free_count, t.class_free,
	    (unsigned long long)t.large_count, t.large_inuse, held(&t));
	return (ferror(fp) ? -1 : 0);
}
