/*
 * The laboratory (tools/kmlab): its measurements, where the answer is known
 * by construction, and its output.
 *
 * - Utilization by hand: 4096 objects of 64 bytes, then 5440 of 48 bytes
 *   (typed and untyped), allocated and freed on a 1 MiB budget.  Every
 *   design's peak held bytes are computed here from its rounding rule
 *   (16-byte grains, powers of two, the power-of-two lists' 8-byte header,
 *   85 elements of 48 bytes to a zone page, whole slabs of a kmem cache
 *   holding as many buffers as kmem says) and the measured factors must
 *   be exactly those.
 * - The SVG is well-formed XML (a small checker here; xmllint too, when it
 *   is installed), the CSV has the header's number of fields on every row,
 *   and its utilization column is the table's.
 * - Traces: the example trace reads; a written workload reads back the
 *   same; each kind of bad line is reported with its file and line.
 * - Synthetic workloads are deterministic and consistent: every free
 *   empties a live slot, and the same seed gives the same events.
 *
 * Usage: classic_lab_test [example.trace]
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/classic.h>
#include <kmem/kmem.h>

#include "check.h"
#include "kmlab.h"

#define BUDGET          ((size_t)1 << 20)

/* ---- workloads built by hand ---- */

static void
add_event(lab_workload_t *w, lab_event_t e)
{
	if (w->nevents == w->capacity) {
		w->capacity = w->capacity == 0 ? 1024 : 2 * w->capacity;
		w->events = realloc(w->events, w->capacity * sizeof (e));
		CHECK(w->events != NULL);
	}
	w->events[w->nevents++] = e;
	if (e.alloc) {
		w->allocs++;
		if (e.slot >= w->nslots)
			w->nslots = e.slot + 1;
	}
}

/* n objects of size bytes (of type 0, or untyped), then all freed. */
static void
make_uniform(lab_workload_t *w, size_t n, uint32_t size, bool typed)
{
	memset(w, 0, sizeof (*w));
	snprintf(w->name, sizeof (w->name), "by-hand");
	w->types = calloc(1, sizeof (w->types[0]));
	CHECK(w->types != NULL);
	w->types[0] = (struct kmem_lab_type){ strdup("object"), size };
	w->ntypes = 1;
	for (uint32_t i = 0; i < n; i++)
		add_event(w, (lab_event_t){ .slot = i, .size = size,
		    .type = typed ? 0 : KMEM_LAB_UNTYPED, .alloc = true });
	for (uint32_t i = 0; i < n; i++)
		add_event(w, (lab_event_t){ .slot = i });
}

/* The bytes a design holds for n objects of size bytes, by its rule. */
static size_t
held_by_design(const char *name, size_t n, size_t size, bool typed)
{
	size_t p2 = 16;
	while (p2 < size)
		p2 *= 2;
	size_t p2_header = 16;
	while (p2_header < size + 8)
		p2_header *= 2;
	if (strcmp(name, "p2list") == 0)
		return (n * p2_header);
	if (strcmp(name, "zone") == 0 && typed && size == 48)
		return (n / 85 * 4096);         /* 85 to a page */
	if (strcmp(name, "rmap") == 0 || strncmp(name, "vmem-", 5) == 0)
		return (n * ((size + 15) / 16 * 16));
	if (strcmp(name, "slab") == 0) {
		/*
		 * Whole slabs of a cache of size (rounded to the lab's 16-byte
		 * grain when untyped: the kmem_alloc class), laid out as kmem
		 * lays out any cache of that size and alignment.
		 */
		size_t bufsize = typed ? size : (size + 15) / 16 * 16;
		kmem_cache_t *cp = kmem_cache_create("lab_test_layout", bufsize,
		    16, NULL, NULL, NULL, NULL, NULL, KMC_NOMAGAZINE);
		kmem_cache_stats_t st;
		CHECK(cp != NULL && kmem_cache_stats(cp, &st) == 0);
		kmem_cache_destroy(cp);
		return ((n + st.buf_per_slab - 1) / st.buf_per_slab *
		    st.slab_size);
	}
	return (n * p2);
}

static void
check_utilization(size_t n, uint32_t size, bool typed)
{
	lab_workload_t w;
	make_uniform(&w, n, size, typed);
	for (size_t i = 0; kmem_lab_allocators[i] != NULL; i++) {
		const struct kmem_lab_ops *ops = kmem_lab_allocators[i];
		lab_result_t *r = calloc(1, sizeof (*r));
		char err[256];
		CHECK(r != NULL);
		CHECK(lab_run(ops, &w, BUDGET, 1, r, err, sizeof (err)));
		size_t held = held_by_design(ops->name, n, size, typed);
		printf("classic_lab_test: %u-byte %s objects, %-16s held %7zu "
		    "of %7zu requested: utilization %.6f\n", size, typed ?
		    "typed" : "untyped", ops->name, r->peak_held,
		    r->peak_requested, r->utilization);
		CHECK_EQ(r->peak_requested, n * size);
		CHECK_EQ(r->peak_held, held);
		CHECK(r->utilization == (double)(n * size) / (double)held);
		CHECK_EQ(r->failures, 0);
		CHECK_EQ(r->allocs, n);
		CHECK_EQ(r->frees, n);
		CHECK_EQ(r->requested_end, 0);
		CHECK_EQ(r->end.allocated_bytes, 0);
		free(r);
	}
	lab_workload_free(&w);
}

/* ---- a well-formedness checker for XML ---- */

static bool
xml_name_char(char c)
{
	return (isalnum((unsigned char)c) || c == '-' || c == '_' ||
	    c == ':' || c == '.');
}

/* An entity reference at s; returns its length, 0 if it is not one. */
static size_t
xml_entity(const char *s)
{
	static const char *const named[] = { "&amp;", "&lt;", "&gt;",
	    "&quot;", "&apos;" };
	for (size_t i = 0; i < 5; i++) {
		if (strncmp(s, named[i], strlen(named[i])) == 0)
			return (strlen(named[i]));
	}
	if (s[1] == '#') {
		size_t n = 2;
		while (isalnum((unsigned char)s[n]))
			n++;
		return (s[n] == ';' && n > 2 ? n + 1 : 0);
	}
	return (0);
}

/* Character data (or an attribute value) up to stop: no '<', good '&'s. */
static const char *
xml_chars(const char *s, char stop)
{
	while (*s != '\0' && *s != stop) {
		if (*s == '<')
			return (NULL);
		if (*s == '&') {
			size_t n = xml_entity(s);
			if (n == 0)
				return (NULL);
			s += n;
		} else {
			s++;
		}
	}
	return (s);
}

/* Is doc one well-formed element (after an optional declaration)? */
static bool
xml_well_formed(const char *doc)
{
	const char *stack[64];
	size_t depth = 0, roots = 0;
	const char *s = doc;
	if (strncmp(s, "<?xml", 5) == 0) {
		s = strstr(s, "?>");
		if (s == NULL)
			return (false);
		s += 2;
	}
	while (*s != '\0') {
		if (*s != '<') {
			if (depth == 0 && !isspace((unsigned char)*s))
				return (false);
			s = xml_chars(s, '<');
			if (s == NULL)
				return (false);
			continue;
		}
		if (strncmp(s, "<!--", 4) == 0) {
			s = strstr(s + 4, "-->");
			if (s == NULL)
				return (false);
			s += 3;
			continue;
		}
		bool closing = s[1] == '/';
		const char *name = s + (closing ? 2 : 1);
		const char *p = name;
		while (xml_name_char(*p))
			p++;
		size_t len = (size_t)(p - name);
		if (len == 0 || isdigit((unsigned char)name[0]))
			return (false);
		if (closing) {
			if (depth == 0 || strncmp(stack[depth - 1], name,
			    len) != 0 || xml_name_char(stack[depth - 1][len]))
				return (false);
			depth--;
			while (isspace((unsigned char)*p))
				p++;
			if (*p != '>')
				return (false);
			s = p + 1;
			continue;
		}
		/* Attributes: name="value", each name once. */
		const char *attr[64];
		size_t nattr = 0;
		for (;;) {
			while (isspace((unsigned char)*p))
				p++;
			if (*p == '>' || (p[0] == '/' && p[1] == '>'))
				break;
			const char *a = p;
			while (xml_name_char(*p))
				p++;
			size_t alen = (size_t)(p - a);
			if (alen == 0 || *p != '=' || (p[1] != '"' &&
			    p[1] != '\'') || nattr == 64)
				return (false);
			for (size_t i = 0; i < nattr; i++) {
				if (strncmp(attr[i], a, alen) == 0 &&
				    attr[i][alen] == '=')
					return (false);
			}
			attr[nattr++] = a;
			char quote = p[1];
			p = xml_chars(p + 2, quote);
			if (p == NULL || *p != quote)
				return (false);
			p++;
			if (!isspace((unsigned char)*p) && *p != '>' && *p != '/')
				return (false);
		}
		if (depth == 0 && roots++ > 0)
			return (false);
		if (*p == '/') {
			s = p + 2;
		} else {
			if (depth == 64)
				return (false);
			stack[depth++] = name;
			s = p + 1;
		}
	}
	return (depth == 0 && roots == 1);
}

static void
test_xml_checker(void)
{
	CHECK(xml_well_formed("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t"
	    "&amp;<c y='2'>&#x41;</c></a>\n"));
	CHECK(!xml_well_formed("<a><b></a></b>"));
	CHECK(!xml_well_formed("<a x=1/>"));
	CHECK(!xml_well_formed("<a x=\"1\" x=\"2\"/>"));
	CHECK(!xml_well_formed("<a>&bogus;</a>"));
	CHECK(!xml_well_formed("<a>1 < 2</a>"));
	CHECK(!xml_well_formed("<a/><b/>"));
	CHECK(!xml_well_formed("<a>"));
}

/* ---- output ---- */

static char *
read_all(FILE *f)
{
	CHECK(fseek(f, 0, SEEK_END) == 0);
	long len = ftell(f);
	CHECK(len >= 0);
	rewind(f);
	char *buf = malloc((size_t)len + 1);
	CHECK(buf != NULL);
	CHECK_EQ(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	return (buf);
}

/* The fields of one CSV line (quoted fields allowed); returns the count. */
static size_t
csv_fields(const char *line, char fields[][64], size_t max)
{
	size_t n = 0;
	const char *s = line;
	for (;;) {
		char *f = fields[n < max ? n : max - 1];
		size_t len = 0;
		if (*s == '"') {
			for (s++; *s != '\0' && !(s[0] == '"' && s[1] != '"');
			    s++) {
				if (*s == '"')
					s++;
				if (len < 63)
					f[len++] = *s;
			}
			CHECK(*s == '"');
			s++;
		} else {
			while (*s != ',' && *s != '\n' && *s != '\0') {
				if (len < 63)
					f[len++] = *s;
				s++;
			}
		}
		f[len] = '\0';
		n++;
		if (*s != ',')
			return (n);
		s++;
	}
}

static void
test_output(void)
{
	lab_params_t p = { .kind = LAB_KERNEL, .budget = BUDGET, .seed = 7,
	    .fill = 0.5, .allocs = 20000 };
	lab_workload_t w;
	char err[256];
	CHECK(lab_workload_make(&w, &p, err, sizeof (err)));
	size_t n = 0;
	while (kmem_lab_allocators[n] != NULL)
		n++;
	lab_result_t *r = calloc(n, sizeof (*r));
	CHECK(r != NULL);
	for (size_t i = 0; i < n; i++)
		CHECK(lab_run(kmem_lab_allocators[i], &w, BUDGET, 1, &r[i], err,
		    sizeof (err)));

	/* The SVG. */
	FILE *f = tmpfile();
	CHECK(f != NULL);
	lab_write_svg(f, &w, r, n);
	char *svg = read_all(f);
	fclose(f);
	CHECK(xml_well_formed(svg));
	CHECK(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
	for (size_t i = 0; i < n; i++)
		CHECK(strstr(svg, kmem_lab_allocators[i]->name) != NULL);
	if (system("command -v xmllint >/dev/null 2>&1") == 0) {
		char path[] = "/tmp/classic_lab_test_XXXXXX";
		int fd = mkstemp(path);
		CHECK(fd >= 0);
		CHECK_EQ(write(fd, svg, strlen(svg)), strlen(svg));
		close(fd);
		char command[128];
		snprintf(command, sizeof (command), "xmllint --noout %s", path);
		CHECK_EQ(system(command), 0);
		unlink(path);
		printf("classic_lab_test: xmllint accepts the SVG too\n");
	}
	free(svg);

	/* The CSV: every row has the header's fields; numbers parse. */
	f = tmpfile();
	CHECK(f != NULL);
	lab_write_csv(f, &w, r, n);
	char *csv = read_all(f);
	fclose(f);
	static char fields[64][64];
	char *line = strtok(csv, "\n");
	size_t columns = csv_fields(line, fields, 64);
	size_t util_column = columns;
	for (size_t c = 0; c < columns; c++) {
		if (strcmp(fields[c], "utilization") == 0)
			util_column = c;
	}
	CHECK(util_column < columns);
	size_t rows = 0;
	while ((line = strtok(NULL, "\n")) != NULL) {
		CHECK_EQ(csv_fields(line, fields, 64), columns);
		CHECK(strcmp(fields[0], r[rows].ops->name) == 0);
		for (size_t c = 2; c < columns; c++) {
			char *end;
			(void) strtod(fields[c], &end);
			CHECK(*end == '\0' && end != fields[c]);
		}
		CHECK(fabs(strtod(fields[util_column], NULL) -
		    r[rows].utilization) < 1e-6);
		rows++;
	}
	CHECK_EQ(rows, n);
	free(csv);

	/* The table names every allocator. */
	f = tmpfile();
	CHECK(f != NULL);
	lab_print_table(f, r, n, true);
	char *table = read_all(f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		CHECK(strstr(table, kmem_lab_allocators[i]->name) != NULL);
	free(table);
	free(r);
	lab_workload_free(&w);
	printf("classic_lab_test: the SVG is well-formed, the CSV has %zu "
	    "columns in each of %zu rows\n", columns, rows);
}

/* ---- traces ---- */

static bool
read_trace_text(const char *text, lab_workload_t *w, char *err, size_t len)
{
	FILE *f = tmpfile();
	CHECK(f != NULL);
	fputs(text, f);
	rewind(f);
	bool ok = lab_workload_read(w, f, "t.trace", err, len);
	fclose(f);
	return (ok);
}

static void
check_bad_trace(const char *text, const char *expected)
{
	lab_workload_t w;
	char err[256] = "";
	CHECK(!read_trace_text(text, &w, err, sizeof (err)));
	if (strstr(err, expected) == NULL) {
		fprintf(stderr, "trace error \"%s\" should say \"%s\"\n", err,
		    expected);
		CHECK(!"the trace error names the file, line and problem");
	}
}

static void
test_traces(const char *example)
{
	lab_workload_t w;
	char err[256];
	if (example != NULL) {
		FILE *f = fopen(example, "r");
		CHECK(f != NULL);
		CHECK(lab_workload_read(&w, f, example, err, sizeof (err)));
		fclose(f);
		CHECK(strcmp(w.name, "example.trace") == 0);
		CHECK_EQ(w.allocs, 7);
		CHECK_EQ(w.nevents, 12);
		CHECK_EQ(w.ntypes, 5);
		lab_workload_free(&w);
	}
	CHECK(read_trace_text("# comment\n\na 10 100 t\na 11 100 t # c\n"
	    "f 10\na 10 5\nf 11\n", &w, err, sizeof (err)));
	CHECK_EQ(w.nevents, 5);
	CHECK_EQ(w.ntypes, 1);
	CHECK_EQ(w.nslots, 2);
	CHECK_EQ(w.events[3].slot, w.events[0].slot);   /* reused */
	CHECK_EQ(w.events[3].type, KMEM_LAB_UNTYPED);
	lab_workload_free(&w);

	check_bad_trace("a 1 10\nx 1\n", "t.trace:2: unknown event \"x\"");
	check_bad_trace("a 1\n", "t.trace:1: an allocation is");
	check_bad_trace("a 1 10 t extra\n", "t.trace:1: an allocation is");
	check_bad_trace("a one 10\n", "t.trace:1: the id is not");
	check_bad_trace("a 1 4294967296\n", "t.trace:1: the size is not");
	check_bad_trace("a 1 -5\n", "t.trace:1: the size is not");
	check_bad_trace("a 1 10\na 1 10\n", "t.trace:2: the id is already "
	    "live");
	check_bad_trace("a 1 10\nf 2\n", "t.trace:2: the id is not live");
	check_bad_trace("a 1 10\nf 1\nf 1\n", "t.trace:3: the id is not live");
	check_bad_trace("f\n", "t.trace:1: a free is");
	check_bad_trace("a 1 10 t\na 2 20 t\n", "t.trace:2: type \"t\" has "
	    "size 10, not 20");
	check_bad_trace("# nothing\n", "t.trace: the trace allocates nothing");
	/* What kmlab --dump adds: reallocs, and fields. */
	check_bad_trace("a 1 10\nr 1 2\n", "t.trace:2: a realloc is");
	check_bad_trace("r x 2 10\n", "t.trace:1: an id is not");
	check_bad_trace("a 1 10\nr 2 3 10\n", "t.trace:2: the id is not live");
	check_bad_trace("a 1 10 t=5\na 2 10 t=4\n", "t.trace:2: t= goes back");
	check_bad_trace("a 1 10 t=5\na 2 10\n", "t.trace:2: t= on some");
	check_bad_trace("a 1 10 zz=1\n", "t.trace:1: unknown field");
	check_bad_trace("a 1 10 t=x\n", "t.trace:1: t= is not");

	/* malloc(0) is a byte; r moves, stays in place, or frees; t= times
	 * the events. */
	CHECK(read_trace_text("a 1 0 t=1 th=1\nr 1 2 300 t=2 th=1\n"
	    "r 2 2 200 t=3\nr - 3 8 t=4 op=x\nr 3 - 0 t=9\n", &w, err,
	    sizeof (err)));
	CHECK_EQ(w.nevents, 7);
	CHECK(w.events[0].alloc && w.events[0].size == 1);
	CHECK(w.events[1].alloc && w.events[1].size == 300);  /* new first */
	CHECK(!w.events[2].alloc && w.events[2].slot == w.events[0].slot);
	CHECK(!w.events[3].alloc && w.events[3].slot == w.events[1].slot);
	CHECK(w.events[4].alloc && w.events[4].size == 200);  /* in place */
	CHECK(w.events[5].alloc && w.events[5].size == 8);
	CHECK(!w.events[6].alloc && w.events[6].slot == w.events[5].slot);
	CHECK(w.times != NULL);
	CHECK_EQ(w.ntimes, 7);
	CHECK_EQ(w.times[3], 3);
	CHECK_EQ(w.duration_ns, 9);
	CHECK_EQ(lab_workload_peak(&w), 301);
	lab_workload_free(&w);

	/* Written and read back: the same events. */
	lab_params_t p = { .kind = LAB_KERNEL, .budget = BUDGET, .seed = 3,
	    .fill = 0.5, .allocs = 5000 };
	lab_workload_t made, back;
	CHECK(lab_workload_make(&made, &p, err, sizeof (err)));
	FILE *f = tmpfile();
	CHECK(f != NULL);
	lab_workload_write(&made, f);
	rewind(f);
	CHECK(lab_workload_read(&back, f, "written", err, sizeof (err)));
	fclose(f);
	CHECK_EQ(back.nevents, made.nevents);
	for (size_t i = 0; i < made.nevents; i++) {
		const lab_event_t *a = &made.events[i], *b = &back.events[i];
		CHECK_EQ(a->alloc, b->alloc);
		CHECK_EQ(a->slot, b->slot);
		if (a->alloc) {
			CHECK_EQ(a->size, b->size);
			CHECK(strcmp(made.types[a->type].name,
			    back.types[b->type].name) == 0);
		}
	}
	lab_workload_free(&made);
	lab_workload_free(&back);
}

/* ---- synthetic workloads ---- */

static void
check_consistent(const lab_workload_t *w)
{
	bool *live = calloc(w->nslots + 1, sizeof (bool));
	CHECK(live != NULL);
	size_t allocs = 0;
	for (size_t i = 0; i < w->nevents; i++) {
		const lab_event_t *e = &w->events[i];
		CHECK(e->slot < w->nslots);
		CHECK(live[e->slot] != e->alloc);
		live[e->slot] = e->alloc;
		if (e->alloc) {
			allocs++;
			CHECK(e->size > 0);
			CHECK(e->type == KMEM_LAB_UNTYPED ||
			    (size_t)e->type < w->ntypes);
			if (e->type != KMEM_LAB_UNTYPED)
				CHECK_EQ(w->types[e->type].size, e->size);
		}
	}
	CHECK_EQ(allocs, w->allocs);
	free(live);
}

static void
test_synthetic(void)
{
	for (int k = 0; k < LAB_TRACE; k++) {
		lab_params_t p = { .kind = (enum lab_kind)k, .budget = BUDGET,
		    .seed = 11, .size = 100, .min = 16, .max = 4096,
		    .mean = 256, .fill = 0.5, .allocs = 20000 };
		lab_workload_t a, b;
		char err[256];
		CHECK(lab_workload_make(&a, &p, err, sizeof (err)));
		CHECK(lab_workload_make(&b, &p, err, sizeof (err)));
		CHECK(strcmp(a.name, lab_kind_name((enum lab_kind)k)) == 0);
		CHECK_EQ(lab_kind_parse(a.name), k);
		check_consistent(&a);
		CHECK_EQ(a.nevents, b.nevents);
		for (size_t i = 0; i < a.nevents; i++) {
			CHECK_EQ(a.events[i].alloc, b.events[i].alloc);
			CHECK_EQ(a.events[i].slot, b.events[i].slot);
			CHECK_EQ(a.events[i].size, b.events[i].size);
			CHECK_EQ(a.events[i].type, b.events[i].type);
		}
		lab_workload_free(&a);
		lab_workload_free(&b);
	}
	CHECK_EQ(lab_kind_parse("nope"), -1);
	lab_params_t p = { .kind = LAB_UNIFORM, .budget = BUDGET, .min = 100,
	    .max = 10, .fill = 0.5 };
	lab_workload_t w;
	char err[256];
	CHECK(!lab_workload_make(&w, &p, err, sizeof (err)));
	CHECK(strstr(err, "--min 100 is larger than --max 10") != NULL);
	p = (lab_params_t){ .kind = LAB_EXPONENTIAL, .budget = BUDGET,
	    .min = 16, .max = 4096, .mean = 8, .fill = 0.5 };
	CHECK(!lab_workload_make(&w, &p, err, sizeof (err)));
	CHECK(strstr(err, "--mean 8 must be above --min 16") != NULL);
}

int
main(int argc, char **argv)
{
	test_xml_checker();
	check_utilization(4096, 64, true);
	check_utilization(5440, 48, true);
	check_utilization(5440, 48, false);
	test_synthetic();
	test_traces(argc > 1 ? argv[1] : NULL);
	test_output();
	printf("classic_lab_test: ok\n");
	return (0);
}
