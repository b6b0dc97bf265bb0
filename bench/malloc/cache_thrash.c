/*
 * cache-thrash: active false sharing, after the benchmark of the same
 * name in Hoard (Berger, McKinley, Blumofe & Wilson, "Hoard: A Scalable
 * Memory Allocator for Multithreaded Applications", ASPLOS 2000).
 *
 * T threads each ITERATIONS times allocate a small object, write every
 * byte of it REPS times and free it.  Nothing is shared by the program;
 * but an allocator that serves concurrent threads from one free list or
 * one slab can give two threads neighbouring objects in one cache line,
 * and then every write makes the line bounce between the CPUs.  An
 * allocator with per-thread (or per-CPU) memory runs this at the speed of
 * the writes, and two threads take half the time of one.
 *
 * The program is false_sharing.c's, with the given objects left out.
 */
#include "false_sharing.h"

int
main(int argc, char **argv)
{
	return (false_sharing_main(argc, argv, "cache_thrash", false));
}
