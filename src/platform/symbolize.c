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
 * table gives the file and line when the build has libdw (dwarf_lines.c,
 * KMEM_HAVE_LIBDW).  An offset is from the start of the function, or,
 * with no function, from the object's load address: the link-time
 * address, which `addr2line -e object` takes.  A return address is the
 * instruction after the call, which may be the first of the next function
 * or line (a call that does not return ends its function): the lookups
 * are made for the address one byte before it.
 *
 * What it allocates, and why that is safe in a report (the report may
 * come from inside malloc, libkmem's malloc being the program's, from a
 * fork child, or on a damaged heap):
 * - the mapped files: mmap() of the file, never the heap.  Up to
 *   OBJECTS_MAX objects stay mapped, with what was learnt of them, in a
 *   table in static memory, for the life of the process; past that, an
 *   object is mapped for the one lookup and unmapped;
 * - names and formatting: the caller's buffer and this stack;
 * - libdw's Elf/Dwarf handles and the line tables it parses: malloc, once
 *   per object and compilation unit, kept in the table.  malloc may be
 *   libkmem's, so libdw is called only when the calling thread holds no
 *   library lock (kmem_platform_locks_held(): a lock held would be taken
 *   again or out of order by the nested malloc), is not in a fault
 *   handler (a guard page's report: malloc is not async-signal-safe,
 *   kmem_platform_in_fault()) and is not already inside the symbolizer (a
 *   report raised by that nested malloc, on a damaged heap, is symbolized
 *   without lines rather than recursing).  Otherwise the frame is printed
 *   without its line.
 *
 * Lock: symbolize_lock guards the table and serializes libdw, which is not
 * thread-safe.  It is a platform lock of its own, not a ranked library
 * lock, because it is held across libdw's calls into malloc: it comes
 * before every library lock (fork takes it first, below), and the
 * symbolizer takes no other lock but the dynamic linker's, which
 * dl_iterate_phdr() takes and releases.  A thread that comes back into the
 * symbolizer while holding it (the nested report above, or a fork from
 * inside it) does not take it again: it maps, looks up and unmaps without
 * the table.  fork() takes it before the library's locks and releases it
 * in both processes, so a child never inherits it held by a thread it does
 * not have (but for a fork from a signal handler inside the library,
 * below, whose child symbolizes without the table).
 */
#define _GNU_SOURCE     /* dl_iterate_phdr */
#include "platform/platform.h"
#include "platform/platform_impl.h"
#include "platform/elf_symbols.h"
#ifdef KMEM_HAVE_LIBDW
#include "platform/dwarf_lines.h"
#endif

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
	bool has_lines;         /* a .debug_line section */
#ifdef KMEM_HAVE_LIBDW
	dwarf_lines_t lines;
#endif
} object_t;

static pthread_mutex_t symbolize_lock = PTHREAD_MUTEX_INITIALIZER;
static object_t objects[OBJECTS_MAX];   /* under symbolize_lock */
static unsigned nobjects;
static bool table_untrusted;    /* in a child forked without the lock */
static __thread volatile bool symbolizing
    __attribute__((tls_model("initial-exec")));
/*
 * The forks this thread is inside (a signal handler may fork while the
 * thread is between a fork's prepare and parent handlers): bit d of
 * fork_took says whether the prepare at depth d took the lock.
 */
#define FORK_DEPTH_MAX  32
static __thread unsigned fork_depth
    __attribute__((tls_model("initial-exec")));
static __thread uint32_t fork_took
    __attribute__((tls_model("initial-exec")));

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
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		/*
		 * Private and writable for libelf, whose elf_memory() takes
		 * the image as ELF_C_READ_MMAP_PRIVATE; nothing here writes
		 * it, and an untouched page costs nothing.
		 */
		void *image = mmap(NULL, (size_t)st.st_size,
		    PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (image != MAP_FAILED) {
			o->image = image;
			o->size = (size_t)st.st_size;
			o->has_symbols = elf_symbols_open(image, o->size,
			    &o->symbols);
			o->has_lines = elf_has_debug_line(image, o->size);
		}
	}
	(void) close(fd);
}

static void
object_unmap(object_t *o)
{
	if (o->image != NULL)
		(void) munmap((void *)(uintptr_t)o->image, o->size);
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
	return (&objects[nobjects++]);
}

/* The frame at pc in object o into buf; lines only when allowed. */
static void
frame_format(object_t *o, uintptr_t pc, bool lines, char *buf, size_t len)
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
#ifdef KMEM_HAVE_LIBDW
	const char *file;
	unsigned line;
	if (lines && o->has_lines && dwarf_lines_find(&o->lines, o->image,
	    o->size, addr, &file, &line)) {
		(void) snprintf(buf, len, "%s+0x%zx at %s:%u (%s)", function,
		    offset, file, line, o->name);
		return;
	}
#else
	(void) lines;
#endif
	(void) snprintf(buf, len, "%s+0x%zx (%s)", function, offset, o->name);
}

/* The frame at pc, no lock held by this thread but maybe the table's. */
static bool
symbolize_frame(uintptr_t pc, bool cached, bool lines, char *buf, size_t len)
{
	loaded_t l = { .pc = pc - 1 };
	if (pc == 0 || (dl_iterate_phdr(find_loaded, &l), !l.found)) {
		(void) snprintf(buf, len, "0x%zx", (size_t)pc);
		return (false);
	}
	object_t *o = cached ? object_cached(&l) : NULL;
	if (o != NULL) {
		frame_format(o, pc, lines, buf, len);
	} else {
		object_t one;
		object_map(&one, &l);
		frame_format(&one, pc, false, buf, len);
		object_unmap(&one);
	}
	return (true);
}

/*
 * dl_iterate_phdr() is called under symbolize_lock too: fork() takes the
 * lock first, so no thread of ours is inside the dynamic linker's list
 * when the child is made (glibc does not reset that list's lock in the
 * child, whose first dl_iterate_phdr() would wait for ever).
 */
bool
kmem_symbolize(uintptr_t pc, char *buf, size_t len)
{
	if (symbolizing || table_untrusted)
		return (symbolize_frame(pc, false, false, buf, len));
	bool lines = !kmem_platform_locks_held() &&
	    !kmem_platform_in_fault();
	symbolizing = true;
	pthread_mutex_lock(&symbolize_lock);
	bool known = symbolize_frame(pc, true, lines, buf, len);
	pthread_mutex_unlock(&symbolize_lock);
	symbolizing = false;
	return (known);
}

/*
 * fork(): the lock is taken before the library's locks (these handlers
 * are registered after the platform's, and prepare handlers run in the
 * reverse order), and let go on both sides.  A fork from inside the
 * symbolizer (a report handler that forks) finds it held by its own
 * thread and leaves it.  A fork from a signal handler that interrupted
 * the library stands aside, as the library's own handlers do
 * (docs/locking.md): another thread may hold the lock while it waits for a
 * library lock the forking thread holds; so does one from a signal handler
 * that interrupted a fork's handlers after this prepare took the lock
 * (symbolizing is set before the lock is taken, so the nested fork sees
 * it).  The child of such a fork cannot
 * trust the table, which another thread may have been changing: it gets a
 * fresh lock and symbolizes without the table from then on.
 */
static void
symbolize_fork_prepare(void)
{
	unsigned depth = fork_depth++;
	bool take = !symbolizing && !kmem_platform_locks_held() &&
	    depth < FORK_DEPTH_MAX;
	if (depth < FORK_DEPTH_MAX)
		fork_took = take ? fork_took | (1u << depth) :
		    fork_took & ~(1u << depth);
	if (take) {
		symbolizing = true;
		pthread_mutex_lock(&symbolize_lock);
	}
}

/* Did the prepare handler of the fork now returning take the lock? */
static bool
fork_returning_took(void)
{
	unsigned depth = --fork_depth;
	return (depth < FORK_DEPTH_MAX && (fork_took & (1u << depth)));
}

static void
symbolize_fork_parent(void)
{
	if (fork_returning_took()) {
		pthread_mutex_unlock(&symbolize_lock);
		symbolizing = false;
	}
}

static void
symbolize_fork_child(void)
{
	if (fork_returning_took()) {
		pthread_mutex_unlock(&symbolize_lock);
		symbolizing = false;
	} else if (!symbolizing) {
		table_untrusted = true;
		pthread_mutex_init(&symbolize_lock, NULL);
	}
}

__attribute__((constructor(102))) static void
symbolize_init(void)
{
	(void) pthread_atfork(symbolize_fork_prepare, symbolize_fork_parent,
	    symbolize_fork_child);
}
