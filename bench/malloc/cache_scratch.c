/*
 * cache-scratch: passive false sharing, after the benchmark of the same
 * name in Hoard (Berger, McKinley, Blumofe & Wilson, "Hoard: A Scalable
 * Memory Allocator for Multithreaded Applications", ASPLOS 2000).
 *
 * The main thread allocates T small objects one after the other -- so
 * they share cache lines -- and gives one to each of T threads.  Each
 * thread frees the object it was given, then ITERATIONS times allocates
 * an object of the same size, writes every byte of it REPS times and
 * frees it.  An allocator that hands the freed object (or its neighbour)
 * back to the thread that freed it puts objects written by different
 * threads in one cache line, and the line bounces between the CPUs on
 * every write: the time then grows with the threads instead of shrinking.
 * An allocator that keeps each thread's memory apart runs this at the
 * speed of the writes.
 *
 * The program is false_sharing.c's, with the given object.
 */
#include "false_sharing.h"

int
main(int argc, char **argv)
{
	return (false_sharing_main(argc, argv, "cache_scratch", true));
}
