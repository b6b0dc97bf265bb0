/*
 * The binary trace reader (tools/kmlab/tracefile.c) on traces this test
 * writes itself, by the format as docs/trace.md and <kmem/trace.h> give
 * it (its own encoder, so the reader is held to the documented format,
 * not to the recorder's code):
 *
 *   good       every op read back; objects numbered across threads by
 *              time (a free and a reuse of the same address at the same
 *              time: the free first), a realloc in place keeps its object,
 *              a free of an object allocated before recording is counted
 *   truncated  cut at every length: a header cut short is refused, a cut
 *              inside a block reports that block's offset and keeps the
 *              blocks before it, a cut between blocks is a whole trace
 *   flipped    every byte of the blocks changed: a payload byte is caught
 *              by its block's checksum, at its block's offset, and so is
 *              any change of a block's magic, length or count of events;
 *              no change makes the reader fail before its block's start
 *   checksummed  each payload byte changed and the checksum made to
 *              match, so the damage reaches the event decoder: reported
 *              within its block, never a read past the block
 *   short      the short form of mallocs and frees (one 64-bit word) read
 *              back among long ones; a short word cut by its block's end,
 *              or of an op that has none, is damage in that block
 *   random     random damage (bytes, lengths, garbage appended): never a
 *              read outside the data (each is read from a buffer of its
 *              exact size, so AddressSanitizer sees any overrun), and any
 *              damage reported as "offset N: ..."
 */
#include "check.h"

#include "tracefile.h"

typedef struct writer {
	unsigned char *buf;
	size_t len, cap;
	size_t block_start[16];         /* offsets of the blocks written */
	size_t nblocks;
	/* The block being made. */
	unsigned char payload[4096];
	size_t plen;
	uint32_t nevents;
	uint64_t last_stamp, base_stamp, last_addr;
} writer_t;

static void
put(writer_t *w, const void *p, size_t n)
{
	if (w->len + n > w->cap) {
		w->cap = (w->len + n) * 2;
		w->buf = realloc(w->buf, w->cap);
		CHECK(w->buf != NULL);
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void
put16(writer_t *w, uint16_t v)
{
	put(w, &v, 2);
}

static void
put32(writer_t *w, uint32_t v)
{
	put(w, &v, 4);
}

static void
put64(writer_t *w, uint64_t v)
{
	put(w, &v, 8);
}

#define START_NS        1000000000ull

static void
header(writer_t *w)
{
	const char *name = "/usr/bin/example";
	put(w, "KMTRACE\n", 8);
	put16(w, 2);
	put16(w, (uint16_t)(50 + strlen(name)));
	put32(w, 4242);
	put32(w, 4096);
	put32(w, 2);                    /* CLOCK_MONOTONIC_COARSE */
	put32(w, 4000000);              /* its resolution */
	put32(w, 0);
	put64(w, START_NS);
	put64(w, 1700000000ull * 1000000000ull);
	put16(w, (uint16_t)strlen(name));
	put(w, name, strlen(name));
}

static void
varint(writer_t *w, uint64_t v)
{
	while (v >= 0x80) {
		w->payload[w->plen++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	w->payload[w->plen++] = (unsigned char)v;
}

static void
addr(writer_t *w, uint64_t a)
{
	int64_t d = (int64_t)(a - w->last_addr);
	w->last_addr = a;
	varint(w, ((uint64_t)d << 1) ^ (uint64_t)(d >> 63));
}

/* One event, number seq (below 256) of the process, at absolute time t:
 * op, fn, its stamp (the time since the start shifted left by 8, plus
 * seq), then (the caller's varints and addresses) its numbers. */
static void
event(writer_t *w, unsigned op, unsigned fn, uint64_t t, uint64_t seq)
{
	uint64_t stamp = ((t - START_NS) << KMEM_TRACE_STAMP_SHIFT) + seq;
	if (w->nevents == 0)
		w->base_stamp = w->last_stamp = stamp - 1;
	w->payload[w->plen++] = (unsigned char)(op | fn << 4);
	varint(w, stamp - w->last_stamp);
	w->last_stamp = stamp;
	w->nevents++;
}

static void
block_begin(writer_t *w)
{
	w->plen = 0;
	w->nevents = 0;
	w->last_addr = 0;
}

static void
block_end(writer_t *w, uint32_t thread, uint64_t base)
{
	w->block_start[w->nblocks++] = w->len;
	put32(w, 0x42544d4bu);
	put32(w, (uint32_t)w->plen);
	put32(w, w->nevents);
	put32(w, thread);
	put32(w, 1000 + thread);
	put32(w, kmem_trace_checksum(w->payload, w->plen));
	put64(w, base);
	put64(w, w->base_stamp);
	put(w, w->payload, w->plen);
}

/*
 * The trace: thread 1 in two blocks, thread 2 in one, interleaved in
 * time; the event numbers (#) order them.
 *   #1  t=10  th1 malloc(100) = A
 *   #2  t=20  th2 calloc(4, 25) = B
 *   #3  t=30  th1 realloc(A, 90) = A        in place: same object
 *   #4  t=40  th2 free(A)                   freed by another thread
 *   #5  t=40  th1 memalign(64, 300) = A     reuse at the same coarse time,
 *                                           numbered after the free: a
 *                                           new object
 *   and #6.. as below, by time:
 *   t=50  th2 posix_memalign(128, 10) = C
 *   t=60  th1 realloc(A, 5000) = D          moves
 *   t=70  th2 free(0x999000)                allocated before recording
 *   t=80  th1 malloc(1 << 40) = 0           failed
 *   t=90  th1 realloc(NULL, 7) = E
 *   t=95  th2 realloc(B, 0) = 0             frees B
 */
#define A 0x7f0000001000ull
#define B 0x7f0000002000ull
#define C 0x7f0000003000ull
#define D 0x7f0000010000ull
#define E 0x7f0000004000ull
#define NEVENTS 11

static writer_t
make_trace(void)
{
	writer_t w = { 0 };
	header(&w);
	uint64_t b1 = START_NS + 5;
	block_begin(&w);
	event(&w, KMEM_TRACE_MALLOC, 0, START_NS + 10, 1);
	varint(&w, 100);
	addr(&w, A);
	event(&w, KMEM_TRACE_REALLOC, 0, START_NS + 30, 3);
	addr(&w, A);
	varint(&w, 90);
	addr(&w, A);
	event(&w, KMEM_TRACE_MEMALIGN, KMEM_TRACE_FN_MEMALIGN, START_NS + 40,
	    5);
	varint(&w, 64);
	varint(&w, 300);
	addr(&w, A);
	block_end(&w, 1, b1);

	uint64_t b2 = START_NS + 15;
	block_begin(&w);
	event(&w, KMEM_TRACE_CALLOC, 0, START_NS + 20, 2);
	varint(&w, 4);
	varint(&w, 25);
	addr(&w, B);
	event(&w, KMEM_TRACE_FREE, 0, START_NS + 40, 4);
	addr(&w, A);
	event(&w, KMEM_TRACE_MEMALIGN, KMEM_TRACE_FN_POSIX_MEMALIGN,
	    START_NS + 50, 6);
	varint(&w, 128);
	varint(&w, 10);
	addr(&w, C);
	event(&w, KMEM_TRACE_FREE, 0, START_NS + 70, 8);
	addr(&w, 0x999000);
	event(&w, KMEM_TRACE_REALLOC, 0, START_NS + 95, 11);
	addr(&w, B);
	varint(&w, 0);
	addr(&w, 0);
	block_end(&w, 2, b2);

	uint64_t b3 = START_NS + 55;
	block_begin(&w);
	event(&w, KMEM_TRACE_REALLOC, 0, START_NS + 60, 7);
	addr(&w, A);
	varint(&w, 5000);
	addr(&w, D);
	event(&w, KMEM_TRACE_MALLOC, 0, START_NS + 80, 9);
	varint(&w, 1ull << 40);
	addr(&w, 0);
	event(&w, KMEM_TRACE_REALLOC, 0, START_NS + 90, 10);
	addr(&w, 0);
	varint(&w, 7);
	addr(&w, E);
	block_end(&w, 1, b3);
	return (w);
}

/* Read data[0 .. len - 1] from a copy of exactly that size. */
static int
read_copy(trace_file_t *t, const unsigned char *data, size_t len)
{
	unsigned char *copy = malloc(len != 0 ? len : 1);
	CHECK(copy != NULL);
	memcpy(copy, data, len);
	int status = trace_file_read(t, copy, len);
	free(copy);
	if (status != 0) {
		/* Every complaint names where. */
		CHECK(strncmp(t->damage, "offset ", 7) == 0 ||
		    strcmp(t->damage, "out of memory") == 0);
	}
	return (status);
}

static void
test_good(void)
{
	writer_t w = make_trace();
	trace_file_t t;
	CHECK_EQ(read_copy(&t, w.buf, w.len), 0);
	CHECK_EQ(t.nevents, NEVENTS);
	CHECK_EQ(t.blocks, 3);
	CHECK_EQ(t.threads, 2);
	CHECK_EQ(t.pid, 4242);
	CHECK_EQ(t.page_size, 4096);
	CHECK(strcmp(t.program, "/usr/bin/example") == 0);
	CHECK_EQ(t.unknown_frees, 1);
	CHECK_EQ(t.reused_live, 0);
	const trace_event_t *e = t.events;
	/* t=10 malloc A: object 1 */
	CHECK_EQ(e[0].op, KMEM_TRACE_MALLOC);
	CHECK_EQ(e[0].t, 10);
	CHECK_EQ(e[0].id, 1);
	CHECK_EQ(e[0].size, 100);
	/* t=20 calloc B: object 2, 100 bytes */
	CHECK_EQ(e[1].op, KMEM_TRACE_CALLOC);
	CHECK_EQ(e[1].id, 2);
	CHECK_EQ(e[1].size, 100);
	CHECK_EQ(e[1].nmemb, 4);
	CHECK_EQ(e[1].thread, 2);
	/* t=30 realloc in place: still object 1 */
	CHECK_EQ(e[2].op, KMEM_TRACE_REALLOC);
	CHECK_EQ(e[2].id, 1);
	CHECK_EQ(e[2].old_id, 1);
	/* t=40: the free (thread 2) before the reuse (thread 1), by stamp */
	CHECK_EQ(e[3].op, KMEM_TRACE_FREE);
	CHECK_EQ(e[3].old_id, 1);
	CHECK_EQ(e[4].op, KMEM_TRACE_MEMALIGN);
	CHECK_EQ(e[4].fn, KMEM_TRACE_FN_MEMALIGN);
	CHECK_EQ(e[4].align, 64);
	CHECK_EQ(e[4].id, 3);
	/* t=50 posix_memalign C: object 4 */
	CHECK_EQ(e[5].fn, KMEM_TRACE_FN_POSIX_MEMALIGN);
	CHECK_EQ(e[5].id, 4);
	/* t=60 realloc moves: object 3 becomes 5 */
	CHECK_EQ(e[6].old_id, 3);
	CHECK_EQ(e[6].id, 5);
	CHECK_EQ(e[6].old_addr, A);
	/* t=70 a free of an object from before recording */
	CHECK_EQ(e[7].op, KMEM_TRACE_FREE);
	CHECK_EQ(e[7].old_id, 0);
	CHECK_EQ(e[7].old_addr, 0x999000);
	/* t=80 a failure */
	CHECK_EQ(e[8].id, 0);
	CHECK_EQ(e[8].size, 1ull << 40);
	/* t=90 realloc(NULL): object 6; t=95 realloc(B, 0) frees 2 */
	CHECK_EQ(e[9].old_id, 0);
	CHECK_EQ(e[9].id, 6);
	CHECK_EQ(e[10].old_id, 2);
	CHECK_EQ(e[10].id, 0);
	CHECK_EQ(t.ids, 6);
	trace_file_free(&t);
	free(w.buf);
}

/* The offset of the block that holds byte off (the header's: 0). */
static size_t
block_of(const writer_t *w, size_t off)
{
	size_t start = 0;
	for (size_t b = 0; b < w->nblocks; b++)
		if (w->block_start[b] <= off)
			start = w->block_start[b];
	return (start);
}

static void
test_truncated(void)
{
	writer_t w = make_trace();
	size_t hdr = w.block_start[0];
	for (size_t len = 0; len < w.len; len++) {
		trace_file_t t;
		int status = read_copy(&t, w.buf, len);
		if (len < hdr) {
			CHECK_EQ(status, -1);
			continue;
		}
		size_t start = block_of(&w, len);
		bool boundary = len == hdr || start == len;
		CHECK_EQ(status, boundary ? 0 : 1);
		if (!boundary) {
			CHECK_EQ(t.damage_offset, start);
			char want[32];
			snprintf(want, sizeof (want), "offset %zu: ", start);
			CHECK(strncmp(t.damage, want, strlen(want)) == 0);
			CHECK(strstr(t.damage, "cut short") != NULL);
		}
		/* The whole blocks before the cut are read. */
		size_t whole = 0;
		for (size_t b = 0; b < w.nblocks; b++) {
			size_t end = b + 1 < w.nblocks ? w.block_start[b + 1] :
			    w.len;
			if (end <= len)
				whole++;
		}
		CHECK_EQ(t.blocks, whole);
		trace_file_free(&t);
	}
	free(w.buf);
}

static void
test_flipped(void)
{
	writer_t w = make_trace();
	size_t hdr = w.block_start[0];
	for (size_t off = hdr; off < w.len; off++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			w.buf[off] ^= (unsigned char)(1u << bit);
			trace_file_t t;
			int status = read_copy(&t, w.buf, w.len);
			size_t start = block_of(&w, off);
			bool in_payload = off >= start + KMEM_TRACE_BLOCK_HEADER;
			if (in_payload) {
				CHECK_EQ(status, 1);
				CHECK_EQ(t.damage_offset, start);
				CHECK(strstr(t.damage, "checksum") != NULL);
			}
			/* The magic, the payload's length and the count of
			 * events are all checked, against the block's bytes. */
			if (off < start + 12) {
				CHECK_EQ(status, 1);
				CHECK(t.damage_offset < start +
				    KMEM_TRACE_BLOCK_HEADER + 4096);
			}
			/* Thread numbers, system ids and base times are not
			 * checkable; what is caught is caught in its block. */
			CHECK(status >= 0);
			if (status == 1)
				CHECK(t.damage_offset >= start);
			trace_file_free(&t);
			w.buf[off] ^= (unsigned char)(1u << bit);
		}
	}
	free(w.buf);
}

/* Recompute the checksum of the block at start after its payload changed,
 * so that the damage reaches the event decoder. */
static void
rechecksum(unsigned char *d, size_t start)
{
	uint32_t payload;
	memcpy(&payload, d + start + 4, 4);
	uint32_t sum = kmem_trace_checksum(d + start +
	    KMEM_TRACE_BLOCK_HEADER, payload);
	memcpy(d + start + 20, &sum, 4);
}

static void
test_checksummed(void)
{
	writer_t w = make_trace();
	for (size_t b = 0; b < w.nblocks; b++) {
		size_t start = w.block_start[b];
		size_t end = b + 1 < w.nblocks ? w.block_start[b + 1] : w.len;
		for (size_t off = start + KMEM_TRACE_BLOCK_HEADER; off < end;
		    off++) {
			static const unsigned char values[] = { 0x00, 0x01,
			    0x7f, 0x80, 0xff, 0x05, 0x15, 0x85 };
			unsigned char saved = w.buf[off];
			for (size_t v = 0; v < sizeof (values); v++) {
				w.buf[off] = values[v];
				rechecksum(w.buf, start);
				trace_file_t t;
				int status = read_copy(&t, w.buf, w.len);
				CHECK(status == 0 || status == 1);
				if (status == 1) {
					CHECK(t.damage_offset >= start);
					CHECK(t.damage_offset <= end);
				}
				trace_file_free(&t);
			}
			w.buf[off] = saved;
			rechecksum(w.buf, start);
		}
	}
	free(w.buf);
}

static void
test_random(void)
{
	writer_t w = make_trace();
	uint64_t seed = 18;
	unsigned char *d = malloc(w.len + 64);
	CHECK(d != NULL);
	for (int round = 0; round < 20000; round++) {
		memcpy(d, w.buf, w.len);
		size_t len = w.len;
		unsigned changes = 1 + check_random(&seed) % 8;
		for (unsigned i = 0; i < changes; i++) {
			uint64_t r = check_random(&seed);
			switch (r % 4) {
			case 0:         /* any byte, header included */
				d[(r >> 8) % len] = (unsigned char)(r >> 32);
				break;
			case 1:         /* a length field of a block */
				d[w.block_start[(r >> 8) % w.nblocks] + 4 +
				    (r >> 16) % 8] = (unsigned char)(r >> 32);
				break;
			case 2:         /* shorter */
				len -= (r >> 8) % (len / 4 + 1);
				break;
			default:        /* garbage after */
				for (unsigned k = (r >> 8) % 64; k > 0 &&
				    len < w.len + 64; k--)
					d[len++] = (unsigned char)
					    check_random(&seed);
				break;
			}
		}
		trace_file_t t;
		int status = read_copy(&t, d, len);
		CHECK(status >= -1 && status <= 1);
		if (status == 1)
			CHECK(t.damage_offset <= len);
		CHECK(t.nevents <= NEVENTS);
		trace_file_free(&t);
	}
	free(d);
	free(w.buf);
}

/* A malloc (size) or free in the short form: the word as the format
 * gives it, after the writer's last stamp and address. */
static void
short_event(writer_t *w, unsigned op, uint64_t stamp, uint64_t size,
    uint64_t a)
{
	int64_t d = (int64_t)(a - w->last_addr) / 16;
	uint64_t dz = ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
	uint64_t word = (0x80u | op) | (stamp - w->last_stamp) << 8 |
	    (op == KMEM_TRACE_FREE ? dz << 16 : size << 16 | dz << 32);
	memcpy(w->payload + w->plen, &word, 8);
	w->plen += 8;
	w->last_stamp = stamp;
	w->last_addr = a;
	w->nevents++;
}

static void
test_short(void)
{
	writer_t w = { 0 };
	header(&w);
	block_begin(&w);
	event(&w, KMEM_TRACE_MALLOC, 0, START_NS + 10, 1);     /* long */
	varint(&w, 100);
	addr(&w, A);
	uint64_t s = (10ull << KMEM_TRACE_STAMP_SHIFT) + 1;
	short_event(&w, KMEM_TRACE_MALLOC, s + 3, 48, A + 0x100);
	short_event(&w, KMEM_TRACE_FREE, s + 200, 0, A);
	event(&w, KMEM_TRACE_FREE, 0, START_NS + 20, 5);        /* long */
	addr(&w, A + 0x100);
	block_end(&w, 1, START_NS);
	trace_file_t t;
	CHECK_EQ(read_copy(&t, w.buf, w.len), 0);
	CHECK_EQ(t.nevents, 4);
	CHECK_EQ(t.unknown_frees, 0);
	const trace_event_t *e = t.events;
	CHECK_EQ(e[1].op, KMEM_TRACE_MALLOC);
	CHECK_EQ(e[1].size, 48);
	CHECK_EQ(e[1].id, 2);
	CHECK_EQ(e[1].t, 10);
	CHECK_EQ(e[2].op, KMEM_TRACE_FREE);
	CHECK_EQ(e[2].old_addr, A);
	CHECK_EQ(e[2].old_id, 1);
	CHECK_EQ(e[3].old_addr, A + 0x100);
	CHECK_EQ(e[3].old_id, 2);
	CHECK_EQ(e[3].t, 20);
	trace_file_free(&t);

	/* A short word cut by its block's end: the payload one byte short
	 * (its length, count and checksum all saying so). */
	writer_t u = { 0 };
	header(&u);
	block_begin(&u);
	event(&u, KMEM_TRACE_MALLOC, 0, START_NS + 10, 1);
	varint(&u, 100);
	addr(&u, A);
	size_t at = u.plen;
	short_event(&u, KMEM_TRACE_MALLOC, s + 3, 48, A + 0x100);
	u.plen--;
	block_end(&u, 1, START_NS);
	CHECK_EQ(read_copy(&t, u.buf, u.len), 1);
	CHECK(strstr(t.damage, "runs past the block's end") != NULL);
	CHECK_EQ(t.damage_offset, u.block_start[0] + KMEM_TRACE_BLOCK_HEADER +
	    at);
	CHECK_EQ(t.nevents, 0);
	trace_file_free(&t);
	free(u.buf);

	/* A short word of an op that has none (a calloc). */
	writer_t v = { 0 };
	header(&v);
	block_begin(&v);
	short_event(&v, KMEM_TRACE_FREE, 5, 0, A);
	v.payload[0] = 0x80 | KMEM_TRACE_CALLOC;
	block_end(&v, 1, START_NS);
	CHECK_EQ(read_copy(&t, v.buf, v.len), 1);
	CHECK(strstr(t.damage, "unknown operation byte 0x82") != NULL);
	trace_file_free(&t);
	free(w.buf);
	free(v.buf);
}

int
main(int argc, char **argv)
{
	static const check_test_t tests[] = {
		CHECK_TEST(test_good),
		CHECK_TEST(test_truncated),
		CHECK_TEST(test_flipped),
		CHECK_TEST(test_checksummed),
		CHECK_TEST(test_short),
		CHECK_TEST(test_random),
	};
	for (size_t i = 0; i < sizeof (tests) / sizeof (tests[0]); i++) {
		if (check_test_selected(argc, argv, tests[i].name))
			check_run_test(&tests[i]);
	}
	printf("trace_reader_test: ok\n");
	return (0);
}
