/*
 * The function symbols of an ELF image in memory (elf_symbols.c), for the
 * symbolizer (symbolize.c).  Platform-internal.
 */
#ifndef KMEM_ELF_SYMBOLS_H
#define KMEM_ELF_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One symbol table of an image and its strings; pointers into the image. */
typedef struct elf_symbols {
	const void *syms;       /* ElfW(Sym)[count] */
	size_t count;
	const char *strings;
	size_t strings_size;
} elf_symbols_t;

/*
 * The image's .symtab, or its .dynsym when it has none; false when the
 * image is no ELF file of this machine's class and byte order, or has
 * neither table, or a table that lies outside the image.
 */
bool elf_symbols_open(const void *image, size_t size, elf_symbols_t *es);

/*
 * The function whose [value, value + size) holds addr, a link-time
 * address; its start in *start.  NULL when none does.
 */
const char *elf_symbols_find(const elf_symbols_t *es, uintptr_t addr,
    uintptr_t *start);

/*
 * The contents of the section called name, in the image, into *data and
 * *length; false when there is none, or it is empty, holds no bytes in
 * the file (SHT_NOBITS), is compressed (SHF_COMPRESSED) or lies outside
 * the image.
 */
bool elf_section(const void *image, size_t size, const char *name,
    const unsigned char **data, size_t *length);

#endif /* KMEM_ELF_SYMBOLS_H */
