/*
 * kmlab's output: the results as a table (text or Markdown), as CSV, and
 * as an SVG drawn here, with no plotting library: utilization over the run
 * for every allocator on one chart, and a picture of each allocator's
 * region after the last event, one small square per cell, its colour the
 * mix of the kinds' colours in the shares of the cell's bytes (so a cell
 * of scattered small objects in free space is a pale green, not "free").
 */
#include "kmlab.h"

#include <math.h>
#include <string.h>

/* ---- the table ---- */

void
lab_format_bytes(char *buf, size_t len, size_t bytes)
{
	static const char *const unit[] = { "bytes", "KiB", "MiB", "GiB" };
	unsigned u = 0;
	while (u + 1 < sizeof (unit) / sizeof (unit[0]) && bytes >= 1024 &&
	    bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, len, "%zu %s", bytes, unit[u]);
}

void
lab_print_table(FILE *out, const lab_result_t *r, size_t n, bool markdown)
{
	static const char *const head[] = { "allocator", "utilization",
	    "ext. frag.", "early failures", "failures", "Mops/s",
	    "metadata KiB", "metadata %" };
	if (markdown) {
		fprintf(out, "|");
		for (size_t c = 0; c < 8; c++)
			fprintf(out, " %s |", head[c]);
		fprintf(out, "\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
	} else {
		fprintf(out, "%-16s %11s %10s %14s %9s %7s %12s %10s\n",
		    head[0], head[1], head[2], head[3], head[4], head[5],
		    head[6], head[7]);
	}
	for (size_t i = 0; i < n; i++) {
		const lab_result_t *x = &r[i];
		double meta_kib = (double)x->metadata_peak / 1024;
		double meta_pct = 100.0 * (double)x->metadata_peak /
		    (double)x->budget;
		const char *fmt = markdown ?
		    "| %s | %.3f | %.3f | %llu | %llu | %.2f | %.1f | %.2f |\n" :
		    "%-16s %11.3f %10.3f %14llu %9llu %7.2f %12.1f %10.2f\n";
		fprintf(out, fmt, x->ops->name, x->utilization,
		    x->external_fragmentation,
		    (unsigned long long)x->early_failures,
		    (unsigned long long)x->failures, x->ops_per_second / 1e6,
		    meta_kib, meta_pct);
	}
}

/* ---- CSV ---- */

/* A CSV field: quoted, with quotes doubled, when it needs to be. */
static void
csv_string(FILE *out, const char *s)
{
	if (strpbrk(s, ",\"\n") == NULL) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

void
lab_write_csv(FILE *out, const lab_workload_t *w, const lab_result_t *r,
    size_t n)
{
	fprintf(out, "allocator,workload,budget,events,allocs,frees,failures,"
	    "early_failures,peak_requested,peak_held,utilization,"
	    "requested_end,free_end,largest_free_end,external_fragmentation,"
	    "allocated_end,cached_end,overhead_end,metadata_peak,warnings,"
	    "seconds,ops_per_second\n");
	for (size_t i = 0; i < n; i++) {
		const lab_result_t *x = &r[i];
		csv_string(out, x->ops->name);
		fputc(',', out);
		csv_string(out, w->name);
		fprintf(out, ",%zu,%zu,%llu,%llu,%llu,%llu,%zu,%zu,%.6f,%zu,%zu,"
		    "%zu,%.6f,%zu,%zu,%zu,%zu,%llu,%.6f,%.0f\n", x->budget,
		    w->nevents, (unsigned long long)x->allocs,
		    (unsigned long long)x->frees,
		    (unsigned long long)x->failures,
		    (unsigned long long)x->early_failures, x->peak_requested,
		    x->peak_held, x->utilization, x->requested_end,
		    x->end.free_bytes, x->end.largest_free,
		    x->external_fragmentation, x->end.allocated_bytes,
		    x->end.cached_bytes, x->end.overhead_bytes,
		    x->metadata_peak, (unsigned long long)x->warnings,
		    x->seconds, x->ops_per_second);
	}
}

/* ---- SVG ---- */

#define SVG_WIDTH       1000
#define CHART_X         60
#define CHART_Y         60
#define CHART_W         640
#define CHART_H         260
#define LEGEND_X        (CHART_X + CHART_W + 30)
#define MAP_COLUMNS     128
#define MAP_CELL        3
#define MAP_GAP_X       490
#define MAP_GAP_Y       40

static const char *const series_color[] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
	"#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
};
#define NCOLORS (sizeof (series_color) / sizeof (series_color[0]))

static const struct {
	unsigned rgb;
	const char *label;
} cell_style[LAB_CELL_KINDS] = {
	[LAB_CELL_REQUESTED] = { 0x2e7d32, "requested by live objects" },
	[LAB_CELL_WASTE] = { 0xf57c00, "allocated beyond the request" },
	[LAB_CELL_CACHED] = { 0xfbc02d, "free, kept for one size or type" },
	[LAB_CELL_OVERHEAD] = { 0x6d4c41, "overhead: bookkeeping, tails, "
	    "lost" },
	[LAB_CELL_FREE] = { 0xeceff1, "free" },
};

/* A cell's colour: the kinds' colours mixed in its shares. */
static unsigned
cell_rgb(const float share[LAB_CELL_KINDS])
{
	double channel[3] = { 0, 0, 0 };
	for (int k = 0; k < LAB_CELL_KINDS; k++) {
		for (int i = 0; i < 3; i++)
			channel[i] += share[k] *
			    (double)((cell_style[k].rgb >> (16 - 8 * i)) & 0xff);
	}
	unsigned rgb = 0;
	for (int i = 0; i < 3; i++) {
		double v = channel[i] + 0.5;
		rgb = rgb << 8 | (v > 255 ? 255u : (unsigned)v);
	}
	return (rgb);
}

static void
svg_text(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

static void
svg_chart(FILE *out, const lab_workload_t *w, const lab_result_t *r, size_t n)
{
	fprintf(out, "<g font-size=\"12\">\n<rect x=\"%d\" y=\"%d\" width=\"%d\" "
	    "height=\"%d\" fill=\"white\" stroke=\"#999\"/>\n", CHART_X,
	    CHART_Y, CHART_W, CHART_H);
	for (int q = 0; q <= 4; q++) {
		double y = CHART_Y + CHART_H * (1 - q / 4.0);
		fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
		    "stroke=\"#ddd\"/>\n<text x=\"%d\" y=\"%.1f\" "
		    "text-anchor=\"end\">%.2f</text>\n", CHART_X, y,
		    CHART_X + CHART_W, y, CHART_X - 6, y + 4, q / 4.0);
	}
	char axis[96];
	if (w->times != NULL)
		snprintf(axis, sizeof (axis), "time (0 to %.3f s of the "
		    "recorded program)", (double)w->duration_ns / 1e9);
	else
		snprintf(axis, sizeof (axis), "events (start to end of the "
		    "workload)");
	fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s"
	    "</text>\n<text x=\"16\" y=\"%d\" "
	    "transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">requested "
	    "/ held</text>\n", CHART_X + CHART_W / 2, CHART_Y + CHART_H + 20,
	    axis,
	    CHART_Y + CHART_H / 2, CHART_Y + CHART_H / 2);
	for (size_t i = 0; i < n; i++) {
		const lab_result_t *x = &r[i];
		fprintf(out, "<path fill=\"none\" stroke=\"%s\" "
		    "stroke-width=\"1.5\"%s d=\"", series_color[i % NCOLORS],
		    i >= NCOLORS ? " stroke-dasharray=\"4 2\"" : "");
		bool drawing = false;
		for (size_t k = 0; k < x->nseries; k++) {
			double u = x->series[k];
			if (isnan(u)) {
				drawing = false;
				continue;
			}
			u = u < 0 ? 0 : u > 1 ? 1 : u;
			double px = CHART_X + (x->nseries > 1 ? CHART_W *
			    (double)k / (double)(x->nseries - 1) : 0);
			double py = CHART_Y + CHART_H * (1 - u);
			fprintf(out, "%s%.1f %.1f ", drawing ? "L" : "M", px, py);
			drawing = true;
		}
		fprintf(out, "\"/>\n<rect x=\"%d\" y=\"%zu\" width=\"14\" "
		    "height=\"4\" fill=\"%s\"/>\n<text x=\"%d\" y=\"%zu\">",
		    LEGEND_X, CHART_Y + 6 + 20 * i, series_color[i % NCOLORS],
		    LEGEND_X + 20, CHART_Y + 12 + 20 * i);
		svg_text(out, x->ops->name);
		fprintf(out, " (%.3f)</text>\n", x->utilization);
	}
	fprintf(out, "</g>\n");
}

/* One allocator's region, its cells in rows, runs of a kind merged. */
static void
svg_map(FILE *out, const lab_result_t *x, int left, int top)
{
	fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"12\">", left, top - 6);
	svg_text(out, x->ops->name);
	fprintf(out, ": %.1f%% requested, %.1f%% free</text>\n",
	    100.0 * (double)x->requested_end / (double)x->budget,
	    100.0 * (double)x->end.free_bytes / (double)x->budget);
	size_t columns = x->ncells < MAP_COLUMNS ? x->ncells : MAP_COLUMNS;
	for (size_t c = 0; c < x->ncells; ) {
		size_t row = c / columns, end = c + 1;
		unsigned rgb = cell_rgb(x->cell[c]);
		while (end < x->ncells && end / columns == row &&
		    cell_rgb(x->cell[end]) == rgb)
			end++;
		fprintf(out, "<rect x=\"%zu\" y=\"%zu\" width=\"%zu\" "
		    "height=\"%d\" fill=\"#%06x\"/>\n",
		    left + (c % columns) * MAP_CELL, top + row * MAP_CELL,
		    (end - c) * MAP_CELL, MAP_CELL, rgb);
		c = end;
	}
}

void
lab_write_svg(FILE *out, const lab_workload_t *w, const lab_result_t *r,
    size_t n)
{
	size_t map_rows = 1;
	for (size_t i = 0; i < n; i++) {
		size_t rows = (r[i].ncells + MAP_COLUMNS - 1) / MAP_COLUMNS;
		if (rows > map_rows)
			map_rows = rows;
	}
	int map_h = (int)map_rows * MAP_CELL;
	int maps_top = CHART_Y + CHART_H + 90;
	int legend_top = maps_top + (int)((n + 1) / 2) * (map_h + MAP_GAP_Y);
	int height = legend_top + 20 * LAB_CELL_KINDS + 20;

	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "
	    "xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	    "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n<rect "
	    "width=\"100%%\" height=\"100%%\" fill=\"#fafafa\"/>\n<text "
	    "x=\"20\" y=\"28\" font-size=\"16\">kmlab: workload ", SVG_WIDTH,
	    height, SVG_WIDTH, height);
	svg_text(out, w->name);
	char budget[32];
	lab_format_bytes(budget, sizeof (budget), n > 0 ? r[0].budget : 0);
	fprintf(out, ", %zu allocations, %s for each allocator</text>\n"
	    "<text x=\"20\" y=\"48\" font-size=\"12\">Utilization over the "
	    "run (requested / held); the legend gives max requested / max "
	    "held</text>\n", w->allocs, budget);
	svg_chart(out, w, r, n);
	fprintf(out, "<text x=\"20\" y=\"%d\" font-size=\"14\">Each region "
	    "after the last event (%zu bytes a square, its colour mixed in "
	    "the shares of its bytes)</text>\n", maps_top - 30,
	    n > 0 && r[0].ncells > 0 ? r[0].budget / r[0].ncells : 0);
	for (size_t i = 0; i < n; i++)
		svg_map(out, &r[i], 20 + (int)(i % 2) * MAP_GAP_X,
		    maps_top + (int)(i / 2) * (map_h + MAP_GAP_Y));
	for (int k = 0; k < LAB_CELL_KINDS; k++) {
		fprintf(out, "<rect x=\"20\" y=\"%d\" width=\"12\" height=\"12\" "
		    "fill=\"#%06x\" stroke=\"#999\"/>\n<text x=\"38\" "
		    "y=\"%d\" font-size=\"12\">%s</text>\n",
		    legend_top + 20 * k, cell_style[k].rgb,
		    legend_top + 20 * k + 10, cell_style[k].label);
	}
	fprintf(out, "</svg>\n");
}
