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
 * The sections a lookup reads, pointers into the caller's image: the line
 * programs, and the string sections DWARF 5's file tables may point into
 * (either may be absent: NULL and 0).
 */
typedef struct dwarf_lines {
	const unsigned char *line;      /* .debug_line */
	size_t line_size;
	const unsigned char *line_str;  /* .debug_line_str */
	size_t line_str_size;
	const unsigned char *str;       /* .debug_str */
	size_t str_size;
} dwarf_lines_t;

/*
 * The image's sections into *dl; false when it has no .debug_line this
 * reader can use (none, or a compressed one).
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

#endif /* KMEM_DWARF_LINES_H */
