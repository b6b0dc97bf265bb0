/*
 * Source file and line of an address, from the DWARF line programs of an
 * ELF image already in memory (symbolize.c maps each object's file once;
 * elf_symbols.c finds its sections).  Our own reader, because the report
 * that needs a line may come from anywhere: inside malloc (libkmem's being
 * the program's), under a library lock, from the guard pages' SIGSEGV
 * handler, in a fork child, on a damaged heap.  It allocates nothing,
 * takes no lock and makes no system call; its state is a few words on the
 * stack.
 *
 * The format, for what is read here (DWARF 2 to 5, section 6.2):
 * .debug_line is a sequence of units, one per compilation unit, each a
 * header and a line program.  The header gives the unit's length (32-bit
 * DWARF: 4 bytes; 64-bit: 0xffffffff then 8, which also makes the
 * header's section offsets 8 bytes), the version, the length of the rest
 * of the header, the parameters of the program's encoding (minimum
 * instruction length, maximum operations per instruction from v4, line
 * base and range, opcode base and the operand counts of the standard
 * opcodes), then the file table: in v2-v4 a list of include directories
 * and a list of files (name, directory index, mtime, length), each ended
 * by an empty string, file numbers counting from 1; in v5 a directory and
 * a file table, each described first by a list of (content type, form)
 * pairs, file numbers counting from 0, names possibly in .debug_line_str
 * or .debug_str.  The program is a byte code for a state machine whose
 * registers (address, file, line, ...) make a table of rows; each
 * sequence of rows covers [its first row's address, its end_sequence
 * row's address), and a row covers the addresses up to the next row's.
 *
 * A lookup needs only this: no .debug_info, no .debug_aranges.  It runs
 * every unit's program in turn until a row at or below the address whose
 * next row in the same sequence lies above it; the line is that row's,
 * the file its file table's entry, of which the last path component is
 * printed (the directories are never needed).  The caller may hand it an
 * index (dwarf_lines_index(), in the caller's memory): the span of each
 * unit's rows, from one run of every program; then only the units whose
 * span holds the address are run, with the same answer, since a row pair
 * that covers the address lies inside its unit's span.
 * Sequences of functions the linker discarded start at address 0 (GNU ld)
 * or at a tombstone (all ones, lld) and are ignored, so that they do not
 * shadow the code that really is there.
 *
 * Invariants: the bytes are untrusted (a file on disk, maybe being
 * rewritten, maybe damaged).  Every read goes through a cursor bounded by
 * the end of its section or unit, and a read past it marks the cursor bad
 * rather than read; a unit whose header or program does not decode to its
 * end, or names a version, form or file it cannot place, gives no answer
 * (the next unit is still tried: the unit lengths chain them).  Every
 * opcode consumes at least one byte, so each loop ends.  Compressed
 * sections (SHF_COMPRESSED, .zdebug) are not read: decompressing would
 * need memory.  Only the image's own DWARF is read, never a separate
 * debug file.
 */
#include "platform/dwarf_lines.h"
#include "platform/elf_symbols.h"

#include <string.h>

/* DWARF's constants that this reader acts on. */
enum {
	DW_LNS_copy = 1, DW_LNS_advance_pc, DW_LNS_advance_line,
	DW_LNS_set_file, DW_LNS_set_column, DW_LNS_negate_stmt,
	DW_LNS_set_basic_block, DW_LNS_const_add_pc,
	DW_LNS_fixed_advance_pc, DW_LNS_set_prologue_end,
	DW_LNS_set_epilogue_begin, DW_LNS_set_isa,
	DW_LNE_end_sequence = 1, DW_LNE_set_address, DW_LNE_define_file,
	DW_LNE_set_discriminator,
	DW_LNCT_path = 1,
	DW_FORM_block2 = 0x03, DW_FORM_block4 = 0x04, DW_FORM_data2 = 0x05,
	DW_FORM_data4 = 0x06, DW_FORM_data8 = 0x07, DW_FORM_string = 0x08,
	DW_FORM_block = 0x09, DW_FORM_block1 = 0x0a, DW_FORM_data1 = 0x0b,
	DW_FORM_flag = 0x0c, DW_FORM_sdata = 0x0d, DW_FORM_strp = 0x0e,
	DW_FORM_udata = 0x0f, DW_FORM_sec_offset = 0x17,
	DW_FORM_strx = 0x1a, DW_FORM_strp_sup = 0x1d, DW_FORM_data16 = 0x1e,
	DW_FORM_line_strp = 0x1f, DW_FORM_strx1 = 0x25, DW_FORM_strx2 = 0x26,
	DW_FORM_strx3 = 0x27, DW_FORM_strx4 = 0x28,
};

/* The operand counts DWARF gives the standard opcodes 1 to 12. */
static const unsigned char standard_lengths[12] = {
	0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1
};

/* Bytes [p, end) still to read; bad once a read would have gone past. */
typedef struct cursor {
	const unsigned char *p;
	const unsigned char *end;
	bool bad;
} cursor_t;

static bool
need(cursor_t *c, uint64_t n)
{
	if (c->bad || (uint64_t)(c->end - c->p) < n) {
		c->bad = true;
		return (false);
	}
	return (true);
}

static void
skip(cursor_t *c, uint64_t n)
{
	if (need(c, n))
		c->p += n;
}

/* An n-byte (n <= 8) unsigned number in this machine's byte order. */
static uint64_t
unsigned_n(cursor_t *c, unsigned n)
{
	if (n > 8 || !need(c, n))
		return (0);
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		v |= (uint64_t)c->p[i] << (8 * i);
#else
		v = v << 8 | c->p[i];
#endif
	}
	c->p += n;
	return (v);
}

/* LEB128; bits past 64 are dropped (no sane table has them). */
static uint64_t
uleb(cursor_t *c)
{
	uint64_t v = 0;
	for (unsigned shift = 0; need(c, 1); shift += 7) {
		unsigned char b = *c->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return (v);
	}
	return (0);
}

static int64_t
sleb(cursor_t *c)
{
	uint64_t v = 0;
	for (unsigned shift = 0; need(c, 1);) {
		unsigned char b = *c->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if ((b & 0x40) && shift < 64)
				v |= ~(uint64_t)0 << shift;
			return ((int64_t)v);
		}
	}
	return (0);
}

/* A NUL-terminated string in place; NULL (and bad) when unterminated. */
static const char *
inline_string(cursor_t *c)
{
	if (c->bad)
		return (NULL);
	const unsigned char *nul = memchr(c->p, '\0', (size_t)(c->end - c->p));
	if (nul == NULL) {
		c->bad = true;
		return (NULL);
	}
	const char *s = (const char *)c->p;
	c->p = nul + 1;
	return (s);
}

/* The string at offset of a string section; NULL when not all inside. */
static const char *
section_string(const unsigned char *section, size_t size, uint64_t offset)
{
	if (section == NULL || offset >= size ||
	    memchr(section + offset, '\0', size - (size_t)offset) == NULL)
		return (NULL);
	return ((const char *)section + offset);
}

/* One unit's header, decoded. */
typedef struct unit {
	unsigned version;
	unsigned offset_size;           /* 4 or 8: 32- or 64-bit DWARF */
	unsigned min_inst_length;
	unsigned max_ops;               /* operations per instruction */
	int line_base;
	unsigned line_range;
	unsigned opcode_base;
	const unsigned char *opcode_lengths;    /* [opcode_base - 1] */
	cursor_t tables;                /* the directory and file tables */
	cursor_t program;               /* the line program */
} unit_t;

/* The header at the start of unit c (past its length) into *u. */
static bool
unit_open(cursor_t c, unsigned offset_size, unit_t *u)
{
	*u = (unit_t){ .offset_size = offset_size };
	u->version = (unsigned)unsigned_n(&c, 2);
	if (u->version < 2 || u->version > 5)
		return (false);
	if (u->version >= 5)
		skip(&c, 2);            /* address and segment selector sizes */
	uint64_t header_length = unsigned_n(&c, offset_size);
	if (!need(&c, header_length))
		return (false);
	const unsigned char *program = c.p + header_length;
	u->min_inst_length = (unsigned)unsigned_n(&c, 1);
	u->max_ops = u->version >= 4 ? (unsigned)unsigned_n(&c, 1) : 1;
	skip(&c, 1);                    /* default_is_stmt */
	u->line_base = (signed char)unsigned_n(&c, 1);
	u->line_range = (unsigned)unsigned_n(&c, 1);
	u->opcode_base = (unsigned)unsigned_n(&c, 1);
	if (c.bad || u->max_ops == 0 || u->line_range == 0 ||
	    u->opcode_base == 0)
		return (false);
	u->opcode_lengths = c.p;
	skip(&c, u->opcode_base - 1);
	if (c.bad || c.p > program)
		return (false);
	u->tables = (cursor_t){ .p = c.p, .end = program };
	u->program = (cursor_t){ .p = program, .end = c.end };
	return (true);
}

/*
 * Read one value of a v5 entry's form at c; for the string forms, the
 * string into *s when asked (NULL if the form's string cannot be had here:
 * the strx forms need .debug_info's string offsets base).  False for a
 * form this reader does not know, whose size is then unknown.
 */
static bool
form_read(cursor_t *c, const unit_t *u, const dwarf_lines_t *dl,
    uint64_t form, const char **s)
{
	const char *string = NULL;
	switch (form) {
	case DW_FORM_string:
		string = inline_string(c);
		break;
	case DW_FORM_line_strp:
		string = section_string(dl->line_str, dl->line_str_size,
		    unsigned_n(c, u->offset_size));
		break;
	case DW_FORM_strp:
		string = section_string(dl->str, dl->str_size,
		    unsigned_n(c, u->offset_size));
		break;
	case DW_FORM_strp_sup:
	case DW_FORM_sec_offset:
		skip(c, u->offset_size);
		break;
	case DW_FORM_udata:
	case DW_FORM_strx:
		(void) uleb(c);
		break;
	case DW_FORM_sdata:
		(void) sleb(c);
		break;
	case DW_FORM_data1:
	case DW_FORM_flag:
	case DW_FORM_strx1:
		skip(c, 1);
		break;
	case DW_FORM_data2:
	case DW_FORM_strx2:
		skip(c, 2);
		break;
	case DW_FORM_strx3:
		skip(c, 3);
		break;
	case DW_FORM_data4:
	case DW_FORM_strx4:
		skip(c, 4);
		break;
	case DW_FORM_data8:
		skip(c, 8);
		break;
	case DW_FORM_data16:
		skip(c, 16);
		break;
	case DW_FORM_block:
		skip(c, uleb(c));
		break;
	case DW_FORM_block1:
		skip(c, unsigned_n(c, 1));
		break;
	case DW_FORM_block2:
		skip(c, unsigned_n(c, 2));
		break;
	case DW_FORM_block4:
		skip(c, unsigned_n(c, 4));
		break;
	default:
		c->bad = true;
		return (false);
	}
	if (s != NULL)
		*s = string;
	return (!c->bad);
}

/*
 * Skip a v5 entry-format list at c, and count entries described by it;
 * the list's start in *format and its length in *nformats.
 */
static bool
formats_read(cursor_t *c, cursor_t *format, unsigned *nformats)
{
	*nformats = (unsigned)unsigned_n(c, 1);
	*format = *c;
	for (unsigned i = 0; i < *nformats; i++) {
		(void) uleb(c);         /* content type */
		(void) uleb(c);         /* form */
	}
	return (!c->bad);
}

/* One v5 entry at c, described by the format list; its path into *path. */
static bool
entry_read(cursor_t *c, const unit_t *u, const dwarf_lines_t *dl,
    cursor_t format, unsigned nformats, const char **path)
{
	*path = NULL;
	for (unsigned i = 0; i < nformats; i++) {
		uint64_t type = uleb(&format);
		uint64_t form = uleb(&format);
		if (!form_read(c, u, dl, form, type == DW_LNCT_path ? path :
		    NULL))
			return (false);
	}
	return (true);
}

/* The name of file number `file` of a v5 unit's file table. */
static const char *
file_name_v5(const unit_t *u, const dwarf_lines_t *dl, uint64_t file)
{
	cursor_t c = u->tables, format;
	unsigned nformats;
	const char *path;
	if (!formats_read(&c, &format, &nformats))
		return (NULL);
	uint64_t ndirectories = uleb(&c);
	for (uint64_t i = 0; i < ndirectories && !c.bad; i++)
		(void) entry_read(&c, u, dl, format, nformats, &path);
	if (!formats_read(&c, &format, &nformats))
		return (NULL);
	uint64_t nfiles = uleb(&c);
	for (uint64_t i = 0; i < nfiles && !c.bad; i++) {
		if (!entry_read(&c, u, dl, format, nformats, &path))
			return (NULL);
		if (i == file)
			return (path);
	}
	return (NULL);
}

/*
 * The name of file number `file` (from 1) of a v2-v4 unit's file table;
 * past its end, *defined says which DW_LNE_define_file of the program
 * (from 1) names it.
 */
static const char *
file_name_v2(const unit_t *u, uint64_t file, uint64_t *defined)
{
	cursor_t c = u->tables;
	*defined = 0;
	for (const char *dir = inline_string(&c); dir != NULL && *dir != '\0';
	    dir = inline_string(&c))
		continue;
	uint64_t i = 1;
	for (const char *name = inline_string(&c); name != NULL &&
	    *name != '\0'; name = inline_string(&c), i++) {
		(void) uleb(&c);        /* directory */
		(void) uleb(&c);        /* modification time */
		(void) uleb(&c);        /* length */
		if (c.bad)
			return (NULL);
		if (i == file)
			return (name);
	}
	if (!c.bad && file >= i)
		*defined = file - i + 1;
	return (NULL);
}

/* What a run of a unit's program looks for, and what it found. */
typedef struct search {
	uint64_t addr;          /* the address wanted */
	uint64_t defined;       /* or the name of this DW_LNE_define_file */
	bool found;
	uint64_t file;
	int64_t line;
	const char *defined_name;
	uint64_t lo, hi;        /* the least and greatest row addresses */
} search_t;

/* The line registers of the state machine. */
typedef struct registers {
	uint64_t address;
	unsigned op_index;
	uint64_t file;
	int64_t line;
} registers_t;

static void
registers_reset(registers_t *r)
{
	*r = (registers_t){ .file = 1, .line = 1 };
}

static void
advance(registers_t *r, const unit_t *u, uint64_t operations)
{
	if (u->max_ops == 1) {
		r->address += u->min_inst_length * operations;
	} else {
		uint64_t ops = r->op_index + operations;
		r->address += u->min_inst_length * (ops / u->max_ops);
		r->op_index = (unsigned)(ops % u->max_ops);
	}
}

/* A sequence's state between rows. */
typedef struct sequence {
	registers_t prev;       /* the last row */
	bool started;           /* there is one */
	bool dead;              /* the sequence of discarded code */
} sequence_t;

/* A row r appended (end: the end_sequence one): does prev cover addr? */
static void
row(search_t *s, sequence_t *q, const registers_t *r, bool end)
{
	if (r->address < s->lo)
		s->lo = r->address;
	if (r->address > s->hi)
		s->hi = r->address;
	if (!q->started)
		q->dead = q->dead || r->address == 0;
	else if (!q->dead && !s->found && q->prev.address <= s->addr &&
	    s->addr < r->address) {
		s->found = true;
		s->file = q->prev.file;
		s->line = q->prev.line;
	}
	q->prev = *r;
	q->started = !end;
	if (end)
		q->dead = false;
}

/* An extended opcode's operation, its bytes in e. */
static void
extended(search_t *s, sequence_t *q, registers_t *r, cursor_t *e,
    uint64_t *ndefined)
{
	uint64_t length = (uint64_t)(e->end - e->p);
	switch (unsigned_n(e, 1)) {
	case DW_LNE_end_sequence:
		row(s, q, r, true);
		registers_reset(r);
		break;
	case DW_LNE_set_address:
		if (length < 2 || length > 9) {
			e->bad = true;
			break;
		}
		r->address = unsigned_n(e, (unsigned)(length - 1));
		r->op_index = 0;
		/* lld's tombstone for discarded code: all ones. */
		if (r->address >= (length == 5 ? 0xfffffffeu :
		    UINT64_MAX - 1))
			q->dead = true;
		break;
	case DW_LNE_define_file: {
		const char *name = inline_string(e);
		(void) uleb(e);
		(void) uleb(e);
		(void) uleb(e);
		if (++*ndefined == s->defined && !e->bad)
			s->defined_name = name;
		break;
	}
	case DW_LNE_set_discriminator:
		(void) uleb(e);
		break;
	default:                /* unknown, or a vendor's: its length says */
		break;
	}
}

/* Run u's program; true when it decoded to its end. */
static bool
program_run(const unit_t *u, search_t *s)
{
	cursor_t c = u->program;
	registers_t r;
	registers_reset(&r);
	sequence_t q = { .started = false };
	uint64_t ndefined = 0;
	while (c.p < c.end && !c.bad) {
		unsigned op = *c.p++;
		if (op >= u->opcode_base) {             /* special */
			unsigned adjusted = op - u->opcode_base;
			advance(&r, u, adjusted / u->line_range);
			r.line += u->line_base + (int)(adjusted % u->line_range);
			row(s, &q, &r, false);
			continue;
		}
		if (op == 0) {                          /* extended */
			uint64_t length = uleb(&c);
			if (length == 0 || !need(&c, length))
				return (false);
			cursor_t e = { .p = c.p, .end = c.p + length };
			c.p += length;
			extended(s, &q, &r, &e, &ndefined);
			if (e.bad)
				return (false);
			continue;
		}
		unsigned operands = u->opcode_lengths[op - 1];
		if (op > 12 || operands != standard_lengths[op - 1]) {
			/* Unknown, or not as DWARF defines it: skipped. */
			for (unsigned i = 0; i < operands; i++)
				(void) uleb(&c);
			continue;
		}
		switch (op) {
		case DW_LNS_copy:
			row(s, &q, &r, false);
			break;
		case DW_LNS_advance_pc:
			advance(&r, u, uleb(&c));
			break;
		case DW_LNS_advance_line:
			r.line += sleb(&c);
			break;
		case DW_LNS_set_file:
			r.file = uleb(&c);
			break;
		case DW_LNS_const_add_pc:
			advance(&r, u, (255 - u->opcode_base) / u->line_range);
			break;
		case DW_LNS_fixed_advance_pc:
			r.address += unsigned_n(&c, 2);
			r.op_index = 0;
			break;
		case DW_LNS_set_column:
		case DW_LNS_set_isa:
			(void) uleb(&c);
			break;
		default:        /* negate_stmt, basic_block, prologue, epilogue */
			break;
		}
	}
	return (!c.bad);
}

/* The file and line of addr if unit u covers it. */
static bool
unit_find(const unit_t *u, const dwarf_lines_t *dl, uint64_t addr,
    const char **file, unsigned *line)
{
	search_t s = { .addr = addr, .lo = UINT64_MAX };
	if (!program_run(u, &s) || !s.found || s.line <= 0 ||
	    s.line > (int64_t)~0u)
		return (false);
	const char *name;
	if (u->version >= 5) {
		name = file_name_v5(u, dl, s.file);
	} else {
		uint64_t defined;
		name = file_name_v2(u, s.file, &defined);
		if (name == NULL && defined != 0) {
			search_t d = { .addr = addr, .defined = defined,
			    .lo = UINT64_MAX };
			if (program_run(u, &d))
				name = d.defined_name;
		}
	}
	if (name == NULL || name[0] == '\0')
		return (false);
	const char *base = strrchr(name, '/');
	base = base != NULL ? base + 1 : name;
	if (base[0] == '\0')
		return (false);
	*file = base;
	*line = (unsigned)s.line;
	return (true);
}

/*
 * The unit at c, which is advanced past it, into *u; *usable says whether
 * its header decoded.  False when no unit can be read at c (the end, a
 * length past the section's end, a reserved length): the walk stops.
 */
static bool
unit_next(cursor_t *c, unit_t *u, bool *usable)
{
	if (c->p >= c->end || c->bad)
		return (false);
	unsigned offset_size = 4;
	uint64_t length = unsigned_n(c, 4);
	if (length == 0xffffffffu) {
		offset_size = 8;
		length = unsigned_n(c, 8);
	} else if (length >= 0xfffffff0u) {
		return (false);
	}
	if (!need(c, length))
		return (false);
	cursor_t body = { .p = c->p, .end = c->p + length };
	c->p += length;
	*usable = unit_open(body, offset_size, u);
	return (true);
}

bool
dwarf_lines_find(const dwarf_lines_t *dl, uint64_t addr, const char **file,
    unsigned *line)
{
	if (dl->line == NULL)
		return (false);
	unit_t u;
	bool usable;
	if (dl->spans == NULL) {
		cursor_t c = { .p = dl->line, .end = dl->line + dl->line_size };
		while (unit_next(&c, &u, &usable))
			if (usable && unit_find(&u, dl, addr, file, line))
				return (true);
		return (false);
	}
	for (size_t i = 0; i < dl->nspans; i++) {
		const dwarf_span_t *sp = &dl->spans[i];
		if (addr < sp->lo || addr >= sp->hi ||
		    sp->offset >= dl->line_size)
			continue;
		cursor_t c = { .p = dl->line + sp->offset,
		    .end = dl->line + dl->line_size };
		if (unit_next(&c, &u, &usable) && usable &&
		    unit_find(&u, dl, addr, file, line))
			return (true);
	}
	return (false);
}

size_t
dwarf_lines_units(const dwarf_lines_t *dl)
{
	cursor_t c = { .p = dl->line, .end = dl->line + dl->line_size };
	unit_t u;
	bool usable;
	size_t n = 0;
	while (dl->line != NULL && unit_next(&c, &u, &usable))
		n++;
	return (n);
}

size_t
dwarf_lines_index(const dwarf_lines_t *dl, dwarf_span_t *spans, size_t max)
{
	cursor_t c = { .p = dl->line, .end = dl->line + dl->line_size };
	unit_t u;
	bool usable;
	size_t n = 0;
	for (;;) {
		size_t offset = (size_t)(c.p - dl->line);
		if (n == max || dl->line == NULL ||
		    !unit_next(&c, &u, &usable))
			return (n);
		/* A span no address is in: lo = UINT64_MAX, hi = 0. */
		search_t s = { .addr = UINT64_MAX, .lo = UINT64_MAX };
		if (!usable || !program_run(&u, &s))
			s.lo = UINT64_MAX, s.hi = 0;
		spans[n++] = (dwarf_span_t){ .lo = s.lo, .hi = s.hi,
		    .offset = offset };
	}
}

bool
dwarf_lines_open(const void *image, size_t size, dwarf_lines_t *dl)
{
	*dl = (dwarf_lines_t){ .line = NULL, .spans = NULL };
	if (!elf_section(image, size, ".debug_line", &dl->line,
	    &dl->line_size))
		return (false);
	if (!elf_section(image, size, ".debug_line_str", &dl->line_str,
	    &dl->line_str_size))
		dl->line_str = NULL;
	if (!elf_section(image, size, ".debug_str", &dl->str, &dl->str_size))
		dl->str = NULL;
	return (true);
}
