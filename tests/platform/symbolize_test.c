/*
 * kmem_symbolize() (src/platform/symbolize.c) and the ELF and DWARF
 * readers under it (elf_symbols.c, dwarf_lines.c):
 * - a static function of this program, which is linked without -rdynamic,
 *   is named from its .symtab, and given with this file's name and the
 *   line of the call, from its .debug_line;
 * - with a library lock held, the same, line included: nothing the
 *   symbolizer does allocates or takes a library lock;
 * - a fork child can symbolize while other threads of its parent were
 *   symbolizing when it forked (the symbolizer's lock is not inherited
 *   held);
 * - a report made under a library lock (kmem_debug_verify()'s) has its
 *   lines, and fork() while another thread makes such reports does not
 *   deadlock: the symbolizer's lock is taken after the library's at fork;
 * - the ELF reader takes any bytes: truncated and damaged copies of this
 *   program's file give an answer or none, and read nothing outside the
 *   image (AddressSanitizer's build checks that), and a non-ELF image has
 *   no symbols;
 * - the DWARF line reader finds this file's lines, with and without an
 *   index of its units, and takes any bytes: truncated and damaged copies
 *   of this program's .debug_line give no line or a line with a file name
 *   inside the sections, and read nothing outside them.
 */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/debug.h>
#include <kmem/kmem.h>

#include "base/poison.h"
#include "check.h"
#include "platform/dwarf_lines.h"
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
	snprintf(want, sizeof (want), " at symbolize_test.c:%u (", call_line);
	CHECK(strstr(name, want) != NULL);

	/* A library lock held: the same. */
	static kmem_mutex_t lock = KMEM_MUTEX_INITIALIZER(5);
	kmem_mutex_enter(&lock);
	char locked[256];
	CHECK(kmem_symbolize(pc, locked, sizeof (locked)));
	kmem_mutex_exit(&lock);
	CHECK(strcmp(locked, name) == 0);

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

static atomic_uint reports_with_lines;
static atomic_int verifiers_stop;
static unsigned free_line;

/* A report handler that counts the reports naming this file's lines. */
static void
count_report(void *arg, kmem_report_kind_t kind, const char *message)
{
	(void) arg;
	(void) kind;
	char want[64];
	snprintf(want, sizeof (want), " at symbolize_test.c:%u (", free_line);
	if (strstr(message, "found by kmem_debug_verify()") != NULL &&
	    strstr(message, want) != NULL)
		atomic_fetch_add(&reports_with_lines, 1);
}

static void *
verifier(void *arg)
{
	(void) arg;
	while (!atomic_load(&verifiers_stop))
		CHECK_EQ(kmem_debug_verify(), 1);
	return (NULL);
}

/*
 * kmem_debug_verify() reports a damaged free buffer holding its own lock;
 * the report's stacks name their lines (the free's, here).  A fork takes
 * that lock too: had it taken the symbolizer's first, it would wait for
 * the verifier, which waits for the symbolizer's lock in its report.
 */
KMEM_READS_FREED static void
test_fork_while_reporting_under_lock(void)
{
	kmem_cache_t *cp = kmem_cache_create("symbolize_waf", 64, 0, NULL,
	    NULL, NULL, NULL, NULL, 0);
	CHECK(cp != NULL);
	volatile char *b = kmem_cache_alloc(cp, KM_SLEEP);
	free_line = __LINE__ + 1;
	kmem_cache_free(cp, (void *)b);
	char saved = b[8];
	b[8] = (char)(saved ^ 1);
	kmem_report_handler_t *prev = kmem_report_handler_set(count_report,
	    NULL, NULL);
	CHECK_EQ(kmem_debug_verify(), 1);
	CHECK_EQ(atomic_load(&reports_with_lines), 1);

	pthread_t t;
	CHECK(pthread_create(&t, NULL, verifier, NULL) == 0);
	for (int i = 0; i < 10; i++) {
		pid_t child = fork();
		CHECK(child >= 0);
		if (child == 0)
			_exit(0);
		int status;
		CHECK(waitpid(child, &status, 0) == child);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	atomic_store(&verifiers_stop, 1);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(atomic_load(&reports_with_lines) > 1);

	b[8] = saved;
	CHECK_EQ(kmem_debug_verify(), 0);
	(void) kmem_report_handler_set(prev, NULL, NULL);
	kmem_cache_destroy(cp);
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
	dwarf_lines_t dl;
	if (dwarf_lines_open(image, size, &dl)) {
		CHECK(dl.line >= image && dl.line_size <= size &&
		    (size_t)(dl.line - image) <= size - dl.line_size);
	}
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
	dwarf_lines_t dl;
	CHECK(dwarf_lines_open(image, size, &dl));  /* built with -g */

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
	CHECK(!dwarf_lines_open(text, sizeof (text), &dl));
	free(image);
}

/* A copy of n bytes at p, exactly that long, so ASan sees reads past it. */
static unsigned char *
copy_of(const unsigned char *p, size_t n)
{
	unsigned char *copy = malloc(n != 0 ? n : 1);
	CHECK(copy != NULL);
	if (n != 0)
		memcpy(copy, p, n);
	return (copy);
}

/* Is s a string wholly inside [p, p + n)? */
static bool
string_inside(const char *s, const unsigned char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	return (p != NULL && u >= p && u < p + n &&
	    memchr(u, '\0', (size_t)(p + n - u)) != NULL);
}

/*
 * Look up the addresses of addrs in dl: each gives no line, or a line
 * with a file name inside one of dl's sections; how many gave one.
 */
static unsigned
lines_probe(const dwarf_lines_t *dl, const uint64_t *addrs, unsigned n)
{
	unsigned found = 0;
	for (unsigned i = 0; i < n; i++) {
		const char *file;
		unsigned line;
		if (!dwarf_lines_find(dl, addrs[i], &file, &line))
			continue;
		found++;
		CHECK(line > 0);
		CHECK(file[0] != '\0' && strchr(file, '/') == NULL);
		CHECK(string_inside(file, dl->line, dl->line_size) ||
		    string_inside(file, dl->line_str, dl->line_str_size) ||
		    string_inside(file, dl->str, dl->str_size));
	}
	return (found);
}

/*
 * The length of the first whole units of a .debug_line, at least want
 * bytes of them when there are (the damage goes there: a few units are as
 * good as all, and quicker under the sanitizers).
 */
static size_t
units_prefix(const unsigned char *p, size_t size, size_t want)
{
	size_t at = 0;
	while (at < want && size - at >= 4) {
		uint32_t length32;
		memcpy(&length32, p + at, 4);
		uint64_t length = length32, header = 4;
		if (length32 == 0xffffffffu) {
			if (size - at < 12)
				break;
			memcpy(&length, p + at + 4, 8);
			header = 12;
		}
		if (length > size - at - header)
			break;
		at += header + length;
	}
	return (at != 0 ? at : size);
}

static int
bias_of_program(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void) size;
	*(uintptr_t *)arg = info->dlpi_addr;
	return (1);     /* the first object listed is the program */
}

static void
test_line_reader_takes_any_bytes(void)
{
	size_t size;
	unsigned char *image = read_self(&size);
	dwarf_lines_t real;
	CHECK(dwarf_lines_open(image, size, &real));
	uintptr_t bias = 0;
	dl_iterate_phdr(bias_of_program, &bias);

	/* The real section: the call's line, as kmem_symbolize() gives it. */
	uint64_t addrs[8];
	addrs[0] = static_caller() - 1 - bias;
	const char *file;
	unsigned line;
	CHECK(dwarf_lines_find(&real, addrs[0], &file, &line));
	CHECK(strcmp(file, "symbolize_test.c") == 0);
	CHECK_EQ(line, call_line);
	/* Other functions of this file, and addresses nothing covers. */
	addrs[1] = (uintptr_t)test_fork_while_symbolizing - bias + 4;
	addrs[2] = (uintptr_t)lines_probe - bias + 8;
	addrs[3] = (uintptr_t)test_static_function_named - bias + 2;
	addrs[4] = 0;
	addrs[5] = 1;
	addrs[6] = UINT64_MAX;
	addrs[7] = addrs[0] + 0x1000000;
	CHECK_EQ(lines_probe(&real, addrs, 8), 4);
	/* With an index of the units: the same. */
	size_t nunits = dwarf_lines_units(&real);
	dwarf_span_t *spans = malloc(nunits * sizeof (*spans));
	CHECK(nunits > 1 && spans != NULL);
	CHECK_EQ(dwarf_lines_index(&real, spans, nunits), nunits);
	dwarf_lines_t indexed = real;
	indexed.spans = spans;
	indexed.nspans = nunits;
	CHECK_EQ(lines_probe(&indexed, addrs, 8), 4);
	const char *file2;
	unsigned line2;
	CHECK(dwarf_lines_find(&indexed, addrs[0], &file2, &line2));
	CHECK(file2 == file && line2 == line);
	free(spans);

	/* Private copies of the sections, which the damage goes into. */
	dwarf_lines_t dl = real;
	unsigned char *line_str = copy_of(real.line_str, real.line_str_size);
	unsigned char *str = copy_of(real.str, real.str_size);
	dl.line_str = real.line_str != NULL ? line_str : NULL;
	dl.str = real.str != NULL ? str : NULL;

	/*
	 * Truncated anywhere: the unit cut is not read, the ones before it
	 * are (dwarf_lines_test.c cuts units with their lengths made to
	 * fit).
	 */
	size_t part = units_prefix(real.line, real.line_size, 8192);
	for (size_t len = 0; len < part; len += len < 256 ? 1 : 509) {
		unsigned char *copy = copy_of(real.line, len);
		dl.line = copy;
		dl.line_size = len;
		(void) lines_probe(&dl, addrs, 8);
		free(copy);
	}
	/* Bytes changed at random: one to eight of them, anywhere. */
	srand(17);
	unsigned char *copy = malloc(part);
	CHECK(copy != NULL);
	dl.line = copy;
	dl.line_size = part;
	for (int round = 0; round < 400; round++) {
		memcpy(copy, real.line, part);
		int flips = 1 + rand() % 8;
		for (int i = 0; i < flips; i++) {
			/* Half of them in the first unit's header. */
			size_t at = (size_t)rand() % (round % 2 == 0 &&
			    part > 64 ? 64 : part);
			copy[at] ^= (unsigned char)(1 + rand() % 255);
		}
		(void) lines_probe(&dl, addrs, 8);
	}
	/* The string sections shortened under intact units. */
	memcpy(copy, real.line, part);
	for (size_t len = 0; len < 64 && len < real.line_str_size; len++) {
		dl.line_str_size = len;
		dl.str_size = len < real.str_size ? len : real.str_size;
		(void) lines_probe(&dl, addrs, 8);
	}
	free(copy);
	free(line_str);
	free(str);
	free(image);
}

int
main(void)
{
	char err[128];
	CHECK(kmem_debug_configure("default", NULL, err, sizeof (err)) == 0);
	test_static_function_named();
	test_fork_while_symbolizing();
	test_fork_while_reporting_under_lock();
	test_elf_reader_takes_any_bytes();
	test_line_reader_takes_any_bytes();
	return (0);
}
