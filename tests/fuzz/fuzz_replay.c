/*
 * fuzz_replay: the vmem fuzz target (vmem_fuzz.c) without libFuzzer, so
 * that builds with any compiler run it and a crash file can be replayed in
 * a debugger.
 *
 *	fuzz_replay [--random N] [--seed S] [file or directory ...]
 *
 * Runs LLVMFuzzerTestOneInput on each file named and on each regular file
 * of each directory named, then on N pseudo-random inputs (of up to
 * RANDOM_MAX bytes) from seed S.  A failed check aborts with the model's
 * message; otherwise it prints how many inputs ran.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "vmem_model.h"

#define RANDOM_MAX      4096

static void
die(const char *what, const char *path)
{
	fprintf(stderr, "fuzz_replay: %s %s\n", what, path);
	exit(2);
}

static void
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		die("cannot open", path);
	size_t len = 0, cap = 4096;
	uint8_t *data = malloc(cap);
	size_t n;
	while (data != NULL && (n = fread(data + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap)
			data = realloc(data, cap *= 2);
	}
	if (data == NULL || ferror(f))
		die("cannot read", path);
	fclose(f);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
}

/* Run path, or every regular file in it; returns the number of inputs. */
static unsigned
run_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		die("cannot find", path);
	if (!S_ISDIR(st.st_mode)) {
		run_file(path);
		return (1);
	}
	DIR *dir = opendir(path);
	if (dir == NULL)
		die("cannot open", path);
	unsigned count = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		char file[4096];
		snprintf(file, sizeof (file), "%s/%s", path, de->d_name);
		if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
			run_file(file);
			count++;
		}
	}
	closedir(dir);
	return (count);
}

static uint64_t
number(const char *arg)
{
	char *end;
	if (arg == NULL || *arg == '\0')
		die("expected a number, not", arg == NULL ? "nothing" : arg);
	uint64_t n = strtoull(arg, &end, 0);
	if (*end != '\0')
		die("expected a number, not", arg);
	return (n);
}

int
main(int argc, char **argv)
{
	uint64_t random_inputs = 0, seed = 1;
	unsigned count = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--random") == 0)
			random_inputs = number(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0)
			seed = number(argv[++i]);
		else
			count += run_path(argv[i]);
	}

	uint8_t data[RANDOM_MAX];
	uint64_t rng = seed;
	for (uint64_t k = 0; k < random_inputs; k++) {
		size_t len = check_random(&rng) % (RANDOM_MAX + 1);
		for (size_t i = 0; i < len; i++)
			data[i] = (uint8_t)check_random(&rng);
		LLVMFuzzerTestOneInput(data, len);
	}
	printf("fuzz_replay: %u files and %" PRIu64 " random inputs (seed %"
	    PRIu64 ") passed\n", count, random_inputs, seed);
	return (0);
}
