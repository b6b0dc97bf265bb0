/*
 * kmem_symbolize() (platform.h): a return address of a stack the debugging
 * layer captured, as a person reads it, when a report is printed:
 *
 *	function+0xoff at file.c:line (object)   the object has DWARF lines
 *	function+0xoff (object)                  it has a symbol table
 *	object+0xoff                             it has neither (stripped)
 *
 * The object is the loaded ELF file whose segment holds the address
 * (dl_iterate_phdr(); the program itself through /proc/self/exe).  The
 * file is mapped read-only, whole, and its own symbol table read
 * (elf_symbols.c: .symtab, so static functions and a program's functions
 * without -rdynamic are named; .dynsym when stripped); its DWARF line
 * programs give the file and line (dwarf_lines.c, our own reader).  An
 * offset is from the start of the function, or, with no function, from
 * the object's load address: the link-time address, which `addr2line -e
 * object` takes.  A return address is the instruction after the call,
 * which may be the first of the next function or line (a call that does
 * not return ends its function): the lookups are made for the address
 * one byte before it.
 *
 * What it allocates, and why that is safe in a report (the report may
 * come from inside malloc, libkmem's malloc being the program's, under a
 * library lock, from the guard pages' fault handler, from a fork child,
 * or on a damaged heap): no heap memory at all.
 * - the mapped files: mmap() of the file, never the heap.  Up to
 *   OBJECTS_MAX objects stay mapped, with where their symbol table and
 *   line sections are, in a table in static memory, for the life of the
 *   process; past that, an object is mapped for the one lookup and
 *   unmapped;
 * - the index of a table object's line units (object_index()): anonymous
 *   pages from mmap(), 24 bytes a compilation unit, kept with it;
 * - names and formatting: the caller's buffer and this stack; the
 *   symbol and line readers keep their state on the stack and return
 *   pointers into the mapped file.
 * So every report gets its lines, whatever the thread holds.
 *
 * Lock: symbolize_lock guards the table.  It is a platform lock of its
 * own, a leaf: the symbolizer takes no other lock under it but the
 * dynamic linker's, which dl_iterate_phdr() takes and releases, and
 * calls nothing that could take one (no malloc), so a report made under
 * any library lock may take it.  fork() takes it after every library lock
 * (its handlers are registered with the platform at SYMBOLIZE_FORK_RANK,
 * above every rank of lock_order.h) and releases it in both processes,
 * so a child never inherits it held by a thread it does not have, and no
 * thread of ours is inside the dynamic linker's list when the child is
 * made (glibc does not reset that list's lock in the child, whose first
 * dl_iterate_phdr() would wait for ever).  A thread that comes back into
 * the symbolizer while it holds the lock (a signal handler that reports,
 * or forks, while the thread was symbolizing) does not take it again: it
 * maps, looks up and unmaps without the table.  A fork whose handlers
 * stood aside (a fork from a signal handler that interrupted the library,
 * docs/locking.md) may leave the lock held by a thread the child does not
 * have: that child gets a fresh lock and symbolizes without the table
 * from then on.
 */
#define _GNU_SOURCE     /* dl_iterate_phdr */
#include "platform/platform.h"
#include "platform/platform_impl.h"
#include "platform/elf_symbols.h"
#include "platform/dwarf_lines.h"

#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define OBJECTS_MAX     64
#define OBJECT_NAME_MAX 64
/* After every library lock at fork (lock_order.h's ranks end below). */
#define SYMBOLIZE_FORK_RANK     100

/* The loaded object that holds an address. */
typedef struct loaded {
	uintptr_t pc;
	const char *path;       /* "" for the program itself */
	uintptr_t bias;         /* run-time address less link-time address */
	bool found;
} loaded_t;

/* A mapped object file and what it offers. */
typedef struct object {
	uintptr_t bias;
	uint64_t key;           /* hash of the path */
	char name[OBJECT_NAME_MAX];     /* the file's last path component */
	const void *image;      /* the whole file; NULL: it cannot be read */
	size_t size;
	elf_symbols_t symbols;
	bool has_symbols;
	dwarf_lines_t lines;
	bool has_lines;         /* a .debug_line section it can read */
} object_t;

static pthread_mutex_t symbolize_lock = PTHREAD_MUTEX_INITIALIZER;
static object_t objects[OBJECTS_MAX];   /* under symbolize_lock */
static unsigned nobjects;
static bool table_untrusted;    /* in a child forked without the lock */
static __thread volatile bool symbolizing
    __attribute__((tls_model("initial-exec")));
/* Whether the prepare handler of the fork in progress took the lock. */
static bool fork_took;
static bool fork_child_done;    /* its child handler ran */

static int
find_loaded(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void) size;
	loaded_t *l = arg;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && l->pc >= lo &&
		    l->pc - lo < ph->p_memsz) {
			l->path = info->dlpi_name != NULL ? info->dlpi_name : "";
			l->bias = info->dlpi_addr;
			l->found = true;
			return (1);
		}
	}
	return (0);
}

static uint64_t
path_key(const char *path)
{
	uint64_t h = 0xcbf29ce484222325u;       /* FNV-1a */
	for (; *path != '\0'; path++)
		h = (h ^ (unsigned char)*path) * 0x100000001b3u;
	return (h);
}

static void
name_set(object_t *o, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	if (base[0] == '\0')
		base = "?";
	size_t n = strnlen(base, sizeof (o->name) - 1);
	memcpy(o->name, base, n);
	o->name[n] = '\0';
}

/*
 * Map the object l names into o.  The program itself has no path in the
 * dynamic linker's list: its file is /proc/self/exe, its name that link's
 * target.  An object that cannot be read (the vDSO, a file deleted or
 * replaced since it was loaded) keeps image NULL and is named still.
 */
static void
object_map(object_t *o, const loaded_t *l)
{
	*o = (object_t){ .bias = l->bias, .key = path_key(l->path) };
	const char *path = l->path;
	if (path[0] == '\0') {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof (exe) - 1);
		exe[n > 0 ? n : 0] = '\0';
		name_set(o, exe);
		path = "/proc/self/exe";
	} else {
		name_set(o, path);
	}
	int cancel = kmem_platform_cancel_off();        /* under our lock */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		kmem_platform_cancel_restore(cancel);
		return;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		void *image = mmap(NULL, (size_t)st.st_size, PROT_READ,
		    MAP_PRIVATE, fd, 0);
		if (image != MAP_FAILED) {
			o->image = image;
			o->size = (size_t)st.st_size;
			o->has_symbols = elf_symbols_open(image, o->size,
			    &o->symbols);
			o->has_lines = dwarf_lines_open(image, o->size,
			    &o->lines);
		}
	}
	(void) close(fd);
	kmem_platform_cancel_restore(cancel);
}

static void
object_unmap(object_t *o)
{
	if (o->image != NULL)
		(void) munmap((void *)(uintptr_t)o->image, o->size);
}

/*
 * The index of o's line units (dwarf_lines.c), in anonymous pages of its
 * own, kept with the table's entry: a lookup then decodes only the units
 * whose addresses hold its own, not every unit before them.  Without it
 * (no memory), every lookup reads the units in turn.
 */
static void
object_index(object_t *o)
{
	size_t n = o->has_lines ? dwarf_lines_units(&o->lines) : 0;
	if (n == 0 || n > SIZE_MAX / sizeof (dwarf_span_t))
		return;
	void *spans = mmap(NULL, n * sizeof (dwarf_span_t),
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (spans == MAP_FAILED)
		return;
	o->lines.nspans = dwarf_lines_index(&o->lines, spans, n);
	o->lines.spans = spans;
}

/* The table's entry for l, mapped now if it is new; NULL when full. */
static object_t *
object_cached(const loaded_t *l)
{
	uint64_t key = path_key(l->path);
	for (unsigned i = 0; i < nobjects; i++)
		if (objects[i].bias == l->bias && objects[i].key == key)
			return (&objects[i]);
	if (nobjects == OBJECTS_MAX)
		return (NULL);
	object_map(&objects[nobjects], l);
	object_index(&objects[nobjects]);
	return (&objects[nobjects++]);
}

/* The frame at pc in object o into buf. */
static void
frame_format(object_t *o, uintptr_t pc, char *buf, size_t len)
{
	uintptr_t addr = pc - 1 - o->bias, start;
	const char *function = o->has_symbols ?
	    elf_symbols_find(&o->symbols, addr, &start) : NULL;
	if (function == NULL) {
		(void) snprintf(buf, len, "%s+0x%zx", o->name,
		    (size_t)(pc - o->bias));
		return;
	}
	size_t offset = (size_t)(addr + 1 - start);
	const char *file;
	unsigned line;
	if (o->has_lines && dwarf_lines_find(&o->lines, addr, &file, &line))
		(void) snprintf(buf, len, "%s+0x%zx at %s:%u (%s)", function,
		    offset, file, line, o->name);
	else
		(void) snprintf(buf, len, "%s+0x%zx (%s)", function, offset,
		    o->name);
}

/* The frame at pc, from the table (cached) or from a mapping of its own. */
static bool
symbolize_frame(uintptr_t pc, bool cached, char *buf, size_t len)
{
	loaded_t l = { .pc = pc - 1 };
	if (pc == 0 || (dl_iterate_phdr(find_loaded, &l), !l.found)) {
		(void) snprintf(buf, len, "0x%zx", (size_t)pc);
		return (false);
	}
	object_t *o = cached ? object_cached(&l) : NULL;
	if (o != NULL) {
		frame_format(o, pc, buf, len);
	} else {
		object_t one;
		object_map(&one, &l);
		frame_format(&one, pc, buf, len);
		object_unmap(&one);
	}
	return (true);
}

/* dl_iterate_phdr() is called under symbolize_lock too: see fork, above. */
bool
kmem_symbolize(uintptr_t pc, char *buf, size_t len)
{
	if (symbolizing || table_untrusted)
		return (symbolize_frame(pc, false, buf, len));
	symbolizing = true;
	pthread_mutex_lock(&symbolize_lock);
	bool known = symbolize_frame(pc, true, buf, len);
	pthread_mutex_unlock(&symbolize_lock);
	symbolizing = false;
	return (known);
}

/*
 * fork(): the platform runs these after every library lock's prepare
 * (their rank is above all of lock_order.h's), with the asynchronous
 * signals blocked and the fork registry held, so one fork at a time sets
 * fork_took.  A fork from a signal handler that interrupted this thread
 * inside the symbolizer finds symbolizing set and leaves the lock, which
 * this thread holds or is taking: in the child the interrupted code goes
 * on and lets it go.
 */
static void
symbolize_fork_prepare(void)
{
	fork_took = !symbolizing;
	if (fork_took) {
		symbolizing = true;
		pthread_mutex_lock(&symbolize_lock);
	}
}

static void
symbolize_fork_parent(void)
{
	if (fork_took) {
		pthread_mutex_unlock(&symbolize_lock);
		symbolizing = false;
	}
}

static void
symbolize_fork_child(void)
{
	symbolize_fork_parent();
	fork_child_done = true;
}

/*
 * After every fork, in the child.  When the platform stood aside (the
 * fork came from a signal handler that interrupted the library) the child
 * handler did not run, and another thread may have held the lock, and
 * been changing the table, when the child was made.
 */
static void
symbolize_fork_child_always(void)
{
	if (fork_child_done) {
		fork_child_done = false;
	} else if (!symbolizing) {
		table_untrusted = true;
		pthread_mutex_init(&symbolize_lock, NULL);
	}
}

static const kmem_fork_handlers_t symbolize_fork_handlers = {
	.rank = SYMBOLIZE_FORK_RANK,
	.prepare = symbolize_fork_prepare,
	.parent = symbolize_fork_parent,
	.child = symbolize_fork_child,
	.child_always = symbolize_fork_child_always,
};

KMEM_FORK_REGISTRATION static void
symbolize_register(void)
{
	kmem_fork_register(&symbolize_fork_handlers);
}
