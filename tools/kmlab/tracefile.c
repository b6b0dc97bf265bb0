/*
 * The binary trace reader (tracefile.h; the format is <kmem/trace.h> and
 * docs/trace.md).
 *
 * Two passes.  The first walks the file block by block and checks each
 * before taking any of its events: the block header whole and with its
 * magic, the payload all there and matching its checksum, every varint
 * ending inside the payload, every op known, and the events filling the
 * payload exactly.  The first thing wrong stops it, with the byte offset
 * and what is wrong; the events of the blocks before stay (a process
 * killed mid-write leaves exactly that: whole blocks, then one cut
 * short).  Every read is bounded by the data's length, so no input makes
 * it read outside.
 *
 * The second pass merges all threads' events by their stamps (the
 * recorder stamps every address's allocations and frees in the order
 * they happened, in whichever threads; equal stamps of two threads are
 * independent events, taken in thread order) and numbers the objects: an
 * allocation of an address gets the next id, and the address names that
 * id until a free or realloc ends it.  A realloc that moves makes a new
 * object (old_id says which one it replaced); one in place keeps its
 * object (id == old_id).  A free of an address with
 * no live object (allocated before recording began) is counted, not an
 * error; so is an address allocated again while live (an unrecorded
 * free).
 */
#include "tracefile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct raw_event {
	uint64_t stamp;         /* the process's order of events */
	uint64_t t;
	uint64_t a, b;          /* op's numbers: size, nmemb/elsize, align/size */
	uint64_t addr;          /* allocated (or freed, for FREE) */
	uint64_t old;           /* REALLOC's old address */
	uint32_t thread;
	uint8_t op, fn;
} raw_event_t;

static uint32_t
get32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return (v);
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return (v);
}

static uint16_t
get16(const unsigned char *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return (v);
}

/* A varint at *pp, before end; false if it runs past end or 10 bytes. */
static bool
get_varint(const unsigned char **pp, const unsigned char *end, uint64_t *v)
{
	const unsigned char *p = *pp;
	uint64_t x = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (p >= end)
			return (false);
		unsigned char c = *p++;
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*pp = p;
			*v = x;
			return (true);
		}
	}
	return (false);
}

static void
damage(trace_file_t *t, uint64_t offset, const char *fmt, const char *what,
    uint64_t n1, uint64_t n2)
{
	t->damaged = true;
	t->damage_offset = offset;
	char msg[120];
	snprintf(msg, sizeof (msg), fmt, what, (unsigned long long)n1,
	    (unsigned long long)n2);
	snprintf(t->damage, sizeof (t->damage), "offset %llu: %s",
	    (unsigned long long)offset, msg);
}

bool
trace_file_is_binary(const void *data, size_t len)
{
	return (len >= KMEM_TRACE_MAGIC_LEN &&
	    memcmp(data, KMEM_TRACE_MAGIC, KMEM_TRACE_MAGIC_LEN) == 0);
}

static bool
raw_push(raw_event_t **raw, size_t *n, size_t *cap, raw_event_t e)
{
	if (*n == *cap) {
		size_t c = *cap == 0 ? 4096 : 2 * *cap;
		raw_event_t *r = realloc(*raw, c * sizeof (**raw));
		if (r == NULL)
			return (false);
		*raw = r;
		*cap = c;
	}
	(*raw)[(*n)++] = e;
	return (true);
}

/*
 * Decode one block's payload [p, end) of nevents events into raw; false
 * after damage() when it is not a block's worth of good events (the
 * events of the block are taken back then).
 */
static bool
block_decode(trace_file_t *t, const unsigned char *data, const unsigned
    char *p, const unsigned char *end, uint32_t nevents, uint32_t thread,
    uint64_t base_stamp, raw_event_t **raw, size_t *n,
    size_t *cap)
{
	size_t first = *n;
	uint64_t stamp = base_stamp, last_addr = 0;
	for (uint32_t k = 0; k < nevents; k++) {
		const unsigned char *at = p;
		if (p >= end) {
			damage(t, (uint64_t)(p - data), "%s: the block ends "
			    "after %llu of its %llu events", "bad block", k,
			    nevents);
			goto bad;
		}
		raw_event_t e = { .thread = thread };
		e.op = *p & KMEM_TRACE_OP_MASK;
		e.fn = (*p >> KMEM_TRACE_FN_SHIFT) & 7;
		p++;
		bool is_short = *at & KMEM_TRACE_SHORT;
		if (e.op < KMEM_TRACE_MALLOC || e.op > KMEM_TRACE_FREE ||
		    (is_short && e.op != KMEM_TRACE_MALLOC &&
		    e.op != KMEM_TRACE_FREE) ||
		    (e.op != KMEM_TRACE_MEMALIGN && e.fn != 0) ||
		    e.fn > KMEM_TRACE_FN_PVALLOC) {
			damage(t, (uint64_t)(at - data), "%s: unknown "
			    "operation byte 0x%02llx (event %llu of the block)",
			    "bad event", *at, k);
			goto bad;
		}
		uint64_t v[4], nv = e.op == KMEM_TRACE_FREE ? 2 :
		    e.op == KMEM_TRACE_MALLOC ? 3 : 4;
		if (is_short) {
			/* One word: the stamp's delta, a malloc's size, the
			 * address delta in 16-byte units; as the long form's
			 * numbers. */
			if (end - at < 8) {
				damage(t, (uint64_t)(at - data), "%s: event "
				    "%llu of the block runs past the block's "
				    "end%.0llu", "bad event", k, 0);
				goto bad;
			}
			uint64_t w = get64(at);
			p = at + 8;
			uint64_t dz = e.op == KMEM_TRACE_FREE ? w >> 16 : w >> 32;
			int64_t d = (int64_t)((dz >> 1) ^ (0 - (dz & 1))) * 16;
			v[0] = (w >> 8) & 0xff;
			if (e.op == KMEM_TRACE_MALLOC)
				v[1] = (w >> 16) & 0xffff;      /* the size */
			v[nv - 1] = ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
			nv = 0;         /* nothing more to read */
		}
		for (unsigned i = 0; i < nv; i++) {
			if (!get_varint(&p, end, &v[i])) {
				damage(t, (uint64_t)(at - data), "%s: event "
				    "%llu of the block runs past the block's "
				    "end, or a number past 10 bytes (%llu)",
				    "bad event", k, i);
				goto bad;
			}
		}
		/* Each event's stamp is later than the one before. */
		if (v[0] == 0) {
			damage(t, (uint64_t)(at - data), "%s: event %llu of the "
			    "block repeats the stamp of the one before%.0llu",
			    "bad event", k, 0);
			goto bad;
		}
		stamp += v[0];
		e.stamp = stamp;
		e.t = t->start_ns + (stamp >> KMEM_TRACE_STAMP_SHIFT);
		/* Each address field is a zigzag delta from the last one. */
		uint64_t addr[2] = { 0, 0 };
		unsigned naddr = 0;
		switch (e.op) {
		case KMEM_TRACE_MALLOC:
			e.b = v[1];
			addr[naddr++] = v[2];
			break;
		case KMEM_TRACE_CALLOC:
		case KMEM_TRACE_MEMALIGN:
			e.a = v[1];
			e.b = v[2];
			addr[naddr++] = v[3];
			break;
		case KMEM_TRACE_REALLOC:
			addr[naddr++] = v[1];
			e.b = v[2];
			addr[naddr++] = v[3];
			break;
		case KMEM_TRACE_FREE:
			addr[naddr++] = v[1];
			break;
		}
		uint64_t decoded[2];
		for (unsigned i = 0; i < naddr; i++) {
			int64_t d = (int64_t)(addr[i] >> 1) ^ -(int64_t)(addr[i] & 1);
			last_addr += (uint64_t)d;
			decoded[i] = last_addr;
		}
		if (e.op == KMEM_TRACE_REALLOC) {
			e.old = decoded[0];
			e.addr = decoded[1];
		} else {
			e.addr = decoded[0];
		}
		if (e.op == KMEM_TRACE_FREE && e.addr == 0) {
			damage(t, (uint64_t)(at - data), "%s: a free of "
			    "address 0 (event %llu of the block)%.0llu",
			    "bad event", k, 0);
			goto bad;
		}
		if (!raw_push(raw, n, cap, e)) {
			damage(t, (uint64_t)(at - data), "%s: no memory for "
			    "event %llu%.0llu", "out of memory", k, 0);
			goto bad;
		}
	}
	if (p != end) {
		damage(t, (uint64_t)(p - data), "%s: %llu bytes after the "
		    "block's %llu events", "bad block", (uint64_t)(end - p),
		    nevents);
		goto bad;
	}
	return (true);
bad:
	*n = first;
	return (false);
}

/* Walk the blocks after the header at off; the first damage stops it. */
static void
blocks_read(trace_file_t *t, const unsigned char *data, size_t len,
    size_t off, raw_event_t **raw, size_t *n, size_t *cap)
{
	while (off < len) {
		size_t left = len - off;
		if (left < KMEM_TRACE_BLOCK_HEADER) {
			damage(t, off, "%s: a block header cut short, %llu of "
			    "%llu bytes", "cut short", left,
			    KMEM_TRACE_BLOCK_HEADER);
			return;
		}
		const unsigned char *h = data + off;
		uint32_t magic = get32(h), payload = get32(h + 4);
		uint32_t nevents = get32(h + 8), thread = get32(h + 12);
		if (magic != KMEM_TRACE_BLOCK_MAGIC) {
			damage(t, off, "%s: no block starts here (magic "
			    "0x%08llx, not 0x%08llx)", "bad block", magic,
			    KMEM_TRACE_BLOCK_MAGIC);
			return;
		}
		if (payload > left - KMEM_TRACE_BLOCK_HEADER) {
			damage(t, off, "%s: the block is cut short, %llu of "
			    "its %llu payload bytes there", "cut short",
			    left - KMEM_TRACE_BLOCK_HEADER, payload);
			return;
		}
		if (payload == 0 || nevents == 0 || thread == 0 ||
		    nevents > payload / 3) {
			damage(t, off, "%s: an impossible block header (%llu "
			    "events in %llu bytes, or thread 0)", "bad block",
			    nevents, payload);
			return;
		}
		const unsigned char *p = h + KMEM_TRACE_BLOCK_HEADER;
		if (kmem_trace_checksum(p, payload) != get32(h + 20)) {
			damage(t, off, "%s: the block's checksum does not match "
			    "its %llu payload bytes%.0llu", "damaged block",
			    payload, 0);
			return;
		}
		if (!block_decode(t, data, p, p + payload, nevents, thread,
		    get64(h + 32), raw, n, cap))
			return;
		if (thread > t->threads)
			t->threads = thread;
		t->blocks++;
		off += KMEM_TRACE_BLOCK_HEADER + (size_t)payload;
	}
}

/* ---- numbering the objects ---- */

typedef struct addr_map {
	uint64_t *key;          /* 0: empty (no object lives at address 0) */
	uint64_t *id;
	size_t mask;
	size_t count;
} addr_map_t;

static size_t
addr_hash(const addr_map_t *m, uint64_t a)
{
	return ((size_t)((a * 0x9E3779B97F4A7C15ull) >> 20) & m->mask);
}

static size_t
addr_find(const addr_map_t *m, uint64_t a)
{
	size_t i = addr_hash(m, a);
	while (m->key[i] != 0 && m->key[i] != a)
		i = (i + 1) & m->mask;
	return (i);
}

static bool
addr_put(addr_map_t *m, uint64_t a, uint64_t id)
{
	if (2 * (m->count + 1) > m->mask + 1) {
		addr_map_t old = *m;
		size_t size = old.mask == 0 ? 4096 : 2 * (old.mask + 1);
		m->key = calloc(size, sizeof (uint64_t));
		m->id = calloc(size, sizeof (uint64_t));
		if (m->key == NULL || m->id == NULL) {
			free(m->key);
			free(m->id);
			*m = old;
			return (false);
		}
		m->mask = size - 1;
		m->count = 0;
		for (size_t i = 0; old.mask != 0 && i <= old.mask; i++) {
			if (old.key[i] != 0)
				(void) addr_put(m, old.key[i], old.id[i]);
		}
		free(old.key);
		free(old.id);
	}
	size_t i = addr_find(m, a);
	if (m->key[i] == 0)
		m->count++;
	m->key[i] = a;
	m->id[i] = id;
	return (true);
}

/* Remove a's object and return its id; 0 if none lives there. */
static uint64_t
addr_take(addr_map_t *m, uint64_t a)
{
	if (m->mask == 0)
		return (0);
	size_t i = addr_find(m, a);
	if (m->key[i] == 0)
		return (0);
	uint64_t id = m->id[i];
	m->key[i] = 0;
	m->count--;
	for (size_t j = (i + 1) & m->mask; m->key[j] != 0;
	    j = (j + 1) & m->mask) {
		size_t home = addr_hash(m, m->key[j]);
		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->key[i] = m->key[j];
			m->id[i] = m->id[j];
			m->key[j] = 0;
			i = j;
		}
	}
	return (id);
}

static int
raw_compare(const void *x, const void *y)
{
	const raw_event_t *a = x, *b = y;
	/* Equal stamps are of different threads' independent events. */
	if (a->stamp != b->stamp)
		return (a->stamp < b->stamp ? -1 : 1);
	return (a->thread < b->thread ? -1 : a->thread > b->thread);
}

/* A new object at addr (0: none, a failure). */
static uint64_t
object_new(trace_file_t *t, addr_map_t *m, uint64_t addr, bool *ok)
{
	if (addr == 0)
		return (0);
	if (addr_take(m, addr) != 0)
		t->reused_live++;
	uint64_t id = ++t->ids;
	if (!addr_put(m, addr, id))
		*ok = false;
	return (id);
}

static bool
number_objects(trace_file_t *t, raw_event_t *raw, size_t n)
{
	if (n > 1)
		qsort(raw, n, sizeof (*raw), raw_compare);
	t->events = calloc(n != 0 ? n : 1, sizeof (trace_event_t));
	if (t->events == NULL)
		return (false);
	addr_map_t m = { 0 };
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++) {
		const raw_event_t *r = &raw[i];
		trace_event_t *e = &t->events[i];
		e->t = r->t > t->start_ns ? r->t - t->start_ns : 0;
		e->thread = r->thread;
		e->op = r->op;
		e->fn = r->fn;
		switch (r->op) {
		case KMEM_TRACE_MALLOC:
			e->size = r->b;
			break;
		case KMEM_TRACE_CALLOC:
			e->nmemb = r->a;
			if (__builtin_mul_overflow(r->a, r->b, &e->size))
				e->size = UINT64_MAX;
			break;
		case KMEM_TRACE_MEMALIGN:
			e->align = r->a;
			e->size = r->b;
			break;
		case KMEM_TRACE_REALLOC:
			e->size = r->b;
			e->old_addr = r->old;
			break;
		case KMEM_TRACE_FREE:
			e->old_addr = r->addr;
			break;
		}
		if (r->op == KMEM_TRACE_FREE) {
			e->old_id = addr_take(&m, r->addr);
			if (e->old_id == 0)
				t->unknown_frees++;
			continue;
		}
		if (r->op == KMEM_TRACE_REALLOC && r->old != 0) {
			bool failed = r->addr == 0 && r->b != 0;
			if (failed) {
				/* The old object lives on. */
				size_t j = m.mask == 0 ? 0 : addr_find(&m, r->old);
				e->old_id = m.mask != 0 && m.key[j] != 0 ?
				    m.id[j] : 0;
				continue;
			}
			if (r->addr == r->old) {
				/* In place: the same object, resized. */
				size_t j = addr_find(&m, r->old);
				e->old_id = e->id = m.key[j] != 0 ? m.id[j] : 0;
				if (e->id != 0)
					continue;
				t->unknown_frees++;
			} else {
				e->old_id = addr_take(&m, r->old);
				if (e->old_id == 0)
					t->unknown_frees++;
			}
		}
		e->id = object_new(t, &m, r->addr, &ok);
	}
	free(m.key);
	free(m.id);
	t->nevents = n;
	return (ok);
}

int
trace_file_read(trace_file_t *t, const void *data_, size_t len)
{
	const unsigned char *data = data_;
	memset(t, 0, sizeof (*t));
	if (!trace_file_is_binary(data, len)) {
		snprintf(t->damage, sizeof (t->damage), "offset 0: not a "
		    "kmem trace (no \"KMTRACE\" magic)");
		return (-1);
	}
	if (len < KMEM_TRACE_HEADER_FIXED) {
		snprintf(t->damage, sizeof (t->damage), "offset %zu: the "
		    "header is cut short (%zu of %d bytes)", len, len,
		    KMEM_TRACE_HEADER_FIXED);
		return (-1);
	}
	t->version = get16(data + 8);
	size_t hdr = get16(data + 10), proglen = get16(data + 48);
	if (t->version != KMEM_TRACE_VERSION) {
		snprintf(t->damage, sizeof (t->damage), "offset 8: version "
		    "%u; this reader knows version %d", t->version,
		    KMEM_TRACE_VERSION);
		return (-1);
	}
	if (proglen > 256 || hdr != KMEM_TRACE_HEADER_FIXED + proglen ||
	    hdr > len) {
		snprintf(t->damage, sizeof (t->damage), "offset 10: a header "
		    "of %zu bytes with a %zu-byte program name, in a file "
		    "of %zu", hdr, proglen, len);
		return (-1);
	}
	t->pid = get32(data + 12);
	t->page_size = get32(data + 16);
	t->clock = get32(data + 20);
	t->clock_res_ns = get32(data + 24);
	t->start_ns = get64(data + 32);
	t->wall_ns = get64(data + 40);
	memcpy(t->program, data + KMEM_TRACE_HEADER_FIXED, proglen);
	t->program[proglen] = '\0';
	if (t->clock != KMEM_TRACE_CLOCK_MONOTONIC &&
	    t->clock != KMEM_TRACE_CLOCK_MONOTONIC_COARSE) {
		snprintf(t->damage, sizeof (t->damage), "offset 20: clock %u "
		    "unknown", t->clock);
		return (-1);
	}

	raw_event_t *raw = NULL;
	size_t n = 0, cap = 0;
	blocks_read(t, data, len, hdr, &raw, &n, &cap);
	if (!number_objects(t, raw, n)) {
		free(raw);
		trace_file_free(t);
		snprintf(t->damage, sizeof (t->damage), "out of memory");
		return (-1);
	}
	free(raw);
	return (t->damaged ? 1 : 0);
}

void
trace_file_free(trace_file_t *t)
{
	free(t->events);
	t->events = NULL;
	t->nevents = 0;
}

const char *
trace_fn_name(unsigned fn)
{
	static const char *const names[] = {
		[KMEM_TRACE_FN_MEMALIGN] = "memalign",
		[KMEM_TRACE_FN_POSIX_MEMALIGN] = "posix_memalign",
		[KMEM_TRACE_FN_ALIGNED_ALLOC] = "aligned_alloc",
		[KMEM_TRACE_FN_VALLOC] = "valloc",
		[KMEM_TRACE_FN_PVALLOC] = "pvalloc",
	};
	return (fn < sizeof (names) / sizeof (names[0]) ? names[fn] : "?");
}

const char *
trace_op_name(unsigned op)
{
	static const char *const names[] = {
		[KMEM_TRACE_MALLOC] = "malloc",
		[KMEM_TRACE_CALLOC] = "calloc",
		[KMEM_TRACE_REALLOC] = "realloc",
		[KMEM_TRACE_MEMALIGN] = "memalign",
		[KMEM_TRACE_FREE] = "free",
	};
	return (op < sizeof (names) / sizeof (names[0]) && names[op] != NULL ?
	    names[op] : "?");
}
