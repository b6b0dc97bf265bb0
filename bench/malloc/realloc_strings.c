/*
 * realloc_strings: many strings grown a small piece at a time with
 * realloc, the naive string builder found in C programs everywhere (and
 * the growth pattern of the "realloc" tests of glibc's and mimalloc's
 * benchmark collections).
 *
 * STRINGS strings start empty.  Each step picks a random string and
 * appends 1..32 bytes to it, reallocating it to exactly its new length
 * plus the terminating NUL.  A string that has reached its random limit
 * (up to 16 KiB) is freed and started again.  Every append goes through
 * realloc: an allocator with size classes grows in place until the
 * class is full and then moves the string; one that can extend a block
 * into free space beside it moves it less.  The checksum hashes every
 * string retired and the survivors, so a realloc that loses bytes fails
 * it.
 *
 * -n N: appends (default 4 million).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define STRINGS         4000
#define MAX_PIECE       32
#define MAX_LIMIT       16384

typedef struct str {
	char *s;
	size_t len;
	size_t limit;
} str_t;

static uint64_t
hash_string(uint64_t sum, const str_t *st)
{
	uint64_t h = 1469598103934665603ULL;    /* FNV-1a */
	size_t i;

	for (i = 0; i < st->len; i++)
		h = (h ^ (unsigned char)st->s[i]) * 1099511628211ULL;
	if (st->s != NULL && st->s[st->len] != '\0')
		h = ~h;
	return (bm_mix(sum, h));
}

int
main(int argc, char **argv)
{
	bm_options_t opt;
	bm_rng_t rng;
	str_t *strs;
	uint64_t sum = 0;
	long step;
	size_t i;

	bm_init(argc, argv, "  -n: appends (default 4e6)", 4000000, 200000,
	    &opt);
	bm_rng_seed(&rng, 7);
	strs = calloc(STRINGS, sizeof (str_t));
	if (strs == NULL) {
		fprintf(stderr, "out of memory\n");
		return (1);
	}
	for (i = 0; i < STRINGS; i++)
		strs[i].limit = bm_rng_range(&rng, 1, MAX_LIMIT);
	for (step = 0; step < opt.n; step++) {
		str_t *st = &strs[bm_rng_range(&rng, 0, STRINGS - 1)];
		size_t piece = bm_rng_range(&rng, 1, MAX_PIECE);
		char c = (char)('a' + bm_rng_range(&rng, 0, 25));
		char *s;

		if (st->len >= st->limit) {
			sum = hash_string(sum, st);
			free(st->s);
			st->s = NULL;
			st->len = 0;
			st->limit = bm_rng_range(&rng, 1, MAX_LIMIT);
		}
		s = realloc(st->s, st->len + piece + 1);
		if (s == NULL) {
			fprintf(stderr, "out of memory\n");
			return (1);
		}
		memset(s + st->len, c, piece);
		st->len += piece;
		s[st->len] = '\0';
		st->s = s;
	}
	for (i = 0; i < STRINGS; i++) {
		sum = hash_string(sum, &strs[i]);
		free(strs[i].s);
	}
	free(strs);
	bm_print_checksum(sum);
	return (0);
}
