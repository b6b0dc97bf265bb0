/*
 * A statistics snapshot as JSON (include/kmem/stats.h):
 *
 *   {"pid": N, "program": "...", "time_ns": N,
 *    "arenas": [{...}], "caches": [{...}], "pools": [{...}],
 *    "malloc_types": [{..., "buckets": [{"size": N, "inuse": N,
 *                                         "calls": N}, ...]}]}
 *
 * Each object's members are the fields of its statistics structure, under
 * the same names, listed once in a field table per structure; one writer
 * walks the tables.  Strings are escaped: quote, backslash and control
 * characters, and bytes above 127 as \u00XX, so the text is valid JSON
 * (and ASCII) whatever the names hold.  The last bucket of a malloc type
 * ("everything larger") has size null.
 *
 * The writer formats into the caller's buffer and counts what did not fit,
 * as snprintf() does; it takes no lock and allocates only in
 * kmem_stats_json_fd(), which measures first.
 */
#include <kmem/stats.h>

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/format.h"

typedef struct json_out {
	char *buf;
	size_t size;
	size_t len;                     /* of the whole text, even past size */
} json_out_t;

static void
put(json_out_t *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *at = out->len < out->size ? out->buf + out->len : NULL;
	size_t room = at != NULL ? out->size - out->len : 0;
	out->len += kmem_vsnprintf(at, room, fmt, ap);
	va_end(ap);
}

static void
put_string(json_out_t *out, const char *s, size_t max)
{
	put(out, "\"");
	for (size_t i = 0; i < max && s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			put(out, "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			put(out, "\\u%04x", c);
		else
			put(out, "%c", c);
	}
	put(out, "\"");
}

/* ---- the field tables ---- */

typedef enum field_kind {
	FIELD_STRING,                   /* char[length] */
	FIELD_INT,
	FIELD_UNSIGNED,
	FIELD_SIZE,
	FIELD_U64,
} field_kind_t;

typedef struct field {
	const char *name;
	field_kind_t kind;
	size_t offset;
	size_t length;                  /* strings */
} field_t;

#define F(type, kind, member)                                           \
	{ #member, kind, offsetof(type, member),                        \
	    sizeof (((type *)0)->member) }

#define V(kind, member) F(vmem_stats_t, kind, member)
static const field_t arena_fields[] = {
	V(FIELD_STRING, name), V(FIELD_STRING, source),
	V(FIELD_UNSIGNED, depth), V(FIELD_INT, cflags), V(FIELD_SIZE, quantum),
	V(FIELD_SIZE, qcache_max), V(FIELD_SIZE, mem_inuse),
	V(FIELD_SIZE, mem_total), V(FIELD_SIZE, mem_import),
	V(FIELD_U64, alloc), V(FIELD_U64, free), V(FIELD_U64, fail),
	V(FIELD_U64, wait), V(FIELD_U64, import), V(FIELD_U64, release),
	V(FIELD_U64, search), V(FIELD_U64, hash_lookup),
	V(FIELD_U64, hash_depth), V(FIELD_U64, hash_rescale),
	V(FIELD_SIZE, hash_buckets), V(FIELD_SIZE, hash_longest_chain),
	V(FIELD_SIZE, segs_alloc), V(FIELD_SIZE, segs_free),
	V(FIELD_SIZE, spans), V(FIELD_SIZE, segs_reserved),
	{ NULL, 0, 0, 0 }
};

#define K(kind, member) F(kmem_cache_stats_t, kind, member)
static const field_t cache_fields[] = {
	K(FIELD_STRING, name), K(FIELD_STRING, arena), K(FIELD_INT, cflags),
	K(FIELD_SIZE, buf_size), K(FIELD_SIZE, chunk_size),
	K(FIELD_SIZE, align), K(FIELD_SIZE, slab_size),
	K(FIELD_UNSIGNED, buf_per_slab), K(FIELD_U64, buf_inuse),
	K(FIELD_U64, buf_total), K(FIELD_U64, buf_constructed),
	K(FIELD_U64, buf_max), K(FIELD_SIZE, mem_total),
	K(FIELD_SIZE, mem_purged), K(FIELD_U64, purge_count), K(FIELD_U64, alloc),
	K(FIELD_U64, alloc_fail), K(FIELD_U64, free), K(FIELD_U64, slab_alloc),
	K(FIELD_U64, slab_free), K(FIELD_U64, slab_create),
	K(FIELD_U64, slab_destroy), K(FIELD_U64, depot_alloc),
	K(FIELD_U64, depot_free), K(FIELD_U64, depot_contention),
	K(FIELD_U64, depot_trim), K(FIELD_U64, full_magazines),
	K(FIELD_U64, empty_magazines), K(FIELD_UNSIGNED, magazine_size),
	K(FIELD_U64, reap), K(FIELD_INT, movable),
	K(FIELD_U64, move_callbacks), K(FIELD_U64, move_yes),
	K(FIELD_U64, move_no), K(FIELD_U64, move_later),
	K(FIELD_U64, move_dont_need), K(FIELD_U64, move_dont_know),
	K(FIELD_U64, move_hunt_found), K(FIELD_U64, move_slabs_freed),
	K(FIELD_SIZE, hash_buckets),
	K(FIELD_U64, hash_lookup), K(FIELD_U64, hash_depth),
	{ NULL, 0, 0, 0 }
};

#define P(kind, member) F(pool_stats_t, kind, member)
static const field_t pool_fields[] = {
	P(FIELD_STRING, name), P(FIELD_STRING, cache), P(FIELD_INT, is_cache),
	P(FIELD_INT, has_allocator), P(FIELD_INT, flags), P(FIELD_SIZE, size),
	P(FIELD_SIZE, item_size), P(FIELD_SIZE, align),
	P(FIELD_SIZE, align_offset), P(FIELD_SIZE, page_size),
	P(FIELD_UNSIGNED, items_per_page), P(FIELD_U64, nget),
	P(FIELD_U64, nfail), P(FIELD_U64, nput), P(FIELD_U64, npagealloc),
	P(FIELD_U64, npagefree), P(FIELD_U64, npages),
	P(FIELD_U64, hiwat_pages), P(FIELD_UNSIGNED, minpages),
	P(FIELD_UNSIGNED, maxpages), P(FIELD_U64, nidle), P(FIELD_U64, nout),
	P(FIELD_U64, nitems), P(FIELD_U64, ncached), P(FIELD_U64, nreserved),
	P(FIELD_UNSIGNED, reserve_target), P(FIELD_UNSIGNED, minitems),
	P(FIELD_UNSIGNED, hardlimit), P(FIELD_U64, nlimit),
	P(FIELD_U64, nwait), P(FIELD_U64, ndrain), P(FIELD_U64, nconstruct),
	P(FIELD_U64, ndestruct),
	{ NULL, 0, 0, 0 }
};

#define M(kind, member) F(mtype_stats_t, kind, member)
static const field_t type_fields[] = {
	M(FIELD_STRING, name), M(FIELD_INT, attached), M(FIELD_U64, inuse),
	M(FIELD_U64, bytes_inuse), M(FIELD_U64, mem_inuse),
	M(FIELD_U64, mem_max), M(FIELD_U64, limit), M(FIELD_U64, calls),
	M(FIELD_U64, fails), M(FIELD_U64, frees), M(FIELD_U64, limit_hits),
	M(FIELD_U64, limit_waits),
	{ NULL, 0, 0, 0 }
};

/* ---- the writer ---- */

static void
put_members(json_out_t *out, const field_t *fields, const void *row)
{
	for (const field_t *f = fields; f->name != NULL; f++) {
		const char *p = (const char *)row + f->offset;
		put(out, "%s\"%s\": ", f == fields ? "" : ", ", f->name);
		switch (f->kind) {
		case FIELD_STRING:
			put_string(out, p, f->length);
			break;
		case FIELD_INT:
			put(out, "%d", *(const int *)p);
			break;
		case FIELD_UNSIGNED:
			put(out, "%u", *(const unsigned *)p);
			break;
		case FIELD_SIZE:
			put(out, "%zu", *(const size_t *)p);
			break;
		case FIELD_U64:
			put(out, "%llu", (unsigned long long)*(const uint64_t *)p);
			break;
		}
	}
}

static void
put_buckets(json_out_t *out, const mtype_stats_t *type)
{
	put(out, ", \"buckets\": [");
	for (unsigned b = 0; b < MTYPE_BUCKETS; b++) {
		put(out, "%s{\"size\": ", b == 0 ? "" : ", ");
		if (b < MTYPE_BUCKETS - 1)
			put(out, "%zu", mtype_bucket_size(b));
		else
			put(out, "null");
		put(out, ", \"inuse\": %llu, \"calls\": %llu}",
		    (unsigned long long)type->bucket[b].inuse,
		    (unsigned long long)type->bucket[b].calls);
	}
	put(out, "]");
}

static void
put_array(json_out_t *out, const char *name, const field_t *fields,
    const void *rows, size_t n, size_t row_size)
{
	put(out, ",\n \"%s\": [", name);
	for (size_t i = 0; i < n; i++) {
		const void *row = (const char *)rows + i * row_size;
		put(out, "%s\n  {", i == 0 ? "" : ",");
		put_members(out, fields, row);
		if (fields == type_fields)
			put_buckets(out, row);
		put(out, "}");
	}
	put(out, "]");
}

size_t
kmem_stats_json(const kmem_stats_t *st, char *buf, size_t size)
{
	json_out_t out = { buf, size, 0 };
	put(&out, "{\"pid\": %ld, \"program\": ", st->pid);
	put_string(&out, st->program, sizeof (st->program));
	put(&out, ", \"time_ns\": %llu", (unsigned long long)st->time_ns);
	put_array(&out, "arenas", arena_fields, st->arenas, st->narenas,
	    sizeof (vmem_stats_t));
	put_array(&out, "caches", cache_fields, st->caches, st->ncaches,
	    sizeof (kmem_cache_stats_t));
	put_array(&out, "pools", pool_fields, st->pools, st->npools,
	    sizeof (pool_stats_t));
	put_array(&out, "malloc_types", type_fields, st->types, st->ntypes,
	    sizeof (mtype_stats_t));
	put(&out, "}");
	return (out.len);
}

int
kmem_stats_json_fd(const kmem_stats_t *st, int fd)
{
	size_t len = kmem_stats_json(st, NULL, 0);
	char *text = malloc(len + 2);
	if (text == NULL)
		return (-1);
	kmem_stats_json(st, text, len + 1);
	text[len++] = '\n';
	int result = 0;
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			result = -1;
			break;
		}
		done += (size_t)n;
	}
	free(text);
	return (result);
}
