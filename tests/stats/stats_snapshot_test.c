/*
 * The statistics snapshot in-process (include/kmem/stats.h): its figures
 * are what the test allocated in an arena, a cache, a pool, a pool cache
 * and a malloc type; the tables printed from it are the live tables, line
 * for line, and kmem_stats_print() (the tables at exit) prints all four
 * exactly as they are printed from a snapshot (kmstat's); the JSON is
 * measured like snprintf and escapes what it must.
 *
 * With "--json FILE" it also writes the snapshot's JSON, and that of a
 * snapshot whose names need escaping, to FILE, one object per line, for
 * stats_json_test.sh to parse.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <kmem/malloc.h>

#include "stats_fixture.h"

typedef struct lines {
	char text[512][256];
	unsigned n;
} lines_t;

static void
collect_line(void *arg, const char *line)
{
	lines_t *l = arg;
	if (l->n < 512)
		snprintf(l->text[l->n++], sizeof (l->text[0]), "%s", line);
}

/* The line that names the object (its first word), or fail. */
static const char *
row_of(const lines_t *l, const char *name)
{
	for (unsigned i = 0; i < l->n; i++) {
		size_t len = strlen(name);
		const char *p = l->text[i] + strspn(l->text[i], " ");
		if (strncmp(p, name, len) == 0 && p[len] == ' ')
			return (l->text[i]);
	}
	CHECK(!"row found");
	return (NULL);
}

static lines_t *
snapshot_table(const kmem_stats_t *st, int which)
{
	lines_t *l = calloc(1, sizeof (*l));
	CHECK(l != NULL);
	kmem_stats_tables(st, which, collect_line, l);
	return (l);
}

static void
live_table(lines_t *l, void (*table)(void (*)(void *, const char *), void *))
{
	memset(l, 0, sizeof (*l));
	table(collect_line, l);
}

static void
live_vmem_table(void (*emit)(void *, const char *), void *arg)
{
	vmem_table(NULL, emit, arg);
}

static void
check_tables(const kmem_stats_t *st)
{
	static lines_t live;
	struct {
		int which;
		void (*table)(void (*)(void *, const char *), void *);
		const char *row;
	} tables[] = {
		{ KMEM_STATS_CACHES, kmem_table, "stats_cache" },
		{ KMEM_STATS_ARENAS, live_vmem_table, "stats_arena" },
		{ KMEM_STATS_POOLS, pool_table, "stats_pool" },
		{ KMEM_STATS_POOLS, pool_table, "stats_pcache" },
		{ KMEM_STATS_TYPES, mtype_table, "stats_type" },
	};
	for (size_t i = 0; i < sizeof (tables) / sizeof (tables[0]); i++) {
		lines_t *mine = snapshot_table(st, tables[i].which);
		live_table(&live, tables[i].table);
		/* The same header, and the same row for the same figures. */
		CHECK(strcmp(mine->text[0], live.text[0]) == 0);
		CHECK(strcmp(mine->text[1], live.text[1]) == 0);
		CHECK(strcmp(row_of(mine, tables[i].row),
		    row_of(&live, tables[i].row)) == 0);
		free(mine);
	}

	/* The figures in the rows. */
	lines_t *t = snapshot_table(st, KMEM_STATS_ALL);
	char name[64];
	unsigned long long a, b, c, d;
	CHECK_EQ(sscanf(row_of(t, "stats_cache"), "%63s %llu %llu %llu", name,
	    &a, &b, &c), 4);
	CHECK_EQ(a, STATS_BUF_SIZE);
	CHECK_EQ(b, STATS_BUFS);
	CHECK(c >= STATS_BUFS);
	CHECK_EQ(sscanf(row_of(t, "stats_arena"), "%63s %llu %llu %llu", name,
	    &a, &b, &c), 4);
	CHECK_EQ(a, 4096);
	CHECK_EQ(b, STATS_SEGS * STATS_SEG_SIZE);
	CHECK_EQ(c, 1 << 24);
	CHECK_EQ(sscanf(row_of(t, "stats_pool"), "%63s %llu %llu %llu %llu",
	    name, &a, &b, &c, &d), 5);
	CHECK_EQ(a, 64);
	CHECK_EQ(b, STATS_POOL_ITEMS);
	CHECK_EQ(sscanf(row_of(t, "stats_type"), "%63s %llu", name, &a), 2);
	CHECK_EQ(a, STATS_TYPE_OBJECTS);
	/* Every table ends with an empty line. */
	CHECK(strcmp(t->text[t->n - 1], "") == 0);
	free(t);
}

/*
 * kmem_stats_print() prints, byte for byte, what the snapshot's tables
 * are: nothing here allocates from the library between the two (the
 * snapshot's arrays come from libc's malloc).
 */
static void
check_print(void)
{
	kmem_stats_t *st = kmem_stats_snapshot();
	CHECK(st != NULL);
	FILE *f = tmpfile();
	CHECK(f != NULL);
	kmem_stats_print(fileno(f));
	long len = lseek(fileno(f), 0, SEEK_END);
	CHECK(len > 0);
	char *printed = calloc(1, (size_t)len + 1);
	CHECK(printed != NULL);
	CHECK_EQ(pread(fileno(f), printed, (size_t)len, 0), len);
	CHECK_EQ(fclose(f), 0);

	lines_t *t = snapshot_table(st, KMEM_STATS_ALL);
	CHECK(t->n < 512);              /* every line collected */
	const char *p = printed;
	for (unsigned i = 0; i < t->n; i++) {
		size_t n = strlen(t->text[i]);
		CHECK(strncmp(p, t->text[i], n) == 0 && p[n] == '\n');
		p += n + 1;
	}
	CHECK(*p == '\0');
	/* All four tables, the last one's empty line last. */
	CHECK(strstr(printed, "Total [kmem_default]") != NULL);
	CHECK(strstr(printed, "\nNAME ") != NULL);
	CHECK(strstr(printed, "\nMemory resource pool statistics\n") != NULL);
	CHECK(strstr(printed, "\nMemory statistics by type\n") != NULL);
	CHECK(len >= 2 && strcmp(printed + len - 2, "\n\n") == 0);
	free(t);
	free(printed);
	kmem_stats_free(st);
}

/* A snapshot with one arena whose names need escaping. */
static kmem_stats_t *
awkward_snapshot(void)
{
	static vmem_stats_t arena;
	static kmem_stats_t st;
	memset(&arena, 0, sizeof (arena));
	snprintf(arena.name, sizeof (arena.name), "q\"b\\n\nt\t\x80\x01");
	st = (kmem_stats_t){ .pid = 1, .narenas = 1, .arenas = &arena };
	snprintf(st.program, sizeof (st.program), "prog\"ram");
	return (&st);
}

static void
check_json(const kmem_stats_t *st)
{
	size_t len = kmem_stats_json(st, NULL, 0);
	char *text = malloc(len + 1);
	CHECK(text != NULL);
	CHECK_EQ(kmem_stats_json(st, text, len + 1), len);
	CHECK_EQ(strlen(text), len);
	CHECK(text[0] == '{' && text[len - 1] == '}');
	CHECK(strstr(text, "\"name\": \"stats_cache\"") != NULL);
	CHECK(strstr(text, "\"name\": \"stats_type\"") != NULL);
	char small[10];
	CHECK_EQ(kmem_stats_json(st, small, sizeof (small)), len);
	CHECK_EQ(strlen(small), sizeof (small) - 1);
	CHECK(strncmp(small, text, sizeof (small) - 1) == 0);
	free(text);

	char awkward[4096];
	CHECK(kmem_stats_json(awkward_snapshot(), awkward, sizeof (awkward)) <
	    sizeof (awkward));
	CHECK(strstr(awkward, "\"program\": \"prog\\\"ram\"") != NULL);
	CHECK(strstr(awkward,
	    "\"name\": \"q\\\"b\\\\n\\u000at\\u0009\\u0080\\u0001\"") != NULL);
	CHECK(strstr(awkward, "\"caches\": []") != NULL);
}

static void
write_json(const kmem_stats_t *st, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_EQ(kmem_stats_json_fd(st, fd), 0);
	CHECK_EQ(kmem_stats_json_fd(awkward_snapshot(), fd), 0);
	CHECK_EQ(close(fd), 0);
}

int
main(int argc, char **argv)
{
	stats_fixture_make();
	kmem_stats_t *st = kmem_stats_snapshot();
	CHECK(st != NULL);
	CHECK_EQ(st->pid, getpid());
	CHECK(strcmp(st->program, "stats_snapshot_test") == 0);
	CHECK(st->time_ns != 0);
	stats_fixture_check(st);
	check_tables(st);
	check_json(st);
	check_print();
	if (argc == 3 && strcmp(argv[1], "--json") == 0)
		write_json(st, argv[2]);
	kmem_stats_free(st);

	/* One more of each: a new snapshot follows. */
	stats_fixture_grow();
	st = kmem_stats_snapshot();
	stats_fixture_check(st);
	kmem_stats_free(st);
	kmem_stats_free(NULL);
	printf("stats_snapshot_test: ok\n");
	return (0);
}
