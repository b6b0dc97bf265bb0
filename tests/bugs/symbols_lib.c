/*
 * The shared library of the symbols test (symbols_prog.c): its allocation
 * is made in a static function, which no dynamic symbol table names, so
 * the leak report can name it only from the library's .symtab.  The
 * "LINE:" comments mark the lines run_symbols.sh expects in the reports.
 */
#include "symbols_lib.h"

#include <stdlib.h>

#include <kmem/kmem.h>

static __attribute__((noinline)) void *
lib_allocate(size_t size, int use_malloc)
{
	void *buf = use_malloc ? malloc(size) : kmem_alloc(size, KM_SLEEP); /* LINE:lib_allocate */
	return (buf);
}

void *
symbols_lib_alloc(size_t size, int use_malloc)
{
	void *buf = lib_allocate(size, use_malloc); /* LINE:symbols_lib_alloc */
	return (buf);
}
