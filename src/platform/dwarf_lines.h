/*
 * Source lines from an ELF image's DWARF, through elfutils' libdw
 * (dwarf_lines.c, built only when CMake found libdw: KMEM_HAVE_LIBDW), for
 * the symbolizer (symbolize.c).  Platform-internal.
 */
#ifndef KMEM_DWARF_LINES_H
#define KMEM_DWARF_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libdw's view of one image, made at the first lookup and kept. */
typedef struct dwarf_lines {
	void *elf;              /* Elf * over the image */
	void *dwarf;            /* Dwarf *; NULL: not made yet, or none */
	bool failed;            /* the image has no DWARF libdw can read */
} dwarf_lines_t;

/*
 * The source file (its last path component) and line of addr, a
 * link-time address in the image; false when the image or libdw does not
 * know.  Allocates through malloc (libdw's), the first time an image or a
 * compilation unit is looked at: the caller decides when that is safe.
 * Not thread-safe: the caller serializes.
 */
bool dwarf_lines_find(dwarf_lines_t *dl, const void *image, size_t size,
    uintptr_t addr, const char **file, unsigned *line);

#endif /* KMEM_DWARF_LINES_H */
