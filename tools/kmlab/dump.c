/*
 * kmlab --dump: a trace as text, for people and scripts.
 *
 * A binary trace is written in the laboratory's text format
 * (workload.c), which kmlab --trace reads back: every event with its time
 * (t=, ns since the start) and thread (th=), the function when it is not
 * malloc (op=calloc and n=, op=memalign and the others with al=), a
 * realloc as "r <old> <new> <size>".  Object ids are the reader's
 * (tracefile.c): each allocation a new one, so an id is never reused.
 * What the format has no event for is a comment: failed allocations,
 * frees of objects allocated before recording began (their address),
 * and the header (program, pid, page size, clock, start).  A text trace is
 * written back as the laboratory reads it.
 *
 * A damaged binary trace is dumped up to the damage, and the damage
 * reported on standard error with its offset: exit status 1.
 */
#include "kmlab.h"
#include "tracefile.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
event_line(FILE *out, const trace_event_t *e)
{
	char where[64];
	snprintf(where, sizeof (where), " t=%llu th=%u",
	    (unsigned long long)e->t, e->thread);
	switch (e->op) {
	case KMEM_TRACE_FREE:
		if (e->old_id != 0)
			fprintf(out, "f %llu%s\n", (unsigned long long)e->old_id,
			    where);
		else
			fprintf(out, "# free 0x%llx: allocated before recording"
			    "%s\n", (unsigned long long)e->old_addr, where);
		return;
	case KMEM_TRACE_REALLOC: {
		bool frees_old = e->id != 0 || e->size == 0;
		if (e->id == 0 && e->size != 0) {
			fprintf(out, "# failed: realloc(0x%llx, %llu)%s\n",
			    (unsigned long long)e->old_addr,
			    (unsigned long long)e->size, where);
			return;
		}
		char old[24] = "-", new[24] = "-";
		if (e->old_id != 0 && frees_old)
			snprintf(old, sizeof (old), "%llu",
			    (unsigned long long)e->old_id);
		if (e->id != 0)
			snprintf(new, sizeof (new), "%llu",
			    (unsigned long long)e->id);
		if (e->old_id == 0 && e->old_addr != 0)
			fprintf(out, "# realloc of 0x%llx, allocated before "
			    "recording:\n", (unsigned long long)e->old_addr);
		fprintf(out, "r %s %s %llu%s\n", old, new,
		    (unsigned long long)e->size, where);
		return;
	}
	default:
		break;
	}
	char fields[96] = "";
	if (e->op == KMEM_TRACE_CALLOC)
		snprintf(fields, sizeof (fields), " op=calloc n=%llu",
		    (unsigned long long)e->nmemb);
	else if (e->op == KMEM_TRACE_MEMALIGN)
		snprintf(fields, sizeof (fields), " op=%s al=%llu",
		    trace_fn_name(e->fn), (unsigned long long)e->align);
	if (e->id == 0)
		fprintf(out, "# failed: %s %llu%s%s\n", trace_op_name(e->op),
		    (unsigned long long)e->size, fields, where);
	else
		fprintf(out, "a %llu %llu%s%s\n", (unsigned long long)e->id,
		    (unsigned long long)e->size, fields, where);
}

static void
header_lines(FILE *out, const trace_file_t *t, const char *fname)
{
	time_t wall = (time_t)(t->wall_ns / 1000000000u);
	struct tm tm;
	char when[64] = "?";
	if (gmtime_r(&wall, &tm) != NULL)
		strftime(when, sizeof (when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(out, "# kmem trace %s, version %u: program %s, pid %u, page "
	    "size %u, clock %s (resolution %u ns), started %s\n# %zu events "
	    "in %zu blocks from %u threads; %llu objects\n", fname, t->version,
	    t->program, t->pid, t->page_size,
	    t->clock == KMEM_TRACE_CLOCK_MONOTONIC ? "monotonic" :
	    "monotonic_coarse", t->clock_res_ns, when, t->nevents, t->blocks,
	    t->threads, (unsigned long long)t->ids);
	if (t->unknown_frees != 0 || t->reused_live != 0)
		fprintf(out, "# %llu frees of objects allocated before "
		    "recording; %llu addresses allocated again while live\n",
		    (unsigned long long)t->unknown_frees,
		    (unsigned long long)t->reused_live);
	fprintf(out, "# a <id> <size> allocates, f <id> frees, r <old> <new> "
	    "<size> reallocs; t= ns since the start, th= thread\n");
}

int
lab_trace_dump(FILE *in, const char *fname, FILE *out)
{
	size_t cap = 1 << 16, len = 0;
	char *data = malloc(cap);
	while (data != NULL) {
		len += fread(data + len, 1, cap - len, in);
		if (len < cap)
			break;
		cap *= 2;
		char *more = realloc(data, cap);
		if (more == NULL)
			free(data);
		data = more;
	}
	if (data == NULL || ferror(in)) {
		fprintf(stderr, "kmlab: %s: cannot read it\n", fname);
		free(data);
		return (2);
	}
	if (!trace_file_is_binary(data, len)) {
		lab_workload_t w;
		char err[512];
		FILE *mem = fmemopen(data, len == 0 ? 1 : len, "r");
		bool ok = mem != NULL && lab_workload_read(&w, mem, fname, err,
		    sizeof (err));
		if (mem != NULL)
			fclose(mem);
		free(data);
		if (!ok) {
			fprintf(stderr, "kmlab: %s\n", mem != NULL ? err :
			    "out of memory");
			return (2);
		}
		lab_workload_write(&w, out);
		lab_workload_free(&w);
		return (0);
	}
	trace_file_t t;
	int status = trace_file_read(&t, data, len);
	free(data);
	if (status < 0) {
		fprintf(stderr, "kmlab: %s: %s\n", fname, t.damage);
		return (2);
	}
	header_lines(out, &t, fname);
	for (size_t i = 0; i < t.nevents; i++)
		event_line(out, &t.events[i]);
	if (status > 0) {
		fprintf(out, "# damaged: %s\n", t.damage);
		fprintf(stderr, "kmlab: %s: %s (the %zu events before it are "
		    "dumped)\n", fname, t.damage, t.nevents);
	}
	trace_file_free(&t);
	return (status > 0 ? 1 : 0);
}
