/*
 * kmstat --top: a live view of a process's kmem caches, largest memory
 * first, like slabtop: two summary lines, then one line per cache, as
 * many as the terminal holds, redrawn every second from a fresh snapshot
 * until q (or Q, or an interrupt) is read.
 *
 * The terminal: standard input in raw mode (no echo, no line editing) so
 * that a single q is read at once, the alternate screen and a hidden
 * cursor; every way out restores all three (the exit path always goes
 * through restore_terminal(), and SIGINT, SIGTERM and SIGHUP only set a
 * flag the loop checks).  SIGWINCH sets a flag too, and the next frame is
 * drawn for the new size; a terminal too small for the header gets a
 * one-line message instead.  Lines are cut at the terminal's width, so
 * nothing wraps.  If the process ends, the view ends with the message
 * kmstat prints for a process that is not running, or, if the process is
 * still exiting (its segment is removed at exit) or called
 * kmem_stats_publish(0), with one saying it stopped publishing.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "kmstat.h"

#define REFRESH_MS      1000
#define MIN_COLUMNS     40
#define MIN_ROWS        6
#define HEADER_ROWS     4       /* two summary lines, a blank, the heads */

static volatile sig_atomic_t quit_signal;
static volatile sig_atomic_t resized;
static struct termios saved;

static void
on_quit_signal(int sig)
{
	quit_signal = sig;
}

static void
on_resize(int sig)
{
	(void) sig;
	resized = 1;
}

static void
catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof (sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_quit_signal;         /* no SA_RESTART: poll wakes */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_resize;
	sigaction(SIGWINCH, &sa, NULL);
}

static bool
enter_terminal(void)
{
	if (tcgetattr(STDIN_FILENO, &saved) != 0)
		return (false);
	struct termios raw = saved;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0)
		return (false);
	fputs("\033[?1049h\033[?25l", stdout);         /* alternate screen */
	fflush(stdout);
	return (true);
}

static void
restore_terminal(void)
{
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
}

/* ---- one frame ---- */

typedef struct screen {
	unsigned rows, columns;
	unsigned used;                  /* lines drawn */
} screen_t;

/* One line at the next row, cut at the terminal's width, the rest of the
 * row cleared; no newline, so the last row never scrolls the screen. */
static void
put_line(screen_t *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof (line), fmt, ap);
	va_end(ap);
	if (strlen(line) >= s->columns)
		line[s->columns - 1] = '\0';
	printf("\033[%u;1H%s\033[K", s->used + 1, line);
	s->used++;
}

/* 1023 -> "1023", 1536 -> "1.5K", 3 << 20 -> "3.0M" */
static const char *
human(uint64_t bytes, char *buf, size_t size)
{
	static const char units[] = "KMGTP";
	if (bytes < 1024) {
		snprintf(buf, size, "%llu", (unsigned long long)bytes);
		return (buf);
	}
	double v = (double)bytes / 1024;
	unsigned u = 0;
	while (v >= 1024 && u + 1 < sizeof (units) - 1) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f%c", v, units[u]);
	return (buf);
}

static int
by_memory(const void *a, const void *b)
{
	const kmem_cache_stats_t *x = a, *y = b;
	if (x->mem_total != y->mem_total)
		return (x->mem_total > y->mem_total ? -1 : 1);
	return (strcmp(x->name, y->name));
}

static void
draw(const kmem_stats_t *st, screen_t *s)
{
	printf("\033[H");
	if (s->columns < MIN_COLUMNS || s->rows < MIN_ROWS) {
		printf("\033[2J\033[H%.*s", (int)s->columns - 1,
		    "terminal too small for kmstat --top");
		fflush(stdout);
		return;
	}
	uint64_t memory = 0, inuse_bytes = 0, inuse = 0, total = 0;
	unsigned active = 0;
	for (size_t i = 0; i < st->ncaches; i++) {
		const kmem_cache_stats_t *c = &st->caches[i];
		memory += c->mem_total;
		inuse_bytes += c->buf_inuse * c->buf_size;
		inuse += c->buf_inuse;
		total += c->buf_total;
		active += c->buf_total != 0;
	}
	time_t taken = (time_t)(st->time_ns / 1000000000u);
	struct tm tm;
	char when[16], a[16], b[16], c[16];
	strftime(when, sizeof (when), "%H:%M:%S", localtime_r(&taken, &tm));
	put_line(s, "kmstat --top  process %ld (%s)  %s  (q quits)", st->pid,
	    st->program, when);
	put_line(s, "%zu caches, %u with slabs; buffers %llu of %llu in use "
	    "(%.1f%%); memory %s of %s in use", st->ncaches, active,
	    (unsigned long long)inuse, (unsigned long long)total,
	    total != 0 ? 100.0 * (double)inuse / (double)total : 0.0,
	    human(inuse_bytes, a, sizeof (a)), human(memory, b, sizeof (b)));
	put_line(s, "");
	put_line(s, "%9s %9s %9s %5s %8s %6s %11s  %s", "MEMORY", "IN USE",
	    "TOTAL", "USE", "BUF SIZE", "SLABS", "ALLOCS", "CACHE (ARENA)");

	kmem_cache_stats_t *sorted = malloc(st->ncaches * sizeof (*sorted) + 1);
	if (sorted != NULL) {
		memcpy(sorted, st->caches, st->ncaches * sizeof (*sorted));
		qsort(sorted, st->ncaches, sizeof (*sorted), by_memory);
		for (size_t i = 0; i < st->ncaches && s->used < s->rows; i++) {
			const kmem_cache_stats_t *k = &sorted[i];
			char use[8];
			if (k->buf_total != 0)
				snprintf(use, sizeof (use), "%3llu%%",
				    (unsigned long long)(100 * k->buf_inuse /
				    k->buf_total));
			else
				snprintf(use, sizeof (use), "-");
			put_line(s, "%9s %9llu %9llu %5s %8s %6llu %11llu  %s (%s)",
			    human(k->mem_total, c, sizeof (c)),
			    (unsigned long long)k->buf_inuse,
			    (unsigned long long)k->buf_total, use,
			    human(k->buf_size, a, sizeof (a)),
			    (unsigned long long)(k->slab_create -
			    k->slab_destroy), (unsigned long long)k->alloc,
			    k->name, k->arena);
		}
		free(sorted);
	}
	printf("\033[J");       /* clear what an earlier, longer frame left */
	fflush(stdout);
}

static void
measure(screen_t *s)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col != 0) {
		s->rows = ws.ws_row;
		s->columns = ws.ws_col;
	} else {
		s->rows = 24;
		s->columns = 80;
	}
}

/* Read what was typed; true if it asks to quit. */
static bool
quit_typed(void)
{
	char keys[64];
	ssize_t n = read(STDIN_FILENO, keys, sizeof (keys));
	for (ssize_t i = 0; i < n; i++)
		if (keys[i] == 'q' || keys[i] == 'Q')
			return (true);
	return (n == 0);        /* end of input */
}

int
kmstat_top(long pid)
{
	kmem_stats_t *st;
	int error = kmem_stats_read(pid, &st);
	if (error != 0) {
		kmstat_explain(pid, error);
		return (EXIT_RUNTIME);
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "kmstat: --top needs a terminal\n");
		kmem_stats_free(st);
		return (EXIT_RUNTIME);
	}
	catch_signals();
	if (!enter_terminal()) {
		fprintf(stderr, "kmstat: cannot set up the terminal: %s\n",
		    strerror(errno));
		kmem_stats_free(st);
		return (EXIT_RUNTIME);
	}
	screen_t screen;
	bool quit = false;
	while (!quit && quit_signal == 0) {
		resized = 0;
		measure(&screen);
		screen.used = 0;
		draw(st, &screen);

		struct pollfd in = { .fd = STDIN_FILENO, .events = POLLIN };
		int ready = poll(&in, 1, REFRESH_MS);
		if (ready > 0)
			quit = quit_typed();
		if (quit || quit_signal != 0 || (ready < 0 && resized))
			continue;       /* a resize redraws at once */
		kmem_stats_free(st);
		error = kmem_stats_read(pid, &st);
		if (error != 0)
			break;
	}
	restore_terminal();
	if (error == KMEM_STATS_UNPUBLISHED) {
		/* It did publish: it is exiting, or stopped publishing. */
		fprintf(stderr, "kmstat: process %ld stopped publishing "
		    "statistics\n", pid);
		return (EXIT_RUNTIME);
	}
	if (error != 0) {
		kmstat_explain(pid, error);
		return (EXIT_RUNTIME);
	}
	kmem_stats_free(st);
	return (EXIT_OK);
}
