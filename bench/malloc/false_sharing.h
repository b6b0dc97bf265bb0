/*
 * The engine of cache_scratch and cache_thrash (Hoard's false-sharing
 * benchmarks): T threads each ITERATIONS times allocate an 8-byte object,
 * write every byte of it REPS times and free it.  With scratch, the main
 * thread first allocates one object per thread, one after the other (so
 * they share cache lines), and each thread frees the one it was given
 * before it starts.  Returns main()'s exit status.
 */
#ifndef BENCH_MALLOC_FALSE_SHARING_H
#define BENCH_MALLOC_FALSE_SHARING_H

#include <stdbool.h>

int false_sharing_main(int argc, char **argv, const char *name, bool scratch);

#endif
