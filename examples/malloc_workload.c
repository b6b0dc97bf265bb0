/*
 * malloc_workload: an ordinary C program, for running under kmrun (the
 * README's demo: `kmrun --stats -- build/bin/malloc_workload`).  It does
 * not use libkmem; it calls malloc, calloc, realloc and free as any
 * program does, from a few threads, with the mix of sizes a real program
 * has, so that the statistics libkmem prints at exit show several of its
 * kmem_alloc_<size> caches at work.
 *
 * What it does: a word-frequency count.  Each thread writes paragraphs of
 * generated English-looking text (words drawn from a vocabulary by Zipf's
 * law: the n-th most common word turns up about 1/n as often as the first)
 * into a buffer that grows by realloc, then counts the words in a hash
 * table of its own: chained lists of small nodes, each with its word in a
 * separate allocation, and a bucket array that doubles as it fills.  The
 * main thread merges the threads' tables into one (freeing, on its own
 * thread, the nodes the others allocated), sorts the words by count in an
 * array grown by realloc, and prints the ten most frequent.  The text
 * depends only on the seeds, so the output is the same on every run.
 *
 * usage: malloc_workload [WORDS_PER_THREAD [THREADS]]
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_WORDS   200000UL
#define DEFAULT_THREADS 4UL
#define MAX_THREADS     64UL
#define VOCABULARY      20000   /* words, the common ones first */
#define TOP             10

/* The hundred most common English words, most common first. */
static const char *const common_words[] = {
	"the", "be", "to", "of", "and", "a", "in", "that", "have", "i",
	"it", "for", "not", "on", "with", "he", "as", "you", "do", "at",
	"this", "but", "his", "by", "from", "they", "we", "say", "her", "she",
	"or", "an", "will", "my", "one", "all", "would", "there", "their",
	"what", "so", "up", "out", "if", "about", "who", "get", "which", "go",
	"me", "when", "make", "can", "like", "time", "no", "just", "him",
	"know", "take", "people", "into", "year", "your", "good", "some",
	"could", "them", "see", "other", "than", "then", "now", "look",
	"only", "come", "its", "over", "think", "also", "back", "after",
	"use", "two", "how", "our", "work", "first", "well", "way", "even",
	"new", "want", "because", "any", "these", "give", "day", "most", "us",
};
#define NCOMMON (sizeof (common_words) / sizeof (common_words[0]))

/* The vocabulary by rank, and Zipf's cumulative weights over it. */
static char *vocabulary[VOCABULARY];
static double *zipf_cdf;

typedef struct word {
	struct word *next;      /* in its hash chain */
	char *text;
	size_t len;
	unsigned long count;
} word_t;

typedef struct table {
	word_t **buckets;
	size_t nbuckets;        /* a power of two */
	size_t nwords;
} table_t;

typedef struct job {
	pthread_t thread;
	unsigned id;
	unsigned long words;    /* to write */
	table_t table;          /* what the thread counted */
} job_t;

static void *
xmalloc(size_t size)
{
	void *p = malloc(size);
	if (p == NULL) {
		fprintf(stderr, "malloc_workload: out of memory\n");
		exit(1);
	}
	return (p);
}

static void *
xrealloc(void *old, size_t size)
{
	void *p = realloc(old, size);
	if (p == NULL) {
		fprintf(stderr, "malloc_workload: out of memory\n");
		exit(1);
	}
	return (p);
}

/* ---- random numbers: xorshift64* ---- */

static uint64_t
next_random(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (x * 0x2545F4914F6CDD1DULL);
}

/* Uniform in [0, n). */
static unsigned
random_below(uint64_t *state, unsigned n)
{
	return ((unsigned)(next_random(state) % n));
}

static double
random_unit(uint64_t *state)
{
	return ((double)(next_random(state) >> 11) / (double)(1ULL << 53));
}

/* ---- the vocabulary ---- */

/* A made-up word of two to five syllables for the rarer ranks. */
static char *
make_word(uint64_t *state)
{
	static const char *const onsets[] = {
		"b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s",
		"t", "v", "w", "br", "ch", "cl", "dr", "fl", "gr", "pl", "pr",
		"sh", "st", "str", "th", "tr",
	};
	static const char *const vowels[] = {
		"a", "e", "i", "o", "u", "ai", "ea", "ee", "ou", "oo",
	};
	static const char *const codas[] = {
		"", "", "", "n", "r", "s", "t", "l", "nd", "st", "ng", "ck",
	};
	char buf[64];
	size_t len = 0;
	unsigned syllables = 2 + random_below(state, 4);
	for (unsigned i = 0; i < syllables; i++) {
		const char *parts[3] = {
			onsets[random_below(state, sizeof (onsets) /
			    sizeof (onsets[0]))],
			vowels[random_below(state, sizeof (vowels) /
			    sizeof (vowels[0]))],
			codas[random_below(state, sizeof (codas) /
			    sizeof (codas[0]))],
		};
		for (unsigned k = 0; k < 3; k++) {
			size_t n = strlen(parts[k]);
			memcpy(buf + len, parts[k], n);
			len += n;
		}
	}
	char *word = xmalloc(len + 1);
	memcpy(word, buf, len);
	word[len] = '\0';
	return (word);
}

static void
make_vocabulary(void)
{
	uint64_t state = 0x9E3779B97F4A7C15ULL;
	zipf_cdf = xmalloc(VOCABULARY * sizeof (double));
	double sum = 0;
	for (size_t r = 0; r < VOCABULARY; r++) {
		if (r < NCOMMON) {
			size_t n = strlen(common_words[r]);
			vocabulary[r] = xmalloc(n + 1);
			memcpy(vocabulary[r], common_words[r], n + 1);
		} else {
			vocabulary[r] = make_word(&state);
		}
		sum += 1.0 / (double)(r + 1);
		zipf_cdf[r] = sum;
	}
}

static void
free_vocabulary(void)
{
	for (size_t r = 0; r < VOCABULARY; r++)
		free(vocabulary[r]);
	free(zipf_cdf);
}

/* A word of the vocabulary, by Zipf's law. */
static const char *
random_word(uint64_t *state)
{
	double u = random_unit(state) * zipf_cdf[VOCABULARY - 1];
	size_t lo = 0, hi = VOCABULARY - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (zipf_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (vocabulary[lo]);
}

/* ---- the text ---- */

typedef struct text {
	char *buf;
	size_t len;
	size_t size;
} text_t;

static void
text_append(text_t *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->size) {
		size_t size = t->size == 0 ? 256 : t->size;
		while (t->len + n + 1 > size)
			size *= 2;
		t->buf = xrealloc(t->buf, size);
		t->size = size;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

/* A paragraph of nwords words in sentences of 4 to 20 words. */
static void
write_paragraph(text_t *t, uint64_t *state, unsigned long nwords)
{
	unsigned left = 0;
	for (unsigned long i = 0; i < nwords; i++) {
		const char *w = random_word(state);
		if (left == 0) {
			char cap[2] = { (char)(w[0] - 'a' + 'A'), '\0' };
			left = 4 + random_below(state, 17);
			text_append(t, cap, 1);
			text_append(t, w + 1, strlen(w + 1));
		} else {
			text_append(t, w, strlen(w));
		}
		left--;
		if (left == 0 || i + 1 == nwords) {
			text_append(t, ". ", 2);
			left = 0;
		} else {
			if (random_below(state, 8) == 0)
				text_append(t, ",", 1);
			text_append(t, " ", 1);
		}
	}
	text_append(t, "\n\n", 2);
}

/* ---- the hash table ---- */

static size_t
hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;   /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return ((size_t)h);
}

static void
table_init(table_t *t)
{
	t->nbuckets = 64;
	t->nwords = 0;
	t->buckets = calloc(t->nbuckets, sizeof (word_t *));
	if (t->buckets == NULL) {
		fprintf(stderr, "malloc_workload: out of memory\n");
		exit(1);
	}
}

/* Double the buckets when there are as many words as buckets. */
static void
table_grow(table_t *t)
{
	size_t n = t->nbuckets * 2;
	word_t **buckets = calloc(n, sizeof (word_t *));
	if (buckets == NULL) {
		fprintf(stderr, "malloc_workload: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < t->nbuckets; i++) {
		word_t *w = t->buckets[i];
		while (w != NULL) {
			word_t *next = w->next;
			size_t b = hash(w->text, w->len) & (n - 1);
			w->next = buckets[b];
			buckets[b] = w;
			w = next;
		}
	}
	free(t->buckets);
	t->buckets = buckets;
	t->nbuckets = n;
}

static word_t **
table_find(table_t *t, const char *s, size_t len)
{
	word_t **wp = &t->buckets[hash(s, len) & (t->nbuckets - 1)];
	for (; *wp != NULL; wp = &(*wp)->next) {
		if ((*wp)->len == len && memcmp((*wp)->text, s, len) == 0)
			break;
	}
	return (wp);
}

/* Count one occurrence of s[0 .. len - 1]. */
static void
table_count(table_t *t, const char *s, size_t len)
{
	word_t **wp = table_find(t, s, len);
	if (*wp != NULL) {
		(*wp)->count++;
		return;
	}
	word_t *w = xmalloc(sizeof (*w));
	w->text = xmalloc(len + 1);
	memcpy(w->text, s, len);
	w->text[len] = '\0';
	w->len = len;
	w->count = 1;
	w->next = NULL;
	*wp = w;
	if (++t->nwords > t->nbuckets)
		table_grow(t);
}

/* Move the words of from into t (adding counts), and empty from. */
static void
table_merge(table_t *t, table_t *from)
{
	for (size_t i = 0; i < from->nbuckets; i++) {
		word_t *w = from->buckets[i];
		while (w != NULL) {
			word_t *next = w->next;
			word_t **wp = table_find(t, w->text, w->len);
			if (*wp != NULL) {
				(*wp)->count += w->count;
				free(w->text);
				free(w);
			} else {
				w->next = NULL;
				*wp = w;
				if (++t->nwords > t->nbuckets)
					table_grow(t);
			}
			w = next;
		}
	}
	free(from->buckets);
	from->buckets = NULL;
	from->nbuckets = from->nwords = 0;
}

/* ---- the threads ---- */

/* Count the words of text in t, lowercased, without punctuation. */
static void
count_text(table_t *t, const char *text)
{
	char word[64];
	size_t len = 0;
	for (const char *p = text;; p++) {
		char c = *p;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c >= 'a' && c <= 'z' && len < sizeof (word)) {
			word[len++] = c;
			continue;
		}
		if (len > 0)
			table_count(t, word, len);
		len = 0;
		if (c == '\0')
			break;
	}
}

static void *
count_words(void *arg)
{
	job_t *job = arg;
	uint64_t state = 0x243F6A8885A308D3ULL * (job->id + 1);
	table_init(&job->table);
	for (unsigned long done = 0; done < job->words;) {
		unsigned long n = 50 + random_below(&state, 5000);
		if (n > job->words - done)
			n = job->words - done;
		text_t text = { NULL, 0, 0 };
		write_paragraph(&text, &state, n);
		count_text(&job->table, text.buf);
		free(text.buf);
		done += n;
	}
	return (NULL);
}

/* ---- the result ---- */

static int
by_count(const void *a, const void *b)
{
	const word_t *x = *(const word_t *const *)a;
	const word_t *y = *(const word_t *const *)b;
	if (x->count != y->count)
		return (x->count > y->count ? -1 : 1);
	return (strcmp(x->text, y->text));
}

static unsigned long
parse_count(const char *what, const char *arg, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
	    v == 0 || v > max) {
		fprintf(stderr, "malloc_workload: %s: \"%s\" is not a number "
		    "from 1 to %lu\nusage: malloc_workload [WORDS_PER_THREAD "
		    "[THREADS]]\n", what, arg, max);
		exit(2);
	}
	return (v);
}

int
main(int argc, char **argv)
{
	unsigned long words = DEFAULT_WORDS, nthreads = DEFAULT_THREADS;
	if (argc > 3) {
		fprintf(stderr, "usage: malloc_workload [WORDS_PER_THREAD "
		    "[THREADS]]\n");
		return (2);
	}
	if (argc > 1)
		words = parse_count("WORDS_PER_THREAD", argv[1], 100000000UL);
	if (argc > 2)
		nthreads = parse_count("THREADS", argv[2], MAX_THREADS);

	make_vocabulary();
	job_t *jobs = calloc(nthreads, sizeof (*jobs));
	if (jobs == NULL) {
		fprintf(stderr, "malloc_workload: out of memory\n");
		return (1);
	}
	for (unsigned long i = 0; i < nthreads; i++) {
		jobs[i].id = (unsigned)i;
		jobs[i].words = words;
		int error = pthread_create(&jobs[i].thread, NULL, count_words,
		    &jobs[i]);
		if (error != 0) {
			fprintf(stderr, "malloc_workload: cannot start a "
			    "thread: %s\n", strerror(error));
			return (1);
		}
	}
	table_t all;
	table_init(&all);
	for (unsigned long i = 0; i < nthreads; i++) {
		pthread_join(jobs[i].thread, NULL);
		table_merge(&all, &jobs[i].table);
	}
	free(jobs);

	/* Every word into an array that grows as it goes, then sorted. */
	word_t **sorted = NULL;
	size_t n = 0, cap = 0;
	unsigned long total = 0;
	for (size_t i = 0; i < all.nbuckets; i++) {
		for (word_t *w = all.buckets[i]; w != NULL; w = w->next) {
			if (n == cap) {
				cap = cap == 0 ? 16 : cap * 2;
				sorted = xrealloc(sorted, cap * sizeof (*sorted));
			}
			sorted[n++] = w;
			total += w->count;
		}
	}
	qsort(sorted, n, sizeof (*sorted), by_count);

	printf("malloc_workload: %lu threads wrote %lu words of text; %zu "
	    "different words\n\n", nthreads, total, n);
	printf("%4s  %-10s %9s %7s\n", "rank", "word", "count", "share");
	for (size_t i = 0; i < n && i < TOP; i++)
		printf("%4zu  %-10s %9lu %6.2f%%\n", i + 1, sorted[i]->text,
		    sorted[i]->count, 100.0 * (double)sorted[i]->count /
		    (double)total);

	for (size_t i = 0; i < n; i++) {
		free(sorted[i]->text);
		free(sorted[i]);
	}
	free(sorted);
	free(all.buckets);
	free_vocabulary();
	return (0);
}
