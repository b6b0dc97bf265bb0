/*
 * The classic allocators' model-based test engine (classic_model.c).
 *
 * A target wraps one allocator instance over a region: its allocation and
 * free functions, the alignment it promises, and hooks for what only that
 * design can say (may an allocation of this size fail now? do its
 * statistics agree with the model?).  The engine runs long random
 * sequences of allocations and frees against it and keeps the model: who
 * owns each 8-byte word of the region, and a pattern written over every
 * live block.  It checks after every step that
 *   - each block is aligned, inside the region, and overlaps no live block;
 *   - each block keeps its whole requested size intact until it is freed
 *     (the pattern), so no allocator metadata lands in a live block;
 *   - an allocation fails only when the target's hook says it may;
 * and every few steps that the target's statistics match the model.
 * Sizes mix small and medium requests with a few large and impossible
 * ones; phases of mostly allocating (until failures come) alternate with
 * phases of mostly freeing, so the region fills up and empties many times.
 *
 * The engine remembers the live set at its peak (most live bytes), so a
 * test can check that freed memory is reusable by asking for the same
 * sizes again (model_replay).
 */
#ifndef KMEM_TESTS_CLASSIC_MODEL_H
#define KMEM_TESTS_CLASSIC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct model model_t;

typedef struct model_target {
	const char *name;
	void *inst;
	uintptr_t base;                 /* the region */
	size_t size;
	size_t align;                   /* every block's alignment */
	size_t max_request;             /* the largest "large" request */
	void *(*alloc)(void *inst, size_t size);
	void (*free)(void *inst, void *addr, size_t size);
	/* After a failed allocation of size: was the target entitled to it? */
	bool (*may_fail)(model_t *m, size_t size);
	/* Check the target's statistics against the model. */
	void (*check)(model_t *m);
} model_target_t;

typedef struct model_block {
	uintptr_t addr;
	size_t size;
	uint64_t seq;                   /* allocation order */
} model_block_t;

struct model {
	const model_target_t *t;
	uint64_t rng;
	uint32_t *owner;                /* per 8-byte word: 0, or a block's tag */
	model_block_t *live;
	size_t nlive;
	size_t live_bytes;
	uint64_t next_seq;
	model_block_t *peak;            /* the live set at its most bytes */
	size_t npeak;
	size_t peak_bytes;
	uint64_t allocs;
	uint64_t frees;
	uint64_t failures;
};

/* Parse --seed N and --ops N (defaults: the time, and ops). */
void model_args(int argc, char **argv, const char *test, uint64_t *seed,
    long *ops);

void model_init(model_t *m, const model_target_t *t, uint64_t seed);
void model_fini(model_t *m);
/* Run ops random operations, then free everything. */
void model_run(model_t *m, long ops);
/* Allocate and free one block through the model (with all its checks). */
void *model_alloc(model_t *m, size_t size);
void model_free_at(model_t *m, size_t i);
void model_free_all(model_t *m);
/* Is every byte of [addr, addr + size) free in the model? */
bool model_range_free(const model_t *m, uintptr_t addr, size_t size);
/*
 * Is there a block of block bytes, aligned to its size from the region's
 * start, that no live block covers, a live block of size bytes covering
 * extent(size) bytes from its address?  The buddy systems' test.
 */
bool model_aligned_free(const model_t *m, size_t block,
    size_t (*extent)(size_t size));
/*
 * Allocate sizes[0 .. n) again in order: every one must succeed (with all
 * the usual checks); then free them.
 */
void model_replay(model_t *m, const model_block_t *blocks, size_t n);
/*
 * The whole run for one target: ops random operations, everything freed,
 * at_end(m) for the design's promises about its empty state (it may trim
 * m->peak to the requests the design promises to fit again), then the
 * peak replayed and a summary printed.
 */
void model_test(const model_target_t *t, uint64_t seed, long ops,
    void (*at_end)(model_t *m));
/* Uniform in [0, n). */
size_t model_below(model_t *m, size_t n);

#endif /* KMEM_TESTS_CLASSIC_MODEL_H */
