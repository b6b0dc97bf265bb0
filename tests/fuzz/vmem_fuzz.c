/*
 * The libFuzzer target for vmem.  Each input is decoded by the model engine
 * (../vmem_model.c) into a world of arenas -- its first byte picks the
 * preset -- and a sequence of operations, every decision reading as many
 * bytes as its range needs; all of the model's checks run, and a failed one
 * aborts, which libFuzzer records as a crash.  Everything an input created
 * is freed and destroyed before the next one (vmem_destroy would report
 * leaks), so inputs do not depend on each other.
 *
 * Build and run it with clang:
 *
 *	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DKMEM_FUZZ=ON \
 *	    -DKMEM_BENCH=OFF
 *	cmake --build build-fuzz -j2 --target vmem_fuzz
 *	build-fuzz/tests/fuzz/vmem_fuzz -max_total_time=60 tests/fuzz/corpus
 *
 * tests/fuzz/corpus holds the committed seed inputs.  libFuzzer adds the
 * inputs it finds interesting to the first corpus directory it is given,
 * so that directory must exist and be writable; to keep the tree clean,
 * run it on a copy (as .ci/run does).  fuzz_replay (fuzz_replay.c, built
 * with any compiler) runs the same entry point on a crash file, a
 * directory, or pseudo-random inputs.
 */
#include "vmem_model.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	model_world_t *w = model_world_from_bytes(data, size);
	while (model_world_step(w))
		continue;
	model_world_destroy(w);
	return (0);
}
