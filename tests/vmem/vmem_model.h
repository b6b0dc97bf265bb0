/*
 * The model-based test engine for vmem, shared by the random driver
 * (vmem_model_test.c) and the fuzz target (fuzz/vmem_fuzz.c).
 *
 * A world is a small tree of real arenas (a root with spans, children that
 * import from it through wrapped vmem_alloc/vmem_free, an xcreate'd one, an
 * identifier arena, ...) and, beside each, a reference model: its spans and
 * its live allocations, both sorted by address.  Each step picks an arena
 * and an operation -- an allocation under any policy and constraint, a
 * free, a new span, a walk, a contains query, a piece of bad input, a
 * destroy and recreate -- runs it on the real arena and checks the result
 * against what vmem promises (vmem_model.c lists the promises).
 *
 * Every decision comes from one source: a seeded PRNG for the driver, the
 * input bytes for the fuzzer, so the same engine does both.  A failed check
 * prints the world, the step, the operation and the replay hint, then
 * aborts (so libFuzzer records the input as a crash).
 *
 * The engine installs the report catcher of check.h while a world exists;
 * one world at a time (the import functions find it through a global).
 */
#ifndef KMEM_TESTS_VMEM_MODEL_H
#define KMEM_TESTS_VMEM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct model_world model_world_t;

/* How many arena configurations ("presets") a world can be built from. */
unsigned model_preset_count(void);

/*
 * A world of the given preset whose decisions come from a PRNG seeded with
 * seed; hint is printed on failure (how to replay the run).
 */
model_world_t *model_world_random(unsigned preset, uint64_t seed,
    const char *hint);

/*
 * A world whose preset and decisions are read from data (a fuzz input);
 * when the bytes run out, every further decision is 0.
 */
model_world_t *model_world_from_bytes(const uint8_t *data, size_t len);

/*
 * Run one random operation and check it.  Returns false once a world made
 * from bytes has used them all up (a random world never runs out).
 */
bool model_world_step(model_world_t *w);

/* Free everything, compare a last time, destroy every arena, then w. */
void model_world_destroy(model_world_t *w);

/* The libFuzzer entry point (fuzz/vmem_fuzz.c), also run by fuzz_replay. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* KMEM_TESTS_VMEM_MODEL_H */
