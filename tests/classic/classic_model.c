/*
 * The classic allocators' model-based test engine: see classic_model.h.
 */
#include "classic_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

#define MODEL_WORD      8
#define MODEL_CHECK_EVERY 97

void
model_args(int argc, char **argv, const char *test, uint64_t *seed, long *ops)
{
	*seed = (uint64_t)time(NULL);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			*seed = strtoull(argv[++i], NULL, 0);
		} else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
			*ops = strtol(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: %s [--seed N] [--ops N]\n",
			    argv[0]);
			exit(2);
		}
	}
	printf("%s: seed %llu (rerun with --seed %llu)\n", test,
	    (unsigned long long)*seed, (unsigned long long)*seed);
	fflush(stdout);
}

size_t
model_below(model_t *m, size_t n)
{
	return ((size_t)(check_random(&m->rng) % n));
}

void
model_init(model_t *m, const model_target_t *t, uint64_t seed)
{
	memset(m, 0, sizeof (*m));
	m->t = t;
	m->rng = seed;
	m->owner = calloc(t->size / MODEL_WORD, sizeof (m->owner[0]));
	m->live = calloc(t->size / MODEL_WORD, sizeof (m->live[0]));
	m->peak = calloc(t->size / MODEL_WORD, sizeof (m->peak[0]));
	CHECK(m->owner != NULL && m->live != NULL && m->peak != NULL);
}

void
model_fini(model_t *m)
{
	free(m->owner);
	free(m->live);
	free(m->peak);
}

static uint32_t
tag_of(const model_block_t *b)
{
	return ((uint32_t)(b->seq % 0xfffffffeu) + 1);
}

static unsigned char
pattern_byte(const model_block_t *b, size_t i)
{
	return ((unsigned char)(tag_of(b) * 131u + i * 7u + 1u));
}

static size_t
word_of(const model_t *m, uintptr_t addr)
{
	return ((addr - m->t->base) / MODEL_WORD);
}

/* The words [addr, addr + size) covers, rounded out to whole words. */
static size_t
words_end(const model_t *m, uintptr_t addr, size_t size)
{
	return ((addr + size - m->t->base + MODEL_WORD - 1) / MODEL_WORD);
}

bool
model_range_free(const model_t *m, uintptr_t addr, size_t size)
{
	for (size_t w = word_of(m, addr); w < words_end(m, addr, size); w++) {
		if (m->owner[w] != 0)
			return (false);
	}
	return (true);
}

bool
model_aligned_free(const model_t *m, size_t block,
    size_t (*extent)(size_t size))
{
	size_t nwords = m->t->size / MODEL_WORD;
	unsigned char *busy = calloc(nwords, 1);
	CHECK(busy != NULL);
	for (size_t i = 0; i < m->nlive; i++) {
		const model_block_t *b = &m->live[i];
		size_t end = words_end(m, b->addr, extent(b->size));
		for (size_t w = word_of(m, b->addr); w < end && w < nwords; w++)
			busy[w] = 1;
	}
	bool found = false;
	size_t per = block / MODEL_WORD;
	for (size_t w = 0; w + per <= nwords && !found; w += per) {
		found = true;
		for (size_t j = 0; j < per && found; j++)
			found = busy[w + j] == 0;
	}
	free(busy);
	return (found);
}

void *
model_alloc(model_t *m, size_t size)
{
	const model_target_t *t = m->t;
	void *p = t->alloc(t->inst, size);
	if (p == NULL) {
		m->failures++;
		if (t->may_fail != NULL && !t->may_fail(m, size)) {
			fprintf(stderr, "%s: an allocation of %zu bytes failed "
			    "with %zu bytes in %zu blocks live\n", t->name, size,
			    m->live_bytes, m->nlive);
			CHECK(!"the allocator was entitled to fail");
		}
		return (NULL);
	}
	uintptr_t a = (uintptr_t)p;
	CHECK(a % t->align == 0);
	CHECK(a >= t->base && a - t->base <= t->size &&
	    size <= t->size - (a - t->base));
	model_block_t *b = &m->live[m->nlive++];
	*b = (model_block_t){ .addr = a, .size = size, .seq = ++m->next_seq };
	for (size_t w = word_of(m, a); w < words_end(m, a, size); w++) {
		if (m->owner[w] != 0) {
			fprintf(stderr, "%s: [%p, +%zu) overlaps a live block\n",
			    t->name, p, size);
			CHECK(!"no two live blocks overlap");
		}
		m->owner[w] = tag_of(b);
	}
	unsigned char *bytes = p;
	for (size_t i = 0; i < size; i++)
		bytes[i] = pattern_byte(b, i);
	m->live_bytes += size;
	m->allocs++;
	return (p);
}

void
model_free_at(model_t *m, size_t i)
{
	model_block_t b = m->live[i];
	const unsigned char *bytes = (const unsigned char *)b.addr;
	for (size_t j = 0; j < b.size; j++) {
		if (bytes[j] != pattern_byte(&b, j)) {
			fprintf(stderr, "%s: byte %zu of [%p, +%zu) changed "
			    "while allocated\n", m->t->name, j, (void *)b.addr,
			    b.size);
			CHECK(!"a live block's contents are left alone");
		}
	}
	for (size_t w = word_of(m, b.addr); w < words_end(m, b.addr, b.size);
	    w++) {
		CHECK_EQ(m->owner[w], tag_of(&b));
		m->owner[w] = 0;
	}
	m->t->free(m->t->inst, (void *)b.addr, b.size);
	m->live[i] = m->live[--m->nlive];
	m->live_bytes -= b.size;
	m->frees++;
}

void
model_free_all(model_t *m)
{
	while (m->nlive > 0)
		model_free_at(m, model_below(m, m->nlive));
	if (m->t->check != NULL)
		m->t->check(m);
}

static size_t
random_size(model_t *m)
{
	size_t large = m->t->max_request;
	size_t r = model_below(m, 1000);
	if (r < 600)
		return (1 + model_below(m, 128));
	if (r < 850)
		return (1 + model_below(m, 1024));
	if (r < 990)
		return (1 + model_below(m, large / 8 > 0 ? large / 8 : 1));
	if (r < 998)
		return (1 + model_below(m, large));
	return (m->t->size + 1 + model_below(m, 4096));      /* never fits */
}

static int
by_seq(const void *a, const void *b)
{
	const model_block_t *x = a, *y = b;
	return (x->seq < y->seq ? -1 : x->seq > y->seq);
}

static void
note_peak(model_t *m)
{
	if (m->live_bytes <= m->peak_bytes)
		return;
	memcpy(m->peak, m->live, m->nlive * sizeof (m->live[0]));
	m->npeak = m->nlive;
	m->peak_bytes = m->live_bytes;
	qsort(m->peak, m->npeak, sizeof (m->peak[0]), by_seq);
}

void
model_run(model_t *m, long ops)
{
	bool filling = true;
	unsigned phase_failures = 0;
	for (long i = 0; i < ops; i++) {
		bool alloc = m->nlive == 0 ||
		    model_below(m, 100) < (filling ? 90u : 15u);
		if (alloc) {
			if (model_alloc(m, random_size(m)) == NULL)
				phase_failures++;
		} else {
			model_free_at(m, model_below(m, m->nlive));
		}
		if (filling && (phase_failures >= 8 ||
		    m->live_bytes > m->t->size / 10 * 9)) {
			note_peak(m);
			filling = false;
		} else if (!filling && m->live_bytes < m->t->size / 10) {
			filling = true;
			phase_failures = 0;
		}
		if (i % MODEL_CHECK_EVERY == 0 && m->t->check != NULL)
			m->t->check(m);
	}
	note_peak(m);
	model_free_all(m);
}

void
model_replay(model_t *m, const model_block_t *blocks, size_t n)
{
	size_t first = m->nlive;
	for (size_t i = 0; i < n; i++) {
		if (model_alloc(m, blocks[i].size) == NULL) {
			fprintf(stderr, "%s: replaying the peak, request %zu of "
			    "%zu (%zu bytes) failed\n", m->t->name, i, n,
			    blocks[i].size);
			CHECK(!"freed memory is reusable");
		}
	}
	while (m->nlive > first)
		model_free_at(m, m->nlive - 1);
}

void
model_test(const model_target_t *t, uint64_t seed, long ops,
    void (*at_end)(model_t *m))
{
	model_t m;
	model_init(&m, t, seed);
	model_run(&m, ops);
	at_end(&m);
	model_replay(&m, m.peak, m.npeak);
	printf("%s: %llu random allocations and %llu frees agree with the "
	    "model; %llu failures%s", t->name, (unsigned long long)m.allocs,
	    (unsigned long long)m.frees, (unsigned long long)m.failures,
	    t->may_fail != NULL ? ", each one entitled" : "");
	if (m.npeak > 0)
		printf("; the peak (%zu requests, %zu bytes) fits again",
		    m.npeak, m.peak_bytes);
	printf("\n");
	model_fini(&m);
}
