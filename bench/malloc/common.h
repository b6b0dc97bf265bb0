/*
 * What the malloc workloads share: their command line, a random number
 * generator, the check that says which malloc is running, and the
 * checksum line.
 *
 * The workloads are ordinary programs: they call malloc, free, realloc
 * and calloc of whatever C library or preloaded allocator the dynamic
 * linker bound them to, and know nothing of libkmem.  Each does a fixed
 * amount of work (not "as much as it can in N seconds"), so that the
 * driver (bench/malloc/run) measures the wall time and peak RSS of the
 * whole process, and prints a checksum of what it computed on stdout,
 * which must not depend on the allocator: the driver compares it with
 * glibc's, so an allocator that hands out overlapping memory is caught
 * rather than timed.
 *
 * Every workload takes
 *   --quick       a smoke run: small parameters (a few milliseconds);
 *   -n N          the amount of work (what it counts: the program's usage);
 *   -t T          threads, for the multi-threaded ones (default: CPUs).
 *
 * With BENCH_SHOW_MALLOC=1 in the environment, a workload first prints
 * "malloc: <object>" on stderr: the shared object that defines the malloc
 * it calls (dladdr of what the dynamic linker resolves), so the driver can
 * check that a preload took effect.
 */
#ifndef BENCH_MALLOC_COMMON_H
#define BENCH_MALLOC_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bm_options {
	bool quick;
	long n;                 /* the amount of work */
	int threads;
} bm_options_t;

/*
 * Parse argv: n and threads start at default_n (quick_n with --quick) and
 * the number of online CPUs; -n and -t override them.  Prints the usage
 * line and exits on a bad argument.  Also does the BENCH_SHOW_MALLOC
 * report.
 */
void bm_init(int argc, char **argv, const char *usage, long default_n,
    long quick_n, bm_options_t *opt);

/* xorshift64*: a fast generator whose sequence is fixed by its seed. */
typedef struct bm_rng {
	uint64_t s;
} bm_rng_t;

static inline void
bm_rng_seed(bm_rng_t *r, uint64_t seed)
{
	/* splitmix64 of the seed, so nearby seeds give unrelated streams */
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	r->s = (z ^ (z >> 31)) | 1;
}

static inline uint64_t
bm_rng_next(bm_rng_t *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (r->s * 0x2545f4914f6cdd1dULL);
}

/* Uniform in [lo, hi]. */
static inline size_t
bm_rng_range(bm_rng_t *r, size_t lo, size_t hi)
{
	return (lo + (size_t)((bm_rng_next(r) >> 11) % (hi - lo + 1)));
}

/* Mix v into a running checksum (order matters). */
static inline uint64_t
bm_mix(uint64_t sum, uint64_t v)
{
	sum ^= v + 0x9e3779b97f4a7c15ULL + (sum << 6) + (sum >> 2);
	return (sum);
}

/* malloc, or print an error and exit. */
void *bm_xmalloc(size_t size);

/* Print "checksum <hex>" on stdout. */
void bm_print_checksum(uint64_t sum);

#endif /* BENCH_MALLOC_COMMON_H */
