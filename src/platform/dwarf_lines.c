/*
 * Source file and line of an address, from the DWARF line tables of an
 * ELF image already in memory (symbolize.c maps the file once and shares
 * the image with elf_symbols.c), through elfutils' libdw: libelf's
 * elf_memory() wraps the image without copying it, dwarf_begin_elf() reads
 * the DWARF sections from it, and a lookup finds the compilation unit that
 * covers the address, then the row of its line table at or before it.
 *
 * The compilation unit is found through .debug_aranges when the image has
 * them (dwarf_addrdie(); GCC writes them), else by asking each unit in
 * turn whether its ranges hold the address (dwarf_haspc(); clang writes no
 * aranges by default).  Separate debug files (.gnu_debuglink, build-id
 * directories) are not looked for: only the DWARF in the object itself is
 * read, and nothing is fetched from anywhere (no debuginfod).
 *
 * libdw allocates with malloc, lazily: the Elf and Dwarf handles at an
 * image's first lookup, a unit's line table at its first.  They are kept
 * for the life of the process, in the caller's dwarf_lines_t, so a report
 * that lists the same functions again costs no new memory.  When malloc is
 * libkmem's, that is a call back into the allocator from a report: the
 * caller (symbolize.c) makes it only when that is safe.  libdw is not
 * thread-safe here: the caller serializes every call.
 */
#include "platform/dwarf_lines.h"

#include <elfutils/libdw.h>
#include <libelf.h>
#include <string.h>

/* The unit whose address ranges hold addr, into *cu. */
static bool
unit_of(Dwarf *dwarf, Dwarf_Addr addr, Dwarf_Die *cu)
{
	if (dwarf_addrdie(dwarf, addr, cu) != NULL)
		return (true);
	Dwarf_Off offset = 0, next;
	size_t header;
	while (dwarf_nextcu(dwarf, offset, &next, &header, NULL, NULL,
	    NULL) == 0) {
		if (dwarf_offdie(dwarf, offset + header, cu) != NULL &&
		    dwarf_haspc(cu, addr) == 1)
			return (true);
		offset = next;
	}
	return (false);
}

static bool
begin(dwarf_lines_t *dl, const void *image, size_t size)
{
	if (dl->dwarf != NULL)
		return (true);
	if (dl->failed)
		return (false);
	dl->failed = true;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return (false);
	/* elf_memory() only reads the image in ELF_C_READ use. */
	Elf *elf = elf_memory((char *)(uintptr_t)image, size);
	if (elf == NULL)
		return (false);
	Dwarf *dwarf = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	if (dwarf == NULL) {
		elf_end(elf);
		return (false);
	}
	dl->elf = elf;
	dl->dwarf = dwarf;
	dl->failed = false;
	return (true);
}

bool
dwarf_lines_find(dwarf_lines_t *dl, const void *image, size_t size,
    uintptr_t addr, const char **file, unsigned *line)
{
	if (!begin(dl, image, size))
		return (false);
	Dwarf_Die cu;
	if (!unit_of(dl->dwarf, addr, &cu))
		return (false);
	Dwarf_Line *row = dwarf_getsrc_die(&cu, addr);
	int number;
	if (row == NULL || dwarf_lineno(row, &number) != 0 || number <= 0)
		return (false);
	const char *path = dwarf_linesrc(row, NULL, NULL);
	if (path == NULL)
		return (false);
	const char *base = strrchr(path, '/');
	*file = base != NULL ? base + 1 : path;
	*line = (unsigned)number;
	return (true);
}
