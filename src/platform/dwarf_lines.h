/*
 * Source lines from the DWARF line tables of an ELF image in memory
 * (dwarf_lines.c), for the symbolizer (symbolize.c).  Platform-internal.
 */
#ifndef KMEM_DWARF_LINES_H
#define KMEM_DWARF_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One unit of .debug_line in an index: the unit at offset has rows only
 * in [lo, hi) (empty, lo >= hi, when its program does not decode).
 */
typedef struct dwarf_span {
	uint64_t lo, hi;
	uint64_t offset;
} dwarf_span_t;

/*
 * The sections a lookup reads, pointers into the caller's image: the line
 * programs, and the string sections DWARF 5's file tables may point into
 * (either may be absent: NULL and 0); and, when the caller made one, an
 * index of the units, in the caller's memory.
 */
typedef struct dwarf_lines {
	const unsigned char *line;      /* .debug_line */
	size_t line_size;
	const unsigned char *line_str;  /* .debug_line_str */
	size_t line_str_size;
	const unsigned char *str;       /* .debug_str */
	size_t str_size;
	const dwarf_span_t *spans;      /* NULL: no index, every unit read */
	size_t nspans;
} dwarf_lines_t;

/*
 * The image's sections into *dl, with no index; false when it has no
 * .debug_line this reader can use (none, or a compressed one).
 */
bool dwarf_lines_open(const void *image, size_t size, dwarf_lines_t *dl);

/*
 * The source file (its last path component, a NUL-terminated string inside
 * one of dl's sections) and line of addr, a link-time address; false when
 * no line program row covers it, or the row's file cannot be named.
 * Allocates nothing, takes no lock, and reads only inside dl's sections,
 * whatever bytes they hold.
 */
bool dwarf_lines_find(const dwarf_lines_t *dl, uint64_t addr,
    const char **file, unsigned *line);

/*
 * An index, so that a lookup decodes only the units whose span holds the
 * address, with the same answers as without it: dwarf_lines_units() is
 * how many units dl's .debug_line has (their lengths are followed,
 * nothing decoded); dwarf_lines_index() writes the span of each, up to
 * max of them, into spans (every program is run once) and says how many
 * it wrote.  The caller points dl->spans at them.
 */
size_t dwarf_lines_units(const dwarf_lines_t *dl);
size_t dwarf_lines_index(const dwarf_lines_t *dl, dwarf_span_t *spans,
    size_t max);

#endif /* KMEM_DWARF_LINES_H */
