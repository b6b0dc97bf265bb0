/*
 * The DWARF line reader (src/platform/dwarf_lines.c) on line tables written
 * here byte by byte, for what the compilers on this machine do not write
 * (the bug programs of tests/bugs cover gcc's DWARF 3, 4 and 5 and
 * clang's 32- and 64-bit DWARF 5):
 * - a DWARF 2 unit (opcode base 10: opcodes 10-12 are special ones), with
 *   special opcodes, fixed_advance_pc, const_add_pc and two files;
 * - a DWARF 3 unit in 64-bit DWARF that declares a standard opcode 13 of
 *   two operands (skipped) and names a file with DW_LNE_define_file;
 * - a DWARF 4 unit whose known opcode set_column is declared with two
 *   operands: skipped by its declared length, as an unknown one;
 * - DWARF 5 units, 32- and 64-bit, whose entry formats use every form the
 *   reader knows (string, line_strp, strp, udata, data1/2/4/8/16, block,
 *   sdata) and content types it skips (directory index, MD5, a vendor's);
 * - a sequence of discarded code at address 0, placed first, that must not
 *   shadow the real code; units of an unknown version or with an unknown
 *   form, skipped; a file name that runs past the end of its header,
 *   not taken; a reserved unit length, which ends the section;
 * - every unit cut short at every byte (its length made to fit), the
 *   string sections cut short, the whole section truncated.
 * Each table is copied into a buffer of its exact size, so that the
 * AddressSanitizer build sees any read past it.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "platform/dwarf_lines.h"

/* A section being written. */
typedef struct section {
	unsigned char bytes[4096];
	size_t n;
} section_t;

static void
put(section_t *s, uint64_t v, unsigned size)   /* little-endian */
{
	CHECK(s->n + size <= sizeof (s->bytes));
	for (unsigned i = 0; i < size; i++)
		s->bytes[s->n++] = (unsigned char)(v >> (8 * i));
}

static void
put_uleb(section_t *s, uint64_t v)
{
	do {
		unsigned char b = v & 0x7f;
		v >>= 7;
		put(s, b | (v != 0 ? 0x80 : 0), 1);
	} while (v != 0);
}

static void
put_sleb(section_t *s, int64_t v)
{
	for (;;) {
		unsigned char b = v & 0x7f;
		v >>= 7;
		bool done = (v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40));
		put(s, b | (done ? 0 : 0x80), 1);
		if (done)
			return;
	}
}

static void
put_string(section_t *s, const char *string)
{
	size_t n = strlen(string) + 1;
	CHECK(s->n + n <= sizeof (s->bytes));
	memcpy(s->bytes + s->n, string, n);
	s->n += n;
}

/* A string added to a string section; its offset. */
static uint64_t
string_at(section_t *s, const char *string)
{
	uint64_t at = s->n;
	put_string(s, string);
	return (at);
}

/*
 * Where a unit's length and header length go, to be filled in by
 * unit_end() and header_end().
 */
typedef struct unit_marks {
	size_t length_at, header_length_at, offset_size;
} unit_marks_t;

/* Where each unit of .debug_line starts, for cutting units short. */
static struct {
	size_t start, offset_size;
} units[16];
static unsigned nunits;

static unit_marks_t
unit_begin(section_t *s, unsigned version, unsigned offset_size)
{
	unit_marks_t m = { .offset_size = offset_size };
	CHECK(nunits < 16);
	units[nunits].start = s->n;
	units[nunits++].offset_size = offset_size;
	if (offset_size == 8)
		put(s, 0xffffffffu, 4);
	m.length_at = s->n;
	put(s, 0, offset_size);
	put(s, version, 2);
	if (version >= 5) {
		put(s, 8, 1);           /* address size */
		put(s, 0, 1);           /* segment selector size */
	}
	m.header_length_at = s->n;
	put(s, 0, offset_size);
	return (m);
}

/* The encoding: line base -5, range 14; opcode base and lengths given. */
static void
encoding(section_t *s, unsigned version, unsigned opcode_base,
    const unsigned char *lengths)
{
	put(s, 1, 1);                   /* minimum instruction length */
	if (version >= 4)
		put(s, 1, 1);           /* maximum operations per instruction */
	put(s, 1, 1);                   /* default_is_stmt */
	put(s, (unsigned char)-5, 1);   /* line base */
	put(s, 14, 1);                  /* line range */
	put(s, opcode_base, 1);
	for (unsigned i = 0; i + 1 < opcode_base; i++)
		put(s, lengths[i], 1);
}

static void
patch(section_t *s, size_t at, uint64_t v, size_t size)
{
	for (size_t i = 0; i < size; i++)
		s->bytes[at + i] = (unsigned char)(v >> (8 * i));
}

static void
header_end(section_t *s, const unit_marks_t *m)
{
	patch(s, m->header_length_at, s->n - m->header_length_at -
	    m->offset_size, m->offset_size);
}

static void
unit_end(section_t *s, const unit_marks_t *m)
{
	patch(s, m->length_at, s->n - m->length_at - m->offset_size,
	    m->offset_size);
}

static void
set_address(section_t *s, uint64_t address)
{
	put(s, 0, 1);
	put_uleb(s, 9);
	put(s, 2, 1);                   /* DW_LNE_set_address */
	put(s, address, 8);
}

static void
end_sequence(section_t *s)
{
	put(s, 0, 1);
	put_uleb(s, 1);
	put(s, 1, 1);
}

/* A special opcode: advance the address by ops, the line by lines. */
static void
special(section_t *s, unsigned opcode_base, unsigned ops, int lines)
{
	put(s, opcode_base + (unsigned)(lines + 5) + 14 * ops, 1);
}

static const unsigned char lengths_v4[12] = {
	0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1
};

/* The sections the units are written into, and the reader's view. */
static section_t line, line_str, str;

/* Copies of the sections of their exact sizes, for the reader. */
static dwarf_lines_t
exact_copies(void)
{
	dwarf_lines_t dl = {
		.line = malloc(line.n), .line_size = line.n,
		.line_str = malloc(line_str.n), .line_str_size = line_str.n,
		.str = malloc(str.n), .str_size = str.n,
	};
	CHECK(dl.line != NULL && dl.line_str != NULL && dl.str != NULL);
	memcpy((void *)dl.line, line.bytes, line.n);
	memcpy((void *)dl.line_str, line_str.bytes, line_str.n);
	memcpy((void *)dl.str, str.bytes, str.n);
	return (dl);
}

static void
free_copies(dwarf_lines_t *dl)
{
	free((void *)dl->line);
	free((void *)dl->line_str);
	free((void *)dl->str);
}

/* addr must be file:number in dl, or (file NULL) have no line. */
#define check_line(dl, addr, file, number) \
	check_line_at(__LINE__, dl, addr, file, number)

static void
check_line_at(int at, const dwarf_lines_t *dl, uint64_t addr,
    const char *file, unsigned number)
{
	const char *got = NULL;
	unsigned got_line = 0;
	bool found = dwarf_lines_find(dl, addr, &got, &got_line);
	if (file == NULL ? !found : found && strcmp(got, file) == 0 &&
	    got_line == number)
		return;
	char what[256];
	snprintf(what, sizeof (what), "0x%llx: %s:%u, expected %s:%u",
	    (unsigned long long)addr, found ? got : "(none)", got_line,
	    file != NULL ? file : "(none)", number);
	check_failed(__FILE__, at, what);
}

/*
 * The same answers for addresses [lo, hi) in steps of step with an index
 * of dl's units (dwarf_lines_index()) as without one.
 */
static void
check_index_agrees(const dwarf_lines_t *dl, uint64_t lo, uint64_t hi,
    uint64_t step)
{
	size_t n = dwarf_lines_units(dl);
	dwarf_span_t *spans = malloc((n != 0 ? n : 1) * sizeof (*spans));
	CHECK(spans != NULL);
	CHECK_EQ(dwarf_lines_index(dl, spans, n), n);
	dwarf_lines_t indexed = *dl;
	indexed.spans = spans;
	indexed.nspans = n;
	for (uint64_t a = lo; a < hi; a += step) {
		const char *f1 = NULL, *f2 = NULL;
		unsigned l1 = 0, l2 = 0;
		bool found = dwarf_lines_find(dl, a, &f1, &l1);
		CHECK(dwarf_lines_find(&indexed, a, &f2, &l2) == found);
		CHECK(f1 == f2 && l1 == l2);
	}
	free(spans);
}

/* Discarded code: a sequence at 0 that would cover 0x0-0xffff. */
static void
write_discarded(void)
{
	unit_marks_t m = unit_begin(&line, 4, 4);
	encoding(&line, 4, 13, lengths_v4);
	put_string(&line, "");
	put_string(&line, "gone.c");
	put_uleb(&line, 0);
	put_uleb(&line, 0);
	put_uleb(&line, 0);
	put_string(&line, "");
	header_end(&line, &m);
	set_address(&line, 0);
	put(&line, 3, 1);               /* advance_line */
	put_sleb(&line, 6);
	put(&line, 1, 1);               /* copy */
	put(&line, 2, 1);               /* advance_pc */
	put_uleb(&line, 0x10000);
	end_sequence(&line);
	unit_end(&line, &m);
}

/* A unit of a version no reader knows, that covers 0x1000 if read. */
static void
write_unknown_version(void)
{
	unit_marks_t m = unit_begin(&line, 6, 4);
	put(&line, 0x55, 8);
	unit_end(&line, &m);
}

/*
 * DWARF 2: 0x1000 a.c:10, 0x1004 a.c:11, 0x1014 b.h:16, 0x1025 b.h:16,
 * end 0x1028; then a sequence at 0x1100 using opcode 10 as special.
 */
static void
write_v2(void)
{
	unit_marks_t m = unit_begin(&line, 2, 4);
	encoding(&line, 2, 10, lengths_v4);
	put_string(&line, "include");
	put_string(&line, "");
	put_string(&line, "/abs/a.c");
	put_uleb(&line, 0);
	put_uleb(&line, 0);
	put_uleb(&line, 0);
	put_string(&line, "dir/b.h");
	put_uleb(&line, 1);
	put_uleb(&line, 12345);
	put_uleb(&line, 678);
	put_string(&line, "");
	header_end(&line, &m);
	set_address(&line, 0x1000);
	put(&line, 3, 1);               /* advance_line 9: line 10 */
	put_sleb(&line, 9);
	put(&line, 1, 1);               /* copy */
	special(&line, 10, 4, 1);       /* 0x1004, 11 */
	put(&line, 4, 1);               /* set_file 2 */
	put_uleb(&line, 2);
	put(&line, 9, 1);               /* fixed_advance_pc 0x10 */
	put(&line, 0x10, 2);
	put(&line, 3, 1);               /* advance_line 5: 16 */
	put_sleb(&line, 5);
	put(&line, 1, 1);               /* copy: 0x1014, b.h:16 */
	put(&line, 8, 1);               /* const_add_pc: (255-10)/14 = 17 */
	put(&line, 1, 1);               /* copy: 0x1025 */
	put(&line, 2, 1);               /* advance_pc 3 */
	put_uleb(&line, 3);
	end_sequence(&line);
	/* Opcode 10 is special here: address +0, line -5. */
	set_address(&line, 0x1100);
	put(&line, 3, 1);
	put_sleb(&line, 29);            /* 30 */
	put(&line, 1, 1);
	put(&line, 2, 1);
	put_uleb(&line, 2);             /* 0x1102 */
	put(&line, 10, 1);              /* row 0x1102, line 25 */
	put(&line, 2, 1);
	put_uleb(&line, 2);
	end_sequence(&line);
	unit_end(&line, &m);
}

/* DWARF 3, 64-bit: opcode 13 skipped, a defined file: 0x2000-0x2010. */
static void
write_v3_64(void)
{
	static const unsigned char lengths[13] = {
		0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 2
	};
	unit_marks_t m = unit_begin(&line, 3, 8);
	encoding(&line, 3, 14, lengths);
	put_string(&line, "");
	put_string(&line, "c.c");
	put_uleb(&line, 0);
	put_uleb(&line, 0);
	put_uleb(&line, 0);
	put_string(&line, "");
	header_end(&line, &m);
	set_address(&line, 0x2000);
	put(&line, 13, 1);              /* two operands to skip */
	put_uleb(&line, 300);
	put_uleb(&line, 5);
	put(&line, 0, 1);               /* define_file "lib/defined.c" */
	put_uleb(&line, 1 + 14 + 3);
	put(&line, 3, 1);
	put_string(&line, "lib/defined.c");
	put_uleb(&line, 0);
	put_uleb(&line, 0);
	put_uleb(&line, 0);
	put(&line, 4, 1);               /* set_file 2: the defined one */
	put_uleb(&line, 2);
	put(&line, 3, 1);
	put_sleb(&line, 99);            /* 100 */
	put(&line, 1, 1);
	put(&line, 0, 1);               /* set_discriminator 3 */
	put_uleb(&line, 2);
	put(&line, 4, 1);
	put_uleb(&line, 3);
	put(&line, 0, 1);               /* a vendor's extended opcode */
	put_uleb(&line, 4);
	put(&line, 0x80, 1);
	put(&line, 0xffffff, 3);
	put(&line, 2, 1);
	put_uleb(&line, 0x10);
	end_sequence(&line);
	unit_end(&line, &m);
}

/* DWARF 4 declaring set_column with two operands: 0x2100-0x2110 e.c:7. */
static void
write_v4_odd_lengths(void)
{
	static const unsigned char lengths[12] = {
		0, 1, 1, 1, 2, 0, 0, 0, 1, 0, 0, 1
	};
	unit_marks_t m = unit_begin(&line, 4, 4);
	encoding(&line, 4, 13, lengths);
	put_string(&line, "");
	put_string(&line, "e.c");
	put_uleb(&line, 0);
	put_uleb(&line, 0);
	put_uleb(&line, 0);
	put_string(&line, "");
	header_end(&line, &m);
	set_address(&line, 0x2100);
	put(&line, 5, 1);               /* set_column, as declared: 2 */
	put_uleb(&line, 1);
	put_uleb(&line, 1000);
	put(&line, 3, 1);
	put_sleb(&line, 6);
	put(&line, 1, 1);
	put(&line, 2, 1);
	put_uleb(&line, 0x10);
	end_sequence(&line);
	unit_end(&line, &m);
}

enum {
	PATH = 1, DIRECTORY_INDEX = 2, MD5 = 5, VENDOR = 0x2001,
	FORM_block = 0x09, FORM_data1 = 0x0b, FORM_data2 = 0x05,
	FORM_data4 = 0x06, FORM_data8 = 0x07, FORM_data16 = 0x1e,
	FORM_sdata = 0x0d, FORM_string = 0x08, FORM_strp = 0x0e,
	FORM_udata = 0x0f, FORM_line_strp = 0x1f,
};

/*
 * DWARF 5 (offset_size 4 or 8): files 0 and 1 through strp and line_strp
 * paths among other content; 0x3000 zero.c:1, 0x3004 one.c:2 (plus base
 * for the 64-bit unit's addresses and lines).
 */
static void
write_v5(unsigned offset_size, uint64_t base)
{
	unit_marks_t m = unit_begin(&line, 5, offset_size);
	encoding(&line, 5, 13, lengths_v4);
	/* Directories: a line_strp path and a vendor's data2. */
	put(&line, 2, 1);
	put_uleb(&line, PATH);
	put_uleb(&line, FORM_line_strp);
	put_uleb(&line, VENDOR);
	put_uleb(&line, FORM_data2);
	put_uleb(&line, 2);
	put(&line, string_at(&line_str, "/comp"), offset_size);
	put(&line, 7, 2);
	put(&line, string_at(&line_str, "/comp/sub"), offset_size);
	put(&line, 7, 2);
	/* Files: index, MD5, a vendor's block, sdata, data1/4/8, path. */
	put(&line, 8, 1);
	put_uleb(&line, DIRECTORY_INDEX);
	put_uleb(&line, FORM_udata);
	put_uleb(&line, MD5);
	put_uleb(&line, FORM_data16);
	put_uleb(&line, VENDOR);
	put_uleb(&line, FORM_block);
	put_uleb(&line, VENDOR + 1);
	put_uleb(&line, FORM_sdata);
	put_uleb(&line, VENDOR + 2);
	put_uleb(&line, FORM_data1);
	put_uleb(&line, VENDOR + 3);
	put_uleb(&line, FORM_data4);
	put_uleb(&line, VENDOR + 4);
	put_uleb(&line, FORM_data8);
	put_uleb(&line, PATH);
	put_uleb(&line, offset_size == 4 ? FORM_strp : FORM_line_strp);
	put_uleb(&line, 2);
	const char *names[2] = { "/comp/zero.c", "sub/one.c" };
	for (int i = 0; i < 2; i++) {
		put_uleb(&line, (uint64_t)i);
		put(&line, 0x0123456789abcdefu, 8);
		put(&line, 0xfedcba9876543210u, 8);
		put_uleb(&line, 3);
		put(&line, 0xabcdef, 3);
		put_sleb(&line, -1000);
		put(&line, 1, 1);
		put(&line, 2, 4);
		put(&line, 3, 8);
		put(&line, offset_size == 4 ? string_at(&str, names[i]) :
		    string_at(&line_str, names[i]), offset_size);
	}
	header_end(&line, &m);
	set_address(&line, base + 0x3000);
	put(&line, 4, 1);               /* set_file 0 */
	put_uleb(&line, 0);
	if (base != 0) {
		put(&line, 3, 1);
		put_sleb(&line, (int64_t)base);
	}
	put(&line, 1, 1);               /* copy: zero.c:1 */
	special(&line, 13, 4, 1);       /* 0x3004, 2: still file 0 */
	put(&line, 4, 1);
	put_uleb(&line, 1);
	special(&line, 13, 0, 0);       /* 0x3004, 2: file 1, one.c:2 */
	put(&line, 2, 1);
	put_uleb(&line, 4);
	end_sequence(&line);
	unit_end(&line, &m);
}

/* DWARF 5 with a string path and a form no reader knows (0x99). */
static void
write_v5_string_and_unknown_form(void)
{
	unit_marks_t m = unit_begin(&line, 5, 4);
	encoding(&line, 5, 13, lengths_v4);
	put(&line, 1, 1);
	put_uleb(&line, PATH);
	put_uleb(&line, FORM_string);
	put_uleb(&line, 1);
	put_string(&line, "/d");
	put(&line, 1, 1);
	put_uleb(&line, PATH);
	put_uleb(&line, FORM_string);
	put_uleb(&line, 1);
	put_string(&line, "inline.c");
	header_end(&line, &m);
	set_address(&line, 0x5000);
	put(&line, 4, 1);               /* set_file 0: v5 counts from 0 */
	put_uleb(&line, 0);
	put(&line, 3, 1);
	put_sleb(&line, 4);
	put(&line, 1, 1);               /* 0x5000 inline.c:5 */
	put(&line, 2, 1);
	put_uleb(&line, 8);
	end_sequence(&line);
	unit_end(&line, &m);

	m = unit_begin(&line, 5, 4);
	encoding(&line, 5, 13, lengths_v4);
	put(&line, 0, 1);               /* no directories */
	put_uleb(&line, 0);
	put(&line, 2, 1);               /* a path, and a form unknown */
	put_uleb(&line, PATH);
	put_uleb(&line, FORM_string);
	put_uleb(&line, VENDOR);
	put_uleb(&line, 0x99);
	put_uleb(&line, 1);
	put_string(&line, "unknown.c");
	put(&line, 0, 4);
	header_end(&line, &m);
	set_address(&line, 0x6000);
	put(&line, 4, 1);
	put_uleb(&line, 0);
	put(&line, 1, 1);               /* would be 0x6000 unknown.c:1 */
	put(&line, 2, 1);
	put_uleb(&line, 8);
	end_sequence(&line);
	unit_end(&line, &m);
}

/*
 * DWARF 4 whose header ends inside its file's name: the name's NUL is the
 * first byte of the program (a set_address to 0x7000), outside the file
 * table, so the name is not taken.
 */
static void
write_unterminated_name(void)
{
	unit_marks_t m = unit_begin(&line, 4, 4);
	encoding(&line, 4, 13, lengths_v4);
	put_string(&line, "");
	put(&line, 'x', 1);
	put(&line, '.', 1);
	put(&line, 'c', 1);
	header_end(&line, &m);
	set_address(&line, 0x7000);
	put(&line, 1, 1);
	put(&line, 2, 1);
	put_uleb(&line, 8);
	end_sequence(&line);
	unit_end(&line, &m);
}

static void
test_units(void)
{
	write_discarded();
	write_unknown_version();
	write_v2();
	write_v3_64();
	write_v4_odd_lengths();
	write_v5(4, 0);
	write_v5(8, 0x10000);
	write_v5_string_and_unknown_form();
	write_unterminated_name();
	dwarf_lines_t dl = exact_copies();

	check_line(&dl, 0x0fff, NULL, 0);       /* only discarded code */
	check_line(&dl, 0x1000, "a.c", 10);
	check_line(&dl, 0x1003, "a.c", 10);
	check_line(&dl, 0x1004, "a.c", 11);
	check_line(&dl, 0x1013, "a.c", 11);
	check_line(&dl, 0x1014, "b.h", 16);
	check_line(&dl, 0x1024, "b.h", 16);
	check_line(&dl, 0x1025, "b.h", 16);
	check_line(&dl, 0x1027, "b.h", 16);
	check_line(&dl, 0x1028, NULL, 0);
	check_line(&dl, 0x1101, "a.c", 30);
	check_line(&dl, 0x1102, "a.c", 25);
	check_line(&dl, 0x1103, "a.c", 25);
	check_line(&dl, 0x1104, NULL, 0);
	check_line(&dl, 0x2000, "defined.c", 100);
	check_line(&dl, 0x200f, "defined.c", 100);
	check_line(&dl, 0x2010, NULL, 0);
	check_line(&dl, 0x2100, "e.c", 7);
	check_line(&dl, 0x3000, "zero.c", 1);
	check_line(&dl, 0x3003, "zero.c", 1);
	check_line(&dl, 0x3004, "one.c", 2);
	check_line(&dl, 0x3007, "one.c", 2);
	check_line(&dl, 0x3008, NULL, 0);
	check_line(&dl, 0x13000, "zero.c", 0x10001);
	check_line(&dl, 0x13005, "one.c", 0x10002);
	check_line(&dl, 0x5004, "inline.c", 5);
	check_line(&dl, 0x6000, NULL, 0);
	check_line(&dl, 0x7000, NULL, 0);

	/* The index: one span a unit, the same answers everywhere. */
	CHECK_EQ(dwarf_lines_units(&dl), nunits);
	dwarf_span_t spans[16];
	CHECK_EQ(dwarf_lines_index(&dl, spans, 3), 3);
	CHECK_EQ(dwarf_lines_index(&dl, spans, 16), nunits);
	CHECK_EQ(spans[2].offset, units[2].start);
	CHECK_EQ(spans[2].lo, 0x1000);          /* the DWARF 2 unit */
	CHECK_EQ(spans[2].hi, 0x1104);
	CHECK(spans[1].lo >= spans[1].hi);      /* unknown version: empty */
	dwarf_lines_t indexed = dl;
	indexed.spans = spans;
	indexed.nspans = nunits;
	check_line(&indexed, 0x2000, "defined.c", 100);
	check_line(&indexed, 0x0fff, NULL, 0);
	check_index_agrees(&dl, 0xf00, 0x7100, 1);
	check_index_agrees(&dl, 0x12f00, 0x13100, 1);

	/*
	 * Each unit alone, cut short at every byte with its length made to
	 * fit (so the reader goes on into what is left): an answer or none,
	 * nothing read past the end.
	 */
	for (unsigned u = 0; u < nunits; u++) {
		size_t start = units[u].start;
		size_t end = u + 1 < nunits ? units[u + 1].start : line.n;
		size_t length_size = units[u].offset_size == 8 ? 12 : 4;
		for (size_t len = length_size; len < end - start; len++) {
			unsigned char *copy = malloc(len);
			CHECK(copy != NULL);
			memcpy(copy, line.bytes + start, len);
			for (size_t i = 0; i < units[u].offset_size; i++)
				copy[length_size - units[u].offset_size + i] =
				    (unsigned char)((len - length_size) >> (8 * i));
			dwarf_lines_t cut = dl;
			cut.line = copy;
			cut.line_size = len;
			const char *file;
			unsigned n;
			for (uint64_t a = 0x1000; a < 0x7000; a += 0x101)
				(void) dwarf_lines_find(&cut, a, &file, &n);
			check_index_agrees(&cut, 0x1000, 0x7100, 0x1f9);
			free(copy);
		}
	}
	/* The string sections cut short, each at every byte. */
	for (int which = 0; which < 2; which++) {
		size_t size = which == 0 ? line_str.n : str.n;
		for (size_t len = 0; len <= size; len++) {
			unsigned char *copy = malloc(len != 0 ? len : 1);
			CHECK(copy != NULL);
			memcpy(copy, which == 0 ? dl.line_str : dl.str, len);
			dwarf_lines_t cut = dl;
			if (which == 0) {
				cut.line_str = copy;
				cut.line_str_size = len;
			} else {
				cut.str = copy;
				cut.str_size = len;
			}
			const char *file;
			unsigned n;
			for (uint64_t a = 0x3000; a < 0x14000; a += 0x10001)
				if (dwarf_lines_find(&cut, a, &file, &n))
					CHECK(n == 1 || n == 0x10001);
			free(copy);
		}
	}
	/* Every truncation of the whole section. */
	for (size_t len = 0; len < line.n; len++) {
		dwarf_lines_t cut = dl;
		unsigned char *copy = malloc(len != 0 ? len : 1);
		CHECK(copy != NULL);
		memcpy(copy, dl.line, len);
		cut.line = copy;
		cut.line_size = len;
		const char *file;
		unsigned n;
		for (uint64_t a = 0x1000; a < 0x7000; a += 0x101)
			(void) dwarf_lines_find(&cut, a, &file, &n);
		free(copy);
	}
	free_copies(&dl);

	/* A reserved unit length ends the section: nothing after it. */
	section_t saved = line;
	line.n = 0;
	put(&line, 0xfffffff0u, 4);
	memcpy(line.bytes + line.n, saved.bytes, saved.n);
	line.n += saved.n;
	dl = exact_copies();
	check_line(&dl, 0x1000, NULL, 0);
	free_copies(&dl);
	line = saved;
}

int
main(void)
{
	test_units();
	return (0);
}
