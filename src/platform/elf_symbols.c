/*
 * Function names from an ELF file's own symbol table, read from an image
 * of the whole file in memory (symbolize.c maps it), without the dynamic
 * linker: dladdr() sees only the exported symbols of .dynsym, so a
 * program's static functions, and all of its functions unless it was
 * linked with -rdynamic, have no name there.  .symtab, which the linker
 * writes for every function (and strip removes), has them.
 *
 * The format, for what is read here: the ELF header gives the section
 * header table (e_shoff, e_shnum entries of e_shentsize bytes); a section
 * of type SHT_SYMTAB (or SHT_DYNSYM) is an array of symbols, and its
 * sh_link names the string table holding their names.  A symbol of type
 * STT_FUNC (or STT_GNU_IFUNC) defined in a section covers [st_value,
 * st_value + st_size) in link-time addresses: the run-time address less
 * the object's load bias.
 *
 * Invariants: the image is untrusted input (a file on disk, maybe being
 * rewritten, maybe not ELF at all): every offset and size is checked
 * against the image before it is followed, and a name is returned only if
 * its NUL lies inside the string table.  Nothing here allocates, takes a
 * lock or makes a system call, so it may run in any context the caller
 * can run in (a report handler, a fork child, a damaged heap).
 *
 * A lookup is a linear pass over the table: reports are rare and a table
 * of 100,000 symbols takes well under a millisecond; sorting it would need
 * memory the report path has no business asking for.  When several
 * symbols cover an address (aliases such as free and __libc_free), a
 * global one is preferred to a weak one, and that to a local one, so the
 * name printed is the one the program calls.
 *
 * elf_section() finds a section by name the same way, for the DWARF line
 * reader (dwarf_lines.c), which reads the image's .debug_line in place.
 */
#include "platform/elf_symbols.h"

#include <elf.h>
#include <link.h>
#include <string.h>

/* The image's section headers, or NULL when the header is not sound. */
static const ElfW(Shdr) *
section_headers(const void *image, size_t size, size_t *count)
{
	const ElfW(Ehdr) *eh = image;
	if (size < sizeof (*eh) ||
	    memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != (sizeof (void *) == 8 ? ELFCLASS64 :
	    ELFCLASS32) ||
	    eh->e_ident[EI_DATA] != (__BYTE_ORDER__ ==
	    __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB) ||
	    eh->e_shentsize != sizeof (ElfW(Shdr)) || eh->e_shnum == 0 ||
	    eh->e_shoff % _Alignof(ElfW(Shdr)) != 0 || eh->e_shoff > size ||
	    (size - eh->e_shoff) / sizeof (ElfW(Shdr)) < eh->e_shnum)
		return (NULL);
	*count = eh->e_shnum;
	return ((const ElfW(Shdr) *)(const void *)((const char *)image +
	    eh->e_shoff));
}

/* Does [offset, offset + length) lie inside the image? */
static bool
inside(size_t size, uint64_t offset, uint64_t length)
{
	return (offset <= size && length <= size - offset);
}

/* Table sh of type SHT_SYMTAB or SHT_DYNSYM, with its strings, into es. */
static bool
table_open(const void *image, size_t size, const ElfW(Shdr) *shdrs,
    size_t nsections, const ElfW(Shdr) *sh, elf_symbols_t *es)
{
	if (sh->sh_entsize != sizeof (ElfW(Sym)) || sh->sh_link >= nsections ||
	    sh->sh_offset % _Alignof(ElfW(Sym)) != 0 ||
	    !inside(size, sh->sh_offset, sh->sh_size))
		return (false);
	const ElfW(Shdr) *str = &shdrs[sh->sh_link];
	if (str->sh_type != SHT_STRTAB || str->sh_size == 0 ||
	    !inside(size, str->sh_offset, str->sh_size))
		return (false);
	es->syms = (const char *)image + sh->sh_offset;
	es->count = sh->sh_size / sizeof (ElfW(Sym));
	es->strings = (const char *)image + str->sh_offset;
	es->strings_size = str->sh_size;
	return (true);
}

bool
elf_symbols_open(const void *image, size_t size, elf_symbols_t *es)
{
	size_t n;
	const ElfW(Shdr) *shdrs = section_headers(image, size, &n);
	if (shdrs == NULL)
		return (false);
	const ElfW(Shdr) *dynsym = NULL;
	for (size_t i = 0; i < n; i++) {
		if (shdrs[i].sh_type == SHT_SYMTAB &&
		    table_open(image, size, shdrs, n, &shdrs[i], es))
			return (true);
		if (shdrs[i].sh_type == SHT_DYNSYM && dynsym == NULL)
			dynsym = &shdrs[i];
	}
	return (dynsym != NULL && table_open(image, size, shdrs, n, dynsym, es));
}

/* Higher is preferred when symbols overlap. */
static int
binding_rank(unsigned char info)
{
	switch (ELF64_ST_BIND(info)) {
	case STB_GLOBAL:
		return (3);
	case STB_WEAK:
		return (2);
	default:
		return (1);
	}
}

const char *
elf_symbols_find(const elf_symbols_t *es, uintptr_t addr, uintptr_t *start)
{
	const ElfW(Sym) *syms = es->syms, *best = NULL;
	for (size_t i = 0; i < es->count; i++) {
		const ElfW(Sym) *s = &syms[i];
		unsigned type = ELF64_ST_TYPE(s->st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
		    s->st_shndx == SHN_UNDEF || s->st_name >= es->strings_size ||
		    addr < s->st_value || addr - s->st_value >= s->st_size)
			continue;
		if (best == NULL ||
		    binding_rank(s->st_info) > binding_rank(best->st_info))
			best = s;
	}
	if (best == NULL)
		return (NULL);
	const char *name = es->strings + best->st_name;
	if (memchr(name, '\0', es->strings_size - best->st_name) == NULL ||
	    name[0] == '\0')
		return (NULL);
	*start = (uintptr_t)best->st_value;
	return (name);
}

bool
elf_section(const void *image, size_t size, const char *name,
    const unsigned char **data, size_t *length)
{
	size_t n;
	const ElfW(Shdr) *shdrs = section_headers(image, size, &n);
	const ElfW(Ehdr) *eh = image;
	if (shdrs == NULL || eh->e_shstrndx >= n)
		return (false);
	const ElfW(Shdr) *names = &shdrs[eh->e_shstrndx];
	if (!inside(size, names->sh_offset, names->sh_size))
		return (false);
	size_t want = strlen(name) + 1;
	for (size_t i = 0; i < n; i++) {
		if (shdrs[i].sh_name >= names->sh_size ||
		    names->sh_size - shdrs[i].sh_name < want ||
		    memcmp((const char *)image + names->sh_offset +
		    shdrs[i].sh_name, name, want) != 0)
			continue;
		if (shdrs[i].sh_type != SHT_PROGBITS ||
		    (shdrs[i].sh_flags & SHF_COMPRESSED) ||
		    shdrs[i].sh_size == 0 ||
		    !inside(size, shdrs[i].sh_offset, shdrs[i].sh_size))
			return (false);
		*data = (const unsigned char *)image + shdrs[i].sh_offset;
		*length = shdrs[i].sh_size;
		return (true);
	}
	return (false);
}
