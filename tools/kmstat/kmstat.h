/*
 * kmstat's parts: main.c reads the arguments, prints the tables or the
 * JSON, and lists or cleans the segments; top.c is the live view.  Both
 * read the target's statistics with kmem_stats_read() and explain a
 * failure with kmstat_explain().
 */
#ifndef KMSTAT_H
#define KMSTAT_H

#include <kmem/stats.h>

#define EXIT_OK         0
#define EXIT_RUNTIME    1       /* no such process, not publishing, corrupt;
				   cannot list or clean the segments */
#define EXIT_USAGE      2

/* Print why kmem_stats_read(pid) returned error to standard error. */
void kmstat_explain(long pid, int error);
/* The live view of process pid until q; the exit status. */
int kmstat_top(long pid);

#endif /* KMSTAT_H */
