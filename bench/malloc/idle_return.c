/*
 * idle_return: does idle memory go back to the system without being asked?
 *
 * Many short-lived threads, in waves of a few at a time, each allocate a
 * few MiB of small and medium objects (16 B .. 32 KiB, and some 64..256
 * KiB buffers), write to them, free them all and exit.  Then the main
 * thread does nothing -- no malloc, no free -- and samples its resident
 * set (/proc/self/statm) at 0, 5, 10, 20 and 40 seconds, printing one line
 * per sample:
 *
 *   idle_return: t=<seconds> rss=<MiB>
 *
 * An allocator that returns idle memory only from its allocation paths
 * keeps everything here: nothing allocates once the threads are gone.
 *
 *   idle_return [--quick] [-n THREADS] [-t WAVE] [-s SECONDS]
 *     -n  threads in all (1000); -t  threads at a time (8);
 *     -s  the last sample (40; the samples are 0, 5, 10, 20, 40 up to it);
 *     --quick  16 threads, samples at 0 s only: the smoke run.
 *
 * bench/malloc/idle_return.sh runs it under every allocator side by side.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define BYTES_PER_THREAD        (4u << 20)
#define MAX_OBJECTS             65536

static const unsigned samples[] = { 0, 5, 10, 20, 40 };

/* Allocate about BYTES_PER_THREAD in mixed sizes, touch them, free them. */
static void *
worker(void *arg)
{
	bm_rng_t rng;
	bm_rng_seed(&rng, (uint64_t)(uintptr_t)arg);
	void **objs = malloc(MAX_OBJECTS * sizeof (void *));
	if (objs == NULL)
		abort();
	size_t total = 0, n = 0;
	while (total < BYTES_PER_THREAD && n < MAX_OBJECTS) {
		unsigned kind = (unsigned)bm_rng_range(&rng, 0, 99);
		size_t size = kind < 80 ? bm_rng_range(&rng, 16, 512) :
		    kind < 98 ? bm_rng_range(&rng, 513, 32768) :
		    bm_rng_range(&rng, 65536, 262144);
		char *p = malloc(size);
		if (p == NULL)
			abort();
		memset(p, (int)(n & 0xff), size);
		objs[n++] = p;
		total += size;
	}
	/* Free in an order unlike the allocation's, as real programs do. */
	for (size_t i = 0; i < n; i += 2)
		free(objs[i]);
	for (size_t i = 1; i < n; i += 2)
		free(objs[i]);
	free(objs);
	return (NULL);
}

static double
rss_mib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size, resident;
	if (f == NULL)
		return (-1);
	int got = fscanf(f, "%ld %ld", &size, &resident);
	fclose(f);
	return (got == 2 ? (double)resident * (double)sysconf(_SC_PAGESIZE) /
	    (1 << 20) : -1);
}

static void
sleep_until(const struct timespec *start, unsigned seconds)
{
	struct timespec t = *start;
	t.tv_sec += seconds;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) != 0)
		;
}

static long
argument(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 0) {
		fprintf(stderr, "idle_return: \"%s\" is not a number >= 0\n", s);
		exit(2);
	}
	return (v);
}

int
main(int argc, char **argv)
{
	long threads = 1000, wave = 8, seconds = 40;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			threads = 16;
			seconds = 0;
		} else if (i + 1 < argc && strcmp(argv[i], "-n") == 0) {
			threads = argument(argv[++i]);
		} else if (i + 1 < argc && strcmp(argv[i], "-t") == 0) {
			wave = argument(argv[++i]);
		} else if (i + 1 < argc && strcmp(argv[i], "-s") == 0) {
			seconds = argument(argv[++i]);
		} else {
			fprintf(stderr, "usage: idle_return [--quick] "
			    "[-n THREADS] [-t WAVE] [-s SECONDS]\n");
			return (2);
		}
	}
	if (wave < 1)
		wave = 1;
	const char *show = getenv("BENCH_SHOW_MALLOC");
	if (show != NULL && strcmp(show, "1") == 0) {
		bm_options_t opt;
		char *args[] = { argv[0], NULL };
		bm_init(1, args, "", 1, 1, &opt);
	}

	pthread_t tid[wave];
	for (long done = 0; done < threads; ) {
		long n = threads - done < wave ? threads - done : wave;
		for (long i = 0; i < n; i++) {
			if (pthread_create(&tid[i], NULL, worker,
			    (void *)(uintptr_t)(done + i + 1)) != 0) {
				perror("idle_return: pthread_create");
				return (1);
			}
		}
		for (long i = 0; i < n; i++)
			pthread_join(tid[i], NULL);
		done += n;
	}

	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (size_t i = 0; i < sizeof (samples) / sizeof (samples[0]) &&
	    samples[i] <= (unsigned long)seconds; i++) {
		sleep_until(&start, samples[i]);
		printf("idle_return: t=%u rss=%.1f\n", samples[i], rss_mib());
		fflush(stdout);
	}
	return (0);
}
