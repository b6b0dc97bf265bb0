/*
 * kmem_symbolize() (src/platform/symbolize.c) and the ELF reader under it
 * (elf_symbols.c):
 * - a static function of this program, which is linked without -rdynamic,
 *   is named from its .symtab, and, with libdw (KMEM_HAVE_LIBDW, set by
 *   CMake for this test), given with this file's name and the line of the
 *   call;
 * - with a library lock held, the frame is named without its line: libdw
 *   would allocate through malloc, which may be the library's;
 * - a fork child can symbolize while other threads of its parent were
 *   symbolizing when it forked (the symbolizer's lock is not inherited
 *   held);
 * - the ELF reader takes any bytes: truncated and damaged copies of this
 *   program's file give an answer or none, and read nothing outside the
 *   image (AddressSanitizer's build checks that), and a non-ELF image has
 *   no symbols.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "platform/elf_symbols.h"
#include "platform/platform.h"

static unsigned call_line;

/*
 * The return address of the call to kmem_backtrace(), in a static
 * function: the first frame that names it (ThreadSanitizer's build, which
 * takes its stacks from backtrace() through the sanitizer's interceptor,
 * has one more frame on top).
 */
static __attribute__((noinline)) uintptr_t
static_caller(void)
{
	uintptr_t pcs[3];
	call_line = __LINE__ + 1;
	unsigned n = kmem_backtrace(pcs, 3, 0);
	__asm__ volatile("" ::: "memory");      /* no tail call */
	for (unsigned i = 0; i < n; i++) {
		char name[256];
		if (kmem_symbolize(pcs[i], name, sizeof (name)) &&
		    strncmp(name, "static_caller+0x", 16) == 0)
			return (pcs[i]);
	}
	return (0);
}

static void
test_static_function_named(void)
{
	uintptr_t pc = static_caller();
	CHECK(pc != 0);
	char name[256], want[128];
	CHECK(kmem_symbolize(pc, name, sizeof (name)));
	CHECK(strncmp(name, "static_caller+0x", 16) == 0);
	CHECK(strstr(name, " (symbolize_test)") != NULL);
#ifdef KMEM_HAVE_LIBDW
	snprintf(want, sizeof (want), " at symbolize_test.c:%u (", call_line);
	CHECK(strstr(name, want) != NULL);
#else
	(void) want;
	CHECK(strstr(name, " at ") == NULL);
#endif

	/* A library lock held: the name, no line. */
	static kmem_mutex_t lock = KMEM_MUTEX_INITIALIZER(5);
	kmem_mutex_enter(&lock);
	char locked[256];
	CHECK(kmem_symbolize(pc, locked, sizeof (locked)));
	kmem_mutex_exit(&lock);
	CHECK(strncmp(locked, "static_caller+0x", 16) == 0);
	CHECK(strstr(locked, " at ") == NULL);

	/* A short buffer: truncated, terminated. */
	char small[8];
	CHECK(kmem_symbolize(pc, small, sizeof (small)));
	CHECK(strcmp(small, "static_") == 0);
	CHECK(!kmem_symbolize(0, name, sizeof (name)));
	CHECK(strcmp(name, "0x0") == 0);
}

static volatile int symbolizers_stop;

static void *
symbolizer(void *arg)
{
	uintptr_t pc = (uintptr_t)arg;
	char name[256];
	while (!__atomic_load_n(&symbolizers_stop, __ATOMIC_ACQUIRE))
		CHECK(kmem_symbolize(pc, name, sizeof (name)));
	return (NULL);
}

static void
test_fork_while_symbolizing(void)
{
	uintptr_t pc = static_caller();
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, symbolizer,
		    (void *)pc) == 0);
	for (int i = 0; i < 30; i++) {
		pid_t child = fork();
		CHECK(child >= 0);
		if (child == 0) {
			char name[256];
			_exit(kmem_symbolize(pc, name, sizeof (name)) &&
			    strncmp(name, "static_caller+0x", 16) == 0 ? 0 : 1);
		}
		int status;
		CHECK(waitpid(child, &status, 0) == child);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	__atomic_store_n(&symbolizers_stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
}

/* This program's file, read into the heap. */
static unsigned char *
read_self(size_t *size)
{
	FILE *f = fopen("/proc/self/exe", "rb");
	CHECK(f != NULL);
	struct stat st;
	CHECK(fstat(fileno(f), &st) == 0 && st.st_size > 0);
	unsigned char *image = malloc((size_t)st.st_size);
	CHECK(image != NULL);
	CHECK(fread(image, 1, (size_t)st.st_size, f) == (size_t)st.st_size);
	fclose(f);
	*size = (size_t)st.st_size;
	return (image);
}

/* Look up a few addresses in image[0, size); the answers do not matter. */
static void
probe(const unsigned char *image, size_t size)
{
	elf_symbols_t es;
	(void) elf_has_debug_line(image, size);
	if (!elf_symbols_open(image, size, &es))
		return;
	uintptr_t start;
	for (uintptr_t addr = 0; addr < 0x10000; addr += 0x1001)
		(void) elf_symbols_find(&es, addr, &start);
}

static void
test_elf_reader_takes_any_bytes(void)
{
	size_t size;
	unsigned char *image = read_self(&size);
	elf_symbols_t es;
	CHECK(elf_symbols_open(image, size, &es));
	CHECK(elf_has_debug_line(image, size));  /* built with -g */

	/* Truncated: a copy of each length, so ASan sees reads past it. */
	for (size_t len = 0; len < size; len += len < 256 ? 1 : 16411) {
		unsigned char *copy = malloc(len != 0 ? len : 1);
		CHECK(copy != NULL);
		memcpy(copy, image, len);
		probe(copy, len);
		free(copy);
	}
	/* Damaged: bytes of the headers and tables overwritten. */
	srand(17);
	unsigned char *copy = malloc(size);
	CHECK(copy != NULL);
	for (int round = 0; round < 100; round++) {
		memcpy(copy, image, size);
		for (int i = 0; i < 8; i++) {
			size_t at = round % 2 == 0 ? (size_t)rand() % 64 :
			    size - 1 - (size_t)rand() % (size < 8192 ? size :
			    8192);
			copy[at] = (unsigned char)rand();
		}
		probe(copy, size);
	}
	free(copy);

	static const char text[] = "not an ELF file at all, just some text";
	CHECK(!elf_symbols_open(text, sizeof (text), &es));
	CHECK(!elf_has_debug_line(text, sizeof (text)));
	free(image);
}

int
main(void)
{
	test_static_function_named();
	test_fork_while_symbolizing();
	test_elf_reader_takes_any_bytes();
	return (0);
}
