/*
 * kmlab's runs: one allocator through one workload.
 *
 * The measured pass replays every event and, after each one, asks the
 * allocator how many bytes of its region it holds (held(): everything but
 * its free pool), so the peaks are exact:
 *   requested R(t)  the sizes of the live objects;
 *   held H(t)       the region less the allocator's free bytes;
 *   utilization     max R / max H: the memory asked for at the worst moment
 *                   over the memory the allocator needed to serve it (the
 *                   chapter's utilization factor, where 1 is perfect);
 *   early failures  allocations that failed while R + size <= budget: a
 *                   perfect allocator would have served them.
 * It samples R/H for the picture, and the statistics (for the metadata's
 * peak) at the same points.  After the last event it takes the end state:
 * statistics, external fragmentation = 1 - largest free / free (0: the free
 * memory is one block; near 1: it is dust), and the region's picture: the
 * share of each cell's bytes in each state, the live objects' requested
 * bytes painted over the allocator's ALLOCATED ones.
 *
 * The timed passes replay the events again with nothing else in the loop
 * but the lab's own bookkeeping of the slots (the same for every
 * allocator), on a fresh instance each; the result is the median.
 *
 * While a run lasts, reports from the library are counted, not printed:
 * warnings (a resource map losing a range) are part of the design; errors
 * would mean the lab freed something wrongly.
 */
#include "kmlab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct object {
	void *addr;
	size_t size;
	int type;
} object_t;

static uint64_t report_count[2];
static char first_error[256];

static void
count_report(void *arg, kmem_report_kind_t kind, const char *message)
{
	(void) arg;
	if (kind == KMEM_REPORT_ERROR && report_count[kind] == 0)
		snprintf(first_error, sizeof (first_error), "%s", message);
	report_count[kind]++;
}

static double
now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void
free_survivors(const struct kmem_lab_ops *ops, void *inst, object_t *obj,
    size_t nslots)
{
	for (size_t s = 0; s < nslots; s++) {
		if (obj[s].addr != NULL)
			ops->free(inst, obj[s].addr, obj[s].size, obj[s].type);
		obj[s].addr = NULL;
	}
}

/* Paint the live objects' bytes over the region's states and sum cells. */
static void
take_picture(const struct kmem_lab_ops *ops, void *inst, const object_t *obj,
    size_t nslots, lab_result_t *r)
{
	size_t ngrains = r->budget / KMEM_LAB_GRAIN;
	unsigned char *grain = malloc(ngrains);
	if (grain == NULL) {
		fprintf(stderr, "kmlab: out of memory\n");
		exit(1);
	}
	(void) kmem_lab_map(ops, inst, grain, ngrains);
	static const unsigned char cell_of[KMEM_LAB_STATES + 1] = {
		[KMEM_LAB_FREE] = LAB_CELL_FREE,
		[KMEM_LAB_ALLOCATED] = LAB_CELL_WASTE,
		[KMEM_LAB_CACHED] = LAB_CELL_CACHED,
		[KMEM_LAB_OVERHEAD] = LAB_CELL_OVERHEAD,
		[KMEM_LAB_STATES] = LAB_CELL_OVERHEAD,
	};
	for (size_t g = 0; g < ngrains; g++)
		grain[g] = cell_of[grain[g]];
	uintptr_t base = (uintptr_t)r->end.region;
	for (size_t s = 0; s < nslots; s++) {
		if (obj[s].addr == NULL)
			continue;
		size_t first = ((uintptr_t)obj[s].addr - base) / KMEM_LAB_GRAIN;
		size_t end = ((uintptr_t)obj[s].addr - base + obj[s].size +
		    KMEM_LAB_GRAIN - 1) / KMEM_LAB_GRAIN;
		for (size_t g = first; g < end && g < ngrains; g++)
			grain[g] = LAB_CELL_REQUESTED;
	}
	r->ncells = ngrains < LAB_CELLS ? ngrains : LAB_CELLS;
	size_t per = ngrains / r->ncells;
	for (size_t c = 0; c < r->ncells; c++) {
		for (size_t g = c * per; g < (c + 1) * per; g++)
			r->cell[c][grain[g]] += 1.0f / (float)per;
	}
	free(grain);
}

static void
measure(const struct kmem_lab_ops *ops, void *inst, const lab_workload_t *w,
    object_t *obj, lab_result_t *r)
{
	size_t stride = w->nevents / LAB_SERIES + 1;
	uint64_t next_t = 0;
	size_t requested = 0;
	for (size_t i = 0; i < w->nevents; i++) {
		const lab_event_t *e = &w->events[i];
		object_t *o = &obj[e->slot];
		if (e->alloc) {
			*o = (object_t){ ops->alloc(inst, e->size, e->type),
			    e->size, e->type };
			if (o->addr != NULL) {
				r->allocs++;
				requested += e->size;
			} else {
				r->failures++;
				if (requested + e->size <= r->budget)
					r->early_failures++;
			}
		} else if (o->addr != NULL) {
			ops->free(inst, o->addr, o->size, o->type);
			o->addr = NULL;
			r->frees++;
			requested -= o->size;
		}
		size_t held = ops->held(inst);
		if (requested > r->peak_requested)
			r->peak_requested = requested;
		if (held > r->peak_held)
			r->peak_held = held;
		/*
		 * A timed trace is sampled at even steps of its time, an event
		 * standing for every step it passes, so the chart's axis is
		 * the program's time; other workloads every stride events.
		 */
		bool sample = w->times == NULL ? i % stride == 0 :
		    w->times[i] >= next_t;
		if (sample || i + 1 == w->nevents) {
			struct kmem_lab_stats st;
			ops->stats(inst, &st);
			if (st.metadata_bytes > r->metadata_peak)
				r->metadata_peak = st.metadata_bytes;
			float u = held == 0 ? NAN :
			    (float)((double)requested / (double)held);
			do {
				if (r->nseries < LAB_SERIES)
					r->series[r->nseries++] = u;
				next_t = (uint64_t)((double)w->duration_ns *
				    (double)r->nseries / (LAB_SERIES - 1));
			} while (w->times != NULL && r->nseries < LAB_SERIES &&
			    w->times[i] >= next_t);
		}
	}
	r->requested_end = requested;
	r->utilization = r->peak_held == 0 ? 1 :
	    (double)r->peak_requested / (double)r->peak_held;
	ops->stats(inst, &r->end);
	r->external_fragmentation = r->end.free_bytes == 0 ? 0 :
	    1 - (double)r->end.largest_free / (double)r->end.free_bytes;
}

/* One timed pass; returns its seconds. */
static double
timed_pass(const struct kmem_lab_ops *ops, void *inst,
    const lab_workload_t *w, object_t *obj)
{
	double start = now_seconds();
	for (size_t i = 0; i < w->nevents; i++) {
		const lab_event_t *e = &w->events[i];
		object_t *o = &obj[e->slot];
		if (e->alloc) {
			*o = (object_t){ ops->alloc(inst, e->size, e->type),
			    e->size, e->type };
		} else if (o->addr != NULL) {
			ops->free(inst, o->addr, o->size, o->type);
			o->addr = NULL;
		}
	}
	return (now_seconds() - start);
}

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x < y ? -1 : x > y);
}

bool
lab_run(const struct kmem_lab_ops *ops, const lab_workload_t *w,
    size_t budget, unsigned rounds, lab_result_t *r, char *err,
    size_t errlen)
{
	memset(r, 0, sizeof (*r));
	r->ops = ops;
	r->budget = budget;
	object_t *obj = calloc(w->nslots + 1, sizeof (*obj));
	double *times = calloc(rounds + 1, sizeof (*times));
	if (obj == NULL || times == NULL) {
		fprintf(stderr, "kmlab: out of memory\n");
		exit(1);
	}
	void *prev_arg;
	kmem_report_handler_t *prev = kmem_report_handler_set(count_report,
	    NULL, &prev_arg);
	report_count[KMEM_REPORT_ERROR] = report_count[KMEM_REPORT_WARNING] = 0;
	bool ok = false;
	void *inst = ops->create(budget, w->types, w->ntypes);
	if (inst == NULL) {
		snprintf(err, errlen, "%s: cannot create an instance of %zu "
		    "bytes", ops->name, budget);
		goto out;
	}
	measure(ops, inst, w, obj, r);
	take_picture(ops, inst, obj, w->nslots, r);
	free_survivors(ops, inst, obj, w->nslots);
	ops->destroy(inst);
	r->warnings = report_count[KMEM_REPORT_WARNING];

	unsigned n = rounds > 0 ? rounds : 1;
	for (unsigned i = 0; i < n; i++) {
		inst = ops->create(budget, w->types, w->ntypes);
		if (inst == NULL) {
			snprintf(err, errlen, "%s: cannot create an instance "
			    "of %zu bytes", ops->name, budget);
			goto out;
		}
		times[i] = timed_pass(ops, inst, w, obj);
		free_survivors(ops, inst, obj, w->nslots);
		ops->destroy(inst);
	}
	qsort(times, n, sizeof (*times), by_value);
	r->seconds = times[n / 2];
	r->ops_per_second = r->seconds > 0 ? (double)w->nevents / r->seconds :
	    0;
	ok = true;
out:
	r->errors = report_count[KMEM_REPORT_ERROR];
	if (ok && r->errors > 0) {
		snprintf(err, errlen, "%s: the library reported %llu errors, "
		    "the first: %s", ops->name,
		    (unsigned long long)r->errors, first_error);
		ok = false;
	}
	kmem_report_handler_set(prev, prev_arg, NULL);
	free(obj);
	free(times);
	return (ok);
}
