/*
 * The debugging layer's logs (KMEM_LOGGING / UMEM_LOGGING): rings of the
 * recent transactions of audited caches, of freed buffers' first bytes
 * (KMF_CONTENTS), and of failed allocations.
 *
 * Each log is one ring of fixed-size entries in pages of its own,
 * allocated at bootstrap when the settings ask for it and kept for the
 * life of the process; the newest entry overwrites the oldest.  An entry
 * copies what it records (the cache's name, not a pointer to the cache),
 * so it outlives the cache and the buffer.  Entries are numbered by a
 * sequence that only grows: a walk visits the numbers that were in the
 * ring when it started and skips those overwritten since.
 *
 * Locking: kmem_debug_log_lock (KMEM_RANK_DEBUG_LOG, a leaf) guards the
 * three rings.  Appending copies an entry in; walking copies one entry out
 * at a time and calls back with no lock held, so a callback may allocate.
 * fork() holds the lock (kmem_fork.c).
 */
#include "kmem_impl.h"

#include "base/format.h"
#include "base/lock_order.h"
#include "base/report.h"

kmem_mutex_t kmem_debug_log_lock =
    KMEM_MUTEX_INITIALIZER(KMEM_RANK_DEBUG_LOG);

typedef struct log_entry {
	uint64_t seq;
	char cache[VMEM_NAMELEN];
	const void *buf;
	size_t size;
	uint64_t thread;
	uint64_t time_ns;
	uint32_t op;
	uint32_t depth;
	size_t contents_len;
	uintptr_t pcs[KMEM_AUDIT_DEPTH_MAX];
	unsigned char contents[];       /* the contents log's entries only */
} log_entry_t;

typedef struct log_ring {
	unsigned char *mem;
	size_t entry_size;
	uint64_t entries;
	uint64_t next_seq;              /* the number the next entry gets */
} log_ring_t;

static log_ring_t rings[KMEM_LOG_COUNT];

static log_entry_t *
entry_at(const log_ring_t *r, uint64_t seq)
{
	return ((log_entry_t *)(r->mem + (seq % r->entries) * r->entry_size));
}

void
kmem_debug_logs_init(void)
{
	for (int log = 0; log < KMEM_LOG_COUNT; log++) {
		size_t size = kmem_debug_config.log_size[log];
		if (size == 0)
			continue;
		log_ring_t *r = &rings[log];
		r->entry_size = p2_roundup(sizeof (log_entry_t) +
		    (log == KMEM_LOG_CONTENTS ?
		    kmem_debug_config.contents_bytes : 0), sizeof (uint64_t));
		size = p2_roundup(size < r->entry_size ? r->entry_size : size,
		    kmem_pagesize());
		r->mem = kmem_pages_alloc(size);
		if (r->mem == NULL) {
			kmem_warn("kmem: no memory for a debug log of %zu bytes; "
			    "logging off", size);
			continue;
		}
		r->entries = size / r->entry_size;
	}
}

void
kmem_debug_log_append(int log, const kmem_cache_t *cp, const void *buf,
    size_t size, const kmem_transaction_t *tx, size_t contents)
{
	log_ring_t *r = &rings[log];
	if (r->mem == NULL)
		return;
	kmem_mutex_enter(&kmem_debug_log_lock);
	log_entry_t *e = entry_at(r, r->next_seq);
	e->seq = r->next_seq++;
	kmem_snprintf(e->cache, sizeof (e->cache), "%s", cp != NULL ?
	    cp->cache_name : "kmem_alloc");
	e->buf = buf;
	e->size = size;
	e->thread = tx->thread;
	e->time_ns = tx->time_ns;
	e->op = tx->op;
	e->depth = tx->depth;
	for (unsigned i = 0; i < tx->depth; i++)
		e->pcs[i] = tx->pcs[i];
	e->contents_len = contents;
	if (contents != 0)
		__builtin_memcpy(e->contents, buf, contents);
	kmem_mutex_exit(&kmem_debug_log_lock);
}

size_t
kmem_debug_log_walk(kmem_debug_log_t log,
    int (*fn)(void *arg, const kmem_debug_record_t *rec), void *arg)
{
	if ((unsigned)log >= KMEM_LOG_COUNT || rings[log].mem == NULL)
		return (0);
	log_ring_t *r = &rings[log];
	union {
		log_entry_t e;
		unsigned char bytes[sizeof (log_entry_t) + KMEM_CONTENTS_MAX];
	} copy;
	kmem_mutex_enter(&kmem_debug_log_lock);
	uint64_t end = r->next_seq;
	kmem_mutex_exit(&kmem_debug_log_lock);
	uint64_t seq = end > r->entries ? end - r->entries : 0;
	size_t visited = 0;
	for (; seq < end; seq++) {
		kmem_mutex_enter(&kmem_debug_log_lock);
		bool live = seq + r->entries >= r->next_seq;
		if (live)
			__builtin_memcpy(&copy, entry_at(r, seq), r->entry_size);
		kmem_mutex_exit(&kmem_debug_log_lock);
		if (!live)
			continue;
		kmem_debug_record_t rec = { .op = (kmem_debug_op_t)copy.e.op,
		    .cache = copy.e.cache, .buf = copy.e.buf,
		    .size = copy.e.size, .thread = copy.e.thread,
		    .time_ns = copy.e.time_ns, .depth = copy.e.depth,
		    .stack = copy.e.pcs, .contents_len = copy.e.contents_len,
		    .contents = copy.e.contents };
		visited++;
		if (fn(arg, &rec) != 0)
			break;
	}
	return (visited);
}

/* ---- a buffer's history, for verbose reports ---- */

typedef struct history {
	const void *buf;
	char *out;
	size_t len;
	size_t cap;
	unsigned found;
} history_t;

static void
history_add(history_t *h, const char *text)
{
	if (h->len + 1 < h->cap)
		h->len += kmem_snprintf(h->out + h->len, h->cap - h->len, "%s",
		    text);
	if (h->len >= h->cap)
		h->len = h->cap - 1;
}

static int
history_entry(void *arg, const kmem_debug_record_t *rec)
{
	history_t *h = arg;
	if (rec->buf != h->buf)
		return (0);
	char line[256];
	if (h->found++ == 0)
		history_add(h, "\n  transaction log (oldest first):");
	kmem_snprintf(line, sizeof (line), "\n    %s of %zu bytes by thread "
	    "%llu at %llu ns:", rec->op == KMEM_OP_FREE ? "free" : "allocation",
	    rec->size, (unsigned long long)rec->thread,
	    (unsigned long long)rec->time_ns);
	history_add(h, line);
	for (unsigned i = 0; i < rec->depth; i++) {
		char name[192];
		(void) kmem_symbolize(rec->stack[i], name, sizeof (name));
		kmem_snprintf(line, sizeof (line), "\n        #%u %s", i, name);
		history_add(h, line);
	}
	return (0);
}

size_t
kmem_debug_log_history(const void *buf, char *out, size_t len)
{
	history_t h = { .buf = buf, .out = out, .cap = len };
	if (len == 0)
		return (0);
	out[0] = '\0';
	kmem_debug_log_walk(KMEM_LOG_TRANSACTION, history_entry, &h);
	return (h.len);
}
