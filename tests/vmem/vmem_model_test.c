/*
 * vmem_model_test: vmem against its reference model, over two million random
 * operations.
 *
 *	vmem_model_test [--ops N] [--seed S]
 *
 * Builds a world of arenas for every preset of vmem_model.c (plain arenas
 * of several quanta with spans up to the top of the address space,
 * identifier arenas, importing children made by vmem_create and
 * vmem_xcreate, a VMC_NO_QCACHE grandchild, arenas that use next fit and
 * arenas that never do) several times with fresh seeds, and runs N
 * operations in all, each checked by the model.  The seed is printed first;
 * the same seed and N replay the same run.  A failed check prints the
 * world, the step, the operation and the seed, and aborts.
 *
 * Then a deterministic sub-test of next fit on identifiers, whose exact
 * order the random worlds do not check.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kmem/vmem.h>

#include "check.h"
#include "vmem_model.h"

#define DEFAULT_OPS     2000000
#define ROUNDS          16      /* worlds of each preset per run */

/* Two identifier spans, added in address order so list order is ID order. */
#define LOW_BASE        1
#define LOW_IDS         64
#define HIGH_BASE       1001
#define HIGH_IDS        32
#define ID_LIMIT        (HIGH_BASE + HIGH_IDS)
#define NEXTFIT_STEPS   20000

static bool
is_id(uintptr_t id)
{
	return ((id >= LOW_BASE && id < LOW_BASE + LOW_IDS) ||
	    (id >= HIGH_BASE && id < HIGH_BASE + HIGH_IDS));
}

/* The first free ID after after, or 0. */
static uintptr_t
first_free_after(const bool *used, uintptr_t after)
{
	for (uintptr_t id = after + 1; id < ID_LIMIT; id++)
		if (is_id(id) && !used[id])
			return (id);
	return (0);
}

/*
 * Next fit with single IDs takes the first free ID after the last one
 * allocated, wrapping to the lowest: IDs increase until the wrap, and an
 * ID freed behind the rotor is not handed out again before the wrap.
 */
static void
nextfit_ids_test(uint64_t seed)
{
	static bool used[ID_LIMIT];
	static bool freed_behind[ID_LIMIT];
	uint64_t rng = seed;
	uintptr_t last = 0;
	unsigned count = 0, wraps = 0;

	check_catch_reports();
	vmem_t *ids = vmem_create("nextfit-ids", (void *)LOW_BASE, LOW_IDS, 1,
	    NULL, NULL, NULL, 0, VMC_IDENTIFIER | VM_NOSLEEP);
	CHECK(ids != NULL);
	CHECK(vmem_add(ids, (void *)HIGH_BASE, HIGH_IDS, VM_NOSLEEP) ==
	    (void *)HIGH_BASE);

	for (unsigned step = 0; step < NEXTFIT_STEPS; step++) {
		if (count < LOW_IDS + HIGH_IDS && check_random(&rng) % 100 < 55) {
			uintptr_t expect = first_free_after(used, last);
			if (expect == 0) {
				expect = first_free_after(used, 0);
				wraps++;
				memset(freed_behind, 0, sizeof (freed_behind));
			}
			uintptr_t id = (uintptr_t)vmem_alloc(ids, 1,
			    VM_NOSLEEP | VM_NEXTFIT);
			CHECK_EQ(id, expect);
			CHECK(!freed_behind[id]);
			used[id] = true;
			last = id;
			count++;
		} else if (count > 0) {
			uintptr_t id = check_random(&rng) % ID_LIMIT;
			while (!used[id])
				id = (id + 1) % ID_LIMIT;
			vmem_free(ids, (void *)id, 1);
			used[id] = false;
			freed_behind[id] = id <= last;
			count--;
		}
		CHECK_NO_REPORT(CHECK_EQ(vmem_verify(ids), 0));
	}
	CHECK(wraps >= 10);
	for (uintptr_t id = 0; id < ID_LIMIT; id++)
		if (used[id])
			vmem_free(ids, (void *)id, 1);
	CHECK_NO_REPORT(vmem_destroy(ids));
	kmem_report_handler_set(NULL, NULL, NULL);
	printf("next fit on identifiers: %u steps, %u wraps\n", NEXTFIT_STEPS,
	    wraps);
}

static void
usage(void)
{
	fprintf(stderr, "usage: vmem_model_test [--ops N] [--seed S]\n");
	exit(2);
}

static uint64_t
number(const char *arg)
{
	char *end;
	if (arg == NULL)
		usage();
	uint64_t n = strtoull(arg, &end, 0);
	if (*arg == '\0' || *end != '\0')
		usage();
	return (n);
}

int
main(int argc, char **argv)
{
	uint64_t ops = DEFAULT_OPS;
	uint64_t seed = (uint64_t)time(NULL);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--ops") == 0)
			ops = number(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0)
			seed = number(argv[++i]);
		else
			usage();
	}
	printf("seed: %" PRIu64 "\n", seed);
	fflush(stdout);

	char hint[128];
	snprintf(hint, sizeof (hint), "seed: %" PRIu64 " (replay: "
	    "vmem_model_test --seed %" PRIu64 " --ops %" PRIu64 ")", seed,
	    seed, ops);
	unsigned presets = model_preset_count();
	uint64_t per_world = ops / (ROUNDS * presets);
	if (per_world == 0)
		per_world = 1;
	uint64_t mix = seed, done = 0;
	for (unsigned round = 0; round < ROUNDS; round++) {
		for (unsigned preset = 0; preset < presets; preset++) {
			model_world_t *w = model_world_random(preset,
			    check_random(&mix), hint);
			for (uint64_t i = 0; i < per_world; i++)
				model_world_step(w);
			model_world_destroy(w);
			done += per_world;
		}
	}
	printf("%" PRIu64 " operations in %u worlds: the model agrees\n", done,
	    ROUNDS * presets);
	nextfit_ids_test(seed);
	return (0);
}
