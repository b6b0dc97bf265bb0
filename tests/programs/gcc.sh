#!/usr/bin/env bash
# program_gcc: gcc (cc1, as, collect2, ld, all preloaded) compiles and
# links a C program at -O0 and -O2, which then runs -- it builds a hash
# table of words, sorts, formats floating point, and has four threads
# allocate and free each other's buffers -- and prints its results; gcc
# also compiles the library's own core sources.  The program's output, the
# object files' and executables' bytes (-O2, no debug information, so
# they depend only on the input) under libkmem_malloc.so must match those
# under glibc's malloc.
. "$(dirname "$0")/lib.sh"
kmem_init "$@"
kmem_need /usr/bin/gcc gcc
kmem_need /usr/include/stdio.h libc6-dev
kmem_need /usr/bin/sha256sum coreutils
kmem_install

cat >"$KMEM_INPUT/prog.c" <<'EOF_C'
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *next;
	char *word;
	unsigned count;
};

static uint32_t seed = 12345;

static uint32_t
next_random(void)
{
	seed = seed * 1103515245u + 12345u;
	return (seed >> 8);
}

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return (h);
}

static int
by_count(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a;
	const struct entry *y = *(struct entry *const *)b;
	if (x->count != y->count)
		return (x->count < y->count ? 1 : -1);
	return (strcmp(x->word, y->word));
}

/* Four threads pass buffers around a ring: each frees what its neighbour
 * allocated, after checking that its bytes are still those its neighbour
 * wrote.  Which buffer a thread finds depends on timing, so only the
 * counts that do not are printed. */
#define RING 4
#define ROUNDS 20000
static void *slots[RING][64];
static pthread_mutex_t slot_lock[RING];
static unsigned long allocated[RING], corrupt[RING];

static void *
worker(void *arg)
{
	int me = (int)(intptr_t)arg, next = (me + 1) % RING;
	uint32_t r = 7u + (uint32_t)me;
	unsigned long bytes = 0, bad = 0;
	for (int i = 0; i < ROUNDS; i++) {
		r = r * 1664525u + 1013904223u;
		size_t size = 1 + (r >> 8) % (i % 100 == 0 ? 100000 : 600);
		unsigned char *p = malloc(sizeof (size) + size);
		memcpy(p, &size, sizeof (size));
		memset(p + sizeof (size), (int)(size & 0xff), size);
		bytes += size;
		pthread_mutex_lock(&slot_lock[next]);
		unsigned char **slot = (unsigned char **)&slots[next][(r >> 4) % 64];
		if (*slot != NULL) {
			unsigned char *q = *slot;
			size_t n;
			memcpy(&n, q, sizeof (n));
			for (size_t j = 0; j < n; j++)
				if (q[sizeof (n) + j] != (unsigned char)(n & 0xff)) {
					bad++;
					break;
				}
			free(q);
		}
		*slot = p;
		pthread_mutex_unlock(&slot_lock[next]);
		if (i % 1000 == 0) {
			char *s = realloc(NULL, 16);
			for (size_t n = 32; n < 70000; n *= 2)
				s = realloc(s, n);
			free(s);
		}
	}
	allocated[me] = bytes;
	corrupt[me] = bad;
	return (NULL);
}

int
main(void)
{
	size_t nbuckets = 1 << 12, nwords = 0, nunique = 0;
	struct entry **table = calloc(nbuckets, sizeof (*table));
	for (int i = 0; i < 200000; i++) {
		char word[16];
		int len = 1 + (int)(next_random() % 6);
		for (int j = 0; j < len; j++)
			word[j] = (char)('a' + next_random() % 8);
		word[len] = '\0';
		struct entry **e = &table[hash(word) & (nbuckets - 1)];
		while (*e != NULL && strcmp((*e)->word, word) != 0)
			e = &(*e)->next;
		if (*e == NULL) {
			*e = calloc(1, sizeof (**e));
			(*e)->word = strdup(word);
			nunique++;
		}
		(*e)->count++;
		nwords++;
	}
	struct entry **all = malloc(nunique * sizeof (*all));
	size_t k = 0;
	for (size_t b = 0; b < nbuckets; b++)
		for (struct entry *e = table[b]; e != NULL; e = e->next)
			all[k++] = e;
	qsort(all, nunique, sizeof (*all), by_count);
	printf("%zu words, %zu unique\n", nwords, nunique);
	for (size_t i = 0; i < 8; i++)
		printf("%-5s %u %.6f %g\n", all[i]->word, all[i]->count,
		    (double)all[i]->count / (double)nwords,
		    (double)all[i]->count * 1e-7 / 3.0);
	for (size_t i = 0; i < nunique; i++) {
		free(all[i]->word);
		free(all[i]);
	}
	free(all);
	free(table);

	pthread_t t[RING];
	for (int i = 0; i < RING; i++)
		pthread_mutex_init(&slot_lock[i], NULL);
	for (int i = 0; i < RING; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	for (int i = 0; i < RING; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < RING; i++) {
		printf("thread %d: %lu bytes, %lu corrupt\n", i, allocated[i],
		    corrupt[i]);
		for (int j = 0; j < 64; j++)
			free(slots[i][j]);
	}
	return (0);
}
EOF_C

# The library's core sources, copied now so that both runs compile the
# same text even while someone edits the tree.
mkdir -p "$KMEM_INPUT/kmem"
cp -r "$KMEM_SRC/src" "$KMEM_SRC/include" "$KMEM_INPUT/kmem/"

run_both "gcc: compile, link and run a program; compile the library" bash -c '
	set -e
	cp "$KMEM_INPUT/prog.c" .
	gcc -O2 -Wall -Wextra -c prog.c -o prog.o
	sha256sum prog.o
	gcc -O2 -pthread prog.o -o prog
	sha256sum prog
	./prog
	gcc -O0 -pipe -pthread -Wall prog.c -o prog0
	./prog0 | sha256sum
	gcc -O2 -S prog.c -o - | sha256sum
	cd "$KMEM_INPUT/kmem"
	for f in src/base/format.c src/vmem/vmem.c src/kmem/kmem_cache.c src/kmem/kmem_slab.c src/kmem/kmem_alloc.c src/classic/buddy.c; do
		o=$KMEM_RUN/$(basename "$f" .c).o
		if gcc -std=gnu11 -O2 -Iinclude -Isrc -c "$f" -o "$o" 2>/dev/null; then
			echo "$f: $(sha256sum <"$o")"
		else
			echo "$f: does not compile"
		fi
	done
'
kmem_done
